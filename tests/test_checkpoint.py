"""fnn.checkpoint: exact round trips, checked loads, atomic saves, digests, resumed runs."""

import json
import os
import subprocess
import sys
import zipfile
from collections import namedtuple

import numpy as np
import pytest

import fnn
from fnn import checkpoint, layers, losses, optim, random
from fnn.errors import DataError, DTypeError, FnnError, ShapeError, TreeError
from fnn.testing import assert_trees_equal

Pair = namedtuple("Pair", "first second")


def cnn_train_state():
    """A TrainState holding every record type: conv, dense and batch-norm params,
    batch-norm state, a chained optimizer state (momentum, adam, sgd), a key."""
    model = fnn.sequential(layers.conv2d(2, 3, padding=1), layers.batch_norm(), layers.relu(),
                           layers.max_pool2d(2), layers.flatten(), layers.dropout(0.5),
                           layers.dense(3))
    opt = optim.chain(optim.momentum(0.1), optim.adam(0.01), optim.sgd(1.0))
    ts = fnn.init_train_state(model, opt, random.key(7), (1, 4, 4))
    step = fnn.make_train_step(model, losses.softmax_cross_entropy(), opt)
    rng = np.random.default_rng(0)
    return step(ts, rng.normal(size=(4, 1, 4, 4)).astype(np.float32), np.array([0, 1, 2, 0]))[0]


def nested_tree():
    return {
        "f32": np.arange(6, dtype=np.float32).reshape(2, 3) / 7,
        "f64": np.linspace(-1, 1, 5),
        "ints": [np.arange(4, dtype=np.int64), np.array([-3, 5], dtype=np.int32),
                 np.array([1, 2], dtype=np.uint8)],
        "zero_d": np.array(2.5, dtype=np.float32),
        "bools": np.array([True, False]),
        "empty": np.zeros((0, 3)),
        "complex": np.array([1 + 2j]),
        "python": (3, -1.25, True, 1 - 1j, 2**62),
        "numpy_scalars": (np.float32(0.1), np.int16(-7), np.bool_(True)),
        "none": None,
        "empties": ((), [], {}),
        "named": Pair(np.ones(2), None),
        "int_keys": {2: np.ones(1), 10: None},
    }


def blank(tree):
    """A tree like ``tree`` with every leaf zero: values loaded into it must come from the file."""
    return fnn.tree.map(lambda leaf: np.zeros_like(leaf) if isinstance(leaf, np.ndarray)
                        else type(leaf)(0), tree)


def save_load(tmp_path, tree):
    path = tmp_path / "ckpt.npz"
    checkpoint.save(path, tree)
    return checkpoint.load(path, like=blank(tree))


RECORDS = {
    "dense_params": lambda: layers.DenseParams(np.ones((2, 3), np.float32), None),
    "schedule_state": lambda: optim.ScaleByScheduleState(4),
    "momentum_state": lambda: optim.momentum().init((layers.DenseParams(np.ones((2, 2))),)),
    "adam_state": lambda: optim.adam().init({"w": np.ones(3, np.float32)}),
    "key": lambda: random.split(random.key(3))[1],
    "batch_norm": lambda: (layers.BatchNormParams(np.ones(2), np.zeros(2)),
                           layers.BatchNormState(np.full(2, 0.5), np.full(2, 2.0))),
    "conv_params": lambda: layers.ConvParams(np.ones((2, 1, 3, 3), np.float32), np.zeros(2)),
    "train_state": cnn_train_state,
    "nested": nested_tree,
}


@pytest.mark.parametrize("name", RECORDS)
def test_round_trip_is_exact(tmp_path, name):
    tree = RECORDS[name]()
    loaded = save_load(tmp_path, tree)
    assert_trees_equal(loaded, tree)  # structure, leaf kinds, dtypes, shapes and bits
    assert checkpoint.digest(loaded) == checkpoint.digest(tree)


def test_loaded_leaves_keep_their_kind_and_records_are_read_only(tmp_path):
    ts = cnn_train_state()
    loaded = save_load(tmp_path, ts)
    assert type(loaded.step) is int and loaded.step == 1
    adam_state = loaded.opt_state[1][0]
    assert type(adam_state) is optim.ScaleByAdamState and type(adam_state.count) is int
    assert isinstance(loaded.key, random.Key)
    assert all(not leaf.flags.writeable for leaf in fnn.tree.leaves(loaded)
               if isinstance(leaf, np.ndarray))
    python = save_load(tmp_path, nested_tree())["python"]
    assert [type(v) for v in python] == [int, float, bool, complex, int]
    assert type(save_load(tmp_path, nested_tree())["numpy_scalars"][0]) is np.float32


