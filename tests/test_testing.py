"""fnn.testing: tree assertions, and the fnn_snapshot plugin, in use and under pytester."""

import re
import subprocess
import sys

import numpy as np
import pytest

import fnn
from fnn import checkpoint, layers, losses, optim, random
from fnn.testing import assert_trees_equal, differences, summary

pytest_plugins = ["pytester"]


def seeded_transition():
    """A seeded TrainState and the state one train step makes of it."""
    model = fnn.sequential(layers.dense(8), layers.batch_norm(), layers.relu(), layers.dropout(0.25),
                           layers.dense(3))
    opt = optim.chain(optim.momentum(0.1), optim.adam(0.01))
    ts = fnn.init_train_state(model, opt, random.key(2024), (4,))
    x = np.linspace(-1, 1, 24, dtype=np.float32).reshape(6, 4)
    step = fnn.make_train_step(model, losses.softmax_cross_entropy(), opt)
    return ts, step(ts, x, np.array([0, 1, 2, 0, 1, 2]))[0]


def test_train_step_snapshot(fnn_snapshot):
    _, new_ts = seeded_transition()
    # A small tolerance: another CPU's BLAS may sum in another order. The bit-for-bit
    # guarantee holds on one machine (tests/test_checkpoint.py checks it).
    fnn_snapshot.assert_match(new_ts, rtol=1e-5, atol=1e-7)


# --- assert_trees_equal and differences ---

def flat(tree):
    return checkpoint.describe(tree), fnn.tree.leaves(tree)


def test_assert_trees_equal_lists_every_difference():
    _, ts = seeded_transition()
    assert_trees_equal(ts, seeded_transition()[1])
    other = fnn.tree.map(lambda leaf: leaf, ts)
    changed = layers.BatchNormParams(other.params[1].gamma + np.float32(1), other.params[1].beta)
    other = fnn.TrainState((*other.params[:1], changed, *other.params[2:]), other.state,
                           other.opt_state, other.key, 2)
    with pytest.raises(AssertionError) as info:
        assert_trees_equal(other, ts)
    message = str(info.value)
    assert ".params[1].gamma: 8 of 8 elements differ" in message
    assert ".step: 1 of 1 elements differ" in message
    assert ".params[0].w" not in message


def test_exact_comparison_is_bit_for_bit():
    zero, nan = np.array([0.0, 1.0]), np.array([np.nan, 1.0])
    minus_zero = np.array([-0.0, 1.0])
    assert differences(flat(nan), flat(nan.copy())) == []
    assert differences(flat(zero), flat(minus_zero)) == [
        "<root>: 1 of 2 elements differ; 1 in the sign of zero only (0.0 against -0.0: equal "
        "values, different bytes)"]
    assert differences(flat(np.array([0.0])), flat(np.array([-0.0]))) == [
        "<root>: 1 of 1 elements differ; 1 in the sign of zero only (0.0 against -0.0: equal "
        "values, different bytes)"]
    other_nan = np.array([-np.nan, 1.5])  # the sign bit set: other bytes, still NaN
    assert differences(flat(nan), flat(other_nan)) == [
        "<root>: 2 of 2 elements differ; 1 NaN on both sides with different bytes; "
        "max abs diff 0.5, max rel diff 0.5"]
    big = np.array([2**62], dtype=np.int64)
    assert differences(flat(big), flat(big + 1))  # equal in float64, not in int64
    assert differences(flat(zero), flat(minus_zero), atol=1e-12) == []


def test_tolerances_and_their_message():
    expected = {"x": np.array([1.0, 2.0, 4.0], np.float32), "n": 3}
    actual = {"x": np.array([1.0, 2.002, 4.0], np.float32), "n": 3}
    assert differences(flat(expected), flat(actual), rtol=2e-3) == []
    assert differences(flat(expected), flat(actual), atol=3e-3) == []
    (line,) = differences(flat(expected), flat(actual), rtol=1e-4)
    # 2.002 in float32 is 2.00200009...
    assert line == "['x']: 1 of 3 elements differ; max abs diff 0.00200009, max rel diff 0.00100005"


def test_structural_differences_are_named():
    expected = {"a": np.ones(3), "b": (np.ones(2), 1), "gone": np.zeros(1)}
    actual = {"a": np.ones(4), "b": [np.ones(2, np.float32), 1.0], "new": None}
    assert differences(flat(expected), flat(actual)) == [
        "['a']: expected shape (3,), got shape (4,)",
        "['b']: expected a tuple, got a list",
        "['b'][0]: expected dtype float64, got dtype float32",
        "['b'][1]: expected int of dtype int64 and shape (), got float of dtype float64 and shape ()",
        "['gone']: missing (expected array of dtype float64 and shape (1,))",
        "['new']: unexpected None",
    ]


