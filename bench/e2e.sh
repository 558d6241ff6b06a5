#!/usr/bin/env bash
# `stylize run` end to end on 770x512 photos with the style computed once: the default (VGG16)
# model and the fast generator, against the fast generator in PyTorch and Magenta's arbitrary
# stylization under onnxruntime, in one run.
#
#   bench/e2e.sh [--rounds N] [--photos N] [--model DIR] [--fast DIR] [--out FILE]
#
# Each implementation stylizes the same photos (files in, PNG files out, the style computed
# once per process, or per job with a photo per core, as in a batch): `stylize run PHOTO...
# --out-dir` with each model
# (the fast one as it runs by default, a photo per core, and with --jobs 1, one at a time as the
# scripts do),
# `bench/reference.py batch` (PyTorch 2.13, the fast network) and `scripts/magenta.py batch`
# (onnxruntime; its network works at 384 px and the result is resized back). A process with N
# photos minus a process with 2, divided by N - 2, is the steady per-photo time: model loading
# and interpreter start-up cancel out, and with N even a photo per core splits both batches
# evenly (with 1 photo as the base and N = 5, its 2 cores had 3 and 2 photos: the last photo ran
# alone, and the figure was up to a quarter too high). "One photo" is the whole process for one photo.
# Rounds alternate the implementations; medians.
# Needs .bench-venv (bench/run.sh makes it; pillow is added here) and .venv-ref (onnxruntime).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
root=$PWD
command_line="bench/e2e.sh $*"
rounds=3 n=6 out=bench/e2e.md
model=$root/models/default fast=$root/models/fast
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --photos) n=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --fast) fast=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "e2e.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ $((n % 2)) = 0 ] && [ "$n" -ge 4 ] || { echo "e2e.sh: --photos must be even and at least 4 (a photo per core splits it evenly)" >&2; exit 2; }
torch_py=$root/.bench-venv/bin/python
ort_py=$root/.venv-ref/bin/python
"$torch_py" -c 'import torch' 2>/dev/null || { echo "e2e.sh: .bench-venv missing: run bench/run.sh once" >&2; exit 2; }
"$torch_py" -c 'import PIL' 2>/dev/null || "$torch_py" -m pip install --disable-pip-version-check -q pillow
"$ort_py" -c 'import onnxruntime, PIL, numpy' 2>/dev/null || { echo "e2e.sh: .venv-ref with onnxruntime, pillow, numpy missing" >&2; exit 2; }
cargo build --release -p stylize
stylize=$root/target/release/stylize
[ -f "$fast/model.json" ] || { echo "e2e.sh: no fast model at $fast (--fast DIR)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
style=../shared/data/paintings/gcompris__painting_Katsushika_Hokusai_The_Great_Wave_off_Kanagawa_1823_1829.jpg
# The first N photos at 770x512 (3:2 centre crops, resized).
mkdir "$tmp/in"
"$ort_py" - "$tmp/in" "$n" <<'EOF'
import os, sys
from PIL import Image
out, n = sys.argv[1], int(sys.argv[2])
d = "../shared/data/photos"
for i, f in enumerate(sorted(os.listdir(d))[:n]):
    img = Image.open(os.path.join(d, f)).convert("RGB")
    w, h = min(img.width, img.height * 3 // 2), min(img.height, img.width * 2 // 3)
    l, t = (img.width - w) // 2, (img.height - h) // 2
    img.crop((l, t, l + w, t + h)).resize((770, 512), Image.LANCZOS).save(os.path.join(out, f"p{i}.jpg"), quality=95)
EOF
photos=("$tmp"/in/*.jpg)
# What `stylize run --precision auto` (the default) computes in on this CPU.
native=f32
grep -qw avx512_bf16 /proc/cpuinfo && native=bf16

run() { # impl count -> seconds
  local impl=$1 count=$2 o=$tmp/out-$1-$2
  rm -rf "$o"; mkdir -p "$o"
  local start end
  start=$(date +%s.%N)
  case $impl in
    default) "$stylize" run "${photos[@]:0:$count}" --style "$style" --model "$model" --out-dir "$o" --max-size 770 2>/dev/null ;;
    fast) "$stylize" run "${photos[@]:0:$count}" --style "$style" --model "$fast" --out-dir "$o" --max-size 770 2>/dev/null ;;
    fast-f32) "$stylize" run "${photos[@]:0:$count}" --style "$style" --model "$fast" --out-dir "$o" --max-size 770 --precision f32 2>/dev/null ;;
    default-f32) "$stylize" run "${photos[@]:0:$count}" --style "$style" --model "$model" --out-dir "$o" --max-size 770 --precision f32 2>/dev/null ;;
    fast-1job) "$stylize" run "${photos[@]:0:$count}" --style "$style" --model "$fast" --out-dir "$o" --max-size 770 --jobs 1 2>/dev/null ;;
    pytorch-fast) "$torch_py" bench/reference.py batch --model "$fast" --style "$style" --out "$o" --size 770 "${photos[@]:0:$count}" ;;
    magenta) "$ort_py" scripts/magenta.py batch --style "$style" --out "$o" --size 770 "${photos[@]:0:$count}" ;;
  esac
  end=$(date +%s.%N)
  local made
  made=$(find "$o" -name '*.png' | wc -l)
  [ "$made" = "$count" ] || { echo "e2e.sh: $impl wrote $made of $count outputs" >&2; exit 1; }
  echo "$end - $start" | bc -l
}
results=$tmp/results.txt
for ((r = 1; r <= rounds; r++)); do
  for impl in default default-f32 fast fast-f32 fast-1job pytorch-fast magenta; do
    one=$(run $impl 1) two=$(run $impl 2) many=$(run $impl "$n")
    per=$(echo "($many - $two) / ($n - 2)" | bc -l)
    printf '%s %s %.3f %.3f %.3f\n' "$impl" "$r" "$one" "$many" "$per" | tee -a "$results"
  done
done
# The PyTorch row times the same network only if it draws the same pictures: its outputs
# against `stylize run --precision f32`'s, pixel by pixel (the JPEG decoders may differ by a
# level here and there; a missing layer moves every pixel).
"$ort_py" - "$tmp/out-fast-f32-$n" "$tmp/out-pytorch-fast-$n" > "$tmp/agreement.txt" <<'EOF'
import os, sys
import numpy as np
from PIL import Image
a, b = sys.argv[1], sys.argv[2]
# stylize names its outputs PHOTO_STYLE.png, the script PHOTO.png: the same order either way.
pairs = zip(sorted(os.listdir(a)), sorted(os.listdir(b)), strict=True)
diffs = [np.abs(np.asarray(Image.open(os.path.join(a, f)), np.int16) - np.asarray(Image.open(os.path.join(b, g)), np.int16))
         for f, g in pairs]
mean, worst = float(np.mean([d.mean() for d in diffs])), int(max(d.max() for d in diffs))
print(f"{len(diffs)} {mean:.3f} {worst}")
if mean > 1.0:
    sys.exit(f"e2e.sh: the PyTorch network disagrees with stylize's (mean |diff| {mean:.2f}/255): not the same network")
EOF
"$ort_py" - "$results" "$n" "$rounds" "$command_line" "$out" "$native" "$(cat "$tmp/agreement.txt")" <<'EOF'
import statistics, sys, platform, datetime
path, n, rounds, cmd, out, native = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
agree_n, agree_mean, agree_max = sys.argv[7].split()
rows = {}
for line in open(path):
    impl, r, one, many, per = line.split()
    rows.setdefault(impl, []).append((float(one), float(per)))
med = {k: (statistics.median(o for o, _ in v), statistics.median(p for _, p in v)) for k, v in rows.items()}
names = {"default": f"stylize run, default model (VGG16; Rust, tch; {native})", "default-f32": "the same, --precision f32",
         "fast": f"stylize run --model fast (Rust, tch; a photo per core; {native})", "fast-f32": "the same, --precision f32",
         "fast-1job": f"stylize run --model fast --jobs 1 (one photo at a time; {native})",
         "pytorch-fast": "the fast network in PyTorch 2.13", "magenta": "Magenta arbitrary stylization (onnxruntime, int8, 384 px inside)"}
ours = med["fast"][1]
md = [f"# `stylize run` end to end, 770x512 photos, style computed once\n",
      f"Command: `{cmd}` ({datetime.date.today()}, {platform.machine()}, 2 threads each).",
      f"Per photo = (process with {n} photos - process with 2) / {n - 2}: read JPEG, stylize, write PNG.",
      f"Medians of {rounds} rounds. `stylize run` computes in {native} here (`--precision auto`: bf16 where",
      "the CPU has AVX512-BF16, f32 elsewhere); the f32 rows force f32. PyTorch runs in f32.\n",
      "| implementation | one photo, whole process (s) | per photo, steady (s) | steady time / fast's |",
      "|---|---|---|---|"]
for k in ("fast", "fast-f32", "fast-1job", "pytorch-fast", "magenta", "default", "default-f32"):
    one, per = med[k]
    md.append(f"| {names[k]} | {one:.2f} | {per:.3f} | {per / ours:.2f} |")
md.append(f"\nThe PyTorch network's pictures against `stylize run --precision f32`'s, {agree_n} photos: mean |diff|"
          f" {agree_mean}/255, largest {agree_max}/255 (the same network; the two JPEG decoders differ slightly).")
text = "\n".join(md) + "\n"
print(text)
open(out, "w").write(text)
EOF
echo "(written to $out)"
