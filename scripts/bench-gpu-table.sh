#!/usr/bin/env bash
# bench-gpu-table.sh DIR: the table of make bench-gpu from DIR/<config>.json
# (nvae-train --benchmark output), beside the official implementation's
# figures for one H100 at the same per-GPU batch with AMP (docs/anchors.md).
# No ratio is computed: the official figures come from another run. Writes
# DIR/bench-gpu.md and DIR/bench-gpu.json; a missing figure fails. Needs only
# bash and grep (GPU machines may lack Go and Python).
set -euo pipefail
dir="${1:?usage: bench-gpu-table.sh DIR}"
official() { case "$1" in mnist) echo 381;; cifar10) echo 27.4;; celeba64) echo 13.5;; imagenet32) echo 24.7;; celeba256) echo 2.3;; esac; }
# field FILE KEY: a number from the one-line JSON, or the script fails.
field() {
  local v
  v=$(grep -o "\"$2\": *[-0-9.eE+]*" "$1" | head -1 | sed 's/.*: *//')
  [ -n "$v" ] || { echo "bench-gpu: no $2 in $1" >&2; exit 1; }
  echo "$v"
}
md="$dir/bench-gpu.md"
{
  echo "| config | batch | img/s | median step ms | device peak GiB | samples/s | IW-eval img/s (K) | official H100 img/s (AMP, docs/anchors.md) |"
  echo "|---|---|---|---|---|---|---|---|"
} > "$md"
json="["
for c in mnist cifar10 celeba64 imagenet32 celeba256; do
  f="$dir/$c.json"
  [ -s "$f" ] || { echo "bench-gpu: no result for $c ($f)" >&2; exit 1; }
  printf '| %s | %s | %.1f | %.1f | %.2f | %.1f | %.1f (%s) | %s |\n' "$c" "$(field "$f" batch)" "$(field "$f" images_per_s)" \
    "$(field "$f" step_ms_median)" "$(grep -q device_peak_gib "$f" && field "$f" device_peak_gib || echo 0)" \
    "$(field "$f" samples_per_s)" "$(field "$f" iw_eval_images_per_s)" "$(field "$f" iw_k)" "$(official "$c")" >> "$md"
  [ "$json" = "[" ] || json+=", "
  json+="{\"config\": \"$c\", \"official_h100_img_per_s\": $(official "$c"), \"result\": $(tr -d '\n' < "$f")}"
done
echo "$json]" > "$dir/bench-gpu.json"
cat "$md"
