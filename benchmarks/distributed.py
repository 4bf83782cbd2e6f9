"""Data-parallel W3: SimpleConvNet (Adam, float32, global batch 100) on 2 MPI ranks with
one BLAS thread each, against one process with 2 BLAS threads.

    python -m benchmarks.distributed [--launches 3] [--steps 40] [--ranks 2]

The set-ups run as separate launches, alternated (one process with N threads, with
one thread, N ranks, and again) so that machine noise hits all; each launch reports
the median step time.
The N-rank launch also times what combining the gradients costs on its own (pack
into one buffer, the header and payload Allgathers, the sum in rank order), the
same buffer through MPI's Allreduce and through Reduce + Bcast (the alternatives:
the first does not promise the same bytes on every rank, the second does), and
counts the bytes a rank sends and receives per step against the parameter size.
Needs mpi4py and mpiexec (pip install -e '.[mpi]').
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import fnn
from benchmarks.cnn import simple_conv_net
from benchmarks.fused import ADAM
from benchmarks.mlp import batch_data
from fnn import losses, optim, random
from fnn.distributed.launch import find_mpiexec

BATCH = 100
ROOT = Path(__file__).resolve().parents[1]


def median_ms(call, steps: int, sync=lambda: None) -> float:
    times = []
    for _ in range(steps):
        sync()
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def run_steps(step, ts, x, t, steps: int, shard=None, sync=lambda: None) -> float:
    """Median ms of a train step on the batch (this rank's shard of it)."""
    xb, tb = next(fnn.data.batches(x, t, BATCH, shard=shard))
    state = [ts]

    def call():
        state[0] = step(state[0], xb, tb)[0]

    for _ in range(3):
        call()
    return median_ms(call, steps, sync)


def worker(mode: str, steps: int) -> None:
    x, t = batch_data((BATCH, 1, 28, 28), np.float32)
    model, optimizer = simple_conv_net(), optim.adam(**ADAM)
    ts = fnn.init_train_state(model, optimizer, random.key(0), (1, 28, 28))
    loss = losses.softmax_cross_entropy()
    if mode == "one":
        ms = run_steps(fnn.make_train_step(model, loss, optimizer), ts, x, t, steps)
        print(json.dumps({"step_ms": ms}))
        return
    from mpi4py import MPI

    from fnn.distributed import buffers, exchange

    comm = fnn.distributed.communicator()
    step = fnn.make_train_step(model, loss, optimizer, comm=comm)
    ms = run_steps(step, ts, x, t, steps, shard=comm.shard)
    grads = fnn.tree.map(np.ones_like, ts.params)
    lay = buffers.layout((grads, 0.0))   # what the step sends: the gradients and the loss
    payload = buffers.pack(lay, (grads, 0.0))
    section = np.ones(sum(g.size for g in fnn.tree.leaves(grads)), np.float32)
    out = np.empty_like(section)
    sync = comm.mpi.Barrier

    def combine():
        rows = exchange(comm, buffers.pack(lay, (grads, 0.0)), ints=[1], text="x" * 64).payloads
        buffers.unpack(lay, buffers.sum_rows(lay, rows, 2))

    def reduce_bcast():
        comm.mpi.Reduce(section, out, op=MPI.SUM, root=0)
        comm.mpi.Bcast(out, root=0)

    figures = {"step_ms": ms,
               "combine_ms": median_ms(combine, steps, sync),
               "allreduce_ms": median_ms(lambda: comm.mpi.Allreduce(section, out, op=MPI.SUM),
                                         steps, sync),
               "reduce_bcast_ms": median_ms(reduce_bcast, steps, sync),
               "param_bytes": sum(p.nbytes for p in fnn.tree.leaves(ts.params)),
               "sent_bytes": payload.nbytes + 512,                       # payload and header
               "received_bytes": (comm.size - 1) * (payload.nbytes + 512)}
    if comm.rank == 0:
        print(json.dumps(figures))


def launch(command: list[str], threads: int) -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--launches", type=int, default=3)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--worker", choices=["one", "mpi"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.steps)
        return
    module = ["-m", "benchmarks.distributed", "--steps", str(args.steps), "--worker"]
    mpiexec = [find_mpiexec() or "mpiexec", "-n", str(args.ranks), sys.executable, "-m", "mpi4py"]
    ones, singles, many = [], [], []
    for _ in range(args.launches):
        ones.append(launch([sys.executable, *module, "one"], args.ranks)["step_ms"])
        singles.append(launch([sys.executable, *module, "one"], 1)["step_ms"])
        many.append(launch([*mpiexec, *module, "mpi"], 1))
    figures = {k: [r[k] for r in many] for k in many[0]}
    step = statistics.median(figures["step_ms"])
    single = statistics.median(ones)
    print(f"W3 SimpleConvNet adam, global batch {BATCH}, float32; medians of {args.launches} "
          f"alternated launches of {args.steps} steps (range in brackets)")
    rows = [(f"1 process x {args.ranks} BLAS threads", ones), ("1 process x 1 BLAS thread", singles),
            (f"{args.ranks} ranks x 1 BLAS thread", figures["step_ms"])]
    for name, values in rows:
        ms = statistics.median(values)
        print(f"  {name:32s} {ms:7.2f} ms/step [{min(values):.2f}-{max(values):.2f}]  "
              f"{1e3 * BATCH / ms:6.0f} samples/s")
    print(f"  speed-up of {args.ranks} ranks over 1 process x {args.ranks} threads: "
          f"{single / step:.2f}x")
    for key, what in (("combine_ms", "combine (pack, header + payload Allgather, rank-order sum)"),
                      ("allreduce_ms", "the same floats through MPI Allreduce"),
                      ("reduce_bcast_ms", "the same floats through Reduce + Bcast")):
        ms = statistics.median(figures[key])
        print(f"  {what:62s} {ms:6.3f} ms  ({ms / step:5.1%} of a step)")
    mib = 2**20
    print(f"  per step a rank sends {figures['sent_bytes'][0] / mib:.3f} MiB and receives "
          f"{figures['received_bytes'][0] / mib:.3f} MiB; the parameters are "
          f"{figures['param_bytes'][0] / mib:.3f} MiB (the floor: each rank's gradients "
          f"must leave it once)")


if __name__ == "__main__":
    main()
