"""Scenarios that tests/test_distributed.py runs on several ranks:

    mpiexec -n N python -m mpi4py tests/mpi_worker.py OUT SCENARIO...

Each rank writes what it saw to OUT/<scenario>-<rank>.json (and .npz). The
models, data and training loops are importable, so the test runs the same loop
in one process as the reference.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

import fnn
from fnn import checkpoint, layers, losses, optim, random

N_SAMPLES, BATCH, EPOCHS = 50, 8, 3      # 7 batches an epoch, the last of 2 samples: 21 steps


def data(n: int = N_SAMPLES, features: int = 5, classes: int = 3):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(n, features))
    return x, rng.integers(0, classes, n), rng.normal(size=(n, classes))


def model(kind: str, comm=None):
    """float64 nets without dropout: ``mean`` (cross-entropy), ``sum`` (SSE), ``bn`` (batch norm)."""
    if kind == "bn":
        return fnn.sequential(layers.dense(6), layers.batch_norm(sync=comm), layers.tanh(),
                              layers.dense(3))
    return fnn.sequential(layers.dense(6), layers.tanh(), layers.dense(3))


def loss(kind: str):
    return losses.sse() if kind == "sum" else losses.softmax_cross_entropy()


def targets(kind: str, labels, values):
    return values if kind == "sum" else labels


def train(kind: str, comm=None, epochs: int = EPOCHS):
    """The loop every scenario shares: returns the state and each epoch's params digest."""
    x, labels, values = data()
    t = targets(kind, labels, values)
    net, opt = model(kind, comm), optim.momentum(0.05)
    ts = fnn.init_train_state(net, opt, random.key(0), (5,), np.float64)
    step = fnn.make_train_step(net, loss(kind), opt, comm=comm)
    digests = []
    for epoch_key in random.split(random.key(1), epochs):
        for xb, tb in fnn.data.batches(x, t, BATCH, key=epoch_key,
                                       shard=None if comm is None else comm.shard):
            ts, _ = step(ts, xb, tb)
        digests.append(checkpoint.digest(ts.params))
    return ts, digests


FIT_OPTIMIZER = optim.momentum(0.05)


def fresh_state(comm=None):
    return fnn.init_train_state(model("bn", comm), FIT_OPTIMIZER, random.key(0), (5,), np.float64)


def fit_run(comm=None, *, epochs: int, initial_epoch: int = 0, ts=None, callbacks=(),
            step_callbacks=()):
    """fit on the batch-norm net; ``ts`` resumes a run."""
    x, labels, _ = data()
    step = fnn.make_train_step(model("bn", comm), losses.softmax_cross_entropy(), FIT_OPTIMIZER,
                               comm=comm)
    return fnn.fit(step, fresh_state(comm) if ts is None else ts, x, labels, epochs=epochs,
                   batch_size=BATCH, key=random.key(2), initial_epoch=initial_epoch,
                   callbacks=callbacks, step_callbacks=step_callbacks, validation=(x, labels),
                   progress=False, comm=comm)


def outcome(run) -> dict:
    """What ``run()`` raised (class and message) or None."""
    try:
        run()
    except Exception as exc:
        return {"error": type(exc).__name__, "message": str(exc)}
    return {"error": None}


# Scenarios: each returns a JSON-able dict and may write arrays to <out>.npz.

def equivalence(comm, out):
    results = {}
    for kind in ("mean", "sum", "bn"):
        ts, digests = train(kind, comm)
        checkpoint.save(f"{out}-{kind}.npz", ts)
        results[kind] = {"epoch_digests": digests, "state": checkpoint.digest(ts)}
    return results


def nan_shard(comm, out):
    x, labels, _ = data()
    x = x.copy()
    # In-order batches of 8 on 2 or 3 ranks: sample 3*8 + 7 is in the last part of step 3.
    x[3 * BATCH + 7, 0] = np.nan
    net, opt = model("mean"), optim.sgd(0.1)
    ts = fnn.init_train_state(net, opt, random.key(0), (5,), np.float64)
    step = fnn.make_train_step(net, losses.softmax_cross_entropy(), opt, comm=comm)
    steps = []

    def run():
        nonlocal ts
        for xb, tb in fnn.data.batches(x, labels, BATCH, shard=comm.shard):
            ts, _ = step(ts, xb, tb)
            steps.append(ts.step)

    return {**outcome(run), "completed_steps": steps[-1:], "shard_has_nan": bool(
        comm.rank == comm.size - 1)}


