"""CNN workloads: W3, the book's SimpleConvNet (conv 30×5×5 → ReLU → 2×2 max pool →
dense 100 → ReLU → dense 10) trained with Adam, and its inference throughput (W5);
W6, the network of examples/detect_digits.py (four blocks of 3×3 padded conv, batch
norm, Leaky ReLU 0.1 and 2×2 max pooling, 8 → 64 channels, on 1×96×96 images, one more
conv/batch norm/Leaky ReLU on the 6×6 grid, then dense 1024, Leaky ReLU and a dense
head) with a 10-class cross-entropy head, which PyTorch and JAX run too (W7 in
``benchmarks.detection`` is the example's own step)."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import fnn
from benchmarks import peers
from benchmarks.detection import products
from benchmarks.fused import ADAM_SPEC, InPlaceOptimizer, softmax_cross_entropy_grad
from benchmarks.harness import Workload, fnn_step, nbytes
from benchmarks.mlp import batch_data
from fnn import optim

FILTERS, KERNEL, HIDDEN, CLASSES = 30, 5, 100, 10
W3_SPEC = [["conv", FILTERS, KERNEL, 0, True], ["relu"], ["maxpool", 2], ["flatten"],
           ["dense", HIDDEN], ["relu"], ["dense", CLASSES]]
W6_CHANNELS, W6_SIDE, W6_HIDDEN = (8, 16, 32, 64), 96, 1024
W6_SPEC = [entry for f in W6_CHANNELS
           for entry in (["conv", f, 3, 1, False], ["bn"], ["leaky", 0.1], ["maxpool", 2])] + \
    [["conv", W6_CHANNELS[-1], 3, 1, False], ["bn"], ["leaky", 0.1],
     ["flatten"], ["dense", W6_HIDDEN], ["leaky", 0.1], ["dense", CLASSES]]


def simple_conv_net():
    return peers.model(W3_SPEC)


class FusedConvNet:
    """SimpleConvNet as one mutable function on preallocated, channels-first buffers."""

    def __init__(self, ts, x, t, adam=True):
        conv, dense1, dense2 = ts.params[0], ts.params[4], ts.params[6]
        self.wc = np.array(conv.w).reshape(FILTERS, -1)
        self.bc, self.w1, self.b1 = np.array(conv.b), np.array(dense1.w), np.array(dense1.b)
        self.w2, self.b2 = np.array(dense2.w), np.array(dense2.b)
        self.x, self.t, self.rows = x, t, np.arange(len(x))
        n, dtype = len(x), x.dtype
        oh = x.shape[2] - KERNEL + 1
        ph = oh // 2
        self.windows = sliding_window_view(x, (KERNEL, KERNEL), axis=(2, 3)).transpose(
            1, 4, 5, 0, 2, 3)                                       # (1, 5, 5, N, 24, 24) view
        self.col = np.empty((KERNEL * KERNEL, n * oh * oh), dtype)
        self.z = np.empty((FILTERS, n * oh * oh), dtype)           # conv output, ReLU in place
        self.z4 = self.z.reshape(FILTERS, n, oh, oh)
        self.relu_mask = np.empty(self.z.shape, dtype)
        self.pooled = np.empty((FILTERS, n, ph, ph), dtype)
        self.flat = np.empty((n, FILTERS * ph * ph), dtype)
        self.h = np.empty((n, HIDDEN), dtype)
        self.h_mask = np.empty((n, HIDDEN), dtype)
        self.logits = np.empty((n, CLASSES), dtype)
        self.dh = np.empty_like(self.h)
        self.dflat = np.empty_like(self.flat)
        self.dz = np.empty_like(self.z)
        self.dz4 = self.dz.reshape(self.z4.shape)
        self.offsets = [(Ellipsis, slice(i, None, 2), slice(j, None, 2))
                        for i in range(2) for j in range(2)]
        # the pool window's offsets copied out contiguously, and their first-maximum masks
        self.chunks = np.empty((len(self.offsets), *self.pooled.shape), dtype)
        self.masks = np.empty(self.chunks.shape, bool)
        self.claimed = np.empty(self.pooled.shape, bool)
        self.dpooled = np.empty_like(self.pooled)
        params = [self.wc, self.bc, self.w1, self.b1, self.w2, self.b2]
        self.grads = [np.empty_like(p) for p in params]
        self.optimizer = InPlaceOptimizer(params, self.grads, adam)

    def forward(self):
        np.copyto(self.col.reshape(self.windows.shape), self.windows)
        np.matmul(self.wc, self.col, out=self.z)
        self.z += self.bc[:, None]
        np.maximum(self.z, 0, out=self.z)
        for chunk, index in zip(self.chunks, self.offsets, strict=True):
            np.copyto(chunk, self.z4[index])
        np.maximum(self.chunks[0], self.chunks[1], out=self.pooled)
        for chunk in self.chunks[2:]:
            np.maximum(self.pooled, chunk, out=self.pooled)
        np.copyto(self.flat.reshape(len(self.x), FILTERS, *self.pooled.shape[2:]),
                  self.pooled.transpose(1, 0, 2, 3))
        np.matmul(self.flat, self.w1, out=self.h)
        self.h += self.b1
        np.greater(self.h, 0, out=self.h_mask)
        self.h *= self.h_mask
        np.matmul(self.h, self.w2, out=self.logits)
        self.logits += self.b2

    def step(self):
        self.forward()
        # max pool: each window's gradient goes to its first maximum
        np.equal(self.chunks[0], self.pooled, out=self.masks[0])
        np.copyto(self.claimed, self.masks[0])
        for chunk, mask in zip(self.chunks[1:], self.masks[1:], strict=True):
            np.equal(chunk, self.pooled, out=mask)
            np.greater(mask, self.claimed, out=mask)
            self.claimed |= mask
        gwc, gbc, gw1, gb1, gw2, gb2 = self.grads
        dlogits = self.logits
        softmax_cross_entropy_grad(dlogits, self.t, self.rows)
        np.matmul(self.h.T, dlogits, out=gw2)
        np.sum(dlogits, axis=0, out=gb2)
        np.matmul(dlogits, self.w2.T, out=self.dh)
        self.dh *= self.h_mask
        np.matmul(self.flat.T, self.dh, out=gw1)
        np.sum(self.dh, axis=0, out=gb1)
        np.matmul(self.dh, self.w1.T, out=self.dflat)
        np.copyto(self.dpooled, self.dflat.reshape(
            len(self.x), FILTERS, *self.pooled.shape[2:]).transpose(1, 0, 2, 3))
        for index, mask in zip(self.offsets, self.masks, strict=True):
            np.multiply(self.dpooled, mask, out=self.dz4[index])
        np.greater(self.z, 0, out=self.relu_mask)
        self.dz *= self.relu_mask
        np.matmul(self.dz, self.col.T, out=gwc)
        np.sum(self.dz, axis=1, out=gbc)
        self.optimizer.update()

    def floor(self):
        """The step's matrix products alone, on these buffers."""
        np.matmul(self.wc, self.col, out=self.z)
        np.matmul(self.flat, self.w1, out=self.h)
        np.matmul(self.h, self.w2, out=self.logits)
        np.matmul(self.h.T, self.logits, out=self.grads[4])
        np.matmul(self.logits, self.w2.T, out=self.dh)
        np.matmul(self.flat.T, self.dh, out=self.grads[2])
        np.matmul(self.dh, self.w1.T, out=self.dflat)
        np.matmul(self.dz, self.col.T, out=self.grads[0])


