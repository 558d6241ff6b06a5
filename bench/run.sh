#!/usr/bin/env bash
# stylize (Rust, tch) against PyTorch on the same networks, on this machine, in one run.
#
#   bench/run.sh [--model DIR] [--rounds N] [--iters N] [--warmup N] [--size S] [--threads T]
#                [--workloads vgg:f32,vgg:bf16,stylize:f32,stylize:bf16] [--no-build] [--out FILE]
#   (decoder:f32 / decoder:bf16, the decoder alone, may be added to --workloads; fast:f32 /
#   fast:bf16, the fast generator, with its model folder in --fast DIR, default models/fast)
#
# 1. makes the reference venv .bench-venv (torch==2.13.0, the wheel whose libtorch tch binds;
#    about 3 GB download, 4.7 GB on disk) if it is missing;
# 2. builds crates/model/examples/bench.rs in release (skipped with --no-build);
# 3. checks that both implementations agree on the same input (bench dump + reference.py check);
# 4. for each workload, runs rounds alternating ours, PyTorch, ours, PyTorch, ... (each a fresh
#    process: weights loaded, --warmup untimed passes, --iters timed passes);
# 5. prints the table and writes bench/results.md or --out (report.py holds the FLOP formulas).
#
# The model folder is copied to a temporary folder first, so a training run that rewrites it
# cannot change the weights between the check and the timings.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
command_line="bench/run.sh $*"

model=${STYLIZE_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/stylize}/runs/default/model
[ -n "${STYLIZE_HOME:-}" ] && model=$STYLIZE_HOME/runs/default/model
fast=$root/models/fast
rounds=3 iters=3 warmup=1 size=512 threads=2 build=1 out=bench/results.md
workloads=vgg:f32,vgg:bf16,stylize:f32,stylize:bf16
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --fast) fast=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --iters) iters=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --workloads) workloads=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -f "$model/model.json" ] && [ -f "$model/generator.safetensors" ] \
  || { echo "run.sh: no model in $model (generator.safetensors + model.json); pass --model DIR" >&2; exit 2; }

py=$root/.bench-venv/bin/python
if ! "$py" -c 'import torch, safetensors, numpy; assert torch.__version__.startswith("2.13.0")' 2>/dev/null; then
  echo "run.sh: creating .bench-venv with torch==2.13.0 (about 3 GB download)" >&2
  [ -x "$py" ] || python3 -m venv "$root/.bench-venv"
  "$py" -m pip install --disable-pip-version-check -q torch==2.13.0 safetensors numpy
fi

if [ "$build" = 1 ]; then
  cargo build --release -p stylize-model --example bench
fi
bench=$root/target/release/examples/bench
[ -x "$bench" ] || { echo "run.sh: $bench is missing (run without --no-build)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/model"
cp "$model/model.json" "$model/generator.safetensors" "$tmp/model/"
vgg16=$("$bench" paths | "$py" -c 'import json, sys; print(json.load(sys.stdin)["vgg16"])')
[ -f "$vgg16" ] || { echo "run.sh: VGG16 weights missing at $vgg16 (run stylize setup)" >&2; exit 2; }

common=(--size "$size" --threads "$threads")
echo "== agreement check ($size x $size, model $model)"
"$bench" dump --model "$tmp/model" --out "$tmp/dump.safetensors" "${common[@]}" >/dev/null
"$py" bench/reference.py check --vgg16 "$vgg16" --model "$tmp/model" --dump "$tmp/dump.safetensors" "${common[@]}" \
  | tee "$tmp/check.txt"

echo "== timing: $rounds rounds x ($warmup warm-up + $iters timed) per implementation, $threads threads"
results=$tmp/results.jsonl
progress() {
  "$py" -c 'import json, sys; r = json.load(sys.stdin)
print("  %-8s %-5s %-8s round %s: median %8.1f ms" % (r["workload"], r["precision"], sys.argv[1], sys.argv[2], r["median_ms"]))' "$@"
}
for w in ${workloads//,/ }; do
  workload=${w%%:*} precision=${w##*:}
  args=(--precision "$precision" --iters "$iters" --warmup "$warmup" "${common[@]}")
  # The agreement check is on the VGG16 model; the fast workload times the fast generator.
  case $workload in vgg) ;; fast) args+=(--model "$fast") ;; *) args+=(--model "$tmp/model") ;; esac
  for ((r = 1; r <= rounds; r++)); do
    "$bench" "$workload" "${args[@]}" | tee -a "$results" | progress ours "$r"
    "$py" bench/reference.py "$workload" --vgg16 "$vgg16" "${args[@]}" | tee -a "$results" | progress PyTorch "$r"
  done
done

echo "== results"
"$py" bench/report.py "$results" --model "$tmp/model" --size "$size" --check "$tmp/check.txt" \
  --command "$command_line" --out "$out"
sed -i "s|$tmp/model|$model|" "$out"
echo "(written to $out)"
