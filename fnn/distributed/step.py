"""The data-parallel train step: each rank's shard, one combined update."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from fnn import checkpoint, random
from fnn.core import Loss
from fnn.data import check_pairs
from fnn.distributed import buffers
from fnn.distributed.comm import Communicator, as_communicator, exchange
from fnn.errors import ConfigError, DataError, RankError
from fnn.train import StepMetrics, TrainState, TrainStep, value_and_grad

__all__ = ["DataParallelStep", "shard_loss"]


def shard_loss(loss: Loss) -> Loss:
    """``loss`` as a sum over the shard's samples, which ranks can add up: a mean loss
    times the shard's n (value and dy), a sum loss as it is, 0 on an empty shard
    (dy zeros of y's shape, so the rank still runs backward, and its collectives)."""
    scaled = loss.reduction == "mean"

    def forward(y, t):
        if len(y) == 0:
            return 0.0, (None, y)
        value, cache = loss.forward(y, t)
        return (value * len(y) if scaled else value), (cache, len(y) if scaled else 1)

    def backward(shard_cache):
        cache, n = shard_cache
        if cache is None:
            return np.zeros_like(n)  # n holds the empty y
        dy = loss.backward(cache)
        return dy * n if n != 1 else dy

    return Loss(f"shard_sum({loss.name})", forward, backward, reduction="sum")


def _communicator(comm: Any) -> Communicator:
    return as_communicator("make_train_step", comm)


@attrs.frozen
class DataParallelStep(TrainStep):
    """``step(ts, x, t) -> (new_ts, metrics)`` on every rank of ``comm``, each passing its
    shard of the global batch (``fnn.data.batches(..., shard=comm.shard)``).

    Each rank computes the loss and gradients of its shard as sums over its
    samples (``shard_loss``); one exchange gathers them with the sample counts,
    and every rank adds them up in rank order and divides by the global count
    for a mean loss (``loss.reduction``), so the gradients and the reported loss
    are those of the global batch, to rounding, and the same bytes on every rank.
    The finite checks and the update then run on every rank alike. A shard may
    be empty (a last batch smaller than the rank count). Dropout keys are this
    step's key folded with the rank. A ``batch_norm`` in the model must be
    ``batch_norm(sync=comm)``: the step checks that every rank's new layer state
    is the same. An error on any rank before the exchange (bad data, a shape)
    is announced in it: every rank raises, none hangs.
    """

    comm: Communicator = attrs.field(kw_only=True, converter=_communicator)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.loss, Loss) or self.loss.reduction not in ("mean", "sum"):
            raise ConfigError(f"make_train_step(comm=...): the loss must say how it reduces over "
                              f"the batch, Loss(..., reduction='mean' or 'sum'), got "
                              f"{getattr(self.loss, 'reduction', self.loss)!r}")
        super().__attrs_post_init__()
        object.__setattr__(self, "grad_fn", value_and_grad(self.model, shard_loss(self.loss)))

    def __call__(self, ts: TrainState, x: np.ndarray, t: np.ndarray) -> tuple[TrainState, StepMetrics]:
        comm, failures = self.comm, self.comm.failures.count
        payload, n, digest, error = None, 0, "", None
        try:
            n = check_pairs("data-parallel train step", x, t)
            step_key = (random.child(random.child(ts.key, 1), comm.rank)
                        if self.model.uses_key else None)
            value, grads, new_state = self.grad_fn(ts.params, ts.state, x, t, key=step_key,
                                                   train=True)
            lay = buffers.layout((grads, value))
            payload = buffers.pack(lay, (grads, value))
            digest = checkpoint.digest(new_state)
        except Exception as exc:
            if comm.failures.count != failures:
                # Announced in an exchange of the forward or backward: raised as announced,
                # without the prefixes of the layers it crossed on this rank.
                raise comm.failures.error() from None
            error = exc
        got = exchange(comm, payload, ints=[n], text=digest, error=error)
        total = int(got.ints[:, 0].sum())
        if total == 0:
            raise DataError(f"data-parallel train step {ts.step}: every rank's shard is empty")
        if any(text != got.texts[0] for text in got.texts):
            raise RankError(f"data-parallel train step {ts.step}: the ranks' layer states differ "
                            f"after the forward pass: a batch_norm without sync=comm?")
        divisor = total if self.loss.reduction == "mean" else 1
        grads, value = buffers.unpack(lay, buffers.sum_rows(lay, got.payloads, divisor))
        return self.commit(ts, value, grads, new_state, random.child(ts.key, 0))
