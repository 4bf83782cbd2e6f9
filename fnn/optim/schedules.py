"""Learning-rate schedules: pure functions ``step -> float``, in the shapes of optax's.

An optimizer evaluates its schedule at its count of updates, so the first
update sees 0. Past its last step a schedule stays at its final value.
Values (initial, peak, end) must be finite and non-negative, as learning rates.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping

from fnn.optim.transform import Schedule
from fnn.validators import integer, non_negative

__all__ = ["constant", "exponential_decay", "step_decay", "cosine_decay", "warmup_cosine_decay",
           "linear_warmup"]


def _half_cosine(step: int, steps: int) -> float:
    """½(1 + cos(π·min(step, steps)/steps)): 1 at step 0, falling to 0 at ``steps``, then 0."""
    return 0.5 * (1.0 + math.cos(math.pi * min(step, steps) / steps))


def constant(value: float) -> Schedule:
    """``value`` at every step."""
    value = non_negative("constant", "value", value)
    return lambda step: value


def exponential_decay(init_value: float, transition_steps: int, decay_rate: float,
                      staircase: bool = False) -> Schedule:
    """init_value · decay_rate^(step / transition_steps), with optax's argument order; with
    ``staircase`` the exponent is rounded down, so the value drops once every
    ``transition_steps`` steps."""
    init_value = non_negative("exponential_decay", "init_value", init_value)
    decay_rate = non_negative("exponential_decay", "decay_rate", decay_rate)
    transition_steps = integer("exponential_decay", "transition_steps", transition_steps)

    def schedule(step: int) -> float:
        exponent = step // transition_steps if staircase else step / transition_steps
        return init_value * decay_rate ** exponent

    return schedule


def step_decay(init_value: float, boundaries_and_scales: Mapping[int, float]) -> Schedule:
    """Piecewise constant (optax's ``piecewise_constant_schedule``): init_value times the
    product of the scales of every boundary ≤ step.

    ``step_decay(0.1, {100: 0.1, 200: 0.1})`` is 0.1 for steps 0–99, 0.01 for
    100–199 and 0.001 from step 200 on.
    """
    init_value = non_negative("step_decay", "init_value", init_value)
    boundaries = sorted(integer("step_decay", "a boundary", b, 0) for b in boundaries_and_scales)
    values = [init_value]
    for b in boundaries:
        values.append(values[-1] * non_negative("step_decay", f"the scale at {b}",
                                                boundaries_and_scales[b]))

    def schedule(step: int) -> float:
        return values[bisect.bisect_right(boundaries, step)]

    return schedule


def cosine_decay(init_value: float, decay_steps: int, alpha: float = 0.0) -> Schedule:
    """From init_value at step 0 down half a cosine to alpha·init_value at ``decay_steps``::

        init_value · ((1 − alpha) · ½(1 + cos(π·min(step, decay_steps)/decay_steps)) + alpha)
    """
    init_value = non_negative("cosine_decay", "init_value", init_value)
    decay_steps = integer("cosine_decay", "decay_steps", decay_steps)
    alpha = non_negative("cosine_decay", "alpha", alpha)

    def schedule(step: int) -> float:
        return init_value * ((1.0 - alpha) * _half_cosine(step, decay_steps) + alpha)

    return schedule


def linear_warmup(peak_value: float, warmup_steps: int, init_value: float = 0.0) -> Schedule:
    """A straight line from init_value at step 0 to peak_value at ``warmup_steps``, then flat."""
    peak_value = non_negative("linear_warmup", "peak_value", peak_value)
    init_value = non_negative("linear_warmup", "init_value", init_value)
    warmup_steps = integer("linear_warmup", "warmup_steps", warmup_steps, 0)

    def schedule(step: int) -> float:
        if step >= warmup_steps:
            return peak_value
        return init_value + (peak_value - init_value) * step / warmup_steps

    return schedule


def warmup_cosine_decay(init_value: float, peak_value: float, warmup_steps: int,
                        decay_steps: int, end_value: float = 0.0) -> Schedule:
    """``linear_warmup`` from init_value to peak_value over ``warmup_steps``, then half a
    cosine from peak_value down to end_value at step ``decay_steps`` (which counts the
    warm-up, as in optax), then end_value."""
    warmup_steps = integer("warmup_cosine_decay", "warmup_steps", warmup_steps, 0)
    decay_steps = integer("warmup_cosine_decay", "decay_steps", decay_steps, warmup_steps + 1)
    warmup = linear_warmup(peak_value, warmup_steps, init_value)
    peak_value = non_negative("warmup_cosine_decay", "peak_value", peak_value)
    end_value = non_negative("warmup_cosine_decay", "end_value", end_value)
    span = decay_steps - warmup_steps

    def schedule(step: int) -> float:
        if step < warmup_steps:
            return warmup(step)
        return end_value + (peak_value - end_value) * _half_cosine(step - warmup_steps, span)

    return schedule
