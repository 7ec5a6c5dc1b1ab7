#!/bin/sh
# Usage: pipelines/train-step.sh EXPDIR NVAE-TRAIN-COMMAND...
#
# The training step of a make pipeline. Runs the nvae-train command, adding
# --cont_training when EXPDIR/checkpoint.nvae exists (an earlier run was
# interrupted or pre-empted), and writes EXPDIR/train.done only when the
# run reached its end: nvae-train then prints "trained N steps; ..." on
# stdout. A run stopped by SIGTERM/SIGUSR1/Ctrl-C exits 0 after writing a
# checkpoint but prints no such line; this script then fails (exit 75) so
# that make stops, and the next make resumes the run. Wall seconds of each
# attempt are added to EXPDIR/train.seconds (for the RESULTS.md row).
set -u
[ $# -ge 2 ] || { echo "usage: $0 EXPDIR NVAE-TRAIN-COMMAND..." >&2; exit 2; }
exp=$1
shift
mkdir -p "$exp" || exit 1
if [ -f "$exp/checkpoint.nvae" ]; then
	echo "train-step: $exp/checkpoint.nvae exists: resuming it with --cont_training" >&2
	set -- "$@" --cont_training
fi
start=$(date +%s)
"$@" >"$exp/train.stdout"
rc=$?
echo $(($(date +%s) - start)) >>"$exp/train.seconds"
cat "$exp/train.stdout"
if [ "$rc" -ne 0 ]; then
	echo "train-step: nvae-train failed (exit $rc)" >&2
	exit "$rc"
fi
if ! grep -q '^trained [0-9][0-9]* steps' "$exp/train.stdout"; then
	echo "train-step: training stopped before its end; $exp/checkpoint.nvae is kept: run the same make command again to resume" >&2
	exit 75
fi
tmp="$exp/.train.done.tmp"
cp "$exp/train.stdout" "$tmp" && sync "$tmp" && mv "$tmp" "$exp/train.done"
