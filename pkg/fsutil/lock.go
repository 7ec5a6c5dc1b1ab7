package fsutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// LockName is the lock file an experiment folder's owner holds.
const LockName = ".lock"

// Lock is an exclusive flock(2) on a folder's lock file. The kernel drops
// it when the holder exits in any way (kill -9 included), so a lock left by
// a dead run never blocks the next one: the file stays, the lock does not.
type Lock struct {
	f *os.File
}

// ErrLocked reports a folder held by another live process.
var ErrLocked = errors.New("locked")

// lockedError is the message of a held lock; it matches ErrLocked.
type lockedError string

func (e lockedError) Error() string { return string(e) }
func (e lockedError) Unwrap() error { return ErrLocked }

// LockDir takes the exclusive lock of dir without waiting and writes the
// caller's PID into the lock file. When another process holds it, the
// error (wrapping ErrLocked) names dir and the holder's PID.
func LockDir(dir string) (*Lock, error) {
	path := filepath.Join(dir, LockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			b := make([]byte, 32)
			n, _ := f.ReadAt(b, 0)
			holder := strings.TrimSpace(string(b[:n]))
			if _, perr := strconv.Atoi(holder); perr != nil {
				holder = "unknown"
			}
			return nil, lockedError(fmt.Sprintf("%s is in use by another run (PID %s holds %s); wait for it to end or stop it", dir, holder, path))
		}
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	// stale content from a dead holder is replaced by our PID
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// Unlock releases the lock (the file stays; its content is harmless).
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the descriptor drops the flock
	l.f = nil
	return err
}