def test_summary_has_the_digest_and_a_line_per_leaf():
    tree = {"w": np.array([[1.5, -2.0], [0.25, 3.0]], np.float32), "step": 7, "none": None,
            "flags": np.array([True, False, True]), "empty": np.zeros((0, 2))}
    lines = summary(tree).splitlines()
    assert lines[1] == f"digest sha256:{checkpoint.digest(tree)}"
    assert lines[2:] == [
        "['empty']  float64     (0, 2)  empty",
        "['flags']  bool        (3,)    min=False max=True mean=0.6666666666666666 sum=2.0",
        "['step']   python int  ()      value=7",
        "['w']      float32     (2, 2)  min=-2.0 max=3.0 mean=0.6875 sum=2.75",
    ]


def test_importing_fnn_testing_does_not_import_pytest_and_fnn_does_not_import_testing():
    code = ("import sys, fnn; a = 'fnn.testing' in sys.modules; import fnn.testing; "
            "print(a, 'pytest' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# --- the plugin, run by pytester on a generated test module ---

GENERATED = """
import os
import numpy as np
import pytest
import fnn
from fnn import layers, losses, optim, random


def transition(lr):
    model = fnn.sequential(layers.dense(4), layers.relu(), layers.dense(2))
    opt = optim.momentum(lr)
    ts = fnn.init_train_state(model, opt, random.key(0), (3,))
    x = np.linspace(-1, 1, 15, dtype=np.float32).reshape(5, 3)
    return fnn.make_train_step(model, losses.mse(), opt)(ts, x, np.ones((5, 2), np.float32))[0]


def test_step(fnn_snapshot):
    fnn_snapshot.assert_match(transition(float(os.environ.get("LR", "0.1"))))


def test_close(fnn_snapshot):
    scale = 1 + float(os.environ.get("EPS", "0"))
    fnn_snapshot.assert_match({"x": np.linspace(1, 2, 6) * scale},
                              rtol=float(os.environ.get("RTOL", "0")),
                              atol=float(os.environ.get("ATOL", "0")))


def test_shape(fnn_snapshot):
    n = int(os.environ.get("N", "3"))
    fnn_snapshot.assert_match((np.ones(n), None if n == 3 else np.zeros(1)))


@pytest.mark.parametrize("kind", ["plain", "a/b c", "x::y", pytest.param("", id="long" * 40)])
def test_ids(fnn_snapshot, kind):
    fnn_snapshot.assert_match({"kind": len(kind)})


class TestNamed:
    def test_two(self, fnn_snapshot):
        fnn_snapshot.assert_match(np.ones(2), name="first")
        fnn_snapshot.assert_match(np.zeros(2), name="second")

    def test_reused(self, fnn_snapshot):
        fnn_snapshot.assert_match(np.ones(2))
        fnn_snapshot.assert_match(np.ones(2))
"""

UPDATE = "--fnn-snapshot-update"


@pytest.fixture
def generated(pytester):
    pytester.makepyfile(test_generated=GENERATED)
    return pytester


def run(pytester, *args):
    return pytester.runpytest("-p", "no:cacheprovider", *args)


def snapshots(pytester):
    directory = pytester.path / "snapshots" / "test_generated"
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_a_missing_snapshot_fails_with_the_hint(generated):
    result = run(generated, "-k", "test_step")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no snapshot *test_generated/test_step.npz yet: run pytest with "
                                 "--fnn-snapshot-update to write it*"])
    assert snapshots(generated) == []


def test_update_writes_npz_and_txt_and_an_unchanged_transition_passes(generated):
    result = run(generated, "-k", "test_step", UPDATE)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["fnn_snapshot: wrote 1 snapshot(s):", "*test_step.npz"])
    assert snapshots(generated) == ["test_step.npz", "test_step.txt"]
    directory = generated.path / "snapshots" / "test_generated"
    text = (directory / "test_step.txt").read_text()
    assert "digest sha256:" in text
    assert re.search(r"^\.params\[0\]\.w +float32 +\(3, 4\) +min=\S+ max=\S+ mean=\S+ sum=\S+$",
                     text, re.MULTILINE)
    assert re.search(r"^\.step +python int +\(\) +value=1$", text, re.MULTILINE)
    run(generated, "-k", "test_step").assert_outcomes(passed=1)
    before = (directory / "test_step.npz").read_bytes()
    run(generated, "-k", "test_step", UPDATE).assert_outcomes(passed=1)
    assert (directory / "test_step.npz").read_bytes() == before


