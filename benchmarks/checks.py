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
