// Package tfrecord reads and writes TensorFlow's TFRecord framing and the
// tf.train.Example protocol buffer, without TensorFlow.
//
// A TFRecord file is a sequence of records, each framed as
//
//	uint64 length (little endian)
//	uint32 masked CRC-32C of the 8 length bytes
//	byte   data[length]
//	uint32 masked CRC-32C of data
//
// where the mask is ((crc >> 15) | (crc << 17)) + 0xa282ead8 (see
// tensorflow/core/lib/hash/crc32c.h). Both checksums are verified on read.
package tfrecord

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const maskDelta = 0xa282ead8

// MaskedCRC returns the masked CRC-32C of b as stored in TFRecord files.
func MaskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return ((c >> 15) | (c << 17)) + maskDelta
}

// MaxRecordSize bounds the length field a Reader accepts, so a corrupt
// length cannot make it allocate absurd amounts of memory.
const MaxRecordSize = 1 << 30

// Reader reads records from a TFRecord stream.
type Reader struct {
	r      *bufio.Reader
	n      int   // records read so far
	off    int64 // byte offset of the next record
	buf    []byte
	header [12]byte
}

// NewReader returns a Reader over r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 1<<20)}
}

// RecordError describes a malformed record.
type RecordError struct {
	Record int   // zero-based index of the record in the stream
	Offset int64 // byte offset of the record's header
	Msg    string
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("record %d (offset %d): %s", e.Record, e.Offset, e.Msg)
}

// Next returns the next record's data. It returns io.EOF after the last
// complete record, and a *RecordError for truncated or corrupt records.
// The returned slice is only valid until the next call.
func (r *Reader) Next() ([]byte, error) {
	n, err := io.ReadFull(r.r, r.header[:])
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, r.fail(fmt.Sprintf("truncated header (%d of 12 bytes)", n))
	}
	length := binary.LittleEndian.Uint64(r.header[:8])
	if MaskedCRC(r.header[:8]) != binary.LittleEndian.Uint32(r.header[8:12]) {
		return nil, r.fail("length CRC mismatch")
	}
	if length > MaxRecordSize {
		return nil, r.fail(fmt.Sprintf("record length %d exceeds limit", length))
	}
	need := int(length) + 4
	if cap(r.buf) < need {
		r.buf = make([]byte, need)
	}
	b := r.buf[:need]
	if n, err := io.ReadFull(r.r, b); err != nil {
		return nil, r.fail(fmt.Sprintf("truncated record (%d of %d bytes)", n, need))
	}
	data := b[:length]
	if MaskedCRC(data) != binary.LittleEndian.Uint32(b[length:]) {
		return nil, r.fail("data CRC mismatch")
	}
	r.n++
	r.off += 12 + int64(need)
	return data, nil
}

// Count returns the number of records read so far.
func (r *Reader) Count() int { return r.n }

func (r *Reader) fail(msg string) error {
	return &RecordError{Record: r.n, Offset: r.off, Msg: msg}
}

// Writer writes TFRecord framing.
type Writer struct {
	w io.Writer
}

// NewWriter returns a Writer to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write appends one record holding data.
func (w *Writer) Write(data []byte) error {
	var h [12]byte
	binary.LittleEndian.PutUint64(h[:8], uint64(len(data)))
	binary.LittleEndian.PutUint32(h[8:], MaskedCRC(h[:8]))
	if _, err := w.w.Write(h[:]); err != nil {
		return err
	}
	if _, err := w.w.Write(data); err != nil {
		return err
	}
	var t [4]byte
	binary.LittleEndian.PutUint32(t[:], MaskedCRC(data))
	_, err := w.w.Write(t[:])
	return err
}

// ErrBadProto reports a malformed protocol buffer.
var ErrBadProto = errors.New("malformed protocol buffer")
