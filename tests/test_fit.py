import numpy as np
import pytest

import fnn
from fnn import losses, optim, random
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


def test_ctrl_c_returns_the_last_complete_state(setup):
    ts, step = setup
    x, t = small_problem()
    calls = []

    def interrupted_step(s, xb, tb):
        if len(calls) == 6:
            raise KeyboardInterrupt
        calls.append(1)
        return step(s, xb, tb)

    fitted, history = fnn.fit(interrupted_step, ts, x, t, epochs=5, batch_size=5,
                              key=random.key(0), progress=False)
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
