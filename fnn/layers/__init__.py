"""Layer factories. Each returns a ``fnn.Layer``."""

from fnn.layers.activations import (
    elementwise,
    elu,
    gelu,
    identity,
    leaky_relu,
    relu,
    sigmoid,
    softmax,
    step,
    tanh,
)
from fnn.layers.conv import ConvParams, conv2d
from fnn.layers.dense import DenseParams, dense
from fnn.layers.dropout import dropout
from fnn.layers.normalization import (
    BatchNormParams,
    BatchNormState,
    LayerNormParams,
    batch_norm,
    layer_norm,
)
from fnn.layers.pool import avg_pool2d, global_avg_pool2d, max_pool2d
from fnn.layers.reshape import flatten, reshape

__all__ = ["dense", "DenseParams", "relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh",
           "identity", "softmax", "step", "elementwise", "flatten", "reshape", "conv2d",
           "ConvParams", "max_pool2d", "avg_pool2d", "global_avg_pool2d", "dropout",
           "batch_norm", "BatchNormParams", "BatchNormState", "layer_norm", "LayerNormParams"]
