import numpy as np

import fnn
from fnn import gradcheck, layers


def test_numerical_grad_of_a_known_function():
    x = np.array([1.0, -2.0, 3.0])
    np.testing.assert_allclose(gradcheck.numerical_grad(lambda v: (v ** 3).sum(), x), 3 * x ** 2,
                               rtol=1e-8)


def test_relative_error():
    assert gradcheck.relative_error(np.ones(2), np.ones(2)) == 0.0
    assert gradcheck.relative_error(np.zeros(2), np.zeros(2)) == 0.0
    assert gradcheck.relative_error(np.array([1.0]), np.array([-1.0])) == 1.0


def test_a_wrong_backward_is_caught(rng):
    good = layers.tanh()
    broken = fnn.Layer("broken_tanh", good.init, good.forward,
                       lambda params, y, dy: (dy * (1 - y), None))
    x = rng.normal(size=(3, 4))
    assert gradcheck.check_layer(good, x) < 1e-8
    assert gradcheck.check_layer(broken, x) > 1e-2


def test_a_wrong_parameter_gradient_is_caught(rng):
    good = layers.dense(3)

    def backward(params, cache, dy):
        dx, grads = good.backward(params, cache, dy)
        return dx, layers.DenseParams(grads.w, grads.b * 2)

    errors = gradcheck.layer_errors(fnn.Layer("broken", good.init, good.forward, backward),
                                    rng.normal(size=(4, 2)))
    assert errors["x"] < 1e-8 and errors["params.w"] < 1e-8 and errors["params.b"] > 0.1
