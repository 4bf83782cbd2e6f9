"""What fnn's input checks cost: the same train step with the checks switched off.

fnn's checks are plain functions named ``check_*`` that modules import by name;
switching them off means pointing those names at a function that does nothing.
The non-finite gradient check (one pass over the gradients) and the non-finite
state check (one pass over the new params, layer state and optimizer state) are
measured apart from the boundary checks (shapes, dtypes, params), which cost
microseconds.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from benchmarks.harness import Workload

BOUNDARY = ("check_input", "check_float", "check_params", "check_batch", "check_images")
FINITE = ("check_finite_grads",)
STATE = ("check_finite_state",)


def _patch_points(names: tuple[str, ...]) -> list[tuple[object, str, Callable]]:
    return [(module, name, getattr(module, name))
            for module_name, module in sorted(sys.modules.items())
            if module_name.startswith("fnn") and module is not None
            for name in names if callable(getattr(module, name, None))]


def without(names: tuple[str, ...], call: Callable[[], object]) -> Callable[[], object]:
    """``call`` run with the checks in ``names`` replaced by no-ops."""
    points = _patch_points(names)

    def unchecked():
        for module, name, _ in points:
            setattr(module, name, _nothing)
        try:
            return call()
        finally:
            for module, name, original in points:
                setattr(module, name, original)

    return unchecked


def _nothing(*args, **kwargs):
    return None


def check_cost_workload(workload: Workload) -> Workload:
    """``workload``'s fnn step four ways: as is, without boundary checks, without the
    finite-gradient check, without the finite-state check."""
    call = workload.variants["fnn"]
    return Workload(f"{workload.name} checks", workload.batch,
                    {"fnn": call, "no boundary checks": without(BOUNDARY, call),
                     "no finite check": without(FINITE, call),
                     "no state check": without(STATE, call)})


def finite_check_shares(workload: Workload, rounds: int = 7) -> dict[str, float]:
    """Each finite check run alone on the output of ``workload``'s fnn step, as a share of
    that step, in process time: the best of ``rounds`` rounds of many calls. Process time
    leaves out the time the process waits for a core, so a busy machine (where wall-time
    differences of a few percent drown) still gives these figures."""
    from fnn.train import check_finite_grads, check_finite_state

    ts, step, x, t = (workload.extra[k] for k in ("ts", "step", "x", "t"))
    new, _ = step(ts, x, t)
    grads = new.params  # the gradients have the params' leaves, shapes and dtypes
    seconds = {name: _process_time(call, calls, rounds) for name, call, calls in (
        ("step", lambda: step(ts, x, t), 20),
        ("gradients", lambda: check_finite_grads(0, grads), 500),
        ("state", lambda: check_finite_state(0, new.params, new.state, new.opt_state), 500))}
    return {name: seconds[name] / seconds["step"] for name in ("gradients", "state")}


def _process_time(call: Callable[[], object], calls: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(calls):
            call()
        best = min(best, (time.process_time() - start) / calls)
    return best
