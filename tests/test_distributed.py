"""fnn.distributed: data-parallel training on MPI.

The tests marked ``mpi`` start ``mpiexec -n 2`` and ``-n 3`` on tests/mpi_worker.py
(one launch runs several scenarios) and compare what each rank wrote with the
same loop run here in one process. They skip where mpi4py or mpiexec is absent.
The others run without MPI, on a one-rank stand-in for mpi4py's communicator.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fnn
from fnn import checkpoint, layers, losses, optim, random
from fnn.distributed import Communicator, buffers, shard_loss
from fnn.distributed.launch import find_mpiexec
from fnn.errors import ConfigError, DataError, NonFiniteError, RankError, ShapeError
from tests import mpi_worker as worker

WORKER = Path(worker.__file__)
TIMEOUT = 120  # seconds for one launch: a hang fails the test instead of blocking the run
MPIEXEC = find_mpiexec()
needs_mpi = pytest.mark.skipif(
    importlib.util.find_spec("mpi4py") is None or MPIEXEC is None,
    reason="needs mpi4py and mpiexec: pip install -e '.[mpi]' (mpi4py and mpich)")


def mpirun(n: int, *args: str) -> str:
    """The output of ``mpiexec -n n python -m mpi4py ARGS`` (one BLAS thread a rank); a
    failure or a hang (killed after TIMEOUT) fails the test."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "PYTHONPATH": str(WORKER.parents[1])}
    process = subprocess.Popen([MPIEXEC, "-n", str(n), sys.executable, "-m", "mpi4py", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=env, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"mpiexec -n {n} {' '.join(args)} hung for {TIMEOUT} s:\n{output}")
    assert process.returncode == 0, output
    return output


def launch(n: int, out: Path, *scenarios: str) -> dict:
    """Run the worker's scenarios on n ranks; {scenario: [rank 0's result, rank 1's, ...]}."""
    mpirun(n, str(WORKER), str(out), *scenarios)
    return {name: [json.loads((out / f"{name}-{rank}.json").read_text()) for rank in range(n)]
            for name in scenarios}


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    out = tmp_path_factory.mktemp("two_ranks")
    return out, launch(2, out, "equivalence", "nan_shard", "bad_data", "mismatch", "resume")


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    out = tmp_path_factory.mktemp("three_ranks")
    return out, launch(3, out, "equivalence", "nan_shard")


def ranks(request, n):
    return request.getfixturevalue({2: "two", 3: "three"}[n])


def max_difference(a, b) -> float:
    return max([float(np.abs(np.asarray(x) - np.asarray(y)).max())
                for x, y in zip(fnn.tree.leaves(a), fnn.tree.leaves(b), strict=True)], default=0.0)


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("kind", ["mean", "sum", "bn"])
def test_ranks_reproduce_one_process(request, n, kind):
    """20+ float64 steps, uneven last batches (2 samples, fewer than 3 ranks: one rank's
    shard is empty) of a cross-entropy net, an SSE net and a synchronised batch-norm net."""
    assert worker.N_SAMPLES % worker.BATCH == 2 and worker.EPOCHS * 7 >= 20
    out, results = ranks(request, n)
    expected, _ = worker.train(kind)
    for rank in range(n):
        got = checkpoint.load(out / f"equivalence-{rank}-{kind}.npz", like=expected)
        assert got.step == expected.step == 21
        assert max_difference(got.params, expected.params) <= 1e-12
        assert max_difference(got.state, expected.state) <= 1e-12   # batch norm's running stats
        assert max_difference(got.opt_state, expected.opt_state) <= 1e-12
    assert len({r[kind]["state"] for r in results["equivalence"]}) == 1   # the same bytes


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_every_epoch_ends_with_the_same_params_on_every_rank(request, n):
    _, results = ranks(request, n)
    for kind in ("mean", "sum", "bn"):
        digests = [r[kind]["epoch_digests"] for r in results["equivalence"]]
        assert len(digests[0]) == worker.EPOCHS and all(d == digests[0] for d in digests)


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_nan_on_one_shard_raises_on_every_rank_at_the_same_step(request, n):
    _, results = ranks(request, n)
    seen = results["nan_shard"]
    assert [r["shard_has_nan"] for r in seen] == [False] * (n - 1) + [True]
    for r in seen:
        assert r["error"] == "NonFiniteError" and r["message"].startswith("train step 3:")
        assert r["completed_steps"] == [3]


@needs_mpi
def test_a_seeded_run_repeats_byte_for_byte(two, tmp_path):
    again = launch(2, tmp_path, "equivalence")["equivalence"]
    assert again == two[1]["equivalence"]


@needs_mpi
def test_checkpoint_from_rank_0_resumes_on_two_ranks_and_on_one_process(two):
    out, results = two
    seen = results["resume"]
    assert [r["callback_ranks"] for r in seen] == [[0, 0], []]   # callbacks on rank 0 alone
    assert [r["step_callbacks"] for r in seen] == [14, 0]
    assert all(r["resumed"] == r["final"] == seen[0]["final"] for r in seen)
    assert seen[0]["train_loss"] == seen[1]["train_loss"]
    assert seen[0]["val_accuracy"] == seen[1]["val_accuracy"]
    one, history = worker.fit_run(epochs=2)
    assert history.val_accuracy == tuple(seen[0]["val_accuracy"])
    np.testing.assert_allclose(history.train_loss, seen[0]["train_loss"], rtol=1e-12)
    final = checkpoint.load(out / "resume-0-final.npz", like=one)
    assert max_difference(one, final) <= 1e-12
    start, done = fnn.callbacks.resume(out / "resume-epoch1.npz", like=worker.fresh_state())
    resumed, _ = worker.fit_run(epochs=2, initial_epoch=done, ts=start)
    assert max_difference(resumed, final) <= 1e-12


@needs_mpi
def test_an_error_on_one_rank_ends_every_rank(two):
    """Rank 1's bad labels fail in its loss (after the batch-norm forward's exchanges),
    its bad features in its first layer (before them); every rank raises, none hangs,
    and the next step works. So does an error in a callback on rank 0."""
    labels, features, after = ([r[case] for r in two[1]["bad_data"]]
                               for case in ("labels", "features", "after"))
    assert [e["error"] for e in labels] == ["DataError"] * 2
    assert labels[0]["message"].startswith("rank 1: softmax_cross_entropy: labels must lie")
    assert [e["error"] for e in features] == ["ShapeError"] * 2
    assert features[0]["message"].startswith("rank 1: layer 0 of sequential, dense(6): expected")
    assert [e["error"] for e in after] == [None, None]
    # A callback (run on rank 0 alone) that fails ends every rank too.
    callback = [r["callback"] for r in two[1]["bad_data"]]
    assert [e["error"] for e in callback] == ["ZeroDivisionError", "RankError"]
    assert callback[1]["message"] == "rank 0 failed with ZeroDivisionError: division by zero"


@needs_mpi
def test_ranks_started_differently_are_refused_on_every_rank(two):
    for seen in two[1]["mismatch"]:
        assert seen["model_fit"]["error"] == "RankError"
        assert "rank 1 holds a tree of another structure than rank 0" in seen["model_fit"]["message"]
        assert ".params[0].w: expected shape (5, 6), got shape (5, 7)" in seen["model_fit"]["message"]
        assert seen["model_step"]["error"] == "RankError"
        assert "different sizes" in seen["model_step"]["message"]
        assert seen["model_broadcast"]["error"] == "RankError"
        assert seen["data_fit"]["error"] == "RankError"
        assert "x of shape (50, 5)" in seen["data_fit"]["message"]
        assert "rank 1 has x of shape (40, 5)" in seen["data_fit"]["message"]
        assert seen["seeds_fit"]["error"] == "RankError"
        assert "different train states" in seen["seeds_fit"]["message"]
        assert seen["not_a_comm"]["error"] == "ConfigError"
        assert seen["plain_batch_norm"]["error"] == "RankError"
        assert "layer states differ" in seen["plain_batch_norm"]["message"]
        assert seen["wrong_comm_fit"]["error"] == "ConfigError"
        assert "not the communicator the step was made with" in seen["wrong_comm_fit"]["message"]
    assert len({seen["broadcast_digest"] for seen in two[1]["mismatch"]}) == 1


@needs_mpi
def test_mnist_cnn_example_on_two_ranks_prints_the_single_process_accuracy(mnist):
    from tests.conftest import MNIST_DIR

    example = WORKER.parents[1] / "examples" / "mnist_cnn.py"
    args = [str(example), "--data", str(MNIST_DIR), "--epochs", "1", "--train-size", "500"]
    one = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                         check=True).stdout
    two = mpirun(2, *args, "--mpi")

    def accuracy(out):
        return out.split("test accuracy on the last 2000 images: ")[1].split(" ")[0]

    assert "on 2 ranks" in two and two.count("test accuracy") == 1   # rank 0 alone prints
    assert accuracy(two) == accuracy(one)


