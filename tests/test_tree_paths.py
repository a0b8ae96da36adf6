"""Key paths, keyed/dataclass/static registration, Partial, tree_broadcast, compose,
functrace.tree and flatten_util.ravel_pytree; expected values from JAX's docs."""

import collections
import dataclasses
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import functrace as ft
import functrace.numpy as fnp
from functrace import tree, tree_util
from functrace.errors import DTypeError, ShapeError
from functrace.flatten_util import ravel_pytree
from functrace.tree_util import (
    DictKey,
    FlattenedIndexKey,
    GetAttrKey,
    Partial,
    SequenceKey,
    keystr,
    tree_flatten,
    tree_flatten_with_path,
    tree_leaves,
    tree_leaves_with_path,
    tree_map_with_path,
    tree_structure,
)


class Pt(NamedTuple):
    x: object
    y: object


leaves = st.integers(-5, 5)
trees = st.recursive(
    leaves | st.none(),
    lambda kids: (st.lists(kids, max_size=3) | st.tuples(kids, kids)
                  | st.dictionaries(st.sampled_from("abc"), kids, max_size=3)
                  | st.builds(Pt, kids, kids)),
    max_leaves=8)


def _follow(x, path):
    for k in path:
        if isinstance(k, SequenceKey):
            x = x[k.idx]
        elif isinstance(k, DictKey):
            x = x[k.key]
        elif isinstance(k, GetAttrKey):
            x = getattr(x, k.name)
        else:
            raise AssertionError(k)
    return x


@given(trees)
def test_paths_lead_to_the_leaves(t):
    pairs, treedef = tree_flatten_with_path(t)
    leaves_, treedef2 = tree_flatten(t)
    assert treedef == treedef2
    assert [v for _, v in pairs] == leaves_
    for path, v in pairs:
        assert _follow(t, path) is v
    doubled = tree_map_with_path(lambda p, v: (keystr(p), 2 * v), t)
    assert tree_leaves(doubled, is_leaf=lambda z: isinstance(z, tuple) and len(z) == 2
                       and isinstance(z[0], str)) == [(keystr(p), 2 * v) for p, v in pairs]


def test_keystr_matches_jax_docs():
    params = {'foo': {'bar': {'baz': 1, 'bat': [2, 3]}}}
    paths = [keystr(p) for p, _ in tree_leaves_with_path(params)]
    assert paths == ["['foo']['bar']['bat'][0]", "['foo']['bar']['bat'][1]",
                     "['foo']['bar']['baz']"]
    simple = [keystr(p, simple=True, separator="/") for p, _ in tree_leaves_with_path(params)]
    assert simple == ["foo/bar/bat/0", "foo/bar/bat/1", "foo/bar/baz"]
    assert keystr((GetAttrKey("w"), FlattenedIndexKey(2), DictKey(1))) == (
        ".w[<flat index 2>][1]")
    assert repr(SequenceKey(0)) == "SequenceKey(idx=0)"
    assert repr(DictKey("a")) == "DictKey(key='a')"


def test_key_types_of_each_container():
    od = collections.OrderedDict([("z", 1), ("a", 2)])
    dd = collections.defaultdict(list, {"z": 1, "a": 2})
    t = (od, dd, Pt(3, None), [4])
    paths = [keystr(p) for p, _ in tree_leaves_with_path(t)]
    assert paths == ["[0]['z']", "[0]['a']", "[1]['a']", "[1]['z']", "[2].x", "[3][0]"]

    class Box:
        def __init__(self, a, b):
            self.a, self.b = a, b

    tree_util.register_pytree_node(Box, lambda b: ((b.a, b.b), None), lambda _, c: Box(*c))
    assert [keystr(p) for p, _ in tree_leaves_with_path(Box(1, 2))] == [
        "[<flat index 0>]", "[<flat index 1>]"]


def test_register_pytree_with_keys_and_class():
    class Point:
        def __init__(self, x, y):
            self.x, self.y = x, y

    tree_util.register_pytree_with_keys(
        Point, lambda p: (((GetAttrKey("x"), p.x), (GetAttrKey("y"), p.y)), None),
        lambda _, c: Point(*c))
    assert [keystr(p) for p, _ in tree_leaves_with_path([Point(1, 2)])] == ["[0].x", "[0].y"]
    assert tree_leaves(Point(1, [2, 3])) == [1, 2, 3]
    moved = ft.jit(lambda p: Point(p.y, p.x))(Point(1.0, 2.0))
    assert (float(moved.x), float(moved.y)) == (2.0, 1.0)

    @tree_util.register_pytree_with_keys_class
    class Pair:
        def __init__(self, a, b):
            self.a, self.b = a, b

        def tree_flatten_with_keys(self):
            return ((DictKey("a"), self.a), (DictKey("b"), self.b)), None

        @classmethod
        def tree_unflatten(cls, aux, children):
            return cls(*children)

    assert [keystr(p) for p, _ in tree_leaves_with_path(Pair(1, 2))] == ["['a']", "['b']"]


