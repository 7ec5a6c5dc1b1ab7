package progress

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestPrinter(t *testing.T) {
	var b bytes.Buffer
	p := New(&b, "score", "images", 4)
	p.Add(1) // within the interval: no line
	p.Set(4) // the total: a line
	p.Done()
	out := b.String()
	if strings.Count(out, "\n") != 2 || !strings.Contains(out, "score: 4/4 images (100.0%)") || !strings.Contains(out, "images/s") ||
		!strings.Contains(out, "score: done, 4 images in") {
		t.Errorf("output %q", out)
	}
	b.Reset()
	pb := NewBytes(&b, "w.pth", 2e6)
	if n, err := io.Copy(io.Discard, pb.Reader(strings.NewReader(strings.Repeat("x", 2e6)))); n != 2e6 || err != nil {
		t.Fatal(n, err)
	}
	if !strings.Contains(b.String(), "w.pth: 2.0/2.0 MB (100.0%)") {
		t.Errorf("bytes output %q", b.String())
	}
	New(nil, "quiet", "x", 1).Set(1) // a nil writer prints nothing
}