@needs_mpi
def test_the_readme_script_runs_on_two_ranks_as_on_one(tmp_path):
    readme = (WORKER.parents[1] / "README.md").read_text()
    script = tmp_path / "dp.py"
    script.write_text(readme.split("cat > dp.py <<'EOF'\n")[1].split("\nEOF\n")[0])

    def printed(out):
        return [line for line in out.splitlines() if line.startswith("(")]

    output = mpirun(2, str(script))
    two, one = printed(output), printed(mpirun(1, str(script)))
    assert len(two) == len(one) == 1 and output.count("epoch 2/2  loss") == 1  # rank 0 alone
    def values(line):
        return json.loads("[" + line[1:].split(")")[0] + "]")

    np.testing.assert_allclose(values(two[0]), values(one[0]), rtol=1e-5)


@needs_mpi
def test_the_benchmark_runs():
    out = subprocess.run([sys.executable, "-m", "benchmarks.distributed", "--launches", "1",
                          "--steps", "2"], capture_output=True, text=True, check=True,
                         cwd=WORKER.parents[1], timeout=TIMEOUT).stdout
    assert "2 ranks x 1 BLAS thread" in out and "of a step" in out and "MiB" in out


# Without MPI: a one-rank stand-in for an mpi4py communicator.

class OneRank:
    """mpi4py's Allgather and Bcast for a group of one."""

    def Allgather(self, send, receive):
        receive[...] = np.asarray(send).reshape(receive.shape)

    def Bcast(self, buffer, root=0):
        pass


