package npz_test

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"github.com/nvaego/nvae/internal/testenv"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nvaego/nvae/pkg/npz"
	"github.com/nvaego/nvae/pkg/safetensors"
)

func fidData(t testing.TB, name string) string {
	return testenv.File(t, testenv.Testdata(t, "fid"), name)
}

func sample() map[string]npz.Array {
	return map[string]npz.Array{
		"f64":    npz.FromFloat64([]int{2, 3}, []float64{1, -2, math.Pi, math.Inf(-1), 5e-324, 0}),
		"f32":    npz.FromFloat32([]int{4}, []float32{1.5, -0, 3e38, 1e-45}),
		"u8":     npz.FromUint8([]int{2, 2, 1}, []uint8{0, 7, 128, 255}),
		"i64":    {DType: "<i8", Shape: []int{2}, Data: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 0, 0, 0}},
		"i32":    {DType: "<i4", Shape: []int{1}, Data: []byte{0xfd, 0xff, 0xff, 0xff}},
		"b1":     {DType: "|b1", Shape: []int{3}, Data: []byte{1, 0, 1}},
		"scalar": npz.FromFloat64([]int{}, []float64{2.5}),
		"empty":  npz.FromFloat32([]int{0, 3}, nil),
	}
}

func TestRoundTripNPZ(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.npz")
	in := sample()
	if err := npz.WriteNPZ(p, in); err != nil {
		t.Fatal(err)
	}
	out, err := npz.ReadNPZ(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("read %d arrays, want %d", len(out), len(in))
	}
	for k, a := range in {
		b := out[k]
		if a.DType != b.DType || !reflect.DeepEqual(a.Shape, b.Shape) || !bytes.Equal(a.Data, b.Data) {
			t.Errorf("%s: got %+v, want %+v", k, b, a)
		}
	}
	// Deterministic output.
	first, _ := os.ReadFile(p)
	if err := npz.WriteNPZ(p, out); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(p)
	if !bytes.Equal(first, second) {
		t.Error("WriteNPZ is not deterministic")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("%d files in dir, want 1 (temp file left?)", len(ents))
	}
	// Members are named <key>.npy in sorted order.
	zr, err := zip.OpenReader(p)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	want := []string{"b1.npy", "empty.npy", "f32.npy", "f64.npy", "i32.npy", "i64.npy", "scalar.npy", "u8.npy"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("members %v, want %v", names, want)
	}
}

func TestConversions(t *testing.T) {
	s := sample()
	check := func(k string, want []float64) {
		got, err := s[k].Float64()
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s Float64 = %v, want %v", k, got, want)
		}
	}
	check("i64", []float64{-1, 2})
	check("i32", []float64{-3})
	check("b1", []float64{1, 0, 1})
	check("u8", []float64{0, 7, 128, 255})
	check("scalar", []float64{2.5})
	f, err := s["f32"].Float32()
	if err != nil || f[0] != 1.5 || f[2] != 3e38 || f[3] != 1e-45 {
		t.Errorf("f32 Float32 = %v, %v", f, err)
	}
	g, err := s["f64"].Float32()
	if err != nil || g[2] != float32(math.Pi) || !math.IsInf(float64(g[3]), -1) {
		t.Errorf("f64 Float32 = %v, %v", g, err)
	}
	if _, err := (npz.Array{DType: "<f8", Shape: []int{2}, Data: make([]byte, 8)}).Float64(); err == nil {
		t.Error("wrong data size should fail")
	}
}

