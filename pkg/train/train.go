// Package train is the official train.py loop: warm-up and cosine learning
// rate, KL warm-up, regulariser annealing, per-epoch samples and
// validation, checkpoints that resume bit-for-bit, robust to bad steps and
// pre-emption.
package train

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/ckpt"
	"github.com/nvaego/nvae/pkg/data"
	"github.com/nvaego/nvae/pkg/dist"
	"github.com/nvaego/nvae/pkg/fsutil"
	"github.com/nvaego/nvae/pkg/imgutil"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/optim"
	"github.com/nvaego/nvae/pkg/tensor"
)

// ErrStopped is returned when a stop request (SIGTERM/SIGUSR1) ended the run
// after writing a checkpoint.
var ErrStopped = errors.New("stopped on request; checkpoint written")

// Options configures a training run.
type Options struct {
	Cfg     nvae.Config
	Backend backend.Backend
	DType   tensor.DType
	// MaxBadSteps consecutive non-finite steps end the run (0: the
	// default 50; negative: no limit).
	MaxBadSteps int
	// Overwrite allows starting over an existing checkpoint.
	Overwrite bool
	// NumIWSamplesFinal for the final validation (official 1000);
	// NumIWSamplesValid for the per-epoch one (official 10).
	NumIWSamplesFinal, NumIWSamplesValid int
	// MaxSteps stops the run at this global step (0: all epochs); the run
	// then finishes like its last epoch.
	MaxSteps int
	// MaxDuration stops training after this wall time (0: no limit); the
	// run then finishes like its last epoch.
	MaxDuration time.Duration
	// MaxValidBatches bounds validation (0: whole split).
	MaxValidBatches int
	// LogEvery prints a progress line every so many steps.
	LogEvery int
	Workers  int
	// Log receives progress lines (stderr).
	Log io.Writer
	// Stop is polled before each step; true writes a checkpoint and ends
	// the run with ErrStopped.
	Stop func() bool
	// Corrupt, for tests, replaces the loss of a step by NaN when it
	// returns true.
	Corrupt func(globalStep int) bool
	// EMADecay keeps an EMA of the weights (0: off); see ema.go.
	EMADecay float64
	// GradClip and SkipThreshold bound the gradient norm (0: off); see
	// clip.go.
	GradClip, SkipThreshold float64
	// Comm, when of size > 1, makes the run data-parallel (dist.go);
	// nil is one process.
	Comm dist.Comm
}

// Result summarises a finished run.
type Result struct {
	GlobalStep          int
	TrainNelbo          float64
	ValidNegLogP        float64
	ValidNelbo          float64
	BadSteps            int
	Dir, CheckpointPath string
}

// CheckpointName is the file written in the experiment directory.
const CheckpointName = "checkpoint.nvae"

type runner struct {
	opt   Options
	cfg   nvae.Config
	c     *ag.Ctx
	m     *nvae.Model
	adam  *optim.Adamax
	st    ckpt.State
	noise *nvae.PhiloxNoise
	tbw   *events
	logf  *os.File
	// werr is the first write error of log.txt or the event file.
	werr   error
	dir    string
	path   string
	bpd    float64
	trainL *data.Loader
	validL *data.Loader
	// savedStep is the global step of the checkpoint this run last wrote
	// (-1: none yet).
	savedStep int
	ema       *emaState
	lastX     *ag.Var       // the last training input (reconstruction image)
	snap      *stepSnapshot // the state before the current step
}

func (r *runner) printf(format string, a ...any) {
	if r.opt.Log != nil {
		fmt.Fprintf(r.opt.Log, format, a...)
	}
}

// logLine writes an official-style line to log.txt (and the progress log).
func (r *runner) logLine(format string, a ...any) {
	line := time.Now().Format("01/02 03:04:05 PM") + " " + fmt.Sprintf(format, a...) + "\n"
	if r.logf != nil {
		if _, err := r.logf.WriteString(line); err != nil {
			r.failWrite(fmt.Errorf("writing %s: %w", r.logf.Name(), err))
		}
	}
	r.printf("%s", line)
}

