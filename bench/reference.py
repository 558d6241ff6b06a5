#!/usr/bin/env python3
"""The networks of stylize written in plain PyTorch, as the baseline for bench/run.sh.

  reference.py vgg      --vgg16 FILE [--precision f32|bf16] [--iters N] [--warmup N] [--size S]
  reference.py stylize  --vgg16 FILE --model DIR [same options]
  reference.py decoder  --vgg16 FILE --model DIR [same options]   (decoder alone)
  reference.py check    --vgg16 FILE --model DIR --dump FILE   (agreement with the Rust side)
  reference.py batch    --vgg16 FILE --model DIR --style FILE --out DIR PHOTO...
                        (files end to end, as `stylize run PHOTO... --out-dir`: for bench/e2e.sh;
                        a fast model (model.json kind "fast") needs no --vgg16 and loads no VGG16)
  reference.py fast     [--model DIR] [same options]   (the fast generator's forward; seeded
                        random weights without --model, as `bench fast`)

Each network mirrors its Rust counterpart in crates/model/src:
  vgg.rs        VGG16 conv stack to relu4_1 with caffe preprocessing (RGB->BGR, x255, minus
                the BGR mean [103.939, 116.779, 123.68]); 3x3 convs, padding 1, ReLU; 2x2 max-pool
                before conv2_1, conv3_1, conv4_1. Weights: the same safetensors (convB_I.weight/.bias).
  decoder.rs    reflection pad 1, 3x3 conv, ReLU (not after the last conv), nearest x2 upsample
                after conv0, conv3, conv5; with `multilevel` (model.json), each upsample is
                followed by AdaIN to the target statistics of relu3_1, relu2_1, relu1_1 divided by
                losses.rs feature_scale. Weights: generator.safetensors (decoder.convI.*).
  adain.rs      per-channel mean and population std (+1e-5 inside the sqrt) over H, W in f32.
  style.rs      a style code: mean and std at relu1_1, relu2_1, relu3_1, relu4_1.
  fast.rs       the fast generator (class FastNet below): 3x3 convs with zero padding, stride-2
                convs down, pixel shuffle up, AdaIN at 1/8, 1/4 and 1/2, channels-last (weights
                too); photos padded to a multiple of 8 only (no margin).
  generator.rs  stylize = reflection margin (32 px) and pad to a multiple of 8, encode (relu4_1 + the photo's own code), AdaIN
                at relu4_1, blend(strength), decode with the blended code, crop, f32, clamp 0..1.

Timing uses torch.set_num_threads(T), torch.inference_mode(), and for bf16
torch.autocast('cpu', dtype=torch.bfloat16), the same autocast the Rust side turns on.
Prints one JSON line per timing run, in the same format as `cargo run --example bench`.
"""

import argparse
import contextlib
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file

CAFFE_MEAN_BGR = [103.939, 116.779, 123.68]
EPS = 1e-5

# losses.rs feature_scale for the style taps relu1_1, relu2_1, relu3_1, relu4_1.
FEATURE_SCALE = [27.0, 160.0, 170.0, 94.0]
# Decoder stage -> style tap index whose statistics start it (decoder.rs STAGE_TAPS).
STAGE_TAPS = [2, 1, 0]
# Style taps whose content features skip to the first decoder stages (decoder.rs SKIP_TAPS).
SKIP_TAPS = [2, 1]
CHANNELS = [64, 128, 256, 512]

# (name, in, out) up to conv4_1; a max-pool precedes conv2_1, conv3_1, conv4_1.
VGG_CONVS = [("conv1_1", 3, 64), ("conv1_2", 64, 64), ("conv2_1", 64, 128), ("conv2_2", 128, 128),
             ("conv3_1", 128, 256), ("conv3_2", 256, 256), ("conv3_3", 256, 256), ("conv4_1", 256, 512)]
VGG_POOL_BEFORE = {"conv2_1", "conv3_1", "conv4_1"}
STYLE_TAPS = ["conv1_1", "conv2_1", "conv3_1", "conv4_1"]  # their ReLUs


