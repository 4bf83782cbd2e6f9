"""PyTorch and JAX beside fnn: the same network, weights and batch, each framework in a
process of its own (``benchmarks.peer``), taking its turn in the same interleaved rounds.

A network is described once, as a ``spec``: a list of layers in plain JSON,

    ["conv", filters, kernel, padding, use_bias]   ["bn"]   ["relu"]   ["leaky", alpha]
    ["maxpool", size]   ["flatten"]   ["dense", units]

from which ``model`` builds fnn's network and the peer process its framework's.
The optimizer is ``["adam", lr, b1, b2, eps]`` or ``["momentum", lr, mu]``.
Install the frameworks with ``pip install -e '.[bench]'``; where one is missing,
its column stays empty.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

import fnn
from fnn import layers, optim

FRAMEWORKS = ("torch", "jax")


def layers_of(spec) -> list[fnn.Layer]:
    """fnn's layers for ``spec``."""
    make = {"conv": lambda f, k, p, bias: layers.conv2d(f, k, padding=p, use_bias=bias),
            "bn": layers.batch_norm, "relu": layers.relu, "leaky": layers.leaky_relu,
            "maxpool": layers.max_pool2d, "flatten": layers.flatten, "dense": layers.dense}
    return [make[kind](*args) for kind, *args in spec]


def model(spec) -> fnn.Layer:
    """fnn's network for ``spec``."""
    return fnn.sequential(*layers_of(spec))


def optimizer(spec) -> optim.Transform:
    """fnn's optimizer for ``["adam", lr, b1, b2, eps]`` or ``["momentum", lr, mu]``."""
    kind, *args = spec
    return optim.adam(*args) if kind == "adam" else optim.momentum(*args)


def threads() -> int:
    """The threads numpy's BLAS runs on, which the peers get too."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return os.cpu_count() or 1


class Peer:
    """A framework's train step in its own process. Calling it takes one step there and
    returns the seconds the step took, as that process measured them; ``first_loss`` and
    ``last_loss`` are the losses of the warm-up step and of the latest."""

    def __init__(self, framework: str, spec, opt_spec, params, x, t):
        leaves = [np.asarray(leaf) for leaf in fnn.tree.leaves(params)]
        with tempfile.NamedTemporaryFile(suffix=".npz", delete=False) as f:
            np.savez(f, spec=json.dumps(spec), optimizer=json.dumps(opt_spec), x=x, t=t,
                     **{f"p{i}": leaf for i, leaf in enumerate(leaves)})
            self.path = f.name
        env = dict(os.environ, OMP_NUM_THREADS=str(threads()))
        if threads() == 1:
            # XLA's CPU thread pool takes every core unless told otherwise
            env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.peer", framework, self.path, str(threads())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        word, _, rest = self.proc.stdout.readline().strip().partition(" ")
        self.available = word == "ready"
        self.first_loss = self.last_loss = float(rest) if self.available else None
        # a peer that failed to start has said why on stderr (shared with this process)
        self.reason = rest if word == "unavailable" else ("" if self.available else "failed")
        self.peak_rss_mib = None
        if not self.available:
            self.proc.wait()
            os.unlink(self.path)

    def __call__(self) -> float:
        self.proc.stdin.write("step\n")
        self.proc.stdin.flush()
        seconds, loss = self.proc.stdout.readline().split()
        self.last_loss = float(loss)
        return float(seconds)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.peak_rss_mib = float(self.proc.stdout.readline())
        self.proc.wait()
        os.unlink(self.path)


def start(spec, opt_spec, ts, x, t, frameworks=FRAMEWORKS) -> dict[str, Peer]:
    """The peers that could start, by framework, from fnn's initial state ``ts``."""
    peers = {name: Peer(name, spec, opt_spec, ts.params, x, t) for name in frameworks}
    return {name: peer for name, peer in peers.items() if peer.available}
