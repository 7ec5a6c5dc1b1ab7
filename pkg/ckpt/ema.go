package ckpt

import (
	"fmt"

	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/tensor"
)

// Weight choices of LoadAnyWeights and SelectWeights.
const (
	WeightsAuto = "auto" // the EMA when the checkpoint has one, else raw
	WeightsEMA  = "ema"
	WeightsRaw  = "raw"
)

// SelectWeights puts the weights asked for into ck.Model: "raw" leaves the
// trained parameters, "ema" replaces them by the checkpoint's EMA (an error
// when it has none), "auto" does that when there is one. It returns the
// choice made ("ema" or "raw").
func SelectWeights(ck *Checkpoint, weights string) (string, error) {
	switch weights {
	case WeightsRaw:
		return WeightsRaw, nil
	case WeightsAuto:
		if ck.EMA == nil {
			return WeightsRaw, nil
		}
	case WeightsEMA:
		if ck.EMA == nil {
			return "", fmt.Errorf("the checkpoint has no EMA weights (train with --ema_decay)")
		}
	default:
		return "", fmt.Errorf("weights %q: want auto, ema or raw", weights)
	}
	for _, p := range ck.Model.Store.Params() {
		v, ok := ck.EMA[p.Name]
		if !ok {
			return "", fmt.Errorf("the EMA lacks %s", p.Name)
		}
		p.Value = v
	}
	return WeightsEMA, nil
}

// LoadAnyWeights is LoadAny with a choice of weights (auto, ema, raw; see
// SelectWeights); it returns the choice made. Official checkpoints have raw
// weights only.
func LoadAnyWeights(path string, b backend.Backend, dt tensor.DType, weights string) (*nvae.Model, string, error) {
	return loadAny(path, b, dt, weights)
}

// EMAUpdate sets ema ← decay·ema + (1−decay)·value.
func EMAUpdate(b backend.Backend, ema, value *tensor.Tensor, decay float64) *tensor.Tensor {
	return b.Binary(backend.Add, b.Affine(ema, decay, 0), b.Affine(value, 1-decay, 0))
}