def test_a_changed_transition_fails_listing_the_leaves_that_differ(generated, monkeypatch):
    run(generated, "-k", "test_step", UPDATE).assert_outcomes(passed=1)
    monkeypatch.setenv("LR", "0.2")
    result = run(generated, "-k", "test_step")
    result.assert_outcomes(failed=1)
    result.stdout.re_match_lines([
        r".*the tree differs from the snapshot .*test_step\.npz \(rtol=0\.0, atol=0\.0\):$",
        r".*\.params\[0\]\.w: 12 of 12 elements differ; max abs diff \S+, max rel diff \S+$",
        r".*\.opt_state\[1\]\.trace\[2\]\.b: 2 of 2 elements differ",
        r".*If the change is intended, run pytest with --fnn-snapshot-update"])
    # Only the traceback's lines: under CI pytest repeats the whole message in its summary.
    listed = [line for line in result.stdout.lines
              if line.startswith("E ") and "elements differ" in line]
    assert len(listed) == 8  # w and b of two layers, in params and in the velocity
    assert not any(".key" in line or ".step" in line for line in listed)


def test_rtol_and_atol_tolerate_small_differences(generated, monkeypatch):
    run(generated, "-k", "test_close", UPDATE).assert_outcomes(passed=1)
    monkeypatch.setenv("EPS", "1e-9")
    run(generated, "-k", "test_close").assert_outcomes(failed=1)
    for variable, value in (("RTOL", "1e-8"), ("ATOL", "1e-8")):
        with monkeypatch.context() as m:
            m.setenv(variable, value)
            run(generated, "-k", "test_close").assert_outcomes(passed=1)
    monkeypatch.setenv("EPS", "1e-6")
    monkeypatch.setenv("RTOL", "1e-8")
    result = run(generated, "-k", "test_close")
    result.assert_outcomes(failed=1)
    assert "rtol=1e-08, atol=0.0" in result.stdout.str()
    assert "['x']: 6 of 6 elements differ" in result.stdout.str()


def test_structural_changes_are_listed(generated, monkeypatch):
    run(generated, "-k", "test_shape", UPDATE).assert_outcomes(passed=1)
    monkeypatch.setenv("N", "4")
    result = run(generated, "-k", "test_shape")
    result.assert_outcomes(failed=1)
    assert "[0]: expected shape (3,), got shape (4,)" in result.stdout.str()
    assert "[1]: expected None, got array of dtype float64 and shape (1,)" in result.stdout.str()


def test_parametrized_ids_and_names_make_stable_file_names(generated):
    result = run(generated, "-k", "test_ids or test_two", UPDATE)
    result.assert_outcomes(passed=5)
    names = snapshots(generated)
    stems = sorted({name.rsplit(".", 1)[0] for name in names})
    assert len(names) == 2 * len(stems) == 12
    assert "test_ids[plain]" in stems
    assert "TestNamed.test_two-first" in stems and "TestNamed.test_two-second" in stems
    for stem in stems:
        assert all(c.isalnum() or c in "_.-[]" for c in stem) and len(stem) < 120
    assert len([s for s in stems if s.startswith("test_ids[a_b_c]-")]) == 1
    run(generated, "-k", "test_ids or test_two").assert_outcomes(passed=5)
    run(generated, "-k", "test_ids or test_two", UPDATE)
    assert snapshots(generated) == names  # the same names in every run


def test_a_name_used_twice_in_a_test_is_an_error(generated):
    result = run(generated, "-k", "test_reused", UPDATE)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*TestNamed.test_reused.npz is already used in this test; "
                                 "give each assert_match call its own name=*"])


def test_a_summary_whose_digest_is_not_its_snapshots_fails(generated):
    run(generated, "-k", "test_step", UPDATE).assert_outcomes(passed=1)
    directory = generated.path / "snapshots" / "test_generated"
    txt, npz = directory / "test_step.txt", directory / "test_step.npz"
    text = txt.read_text()
    digest = re.search(r"^digest sha256:(\w+)$", text, re.MULTILINE)[1]
    edited = digest[:-1] + ("0" if digest[-1] != "0" else "1")
    txt.write_text(text.replace(digest, edited))
    result = run(generated, "-k", "test_step")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*test_step.txt: the digest line {edited} is not the digest "
                                 f"{digest} of test_step.npz beside it*"])
    txt.write_text(text)
    run(generated, "-k", "test_step").assert_outcomes(passed=1)
    # an .npz written anew without its .txt: the summary is stale
    checkpoint.save(npz, checkpoint.read(npz)[1])
    result = run(generated, "-k", "test_step")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*test_step.txt: the digest line {digest} is not the digest *"])
