#!/usr/bin/env bash
# `stylize serve` under load on loopback: twice as many closed-loop clients as the server holds
# (workers + queue), so the queue stays full and some requests are refused with 429. Reports
# throughput, p50/p99 latency of the answered requests, and that none was lost or wrong.
#
#   bench/load.sh [--workers N] [--queue N] [--seconds S] [--size PX] [--model default|fast|DIR] [--out FILE]
#
# Stop other work first (a training run shares the cores). Appends a row to bench/load.md.
set -euo pipefail
cd "$(dirname "$0")/.."
command_line="bench/load.sh $*"
workers=1 queue=2 seconds=60 size=512 out=bench/load.md model=default
while [ $# -gt 0 ]; do
  case "$1" in
    --workers) workers=$2; shift 2 ;;
    --queue) queue=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "load.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
clients=$(( 2 * (workers + queue) ))
cargo build --release -p stylize -p stylize-server --example load
log=$(mktemp)
./target/release/stylize serve --addr 127.0.0.1:0 --styles ../shared/data/paintings --workers "$workers" --queue "$queue" --model "$model" 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 600); do grep -q '^listening on' "$log" && break; sleep 0.1; done
url=$(sed -n 's/^listening on \(.*\)$/\1/p' "$log")
[ -n "$url" ] || { cat "$log" >&2; echo "load.sh: the server did not start" >&2; exit 1; }
photo=../shared/data/photos/gcompris__explore_farm_animals_cat.jpg
style=katsushika-hokusai-the-great-wave-off-kanagawa-1823-1829
json=$(./target/release/examples/load "$url/api/stylize" "$photo" "$style" "$clients" "$seconds" "$size")
echo "$json"
kill -TERM $pid; wait $pid || true
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$json" "$1"; }
[ -f "$out" ] || printf '# stylize serve under load\n\nRows appended by `bench/load.sh`: closed-loop clients on loopback, twice the server'"'"'s capacity (workers + queue); a 429 waits 0.2 s and retries. Latency is of the 200 answers, upload to last byte.\n\n| date | command | machine | model | workers | queue | clients | size | seconds | sent | 200 | 429 | wrong | lost | results/s | p50 | p99 |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n' > "$out"
case $model in default|fast) dir=models/$model ;; *) dir=$model ;; esac
label=$(python3 -c "import json,sys; m=json.load(open(sys.argv[1]+'/model.json')); print(f\"{sys.argv[2]} ({m.get('kind', 'vgg')}), step {m['steps']}\")" "$dir" "$model")
printf '| %s | `%s` | %s cores | %s | %s | %s | %s | %s | %.0f | %s | %s | %s | %s | %s | %.2f | %.0f ms | %.0f ms |\n' \
  "$(date -u +%F)" "$command_line" "$(nproc)" "$label" "$workers" "$queue" "$clients" "$size" "$(field seconds)" "$(field sent)" "$(field ok)" \
  "$(field busy_429)" "$(field wrong)" "$(field lost)" "$(field throughput_per_s)" "$(field p50_ms)" "$(field p99_ms)" >> "$out"
tail -1 "$out"
[ "$(field wrong)" = 0 ] && [ "$(field lost)" = 0 ] || { echo "load.sh: wrong or lost answers" >&2; exit 1; }
