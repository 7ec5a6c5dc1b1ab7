package testenv

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// KeyLine is one line of an official keys_<case>.txt: a state-dict key,
// its kind (param, buffer or alias), dtype and shape, and an alias's target.
type KeyLine struct {
	Key, Kind, DType, Target string
	Shape                    []int
}

// OfficialKeys parses keys_<case>.txt: key, kind, dtype, shape, numel[, target].
func OfficialKeys(t testing.TB, path string) []KeyLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []KeyLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c := strings.Split(line, "\t")
		if len(c) < 5 {
			t.Fatalf("bad keys line %q", line)
		}
		k := KeyLine{Key: c[0], Kind: c[1], DType: c[2]}
		if err := json.Unmarshal([]byte(c[3]), &k.Shape); err != nil {
			t.Fatalf("bad shape in %q", line)
		}
		if len(c) > 5 {
			k.Target = c[5]
		}
		out = append(out, k)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
