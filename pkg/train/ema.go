package train

import (
	"fmt"

	"github.com/nvaego/nvae/pkg/ckpt"
	"github.com/nvaego/nvae/pkg/tensor"
)

// emaState is the exponential moving average of the weights
// (--ema_decay, as VDVAE keeps one): after every applied update,
// ema ← decay·ema + (1−decay)·weight. It is saved in the checkpoint as
// ema/<name> tensors; nvae-eval, nvae-sample and nvae-fid use it by
// default. Off (nil) by default, the official behaviour.
type emaState struct {
	decay  float64
	shadow map[string]*tensor.Tensor
}

// restoreEMA takes the EMA of a resumed checkpoint: with --ema_decay 0 a
// checkpoint that has one goes on with its stored decay.
func (r *runner) restoreEMA(ck *ckpt.Checkpoint) {
	decay := r.opt.EMADecay
	if decay == 0 && ck.EMA != nil {
		decay = ck.State.EMADecay
		r.printf("continuing the checkpoint's EMA of the weights (decay %g)\n", decay)
	}
	if decay > 0 {
		r.ema = &emaState{decay: decay, shadow: ck.EMA}
	}
}

// initEMA starts the EMA from the current weights when --ema_decay is set
// and no EMA was restored.
func (r *runner) initEMA() error {
	if r.ema == nil && r.opt.EMADecay > 0 {
		r.ema = &emaState{decay: r.opt.EMADecay}
	}
	if r.ema == nil {
		r.st.EMADecay = 0
		return nil
	}
	if !(r.ema.decay > 0 && r.ema.decay < 1) {
		return fmt.Errorf("--ema_decay %g: want 0 (off) or a value in (0, 1)", r.ema.decay)
	}
	r.st.EMADecay = r.ema.decay
	if r.ema.shadow == nil {
		// filled from the weights after the first update, so that the
		// data-dependent initialisation of res_elu convs is included
		r.ema.shadow = map[string]*tensor.Tensor{}
	}
	return nil
}

// fill copies the weights into the EMA entries not started yet.
func (e *emaState) fill(r *runner) {
	b := r.m.Store.B
	for _, p := range r.m.Store.Params() {
		if _, ok := e.shadow[p.Name]; !ok {
			e.shadow[p.Name] = b.Affine(p.Value, 1, 0) // a copy
		}
	}
}

// updateEMA folds the weights after an applied update into the EMA.
func (r *runner) updateEMA() {
	if r.ema == nil {
		return
	}
	if len(r.ema.shadow) == 0 {
		r.ema.fill(r)
		return
	}
	b := r.m.Store.B
	for _, p := range r.m.Store.Params() {
		r.ema.shadow[p.Name] = ckpt.EMAUpdate(b, r.ema.shadow[p.Name], p.Value, r.ema.decay)
	}
}

// emaTensors is what the checkpoint stores (nil without an EMA).
func (r *runner) emaTensors() map[string]*tensor.Tensor {
	if r.ema == nil {
		return nil
	}
	r.ema.fill(r)
	return r.ema.shadow
}
