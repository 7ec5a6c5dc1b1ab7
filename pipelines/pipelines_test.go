// Package pipelines holds the tests of the make pipelines (pipelines/*.mk),
// their helper scripts and the Slurm templates. The pipelines themselves are
// make fragments included by the top Makefile; see docs/pipelines.md.
package pipelines

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nvaego/nvae/internal/testenv"

	"github.com/nvaego/nvae/pkg/nvae"
)

// repoRoot is the folder holding go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	return testenv.RepoRoot(t)
}

func needMake(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not installed")
	}
}

var (
	toolsOnce sync.Once
	toolsDir  string
	toolsErr  error
)

// tools builds the five binaries of the current tree into a shared temporary
// folder (once per test binary) and returns it.
func tools(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	toolsOnce.Do(func() {
		toolsDir, toolsErr = os.MkdirTemp("", "nvae-pipelines-bin")
		if toolsErr != nil {
			return
		}
		for _, b := range []string{"prep", "train", "eval", "sample", "fid"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(toolsDir, "nvae-"+b), "./"+b)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				toolsErr = fmt.Errorf("go build ./%s: %v\n%s", b, err, out)
				return
			}
		}
	})
	if toolsErr != nil {
		t.Fatal(toolsErr)
	}
	return toolsDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if toolsDir != "" {
		os.RemoveAll(toolsDir)
	}
	os.Exit(code)
}

// runMake runs make in the repository root with the given arguments and
// extra environment, returning combined output and the exit code.
func runMake(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command("make", append([]string{"--no-print-directory"}, args...)...)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("make %s: %v", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	return string(out), code
}

// miniVars are the make variables of a mini run under dir.
func miniVars(bin, dir string) []string {
	return []string{"NVAE_BIN=" + bin, "MINI_DIR=" + dir, "DEVICE=cpu", "MINI_STEPS=3"}
}

// TestMiniPipelines runs make mnist-mini and make celeba64-mini end to end on
// the CPU, checks every file they produce, checks that a second make does
// nothing, and that a removed done-stamp resumes training with
// --cont_training.
func TestMiniPipelines(t *testing.T) {
	needMake(t)
	if testing.Short() {
		t.Skip("trains two small models (about a minute)")
	}
	bin := tools(t)
	for _, tc := range []struct {
		name, dataset string
		prep          []string // files the prep step leaves, relative to MINI_DIR
	}{
		{"mnist-mini", "mnist", []string{"data/mnist/MNIST/manifest.json", "data/mnist/MNIST/raw/train-images-idx3-ubyte.gz"}},
		{"celeba64-mini", "celeba_64", []string{"src/celeba/img_align_celeba.zip", "src/celeba/list_eval_partition.txt",
			"data/celeba64_lmdb/train.lmdb/data.mdb", "data/celeba64_lmdb/validation.lmdb/manifest.json", "data/celeba64_lmdb/test.lmdb/manifest.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			vars := miniVars(bin, dir)
			targets := []string{tc.name}
			out, code := runMake(t, nil, append(targets, vars...)...)
			if code != 0 {
				t.Fatalf("make %s failed (exit %d):\n%s", tc.name, code, tail(out, 4000))
			}
			exp := filepath.Join(dir, "checkpoints", "eval-"+tc.name)
			for _, f := range tc.prep {
				mustNonEmpty(t, filepath.Join(dir, f))
			}
			mustNonEmpty(t, filepath.Join(exp, "checkpoint.nvae"))
			mustNonEmpty(t, filepath.Join(exp, "log.txt"))
			done := readFile(t, filepath.Join(exp, "train.done"))
			if !regexp.MustCompile(`^trained 3 steps;`).MatchString(done) {
				t.Errorf("train.done = %q, want the final line of a 3-step run", done)
			}
			checkResults(t, filepath.Join(exp, "eval", "results.json"), tc.dataset)
			if b := readFile(t, filepath.Join(exp, "eval", "per_image.arrow")); !strings.HasPrefix(b, "ARROW1") {
				t.Errorf("per_image.arrow is not an Arrow IPC file (starts %q)", b[:min(len(b), 8)])
			}
			checkPNG(t, filepath.Join(exp, "samples", "samples_t0.60.png"))
			checkNPZ(t, filepath.Join(dir, "fid_stats", tc.dataset+".npz"))
			checkFIDJSON(t, filepath.Join(exp, "fid.json"))
			row := readFile(t, filepath.Join(exp, "results.row"))
			if !strings.HasPrefix(row, "| "+tc.name+" | "+tc.dataset+" | ") {
				t.Errorf("results.row = %q", row)
			}
			if table := readFile(t, filepath.Join(dir, "RESULTS.md")); !strings.Contains(table, row) || !strings.Contains(table, "| pipeline | dataset | NLL (nats) |") {
				t.Errorf("RESULTS.md lacks the header or the row:\n%s", table)
			}

			// A second run does nothing.
			if _, code := runMake(t, nil, append([]string{"-q"}, append(targets, vars...)...)...); code != 0 {
				t.Errorf("make -q %s = exit %d after a finished run, want 0", tc.name, code)
			}
			again, code := runMake(t, nil, append(targets, vars...)...)
			if code != 0 || strings.Contains(again, "nvae-") || strings.Count(again, "Nothing to be done") != len(targets) {
				t.Errorf("second make %s (exit %d) ran something:\n%s", tc.name, code, again)
			}

			// Without the done-stamp, training resumes from the checkpoint.
			if err := os.Remove(filepath.Join(exp, "train.done")); err != nil {
				t.Fatal(err)
			}
			if _, code := runMake(t, nil, append([]string{"-q"}, append(targets, vars...)...)...); code == 0 {
				t.Errorf("make -q %s = 0 without train.done", tc.name)
			}
			if tc.name == "mnist-mini" {
				out, code := runMake(t, nil, append([]string{tc.name + "-train"}, vars...)...)
				if code != 0 || !strings.Contains(out, "--cont_training") || !strings.Contains(out, "resuming") {
					t.Errorf("make %s-train after removing train.done (exit %d) did not resume:\n%s", tc.name, code, tail(out, 3000))
				}
				mustNonEmpty(t, filepath.Join(exp, "train.done"))
			}
		})
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return string(b)
}

func mustNonEmpty(t *testing.T, p string) {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Errorf("missing output: %v", err)
		return
	}
	if st.Size() == 0 {
		t.Errorf("%s is empty", p)
	}
}

func checkResults(t *testing.T, p, dataset string) {
	t.Helper()
	var r map[string]any
	if err := json.Unmarshal([]byte(readFile(t, p)), &r); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	for _, k := range []string{"nll_nats", "bits_per_dim", "nelbo_nats", "nelbo_bits_per_dim"} {
		v, ok := r[k].(float64)
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
			t.Errorf("%s: %s = %v, want a finite positive number", p, k, r[k])
		}
	}
	// The K-sample bound can exceed a one-sample NELBO by at most log K.
	if nll, nelbo := r["nll_nats"].(float64), r["nelbo_nats"].(float64); nll > nelbo+math.Log(4)+1e-6 {
		t.Errorf("%s: NLL %v above the NELBO %v + log 4", p, nll, nelbo)
	}
	if r["num_iw_samples"] != 4.0 || r["num_images"] != 8.0 || r["dataset"] != dataset {
		t.Errorf("%s: K %v, images %v, dataset %v; want 4, 8, %s", p, r["num_iw_samples"], r["num_images"], r["dataset"], dataset)
	}
}