// Run trains according to opt.
func Run(opt Options) (res *Result, err error) {
	if opt.MaxBadSteps == 0 {
		opt.MaxBadSteps = 50
	}
	if opt.NumIWSamplesFinal <= 0 {
		opt.NumIWSamplesFinal = 1000
	}
	if opt.NumIWSamplesValid <= 0 {
		opt.NumIWSamplesValid = 10
	}
	if opt.LogEvery <= 0 {
		opt.LogEvery = 50
	}
	cfg := opt.Cfg
	r := &runner{opt: opt, cfg: cfg, dir: cfg.ExpDir(), savedStep: -1}
	// open the data first: a missing dataset fails before anything is written
	trainDS, err := data.Open(cfg.Dataset, cfg.Data, data.Train)
	if err != nil {
		return nil, err
	}
	validDS, err := data.Open(cfg.Dataset, cfg.Data, data.Validation)
	if err != nil {
		return nil, err
	}
	r.path = filepath.Join(r.dir, CheckpointName)
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return nil, err
	}
	// one run per experiment folder: a second one fails here, at once
	if r.isRoot() { // one writer per experiment folder: rank 0 of this run
		lock, err := fsutil.LockDir(r.dir)
		if err != nil {
			return nil, err
		}
		defer lock.Unlock()
		for _, p := range fsutil.RemoveStaleTemps(r.dir, []string{CheckpointName, "samples_*.png"}, fsutil.StaleAge) {
			r.printf("removed %s, a temporary left by a killed run\n", p)
		}
	}
	_, statErr := os.Stat(r.path)
	exists := statErr == nil
	if exists && !cfg.ContTraining && !opt.Overwrite {
		return nil, fmt.Errorf("%s exists: pass --cont_training to resume it or --overwrite to start over", r.path)
	}
	r.c = ag.New(opt.Backend, opt.DType)
	if cfg.ContTraining && exists {
		ck, err := ckpt.Load(r.path, opt.Backend, opt.DType)
		if err != nil {
			return nil, fmt.Errorf("%v, or pass --overwrite instead of --cont_training to start over", err)
		}
		if ck.Config.Dataset != cfg.Dataset {
			return nil, fmt.Errorf("%s was trained on %s, not %s", r.path, ck.Config.Dataset, cfg.Dataset)
		}
		// the stored architecture; --epochs, --batch_size (per rank) and
		// --learning_rate as the official train.py takes them (ResumeHelp)
		keep := resumeConfig(ck.Config, cfg)
		ck.Model.Cfg.BatchSize = keep.BatchSize
		cfg, r.cfg = keep, keep
		r.m, r.st = ck.Model, ck.State
		oldBS := r.st.StepBatchSize
		if oldBS == 0 {
			oldBS = ck.Config.BatchSize
		}
		// the position in the epoch counts global batches (all ranks)
		oldGlobal, newGlobal := oldBS*max(r.st.WorldSize, 1), cfg.BatchSize*r.world()
		if step := convertPosition(r.st.StepInEpoch, oldGlobal, newGlobal); step != r.st.StepInEpoch {
			r.printf("global batch %d (was %d): resuming epoch %d at batch %d instead of %d\n", newGlobal, oldGlobal, r.st.Epoch, step, r.st.StepInEpoch)
			r.st.StepInEpoch = step
		}
		r.adam = optim.NewAdamax(opt.Backend, r.m.Store.Params(), cfg.LearningRate, cfg.WeightDecay)
		ck.RestoreOptimizer(r.adam)
		r.restoreEMA(ck)
		r.printf("resuming %s at epoch %d, step %d (global step %d)\n", r.path, r.st.Epoch, r.st.StepInEpoch, r.st.GlobalStep)
	} else {
		if cfg.ContTraining {
			// a requeued job that had not saved yet must still start
			r.printf("--cont_training: no checkpoint at %s yet; starting from scratch\n", r.path)
		}
		m, err := nvae.NewModel(cfg, opt.Backend, opt.DType, uint64(cfg.Seed))
		if err != nil {
			return nil, err
		}
		m.SR.Seed = uint64(cfg.Seed)*2654435761 + 17
		r.m = m
		r.adam = optim.NewAdamax(opt.Backend, m.Store.Params(), cfg.LearningRate, cfg.WeightDecay)
		r.st = ckpt.State{NoiseSeed: uint64(cfg.Seed)*0x9E3779B97F4A7C15 + 1, Tool: "nvae-go"}
	}
	if err := r.initEMA(); err != nil {
		return nil, err
	}
	r.noise = &nvae.PhiloxNoise{Seed: r.st.NoiseSeed, Offset: r.st.NoiseOffset}
	r.setupDist()
	if err := r.checkMemory(); err != nil {
		return nil, err
	}
	numOut, err := nvae.NumOutput(cfg.Dataset)
	if err != nil {
		return nil, err
	}
	r.bpd = 1 / math.Ln2 / float64(numOut)

	if r.trainL, err = data.NewLoader(trainDS, data.Options{BatchSize: cfg.BatchSize, Shuffle: true, DropLast: true, Seed: uint64(cfg.Seed), Workers: opt.Workers,
		Rank: r.rank(), World: r.world()}); err != nil {
		return nil, err
	}
	if r.validL, err = data.NewLoader(validDS, data.Options{BatchSize: cfg.BatchSize, Seed: uint64(cfg.Seed), Workers: opt.Workers,
		Rank: r.rank(), World: r.world()}); err != nil {
		return nil, err
	}
	if r.trainL.NumBatches() == 0 {
		return nil, fmt.Errorf("training set of %d images gives no batch of %d", trainDS.Len(), cfg.BatchSize)
	}
	if r.isRoot() { // rank 0 alone writes log.txt and TensorBoard
		if r.logf, err = os.OpenFile(filepath.Join(r.dir, "log.txt"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
			return nil, err
		}
		ev, err := newEventLog(r.dir)
		if err != nil {
			r.logf.Close()
			return nil, err
		}
		r.tbw = &events{w: ev, r: r}
		defer func() {
			r.tbw.Close()
			if cerr := r.logf.Close(); cerr != nil {
				r.failWrite(fmt.Errorf("closing %s: %w", r.logf.Name(), cerr))
			}
			if err == nil && r.werr != nil {
				res, err = nil, fmt.Errorf("%v (the run itself finished; checkpoint %s written at global step %d)", r.werr, r.path, r.savedStep)
			}
		}()
	}
	r.logLine("args = %s", mustJSON(cfg))
	r.logLine("param size = %fM ", float64(r.m.Store.NumParams())/1e6)
	r.logLine("device = %s", deviceNote(r.c.B))
	return r.loop()
}

