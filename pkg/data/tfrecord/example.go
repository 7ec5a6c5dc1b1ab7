package tfrecord

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
)

// Feature is one value of a tf.train.Example: exactly one of the lists is
// meaningful, as told by Kind.
type Feature struct {
	Kind  Kind
	Bytes [][]byte
	Float []float32
	Int64 []int64
}

// Kind says which list a Feature holds.
type Kind int

// Feature kinds, numbered as the fields of tf.train.Feature's oneof.
const (
	KindNone  Kind = 0
	KindBytes Kind = 1
	KindFloat Kind = 2
	KindInt64 Kind = 3
)

func (k Kind) String() string {
	switch k {
	case KindBytes:
		return "bytes_list"
	case KindFloat:
		return "float_list"
	case KindInt64:
		return "int64_list"
	}
	return "empty"
}

// Example is a decoded tf.train.Example: its features by name.
type Example map[string]Feature

// ParseExample decodes a serialized tf.train.Example. Byte slices in the
// result alias b.
//
// Wire layout: Example{1: Features{1: repeated map entry{1: key, 2: Feature}}},
// Feature{1: BytesList{1: repeated bytes}, 2: FloatList{1: repeated float},
// 3: Int64List{1: repeated int64}}; packed and unpacked repeated scalars are
// both accepted.
func ParseExample(b []byte) (Example, error) {
	ex := Example{}
	err := walk(b, func(field int, wt int, v uint64, sub []byte) error {
		if field != 1 {
			return nil
		}
		if wt != 2 {
			return fmt.Errorf("%w: Example.features has wire type %d", ErrBadProto, wt)
		}
		return walk(sub, func(field int, wt int, v uint64, entry []byte) error {
			if field != 1 {
				return nil
			}
			if wt != 2 {
				return fmt.Errorf("%w: Features.feature has wire type %d", ErrBadProto, wt)
			}
			var key string
			var feat Feature
			err := walk(entry, func(field int, wt int, v uint64, sub []byte) error {
				switch field {
				case 1:
					if wt != 2 {
						return fmt.Errorf("%w: map key has wire type %d", ErrBadProto, wt)
					}
					key = string(sub)
				case 2:
					if wt != 2 {
						return fmt.Errorf("%w: map value has wire type %d", ErrBadProto, wt)
					}
					f, err := parseFeature(sub)
					if err != nil {
						return err
					}
					feat = f
				}
				return nil
			})
			if err != nil {
				return err
			}
			ex[key] = feat
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return ex, nil
}

func parseFeature(b []byte) (Feature, error) {
	var f Feature
	err := walk(b, func(field int, wt int, v uint64, sub []byte) error {
		if field < 1 || field > 3 {
			return nil
		}
		if wt != 2 {
			return fmt.Errorf("%w: Feature field %d has wire type %d", ErrBadProto, field, wt)
		}
		f = Feature{Kind: Kind(field)}
		return walk(sub, func(n int, wt int, v uint64, s []byte) error {
			if n != 1 {
				return nil
			}
			switch Kind(field) {
			case KindBytes:
				if wt != 2 {
					return fmt.Errorf("%w: bytes_list value has wire type %d", ErrBadProto, wt)
				}
				f.Bytes = append(f.Bytes, s)
			case KindFloat:
				switch wt {
				case 5:
					f.Float = append(f.Float, math.Float32frombits(uint32(v)))
				case 2:
					if len(s)%4 != 0 {
						return fmt.Errorf("%w: packed float_list of %d bytes", ErrBadProto, len(s))
					}
					for i := 0; i < len(s); i += 4 {
						f.Float = append(f.Float, math.Float32frombits(binary.LittleEndian.Uint32(s[i:])))
					}
				default:
					return fmt.Errorf("%w: float_list value has wire type %d", ErrBadProto, wt)
				}
			case KindInt64:
				switch wt {
				case 0:
					f.Int64 = append(f.Int64, int64(v))
				case 2:
					for len(s) > 0 {
						x, n := binary.Uvarint(s)
						if n <= 0 {
							return fmt.Errorf("%w: bad varint in packed int64_list", ErrBadProto)
						}
						f.Int64 = append(f.Int64, int64(x))
						s = s[n:]
					}
				default:
					return fmt.Errorf("%w: int64_list value has wire type %d", ErrBadProto, wt)
				}
			}
			return nil
		})
	})
	return f, err
}

// walk iterates over the fields of one protobuf message. For varint
// (wire type 0) and fixed (1, 5) fields v holds the value; for
// length-delimited fields (2) sub holds the bytes.
func walk(b []byte, fn func(field int, wt int, v uint64, sub []byte) error) error {
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return fmt.Errorf("%w: bad tag varint", ErrBadProto)
		}
		b = b[n:]
		field, wt := tag>>3, int(tag&7)
		if field == 0 || field > math.MaxInt32 {
			return fmt.Errorf("%w: field number %d", ErrBadProto, field)
		}
		var v uint64
		var sub []byte
		switch wt {
		case 0:
			v, n = binary.Uvarint(b)
			if n <= 0 {
				return fmt.Errorf("%w: bad varint", ErrBadProto)
			}
			b = b[n:]
		case 1:
			if len(b) < 8 {
				return fmt.Errorf("%w: truncated fixed64", ErrBadProto)
			}
			v = binary.LittleEndian.Uint64(b)
			b = b[8:]
		case 5:
			if len(b) < 4 {
				return fmt.Errorf("%w: truncated fixed32", ErrBadProto)
			}
			v = uint64(binary.LittleEndian.Uint32(b))
			b = b[4:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 {
				return fmt.Errorf("%w: bad length varint", ErrBadProto)
			}
			b = b[n:]
			if l > uint64(len(b)) {
				return fmt.Errorf("%w: length %d exceeds remaining %d bytes", ErrBadProto, l, len(b))
			}
			sub = b[:l]
			b = b[l:]
		default:
			return fmt.Errorf("%w: unsupported wire type %d", ErrBadProto, wt)
		}
		if err := fn(int(field), wt, v, sub); err != nil {
			return err
		}
	}
	return nil
}

// Marshal encodes ex as a tf.train.Example with features in sorted key
// order and packed numeric lists (what TensorFlow's Python API writes).
func (ex Example) Marshal() []byte {
	keys := make([]string, 0, len(ex))
	for k := range ex {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var features []byte
	for _, k := range keys {
		f := ex[k]
		var list []byte
		switch f.Kind {
		case KindBytes:
			for _, v := range f.Bytes {
				list = appendBytes(list, 1, v)
			}
		case KindFloat:
			var p []byte
			for _, v := range f.Float {
				p = binary.LittleEndian.AppendUint32(p, math.Float32bits(v))
			}
			if len(p) > 0 {
				list = appendBytes(list, 1, p)
			}
		case KindInt64:
			var p []byte
			for _, v := range f.Int64 {
				p = binary.AppendUvarint(p, uint64(v))
			}
			if len(p) > 0 {
				list = appendBytes(list, 1, p)
			}
		}
		var feat []byte
		if f.Kind != KindNone {
			feat = appendBytes(feat, int(f.Kind), list)
		}
		var entry []byte
		entry = appendBytes(entry, 1, []byte(k))
		entry = appendBytes(entry, 2, feat)
		features = appendBytes(features, 1, entry)
	}
	return appendBytes(nil, 1, features)
}

func appendBytes(b []byte, field int, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(field)<<3|2)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// Image is the content of one GLOW tfrecord example: raw HWC uint8 pixels.
type Image struct {
	Shape []int64 // [H, W, C]
	Data  []byte
	Label int64
}

// ParseImage decodes a GLOW-style example with features shape (int64 list
// H, W, C), data (one bytes value, raw HWC uint8) and, optionally, label.
// It checks that len(data) equals H*W*C.
func ParseImage(b []byte) (Image, error) {
	ex, err := ParseExample(b)
	if err != nil {
		return Image{}, err
	}
	var im Image
	d, ok := ex["data"]
	if !ok || d.Kind != KindBytes || len(d.Bytes) != 1 {
		return im, fmt.Errorf("feature \"data\" missing or not a single bytes value")
	}
	s, ok := ex["shape"]
	if !ok || s.Kind != KindInt64 || len(s.Int64) != 3 {
		return im, fmt.Errorf("feature \"shape\" missing or not 3 int64 values")
	}
	want := int64(1)
	for _, v := range s.Int64 {
		if v <= 0 || v > 1<<16 {
			return im, fmt.Errorf("bad shape %v", s.Int64)
		}
		want *= v
	}
	if int64(len(d.Bytes[0])) != want {
		return im, fmt.Errorf("data holds %d bytes, shape %v needs %d", len(d.Bytes[0]), s.Int64, want)
	}
	im.Shape = s.Int64
	im.Data = d.Bytes[0]
	if l, ok := ex["label"]; ok && l.Kind == KindInt64 && len(l.Int64) > 0 {
		im.Label = l.Int64[0]
	}
	return im, nil
}
