"""Run fnn's benchmarks and print a table (and, with --json, write the figures).

    python -m benchmarks                 # the full suite, a few minutes on 2 cores
    python -m benchmarks --quick         # fewer rounds, for a smoke test
    python -m benchmarks --json out.json --malloc default --dtype float64

For every workload: ms per train step (median of interleaved rounds), samples
per second, the peak memory a step allocates against what it must hold, and
the references measured in the same rounds: the hand-fused numpy step, the
matrix-product floor and, where installed (``pip install -e '.[bench]'``),
PyTorch eager and JAX jit on CPU, each in a process of its own
(``benchmarks/peers.py``). Then what fnn's checks cost, and the peak memory of a
whole W1 training run against its bound.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tracemalloc

import numpy as np

import fnn
from benchmarks import cnn, detection, harness, mlp, peers
from benchmarks.checks import check_cost_workload, finite_check_shares
from benchmarks.harness import Workload, measure, nbytes, peak_bytes
from fnn import random

MIB = 2**20


def workloads(dtype) -> list[Workload]:
    return [mlp.w1(100, dtype), mlp.w2(100, dtype), cnn.w3(100, dtype), cnn.w6(32, dtype),
            detection.w7(32, dtype), mlp.w1(1, dtype), mlp.w1(1000, dtype), mlp.w1_inference(1000, dtype),
            cnn.w3_inference(1000, dtype)]


def rounds_for(workload: Workload, quick: bool) -> int:
    heavy = workload.batch >= 1000 or workload.name[:2] in ("W3", "W6", "W7")
    return (5 if heavy else 20) if quick else (30 if heavy else 200)


def with_peers(workload: Workload, frameworks) -> dict[str, peers.Peer]:
    """Start the peers of a train-step workload and add them to its variants."""
    if "spec" not in workload.extra or not frameworks:
        return {}
    e = workload.extra
    started = peers.start(e["spec"], e["optimizer"], e["ts"], e["x"], e["t"], frameworks)
    workload.variants.update(started)
    return started


def peer_loss_check(workload: Workload, started: dict[str, peers.Peer]) -> list[str]:
    """Warnings for peers whose first loss differs from fnn's: then the work is not the same."""
    if not started:
        return []
    e = workload.extra
    mine = e["step"](e["ts"], e["x"], e["t"])[1].loss
    return [f"  warning: {workload.name}: {name}'s first loss {peer.first_loss:.6f}, fnn's "
            f"{mine:.6f}" for name, peer in started.items()
            if abs(peer.first_loss - mine) > 1e-3 * max(1.0, abs(mine))]


