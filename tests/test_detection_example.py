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


def run_example(*args: str) -> dict[int, list[float]]:
    """The example's per-epoch rows, {epoch: [time, train, test, coord, obj, noobj, cls,
    mAP@0.5, COCO mAP]}."""
    from tests.conftest import MNIST_DIR

    out = subprocess.run([sys.executable, str(bench.EXAMPLE), "--data", str(MNIST_DIR), *args],
                         capture_output=True, text=True, check=True).stdout
    return {int(line.split()[0]): [float(v) for v in line.split()[1:]]
            for line in out.splitlines() if len(line.split()) == 10 and line.split()[0].isdigit()}


def test_two_short_epochs_train_above_chance(mnist, tmp_path):
    """Two short epochs (100 steps, the first 50 warming up to a raised rate) reach an
    mAP@0.5 of about 0.01 (0.0106 where this was written), where chance is 0: 20 boxes per
    scene at random places, sizes, classes and scores match none of these scenes' 508
    digits. This checks that the test loss falls far below the untrained network's (epoch
    0) and is the sum of its parts, that both mAPs lie in [0, 1] and mAP@0.5 is above 0.002,
    and that the checkpoint and the picture are written."""
    rows = run_example("--epochs", "2", "--train-scenes", "1600", "--test-scenes", "200",
                       "--lr", "3e-3", "--save", str(tmp_path / "run.npz"),
                       "--plot", str(tmp_path / "scenes.png"))
    assert sorted(rows) == [0, 1, 2]
    untrained, trained = rows[0], rows[2]
    assert untrained[4] < 0.01       # obj: an untrained box overlaps nothing, its target IoU ~ 0
    assert trained[2] < untrained[2] / 2                       # the test loss
    assert math.isclose(trained[2], sum(trained[3:7]), rel_tol=1e-3)   # = its four parts
    assert all(0.0 <= m <= 1.0 for m in trained[7:9])          # mAP@0.5 and COCO mAP
    example = bench.load_example()
    assert trained[7] > 0.002
    like = fnn.init_train_state(example.build_model(), example.build_optimizer(1, 10),
                                fnn.random.key(0), (1, 96, 96))
    fnn.checkpoint.load(tmp_path / "run.npz", like=like)
    assert (tmp_path / "scenes.png").stat().st_size > 0


def test_no_rescore_sets_the_confidence_target_to_one(mnist):
    """Untrained, every confidence is near 0: against a target of 1 the obj part counts about
    one per object, against the default's, an IoU near 0, about 0. Both the test loss
    (epoch 0) and the training loss (epoch 1's single step, at the initial weights) show it."""
    tiny = ("--epochs", "1", "--train-scenes", "32", "--test-scenes", "50")
    default, flagged = run_example(*tiny), run_example(*tiny, "--no-rescore")
    assert default[0][4] < 0.01 and flagged[0][4] > 1.0            # test obj part
    assert flagged[1][1] > default[1][1] + 1.0                     # training loss
