import collections
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functrace import tree_util as tu

Point = collections.namedtuple("Point", ["x", "y"])

trees = st.recursive(
    st.none() | st.integers(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=4).map(tuple)
        | st.dictionaries(st.text(max_size=3), children, max_size=4)
    ),
    max_leaves=20,
)


def _types(tree):
    """Nested container types of ``tree`` (dict items in sorted key order)."""
    if isinstance(tree, dict):
        return (dict, [(k, _types(tree[k])) for k in sorted(tree)])
    if isinstance(tree, list | tuple):
        return (type(tree), [_types(v) for v in tree])
    return type(tree)


def _count_ints(tree):
    if isinstance(tree, dict):
        return sum(_count_ints(v) for v in tree.values())
    if isinstance(tree, list | tuple):
        return sum(_count_ints(v) for v in tree)
    return 0 if tree is None else 1


def _dicts(tree):
    if isinstance(tree, dict):
        yield tree
        tree = list(tree.values())
    if isinstance(tree, list | tuple):
        for v in tree:
            yield from _dicts(v)


@given(trees)
def test_round_trip(tree):
    leaves, treedef = tu.tree_flatten(tree)
    assert all(type(x) is int for x in leaves)
    assert len(leaves) == treedef.num_leaves == _count_ints(tree)
    rebuilt = tu.tree_unflatten(treedef, leaves)
    assert rebuilt == tree
    assert _types(rebuilt) == _types(tree)  # lists stay lists, tuples stay tuples
    assert all(list(d) == sorted(d) for d in _dicts(rebuilt))
    assert tu.tree_structure(rebuilt) == treedef


@given(trees)
def test_unflatten_with_new_leaves_and_tree_map(tree):
    leaves, treedef = tu.tree_flatten(tree)
    new = tu.tree_unflatten(treedef, [str(x) for x in leaves])
    assert tu.tree_leaves(new) == [str(x) for x in leaves]
    assert tu.tree_map(lambda x: x + 1, tree) == tu.tree_unflatten(treedef, [x + 1 for x in leaves])


def test_dict_children_in_sorted_key_order():
    d = {"zeta": 1, "alpha": 2, "mid": 3, "beta": 4}
    leaves, treedef = tu.tree_flatten(d)
    assert leaves == [d[k] for k in sorted(d)]
    rebuilt = tu.tree_unflatten(treedef, leaves)
    assert type(rebuilt) is dict
    assert rebuilt == d
    assert tu.tree_structure({"a": 0, "b": 0}) == tu.tree_structure({"b": 1, "a": 2})


def test_ordered_dict_keeps_insertion_order_and_defaultdict_round_trips():
    od = collections.OrderedDict([("z", 1), ("a", 2)])
    leaves, treedef = tu.tree_flatten(od)
    assert leaves == [1, 2]
    rebuilt = tu.tree_unflatten(treedef, leaves)
    assert type(rebuilt) is collections.OrderedDict and list(rebuilt) == ["z", "a"]

    dd = collections.defaultdict(list, {"b": 1, "a": 2})
    leaves, treedef = tu.tree_flatten(dd)
    assert leaves == [2, 1]
    rebuilt = tu.tree_unflatten(treedef, leaves)
    assert type(rebuilt) is collections.defaultdict
    assert rebuilt.default_factory is list and rebuilt == dd


def test_namedtuple_restored():
    p = Point(1, (2, 3))
    leaves, treedef = tu.tree_flatten(p)
    assert leaves == [1, 2, 3]
    rebuilt = tu.tree_unflatten(treedef, [10, 20, 30])
    assert type(rebuilt) is Point
    assert rebuilt == Point(10, (20, 30))
    assert tu.tree_structure(p) != tu.tree_structure((1, (2, 3)))
    assert "Point" in repr(treedef)


