// Package npz reads and writes NumPy .npy arrays and .npz archives (zip
// files of .npy members). Supported: .npy format versions 1.0, 2.0 and 3.0,
// C-order arrays of dtype <f4, <f8, <i8, <i4, |u1 and |b1, and stored or
// deflated zip members.
package npz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	tc "github.com/nvaego/nvae/pkg/tensorcodec"
)

// MaxHeaderSize bounds the .npy header length accepted by ReadNPY.
const MaxHeaderSize = 1 << 20

var magic = []byte("\x93NUMPY")

// Array is a dense C-order NumPy array with raw little-endian element bytes.
type Array struct {
	DType string // numpy descr, e.g. "<f8"
	Shape []int
	Data  []byte
}

// codecTypes maps the supported numpy descrs to the codec's element types.
var codecTypes = map[string]tc.DType{"<f8": tc.F64, "<f4": tc.F32, "<i8": tc.I64, "<i4": tc.I32, "|u1": tc.U8, "|b1": tc.BOOL}

// itemSize returns the element size of a supported descr, or 0.
func itemSize(descr string) int { return codecTypes[descr].Size() }

// normalizeDescr maps equivalent spellings of the single-byte types
// ("<u1", "u1", "|u1", ...) to numpy's canonical form.
func normalizeDescr(d string) string {
	switch d {
	case "u1", "<u1", ">u1", "=u1", "B":
		return "|u1"
	case "b1", "<b1", ">b1", "=b1", "?":
		return "|b1"
	}
	return d
}

// NumElements returns the product of the shape (1 for a 0-d array).
func (a Array) NumElements() int { return tc.NumElements(a.Shape) }

// numel is the element count of a shape whose bytes fit an int.
func numel(shape []int) (int, error) {
	n, err := tc.Numel(shape)
	if err == nil && n > math.MaxInt64/8 {
		err = fmt.Errorf("shape %v is too large", shape)
	}
	return n, err
}

func (a Array) check() (int, error) {
	if itemSize(a.DType) == 0 {
		return 0, fmt.Errorf("npz: unsupported dtype %q (want <f4, <f8, <i8, <i4, |u1 or |b1)", a.DType)
	}
	n, err := numel(a.Shape)
	if err != nil {
		return 0, fmt.Errorf("npz: %w", err)
	}
	if _, err := tc.Check(codecTypes[a.DType], a.Shape, a.Data); err != nil {
		return 0, fmt.Errorf("npz: %w", err)
	}
	return n, nil
}

// Float64 returns the elements converted to float64 (exact except for
// int64 values beyond 2^53).
func (a Array) Float64() ([]float64, error) {
	if _, err := a.check(); err != nil {
		return nil, err
	}
	return tc.Float64(codecTypes[a.DType], a.Shape, a.Data)
}

// Float32 returns the elements converted to float32 (exact for <f4, |u1 and
// |b1; rounded to nearest otherwise).
func (a Array) Float32() ([]float32, error) {
	if _, err := a.check(); err != nil {
		return nil, err
	}
	return tc.Float32(codecTypes[a.DType], a.Shape, a.Data)
}

// FromFloat64 builds a "<f8" array; it panics if len(v) does not match shape.
func FromFloat64(shape []int, v []float64) Array {
	tc.MustMatch("npz", shape, len(v))
	return Array{DType: "<f8", Shape: tc.CopyShape(shape), Data: tc.FromFloat64(v)}
}

// FromFloat32 builds a "<f4" array; it panics if len(v) does not match shape.
func FromFloat32(shape []int, v []float32) Array {
	tc.MustMatch("npz", shape, len(v))
	return Array{DType: "<f4", Shape: tc.CopyShape(shape), Data: tc.FromFloat32(v)}
}

// FromUint8 builds a "|u1" array; it panics if len(v) does not match shape.
func FromUint8(shape []int, v []uint8) Array {
	tc.MustMatch("npz", shape, len(v))
	return Array{DType: "|u1", Shape: tc.CopyShape(shape), Data: append(make([]byte, 0, len(v)), v...)}
}

