package fsutil

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestRemoveStaleTemps (issue 14.10): old temporaries of our own naming go;
// fresh ones (a live writer), other names and final files stay.
func TestRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-2 * time.Minute)
	mk := func(name string, age time.Time) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, age, age)
		return p
	}
	gone := []string{
		mk(".checkpoint.nvae.tmp-123456", old),
		mk(".samples_t0.7.png.tmp-42", old),
		mk(".train-images-idx3-ubyte.gz.tmp-9", old),
	}
	lmdb := filepath.Join(dir, ".train.lmdb.tmp-77")
	os.MkdirAll(lmdb, 0o755)
	os.WriteFile(filepath.Join(lmdb, "data.mdb"), []byte("x"), 0o644)
	os.Chtimes(filepath.Join(lmdb, "data.mdb"), old, old)
	os.Chtimes(lmdb, old, old)
	gone = append(gone, lmdb)
	kept := []string{
		mk(".checkpoint.nvae.tmp-999", time.Now()),        // a live writer
		mk("checkpoint.nvae", old),                        // the real thing
		mk(".checkpoint.nvae.tmp-12ab", old),              // not our pattern
		mk(".notes.txt.tmp-1", old),                       // not ours to judge
		mk("checkpoint.nvae.tmp-1", old),                  // no leading dot
		mk(".samples_t0.7.png.tmp-", old),                 // no digits
		mk(".results.json.tmp-5", old),                    // another tool's base
		mk(".checkpoint.nvae.bn_t0.700.safetensors", old), // a cache
	}
	got := RemoveStaleTemps(dir, []string{"checkpoint.nvae", "samples_*.png", "*.gz", "*.lmdb"}, StaleAge)
	slices.Sort(got)
	slices.Sort(gone)
	if !slices.Equal(got, gone) {
		t.Fatalf("removed %v, want %v", got, gone)
	}
	for _, p := range gone {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s still there", p)
		}
	}
	for _, p := range kept {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s removed", p)
		}
	}
}
