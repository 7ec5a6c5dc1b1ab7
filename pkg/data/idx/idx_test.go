package idx

import (
	"bytes"
	"github.com/nvaego/nvae/internal/testenv"
	"path/filepath"
	"testing"
)

func TestParse(t *testing.T) {
	b := Encode([]int{2, 3}, []byte{1, 2, 3, 4, 5, 6})
	f, err := Parse(b)
	if err != nil || len(f.Dims) != 2 || f.Dims[1] != 3 || !bytes.Equal(f.Data, []byte{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("%+v %v", f, err)
	}
	bad := map[string][]byte{
		"short":     {0, 0},
		"magic":     {1, 0, 8, 1, 0, 0, 0, 0},
		"type":      {0, 0, 0x0d, 1, 0, 0, 0, 0},
		"truncated": Encode([]int{2, 3}, []byte{1, 2, 3}),
		"long":      Encode([]int{1}, []byte{1, 2}),
		"header":    {0, 0, 8, 3, 0, 0},
	}
	for name, b := range bad {
		if _, err := Parse(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestRealMNIST parses the MNIST files shipped in the GoMNIST module.
func TestRealMNIST(t *testing.T) {
	dir := testenv.MNISTSource(t)
	f, err := ReadFile(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Dims) != 3 || f.Dims[0] != 10000 || f.Dims[1] != 28 || f.Dims[2] != 28 {
		t.Fatalf("dims %v", f.Dims)
	}
	l, err := ReadFile(filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"))
	if err != nil || len(l.Dims) != 1 || l.Dims[0] != 10000 || l.Data[0] != 7 {
		t.Fatalf("labels %v %v", l, err)
	}
}

func FuzzIDX(f *testing.F) {
	f.Add(Encode([]int{2, 2}, []byte{1, 2, 3, 4}))
	f.Add(Encode([]int{0}, nil))
	f.Add([]byte{0, 0, 8, 200})
	f.Add([]byte{0, 0, 8, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse(b)
		if err != nil {
			return
		}
		n := 1
		for _, d := range file.Dims {
			n *= d
		}
		if n != len(file.Data) {
			t.Fatalf("dims %v but %d bytes", file.Dims, len(file.Data))
		}
		if !bytes.Equal(Encode(file.Dims, file.Data), b) {
			t.Fatal("re-encoding differs")
		}
	})
}
