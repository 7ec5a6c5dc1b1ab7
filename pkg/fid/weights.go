package fid

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/nvaego/nvae/pkg/fetch"
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
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("fid: cache directory: %w", err)
	}
	dst := filepath.Join(dir, f.Name)
	_, err := fetch.Fetcher{Client: f.Client, Log: f.Progress}.Get(fetch.File{Name: f.Name, SHA256: f.SHA256}, dst, nil, []string{f.URL})
	if err != nil {
		return "", fmt.Errorf("fid: the Inception weights: %w (pass --inception PATH to use a local copy)", err)
	}
	return dst, nil
}
