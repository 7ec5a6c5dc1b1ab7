// Package progress prints the progress lines of every binary and library
// loop: conversions, feature extraction, sampling and downloads.
package progress

import (
	"fmt"
	"io"
	"time"
)

// Interval is how often progress lines are printed.
var Interval = 2 * time.Second

// Printer prints "label: n/total unit (p%), rate unit/s, ETA d" lines at
// most once per ProgressInterval and when the total is reached, and a
// summary on Done. One printer for conversions, feature extraction,
// sampling and downloads. A nil writer prints nothing.
type Printer struct {
	w           io.Writer
	label, unit string
	total, n    int64
	scale       float64 // the unit in counted items (1e6 for MB of bytes)
	start, last time.Time
	interval    time.Duration
}

// NewProgress counts items (total ≤ 0: unknown).
func New(w io.Writer, label, unit string, total int) *Printer {
	now := time.Now()
	return &Printer{w: w, label: label, unit: unit, total: int64(total), scale: 1, start: now, last: now, interval: Interval}
}

// NewByteProgress counts bytes and prints megabytes.
func NewBytes(w io.Writer, label string, total int64) *Printer {
	p := New(w, label, "MB", 0)
	p.total, p.scale = total, 1e6
	return p
}

// Add counts k more items.
func (p *Printer) Add(k int) { p.Set(int(p.n) + k) }

// Set records that n items are done.
func (p *Printer) Set(n int) {
	p.n = int64(n)
	now := time.Now()
	final := p.total > 0 && p.n >= p.total
	if p.w == nil || (!final && now.Sub(p.last) < p.interval) {
		return
	}
	p.last = now
	el := max(now.Sub(p.start).Seconds(), 1e-9)
	rate := float64(p.n) / el
	if p.total > 0 {
		eta := "-"
		if rate > 0 {
			eta = (time.Duration(float64(p.total-p.n)/rate) * time.Second).Round(time.Second).String()
		}
		fmt.Fprintf(p.w, "%s: %s/%s %s (%.1f%%), %.1f %s/s, ETA %s\n", p.label, p.num(p.n), p.num(p.total), p.unit,
			100*float64(p.n)/float64(p.total), rate/p.scale, p.unit, eta)
	} else {
		fmt.Fprintf(p.w, "%s: %s %s, %.1f %s/s\n", p.label, p.num(p.n), p.unit, rate/p.scale, p.unit)
	}
}

func (p *Printer) num(n int64) string {
	if p.scale == 1 {
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("%.1f", float64(n)/p.scale)
}

// Done prints the summary line and returns the seconds since the start.
func (p *Printer) Done() float64 {
	el := time.Since(p.start).Seconds()
	if p.w != nil {
		fmt.Fprintf(p.w, "%s: done, %s %s in %.1fs (%.1f %s/s)\n", p.label, p.num(p.n), p.unit, el, float64(p.n)/p.scale/max(el, 1e-9), p.unit)
	}
	return el
}

// Reader counts the bytes read through r.
func (p *Printer) Reader(r io.Reader) io.Reader { return &progressReader{r, p} }

type progressReader struct {
	r io.Reader
	p *Printer
}

func (r *progressReader) Read(b []byte) (int, error) {
	k, err := r.r.Read(b)
	r.p.Add(k)
	return k, err
}
