#!/usr/bin/env python3
"""Turns the JSON lines of bench/run.sh into the results table (stdout and bench/results.md).

  report.py RESULTS.jsonl --model DIR --size S --check CHECK.txt --command "..." --out results.md

FLOPs are counted analytically: a k x k convolution producing C_out x H x W from C_in channels
costs 2 * H * W * C_out * C_in * k * k (one multiply-add = 2 FLOPs); biases, ReLU, pooling,
padding, upsampling and AdaIN are left out (under 0.5% of the total). At S x S input:

  VGG16 to relu4_1     S^2   * (3*64 + 64*64)                      (conv1_1, conv1_2)
                     + S^2/4 * (64*128 + 128*128)                  (conv2_1, conv2_2)
                     + S^2/16 * (128*256 + 2*256*256)              (conv3_1..3)
                     + S^2/64 * (256*512)                          (conv4_1)      all * 2*9
  decoder (c3, c2, c1 = 256, 128, 64 at width 1)
                       S^2/64 * (512*c3)                           (conv0, then upsample)
                     + S^2/16 * (2*c3*c3 + c3*c2)                  (conv1, conv2, conv3, up)
                     + S^2/4  * (c2*c2 + c2*c1)                    (conv4, conv5, up)
                     + S^2    * (c1*c1 + c1*3)                     (conv6, conv7)  all * 2*9
  stylize = VGG16 to relu4_1 + decoder.   At S = 512 and width 1: 107.2 + 107.2 GFLOP.
"""

import argparse
import datetime
import json
import math
import os
import platform
import statistics
from collections import defaultdict


def vgg_flops(s):
    return 2 * 9 * (s * s * (3 * 64 + 64 * 64)
                    + s * s / 4 * (64 * 128 + 128 * 128)
                    + s * s / 16 * (128 * 256 + 2 * 256 * 256)
                    + s * s / 64 * (256 * 512))


def decoder_flops(s, width):
    w = lambda c: max(8, int(math.floor(c * width + 0.5)))
    c3, c2, c1 = w(256), w(128), w(64)
    return 2 * 9 * (s * s / 64 * (512 * c3)
                    + s * s / 16 * (2 * c3 * c3 + c3 * c2)
                    + s * s / 4 * (c2 * c2 + c2 * c1)
                    + s * s * (c1 * c1 + c1 * 3))


def padded(s):
    """The side the networks see in `stylize` (generator.rs Padding): a 32 px mirrored margin
    on each side (photos of 48 px and more), rounded up to a multiple of 8."""
    m = 32 if s >= 48 else 0
    return -(-(s + 2 * m) // 8) * 8


def skip_flops(s):
    """The content skips' 1x1 convs (decoder.rs SKIP_TAPS): relu3_1 (256 ch, s/4), relu2_1 (128 ch, s/2)."""
    return 2 * (s * s / 16 * 256 * 256 + s * s / 4 * 128 * 128)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return " ".join(x for x in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if x in flags)
    except OSError:
        pass
    return ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--model", required=True)
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--check", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    with open(os.path.join(args.model, "model.json")) as f:
        info = json.load(f)
    width, multilevel, steps = info["decoder"]["width"], info["decoder"].get("multilevel", False), info.get("steps", "?")
    skips = info["decoder"].get("skips", False)
    p = padded(args.size)
    flops = {"vgg": vgg_flops(args.size),
             "decoder": decoder_flops(args.size, width) + (skip_flops(args.size) if skips else 0),
             "stylize": vgg_flops(p) + decoder_flops(p, width) + (skip_flops(p) if skips else 0)}

    times = defaultdict(list)  # (workload, precision, impl) -> all timed iterations of all rounds
    rounds = defaultdict(int)
    order = []
    torch_version = "?"
    with open(args.results) as f:
        for line in f:
            r = json.loads(line)
            key = (r["workload"], r["precision"])
            if key not in order:
                order.append(key)
            times[key + (r["impl"],)] += r["times_ms"]
            rounds[key + (r["impl"],)] += 1
            torch_version = r.get("torch", torch_version)

    head = ["workload", "precision", "GFLOP", "ours median ms", "PyTorch median ms", "ours/PyTorch",
            "ours GFLOP/s", "PyTorch GFLOP/s", "runs x iters"]
    rows = []
    for wl, p in order:
        ours, ref = times[(wl, p, "stylize")], times[(wl, p, "pytorch")]
        if not ours or not ref:
            continue
        mo, mr = statistics.median(ours), statistics.median(ref)
        # The fast generator's FLOPs are counted on the Rust side (FastNet::macs), not here.
        g = flops[wl] / 1e9 if wl in flops else None
        per_s = lambda ms: f"{g / (ms / 1000):.1f}" if g else "-"
        rows.append([wl, p, f"{g:.1f}" if g else "-", f"{mo:.1f}", f"{mr:.1f}", f"{mo / mr:.3f}", per_s(mo), per_s(mr),
                     f"{rounds[(wl, p, 'stylize')]}x{len(ours) // max(1, rounds[(wl, p, 'stylize')])}"])

    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    fmt = lambda cells: "  ".join(c.rjust(w) if i >= 2 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    print(fmt(head))
    for r in rows:
        print(fmt(r))

    with open(args.check) as f:
        check = f.read().rstrip()
    spread = []
    for wl, p in order:
        for impl in ("stylize", "pytorch"):
            t = times[(wl, p, impl)]
            if t:
                spread.append(f"| {wl} | {p} | {impl} | {min(t):.1f} | {max(t):.1f} | {' '.join(f'{x:.0f}' for x in t)} |")
    md = [
        "# stylize vs PyTorch: benchmark results",
        "",
        f"- date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
        f"- CPU: {cpu_model()} ({os.cpu_count()} cores visible; flags: {cpu_flags()})",
        f"- libtorch / PyTorch: {torch_version} (the same PyPI wheel on both sides), 2 intra-op threads",
        f"- input: 1x3x{args.size}x{args.size}; model: {args.model} (decoder width {width},"
        f" multilevel {str(multilevel).lower()}, {steps} steps trained)",
        f"- command: `{args.command}`",
        "",
        "Medians over all timed iterations of all rounds (rounds alternate ours, PyTorch, ours, ...;",
        "each round is a fresh process with its own warm-up). GFLOP counts conv multiply-adds x 2",
        "(formula in bench/report.py; `stylize` counts the 32 px edge margin the networks see, and",
        "the content skips). Ratio < 1 means stylize is faster.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" if i < 2 else "---:" for i in range(len(head))) + "|",
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
        "## Agreement check (same input, both implementations)",
        "",
        "```",
        check,
        "```",
        "",
        "## All timings (ms)",
        "",
        "| workload | precision | impl | min | max | every iteration |",
        "|---|---|---|---:|---:|---|",
        *spread,
        "",
    ]
    with open(args.out, "w") as f:
        f.write("\n".join(md))


if __name__ == "__main__":
    main()