def one_rank() -> Communicator:
    return Communicator(OneRank(), 0, 1)


def test_buffers_round_trip_mixed_dtypes_and_scalars():
    tree = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": (np.float64(2.5), 7, True),
            "c": layers.DenseParams(np.ones((2, 2)), None), "d": np.array([3, 4], np.int64)}
    lay = buffers.layout(tree)
    assert [s[0].str for s in lay.sections] == ["<f4", "<f8", "<i8", "|b1"]
    assert all(start % 16 == 0 for _, start, _ in lay.sections) and lay.nbytes % 16 == 0
    back = buffers.unpack(lay, buffers.pack(lay, tree))
    assert checkpoint.digest(back) == checkpoint.digest(tree)
    assert type(back["b"][1]) is int and type(back["b"][2]) is bool
    assert not back["a"].flags.writeable


def test_sum_rows_adds_in_rank_order():
    # (1e16 + -1e16) + 1 is 1 in float64; (1e16 + 1) + -1e16 is 0.
    lay = buffers.layout(np.zeros(1))
    rows = np.stack([buffers.pack(lay, np.array([v])) for v in (1e16, -1e16, 1.0)])
    assert buffers.unpack(lay, buffers.sum_rows(lay, rows))[0] == 1.0
    assert buffers.unpack(lay, buffers.sum_rows(lay, rows[[0, 2, 1]]))[0] == 0.0
    assert buffers.unpack(lay, buffers.sum_rows(lay, rows, divisor=4))[0] == 0.25


@pytest.mark.parametrize("n, batch_size, size", [(50, 8, 3), (10, 4, 2), (7, 7, 3), (5, 2, 4)])
def test_batch_shards_cover_each_batch_in_order(n, batch_size, size):
    x, t = np.arange(n * 2.0).reshape(n, 2), np.arange(n)
    key = random.key(3)
    whole = list(fnn.data.batches(x, t, batch_size, key=key))
    parts = [list(fnn.data.batches(x, t, batch_size, key=key, shard=(r, size))) for r in range(size)]
    for i, (xb, tb) in enumerate(whole):
        shards = [p[i] for p in parts]
        assert [len(s[1]) for s in shards] == [len(a) for a in np.array_split(tb, size)]
        np.testing.assert_array_equal(np.concatenate([s[1] for s in shards]), tb)
        np.testing.assert_array_equal(np.concatenate([s[0] for s in shards]), xb)


