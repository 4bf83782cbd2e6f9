"""The benchmarks' hand-fused steps compute the same network as fnn's steps, so that
comparing their speed means something."""

import numpy as np
import pytest

from benchmarks import cnn, mlp


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
