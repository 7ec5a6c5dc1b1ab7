package train

import (
	"math"

	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/tensor"
)

// gradGuard applies --grad_clip and --skip_threshold (as VDVAE): with g the
// global L2 norm of all parameter gradients, an update with
// g ≥ skip_threshold is skipped, otherwise gradients with g > grad_clip are
// scaled by grad_clip/(g+1e-6). Both are off (0) by default, the official
// behaviour. Skipped and clipped updates are counted in the checkpoint
// state, in log.txt (each skip, and the counts every 100 steps with the
// official lines) and in TensorBoard (train/grad_norm,
// train/clipped_updates, train/skipped_updates every 100 steps, with the
// official scalars, and at every skipped update). It reports whether to
// skip the update.
func (r *runner) gradGuard() (skip bool) {
	if r.opt.GradClip <= 0 && r.opt.SkipThreshold <= 0 {
		return false
	}
	b := r.m.Store.B
	// one sum of squares per gradient on the device, one read-back
	var sq []*tensor.Tensor
	for _, p := range r.m.Store.Params() {
		if p.Grad != nil {
			sq = append(sq, b.Sum(b.Binary(backend.Mul, p.Grad, p.Grad), nil, false).Reshape(1))
		}
	}
	ss := 0.0
	if len(sq) > 0 {
		ss = b.ToHost(b.Sum(b.Concat(0, sq), nil, false)).At(0)
	}
	norm := math.Sqrt(ss)
	switch {
	case r.opt.SkipThreshold > 0 && norm >= r.opt.SkipThreshold:
		skip = true
		r.st.SkippedSteps++
		r.logLine("gradient norm %f ≥ --skip_threshold %g at global step %d: update skipped (%d skipped so far)", norm, r.opt.SkipThreshold, r.st.GlobalStep, r.st.SkippedSteps)
	case r.opt.GradClip > 0 && norm > r.opt.GradClip:
		r.st.ClippedSteps++
		scale := r.opt.GradClip / (norm + 1e-6)
		for _, p := range r.m.Store.Params() {
			if p.Grad != nil {
				p.Grad = b.Affine(p.Grad, scale, 0)
			}
		}
	}
	if ((r.st.GlobalStep+1)%100 == 0 || skip) && r.tbw != nil {
		step := int64(r.st.GlobalStep)
		r.tbw.Scalar("train/grad_norm", norm, step)
		r.tbw.Scalar("train/clipped_updates", float64(r.st.ClippedSteps), step)
		r.tbw.Scalar("train/skipped_updates", float64(r.st.SkippedSteps), step)
	}
	if (r.st.GlobalStep+1)%100 == 0 {
		r.logLine("grad_norm %f clipped_updates %d skipped_updates %d", norm, r.st.ClippedSteps, r.st.SkippedSteps)
	}
	return skip
}
