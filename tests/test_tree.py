from collections import namedtuple

import attrs
import numpy as np
import pytest

from fnn import tree
from fnn.errors import TreeError
from fnn.layers import DenseParams


@attrs.frozen
class Pair:
    a: object
    b: object


def test_map_rebuilds_every_container_kind():
    t = (1, [2, 3], {"y": 4, "x": 5}, None, Pair(6, (7,)))
    out = tree.map(lambda v: v * 10, t)
    assert out == (10, [20, 30], {"y": 40, "x": 50}, None, Pair(60, (70,)))


def test_map_over_several_trees_pairs_matching_leaves():
    out = tree.map(lambda a, b: a - b, {"p": (5, 6)}, {"p": (1, 2)})
    assert out == {"p": (4, 4)}


def test_leaves_order_is_fixed_with_sorted_dict_keys():
    t = {"b": 1, "a": (2, None, Pair(3, 4))}
    assert tree.leaves(t) == [2, 3, 4, 1]
    assert tree.leaves_with_paths(t) == [("['a'][0]", 2), ("['a'][2].a", 3), ("['a'][2].b", 4),
                                         ("['b']", 1)]


def test_none_is_an_empty_subtree():
    assert tree.leaves(None) == []
    assert tree.map(lambda v: v + 1, (None, 1)) == (None, 2)


def test_records_are_rebuilt_through_their_converters():
    w = np.ones((2, 2))
    out = tree.map(lambda v: v * 2, DenseParams(w, np.zeros(2)))
    assert isinstance(out, DenseParams)
    assert not out.w.flags.writeable
    np.testing.assert_array_equal(out.w, 2 * w)


@pytest.mark.parametrize("other, where", [
    ((1, 2, 3), "<root>"),
    ({"p": 1}, "<root>"),
    ((1, None), "[1]"),
    ((1, Pair(1, 2)), "[1]"),
])
def test_structure_mismatch_names_the_path(other, where):
    with pytest.raises(TreeError, match=f"at {where}".replace("[", r"\[").replace("]", r"\]")):
        tree.map(lambda a, b: a, (1, (2, 3)), other)


def test_record_types_must_match():
    @attrs.frozen
    class Other:
        a: object
        b: object

    with pytest.raises(TreeError, match="Pair record"):
        tree.map(lambda a, b: a, Pair(1, 2), Other(1, 2))


def test_children_of_each_node_kind():
    assert tree.children(None) == []
    assert tree.children(np.zeros(2)) is None
    assert tree.children((1, 2)) == [("[0]", 1), ("[1]", 2)]
    assert tree.children({"b": 1, "a": 2}) == [("['a']", 2), ("['b']", 1)]
    assert tree.children(Pair(1, 2)) == [(".a", 1), (".b", 2)]


Point = namedtuple("Point", "x y")


def test_flatten_and_unflatten_round_trip_every_container_kind():
    t = (1, [2, 3], {"y": 4, "x": 5}, None, Pair(6, (7,)), Point(8, None))
    leaves, structure = tree.flatten(t)
    assert leaves == tree.leaves(t) == [1, 2, 3, 5, 4, 6, 7, 8]
    assert tree.unflatten(structure, leaves) == t
    rebuilt = tree.unflatten(structure, [v * 10 for v in leaves])
    assert rebuilt == tree.map(lambda v: v * 10, t) and type(rebuilt[5]) is Point
    hash(structure)


@pytest.mark.parametrize("other", [
    (1, [2, 3], {"y": 4, "x": 5}, None, Pair(6, (7,)), 0),  # a leaf for a namedtuple
    (1, (2, 3), {"y": 4, "x": 5}, None, Pair(6, (7,)), (8, None)),  # tuples for lists
    (1, [2, 3], {"y": 4, "z": 5}, None, Pair(6, (7,)), (8, None)),  # another key
    (1, [2, 3], {"y": 4, "x": 5}, 0, Pair(6, (7,)), (8, None)),  # a leaf for None
    (1, [2, 3], {"y": 4, "x": 5}, None, Pair(6, 7), (8, None)),  # a leaf for a tuple
])
def test_structures_are_equal_exactly_when_the_trees_zip(other):
    t = (1, [2, 3], {"y": 4, "x": 5}, None, Pair(6, (7,)), (8, None))
    same = tree.flatten((9, [9, 9], {"x": 9, "y": 9}, None, Pair(9, (9,)), (9, None)))[1]
    assert tree.flatten(t)[1] == same
    assert tree.flatten(other)[1] != same
    with pytest.raises(TreeError):
        tree.map(lambda a, b: a, t, other)


def test_unflatten_refuses_the_wrong_number_of_leaves():
    _, structure = tree.flatten((1, {"a": 2}))
    with pytest.raises(TreeError, match="the structure holds 2 leaves, got 1"):
        tree.unflatten(structure, [1])
    with pytest.raises(TreeError, match="the structure holds 2 leaves, got 3"):
        tree.unflatten(structure, [1, 2, 3])


def test_size_and_nbytes_count_the_numbers_a_tree_holds():
    t = {"w": np.zeros((3, 4), np.float32), "b": (np.ones(4, np.float64), None), "n": 2.0}
    assert tree.size(t) == 12 + 4 + 1
    assert tree.nbytes(t) == 12 * 4 + 4 * 8 + 8
    assert tree.size(None) == tree.nbytes(()) == 0
    assert tree.size(DenseParams(np.ones((2, 5)), None)) == 10
