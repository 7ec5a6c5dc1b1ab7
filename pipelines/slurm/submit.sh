#!/bin/sh
# Usage: pipelines/slurm/submit.sh PIPELINE EXPDIR NODES GPUS_PER_NODE 'VAR=VALUE ...' NVAE-TRAIN-COMMAND...
#
# What `make <dataset> SLURM=1` runs: submits the pipeline as three Slurm jobs
# chained with --dependency=afterok, from the current directory (the
# repository root):
#   1. make-step.sbatch PIPELINE-prep            data preparation (CPU)
#   2. train-1node.sbatch (NODES=1) or train-multinode.sbatch --nodes=NODES,
#      --gpus-per-node=GPUS_PER_NODE --ntasks-per-node=GPUS_PER_NODE (one
#      nvae-train rank per GPU): the nvae-train command, requeued until it ends
#   3. make-step.sbatch PIPELINE --gpus-per-node=1: eval, samples, FID, RESULTS row
# Extra sbatch flags for every job (partition, account, time) come from the
# environment variable SBATCH_ARGS; SBATCH names the sbatch program.
# Job logs go to EXPDIR/slurm-<job name>-<job id>.out.
set -eu
[ $# -ge 6 ] || { echo "usage: $0 PIPELINE EXPDIR NODES GPUS_PER_NODE 'VARS' NVAE-TRAIN-COMMAND..." >&2; exit 2; }
name=$1 exp=$2 nodes=$3 gpus=$4 vars=$5
shift 5
dir=$(dirname "$0")
sbatch=${SBATCH:-sbatch}
mkdir -p "$exp"
log="$exp/slurm-%x-%j.out"

# submit ARGS...: runs sbatch and sets $id to the job id it reports.
submit() {
	out=$($sbatch ${SBATCH_ARGS:-} "$@") || { echo "submit: sbatch failed: $out" >&2; exit 1; }
	echo "$out"
	id=$(printf '%s\n' "$out" | sed -n 's/^Submitted batch job \([0-9][0-9]*\).*/\1/p' | head -n 1)
	[ -n "$id" ] || { echo "submit: no job id in sbatch's answer: $out" >&2; exit 1; }
}

# shellcheck disable=SC2086 # $vars holds VAR=VALUE words
submit --job-name="nvae-$name-prep" --output="$log" "$dir/make-step.sbatch" "$name-prep" $vars
prep=$id
if [ "$nodes" -gt 1 ]; then
	submit --job-name="nvae-$name-train" --output="$log" --dependency="afterok:$prep" \
		--nodes="$nodes" --gpus-per-node="$gpus" --ntasks-per-node="$gpus" "$dir/train-multinode.sbatch" "$exp" "$@"
else
	submit --job-name="nvae-$name-train" --output="$log" --dependency="afterok:$prep" \
		--nodes=1 --gpus-per-node="$gpus" --ntasks-per-node="$gpus" "$dir/train-1node.sbatch" "$exp" "$@"
fi
train=$id
# shellcheck disable=SC2086
submit --job-name="nvae-$name-eval" --output="$log" --dependency="afterok:$train" \
	--gpus-per-node=1 "$dir/make-step.sbatch" "$name" $vars
echo "$name: jobs $prep (prep) -> $train (train) -> $id (eval, samples, FID); logs in $exp/"