func checkPNG(t *testing.T, p string) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Errorf("missing output: %v", err)
		return
	}
	defer f.Close()
	m, err := png.Decode(f)
	if err != nil {
		t.Errorf("%s: %v", p, err)
		return
	}
	if b := m.Bounds(); b.Dx() < 28 || b.Dy() < 28 {
		t.Errorf("%s: %v grid is too small for 16 samples", p, b)
	}
}

// checkNPZ checks that p is a NumPy .npz holding mu (2048,) and sigma
// (2048, 2048) float arrays.
func checkNPZ(t *testing.T, p string) {
	t.Helper()
	z, err := zip.OpenReader(p)
	if err != nil {
		t.Errorf("%s: %v", p, err)
		return
	}
	defer z.Close()
	want := map[string]string{"mu.npy": "(2048,)", "sigma.npy": "(2048, 2048)"}
	for _, f := range z.File {
		shape, ok := want[f.Name]
		if !ok {
			continue
		}
		delete(want, f.Name)
		r, err := f.Open()
		if err != nil {
			t.Errorf("%s: %s: %v", p, f.Name, err)
			continue
		}
		head := make([]byte, 128)
		n, _ := r.Read(head)
		r.Close()
		h := string(head[:n])
		if !strings.HasPrefix(h, "\x93NUMPY") || !strings.Contains(h, "'shape': "+shape) || !strings.Contains(h, "'descr': '<f") {
			t.Errorf("%s: %s header %q, want a float array of shape %s", p, f.Name, h, shape)
		}
	}
	for k := range want {
		t.Errorf("%s: no %s", p, k)
	}
}

