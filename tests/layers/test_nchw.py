"""Channels-last images get an error that says fnn is NCHW and shows the transpose."""

import numpy as np
import pytest

import fnn
from fnn import layers, random
from fnn.errors import ShapeError

HINT = r"fnn is channels-first \(NCHW\) and \({}\) looks like \(height, width, channels\): give " \
       r"in_shape \({}\) and images x.transpose\(0, 3, 1, 2\)"


@pytest.mark.parametrize("layer", [layers.conv2d(8, 3), layers.conv2d(8, 5), layers.max_pool2d(2),
                                   layers.avg_pool2d(2), layers.global_avg_pool2d()],
                         ids=repr)
@pytest.mark.parametrize(("nhwc", "nchw"), [("28, 28, 1", "1, 28, 28"), ("32, 32, 3", "3, 32, 32")])
def test_square_channels_last_images_are_refused_at_init(layer, nhwc, nchw):
    in_shape = tuple(int(n) for n in nhwc.split(", "))
    with pytest.raises(ShapeError, match=HINT.format(nhwc, nchw)):
        layer.init(random.key(0), in_shape)
    with pytest.raises(ShapeError, match=HINT.format(nhwc, nchw)):
        fnn.sequential(layers.relu(), layer).init(random.key(0), in_shape)


def test_channels_last_batches_are_refused_at_forward():
    model = fnn.sequential(layers.conv2d(4, 3), layers.relu(), layers.max_pool2d(2))
    params, state, _ = model.init(random.key(0), (1, 28, 28))
    with pytest.raises(ShapeError, match=r"expected input of shape \(batch, 1, height, width\), got "
                                         r"\(2, 28, 28, 1\); " + HINT.format("28, 28, 1", "1, 28, 28")):
        model.forward(params, state, np.zeros((2, 28, 28, 1), np.float32))
    with pytest.raises(ShapeError, match=HINT.format("32, 32, 3", "3, 32, 32")):
        layers.max_pool2d(2).forward(None, None, np.zeros((2, 32, 32, 3), np.float32))


def test_other_channels_last_shapes_get_the_hint_where_they_fail():
    with pytest.raises(ShapeError, match=r"27x1 leaves no output pixels.*; "
                                         + HINT.format("28, 27, 1", "1, 28, 27")):
        layers.conv2d(8, 5).init(random.key(0), (28, 27, 1))


def test_channels_first_shapes_that_merely_end_in_1_3_or_4_are_accepted():
    assert layers.conv2d(4, 3).init(random.key(0), (128, 4, 4))[2] == (4, 2, 2)
    assert layers.conv2d(4, 3, padding=1).init(random.key(0), (64, 7, 1))[2] == (4, 7, 1)
    assert layers.max_pool2d(2).init(random.key(0), (3, 8, 4))[2] == (3, 4, 2)
    with pytest.raises(ShapeError) as refused:  # a plain size error: no NHWC hint for (3, 2, 8)
        layers.max_pool2d(3).init(random.key(0), (3, 2, 8))
    assert "NCHW" not in str(refused.value)
