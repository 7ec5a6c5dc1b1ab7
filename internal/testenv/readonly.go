package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// MakeReadOnly makes dir unwritable for the rest of the test: chmod 0555,
// or, for root (whom modes do not stop), the immutable attribute. The test
// is skipped when neither works here; cleanup restores the folder.
func MakeReadOnly(t testing.TB, dir string) {
	t.Helper()
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
			t.Skipf("cannot make %s read-only as root (chattr +i: %v %s)", dir, err, out)
		}
		t.Cleanup(func() { exec.Command("chattr", "-i", dir).Run() })
	} else {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Skipf("chmod %s: %v", dir, err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
	}
	probe := filepath.Join(dir, ".probe")
	if f, err := os.Create(probe); err == nil {
		f.Close()
		os.Remove(probe)
		t.Skipf("%s is still writable", dir)
	}
}