def training_run_memory(dtype, samples=8000, batch=100, steps=160) -> dict:
    """Peak bytes traced while a W1 run trains ``steps`` steps over a data set held in
    memory, against params + optimizer state + one batch's activations + the data set."""
    tracemalloc.start()
    try:
        rng = np.random.default_rng(0)
        x = rng.random((samples, 784), dtype=np.float32).astype(dtype)
        t = rng.integers(0, 10, samples)
        model = mlp.mlp((500, 100, 10), ["leaky", 0.1])
        optimizer = fnn.optim.momentum(0.01)
        ts = fnn.init_train_state(model, optimizer, random.key(0), (784,), dtype)
        step = fnn.make_train_step(model, fnn.losses.softmax_cross_entropy(), optimizer,
                                   keep_freed_memory=harness.KEEP_FREED_MEMORY)
        tracemalloc.reset_peak()
        for i, (xb, tb) in enumerate(fnn.data.batches(x, t, batch, key=random.key(1))):
            if i == steps:
                break
            ts, _ = step(ts, xb, tb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    activations = batch * (500 + 100 + 10) * np.dtype(dtype).itemsize * 3
    bound = nbytes(ts.params) + nbytes(ts.opt_state) + activations + x.nbytes + t.nbytes
    return {"peak_mib": peak / MIB, "bound_mib": bound / MIB, "ratio": peak / bound}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke test)")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--malloc", choices=["keep", "default"], default="keep",
                        help="keep: fnn.keep_freed_memory(), as make_train_step calls it; "
                             "default: leave glibc's malloc as it is (make_train_step(..., "
                             "keep_freed_memory=False))")
    parser.add_argument("--only", help="comma-separated workload prefixes, e.g. W1,W3")
    parser.add_argument("--peers", default=",".join(peers.FRAMEWORKS),
                        help="comma-separated frameworks to measure beside fnn where installed "
                             "(torch, jax); empty for none")
    args = parser.parse_args()
    harness.KEEP_FREED_MEMORY = args.malloc == "keep"
    kept = fnn.keep_freed_memory() if args.malloc == "keep" else False
    dtype = np.dtype(args.dtype)
    machine = (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
               f" numpy {np.__version__}, {dtype}, malloc {'kept' if kept else 'default'}, "
               f"{peers.threads()} threads for every implementation")
    print(f"fnn benchmarks: {machine}")
    print(f"load average at the start: {os.getloadavg()[0]:.2f}\n")
    frameworks = [f for f in args.peers.split(",") if f]
    columns = ["fnn", "fused", "floor", *frameworks]
    header = (f"{'workload':42s} " + " ".join(f"{c + ' ms':>9s}" for c in columns)
              + f" {'/fused':>7s} {'/floor':>7s}" + "".join(f" {'x ' + c:>8s}" for c in frameworks)
              + f" {'samples/s':>10s} {'peak MiB':>9s} {'bound':>7s}")
    print(header)
    print("-" * len(header))
    results = {"machine": machine, "threads": peers.threads(), "workloads": [], "checks": [],
               "training_run": None}
    selected = [w for w in workloads(dtype)
                if not args.only or any(w.name.startswith(p) for p in args.only.split(","))]
    warnings = []
    for workload in selected:
        started = with_peers(workload, frameworks)
        try:
            warnings += peer_loss_check(workload, started)
            times = measure(workload, rounds=rounds_for(workload, args.quick), warmup=3)
        finally:
            for peer in started.values():
                peer.close()
        peak = peak_bytes(workload.variants["fnn"])
        row = {"name": workload.name, "batch": workload.batch,
               **{f"{k}_ms": v * 1e3 for k, v in times.items()},
               **{f"fnn_over_{k}": times["fnn"] / v for k, v in times.items() if k != "fnn"},
               **{f"{k}_peak_rss_mib": peer.peak_rss_mib for k, peer in started.items()},
               "samples_per_s": workload.batch / times["fnn"],
               "peak_mib": peak / MIB, "bound_mib": workload.bound_bytes / MIB}
        results["workloads"].append(row)

        def cell(value, width, digits):
            return f" {value:{width}.{digits}f}" if value is not None else f" {'-':>{width}s}"

        print(f"{workload.name:42s}" + "".join(cell(row.get(f"{c}_ms"), 9, 3) for c in columns)
              + cell(row.get("fnn_over_fused"), 7, 2) + cell(row.get("fnn_over_floor"), 7, 2)
              + "".join(cell(row.get(f"fnn_over_{c}"), 8, 2) for c in frameworks)
              + f" {row['samples_per_s']:10.0f} {row['peak_mib']:9.1f}"
              + (cell(row["bound_mib"], 7, 1) if workload.bound_bytes else ""))
    for line in warnings:
        print(line)
    rss = [f"{row['name'].split()[0]} {k.split('_')[0]} {v:.0f}" for row in results["workloads"]
           for k, v in row.items() if k.endswith("_peak_rss_mib")]
    if rss:
        print("peers' peak resident memory (MiB, whole process): " + ", ".join(rss))
    print("\nwhat the checks cost (the same step with them switched off)")
    for workload in selected:
        if "inference" in workload.name or workload.batch != 100:
            continue
        workload.variants = {k: v for k, v in workload.variants.items() if k not in frameworks}
        # Twice the rounds: a difference of a few percent needs more samples than a ratio.
        times = measure(check_cost_workload(workload),
                        rounds=2 * rounds_for(workload, args.quick), warmup=3)
        row = {"name": workload.name,
               "boundary_checks_pct": 100 * (times["fnn"] / times["no boundary checks"] - 1),
               "finite_check_pct": 100 * (times["fnn"] / times["no finite check"] - 1),
               "state_check_pct": 100 * (times["fnn"] / times["no state check"] - 1)}
        results["checks"].append(row)
        print(f"  {workload.name:42s} boundary checks {row['boundary_checks_pct']:+5.1f}%   "
              f"finite-gradient check {row['finite_check_pct']:+5.1f}%   "
              f"finite-state check {row['state_check_pct']:+5.1f}%")
        if "ts" in workload.extra:
            shares = finite_check_shares(workload)
            row.update({f"{k}_check_alone_pct": 100 * v for k, v in shares.items()})
            print(f"  {'':42s} alone, in process time: finite-gradient check "
                  f"{100 * shares['gradients']:4.1f}%   finite-state check {100 * shares['state']:4.1f}%")
    if not args.only or "W1" in args.only:
        run = training_run_memory(dtype)
        results["training_run"] = run
        print(f"\nW1 training run: peak {run['peak_mib']:.1f} MiB allocated, bound (params + "
              f"optimizer state + one batch's activations + data set) {run['bound_mib']:.1f} MiB,"
              f" ratio {run['ratio']:.2f}")
    results["load_average_at_end"] = os.getloadavg()[0]
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f} (the machine's other work slows "
          f"every implementation alike within a round, not across runs)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
        print(f"\nfigures written to {args.json}")


if __name__ == "__main__":
    main()
