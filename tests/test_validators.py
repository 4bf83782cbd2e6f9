import numpy as np
import pytest

from fnn import validators
from fnn.errors import ConfigError


def test_numbers_come_back_as_plain_python_numbers():
    value = validators.fraction("opt", "momentum", np.float64(0.9))
    assert type(value) is float and value == 0.9
    count = validators.integer("fit", "epochs", np.int64(3))
    assert type(count) is int and count == 3


@pytest.mark.parametrize("check, value, words", [
    (validators.fraction, 1.0, "a number in [0, 1)"),
    (validators.unit_interval, 1.5, "a number in [0, 1]"),
    (validators.non_negative, float("inf"), "a finite number >= 0"),
    (validators.positive, 0.0, "a positive, finite number"),
    (validators.positive, True, "a positive, finite number"),
    (validators.positive, "1", "a positive, finite number"),
])
def test_out_of_range_or_wrong_kind_values_are_refused(check, value, words):
    with pytest.raises(ConfigError, match=f"layer: rate must be {words}".replace("[", r"\[")
                       .replace("(", r"\(").replace(")", r"\)")):
        check("layer", "rate", value)


@pytest.mark.parametrize("value", [0, -1, 2.0, True, "3"])
def test_integers(value):
    with pytest.raises(ConfigError, match=r"loop: count must be an integer >= 1"):
        validators.integer("loop", "count", value)
