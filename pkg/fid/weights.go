package fid

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/nvaego/nvae/pkg/fsutil"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The official FID Inception weights (pytorch-fid's release asset, the file
// NVAE's fid/inception.py downloads).
const (
	WeightsURL  = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth"
	WeightsFile = "pt_inception-2015-12-05-6726825d.pth"
	// WeightsSHA256 is the full sha256 of the official file (95,628,359
	// bytes); its first 8 hex digits are the "6726825d" in the name, which
	// torch.hub's check_hash verifies.
	WeightsSHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
)

// CacheDir returns the download cache directory: $NVAE_CACHE if set, else
// ~/.cache/nvae-go (the user cache directory's nvae-go folder).
func CacheDir() (string, error) {
	if d := os.Getenv("NVAE_CACHE"); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("fid: no cache directory (set NVAE_CACHE): %w", err)
	}
	return filepath.Join(home, ".cache", "nvae-go"), nil
}

// Fetcher downloads a weights file once into a cache directory and checks
// its sha256.
type Fetcher struct {
	// Client does the request (http.DefaultClient when nil).
	Client *http.Client
	// URL, Name (the file name in Dir) and SHA256 (full hex digest, or a
	// prefix of at least 8 hex digits) describe the file.
	URL, Name, SHA256 string
	// Dir is the cache directory (CacheDir() when empty).
	Dir string
	// Progress, when not nil, receives one-line progress reports.
	Progress io.Writer
}

// OfficialFetcher returns a Fetcher for the official weights into the
// default cache directory.
func OfficialFetcher(client *http.Client, progress io.Writer) *Fetcher {
	return &Fetcher{Client: client, URL: WeightsURL, Name: WeightsFile, SHA256: WeightsSHA256, Progress: progress}
}

func (f *Fetcher) hashOK(sum string) bool {
	want := strings.ToLower(f.SHA256)
	return len(want) >= 8 && strings.HasPrefix(sum, want)
}

// Path returns the local path of the file, downloading it first when the
// cache does not hold a copy with the right checksum. The download goes to
// a temporary file in the cache directory that is checked, fsynced and then
// renamed, so the cache never holds a partial or corrupt file.
func (f *Fetcher) Path() (string, error) {
	if len(f.SHA256) < 8 {
		return "", fmt.Errorf("fid: no checksum configured for %s", f.URL)
	}
	dir := f.Dir
	if dir == "" {
		d, err := CacheDir()
		if err != nil {
			return "", err
		}
		dir = d
	}
	dst := filepath.Join(dir, f.Name)
	if sum, _, err := fsutil.SHA256File(dst); err == nil {
		if f.hashOK(sum) {
			return dst, nil
		}
		f.logf("fid: cached %s has sha256 %s, want %s; downloading again\n", dst, sum, f.SHA256)
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("fid: reading cached weights: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("fid: cache directory: %w", err)
	}
	client := f.Client
	if client == nil {
		client = http.DefaultClient
	}
	f.logf("fid: downloading %s to %s\n", f.URL, dst)
	resp, err := client.Get(f.URL)
	if err != nil {
		return "", fmt.Errorf("fid: downloading the Inception weights: %w (pass --inception PATH to use a local copy)", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("fid: downloading %s: HTTP %s (pass --inception PATH to use a local copy)", f.URL, resp.Status)
	}
	tmp, err := os.CreateTemp(dir, f.Name+".*.part")
	if err != nil {
		return "", fmt.Errorf("fid: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	h := sha256.New()
	pr := &progressReader{r: resp.Body, total: resp.ContentLength, w: f.Progress, start: time.Now()}
	_, err = io.Copy(io.MultiWriter(tmp, h), pr)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("fid: downloading %s: %w", f.URL, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); !f.hashOK(sum) {
		return "", fmt.Errorf("fid: %s: sha256 %s does not match the expected %s (download discarded)", f.URL, sum, f.SHA256)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", fmt.Errorf("fid: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return dst, nil
}

func (f *Fetcher) logf(format string, args ...any) {
	if f.Progress != nil {
		fmt.Fprintf(f.Progress, format, args...)
	}
}

// progressReader reports download progress about once per second.
type progressReader struct {
	r           io.Reader
	w           io.Writer
	total, n    int64
	start, last time.Time
}

func (p *progressReader) Read(b []byte) (int, error) {
	k, err := p.r.Read(b)
	p.n += int64(k)
	if p.w != nil && (time.Since(p.last) >= time.Second || err == io.EOF) {
		p.last = time.Now()
		rate := float64(p.n) / 1e6 / max(time.Since(p.start).Seconds(), 1e-9)
		if p.total > 0 {
			fmt.Fprintf(p.w, "fid: %.1f / %.1f MB (%.1f MB/s)\n", float64(p.n)/1e6, float64(p.total)/1e6, rate)
		} else {
			fmt.Fprintf(p.w, "fid: %.1f MB (%.1f MB/s)\n", float64(p.n)/1e6, rate)
		}
	}
	return k, err
}
