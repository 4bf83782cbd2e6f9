"""examples/detect_digits.py: its importable pieces, its benchmark, and one short epoch."""

import math
import subprocess
import sys

import numpy as np

import fnn
from benchmarks import detection as bench


def test_example_pieces_and_benchmark_workload():
    example = bench.load_example()
    model = example.build_model(example.GRID)
    ts = fnn.init_train_state(model, example.build_optimizer(), fnn.random.key(0),
                              (1, example.GRID.image_size, example.GRID.image_size))
    assert fnn.predict(model, ts, np.zeros((2, 1, 96, 96), np.float32)).shape == \
        (2, *example.GRID.output_shape)
    workload = bench.w7(batch=2)
    for variant in workload.variants.values():
        variant()
    # five convolutions (the first without an input gradient) and two dense layers
    floor = bench.products(example.build_layers(example.GRID), ts.params, (1, 96, 96), 2,
                           np.float32)
    assert len(floor) == 5 * 3 - 1 + 2 * 3


def test_two_short_epochs_train_and_evaluate(mnist, tmp_path):
    """Two short epochs (40 steps, the first warming up) cannot reach a useful mAP, so this
    checks that the mAPs are finite numbers in range, that the test loss falls far below the
    untrained network's (epoch 0), and that the checkpoint and picture are written."""
    from tests.conftest import MNIST_DIR

    out = subprocess.run([sys.executable, str(bench.EXAMPLE), "--data", str(MNIST_DIR),
                          "--epochs", "2", "--train-scenes", "640", "--test-scenes", "100",
                          "--save", str(tmp_path / "run.npz"),
                          "--plot", str(tmp_path / "scenes.png")],
                         capture_output=True, text=True, check=True).stdout
    rows = {int(line.split()[0]): [float(v) for v in line.split()[1:]]
            for line in out.splitlines() if len(line.split()) == 10 and line.split()[0].isdigit()}
    assert sorted(rows) == [0, 1, 2]
    untrained, trained = rows[0], rows[2]
    assert trained[2] < untrained[2] / 2                       # the test loss
    assert math.isclose(trained[2], sum(trained[3:7]), rel_tol=1e-3)   # = its four parts
    assert all(0.0 <= m <= 1.0 for m in trained[7:9])          # mAP@0.5 and COCO mAP
    example = bench.load_example()
    like = fnn.init_train_state(example.build_model(), example.build_optimizer(1, 10),
                                fnn.random.key(0), (1, 96, 96))
    fnn.checkpoint.load(tmp_path / "run.npz", like=like)
    assert (tmp_path / "scenes.png").stat().st_size > 0
