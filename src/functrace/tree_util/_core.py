"""Pytree utilities with the same names and semantics as ``jax.tree_util``.

A pytree is a nested structure of containers (tuple, list, dict, namedtuple, None,
``OrderedDict``, ``defaultdict`` and any registered node type) whose non-container
elements are *leaves*. ``tree_flatten`` splits a tree into its leaves and a hashable
``PyTreeDef`` describing the structure; ``tree_unflatten`` rebuilds it.

Node types are matched by exact type (a subclass of ``dict`` is a leaf unless it is
registered itself); namedtuples are recognised by ``isinstance(x, tuple)`` plus a
``_fields`` attribute on the type.
"""

from __future__ import annotations

import collections
import functools
from collections.abc import Callable, Hashable, Iterable
from typing import Any

__all__ = [
    "PyTreeDef",
    "tree_flatten",
    "tree_unflatten",
    "tree_leaves",
    "tree_structure",
    "tree_map",
    "register_pytree_node",
    "register_pytree_node_class",
    "treedef_children",
    "tree_all",
    "tree_reduce",
    "tree_transpose",
    "tree_broadcast",
    "all_leaves",
]

IsLeaf = Callable[[Any], bool] | None

# type -> (flatten(x) -> (children, aux_data), unflatten(aux_data, children) -> x)
_registry: dict[type, tuple[Callable[[Any], tuple[Iterable[Any], Any]], Callable[..., Any]]] = {}
# type -> flatten_with_keys(x) -> (iterable of (key, child), aux data); read by _paths.py
_key_registry: dict[type, Callable[[Any], tuple[Iterable[tuple[Any, Any]], Any]]] = {}


class PyTreeDef:
    """Immutable, hashable description of a pytree's structure.

    ``node_type`` is ``None`` for a leaf; otherwise it is the container type, with
    ``node_data`` its aux data and ``children_defs`` a tuple of child treedefs.

    >>> tree_structure((1, {"a": 2, "b": [3, 4]}))
    PyTreeDef((*, {'a': *, 'b': [*, *]}))
    """

    __slots__ = ("node_type", "node_data", "children_defs", "num_leaves", "num_nodes", "_hash")

    def __init__(self, node_type: type | None, node_data: Any, children_defs: tuple) -> None:
        self.node_type = node_type
        self.node_data = node_data
        self.children_defs = children_defs
        if node_type is None:
            self.num_leaves = self.num_nodes = 1
        else:
            self.num_leaves = sum(c.num_leaves for c in children_defs)
            self.num_nodes = 1 + sum(c.num_nodes for c in children_defs)
        self._hash: int | None = None

    def unflatten(self, leaves: Iterable[Any]) -> Any:
        """Rebuild a tree of this structure from ``leaves``; see ``tree_unflatten``."""
        return tree_unflatten(self, leaves)

    def flatten_up_to(self, tree: Any) -> list[Any]:
        """Split ``tree`` at this structure's leaves; they may be whole subtrees of ``tree``.

        >>> tree_structure((0, 0)).flatten_up_to(([1, 2], 3))
        [[1, 2], 3]
        """
        out: list[Any] = []
        if not _flatten_up_to(self, tree, out):
            raise ValueError(f"Tree structure {tree_structure(tree)} does not match prefix {self}")
        return out

    def children(self) -> list[PyTreeDef]:
        """Treedefs of the immediate children (empty for a leaf)."""
        return list(self.children_defs)

    def compose(self, inner: PyTreeDef) -> PyTreeDef:
        """This structure with every leaf replaced by the structure ``inner``.

        >>> tree_structure([0, 0]).compose(tree_structure((0, 0)))
        PyTreeDef([(*, *), (*, *)])
        """
        if self.node_type is None:
            return inner
        return PyTreeDef(self.node_type, self.node_data,
                         tuple(c.compose(inner) for c in self.children_defs))

    def _key(self) -> tuple:
        return (self.node_type, self.node_data, self.children_defs)

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, PyTreeDef):
            return NotImplemented
        return self.num_leaves == other.num_leaves and self._key() == other._key()

    def __hash__(self) -> int:
        if self._hash is None:  # computed lazily: unhashable aux data only fails here
            self._hash = hash(self._key())
        return self._hash

    def __repr__(self) -> str:
        return f"PyTreeDef({self._str()})"

    def _str(self) -> str:
        t, data = self.node_type, self.node_data
        kids = [c._str() for c in self.children_defs]
        if t is None:
            return "*"
        if t is type(None):
            return "None"
        if t is tuple:
            return f"({kids[0]},)" if len(kids) == 1 else f"({', '.join(kids)})"
        if t is list:
            return f"[{', '.join(kids)}]"
        if t is dict:
            return "{" + ", ".join(f"{k!r}: {v}" for k, v in zip(data, kids)) + "}"
        if t is collections.OrderedDict:  # JAX 0.10 prints these two as custom nodes
            return f"CustomNode(OrderedDict[{data!r}], [{', '.join(kids)}])"
        if t is collections.defaultdict:
            return f"CustomNode(defaultdict[{data!r}], [{', '.join(kids)}])"
        if t not in _registry:
            return f"CustomNode(namedtuple[{t.__name__}], [{', '.join(kids)}])"
        return f"CustomNode({t.__name__}[{data!r}], [{', '.join(kids)}])"


