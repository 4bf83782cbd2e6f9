import numpy as np

import fnn
from fnn import layers


def test_summary_has_one_row_per_layer_indented_under_combinators_and_the_totals():
    model = fnn.sequential(layers.dense(4), layers.relu(), fnn.residual(layers.dense(4)),
                           layers.batch_norm(), layers.dense(2))
    # dense(4) on 3 inputs: 3·4 + 4; the residual dense: 4·4 + 4; batch norm: gamma and beta
    # of 4 (and a running mean and variance of 4 as state); dense(2): 4·2 + 2.
    assert fnn.summary(model, (3,)) == """\
input shape (3,), float32
layer           output shape  params
------------------------------------
sequential      (2,)              54
  dense(4)      (4,)              16
  relu()        (4,)               0
  residual      (4,)              20
    dense(4)    (4,)              20
  batch_norm()  (4,)               8
  dense(2)      (2,)              10
------------------------------------
params: 54 (216 bytes)
state: 8 (32 bytes)"""
    assert fnn.summary(model, (3,), np.float64).endswith("params: 54 (432 bytes)\nstate: 8 (64 bytes)")


def test_summary_of_a_cnn_with_branches_counts_kibibytes():
    model = fnn.sequential(layers.conv2d(8, 3, padding=1),
                           fnn.concatenate(layers.conv2d(4, 1), layers.max_pool2d(1)),
                           layers.flatten(), layers.dense(10))
    text = fnn.summary(model, (1, 8, 8))
    lines = text.splitlines()
    assert lines[4:8] == ["  conv2d(8, 3, padding=1)  (8, 8, 8)         80",
                          "  concatenate              (12, 8, 8)        36",
                          "    conv2d(4, 1)           (4, 8, 8)         36",
                          "    max_pool2d(1)          (8, 8, 8)          0"]
    # 80 + 36 + (12·8·8)·10 + 10 = 7,806 float32 parameters: 31,224 bytes
    assert lines[-2] == "params: 7,806 (31,224 bytes, 30.5 KiB)"


def test_summary_of_a_single_layer_and_of_a_hand_written_one():
    assert fnn.summary(layers.dense(3), (2,)).splitlines()[3] == "dense(3)  (3,)               9"
    relu = layers.relu()
    custom = fnn.Layer("mine", relu.init, relu.forward, relu.backward)
    assert "\nmine   (5,)               0\n" in fnn.summary(custom, (5,))