func (r *runner) save() error {
	r.st.StepBatchSize = r.cfg.BatchSize
	if what := nonFinite(r.c.B, r.m, r.adam.M, r.adam.U); what != "" {
		return fmt.Errorf("not writing a checkpoint at global step %d: %s is not finite; %s", r.st.GlobalStep, what, r.lastSaved())
	}
	r.st.NoiseOffset = r.noise.Offset
	r.st.WorldSize = 0 // one process: the field stays out of the file
	if r.distributed() {
		r.st.WorldSize = r.world()
	}
	if !r.isRoot() { // rank 0 writes; the others wait for it
		r.barrier()
		return nil
	}
	if err := ckpt.SaveEMA(r.path, r.m, r.adam, r.st, r.emaTensors()); err != nil {
		return fmt.Errorf("writing checkpoint: %v", err)
	}
	r.savedStep = r.st.GlobalStep
	r.tbw.Flush()
	r.barrier()
	return nil
}

// lastSaved says truthfully what checkpoint is left on disk.
func (r *runner) lastSaved() string {
	if r.savedStep >= 0 {
		return fmt.Sprintf("the last checkpoint %s (global step %d) holds finite weights", r.path, r.savedStep)
	}
	if _, err := os.Stat(r.path); err == nil {
		return fmt.Sprintf("the checkpoint %s this run resumed from is unchanged", r.path)
	}
	return "no checkpoint was written"
}

