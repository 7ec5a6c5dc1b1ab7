package nvae

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

// testSeedVars gives the seed commands' shell variables test values.
func testSeedVars(name string) string {
	return map[string]string{"DATA_DIR": "/data", "CHECKPOINT_DIR": "/ckpt", "EXPR_ID": "run1",
		"NODE_RANK": "0", "IP_ADDR": "10.0.0.1"}[name]
}

// TestLROracle checks the lr of the oracle files' Adamax step: epoch 10,
// global step 1000, 100 iterations per epoch; the oracle starts the cosine
// phase from --learning_rate (FromBaseLR).
func TestLROracle(t *testing.T) {
	for _, c := range loadOracleCases(t) {
		cfg := caseConfig(t, c)
		var k oracleConstants
		c.metaJSON(t, "constants", &k)
		s := NewLRSchedule(cfg, k.ItersPerEpoch)
		s.FromBaseLR = true
		got := s.LR(k.EpochIndex, k.GlobalStep)
		if !(math.Abs(got-k.LR) <= 1e-15*k.LR) {
			t.Errorf("%s: lr = %.17g, oracle %.17g", c.name, got, k.LR)
		}
		// The official loop itself continues from the warm-up's last lr.
		s.FromBaseLR = false
		off := s.LR(k.EpochIndex, k.GlobalStep)
		w := float64(s.WarmupIters())
		lr0 := cfg.LearningRate * (w - 1) / w
		want := cfg.LearningRateMin + (lr0-cfg.LearningRateMin)*(k.LR-cfg.LearningRateMin)/(cfg.LearningRate-cfg.LearningRateMin)
		if !(math.Abs(off-want) <= 1e-15*want) {
			t.Errorf("%s: official lr = %.17g, want %.17g", c.name, off, want)
		}
	}
}

// pytorchLoop simulates the official train.py loop with PyTorch's
// CosineAnnealingLR: an optimizer lr that the scheduler's recursive step()
// and the warm-up both overwrite. It returns the lr of every iteration.
func pytorchLoop(base, etaMin float64, epochs, warmupEpochs, iters int) []float64 {
	tmax := float64(epochs - warmupEpochs - 1)
	groupLR := base // the constructor's step(): last_epoch 0 → base_lrs
	lastEpoch := 0
	warmupIters := iters * warmupEpochs
	var out []float64
	globalStep := 0
	for epoch := 0; epoch < epochs; epoch++ {
		if epoch > warmupEpochs {
			lastEpoch++
			t := float64(lastEpoch)
			groupLR = (1+math.Cos(math.Pi*t/tmax))/(1+math.Cos(math.Pi*(t-1)/tmax))*(groupLR-etaMin) + etaMin
		}
		for i := 0; i < iters; i++ {
			if globalStep < warmupIters {
				groupLR = base * float64(globalStep) / float64(warmupIters)
			}
			out = append(out, groupLR)
			globalStep++
		}
	}
	return out
}

