"""What ``fit(..., comm=...)`` does besides stepping: agree at the start, decide on rank 0."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from fnn.distributed.collectives import check_same, same_on_all_ranks, same_structure
from fnn.distributed.comm import Communicator, as_communicator, exchange
from fnn.errors import ConfigError

__all__ = ["start_run", "on_root"]


def start_run(step: Any, comm: Any, ts: Any, x: np.ndarray, t: np.ndarray,
              settings: dict[str, Any]) -> Communicator:
    """The step's communicator (``comm`` must be the same), after every rank has been
    found to start alike: the same data sizes, shapes and dtypes, the same ``fit``
    settings and the same train state (``RankError`` on every rank otherwise)."""
    given = as_communicator("fit", comm)
    comm = getattr(step, "comm", None)
    if comm is None:
        raise ConfigError("fit(comm=...) needs a data-parallel step: "
                          "make_train_step(model, loss, optimizer, comm=comm)")
    if given.mpi is not comm.mpi and given.mpi != comm.mpi:
        raise ConfigError("fit: comm is not the communicator the step was made with")
    data = ", ".join([f"x of shape {np.shape(x)} and dtype {np.asarray(x).dtype}",
                      f"t of shape {np.shape(t)} and dtype {np.asarray(t).dtype}",
                      *(f"{name}={value!r}" for name, value in sorted(settings.items()))])
    same_on_all_ranks(comm, "data or fit settings", data)
    same_structure(comm, "fit", ts)
    check_same(comm, ts, "train states (init them from the same seed, or "
                         "fnn.distributed.broadcast(comm, ts))")
    return comm


def on_root(comm: Communicator, decide: Callable[[], Any], ts: Any = None) -> bool:
    """``bool(decide())`` run on rank 0 alone (callbacks that log or write checkpoints),
    its answer shared with every rank; an error in it is raised on every rank. With
    ``ts``, first checks that every rank holds the same train state."""
    if ts is not None:
        check_same(comm, ts, "train states")
    answer, error = False, None
    if comm.rank == 0:
        try:
            answer = bool(decide())
        except Exception as exc:
            error = exc
    return bool(exchange(comm, ints=[answer], error=error).ints[0, 0])
