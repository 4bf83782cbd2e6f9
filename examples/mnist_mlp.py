"""The 784-500-100-10 MLP on MNIST with ``fit``: progress, validation, learning curves.

Trains on the first 8,000 images of the MNIST test files in --data (10% of them
held out for validation), tests on the last 2,000, and saves the learning curves.

    python examples/mnist_mlp.py --data ../shared/data/mnist --plot mnist_mlp.png
"""

import time

import common

import fnn
from fnn import layers, losses, optim, random


def main():
    parser = common.parser(__doc__, data=True)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default="mnist_mlp.png", help="where to save the learning curves")
    args = parser.parse_args()

    images, t = common.mnist_test_set(args.data)
    x = images.reshape(len(images), -1)
    split_key, init_key, fit_key = random.split(random.key(args.seed), 3)
    train, validation = fnn.data.split(x[:common.TRAIN_IMAGES], t[:common.TRAIN_IMAGES],
                                       val_fraction=0.1, key=split_key)
    x_test, t_test = x[common.TRAIN_IMAGES:], t[common.TRAIN_IMAGES:]

    model = fnn.sequential(layers.dense(500), layers.leaky_relu(0.1),
                           layers.dense(100), layers.leaky_relu(0.1), layers.dense(10))
    optimizer = optim.momentum(lr=0.05, momentum=0.9)
    ts = fnn.init_train_state(model, optimizer, init_key, (784,))
    step = fnn.make_train_step(model, losses.softmax_cross_entropy(), optimizer)

    start = time.perf_counter()
    ts, history = fnn.fit(step, ts, *train, epochs=args.epochs, batch_size=args.batch_size,
                          key=fit_key, validation=validation)
    seconds = time.perf_counter() - start
    accuracy = fnn.metrics.accuracy(fnn.predict(model, ts, x_test), t_test)
    print(f"test accuracy on the last {len(x_test)} images: {accuracy:.2%} "
          f"after {len(history.train_loss)} epochs ({seconds:.1f} s)")
    try:
        fnn.plot.learning_curves(history, args.plot, title="784-500-100-10 MLP on MNIST")
        print(f"learning curves saved to {args.plot}")
    except ImportError as exc:
        print(f"no plot: {exc}")


if __name__ == "__main__":
    main()
