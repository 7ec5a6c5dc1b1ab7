package imgproc

import (
	"bytes"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"testing"
)

func gray1D(vals ...uint8) *RGB {
	m := NewRGB(len(vals), 1)
	for i, v := range vals {
		m.Pix[3*i], m.Pix[3*i+1], m.Pix[3*i+2] = v, v, v
	}
	return m
}

func TestResizeHandValues(t *testing.T) {
	// 4 -> 2: support 2, edge taps renormalised (3/7, 3/7, 1/7).
	out := Resize(gray1D(0, 0, 255, 255), 2, 1)
	if out.Pix[0] != 36 || out.Pix[3] != 219 {
		t.Fatalf("4->2 got %v", out.Pix)
	}
	// 2 -> 4 upsampling: plain bilinear with clamped edges.
	out = Resize(gray1D(0, 200), 4, 1)
	want := []uint8{0, 50, 150, 200}
	for i, w := range want {
		if out.Pix[3*i] != w {
			t.Fatalf("2->4 got %v want %v", out.Pix, want)
		}
	}
}

// refResize is an independent floating-point implementation of the
// antialiased triangle filter (per pass rounding), used as an oracle.
func refResize1D(in []float64, outN int) []float64 {
	n := len(in)
	scale := float64(n) / float64(outN)
	fs := math.Max(scale, 1)
	out := make([]float64, outN)
	for i := range out {
		c := (float64(i) + 0.5) * scale
		var s, ws float64
		for x := range n {
			w := math.Max(0, 1-math.Abs((float64(x)+0.5-c)/fs))
			s += w * in[x]
			ws += w
		}
		out[i] = math.Min(255, math.Max(0, math.Round(s/ws)))
	}
	return out
}

func TestResizeAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, sz := range [][4]int{{148, 148, 64, 64}, {1024, 1024 / 8, 256, 256 / 8}, {37, 23, 80, 50}, {7, 5, 3, 2}} {
		m := NewRGB(sz[0], sz[1])
		for i := range m.Pix {
			m.Pix[i] = uint8(r.IntN(256))
		}
		got := Resize(m, sz[2], sz[3])
		// Reference: horizontal then vertical, channel by channel.
		for c := range 3 {
			tmp := make([][]float64, m.H)
			for y := range m.H {
				row := make([]float64, m.W)
				for x := range row {
					row[x] = float64(m.Pix[(y*m.W+x)*3+c])
				}
				tmp[y] = refResize1D(row, sz[2])
			}
			for x := range sz[2] {
				col := make([]float64, m.H)
				for y := range col {
					col[y] = tmp[y][x]
				}
				ref := refResize1D(col, sz[3])
				for y := range ref {
					g := float64(got.Pix[(y*sz[2]+x)*3+c])
					if !(math.Abs(g-ref[y]) <= 1) {
						t.Fatalf("%v: pixel (%d,%d,%d) got %v ref %v", sz, x, y, c, g, ref[y])
					}
				}
			}
		}
	}
}

func TestResizeConstant(t *testing.T) {
	m := NewRGB(150, 97)
	for i := range m.Pix {
		m.Pix[i] = 173
	}
	for _, s := range [][2]int{{64, 64}, {300, 11}, {1, 1}} {
		out := Resize(m, s[0], s[1])
		for i, v := range out.Pix {
			if v != 173 {
				t.Fatalf("%v: pixel %d = %d", s, i, v)
			}
		}
	}
}

func TestResizeShorter(t *testing.T) {
	m := NewRGB(300, 200)
	out := ResizeShorter(m, 64)
	if out.W != 96 || out.H != 64 {
		t.Fatalf("got %dx%d", out.W, out.H)
	}
	m = NewRGB(333, 500)
	out = ResizeShorter(m, 256)
	if out.W != 256 || out.H != 384 {
		t.Fatalf("got %dx%d", out.W, out.H)
	}
	if ResizeShorter(out, 256) != out {
		t.Fatal("same-size resize should be a no-op")
	}
}

func TestCropFlipPad(t *testing.T) {
	m := NewRGB(4, 3)
	for i := range m.Pix {
		m.Pix[i] = uint8(i)
	}
	c := m.Crop(1, 1, 3, 3)
	if c.W != 2 || c.H != 2 || c.Pix[0] != uint8((1*4+1)*3) || c.Pix[9] != uint8((2*4+2)*3) {
		t.Fatalf("crop %v", c.Pix)
	}
	f := &RGB{W: m.W, H: m.H, Pix: append([]uint8(nil), m.Pix...)}
	f.FlipH()
	for y := range 3 {
		for x := range 4 {
			for ch := range 3 {
				if f.Pix[(y*4+x)*3+ch] != m.Pix[(y*4+3-x)*3+ch] {
					t.Fatal("flip wrong")
				}
			}
		}
	}
	f.FlipH()
	if !bytes.Equal(f.Pix, m.Pix) {
		t.Fatal("double flip is not identity")
	}
	p := m.Pad(2)
	if p.W != 8 || p.H != 7 || p.Pix[0] != 0 || p.Pix[((2*8)+2)*3+1] != 1 || p.Pix[len(p.Pix)-1] != 0 {
		t.Fatal("pad wrong")
	}
}

