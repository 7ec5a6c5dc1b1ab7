package torchpt

import (
	"bytes"
	"encoding/binary"
	"math"
	"reflect"
	"testing"
)

// TestWriteRoundTrip: values of every supported Python type, written by
// WriteZip, read back by LoadReader unchanged; tensors given twice share
// one storage record; records are 64-byte aligned.
func TestWriteRoundTrip(t *testing.T) {
	f32 := &Tensor{DType: "F32", Shape: []int{2, 3}, Data: make([]byte, 24)}
	for i := 0; i < 6; i++ {
		binary.LittleEndian.PutUint32(f32.Data[4*i:], math.Float32bits(float32(i)-2.5))
	}
	i64 := &Tensor{DType: "I64", Shape: []int{}, Data: binary.LittleEndian.AppendUint64(nil, uint64(1<<40))}
	f64 := &Tensor{DType: "F64", Shape: []int{1}, Data: binary.LittleEndian.AppendUint64(nil, math.Float64bits(math.Pi))}
	sd := &OrderedDict{}
	sd.Set("a.weight", f32)
	sd.Set("a.weight_normalized", f32)
	sd.Set("bn.num_batches_tracked", i64)
	sd.Set("c", f64)
	ns := &Namespace{}
	ns.Set("dataset", "mnist")
	ns.Set("use_se", true)
	ns.Set("lr", 0.01)
	ns.Set("n", 3)
	ns.Set("none", nil)
	ints := List{0, 1, 255, 256, 65535, 65536, -1, -256, math.MaxInt32, math.MinInt32, int64(1) << 31, -(int64(1) << 40), int64(math.MaxInt64), int64(math.MinInt64)}
	top := &Dict{}
	top.Set("epoch", 7)
	top.Set("state_dict", sd)
	top.Set("args", ns)
	top.Set("ints", ints)
	top.Set("misc", List{Tuple{}, Tuple{1}, Tuple{1, 2}, Tuple{1, 2, 3}, Tuple{1, 2, 3, 4}, "ünï", 1.5e300, -0.0, false})
	inner := &Dict{}
	inner.Set(3, &Dict{})
	top.Set("intkeys", inner)
	var buf bytes.Buffer
	if err := WriteZip(&buf, top); err != nil {
		t.Fatal(err)
	}
	c, err := LoadReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.StateDictOrder, []string{"a.weight", "a.weight_normalized", "bn.num_batches_tracked", "c"}) {
		t.Fatalf("order %v", c.StateDictOrder)
	}
	for k, want := range map[string]*Tensor{"a.weight": f32, "a.weight_normalized": f32, "bn.num_batches_tracked": i64, "c": f64} {
		got := c.StateDict[k]
		if got.DType != want.DType || !reflect.DeepEqual(got.Shape, want.Shape) || !bytes.Equal(got.Data, want.Data) {
			t.Errorf("%s: %s %v, want %s %v", k, got.DType, got.Shape, want.DType, want.Shape)
		}
	}
	if c.Args["dataset"] != "mnist" || c.Args["use_se"] != true || c.Args["lr"] != 0.01 || c.Args["n"] != int64(3) || c.Args["none"] != nil {
		t.Errorf("args %v", c.Args)
	}
	if c.Extra["epoch"] != int64(7) {
		t.Errorf("epoch %v", c.Extra["epoch"])
	}
	gotInts, _ := c.Extra["ints"].([]any)
	if len(gotInts) != len(ints) {
		t.Fatalf("ints %v", c.Extra["ints"])
	}
	for i, v := range ints {
		var w int64
		switch x := v.(type) {
		case int:
			w = int64(x)
		case int64:
			w = x
		}
		if gotInts[i] != w {
			t.Errorf("int %d: %#v, want %d", i, gotInts[i], w)
		}
	}
	misc, _ := c.Extra["misc"].([]any)
	if len(misc) != 9 || misc[5] != "ünï" || misc[6] != 1.5e300 || misc[8] != false || !reflect.DeepEqual(misc[4], []any{int64(1), int64(2), int64(3), int64(4)}) {
		t.Errorf("misc %#v", misc)
	}
	// one storage for the aliased tensor: records data/0..2, aligned
	zr, n := buf.Bytes(), 0
	for _, name := range []string{"archive/data/0", "archive/data/1", "archive/data/2"} {
		if bytes.Contains(zr, []byte(name)) {
			n++
		}
	}
	if n != 3 || bytes.Contains(zr, []byte("archive/data/3")) {
		t.Errorf("%d storage records, want 3", n)
	}
	if i := bytes.Index(zr, f32.Data); i < 0 || i%64 != 0 {
		t.Errorf("tensor data at offset %d, want a multiple of 64", i)
	}
	if _, _, err := Pickle(struct{}{}); err == nil {
		t.Error("an unsupported Go type was pickled")
	}
}
