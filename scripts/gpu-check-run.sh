#!/usr/bin/env bash
# run.sh OUTDIR: on a GPU machine (no Go needed), run what `make gpu-check`
# prebuilt on the real device, within about 8 minutes:
#   1. pkg/cuda's tests (driver, NVRTC, cuBLAS, cuDNN, NCCL, graphs);
#   2. the CUDA backend's conformance suite (every op, forward and backward);
#   3. the oracle: every case of testdata/nvae on the GPU in float32, TF32 off;
#   4. bench-gpu's five seed configurations (nvae-train --benchmark, short);
#   5. a one-rank NCCL training run on the carried MNIST.
# It writes OUTDIR/results.md (one table), OUTDIR/results.json, the raw logs,
# nvidia-smi and nvae-train --device_info. GPU_CHECK_BENCH_STEPS (default 5)
# sets the benchmark steps.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: run.sh OUTDIR}"
mkdir -p "$out/bench"
out="$(cd "$out" && pwd)"
# GPU_CHECK_DEVICE=cuda-emu rehearses the script on the emulated GPU (slow).
dev="${GPU_CHECK_DEVICE:-cuda}"
if [ "$dev" = cuda ]; then export NVAE_CUDA_DEVICE=cuda; else unset NVAE_CUDA_DEVICE; fi
export NVAE_CUDA_CACHE="$out/kernel-cache"
export NVAE_ORACLE_DIR="$here/testdata/nvae"
# NVAE_CUDA_LIB_PATH may point at the CUDA libraries if they are not in the usual places.
steps="${GPU_CHECK_BENCH_STEPS:-5}"
start=$(date +%s)

command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >"$out/nvidia-smi.txt" 2>&1
"$here/bin/nvae-train" --device "$dev" --device_info >"$out/device_info.txt" 2>&1
echo "== device info"; cat "$out/device_info.txt"

declare -a rows
status=0
# step NAME LIMIT CMD...: run one part with a time limit; record its row.
step() {
  local name=$1 limit=$2; shift 2
  local t0=$(date +%s) rc
  echo "== $name"
  ( cd "$here/tests" && timeout "$limit" "$@" ) >"$out/$name.log" 2>&1
  rc=$?
  local secs=$(( $(date +%s) - t0 ))
  local res=PASS; [ $rc -eq 0 ] || { res="FAIL (exit $rc)"; status=1; }
  local counts=""
  if grep -q -- '--- ' "$out/$name.log"; then
    counts="$(grep -c -- '--- PASS' "$out/$name.log") passed, $(grep -c -- '--- FAIL' "$out/$name.log") failed, $(grep -c -- '--- SKIP' "$out/$name.log") skipped"
  fi
  rows+=("| $name | $res | $counts | $secs |")
  [ $rc -eq 0 ] || { grep -B2 -A30 -- '--- FAIL' "$out/$name.log" | head -120; tail -20 "$out/$name.log"; }
}

step cuda-library 150 ./cuda.test -test.v -test.count=1 -test.timeout 140s
step backend-conformance 90 ./backend-cuda.test -test.v -test.count=1 -test.timeout 80s
step oracle 90 ./nvae.test -test.v -test.count=1 -test.run "TestOracle/^$dev\$" -test.timeout 80s
while read -r cfg args; do
  [ -n "$cfg" ] || continue
  step "bench-$cfg" 90 sh -c "\"$here/bin/nvae-train\" --device $dev --benchmark $steps --benchmark_warmup 2 $args > \"$out/bench/$cfg.json\""
done < "$here/bench-configs.txt"
# One rank over the NCCL engine (the official launcher's path on one GPU):
# 20 steps of a small model on the carried MNIST.
step nccl-one-rank 120 sh -c "\"$here/bin/nvae-train\" --device $dev --dist_engine nccl --dataset mnist --data \"$here/data\" \
  --root \"$out/nccl\" --save one-rank --batch_size 8 --epochs 1 --warmup_epochs 0 --learning_rate 1e-2 --kl_const_coeff 1 \
  --num_channels_enc 8 --num_channels_dec 8 --num_latent_scales 2 --num_groups_per_scale 2 --num_latent_per_group 4 --ada_groups \
  --min_groups_per_scale 1 --use_se --res_dist --num_nf 0 --num_preprocess_blocks 1 --num_preprocess_cells 2 \
  --num_postprocess_blocks 1 --num_postprocess_cells 2 --num_cell_per_cond_enc 1 --num_cell_per_cond_dec 1 \
  --weight_decay_norm 1e-2 --fast_adamax --seed 5 --workers 2 --log_every 5 --max_steps 20 --max_valid_batches 1 \
  --num_iw_samples_valid 2 --num_iw_samples_final 2 2>&1 | tee \"$out/nccl.log\" && grep -q 'engine nccl (NCCL .*collectives on the device' \"$out/nccl.log\" && grep -q '^trained 20 steps' \"$out/nccl.log\""
"$here/bench-gpu-table.sh" "$out/bench" >"$out/bench-table.log" 2>&1 || status=1

secs=$(( $(date +%s) - start ))
{
  echo "GPU: $(grep -m1 -i 'name' "$out/device_info.txt" | sed 's/^[^:]*: *//')"
  echo
  echo "| part | result | tests | seconds |"
  echo "|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "### bench-gpu ($steps steps after 2 warm-up; real GPU)"
  echo
  cat "$out/bench/bench-gpu.md" 2>/dev/null || echo "(no benchmark table: see bench-table.log)"
  echo
  echo "exit $status after $secs s"
} > "$out/results.md"
{
  printf '{"exit": %d, "seconds": %d, "parts": [' "$status" "$secs"
  sep=""
  for r in "${rows[@]}"; do
    IFS='|' read -r _ name res counts s _ <<<"$r"
    printf '%s{"part": "%s", "result": "%s", "tests": "%s", "seconds": %s}' "$sep" "$(echo $name)" "$(echo $res)" "$(echo $counts)" "$(echo $s)"
    sep=", "
  done
  printf '], "bench": %s}\n' "$(cat "$out/bench/bench-gpu.json" 2>/dev/null || echo null)"
} > "$out/results.json"
echo "== results ($out)"; cat "$out/results.md"
exit "$status"