def test_a_loaded_train_state_trains_like_the_original(tmp_path):
    model = fnn.sequential(layers.dense(4), layers.batch_norm(), layers.relu(), layers.dense(2))
    opt = optim.adam(0.01)
    step = fnn.make_train_step(model, losses.mse(), opt)
    ts = fnn.init_train_state(model, opt, random.key(0), (3,))
    x, t = np.ones((5, 3), np.float32), np.zeros((5, 2), np.float32)
    assert_trees_equal(step(save_load(tmp_path, ts), x, t), step(ts, x, t))


def test_described_leaf_paths_agree_with_tree_paths():
    for tree in (nested_tree(), cnn_train_state()):
        described = [node["path"] or "<root>" for node in checkpoint.describe(tree) if "leaf" in node]
        assert described == [path for path, _ in fnn.tree.leaves_with_paths(tree)]


def test_the_file_is_a_readable_npz_with_a_json_description(tmp_path):
    path = tmp_path / "ckpt.npz"
    checkpoint.save(path, {"w": np.ones((2, 3), np.float32), "step": 4})
    with np.load(path, allow_pickle=False) as archive:
        assert sorted(archive.files) == ["leaf_0", "leaf_1", "tree.json"]
        header = json.loads(archive["tree.json"])
        np.testing.assert_array_equal(archive["leaf_1"], np.ones((2, 3)))
    assert header["format"] == "fnn.checkpoint" and header["version"] == 1
    assert header["nodes"] == [
        {"path": "", "type": "dict"},
        {"path": "['step']", "leaf": "int", "dtype": "<i8", "shape": []},
        {"path": "['w']", "leaf": "array", "dtype": "<f4", "shape": [2, 3]}]
    first = path.read_bytes()
    checkpoint.save(path, {"w": np.ones((2, 3), np.float32), "step": 4})
    assert path.read_bytes() == first  # same tree, same bytes: snapshots do not churn


# --- load refuses what does not match, naming the file, the path and both sides ---

@pytest.fixture
def saved(tmp_path):
    tree = (layers.DenseParams(np.ones((2, 3), np.float32), np.zeros(3, np.float32)), {"step": 1})
    path = tmp_path / "ckpt.npz"
    checkpoint.save(path, tree)
    return path, tree


@pytest.mark.parametrize("like, error, words", [
    ((layers.DenseParams(np.ones((2, 4), np.float32), np.zeros(4, np.float32)), {"step": 0}),
     ShapeError, ["[0].w", "shape (2, 4)", "shape (2, 3)"]),
    ((layers.DenseParams(np.ones((2, 3)), np.zeros(3, np.float32)), {"step": 0}),
     DTypeError, ["[0].w", "float64", "float32"]),
    ((layers.DenseParams(np.ones((2, 3), np.float32), None), {"step": 0}),
     TreeError, ["[0].b", "None", "array"]),
    ((layers.DenseParams(np.ones((2, 3), np.float32), np.zeros(3, np.float32)), {"step": 0},
      None), TreeError, ["[2]", "missing"]),
    ((layers.DenseParams(np.ones((2, 3), np.float32), np.zeros(3, np.float32)),),
     TreeError, ["[1]", "unexpected"]),
    ([layers.DenseParams(np.ones((2, 3), np.float32), np.zeros(3, np.float32)), {"step": 0}],
     TreeError, ["<root>", "a tuple", "a list"]),
    ((layers.BatchNormParams(np.ones((2, 3), np.float32), np.zeros(3, np.float32)), {"step": 0}),
     TreeError, ["[0]", "BatchNormParams", "DenseParams"]),
    ((layers.DenseParams(np.ones((2, 3), np.float32), np.zeros(3, np.float32)), {"step": 0.0}),
     TreeError, ["['step']", "float", "int"]),
], ids=["shape", "dtype", "none", "missing", "extra", "container", "record", "kind"])
def test_load_names_the_first_mismatch_and_leaves_like_untouched(saved, like, error, words):
    path, _ = saved
    before = checkpoint.digest(like)
    with pytest.raises(error) as info:
        checkpoint.load(path, like=like)
    for word in [str(path), *words]:
        assert word in str(info.value)
    assert checkpoint.digest(like) == before