func (r *runner) loop() (*Result, error) {
	cfg := r.cfg
	itersPerEpoch := r.trainL.NumBatches()
	numTotalIter := itersPerEpoch * cfg.Epochs
	sched := r.schedule(itersPerEpoch)
	res := &Result{Dir: r.dir, CheckpointPath: r.path}
	start := time.Now()
	startStep := r.st.GlobalStep
	consecutiveBad := 0
	finished := false
	for epoch := r.st.Epoch; epoch < cfg.Epochs && !finished; epoch++ {
		r.st.Epoch = epoch
		if r.st.StepInEpoch == 0 {
			r.logLine("epoch %d", epoch)
		}
		it := r.trainL.Epoch(epoch, r.st.StepInEpoch)
		for {
			if err := r.checkWrites(); err != nil {
				it.Close()
				return nil, err
			}
			stop, timeUp := r.pollStop(r.opt.MaxDuration > 0 && time.Since(start) > r.opt.MaxDuration)
			if stop {
				it.Close()
				if err := r.save(); err != nil {
					return nil, err
				}
				r.logLine("stop requested: checkpoint written at epoch %d step %d (global step %d)", epoch, r.st.StepInEpoch, r.st.GlobalStep)
				return nil, ErrStopped
			}
			if (r.opt.MaxSteps > 0 && r.st.GlobalStep >= r.opt.MaxSteps) || timeUp {
				finished = true
				break
			}
			batch, err := it.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				it.Close()
				return nil, err
			}
			r.adam.LR = sched.LR(epoch, r.st.GlobalStep)
			r.beginStep()
			bad, loss, tr := r.step(batch, numTotalIter)
			it.Recycle(batch)
			if bad {
				r.st.BadSteps++
				consecutiveBad++
				r.logLine("non-finite loss or gradient at global step %d: update skipped (%d consecutive, %d total)", r.st.GlobalStep, consecutiveBad, r.st.BadSteps)
				if r.opt.MaxBadSteps > 0 && consecutiveBad >= r.opt.MaxBadSteps {
					it.Close()
					return nil, fmt.Errorf("%d consecutive non-finite steps (limit --max_bad_steps %d): stopping; %s", consecutiveBad, r.opt.MaxBadSteps, r.lastSaved())
				}
			} else {
				consecutiveBad = 0
				r.st.NelboSum += loss
				r.st.NelboCount++
			}
			if (r.st.GlobalStep+1)%100 == 0 && tr != nil {
				r.officialLog(tr, loss, cfg.KLCoeff(r.st.GlobalStep, numTotalIter))
			}
			r.endStep()
			r.st.GlobalStep++
			r.st.StepInEpoch++
			if r.st.GlobalStep%r.opt.LogEvery == 0 {
				done := r.st.GlobalStep - startStep
				el := time.Since(start).Seconds()
				total := numTotalIter
				if r.opt.MaxSteps > 0 && r.opt.MaxSteps < total {
					total = r.opt.MaxSteps
				}
				eta := time.Duration(float64(total-r.st.GlobalStep) * el / float64(done) * float64(time.Second))
				if left := r.opt.MaxDuration - time.Since(start); r.opt.MaxDuration > 0 && left < eta {
					eta = max(left, 0)
				}
				r.printf("step %d/%d epoch %d loss %.3f lr %.2e %.1f img/s ETA %s%s\n", r.st.GlobalStep, total, epoch, loss,
					r.adam.LR, float64(done*cfg.BatchSize*r.world())/el, eta.Round(time.Second), memNote(r.c.B))
			}
		}
		it.Close()
		epochDone := !finished || r.st.StepInEpoch >= itersPerEpoch
		avg := 0.0
		if r.st.NelboCount > 0 {
			avg = r.st.NelboSum / float64(r.st.NelboCount)
		}
		res.TrainNelbo = avg
		last := epoch == cfg.Epochs-1 || finished
		if epochDone || finished {
			r.logLine("train_nelbo %f", avg)
			r.tbw.Scalar("train/nelbo", avg, int64(r.st.GlobalStep))
		}
		evalFreq := 1
		if cfg.Epochs > 50 {
			evalFreq = 20
		}
		if epoch%evalFreq == 0 || last {
			if err := r.samples(); err == errStopInEval {
				return nil, r.stopNow("the sample grids")
			} else if err != nil {
				// a failed grid write: save the checkpoint first, like log.txt
				r.failWrite(err)
				return nil, r.checkWrites()
			}
			nlp, nelbo, err := r.validate(r.opt.NumIWSamplesValid, epoch)
			if err == errStopInEval {
				return nil, r.stopNow("validation")
			}
			if err != nil {
				return nil, err
			}
			res.ValidNegLogP, res.ValidNelbo = nlp, nelbo
		}
		if epochDone {
			r.st.Epoch, r.st.StepInEpoch = epoch+1, 0
			r.st.NelboSum, r.st.NelboCount = 0, 0
		}
		saveFreq := int(math.Ceil(float64(cfg.Epochs) / 100))
		if epoch%saveFreq == 0 || last {
			r.logLine("saving the model.")
			if err := r.save(); err != nil {
				return nil, err
			}
		}
		if err := r.checkWrites(); err != nil {
			return nil, err
		}
	}
	nlp, nelbo, err := r.validate(r.opt.NumIWSamplesFinal, -1)
	if err == errStopInEval {
		return nil, r.stopNow("the final validation")
	}
	if err != nil {
		return nil, err
	}
	res.ValidNegLogP, res.ValidNelbo = nlp, nelbo
	r.finalValEvents(nlp, nelbo)
	res.GlobalStep, res.BadSteps = r.st.GlobalStep, r.st.BadSteps
	r.logLine("final valid nelbo %f", nelbo)
	r.logLine("final valid neg log p %f", nlp)
	r.logLine("final valid nelbo in bpd %f", nelbo*r.bpd)
	r.logLine("final valid neg log p in bpd %f", nlp*r.bpd)
	return res, nil
}

