#!/usr/bin/env bash
# Fuzz the image-loading path (stylize_io::load_from_bytes) for a bounded time.
#   scripts/fuzz.sh [SECONDS]    (default 300)
# Needs a nightly toolchain; installs cargo-fuzz if missing. The corpus starts from a few
# real photos and paintings of ../shared/data (copied into fuzz/corpus/load, not committed);
# crashes land in fuzz/artifacts/load.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-300}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
corpus=fuzz/corpus/load
mkdir -p "$corpus"
if [ -z "$(ls -A "$corpus")" ] && [ -d ../shared/data ]; then
    # Small seeds keep the fuzzer fast: the smallest few files of each folder.
    for d in ../shared/data/photos ../shared/data/paintings; do
        ls -S "$d" | grep -iE '\.(jpe?g|png|gif|webp|bmp|tiff?)$' | tail -n 5 | while read -r f; do cp "$d/$f" "$corpus/"; done
    done
fi
cd fuzz
cargo +nightly fuzz run load "corpus/load" -- -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=262144
