// Package idx parses the IDX files MNIST is distributed in
// (http://yann.lecun.com/exdb/mnist/): a big-endian header
//
//	0x00 0x00 <type> <ndims>, then ndims uint32 sizes,
//
// followed by the data. Only the unsigned-byte type (0x08) that MNIST
// uses is supported. Files may be gzip-compressed.
package idx

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// File is a parsed IDX file of unsigned bytes.
type File struct {
	Dims []int // sizes, outermost first
	Data []byte
}

// MaxBytes bounds the data size Parse accepts.
const MaxBytes = 1 << 32

// Parse decodes an uncompressed IDX file held in b. Data aliases b.
func Parse(b []byte) (*File, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("idx: file of %d bytes is shorter than the 4-byte magic", len(b))
	}
	if b[0] != 0 || b[1] != 0 {
		return nil, fmt.Errorf("idx: bad magic % x", b[:4])
	}
	if b[2] != 0x08 {
		return nil, fmt.Errorf("idx: element type %#x not supported (only unsigned byte 0x08)", b[2])
	}
	nd := int(b[3])
	if nd == 0 {
		return nil, fmt.Errorf("idx: zero dimensions")
	}
	if len(b) < 4+4*nd {
		return nil, fmt.Errorf("idx: truncated header: %d dimensions need %d bytes, have %d", nd, 4+4*nd, len(b))
	}
	f := &File{Dims: make([]int, nd)}
	total := uint64(1)
	for i := range nd {
		d := binary.BigEndian.Uint32(b[4+4*i:])
		f.Dims[i] = int(d)
		total *= uint64(d)
		if total > MaxBytes {
			return nil, fmt.Errorf("idx: dimensions %v too large", f.Dims[:i+1])
		}
	}
	body := b[4+4*nd:]
	if uint64(len(body)) != total {
		return nil, fmt.Errorf("idx: dimensions %v need %d data bytes, file has %d", f.Dims, total, len(body))
	}
	f.Data = body
	return f, nil
}

// ReadFile reads and parses an IDX file, gunzipping it when it starts
// with the gzip magic.
func ReadFile(path string) (*File, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b, err := Decompress(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Decompress gunzips b when it starts with the gzip magic and returns it
// unchanged otherwise.
func Decompress(b []byte) ([]byte, error) {
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		return b, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return out, nil
}

// Encode returns the IDX encoding of unsigned-byte data with the given
// dimensions (used for test fixtures).
func Encode(dims []int, data []byte) []byte {
	b := []byte{0, 0, 0x08, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	return append(b, data...)
}
