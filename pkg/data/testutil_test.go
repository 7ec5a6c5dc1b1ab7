package data

import (
	"github.com/nvaego/nvae/internal/testenv"
	"testing"
)

// gomnistDir returns the data folder of the GoMNIST module, which holds
// the real MNIST idx gz files.
func gomnistDir(t testing.TB) string {
	return testenv.MNISTSource(t)
}
