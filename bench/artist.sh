#!/usr/bin/env bash
# An artist's own model, measured (issue 15): fine-tune a shipped model on all but a few of one
# artist's paintings, time it, then compare it with its parent on the held-out paintings
# (`stylize eval-artist`). Needs the training data in ../shared/data.
#
#   bench/artist.sh [--artist vangogh|hokusai] [--parent default] [--steps N] [--out DIR]
#
# Folders (symlinks) under OUT/data: train/ (the artist's paintings but every 3rd), held-out/
# (every 3rd), others/ (everyone else's). Writes OUT/run (the fine-tune: model, log, previews),
# OUT/eval-256 and OUT/eval-512 (reports and sheets), and OUT/summary.md with the wall time.
set -euo pipefail
cd "$(dirname "$0")/.."

artist=vangogh parent=default steps="" out=runs/artist
while [[ $# -gt 0 ]]; do
  case "$1" in
    --artist) artist="$2"; shift 2 ;;
    --parent) parent="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
case "$artist" in
  vangogh) pattern='Van_Gogh|vangogh|starry_night' ;;
  hokusai) pattern='Hokusai' ;;
  *) echo "--artist: vangogh or hokusai" >&2; exit 2 ;;
esac
data=../shared/data
[[ -d $data/paintings ]] || { echo "no $data/paintings: this measurement needs the training data" >&2; exit 2; }
bin=./target/release/stylize
[[ -x $bin ]] || cargo build --release -p stylize

rm -rf "$out/data"
mkdir -p "$out/data/train" "$out/data/held-out" "$out/data/others"
i=0
for f in $(ls "$data/paintings" | grep -E '\.(jpg|jpeg|png)$' | sort); do
  if grep -qE "$pattern" <<<"$f"; then
    if (( i % 3 == 2 )); then dest=held-out; else dest=train; fi
    i=$((i + 1))
  else
    dest=others
  fi
  ln -s "$(realpath "$data/paintings/$f")" "$out/data/$dest/$f"
done
echo "$artist: $(ls "$out/data/train" | wc -l) paintings to learn, $(ls "$out/data/held-out" | wc -l) held out, $(ls "$out/data/others" | wc -l) others"

start=$(date +%s)
$bin train --from "$parent" --content "$data/photos" --style "$out/data/train" \
  --config configs/finetune.toml ${steps:+--steps "$steps"} --out "$out/run"
seconds=$(( $(date +%s) - start ))

for size in 256 512; do
  $bin eval-artist --content "$data/photos" --artist "$out/data/train" --held-out "$out/data/held-out" \
    --others "$out/data/others" --model "$parent" --model "$out/run/model" --size $size --out "$out/eval-$size"
done
{
  echo "# $artist: fine-tune of $parent"
  echo
  echo "Command: bench/artist.sh --artist $artist --parent $parent ${steps:+--steps $steps} --out $out"
  echo "Fine-tune: $(jq -r .steps "$out/run/model/model.json" 2>/dev/null || echo '?') steps in ${seconds} s wall time on $(nproc) cores."
  for size in 256 512; do echo; echo "## At $size px"; echo; cat "$out/eval-$size/report.md"; done
} > "$out/summary.md"
cat "$out/summary.md"
