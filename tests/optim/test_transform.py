import numpy as np
import pytest

from fnn import optim
from fnn.errors import TreeError
from fnn.layers import DenseParams


def test_apply_updates_adds_leafwise_into_read_only_arrays():
    params = {"a": DenseParams(np.ones((2, 2)), None), "b": np.array([1.0, 2.0])}
    updates = {"a": DenseParams(np.full((2, 2), 0.5), None), "b": np.array([-1.0, 1.0])}
    new = optim.apply_updates(params, updates)
    np.testing.assert_array_equal(new["a"].w, np.full((2, 2), 1.5))
    np.testing.assert_array_equal(new["b"], [0.0, 3.0])
    assert not new["b"].flags.writeable
    np.testing.assert_array_equal(params["b"], [1.0, 2.0])


def test_apply_updates_refuses_mismatched_trees():
    with pytest.raises(TreeError, match="apply_updates"):
        optim.apply_updates((np.ones(2),), (np.ones(2), np.ones(2)))


def test_chain_checks_its_state():
    with pytest.raises(TreeError, match="chain"):
        optim.chain(optim.sgd(0.1)).update(np.ones(1), optim.sgd(0.1).init(None))
