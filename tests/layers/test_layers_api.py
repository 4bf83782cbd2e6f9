"""One table for every public layer factory and combinator (thinc's test_layers_api.py).

Each row is run through the same checks: purity and dtype preservation, shape
inference equal to the forward shape, a float64 gradient check of the input and
every parameter, ``uses_key`` true exactly when forward reads a key, and
batches of one and of zero. A new layer is covered by adding one row.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pytest

import fnn
from fnn import layers, random
from fnn.errors import DataError, MissingKeyError
from fnn.numerics import logistic
from fnn.testing import assert_layer_gradients, assert_trees_equal
from tests.layers.layer_checks import assert_init_agrees_with_forward, assert_pure_and_dtype_preserving


def swish():
    """The README's three-line custom activation: y = x·σ(x)."""
    return layers.elementwise("swish", lambda x: (x * logistic(x), x),
                              lambda x, dy: dy * logistic(x) * (1 + x * (1 - logistic(x))))


class Row(NamedTuple):
    make: Callable[[], fnn.Layer]
    in_shape: tuple[int, ...]
    # Training on fewer samples than this is refused (batch norm needs two values per feature).
    train_batch_min: int = 0


ROWS = [
    Row(lambda: layers.dense(3), (4,)),
    Row(lambda: layers.dense(3, use_bias=False), (4,)),
    Row(layers.relu, (5,)),
    Row(lambda: layers.leaky_relu(0.1), (5,)),
    Row(layers.elu, (5,)),
    Row(lambda: layers.elu(0.5), (2, 3)),
    Row(layers.gelu, (5,)),
    Row(lambda: layers.gelu(approximate="tanh"), (5,)),
    Row(layers.sigmoid, (5,)),
    Row(layers.tanh, (2, 3)),
    Row(layers.identity, (5,)),
    Row(layers.softmax, (5,)),
    Row(layers.step, (5,)),
    Row(swish, (2, 3)),
    Row(layers.flatten, (2, 3, 3)),
    Row(lambda: layers.reshape((9, 2)), (2, 3, 3)),
    Row(lambda: layers.reshape((-1, 3)), (2, 3, 3)),
    Row(lambda: layers.conv2d(3, 3, padding=1), (2, 5, 5)),
    Row(lambda: layers.conv2d(2, (2, 3), stride=2, use_bias=False), (2, 5, 6)),
    Row(lambda: layers.max_pool2d(2), (2, 4, 4)),
    Row(lambda: layers.max_pool2d(3, stride=1), (2, 5, 5)),
    Row(lambda: layers.avg_pool2d(2), (2, 4, 4)),
    Row(lambda: layers.avg_pool2d(3, stride=2), (2, 5, 5)),
    Row(layers.global_avg_pool2d, (3, 2, 3)),
    Row(lambda: layers.dropout(0.5), (6,)),
    Row(layers.batch_norm, (4,), train_batch_min=2),
    Row(lambda: layers.batch_norm(momentum=0.5), (2, 3, 3), train_batch_min=1),
    Row(layers.layer_norm, (5,)),
    Row(lambda: layers.layer_norm(eps=1e-3), (2, 3, 3)),
    Row(lambda: fnn.sequential(layers.dense(4), layers.tanh(), layers.dense(2)), (3,)),
    Row(lambda: fnn.residual(fnn.sequential(layers.dense(4), layers.relu(), layers.dense(4))), (4,)),
    Row(lambda: fnn.concatenate(layers.dense(2), fnn.sequential(layers.dense(3), layers.sigmoid())),
        (4,)),
    Row(lambda: fnn.add(layers.dense(3), layers.identity(), layers.dropout(0.25)), (3,)),
    Row(lambda: fnn.sequential(  # everything nested in everything, with a key and batch norm
        layers.conv2d(2, 3, padding=1),
        fnn.residual(fnn.sequential(layers.conv2d(2, 3, padding=1, use_bias=False),
                                    layers.batch_norm(), layers.gelu())),
        fnn.concatenate(layers.max_pool2d(2), fnn.add(layers.avg_pool2d(2), layers.avg_pool2d(2))),
        layers.dropout(0.3), layers.layer_norm(), layers.global_avg_pool2d(), layers.dense(2)),
        (1, 4, 4), train_batch_min=1),
]
IDS = [row.make().name for row in ROWS]


