#!/usr/bin/env bash
# Fuzz untrusted input for a bounded time.
#   scripts/fuzz.sh [load|upload|all] [SECONDS]    (default: all, 300 s each)
# load:   image bytes through stylize_io::load_from_bytes and the size check of the photo and
#         style paths (stylize_io::fit);
# upload: a POST /api/stylize body through the server's multipart parsing, then the same.
# Needs a nightly toolchain and ./setup.sh (the seeds are made with the release binary); installs
# cargo-fuzz if missing. The corpora start from small versions (64 px, several formats) of the
# photos and paintings in samples/ (and, for upload, valid forms holding them): full-size seeds
# run at 2 inputs/s under the sanitizer. They live in fuzz/corpus/ and crashes in
# fuzz/artifacts/, neither committed.
set -euo pipefail
cd "$(dirname "$0")/.."
which="${1:-all}"
seconds="${2:-300}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
mkdir -p fuzz/corpus/load fuzz/corpus/upload
if [ -z "$(ls -A fuzz/corpus/load)" ]; then
    # Strength 0 at 64 px: each sample image, small, in each output format.
    for f in samples/photos/*.jpg samples/paintings/*.jpg; do
        stem=$(basename "$f" .jpg)
        for ext in jpg png webp; do
            ./target/release/stylize run "$f" --style samples/paintings/durer_lion.jpg --strength 0 --size 64 \
                -o "fuzz/corpus/load/$stem.$ext" 2>/dev/null
        done
    done
fi
if [ -z "$(ls -A fuzz/corpus/upload)" ]; then
    # A form as the page sends it (boundary B, as the target declares), and one with a style id.
    { printf -- '--B\r\nContent-Disposition: form-data; name="image"; filename="x.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
      cat fuzz/corpus/load/cat.jpg
      printf -- '\r\n--B\r\nContent-Disposition: form-data; name="style_image"; filename="p.png"\r\n\r\n'
      cat fuzz/corpus/load/durer_lion.png
      printf -- '\r\n--B\r\nContent-Disposition: form-data; name="strength"\r\n\r\n0.8\r\n--B--\r\n'; } > fuzz/corpus/upload/full_form
    printf -- '--B\r\nContent-Disposition: form-data; name="style"\r\n\r\nhokusai-great-wave\r\n--B\r\nContent-Disposition: form-data; name="size"\r\n\r\n256\r\n--B--\r\n' > fuzz/corpus/upload/style_id
fi
run() {
    # The upload target links libtorch (through the server crate) and has no rpath to it.
    (cd fuzz && LD_LIBRARY_PATH="$PWD/../.libtorch/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" cargo +nightly fuzz run "$1" "corpus/$1" -- -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536)
}
case "$which" in
    load|upload) run "$which" ;;
    all) run load; run upload ;;
    *) echo "usage: scripts/fuzz.sh [load|upload|all] [SECONDS]" >&2; exit 2 ;;
esac
