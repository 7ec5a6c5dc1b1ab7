package testenv

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nvaego/nvae/pkg/fsutil"
)

// TestOracleManifest checks that every file of testdata/oracle listed in
// its MANIFEST.sha256 is present and unchanged: a file moved away or
// altered fails here by name, even where a test would only glob for cases.
func TestOracleManifest(t *testing.T) {
	root := filepath.Join(RepoRoot(t), "testdata", "oracle")
	f, err := os.Open(filepath.Join(root, "MANIFEST.sha256"))
	if err != nil {
		t.Fatalf("oracle manifest: %v", err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		sum, name, ok := strings.Cut(line, "  ")
		if !ok || len(sum) != 64 {
			t.Fatalf("MANIFEST.sha256: malformed line %q", line)
		}
		n++
		p := filepath.Join(root, filepath.FromSlash(name))
		got, _, err := fsutil.SHA256File(p)
		if err != nil {
			t.Errorf("oracle file missing: testdata/oracle/%s: %v", strings.TrimPrefix(name, "./"), err)
			continue
		}
		if got != sum {
			t.Errorf("oracle file changed: testdata/oracle/%s: sha256 %s, manifest %s", strings.TrimPrefix(name, "./"), got, sum)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("MANIFEST.sha256 lists no files")
	}
}
