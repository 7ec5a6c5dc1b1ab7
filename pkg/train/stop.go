package train

import (
	"errors"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/tensor"
)

// errStopInEval reports a stop request seen inside validation or the
// sample grids; the loop then saves and ends with ErrStopped, and a resume
// redoes that work (the saved position is before it).
var errStopInEval = errors.New("stop requested during evaluation")

// stopPanic unwinds a forward pass when a stop is requested.
type stopPanic struct{}

// stopNoise polls the stop request at every noise draw, i.e. many times per
// forward pass, so that even a batch with 1000 importance samples is
// abandoned within one pass. It unwinds by panicking, which catchStop
// recovers: the model must draw noise on the caller's goroutine (pkg/nvae
// starts none).
type stopNoise struct {
	nvae.Noise
	stop func() bool
}

func (s stopNoise) Normal(c *ag.Ctx, shape ...int) *tensor.Tensor {
	if s.stop() {
		panic(stopPanic{})
	}
	return s.Noise.Normal(c, shape...)
}

func (s stopNoise) Uniform(c *ag.Ctx, shape ...int) *tensor.Tensor {
	if s.stop() {
		panic(stopPanic{})
	}
	return s.Noise.Uniform(c, shape...)
}

// stopRequested polls Options.Stop.
func (r *runner) stopRequested() bool { return r.opt.Stop != nil && r.opt.Stop() }

// stoppable wraps noise to abandon the work on a stop request; pair it with
// a deferred catchStop.
func (r *runner) stoppable(noise nvae.Noise) nvae.Noise {
	if r.opt.Stop == nil {
		return noise
	}
	return stopNoise{Noise: noise, stop: r.stopRequested}
}

// catchStop turns the unwinding of stopNoise into errStopInEval.
func catchStop(err *error) {
	if p := recover(); p != nil {
		if _, ok := p.(stopPanic); !ok {
			panic(p)
		}
		*err = errStopInEval
	}
}

// stopNow writes the checkpoint of the current position and ends the run
// with ErrStopped.
func (r *runner) stopNow(what string) error {
	if err := r.save(); err != nil {
		return err
	}
	r.logLine("stop requested during %s: checkpoint written at epoch %d step %d (global step %d); a resume redoes it", what, r.st.Epoch, r.st.StepInEpoch, r.st.GlobalStep)
	return ErrStopped
}
