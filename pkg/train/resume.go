package train

import (
	"github.com/nvaego/nvae/pkg/nvae"
)

// ResumeHelp documents what --cont_training keeps and what it takes from
// the command line (nvae-train --help, hence docs/flags.md).
const ResumeHelp = `Resuming (--cont_training), as the official train.py does:
  the model architecture, optimizer state, position and RNG streams come from checkpoint.nvae;
  --epochs comes from the command line (loop end, KL and norm annealing horizon; the cosine
    learning-rate phase keeps the stored schedule, as the restored official scheduler does);
  --batch_size (per rank) comes from the command line, also after a change of the number of
    ranks (the position within the epoch is converted by the global batch);
  --learning_rate comes from the command line for the warm-up ramp, the cosine phase continues
    from the stored run's rate (the restored official optimizer and scheduler);
  other run settings keep the stored values; --data, --root and --save come from the command line.
  With no checkpoint yet (a Slurm job requeued before its first save), --cont_training starts
  from scratch and says so in one line.`

// resumeConfig merges the command line's cmd into the stored config of a
// checkpoint according to ResumeHelp.
func resumeConfig(stored, cmd nvae.Config) nvae.Config {
	c := stored
	c.Data, c.Root, c.Save, c.ContTraining = cmd.Data, cmd.Root, cmd.Save, true
	c.Epochs, c.BatchSize, c.LearningRate = cmd.Epochs, cmd.BatchSize, cmd.LearningRate
	return c
}

// lrSchedule gives the learning rate of each step.
type lrSchedule interface {
	LR(epoch, globalStep int) float64
}

// resumedSchedule is the official resumed schedule: the warm-up ramp of
// the command line's --learning_rate, then the stored run's cosine phase.
type resumedSchedule struct{ warm, cosine nvae.LRSchedule }

func (s resumedSchedule) LR(epoch, globalStep int) float64 {
	if globalStep < s.warm.WarmupIters() {
		return s.warm.LR(epoch, globalStep)
	}
	return s.cosine.LR(epoch, globalStep)
}

// schedule returns the learning-rate schedule of the run: the model's
// config (the stored one when resumed) drives the cosine phase.
func (r *runner) schedule(itersPerEpoch int) lrSchedule {
	warm := nvae.NewLRSchedule(r.cfg, itersPerEpoch)
	cos := nvae.NewLRSchedule(r.m.Cfg, itersPerEpoch)
	if warm == cos {
		return warm
	}
	return resumedSchedule{warm: warm, cosine: cos}
}

// convertPosition maps a position of step batches of oldBS images into
// batches of newBS (rounding down: at most one batch of images is seen
// twice).
func convertPosition(step, oldBS, newBS int) int {
	if oldBS <= 0 || oldBS == newBS {
		return step
	}
	return step * oldBS / newBS
}
