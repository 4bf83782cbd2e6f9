"""Learning curves as PNG files, drawn with matplotlib (the ``examples`` extra)."""

from __future__ import annotations

import os

from fnn.train import History

__all__ = ["learning_curves"]


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install -e '.[examples]' "
                          "(or pip install matplotlib)") from None
    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    return plt


def _epoch_axis(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no epoch 1.5


def learning_curves(history: History, path: str | os.PathLike, *, title: str = "") -> None:
    """Save train/validation loss and validation accuracy per epoch to a PNG at ``path``."""
    plt = _pyplot()
    epochs = range(1, len(history.train_loss) + 1)
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    loss_ax.plot(epochs, history.train_loss, marker="o", label="train")
    if history.val_loss:
        loss_ax.plot(epochs, history.val_loss, marker="o", label="validation")
    loss_ax.set(ylabel="loss", title="loss")
    loss_ax.legend()
    if history.val_accuracy:
        acc_ax.plot(epochs, history.val_accuracy, marker="o", color="C1", label="validation")
        acc_ax.legend()
    acc_ax.set(ylabel="accuracy", title="accuracy")
    for ax in (loss_ax, acc_ax):
        _epoch_axis(ax)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
