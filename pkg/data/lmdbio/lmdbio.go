// Package lmdbio writes and reads the LMDB environments NVAE's datasets are
// stored in: one environment directory per split (train.lmdb/,
// validation.lmdb/, test.lmdb/ holding data.mdb and lock.mdb) in the
// unnamed root database, keys the decimal sample index as ASCII ("0",
// "1", ...), values either raw HWC uint8 RGB pixels or an encoded image.
package lmdbio

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/bmatsuo/lmdb-go/lmdb"

	"github.com/nvaego/nvae/pkg/fsutil"
)

// Writer fills a new LMDB environment under a temporary directory next to
// its final path and renames it into place on Commit. Puts are buffered
// and written in large transactions.
type Writer struct {
	final, tmp string
	env        *lmdb.Env
	dbi        lmdb.DBI
	mapSize    int64
	pending    []kv
	pendBytes  int
	count      int
	// FlushBytes is the buffered payload size that triggers a write
	// transaction (default 256 MiB).
	FlushBytes int
}

type kv struct {
	k, v []byte
}

// Create starts a Writer whose environment will appear at dir once
// Commit succeeds. The parent of dir must exist.
func Create(dir string) (*Writer, error) {
	dir = filepath.Clean(dir)
	// temporaries of this environment left by a killed writer
	fsutil.RemoveStaleTemps(filepath.Dir(dir), []string{filepath.Base(dir)}, fsutil.StaleAge)
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return nil, err
	}
	w := &Writer{final: dir, tmp: tmp, mapSize: 1 << 30, FlushBytes: 256 << 20}
	if err := w.open(); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	return w, nil
}

func (w *Writer) open() error {
	env, err := lmdb.NewEnv()
	if err != nil {
		return err
	}
	if err := env.SetMapSize(w.mapSize); err != nil {
		env.Close()
		return err
	}
	if err := env.Open(w.tmp, lmdb.NoSync|lmdb.NoMetaSync, 0o644); err != nil {
		env.Close()
		return fmt.Errorf("lmdb open %s: %w", w.tmp, err)
	}
	w.env = env
	return env.Update(func(txn *lmdb.Txn) error {
		w.dbi, err = txn.OpenRoot(0)
		return err
	})
}

// TempDir returns the temporary directory being written, so callers can
// place extra files (a manifest) into the environment directory before
// Commit.
func (w *Writer) TempDir() string { return w.tmp }

// Count returns the number of values put so far.
func (w *Writer) Count() int { return w.count }

// Append stores v under the next decimal key (the current Count). v is
// copied.
func (w *Writer) Append(v []byte) error {
	return w.Put([]byte(strconv.Itoa(w.count)), v)
}

// Put stores v under key; both are copied.
func (w *Writer) Put(key, v []byte) error {
	w.pending = append(w.pending, kv{append([]byte(nil), key...), append([]byte(nil), v...)})
	w.pendBytes += len(key) + len(v)
	w.count++
	if w.pendBytes >= w.FlushBytes {
		return w.flush()
	}
	return nil
}