class Vgg16Relu41(nn.Module):
    def __init__(self, path):
        super().__init__()
        sd = load_file(path)
        self.convs = nn.ModuleDict()
        for name, cin, cout in VGG_CONVS:
            conv = nn.Conv2d(cin, cout, 3, padding=1)
            conv.weight.data.copy_(sd[f"{name}.weight"])
            conv.bias.data.copy_(sd[f"{name}.bias"])
            self.convs[name] = conv
        self.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(CAFFE_MEAN_BGR, dtype=torch.float64).view(1, 3, 1, 1))

    def features(self, rgb):
        """relu1_1, relu2_1, relu3_1, relu4_1."""
        x = rgb.flip([1]) * 255.0 - self.mean.to(rgb.dtype)
        taps = []
        for name, conv in self.convs.items():
            if name in VGG_POOL_BEFORE:
                x = F.max_pool2d(x, 2, 2)
            x = F.relu(conv(x))
            if name in STYLE_TAPS:
                taps.append(x)
        return taps

    def forward(self, rgb):
        """relu4_1."""
        return self.features(rgb)[-1]


def decoder_widths(width):
    # Rust's f64::round (half away from zero), then at least 8 channels.
    w = lambda c: max(8, int(math.floor(c * width + 0.5)))
    c3, c2, c1 = w(256), w(128), w(64)
    # (in, out, upsample after), as in decoder.rs
    return [(512, c3, True), (c3, c3, False), (c3, c3, False), (c3, c2, True),
            (c2, c2, False), (c2, c1, True), (c1, c1, False), (c1, 3, False)]


class Decoder(nn.Module):
    def __init__(self, model_dir):
        super().__init__()
        with open(os.path.join(model_dir, "model.json")) as f:
            cfg = json.load(f)["decoder"]
        width, self.multilevel = cfg["width"], cfg.get("multilevel", False)
        sd = load_file(os.path.join(model_dir, "generator.safetensors"))
        self.plan = decoder_widths(width)
        self.convs = nn.ModuleList()
        for i, (cin, cout, _) in enumerate(self.plan):
            conv = nn.Conv2d(cin, cout, 3)
            conv.weight.data.copy_(sd[f"decoder.conv{i}.weight"])
            conv.bias.data.copy_(sd[f"decoder.conv{i}.bias"])
            self.convs.append(conv)
        # Content skips (decoder.rs SKIP_TAPS: relu3_1, relu2_1), 1x1 convs after stages 0, 1.
        self.skips = nn.ModuleList()
        if cfg.get("skips", False):
            for k, l in enumerate(SKIP_TAPS):
                c = CHANNELS[l]
                conv = nn.Conv2d(c, c, 1)
                conv.weight.data.copy_(sd[f"decoder.skip{k}.weight"])
                conv.bias.data.copy_(sd[f"decoder.skip{k}.bias"])
                self.skips.append(conv)
        self.requires_grad_(False)

    def forward(self, x, means, stds, skips=()):
        """`means`, `stds`: the target code (lists over the 4 style taps); multilevel only.
        `skips`: content features at SKIP_TAPS with the target statistics (decoders with skips)."""
        last = len(self.convs) - 1
        stage = 0
        for i, (conv, (_, _, up)) in enumerate(zip(self.convs, self.plan)):
            x = conv(F.pad(x, (1, 1, 1, 1), mode="reflect"))
            if i < last:
                x = F.relu(x)
            if up:
                x = F.interpolate(x, scale_factor=2.0, mode="nearest")
                if self.multilevel:
                    l = STAGE_TAPS[stage]
                    x = adain(x, means[l] / FEATURE_SCALE[l], stds[l] / FEATURE_SCALE[l])
                    if stage < len(self.skips):
                        x = x + self.skips[stage](skips[stage].to(x.dtype) / FEATURE_SCALE[l])
                stage += 1
        return x


def mean_std(feat):
    f = feat.float()
    mean = f.mean(dim=(2, 3), keepdim=True)
    var = f.var(dim=(2, 3), unbiased=False, keepdim=True)
    return mean, (var + EPS).sqrt()


def adain(content, style_mean, style_std):
    c_mean, c_std = mean_std(content)
    return (content.float() - c_mean) / c_std * style_std + style_mean


def blend(content, styled, alpha):
    return styled * alpha + content.float() * (1.0 - alpha)


def style_code(feats):
    """(means, stds), each a list over the 4 style taps."""
    pairs = [mean_std(f) for f in feats]
    return [m for m, _ in pairs], [s for _, s in pairs]


def blend_code(content, style, alpha):
    return tuple([s * alpha + c * (1.0 - alpha) for c, s in zip(cs, ss)] for cs, ss in zip(content, style))


