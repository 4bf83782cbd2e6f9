"""Time a SimpleConvNet train step (batch 100, float32, Adam) beside its matrix-product floor.

The floor is the step's GEMMs alone, on preallocated arrays with ``out=``:
the conv's forward product and weight gradient (it is the first layer, so no
input gradient or col2im runs), and each dense layer's three products. Also
prints each layer's forward and backward time and the step's peak memory.

A pure step allocates its activations afresh, and glibc hands large blocks
back to the system when freed, so part of the step is page faults on new
memory (the page faults per step are printed); letting malloc keep freed
memory shows how much they cost (on a 2-core test machine, about 2,700 faults
and 22 ms per step by default, 15 faults and 15 ms with):

    python benchmarks/conv_step.py [--rounds 50]
    MALLOC_MMAP_THRESHOLD_=1000000000 MALLOC_TRIM_THRESHOLD_=1000000000 \
        python benchmarks/conv_step.py
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
import tracemalloc

import numpy as np

import fnn
from fnn import layers, losses, optim, random
from fnn.core import param_grads

BATCH = 100


def simple_conv_net_layers():
    return [layers.conv2d(30, 5), layers.relu(), layers.max_pool2d(2), layers.flatten(),
            layers.dense(100), layers.relu(), layers.dense(10)]


def median_ms(*calls, rounds: int) -> list[float]:
    """Median ms per call of each of ``calls``, timed in alternation so load hits all alike."""
    for call in calls:
        call()  # warm up
    times = [[] for _ in calls]
    for _ in range(rounds):
        for call, seen in zip(calls, times):
            start = time.perf_counter()
            call()
            seen.append(time.perf_counter() - start)
    return [1000 * statistics.median(seen) for seen in times]


def gemm_floor(rng: np.random.Generator):
    """The step's matrix products on preallocated float32 arrays (shapes as in fnn's step)."""
    a = lambda *shape: rng.random(shape, dtype=np.float32)
    w_conv, col, y_conv, dy_conv, dw_conv = a(30, 25), a(25, BATCH * 576), a(30, BATCH * 576), \
        a(30, BATCH * 576), a(30, 25)
    dense = [(a(BATCH, 4320), a(4320, 100), a(BATCH, 100)), (a(BATCH, 100), a(100, 10), a(BATCH, 10))]
    grads = [(np.empty_like(w), np.empty_like(x)) for x, w, _ in dense]

    def call():
        np.matmul(w_conv, col, out=y_conv)
        np.matmul(dy_conv, col.T, out=dw_conv)
        for (x, w, y), (dw, dx) in zip(dense, grads):
            np.matmul(x, w, out=y)
            np.matmul(x.T, y, out=dw)
            np.matmul(y, w.T, out=dx)

    return call


def layer_times(children, ts, x, rounds: int) -> list[tuple[str, float, float]]:
    """(name, forward ms, backward ms) of each child of the model, in training mode, each
    backward fed the gradient its successor returns (so memory layouts are as in the step)."""
    key = random.key(1)
    inputs, caches = [], []
    for layer, params, state in zip(children, ts.params, ts.state):
        inputs.append(x)
        x, _, cache = layer.forward(params, state, x, key=key, train=True)
        caches.append(cache)
    rows, dy = [], np.ones_like(x)
    for i in reversed(range(len(children))):
        layer, params, state, cache = children[i], ts.params[i], ts.state[i], caches[i]
        forward = lambda: layer.forward(params, state, inputs[i], key=key, train=True)
        if i == 0:  # the first layer computes no input gradient, as in the step
            backward = lambda: param_grads(layer, params, cache, dy)
        else:
            backward = lambda: layer.backward(params, cache, dy)
        forward_ms, backward_ms = median_ms(forward, backward, rounds=rounds)
        if i > 0:
            dy = layer.backward(params, cache, dy)[0]
        rows.append((layer.name, forward_ms, backward_ms))
    return rows[::-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.random((BATCH, 1, 28, 28), dtype=np.float32)
    t = rng.integers(0, 10, BATCH)

    children = simple_conv_net_layers()
    model, optimizer = fnn.sequential(*children), optim.adam(lr=1e-3)
    ts = fnn.init_train_state(model, optimizer, random.key(0), (1, 28, 28))
    step = fnn.make_train_step(model, losses.softmax_cross_entropy(), optimizer)
    box = [ts]

    def fnn_step():
        box[0], _ = step(box[0], x, t)

    step_ms, floor_ms = median_ms(fnn_step, gemm_floor(rng), rounds=args.rounds)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        fnn_step()
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / 10
    tracemalloc.start()
    fnn_step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    print(f"SimpleConvNet train step, batch {BATCH}, float32, Adam ({args.rounds} rounds)")
    print(f"  fnn step     {step_ms:7.2f} ms (median)")
    print(f"  GEMM floor   {floor_ms:7.2f} ms (median)")
    print(f"  ratio        {step_ms / floor_ms:7.2f}")
    print(f"  peak memory  {peak / 2**20:7.1f} MiB allocated during a step (tracemalloc); "
          f"process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(f"  page faults  {faults:7.0f} per step (minor)")
    print("  per layer      forward ms  backward ms")
    for name, forward_ms, backward_ms in layer_times(children, box[0], x, args.rounds):
        print(f"    {name:15s} {forward_ms:8.2f} {backward_ms:11.2f}")


if __name__ == "__main__":
    main()
