package fid

import (
	"github.com/nvaego/nvae/pkg/fid/formula"
)

// WeightKey is one entry of the FID Inception state dict, in the order of
// the official weights file.
type WeightKey struct {
	Key   string
	Shape []int
	// Int64 marks the integer buffers (bn.num_batches_tracked, scalar 0).
	Int64 bool
}

// StateDictKeys lists the 566 entries of the official FID Inception state
// dict in state-dict order: per conv unit conv.weight and
// bn.{weight,bias,running_mean,running_var,num_batches_tracked}, then
// fc.weight and fc.bias.
func StateDictKeys() []WeightKey {
	var ks []WeightKey
	for _, s := range unitSpecs() {
		ks = append(ks, WeightKey{Key: s.name + ".conv.weight", Shape: []int{s.out, s.in, s.kh, s.kw}})
		for _, k := range []string{"weight", "bias", "running_mean", "running_var"} {
			ks = append(ks, WeightKey{Key: s.name + ".bn." + k, Shape: []int{s.out}})
		}
		ks = append(ks, WeightKey{Key: s.name + ".bn.num_batches_tracked", Shape: []int{}, Int64: true})
	}
	ks = append(ks, WeightKey{Key: "fc.weight", Shape: []int{1008, Dims}}, WeightKey{Key: "fc.bias", Shape: []int{1008}})
	return ks
}

// formulaWeights returns the float tensors of the FID test weights
// (package formula) that the network uses.
func formulaWeights() map[string]weight {
	out := map[string]weight{}
	for _, k := range StateDictKeys() {
		if k.Int64 || k.Key == "fc.weight" || k.Key == "fc.bias" {
			continue
		}
		v, ok := formula.Tensor(k.Key, k.Shape)
		if !ok {
			panic("fid: no test-formula values for " + k.Key)
		}
		d := make([]float64, len(v))
		for i, x := range v {
			d[i] = float64(x)
		}
		out[k.Key] = weight{k.Shape, d}
	}
	return out
}