@pytest.mark.parametrize("shard", [(2, 2), (-1, 2), (0, 0), [0, 2], (0.5, 2), 3])
def test_batches_refuse_a_bad_shard(shard):
    with pytest.raises(ConfigError, match="batches: shard"):
        next(fnn.data.batches(np.zeros((4, 1)), np.zeros(4), 2, shard=shard))


def test_a_communicator_that_is_not_one_is_refused():
    model, loss, opt = worker.model("mean"), losses.softmax_cross_entropy(), optim.sgd(0.1)
    with pytest.raises(ConfigError, match=r"comm must be an fnn\.distributed\.Communicator.*got str"):
        fnn.make_train_step(model, loss, opt, comm="world")
    with pytest.raises(ConfigError, match="batch_norm: sync must be a communicator"):
        layers.batch_norm(sync=object())


def test_missing_mpi4py_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(ImportError, match=r"pip install 'fnn\[mpi\]'"):
        fnn.distributed.communicator()


def _yolo_case():
    grid = fnn.detection.YoloGrid(96, 3, 2, 10)
    t = np.zeros((4, 3, 3, 15))
    t[:, 1, 1, :5] = [0.5, 0.5, 0.3, 0.4, 1.0]
    t[:, 1, 1, 8] = 1.0
    return fnn.detection.yolo_v1_loss(grid), (4, 180), t


def _loss_cases():
    rng = np.random.default_rng(5)
    floats, labels = rng.normal(size=(4, 3)), np.array([0, 2, 1, 2])
    probabilities = rng.uniform(size=(4, 3))
    return [(losses.sse(), (4, 3), floats), (losses.mse(), (4, 3), floats),
            (losses.l1(), (4, 3), floats), (losses.huber(0.5), (4, 3), floats),
            (losses.softmax_cross_entropy(), (4, 3), labels),
            (losses.softmax_cross_entropy(label_smoothing=0.1), (4, 3), labels),
            (losses.sigmoid_binary_cross_entropy(), (4, 3), (probabilities > 0.5) * 1.0),
            _yolo_case()]


@pytest.mark.parametrize("loss, shape, t", _loss_cases(), ids=lambda case: getattr(case, "name", ""))
def test_every_loss_declares_how_it_reduces_over_the_batch(loss, shape, t):
    """The batch twice over has the same mean and twice the sum: the declared reduction
    is checked against what the loss computes."""
    y = np.random.default_rng(6).normal(size=shape)
    once = loss.forward(y, t)[0]
    twice = loss.forward(np.concatenate([y, y]), np.concatenate([t, t]))[0]
    assert twice == pytest.approx({"mean": 1, "sum": 2}[loss.reduction] * once, rel=1e-12)


def test_a_loss_without_its_reduction_is_refused_by_the_data_parallel_step():
    with pytest.raises(ConfigError, match="reduction must be 'mean', 'sum' or None"):
        fnn.Loss("l", lambda y, t: (0.0, None), lambda c: c, reduction="max")
    plain = fnn.Loss("plain", losses.sse().forward, losses.sse().backward)
    with pytest.raises(ConfigError, match="the loss must say how it reduces"):
        fnn.make_train_step(worker.model("sum"), plain, optim.sgd(0.1), comm=one_rank())


@pytest.mark.parametrize("loss, t", [(losses.softmax_cross_entropy(), np.arange(7) % 3),
                                     (losses.sse(), np.linspace(-1, 1, 21).reshape(7, 3))])
def test_shard_losses_add_up_to_the_batch_sum(loss, t):
    """Σ over shards of shard_loss = n·loss (mean) or loss (sum), values and dy alike."""
    y = np.random.default_rng(0).normal(size=(7, 3))
    value, cache = loss.forward(y, t)
    factor = 7 if loss.reduction == "mean" else 1
    shards = [shard_loss(loss).forward(y[s], t[s]) for s in (slice(0, 3), slice(3, 7), slice(7, 7))]
    assert sum(v for v, _ in shards) == pytest.approx(factor * value, rel=1e-14)
    dy = np.concatenate([shard_loss(loss).backward(c) for _, c in shards])
    np.testing.assert_allclose(dy, factor * loss.backward(cache), rtol=1e-14)
    assert shards[2][0] == 0.0 and shard_loss(loss).backward(shards[2][1]).shape == (0, 3)