_LEAF = PyTreeDef(None, None, ())


def _flatten(x: Any, leaves: list[Any], is_leaf: IsLeaf) -> PyTreeDef:
    if is_leaf is not None and is_leaf(x):
        leaves.append(x)
        return _LEAF
    t = type(x)
    entry = _registry.get(t)
    if entry is not None:
        children, data = entry[0](x)
        return PyTreeDef(t, data, tuple([_flatten(c, leaves, is_leaf) for c in children]))
    if isinstance(x, tuple) and hasattr(t, "_fields"):
        return PyTreeDef(t, None, tuple([_flatten(c, leaves, is_leaf) for c in x]))
    leaves.append(x)
    return _LEAF


def _flatten_up_to(td: PyTreeDef, x: Any, out: list[Any]) -> bool:
    """Append the subtrees of ``x`` at ``td``'s leaves to ``out``; False on mismatch."""
    t = td.node_type
    if t is None:
        out.append(x)
        return True
    if type(x) is not t:
        return False
    entry = _registry.get(t)
    if entry is None:  # namedtuple
        children, data = x, None
    else:
        children, data = entry[0](x)
        children = tuple(children)
    if len(children) != len(td.children_defs) or data != td.node_data:
        return False
    return all(_flatten_up_to(c, ch, out) for c, ch in zip(td.children_defs, children))


def _unflatten(td: PyTreeDef, it: Any) -> Any:
    t = td.node_type
    if t is None:
        return next(it)
    children = tuple([_unflatten(c, it) for c in td.children_defs])
    entry = _registry.get(t)
    if entry is None:  # namedtuple
        return t(*children)
    return entry[1](td.node_data, children)


def tree_flatten(tree: Any, is_leaf: IsLeaf = None) -> tuple[list[Any], PyTreeDef]:
    """Flatten ``tree`` into its leaves (in order) and its structure.

    >>> tree_flatten({"b": [1, 2], "a": (3, None)})
    ([3, 1, 2], PyTreeDef({'a': (*, None), 'b': [*, *]}))
    """
    leaves: list[Any] = []
    return leaves, _flatten(tree, leaves, is_leaf)


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable[Any]) -> Any:
    """Rebuild a tree of structure ``treedef`` from ``leaves``.

    >>> leaves, td = tree_flatten([1, (2, 3)])
    >>> tree_unflatten(td, ["a", "b", "c"])
    ['a', ('b', 'c')]
    """
    leaves = list(leaves)
    if len(leaves) != treedef.num_leaves:
        raise ValueError(
            f"Too {'many' if len(leaves) > treedef.num_leaves else 'few'} leaves for "
            f"{treedef}: expected {treedef.num_leaves} leaves, got {len(leaves)}."
        )
    return _unflatten(treedef, iter(leaves))


def tree_leaves(tree: Any, is_leaf: IsLeaf = None) -> list[Any]:
    """Leaves of ``tree`` in flattening order.

    >>> tree_leaves({"x": 1, "y": [2, None]})
    [1, 2]
    """
    leaves: list[Any] = []
    _flatten(tree, leaves, is_leaf)
    return leaves


def tree_structure(tree: Any, is_leaf: IsLeaf = None) -> PyTreeDef:
    """Structure (``PyTreeDef``) of ``tree``.

    >>> tree_structure([1, (2, 3)])
    PyTreeDef([*, (*, *)])
    """
    return _flatten(tree, [], is_leaf)