// TestStatsExample reads the pytorch-fid statistics file written by numpy,
// checks it against the same statistics in frechet.safetensors, and checks
// that WriteNPY reproduces numpy's member bytes exactly.
func TestStatsExample(t *testing.T) {
	p := fidData(t, "stats_example.npz")
	st, err := npz.ReadNPZ(p)
	if err != nil {
		t.Fatal(err)
	}
	mu, sigma := st["mu"], st["sigma"]
	if mu.DType != "<f4" || !reflect.DeepEqual(mu.Shape, []int{64}) {
		t.Errorf("mu: %s %v, want <f4 [64]", mu.DType, mu.Shape)
	}
	if sigma.DType != "<f8" || !reflect.DeepEqual(sigma.Shape, []int{64, 64}) {
		t.Errorf("sigma: %s %v, want <f8 [64 64]", sigma.DType, sigma.Shape)
	}
	ref, err := safetensors.ReadFile(fidData(t, "frechet.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mu.Data, ref.Tensors["nvae_f32/mu_a"].Data) {
		t.Error("mu differs from frechet.safetensors nvae_f32/mu_a")
	}
	if !bytes.Equal(sigma.Data, ref.Tensors["nvae_f32/sigma_a"].Data) {
		t.Error("sigma differs from frechet.safetensors nvae_f32/sigma_a")
	}
	sv, _ := sigma.Float64()
	t.Logf("mu[0]=%v sigma[0,0]=%v sigma[63,63]=%v", mustF64(t, mu)[0], sv[0], sv[64*64-1])

	// WriteNPY output equals numpy's bytes for both members.
	zr, err := zip.OpenReader(p)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		orig, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := npz.WriteNPY(&b, st[strings.TrimSuffix(f.Name, ".npy")]); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b.Bytes(), orig) {
			t.Errorf("%s: WriteNPY bytes differ from numpy's (%q vs %q)", f.Name, b.Bytes()[:128], orig[:128])
		}
	}

	// Round trip through WriteNPZ keeps the values bit-for-bit.
	q := filepath.Join(t.TempDir(), "stats.npz")
	if err := npz.WriteNPZ(q, st); err != nil {
		t.Fatal(err)
	}
	back, err := npz.ReadNPZ(q)
	if err != nil {
		t.Fatal(err)
	}
	for k, a := range st {
		if !bytes.Equal(back[k].Data, a.Data) || back[k].DType != a.DType || !reflect.DeepEqual(back[k].Shape, a.Shape) {
			t.Errorf("%s changed in round trip", k)
		}
	}
}

