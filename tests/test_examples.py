"""The example scripts run and print what they promise (the slow ones with fewer epochs)."""

import ast
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


SCRIPTS = sorted(path.name for path in EXAMPLES.glob("*.py") if path.name != "common.py")


def example_module(name, monkeypatch):
    """An example script imported as a module (its folder on sys.path for ``common``)."""
    import importlib.util

    monkeypatch.syspath_prepend(str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), EXAMPLES / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_shows_the_whole_docstring(script):
    out = run(script, "--help")
    assert out.startswith("usage: ")
    docstring = ast.get_docstring(ast.parse((EXAMPLES / script).read_text()), clean=False)
    for line in filter(None, (line.strip() for line in docstring.splitlines())):
        assert line in out, f"{script} --help lacks {line!r}"


@pytest.mark.parametrize("script", ["detect_digits.py", "mnist_cnn.py", "mnist_mlp.py", "mnist_resnet.py",
                                    "three_layer_net.py"])
def test_a_missing_data_folder_names_the_files_to_put_there(script, tmp_path):
    result = subprocess.run([sys.executable, str(EXAMPLES / script), "--data",
                             str(tmp_path / "nowhere")], capture_output=True, text=True)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{tmp_path / 'nowhere'} does not exist" in result.stderr
    assert "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz" in result.stderr
    empty = subprocess.run([sys.executable, str(EXAMPLES / script), "--data", str(tmp_path)],
                           capture_output=True, text=True)
    assert empty.returncode == 1 and "holds no MNIST test set" in empty.stderr


def test_deep_says_up_front_that_it_takes_minutes(tmp_path):
    result = subprocess.run([sys.executable, str(EXAMPLES / "mnist_cnn.py"), "--deep",
                             "--data", str(tmp_path)], capture_output=True, text=True)
    assert result.stdout.startswith("--deep: ") and "minutes" in result.stdout.splitlines()[0]


def test_mnist_cnn_validates_on_held_out_training_images(mnist):
    from tests.conftest import MNIST_DIR

    out = run("mnist_cnn.py", "--data", str(MNIST_DIR), "--epochs", "1", "--train-size", "500")
    assert ("training on 450 images, validating on 50 held out from them, then testing on "
            "2000 unseen images") in out
    assert "val_accuracy" in out and "test accuracy on the last 2000 images" in out


def test_the_optimizer_plot_has_whole_epochs(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    example_module("compare_optimizers.py", monkeypatch).save_plot(
        {"sgd": [1.0, 0.5, 0.4], "adam": [0.9, 0.3, 0.2]}, tmp_path / "curves.png")
    ticks = figures[0].axes[0].get_xticks()
    assert len(ticks) >= 2 and all(float(tick).is_integer() for tick in ticks)