def tree_map(f: Callable[..., Any], tree: Any, *rest: Any, is_leaf: IsLeaf = None) -> Any:
    """Apply ``f`` to corresponding leaves of ``tree`` and ``rest``.

    Every tree in ``rest`` must have ``tree``'s structure (or have it as a prefix, in which
    case ``f`` receives the corresponding subtrees).

    >>> tree_map(lambda x, y: x + y, {"a": 1, "b": (2, 3)}, {"a": 10, "b": (20, 30)})
    {'a': 11, 'b': (22, 33)}
    """
    leaves, treedef = tree_flatten(tree, is_leaf)
    if not rest:
        return _unflatten(treedef, iter([f(x) for x in leaves]))
    columns = [leaves]
    for i, other in enumerate(rest, start=1):
        out: list[Any] = []
        if not _flatten_up_to(treedef, other, out):
            raise ValueError(
                f"tree_map: argument {i} has structure {tree_structure(other)} "
                f"but argument 0 has {treedef}"
            )
        columns.append(out)
    return _unflatten(treedef, iter([f(*xs) for xs in zip(*columns)]))


def register_pytree_node(
    nodetype: type,
    flatten_func: Callable[[Any], tuple[Iterable[Any], Hashable]],
    unflatten_func: Callable[[Any, Iterable[Any]], Any],
    flatten_with_keys_func: Callable[[Any], tuple[Iterable[tuple[Any, Any]], Hashable]]
    | None = None,
) -> None:
    """Register ``nodetype`` as a pytree node.

    ``flatten_func(x)`` returns ``(children, aux_data)`` and ``unflatten_func(aux_data,
    children)`` rebuilds the node; ``aux_data`` should be hashable and comparable.
    ``flatten_with_keys_func(x)``, if given, returns ``([(key, child), ...], aux_data)``
    with the same children: the keys of ``tree_flatten_with_path`` (otherwise
    ``FlattenedIndexKey(i)``).

    >>> class Pair:
    ...     def __init__(self, a, b): self.a, self.b = a, b
    >>> register_pytree_node(Pair, lambda p: ((p.a, p.b), None), lambda _, c: Pair(*c))
    >>> tree_leaves(Pair(1, [2]))
    [1, 2]
    """
    if nodetype in _registry:
        raise ValueError(f"Duplicate pytree node registration for {nodetype}.")
    _registry[nodetype] = (flatten_func, unflatten_func)
    if flatten_with_keys_func is not None:
        _key_registry[nodetype] = flatten_with_keys_func


def register_pytree_node_class(cls: type) -> type:
    """Class decorator: register ``cls`` using its ``tree_flatten`` method and
    ``tree_unflatten(aux_data, children)`` classmethod.

    >>> @register_pytree_node_class
    ... class Box:
    ...     def __init__(self, v): self.v = v
    ...     def tree_flatten(self): return (self.v,), None
    ...     @classmethod
    ...     def tree_unflatten(cls, aux, children): return cls(*children)
    >>> tree_leaves(Box(3))
    [3]
    """
    register_pytree_node(cls, lambda x: x.tree_flatten(), cls.tree_unflatten)
    return cls


def treedef_children(treedef: PyTreeDef) -> list[PyTreeDef]:
    """Treedefs of the immediate children of ``treedef``.

    >>> treedef_children(tree_structure((1, [2, 3])))
    [PyTreeDef(*), PyTreeDef([*, *])]
    """
    return treedef.children()


def tree_all(tree: Any, *, is_leaf: IsLeaf = None) -> bool:
    """True if every leaf of ``tree`` is truthy.

    >>> tree_all([True, {"a": 1}]), tree_all([True, (0,)])
    (True, False)
    """
    return all(tree_leaves(tree, is_leaf))


_MISSING: Any = object()


def tree_reduce(
    function: Callable[[Any, Any], Any],
    tree: Any,
    initializer: Any = _MISSING,
    is_leaf: IsLeaf = None,
) -> Any:
    """Reduce the leaves of ``tree`` with ``function`` (like ``functools.reduce``).

    >>> tree_reduce(lambda a, b: a + b, [1, (2, 3)], 10)
    16
    """
    if initializer is _MISSING:
        return functools.reduce(function, tree_leaves(tree, is_leaf))
    return functools.reduce(function, tree_leaves(tree, is_leaf), initializer)


