"""Data-parallel training on MPI (mpi4py, the optional extra ``fnn[mpi]``).

Launch a script on N processes with ``mpiexec -n N python -m mpi4py script.py``;
in it, ``comm = fnn.distributed.communicator()`` (``MPI.COMM_WORLD``), then
``make_train_step(..., comm=comm)`` and ``fit(..., comm=comm)``. Each rank
trains on its shard of every global batch and every rank holds the same bytes
after every step. mpi4py is imported only when a communicator is made.
"""

from fnn.distributed.collectives import broadcast, check_same, gather_texts, same_on_all_ranks, same_structure
from fnn.distributed.comm import Communicator, Exchanged, allreduce, as_communicator, communicator, exchange
from fnn.distributed.launch import find_mpiexec
from fnn.distributed.step import DataParallelStep, shard_loss

__all__ = ["Communicator", "communicator", "as_communicator", "Exchanged", "exchange", "allreduce",
           "broadcast", "check_same", "gather_texts", "same_on_all_ranks", "same_structure",
           "DataParallelStep", "shard_loss", "find_mpiexec"]
