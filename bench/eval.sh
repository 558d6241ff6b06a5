#!/usr/bin/env bash
# The quality comparison the model cards quote, in one `stylize eval` run per size: 8 photos x
# 8 paintings of ../shared/data (evenly spaced), each model a method row, Magenta's arbitrary
# stylization (scripts/magenta.py, onnxruntime, outputs made first) and Gatys optimisation on
# the first N pairs.
#
#   bench/eval.sh [--sizes 256,512] [--models default,fast] [--gatys N] [--out DIR] [-- EVAL ARGS]
#
# Defaults: sizes 256 and 512, models default and fast, Gatys on 4 pairs, DIR runs/eval.
# Writes DIR/magenta-SIZE/ (Magenta's outputs) and DIR/eval-SIZE/ (report.md, report.json,
# sheet.png, methods.png). Arguments after -- go to every `stylize eval` (e.g. --semantic).
# Needs .venv-ref (onnxruntime, pillow, numpy; see scripts/make_vgg_fixture.py).
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=256,512 models=default,fast gatys=4 out=runs/eval
while [[ $# -gt 0 ]]; do
  case "$1" in
    --sizes) sizes="$2"; shift 2 ;;
    --models) models="$2"; shift 2 ;;
    --gatys) gatys="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "eval.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
data=../shared/data
[[ -d $data/photos ]] || { echo "eval.sh: no $data/photos: this measurement needs the evaluation data" >&2; exit 2; }
py=.venv-ref/bin/python
"$py" -c 'import onnxruntime, PIL, numpy' 2>/dev/null || { echo "eval.sh: .venv-ref with onnxruntime, pillow and numpy missing" >&2; exit 2; }
cargo build --release -p stylize
bin=./target/release/stylize
model_args=()
for m in ${models//,/ }; do model_args+=(--model "$m"); done

for size in ${sizes//,/ }; do
  "$py" scripts/magenta.py pairs --content "$data/photos" --style "$data/paintings" --photos 8 --paintings 8 --size "$size" --out "$out/magenta-$size"
  # Above 256 px only the compared rows: the colour-transfer and --preserve-color baselines
  # would add ~15 minutes at 512 px.
  extra=(); [[ $size -gt 256 ]] && extra=(--no-baselines)
  "$bin" eval --content "$data/photos" --style "$data/paintings" --photos 8 --paintings 8 --size "$size" "${model_args[@]}" \
    --external "magenta=$out/magenta-$size" --gatys "$gatys" "${extra[@]}" --out "$out/eval-$size" "$@"
done
