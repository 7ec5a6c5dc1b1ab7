#!/usr/bin/env bash
# run.sh OUTDIR: run the pkg/cuda test suite, prebuilt by `make gpu-check`,
# on this machine's real GPU (no Go needed), and write OUTDIR/results.md (a
# table), OUTDIR/results.json, the raw log and nvae-train --device_info.
# Budget: the tests are given 240 s.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: run.sh OUTDIR}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
export NVAE_CUDA_DEVICE=cuda
export NVAE_CUDA_CACHE="$out/kernel-cache"
# NVAE_CUDA_LIB_PATH may point at the CUDA libraries if they are not in the usual places.

command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >"$out/nvidia-smi.txt" 2>&1
"$here/bin/nvae-train" --device cuda --device_info >"$out/device_info.txt" 2>&1
echo "== device info"; cat "$out/device_info.txt"

start=$(date +%s)
cd "$here/tests"  # the tests' working directory
timeout 240 ./cuda.test -test.v -test.count=1 -test.timeout 230s >"$out/cuda-test.log" 2>&1
rc=$?
secs=$(( $(date +%s) - start ))

# Table and JSON from the -test.v lines: "--- PASS: Name (0.12s)".
awk -v rc="$rc" -v secs="$secs" -v md="$out/results.md" -v js="$out/results.json" '
  /^ *--- (PASS|FAIL|SKIP): / {
    st=$2; sub(":", "", st); name=$3; t=$4; gsub(/[()s]/, "", t)
    n++; names[n]=name; stat[n]=st; tm[n]=t; cnt[st]++
  }
  END {
    print "| test | result | seconds |" > md
    print "|---|---|---|" > md
    for (i = 1; i <= n; i++) printf "| %s | %s | %s |\n", names[i], stat[i], tm[i] > md
    printf "\n%d passed, %d failed, %d skipped; exit %d after %d s\n", cnt["PASS"], cnt["FAIL"], cnt["SKIP"], rc, secs > md
    printf "{\"exit\": %d, \"seconds\": %d, \"passed\": %d, \"failed\": %d, \"skipped\": %d, \"tests\": [", rc, secs, cnt["PASS"], cnt["FAIL"], cnt["SKIP"] > js
    for (i = 1; i <= n; i++) printf "%s{\"name\": \"%s\", \"result\": \"%s\", \"seconds\": %s}", (i > 1 ? ", " : ""), names[i], stat[i], tm[i] > js
    print "]}" > js
  }' "$out/cuda-test.log"
echo "== results ($out)"; cat "$out/results.md"
if [ "$rc" -ne 0 ]; then echo "== failures"; grep -B2 -A20 -- "--- FAIL" "$out/cuda-test.log" | head -200; fi
exit "$rc"