func TestLRScheduleLoop(t *testing.T) {
	for _, tc := range []struct {
		base, min            float64
		epochs, warmup, iter int
	}{
		{1e-2, 1e-4, 20, 5, 7},
		{8e-3, 1e-4, 12, 1, 3},
		{1e-2, 0, 9, 0, 4},
		{1e-2, 1e-4, 3, 5, 2}, // warm-up longer than the run
		{1e-2, 1e-4, 6, 5, 2}, // T_max = 0: never stepped
	} {
		s := LRSchedule{BaseLR: tc.base, MinLR: tc.min, Epochs: tc.epochs, WarmupEpochs: tc.warmup, ItersPerEpoch: tc.iter}
		want := pytorchLoop(tc.base, tc.min, tc.epochs, tc.warmup, tc.iter)
		for gs, w := range want {
			epoch := gs / tc.iter
			if got := s.LR(epoch, gs); got != w {
				t.Errorf("%+v: LR(%d, %d) = %.17g, loop %.17g", tc, epoch, gs, got, w)
			}
		}
		// Warm-up and the first post-warm-up epoch.
		w := s.WarmupIters()
		if w > 0 {
			if s.LR(0, 0) != 0 || s.LR(0, 1) != tc.base/float64(w) {
				t.Errorf("%+v: warm-up start %v %v", tc, s.LR(0, 0), s.LR(0, 1))
			}
			if tc.warmup < tc.epochs && s.LR(tc.warmup, w) != tc.base*float64(w-1)/float64(w) {
				t.Errorf("%+v: epoch after warm-up at %v", tc, s.LR(tc.warmup, w))
			}
		}
		// The last epoch reaches eta_min.
		if tc.epochs-tc.warmup-1 > 0 {
			last := s.LR(tc.epochs-1, tc.epochs*tc.iter-1)
			if !(math.Abs(last-tc.min) <= 1e-18) {
				t.Errorf("%+v: last lr %v, want %v", tc, last, tc.min)
			}
		}
		// FromBaseLR is the closed form from base.
		s.FromBaseLR = true
		tmax := s.TMax()
		for e := tc.warmup; e < tc.epochs; e++ {
			tt := float64(e - tc.warmup)
			closed := tc.base // last_epoch 0: base_lr, also when T_max is 0 (no 0/0)
			if tt > 0 {
				closed = tc.min + (tc.base-tc.min)*(1+math.Cos(math.Pi*tt/tmax))/2
			}
			if got := s.LR(e, w+(e-tc.warmup)*tc.iter); !(math.Abs(got-closed) <= 1e-15*tc.base) {
				t.Errorf("%+v: closed form epoch %d: %v, want %v", tc, e, got, closed)
			}
		}
	}
}

func TestLRScheduleHelpers(t *testing.T) {
	c := DefaultConfig()
	c.Epochs, c.WarmupEpochs = 100, 5
	s := NewLRSchedule(c, 100)
	if s.WarmupIters() != 500 || s.TMax() != 94 || s.BaseLR != 1e-2 || s.MinLR != 1e-4 {
		t.Errorf("NewLRSchedule: %+v", s)
	}
	// mnist_tiny_checkpoint.pt (epoch 10 saved) has last_epoch 4; the step-1
	// checkpoint, stepped for epoch 10, 5.
	if s.SchedulerLastEpoch(9) != 4 || s.SchedulerLastEpoch(10) != 5 || s.SchedulerLastEpoch(3) != 0 {
		t.Error("SchedulerLastEpoch")
	}
	// Beyond T_max (a run extended with --cont_training and more epochs),
	// PyTorch's special branch keeps the cosine periodic instead of dividing
	// by zero.
	s.FromBaseLR = true
	after := s.LR(100, 10000) // t = 95 = T_max + 1
	want := 1e-4 + (1e-2-1e-4)*(1-math.Cos(math.Pi/94))/2
	if math.IsNaN(after) || !(math.Abs(after-want) <= 1e-15) {
		t.Errorf("LR past T_max = %v, want %v", after, want)
	}
	if pyMod(-3, 2) != 1 || pyMod(3, -2) != -1 || pyMod(4, 2) != 0 || pyMod(-94, 188) != 94 {
		t.Error("pyMod")
	}
}

