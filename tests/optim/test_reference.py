"""The optimizers built from blocks against the fused per-leaf optimizers they replaced.

``reference/optimizers.npz`` holds every step's update of each optimizer as it
was, in float32 and float64 (``reference/make_reference.py`` says how and when
it was made). Each case replays the recorded gradients from the recorded
params, so every step starts where the old code's did, and compares bytes:
the update of ``update``, and the params of ``update_and_apply``. No order of
operations changed, so there is no tolerance.
"""

import pathlib

import numpy as np
import pytest

from fnn import optim, tree
from tests.optim.reference.make_reference import CASES, DTYPES, flat, initial_params

REFERENCE = np.load(pathlib.Path(__file__).parent / "reference" / "optimizers.npz")


def unflat(like, vector):
    """The tree of ``like`` holding the consecutive elements of ``vector``."""
    leaves, structure = tree.flatten(like)
    out, at = [], 0
    for leaf in leaves:
        out.append(vector[at:at + leaf.size].reshape(leaf.shape))
        at += leaf.size
    return tree.unflatten(structure, out)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_every_update_has_the_bytes_of_the_fused_optimizer(name, dtype):
    params = initial_params(dtype)
    assert flat(params).tobytes() == REFERENCE[f"{dtype}/params"].tobytes()
    transform = CASES[name]()
    state = fused_state = transform.init(params)
    for step, (grads_row, expected) in enumerate(zip(REFERENCE[f"{dtype}/grads"],
                                                     REFERENCE[f"{name}/{dtype}/updates"], strict=True)):
        grads, expected = unflat(params, grads_row), unflat(params, expected)
        updates, state = transform.update(grads, state, params)
        assert flat(updates).dtype == np.dtype(dtype)
        assert flat(updates).tobytes() == flat(expected).tobytes(), f"step {step}"
        new_params, fused_state = optim.update_and_apply(transform, grads, fused_state, params)
        params = optim.apply_updates(params, expected)
        assert flat(new_params).tobytes() == flat(params).tobytes(), f"step {step}"
