"""The book's optimizer comparison: one MLP trained with each optimizer from the same start.

Every run begins from the same parameters and sees the same batches in the
same order (scikit-learn's bundled 8x8 digits, no download), so the curves
differ only by the optimizer. Prints the mean training loss of every epoch
side by side and saves the curves as a PNG when matplotlib is installed.

    pip install -e '.[examples]' && python examples/compare_optimizers.py --out optimizers.png
"""

import time

import common

import fnn
from fnn import initializers, layers, losses, optim, random

OPTIMIZERS = {
    "sgd": optim.sgd(0.1),
    "momentum": optim.momentum(0.05, 0.9),
    "nesterov": optim.nesterov(0.05, 0.9),
    "adagrad": optim.adagrad(0.05),
    "rmsprop": optim.rmsprop(1e-3),
    "adam": optim.adam(1e-3),
    "adamw": optim.adamw(1e-3, weight_decay=1e-2, mask=optim.weights_only),
}


def train(optimizer, x, t, *, init_key, shuffle_key, epochs, batch_size):
    """Train a fresh 64-100-100-10 ReLU net; return the state and each epoch's mean loss."""
    model = fnn.sequential(layers.dense(100, w_init=initializers.he_normal()), layers.relu(),
                           layers.dense(100, w_init=initializers.he_normal()), layers.relu(),
                           layers.dense(10))
    loss = losses.softmax_cross_entropy()
    ts = fnn.init_train_state(model, optimizer, init_key, (x.shape[1],))
    step = fnn.make_train_step(model, loss, optimizer)
    ts, history = fnn.fit(step, ts, x, t, epochs=epochs, batch_size=batch_size, key=shuffle_key,
                          progress=False)
    final = loss.forward(fnn.predict(model, ts, x), t)[0]
    return history.train_loss, final


def save_plot(curves, path):
    try:
        import matplotlib
    except ImportError:
        print("no plot: it needs matplotlib: pip install -e '.[examples]' (or pip install matplotlib)")
        return
    matplotlib.use("Agg")  # a file only: no display needed
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, losses_per_epoch in curves.items():
        ax.plot(range(1, len(losses_per_epoch) + 1), losses_per_epoch, label=name)
    ax.set(xlabel="epoch", ylabel="mean training loss", yscale="log",
           title="optimizers on the digits, same start and batches")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"curves saved to {path}")


def main():
    parser = common.parser(__doc__)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="optimizers.png", help="where to save the curves")
    args = parser.parse_args()

    x, t = fnn.data.load_digits()
    init_key, shuffle_key = random.split(random.key(args.seed))
    start = time.perf_counter()
    curves, finals = {}, {}
    for name, optimizer in OPTIMIZERS.items():
        curves[name], finals[name] = train(optimizer, x, t, init_key=init_key,
                                           shuffle_key=shuffle_key, epochs=args.epochs,
                                           batch_size=args.batch_size)
    seconds = time.perf_counter() - start

    print(f"mean training loss per epoch ({len(x)} digits, batches of {args.batch_size})")
    print("epoch " + "".join(f"{name:>10}" for name in OPTIMIZERS))
    for epoch in range(args.epochs):
        print(f"{epoch + 1:5d} " + "".join(f"{curves[name][epoch]:10.4f}" for name in OPTIMIZERS))
    print("final loss on all the digits:")
    for name, value in sorted(finals.items(), key=lambda item: item[1]):
        print(f"  {name:<10}{value:.5f}")
    print(f"{len(OPTIMIZERS)} runs of {args.epochs} epochs in {seconds:.1f} s")
    save_plot(curves, args.out)


if __name__ == "__main__":
    main()