def stylize(vgg, decoder, rgb, code, strength=1.0):
    h, w = rgb.shape[2], rgb.shape[3]
    m = 32 if min(h, w) >= 48 else 0  # generator.rs edge_margin
    ph, pw = (8 - (h + 2 * m) % 8) % 8, (8 - (w + 2 * m) % 8) % 8
    x = F.pad(rgb, (m, m + pw, m, m + ph), mode="reflect") if m + ph + pw > 0 else rgb
    feats = vgg.features(x)
    own, content = style_code(feats), feats[3].float()
    target = blend(content, adain(content, code[0][3], code[1][3]), strength)
    means, stds = blend_code(own, code, strength)
    skips = [blend(feats[l], adain(feats[l], code[0][l], code[1][l]), strength) for l in SKIP_TAPS[:len(decoder.skips)]]
    return decoder(target, means, stds, skips).float()[:, :, m:m + h, m:m + w].clamp(0.0, 1.0)


class FastEncoder(nn.Module):
    """fast.rs Encoder: features at 1/2, 1/4, 1/8 of the input."""

    def __init__(self, c2, c4, c8):
        super().__init__()
        plan = [(3, c2, 2), (c2, c4, 2), (c4, c4, 1), (c4, c8, 2), (c8, c8, 1), (c8, c8, 1)]
        self.convs = nn.ModuleList(nn.Conv2d(i, o, 3, stride=s, padding=1) for i, o, s in plan)

    def forward(self, rgb):
        c0, c1, c2, c3, r0, r1 = self.convs
        f2 = F.relu(c0(rgb - 0.5))
        f4 = F.relu(c2(F.relu(c1(f2))))
        x = F.relu(c3(f4))
        f8 = F.relu(x + r1(F.relu(r0(x))))
        return [f2, f4, f8]


class FastNet(nn.Module):
    """fast.rs FastNet without the training-only feature heads, in any shape model.json's
    `fast` config gives (skip2, blocks4, photo_skip)."""

    def __init__(self, cfg=None, weights=None):
        super().__init__()
        cfg = cfg or {"channels": [16, 48, 96]}
        c2, c4, c8 = cfg["channels"]
        self.content, self.style = FastEncoder(c2, c4, c8), FastEncoder(c2, c4, c8)
        conv = lambda i, o, k=3: nn.Conv2d(i, o, k, padding=k // 2)
        self.res = nn.ModuleList([conv(c8, c8), conv(c8, c8)])
        self.up8, self.up4, self.up2 = conv(c8, 4 * c4), conv(c4, 4 * c2), conv(c2, 12)
        self.mid4, self.mid2, self.skip4 = conv(c4, c4), conv(c2, c2), conv(c4, c4, 1)
        self.skip2 = conv(c2, c2, 1) if cfg.get("skip2") else None
        self.blocks4 = nn.ModuleList(nn.ModuleList([conv(c4, c4), conv(c4, c4)]) for _ in range(cfg.get("blocks4", 0)))
        self.photo_skip = conv(3, 3) if cfg.get("photo_skip") else None
        if weights is not None:
            # The Rust names: content.convI, style.convI, decoder.{res0,res1,up8,...,block4_I.convJ}.
            rename = {f"{e}.conv{i}": f"{e}.convs.{i}" for e in ("content", "style") for i in range(6)}
            rename.update({"decoder.res0": "res.0", "decoder.res1": "res.1"})
            rename.update({f"decoder.{n}": n for n in ("up8", "up4", "up2", "mid4", "mid2", "skip4", "skip2", "photo_skip")})
            rename.update({f"decoder.block4_{i}.conv{j}": f"blocks4.{i}.{j}" for i in range(len(self.blocks4)) for j in range(2)})
            state = {}
            for k, v in weights.items():
                stem, leaf = k.rsplit(".", 1)
                if stem in rename:
                    state[f"{rename[stem]}.{leaf}"] = v
                elif not k.startswith("heads."):
                    raise ValueError(f"generator weight {k} has no place in FastNet {cfg}")
            self.load_state_dict(state)  # strict: every layer of this shape gets its weights
        self.to(memory_format=torch.channels_last)

    def style_code(self, rgb):
        return style_code(self.style(rgb.contiguous(memory_format=torch.channels_last)))

    def forward(self, rgb, code, strength=1.0):
        f2, f4, f8 = self.content(rgb)
        means, stds = code
        # fast.rs own_statistics: the 1/2 level is read only by skip2 or at strength < 1;
        # elsewhere the style's 1/2 statistics stand in for the photo's.
        (m4, s4), (m8, s8) = mean_std(f4), mean_std(f8)
        m2, s2 = mean_std(f2) if self.skip2 is not None or strength < 1.0 else (means[0], stds[0])
        own = ([m2, m4, m8], [s2, s4, s8])
        tm, ts = blend_code(own, code, strength)
        given = lambda x, m, s, sm, ss: (x - m) / s * ss + sm
        styled = lambda f, l: blend(f, given(f, own[0][l], own[1][l], means[l], stds[l]), strength)
        residual = lambda x, r0, r1: F.relu(x + r1(F.relu(r0(x))))
        x = residual(styled(f8, 2), *self.res)
        x = F.pixel_shuffle(self.up8(x), 2)
        m, s = mean_std(x)
        x = given(x, m, s, tm[1], ts[1]) + self.skip4(styled(f4, 1))
        x = F.relu(self.mid4(F.relu(x)))
        for r0, r1 in self.blocks4:
            x = residual(x, r0, r1)
        x = F.pixel_shuffle(self.up4(x), 2)
        m, s = mean_std(x)
        x = given(x, m, s, tm[0], ts[0])
        if self.skip2 is not None:
            x = x + self.skip2(styled(f2, 0))
        x = F.relu(self.mid2(F.relu(x)))
        out = F.pixel_shuffle(self.up2(x), 2)
        if self.photo_skip is not None:
            out = out + self.photo_skip(rgb - 0.5)
        return out + 0.5

    def stylize(self, rgb, code, strength=1.0):
        # generator.rs Padding::to_multiple_of_8: no margin, reflection to a multiple of 8.
        h, w = rgb.shape[2], rgb.shape[3]
        ph, pw = (8 - h % 8) % 8, (8 - w % 8) % 8
        x = F.pad(rgb, (0, pw, 0, ph), mode="reflect") if ph + pw > 0 else rgb
        out = self(x.contiguous(memory_format=torch.channels_last), code, strength)
        return out[:, :, :h, :w].clamp(0.0, 1.0)


def model_kind(model_dir):
    if not model_dir:
        return None
    with open(os.path.join(model_dir, "model.json")) as f:
        return json.load(f).get("kind", "vgg")


def load_fast(model_dir):
    with open(os.path.join(model_dir, "model.json")) as f:
        cfg = json.load(f)["fast"]
    return FastNet(cfg, load_file(os.path.join(model_dir, "generator.safetensors"))).eval()


def precision_ctx(precision):
    if precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def image(seed, size):
    torch.manual_seed(seed)
    return torch.rand(1, 3, size, size)


def time_it(args, fn):
    for _ in range(args.warmup):
        fn()
    times = []
    for _ in range(args.iters):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000.0)
    print(json.dumps({
        "impl": "pytorch", "workload": args.cmd, "precision": args.precision, "size": args.size,
        "threads": torch.get_num_threads(), "warmup": args.warmup, "median_ms": statistics.median(times),
        "min_ms": min(times), "times_ms": times, "torch": torch.__version__,
    }), flush=True)


