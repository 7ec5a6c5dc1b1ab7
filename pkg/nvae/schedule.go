package nvae

import (
	"math"
	"os"
	"strings"
)

// LRSchedule is the learning rate of the official train.py loop.
//
// The official loop builds CosineAnnealingLR(optimizer, T_max =
// float(epochs - warmup_epochs - 1), eta_min = learning_rate_min) once, calls
// its step() at the start of every epoch > warmup_epochs, and at every
// iteration with global_step < warmup_iters = iters_per_epoch·warmup_epochs
// overwrites the optimizer's lr with learning_rate·global_step/warmup_iters.
//
// PyTorch's CosineAnnealingLR.step() is recursive: it scales the optimizer's
// current lr, lr_t = eta_min + (lr_{t-1} - eta_min)·(1 + cos(πt/T)) /
// (1 + cos(π(t-1)/T)). The warm-up leaves the optimizer at
// lr_0 = learning_rate·(W-1)/W (the value set at global_step W-1), so the
// official cosine phase is the closed form eta_min + (lr_0 -
// eta_min)·(1 + cos(πt/T))/2 with that lr_0, not with learning_rate, and the
// epoch right after the warm-up (t = 0) runs at lr_0 too. The difference is a
// factor (W-1)/W on lr - eta_min, 1e-3 relative for W = 1000 iterations.
// LR reproduces that recursion step by step (same operations in the same
// order as PyTorch). With FromBaseLR set, the cosine phase starts from
// learning_rate instead, as if the warm-up had not touched the optimizer: that
// is PyTorch's closed form, and what the oracle files' constants.lr uses.
type LRSchedule struct {
	// BaseLR is --learning_rate, MinLR --learning_rate_min.
	BaseLR, MinLR float64
	// Epochs and WarmupEpochs are --epochs and --warmup_epochs.
	Epochs, WarmupEpochs int
	// ItersPerEpoch is len(train_queue): batches per epoch per process.
	ItersPerEpoch int
	// FromBaseLR starts the cosine phase from BaseLR (see the type's doc).
	FromBaseLR bool
}

// NewLRSchedule returns the official schedule of c for a data loader of
// itersPerEpoch batches per epoch.
func NewLRSchedule(c Config, itersPerEpoch int) LRSchedule {
	return LRSchedule{BaseLR: c.LearningRate, MinLR: c.LearningRateMin, Epochs: c.Epochs,
		WarmupEpochs: c.WarmupEpochs, ItersPerEpoch: itersPerEpoch}
}

// WarmupIters is warmup_iters = iters_per_epoch·warmup_epochs.
func (s LRSchedule) WarmupIters() int { return s.ItersPerEpoch * s.WarmupEpochs }

// TMax is the scheduler's T_max = float(epochs - warmup_epochs - 1).
func (s LRSchedule) TMax() float64 { return float64(s.Epochs - s.WarmupEpochs - 1) }

// SchedulerLastEpoch is CosineAnnealingLR.last_epoch while epoch (0-based)
// runs: the number of step() calls so far, max(0, epoch - warmup_epochs).
// After epoch e finishes (a checkpoint's 'epoch' = e+1), it is still that of
// epoch e.
func (s LRSchedule) SchedulerLastEpoch(epoch int) int {
	return max(0, epoch-s.WarmupEpochs)
}

// LR is the optimizer's learning rate at the iteration with the given global
// step (0-based, counted over the whole run) inside the given epoch
// (0-based), exactly as the official loop sets it before the optimizer step.
func (s LRSchedule) LR(epoch, globalStep int) float64 {
	w := s.WarmupIters()
	if globalStep < w {
		return s.BaseLR * float64(globalStep) / float64(w)
	}
	lr := s.BaseLR
	if w > 0 && !s.FromBaseLR {
		lr = s.BaseLR * float64(w-1) / float64(w)
	}
	steps := s.SchedulerLastEpoch(epoch)
	tmax := s.TMax()
	for t := 1; t <= steps; t++ {
		lr = cosineStep(lr, s.BaseLR, s.MinLR, float64(t), tmax)
	}
	return lr
}

// cosineStep is one CosineAnnealingLR.get_lr() from the current lr at
// last_epoch t (t ≥ 1), in PyTorch's order of operations.
func cosineStep(lr, base, etaMin, t, tmax float64) float64 {
	if pyMod(t-1-tmax, 2*tmax) == 0 {
		return lr + (base-etaMin)*(1-math.Cos(math.Pi/tmax))/2
	}
	return (1+math.Cos(math.Pi*t/tmax))/(1+math.Cos(math.Pi*(t-1)/tmax))*(lr-etaMin) + etaMin
}

// pyMod is Python's float %: the result takes the sign of the divisor.
func pyMod(a, b float64) float64 {
	m := math.Mod(a, b)
	if m != 0 && (m < 0) != (b < 0) {
		m += b
	}
	return m
}

// SeedConfigs lists the datasets of the official README's training
// commands, in the README's order.
var SeedConfigs = []string{"mnist", "cifar10", "celeba_64", "imagenet_32", "celeba_256", "ffhq"}