func checkFIDJSON(t *testing.T, p string) {
	t.Helper()
	var r map[string]any
	if err := json.Unmarshal([]byte(readFile(t, p)), &r); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	v, ok := r["fid"].(float64)
	if !ok || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		t.Errorf("%s: fid = %v, want a finite number ≥ 0", p, r["fid"])
	}
}

// pipelineOf maps the seed README's --dataset names to the make pipelines.
var pipelineOf = map[string]string{"mnist": "mnist", "cifar10": "cifar10", "celeba_64": "celeba64",
	"imagenet_32": "imagenet32", "celeba_256": "celeba256", "ffhq": "ffhq"}

// seedVars are the values make -n is run with and the seed commands are
// expanded with.
func seedVars(dir string) map[string]string {
	return map[string]string{"DATA_DIR": filepath.Join(dir, "data"), "CHECKPOINT_DIR": filepath.Join(dir, "ckpt"),
		"EXPR_ID": "run7", "NODE_RANK": "0", "IP_ADDR": "10.1.2.3"}
}

func varArgs(m map[string]string) []string {
	var a []string
	for k, v := range m {
		a = append(a, k+"="+v)
	}
	slices.Sort(a)
	return a
}

// containsSeq reports whether sub occurs in s as a contiguous run.
func containsSeq(s, sub []string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if slices.Equal(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// TestDryRunSeedFlags checks that make -n <dataset> shows the whole pipeline
// and that its nvae-train command carries the seed README's flags verbatim.
func TestDryRunSeedFlags(t *testing.T) {
	needMake(t)
	if len(nvae.SeedConfigs) != len(pipelineOf) {
		t.Fatalf("seed configs %v, pipelines %v", nvae.SeedConfigs, pipelineOf)
	}
	dir := t.TempDir()
	fakeTools(t, dir)
	vars := seedVars(dir)
	for _, ds := range append(slices.Clone(nvae.SeedConfigs), "lsun_church_64") {
		p := pipelineOf[ds]
		if ds == "lsun_church_64" {
			p = "lsun_church64"
		}
		out, code := runMake(t, nil, append([]string{"-n", p, "NVAE_BIN=" + dir + "/bin", "DEVICE=cuda"}, varArgs(vars)...)...)
		if code != 0 {
			t.Errorf("make -n %s: exit %d\n%s", p, code, out)
			continue
		}
		var trainLine string
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "pipelines/train-step.sh ") {
				trainLine = l
			}
		}
		if trainLine == "" {
			t.Errorf("make -n %s shows no training step:\n%s", p, out)
			continue
		}
		fields := strings.Fields(trainLine)
		exp := vars["CHECKPOINT_DIR"] + "/eval-run7"
		if fields[1] != exp || fields[2] != dir+"/bin/nvae-train" || !strings.HasSuffix(trainLine, " --device cuda") {
			t.Errorf("%s: training step %q, want train-step.sh %s %s/bin/nvae-train ... --device cuda", p, trainLine, exp, dir)
		}
		if seed, ok := nvae.SeedCommands[ds]; ok {
			want := nvae.ExpandSeedCommand(seed, func(k string) string { return vars[k] })
			if !containsSeq(fields, want) {
				t.Errorf("%s: the training command lacks the seed README's flags verbatim\n got: %s\nwant: %s", p, trainLine, strings.Join(want, " "))
			}
		} else if !containsSeq(fields, []string{"--dataset", ds}) {
			t.Errorf("%s: training command %q has no --dataset %s", p, trainLine, ds)
		}
		// The whole chain, in order.
		ck := exp + "/checkpoint.nvae"
		steps := []string{"nvae-prep ", "pipelines/train-step.sh ",
			"nvae-eval --checkpoint " + ck, "--num_iw_samples 1000",
			"nvae-sample --checkpoint " + ck + " --temp 0.6 --readjust_bn",
			"nvae-fid stats --data ", "nvae-fid score --checkpoint " + ck + " --fid_dir " + vars["DATA_DIR"] + "/fid_stats --temp 0.6 --readjust_bn --num_samples 50000", "--out " + exp + "/fid.json",
			"pipelines/results-row.sh " + p + " " + exp + " RESULTS.md"}
		if p == "lsun_church64" {
			steps[0] = "nvae-prep lsun --check"
		}
		at := 0
		for _, s := range steps {
			i := strings.Index(out[at:], s)
			if i < 0 {
				t.Errorf("make -n %s: step %q missing or out of order:\n%s", p, s, out)
				break
			}
			at += i + len(s)
		}
	}
}

