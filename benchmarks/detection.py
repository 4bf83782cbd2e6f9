"""W7: the detector of examples/detect_digits.py, one train step on a batch of 32 scenes
(96×96, YOLOv1 loss, Adam), against its matrix-product floor. ``python -m benchmarks``
runs it in its table too (its loss is fnn's own, so it has no peers; W6 is the same
network with a cross-entropy head, which they run).

    python -m benchmarks.detection [--rounds 20]

The floor is every matrix product the step must compute (convolutions as im2col products:
forward w·col, weight gradient dy·colᵀ, input gradient wᵀ·dy except for the first layer;
dense layers likewise), on preallocated arrays of the step's shapes. Also printed: the fnn
step's CPU time (all threads), which a busy machine inflates least; with
OPENBLAS_NUM_THREADS=1 it is close to the step's time on an idle core.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

import fnn
from benchmarks.harness import Workload, measure
from fnn import detection, random
from fnn.layers.conv import weight_grad

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "detect_digits.py"


def load_example():
    """examples/detect_digits.py as a module (its GRID, build_layers, build_optimizer)."""
    spec = importlib.util.spec_from_file_location("detect_digits", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(EXAMPLE.parent))  # where `python examples/...` finds examples/common.py
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(EXAMPLE.parent))
    return module


def products(layer_list, params, in_shape, batch, dtype):
    """Zero-argument calls doing each matrix product of one train step, on fresh buffers."""
    rng = np.random.default_rng(0)
    calls, shape, first = [], in_shape, True
    for layer, p in zip(layer_list, params, strict=True):
        _, _, out_shape = layer.init(random.key(0), shape, dtype)
        if layer.name.startswith("conv2d"):
            f, c, kh, kw = p.w.shape
            pixels = batch * out_shape[1] * out_shape[2]
            w = rng.random((f, c * kh * kw), dtype=np.float32).astype(dtype)
            col = rng.random((c * kh * kw, pixels), dtype=np.float32).astype(dtype)
            dy = rng.random((f, pixels), dtype=np.float32).astype(dtype)
            calls += [lambda w=w, col=col: w @ col, lambda dy=dy, col=col: weight_grad(dy, col)]
            if not first:
                calls.append(lambda w=w, dy=dy: w.T @ dy)
            first = False
        elif layer.name.startswith("dense"):
            w = np.asarray(p.w)
            x = rng.random((batch, w.shape[0]), dtype=np.float32).astype(dtype)
            dy = rng.random((batch, w.shape[1]), dtype=np.float32).astype(dtype)
            calls += [lambda x=x, w=w: x @ w, lambda x=x, dy=dy: x.T @ dy]
            if not first:
                calls.append(lambda w=w, dy=dy: dy @ w.T)
            first = False
        shape = out_shape
    return calls


def w7(batch=32, dtype=np.float32):
    example = load_example()
    grid = example.GRID
    layer_list, optimizer = example.build_layers(grid), example.build_optimizer()
    model = fnn.sequential(*layer_list)
    in_shape = (1, grid.image_size, grid.image_size)
    scenes = fnn.data.digit_scenes(np.full((1, 28, 28), 255, np.uint8), np.array([3]), batch,
                                   random.key(0))
    x = scenes.images.astype(dtype)
    t, _ = detection.encode_batch(grid, scenes.boxes, scenes.classes, dtype=dtype)
    ts = fnn.init_train_state(model, optimizer, random.key(0), in_shape, dtype)
    step = fnn.make_train_step(model, detection.yolo_v1_loss(grid), optimizer)
    box = [ts]

    def call():
        box[0], _ = step(box[0], x, t)

    floor_calls = products(layer_list, ts.params, in_shape, batch, dtype)

    def floor():
        for product in floor_calls:
            product()

    return Workload(f"W7 detect_digits step, YOLOv1 loss b={batch}", batch,
                    {"fnn": call, "floor": floor},
                    extra={"step": step, "ts": ts, "x": x, "t": t})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    fnn.keep_freed_memory()
    workload = w7()
    times = measure(workload, rounds=args.rounds, warmup=2)
    # CPU time (all threads) is what a busy shared machine inflates least
    cpu = time.process_time()
    for _ in range(args.rounds):
        workload.variants["fnn"]()
    cpu = (time.process_time() - cpu) / args.rounds
    print(f"{platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}, float32, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{workload.name}: fnn {times['fnn'] * 1e3:.1f} ms/step "
          f"({workload.batch / times['fnn']:.0f} images/s), floor {times['floor'] * 1e3:.1f} ms, "
          f"fnn/floor {times['fnn'] / times['floor']:.2f}; CPU time {cpu * 1e3:.1f} ms/step")


if __name__ == "__main__":
    main()
