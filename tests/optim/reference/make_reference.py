"""Writes ``optimizers.npz``: every optimizer's per-step updates, from the code of the day.

It holds the start params and the gradients of every step, flat, per dtype, and
per optimizer and dtype the updates of every step, one row each. Made once, at
commit 852a82c (each optimizer one fused per-leaf function), with
``python -m tests.optim.reference.make_reference`` from the repository root; the
test ``tests/optim/test_reference.py`` checks that the optimizers built from
blocks give the same bytes.
Rerunning it rewrites the fixture from the code of *that* day, which then no
longer pins the old one: do so only on purpose.
"""

from __future__ import annotations

import pathlib

import numpy as np

from fnn import optim, tree
from fnn.layers import DenseParams
from fnn.optim import schedules

STEPS = 30
SCHEDULE = dict(init_value=0.0, peak_value=0.05, warmup_steps=5, decay_steps=30)

# name -> factory; each also runs in float32 and float64
CASES = {
    "sgd": lambda: optim.sgd(0.05),
    "sgd_schedule": lambda: optim.sgd(schedules.warmup_cosine_decay(**SCHEDULE)),
    "momentum": lambda: optim.momentum(0.05, 0.9),
    "momentum_schedule": lambda: optim.momentum(schedules.warmup_cosine_decay(**SCHEDULE), 0.8),
    "nesterov": lambda: optim.nesterov(0.05, 0.9),
    "nesterov_schedule": lambda: optim.nesterov(schedules.warmup_cosine_decay(**SCHEDULE)),
    "adagrad": lambda: optim.adagrad(0.05),
    "rmsprop": lambda: optim.rmsprop(0.01, decay=0.9),
    "adam": lambda: optim.adam(0.01),
    "adam_schedule": lambda: optim.adam(schedules.warmup_cosine_decay(**SCHEDULE), b1=0.8),
    "adamw": lambda: optim.adamw(0.01, weight_decay=0.1),
    "adamw_masked": lambda: optim.adamw(schedules.cosine_decay(0.01, 30), weight_decay=0.3,
                                        mask=optim.weights_only),
    "weight_decay_momentum": lambda: optim.chain(optim.add_weight_decay(0.01), optim.momentum(0.05)),
    "weight_decay_masked_sgd": lambda: optim.chain(
        optim.add_weight_decay(0.1, mask=optim.weights_only), optim.sgd(0.05)),
    "clip_adam": lambda: optim.chain(optim.clip_by_global_norm(1.0), optim.adam(0.01)),
    "clip_nesterov": lambda: optim.chain(optim.clip_by_global_norm(2.0), optim.nesterov(0.05)),
}
DTYPES = ("float32", "float64")


def initial_params(dtype):
    """Two dense layers' params, the second without a bias."""
    rng = np.random.default_rng(0)
    return (DenseParams(rng.normal(size=(3, 4)).astype(dtype), rng.normal(size=4).astype(dtype)),
            DenseParams(rng.normal(size=(4, 2)).astype(dtype), None))


def gradients(dtype):
    """STEPS gradient trees of varying size (some above clip_by_global_norm's limits)."""
    rng = np.random.default_rng(1)
    scales = rng.choice([0.01, 0.3, 1.0, 5.0], size=STEPS)
    return [tree.map(lambda p, s=s: (s * rng.normal(size=np.shape(p))).astype(dtype),
                     initial_params(dtype)) for s in scales]


def flat(tree_):
    """Every leaf of ``tree_`` raveled and joined into one vector."""
    return np.concatenate([np.ravel(leaf) for leaf in tree.leaves(tree_)])


def updates(make, dtype):
    """The updates of each step, one row per step (the params are the start plus their sum)."""
    transform, params = make(), initial_params(dtype)
    state, rows = transform.init(params), []
    for grads in gradients(dtype):
        u, state = transform.update(grads, state, params)
        rows.append(flat(u))
        params = optim.apply_updates(params, u)
    return np.stack(rows)


def main():
    arrays = {}
    for dtype in DTYPES:
        arrays[f"{dtype}/params"] = flat(initial_params(dtype))
        arrays[f"{dtype}/grads"] = np.stack([flat(g) for g in gradients(dtype)])
        for name, make in CASES.items():
            arrays[f"{name}/{dtype}/updates"] = updates(make, dtype)
    path = pathlib.Path(__file__).with_name("optimizers.npz")
    np.savez_compressed(path, **arrays)
    print(f"wrote {len(arrays)} arrays to {path}")


if __name__ == "__main__":
    main()
