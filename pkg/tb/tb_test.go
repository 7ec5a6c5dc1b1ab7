package tb

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCRC32C(t *testing.T) {
	c := crc32.Checksum([]byte("123456789"), castagnoli)
	if c != 0xe3069283 {
		t.Fatalf("crc32c(123456789) = %08x, want e3069283", c)
	}
	want := ((c >> 15) | (c << 17)) + 0xa282ead8
	if got := MaskedCRC([]byte("123456789")); got != want {
		t.Fatalf("masked = %08x, want %08x", got, want)
	}
	// Masked CRC of an empty input: crc32c("") = 0, so the mask constant.
	if got := MaskedCRC(nil); got != 0xa282ead8 {
		t.Fatalf("masked crc of empty = %08x", got)
	}
}

func testPNG(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	img.Set(1, 1, color.RGBA{200, 10, 20, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestWriteRead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	w, err := NewWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(filepath.Base(w.Path()), "events.out.tfevents.") {
		t.Fatalf("file name %s", w.Path())
	}
	pngData := testPNG(t)
	for step := int64(0); step < 3; step++ {
		if err := w.Scalar("train/loss", 1.5/float64(step+1), step*100); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Scalar("neg", -2.25, 1<<40); err != nil {
		t.Fatal(err)
	}
	if err := w.Image("samples", pngData, 2, 3, 4, 7); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := w.Scalar("late", 1, 1); err == nil {
		t.Fatal("write after Close succeeded")
	}
	evs, err := ReadEvents(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 6 {
		t.Fatalf("%d events, want 6", len(evs))
	}
	if evs[0].FileVersion != "brain.Event:2" || evs[0].WallTime < 1.6e9 {
		t.Fatalf("first event %+v", evs[0])
	}
	for i := 0; i < 3; i++ {
		e := evs[1+i]
		if e.Step != int64(i*100) || e.Scalars["train/loss"] != float32(1.5/float64(i+1)) || e.WallTime < evs[0].WallTime {
			t.Fatalf("event %d = %+v", 1+i, e)
		}
	}
	if evs[4].Step != 1<<40 || evs[4].Scalars["neg"] != -2.25 {
		t.Fatalf("event 4 = %+v", evs[4])
	}
	im := evs[5]
	if im.Step != 7 || !bytes.Equal(im.Images["samples"], pngData) || im.ImageSizes["samples"] != [3]int{2, 3, 4} {
		t.Fatalf("image event = step %d size %v, %d png bytes", im.Step, im.ImageSizes["samples"], len(im.Images["samples"]))
	}
	if _, err := png.Decode(bytes.NewReader(im.Images["samples"])); err != nil {
		t.Fatal(err)
	}

	// A second writer (resumed run) adds a new file; ReadDir reads both.
	w2, err := NewWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	if w2.Path() == w.Path() {
		t.Fatal("second writer reused the file name")
	}
	if err := w2.Scalar("train/loss", 0.5, 300); err != nil {
		t.Fatal(err)
	}
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	all, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 8 || all[6].FileVersion != "brain.Event:2" || all[7].Scalars["train/loss"] != 0.5 {
		t.Fatalf("ReadDir gave %d events, last %+v", len(all), all[len(all)-1])
	}
}

// TestEncoding checks the exact bytes of a scalar record against a
// hand-assembled protobuf.
func TestEncoding(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	w.now = func() time.Time { return time.Unix(0, 0) } // wall time 0 for a fixed encoding
	if err := w.Scalar("a", 1, 3); err != nil {
		t.Fatal(err)
	}
	w.Close()
	data, err := os.ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	// Skip the file_version record.
	n := binary.LittleEndian.Uint64(data)
	rec := data[16+n:]
	body := []byte{
		0x09, 0, 0, 0, 0, 0, 0, 0, 0, // wall_time: field 1, fixed64
		0x10, 0x03, // step: field 2, varint 3
		0x2a, 0x0a, // summary: field 5, 10 bytes
		0x0a, 0x08, // value: field 1, 8 bytes
		0x0a, 0x01, 'a', // tag "a"
		0x15, 0x00, 0x00, 0x80, 0x3f, // simple_value 1.0f
	}
	var want []byte
	want = binary.LittleEndian.AppendUint64(want, uint64(len(body)))
	want = binary.LittleEndian.AppendUint32(want, MaskedCRC(want[:8]))
	want = append(want, body...)
	want = binary.LittleEndian.AppendUint32(want, MaskedCRC(body))
	if !bytes.Equal(rec, want) {
		t.Fatalf("record bytes\n got %x\nwant %x", rec, want)
	}
}

func TestCorruptionDetected(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := w.Scalar("x", float64(i), int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	orig, err := os.ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	// Record offsets.
	var offs []int
	for p := 0; p < len(orig); {
		offs = append(offs, p)
		p += 16 + int(binary.LittleEndian.Uint64(orig[p:]))
	}
	if len(offs) != 4 {
		t.Fatalf("%d records", len(offs))
	}
	bad := filepath.Join(dir, "events.out.tfevents.bad")
	check := func(pos int, want string) {
		t.Helper()
		b := append([]byte(nil), orig...)
		b[pos] ^= 0x40
		if err := os.WriteFile(bad, b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadEvents(bad)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), bad) {
			t.Fatalf("flip at %d: error %v, want it to contain %q and the file name", pos, err, want)
		}
	}
	check(offs[2]+14, "record 2: data CRC mismatch")
	check(offs[1]+1, "record 1: length CRC mismatch")
	check(offs[3]+9, "record 3: length CRC mismatch")
	check(len(orig)-1, "record 3: data CRC mismatch")
	// Truncation.
	if err := os.WriteFile(bad, orig[:len(orig)-3], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadEvents(bad); err == nil || !strings.Contains(err.Error(), "record 3: truncated") {
		t.Fatalf("truncated file: %v", err)
	}
	// ReadDir reports the bad file too.
	if _, err := ReadDir(dir); err == nil {
		t.Fatal("ReadDir accepted a corrupt file")
	}
}
