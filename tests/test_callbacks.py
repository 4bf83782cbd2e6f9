import math

import numpy as np
import pytest

import fnn
from fnn import checkpoint, layers, losses, optim, random
from fnn.errors import ConfigError
from fnn.testing import assert_trees_equal
from tests.helpers import small_mlp, small_problem


def dropout_setup():
    model = fnn.sequential(layers.dense(8), layers.relu(), layers.dropout(0.3), layers.dense(3))
    opt = optim.adam(0.01)
    ts = fnn.init_train_state(model, opt, random.key(0), (5,))
    return ts, fnn.make_train_step(model, losses.softmax_cross_entropy(), opt)


def stop_after(epochs_done):
    return lambda ts, history: history.epochs_done == epochs_done


def test_early_stopping_refuses_a_nan_monitor():
    # A regression has no accuracy: before, early_stopping stopped after `patience` epochs.
    stop = fnn.early_stopping(2, monitor="val_accuracy")
    with pytest.raises(ConfigError, match=r"val_accuracy is NaN.*regression.*val_loss"):
        stop(None, fnn.History(val_loss=(1.0,), val_accuracy=(math.nan,)))
    model, opt = fnn.sequential(layers.dense(4), layers.relu(), layers.dense(1)), optim.sgd(0.01)
    ts = fnn.init_train_state(model, opt, random.key(0), (5,))
    x, _ = small_problem(n=30)
    t = x[:, :1] * 2.0
    with pytest.raises(ConfigError, match="NaN"):
        fnn.fit(fnn.make_train_step(model, losses.mse(), opt), ts, x, t, epochs=5,
                batch_size=10, key=random.key(1), validation=(x, t), progress=False,
                callbacks=[stop])


def test_restore_best_keeps_the_state_of_the_best_epoch():
    best = fnn.restore_best("val_loss")
    states = ["after 1", "after 2", "after 3", "after 4"]
    val_loss = (0.9, 0.5, 0.7, 0.6)
    for i, ts in enumerate(states):
        assert best(ts, fnn.History(train_loss=(0.0,) * (i + 1), val_loss=val_loss[:i + 1],
                                    initial_epoch=3)) is False
    assert (best.ts, best.epoch, best.value) == ("after 2", 5, 0.5)
    rising = fnn.restore_best("val_accuracy", min_delta=0.05)
    accuracies = (0.5, 0.6, 0.62)
    for i in range(3):
        rising(i, fnn.History(train_loss=(0.0,) * (i + 1), val_accuracy=accuracies[:i + 1]))
    assert rising.ts == 1  # 0.62 is not 0.05 better than 0.6
    with pytest.raises(ConfigError, match="monitor"):
        fnn.restore_best("val_mae")


def test_restore_best_in_fit_equals_the_run_stopped_there():
    ts, step = dropout_setup()
    x, t = small_problem(n=60)
    best = fnn.restore_best("val_loss")
    kwargs = dict(epochs=6, batch_size=16, key=random.key(2), validation=(x[40:], t[40:]),
                  progress=False)
    _, history = fnn.fit(step, ts, x[:40], t[:40], callbacks=[best], **kwargs)
    assert best.epoch == 1 + int(np.argmin(history.val_loss))
    stopped, _ = fnn.fit(step, ts, x[:40], t[:40], callbacks=[stop_after(best.epoch)], **kwargs)
    assert_trees_equal(best.ts, stopped)


def test_a_run_resumed_from_checkpoint_every_equals_the_uninterrupted_run(tmp_path):
    ts, step = dropout_setup()
    x, t = small_problem(n=45)
    kwargs = dict(epochs=4, batch_size=10, key=random.key(3), progress=False)
    whole, _ = fnn.fit(step, ts, x, t, **kwargs)
    path = tmp_path / "run.npz"
    assert fnn.resume(path, ts) == (ts, 0)  # nothing saved yet: start from the beginning
    # The "killed" run: it stops after epoch 2, the last checkpoint written then.
    fnn.fit(step, ts, x, t, callbacks=[fnn.checkpoint_every(path), stop_after(2)], **kwargs)
    resumed_ts, epochs_done = fnn.resume(path, like=ts)
    assert epochs_done == 2 and resumed_ts.step == 10
    resumed, history = fnn.fit(step, resumed_ts, x, t, initial_epoch=epochs_done,
                               callbacks=[fnn.checkpoint_every(path)], **kwargs)
    assert checkpoint.digest(resumed) == checkpoint.digest(whole)
    assert history.initial_epoch == 2 and history.epochs_done == 4
    assert fnn.resume(path, ts)[1] == 4


def test_checkpoint_every_n_epochs(tmp_path):
    ts, step = dropout_setup()
    x, t = small_problem(n=20)
    path = tmp_path / "run.npz"
    saved = []

    def watch(ts, history):
        saved.append(fnn.resume(path, ts)[1] if path.exists() else None)

    fnn.fit(step, ts, x, t, epochs=5, batch_size=10, key=random.key(0), progress=False,
            callbacks=[fnn.checkpoint_every(path, every=2), watch])
    assert saved == [None, 2, 2, 4, 4]
    with pytest.raises(ConfigError, match="every"):
        fnn.checkpoint_every(path, every=0)


def test_step_callbacks_see_every_step_with_its_gradient_norm():
    model, opt = small_mlp(), optim.sgd(optim.schedules.exponential_decay(0.1, 1, 0.5))
    ts = fnn.init_train_state(model, opt, random.key(0), (5,))
    step = fnn.make_train_step(model, losses.softmax_cross_entropy(), opt)
    x, t = small_problem(n=25)
    schedule = optim.schedules.exponential_decay(0.1, 1, 0.5)
    seen = []
    fitted, history = fnn.fit(step, ts, x, t, epochs=2, batch_size=10, key=random.key(4),
                              progress=False, step_callbacks=[
                                  lambda s, m: seen.append((s.step, m.loss, m.grad_norm,
                                                            schedule(s.step - 1)))])
    assert [s for s, *_ in seen] == list(range(1, 7)) and fitted.step == 6
    assert tuple(loss for _, loss, _, _ in seen) == history.step_loss
    assert [lr for *_, lr in seen] == [0.1 * 0.5 ** i for i in range(6)]
    # the first step's gradient norm, from the gradients themselves
    xb, tb = next(fnn.data.batches(x, t, 10, key=random.split(random.key(4), 2)[0]))
    _, grads, _ = fnn.value_and_grad(model, step.loss)(ts.params, ts.state, xb, tb, key=None)
    norm = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64)))
                         for g in fnn.tree.leaves(grads)))
    assert seen[0][2] == pytest.approx(norm, rel=1e-5)
