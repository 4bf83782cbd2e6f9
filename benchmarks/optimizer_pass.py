"""The optimizer's share of a train step: ``update_and_apply`` on W1's, W2's and W3's params.

``python -m benchmarks.optimizer_pass`` prints, per optimizer and parameter set,
the fastest and the median of 300 passes (after 20 warm ones), in microseconds.
Run it from two checkouts in turn (``cd old && python -m benchmarks.optimizer_pass``,
then the new one, and again) to compare optimizer code; the fastest pass is the
figure least moved by a busy machine.
"""

from __future__ import annotations

import time

import numpy as np

from fnn import optim, tree
from fnn.layers import ConvParams, DenseParams


def dense(rng: np.random.Generator, *shapes: tuple[int, int]) -> tuple:
    return tuple(DenseParams(rng.normal(size=s).astype(np.float32),
                             rng.normal(size=s[1]).astype(np.float32)) for s in shapes)


def main() -> None:
    rng = np.random.default_rng(0)
    w1 = dense(rng, (784, 500), (500, 100), (100, 10))
    w2 = dense(rng, (784, 100), (100, 100), (100, 10))
    w3 = (ConvParams(rng.normal(size=(30, 1, 5, 5)).astype(np.float32), np.zeros(30, np.float32)),
          *dense(rng, (4320, 100), (100, 10)))
    cases = {"W1 momentum": (optim.momentum(0.01, 0.9), w1), "W2 adam": (optim.adam(1e-3), w2),
             "W3 adam": (optim.adam(1e-3), w3), "W2 sgd": (optim.sgd(0.1), w2),
             "W2 adamw, weights only": (optim.adamw(1e-3, mask=optim.weights_only), w2)}
    print(f"{'optimizer pass':24s} {'fastest us':>10s} {'median us':>10s}")
    for name, (optimizer, params) in cases.items():
        grads = tree.map(lambda p: p * np.float32(0.01), params)
        state, times = optimizer.init(params), []
        for _ in range(320):
            start = time.perf_counter()
            params, state = optim.update_and_apply(optimizer, grads, state, params)
            times.append(time.perf_counter() - start)
        micros = np.array(times[20:]) * 1e6
        print(f"{name:24s} {micros.min():10.1f} {np.median(micros):10.1f}")


if __name__ == "__main__":
    main()
