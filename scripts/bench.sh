#!/usr/bin/env bash
# make bench: CPU kernel rates, training-step / sampling / evaluation timings
# of the two small CPU configurations of docs/anchors.md, the Fréchet distance
# at the FID size, FID Inception throughput and data-pipeline rates, measured
# here in one run and printed as tables. Reference figures of the official
# code are printed separately, labelled with their source; no ratio against
# them is computed (they come from another run, possibly another machine). A
# benchmark that fails or prints no figure fails the script. BENCH_QUICK=1
# shortens every run.
set -euo pipefail
cd "$(dirname "$0")/.."
bt=${BENCH_TIME:-3x}
steps=${BENCH_STEPS:-10}
[ -n "${BENCH_QUICK:-}" ] && { bt=1x; steps=3; }
make -s build >/dev/null

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

die() { echo "bench: $*" >&2; exit 1; }

calc() { awk "BEGIN { print $* }"; }

# gobench OUT ARGS...: go test -bench ..., failing the script on error.
gobench() {
  local out=$1; shift
  go test -run '^$' "$@" > "$out" 2>&1 || { cat "$out" >&2; die "go test $* failed"; }
}

# metric FILE BENCHMARK-REGEX UNIT: the value, or the script fails.
metric() {
  local v
  v=$(awk -v re="$2" -v unit="$3" '$1 ~ re { for (i = 2; i < NF; i++) if ($(i+1) == unit) { print $i; exit } }' "$1")
  [ -n "$v" ] || { cat "$1" >&2; die "no $3 figure for $2 in $(basename "$1")"; }
  echo "$v"
}

gobench "$tmp/gemm" -bench 'Sgemm1024$' -benchtime "$bt" ./pkg/gemm
gobench "$tmp/conv" -bench 'Conv3x3_64|Depthwise5x5_384_f|Conv1x1_64_384' -benchtime "$bt" ./pkg/conv

echo "## CPU kernels ($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
echo
echo "| kernel | forward GFLOP/s | fwd + both backwards GFLOP/s |"
echo "|---|---|---|"
printf '| GEMM 1024x1024x1024 | %s | |\n' "$(metric "$tmp/gemm" 'Sgemm1024' GFLOP/s)"
printf '| conv 3x3 64→64, 16x32x32 | %s | %s |\n' "$(metric "$tmp/conv" 'Conv3x3_64_fwd-' GFLOP/s)" "$(metric "$tmp/conv" 'Conv3x3_64_fwdbwd' GFLOP/s)"
printf '| depthwise 5x5, 384 ch, 16x16x16 | %s | %s |\n' "$(metric "$tmp/conv" 'Depthwise5x5_384_fwd-' GFLOP/s)" "$(metric "$tmp/conv" 'Depthwise5x5_384_fwdbwd' GFLOP/s)"
printf '| conv 1x1 64→384, 16x16x16 | %s | %s |\n' "$(metric "$tmp/conv" 'Conv1x1_64_384_fwd-' GFLOP/s)" "$(metric "$tmp/conv" 'Conv1x1_64_384_fwdbwd' GFLOP/s)"
echo

. scripts/small-configs.sh # small, mnist_small, cifar_small
echo "## Training step and inference on CPU (synthetic data; step: median of $steps after 3 warm-up; sample and eval forward: median of 3 after 1 warm-up)"
echo
echo "| config | params | step ms | img/s | sample ms | eval fwd ms |"
echo "|---|---|---|---|---|---|"
for c in mnist_small cifar_small; do
  flags=${!c}
  j=$(bin/nvae-train --device cpu --benchmark "$steps" $flags) || die "nvae-train --benchmark $c failed"
  get() {
    local v; v=$(echo "$j" | sed -n "s/.*\"$1\":\([0-9.e+-]*\).*/\1/p")
    [ -n "$v" ] || die "nvae-train --benchmark $c printed no $1: $j"
    echo "$v"
  }
  printf '| %s | %.2f M | %.0f | %.1f | %.0f | %.0f |\n' $c "$(calc "$(get params)/1000000")" \
    "$(get step_ms_median)" "$(get images_per_s)" "$(get sample_ms)" "$(get eval_fwd_ms)"
