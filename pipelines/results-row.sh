#!/bin/sh
# Usage: pipelines/results-row.sh PIPELINE EXPDIR RESULTS.md
#
# Appends one row for a finished pipeline to the Markdown table RESULTS.md
# (created with its header when missing): NLL and bits/dim from
# EXPDIR/eval/results.json, FID from EXPDIR/fid.json, training wall
# hours summed over all attempts from EXPDIR/train.seconds, the device, the
# date. The row is also written to EXPDIR/results.row, the pipeline's last
# target. RESULTS.md is replaced through a synced temporary copy.
set -eu
[ $# -eq 3 ] || { echo "usage: $0 PIPELINE EXPDIR RESULTS.md" >&2; exit 2; }
name=$1 exp=$2 out=$3
res="$exp/eval/results.json"
fid="$exp/fid.json"
for f in "$res" "$fid"; do
	[ -f "$f" ] || { echo "results-row: $f missing" >&2; exit 1; }
done
# num FILE KEY: the number after "KEY": in a JSON file (one key per line or not).
num() {
	v=$(sed -n "s/.*\"$2\": *\(-\{0,1\}[0-9][0-9.eE+-]*\).*/\1/p" "$1" | head -n 1)
	[ -n "$v" ] || { echo "results-row: $1 has no number \"$2\"" >&2; exit 1; }
	echo "$v"
}
str() { sed -n "s/.*\"$2\": *\"\([^\"]*\)\".*/\1/p" "$1" | head -n 1; }
nll=$(num "$res" nll_nats)
bpd=$(num "$res" bits_per_dim)
k=$(num "$res" num_iw_samples)
n=$(num "$res" num_images)
fidv=$(num "$fid" fid)
dataset=$(str "$res" dataset)
device=$(str "$res" device)
hours=n/a
[ ! -f "$exp/train.seconds" ] || hours=$(awk '{ s += $1 } END { printf "%.2f", s / 3600 }' "$exp/train.seconds")
row=$(printf '| %s | %s | %.2f | %.4f | %s x %s | %.2f | %s | %s | %s | %s |' \
	"$name" "$dataset" "$nll" "$bpd" "$n" "$k" "$fidv" "$hours" "${device:-?}" "$(date -u +%Y-%m-%d)" "$exp")

mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
if [ -f "$out" ]; then
	cp "$out" "$tmp"
else
	cat >"$tmp" <<'HDR'
# Results

One row per finished `make <dataset>` pipeline (written by pipelines/results-row.sh):
importance-weighted NLL on the evaluation split (images x importance samples), FID of
samples at t = 0.6 with re-adjusted BN, and training wall-clock hours summed over all
attempts of one process (multi-GPU training is not implemented yet).

| pipeline | dataset | NLL (nats) | bits/dim | images x IW samples | FID | train hours | device | date | run |
|---|---|---|---|---|---|---|---|---|---|
HDR
fi
echo "$row" >>"$tmp"
sync "$tmp"
mv "$tmp" "$out"
trap - EXIT
printf '%s\n' "$row" >"$exp/results.row.tmp"
mv "$exp/results.row.tmp" "$exp/results.row"
echo "$out: $row"
