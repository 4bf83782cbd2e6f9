"""The same seed gives the same bytes, in this process and in fresh ones."""

import subprocess
import sys

SCRIPT = """
import hashlib, sys
import numpy as np
import fnn
from fnn import layers, losses, optim, random

seed = int(sys.argv[1])
model = fnn.sequential(layers.dense(16), layers.relu(), layers.dense(3))
opt = optim.momentum(0.05)
ts = fnn.init_train_state(model, opt, random.key(seed), (4,))
step = fnn.make_train_step(model, losses.softmax_cross_entropy(), opt)
data_rng = np.random.default_rng(0)
x = data_rng.normal(size=(200, 4)).astype(np.float32)
t = data_rng.integers(0, 3, 200)
batches = fnn.data.batches(x, t, 10, key=random.key(seed + 100))
for _ in range(20):
    ts, _ = step(ts, *next(batches))
digest = hashlib.sha256()
for leaf in fnn.tree.leaves(ts):
    digest.update(np.asarray(leaf).tobytes())
print(ts.step, digest.hexdigest())
"""


def run(seed):
    return subprocess.run([sys.executable, "-c", SCRIPT, str(seed)], capture_output=True,
                          text=True, check=True).stdout


def test_same_seed_same_bytes_in_two_processes_and_different_seeds_differ():
    first, second, other = run(3), run(3), run(4)
    assert first.startswith("20 ")
    assert first == second
    assert other != first
