"""MLP workloads: W1 (784-500-100-10, Leaky ReLU 0.1, Momentum), W2 (784-100-100-10, ReLU,
Adam), W4 (W1 at batch 1 and 1,000) and W1's inference throughput (W5).

Each is measured three ways: fnn's train step; a hand-fused step, the same
network as one mutable numpy function with preallocated buffers and in-place
updates; and the matrix-product floor, the step's GEMMs alone on those buffers.
"""

from __future__ import annotations

import numpy as np

import fnn
from benchmarks import peers
from benchmarks.fused import ADAM_SPEC, MOMENTUM_SPEC, InPlaceOptimizer, softmax_cross_entropy_grad
from benchmarks.harness import Workload, fnn_step, nbytes
from fnn import optim
from fnn.layers.dense import weight_grad


def batch_data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random(shape).astype(dtype), rng.integers(0, 10, shape[0])


class FusedMLP:
    """The MLP as one mutable function: every buffer allocated once, every update in place.

    The first layer computes no input gradient (nobody needs it), as in fnn's step.
    """

    def __init__(self, ts, x, t, slope: float, adam: bool):
        self.w = [np.array(p.w) for p in ts.params if p is not None]
        self.b = [np.array(p.b) for p in ts.params if p is not None]
        self.x, self.t, self.slope = x, t, slope
        n, dtype = len(x), x.dtype
        widths = [w.shape[1] for w in self.w]
        self.z = [np.empty((n, k), dtype) for k in widths]        # pre-activations, logits
        self.a = [np.empty((n, k), dtype) for k in widths[:-1]]   # activations
        self.dz = [np.empty((n, k), dtype) for k in widths]
        self.slopes = [np.empty((n, k), dtype) for k in widths[:-1]]
        self.gw = [np.empty_like(w) for w in self.w]
        self.gb = [np.empty_like(b) for b in self.b]
        self.optimizer = InPlaceOptimizer(self.w + self.b, self.gw + self.gb, adam)
        self.rows = np.arange(n)

    def forward(self):
        inputs = [self.x, *self.a]
        for i, (w, b, z) in enumerate(zip(self.w, self.b, self.z, strict=True)):
            np.matmul(inputs[i], w, out=z)
            z += b
            if i < len(self.a):
                # the activation's slope (1 or the leak) for backward, then the activation
                np.greater(z, 0, out=self.slopes[i])
                np.maximum(self.slopes[i], self.slope, out=self.slopes[i])
                np.multiply(z, self.slopes[i], out=self.a[i])

    def step(self):
        self.forward()
        dz, inputs = self.dz, [self.x, *self.a]
        np.copyto(dz[-1], self.z[-1])
        softmax_cross_entropy_grad(dz[-1], self.t, self.rows)
        for i in range(len(self.w) - 1, -1, -1):
            weight_grad(inputs[i], dz[i], out=self.gw[i])  # np.dot at batch 1, as fnn
            np.sum(dz[i], axis=0, out=self.gb[i])
            if i > 0:
                np.matmul(dz[i], self.w[i].T, out=dz[i - 1])
                dz[i - 1] *= self.slopes[i - 1]
        self.optimizer.update()

    def floor(self):
        """The step's matrix products alone, on these buffers."""
        inputs = [self.x, *self.a]
        for i, w in enumerate(self.w):
            np.matmul(inputs[i], w, out=self.z[i])
        for i in range(len(self.w) - 1, -1, -1):
            weight_grad(inputs[i], self.dz[i], out=self.gw[i])
            if i > 0:
                np.matmul(self.dz[i], self.w[i].T, out=self.dz[i - 1])


def mlp_spec(widths, activation):
    """The MLP with dense layers of ``widths``, ``activation`` (a spec entry) between them."""
    spec = []
    for width in widths[:-1]:
        spec += [["dense", width], activation]
    return [*spec, ["dense", widths[-1]]]


def mlp(widths, activation):
    return peers.model(mlp_spec(widths, activation))


def mlp_workload(name, widths, activation, opt_spec, batch, dtype):
    x, t = batch_data((batch, 784), dtype)
    spec = mlp_spec(widths, activation)
    call, ts, step = fnn_step(peers.model(spec), peers.optimizer(opt_spec), x, t, dtype)
    fused = FusedMLP(ts, x, t, activation[1] if activation[0] == "leaky" else 0.0,
                     adam=opt_spec[0] == "adam")
    # what a step must hold: params and their gradients, the optimizer state, the new
    # params and state, and per layer the pre-activations, activations and their gradients
    activations = batch * sum(widths) * np.dtype(dtype).itemsize * 3
    bound = 3 * nbytes(ts.params) + 2 * nbytes(ts.opt_state) + activations + x.nbytes
    return Workload(name, batch, {"fnn": call, "fused": fused.step, "floor": fused.floor},
                    bound_bytes=bound, extra={"step": step, "ts": ts, "x": x, "t": t,
                                              "spec": spec, "optimizer": opt_spec})


def w1(batch=100, dtype=np.float32):
    return mlp_workload(f"W1 MLP 784-500-100-10 leaky/momentum b={batch}", (500, 100, 10),
                        ["leaky", 0.1], MOMENTUM_SPEC, batch, dtype)


def w2(batch=100, dtype=np.float32):
    return mlp_workload(f"W2 MLP 784-100-100-10 relu/adam b={batch}", (100, 100, 10),
                        ["relu"], ADAM_SPEC, batch, dtype)


def w1_inference(batch=1000, dtype=np.float32):
    """Forward passes in evaluation mode, against the same forward in fused numpy."""
    x, t = batch_data((batch, 784), dtype)
    model = mlp((500, 100, 10), ["leaky", 0.1])
    _, ts, _ = fnn_step(model, optim.sgd(0.1), x, t, dtype)
    fused = FusedMLP(ts, x, t, 0.1, adam=False)

    def floor():
        inputs = [x, *fused.a]
        for i, w in enumerate(fused.w):
            np.matmul(inputs[i], w, out=fused.z[i])

    return Workload(f"W5 inference of W1 b={batch}", batch,
                    {"fnn": lambda: fnn.predict(model, ts, x), "fused": fused.forward,
                     "floor": floor})
