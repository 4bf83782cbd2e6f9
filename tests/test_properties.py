"""Property tests: hypothesis builds random layer stacks, batches, trees and byte strings
to hunt for what the hand-written examples miss."""

import gzip
import os

import attrs
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import fnn
from fnn import checkpoint, data, layers, random
from fnn.errors import DataError, FnnError, ShapeError
from fnn.testing import assert_layer_gradients, assert_trees_equal

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                      HealthCheck.function_scoped_fixture])
# FNN_HYPOTHESIS_SCALE=20 runs twenty times the examples, for a thorough hunt before a release.
SCALE = int(os.environ.get("FNN_HYPOTHESIS_SCALE", "1"))
SMOOTH = [layers.tanh, layers.sigmoid, layers.identity, layers.softmax]


def shapes(tree):
    return [(path, np.shape(leaf)) for path, leaf in fnn.tree.leaves_with_paths(tree)]


def inputs(seed, shape, dtype=np.float64):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


# --- random stacks through sequential ----------------------------------------------------------

@st.composite
def mlp_stacks(draw, smooth_only):
    activations = SMOOTH + ([] if smooth_only else [layers.relu, lambda: layers.leaky_relu(0.1),
                                                   layers.batch_norm, lambda: layers.dropout(0.3)])
    stack = []
    for _ in range(draw(st.integers(1, 3))):
        stack.append(layers.dense(draw(st.integers(1, 5)), use_bias=draw(st.booleans())))
        stack.append(draw(st.sampled_from(activations))())
    return fnn.sequential(*stack)


@st.composite
def cnn_stacks(draw, smooth_only):
    stack = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["conv", "max", "avg"] + ([] if smooth_only else ["bn"])))
        if kind == "conv":
            stack.append(layers.conv2d(draw(st.integers(1, 3)), draw(st.integers(1, 3)),
                                       stride=draw(st.integers(1, 2)),
                                       padding=draw(st.integers(0, 1))))
            stack.append(draw(st.sampled_from(SMOOTH[:3] if smooth_only else
                                              [*SMOOTH[:3], layers.relu]))())
        elif kind == "bn":
            stack.append(layers.batch_norm())
        else:
            pool = layers.max_pool2d if kind == "max" else layers.avg_pool2d
            stack.append(pool(draw(st.integers(1, 2)), stride=draw(st.integers(1, 2))))
    return fnn.sequential(*stack, layers.flatten(), layers.dense(2))


@settings(max_examples=60 * SCALE, **SETTINGS)
@given(stack=st.one_of(st.tuples(mlp_stacks(False), st.just(False)),
                       st.tuples(cnn_stacks(False), st.just(True))),
       batch=st.integers(1, 4), channels=st.integers(1, 3), height=st.integers(1, 8),
       width=st.integers(1, 8), features=st.integers(1, 6), train=st.booleans(),
       seed=st.integers(0, 2**16))
def test_inferred_shapes_equal_forward_shapes(stack, batch, channels, height, width, features,
                                              train, seed):
    model, is_cnn = stack
    in_shape = (channels, height, width) if is_cnn else (features,)
    x = inputs(seed, (batch, *in_shape), np.float32)
    try:
        params, state, out_shape = model.init(random.key(seed), in_shape)
    except ShapeError:
        event("init refused: no output pixels")
        with pytest.raises(ShapeError):
            model.forward(*model.init(random.key(seed), (channels, 32, 32))[:2], x)
        return
    event("cnn" if is_cnn else "mlp")
    if train and "batch_norm" in model.name:
        try:
            model.forward(params, state, x, key=random.key(seed), train=True)
        except DataError as exc:
            assert "more than one value per feature" in str(exc)
            event("batch norm refused a single value per feature")
            return
    y, _new_state, cache = model.forward(params, state, x, key=random.key(seed), train=train)
    assert y.shape == (batch, *out_shape) and y.dtype == np.float32
    dx, grads = model.backward(params, cache, np.ones_like(y))
    assert dx.shape == x.shape and dx.dtype == np.float32
    assert shapes(grads) == shapes(params)


@settings(max_examples=25 * SCALE, **SETTINGS)
@given(model=mlp_stacks(True), batch=st.integers(1, 3), features=st.integers(1, 4),
       seed=st.integers(0, 2**16))
def test_mlp_gradients_match_numerical_ones(model, batch, features, seed):
    assert_layer_gradients(model, inputs(seed, (batch, features)), seed=seed)


@settings(max_examples=15 * SCALE, **SETTINGS)
@given(model=cnn_stacks(True), batch=st.integers(1, 2), channels=st.integers(1, 2),
       size=st.integers(3, 6), seed=st.integers(0, 2**16))