// readN reads exactly n bytes, growing the buffer only as data arrives so a
// corrupt length cannot force a huge allocation up front.
func readN(r io.Reader, n int64) ([]byte, error) {
	var buf bytes.Buffer
	if n < 1<<20 {
		buf.Grow(int(n))
	}
	m, err := io.CopyN(&buf, r, n)
	if m != n {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf.Bytes(), nil
}

// ReadNPY reads one .npy array from r (versions 1.0, 2.0, 3.0).
func ReadNPY(r io.Reader) (Array, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return Array{}, fmt.Errorf("npy: reading magic: %w", err)
	}
	if !bytes.Equal(pre[:6], magic) {
		return Array{}, errors.New("npy: bad magic (not a .npy file)")
	}
	major, minor := pre[6], pre[7]
	var hlen int64
	switch major {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return Array{}, fmt.Errorf("npy: reading header length: %w", err)
		}
		hlen = int64(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return Array{}, fmt.Errorf("npy: reading header length: %w", err)
		}
		hlen = int64(binary.LittleEndian.Uint32(b[:]))
	default:
		return Array{}, fmt.Errorf("npy: unsupported format version %d.%d", major, minor)
	}
	if minor != 0 {
		return Array{}, fmt.Errorf("npy: unsupported format version %d.%d", major, minor)
	}
	if hlen > MaxHeaderSize {
		return Array{}, fmt.Errorf("npy: header length %d exceeds %d", hlen, MaxHeaderSize)
	}
	hdr, err := readN(r, hlen)
	if err != nil {
		return Array{}, fmt.Errorf("npy: reading header: %w", err)
	}
	descr, fortran, shape, err := parseHeader(string(hdr))
	if err != nil {
		return Array{}, fmt.Errorf("npy: %w", err)
	}
	if fortran {
		return Array{}, errors.New("npy: fortran_order arrays are not supported (save a C-contiguous array)")
	}
	descr = normalizeDescr(descr)
	es := itemSize(descr)
	if es == 0 {
		if strings.HasPrefix(descr, ">") {
			return Array{}, fmt.Errorf("npy: big-endian dtype %q is not supported", descr)
		}
		return Array{}, fmt.Errorf("npy: unsupported dtype %q (want <f4, <f8, <i8, <i4, |u1 or |b1)", descr)
	}
	n, err := numel(shape)
	if err != nil {
		return Array{}, fmt.Errorf("npy: %w", err)
	}
	data, err := readN(r, int64(n)*int64(es))
	if err != nil {
		return Array{}, fmt.Errorf("npy: reading %d bytes of %s data for shape %v: %w", n*es, descr, shape, err)
	}
	return Array{DType: descr, Shape: shape, Data: data}, nil
}

// parseHeader parses the Python dict literal of a .npy header, e.g.
// {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }
func parseHeader(h string) (descr string, fortran bool, shape []int, err error) {
	p := &litParser{s: strings.TrimRight(h, " \n\x00")}
	v, err := p.value()
	if err != nil {
		return "", false, nil, fmt.Errorf("bad header %q: %w", h, err)
	}
	p.skip()
	if p.i != len(p.s) {
		return "", false, nil, fmt.Errorf("bad header %q: trailing characters", h)
	}
	d, ok := v.(map[string]any)
	if !ok {
		return "", false, nil, fmt.Errorf("bad header %q: not a dict", h)
	}
	ds, ok := d["descr"].(string)
	if !ok {
		return "", false, nil, fmt.Errorf("bad header %q: descr missing or not a string (structured dtypes are not supported)", h)
	}
	fo, ok := d["fortran_order"].(bool)
	if !ok {
		return "", false, nil, fmt.Errorf("bad header %q: fortran_order missing or not a bool", h)
	}
	st, ok := d["shape"].([]any)
	if !ok {
		return "", false, nil, fmt.Errorf("bad header %q: shape missing or not a tuple", h)
	}
	shape = make([]int, len(st))
	for i, x := range st {
		n, ok := x.(int)
		if !ok || n < 0 {
			return "", false, nil, fmt.Errorf("bad header %q: shape entry %v", h, x)
		}
		shape[i] = n
	}
	return ds, fo, shape, nil
}

// litParser parses the small subset of Python literals used in .npy
// headers: dicts, tuples, lists, strings, non-negative ints, True/False/None.
type litParser struct {
	s     string
	i     int
	depth int
}

