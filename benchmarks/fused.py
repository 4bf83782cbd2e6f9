"""Pieces of the hand-fused reference steps: mutable, preallocated, in place."""

from __future__ import annotations

import numpy as np

LEARNING_RATE, MOMENTUM = 0.01, 0.9
ADAM = dict(lr=1e-3, b1=0.9, b2=0.999, eps=1e-8)
# the same, as the peers' optimizer specs (benchmarks.peers)
ADAM_SPEC = ["adam", ADAM["lr"], ADAM["b1"], ADAM["b2"], ADAM["eps"]]
MOMENTUM_SPEC = ["momentum", LEARNING_RATE, MOMENTUM]


class InPlaceOptimizer:
    """Momentum or Adam updating ``params`` in place from ``grads`` (lists of arrays)."""

    def __init__(self, params: list[np.ndarray], grads: list[np.ndarray], adam: bool):
        self.params, self.grads, self.adam = params, grads, adam
        self.tmp = [np.empty_like(p) for p in params]
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params] if adam else []
        self.count = 0

    def update(self) -> None:
        self.count += 1
        if not self.adam:
            for p, g, m, tmp in zip(self.params, self.grads, self.m, self.tmp, strict=True):
                m *= MOMENTUM
                np.multiply(g, LEARNING_RATE, out=tmp)
                m -= tmp
                p += m
            return
        b1, b2 = ADAM["b1"], ADAM["b2"]
        # p -= lr · m̂ / (√v̂ + eps), the bias corrections folded into two scalars
        c2 = 1 / np.sqrt(1 - b2 ** self.count)
        step = ADAM["lr"] / (1 - b1 ** self.count)
        for p, g, m, v, tmp in zip(self.params, self.grads, self.m, self.v, self.tmp, strict=True):
            m *= b1
            np.multiply(g, 1 - b1, out=tmp)
            m += tmp
            v *= b2
            np.multiply(g, g, out=tmp)
            tmp *= 1 - b2
            v += tmp
            np.sqrt(v, out=tmp)
            tmp *= c2
            tmp += ADAM["eps"]
            np.divide(m, tmp, out=tmp)
            tmp *= step
            p -= tmp


def softmax_cross_entropy_grad(logits: np.ndarray, labels: np.ndarray, rows: np.ndarray) -> None:
    """Turn ``logits`` into dE/dlogits = (softmax − one_hot) / batch, in place."""
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    logits[rows, labels] -= 1
    logits /= len(labels)
