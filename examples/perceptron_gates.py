"""Perceptrons by hand: AND, OR and NAND from hand-set weights and a step, XOR as two layers.

    python examples/perceptron_gates.py
"""

import common
import numpy as np

import fnn
from fnn.layers import DenseParams, dense, step

INPUTS = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=np.float64)

# One perceptron: y = step(x·w + b), with the weights and biases of the book.
GATES = {
    "AND": DenseParams(w=np.array([[0.5], [0.5]]), b=np.array([-0.7])),
    "NAND": DenseParams(w=np.array([[-0.5], [-0.5]]), b=np.array([0.7])),
    "OR": DenseParams(w=np.array([[0.5], [0.5]]), b=np.array([-0.2])),
}

perceptron = fnn.sequential(dense(1), step())
# XOR(x) = AND(NAND(x), OR(x)): the first layer computes NAND and OR side by side.
xor = fnn.sequential(dense(2), step(), dense(1), step())
XOR_PARAMS = (
    DenseParams(w=np.hstack([GATES["NAND"].w, GATES["OR"].w]),
                b=np.concatenate([GATES["NAND"].b, GATES["OR"].b])),
    None,
    GATES["AND"],
    None,
)


def truth_table(name, model, params):
    y, _, _ = model.forward(params, (None,) * len(params), INPUTS)
    print(f"{name}\n  x1 x2 | y")
    for (x1, x2), out in zip(INPUTS.astype(int), y[:, 0].astype(int), strict=True):
        print(f"   {x1}  {x2} | {out}")


if __name__ == "__main__":
    common.parser(__doc__).parse_args()  # no options: --help describes the script
    for gate, params in GATES.items():
        truth_table(gate, perceptron, (params, None))
    truth_table("XOR (two layers)", xor, XOR_PARAMS)