def diff(name, ours, ref):
    ours, ref = ours.float(), ref.float()
    d = (ours - ref).abs().max().item()
    scale = ref.abs().max().item()
    rel = d / scale if scale > 0 else d
    status = "identical" if torch.equal(ours, ref) else f"max|diff| {d:.3e}  relative to max|x| {rel:.3e}"
    print(f"  {name:<22} {str(tuple(ref.shape)):<20} {status}")
    return rel


def check(args, vgg, decoder):
    """Runs the PyTorch networks on the Rust side's inputs and compares with its outputs."""
    dump = load_file(args.dump)
    x, style = dump["input"], dump["style_input"]
    print(f"agreement of stylize (tch) with PyTorch {torch.__version__} on the same {args.size}x{args.size} input"
          f" (multi-level decoder: {decoder.multilevel}):")
    worst, outs = {}, {}
    with torch.inference_mode():
        code = style_code(vgg.features(style))
        worst["f32"] = 0.0
        for i, tap in enumerate(["relu1_1", "relu2_1", "relu3_1", "relu4_1"]):
            worst["f32"] = max(worst["f32"], diff(f"style mean {tap}", dump[f"style_mean_{tap}"], code[0][i]),
                               diff(f"style std {tap}", dump[f"style_std_{tap}"], code[1][i]))
        for p in ("f32", "bf16"):
            with precision_ctx(p):
                feat = vgg(x)
                img = stylize(vgg, decoder, x, code)
            worst[p] = max(worst.get(p, 0.0), diff(f"vgg relu4_1 {p}", dump[f"relu4_1_{p}"], feat),
                           diff(f"stylized image {p}", dump[f"stylized_{p}"], img))
            outs[p] = img
        img, d = outs["f32"], (outs["bf16"] - outs["f32"]).abs().max().item()
        print(f"  (f32 image mean {img.mean().item():.4f}, std {img.std().item():.4f}, "
              f"{(img == 0).logical_or(img == 1).float().mean().item():.1%} clamped; bf16 vs f32 max|diff| {d:.3e}: "
              f"{'autocast took effect' if d > 0 else 'WARNING: bf16 equals f32, autocast had no effect'})")
    # f32 must agree to rounding; bf16 is reported only (accumulation order may differ).
    if worst["f32"] > 1e-3:
        print(f"check: f32 outputs DISAGREE (worst relative difference {worst['f32']:.3e})", file=sys.stderr)
        sys.exit(1)


