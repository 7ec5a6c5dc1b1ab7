// Package tb writes TensorBoard event files (scalars and PNG images) and
// reads them back.
//
// An event file is named events.out.tfevents.<unix seconds>.<hostname> and
// is a sequence of TFRecords: uint64 little-endian data length, the masked
// CRC32C of those 8 bytes (uint32 LE), the data, and the masked CRC32C of the
// data (uint32 LE); mask(c) = ((c >> 15) | (c << 17)) + 0xa282ead8 with the
// Castagnoli polynomial. Each record is a serialized tensorflow.Event
// protobuf, encoded by hand here: the first one carries file_version
// "brain.Event:2", later ones wall_time (field 1, double), step (field 2,
// int64) and summary (field 5), whose repeated value (field 1) has tag
// (field 1) and either simple_value (field 2, float) or image (field 4:
// height 1, width 2, colorspace 3, encoded_image_string 4).
//
// Resuming a run simply creates another event file in the same directory;
// TensorBoard merges all files of a directory.
package tb

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MaskedCRC returns the TFRecord masked CRC32C of b.
func MaskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return ((c >> 15) | (c << 17)) + 0xa282ead8
}

// Protobuf wire types.
const (
	wireVarint = 0
	wire64     = 1
	wireBytes  = 2
	wire32     = 5
)

func appendTag(b []byte, field, wire int) []byte {
	return binary.AppendUvarint(b, uint64(field)<<3|uint64(wire))
}

func appendBytesField(b []byte, field int, v []byte) []byte {
	b = appendTag(b, field, wireBytes)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendVarintField(b []byte, field int, v uint64) []byte {
	return binary.AppendUvarint(appendTag(b, field, wireVarint), v)
}

// eventHeader encodes wall_time and step of an Event.
func eventHeader(wall float64, step int64) []byte {
	b := appendTag(nil, 1, wire64)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(wall))
	return appendVarintField(b, 2, uint64(step))
}

// Writer appends events to one event file. Its methods are safe for
// concurrent use.
type Writer struct {
	mu   sync.Mutex
	f    *os.File
	bw   *bufio.Writer
	path string
	now  func() time.Time
}

