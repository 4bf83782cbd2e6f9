"""examples/mnist_resnet.py runs on a tiny subset: its summary, a held-out validation, the test score."""

import re

from tests.conftest import MNIST_DIR
from tests.test_examples import run


def test_the_residual_cnn_example_runs_on_a_few_images(mnist):
    out = run("mnist_resnet.py", "--data", str(MNIST_DIR), "--epochs", "1", "--train-size", "200")
    assert "\n  residual " in out and "\n    sequential " in out  # the summary, indented
    assert "training on 180 images, validating on 20 held out of them" in out
    accuracy = re.search(r"test accuracy on the last 2000 images: ([\d.]+)%", out)
    assert accuracy and 0 <= float(accuracy.group(1)) <= 100


def test_the_residual_cnn_example_explains_its_flags():
    out = run("mnist_resnet.py", "--help")
    assert all(flag in out for flag in ("--data", "--epochs", "--train-size", "--seed"))
