package cifar

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), Dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rec := func(label byte, v byte) []byte {
		r := make([]byte, RecordSize)
		r[0] = label
		for i := 1; i < RecordSize; i++ {
			r[i] = v + byte(i)
		}
		return r
	}
	var batch []byte
	batch = append(batch, rec(3, 0)...)
	batch = append(batch, rec(9, 5)...)
	if err := os.WriteFile(filepath.Join(dir, "test_batch.bin"), batch, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(filepath.Dir(dir), false)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 2 || s.Labels[1] != 9 || s.Images[ImageBytes] != 6 || s.Images[ImageBytes-1] != byte(ImageBytes%256) {
		t.Fatalf("bad parse: len %d", s.Len())
	}
	if _, err := Parse(batch[:RecordSize+5]); err == nil {
		t.Fatal("truncated record not detected")
	}
	bad := rec(10, 0)
	if _, err := Parse(bad); err == nil {
		t.Fatal("bad label not detected")
	}
	if _, err := Load(filepath.Dir(dir), true); err == nil {
		t.Fatal("missing train files not reported")
	}
}
