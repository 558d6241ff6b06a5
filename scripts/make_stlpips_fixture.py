#!/usr/bin/env python3
"""Reference distances for the Rust ST-LPIPS (crates/eval/src/stlpips.rs), computed by the
package's OWN implementation: stlpips-pytorch==0.0.2, `stlpips.LPIPS(net="vgg",
variant="shift_tolerant")` (Ghildyal & Liu 2022), with its bundled weights
`weights/vST0.0/vgg_shift_tolerant.pth` (the file `stylize setup` converts; its sha256 is
checked here so both sides use the same weights).

Pairs (real images from samples/, resized with PIL, kept as uint8 so the fixture stays small
and both sides start from the same values, x / 255):
  pair0  cat vs the cat shifted by 1 px down and 2 px right (two crops of one resized image),
         64x96: a shift the metric should tolerate;
  pair1  cat vs Hokusai's Great Wave, 64x96: different content;
  pair2  Berlin cathedral vs van Gogh's Starry Night, 57x83: odd sizes, so the blur pool's
         reflection padding and rounding are exercised.
For each pair the file holds `pairK.a`, `pairK.b` (1,3,H,W uint8 RGB), `pairK.distance` (1,)
and `pairK.per_layer` (5,) float64 (the package computes in float32; the values are widened).
The package is called with `normalize=True`, i.e. its own [0,1] -> [-1,1] mapping.

Rerun (from the repository root; .bench-venv is git-ignored):
  python3 -m venv .bench-venv
  .bench-venv/bin/pip install torch==2.13.0 torchvision==0.28.0 numpy pillow safetensors \
      torchsummary ipython        # torchvision, torchsummary, IPython: the package imports them
  python3 -m pip download --no-deps stlpips-pytorch==0.0.2 -d /tmp/stlpips
  .bench-venv/bin/pip install --no-deps /tmp/stlpips/stlpips_pytorch-0.0.2-py3-none-any.whl
  .bench-venv/bin/python scripts/make_stlpips_fixture.py \
      [--out crates/eval/tests/fixtures/stlpips_reference.safetensors]
"""

import argparse
import hashlib
import os
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.numpy import save_file

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "crates", "eval", "tests", "fixtures", "stlpips_reference.safetensors")
WEIGHTS_SHA256 = "44597da68f49c1837c100ff52299050f274d102eb102e5837178c79be6f0e250"


def sample(sub):
    return os.path.join(REPO, "samples", sub)


def resized(path, h, w):
    img = Image.open(path).convert("RGB").resize((w, h), Image.Resampling.BICUBIC)
    return np.asarray(img, dtype=np.uint8)


def nchw(hwc):
    return np.ascontiguousarray(hwc.transpose(2, 0, 1)[None])


def pairs():
    # One resized image, two crops: a true 1x2 px shift with no padding at either edge.
    big = resized(sample("photos/cat.jpg"), 65, 98)
    yield nchw(big[0:64, 0:96]), nchw(big[1:65, 2:98])
    yield nchw(resized(sample("photos/cat.jpg"), 64, 96)), nchw(resized(sample("paintings/hokusai_great_wave.jpg"), 64, 96))
    yield (nchw(resized(sample("photos/berlin_cathedral.jpg"), 57, 83)),
           nchw(resized(sample("paintings/van_gogh_starry_night.jpg"), 57, 83)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()

    from importlib.metadata import version
    from stlpips_pytorch import stlpips
    if version("stlpips_pytorch") != "0.0.2":
        sys.exit(f"need stlpips-pytorch 0.0.2, found {version('stlpips_pytorch')}")
    pth = os.path.join(os.path.dirname(stlpips.__file__), "weights", "vST0.0", "vgg_shift_tolerant.pth")
    sha = hashlib.sha256(open(pth, "rb").read()).hexdigest()
    if sha != WEIGHTS_SHA256:
        sys.exit(f"{pth}: sha256 {sha}, expected {WEIGHTS_SHA256}")

    torch.set_grad_enabled(False)
    metric = stlpips.LPIPS(net="vgg", variant="shift_tolerant", verbose=False)
    # Per-layer terms come from hooks on lin0..lin4: the list `retPerLayer=True` returns is not
    # usable, because forward accumulates the total into its first element in place.
    captured = []
    for lin in metric.lins:
        lin.register_forward_hook(lambda _m, _i, out: captured.append(out))
    tensors = {}
    for k, (a, b) in enumerate(pairs()):
        ta, tb = (torch.from_numpy(x).float() / 255.0 for x in (a, b))
        captured.clear()
        val = metric(ta, tb, normalize=True)
        per_layer = np.array([float(stlpips.spatial_average(c).flatten()[0]) for c in captured], dtype=np.float64)
        tensors[f"pair{k}.a"], tensors[f"pair{k}.b"] = a, b
        tensors[f"pair{k}.distance"] = np.array([float(val.flatten()[0])], dtype=np.float64)
        tensors[f"pair{k}.per_layer"] = per_layer
        print(f"pair{k} {a.shape[2]}x{a.shape[3]}: {float(val.flatten()[0]):.6f}  per layer {np.round(per_layer, 6).tolist()}")
    meta = {"source": f"stlpips-pytorch==0.0.2 LPIPS(net=vgg, variant=shift_tolerant), weights sha256={WEIGHTS_SHA256}, torch {torch.__version__}"}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    save_file(tensors, args.out, metadata=meta)
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)")


if __name__ == "__main__":
    main()
