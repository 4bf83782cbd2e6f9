"""The book's SimpleConvNet on MNIST: conv 30×5×5 → ReLU → 2×2 max pool → dense 100 → ReLU → dense 10.

Trains with Adam on the first 8,000 images of the MNIST test files in --data,
of which 10% are held out to validate after every epoch, then tests once on the
last 2,000 images, which training never sees. --deep trains a deeper net in the
spirit of the book's DeepConvNet (it takes minutes per epoch on a CPU): six 3×3
convolutions in three blocks, each conv followed by batch norm and ReLU, then
dense 50 with batch norm, ReLU and dropout.

    python examples/mnist_cnn.py --data ../shared/data/mnist [--deep]

--mpi trains data-parallel on the processes mpiexec starts (pip install
'fnn[mpi]'), each on its shard of every batch; rank 0 prints. The simple net
reaches the single-process accuracy (the deep one differs: each rank draws its
own dropout masks):

    mpiexec -n 2 python -m mpi4py examples/mnist_cnn.py --mpi
"""

import time

import common

import fnn
from fnn import layers, losses, optim, random
from fnn.initializers import he_normal


def simple_conv_net():
    return fnn.sequential(layers.conv2d(30, 5, w_init=he_normal()), layers.relu(),
                          layers.max_pool2d(2), layers.flatten(),
                          layers.dense(100, w_init=he_normal()), layers.relu(), layers.dense(10))


def deep_conv_net(comm=None):
    """With ``comm``, batch norm takes its statistics over every rank's shard."""
    def block(filters):
        # No conv bias: batch norm's shift (beta) takes its place.
        def conv():
            return layers.conv2d(filters, 3, padding=1, w_init=he_normal(), use_bias=False)
        return [conv(), layers.batch_norm(sync=comm), layers.relu(), conv(),
                layers.batch_norm(sync=comm), layers.relu(), layers.max_pool2d(2)]

    return fnn.sequential(*block(16), *block(32), *block(64), layers.flatten(),  # 28 → 14 → 7 → 3
                          layers.dense(50, w_init=he_normal(), use_bias=False),
                          layers.batch_norm(sync=comm), layers.relu(), layers.dropout(0.5),
                          layers.dense(10))


def main():
    parser = common.parser(__doc__, data=True)
    parser.add_argument("--deep", action="store_true",
                        help="the deeper net with batch norm and dropout (minutes per epoch)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--train-size", type=int, default=common.TRAIN_IMAGES,
                        help="use this many of the first 8,000 images (for a quick run)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mpi", action="store_true",
                        help="data-parallel on the ranks of mpiexec -n N python -m mpi4py ...")
    args = parser.parse_args()
    comm = fnn.distributed.communicator() if args.mpi else None
    say = print if comm is None or comm.rank == 0 else lambda *_, **__: None
    if args.deep:
        say("--deep: this net does about 15 times the simple net's work per image, so each "
            "epoch takes minutes on a CPU (--train-size 1000 for a quick look)", flush=True)

    x, t = common.mnist_test_set(args.data)
    used = min(args.train_size, common.TRAIN_IMAGES)
    split_key, init_key, fit_key = random.split(random.key(args.seed), 3)
    train, validation = fnn.data.split(x[:used], t[:used], val_fraction=0.1, key=split_key)
    x_test, t_test = x[common.TRAIN_IMAGES:], t[common.TRAIN_IMAGES:]
    model = deep_conv_net(comm) if args.deep else simple_conv_net()
    optimizer = optim.adam(lr=args.lr)
    ts = fnn.init_train_state(model, optimizer, init_key, (1, 28, 28))
    step = fnn.make_train_step(model, losses.softmax_cross_entropy(), optimizer, comm=comm)
    say(f"{'deep' if args.deep else 'simple'} conv net: training on {len(train[0])} images, "
        f"validating on {len(validation[0])} held out from them, then testing on "
        f"{len(x_test)} unseen images" + (f", on {comm.size} ranks" if comm else ""), flush=True)

    start = time.perf_counter()
    ts, history = fnn.fit(step, ts, *train, epochs=args.epochs, batch_size=args.batch_size,
                          key=fit_key, validation=validation, comm=comm)
    accuracy = fnn.metrics.accuracy(fnn.predict(model, ts, x_test, batch_size=500), t_test)
    say(f"test accuracy on the last {len(x_test)} images: {accuracy:.2%} "
        f"after {len(history.train_loss)} epochs ({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
