"""Wrappers around a whole optimizer: hyper-parameters in the state, gradient accumulation."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from fnn import tree
from fnn.core import freeze, readonly
from fnn.errors import ConfigError
from fnn.optim.transform import (
    Leafwise,
    Transform,
    WithApply,
    check_state,
    leafwise,
    map_matching,
    update_and_apply,
)
from fnn.optim.velocity import zeros_like_tree
from fnn.validators import integer

__all__ = ["InjectHyperparamsState", "inject_hyperparams", "hyperparams", "MultiStepsState",
           "multi_steps"]


@attrs.frozen
class InjectHyperparamsState:
    """State of ``inject_hyperparams``: the updates made so far, the hyper-parameters
    the last update used (``name -> float``; before the first, those of count 0)
    and the optimizer's own state."""

    count: int
    hyperparams: dict
    inner_state: Any


def inject_hyperparams(factory: Callable[..., Transform], *,
                       static_args: tuple[str, ...] = ("mask",)) -> Callable[..., Transform]:
    """``factory`` whose numeric arguments are kept in its state, as optax's.

    ``inject_hyperparams(adam)(lr=cosine_decay(1e-3, 1000))`` is ``adam`` with
    the same updates; its state, an ``InjectHyperparamsState``, records every
    numeric argument (defaults included) as the update used it, a schedule
    evaluated at the state's count. Read them with ``hyperparams(opt_state)``.
    Arguments named in ``static_args`` and non-numeric ones are passed as given.
    Each update rebuilds the optimizer from the numbers of its count.
    """
    signature = inspect.signature(factory)
    where = f"inject_hyperparams({getattr(factory, '__name__', 'factory')})"

    def make(*args, **kwargs) -> Transform:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        fixed: dict[str, Any] = {}
        tuned: dict[str, Any] = {}
        for key, value in bound.arguments.items():
            numeric = callable(value) or (isinstance(value, (int, float, np.number))
                                          and not isinstance(value, bool))
            (tuned if numeric and key not in static_args else fixed)[key] = value

        def values(count: int) -> dict:
            return {k: float(v(count)) if callable(v) else float(v) for k, v in tuned.items()}

        def at(count: int) -> tuple[dict, Transform]:
            hp = values(count)
            return hp, factory(**fixed, **hp)

        def init(params):
            hp, inner = at(0)
            return InjectHyperparamsState(0, hp, inner.init(params))

        if isinstance(at(0)[1].update, Leafwise):
            def prepare(grads, state, params):
                check_state(where, state, InjectHyperparamsState)
                hp, inner = at(state.count)
                step = inner.update.prepare(grads, state.inner_state, params)
                return step._replace(make_state=lambda *trees: InjectHyperparamsState(
                    state.count + 1, hp, step.make_state(*trees)))

            return leafwise(where, init, prepare)

        def through(run, grads, state, params):
            check_state(where, state, InjectHyperparamsState)
            hp, inner = at(state.count)
            out, inner_state = run(inner, grads, state.inner_state, params)
            return out, InjectHyperparamsState(state.count + 1, hp, inner_state)

        return Transform(init, WithApply(
            lambda g, s, p=None: through(lambda t, *a: t.update(*a), g, s, p),
            lambda g, s, p: through(update_and_apply, g, s, p)))

    return make


def hyperparams(opt_state: Any) -> dict:
    """The hyper-parameters the last update used, from every ``inject_hyperparams``
    state inside ``opt_state`` (at any depth of a chain), as one ``name -> float``
    dict; empty where there is none. Two with the same name raise ``ConfigError``."""
    found: dict = {}
    pending = [opt_state]
    while pending:
        node = pending.pop()
        if isinstance(node, InjectHyperparamsState):
            for key, value in node.hyperparams.items():
                if key in found:
                    raise ConfigError(f"hyperparams: two inject_hyperparams states hold {key!r}")
                found[key] = value
            pending.append(node.inner_state)
        elif isinstance(node, tuple) or attrs.has(type(node)):
            pending.extend(child for _, child in tree.children(node) or ())
    return found


@attrs.frozen
class MultiStepsState:
    """State of ``multi_steps``: the micro-batches seen so far, the sum of their gradients
    since the last update and the optimizer's own state."""

    count: int
    grads_sum: Any = attrs.field(converter=freeze)
    inner_state: Any


def multi_steps(inner: Transform, k: int) -> Transform:
    """Gradient accumulation (optax's ``MultiSteps``): one update of ``inner`` every ``k`` calls.

    Calls 1…k−1 of each cycle add their gradients to a sum and return updates of
    −0.0 (the params keep every bit); call k hands ``inner`` the mean of the k
    gradients. For a mean loss over micro-batches of one size that mean is the
    gradient of their union, so k micro-batches make the step one k-times
    larger batch would. ``inner`` counts its own updates, once per cycle.
    """
    k = integer("multi_steps", "k", k, 1)

    def init(params):
        return MultiStepsState(0, zeros_like_tree(params), inner.init(params))

    def accumulate(grads, state):
        check_state("multi_steps", state, MultiStepsState)
        total = map_matching("multi_steps", np.add, state.grads_sum, grads)
        if (state.count + 1) % k:
            return None, MultiStepsState(state.count + 1, total, state.inner_state)
        return tree.map(lambda s: np.divide(s, k), total), None

    def update(grads, state, params=None):
        mean, waiting = accumulate(grads, state)
        if mean is None:
            return tree.map(lambda g: readonly(np.full_like(g, -0.0)), grads), waiting
        updates, inner_state = inner.update(mean, state.inner_state, params)
        return updates, MultiStepsState(state.count + 1, zeros_like_tree(mean), inner_state)

    def apply(grads, state, params):
        mean, waiting = accumulate(grads, state)
        if mean is None:
            return tree.map(readonly, params), waiting
        new_params, inner_state = update_and_apply(inner, mean, state.inner_state, params)
        return new_params, MultiStepsState(state.count + 1, zeros_like_tree(mean), inner_state)

    return Transform(init, WithApply(update, apply))