func mustF64(t *testing.T, a npz.Array) []float64 {
	v, err := a.Float64()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// npyRaw builds a .npy file with the given version and header text.
func npyRaw(major byte, header string, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x93NUMPY")
	b.WriteByte(major)
	b.WriteByte(0)
	if major == 1 {
		binary.Write(&b, binary.LittleEndian, uint16(len(header)))
	} else {
		binary.Write(&b, binary.LittleEndian, uint32(len(header)))
	}
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

func TestVersionsAndHeaders(t *testing.T) {
	data := make([]byte, 16)
	binary.LittleEndian.PutUint64(data, math.Float64bits(1.25))
	binary.LittleEndian.PutUint64(data[8:], math.Float64bits(-3))
	for _, c := range []struct {
		major byte
		hdr   string
	}{
		{1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }          \n"},
		{2, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n"},
		{3, "{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"<f8\"}\n"},
		{1, "{'descr':'<f8','fortran_order':False,'shape':(1, 2)}"},
		{1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2L,), }\n"},
	} {
		a, err := npz.ReadNPY(bytes.NewReader(npyRaw(c.major, c.hdr, data)))
		if err != nil {
			t.Errorf("v%d %q: %v", c.major, c.hdr, err)
			continue
		}
		v, _ := a.Float64()
		if !reflect.DeepEqual(v, []float64{1.25, -3}) {
			t.Errorf("v%d: values %v", c.major, v)
		}
	}
	// Scalars and single-byte aliases.
	a, err := npz.ReadNPY(bytes.NewReader(npyRaw(1, "{'descr': '<u1', 'fortran_order': False, 'shape': (), }\n", []byte{9})))
	if err != nil || a.DType != "|u1" || len(a.Shape) != 0 || a.Data[0] != 9 {
		t.Errorf("scalar u1: %+v %v", a, err)
	}
	bad := map[string][]byte{
		"fortran":     npyRaw(1, "{'descr': '<f8', 'fortran_order': True, 'shape': (2,), }\n", data),
		"big endian":  npyRaw(1, "{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }\n", data),
		"complex":     npyRaw(1, "{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }\n", data),
		"structured":  npyRaw(1, "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2,), }\n", data),
		"short data":  npyRaw(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }\n", data),
		"huge shape":  npyRaw(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }\n", data),
		"bad version": npyRaw(4, "{}", nil),
		"bad magic":   []byte("\x93NUMPX\x01\x00\x00\x00"),
		"truncated":   npyRaw(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n", data)[:30],
		"bad literal": npyRaw(1, "{'descr': '<f8', 'fortran_order': Fals, 'shape': (2,), }\n", data),
		"no shape":    npyRaw(1, "{'descr': '<f8', 'fortran_order': False}\n", data),
		"neg shape":   npyRaw(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (-2,)}\n", data),
	}
	for name, raw := range bad {
		if _, err := npz.ReadNPY(bytes.NewReader(raw)); err == nil {
			t.Errorf("%s: expected error", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	_, err = npz.ReadNPY(bytes.NewReader(bad["fortran"]))
	if err == nil || !strings.Contains(err.Error(), "fortran_order") {
		t.Errorf("fortran error should mention fortran_order: %v", err)
	}
}

func TestDeflatedMembers(t *testing.T) {
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	in := sample()
	for _, k := range []string{"f64", "u8"} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: k + ".npy", Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		if err := npz.WriteNPY(w, in[k]); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "c.npz")
	if err := os.WriteFile(p, zb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := npz.ReadNPZ(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"f64", "u8"} {
		if !bytes.Equal(out[k].Data, in[k].Data) || !reflect.DeepEqual(out[k].Shape, in[k].Shape) {
			t.Errorf("%s differs after deflate", k)
		}
	}
	// A corrupt member gives an error naming it.
	raw := zb.Bytes()
	bad := append([]byte(nil), raw...)
	for i := 40; i < 60; i++ {
		bad[i] ^= 0x55
	}
	if _, err := npz.ReadNPZReader(bytes.NewReader(bad), int64(len(bad)), "bad.npz"); err == nil {
		t.Error("corrupt deflated member should fail")
	} else {
		t.Log(err)
	}
	if _, err := npz.ReadNPZ(filepath.Join(t.TempDir(), "missing.npz")); err == nil {
		t.Error("missing file should fail")
	}
}

func TestLargeHeaderUsesV2(t *testing.T) {
	shape := make([]int, 25000)
	for i := range shape {
		shape[i] = 1
	}
	a := npz.FromFloat64(shape, []float64{4})
	var b bytes.Buffer
	if err := npz.WriteNPY(&b, a); err != nil {
		t.Fatal(err)
	}
	if b.Bytes()[6] != 2 {
		t.Errorf("version %d, want 2 for a %d-byte header", b.Bytes()[6], b.Len())
	}
	back, err := npz.ReadNPY(&b)
	if err != nil || len(back.Shape) != 25000 || !bytes.Equal(back.Data, a.Data) {
		t.Errorf("v2 round trip: %v", err)
	}
}

func FuzzReadNPY(f *testing.F) {
	for _, a := range sample() {
		var b bytes.Buffer
		if err := npz.WriteNPY(&b, a); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes())
	}
	f.Add(npyRaw(3, "{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"|b1\"}\n", []byte{0, 1}))
	f.Add(npyRaw(2, "{'descr': '<i4', 'fortran_order': True, 'shape': (1,)}", []byte{1, 2, 3, 4}))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := npz.ReadNPY(bytes.NewReader(data))
		if err != nil {
			return
		}
		if _, err := a.Float64(); err != nil {
			t.Fatalf("accepted array fails to convert: %v", err)
		}
		var b bytes.Buffer
		if err := npz.WriteNPY(&b, a); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		back, err := npz.ReadNPY(&b)
		if err != nil || !bytes.Equal(back.Data, a.Data) || back.DType != a.DType {
			t.Fatalf("re-read: %v", err)
		}
	})
}