// TestMissingDataMessages checks that the prep steps of hand-downloaded
// datasets stop with a message saying what to download and where.
func TestMissingDataMessages(t *testing.T) {
	needMake(t)
	dir := t.TempDir()
	bin := fakeTools(t, t.TempDir())
	for p, want := range map[string]string{
		"celeba64":      "img_align_celeba.zip",
		"imagenet32":    "imagenet-oord-tfr.tar",
		"celeba256":     "celeba-tfr.tar",
		"ffhq":          "images1024x1024",
		"lsun_church64": "church_outdoor_train_lmdb.zip",
	} {
		out, code := runMake(t, nil, p+"-prep", "DATA_DIR="+dir, "NVAE_BIN="+bin)
		if code == 0 || !strings.Contains(out, "downloaded by hand") || !strings.Contains(out, want) || !strings.Contains(out, dir) {
			t.Errorf("make %s-prep without data: exit %d, output:\n%s", p, code, out)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("a failed prep left files behind: %v", ents)
	}
}

// fakeTools creates dir/bin with nvae-* stand-ins that fail when run (for
// make -n and for steps that must stop before calling them) and returns it.
func fakeTools(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"prep", "train", "eval", "sample", "fid"} {
		fakeTool(t, filepath.Join(bin, "nvae-"+b), "echo \"fake nvae-"+b+" must not run\" >&2; exit 9\n")
	}
	return bin
}

