package safetensors

import (
	"bytes"
	"encoding/binary"
	"github.com/nvaego/nvae/internal/testenv"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func testdata(t testing.TB, parts ...string) string {
	return testenv.Testdata(t, parts...)
}

func TestReadSharedTestdata(t *testing.T) {
	var files []string
	for _, sub := range []string{"nvae", "fid"} {
		m, err := filepath.Glob(filepath.Join(testdata(t, sub), "*.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 5 {
		t.Fatalf("expected at least 5 safetensors files in testdata/oracle, found %d", len(files))
	}
	for _, p := range files {
		f, err := ReadFile(p)
		if err != nil {
			t.Fatalf("ReadFile: %v", err)
		}
		var bytesTotal int
		for _, name := range f.Names() {
			tt := f.Tensors[name]
			if _, err := tt.Float64(); err != nil {
				t.Errorf("%s: %s: Float64: %v", filepath.Base(p), name, err)
			}
			bytesTotal += len(tt.Data)
		}
		st, _ := os.Stat(p)
		if int64(bytesTotal) > st.Size() {
			t.Errorf("%s: tensors hold %d bytes, more than the file size %d", p, bytesTotal, st.Size())
		}
		t.Logf("%s: %d tensors, %d data bytes, %d metadata keys", filepath.Base(p), len(f.Tensors), bytesTotal, len(f.Metadata))
	}
}

func TestMnistTinyKnownValues(t *testing.T) {
	f, err := ReadFile(testdata(t, "nvae", "mnist_tiny.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Metadata["format"]; got != "nvae-oracle-v1" {
		t.Errorf("metadata format = %q, want nvae-oracle-v1", got)
	}
	if got := f.Metadata["case"]; got != "mnist_tiny" {
		t.Errorf("metadata case = %q, want mnist_tiny", got)
	}
	// The stem conv weight of mnist_tiny is Conv3x3 1->8 (see README).
	var stem Tensor
	var ok bool
	for _, name := range f.Names() {
		if strings.HasPrefix(name, "param/") && strings.HasSuffix(name, "stem.weight") {
			stem, ok = f.Tensors[name], true
			t.Logf("%s: %s %v", name, stem.DType, stem.Shape)
		}
	}
	if !ok {
		t.Fatal("no param/...stem.weight tensor")
	}
	if !reflect.DeepEqual(stem.Shape, []int{8, 1, 3, 3}) {
		t.Errorf("stem.weight shape = %v, want [8 1 3 3]", stem.Shape)
	}
	v, err := stem.Float64()
	if err != nil {
		t.Fatal(err)
	}
	var sumsq float64
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			t.Fatalf("non-finite stem weight %v", x)
		}
		sumsq += x * x
	}
	if sumsq == 0 {
		t.Error("stem weight is all zeros")
	}
	t.Logf("stem.weight[0:9] = %v", v[:9])
	// Independently decoded with Python's struct module from the raw file.
	want := []float32{0.10860439389944077, -0.047769151628017426, -0.12231183052062988}
	for i, w := range want {
		if float32(v[i]) != w {
			t.Errorf("stem.weight[%d] = %v, want %v", i, v[i], w)
		}
	}

	// The file's own tensors must be 8-byte aligned as the format requires.
	fh, err := os.Open(testdata(t, "nvae", "mnist_tiny.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var lb [8]byte
	if _, err := fh.ReadAt(lb[:], 0); err != nil {
		t.Fatal(err)
	}
	if n := binary.LittleEndian.Uint64(lb[:]); (8+n)%8 != 0 {
		t.Errorf("data section starts at %d, not 8-aligned", 8+n)
	}
}

// allDTypes builds a file with one tensor of every dtype plus edge cases.
func allDTypes() *File {
	f := &File{Tensors: map[string]Tensor{}, Metadata: map[string]string{"format": "pt", "note": "<a&b> \"quoted\" ünïcode"}}
	f.Tensors["f32"] = FromFloat32([]int{2, 3}, []float32{1, -2.5, float32(math.Inf(1)), 0, 1e-40, 3.25})
	f.Tensors["f64"] = FromFloat64([]int{3}, []float64{math.Pi, -1e300, 5e-324})
	f.Tensors["i64"] = FromInt64([]int{2, 1}, []int64{math.MinInt64, math.MaxInt64})
	f.Tensors["scalar"] = FromFloat64([]int{}, []float64{42})
	f.Tensors["empty"] = FromFloat32([]int{0, 4}, nil)
	f.Tensors["empty_u8"] = FromUint8([]int{3, 0}, nil)
	f.Tensors["u8"] = FromUint8([]int{5}, []uint8{0, 1, 127, 128, 255})
	f.Tensors["bool"] = Tensor{DType: BOOL, Shape: []int{3}, Data: []byte{1, 0, 1}}
	f.Tensors["i8"] = Tensor{DType: I8, Shape: []int{2}, Data: []byte{0xff, 0x7f}}
	f.Tensors["i16"] = Tensor{DType: I16, Shape: []int{2}, Data: []byte{0x00, 0x80, 0xff, 0x7f}}
	f.Tensors["i32"] = Tensor{DType: I32, Shape: []int{1}, Data: []byte{0xfe, 0xff, 0xff, 0xff}}
	// F16: 1.0, -2.0, smallest subnormal 2^-24, +inf.
	f.Tensors["f16"] = Tensor{DType: F16, Shape: []int{4}, Data: []byte{0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0x00, 0x7c}}
	// BF16: 1.0, -0.5
	f.Tensors["bf16"] = Tensor{DType: BF16, Shape: []int{2}, Data: []byte{0x80, 0x3f, 0x00, 0xbf}}
	return f
}

func TestRoundTripAllDTypes(t *testing.T) {
	f := allDTypes()
	dir := t.TempDir()
	p := filepath.Join(dir, "all.safetensors")
	if err := WriteFile(p, f); err != nil {
		t.Fatal(err)
	}
	g, err := ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Metadata, g.Metadata) {
		t.Errorf("metadata %v != %v", g.Metadata, f.Metadata)
	}
	if !reflect.DeepEqual(f.Names(), g.Names()) {
		t.Fatalf("names %v != %v", g.Names(), f.Names())
	}
	for _, name := range f.Names() {
		a, b := f.Tensors[name], g.Tensors[name]
		if a.DType != b.DType || !reflect.DeepEqual(a.Shape, b.Shape) || !bytes.Equal(a.Data, b.Data) {
			t.Errorf("%s: got %v %v %x, want %v %v %x", name, b.DType, b.Shape, b.Data, a.DType, a.Shape, a.Data)
		}
	}
	// Deterministic: writing again gives identical bytes.
	var b1, b2 bytes.Buffer
	if err := Write(&b1, f); err != nil {
		t.Fatal(err)
	}
	if err := Write(&b2, g); err != nil {
		t.Fatal(err)
	}
	disk, _ := os.ReadFile(p)
	if !bytes.Equal(b1.Bytes(), b2.Bytes()) || !bytes.Equal(b1.Bytes(), disk) {
		t.Error("writes are not deterministic")
	}
	// Alignment: data starts at a multiple of 8 and each tensor is aligned to its element size.
	raw := b1.Bytes()
	n := binary.LittleEndian.Uint64(raw)
	if (8+n)%8 != 0 {
		t.Errorf("data starts at %d", 8+n)
	}
	if strings.Contains(string(raw[8:8+n]), `\u003c`) {
		t.Error("header escapes HTML characters")
	}
	// No temp files left behind.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory has %d entries, want 1", len(ents))
	}
}

func TestConversions(t *testing.T) {
	f := allDTypes()
	cases := map[string][]float64{
		"f16":    {1, -2, math.Ldexp(1, -24), math.Inf(1)},
		"bf16":   {1, -0.5},
		"i8":     {-1, 127},
		"i16":    {-32768, 32767},
		"i32":    {-2},
		"u8":     {0, 1, 127, 128, 255},
		"bool":   {1, 0, 1},
		"scalar": {42},
		"f64":    {math.Pi, -1e300, 5e-324},
	}
	for name, want := range cases {
		got, err := f.Tensors[name].Float64()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s Float64 = %v, want %v", name, got, want)
		}
	}
	f32, err := f.Tensors["f32"].Float32()
	if err != nil {
		t.Fatal(err)
	}
	if f32[1] != -2.5 || f32[4] != 1e-40 || !math.IsInf(float64(f32[2]), 1) {
		t.Errorf("F32 Float32 = %v", f32)
	}
	h, _ := f.Tensors["f16"].Float32()
	if h[2] != float32(math.Ldexp(1, -24)) {
		t.Errorf("f16 subnormal = %v", h[2])
	}
	d32, _ := f.Tensors["f64"].Float32()
	if d32[0] != float32(math.Pi) || !math.IsInf(float64(d32[1]), -1) {
		t.Errorf("F64 Float32 = %v", d32)
	}
	i, err := f.Tensors["i64"].Int64()
	if err != nil || i[0] != math.MinInt64 || i[1] != math.MaxInt64 {
		t.Errorf("Int64 = %v, %v", i, err)
	}
	if _, err := f.Tensors["f64"].Int64(); err == nil {
		t.Error("Int64 of non-integral F64 should fail")
	}
	if v, err := FromFloat64([]int{2}, []float64{3, -4}).Int64(); err != nil || v[0] != 3 || v[1] != -4 {
		t.Errorf("Int64 of integral floats = %v, %v", v, err)
	}
	if n := f.Tensors["scalar"].NumElements(); n != 1 {
		t.Errorf("scalar NumElements = %d", n)
	}
	if n := f.Tensors["empty"].NumElements(); n != 0 {
		t.Errorf("empty NumElements = %d", n)
	}
	bad := Tensor{DType: F32, Shape: []int{3}, Data: make([]byte, 8)}
	if _, err := bad.Float32(); err == nil {
		t.Error("Float32 with wrong data size should fail")
	}
	if _, err := (Tensor{DType: "X9", Shape: []int{1}, Data: []byte{0}}).Float64(); err == nil {
		t.Error("unknown dtype should fail")
	}
}

// build assembles a raw file from a header string and data bytes.
func build(header string, data []byte) []byte {
	var b bytes.Buffer
	var lb [8]byte
	binary.LittleEndian.PutUint64(lb[:], uint64(len(header)))
	b.Write(lb[:])
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

func TestCorruptFiles(t *testing.T) {
	var good bytes.Buffer
	if err := Write(&good, allDTypes()); err != nil {
		t.Fatal(err)
	}
	g := good.Bytes()
	huge := make([]byte, 8)
	binary.LittleEndian.PutUint64(huge, 1<<62)
	cases := map[string][]byte{
		"empty":           {},
		"short":           {1, 2, 3},
		"truncated":       g[:len(g)-3],
		"truncated hdr":   g[:20],
		"huge hdr len":    append(huge, g[8:]...),
		"bad json":        build(`{"a": {"dtype": "F32", "shape": [1], `, make([]byte, 4)),
		"not object":      build(`[1,2,3]`, nil),
		"null":            build(`null    `, nil),
		"bad dtype":       build(`{"a":{"dtype":"F7","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)),
		"missing shape":   build(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, make([]byte, 4)),
		"bad offsets len": build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}`, make([]byte, 4)),
		"out of range":    build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 4)),
		"negative off":    build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, make([]byte, 4)),
		"wrong bytes":     build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)),
		"negative dim":    build(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}`, nil),
		"overflow shape":  build(`{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, nil),
		"overlap":         build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)),
		"hole":            build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)),
		"trailing data":   build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 8)),
		"bad metadata":    build(`{"__metadata__":{"k":1}}`, nil),
	}
	for name, data := range cases {
		if _, err := Read(bytes.NewReader(data), int64(len(data))); err == nil {
			t.Errorf("%s: expected an error", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	// ReadFile errors name the file and the tensor.
	p := filepath.Join(t.TempDir(), "bad.safetensors")
	if err := os.WriteFile(p, cases["wrong bytes"], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(p)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), `"a"`) {
		t.Errorf("ReadFile error %v should name the file and the tensor", err)
	}
	// Write rejects inconsistent tensors.
	bad := &File{Tensors: map[string]Tensor{"x": {DType: F32, Shape: []int{2}, Data: make([]byte, 4)}}}
	if err := Write(&bytes.Buffer{}, bad); err == nil {
		t.Error("Write of inconsistent tensor should fail")
	}
}

func TestMinimalValidFiles(t *testing.T) {
	for _, data := range [][]byte{
		build(`{}      `, nil),
		build(`{"__metadata__":{"a":"b"}}`, nil),
		build(`{"s":{"dtype":"F64","shape":[],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}}`, make([]byte, 8)),
	} {
		if _, err := Read(bytes.NewReader(data), int64(len(data))); err != nil {
			t.Errorf("%q: %v", data[8:], err)
		}
	}
}

func FuzzRead(f *testing.F) {
	var good bytes.Buffer
	if err := Write(&good, allDTypes()); err != nil {
		f.Fatal(err)
	}
	f.Add(good.Bytes())
	f.Add(build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(build(`{"__metadata__":{"k":"v"},"s":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add(build(`{"a":{"dtype":"BF16","shape":[2,0],"data_offsets":[0,0]}}`, nil))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Read(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		// Anything accepted must convert and re-encode to an equivalent file.
		for _, tt := range file.Tensors {
			if _, err := tt.Float64(); err != nil {
				t.Fatalf("accepted tensor fails to convert: %v", err)
			}
		}
		var b bytes.Buffer
		if err := Write(&b, file); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		g, err := Read(bytes.NewReader(b.Bytes()), int64(b.Len()))
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if len(g.Tensors) != len(file.Tensors) {
			t.Fatalf("re-read has %d tensors, want %d", len(g.Tensors), len(file.Tensors))
		}
		for name, tt := range file.Tensors {
			if !bytes.Equal(g.Tensors[name].Data, tt.Data) {
				t.Fatalf("tensor %q changed on re-encode", name)
			}
		}
	})
}
