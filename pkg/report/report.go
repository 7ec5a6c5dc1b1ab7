// Package report writes evaluation outputs: results.json and the per-image
// Arrow IPC table.
package report

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/apache/arrow/go/v14/arrow"
	"github.com/apache/arrow/go/v14/arrow/array"
	"github.com/apache/arrow/go/v14/arrow/ipc"
	"github.com/apache/arrow/go/v14/arrow/memory"

	"github.com/nvaego/nvae/pkg/fsutil"
)

// Row is one image's evaluation.
type Row struct {
	Index     int64
	NLLNats   float64
	NelboNats float64
	BPD       float64
}

// Schema is the per-image table's schema.
var Schema = arrow.NewSchema([]arrow.Field{
	{Name: "index", Type: arrow.PrimitiveTypes.Int64},
	{Name: "nll_nats", Type: arrow.PrimitiveTypes.Float64},
	{Name: "nelbo_nats", Type: arrow.PrimitiveTypes.Float64},
	{Name: "bpd", Type: arrow.PrimitiveTypes.Float64},
}, nil)

// WriteArrow writes rows as an Arrow IPC file, atomically.
func WriteArrow(path string, rows []Row) error {
	mem := memory.NewGoAllocator()
	b := array.NewRecordBuilder(mem, Schema)
	defer b.Release()
	for _, r := range rows {
		b.Field(0).(*array.Int64Builder).Append(r.Index)
		b.Field(1).(*array.Float64Builder).Append(r.NLLNats)
		b.Field(2).(*array.Float64Builder).Append(r.NelboNats)
		b.Field(3).(*array.Float64Builder).Append(r.BPD)
	}
	rec := b.NewRecord()
	defer rec.Release()
	return fsutil.WriteAtomic(path, 0o644, func(f *os.File) error {
		w, err := ipc.NewFileWriter(f, ipc.WithSchema(Schema), ipc.WithAllocator(mem))
		if err != nil {
			return err
		}
		if err := w.Write(rec); err != nil {
			return err
		}
		return w.Close()
	})
}

// ReadArrow reads a table written by WriteArrow.
func ReadArrow(path string) ([]Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	defer r.Close()
	var rows []Row
	for i := 0; i < r.NumRecords(); i++ {
		rec, err := r.Record(i)
		if err != nil {
			return nil, fmt.Errorf("%s: record %d: %v", path, i, err)
		}
		idx := rec.Column(0).(*array.Int64)
		nll := rec.Column(1).(*array.Float64)
		nelbo := rec.Column(2).(*array.Float64)
		bpd := rec.Column(3).(*array.Float64)
		for j := 0; j < int(rec.NumRows()); j++ {
			rows = append(rows, Row{idx.Value(j), nll.Value(j), nelbo.Value(j), bpd.Value(j)})
		}
	}
	return rows, nil
}

// WriteJSON writes v as indented JSON, atomically.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, append(b, '\n'), 0o644)
}