def test_cnn_gradients_match_numerical_ones(model, batch, channels, size, seed):
    x = inputs(seed, (batch, channels, size, size))
    try:
        model.init(random.key(seed), x.shape[1:], np.float64)
    except ShapeError:
        event("init refused: no output pixels")
        return
    event("checked")
    assert_layer_gradients(model, x, seed=seed)


# --- trees and checkpoints ---------------------------------------------------------------------

@attrs.frozen
class Record:
    first: object
    second: object


arrays = st.builds(lambda seed, shape, dtype: inputs(seed, shape).astype(dtype),
                   st.integers(0, 2**16), st.lists(st.integers(0, 3), max_size=3).map(tuple),
                   st.sampled_from([np.float32, np.float64, np.int32, np.int64, np.uint8, bool]))
scalars = st.one_of(st.integers(-2**62, 2**62), st.floats(allow_nan=False), st.booleans())
trees = st.recursive(
    st.one_of(arrays, scalars, st.none()),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.lists(children, max_size=3).map(tuple),
        st.dictionaries(st.text("abcxyz", min_size=1, max_size=3), children, max_size=3),
        st.builds(Record, children, children)),
    max_leaves=12)


@settings(max_examples=100 * SCALE, **SETTINGS)
@given(tree=trees)
def test_tree_map_rebuilds_the_same_structure(tree):
    assert_trees_equal(fnn.tree.map(lambda leaf: leaf, tree), tree)
    assert_trees_equal(fnn.tree.map(lambda a, b: a, tree, tree), tree)
    counted = iter(range(10**6))
    numbered = fnn.tree.leaves(fnn.tree.map(lambda leaf: next(counted), tree))
    assert numbered == list(range(len(fnn.tree.leaves(tree))))
    paths = [path for path, _ in fnn.tree.leaves_with_paths(tree)]
    assert len(paths) == len(set(paths)) == len(fnn.tree.leaves(tree))


@settings(max_examples=60 * SCALE, **SETTINGS)
@given(tree=trees)
def test_checkpoint_round_trips_any_tree(tmp_path, tree):
    path = tmp_path / "tree.npz"
    checkpoint.save(path, tree)
    restored = checkpoint.load(path, like=tree)
    assert_trees_equal(restored, tree)
    assert checkpoint.digest(restored) == checkpoint.digest(tree)


# --- random bytes: only fnn's own errors come out ------------------------------------------------

def idx_file(code, dims, body):
    return bytes([0, 0, code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims) + body


random_idx = st.one_of(
    st.binary(max_size=64),
    st.builds(idx_file, st.sampled_from([8, 9, 11, 12, 13, 14, 7, 255]),
              st.lists(st.integers(0, 6), max_size=3), st.binary(max_size=80)),
    st.builds(idx_file, st.just(8), st.lists(st.integers(0, 2**32 - 1), max_size=4),
              st.binary(max_size=8)))


@settings(max_examples=300 * SCALE, **SETTINGS)
@given(content=random_idx, compress=st.booleans(), cut=st.integers(0, 100))
def test_read_idx_on_random_bytes_raises_only_data_errors(tmp_path, content, compress, cut):
    if compress:
        content = gzip.compress(content)
        content = content[:len(content) - cut % 4] if cut % 3 == 0 else content
    path = tmp_path / "random.idx"
    path.write_bytes(content)
    try:
        array = data.read_idx(path)
    except FnnError as exc:
        assert str(path) in str(exc)
        event(f"refused: {type(exc).__name__}")
        return
    event("read")
    assert isinstance(array, np.ndarray)


@pytest.fixture(scope="module")
def saved_checkpoint(tmp_path_factory):
    tree = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "step": 3, "key": random.key(1)}
    path = tmp_path_factory.mktemp("ckpt") / "good.npz"
    checkpoint.save(path, tree)
    return tree, path.read_bytes()


@settings(max_examples=300 * SCALE, **SETTINGS)
@given(flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), max_size=4),
       cut=st.one_of(st.none(), st.integers(0, 10**6)), noise=st.binary(max_size=40),
       use_noise=st.booleans())
def test_checkpoint_load_on_damaged_or_random_bytes_raises_only_fnn_errors(
        tmp_path, saved_checkpoint, flips, cut, noise, use_noise):
    tree, good = saved_checkpoint
    content = bytearray(noise if use_noise else good)
    for position, mask in flips:
        if content:
            content[position % len(content)] ^= mask
    if cut is not None and content:
        content = content[:cut % len(content)]
    path = tmp_path / "damaged.npz"
    path.write_bytes(bytes(content))
    try:
        restored = checkpoint.load(path, like=tree)
    except FnnError as exc:
        assert str(path) in str(exc)
        event(f"refused: {type(exc).__name__}")
        return
    event("loaded")
    assert shapes(restored) == shapes(tree)
