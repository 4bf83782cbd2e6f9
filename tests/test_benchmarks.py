"""The benchmarks' hand-fused steps compute the same network as fnn's steps, so that
comparing their speed means something."""

import numpy as np
import pytest

import fnn
from benchmarks import cnn, mlp, peers
from benchmarks.fused import ADAM_SPEC, MOMENTUM_SPEC


def one_step(workload):
    ts = workload.extra["ts"]
    new_ts, _ = workload.extra["step"](ts, workload.extra["x"], workload.extra["t"])
    workload.variants["fused"]()
    return new_ts


@pytest.mark.parametrize("make", [mlp.w1, mlp.w2])
@pytest.mark.parametrize("batch", [1, 8])  # a batch of one takes np.dot's route in both
def test_fused_mlp_steps_match_fnn(make, batch):
    workload = make(batch=batch)
    fused = workload.variants["fused"].__self__
    new_ts = one_step(workload)
    dense = [p for p in new_ts.params if p is not None]
    for i, p in enumerate(dense):
        np.testing.assert_allclose(fused.w[i], p.w, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(fused.b[i], p.b, rtol=1e-4, atol=1e-6)


def test_fused_conv_net_step_matches_fnn():
    workload = cnn.w3(batch=4)
    fused = workload.variants["fused"].__self__
    new_ts = one_step(workload)
    conv, dense1, dense2 = new_ts.params[0], new_ts.params[4], new_ts.params[6]
    for mine, theirs in [(fused.wc, conv.w.reshape(len(conv.w), -1)), (fused.bc, conv.b),
                         (fused.w1, dense1.w), (fused.b1, dense1.b), (fused.w2, dense2.w),
                         (fused.b2, dense2.b)]:
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-6)


# every kind of layer the peers build, both batch norms, and a conv without bias
SMALL_NET = [["conv", 3, 3, 1, True], ["bn"], ["leaky", 0.1], ["maxpool", 2],
             ["conv", 4, 3, 1, False], ["relu"], ["maxpool", 2], ["flatten"], ["bn"],
             ["dense", 10]]


@pytest.mark.parametrize("framework", peers.FRAMEWORKS)
@pytest.mark.parametrize("opt_spec", [ADAM_SPEC, MOMENTUM_SPEC], ids=["adam", "momentum"])
def test_peers_take_the_same_steps_as_fnn(framework, opt_spec):
    pytest.importorskip(framework)
    x, t = mlp.batch_data((6, 1, 8, 8), np.float32)
    model = peers.model(SMALL_NET)
    ts = fnn.init_train_state(model, peers.optimizer(opt_spec), fnn.random.key(0), (1, 8, 8))
    step = fnn.make_train_step(model, fnn.losses.softmax_cross_entropy(), peers.optimizer(opt_spec))
    started = peers.start(SMALL_NET, opt_spec, ts, x, t, [framework])
    try:
        peer = started[framework]
        assert isinstance(peer(), float)  # its second step, after one update
    finally:
        for p in started.values():
            p.close()
    # the same network, weights, batch and update: the same losses before and after it
    ts, first = step(ts, x, t)
    _, second = step(ts, x, t)
    np.testing.assert_allclose([peer.first_loss, peer.last_loss], [first.loss, second.loss],
                               rtol=1e-4)
    assert first.loss != second.loss and peer.peak_rss_mib > 0