// fakeTool writes an executable shell script.
func fakeTool(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// fakeTrain is an nvae-train stand-in: it records its arguments in
// $FAKE_LOG, creates checkpoint.nvae in $FAKE_EXP, and then behaves as
// $FAKE_MODE says: "done" prints the final line, "stopped" exits 0 as after
// SIGUSR1, "fail" exits 3.
const fakeTrain = `echo "$*" >> "$FAKE_LOG"
echo ckpt > "$FAKE_EXP/checkpoint.nvae"
case "$FAKE_MODE" in
done) echo "trained 12 steps; validation NLL 80.000 nats (0.1000 bits/dim), NELBO 81.000; checkpoint x" ;;
stopped) echo "nvae-train: stopped; resume with the same command plus --cont_training" >&2 ;;
fail) echo "nvae-train: broken" >&2; exit 3 ;;
esac
`

// TestTrainStep drives pipelines/train-step.sh with a fake nvae-train: a
// pre-empted run (exit 0 without the final line) leaves no train.done and
// fails; the next run adds --cont_training; a finished run writes
// train.done; a failing run passes its exit code on.
func TestTrainStep(t *testing.T) {
	dir := t.TempDir()
	exp := filepath.Join(dir, "eval-x")
	train := filepath.Join(dir, "nvae-train")
	fakeTool(t, train, fakeTrain)
	log := filepath.Join(dir, "args.log")
	script := filepath.Join(repoRoot(t), "pipelines", "train-step.sh")
	step := func(mode string) (string, int) {
		cmd := exec.Command(script, exp, train, "--data", "d", "--epochs", "3")
		cmd.Env = append(os.Environ(), "FAKE_LOG="+log, "FAKE_EXP="+exp, "FAKE_MODE="+mode)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	done := filepath.Join(exp, "train.done")
	if out, code := step("stopped"); code != 75 || !strings.Contains(out, "run the same make command again") {
		t.Errorf("stopped run: exit %d, output %q; want 75 and a resume hint", code, out)
	}
	if _, err := os.Stat(done); err == nil {
		t.Error("train.done written for a stopped run")
	}
	if out, code := step("fail"); code != 3 {
		t.Errorf("failing run: exit %d (%q), want 3", code, out)
	}
	if out, code := step("done"); code != 0 {
		t.Errorf("finished run: exit %d (%q)", code, out)
	}
	if got := readFile(t, done); !strings.HasPrefix(got, "trained 12 steps;") {
		t.Errorf("train.done = %q", got)
	}
	args := strings.Split(strings.TrimSpace(readFile(t, log)), "\n")
	want := []string{"--data d --epochs 3", "--data d --epochs 3 --cont_training", "--data d --epochs 3 --cont_training"}
	if !slices.Equal(args, want) {
		t.Errorf("nvae-train calls %q, want %q", args, want)
	}
	secs := strings.Fields(readFile(t, filepath.Join(exp, "train.seconds")))
	if len(secs) != 3 {
		t.Errorf("train.seconds has %d entries, want one per attempt (3)", len(secs))
	}
}

// TestResultsRow checks the RESULTS.md row written from results.json and
// fid.json, and that a second pipeline appends below the same header.
func TestResultsRow(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(repoRoot(t), "pipelines", "results-row.sh")
	out := filepath.Join(dir, "RESULTS.md")
	for i, name := range []string{"mnist", "cifar10"} {
		exp := filepath.Join(dir, "eval-"+name)
		if err := os.MkdirAll(filepath.Join(exp, "eval"), 0o755); err != nil {
			t.Fatal(err)
		}
		res := fmt.Sprintf(`{
  "dataset": %q,
  "nll_nats": 78.0123,
  "bits_per_dim": 0.14357,
  "nelbo_nats": 79.5,
  "num_iw_samples": 1000,
  "num_images": 10000,
  "device": "cuda"
}`, name)
		os.WriteFile(filepath.Join(exp, "eval", "results.json"), []byte(res), 0o644)
		os.WriteFile(filepath.Join(exp, "fid.json"), []byte(`{"fid": 5.25e+01, "num_samples": 50000}`), 0o644)
		os.WriteFile(filepath.Join(exp, "train.seconds"), []byte("3600\n1800\n"), 0o644)
		cmd := exec.Command(script, name, exp, out)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("results-row.sh: %v\n%s", err, b)
		}
		table := readFile(t, out)
		if n := strings.Count(table, "| pipeline |"); n != 1 {
			t.Errorf("header appears %d times", n)
		}
		rows := regexp.MustCompile(`(?m)^\| (mnist|cifar10) \|.*$`).FindAllString(table, -1)
		if len(rows) != i+1 {
			t.Fatalf("%d rows after %d pipelines:\n%s", len(rows), i+1, table)
		}
		cells := strings.Split(strings.Trim(rows[i], "| "), " | ")
		if len(cells) != 10 || cells[0] != name || cells[1] != name || cells[2] != "78.01" || cells[3] != "0.1436" ||
			cells[4] != "10000 x 1000" || cells[5] != "52.50" || cells[6] != "1.50" || cells[7] != "cuda" || cells[9] != exp {
			t.Errorf("row %q", rows[i])
		}
		if _, err := strconv.Atoi(strings.ReplaceAll(cells[8], "-", "")); err != nil {
			t.Errorf("date cell %q", cells[8])
		}
		if got := strings.TrimSpace(readFile(t, filepath.Join(exp, "results.row"))); got != rows[i] {
			t.Errorf("results.row %q, table row %q", got, rows[i])
		}
	}
	// A results.json without the numbers is refused.
	exp := filepath.Join(dir, "eval-mnist")
	os.WriteFile(filepath.Join(exp, "eval", "results.json"), []byte(`{"nll_nats": null}`), 0o644)
	if b, err := exec.Command(script, "mnist", exp, out).CombinedOutput(); err == nil || !strings.Contains(string(b), "nll_nats") {
		t.Errorf("results-row.sh accepted a results.json without numbers: %v %s", err, b)
	}
}

// sbatchDirectives returns the #SBATCH options of a job script, in order.
func sbatchDirectives(script string) []string {
	var d []string
	for _, l := range strings.Split(script, "\n") {
		if rest, ok := strings.CutPrefix(l, "#SBATCH "); ok {
			d = append(d, strings.TrimSpace(rest))
		}
	}
	return d
}

// TestSlurmTemplates parses the training templates: the pre-emption
// directives, one task per GPU, the plain statement that the GPU side
// (NCCL, CUDA backend) is missing, and the resume logic; then runs both with
// a fake srun (two tasks) and scontrol through a pre-emption and a resume.
func TestSlurmTemplates(t *testing.T) {
	root := repoRoot(t)
	for _, name := range []string{"train-1node.sbatch", "train-multinode.sbatch", "make-step.sbatch"} {
		p := filepath.Join(root, "pipelines", "slurm", name)
		text := readFile(t, p)
		if !strings.HasPrefix(text, "#!/bin/bash\n") {
			t.Errorf("%s: no bash shebang", name)
		}
		if out, err := exec.Command("bash", "-n", p).CombinedOutput(); err != nil {
			t.Errorf("%s: bash -n: %v %s", name, err, out)
		}
		d := sbatchDirectives(text)
		if !slices.Contains(d, "--requeue") {
			t.Errorf("%s: no #SBATCH --requeue (directives %q)", name, d)
		}
		if name == "make-step.sbatch" {
			if !strings.Contains(text, `make --no-print-directory "$@" SLURM=`) {
				t.Errorf("%s does not run make with SLURM unset", name)
			}
			continue
		}
		if !slices.Contains(d, "--signal=USR1@120") {
			t.Errorf("%s: no #SBATCH --signal=USR1@120 (directives %q)", name, d)
		}
		if !slices.Contains(d, "--gpus-per-node=8") && !slices.Contains(d, "--gres=gpu:8") {
			t.Errorf("%s: no 8-GPU request (directives %q)", name, d)
		}
		nodes := "--nodes=1"
		if name == "train-multinode.sbatch" {
			nodes = "--nodes=3"
		}
		if !slices.Contains(d, nodes) || !slices.Contains(d, "--ntasks-per-node=8") {
			t.Errorf("%s: want %s and --ntasks-per-node=8 (one task per GPU), directives %q", name, nodes, d)
		}
		header := text[:strings.Index(text, "#SBATCH")]
		if !strings.Contains(header, "NOT YET RUN ON REAL GPUS") || !strings.Contains(header, "no\n# multi-GPU figure is claimed") && !strings.Contains(header, "no multi-GPU figure is claimed") {
			t.Errorf("%s: the header does not say that data-parallel training has not run on real GPUs", name)
		}
		if !regexp.MustCompile(`if \[ -f "\$exp/checkpoint\.nvae" \]; then\n[^\n]*\n\s*cmd\+=\(--cont_training\)`).MatchString(text) {
			t.Errorf("%s: no resume logic (--cont_training when checkpoint.nvae exists)", name)
		}
		if !strings.Contains(text, `scontrol requeue "$SLURM_JOB_ID"`) || !strings.Contains(text, "'^trained [0-9][0-9]* steps'") {
			t.Errorf("%s: no requeue of a stopped run / no completion check", name)
		}
	}

	// Run both training templates as Slurm would, with fake srun/scontrol.
	for _, name := range []string{"train-1node.sbatch", "train-multinode.sbatch"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			fake := filepath.Join(dir, "bin")
			os.Mkdir(fake, 0o755)
			// srun records its options and runs the command as two tasks;
			// task 1 logs to FAKE_LOG.1 and, like a rank > 0, prints nothing.
			fakeTool(t, filepath.Join(fake, "srun"), `opts=
while [ $# -gt 0 ]; do case "$1" in --*) opts="$opts $1"; shift ;; *) break ;; esac; done
echo "$opts" >> "$FAKE_SRUN"
SLURM_PROCID=1 SLURM_LOCALID=1 SLURM_NTASKS=2 FAKE_LOG="$FAKE_LOG.1" "$@" >/dev/null 2>&1 || exit $?
SLURM_PROCID=0 SLURM_LOCALID=0 SLURM_NTASKS=2 exec "$@"
`)
			fakeTool(t, filepath.Join(fake, "scontrol"), `echo "$*" >> "$FAKE_SCONTROL"
[ "$1" = show ] && printf 'gpu-a1\ngpu-a2\ngpu-a3\n'
exit 0
`)
			train := filepath.Join(dir, "nvae-train")
			fakeTool(t, train, fakeTrain)
			exp := filepath.Join(dir, "eval-x")
			log := filepath.Join(dir, "args.log")
			sc := filepath.Join(dir, "scontrol.log")
			job := func(mode string) (string, error) {
				cmd := exec.Command("bash", filepath.Join(root, "pipelines", "slurm", name), exp, train, "--epochs", "3")
				cmd.Env = append(os.Environ(), "PATH="+fake+":"+os.Getenv("PATH"), "SLURM_JOB_ID=4242",
					"SLURM_JOB_NODELIST=gpu-a[1-3]", "FAKE_LOG="+log, "FAKE_EXP="+exp, "FAKE_MODE="+mode, "FAKE_SCONTROL="+sc,
					"FAKE_SRUN="+filepath.Join(dir, "srun.log"))
				b, err := cmd.CombinedOutput()
				return string(b), err
			}
			if out, err := job("stopped"); err != nil {
				t.Fatalf("stopped run: %v\n%s", err, out)
			}
			if got := readFile(t, sc); !strings.Contains(got, "requeue 4242") {
				t.Errorf("a stopped run was not requeued; scontrol calls %q", got)
			}
			if _, err := os.Stat(filepath.Join(exp, "train.done")); err == nil {
				t.Error("train.done after a stopped run")
			}
			if out, err := job("done"); err != nil {
				t.Fatalf("resumed run: %v\n%s", err, out)
			}
			mustNonEmpty(t, filepath.Join(exp, "train.done"))
			out, err := job("done") // finished: nothing runs
			if err != nil || !strings.Contains(out, "already finished") {
				t.Errorf("job after train.done: %v %s", err, out)
			}
			want := []string{"--epochs 3", "--epochs 3 --cont_training"}
			for _, l := range []string{log, log + ".1"} {
				if args := strings.Split(strings.TrimSpace(readFile(t, l)), "\n"); !slices.Equal(args, want) {
					t.Errorf("nvae-train calls of %s %q, want %q", filepath.Base(l), args, want)
				}
			}
			for _, o := range strings.Split(strings.TrimSpace(readFile(t, filepath.Join(dir, "srun.log"))), "\n") {
				if strings.TrimSpace(o) != "--mpi=pmix --kill-on-bad-exit=1" {
					t.Errorf("srun options %q, want --mpi=pmix --kill-on-bad-exit=1 (the job's tasks, one per GPU)", o)
				}
			}
			if n := strings.Count(readFile(t, sc), "requeue"); n != 1 {
				t.Errorf("%d requeues, want 1", n)
			}
		})
	}
}

