package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestArrowAndJSONRoundTrip(t *testing.T) {
	dir := t.TempDir()
	rows := []Row{{0, 81.5, 85.25, 0.15}, {7, 90, 99.5, 0.1656}}
	path := filepath.Join(dir, "per_image.arrow")
	if err := WriteArrow(path, rows); err != nil {
		t.Fatal(err)
	}
	got, err := ReadArrow(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) {
		t.Fatalf("%d rows, want %d", len(got), len(rows))
	}
	for i := range rows {
		if got[i] != rows[i] {
			t.Fatalf("row %d: %+v, want %+v", i, got[i], rows[i])
		}
	}
	jp := filepath.Join(dir, "results.json")
	if err := WriteJSON(jp, map[string]float64{"nll_nats": 81.5}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(jp)
	var m map[string]float64
	if err := json.Unmarshal(b, &m); err != nil || m["nll_nats"] != 81.5 {
		t.Fatalf("results.json: %s %v", b, err)
	}
	if _, err := ReadArrow(jp); err == nil {
		t.Fatal("a JSON file read as Arrow")
	}
}