done
echo
gobench "$tmp/frechet" -bench 'Frechet2048' -benchtime 1x ./pkg/fid
echo "## Fréchet distance, two full-rank 2048-d statistics (the FID size)"
echo
echo "| | seconds |"
echo "|---|---|"
printf '| nvae-go (fid.FrechetDistance) | %s |\n' "$(metric "$tmp/frechet" 'Frechet2048' s/op)"
# scipy (Debian's python3-scipy) as a same-run reference when installed; not a dependency.
if /usr/bin/python3 -c 'import scipy' 2>/dev/null; then
  ref=$(/usr/bin/python3 - <<'PY' 2>/dev/null || true
import time, numpy as np
from scipy import linalg
d, n = 2048, 3000
def cov(seed):
    x = np.random.default_rng(seed).standard_normal((n, d)) * (1 + np.arange(d) / d)
    return np.cov(x, rowvar=False)
s1, s2 = cov(1), cov(2)
t0 = time.time()
covmean, _ = linalg.sqrtm(s1.dot(s2), disp=False)  # pytorch-fid's path
tr = np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real)
print("%.2f" % (time.time() - t0))
PY
)
  [ -n "$ref" ] && printf '| scipy %s sqrtm path (pytorch-fid formula), measured by this run | %s |\n' "$(/usr/bin/python3 -c 'import scipy; print(scipy.__version__)')" "$ref"
fi
echo

gobench "$tmp/incep" -bench 'Inception' -benchtime "${bt/10x/3x}" ./pkg/fid
echo "## FID Inception-v3 on CPU (float32, batch 8 at 299x299)"
echo
echo "| | images/s | ms/image |"
echo "|---|---|---|"
printf '| nvae-go | %s | %s |\n' "$(metric "$tmp/incep" Inception images/s)" "$(metric "$tmp/incep" Inception ms/image)"
echo

if [ -z "${BENCH_QUICK:-}" ]; then
  gobench "$tmp/loader" -bench 'LoaderCelebA64' -benchtime 200x ./pkg/data
  NVAE_BENCH_FFHQ_N=${BENCH_FFHQ_N:-2000} gobench "$tmp/ffhq" -bench 'FFHQConvert' -benchtime 1x -timeout 60m ./prep
  echo "## Data"
  echo
  echo "| what | rate |"
  echo "|---|---|"
  printf '| FFHQ-style conversion, %s generated 1024² PNGs → 256² LMDB | %s images/s |\n' "${BENCH_FFHQ_N:-2000}" "$(metric "$tmp/ffhq" FFHQConvert images/s)"
  printf '| loader celeba_64, batch 16, all cores | %s batches/s |\n' "$(metric "$tmp/loader" LoaderCelebA64 batches/s)"
  echo
fi

cat <<'REF'
## Reference figures, not measured in this run

Source: docs/anchors.md, "CPU" — the official code with Debian's PyTorch 1.13 (2 threads,
float32) on a 2-core machine of the kind CI uses (kernels 2026-11-27; model timings and scipy
2026-12-02, medians of 10; absolute times move by ±20% between runs on shared machines); FID
Inception from testdata/oracle/fid/README.md section 7. Compare only with figures measured on
the same machine in one run.

| what | official figure |
|---|---|
| GEMM 1024³ forward | 41.5 GFLOP/s |
| conv 3x3 64→64, 16x32x32 fwd / fwd+bwd | 165 / 169 GFLOP/s |
| depthwise 5x5, 384 ch fwd / fwd+bwd | 9.9 / 6.7 GFLOP/s |
| conv 1x1 64→384 fwd / fwd+bwd | 159 / 152 GFLOP/s |
| mnist_small step / sample / eval fwd (batch 32) | 776–792 / 56 / 91 ms |
| cifar_small step / sample / eval fwd (batch 8) | 359 / 32 / 77 ms |
| Fréchet distance, 2048-d full rank, scipy sqrtm path | 5.1 s |
| FID Inception forward, batch 8 at 299² | 118 ms/image (8.5 images/s) |
REF