// TestSlurmSubmit runs make <dataset> SLURM=1 with a fake sbatch that records
// its arguments: three jobs chained with afterok dependencies, the training
// job with the seed flags and the right template.
func TestSlurmSubmit(t *testing.T) {
	needMake(t)
	dir := t.TempDir()
	fakeTools(t, dir)
	fake := filepath.Join(dir, "sb")
	os.Mkdir(fake, 0o755)
	calls := filepath.Join(dir, "sbatch.log")
	fakeTool(t, filepath.Join(fake, "sbatch"), `n=$(( $(cat "$FAKE_N" 2>/dev/null || echo 1000) + 1 ))
echo $n > "$FAKE_N"
printf '%s\n' "$*" >> "$FAKE_CALLS"
echo "Submitted batch job $n"
`)
	vars := seedVars(dir)
	// the seed's 2-GPU MNIST run and its 24-GPU (3 nodes x 8) CelebA-HQ 256 run
	for _, tc := range []struct {
		ds, nodes, gpus, template string
	}{{"mnist", "1", "2", "train-1node.sbatch"}, {"celeba_256", "3", "8", "train-multinode.sbatch"}} {
		os.Remove(calls)
		p := pipelineOf[tc.ds]
		env := []string{"PATH=" + fake + ":" + os.Getenv("PATH"), "FAKE_CALLS=" + calls, "FAKE_N=" + filepath.Join(dir, "n")}
		out, code := runMake(t, env, append([]string{p, "SLURM=1", "NODES=" + tc.nodes, "GPUS_PER_NODE=" + tc.gpus, "SBATCH_ARGS=--partition=gpu", "NVAE_BIN=" + dir + "/bin"}, varArgs(vars)...)...)
		if code != 0 {
			t.Fatalf("make %s SLURM=1: exit %d\n%s", p, code, out)
		}
		lines := strings.Split(strings.TrimSpace(readFile(t, calls)), "\n")
		if len(lines) != 3 {
			t.Fatalf("%d sbatch calls, want 3:\n%s", len(lines), strings.Join(lines, "\n"))
		}
		ids := regexp.MustCompile(`Submitted batch job (\d+)`).FindAllStringSubmatch(out, -1)
		if len(ids) != 3 {
			t.Fatalf("make output lacks the three job ids:\n%s", out)
		}
		exp := vars["CHECKPOINT_DIR"] + "/eval-run7"
		prep, train, post := strings.Fields(lines[0]), strings.Fields(lines[1]), strings.Fields(lines[2])
		for i, c := range [][]string{prep, train, post} {
			if c[0] != "--partition=gpu" || !slices.Contains(c, "--output="+exp+"/slurm-%x-%j.out") {
				t.Errorf("call %d lacks SBATCH_ARGS or the log path: %q", i, c)
			}
		}
		if !slices.Contains(prep, "pipelines/slurm/make-step.sbatch") || !slices.Contains(prep, p+"-prep") ||
			!slices.Contains(prep, "DATA_DIR="+vars["DATA_DIR"]) || slices.ContainsFunc(prep, func(s string) bool { return strings.HasPrefix(s, "--dependency") }) {
			t.Errorf("prep job %q", prep)
		}
		if !slices.Contains(train, "--dependency=afterok:"+ids[0][1]) || !slices.Contains(train, "pipelines/slurm/"+tc.template) ||
			!slices.Contains(train, "--nodes="+tc.nodes) || !slices.Contains(train, "--gpus-per-node="+tc.gpus) || !slices.Contains(train, "--ntasks-per-node="+tc.gpus) {
			t.Errorf("train job %q", train)
		}
		if !containsSeq(train, nvae.ExpandSeedCommand(nvae.SeedCommands[tc.ds], func(k string) string { return vars[k] })) {
			t.Errorf("train job lacks the seed flags: %q", train)
		}
		if i := slices.Index(train, "pipelines/slurm/"+tc.template); i < 0 || i+2 >= len(train) || train[i+1] != exp || train[i+2] != dir+"/bin/nvae-train" {
			t.Errorf("train job arguments %q, want TEMPLATE %s %s/bin/nvae-train ...", train, exp, dir)
		}
		if !slices.Contains(post, "--dependency=afterok:"+ids[1][1]) || !slices.Contains(post, "pipelines/slurm/make-step.sbatch") ||
			!slices.Contains(post, p) || !slices.Contains(post, "EXPR_ID=run7") || !slices.Contains(post, "--gpus-per-node=1") {
			t.Errorf("eval job %q", post)
		}
	}
}