def w3(batch=100, dtype=np.float32):
    x, t = batch_data((batch, 1, 28, 28), dtype)
    call, ts, step = fnn_step(simple_conv_net(), peers.optimizer(ADAM_SPEC), x, t, dtype)
    fused = FusedConvNet(ts, x, t)
    fused.forward()
    # params, grads and new params; Adam's two moments, old and new; the activations
    # (col, conv output, ReLU, pool and its masks, their gradients) and the batch
    activations = (fused.col.nbytes + 4 * fused.z.nbytes + 2 * fused.pooled.nbytes
                   + fused.masks.nbytes + 2 * fused.flat.nbytes)
    bound = 3 * nbytes(ts.params) + 2 * nbytes(ts.opt_state) + activations + x.nbytes
    return Workload(f"W3 SimpleConvNet adam b={batch}", batch,
                    {"fnn": call, "fused": fused.step, "floor": fused.floor},
                    bound_bytes=bound, extra={"step": step, "ts": ts, "x": x, "t": t,
                                              "spec": W3_SPEC, "optimizer": ADAM_SPEC})


def w6(batch=32, dtype=np.float32):
    """The detector's network with a cross-entropy head, Adam; no hand-fused step."""
    x, t = batch_data((batch, 1, W6_SIDE, W6_SIDE), dtype)
    layer_list = peers.layers_of(W6_SPEC)
    call, ts, step = fnn_step(fnn.sequential(*layer_list), peers.optimizer(ADAM_SPEC), x, t, dtype)
    floor_calls = products(layer_list, ts.params, x.shape[1:], batch, dtype)
    # params, grads and new params; Adam's moments, old and new; the batch; per layer its
    # output and the output's gradient, and per conv its column matrix
    shape, activations = x.shape[1:], 0
    for layer in layer_list:
        out_shape = layer.init(fnn.random.key(0), shape, dtype)[2]
        activations += 2 * batch * int(np.prod(out_shape)) * x.itemsize
        if layer.name.startswith("conv2d"):
            activations += 9 * shape[0] * batch * int(np.prod(out_shape[1:])) * x.itemsize
        shape = out_shape
    bound = 3 * nbytes(ts.params) + 2 * nbytes(ts.opt_state) + activations + x.nbytes
    return Workload(f"W6 detector net, cross-entropy b={batch}", batch,
                    {"fnn": call, "floor": lambda: [product() for product in floor_calls]},
                    bound_bytes=bound,
                    extra={"step": step, "ts": ts, "x": x, "t": t, "spec": W6_SPEC,
                           "optimizer": ADAM_SPEC})


def w3_inference(batch=1000, dtype=np.float32):
    """Forward passes in evaluation mode; fnn predicts in slices of 100 so that the im2col
    matrix (58 MB at once for 1,000 images) stays small, the fused step runs all at once."""
    x, t = batch_data((batch, 1, 28, 28), dtype)
    model = simple_conv_net()
    _, ts, _ = fnn_step(model, optim.sgd(0.1), x, t, dtype)
    fused = FusedConvNet(ts, x, t, adam=False)

    def floor():
        np.matmul(fused.wc, fused.col, out=fused.z)
        np.matmul(fused.flat, fused.w1, out=fused.h)
        np.matmul(fused.h, fused.w2, out=fused.logits)

    return Workload(f"W5 inference of W3 b={batch} (fnn in 100s)", batch,
                    {"fnn": lambda: fnn.predict(model, ts, x, batch_size=100), "fused": fused.forward,
                     "floor": floor})
