package compare

import (
	"math"
	"strings"
	"testing"
)

// The comparator itself: NaN, Inf and empty inputs must fail.
func TestComparatorRejects(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	cases := []struct {
		name      string
		got, want []float64
		mode      Mode
		wantIdx   int
	}{
		{name: "nan got", got: []float64{1, nan, 3}, want: []float64{1, 2, 3}, mode: ScaleRelative, wantIdx: 1},
		{name: "nan want", got: []float64{1, 2, 3}, want: []float64{1, 2, nan}, mode: ScaleRelative, wantIdx: 2},
		{name: "inf got", got: []float64{inf, 2}, want: []float64{1, 2}, mode: Elementwise(1), wantIdx: 0},
		{name: "inf both", got: []float64{1, inf}, want: []float64{1, inf}, mode: Elementwise(0), wantIdx: 1},
		{name: "nan elementwise", got: []float64{nan}, want: []float64{0}, mode: Elementwise(1), wantIdx: 0},
		{name: "nan absolute", got: []float64{0, nan}, want: []float64{0, 0}, mode: Absolute, wantIdx: 1},
		{name: "absolute too far", got: []float64{0, 5e-3, 2e-3}, want: []float64{0, 0, 0}, mode: Absolute, wantIdx: 1},
		{name: "too far", got: []float64{1, 2.1}, want: []float64{1, 2}, mode: ScaleRelative, wantIdx: 1},
	}
	for _, c := range cases {
		w, err := Find(c.got, c.want, 1e-3, c.mode)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if w.OK() {
			t.Errorf("%s: passed, want a failure", c.name)
		}
		if w.Index != c.wantIdx {
			t.Errorf("%s: worst element %d, want %d", c.name, w.Index, c.wantIdx)
		}
		if Explain(c.got, c.want, 1e-3, c.mode) == nil {
			t.Errorf("%s: Explain passed", c.name)
		}
	}
	for _, c := range []struct{ got, want []float64 }{{nil, nil}, {[]float64{}, []float64{}}, {[]float64{1}, []float64{1, 2}}} {
		if err := Explain(c.got, c.want, 1, ScaleRelative); err == nil {
			t.Errorf("Explain(%v, %v) passed, want an error", c.got, c.want)
		}
	}
}

func TestComparatorAccepts(t *testing.T) {
	got := []float64{1.0005, -2, 0}
	want := []float64{1, -2, 0}
	if err := Explain(got, want, 1e-3, ScaleRelative); err != nil {
		t.Errorf("scale-relative: %v", err)
	}
	if err := Explain(got, want, 1e-3, Elementwise(1)); err != nil {
		t.Errorf("elementwise: %v", err)
	}
	// Zero reference: scale falls back to 1.
	if err := Explain([]float64{1e-4}, []float64{0}, 1e-3, ScaleRelative); err != nil {
		t.Errorf("zero reference: %v", err)
	}
	err := Explain([]float64{1, 5}, []float64{1, 4}, 1e-3, Elementwise(0))
	if err == nil || !strings.Contains(err.Error(), "worst element 1") {
		t.Errorf("message %v, want the worst element named", err)
	}
}

func TestComparatorExact(t *testing.T) {
	if err := Explain([]float64{0, 1}, []float64{0, 1}, 0, ScaleRelative); err != nil {
		t.Errorf("equal values with tol 0: %v", err)
	}
	if err := Explain([]float64{0, 1}, []float64{0, 1 + 1e-16*2}, 0, ScaleRelative); err == nil {
		t.Error("different values passed with tol 0")
	}
}