// seedCommandLines are the train.py arguments of the official README's
// training commands (NVlabs/NVAE README.md, "Running the main NVAE training
// and evaluation scripts"), verbatim, without "python train.py" and without
// the mpirun/bash -c wrapping of the multi-node ones.
var seedCommandLines = map[string]string{
	"mnist": `--data $DATA_DIR/mnist --root $CHECKPOINT_DIR --save $EXPR_ID --dataset mnist --batch_size 200
        --epochs 400 --num_latent_scales 2 --num_groups_per_scale 10 --num_postprocess_cells 3 --num_preprocess_cells 3
        --num_cell_per_cond_enc 2 --num_cell_per_cond_dec 2 --num_latent_per_group 20 --num_preprocess_blocks 2
        --num_postprocess_blocks 2 --weight_decay_norm 1e-2 --num_channels_enc 32 --num_channels_dec 32 --num_nf 0
        --ada_groups --num_process_per_node 2 --use_se --res_dist --fast_adamax`,
	"cifar10": `--data $DATA_DIR/cifar10 --root $CHECKPOINT_DIR --save $EXPR_ID --dataset cifar10
        --num_channels_enc 128 --num_channels_dec 128 --epochs 400 --num_postprocess_cells 2 --num_preprocess_cells 2
        --num_latent_scales 1 --num_latent_per_group 20 --num_cell_per_cond_enc 2 --num_cell_per_cond_dec 2
        --num_preprocess_blocks 1 --num_postprocess_blocks 1 --num_groups_per_scale 30 --batch_size 32
        --weight_decay_norm 1e-2 --num_nf 1 --num_process_per_node 8 --use_se --res_dist --fast_adamax`,
	"celeba_64": `--data $DATA_DIR/celeba64_lmdb --root $CHECKPOINT_DIR --save $EXPR_ID --dataset celeba_64
        --num_channels_enc 64 --num_channels_dec 64 --epochs 90 --num_postprocess_cells 2 --num_preprocess_cells 2
        --num_latent_scales 3 --num_latent_per_group 20 --num_cell_per_cond_enc 2 --num_cell_per_cond_dec 2
        --num_preprocess_blocks 1 --num_postprocess_blocks 1 --weight_decay_norm 1e-1 --num_groups_per_scale 20
        --batch_size 16 --num_nf 1 --ada_groups --num_process_per_node 8 --use_se --res_dist --fast_adamax`,
	"imagenet_32": `--data $DATA_DIR/imagenet-oord/imagenet-oord-lmdb_32 --root $CHECKPOINT_DIR --save $EXPR_ID --dataset imagenet_32
        --num_channels_enc 192 --num_channels_dec 192 --epochs 45 --num_postprocess_cells 2 --num_preprocess_cells 2
        --num_latent_scales 1 --num_latent_per_group 20 --num_cell_per_cond_enc 2 --num_cell_per_cond_dec 2
        --num_preprocess_blocks 1 --num_postprocess_blocks 1 --num_groups_per_scale 28
        --batch_size 24 --num_nf 1 --warmup_epochs 1
        --weight_decay_norm 1e-2 --weight_decay_norm_anneal --weight_decay_norm_init 1e0
        --num_process_per_node 8 --use_se --res_dist
        --fast_adamax --node_rank $NODE_RANK --num_proc_node 3 --master_address $IP_ADDR`,
	"celeba_256": `--data $DATA_DIR/celeba/celeba-lmdb --root $CHECKPOINT_DIR --save $EXPR_ID --dataset celeba_256
        --num_channels_enc 30 --num_channels_dec 30 --epochs 300 --num_postprocess_cells 2 --num_preprocess_cells 2
        --num_latent_scales 5 --num_latent_per_group 20 --num_cell_per_cond_enc 2 --num_cell_per_cond_dec 2
        --num_preprocess_blocks 1 --num_postprocess_blocks 1 --weight_decay_norm 1e-2 --num_groups_per_scale 16
        --batch_size 4 --num_nf 2 --ada_groups --min_groups_per_scale 4
        --weight_decay_norm_anneal --weight_decay_norm_init 1. --num_process_per_node 8 --use_se --res_dist
        --fast_adamax --num_x_bits 5 --node_rank $NODE_RANK --num_proc_node 3 --master_address $IP_ADDR`,
	"ffhq": `--data $DATA_DIR/ffhq/ffhq-lmdb --root $CHECKPOINT_DIR --save $EXPR_ID --dataset ffhq
        --num_channels_enc 30 --num_channels_dec 30 --epochs 200 --num_postprocess_cells 2 --num_preprocess_cells 2
        --num_latent_scales 5 --num_latent_per_group 20 --num_cell_per_cond_enc 2 --num_cell_per_cond_dec 2
        --num_preprocess_blocks 1 --num_postprocess_blocks 1 --weight_decay_norm 1e-1  --num_groups_per_scale 16
        --batch_size 4 --num_nf 2  --ada_groups --min_groups_per_scale 4
        --weight_decay_norm_anneal --weight_decay_norm_init 1. --num_process_per_node 8 --use_se --res_dist
        --fast_adamax --num_x_bits 5 --learning_rate 8e-3 --node_rank $NODE_RANK --num_proc_node 3 --master_address $IP_ADDR`,
}

// SeedCommands holds, per dataset of SeedConfigs, the full argument list of
// the official README's train.py command (without "python train.py"),
// verbatim: the shell variables stay literal placeholders ($DATA_DIR/mnist,
// $CHECKPOINT_DIR, $EXPR_ID, and for the 24-GPU runs $NODE_RANK and
// $IP_ADDR). Expand them with ExpandSeedCommand before parsing: --node_rank
// needs an integer.
var SeedCommands = func() map[string][]string {
	m := make(map[string][]string, len(seedCommandLines))
	for k, v := range seedCommandLines {
		m[k] = strings.Fields(v)
	}
	return m
}()

// SeedCommandVars lists the shell variables the seed commands use.
var SeedCommandVars = []string{"DATA_DIR", "CHECKPOINT_DIR", "EXPR_ID", "NODE_RANK", "IP_ADDR"}

// ExpandSeedCommand returns a copy of argv with $VAR and ${VAR} replaced by
// mapping(VAR) (os.Expand rules), e.g. mapping = os.Getenv.
func ExpandSeedCommand(argv []string, mapping func(string) string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = os.Expand(a, mapping)
	}
	return out
}
