#!/usr/bin/env bash
# make bench-official: the official PyTorch NVAE beside `nvae-train --benchmark` on this machine's
# CPU, alternating, on the two small configurations of scripts/bench.sh (mnist_small,
# cifar_small), and a table of per-run figures and medians (scripts/official-bench/compare.py;
# what is timed on each side: scripts/official-bench/bench_official.py and pkg/train/bench.go).
# The official code is not part of this repository: OFFICIAL_NVAE names a checkout of
# github.com/NVlabs/NVAE, run with Debian's /usr/bin/python3 and python3-torch (tensorboardX is
# stubbed by scripts/official-bench/shim). This script builds nothing.
# Usage: OFFICIAL_NVAE=/path/to/NVAE scripts/compare-official.sh [path/to/nvae-train]
#   (default bin/nvae-train)
# Env: ROUNDS (default 3), STEPS (timed steps per run, default 5; 3 warm-up on both sides),
# QUIET_WAIT (seconds to wait for a quiet machine before each run, default 120),
# OFFICIAL_BENCH_OUT (where runs.jsonl and table.md go; default a new temporary directory).
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
bin=${1:-$here/../bin/nvae-train}
die() { echo "compare-official: $*" >&2; exit 2; }

[ -n "${OFFICIAL_NVAE:-}" ] || die "set OFFICIAL_NVAE to a checkout of github.com/NVlabs/NVAE (git clone https://github.com/NVlabs/NVAE)"
[ -d "$OFFICIAL_NVAE" ] || die "OFFICIAL_NVAE=$OFFICIAL_NVAE is not a directory (want a checkout of github.com/NVlabs/NVAE)"
for f in model.py train.py utils.py; do
  [ -f "$OFFICIAL_NVAE/$f" ] || die "OFFICIAL_NVAE=$OFFICIAL_NVAE has no $f (want a checkout of github.com/NVlabs/NVAE)"
done
[ -x /usr/bin/python3 ] || die "no /usr/bin/python3 (Debian: apt-get install python3 python3-torch)"
/usr/bin/python3 -c 'import torch' 2>/dev/null || die "/usr/bin/python3 cannot import torch (Debian: apt-get install python3-torch)"
[ -x "$bin" ] || die "no executable $bin (build it: make -s build)"

out=()
[ -n "${OFFICIAL_BENCH_OUT:-}" ] && out=(--out "$OFFICIAL_BENCH_OUT")
exec /usr/bin/python3 -B "$here/official-bench/compare.py" --official "$(readlink -f "$OFFICIAL_NVAE")" "${out[@]}" "$(readlink -f "$bin")"
