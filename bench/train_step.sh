#!/usr/bin/env bash
# Training step time of `stylize train` (batch 4, default losses, discriminator on), per crop
# size and precision: runs 14 steps per setting on ../shared/data and reports the median of
# the last 10 step times from log.csv (the first steps build oneDNN kernels for new shapes).
# There is no PyTorch twin of the whole step here; bench/run.sh compares the networks.
#   bench/train_step.sh [crop ...]      default: 128 256
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/stylize
[ -x "$bin" ] || cargo build --release -p stylize
crops=("${@:-128 256}")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '| crop | precision | median s/step | steps/min |\n|---|---|---:|---:|\n'
for crop in ${crops[@]}; do
  for precision in bf16 f32; do
    printf 'steps = 14\nwarmup_steps = 0\ncrop = %s\nadv_start = 0\ncheckpoint_every = 1000\npreview_every = 1000\nlog_every = 1\n' "$crop" > "$tmp/cfg.toml"
    rm -rf "$tmp/run"
    "$bin" train --content ../shared/data/photos --style ../shared/data/paintings --out "$tmp/run" \
      --config "$tmp/cfg.toml" --precision "$precision" 2>/dev/null
    # Step times from the seconds column (steps 5-14: the last 10), median.
    # Plain awk and sort: Debian's default awk (mawk) has no asort.
    m=$(awk -F, 'NR>1 {if (NR>=6) print $2-prev; prev=$2}' "$tmp/run/log.csv" | sort -g |
      awk '{d[NR]=$1} END {print (NR%2) ? d[(NR+1)/2] : (d[NR/2]+d[NR/2+1])/2}')
    awk -v crop="$crop" -v p="$precision" -v m="$m" 'BEGIN {printf "| %s | %s | %.2f | %.1f |\n", crop, p, m, 60/m}'
  done
done