def test_every_layer_trains_on_an_empty_shard():
    """A rank whose shard is empty runs forward and backward (and their exchanges) too,
    contributing zero gradients."""
    net = fnn.sequential(layers.conv2d(2, 3, padding=1), layers.relu(), layers.max_pool2d(2),
                         layers.avg_pool2d(2), layers.flatten(), layers.dense(3),
                         layers.dropout(0.5), layers.leaky_relu(), layers.tanh(), layers.sigmoid(),
                         layers.dense(2), layers.softmax())
    params, state, _ = net.init(random.key(0), (1, 8, 8), np.float64)
    x = np.zeros((0, 1, 8, 8))
    y, _, cache = net.forward(params, state, x, key=random.key(1), train=True)
    dx, grads = net.backward(params, cache, np.zeros_like(y))
    assert y.shape == (0, 2) and dx.shape == x.shape
    assert all(not g.any() for g in fnn.tree.leaves(grads))
    # Synchronised batch norm counts over every rank: one rank alone has nothing to normalise.
    norm = layers.batch_norm(sync=one_rank())
    bn_params, bn_state, _ = norm.init(random.key(0), (3,), np.float64)
    with pytest.raises(DataError, match=r"more than one value per feature.*\(0 over every"):
        norm.forward(bn_params, bn_state, np.zeros((0, 3)), train=True)


@pytest.mark.parametrize("shape", [(6, 4), (5, 3, 2, 2)])
def test_synchronised_batch_norm_on_one_rank_is_batch_norm(shape):
    x = np.random.default_rng(1).normal(size=shape)
    dy = np.random.default_rng(2).normal(size=shape)
    plain, synced = layers.batch_norm(), layers.batch_norm(sync=one_rank())
    params, state, _ = plain.init(random.key(0), shape[1:], np.float64)
    y, new_state, cache = plain.forward(params, state, x, train=True)
    y_s, new_state_s, cache_s = synced.forward(params, state, x, train=True)
    assert checkpoint.digest((y, new_state)) == checkpoint.digest((y_s, new_state_s))
    assert checkpoint.digest(plain.backward(params, cache, dy)) == checkpoint.digest(
        synced.backward(params, cache_s, dy))


def test_one_rank_step_matches_the_plain_step_and_refuses_empty_batches():
    x, labels, _ = worker.data(12)
    net, opt = worker.model("mean"), optim.momentum(0.1)
    ts = fnn.init_train_state(net, opt, random.key(0), (5,), np.float64)
    plain = fnn.make_train_step(net, losses.softmax_cross_entropy(), opt)
    parallel = fnn.make_train_step(net, losses.softmax_cross_entropy(), opt, comm=one_rank())
    (a, ma), (b, mb) = plain(ts, x, labels), parallel(ts, x, labels)
    assert max_difference(a, b) <= 1e-15 and ma.loss == pytest.approx(mb.loss, rel=1e-15)
    assert a.step == b.step and a.key == b.key
    with pytest.raises(DataError, match="every rank's shard is empty"):
        parallel(ts, x[:0], labels[:0])
    bad = x.copy()
    bad[3, 1] = np.inf
    with pytest.raises(NonFiniteError, match="train step 0"), np.errstate(invalid="ignore"):
        parallel(ts, bad, labels)


def test_an_error_is_announced_then_raised_and_counted():
    comm = one_rank()
    got = fnn.distributed.exchange(comm, np.arange(4, dtype=np.uint8), ints=[5, -2], text="hi")
    assert got.ints.tolist() == [[5, -2]] and got.texts == ("hi",)
    assert got.payloads.tolist() == [[0, 1, 2, 3]]
    with pytest.raises(ShapeError, match="mine"):
        fnn.distributed.exchange(comm, error=ShapeError("mine"))
    assert comm.failures.count == 1


def test_remote_errors_keep_fnn_classes():
    from fnn.distributed.comm import _remote

    assert isinstance(_remote(2, "NonFiniteError\ntrain step 4: ..."), NonFiniteError)
    error = _remote(1, "MemoryError\nout of memory")
    assert isinstance(error, RankError) and "rank 1 failed with MemoryError" in str(error)
