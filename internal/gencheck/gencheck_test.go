// Package gencheck holds the test that the committed generated assembly is
// exactly what its generators write: nobody edits a .s file by hand, and a
// generator change is committed with its output.
package gencheck

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/nvaego/nvae/internal/testenv"
)

// TestGenerateReproducesAssembly runs each kernel generator (the
// //go:generate line of its package) in a scratch folder and compares every
// file it writes with the committed one, byte for byte.
func TestGenerateReproducesAssembly(t *testing.T) {
	root := testenv.RepoRoot(t)
	for _, g := range []struct{ pkg, gen string }{
		{pkg: "pkg/gemm", gen: "gen_kernels.go"},
		{pkg: "pkg/conv", gen: "gen_kernels.go"},
		{pkg: "pkg/vmath", gen: "gen_asm.go"},
	} {
		t.Run(g.pkg, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(root, g.pkg, g.gen))
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, g.gen), src, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("go", "run", g.gen)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GO111MODULE=off")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go run %s: %v\n%s", g.gen, err, out)
			}
			ents, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, e := range ents {
				if e.Name() == g.gen {
					continue
				}
				n++
				got, err := os.ReadFile(filepath.Join(dir, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				want, err := os.ReadFile(filepath.Join(root, g.pkg, e.Name()))
				if err != nil {
					t.Errorf("%s writes %s, which is not committed: %v", g.gen, e.Name(), err)
					continue
				}
				if !bytes.Equal(got, want) {
					i := 0
					for i < len(got) && i < len(want) && got[i] == want[i] {
						i++
					}
					line := bytes.Count(want[:i], []byte("\n")) + 1
					t.Errorf("%s/%s differs from what %s writes (first difference at line %d); run go generate ./%s and commit", g.pkg, e.Name(), g.gen, line, g.pkg)
				}
			}
			if n == 0 {
				t.Errorf("%s wrote no file", g.gen)
			}
		})
	}
}
