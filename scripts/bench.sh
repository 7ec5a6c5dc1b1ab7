#!/usr/bin/env bash
# make bench: CPU kernel rates, training-step timings of the ANCHORS.md CPU
# configurations, and data-pipeline throughput, printed as tables beside the
# official figures. BENCH_QUICK=1 shortens every run.
set -euo pipefail
cd "$(dirname "$0")/.."
bt=${BENCH_TIME:-3x}
steps=${BENCH_STEPS:-10}
[ -n "${BENCH_QUICK:-}" ] && { bt=1x; steps=3; }
make -s build >/dev/null

calc() { awk "BEGIN { print $* }"; }

metric() { # file benchmark-name-regex unit → value
  awk -v re="$2" -v unit="$3" '$1 ~ re { for (i = 2; i < NF; i++) if ($(i+1) == unit) { print $i; exit } }' "$1"
}

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
go test -run '^$' -bench 'Sgemm1024$' -benchtime "$bt" ./pkg/gemm > "$tmp/gemm" 2>&1 || true
go test -run '^$' -bench 'Conv3x3_64|Depthwise5x5_384_f|Conv1x1_64_384' -benchtime "$bt" ./pkg/conv > "$tmp/conv" 2>&1 || true

echo "## CPU kernels ($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
echo
echo "| kernel | forward GFLOP/s | fwd + both backwards GFLOP/s | PyTorch fwd | PyTorch fwd+bwd |"
echo "|---|---|---|---|---|"
printf '| GEMM 1024x1024x1024 | %s | | 41.5 | |\n' "$(metric "$tmp/gemm" 'Sgemm1024' GFLOP/s)"
printf '| conv 3x3 64→64, 16x32x32 | %s | %s | 165 | 169 |\n' "$(metric "$tmp/conv" 'Conv3x3_64_fwd-' GFLOP/s)" "$(metric "$tmp/conv" 'Conv3x3_64_fwdbwd' GFLOP/s)"
printf '| depthwise 5x5, 384 ch, 16x16x16 | %s | %s | 9.9 | 6.7 |\n' "$(metric "$tmp/conv" 'Depthwise5x5_384_fwd-' GFLOP/s)" "$(metric "$tmp/conv" 'Depthwise5x5_384_fwdbwd' GFLOP/s)"
printf '| conv 1x1 64→384, 16x16x16 | %s | %s | 159 | 152 |\n' "$(metric "$tmp/conv" 'Conv1x1_64_384_fwd-' GFLOP/s)" "$(metric "$tmp/conv" 'Conv1x1_64_384_fwdbwd' GFLOP/s)"
echo

small="--num_channels_enc 16 --num_channels_dec 16 --num_latent_scales 2 --num_groups_per_scale 4 --ada_groups --num_latent_per_group 20 --weight_decay_norm 1e-2 --use_se --res_dist --fast_adamax"
mnist_small="--dataset mnist --batch_size 32 $small --num_preprocess_blocks 2 --num_preprocess_cells 2 --num_postprocess_blocks 2 --num_postprocess_cells 2 --num_cell_per_cond_enc 1 --num_cell_per_cond_dec 1 --num_nf 0"
cifar_small="--dataset cifar10 --batch_size 8 $small --num_preprocess_blocks 1 --num_preprocess_cells 2 --num_postprocess_blocks 1 --num_postprocess_cells 2 --num_cell_per_cond_enc 2 --num_cell_per_cond_dec 2 --num_nf 1"
echo "## Training step on CPU (synthetic data, median of $steps after 3 warm-up)"
echo
echo "| config | params | step ms | img/s | sample ms | eval fwd ms | official step ms | official img/s | speed-up |"
echo "|---|---|---|---|---|---|---|---|---|"
for c in mnist_small cifar_small; do
  flags=${!c}
  j=$(bin/nvae-train --device cpu --benchmark "$steps" $flags)
  get() { echo "$j" | sed -n "s/.*\"$1\":\([0-9.e+-]*\).*/\1/p"; }
  off_ms=672; off_ips=47.6; [ $c = cifar_small ] && { off_ms=418; off_ips=19.2; }
  printf '| %s | %.2f M | %.0f | %.1f | %.0f | %.0f | %s | %s | %.2fx |\n' $c "$(calc "$(get params)/1000000")" \
    "$(get step_ms_median)" "$(get images_per_s)" "$(get sample_ms)" "$(get eval_fwd_ms)" $off_ms $off_ips \
    "$(calc "$off_ms/$(get step_ms_median)")"
done
echo

go test -run '^$' -bench 'Inception' -benchtime "${bt/10x/3x}" ./pkg/fid > "$tmp/incep" 2>&1 || true
echo "## FID Inception-v3 on CPU (float32, batch 8 at 299x299)"
echo
echo "| | images/s | ms/image |"
echo "|---|---|---|"
printf '| nvae-go | %s | %s |\n' "$(metric "$tmp/incep" Inception images/s)" "$(metric "$tmp/incep" Inception ms/image)"
echo "| official (PyTorch, 2 threads) | 8.5 | 118 |"
echo

if [ -z "${BENCH_QUICK:-}" ]; then
  go test -run '^$' -bench 'LoaderCelebA64' -benchtime 200x ./pkg/data > "$tmp/loader" 2>&1 || true
  NVAE_BENCH_FFHQ_N=${BENCH_FFHQ_N:-2000} go test -run '^$' -bench 'FFHQConvert' -benchtime 1x -timeout 60m ./prep > "$tmp/ffhq" 2>&1 || true
  echo "## Data"
  echo
  echo "| what | rate |"
  echo "|---|---|"
  printf '| FFHQ-style conversion, %s generated 1024² PNGs → 256² LMDB | %s images/s |\n' "${BENCH_FFHQ_N:-2000}" "$(metric "$tmp/ffhq" FFHQConvert images/s)"
  printf '| loader celeba_64, batch 16, all cores | %s batches/s |\n' "$(metric "$tmp/loader" LoaderCelebA64 batches/s)"
fi