// NewWriter creates logdir if needed and a new event file in it, and writes
// the file_version record.
func NewWriter(logdir string) (*Writer, error) {
	if err := os.MkdirAll(logdir, 0o755); err != nil {
		return nil, fmt.Errorf("tb: create log dir: %w", err)
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	now := time.Now()
	base := fmt.Sprintf("events.out.tfevents.%d.%s", now.Unix(), host)
	var f *os.File
	var path string
	for i := 0; ; i++ {
		path = filepath.Join(logdir, base)
		if i > 0 {
			path += "." + strconv.Itoa(i)
		}
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) || i > 1000 {
			return nil, fmt.Errorf("tb: create event file: %w", err)
		}
	}
	w := &Writer{f: f, bw: bufio.NewWriterSize(f, 1<<16), path: path, now: time.Now}
	rec := appendTag(nil, 1, wire64)
	rec = binary.LittleEndian.AppendUint64(rec, math.Float64bits(wallTime(now)))
	rec = appendBytesField(rec, 3, []byte("brain.Event:2"))
	err = w.writeRecord(rec)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

func wallTime(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// Path returns the event file's path.
func (w *Writer) Path() string { return w.path }

// writeRecord frames data as a TFRecord into the buffer.
func (w *Writer) writeRecord(data []byte) error {
	var hdr [12]byte
	binary.LittleEndian.PutUint64(hdr[:8], uint64(len(data)))
	binary.LittleEndian.PutUint32(hdr[8:], MaskedCRC(hdr[:8]))
	var foot [4]byte
	binary.LittleEndian.PutUint32(foot[:], MaskedCRC(data))
	if w.bw == nil {
		return fmt.Errorf("tb: %s: write after Close", w.path)
	}
	if _, err := w.bw.Write(hdr[:]); err != nil {
		return fmt.Errorf("tb: write %s: %w", w.path, err)
	}
	if _, err := w.bw.Write(data); err != nil {
		return fmt.Errorf("tb: write %s: %w", w.path, err)
	}
	if _, err := w.bw.Write(foot[:]); err != nil {
		return fmt.Errorf("tb: write %s: %w", w.path, err)
	}
	return nil
}

// summaryEvent writes an Event whose summary holds the encoded value.
func (w *Writer) summaryEvent(value []byte, step int64) error {
	if w == nil {
		return nil // a nil Writer discards (the non-zero ranks of a data-parallel run)
	}
	summary := appendBytesField(nil, 1, value)
	ev := appendBytesField(eventHeader(wallTime(w.now()), step), 5, summary)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writeRecord(ev)
}

// Scalar records value under tag at step (stored as float32, like
// TensorBoard's simple_value).
func (w *Writer) Scalar(tag string, value float64, step int64) error {
	v := appendBytesField(nil, 1, []byte(tag))
	v = appendTag(v, 2, wire32)
	v = binary.LittleEndian.AppendUint32(v, math.Float32bits(float32(value)))
	return w.summaryEvent(v, step)
}

// Image records an encoded PNG of the given size and channel count
// (1 grey, 3 RGB, 4 RGBA) under tag at step.
func (w *Writer) Image(tag string, png []byte, height, width, channels int, step int64) error {
	if height <= 0 || width <= 0 || channels <= 0 {
		return fmt.Errorf("tb: image %q: invalid size %dx%dx%d", tag, height, width, channels)
	}
	img := appendVarintField(nil, 1, uint64(height))
	img = appendVarintField(img, 2, uint64(width))
	img = appendVarintField(img, 3, uint64(channels))
	img = appendBytesField(img, 4, png)
	v := appendBytesField(nil, 1, []byte(tag))
	v = appendBytesField(v, 4, img)
	return w.summaryEvent(v, step)
}

// Flush writes buffered records to the file and fsyncs it.
func (w *Writer) Flush() error {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.bw == nil {
		return nil
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("tb: flush %s: %w", w.path, err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("tb: sync %s: %w", w.path, err)
	}
	return nil
}

// Close flushes and closes the file. Closing twice is harmless.
func (w *Writer) Close() error {
	if w == nil {
		return nil
	}
	if err := w.Flush(); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.bw == nil {
		return nil
	}
	w.bw = nil
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("tb: close %s: %w", w.path, err)
	}
	return nil
}

// Event is one decoded event record.
type Event struct {
	WallTime    float64
	Step        int64
	FileVersion string
	Scalars     map[string]float32
	Images      map[string][]byte // encoded PNG per tag
	ImageSizes  map[string][3]int // height, width, colorspace per tag
}

// ReadEvents decodes every record of an event file, verifying both CRCs of
// each. Errors name the file and the record index.
func ReadEvents(path string) ([]Event, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tb: %w", err)
	}
	var evs []Event
	for i := 0; len(data) > 0; i++ {
		if len(data) < 12 {
			return nil, fmt.Errorf("tb: %s: record %d: truncated header (%d bytes)", path, i, len(data))
		}
		if got, want := binary.LittleEndian.Uint32(data[8:12]), MaskedCRC(data[:8]); got != want {
			return nil, fmt.Errorf("tb: %s: record %d: length CRC mismatch (stored %08x, computed %08x)", path, i, got, want)
		}
		n := binary.LittleEndian.Uint64(data[:8])
		if len(data) < 16 || n > uint64(len(data)-16) {
			return nil, fmt.Errorf("tb: %s: record %d: truncated (length %d, %d bytes left)", path, i, n, len(data)-12)
		}
		body := data[12 : 12+n]
		if got, want := binary.LittleEndian.Uint32(data[12+n:16+n]), MaskedCRC(body); got != want {
			return nil, fmt.Errorf("tb: %s: record %d: data CRC mismatch (stored %08x, computed %08x)", path, i, got, want)
		}
		ev, err := decodeEvent(body)
		if err != nil {
			return nil, fmt.Errorf("tb: %s: record %d: %w", path, i, err)
		}
		evs = append(evs, ev)
		data = data[16+n:]
	}
	return evs, nil
}

// ReadDir reads all event files (names containing "tfevents") of logdir in
// name order, which is creation order for files written by NewWriter.
func ReadDir(logdir string) ([]Event, error) {
	ents, err := os.ReadDir(logdir)
	if err != nil {
		return nil, fmt.Errorf("tb: %w", err)
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() && strings.Contains(e.Name(), "tfevents") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var all []Event
	for _, n := range names {
		evs, err := ReadEvents(filepath.Join(logdir, n))
		if err != nil {
			return nil, err
		}
		all = append(all, evs...)
	}
	return all, nil
}

// field is one decoded protobuf field.
type field struct {
	num  int
	wire int
	u    uint64 // varint, fixed64 or fixed32 value
	b    []byte // length-delimited payload
}

// fields splits a protobuf message into its fields.
func fields(msg []byte) ([]field, error) {
	var out []field
	for len(msg) > 0 {
		key, k := binary.Uvarint(msg)
		if k <= 0 {
			return nil, errors.New("bad protobuf field key")
		}
		msg = msg[k:]
		f := field{num: int(key >> 3), wire: int(key & 7)}
		switch f.wire {
		case wireVarint:
			v, k := binary.Uvarint(msg)
			if k <= 0 {
				return nil, fmt.Errorf("bad varint in field %d", f.num)
			}
			f.u, msg = v, msg[k:]
		case wire64:
			if len(msg) < 8 {
				return nil, fmt.Errorf("truncated fixed64 field %d", f.num)
			}
			f.u, msg = binary.LittleEndian.Uint64(msg), msg[8:]
		case wire32:
			if len(msg) < 4 {
				return nil, fmt.Errorf("truncated fixed32 field %d", f.num)
			}
			f.u, msg = uint64(binary.LittleEndian.Uint32(msg)), msg[4:]
		case wireBytes:
			n, k := binary.Uvarint(msg)
			if k <= 0 || n > uint64(len(msg)-k) {
				return nil, fmt.Errorf("bad length of field %d", f.num)
			}
			f.b, msg = msg[k:k+int(n)], msg[k+int(n):]
		default:
			return nil, fmt.Errorf("unsupported wire type %d in field %d", f.wire, f.num)
		}
		out = append(out, f)
	}
	return out, nil
}

func decodeEvent(msg []byte) (Event, error) {
	var ev Event
	fs, err := fields(msg)
	if err != nil {
		return ev, err
	}
	for _, f := range fs {
		switch {
		case f.num == 1 && f.wire == wire64:
			ev.WallTime = math.Float64frombits(f.u)
		case f.num == 2 && f.wire == wireVarint:
			ev.Step = int64(f.u)
		case f.num == 3 && f.wire == wireBytes:
			ev.FileVersion = string(f.b)
		case f.num == 5 && f.wire == wireBytes:
			if err := decodeSummary(f.b, &ev); err != nil {
				return ev, err
			}
		}
	}
	return ev, nil
}

func decodeSummary(msg []byte, ev *Event) error {
	fs, err := fields(msg)
	if err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	for _, f := range fs {
		if f.num != 1 || f.wire != wireBytes {
			continue
		}
		vs, err := fields(f.b)
		if err != nil {
			return fmt.Errorf("summary value: %w", err)
		}
		var tag string
		for _, v := range vs {
			if v.num == 1 && v.wire == wireBytes {
				tag = string(v.b)
			}
		}
		for _, v := range vs {
			switch {
			case v.num == 2 && v.wire == wire32:
				if ev.Scalars == nil {
					ev.Scalars = map[string]float32{}
				}
				ev.Scalars[tag] = math.Float32frombits(uint32(v.u))
			case v.num == 4 && v.wire == wireBytes:
				is, err := fields(v.b)
				if err != nil {
					return fmt.Errorf("image %q: %w", tag, err)
				}
				var size [3]int
				var png []byte
				for _, x := range is {
					switch {
					case x.num >= 1 && x.num <= 3 && x.wire == wireVarint:
						size[x.num-1] = int(int32(x.u))
					case x.num == 4 && x.wire == wireBytes:
						png = append([]byte(nil), x.b...)
					}
				}
				if ev.Images == nil {
					ev.Images, ev.ImageSizes = map[string][]byte{}, map[string][3]int{}
				}
				ev.Images[tag], ev.ImageSizes[tag] = png, size
			}
		}
	}
	return nil
}
