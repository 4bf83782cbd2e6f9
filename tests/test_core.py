import numpy as np
import pytest

from fnn.core import check_input, freeze, readonly, sealed
from fnn.errors import DTypeError, ShapeError
from fnn.layers import DenseParams


def test_readonly_views_without_copying_and_leaves_the_original_writable():
    a = np.arange(4.0)
    r = readonly(a)
    assert not r.flags.writeable and a.flags.writeable
    assert np.shares_memory(a, r)
    assert readonly(r) is r
    assert readonly(None) is None


def test_sealed_clears_the_flag_of_a_fresh_array_in_place():
    a = np.arange(4.0)
    assert sealed(a) is a and not a.flags.writeable
    scalar = sealed(np.float32(2.0))  # not an array: as readonly, a read-only 0-d array
    assert scalar == 2.0 and not scalar.flags.writeable
    assert sealed(None) is None


def test_freeze_makes_every_leaf_read_only_and_is_free_when_already_frozen():
    t = {"a": np.zeros(2), "b": (np.ones(3), None)}
    frozen = freeze(t)
    assert all(not leaf.flags.writeable for leaf in (frozen["a"], frozen["b"][0]))
    assert t["a"].flags.writeable
    assert freeze(frozen) is frozen


def test_records_hold_read_only_arrays_and_compare_by_value():
    p = DenseParams(np.ones((2, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="read-only"):
        p.w[0, 0] = 5.0
    assert p == DenseParams(np.ones((2, 3)), np.zeros(3))
    assert p != DenseParams(np.ones((2, 3)), np.ones(3))


def test_check_input_names_where_and_both_shapes():
    with pytest.raises(ShapeError, match=r"dense\(3\): expected input of shape \(batch, 4\), got \(2, 5\)"):
        check_input("dense(3)", np.zeros((2, 5)), (4,))
    with pytest.raises(DTypeError, match=r"expected dtype float32.*got float64"):
        check_input("dense(3)", np.zeros((2, 4)), (4,), np.dtype(np.float32))
    with pytest.raises(DTypeError, match="floating-point array, got dtype int64"):
        check_input("dense(3)", np.zeros((2, 4), dtype=np.int64), (4,))
    with pytest.raises(DTypeError, match="got list"):
        check_input("dense(3)", [[1.0] * 4], (4,))