func (w *Writer) flush() error {
	if len(w.pending) == 0 {
		return nil
	}
	for {
		err := w.env.Update(func(txn *lmdb.Txn) error {
			for _, p := range w.pending {
				if err := txn.Put(w.dbi, p.k, p.v, 0); err != nil {
					return err
				}
			}
			return nil
		})
		if lmdb.IsMapFull(err) {
			// Grow the map: allowed while no transaction is active.
			w.mapSize *= 2
			if err := w.env.SetMapSize(w.mapSize); err != nil {
				return fmt.Errorf("lmdb grow map of %s: %w", w.tmp, err)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("lmdb write %s: %w", w.tmp, err)
		}
		break
	}
	w.pending = w.pending[:0]
	w.pendBytes = 0
	return nil
}

// Commit writes what is buffered, syncs the environment to disk, closes
// it and renames the directory to its final path (replacing an existing
// one only now, when the new one is complete).
func (w *Writer) Commit() error {
	if w.env == nil {
		return errors.New("lmdbio: writer already closed")
	}
	if err := w.flush(); err != nil {
		w.Abort()
		return err
	}
	if err := w.env.Sync(true); err != nil {
		w.Abort()
		return err
	}
	w.env.Close()
	w.env = nil
	if err := fsutil.SyncTree(w.tmp); err != nil {
		os.RemoveAll(w.tmp)
		return err
	}
	if err := fsutil.ReplaceDir(w.tmp, w.final); err != nil {
		os.RemoveAll(w.tmp)
		return err
	}
	return nil
}

// Abort discards everything written; the final path is left untouched.
func (w *Writer) Abort() {
	if w.env != nil {
		w.env.Close()
		w.env = nil
	}
	os.RemoveAll(w.tmp)
}

// Reader reads an LMDB environment read-only without taking locks (as
// the official loaders do: lock=False), safe for concurrent use.
type Reader struct {
	path string
	env  *lmdb.Env
	dbi  lmdb.DBI
	n    int
}

// Open opens the environment directory dir for reading.
func Open(dir string) (*Reader, error) {
	st, err := os.Stat(filepath.Join(dir, "data.mdb"))
	if err != nil {
		return nil, fmt.Errorf("lmdb %s: %w", dir, err)
	}
	if st.Size() == 0 {
		return nil, fmt.Errorf("lmdb %s: empty data.mdb", dir)
	}
	if err := checkMeta(filepath.Join(dir, "data.mdb"), st.Size()); err != nil {
		return nil, fmt.Errorf("lmdb: %w", err)
	}
	env, err := lmdb.NewEnv()
	if err != nil {
		return nil, err
	}
	if err := env.Open(dir, lmdb.Readonly|lmdb.NoLock|lmdb.NoReadahead|lmdb.NoTLS, 0o644); err != nil {
		env.Close()
		return nil, fmt.Errorf("lmdb open %s: %w", dir, err)
	}
	r := &Reader{path: dir, env: env}
	err = env.View(func(txn *lmdb.Txn) error {
		var err error
		if r.dbi, err = txn.OpenRoot(0); err != nil {
			return err
		}
		st, err := txn.Stat(r.dbi)
		if err != nil {
			return err
		}
		r.n = int(st.Entries)
		return nil
	})
	if err != nil {
		env.Close()
		return nil, fmt.Errorf("lmdb %s: %w", dir, err)
	}
	return r, nil
}

// Path returns the environment directory.
func (r *Reader) Path() string { return r.path }

// Len returns the number of entries.
func (r *Reader) Len() int { return r.n }

// ErrNotFound reports a missing key.
var ErrNotFound = errors.New("key not found")

// Get returns a copy of the value stored under key, appended to dst[:0].
func (r *Reader) Get(key []byte, dst []byte) ([]byte, error) {
	err := r.env.View(func(txn *lmdb.Txn) error {
		txn.RawRead = true
		v, err := txn.Get(r.dbi, key)
		if lmdb.IsNotFound(err) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		dst = append(dst[:0], v...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lmdb %s: key %q: %w", r.path, key, err)
	}
	return dst, nil
}

// GetIndex returns the value under the decimal key of i.
func (r *Reader) GetIndex(i int, dst []byte) ([]byte, error) {
	return r.Get(strconv.AppendInt(nil, int64(i), 10), dst)
}

// Keys returns all keys in the database's (lexicographic) order.
func (r *Reader) Keys() ([][]byte, error) {
	var keys [][]byte
	err := r.env.View(func(txn *lmdb.Txn) error {
		cur, err := txn.OpenCursor(r.dbi)
		if err != nil {
			return err
		}
		defer cur.Close()
		for {
			k, _, err := cur.Get(nil, nil, lmdb.Next)
			if lmdb.IsNotFound(err) {
				return nil
			}
			if err != nil {
				return err
			}
			keys = append(keys, append([]byte(nil), k...))
		}
	})
	if err != nil {
		return nil, fmt.Errorf("lmdb %s: %w", r.path, err)
	}
	return keys, nil
}

// ForEach calls fn for every entry in key order inside one read
// transaction. k and v point into the memory map and are valid only
// during the call.
func (r *Reader) ForEach(fn func(k, v []byte) error) error {
	return r.env.View(func(txn *lmdb.Txn) error {
		txn.RawRead = true
		cur, err := txn.OpenCursor(r.dbi)
		if err != nil {
			return err
		}
		defer cur.Close()
		for {
			k, v, err := cur.Get(nil, nil, lmdb.Next)
			if lmdb.IsNotFound(err) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("lmdb %s: %w", r.path, err)
			}
			if err := fn(k, v); err != nil {
				return err
			}
		}
	})
}

// Close releases the environment.
func (r *Reader) Close() error {
	if r.env != nil {
		r.env.Close()
		r.env = nil
	}
	return nil
}