func (p *litParser) skip() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n') {
		p.i++
	}
}

func (p *litParser) value() (any, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > 16 {
		return nil, errors.New("nesting too deep")
	}
	p.skip()
	if p.i >= len(p.s) {
		return nil, errors.New("unexpected end")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		p.i++
		m := map[string]any{}
		for {
			p.skip()
			if p.i < len(p.s) && p.s[p.i] == '}' {
				p.i++
				return m, nil
			}
			k, err := p.value()
			if err != nil {
				return nil, err
			}
			ks, ok := k.(string)
			if !ok {
				return nil, errors.New("dict key is not a string")
			}
			p.skip()
			if p.i >= len(p.s) || p.s[p.i] != ':' {
				return nil, errors.New("expected ':'")
			}
			p.i++
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			m[ks] = v
			if err := p.sep('}'); err != nil {
				return nil, err
			}
		}
	case c == '(' || c == '[':
		end := byte(')')
		if c == '[' {
			end = ']'
		}
		p.i++
		var l []any
		for {
			p.skip()
			if p.i < len(p.s) && p.s[p.i] == end {
				p.i++
				if l == nil {
					l = []any{}
				}
				return l, nil
			}
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			l = append(l, v)
			if err := p.sep(end); err != nil {
				return nil, err
			}
		}
	case c == '\'' || c == '"':
		j := strings.IndexByte(p.s[p.i+1:], c)
		if j < 0 {
			return nil, errors.New("unterminated string")
		}
		v := p.s[p.i+1 : p.i+1+j]
		p.i += j + 2
		return v, nil
	case c >= '0' && c <= '9':
		j := p.i
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		n, err := strconv.Atoi(p.s[p.i:j])
		if err != nil {
			return nil, err
		}
		p.i = j
		if p.i < len(p.s) && p.s[p.i] == 'L' { // Python 2 long suffix
			p.i++
		}
		return n, nil
	default:
		for _, w := range []struct {
			word string
			val  any
		}{{"True", true}, {"False", false}, {"None", nil}} {
			if strings.HasPrefix(p.s[p.i:], w.word) {
				p.i += len(w.word)
				return w.val, nil
			}
		}
		return nil, fmt.Errorf("unexpected character %q", c)
	}
}

// sep consumes a ',' or checks for the closing bracket end.
func (p *litParser) sep(end byte) error {
	p.skip()
	if p.i >= len(p.s) {
		return errors.New("unexpected end")
	}
	if p.s[p.i] == ',' {
		p.i++
		return nil
	}
	if p.s[p.i] == end {
		return nil
	}
	return fmt.Errorf("expected ',' or %q", end)
}

// WriteNPY writes a as a .npy file (version 1.0, or 2.0 if the header does
// not fit in 65535 bytes), with the header padded so the data starts at a
// multiple of 64 bytes.
func WriteNPY(w io.Writer, a Array) error {
	a.DType = normalizeDescr(a.DType)
	if _, err := a.check(); err != nil {
		return err
	}
	var sb strings.Builder
	sb.WriteString("{'descr': '")
	sb.WriteString(a.DType)
	sb.WriteString("', 'fortran_order': False, 'shape': (")
	for i, d := range a.Shape {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(strconv.Itoa(d))
	}
	if len(a.Shape) == 1 {
		sb.WriteString(",")
	}
	sb.WriteString("), }")
	h := sb.String()
	major, lenSize := byte(1), 2
	pad := func() string {
		total := len(magic) + 2 + lenSize + len(h) + 1
		return h + strings.Repeat(" ", (64-total%64)%64) + "\n"
	}
	hdr := pad()
	if len(hdr) > math.MaxUint16 {
		major, lenSize = 2, 4
		hdr = pad()
	}
	var b bytes.Buffer
	b.Write(magic)
	b.WriteByte(major)
	b.WriteByte(0)
	if lenSize == 2 {
		binary.Write(&b, binary.LittleEndian, uint16(len(hdr)))
	} else {
		binary.Write(&b, binary.LittleEndian, uint32(len(hdr)))
	}
	b.WriteString(hdr)
	if _, err := w.Write(b.Bytes()); err != nil {
		return err
	}
	_, err := w.Write(a.Data)
	return err
}