def test_every_public_layer_factory_and_combinator_has_a_row():
    made = {name.split("(")[0] for name in IDS} | {"elementwise"}  # swish is elementwise's row
    public = {name for name in layers.__all__ if name[0].islower()}
    assert public | {"sequential", "residual", "concatenate", "add"} <= made


def inputs(row, batch, dtype=np.float64, seed=0):
    # Away from 0, where relu, leaky_relu, elu and step have their kinks.
    x = np.random.default_rng(seed).normal(size=(batch, *row.in_shape))
    return (x + 0.1 * np.sign(x)).astype(dtype)


def params_grads_state(layer, x, key, train):
    params, state, out_shape = layer.init(random.key(1), x.shape[1:], x.dtype)
    y, _, cache = layer.forward(params, state, x, key=key, train=train)
    dy = np.random.default_rng(2).normal(size=y.shape).astype(x.dtype)
    dx, grads = layer.backward(params, cache, dy)
    return params, out_shape, y, dx, grads


@pytest.mark.parametrize("row", ROWS, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pure_and_dtype_preserving(row, dtype):
    assert_pure_and_dtype_preserving(row.make(), inputs(row, 4, dtype), train=True,
                                     key=random.key(3))


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_init_shape_equals_forward_shape(row):
    assert_init_agrees_with_forward(row.make(), inputs(row, 3, np.float32), refuses=False)


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_float64_gradients_of_the_input_and_every_parameter(row):
    assert_layer_gradients(row.make(), inputs(row, 3), key=random.key(3))


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_uses_key_exactly_when_forward_reads_one(row):
    layer, x = row.make(), inputs(row, 4)
    params, state, _ = layer.init(random.key(1), x.shape[1:], x.dtype)

    def forward(key: Any):
        return layer.forward(params, state, x, key=key, train=True)[0]

    if layer.uses_key:
        assert not np.array_equal(forward(random.key(4)), forward(random.key(5)))
        with pytest.raises(MissingKeyError):
            forward(None)
    else:
        np.testing.assert_array_equal(forward(None), forward(random.key(4)))


@pytest.mark.parametrize("row", ROWS, ids=IDS)
@pytest.mark.parametrize("batch", [1, 0])
@pytest.mark.parametrize("train", [False, True])
def test_batches_of_one_and_of_zero(row, batch, train):
    layer, x = row.make(), inputs(row, batch)
    if train and batch < row.train_batch_min:
        with pytest.raises(DataError, match="more than one value per feature"):
            params_grads_state(layer, x, random.key(3), train)
        return
    params, out_shape, y, dx, grads = params_grads_state(layer, x, random.key(3), train)
    assert y.shape == (batch, *out_shape) and dx.shape == x.shape
    assert [np.shape(g) for g in fnn.tree.leaves(grads)] == \
        [np.shape(p) for p in fnn.tree.leaves(params)]
    if batch == 0:  # nothing flowed back: every parameter gradient is zero
        assert_trees_equal(grads, fnn.tree.map(np.zeros_like, params))


def test_predict_on_an_empty_batch_gives_an_empty_output():
    model = fnn.sequential(layers.conv2d(4, 3), layers.relu(), layers.max_pool2d(2),
                           layers.flatten(), layers.dense(10))
    optimizer = fnn.optim.sgd(0.1)
    ts = fnn.init_train_state(model, optimizer, random.key(0), (1, 8, 8))
    empty = np.zeros((0, 1, 8, 8), np.float32)
    assert fnn.predict(model, ts, empty).shape == (0, 10)
    assert fnn.predict(model, ts, empty, batch_size=3).shape == (0, 10)
