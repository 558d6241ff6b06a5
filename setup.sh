#!/usr/bin/env bash
# One command from a fresh clone to a working `stylize`: a Python venv holding libtorch (the
# PyPI torch 2.13.0 wheel, which tch 0.26 binds), the release build, and the real ImageNet
# VGG16 weights in the cache. Idempotent: run it again and it only checks.
#
#   STYLIZE_TORCH=lean (default)  CPU-only libtorch: the torch wheel without its CUDA
#                                  dependencies, plus the two small CUDA runtime wheels that
#                                  libtorch_cpu.so links against (~580 MB download).
#   STYLIZE_TORCH=full            the whole wheel with CUDA (~2.8 GB); also gives `import torch`.
set -euo pipefail
cd "$(dirname "$0")"

TORCH_VERSION=2.13.0
mode=${STYLIZE_TORCH:-lean}

command -v python3 >/dev/null || { echo "setup: python3 not found (needed only to download libtorch and VGG16 with pip)" >&2; exit 2; }
command -v cargo >/dev/null || { echo "setup: cargo not found: install Rust first" >&2; exit 2; }

[ -x .venv/bin/python ] || python3 -m venv .venv
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)
if ! .venv/bin/python -m pip show torch 2>/dev/null | grep -qx "Version: ${TORCH_VERSION}"; then
  echo "setup: installing libtorch (torch==${TORCH_VERSION}, ${mode}) into .venv"
  case "$mode" in
    lean) "${pip[@]}" install --no-deps "torch==${TORCH_VERSION}" nvidia-cuda-runtime==13.0.96 nvidia-cuda-cupti==13.0.85 ;;
    full) "${pip[@]}" install "torch==${TORCH_VERSION}" ;;
    *) echo "setup: STYLIZE_TORCH must be lean or full, not '$mode'" >&2; exit 2 ;;
  esac
fi
# .cargo/config.toml points LIBTORCH at this link, so plain `cargo build` works afterwards.
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
ln -sfn "${site#"$PWD"/}/torch" .libtorch

echo "setup: building stylize (release; the first build compiles libtorch's bindings, several minutes)"
cargo build --release --workspace --bins

# pip (from the venv) is only the downloader; the ONNX file is read and converted in Rust.
STYLIZE_PYTHON=.venv/bin/python ./target/release/stylize setup
echo "setup: done. Try: ./target/release/stylize --help"