func TestDecodePNGJPEG(t *testing.T) {
	m := NewRGB(16, 8)
	for i := range m.Pix {
		m.Pix[i] = uint8(i * 7)
	}
	var b bytes.Buffer
	if err := m.EncodePNG(&b); err != nil {
		t.Fatal(err)
	}
	d, err := Decode(b.Bytes())
	if err != nil || !bytes.Equal(d.Pix, m.Pix) {
		t.Fatalf("png round trip: %v", err)
	}
	flat := NewRGB(16, 16)
	for i := range flat.Pix {
		flat.Pix[i] = []uint8{200, 100, 50}[i%3]
	}
	b.Reset()
	flat.EncodeJPEG(&b, 95)
	d, err = Decode(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range d.Pix {
		if !(math.Abs(float64(v)-float64(flat.Pix[i])) <= 3) {
			t.Fatalf("jpeg pixel %d = %d want %d", i, v, flat.Pix[i])
		}
	}
	if _, err := Decode([]byte("not an image")); err == nil {
		t.Fatal("garbage decoded")
	}
}

func TestFromRawToCHW(t *testing.T) {
	if _, err := FromRaw(make([]byte, 3*10)); err == nil {
		t.Fatal("non-square accepted")
	}
	m, err := FromRaw([]byte{255, 0, 51, 0, 0, 0, 0, 0, 0, 0, 0, 255})
	if err != nil || m.W != 2 {
		t.Fatal(err)
	}
	dst := make([]float32, 12)
	m.ToCHW(dst)
	if dst[0] != 1 || dst[4] != 0 || dst[8] != 0.2 || dst[11] != 1 {
		t.Fatalf("chw %v", dst)
	}
}

func TestFancyUpsampling(t *testing.T) {
	// 4x4 image, 4:2:0 chroma 2x2: check libjpeg h2v2 fancy values.
	m := image.NewYCbCr(image.Rect(0, 0, 4, 4), image.YCbCrSubsampleRatio420)
	for i := range m.Y {
		m.Y[i] = 128
	}
	cb := []uint8{100, 200, 50, 150}
	for i := range 2 {
		for j := range 2 {
			m.Cb[i*m.CStride+j] = cb[i*2+j]
			m.Cr[i*m.CStride+j] = 128
		}
	}
	up := upH2V2(m.Cb, m.CStride, 0, 4, 4)
	// Row 0: nearest other row is row 0 itself (top edge): sums = 4*cb.
	// out[0] = (400*4+8)>>4 = 100; out[1] = (400*3+800+7)>>4 = 125.
	// Row 1: mix with row below: sums = 3*100+50=350, 3*200+150=750.
	// out[1][0] = (350*4+8)>>4 = 88; out[1][1] = (350*3+750+7)>>4 = 112;
	// out[1][2] = (750*3+350+8)>>4 = 163; out[1][3] = (750*4+7)>>4 = 187.
	want := []uint8{100, 125, 175, 200, 88, 112, 163, 187}
	for i, v := range want {
		if up[i] != v {
			t.Fatalf("upsampled %v, want prefix %v", up[:8], want)
		}
	}
	// Colour conversion: Y=128, Cb=Cr=128 is grey 128; pure Cr offset.
	out := FromImage(m)
	if out.Pix[1] != clamp255(128+(cbG[100]+crG[128])>>16) {
		t.Fatal("green channel")
	}
	for _, c := range [][3]uint8{{128, 128, 128}, {0, 255, 0}, {255, 0, 255}, {76, 85, 255}} {
		r, g, b := color.YCbCrToRGB(c[0], c[1], c[2])
		y := int32(c[0])
		lr, lg, lb := clamp255(y+crR[c[2]]), clamp255(y+(cbG[c[1]]+crG[c[2]])>>16), clamp255(y+cbB[c[1]])
		if d := math.Abs(float64(r) - float64(lr)); !(d <= 1) {
			t.Fatalf("%v: r %d vs %d", c, r, lr)
		}
		if d := math.Abs(float64(g) - float64(lg)); !(d <= 1) {
			t.Fatalf("%v: g %d vs %d", c, g, lg)
		}
		if d := math.Abs(float64(b) - float64(lb)); !(d <= 1) {
			t.Fatalf("%v: b %d vs %d", c, b, lb)
		}
	}
}