// TestCUDAEmuPipeline is the end-to-end run of the CUDA backend on the
// emulated GPU: make mnist-mini with DEVICE=cuda-emu (training, IW
// evaluation, sampling, FID statistics and score), then --cont_training
// on the emulated GPU and once more on the CPU (checkpoints are
// interchangeable), then the final checkpoint evaluated on both devices:
// the same NLL within float32 tolerance.
func TestCUDAEmuPipeline(t *testing.T) {
	needMake(t)
	if testing.Short() {
		t.Skip("trains a small model on the emulated GPU")
	}
	bin := tools(t)
	dir := t.TempDir()
	vars := func(device string, steps int) []string {
		return []string{"NVAE_BIN=" + bin, "MINI_DIR=" + dir, "DEVICE=" + device, fmt.Sprintf("MINI_STEPS=%d", steps), "MINI_FID_IMAGES=2"}
	}
	out, code := runMake(t, nil, append([]string{"mnist-mini"}, vars("cuda-emu", 2)...)...)
	if code != 0 {
		t.Fatalf("make mnist-mini DEVICE=cuda-emu failed (exit %d):\n%s", code, tail(out, 4000))
	}
	exp := filepath.Join(dir, "checkpoints", "eval-mnist-mini")
	ckpt := filepath.Join(exp, "checkpoint.nvae")
	mustNonEmpty(t, ckpt)
	checkResults(t, filepath.Join(exp, "eval", "results.json"), "mnist")
	checkPNG(t, filepath.Join(exp, "samples", "samples_t0.60.png"))
	checkNPZ(t, filepath.Join(dir, "fid_stats", "mnist.npz"))
	checkFIDJSON(t, filepath.Join(exp, "fid.json"))
	if !strings.Contains(readFile(t, filepath.Join(exp, "log.txt")), "cuda-emu") {
		t.Errorf("log.txt does not name the cuda-emu device")
	}

	// --cont_training on the emulated GPU, then on the CPU.
	for i, device := range []string{"cuda-emu", "cpu"} {
		if err := os.Remove(filepath.Join(exp, "train.done")); err != nil {
			t.Fatal(err)
		}
		out, code := runMake(t, nil, append([]string{"mnist-mini-train"}, vars(device, 3+i)...)...)
		if code != 0 || !strings.Contains(out, "--cont_training") || !strings.Contains(out, "resuming") {
			t.Fatalf("make mnist-mini-train DEVICE=%s after removing train.done (exit %d) did not resume:\n%s", device, code, tail(out, 3000))
		}
		if done := readFile(t, filepath.Join(exp, "train.done")); !strings.HasPrefix(done, fmt.Sprintf("trained %d steps;", 3+i)) {
			t.Errorf("after resuming on %s: train.done = %q, want %d steps", device, done, 3+i)
		}
	}

	// The same checkpoint evaluated on both devices.
	nll := map[string]float64{}
	for _, device := range []string{"cuda-emu", "cpu"} {
		od := filepath.Join(dir, "eval-"+device)
		cmd := exec.Command(filepath.Join(bin, "nvae-eval"), "--checkpoint", ckpt, "--data", filepath.Join(dir, "data", "mnist"),
			"--num_iw_samples", "4", "--max_images", "8", "--batch_size", "8", "--device", device, "--out", od)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nvae-eval --device %s: %v\n%s", device, err, tail(string(b), 3000))
		}
		var r struct {
			NLL float64 `json:"nll_nats"`
		}
		if err := json.Unmarshal([]byte(readFile(t, filepath.Join(od, "results.json"))), &r); err != nil {
			t.Fatal(err)
		}
		nll[device] = r.NLL
	}
	// float32 evaluation of the same weights with the same Philox noise:
	// only the order of float32 sums differs.
	if d := math.Abs(nll["cuda-emu"]-nll["cpu"]) / math.Abs(nll["cpu"]); !(d <= 1e-4) {
		t.Errorf("NLL of one checkpoint: cuda-emu %.6f, cpu %.6f nats: relative difference %.3g > 1e-4", nll["cuda-emu"], nll["cpu"], d)
	} else {
		t.Logf("NLL of one checkpoint: cuda-emu %.6f, cpu %.6f nats (relative difference %.2g)", nll["cuda-emu"], nll["cpu"], d)
	}
}
