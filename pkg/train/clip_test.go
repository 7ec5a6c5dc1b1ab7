package train

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nvaego/nvae/internal/testenv"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/tb"
	"github.com/nvaego/nvae/pkg/tensor"
)

// TestGradClipAndSkip: --skip_threshold below every gradient norm skips all
// updates (weights stay at their initial values; counted in the state,
// log.txt and TensorBoard); --grad_clip below every norm clips every update.
func TestGradClipAndSkip(t *testing.T) {
	dataDir := testenv.MNISTLayout(t)
	root := t.TempDir()
	cfg := tinyConfig(t, dataDir, root, "skip")
	o := opts(cfg, 3)
	o.SkipThreshold = 1e-9
	res, err := Run(o)
	if err != nil {
		t.Fatal(err)
	}
	ck := loadCk(t, res.CheckpointPath)
	if ck.State.SkippedSteps != 3 || ck.State.ClippedSteps != 0 || ck.State.GlobalStep != 3 {
		t.Fatalf("state %+v: want 3 skipped updates", ck.State)
	}
	init, err := nvae.NewModel(cfg, cpu.New(), tensor.Float32, uint64(cfg.Seed))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range init.Store.Params() {
		if !equalF32(p.Value.Float32s(), ck.Model.Store.Param(p.Name).Value.Float32s()) {
			t.Fatalf("%s changed although every update was skipped", p.Name)
		}
	}
	log, _ := os.ReadFile(filepath.Join(res.Dir, "log.txt"))
	if n := strings.Count(string(log), "update skipped"); n != 3 {
		t.Errorf("log.txt names %d skipped updates, want 3", n)
	}
	events, err := tb.ReadDir(res.Dir)
	if err != nil {
		t.Fatal(err)
	}
	last := float32(-1)
	for _, e := range events {
		if v, ok := e.Scalars["train/skipped_updates"]; ok {
			last = v
		}
	}
	if last != 3 {
		t.Errorf("TensorBoard train/skipped_updates ends at %v, want 3", last)
	}

	o = opts(tinyConfig(t, dataDir, root, "clip"), 3)
	o.GradClip = 1e-9
	if res, err = Run(o); err != nil {
		t.Fatal(err)
	}
	if ck := loadCk(t, res.CheckpointPath); ck.State.ClippedSteps != 3 || ck.State.SkippedSteps != 0 {
		t.Errorf("state %+v: want 3 clipped updates", ck.State)
	}
}
