import math

import attrs
import numpy as np
import pytest

import fnn
from fnn import layers, losses, optim, random
from fnn.errors import ConfigError
from fnn.testing import assert_trees_equal
from tests.helpers import all_arrays, small_mlp, small_problem


@pytest.fixture
def setup():
    model, opt = small_mlp(), optim.momentum(0.05)
    ts = fnn.init_train_state(model, opt, random.key(0), (5,))
    return ts, fnn.make_train_step(model, losses.softmax_cross_entropy(), opt)


def hand_written_loop(step, ts, x, t, epochs, batch_size, key):
    per_epoch, every_step = [], []
    for epoch_key in random.split(key, epochs):
        losses_, sizes = [], []
        for xb, tb in fnn.data.batches(x, t, batch_size, key=epoch_key):
            ts, metrics = step(ts, xb, tb)
            losses_.append(metrics.loss)
            sizes.append(len(xb))
        every_step += losses_
        per_epoch.append(float(np.dot(losses_, sizes) / np.sum(sizes)))
    return ts, per_epoch, every_step


def test_fit_equals_a_hand_written_loop_bit_for_bit(setup):
    ts, step = setup
    x, t = small_problem(n=47)
    fitted, history = fnn.fit(step, ts, x, t, epochs=3, batch_size=10, key=random.key(5),
                              progress=False)
    looped, per_epoch, every_step = hand_written_loop(step, ts, x, t, 3, 10, random.key(5))
    assert_trees_equal(fitted, looped)
    assert history.train_loss == tuple(per_epoch)
    assert history.step_loss == tuple(every_step)
    assert history.val_loss == history.val_accuracy == ()
    assert len(history.seconds) == 3 and not history.interrupted
    assert fitted.step == 15


def test_fit_is_pure(setup):
    ts, step = setup
    x, t = small_problem()
    before = [a.copy() for a in all_arrays(ts)] + [x.copy(), t.copy()]
    fnn.fit(step, ts, x, t, epochs=2, batch_size=7, key=random.key(0), progress=False)
    assert all(np.array_equal(a, b) for a, b in zip(before, [*all_arrays(ts), x, t], strict=True))


def test_validation_metrics_match_evaluate(setup):
    ts, step = setup
    x, t = small_problem(n=40)
    fitted, history = fnn.fit(step, ts, x[:30], t[:30], epochs=2, batch_size=10,
                              key=random.key(1), validation=(x[30:], t[30:]), progress=False)
    final = fnn.evaluate(step.model, step.loss, fitted, x[30:], t[30:])
    assert history.val_loss[-1] == final.loss and history.val_accuracy[-1] == final.accuracy
    assert 0.0 <= final.accuracy <= 1.0


def test_resuming_at_an_epoch_equals_the_uninterrupted_run(setup):
    ts, step = setup
    x, t = small_problem(n=30)
    kwargs = dict(batch_size=8, key=random.key(3), progress=False)
    whole, _ = fnn.fit(step, ts, x, t, epochs=4, **kwargs)
    half, _ = fnn.fit(step, ts, x, t, epochs=4, **kwargs, callbacks=[
        lambda s, h: len(h.train_loss) == 2])
    resumed, history = fnn.fit(step, half, x, t, epochs=4, initial_epoch=2, **kwargs)
    assert_trees_equal(resumed, whole)
    assert len(history.train_loss) == 2


def test_a_callback_stops_training_and_every_callback_sees_every_epoch(setup):
    ts, step = setup
    x, t = small_problem()
    seen = []
    fitted, history = fnn.fit(step, ts, x, t, epochs=10, batch_size=5, key=random.key(0),
                              progress=False,
                              callbacks=[lambda s, h: len(h.train_loss) == 3,
                                         lambda s, h: seen.append((s.step, len(h.train_loss)))])
    assert len(history.train_loss) == 3 and fitted.step == 12
    assert seen == [(4, 1), (8, 2), (12, 3)]


def test_early_stopping_reads_the_history():
    stop = fnn.early_stopping(2)
    def history(*v):
        return fnn.History(val_loss=v)
    assert not stop(None, history(1.0, 0.9))
    assert not stop(None, history(1.0, 0.9, 0.95))
    assert stop(None, history(1.0, 0.9, 0.95, 0.91))
    rising = fnn.early_stopping(1, monitor="val_accuracy")
    assert not rising(None, fnn.History(val_accuracy=(0.5, 0.6)))
    assert rising(None, fnn.History(val_accuracy=(0.5, 0.6, 0.6)))
    with pytest.raises(ValueError, match="no val_loss"):
        stop(None, fnn.History())


def raising_after(step, n, exception):
    """``step`` that raises ``exception`` instead of taking step n + 1."""
    calls = []

    def wrapped(s, xb, tb):
        if len(calls) == n:
            raise exception
        calls.append(1)
        return step(s, xb, tb)

    return wrapped