def craft(path, entries):
    """A zip file with the given raw entries (name -> bytes)."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def entries_of(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_a_truncated_file_is_refused(saved):
    path, tree = saved
    data = path.read_bytes()
    for size in (len(data) // 2, len(data) - 10, 3):
        path.write_bytes(data[:size])
        with pytest.raises(DataError, match="truncated") as info:
            checkpoint.load(path, like=tree)
        assert str(path) in str(info.value)


def test_a_file_that_is_not_a_zip_is_refused(tmp_path):
    for content in (b"", b"hello, not a checkpoint", np.lib.format.MAGIC_PREFIX + b"\x01\x00"):
        path = tmp_path / "bad.npz"
        path.write_bytes(content)
        with pytest.raises(DataError, match="not a zip") as info:
            checkpoint.read(path)
        assert str(path) in str(info.value)


def test_an_object_array_is_refused_unread(saved, tmp_path):
    path, tree = saved
    objects = tmp_path / "objects.npz"
    np.savez(objects, leaf_0=np.array([{"evil": 1}, None], dtype=object), allow_pickle=True)
    entries = entries_of(path)
    entries["leaf_0.npy"] = entries_of(objects)["leaf_0.npy"]
    craft(path, entries)
    with pytest.raises(DataError, match=r"leaf_0 \(\[0\]\.w\) cannot be read.*allow_pickle"):
        checkpoint.load(path, like=tree)


@pytest.mark.parametrize("change, words", [
    (lambda e: e.pop("tree.json"), "no tree.json entry"),
    (lambda e: e.pop("leaf_2.npy"), "entry leaf_2 ([1]['step']) is missing"),
    (lambda e: e.update({"leaf_9.npy": e["leaf_0.npy"]}), "unexpected entries ['leaf_9']"),
    (lambda e: e.update({"leaf_2.npy": e["leaf_0.npy"]}), "leaf_2 ([1]['step']) does not match tree.json"),
    (lambda e: e.update({"tree.json": b"{not json"}), "malformed tree.json"),
    (lambda e: e.update({"tree.json": b'{"format": "other", "version": 1, "nodes": []}'}),
     "malformed tree.json"),
    (lambda e: e.update({"tree.json": b'{"format": "fnn.checkpoint", "version": 1, '
                                      b'"nodes": [{"path": "", "leaf": "array"}]}'}),
     "malformed tree.json"),
], ids=["no-json", "missing-entry", "extra-entry", "wrong-entry", "bad-json", "other-format",
        "bad-node"])
def test_a_damaged_file_is_refused_naming_it(saved, change, words):
    path, tree = saved
    entries = entries_of(path)
    change(entries)
    craft(path, entries)
    with pytest.raises(DataError) as info:
        checkpoint.load(path, like=tree)
    assert str(path) in str(info.value) and words in str(info.value)


def test_a_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        checkpoint.load(tmp_path / "nothing.npz", like=None)


# --- save is atomic ---

@pytest.mark.parametrize("leaf, error, words", [
    (np.array([1, "a"], dtype=object), DTypeError, "dtype object"),
    (np.array(["text"]), DTypeError, "dtype <U4"),
    ("text", DTypeError, "a str"),
    (object(), DTypeError, "a object"),
    (2**70, DataError, "does not fit in int64"),
])
def test_a_leaf_that_cannot_be_stored_leaves_no_file(tmp_path, leaf, error, words):
    tree = {"a": np.ones(3), "b": [np.zeros(2), leaf]}
    with pytest.raises(error, match=r"\['b'\]\[1\]") as info:
        checkpoint.save(tmp_path / "new.npz", tree)
    assert words in str(info.value)
    assert os.listdir(tmp_path) == []
    existing = tmp_path / "old.npz"
    checkpoint.save(existing, {"a": np.ones(3)})
    before = existing.read_bytes()
    with pytest.raises(error):
        checkpoint.save(existing, tree)
    assert existing.read_bytes() == before and os.listdir(tmp_path) == ["old.npz"]


def test_a_save_failing_mid_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    checkpoint.save(path, (np.ones(3), np.ones(2)))
    before = path.read_bytes()
    write_array = np.lib.format.write_array
    calls = []

    def fail_on_second_leaf(f, array, **kwargs):
        calls.append(array)
        if len(calls) == 2:
            f.write(b"partial")
            raise OSError("disk full")
        write_array(f, array, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", fail_on_second_leaf)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(path, (np.zeros(3), np.zeros(2)))
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["ckpt.npz"]


def test_errors_are_fnn_errors():
    for error in (DataError, DTypeError, ShapeError, TreeError):
        assert issubclass(error, FnnError)


# --- digest ---

DIGEST_SCRIPT = """
import numpy as np, fnn
from fnn import checkpoint, layers, optim, random
tree = {"params": layers.DenseParams(np.arange(6, dtype=np.float32).reshape(2, 3), None),
        "opt": optim.momentum().init(np.ones(2)), "key": random.key(5), "step": 3, "x": 1.5}
