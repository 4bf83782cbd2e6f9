"""The communicator record and the one collective every other builds on.

``exchange`` is how processes (ranks) talk: every rank sends a fixed-size
header (ok or error, payload size, a few integers, a short text), then, when
every header says ok, every rank's payload reaches every rank (``Allgather``).
An error on one rank is announced in the header of whichever exchange the
other ranks are in, so every rank raises and none waits forever in a
collective. Combining payloads on every rank, in rank order, gives the same
bytes on every rank, which MPI's ``Allreduce`` does not promise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from fnn import errors
from fnn.distributed import buffers
from fnn.errors import ConfigError, RankError

__all__ = ["FailureLog", "Communicator", "communicator", "as_communicator", "Exchanged", "exchange",
           "allreduce"]

_INTS = 6                       # integers a header carries besides its status and size
_WORDS = 2 + _INTS              # int64 words: status, payload bytes, the integers
_TEXT = 448                     # bytes of text: an error's type and message, or a digest
_HEADER = 8 * _WORDS + _TEXT


def _mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError:
        raise ImportError("fnn.distributed needs mpi4py and an MPI library: pip install "
                          "'fnn[mpi]' (or pip install mpi4py mpich)") from None
    return MPI


@attrs.define
class FailureLog:
    """How many exchanges ended in an error, and the first failing rank's text of the last
    (``"Class\nmessage"``). The one mutable record here: it follows the MPI
    communicator's own state, not a value of the run."""

    count: int = 0
    rank: int = 0
    text: str = ""

    def error(self) -> errors.FnnError:
        """The last announced error, as every rank raises it."""
        return _remote(self.rank, self.text)


@attrs.frozen
class Communicator:
    """A group of processes training together: this process is ``rank`` of ``size``.

    ``mpi`` is the mpi4py communicator. ``sum(arrays)`` sums a tuple of arrays
    over the ranks (what ``layers.batch_norm(sync=comm)`` calls); ``shard`` is
    ``(rank, size)`` for ``fnn.data.batches``. ``failures`` logs this process's
    exchanges that ended in an error, so a step can tell an error another
    rank announced from one of its own that it still has to announce.
    """

    mpi: Any = attrs.field(repr=False, eq=False)
    rank: int
    size: int
    failures: FailureLog = attrs.field(factory=lambda: FailureLog(), init=False, repr=False,
                                       eq=False)

    @property
    def shard(self) -> tuple[int, int]:
        return self.rank, self.size

    def sum(self, arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
        return tuple(allreduce(self, tuple(arrays)))


def communicator(mpi_comm: Any = None) -> Communicator:
    """The ``Communicator`` of an mpi4py intracommunicator (``MPI.COMM_WORLD`` by default)."""
    MPI = _mpi()
    mpi_comm = MPI.COMM_WORLD if mpi_comm is None else mpi_comm
    if not isinstance(mpi_comm, MPI.Intracomm) or mpi_comm == MPI.COMM_NULL:
        raise ConfigError(f"communicator: expected an mpi4py intracommunicator such as "
                          f"MPI.COMM_WORLD, got {type(mpi_comm).__name__}")
    return Communicator(mpi_comm, mpi_comm.Get_rank(), mpi_comm.Get_size())


def as_communicator(where: str, comm: Any) -> Communicator:
    """``comm`` itself when it is a ``Communicator``, wrapped when an mpi4py one; else ConfigError."""
    if isinstance(comm, Communicator):
        return comm
    if type(comm).__module__.startswith("mpi4py"):
        return communicator(comm)
    raise ConfigError(f"{where}: comm must be an fnn.distributed.Communicator (from "
                      f"fnn.distributed.communicator()) or an mpi4py communicator, got "
                      f"{type(comm).__name__}")


@attrs.frozen
class Exchanged:
    """What an exchange gathered, one row per rank: ``ints`` (ranks × k), ``texts``
    and ``payloads`` (ranks × bytes, uint8)."""

    ints: np.ndarray
    texts: tuple[str, ...]
    payloads: np.ndarray


def exchange(comm: Communicator, payload: np.ndarray | None = None, *, ints: Sequence[int] = (),
             text: str = "", error: BaseException | None = None) -> Exchanged:
    """Gather every rank's ``ints``, ``text`` and ``payload`` (uint8) on every rank.

    With ``error``, this rank announces it and raises it; every other rank raises
    an error of the same class (``RankError`` for a type fnn does not raise)
    whose message names the first failing rank. Payloads of different sizes
    raise ``RankError`` on every rank (the ranks hold different models).
    """
    if len(ints) > _INTS:
        raise ConfigError(f"exchange: at most {_INTS} integers, got {len(ints)}")
    header = np.zeros(_HEADER, np.uint8)
    words = header[:8 * _WORDS].view(np.int64)
    if error is not None:
        words[0] = 1
        text = f"{type(error).__name__}\n{error}"
    words[1] = 0 if payload is None else payload.nbytes
    words[2:2 + len(ints)] = ints
    encoded = text.encode()[:_TEXT]
    header[8 * _WORDS:8 * _WORDS + len(encoded)] = np.frombuffer(encoded, np.uint8)
    headers = np.empty((comm.size, _HEADER), np.uint8)
    comm.mpi.Allgather(header, headers)
    all_words = np.ascontiguousarray(headers[:, :8 * _WORDS]).view(np.int64)
    texts = tuple(bytes(row[8 * _WORDS:]).rstrip(b"\0").decode(errors="replace") for row in headers)
    failed = np.flatnonzero(all_words[:, 0])
    sizes = all_words[:, 1]
    if failed.size or (sizes != sizes[0]).any():
        log = comm.failures
        log.count += 1
        log.rank, log.text = (int(failed[0]), texts[failed[0]]) if failed.size else (0, (
            f"RankError\nthe ranks sent messages of different sizes (bytes per rank: "
            f"{sizes.tolist()}): were they started with different models?"))
        if error is not None:
            raise error
        raise log.error()
    gathered = np.empty((comm.size, int(sizes[0])), np.uint8)
    if sizes[0]:
        comm.mpi.Allgather(payload, gathered)
    return Exchanged(all_words[:, 2:2 + len(ints)], texts, gathered)


def _remote(rank: int, text: str) -> errors.FnnError:
    """The error rank ``rank`` announced, as one of fnn's classes where it was one."""
    name, _, message = text.partition("\n")
    cls = getattr(errors, name, None)
    if cls is RankError:
        return RankError(message)
    if isinstance(cls, type) and issubclass(cls, errors.FnnError):
        return cls(f"rank {rank}: {message}")
    return RankError(f"rank {rank} failed with {name}: {message}")


def allreduce(comm: Communicator, tree: Any) -> Any:
    """The sum over the ranks of ``tree`` (same structure, dtypes and shapes on every rank),
    sent as one buffer with a section per dtype and summed in rank order, so every rank
    gets the same bytes. Arrays come back read-only."""
    lay = buffers.layout(tree)
    gathered = exchange(comm, buffers.pack(lay, tree)).payloads
    return buffers.unpack(lay, buffers.sum_rows(lay, gathered))
