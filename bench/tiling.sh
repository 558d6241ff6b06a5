#!/usr/bin/env bash
# Peak memory and time of `stylize run` on 4K (3840x2160) and 8K (7680x4320) photos, which are
# stylized in tiles (crates/model/src/tiling.rs). Targets at 8K: default model at most 3 GiB
# peak RSS; fast generator at most 1.5 GiB and 60 s.
#
#   bench/tiling.sh [--sizes 3840x2160,7680x4320] [--model default|fast|DIR] [--precision f32|bf16] [--out FILE]
#
# The photos are a real photo of ../shared/data upscaled (Lanczos) to each size; peak RSS and
# wall time come from /usr/bin/time -v around the whole process.
set -euo pipefail
cd "$(dirname "$0")/.."
command_line="bench/tiling.sh $*"
sizes=3840x2160,7680x4320 precision=f32 out=bench/tiling.md model=default
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) sizes=$2; shift 2 ;;
    --precision) precision=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "tiling.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
py=.venv-ref/bin/python
"$py" -c 'import PIL' 2>/dev/null || { echo "tiling.sh: needs .venv-ref with pillow" >&2; exit 2; }
cargo build --release -p stylize
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
photo=../shared/data/photos/gcompris__explore_farm_animals_cat.jpg
style=../shared/data/paintings/gcompris__painting_Katsushika_Hokusai_The_Great_Wave_off_Kanagawa_1823_1829.jpg
{
  echo "# Large images in tiles: peak memory and time"
  echo
  echo "Command: \`$command_line\` ($(date -u +%F), $(nproc) cores, precision $precision, model $model)."
  echo "\`stylize run BIG.jpg --style wave.jpg --model $model --max-size 0 -o out.jpg\`: 512 px tiles (halo: 64 px default model, 72 px fast, 8 more per block at 1/4: 80 for the shipped one)."
  echo
  echo "| image | megapixels | tiles | peak RSS (GiB) | wall time (s) |"
  echo "|---|---|---|---|---|"
} > "$tmp/md"
for wh in ${sizes//,/ }; do
  w=${wh%x*} h=${wh#*x}
  "$py" -c "from PIL import Image; Image.open('$photo').convert('RGB').resize(($w, $h), Image.LANCZOS).save('$tmp/big.jpg', quality=92)"
  /usr/bin/time -v target/release/stylize run "$tmp/big.jpg" --style "$style" --max-size 0 --model "$model" --precision "$precision" \
    -o "$tmp/out.jpg" 2> "$tmp/time.txt" >/dev/null || { cat "$tmp/time.txt" >&2; exit 1; }
  rss_kb=$(grep 'Maximum resident set size' "$tmp/time.txt" | awk '{print $NF}')
  wall=$(grep 'Elapsed (wall clock)' "$tmp/time.txt" | awk '{print $NF}')
  secs=$(echo "$wall" | awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
  tiles=$(( (w + 511) / 512 * ((h + 511) / 512) ))
  gib=$(echo "scale=2; $rss_kb / 1048576" | bc -l)
  printf '| %sx%s | %.1f | %d | %.2f | %.0f |\n' "$w" "$h" "$(echo "$w * $h / 1000000" | bc -l)" "$tiles" "$gib" "$secs" | tee -a "$tmp/md"
done
cp "$tmp/md" "$out"
cat "$out"
