#!/usr/bin/env bash
# Semantic transfer measured (issue 14): `stylize eval --semantic` against the plain run of the
# same model, in the same run, at 256 and 512 px over 8 photos x 8 paintings from
# ../shared/data; then the samples (3 photos x 4 paintings) at 384 px, whose methods sheet shows
# plain and semantic side by side.
#
#   bench/semantic.sh [--regions K] [--out DIR]      (default K 4, DIR runs/semantic)
#
# Writes DIR/eval-256, DIR/eval-512 and DIR/samples (report.md, report.json, sheets) and
# DIR/summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."

k=4 out=runs/semantic
while [[ $# -gt 0 ]]; do
  case "$1" in
    --regions) k="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
data=../shared/data
[[ -d $data/photos ]] || { echo "no $data/photos: this measurement needs the evaluation data" >&2; exit 2; }
bin=./target/release/stylize
[[ -x $bin ]] || cargo build --release -p stylize

# At 512 px only the rows compared (8x8 pairs there take ~40 minutes with all of them).
$bin eval --content "$data/photos" --style "$data/paintings" --size 256 --semantic "$k" --out "$out/eval-256"
$bin eval --content "$data/photos" --style "$data/paintings" --size 512 --semantic "$k" --no-baselines --out "$out/eval-512"
$bin eval --content samples/photos --style samples/paintings --photos 3 --paintings 4 --size 384 --semantic "$k" --out "$out/samples"
{
  echo "# Semantic transfer ($k regions) against the plain run"
  echo
  echo "Command: bench/semantic.sh --regions $k --out $out"
  for size in 256 512; do echo; echo "## $size px, 8 photos x 8 paintings"; echo; cat "$out/eval-$size/report.md"; done
} > "$out/summary.md"
cat "$out/summary.md"
