// Package fetch places verified copies of published files: the one
// downloader of nvae-prep (MNIST, CIFAR-10) and nvae-fid (the Inception
// weights). A file already in place with the right checksum is kept; else
// it is copied from a local folder or downloaded from the first URL that
// answers, written to a temporary file beside the target, checked, renamed
// into place, and the folder is synced. A bad copy leaves nothing behind.
package fetch

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/nvaego/nvae/internal/progress"
	"github.com/nvaego/nvae/pkg/fsutil"
)

// File is a published file and its checksums: an MD5 (hex) and/or a
// SHA-256 (hex, or a prefix of at least 8 hex digits as torch.hub checks).
// At least one is required.
type File struct {
	Name        string
	MD5, SHA256 string
}

// Result describes the file in place.
type Result struct {
	Path   string
	SHA256 string // of the whole file
	Bytes  int64
	Cached bool // it was already in place
}

// Fetcher fetches files.
type Fetcher struct {
	Client *http.Client // nil: http.DefaultClient
	Log    io.Writer    // notes and download progress; nil: none
}

func (f Fetcher) logf(format string, a ...any) {
	if f.Log != nil {
		fmt.Fprintf(f.Log, format, a...)
	}
}

// check compares the sums of a file with the published ones and returns
// the first mismatch as "MD5 x does not match the published y".
func (file File) check(md5sum, shasum string) error {
	if file.MD5 != "" && md5sum != strings.ToLower(file.MD5) {
		return fmt.Errorf("MD5 %s does not match the published %s", md5sum, file.MD5)
	}
	if file.SHA256 != "" && !strings.HasPrefix(shasum, strings.ToLower(file.SHA256)) {
		return fmt.Errorf("sha256 %s does not match the expected %s", shasum, file.SHA256)
	}
	return nil
}

// sums hashes r with both algorithms, copying it to w when w is not nil.
func sums(r io.Reader, w io.Writer) (md5sum, shasum string, n int64, err error) {
	hm, hs := md5.New(), sha256.New()
	ws := []io.Writer{hm, hs}
	if w != nil {
		ws = append(ws, w)
	}
	n, err = io.Copy(io.MultiWriter(ws...), r)
	hex2 := func(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }
	return hex2(hm), hex2(hs), n, err
}

// Get places a verified copy of file at dst: kept if already there and
// valid, else copied from the first of srcDirs holding file.Name (when
// srcDirs is not empty: no network), else downloaded from the first of urls
// that answers.
func (f Fetcher) Get(file File, dst string, srcDirs, urls []string) (Result, error) {
	if file.MD5 == "" && len(file.SHA256) < 8 {
		return Result{}, fmt.Errorf("no checksum configured for %s", file.Name)
	}
	if r, err := os.Open(dst); err == nil {
		m, s, n, err := sums(r, nil)
		r.Close()
		if err == nil && file.check(m, s) == nil {
			f.logf("%s: already present, checksum ok\n", dst)
			return Result{Path: dst, SHA256: s, Bytes: n, Cached: true}, nil
		}
		f.logf("%s: checksum mismatch, fetching it again\n", dst)
	} else if !errors.Is(err, os.ErrNotExist) {
		return Result{}, err
	}
	src, from, size, err := f.open(file, srcDirs, urls)
	if err != nil {
		return Result{}, err
	}
	defer src.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+file.Name+".tmp-*")
	if err != nil {
		return Result{}, err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	var in io.Reader = src
	if len(srcDirs) == 0 {
		in = progress.NewBytes(f.Log, file.Name, size).Reader(src)
	}
	m, s, n, err := sums(in, tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", from, err)
	}
	if err := file.check(m, s); err != nil {
		return Result{}, fmt.Errorf("%s: %w (discarded)", from, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return Result{}, err
	}
	if err := fsutil.SyncDir(filepath.Dir(dst)); err != nil {
		return Result{}, err
	}
	return Result{Path: dst, SHA256: s, Bytes: n}, nil
}

// open returns the source: a local copy, or the first URL answering 200.
func (f Fetcher) open(file File, srcDirs, urls []string) (io.ReadCloser, string, int64, error) {
	if len(srcDirs) > 0 {
		for _, d := range srcDirs {
			p := filepath.Join(d, file.Name)
			if r, err := os.Open(p); err == nil {
				return r, p, -1, nil
			}
		}
		return nil, "", 0, fmt.Errorf("%s not found in --source %s", file.Name, srcDirs[0])
	}
	client := f.Client
	if client == nil {
		client = http.DefaultClient
	}
	var errs []string
	for _, u := range urls {
		resp, err := client.Get(u)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			errs = append(errs, fmt.Sprintf("%s: HTTP %s", u, resp.Status))
			continue
		}
		f.logf("downloading %s\n", u)
		return resp.Body, u, resp.ContentLength, nil
	}
	return nil, "", 0, fmt.Errorf("download %s failed: %s", file.Name, strings.Join(errs, "; "))
}
