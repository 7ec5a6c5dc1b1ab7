package fsutil

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// StaleAge is how old a temporary must be before RemoveStaleTemps takes
// it for the leftover of a killed writer: a live writer touches its file
// far more often.
const StaleAge = time.Minute

// IsTempName reports whether name is a temporary of ours for a final name
// matching the glob base: "." + final + ".tmp-" + decimal digits, the name
// WriteAtomic (os.CreateTemp "."+base+".tmp-*") and the LMDB writer
// (os.MkdirTemp) give.
func IsTempName(name, base string) bool {
	if !strings.HasPrefix(name, ".") {
		return false
	}
	i := strings.LastIndex(name, ".tmp-")
	if i < 1 {
		return false
	}
	digits := name[i+len(".tmp-"):]
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return false
	}
	ok, err := filepath.Match(base, name[1:i])
	return err == nil && ok
}

// RemoveStaleTemps removes, directly inside dir, the temporaries of our
// own naming (IsTempName for one of bases) last modified more than minAge
// ago; a directory counts as modified when any entry directly inside it
// is. It returns the paths removed; anything else is left alone, and
// errors only skip the entry.
func RemoveStaleTemps(dir string, bases []string, minAge time.Duration) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var removed []string
	now := time.Now()
	for _, e := range ents {
		match := false
		for _, b := range bases {
			if IsTempName(e.Name(), b) {
				match = true
				break
			}
		}
		if !match {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if now.Sub(newest(p)) <= minAge {
			continue
		}
		if e.Type().IsRegular() {
			err = os.Remove(p)
		} else if e.IsDir() {
			err = os.RemoveAll(p)
		} else {
			continue
		}
		if err == nil {
			removed = append(removed, p)
		}
	}
	return removed
}

// newest is the latest modification time of p and, for a directory, of
// the entries directly inside it.
func newest(p string) time.Time {
	st, err := os.Lstat(p)
	if err != nil {
		return time.Now()
	}
	t := st.ModTime()
	if st.IsDir() {
		ents, _ := os.ReadDir(p)
		for _, e := range ents {
			if info, err := e.Info(); err == nil && info.ModTime().After(t) {
				t = info.ModTime()
			}
		}
	}
	return t
}
