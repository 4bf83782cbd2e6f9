"""The series' three-layer net: 784-500-100-3, Leaky ReLU(0.1), 0.01·N(0, 1) weights,
the sum-of-squares loss ½Σ(y − t)² and Momentum(lr=0.01), on real images of the digits 0, 1, 2.

    python examples/three_layer_net.py --data ../shared/data/mnist
"""

import argparse
import time
from pathlib import Path

import numpy as np

import fnn
from fnn import initializers, layers, losses, optim, random

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
CLASSES = 3


def load(directory, part):
    """The 0-2 images of a part of the agreed split (first 8,000 train, last 2,000 test):
    (n, 784) floats, their one-hot targets and their labels."""
    images, labels = fnn.data.load_mnist(directory).test
    images, labels = (images[:8000], labels[:8000]) if part == "train" else \
        (images[8000:], labels[8000:])
    keep = labels < CLASSES
    x = fnn.data.scale_pixels(images[keep]).reshape(-1, 784)
    return x, fnn.data.one_hot(labels[keep], CLASSES), labels[keep]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA, help="a directory holding MNIST IDX files")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    x, t, _ = load(args.data, "train")
    x_test, _, labels_test = load(args.data, "test")
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
