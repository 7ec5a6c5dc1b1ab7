package train

import (
	"fmt"

	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/optim"
	"github.com/nvaego/nvae/pkg/tensor"
)

// beginStep opens a step on backends that free a step's buffers when it
// ends (the GPU: backend.Stepper); elsewhere it does nothing.
func (r *runner) beginStep() {
	if s, ok := r.c.B.(backend.Stepper); ok {
		s.BeginStep()
	}
}

// endStep keeps the state that outlives the step (parameters, buffers,
// spectral vectors, optimizer moments, the EMA, the last input for the
// reconstruction images) and frees every other buffer the step allocated.
// Gradients are dropped: the next step starts from none.
func (r *runner) endStep() {
	s, ok := r.c.B.(backend.Stepper)
	if !ok {
		return
	}
	r.m.Store.ZeroGrad()
	kept := modelState(r.m, r.adam)
	if r.ema != nil {
		for _, t := range r.ema.shadow {
			kept = append(kept, t)
		}
	}
	if r.lastX != nil {
		kept = append(kept, r.lastX.Value)
	}
	backend.Keep(r.c.B, kept...)
	s.EndStep()
	// The step replaced the BN statistics and spectral vectors (a skipped
	// step restored them): the old tensors, allocated before the step, are
	// free now rather than when the collector finds them.
	if rel, ok := r.c.B.(backend.Releaser); ok && r.snap != nil {
		for name, old := range r.snap.bufs {
			if old != r.m.Store.Buffer(name) {
				rel.Release(old)
			}
		}
		for k, old := range r.snap.srU {
			if old != r.m.SR.U[k] {
				rel.Release(old)
			}
		}
		for k, old := range r.snap.srV {
			if old != r.m.SR.V[k] {
				rel.Release(old)
			}
		}
	}
	r.snap = nil
}

// modelState is the model's and optimizer's state that outlives a step:
// parameters, buffers, spectral vectors, optimizer moments.
func modelState(m *nvae.Model, opt *optim.Adamax) []*tensor.Tensor {
	var ts []*tensor.Tensor
	for _, p := range m.Store.Params() {
		ts = append(ts, p.Value)
	}
	for _, n := range m.Store.BufferNames() {
		ts = append(ts, m.Store.Buffer(n))
	}
	for _, t := range m.SR.U {
		ts = append(ts, t)
	}
	for _, t := range m.SR.V {
		ts = append(ts, t)
	}
	if opt != nil {
		ts = append(ts, opt.M...)
		ts = append(ts, opt.U...)
	}
	return ts
}

// memNote is the device memory for the progress line ("" on backends
// that do not account it).
func memNote(b backend.Backend) string {
	m, ok := b.(backend.MemReporter)
	if !ok {
		return ""
	}
	st := m.MemStats()
	return fmt.Sprintf(" mem %.0f MiB (peak %.0f MiB)", float64(st.InUse)/(1<<20), float64(st.Peak)/(1<<20))
}

// deviceNote names the backend and, on a GPU, the device ("cuda (NVIDIA
// H100 80GB HBM3)").
func deviceNote(b backend.Backend) string {
	if d, ok := b.(interface{ DeviceName() string }); ok {
		return b.Name() + " (" + d.DeviceName() + ")"
	}
	return b.Name()
}
