package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	tc "github.com/nvaego/nvae/pkg/tensorcodec"

	"github.com/nvaego/nvae/pkg/fsutil"
)

// MaxHeaderSize bounds the JSON header length accepted by Read (100 MiB, the
// same limit as the reference implementation).
const MaxHeaderSize = 100 << 20

// File is the content of a safetensors file.
type File struct {
	Tensors  map[string]Tensor
	Metadata map[string]string
}

// Names returns the tensor names in sorted order.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Tensors))
	for k := range f.Tensors {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

type headerEntry struct {
	DType       DType   `json:"dtype"`
	Shape       []int   `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// ReadFile reads and validates the safetensors file at path. Errors name
// the file and, where relevant, the tensor.
func ReadFile(path string) (*File, error) { return tc.ReadFile("safetensors", path, Read) }

// Read reads and validates a safetensors file of the given size from r: the
// header length must fit the file, the header must be valid JSON with known
// dtypes, every tensor's byte range must match its shape, and the ranges
// must tile the data section contiguously without overlaps or holes.
func Read(r io.ReaderAt, size int64) (*File, error) {
	if size < 8 {
		return nil, fmt.Errorf("safetensors: file has %d bytes, fewer than the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("safetensors: reading header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: header length %d exceeds the %d-byte limit", n, MaxHeaderSize)
	}
	if int64(n) > size-8 {
		return nil, fmt.Errorf("safetensors: header length %d exceeds the %d bytes after the length field", n, size-8)
	}
	hdr := make([]byte, n)
	if _, err := r.ReadAt(hdr, 8); err != nil {
		return nil, fmt.Errorf("safetensors: reading header: %w", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, fmt.Errorf("safetensors: bad header JSON: %w", err)
	}
	if raw == nil {
		return nil, errors.New("safetensors: header JSON is not an object")
	}
	dataStart := 8 + int64(n)
	dataLen := size - dataStart
	f := &File{Tensors: make(map[string]Tensor, len(raw)), Metadata: map[string]string{}}
	type span struct {
		name       string
		begin, end int64
	}
	spans := make([]span, 0, len(raw))
	entries := make(map[string]headerEntry, len(raw))
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &f.Metadata); err != nil {
				return nil, fmt.Errorf("safetensors: __metadata__ is not a string map: %w", err)
			}
			if f.Metadata == nil {
				f.Metadata = map[string]string{}
			}
			continue
		}
		var e headerEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: bad header entry: %w", name, err)
		}
		if !e.DType.Valid() {
			return nil, fmt.Errorf("safetensors: tensor %q: unsupported dtype %q", name, e.DType)
		}
		if e.Shape == nil {
			return nil, fmt.Errorf("safetensors: tensor %q: missing shape", name)
		}
		if len(e.DataOffsets) != 2 {
			return nil, fmt.Errorf("safetensors: tensor %q: data_offsets must have 2 entries, has %d", name, len(e.DataOffsets))
		}
		b, en := e.DataOffsets[0], e.DataOffsets[1]
		if b < 0 || en < b || en > dataLen {
			return nil, fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d) outside the %d-byte data section", name, b, en, dataLen)
		}
		cnt, err := tc.Numel(e.Shape)
		if err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: %w", name, err)
		}
		es := int64(e.DType.Size())
		if int64(cnt) > math.MaxInt64/es || int64(cnt)*es != en-b {
			return nil, fmt.Errorf("safetensors: tensor %q: %s shape %v needs %d elements but data_offsets span %d bytes", name, e.DType, e.Shape, cnt, en-b)
		}
		entries[name] = e
		spans = append(spans, span{name, b, en})
	}
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].begin != spans[j].begin {
			return spans[i].begin < spans[j].begin
		}
		if spans[i].end != spans[j].end {
			return spans[i].end < spans[j].end
		}
		return spans[i].name < spans[j].name
	})
	var pos int64
	for _, s := range spans {
		if s.begin != pos {
			if s.begin < pos {
				return nil, fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d) overlap the previous tensor (ending at %d)", s.name, s.begin, s.end, pos)
			}
			return nil, fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d) leave a hole after byte %d", s.name, s.begin, s.end, pos)
		}
		pos = s.end
	}
	if pos != dataLen {
		return nil, fmt.Errorf("safetensors: tensors cover %d bytes but the data section has %d", pos, dataLen)
	}
	data := make([]byte, dataLen)
	if dataLen > 0 {
		if _, err := r.ReadAt(data, dataStart); err != nil {
			return nil, fmt.Errorf("safetensors: reading data section: %w", err)
		}
	}
	for _, s := range spans {
		e := entries[s.name]
		f.Tensors[s.name] = Tensor{DType: e.DType, Shape: e.Shape, Data: data[s.begin:s.end:s.end]}
	}
	return f, nil
}

// layout returns the tensor names in data order: element size descending,
// then name, so every tensor is aligned to its element size when the data
// section starts 8-byte aligned.
func layout(f *File) ([]string, error) {
	names := f.Names()
	for _, name := range names {
		if name == "__metadata__" {
			return nil, errors.New("safetensors: tensor name __metadata__ is reserved")
		}
		if _, err := f.Tensors[name].check(); err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: %w", name, err)
		}
	}
	sort.SliceStable(names, func(i, j int) bool {
		return f.Tensors[names[i]].DType.Size() > f.Tensors[names[j]].DType.Size()
	})
	return names, nil
}

// encodeHeader builds the space-padded JSON header for the given data order.
func encodeHeader(f *File, order []string) ([]byte, error) {
	offsets := make(map[string][2]int64, len(order))
	var pos int64
	for _, name := range order {
		l := int64(len(f.Tensors[name].Data))
		offsets[name] = [2]int64{pos, pos + l}
		pos += l
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	first := true
	writeKey := func(k string) error {
		if !first {
			buf.WriteByte(',')
		}
		first = false
		kb, err := marshalNoEscape(k)
		if err != nil {
			return err
		}
		buf.Write(kb)
		buf.WriteByte(':')
		return nil
	}
	if len(f.Metadata) > 0 {
		if err := writeKey("__metadata__"); err != nil {
			return nil, err
		}
		mb, err := marshalNoEscape(f.Metadata)
		if err != nil {
			return nil, err
		}
		buf.Write(mb)
	}
	for _, name := range f.Names() {
		t := f.Tensors[name]
		if err := writeKey(name); err != nil {
			return nil, err
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		o := offsets[name]
		eb, err := marshalNoEscape(headerEntry{DType: t.DType, Shape: shape, DataOffsets: o[:]})
		if err != nil {
			return nil, err
		}
		buf.Write(eb)
	}
	buf.WriteByte('}')
	for (8+buf.Len())%8 != 0 {
		buf.WriteByte(' ')
	}
	return buf.Bytes(), nil
}

func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// Write writes f in safetensors format. The header lists tensors in sorted
// name order; the data section starts 8-byte aligned and stores tensors by
// element size (largest first), then name, so each tensor is aligned to its
// element size. Output is deterministic.
func Write(w io.Writer, f *File) error {
	order, err := layout(f)
	if err != nil {
		return err
	}
	hdr, err := encodeHeader(f, order)
	if err != nil {
		return fmt.Errorf("safetensors: encoding header: %w", err)
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hdr)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	for _, name := range order {
		if _, err := w.Write(f.Tensors[name].Data); err != nil {
			return err
		}
	}
	return nil
}

// WriteFile writes f to path atomically: it writes a temporary file in the
// same directory, syncs it, and renames it over path.
func WriteFile(path string, f *File) error {
	err := fsutil.WriteAtomic(path, 0o644, func(tmp *os.File) error {
		bw := bufio.NewWriterSize(tmp, 1<<20)
		if err := Write(bw, f); err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}