func TestSeedCommands(t *testing.T) {
	// docs/anchors.md: groups per scale of the seed configurations.
	anchors := map[string][]int{
		"mnist": {10, 5}, "cifar10": {30}, "celeba_64": {20, 10, 5}, "imagenet_32": {28},
		"celeba_256": {16, 8, 4, 4, 4}, "ffhq": {16, 8, 4, 4, 4},
	}
	if len(SeedCommands) != len(SeedConfigs) {
		t.Fatalf("%d seed commands for %d configs", len(SeedCommands), len(SeedConfigs))
	}
	for _, name := range SeedConfigs {
		argv, ok := SeedCommands[name]
		if !ok {
			t.Fatalf("no seed command for %s", name)
		}
		if argv[0] != "--data" || !strings.HasPrefix(argv[1], "$DATA_DIR/") ||
			argv[2] != "--root" || argv[3] != "$CHECKPOINT_DIR" || argv[4] != "--save" || argv[5] != "$EXPR_ID" {
			t.Errorf("%s: argv starts %q", name, argv[:6])
		}
		exp := ExpandSeedCommand(argv, testSeedVars)
		if strings.Contains(strings.Join(exp, " "), "$") || argv[1] == exp[1] {
			t.Errorf("%s: expansion left %q", name, exp)
		}
		c, err := ParseArgs(exp)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if c.Dataset != name {
			t.Errorf("%s: dataset %s", name, c.Dataset)
		}
		if got := c.GroupsPerScale(); !reflect.DeepEqual(got, anchors[name]) {
			t.Errorf("%s: groups per scale %v, docs/anchors.md %v", name, got, anchors[name])
		}
		if !c.UseSE || !c.ResDist || !c.FastAdamax || c.NumLatentPerGroup != 20 {
			t.Errorf("%s: use_se/res_dist/fast_adamax/latents: %+v", name, c)
		}
		if c.Data != "/data"+strings.TrimPrefix(argv[1], "$DATA_DIR") || c.Root != "/ckpt" || c.Save != "run1" {
			t.Errorf("%s: data %s root %s save %s", name, c.Data, c.Root, c.Save)
		}
	}
	spot := func(name string, check func(Config) bool) {
		c, err := ParseArgs(ExpandSeedCommand(SeedCommands[name], testSeedVars))
		if err != nil || !check(c) {
			t.Errorf("%s: unexpected config %+v (%v)", name, c, err)
		}
	}
	spot("mnist", func(c Config) bool {
		return c.BatchSize == 200 && c.Epochs == 400 && c.NumChannelsEnc == 32 && c.NumNF == 0 &&
			c.NumPreprocessBlocks == 2 && c.NumPreprocessCells == 3 && c.NumProcessPerNode == 2 &&
			c.WeightDecayNorm == 1e-2 && c.AdaGroups && c.NumCellPerCondEnc == 2
	})
	spot("cifar10", func(c Config) bool {
		return c.BatchSize == 32 && c.Epochs == 400 && c.NumChannelsDec == 128 && c.NumNF == 1 &&
			!c.AdaGroups && c.NumProcessPerNode == 8 && c.NumMixtureDec == 10 && c.NumXBits == 8
	})
	spot("celeba_64", func(c Config) bool {
		return c.BatchSize == 16 && c.Epochs == 90 && c.WeightDecayNorm == 1e-1 && c.NumChannelsEnc == 64
	})
	spot("imagenet_32", func(c Config) bool {
		return c.WarmupEpochs == 1 && c.Epochs == 45 && c.WeightDecayNormAnneal && c.WeightDecayNormInit == 1 &&
			c.NumProcNode == 3 && c.NodeRank == 0 && c.MasterAddress == "10.0.0.1" && c.NumChannelsEnc == 192
	})
	spot("celeba_256", func(c Config) bool {
		return c.NumXBits == 5 && c.MinGroupsPerScale == 4 && c.NumNF == 2 && c.Epochs == 300 &&
			c.LearningRate == 1e-2 && c.WeightDecayNorm == 1e-2 && c.BatchSize == 4
	})
	spot("ffhq", func(c Config) bool {
		return c.NumXBits == 5 && c.LearningRate == 8e-3 && c.WeightDecayNorm == 1e-1 && c.Epochs == 200 &&
			c.NumChannelsEnc == 30
	})
	// Unexpanded, --node_rank $NODE_RANK is not an integer.
	if _, err := ParseArgs(SeedCommands["ffhq"]); err == nil || !strings.Contains(err.Error(), "node_rank") {
		t.Errorf("unexpanded ffhq command: %v", err)
	}
	if _, err := ParseArgs(SeedCommands["mnist"]); err != nil {
		t.Errorf("unexpanded mnist command: %v", err)
	}
}
