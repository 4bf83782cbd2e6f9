"""The example scripts run and print what they promise (the slow ones with fewer epochs)."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(script, *args):
    return subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True,
                          text=True, check=True).stdout


def test_perceptron_gates_truth_tables():
    out = run("perceptron_gates.py")
    xor = out.split("XOR (two layers)")[1].split()
    # Rows of "x1 x2 | y" after the header.
    assert xor[4:] == ["0", "0", "|", "0", "1", "0", "|", "1", "0", "1", "|", "1",
                       "1", "1", "|", "0"]


def test_digits():
    pytest.importorskip("sklearn")
    out = run("digits.py")
    assert float(out.strip().splitlines()[-1].split("test accuracy")[1].split("%")[0]) >= 95.0


def test_mnist_mlp_one_epoch(mnist, tmp_path):
    from tests.conftest import MNIST_DIR

    out = run("mnist_mlp.py", "--data", str(MNIST_DIR), "--epochs", "1",
              "--plot", str(tmp_path / "curves.png"))
    assert "test accuracy on the last 2000 images" in out


def test_three_layer_net_one_epoch(mnist):
    from tests.conftest import MNIST_DIR

    out = run("three_layer_net.py", "--data", str(MNIST_DIR), "--epochs", "1")
    assert "SSE per batch" in out and "test accuracy" in out
