"""MLP workloads: W1 (784-500-100-10, Leaky ReLU 0.1, Momentum), W2 (784-100-100-10, ReLU,
Adam), W4 (W1 at batch 1 and 1,000) and W1's inference throughput.

Each is measured three ways: fnn's train step; a hand-fused step, the same
network as one mutable numpy function with preallocated buffers and in-place
updates; and the matrix-product floor, the step's GEMMs alone.
"""

from __future__ import annotations

import numpy as np

import fnn
from fnn import layers, losses, optim, random

from benchmarks.harness import Workload

LEARNING_RATE, MOMENTUM = 0.01, 0.9
ADAM = dict(lr=1e-3, b1=0.9, b2=0.999, eps=1e-8)


def batch_data(batch: int, dtype: np.dtype, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.random((batch, 784)).astype(dtype), rng.integers(0, 10, batch)


def fnn_step(model, optimizer, x, t, dtype):
    ts = fnn.init_train_state(model, optimizer, random.key(0), (784,), dtype)
    step = fnn.make_train_step(model, losses.softmax_cross_entropy(), optimizer)
    box = [ts]

    def call():
        box[0], _ = step(box[0], x, t)

    return call, ts


class FusedMLP:
    """The MLP as one mutable function: every buffer allocated once, every update in place."""

    def __init__(self, ts, x, t, activation_slope: float, adam: bool):
        self.w = [np.array(p.w) for p in ts.params if p is not None]
        self.b = [np.array(p.b) for p in ts.params if p is not None]
        self.x, self.t, self.slope, self.adam = x, t, activation_slope, adam
        n, dtype = len(x), x.dtype
        widths = [w.shape[1] for w in self.w]
        self.z = [np.empty((n, k), dtype) for k in widths]        # pre-activations / logits
        self.a = [np.empty((n, k), dtype) for k in widths[:-1]]   # activations
        self.dz = [np.empty((n, k), dtype) for k in widths]
        self.mask = [np.empty((n, k), bool) for k in widths[:-1]]
        self.gw = [np.empty_like(w) for w in self.w]
        self.gb = [np.empty_like(b) for b in self.b]
        params = self.w + self.b
        self.tmp = [np.empty_like(p) for p in params]
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.rows = np.arange(n)
        self.count = 0

    def step(self):
        x, t, w, b, z, a = self.x, self.t, self.w, self.b, self.z, self.a
        n_layers = len(w)
        inputs = [x] + a
        for i in range(n_layers):
            np.matmul(inputs[i], w[i], out=z[i])
            z[i] += b[i]
            if i < n_layers - 1:
                np.greater(z[i], 0, out=self.mask[i])
                if self.slope:
                    np.multiply(z[i], self.slope, out=a[i])
                    np.maximum(z[i], a[i], out=a[i])
                else:
                    np.maximum(z[i], 0, out=a[i])
        # softmax cross-entropy gradient, in place on the logits
        logits = z[-1]
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        dz = self.dz
        np.copyto(dz[-1], logits)
        dz[-1][self.rows, t] -= 1
        dz[-1] /= len(x)
        for i in range(n_layers - 1, -1, -1):
            np.matmul(inputs[i].T, dz[i], out=self.gw[i])
            np.sum(dz[i], axis=0, out=self.gb[i])
            if i > 0:
                np.matmul(dz[i], w[i].T, out=dz[i - 1])
                if self.slope:
                    np.multiply(dz[i - 1], np.where(self.mask[i - 1], 1, self.slope).astype(x.dtype), out=dz[i - 1])
                else:
                    dz[i - 1] *= self.mask[i - 1]
        self.update()

    def update(self):
        params, grads = self.w + self.b, self.gw + self.gb
        self.count += 1
        for p, g, m, v, tmp in zip(params, grads, self.m, self.v, self.tmp):
            if not self.adam:
                m *= MOMENTUM
                np.multiply(g, LEARNING_RATE, out=tmp)
                m -= tmp
                p += m
                continue
            b1, b2 = ADAM["b1"], ADAM["b2"]
            m *= b1
            np.multiply(g, 1 - b1, out=tmp)
            m += tmp
            v *= b2
            np.multiply(g, g, out=tmp)
            tmp *= 1 - b2
            v += tmp
            # p -= lr · m̂ / (√v̂ + eps), the corrections folded into two scalars
            np.sqrt(v, out=tmp)
            tmp *= 1 / np.sqrt(1 - b2 ** self.count)
            tmp += ADAM["eps"]
            np.divide(m, tmp, out=tmp)
            tmp *= ADAM["lr"] / (1 - b1 ** self.count)
            p -= tmp


def gemm_floor(fused: FusedMLP):
    """The step's matrix products alone, on the fused step's preallocated buffers."""
    w, z, dz, gw = fused.w, fused.z, fused.dz, fused.gw
    inputs = [fused.x] + fused.a

    def call():
        for i in range(len(w)):
            np.matmul(inputs[i], w[i], out=z[i])
        for i in range(len(w) - 1, -1, -1):
            np.matmul(inputs[i].T, dz[i], out=gw[i])
            if i > 0:
                np.matmul(dz[i], w[i].T, out=dz[i - 1])

    return call


def nbytes(tree) -> int:
    return sum(np.asarray(leaf).nbytes for leaf in fnn.tree.leaves(tree))


def mlp_workload(name, widths, activation, optimizer, batch, dtype, adam):
    x, t = batch_data(batch, dtype)
    hidden = []
    for width in widths[:-1]:
        hidden += [layers.dense(width), activation]
    model = fnn.sequential(*hidden, layers.dense(widths[-1]))
    call, ts = fnn_step(model, optimizer, x, t, dtype)
    slope = 0.1 if activation.name.startswith("leaky") else 0.0
    fused = FusedMLP(ts, x, t, slope, adam)
    activations = batch * sum(widths) * np.dtype(dtype).itemsize * 3  # z, a and dz per layer
    bound = nbytes(ts.params) * 2 + nbytes(ts.opt_state) + activations + x.nbytes
    return Workload(name, batch, {"fnn": call, "fused": fused.step, "floor": gemm_floor(fused)},
                    bound_bytes=bound)


def w1(batch=100, dtype=np.float32):
    return mlp_workload(f"W1 MLP 784-500-100-10 leaky/momentum b={batch}", (500, 100, 10),
                        layers.leaky_relu(0.1), optim.momentum(LEARNING_RATE, MOMENTUM), batch,
                        dtype, adam=False)


def w2(batch=100, dtype=np.float32):
    return mlp_workload(f"W2 MLP 784-100-100-10 relu/adam b={batch}", (100, 100, 10),
                        layers.relu(), optim.adam(**ADAM), batch, dtype, adam=True)


def w1_inference(batch=1000, dtype=np.float32):
    """Forward passes only, in evaluation mode, against the same forward in fused numpy."""
    x, t = batch_data(batch, dtype)
    model = fnn.sequential(layers.dense(500), layers.leaky_relu(0.1), layers.dense(100),
                           layers.leaky_relu(0.1), layers.dense(10))
    _, ts = fnn_step(model, optim.sgd(0.1), x, t, dtype)
    fused = FusedMLP(ts, x, t, 0.1, adam=False)
    w, z, a = fused.w, fused.z, fused.a
    inputs = [x] + a

    def fused_forward():
        for i in range(3):
            np.matmul(inputs[i], w[i], out=z[i])
            z[i] += fused.b[i]
            if i < 2:
                np.multiply(z[i], 0.1, out=a[i])
                np.maximum(z[i], a[i], out=a[i])

    def floor():
        for i in range(3):
            np.matmul(inputs[i], w[i], out=z[i])

    return Workload(f"W5 inference W1 b={batch}", batch,
                    {"fnn": lambda: fnn.predict(model, ts, x), "fused": fused_forward,
                     "floor": floor})
