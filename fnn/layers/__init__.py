"""Layer factories. Each returns a ``fnn.Layer``."""

from fnn.layers.activations import identity, leaky_relu, relu, sigmoid, softmax, step, tanh
from fnn.layers.conv import ConvParams, conv2d
from fnn.layers.dense import DenseParams, dense
from fnn.layers.dropout import dropout
from fnn.layers.normalization import BatchNormParams, BatchNormState, batch_norm
from fnn.layers.pool import avg_pool2d, max_pool2d
from fnn.layers.reshape import flatten

__all__ = ["dense", "DenseParams", "relu", "leaky_relu", "sigmoid", "tanh", "identity",
           "softmax", "step", "flatten", "conv2d", "ConvParams", "max_pool2d", "avg_pool2d",
           "dropout", "batch_norm", "BatchNormParams", "BatchNormState"]