def bad_data(comm, out):
    """Rank 1 passes a label out of range; in the batch-norm net, it fails in the loss, after
    the forward's exchanges; rank 1's second call has the wrong features, before them."""
    x, labels, _ = data(16)
    net, opt = model("bn", comm), optim.sgd(0.1)
    ts = fnn.init_train_state(net, opt, random.key(0), (5,), np.float64)
    step = fnn.make_train_step(net, losses.softmax_cross_entropy(), opt, comm=comm)
    xb, tb = next(fnn.data.batches(x, labels, 16, shard=comm.shard))
    bad_labels = np.where(comm.rank == 1, tb + 10, tb)
    bad_x = xb[:, :4] if comm.rank == 1 else xb
    def callback(ts, history):
        return 1 / 0

    return {"labels": outcome(lambda: step(ts, xb, bad_labels)),
            "features": outcome(lambda: step(ts, bad_x, tb)),
            "after": outcome(lambda: step(ts, xb, tb)),
            "callback": outcome(lambda: fit_run(comm, epochs=1, callbacks=[callback]))}


def mismatch(comm, out):
    """Rank 1 starts with another model, then with fewer samples."""
    x, labels, _ = data()
    other = fnn.sequential(layers.dense(7), layers.tanh(), layers.dense(3))
    net = other if comm.rank == 1 else model("mean")
    opt = optim.sgd(0.1)
    ts = fnn.init_train_state(net, opt, random.key(0), (5,), np.float64)
    step = fnn.make_train_step(net, losses.softmax_cross_entropy(), opt, comm=comm)
    results = {"model_fit": outcome(lambda: fnn.fit(step, ts, x, labels, epochs=1, batch_size=8,
                                                    key=random.key(1), progress=False)),
               "model_step": outcome(lambda: step(ts, x[:4], labels[:4])),
               "model_broadcast": outcome(lambda: fnn.distributed.broadcast(comm, ts))}
    net = model("mean")
    ts = fnn.init_train_state(net, opt, random.key(0), (5,), np.float64)
    step = fnn.make_train_step(net, losses.softmax_cross_entropy(), opt, comm=comm)
    n = 40 if comm.rank == 1 else N_SAMPLES
    results["data_fit"] = outcome(lambda: fnn.fit(step, ts, x[:n], labels[:n], epochs=1,
                                                  batch_size=8, key=random.key(1), progress=False))
    # Different seeds: broadcast makes rank 0's state everyone's.
    ts = fnn.init_train_state(net, opt, random.key(comm.rank), (5,), np.float64)
    results["seeds_fit"] = outcome(lambda: fnn.fit(step, ts, x, labels, epochs=1, batch_size=8,
                                                   key=random.key(1), progress=False))
    ts = fnn.distributed.broadcast(comm, ts)
    results["broadcast_digest"] = checkpoint.digest(ts)
    results["not_a_comm"] = outcome(lambda: fnn.distributed.communicator(object()))
    # A batch norm without sync=comm normalises each shard by its own statistics.
    plain = model("bn")
    ts = fnn.init_train_state(plain, opt, random.key(0), (5,), np.float64)
    step = fnn.make_train_step(plain, losses.softmax_cross_entropy(), opt, comm=comm)
    xb, tb = next(fnn.data.batches(x, labels, 8, shard=comm.shard))
    results["plain_batch_norm"] = outcome(lambda: step(ts, xb, tb))
    results["wrong_comm_fit"] = outcome(lambda: fnn.fit(
        step, ts, x, labels, epochs=1, batch_size=8, key=random.key(1), progress=False,
        comm=comm.mpi.Split(comm.rank, 0)))
    return results


def resume(comm, out):
    """Two epochs at once; then one epoch with fnn.callbacks.checkpoint_every (rank 0
    writes), resumed from the file for the second."""
    ran: dict[str, list] = {"epoch": [], "step": []}
    ts, history = fit_run(comm, epochs=2, callbacks=[lambda ts, h: ran["epoch"].append(comm.rank)],
                          step_callbacks=[lambda ts, m: ran["step"].append(comm.rank)])
    path = out.parent / "resume-epoch1.npz"
    fit_run(comm, epochs=1, callbacks=[fnn.callbacks.checkpoint_every(path)])
    # Rank 0 wrote the file before the exchange that ended the epoch on every rank.
    start, done = fnn.callbacks.resume(path, like=fresh_state(comm))
    resumed, _ = fit_run(comm, epochs=2, initial_epoch=done, ts=start)
    checkpoint.save(f"{out}-final.npz", ts)
    return {"callback_ranks": ran["epoch"], "step_callbacks": len(ran["step"]),
            "final": checkpoint.digest(ts), "resumed": checkpoint.digest(resumed),
            "val_accuracy": history.val_accuracy, "train_loss": history.train_loss}


def main() -> None:
    out_dir, scenarios = Path(sys.argv[1]), sys.argv[2:]
    comm = fnn.distributed.communicator()
    for name in scenarios:
        out = out_dir / f"{name}-{comm.rank}"
        result = globals()[name](comm, out)
        out.with_suffix(".json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