print(checkpoint.digest(tree))
"""


def test_digest_is_the_same_in_two_processes():
    digests = {subprocess.run([sys.executable, "-c", DIGEST_SCRIPT], capture_output=True,
                              text=True, check=True).stdout.strip() for _ in range(2)}
    assert len(digests) == 1
    (digest,) = digests
    assert len(digest) == 64 and int(digest, 16) >= 0


def test_digest_changes_with_any_bit_dtype_shape_or_structure():
    base = {"w": np.arange(6, dtype=np.float32), "step": 3, "s": optim.ScaleByScheduleState(1)}
    flipped = base["w"].copy()
    flipped.view(np.uint8)[5] ^= 1  # one bit of one element
    variants = [
        {**base, "w": flipped},
        {**base, "w": base["w"].astype(np.float64)},
        {**base, "w": base["w"].reshape(2, 3)},
        {**base, "w": [base["w"]]},
        {**base, "w": (base["w"],)},
        {**base, "v": None},
        {"W": base["w"], "step": 3, "s": optim.ScaleByScheduleState(1)},
        {**base, "step": np.int64(3)},
        {**base, "step": 3.0},
        {**base, "s": Pair(1, None)},
        {**base, "s": optim.ScaleByScheduleState(2)},
    ]
    digests = [checkpoint.digest(tree) for tree in [base, *variants]]
    assert len(set(digests)) == len(digests)
    copy = {"w": base["w"].copy(), "step": 3, "s": optim.ScaleByScheduleState(1)}
    assert checkpoint.digest(copy) == digests[0]


# --- the reproducibility guarantee: a resumed run equals the uninterrupted one ---

RESUME_SCRIPT = """
import json, sys
import numpy as np
import fnn
from fnn import checkpoint, layers, losses, optim, random

mode, steps, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
# Extend this model (or the optimizer) freely: the test only compares digests.
model = fnn.sequential(layers.dense(16), layers.batch_norm(), layers.relu(), layers.dropout(0.3),
                       layers.dense(8), layers.relu(), layers.dense(3))
opt = optim.chain(optim.momentum(0.05), optim.adam(0.01))
step = fnn.make_train_step(model, losses.softmax_cross_entropy(), opt)
ts = fnn.init_train_state(model, opt, random.key(42), (4,))
data = np.random.default_rng(0)
x, t = data.normal(size=(64, 4)).astype(np.float32), data.integers(0, 3, 64)
if mode == "resume":
    ts = checkpoint.load(path, like=ts)
for _ in range(steps):
    # The batch depends on the step count alone, so a resumed run sees the same batches.
    start = ts.step * 16 % len(x)
    ts, _ = step(ts, x[start:start + 16], t[start:start + 16])
if mode == "first":
    checkpoint.save(path, ts)
print(json.dumps({field: checkpoint.digest(getattr(ts, field))
                  for field in ("params", "state", "opt_state", "key", "step")}))
"""


def run_training(mode, steps, path):
    result = subprocess.run([sys.executable, "-c", RESUME_SCRIPT, mode, str(steps), str(path)],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def test_training_n_saving_resuming_in_a_fresh_process_and_training_n_more_equals_2n(tmp_path):
    path = tmp_path / "half.npz"
    whole = run_training("whole", 10, path)
    assert run_training("whole", 10, path) == whole  # byte-identical, run after run
    first_half = run_training("first", 5, path)
    resumed = run_training("resume", 5, path)
    assert resumed == whole
    assert first_half != whole and first_half["step"] != whole["step"]