def batch(args, vgg, decoder, fast=None):
    """Photo files to PNG files, the style's code computed once; sizes as `stylize run`
    (photos shrunk to --size on the longer side, the style read at 512)."""
    import numpy as np
    from PIL import Image

    def load(path, size):
        img = Image.open(path).convert("RGB")
        if max(img.size) > size:
            s = size / max(img.size)
            img = img.resize((max(1, round(img.width * s)), max(1, round(img.height * s))), Image.LANCZOS)
        return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]

    os.makedirs(args.out, exist_ok=True)
    with torch.inference_mode():
        if fast is not None:
            code = fast.style_code(load(args.style, 512))
            run = lambda x: fast.stylize(x, code)
        else:
            code = style_code(vgg.features(load(args.style, 512)))
            run = lambda x: stylize(vgg, decoder, x, code)
        for p in args.photos:
            out = run(load(p, args.size))
            px = (out[0].permute(1, 2, 0) * 255.0).round().to(torch.uint8).numpy()
            Image.fromarray(px).save(os.path.join(args.out, os.path.splitext(os.path.basename(p))[0] + ".png"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=["vgg", "stylize", "decoder", "check", "batch", "fast"])
    ap.add_argument("photos", nargs="*", help="for batch: photo files")
    ap.add_argument("--style", help="for batch: the style image")
    ap.add_argument("--out", help="for batch: output folder")
    ap.add_argument("--vgg16", help="VGG16 safetensors (`bench paths` prints it); not for fast models")
    ap.add_argument("--model", help="model folder: generator.safetensors + model.json")
    ap.add_argument("--dump", help="for check: the file `bench dump` wrote")
    ap.add_argument("--precision", choices=["f32", "bf16"], default="f32")
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_intermixed_args()
    if args.cmd not in ("vgg", "fast") and not args.model:
        ap.error("--model is required")
    torch.set_num_threads(args.threads)
    kind = model_kind(args.model)
    if args.cmd == "fast" or kind == "fast":
        if args.model and kind != "fast":
            ap.error(f"{args.model} is not a fast model")
        if args.cmd == "batch":
            return batch(args, None, None, load_fast(args.model))
        if args.cmd != "fast":
            ap.error(f"{args.cmd} needs a VGG16 model; a fast model runs with `fast` and `batch`")
        torch.manual_seed(3)
        net = (load_fast(args.model) if args.model else FastNet().eval())
        with torch.inference_mode():
            code = net.style_code(image(1, 256))
            x = image(0, args.size).contiguous(memory_format=torch.channels_last)
            return time_it(args, lambda: net(x, code))
    if not args.vgg16:
        ap.error("--vgg16 is required")

    vgg = Vgg16Relu41(args.vgg16).eval()
    decoder = Decoder(args.model).eval() if args.model else None
    if args.cmd == "check":
        if not args.dump:
            ap.error("--dump is required")
        return check(args, vgg, decoder)
    if args.cmd == "batch":
        return batch(args, vgg, decoder)

    x = image(0, args.size)
    with torch.inference_mode():
        if args.cmd == "vgg":
            fn = lambda: vgg(x)
        elif args.cmd == "decoder":
            code = style_code(vgg.features(image(1, args.size)))
            torch.manual_seed(2)
            t = torch.rand(1, 512, args.size // 8, args.size // 8)
            # Random content skips, as bench.rs makes them (the Rust seeds differ: timing only).
            skips = [torch.rand(1, CHANNELS[l], args.size >> l, args.size >> l) for l in SKIP_TAPS[:len(decoder.skips)]]
            fn = lambda: decoder(t, *code, skips)
        else:
            # The style code, in f32, outside the timed region (as the Rust side does).
            code = style_code(vgg.features(image(1, args.size)))
            fn = lambda: stylize(vgg, decoder, x, code)

        def run():
            with precision_ctx(args.precision):
                fn()

        time_it(args, run)


if __name__ == "__main__":
    main()