def tree_transpose(
    outer_treedef: PyTreeDef, inner_treedef: PyTreeDef | None, pytree_to_transpose: Any
) -> Any:
    """Turn a tree of structure outer(inner) into one of structure inner(outer).

    With ``inner_treedef=None`` the inner structure is that of the first outer leaf's
    subtree, as in JAX.

    >>> outer, inner = tree_structure([0, 0]), tree_structure((0, 0))
    >>> tree_transpose(outer, inner, [(1, 2), (3, 4)])
    ([1, 3], [2, 4])
    >>> tree_transpose(outer, None, [{"a": 1}, {"a": 2}])
    {'a': [1, 2]}
    """
    if inner_treedef is None:
        subtrees = outer_treedef.flatten_up_to(pytree_to_transpose)
        if not subtrees:
            raise ValueError("tree_transpose: cannot infer the inner structure of a tree with "
                             "no outer leaves; pass inner_treedef")
        inner_treedef = tree_structure(subtrees[0])
    rows = []
    for sub in outer_treedef.flatten_up_to(pytree_to_transpose):
        row: list[Any] = []
        if not _flatten_up_to(inner_treedef, sub, row):
            raise ValueError(
                f"tree_transpose: subtree {tree_structure(sub)} does not match "
                f"inner structure {inner_treedef}"
            )
        rows.append(row)
    # With no outer leaves, each inner leaf becomes an empty outer tree.
    columns = zip(*rows) if rows else [[]] * inner_treedef.num_leaves
    return inner_treedef.unflatten([outer_treedef.unflatten(col) for col in columns])


def tree_broadcast(prefix_tree: Any, full_tree: Any, is_leaf: IsLeaf = None) -> Any:
    """``prefix_tree`` with each leaf repeated over the subtree of ``full_tree`` it heads.

    >>> tree_broadcast([1, 2], [(0, 0), {"a": 0}])
    [(1, 1), {'a': 2}]
    """
    prefix_def = tree_structure(prefix_tree, is_leaf)
    full_def = tree_structure(full_tree, is_leaf)
    subtrees: list[Any] = []
    if not _flatten_up_to(prefix_def, full_tree, subtrees):
        raise ValueError(f"tree_broadcast: {prefix_def} is not a prefix of {full_def}")
    leaves = []
    for leaf, sub in zip(tree_leaves(prefix_tree, is_leaf), subtrees, strict=True):
        leaves += [leaf] * tree_structure(sub, is_leaf).num_leaves
    return full_def.unflatten(leaves)


def all_leaves(iterable: Iterable[Any], is_leaf: IsLeaf = None) -> bool:
    """True if every element of ``iterable`` is a leaf (``None`` is not a leaf).

    >>> all_leaves([1, "a", 2.0]), all_leaves([1, (2,)]), all_leaves([None])
    (True, False, False)
    """
    return all(_flatten(x, [], is_leaf) is _LEAF for x in iterable)


# --- built-in node types --------------------------------------------------------------


def _sorted_keys(d) -> tuple:
    try:
        return tuple(sorted(d))
    except TypeError:  # JAX's error for keys of mixed, unorderable types
        raise ValueError("Comparator raised exception while sorting pytree dictionary keys "
                         f"{list(d)!r}: a dict in a pytree needs keys of one orderable "
                         "type") from None


def _flatten_dict(d: dict) -> tuple[list[Any], tuple]:
    keys = _sorted_keys(d)
    return [d[k] for k in keys], keys


def _flatten_defaultdict(d: collections.defaultdict) -> tuple[list[Any], tuple]:
    values, keys = _flatten_dict(d)
    return values, (d.default_factory, keys)


register_pytree_node(tuple, lambda x: (x, None), lambda _, c: tuple(c))
register_pytree_node(list, lambda x: (x, None), lambda _, c: list(c))
register_pytree_node(type(None), lambda x: ((), None), lambda _, c: None)
register_pytree_node(dict, _flatten_dict, lambda keys, c: dict(zip(keys, c)))
register_pytree_node(
    collections.OrderedDict,
    lambda x: (list(x.values()), tuple(x)),
    lambda keys, c: collections.OrderedDict(zip(keys, c)),
)
register_pytree_node(
    collections.defaultdict,
    _flatten_defaultdict,
    lambda data, c: collections.defaultdict(data[0], zip(data[1], c)),
)
