"""The series' three-layer net: 784-500-100-3, Leaky ReLU(0.1), 0.01·N(0, 1) weights,
the sum-of-squares loss ½Σ(y − t)² and Momentum(lr=0.01), on real images of the digits 0, 1, 2.

    python examples/three_layer_net.py --data ../shared/data/mnist
"""

import time

import common
import numpy as np

import fnn
from fnn import initializers, layers, losses, optim, random

CLASSES = 3


def digits_0_to_2(images, labels):
    """(n, 784) floats, one-hot targets and labels of the images of the digits 0, 1, 2."""
    keep = labels < CLASSES
    return (images[keep].reshape(-1, 784), fnn.data.one_hot(labels[keep], CLASSES),
            labels[keep])


def main():
    parser = common.parser(__doc__, data=True)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    images, labels = common.mnist_test_set(args.data)
    # The agreed split: train on the first 8,000 images, test on the last 2,000.
    x, t, _ = digits_0_to_2(images[:common.TRAIN_IMAGES], labels[:common.TRAIN_IMAGES])
    x_test, _, labels_test = digits_0_to_2(images[common.TRAIN_IMAGES:],
                                           labels[common.TRAIN_IMAGES:])
    print(f"images of the digits 0-2: training on {len(x)}, testing on {len(x_test)}")

    small = initializers.normal(0.01)
    model = fnn.sequential(layers.dense(500, w_init=small), layers.leaky_relu(0.1),
                           layers.dense(100, w_init=small), layers.leaky_relu(0.1),
                           layers.dense(CLASSES, w_init=small))
    optimizer = optim.momentum(lr=0.01, momentum=0.9)
    init_key, shuffle_key = random.split(random.key(args.seed))
    ts = fnn.init_train_state(model, optimizer, init_key, (784,))
    step = fnn.make_train_step(model, losses.sse(), optimizer)

    start = time.perf_counter()
    for epoch, epoch_key in enumerate(random.split(shuffle_key, args.epochs), 1):
        running = []
        for i, (xb, tb) in enumerate(fnn.data.batches(x, t, args.batch_size,
                                                      key=epoch_key), 1):
            ts, metrics = step(ts, xb, tb)
            running.append(metrics.loss)
            if i % 100 == 0:
                print(f"epoch {epoch}  step {i:4d}  SSE per batch {np.mean(running):.4f}")
                running = []
        y = fnn.predict(model, ts, x_test)
        print(f"epoch {epoch}: test accuracy {fnn.metrics.accuracy(y, labels_test):.2%} "
              f"({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