// batchTensor converts a loader batch (already in [0,1]) to num_x_bits.
func (r *runner) batchTensor(b *data.Batch) *ag.Var {
	h := tensor.FromFloat32([]int{b.N, b.C, b.H, b.W}, b.X[:b.N*b.C*b.H*b.W])
	if r.opt.DType == tensor.Float64 {
		h = tensor.FromFloat64(h.Shape(), h.Float64s())
	} else {
		h = tensor.FromFloat32(h.Shape(), h.Float32s())
	}
	return r.c.Const(nvae.PreProcess(r.c, h, r.cfg.NumXBits))
}

// step runs one training iteration; it reports a skipped (non-finite) step.
func (r *runner) step(b *data.Batch, numTotalIter int) (bad bool, loss float64, tr *nvae.TrainResult) {
	c := r.c
	cfg := r.cfg
	snap := takeSnapshot(r.m, r.noise)
	r.snap = snap
	defer func() {
		if bad {
			// a skipped step changes no state: BN running statistics,
			// spectral vectors, noise position, data-init parameters
			snap.restore(r.m, r.noise)
		}
	}()
	kl := cfg.KLCoeff(r.st.GlobalStep, numTotalIter)
	wdn := cfg.WeightDecayNormCoeff(kl)
	r.m.Store.Training = true
	c.SetGrad(true)
	r.m.Store.ZeroGrad()
	x := r.batchTensor(b)
	r.lastX = x
	tr = r.m.TrainLoss(c, x, r.trainNoise(), kl, wdn)
	loss = c.B.ToHost(tr.Loss.Value).At(0)
	if r.opt.Corrupt != nil && r.opt.Corrupt(r.st.GlobalStep) {
		loss = math.NaN()
	}
	if loss = r.distLoss(loss); math.IsNaN(loss) || math.IsInf(loss, 0) {
		return true, loss, tr
	}
	c.Backward(tr.Loss)
	r.distGrads()
	// one fused device check of every gradient, one read-back
	grads := make([]*tensor.Tensor, 0, len(r.m.Store.Params()))
	for _, p := range r.m.Store.Params() {
		grads = append(grads, p.Grad)
	}
	if !backend.AllFinite(c.B, grads) {
		return true, loss, tr
	}
	if r.gradGuard() {
		return false, loss, tr
	}
	r.adam.StepUpdate()
	r.updateEMA()
	return false, loss, tr
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// officialLog writes train.py's every-100-steps scalars and log line.
func (r *runner) officialLog(tr *nvae.TrainResult, loss, klCoeff float64) {
	if !r.isRoot() {
		return
	}
	c := r.c
	step := int64(r.st.GlobalStep)
	w := r.tbw
	hostScalar := func(v *ag.Var) float64 { return c.B.ToHost(v.Value).At(0) }
	avg := r.st.NelboSum / math.Max(1, float64(r.st.NelboCount))
	w.Scalar("train/norm_loss", hostScalar(tr.NormLoss), step)
	w.Scalar("train/bn_loss", hostScalar(tr.BNLoss), step)
	w.Scalar("train/norm_coeff", r.cfg.WeightDecayNormCoeff(klCoeff), step)
	r.logLine("train %d %f", r.st.GlobalStep, avg)
	w.Scalar("train/nelbo_avg", avg, step)
	w.Scalar("train/lr", r.adam.LR, step)
	w.Scalar("train/nelbo_iter", loss, step)
	klSum := 0.0
	for _, k := range tr.Out.KLAll {
		klSum += c.B.ToHost(c.B.Sum(k.Value, nil, false)).At(0)
	}
	w.Scalar("train/kl_iter", klSum/float64(tr.Recon.Dim(0)), step)
	w.Scalar("train/recon_iter", c.B.ToHost(c.B.Sum(tr.Recon.Value, nil, false)).At(0)/float64(tr.Recon.Dim(0)), step)
	w.Scalar("kl_coeff/coeff", klCoeff, step)
	total := 0
	coeffs, vals := tr.KLCoeffs(c.B), tr.KLVals(c.B)
	for i, d := range tr.Out.KLDiag {
		n := 0
		for _, v := range c.B.ToHost(d.Value).Float64s() {
			if v > 0.1 {
				n++
			}
		}
		total += n
		w.Scalar(fmt.Sprintf("kl/active_%d", i), float64(n), step)
		w.Scalar(fmt.Sprintf("kl_coeff/layer_%d", i), coeffs[i], step)
		w.Scalar(fmt.Sprintf("kl_vals/layer_%d", i), vals[i], step)
	}
	w.Scalar("kl/total_active", float64(total), step)
	if (r.st.GlobalStep+1)%1000 == 0 {
		r.reconstruction(tr)
	}
}

// samples writes grids at t = 0.7, 0.8, 0.9, 1.0 (tensorboard and PNG).
func (r *runner) samples() (err error) {
	if !r.isRoot() {
		return nil
	}
	c := r.c
	r.m.Store.Training = false
	old := c.SetGrad(false)
	defer c.SetGrad(old)
	defer catchStop(&err)
	noise := r.stoppable(&nvae.PhiloxNoise{Seed: r.st.NoiseSeed ^ 0x5a5a5a5a})
	for _, t := range []float64{0.7, 0.8, 0.9, 1.0} {
		logits := r.m.Sample(c, 16, t, noise)
		dec := r.m.DecoderOutput(c, logits)
		var img *ag.Var
		if _, ok := dec.(nvae.Bernoulli); ok {
			img = dec.Mean(c)
		} else {
			img = dec.Sample(c, noise, t)
		}
		h := c.B.ToHost(img.Value)
		png, err := r.tbImage(fmt.Sprintf("generated_%0.1f", t), tileImage(h.Float32s(), 4, h.Dim(1), h.Dim(2), h.Dim(3)), int64(r.st.GlobalStep))
		if err != nil {
			return err
		}
		if err := imgutil.WriteFileAtomic(filepath.Join(r.dir, fmt.Sprintf("samples_t%0.1f.png", t)), png); err != nil {
			return err
		}
	}
	return nil
}

// validate is the official test(): IW bound with k samples on the
// validation split; epoch < 0 marks the final evaluation.
func (r *runner) validate(k, epoch int) (negLogP, nelbo float64, err error) {
	c := r.c
	r.m.Store.Training = false
	old := c.SetGrad(false)
	defer c.SetGrad(old)
	noise := r.stoppable(&nvae.PhiloxNoise{Seed: r.st.NoiseSeed ^ 0x77777777})
	it := r.validL.Epoch(0, 0)
	defer it.Close()
	defer catchStop(&err)
	var sumNLP, sumNelbo float64
	n := 0
	t0 := time.Now()
	for bi := 0; r.opt.MaxValidBatches <= 0 || bi < r.opt.MaxValidBatches; bi++ {
		if r.stopRequested() {
			return 0, 0, errStopInEval
		}
		b, err := it.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, 0, err
		}
		x := r.batchTensor(b)
		ev := r.m.EvalIW(c, x, k, noise)
		for i := 0; i < ev.B; i++ {
			nll, nelbo := ev.Image(i)
			sumNLP += nll
			sumNelbo += nelbo
		}
		n += ev.B
		it.Recycle(b)
	}
	nf := float64(n)
	r.distSums(&sumNLP, &sumNelbo, &nf)
	n = int(nf)
	if n == 0 {
		return 0, 0, errors.New("validation split gave no images")
	}
	negLogP, nelbo = sumNLP/float64(n), sumNelbo/float64(n)
	if !finite(negLogP) || !finite(nelbo) {
		return 0, 0, fmt.Errorf("validation gave a non-finite result (NLL %v, NELBO %v) at global step %d: the model has diverged; %s", negLogP, nelbo, r.st.GlobalStep, r.lastSaved())
	}
	if epoch >= 0 {
		r.logLine("valid_nelbo %f", nelbo)
		r.logLine("valid neg log p %f", negLogP)
		r.logLine("valid bpd elbo %f", nelbo*r.bpd)
		r.logLine("valid bpd log p %f", negLogP*r.bpd)
		r.tbw.Scalar("val/neg_log_p", negLogP, int64(epoch))
		r.tbw.Scalar("val/nelbo", nelbo, int64(epoch))
		r.tbw.Scalar("val/bpd_log_p", negLogP*r.bpd, int64(epoch))
		r.tbw.Scalar("val/bpd_elbo", nelbo*r.bpd, int64(epoch))
	} else {
		r.printf("final validation: %d images x %d samples in %s\n", n, k, time.Since(t0).Round(time.Millisecond))
	}
	return negLogP, nelbo, nil
}

func mustJSON(cfg nvae.Config) string {
	b, _ := cfg.MarshalJSON()
	return string(b)
}
