// Package compare is the one comparator of the project's tests: a result
// against a reference, with the worst element reported by index, value,
// absolute and relative error. Every check is NaN-proof (a NaN or Inf
// anywhere fails) and an empty or length-mismatched input fails rather than
// passing vacuously.
package compare

import (
	"fmt"
	"math"
	"testing"
)

// Worst describes the element that is furthest outside its bound.
type Worst struct {
	Index     int
	Got, Want float64
	Abs, Rel  float64 // |got−want| and |got−want|/|want|
	// Ratio is the error divided by the allowed error of the element
	// (≤ 1 passes). It is +Inf for a non-finite got or want.
	Ratio float64
}

// Mode says how the allowed error of an element is derived from tol.
type Mode struct {
	// Scale: the bound is tol·max_i|want_i| (scale-relative).
	// Otherwise it is tol·max(Floor, |want_i|) per element.
	Scale bool
	Floor float64
	// Absolute: the bound is tol itself for every element.
	Absolute bool
}

// Absolute bounds every element by tol.
var Absolute = Mode{Absolute: true}

// ScaleRelative bounds every element by tol·max|want|.
var ScaleRelative = Mode{Scale: true}

// Elementwise bounds element i by tol·max(floor, |want_i|); floor 1 gives
// |d| ≤ tol·max(1, |ref|), floor 0 a pure relative bound.
func Elementwise(floor float64) Mode { return Mode{Floor: floor} }

// Find returns the worst element of got against want under mode and tol,
// and an error when the lengths differ or there is nothing to compare.
func Find(got, want []float64, tol float64, mode Mode) (Worst, error) {
	if len(got) != len(want) {
		return Worst{}, fmt.Errorf("%d values, reference has %d", len(got), len(want))
	}
	if len(want) == 0 {
		return Worst{}, fmt.Errorf("no values to compare")
	}
	scale := 0.0
	if mode.Scale {
		for _, w := range want {
			if a := math.Abs(w); a > scale && !math.IsInf(a, 0) {
				scale = a // non-finite references fail on their own below
			}
		}
		if scale == 0 {
			scale = 1
		}
	}
	w := Worst{Ratio: -1}
	for i := range want {
		d := math.Abs(got[i] - want[i])
		lim := tol * scale
		switch {
		case mode.Absolute:
			lim = tol
		case !mode.Scale:
			lim = tol * math.Max(mode.Floor, math.Abs(want[i]))
		}
		r := d / lim
		if d == 0 {
			r = 0 // exact, including tol 0
		}
		if math.IsNaN(d) || math.IsInf(d, 0) || math.IsNaN(r) {
			r = math.Inf(1)
		}
		if r > w.Ratio {
			w = Worst{Index: i, Got: got[i], Want: want[i], Abs: d, Rel: d / math.Max(math.Abs(want[i]), 1e-300), Ratio: r}
		}
	}
	return w, nil
}

// OK reports whether the worst element is within its bound.
func (w Worst) OK() bool { return w.Ratio <= 1 }

// String is the failure message: the worst element and its errors.
func (w Worst) String() string {
	return fmt.Sprintf("worst element %d: got %.17g, want %.17g (abs err %.3g, rel err %.3g, %.3g× the tolerance)",
		w.Index, w.Got, w.Want, w.Abs, w.Rel, w.Ratio)
}

// Check reports on t (Errorf) when got is not within tol of want under
// mode, naming what and the worst element. It returns whether it passed.
func Check(t testing.TB, what string, got, want []float64, tol float64, mode Mode) bool {
	t.Helper()
	if err := Explain(got, want, tol, mode); err != nil {
		t.Errorf("%s: %v", what, err)
		return false
	}
	return true
}

// Explain is Check's verdict as an error (nil when within tolerance).
func Explain(got, want []float64, tol float64, mode Mode) error {
	w, err := Find(got, want, tol, mode)
	if err != nil {
		return err
	}
	if !w.OK() {
		kind := fmt.Sprintf("tol %g·max|ref|", tol)
		switch {
		case mode.Absolute:
			kind = fmt.Sprintf("%g absolute", tol)
		case !mode.Scale:
			kind = fmt.Sprintf("tol %g·max(%g, |ref|)", tol, mode.Floor)
		}
		return fmt.Errorf("%s exceeds %s", w, kind)
	}
	return nil
}
