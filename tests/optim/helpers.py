"""Shared by the optimizer tests."""

from fnn import optim


def run(transform, params, grads_per_step):
    """Apply the transform for each gradient in turn; return the params after each step."""
    state = transform.init(params)
    history = []
    for g in grads_per_step:
        updates, state = transform.update(g, state, params)
        params = optim.apply_updates(params, updates)
        history.append(params)
    return history, state
