"""Layer factories. Each returns a ``fnn.Layer``."""

from fnn.layers.activations import identity, leaky_relu, relu, sigmoid, softmax, step, tanh
from fnn.layers.dense import DenseParams, dense
from fnn.layers.reshape import flatten

__all__ = ["dense", "DenseParams", "relu", "leaky_relu", "sigmoid", "tanh", "identity",
           "softmax", "step", "flatten"]
