"""Every optimizer trains the same 784-64-10 net on 2,000 real MNIST digits (skipped without them)."""

import numpy as np
import pytest

import fnn
from fnn import layers, losses, optim, random

OPTIMIZERS = {
    "sgd": lambda: optim.sgd(0.2),
    "momentum": lambda: optim.momentum(0.05),
    "nesterov": lambda: optim.nesterov(0.05),
    "adagrad": lambda: optim.adagrad(0.05),
    "rmsprop": lambda: optim.rmsprop(1e-3),
    "adam": lambda: optim.adam(2e-3),
    "adamw": lambda: optim.adamw(2e-3, weight_decay=1e-2, mask=optim.weights_only),
    "clip, adam": lambda: optim.chain(optim.clip_by_global_norm(1.0), optim.adam(2e-3)),
    "warmup cosine adam": lambda: optim.adam(optim.schedules.warmup_cosine_decay(
        0.0, 3e-3, warmup_steps=20, decay_steps=200)),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_trains_an_mlp_on_mnist(mnist, name):
    # 200 steps (5 epochs of 40 batches of 50) take the loss from about 2.3 to below
    # 0.25 with every optimizer (0.08 to 0.21 when written); each run takes ~0.1 s.
    x, t = mnist[0][:2000], mnist[1][:2000]
    model = fnn.sequential(layers.dense(64), layers.relu(), layers.dense(10))
    loss, optimizer = losses.softmax_cross_entropy(), OPTIMIZERS[name]()
    ts = fnn.init_train_state(model, optimizer, random.key(0), (784,))
    step = fnn.make_train_step(model, loss, optimizer)
    for epoch_key in random.split(random.key(1), 5):
        for xb, tb in fnn.data.batches(x, t, 50, key=epoch_key):
            ts, _ = step(ts, xb, tb)
    assert ts.step == 200
    y = fnn.predict(model, ts, x)
    assert y.dtype == np.float32
    assert loss.forward(y, t)[0] < 0.25