def test_register_dataclass():
    @tree_util.register_dataclass
    @dataclasses.dataclass
    class Params:
        w: object
        b: object
        act: str = dataclasses.field(default="relu", metadata=dict(static=True))

    p = Params(np.ones(2, np.float32), 3.0, "tanh")
    leaves_, treedef = tree_flatten(p)
    assert len(leaves_) == 2 and leaves_[1] == 3.0
    assert [keystr(k) for k, _ in tree_leaves_with_path(p)] == [".w", ".b"]
    back = treedef.unflatten([1, 2])
    assert (back.w, back.b, back.act) == (1, 2, "tanh")
    assert tree_structure(p) != tree_structure(Params(1, 2, "relu"))  # meta is structure
    g = ft.grad(lambda q: fnp.sum(q.w * q.b))(p)
    np.testing.assert_allclose(g.w, [3.0, 3.0])
    np.testing.assert_allclose(g.b, 2.0)

    @dataclasses.dataclass
    class Explicit:
        a: int
        n: int

    tree_util.register_dataclass(Explicit, data_fields=["a"], meta_fields=["n"])
    assert tree_leaves(Explicit(1, 2)) == [1]
    with pytest.raises(TypeError, match="both"):
        tree_util.register_dataclass(Explicit, data_fields=["a"])

    @dataclasses.dataclass
    class Incomplete:
        a: int
        n: int

    with pytest.raises(ValueError, match="neither"):
        tree_util.register_dataclass(Incomplete, data_fields=["a"], meta_fields=[])


def test_register_static():
    @tree_util.register_static
    class Cfg:
        def __init__(self, k):
            self.k = k

        def __hash__(self):
            return hash(self.k)

        def __eq__(self, other):
            return isinstance(other, Cfg) and other.k == self.k

    assert tree_leaves([Cfg(1), 2.0]) == [2.0]
    f = ft.jit(lambda c, x: x * c[0].k)
    assert float(f([Cfg(3)], 2.0)) == 6.0
    assert float(f([Cfg(4)], 2.0)) == 8.0  # a different static value: a new trace


def test_tree_broadcast_compose_transpose():
    assert tree_util.tree_broadcast([1, 2, 3], [[1, 2], [3, 4, 5], [6, 7]]) == [
        [1, 1], [2, 2, 2], [3, 3]]
    assert tree.broadcast({"a": 0}, {"a": (1, [2])}) == {"a": (0, [0])}
    with pytest.raises(ValueError, match="prefix"):
        tree_util.tree_broadcast([1, 2], [1, 2, 3])
    outer, inner = tree_structure([0, 0]), tree_structure((0, {"k": 0}))
    composed = outer.compose(inner)
    assert composed == tree_structure([(1, {"k": 2}), (3, {"k": 4})])
    assert composed.num_leaves == 4
    assert composed.children() == [inner, inner]
    assert tree_util.tree_transpose(outer, None, [(1, {"k": 2}), (3, {"k": 4})]) == (
        [1, 3], {"k": [2, 4]})


def test_partial():
    def call_func(f, *args):
        return f(*args)

    out = ft.jit(call_func)(Partial(fnp.add, 1.0), 2.0)  # JAX's docs example
    assert float(out) == 3.0
    p = Partial(fnp.multiply, np.float32(2.0))
    assert tree_leaves(p) == [np.float32(2.0)]
    assert float(ft.jit(lambda q, x: q(x))(p, 5.0)) == 10.0
    nested = Partial(Partial(lambda a, b, c: a + b * c, 1.0), 2.0)
    assert float(nested(3.0)) == 7.0
    assert len(tree_leaves(nested)) == 1  # the inner Partial is static data, not merged
    kw = Partial(lambda a, *, scale: a * scale, scale=4.0)
    assert tree_leaves(kw) == [4.0] and float(kw(2.0)) == 8.0
    grad = ft.grad(lambda q: q(3.0))(Partial(lambda s, x: s * x, 2.0))
    assert float(grad.args[0]) == 3.0


def test_tree_namespace():
    t = {"b": [1, 2], "a": (3,)}
    assert tree.leaves(t) == [3, 1, 2]
    assert tree.map(lambda x: x * 10, t) == {"b": [10, 20], "a": (30,)}
    flat, treedef = tree.flatten(t)
    assert tree.unflatten(treedef, flat) == t and tree.structure(t) == treedef
    assert tree.reduce(lambda a, b: a + b, t) == 6
    assert tree.all([True, (1,)]) and not tree.all([True, (0,)])
    assert tree.transpose(tree.structure([0, 0]), None, [(1, 2), (3, 4)]) == ([1, 3], [2, 4])
    assert [keystr(p) for p, _ in tree.leaves_with_path(t)] == ["['a'][0]", "['b'][0]",
                                                                "['b'][1]"]
    assert tree.flatten_with_path(t)[1] == treedef
    assert tree.map_with_path(lambda p, x: len(p), t) == {"b": [2, 2], "a": (2,)}


def test_ravel_pytree():
    t = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "i": np.array([7, 8], np.int32),
         "s": (np.float32(2.5),)}
    flat, unravel = ravel_pytree(t)
    assert flat.dtype == np.float32 and flat.shape == (9,)
    np.testing.assert_array_equal(flat, [7, 8, 2.5, 0, 1, 2, 3, 4, 5])  # leaf order: i, s, w
    back = unravel(flat)
    assert back["i"].dtype == np.int32 and back["w"].shape == (2, 3)
    np.testing.assert_array_equal(back["w"], t["w"])
    with pytest.raises(ShapeError, match=r"\(9,\)"):
        unravel(flat[:3])
    with pytest.raises(DTypeError, match="float32"):
        unravel(np.zeros(9, np.int32))
    empty, unravel_empty = ravel_pytree({})
    assert empty.shape == (0,) and empty.dtype == np.float32 and unravel_empty(empty) == {}
    # traceable: a gradient through ravel/unravel
    g = ft.grad(lambda p: fnp.sum(ravel_pytree(p)[0] ** 2))({"a": fnp.ones(2), "b": 3.0})
    np.testing.assert_allclose(g["a"], [2.0, 2.0])
    np.testing.assert_allclose(g["b"], 6.0)
    jitted = ft.jit(lambda v: unravel(v)["w"])(flat)
    np.testing.assert_array_equal(jitted, t["w"])
