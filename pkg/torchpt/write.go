package torchpt

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/nvaego/nvae/pkg/tensorcodec"
)

// The writer side: Save writes objects the way torch.save (zip format,
// pickle protocol 2) does, so that torch.load reads them. Python values
// are given as Go values:
//
//	nil → None, bool, int/int64 → int, float64 → float, string → str,
//	[]any / List → list, Tuple → tuple, *Dict → dict (insertion order),
//	*OrderedDict → collections.OrderedDict, *Namespace → argparse.Namespace,
//	*Tensor → a torch.Tensor (one storage per distinct *Tensor pointer, so a
//	pointer used twice is saved as two tensors sharing one storage).

// Dict is a Python dict with its insertion order.
type Dict struct {
	Keys []any
	Vals []any
}

// Set appends a key (no duplicate check).
func (d *Dict) Set(k, v any) {
	d.Keys = append(d.Keys, k)
	d.Vals = append(d.Vals, v)
}

// OrderedDict is a collections.OrderedDict.
type OrderedDict struct{ Dict }

// Namespace is an argparse.Namespace: its attributes in order.
type Namespace struct{ Dict }

// Tuple is a Python tuple.
type Tuple []any

// List is a Python list.
type List []any

var storageName = map[string]string{
	"F32": "FloatStorage", "F64": "DoubleStorage", "F16": "HalfStorage", "BF16": "BFloat16Storage",
	"I64": "LongStorage", "I32": "IntStorage", "I16": "ShortStorage", "I8": "CharStorage",
	"U8": "ByteStorage", "BOOL": "BoolStorage",
}

// pickle opcodes used by the writer (protocol 2).
const (
	opProto      = 0x80
	opStop       = '.'
	opNone       = 'N'
	opNewTrue    = 0x88
	opNewFalse   = 0x89
	opBinInt     = 'J'
	opBinInt1    = 'K'
	opBinInt2    = 'M'
	opLong1      = 0x8a
	opBinFloat   = 'G'
	opBinUnicode = 'X'
	opEmptyList  = ']'
	opEmptyTuple = ')'
	opEmptyDict  = '}'
	opMark       = '('
	opAppends    = 'e'
	opSetItems   = 'u'
	opTuple      = 't'
	opTuple1     = 0x85
	opTuple2     = 0x86
	opTuple3     = 0x87
	opGlobal     = 'c'
	opReduce     = 'R'
	opBuild      = 'b'
	opNewObj     = 0x81
	opBinPersID  = 'Q'
)

type pickler struct {
	buf      bytes.Buffer
	storages []*Tensor
	keys     map[*Tensor]int
}

func (p *pickler) op(b ...byte) { p.buf.Write(b) }

func (p *pickler) global(module, name string) {
	p.op(opGlobal)
	p.buf.WriteString(module + "\n" + name + "\n")
}

func (p *pickler) str(s string) {
	p.op(opBinUnicode)
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(len(s)))
	p.buf.Write(n[:])
	p.buf.WriteString(s)
}

func (p *pickler) int(v int64) {
	switch {
	case v >= 0 && v < 256:
		p.op(opBinInt1, byte(v))
	case v >= 0 && v < 65536:
		p.op(opBinInt2, byte(v), byte(v>>8))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		var n [4]byte
		binary.LittleEndian.PutUint32(n[:], uint32(int32(v)))
		p.op(opBinInt)
		p.buf.Write(n[:])
	default:
		// LONG1: little-endian two's complement, minimal length.
		var out []byte
		for i := 0; i < 8; i++ {
			out = append(out, byte(uint64(v)>>(8*i)))
		}
		for len(out) > 1 && ((out[len(out)-1] == 0 && out[len(out)-2]&0x80 == 0) || (out[len(out)-1] == 0xff && out[len(out)-2]&0x80 != 0)) {
			out = out[:len(out)-1]
		}
		p.op(opLong1, byte(len(out)))
		p.buf.Write(out)
	}
}

func (p *pickler) float(v float64) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], math.Float64bits(v))
	p.op(opBinFloat)
	p.buf.Write(n[:])
}

func (p *pickler) setItems(d *Dict) error {
	if len(d.Keys) != len(d.Vals) {
		return fmt.Errorf("dict with %d keys and %d values", len(d.Keys), len(d.Vals))
	}
	// batches of 1000 like pickle.py
	for i := 0; i < len(d.Keys); i += 1000 {
		p.op(opMark)
		for j := i; j < min(i+1000, len(d.Keys)); j++ {
			if err := p.save(d.Keys[j]); err != nil {
				return err
			}
			if err := p.save(d.Vals[j]); err != nil {
				return err
			}
		}
		p.op(opSetItems)
	}
	return nil
}

func (p *pickler) appends(items []any) error {
	for i := 0; i < len(items); i += 1000 {
		p.op(opMark)
		for _, v := range items[i:min(i+1000, len(items))] {
			if err := p.save(v); err != nil {
				return err
			}
		}
		p.op(opAppends)
	}
	return nil
}

