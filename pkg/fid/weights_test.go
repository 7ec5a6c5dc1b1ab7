package fid

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

func TestFIDWeightsFetcher(t *testing.T) {
	payload := []byte(strings.Repeat("inception weights ", 1000))
	sum := sha256.Sum256(payload)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/w.pth":
			w.Write(payload)
		case "/bad.pth":
			w.Write(payload[1:])
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	f := &Fetcher{Client: srv.Client(), URL: srv.URL + "/w.pth", Name: "w.pth", SHA256: hex.EncodeToString(sum[:]), Dir: dir}
	p, err := f.Path()
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); string(got) != string(payload) || p != filepath.Join(dir, "w.pth") {
		t.Fatalf("downloaded %d bytes to %s", len(got), p)
	}
	// Second call: served from the cache, no request.
	if _, err := f.Path(); err != nil || hits.Load() != 1 {
		t.Fatalf("second Path: err %v, %d requests (want 1)", err, hits.Load())
	}
	// The 8-hex-digit prefix form (torch.hub's check) is accepted too.
	f8 := *f
	f8.SHA256 = f.SHA256[:8]
	if _, err := f8.Path(); err != nil {
		t.Fatal(err)
	}
	// A corrupted cache file is replaced.
	os.WriteFile(p, []byte("junk"), 0o644)
	if _, err := f.Path(); err != nil || hits.Load() != 2 {
		t.Fatalf("re-download: err %v, %d requests", err, hits.Load())
	}
	// Wrong checksum: error, nothing left in the cache.
	bad := &Fetcher{Client: srv.Client(), URL: srv.URL + "/bad.pth", Name: "bad.pth", SHA256: f.SHA256, Dir: dir}
	if _, err := bad.Path(); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("bad checksum: err %v", err)
	}
	// HTTP error.
	missing := &Fetcher{Client: srv.Client(), URL: srv.URL + "/nope.pth", Name: "nope.pth", SHA256: f.SHA256, Dir: dir}
	if _, err := missing.Path(); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("404: err %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "w.pth" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("cache dir holds %v, want only w.pth", names)
	}
}

func TestFIDOfficialFetcherConstants(t *testing.T) {
	f := OfficialFetcher(nil, nil)
	if !strings.HasSuffix(f.URL, "/"+f.Name) || !strings.Contains(f.Name, f.SHA256[:8]) || len(f.SHA256) != 64 {
		t.Fatalf("official fetcher %+v: name and checksum prefix disagree", f)
	}
	t.Setenv("NVAE_CACHE", "/some/where")
	if d, _ := CacheDir(); d != "/some/where" {
		t.Fatalf("CacheDir = %q with NVAE_CACHE set", d)
	}
}