def test_ctrl_c_returns_the_last_complete_state(setup):
    ts, step = setup
    x, t = small_problem()
    fitted, history = fnn.fit(raising_after(step, 6, KeyboardInterrupt), ts, x, t, epochs=5,
                              batch_size=5, key=random.key(0), progress=False)
    _, _, every_step = hand_written_loop(step, ts, x, t, 2, 5, random.key(0))
    assert history.interrupted and fitted.step == 6 and len(history.train_loss) == 1
    assert history.step_loss == tuple(every_step[:6])


def test_progress_prints_epoch_summaries(setup, capsys):
    ts, step = setup
    x, t = small_problem()
    fnn.fit(step, ts, x, t, epochs=2, batch_size=5, key=random.key(0),
            validation=(x, t))
    out = capsys.readouterr().out
    assert "epoch 1/2  loss" in out and "epoch 2/2" in out and "val_accuracy" in out


def test_silent_when_asked(setup, capsys):
    ts, step = setup
    fnn.fit(step, ts, *small_problem(), epochs=1, batch_size=5, key=random.key(0), progress=False)
    assert capsys.readouterr() == ("", "")


def test_plain_progress_when_tqdm_is_missing(setup, capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name.startswith("tqdm"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    ts, step = setup
    fnn.fit(step, ts, *small_problem(), epochs=1, batch_size=5, key=random.key(0))
    assert "epoch 1/1  loss" in capsys.readouterr().out


def test_bad_arguments(setup):
    ts, step = setup
    x, t = small_problem()
    with pytest.raises(ValueError, match="epochs must be an integer >= 1"):
        fnn.fit(step, ts, x, t, epochs=0, batch_size=5, key=random.key(0))
    with pytest.raises(ValueError, match="batch_size"):
        fnn.fit(step, ts, x, t, epochs=1, batch_size=0, key=random.key(0))
    with pytest.raises(fnn.ShapeError, match="same number of samples"):
        fnn.fit(step, ts, x, t[:3], epochs=1, batch_size=5, key=random.key(0))
    with pytest.raises(ValueError, match="evaluate_fn"):
        fnn.fit(lambda s, xb, tb: step(s, xb, tb), ts, x, t, epochs=1, batch_size=5,
                key=random.key(0), validation=(x, t))


def test_learning_curves_png(setup, tmp_path):
    pytest.importorskip("matplotlib")
    ts, step = setup
    x, t = small_problem()
    _, history = fnn.fit(step, ts, x, t, epochs=2, batch_size=5, key=random.key(0),
                         validation=(x, t), progress=False)
    path = tmp_path / "curves.png"
    fnn.plot.learning_curves(history, path)
    assert path.read_bytes().startswith(b"\x89PNG")


def binary_setup():
    """A logistic regression whose logit is x[:, 0] - x[:, 1], set by hand."""
    model, opt = fnn.sequential(layers.dense(1)), optim.sgd(0.1)
    ts = fnn.init_train_state(model, opt, random.key(0), (2,))
    params = (layers.DenseParams(np.array([[1.0], [-1.0]], np.float32), np.zeros(1, np.float32)),)
    step = fnn.make_train_step(model, losses.sigmoid_binary_cross_entropy(), opt)
    return attrs.evolve(ts, params=params), step


def test_evaluate_reports_binary_accuracy_for_sigmoid_binary_cross_entropy():
    ts, step = binary_setup()
    x = np.array([[2, 0], [0, 2], [1, 0], [0, 1], [3, 1]], np.float32)
    t = np.array([[1], [0], [0], [0], [0]], np.float32)  # logits 2, -2, 1, -1, 2: 3 of 5 right
    result = fnn.evaluate(step.model, step.loss, ts, x, t)
    assert result.accuracy == 0.6
    soft = fnn.evaluate(step.model, step.loss, ts, x, t * 0.8 + 0.1)
    assert math.isnan(soft.accuracy)  # soft targets: no right or wrong
    _, history = fnn.fit(step, ts, x, t, epochs=2, batch_size=5, key=random.key(0),
                         validation=(x, t), progress=False)
    fitted_ts, _ = fnn.fit(step, ts, x, t, epochs=2, batch_size=5, key=random.key(0),
                           progress=False)
    logits = fnn.predict(step.model, fitted_ts, x)
    assert history.val_accuracy[-1] == np.mean((logits > 0) == (t == 1))


def test_fit_records_extra_metrics_in_the_history():
    model, opt = fnn.sequential(layers.dense(4), layers.tanh(), layers.dense(2)), optim.adam(0.01)
    ts = fnn.init_train_state(model, opt, random.key(0), (5,))
    step = fnn.make_train_step(model, losses.mse(), opt)
    x, _ = small_problem(n=30)
    t = np.stack([x[:, 0] - x[:, 1], x[:, 2]], axis=1)
    extra = {"mae": fnn.metrics.mean_absolute_error, "r2": fnn.metrics.r2_score}
    fitted, history = fnn.fit(step, ts, x, t, epochs=3, batch_size=10, key=random.key(1),
                              validation=(x, t), metrics=extra, progress=False)
    assert set(history.val_metrics) == {"mae", "r2"}
    assert all(len(values) == 3 for values in history.val_metrics.values())
    y = fnn.predict(model, fitted, x)
    assert history.val_metrics["mae"][-1] == pytest.approx(np.abs(y - t).mean())
    evaluated = fnn.evaluate(model, step.loss, fitted, x, t, metrics=extra)
    assert evaluated.metrics == {"mae": history.val_metrics["mae"][-1],
                                 "r2": history.val_metrics["r2"][-1]}
    assert math.isnan(evaluated.accuracy)
    with pytest.raises(TypeError):
        evaluated.metrics["mae"] = 0.0  # frozen records hold read-only mappings
    with pytest.raises(ConfigError, match="validation"):
        fnn.fit(step, ts, x, t, epochs=1, batch_size=10, key=random.key(1), metrics=extra)
    with pytest.raises(ConfigError, match="metrics must map names"):
        fnn.evaluate(model, step.loss, fitted, x, t, metrics=[fnn.metrics.r2_score])


def test_a_failing_step_leaves_the_progress_on_the_exception():
    # 21 samples in batches of 5: the last batch holds one sample, which batch norm refuses.
    model = fnn.sequential(layers.dense(6), layers.batch_norm(), layers.relu(), layers.dense(3))
    opt = optim.momentum(0.05)
    ts = fnn.init_train_state(model, opt, random.key(0), (5,))
    step = fnn.make_train_step(model, losses.softmax_cross_entropy(), opt)
    x, t = small_problem(n=21)
    with pytest.raises(fnn.DataError, match="drop_last=True") as info:
        fnn.fit(step, ts, x, t, epochs=3, batch_size=5, key=random.key(0), progress=False)
    assert info.value.ts.step == 4
    expected, every_step = ts, []
    for xb, tb in list(fnn.data.batches(x, t, 5, key=random.split(random.key(0), 3)[0]))[:4]:
        expected, metrics = step(expected, xb, tb)
        every_step.append(metrics.loss)
    assert_trees_equal(info.value.ts, expected)
    assert info.value.history.step_loss == tuple(every_step)
    assert info.value.history.train_loss == ()
    fitted, history = fnn.fit(step, ts, x, t, epochs=3, batch_size=5, key=random.key(0),
                              drop_last=True, progress=False)
    assert fitted.step == 12 and len(history.train_loss) == 3


def test_a_non_finite_step_in_a_later_epoch_keeps_the_finished_epochs(setup):
    ts, step = setup
    x, t = small_problem()
    failing_step = raising_after(step, 6, fnn.NonFiniteError("train step 6: the loss is nan"))
    with pytest.raises(fnn.NonFiniteError) as info:
        fnn.fit(failing_step, ts, x, t, epochs=3, batch_size=5, key=random.key(0),
                validation=(x, t), progress=False,
                evaluate_fn=lambda s, xv, tv: fnn.evaluate(step.model, step.loss, s, xv, tv))
    _, _, every_step = hand_written_loop(step, ts, x, t, 3, 5, random.key(0))
    assert info.value.ts.step == 6 and len(info.value.history.val_loss) == 1
    assert info.value.history.step_loss == tuple(every_step[:6])


def test_grad_norm_is_nan_without_the_finite_check(setup):
    ts, step = setup
    x, t = small_problem()
    unchecked = fnn.make_train_step(step.model, step.loss, step.optimizer, check_finite=False)
    _, metrics = unchecked(ts, x, t)
    _, checked = step(ts, x, t)
    assert math.isnan(metrics.grad_norm) and checked.grad_norm > 0
    assert metrics.loss == checked.loss


def test_no_bar_where_the_output_is_not_a_terminal(setup, capsys):
    pytest.importorskip("tqdm")
    ts, step = setup
    fnn.fit(step, ts, *small_problem(), epochs=2, batch_size=5, key=random.key(0))
    captured = capsys.readouterr()  # neither stream is a terminal here
    assert captured.err == "" and "\r" not in captured.out
    assert captured.out.count("\n") == 2 and captured.out.startswith("epoch 1/2  loss")


def test_learning_curves_count_whole_epochs(setup, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    ts, step = setup
    x, t = small_problem()
    _, history = fnn.fit(step, ts, x, t, epochs=3, batch_size=5, key=random.key(0),
                         validation=(x, t), progress=False)
    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    fnn.plot.learning_curves(history, tmp_path / "curves.png")
    for ax in figures[0].axes:
        ticks = ax.get_xticks()
        assert len(ticks) >= 2 and all(float(tick).is_integer() for tick in ticks)
