package tfrecord

import (
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"reflect"
	"testing"
)

func TestCRC32CVector(t *testing.T) {
	// Standard CRC-32C check value (RFC 3720 B.4).
	if c := crc32.Checksum([]byte("123456789"), castagnoli); c != 0xE3069283 {
		t.Fatalf("crc32c = %#x", c)
	}
	c := uint32(0xE3069283)
	want := ((c >> 15) | (c << 17)) + 0xa282ead8
	if got := MaskedCRC([]byte("123456789")); got != want {
		t.Fatalf("masked = %#x, want %#x", got, want)
	}
}

func writeRecords(t testing.TB, recs ...[]byte) []byte {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	recs := [][]byte{[]byte("hello"), {}, bytes.Repeat([]byte{7}, 100000)}
	b := writeRecords(t, recs...)
	r := NewReader(bytes.NewReader(b))
	for i, want := range recs {
		got, err := r.Next()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("record %d differs", i)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("want EOF, got %v", err)
	}
}

func TestCorruption(t *testing.T) {
	good := writeRecords(t, []byte("first"), []byte("second record"))
	cases := map[string]struct {
		mutate func([]byte) []byte
		rec    int
		msg    string
	}{
		"length crc": {func(b []byte) []byte { b[21+8] ^= 1; return b }, 1, "length CRC mismatch"},
		"data crc":   {func(b []byte) []byte { b[21+12] ^= 1; return b }, 1, "data CRC mismatch"},
		"trunc data": {func(b []byte) []byte { return b[:len(b)-3] }, 1, "truncated record"},
		"trunc head": {func(b []byte) []byte { return b[:21+5] }, 1, "truncated header"},
	}
	for name, c := range cases {
		b := c.mutate(append([]byte(nil), good...))
		r := NewReader(bytes.NewReader(b))
		var err error
		for err == nil {
			_, err = r.Next()
		}
		var re *RecordError
		if !errors.As(err, &re) {
			t.Fatalf("%s: want RecordError, got %v", name, err)
		}
		if re.Record != c.rec || !bytes.Contains([]byte(re.Msg), []byte(c.msg)) {
			t.Fatalf("%s: got %v", name, err)
		}
	}
}

func TestExampleRoundTrip(t *testing.T) {
	ex := Example{
		"shape": {Kind: KindInt64, Int64: []int64{2, 3, 3, -1}},
		"data":  {Kind: KindBytes, Bytes: [][]byte{[]byte("abc"), {}}},
		"f":     {Kind: KindFloat, Float: []float32{1.5, -2}},
	}
	got, err := ParseExample(ex.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, ex) {
		t.Fatalf("got %+v, want %+v", got, ex)
	}
}

func TestExampleUnpacked(t *testing.T) {
	// Int64List with unpacked values 5 and 300, float unpacked 1.0.
	i64 := []byte{0x08, 0x05, 0x08, 0xac, 0x02}
	fl := []byte{0x0d, 0, 0, 0x80, 0x3f}
	feat := appendBytes(nil, 3, i64)
	featF := appendBytes(nil, 2, fl)
	e1 := appendBytes(appendBytes(nil, 1, []byte("n")), 2, feat)
	e2 := appendBytes(appendBytes(nil, 1, []byte("x")), 2, featF)
	feats := appendBytes(appendBytes(nil, 1, e1), 1, e2)
	ex, err := ParseExample(appendBytes(nil, 1, feats))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ex["n"].Int64, []int64{5, 300}) || !reflect.DeepEqual(ex["x"].Float, []float32{1}) {
		t.Fatalf("got %+v", ex)
	}
}

func TestParseImage(t *testing.T) {
	data := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	ex := Example{"shape": {Kind: KindInt64, Int64: []int64{2, 2, 3}}, "data": {Kind: KindBytes, Bytes: [][]byte{data}}, "label": {Kind: KindInt64, Int64: []int64{4}}}
	im, err := ParseImage(ex.Marshal())
	if err != nil || !bytes.Equal(im.Data, data) || im.Label != 4 {
		t.Fatalf("%+v %v", im, err)
	}
	ex["shape"] = Feature{Kind: KindInt64, Int64: []int64{2, 3, 3}}
	if _, err := ParseImage(ex.Marshal()); err == nil {
		t.Fatal("size mismatch not detected")
	}
}

func FuzzTFRecord(f *testing.F) {
	f.Add(writeRecords(f, []byte("a"), []byte("bcd")))
	f.Add(writeRecords(f, []byte{}))
	f.Add([]byte{1, 2, 3})
	f.Add(writeRecords(f, bytes.Repeat([]byte{0xff}, 40))[:30])
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(bytes.NewReader(b))
		var recs [][]byte
		for {
			d, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				var re *RecordError
				if !errors.As(err, &re) {
					t.Fatalf("unexpected error type %T", err)
				}
				return
			}
			recs = append(recs, append([]byte(nil), d...))
		}
		// A fully valid stream re-encodes to identical bytes.
		if got := writeRecords(t, recs...); !bytes.Equal(got, b) {
			t.Fatal("valid stream does not round-trip")
		}
	})
}

func FuzzExample(f *testing.F) {
	f.Add(Example{"shape": {Kind: KindInt64, Int64: []int64{32, 32, 3}}, "data": {Kind: KindBytes, Bytes: [][]byte{make([]byte, 12)}}}.Marshal())
	f.Add(Example{"x": {Kind: KindFloat, Float: []float32{1, 2}}, "e": {}}.Marshal())
	f.Add([]byte{0x0a, 0x80})
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		ex, err := ParseExample(b)
		if err != nil {
			return
		}
		// Whatever parsed must survive a Marshal/Parse round trip.
		ex2, err := ParseExample(ex.Marshal())
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if len(ex2) != len(ex) {
			t.Fatalf("round trip changed feature count %d -> %d", len(ex), len(ex2))
		}
		for k, f := range ex {
			g := ex2[k]
			if len(f.Bytes) != len(g.Bytes) || len(f.Int64) != len(g.Int64) || len(f.Float) != len(g.Float) {
				t.Fatalf("feature %q changed", k)
			}
		}
		_, _ = ParseImage(b)
	})
}
