"""Timing and memory measurement shared by every benchmark workload.

A workload offers one step as several variants (fnn, the hand-fused numpy
step, the matrix-product floor). ``measure`` times them interleaved, one call
of each per round in a rotating order, so that machine noise hits all alike,
and reports medians. Memory is measured in a separate pass with tracemalloc
(numpy reports its allocations to it), so tracing never slows the timed runs.
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import fnn
from fnn import losses, random


@dataclass
class Workload:
    """A named step in several variants; ``variants`` maps a name to a zero-argument call."""

    name: str
    batch: int
    variants: dict[str, Callable[[], object]]
    bound_bytes: int = 0  # what the step must hold: params, optimizer state, activations, batch
    extra: dict = field(default_factory=dict)


def measure(workload: Workload, *, rounds: int, warmup: int) -> dict[str, float]:
    """Median seconds per call of each variant over ``rounds`` interleaved rounds.

    A call that returns a float has timed itself (a peer in another process: its
    seconds leave out the message passing); the others are timed here."""
    names = list(workload.variants)
    for _ in range(warmup):
        for name in names:
            workload.variants[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            call = workload.variants[name]
            start = time.perf_counter()
            own = call()
            elapsed = time.perf_counter() - start
            times[name].append(own if isinstance(own, float) else elapsed)
    return {name: statistics.median(ts) for name, ts in times.items()}


def peak_bytes(call: Callable[[], object], repeats: int = 3) -> int:
    """Peak bytes allocated during one call, above what was allocated before it."""
    call()  # let caches and lazily built buffers settle first
    tracemalloc.start()
    try:
        peak = 0
        for _ in range(repeats):
            tracemalloc.reset_peak()
            before, _ = tracemalloc.get_traced_memory()
            call()
            peak = max(peak, tracemalloc.get_traced_memory()[1] - before)
        return peak
    finally:
        tracemalloc.stop()


# Whether fnn's steps keep freed memory, as make_train_step does by default
# (``python -m benchmarks --malloc default`` switches it off to show the difference).
KEEP_FREED_MEMORY = True


def fnn_step(model, optimizer, x, t, dtype):
    """A zero-argument call running fnn's train step on (x, t), carrying the state along;
    also the initial state and the step itself."""
    ts = fnn.init_train_state(model, optimizer, random.key(0), x.shape[1:], dtype)
    step = fnn.make_train_step(model, losses.softmax_cross_entropy(), optimizer,
                               keep_freed_memory=KEEP_FREED_MEMORY)
    box = [ts]

    def call():
        box[0], _ = step(box[0], x, t)

    return call, ts, step


def nbytes(tree) -> int:
    """Bytes held by the array leaves of ``tree``."""
    return sum(leaf.nbytes for leaf in fnn.tree.leaves(tree) if isinstance(leaf, np.ndarray))
