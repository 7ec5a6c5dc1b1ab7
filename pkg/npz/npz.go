package npz

import (
	"archive/zip"
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/nvaego/nvae/pkg/fsutil"
)

// ReadNPZ reads every .npy member of the .npz archive at path. Keys are the
// member names without the ".npy" suffix; members may be stored or
// deflated. Members not ending in ".npy" are ignored.
func ReadNPZ(path string) (map[string]Array, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("npz: %s: %w", path, err)
	}
	defer zr.Close()
	return readZip(&zr.Reader, path)
}

// ReadNPZReader is ReadNPZ for an archive of the given size held in r; name
// is used in error messages.
func ReadNPZReader(r io.ReaderAt, size int64, name string) (map[string]Array, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("npz: %s: %w", name, err)
	}
	return readZip(zr, name)
}

func readZip(zr *zip.Reader, name string) (map[string]Array, error) {
	out := make(map[string]Array, len(zr.File))
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, ".npy") {
			continue
		}
		key := strings.TrimSuffix(f.Name, ".npy")
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("npz: %s: duplicate member %q", name, f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("npz: %s: member %q: %w", name, f.Name, err)
		}
		a, err := ReadNPY(rc)
		if err == nil {
			// Drain so the zip checksum of the member is verified.
			var extra int64
			extra, err = io.Copy(io.Discard, rc)
			if err == nil && extra != 0 {
				err = fmt.Errorf("%d trailing bytes after the array data", extra)
			}
		}
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("npz: %s: member %q: %w", name, f.Name, err)
		}
		out[key] = a
	}
	return out, nil
}

// WriteNPZ writes arrays as an uncompressed .npz archive (like numpy.savez)
// atomically: members are "<key>.npy" in sorted key order with a fixed
// timestamp, so the output is deterministic.
func WriteNPZ(path string, arrays map[string]Array) error {
	keys := make([]string, 0, len(arrays))
	for k := range arrays {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	err := fsutil.WriteAtomic(path, 0o644, func(tmp *os.File) error {
		bw := bufio.NewWriterSize(tmp, 1<<20)
		zw := zip.NewWriter(bw)
		for _, k := range keys {
			hdr := &zip.FileHeader{
				Name:     k + ".npy",
				Method:   zip.Store,
				Modified: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC),
			}
			w, err := zw.CreateHeader(hdr)
			if err != nil {
				return err
			}
			if err := WriteNPY(w, arrays[k]); err != nil {
				return fmt.Errorf("array %q: %w", k, err)
			}
		}
		if err := zw.Close(); err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		return fmt.Errorf("npz: %w", err)
	}
	return nil
}
