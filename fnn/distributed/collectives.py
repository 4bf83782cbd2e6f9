"""What ranks check and share at the start of a run: texts, digests, a whole TrainState."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from fnn import checkpoint
from fnn.distributed import buffers
from fnn.distributed.comm import Communicator, exchange
from fnn.errors import ConfigError, RankError

__all__ = ["gather_texts", "same_on_all_ranks", "same_structure", "check_same", "broadcast"]


def gather_texts(comm: Communicator, text: str) -> list[str]:
    """Every rank's ``text``, in rank order, on every rank."""
    encoded = np.frombuffer(text.encode(), np.uint8)
    longest = int(exchange(comm, ints=[encoded.size]).ints[:, 0].max())
    padded = np.zeros(longest, np.uint8)
    padded[:encoded.size] = encoded
    rows = exchange(comm, padded).payloads
    return [bytes(row).rstrip(b"\0").decode() for row in rows]


def same_on_all_ranks(comm: Communicator, what: str, text: str) -> None:
    """Raise ``RankError`` on every rank unless every rank passed the same ``text``;
    the message shows rank 0's and the first differing rank's."""
    texts = gather_texts(comm, text)
    for rank, other in enumerate(texts):
        if other != texts[0]:
            raise RankError(f"the ranks hold different {what}: rank 0 has {texts[0]}, "
                            f"rank {rank} has {other}")


def check_same(comm: Communicator, tree: Any, what: str = "parameters") -> str:
    """``checkpoint.digest(tree)``, after checking that every rank's is the same
    (else ``RankError`` on every rank naming the ranks that differ from rank 0)."""
    digest = checkpoint.digest(tree)
    texts = exchange(comm, text=digest).texts
    differ = [rank for rank, other in enumerate(texts) if other != texts[0]]
    if differ:
        raise RankError(f"the ranks hold different {what}: ranks {differ} differ from rank 0 "
                        f"(digests {texts[0][:12]}... and {texts[differ[0]][:12]}...)")
    return digest


def same_structure(comm: Communicator, where: str, tree: Any, *, root: int = 0) -> None:
    """Raise ``RankError`` on every rank unless every rank's ``tree`` has rank ``root``'s
    structure, dtypes and shapes; the message shows the first difference."""
    description = json.dumps(checkpoint.describe(tree), sort_keys=True)
    texts = gather_texts(comm, description)
    for rank, other in enumerate(texts):
        if other != texts[root]:
            difference = checkpoint.mismatches(json.loads(texts[root]), json.loads(other))[0]
            raise RankError(f"{where}: rank {rank} holds a tree of another structure than "
                            f"rank {root} (a different model or optimizer?): at {difference}")


def broadcast(comm: Communicator, tree: Any, *, root: int = 0) -> Any:
    """Rank ``root``'s ``tree`` on every rank (a ``TrainState`` at the start of a run).

    Every rank passes a tree of the same structure, dtypes and shapes (a fresh
    ``init_train_state`` of the same model and optimizer does), else every rank
    raises ``RankError`` showing the first difference. One message carries the
    whole tree; records are rebuilt through their converters.
    """
    if not 0 <= root < comm.size:
        raise ConfigError(f"broadcast: root must be a rank in [0, {comm.size}), got {root!r}")
    same_structure(comm, "broadcast", tree, root=root)
    lay = buffers.layout(tree)
    buffer = buffers.pack(lay, tree)
    comm.mpi.Bcast(buffer, root=root)
    return buffers.unpack(lay, buffer)
