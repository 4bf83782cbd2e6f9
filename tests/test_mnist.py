"""Training on the real MNIST digits of ../shared/data/mnist (skipped where absent)."""

import numpy as np

import fnn
from fnn import layers, losses, optim, random


def test_mlp_reaches_92_percent_in_three_epochs(mnist):
    x, t = mnist
    model = fnn.sequential(layers.dense(500), layers.leaky_relu(0.1), layers.dense(100),
                           layers.leaky_relu(0.1), layers.dense(10))
    opt = optim.momentum(0.01, 0.9)
    ts = fnn.init_train_state(model, opt, random.key(0), (784,))
    step = fnn.make_train_step(model, losses.softmax_cross_entropy(), opt)
    for epoch_key in random.split(random.key(1), 3):
        for xb, tb in fnn.data.batches(x[:8000], t[:8000], 100, key=epoch_key):
            ts, _ = step(ts, xb, tb)
    y = fnn.predict(model, ts, x[8000:], batch_size=500)
    assert y.dtype == np.float32
    assert fnn.metrics.accuracy(y, t[8000:]) >= 0.92
