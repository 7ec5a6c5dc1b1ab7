package fsutil

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLockDir (issue 14.2): a second holder fails at once naming the first
// one's PID; after Unlock, or with a stale lock file whose process is gone,
// the lock is taken.
func TestLockDir(t *testing.T) {
	dir := t.TempDir()
	l, err := LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to open file descriptions: a second open in the
	// same process conflicts like another process would.
	_, err = LockDir(dir)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprintf("PID %d", os.Getpid())) {
		t.Fatalf("second lock: got %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	l2, err := LockDir(dir)
	if err != nil {
		t.Fatalf("after Unlock: %v", err)
	}
	l2.Unlock()

	// a lock held by a process killed with SIGKILL is recovered
	stale := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelper$")
	cmd.Env = append(os.Environ(), "NVAE_LOCK_HELPER="+stale)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil || string(buf) != "locked" {
		t.Fatalf("helper did not lock: %q %v", buf, err)
	}
	_, err = LockDir(stale)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprintf("PID %d", cmd.Process.Pid)) {
		t.Fatalf("lock held by PID %d: got %v", cmd.Process.Pid, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l3, err := LockDir(stale)
	if err != nil {
		t.Fatalf("stale lock of a killed process not recovered: %v", err)
	}
	l3.Unlock()
	b, _ := os.ReadFile(filepath.Join(stale, LockName))
	if strings.TrimSpace(string(b)) != fmt.Sprint(os.Getpid()) {
		t.Fatalf("lock file holds %q, want our PID", b)
	}
}

// TestLockHelper holds a lock for TestLockDir until killed.
func TestLockHelper(t *testing.T) {
	dir := os.Getenv("NVAE_LOCK_HELPER")
	if dir == "" {
		t.Skip("helper process of TestLockDir")
	}
	if _, err := LockDir(dir); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("locked")
	time.Sleep(time.Minute)
}