def test_none_is_a_node_without_leaves():
    assert tu.tree_leaves(None) == []
    assert tu.tree_leaves([None, 1, (None,)]) == [1]
    treedef = tu.tree_structure(None)
    assert treedef.num_leaves == 0 and treedef.num_nodes == 1
    assert tu.tree_unflatten(treedef, []) is None
    assert treedef != tu.tree_structure(1)
    assert tu.tree_map(lambda x: x * 2, (None, 3)) == (None, 6)
    assert not tu.all_leaves([None])


class Pair:
    def __init__(self, a, b, name="p"):
        self.a, self.b, self.name = a, b, name

    def __eq__(self, other):
        return type(other) is Pair and (self.a, self.b, self.name) == (
            other.a,
            other.b,
            other.name,
        )


tu.register_pytree_node(
    Pair, lambda p: ((p.a, p.b), p.name), lambda name, children: Pair(*children, name=name)
)


@tu.register_pytree_node_class
class Box:
    def __init__(self, value):
        self.value = value

    def tree_flatten(self):
        return (self.value,), None

    @classmethod
    def tree_unflatten(cls, aux_data, children):
        return cls(*children)


def test_register_pytree_node_custom_class():
    tree = [Pair(1, {"k": 2}, name="n"), 3]
    leaves, treedef = tu.tree_flatten(tree)
    assert leaves == [1, 2, 3]
    assert treedef.num_nodes == 6  # list, Pair, dict and three leaves
    mapped = tu.tree_map(lambda x: x * 10, tree)
    assert mapped == [Pair(10, {"k": 20}, name="n"), 30]
    # aux data is part of the structure
    assert tu.tree_structure(Pair(1, 2, name="n")) != tu.tree_structure(Pair(1, 2, name="m"))
    with pytest.raises(ValueError, match="Duplicate"):
        tu.register_pytree_node(Pair, lambda p: ((), None), lambda a, c: None)


def test_register_pytree_node_class_decorator():
    box = tu.tree_map(lambda x: x + 1, Box([1, 2]))
    assert type(box) is Box and box.value == [2, 3]
    assert tu.tree_leaves(Box((Box(4), 5))) == [4, 5]


def test_unregistered_objects_and_dict_subclasses_are_leaves():
    class MyDict(dict):
        pass

    obj = object()
    md = MyDict(a=1)
    assert tu.tree_leaves([obj, md]) == [obj, md]
    assert tu.all_leaves([obj, md, 1.5])
    assert not tu.all_leaves([obj, [1]])


def test_treedef_equality_hash_and_repr():
    a = tu.tree_structure((1, {"a": 2, "b": [3, 4]}))
    b = tu.tree_structure(("x", {"b": ["y", "z"], "a": "w"}))
    c = tu.tree_structure((1, {"a": 2, "b": (3, 4)}))
    assert a == b and hash(a) == hash(b)
    assert a != c
    assert len({a, b, c}) == 2
    assert {a: "cached"}[b] == "cached"
    assert repr(a) == "PyTreeDef((*, {'a': *, 'b': [*, *]}))"
    assert repr(tu.tree_structure((1,))) == "PyTreeDef((*,))"
    assert (a.num_leaves, a.num_nodes) == (4, 7)
    children = [tu.tree_structure(0), tu.tree_structure({"a": 0, "b": [0, 0]})]
    assert tu.treedef_children(a) == children
    assert a.unflatten([1, 2, 3, 4]) == (1, {"a": 2, "b": [3, 4]})
    assert tu.tree_structure([1]) != tu.tree_structure((1,))


def test_tree_map_multiple_trees():
    x = {"a": 1, "b": (2, 3)}
    y = {"a": 10, "b": (20, 30)}
    z = {"a": 100, "b": (200, 300)}
    assert tu.tree_map(lambda p, q, r: p + q + r, x, y, z) == {"a": 111, "b": (222, 333)}
    # later trees may have the first tree as a prefix; f gets the subtrees
    assert tu.tree_map(lambda p, q: (p, q), [1, 2], [[3, 4], 5]) == [(1, [3, 4]), (2, 5)]


