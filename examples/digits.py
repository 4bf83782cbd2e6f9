"""An MLP on scikit-learn's bundled 8×8 digits: trains in seconds, no download.

    pip install -e '.[examples]' && python examples/digits.py
"""

import time

import common
import numpy as np

import fnn
from fnn import layers, losses, optim, random


def main(seed=0, epochs=20, batch_size=32):
    x, t = fnn.data.load_digits()
    split_key, init_key, shuffle_key = random.split(random.key(seed), 3)
    order = random.permutation(split_key, len(x))
    test, train = order[:360], order[360:]

    model = fnn.sequential(layers.dense(128, w_init=fnn.initializers.he_normal()), layers.relu(),
                           layers.dense(64, w_init=fnn.initializers.he_normal()), layers.relu(),
                           layers.dense(10))
    optimizer = optim.momentum(lr=0.05, momentum=0.9)
    ts = fnn.init_train_state(model, optimizer, init_key, (64,))
    step = fnn.make_train_step(model, losses.softmax_cross_entropy(), optimizer)

    print(f"digits: {len(train)} training and {len(test)} test images of 8x8 pixels")
    start = time.perf_counter()
    for epoch, epoch_key in enumerate(random.split(shuffle_key, epochs), 1):
        batch_losses = []
        for xb, tb in fnn.data.batches(x[train], t[train], batch_size, key=epoch_key):
            ts, metrics = step(ts, xb, tb)
            batch_losses.append(metrics.loss)
        accuracy = fnn.metrics.accuracy(fnn.predict(model, ts, x[test]), t[test])
        print(f"epoch {epoch:2d}  loss {np.mean(batch_losses):.4f}  test accuracy {accuracy:.2%}"
              f"  ({time.perf_counter() - start:.1f} s)")
    return accuracy


if __name__ == "__main__":
    parser = common.parser(__doc__)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    main(args.seed, args.epochs, args.batch_size)