func (p *pickler) tensor(t *Tensor) error {
	sn, ok := storageName[t.DType]
	if !ok {
		return fmt.Errorf("tensor dtype %q cannot be saved", t.DType)
	}
	numel := t.NumElements()
	if len(t.Data) != numel*tensorcodec.DType(t.DType).Size() {
		return fmt.Errorf("tensor %s%v has %d bytes, want %d", t.DType, t.Shape, len(t.Data), numel*tensorcodec.DType(t.DType).Size())
	}
	key, ok := p.keys[t]
	if !ok {
		key = len(p.storages)
		p.keys[t] = key
		p.storages = append(p.storages, t)
	}
	p.global("torch._utils", "_rebuild_tensor_v2")
	p.op(opMark)
	// persistent id ('storage', torch.XStorage, key, 'cpu', numel)
	p.op(opMark)
	p.str("storage")
	p.global("torch", sn)
	p.str(strconv.Itoa(key))
	p.str("cpu")
	p.int(int64(numel))
	p.op(opTuple)
	p.op(opBinPersID)
	p.int(0) // storage offset
	sizes := make(Tuple, len(t.Shape))
	strides := make(Tuple, len(t.Shape))
	st := 1
	for i := len(t.Shape) - 1; i >= 0; i-- {
		sizes[i] = t.Shape[i]
		strides[i] = st
		st *= t.Shape[i]
	}
	if err := p.save(sizes); err != nil {
		return err
	}
	if err := p.save(strides); err != nil {
		return err
	}
	p.op(opNewFalse)                               // requires_grad
	if err := p.save(&OrderedDict{}); err != nil { // backward hooks
		return err
	}
	p.op(opTuple, opReduce)
	return nil
}

func (p *pickler) save(v any) error {
	switch x := v.(type) {
	case nil:
		p.op(opNone)
	case bool:
		if x {
			p.op(opNewTrue)
		} else {
			p.op(opNewFalse)
		}
	case int:
		p.int(int64(x))
	case int64:
		p.int(x)
	case float64:
		p.float(x)
	case string:
		p.str(x)
	case []any:
		return p.save(List(x))
	case List:
		p.op(opEmptyList)
		return p.appends(x)
	case Tuple:
		switch len(x) {
		case 0:
			p.op(opEmptyTuple)
			return nil
		case 1, 2, 3:
		default:
			p.op(opMark)
		}
		for _, e := range x {
			if err := p.save(e); err != nil {
				return err
			}
		}
		switch len(x) {
		case 1:
			p.op(opTuple1)
		case 2:
			p.op(opTuple2)
		case 3:
			p.op(opTuple3)
		default:
			p.op(opTuple)
		}
	case *Dict:
		p.op(opEmptyDict)
		return p.setItems(x)
	case *OrderedDict:
		p.global("collections", "OrderedDict")
		p.op(opEmptyTuple, opReduce)
		return p.setItems(&x.Dict)
	case *Namespace:
		p.global("argparse", "Namespace")
		p.op(opEmptyTuple, opNewObj)
		p.op(opEmptyDict)
		if err := p.setItems(&x.Dict); err != nil {
			return err
		}
		p.op(opBuild)
	case *Tensor:
		return p.tensor(x)
	default:
		return fmt.Errorf("cannot pickle a Go %T", v)
	}
	return nil
}

// Pickle returns obj as a protocol-2 pickle whose tensors refer to the
// returned storages by persistent id (their index as a decimal string).
func Pickle(obj any) ([]byte, []*Tensor, error) {
	p := &pickler{keys: map[*Tensor]int{}}
	p.op(opProto, 2)
	if err := p.save(obj); err != nil {
		return nil, nil, err
	}
	p.op(opStop)
	return p.buf.Bytes(), p.storages, nil
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// WriteZip writes obj as a torch.save zip archive: archive/data.pkl,
// archive/data/<key> (stored, 64-byte aligned like PyTorch's writer),
// archive/version and archive/byteorder.
func WriteZip(w io.Writer, obj any) error {
	pkl, storages, err := Pickle(obj)
	if err != nil {
		return err
	}
	cw := &countWriter{w: w}
	zw := zip.NewWriter(cw)
	add := func(name string, data []byte) error {
		// Local header: 30 bytes + name + extra; pad the extra field so
		// that the data starts at a multiple of 64.
		const align = 64
		if err := zw.Flush(); err != nil {
			return err
		}
		off := cw.n + 30 + int64(len(name)) + 4
		pad := int((align - off%align) % align)
		extra := make([]byte, 4+pad)
		binary.LittleEndian.PutUint16(extra[0:], 0x4650) // "FP", PyTorch's padding id
		binary.LittleEndian.PutUint16(extra[2:], uint16(pad))
		fw, err := zw.CreateRaw(&zip.FileHeader{
			Name: name, Method: zip.Store, Extra: extra,
			CRC32: crc32.ChecksumIEEE(data), CompressedSize64: uint64(len(data)), UncompressedSize64: uint64(len(data)),
		})
		if err != nil {
			return err
		}
		_, err = fw.Write(data)
		return err
	}
	if err := add("archive/data.pkl", pkl); err != nil {
		return err
	}
	if err := add("archive/byteorder", []byte("little")); err != nil {
		return err
	}
	for i, t := range storages {
		if err := add("archive/data/"+strconv.Itoa(i), t.Data); err != nil {
			return err
		}
	}
	if err := add("archive/version", []byte("3\n")); err != nil {
		return err
	}
	return zw.Close()
}

// Save writes obj to path as a torch.save zip file, atomically (temporary
// file in the same directory, fsync, rename).
func Save(path string, obj any) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := WriteZip(tmp, obj); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