def test_tree_map_structure_mismatch_mentions_both_structures():
    with pytest.raises(ValueError) as info:
        tu.tree_map(lambda p, q: p + q, (1, [2]), (1, [2, 3]))
    msg = str(info.value)
    assert "argument 1" in msg and "argument 0" in msg
    assert "PyTreeDef((*, [*, *]))" in msg
    assert "PyTreeDef((*, [*]))" in msg

    with pytest.raises(ValueError, match=re.escape("argument 2 has structure PyTreeDef([*, *])")):
        tu.tree_map(lambda p, q, r: p, (1, 2), (3, 4), [5, 6])


def test_tree_map_dict_key_mismatch_is_an_error():
    with pytest.raises(ValueError) as info:
        tu.tree_map(lambda p, q: p + q, {"a": 1, "b": 2}, {"a": 1, "c": 2})
    msg = str(info.value)
    assert "'c'" in msg and "'b'" in msg
    with pytest.raises(ValueError):
        tu.tree_map(lambda p, q: p, Point(1, 2), (1, 2))


def test_unflatten_wrong_leaf_count():
    treedef = tu.tree_structure([1, (2, 3)])
    with pytest.raises(ValueError, match=r"expected 3 leaves, got 2"):
        tu.tree_unflatten(treedef, [1, 2])
    with pytest.raises(ValueError, match=r"expected 3 leaves, got 4"):
        tu.tree_unflatten(treedef, [1, 2, 3, 4])


def test_is_leaf():
    tree = [(1, 2), [3, (4, 5)]]
    leaves, treedef = tu.tree_flatten(tree, is_leaf=lambda x: isinstance(x, tuple))
    assert leaves == [(1, 2), 3, (4, 5)]
    assert tu.tree_unflatten(treedef, leaves) == tree
    assert tu.tree_leaves([None, 1], is_leaf=lambda x: x is None) == [None, 1]
    is_tuple = lambda x: isinstance(x, tuple)  # noqa: E731
    assert tu.tree_map(lambda x: len(x) if is_tuple(x) else -x, tree, is_leaf=is_tuple) == [
        2,
        [-3, 2],
    ]


def test_tree_all_reduce_transpose():
    assert tu.tree_all({"a": True, "b": [1, 2]})
    assert not tu.tree_all({"a": True, "b": [1, 0]})
    assert tu.tree_reduce(lambda a, b: a + b, [1, (2, 3)]) == 6
    assert tu.tree_reduce(lambda a, b: a + b, [1, (2, 3)], 10) == 16
    assert tu.tree_reduce(lambda a, b: a + b, [], 7) == 7
    with pytest.raises(TypeError):
        tu.tree_reduce(lambda a, b: a + b, [])

    outer = tu.tree_structure([0, 0, 0])
    inner = tu.tree_structure({"x": 0, "y": 0})
    tree = [{"x": 1, "y": 2}, {"x": 3, "y": 4}, {"x": 5, "y": 6}]
    assert tu.tree_transpose(outer, inner, tree) == {"x": [1, 3, 5], "y": [2, 4, 6]}
    with pytest.raises(ValueError):
        tu.tree_transpose(outer, inner, [{"x": 1, "z": 2}] * 3)


def test_treedef_reprs_follow_jax_010():
    # strings printed by JAX 0.10.2 for the same structures
    tree_structure = tu.tree_structure
    assert repr(tree_structure([1, Point(2, 3)])) == (
        "PyTreeDef([*, CustomNode(namedtuple[Point], [*, *])])")
    assert repr(tree_structure(collections.OrderedDict(b=1))) == (
        "PyTreeDef(CustomNode(OrderedDict[('b',)], [*]))")
    assert repr(tree_structure(collections.defaultdict(int, {"a": 1}))) == (
        "PyTreeDef(CustomNode(defaultdict[(<class 'int'>, ('a',))], [*]))")
    assert repr(tree_structure({"b": 1, "a": (2, None)})) == "PyTreeDef({'a': (*, None), 'b': *})"


def test_dict_keys_of_mixed_types_raise_value_error():
    with pytest.raises(ValueError, match="sorting pytree dictionary keys"):
        tu.tree_leaves({1: "a", "b": 2})
