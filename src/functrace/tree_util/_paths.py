"""Key paths (``tree_flatten_with_path``, ``keystr``), node registration with keys,
dataclasses and static types, and ``Partial``: JAX's ``tree_util`` names.

A key path is a tuple of keys, one per node from the root: ``SequenceKey`` for
tuples and lists, ``DictKey`` for dicts, ``GetAttrKey`` for namedtuples and
dataclasses, ``FlattenedIndexKey`` for nodes registered without keys, or the keys
a ``register_pytree_with_keys`` node gives its children.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
from collections.abc import Callable, Hashable
from typing import Any

from ._core import (
    _LEAF,
    IsLeaf,
    PyTreeDef,
    _flatten_up_to,
    _key_registry,
    _registry,
    _unflatten,
    register_pytree_node,
    tree_flatten,  # noqa: F401 - the docstring examples use it
    tree_leaves,  # noqa: F401 - the docstring examples use it
    tree_structure,
)

__all__ = [
    "DictKey", "FlattenedIndexKey", "GetAttrKey", "Partial", "SequenceKey", "keystr",
    "register_dataclass", "register_pytree_with_keys", "register_pytree_with_keys_class",
    "register_static", "tree_flatten_with_path", "tree_leaves_with_path",
    "tree_map_with_path",
]


@dataclasses.dataclass(frozen=True)
class SequenceKey:
    """The position of a child in a tuple or list; prints as ``[0]``."""

    idx: int

    def __str__(self) -> str:
        return f"[{self.idx!r}]"


@dataclasses.dataclass(frozen=True)
class DictKey:
    """The key of a child in a dict; prints as ``['a']``."""

    key: Hashable

    def __str__(self) -> str:
        return f"[{self.key!r}]"


@dataclasses.dataclass(frozen=True)
class GetAttrKey:
    """The attribute of a child (namedtuple field, dataclass field); prints as ``.name``."""

    name: str

    def __str__(self) -> str:
        return f".{self.name}"


@dataclasses.dataclass(frozen=True)
class FlattenedIndexKey:
    """The position of a child of a node registered without keys."""

    key: int

    def __str__(self) -> str:
        return f"[<flat index {self.key}>]"


def _simple_str(key) -> str:
    if isinstance(key, SequenceKey):
        return str(key.idx)
    if isinstance(key, DictKey):
        return str(key.key)
    if isinstance(key, GetAttrKey):
        return key.name
    if isinstance(key, FlattenedIndexKey):
        return str(key.key)
    return str(key)


def keystr(keys: tuple, *, simple: bool = False, separator: str = "") -> str:
    """A key path as text: JAX's format (``['foo'][0].bar``), or with ``simple=True``
    the bare keys joined by ``separator``.

    >>> params = {'foo': {'bar': {'baz': 1, 'bat': [2, 3]}}}
    >>> [keystr(p) for p, _ in tree_leaves_with_path(params)]
    ["['foo']['bar']['bat'][0]", "['foo']['bar']['bat'][1]", "['foo']['bar']['baz']"]
    >>> keystr(tree_leaves_with_path(params)[0][0], simple=True, separator="/")
    'foo/bar/bat/0'
    """
    return separator.join(_simple_str(k) if simple else str(k) for k in keys)




def _keyed_children(x) -> tuple[list, Any] | None:
    """``([(key, child)...], aux)`` of a node, ``None`` for a leaf."""
    t = type(x)
    with_keys = _key_registry.get(t)
    if with_keys is not None:
        pairs, aux = with_keys(x)
        return list(pairs), aux
    entry = _registry.get(t)
    if entry is not None:
        children, aux = entry[0](x)
        children = list(children)
        if t is tuple or t is list:
            return [(SequenceKey(i), c) for i, c in enumerate(children)], aux
        if t in (dict, collections.defaultdict):
            keys = aux if t is dict else aux[1]
            return [(DictKey(k), c) for k, c in zip(keys, children, strict=True)], aux
        if t is collections.OrderedDict:
            return [(DictKey(k), c) for k, c in zip(aux, children, strict=True)], aux
        return [(FlattenedIndexKey(i), c) for i, c in enumerate(children)], aux
    if isinstance(x, tuple) and hasattr(t, "_fields"):  # namedtuple
        return [(GetAttrKey(f), c) for f, c in zip(t._fields, x, strict=True)], None
    return None


def _flatten_with_path(x, path: tuple, out: list, is_leaf: IsLeaf,
                       takes_path: bool) -> PyTreeDef:
    if is_leaf is not None and (is_leaf(path, x) if takes_path else is_leaf(x)):
        out.append((path, x))
        return _LEAF
    node = _keyed_children(x)
    if node is None:
        out.append((path, x))
        return _LEAF
    pairs, aux = node
    kids = tuple(_flatten_with_path(c, (*path, k), out, is_leaf, takes_path)
                 for k, c in pairs)
    return PyTreeDef(type(x), aux, kids)


def tree_flatten_with_path(tree: Any, is_leaf: Callable[..., bool] | None = None,
                           is_leaf_takes_path: bool = False) -> tuple[list, PyTreeDef]:
    """Like ``tree_flatten``, with each leaf paired with its key path. With
    ``is_leaf_takes_path=True``, ``is_leaf`` is called as ``is_leaf(path, x)``.

    >>> tree_flatten_with_path({"a": [5, 6]})
    ([((DictKey(key='a'), SequenceKey(idx=0)), 5), ((DictKey(key='a'), SequenceKey(idx=1)), 6)], PyTreeDef({'a': [*, *]}))
    """  # noqa: E501 - a doctest's printed output is one line
    out: list = []
    treedef = _flatten_with_path(tree, (), out, is_leaf, is_leaf_takes_path)
    return out, treedef


def tree_leaves_with_path(tree: Any, is_leaf: Callable[..., bool] | None = None,
                          is_leaf_takes_path: bool = False) -> list:
    """``(key path, leaf)`` pairs in flattening order (``is_leaf`` as in
    ``tree_flatten_with_path``).

    >>> [(keystr(p), v) for p, v in tree_leaves_with_path([1, {"k": 2}])]
    [('[0]', 1), ("[1]['k']", 2)]
    """
    return tree_flatten_with_path(tree, is_leaf, is_leaf_takes_path)[0]


def tree_map_with_path(f: Callable[..., Any], tree: Any, *rest: Any,
                       is_leaf: Callable[..., bool] | None = None,
                       is_leaf_takes_path: bool = False) -> Any:
    """``f(path, leaf, *others)`` on corresponding leaves of ``tree`` and ``rest``
    (``is_leaf`` as in ``tree_flatten_with_path``).

    >>> tree_map_with_path(lambda p, x: f"{keystr(p)}={x}", {"a": 1, "b": (2,)})
    {'a': "['a']=1", 'b': ("['b'][0]=2",)}
    """
    pairs, treedef = tree_flatten_with_path(tree, is_leaf, is_leaf_takes_path)
    columns = []
    for i, other in enumerate(rest, start=1):
        col: list = []
        if not _flatten_up_to(treedef, other, col):
            raise ValueError(f"tree_map_with_path: argument {i} has structure "
                             f"{tree_structure(other)} but argument 0 has {treedef}")
        columns.append(col)
    leaves = [f(p, x, *[c[k] for c in columns]) for k, (p, x) in enumerate(pairs)]
    return _unflatten(treedef, iter(leaves))


# ---------------------------------------------------------------------------
# registration

def register_pytree_with_keys(nodetype: type, flatten_with_keys: Callable,
                              unflatten_func: Callable,
                              flatten_func: Callable | None = None) -> None:
    """Registers ``nodetype`` with keyed children: ``flatten_with_keys(x)`` returns
    ``([(key, child), ...], aux_data)``; ``unflatten_func(aux_data, children)`` rebuilds.

    >>> class Point:
    ...     def __init__(self, x, y): self.x, self.y = x, y
    >>> register_pytree_with_keys(
    ...     Point, lambda p: (((GetAttrKey("x"), p.x), (GetAttrKey("y"), p.y)), None),
    ...     lambda _, c: Point(*c))
    >>> [keystr(p) for p, _ in tree_leaves_with_path(Point(1, 2))]
    ['.x', '.y']
    """
    if flatten_func is None:
        def flatten_func(x):
            pairs, aux = flatten_with_keys(x)
            return [c for _, c in pairs], aux
    register_pytree_node(nodetype, flatten_func, unflatten_func, flatten_with_keys)


def register_pytree_with_keys_class(cls: type) -> type:
    """Class decorator: registers ``cls`` with its ``tree_flatten_with_keys`` method and
    ``tree_unflatten(aux_data, children)`` classmethod."""
    flatten = getattr(cls, "tree_flatten", None)
    register_pytree_with_keys(cls, lambda x: x.tree_flatten_with_keys(), cls.tree_unflatten,
                              (lambda x: x.tree_flatten()) if flatten else None)
    return cls


def register_dataclass(nodetype: type, data_fields=None, meta_fields=None,
                       drop_fields=()) -> type:
    """Registers a dataclass: ``data_fields`` are children (keyed ``.name``),
    ``meta_fields`` static aux data. With neither given, fields marked
    ``field(metadata=dict(static=True))`` are meta and the other ``init`` fields data.
    Returns ``nodetype``, so it also works as a decorator.

    >>> @register_dataclass
    ... @dataclasses.dataclass
    ... class Params:
    ...     w: float
    ...     name: str = dataclasses.field(default="p", metadata=dict(static=True))
    >>> tree_flatten(Params(1.0))
    ([1.0], PyTreeDef(CustomNode(Params[('p',)], [*])))
    """
    if data_fields is None and meta_fields is None:
        if not dataclasses.is_dataclass(nodetype):
            raise TypeError(f"register_dataclass: {nodetype.__name__} is not a dataclass; "
                            "pass data_fields and meta_fields")
        fields = [f for f in dataclasses.fields(nodetype) if f.init]
        meta_fields = [f.name for f in fields if f.metadata.get("static", False)]
        data_fields = [f.name for f in fields if not f.metadata.get("static", False)]
    elif data_fields is None or meta_fields is None:
        raise TypeError("register_dataclass: pass both data_fields and meta_fields, or "
                        "neither (to infer them from the dataclass fields)")
    data_fields, meta_fields = tuple(data_fields), tuple(meta_fields)
    if dataclasses.is_dataclass(nodetype):
        init = {f.name for f in dataclasses.fields(nodetype) if f.init}
        missing = init - set(data_fields) - set(meta_fields) - set(drop_fields)
        if missing:
            raise ValueError(f"register_dataclass: fields {sorted(missing)} of "
                             f"{nodetype.__name__} are in neither data_fields nor meta_fields")

    def flatten_with_keys(x):
        pairs = [(GetAttrKey(n), getattr(x, n)) for n in data_fields]
        return pairs, tuple(getattr(x, n) for n in meta_fields)

    def unflatten(aux, children):
        kwargs = dict(zip(meta_fields, aux, strict=True))
        kwargs.update(zip(data_fields, children, strict=True))
        return nodetype(**kwargs)

    register_pytree_with_keys(
        nodetype, flatten_with_keys, unflatten,
        lambda x: ([getattr(x, n) for n in data_fields],
                   tuple(getattr(x, n) for n in meta_fields)))
    return nodetype


def register_static(cls: type) -> type:
    """Registers ``cls`` as a node with no children: its instances are static aux data
    (they must be hashable and comparable). Returns ``cls``.

    >>> @register_static
    ... class Config:
    ...     def __hash__(self): return 0
    ...     def __eq__(self, other): return isinstance(other, Config)
    >>> tree_leaves([Config(), 1])
    [1]
    """
    register_pytree_node(cls, lambda x: ((), x), lambda x, _: x)
    return cls


# ---------------------------------------------------------------------------
# Partial

class _CallableShim:
    """Stops ``functools.partial`` from merging a nested partial into its own args."""

    __slots__ = ("fun",)

    def __init__(self, fun):
        self.fun = fun

    def __call__(self, *args, **kwargs):
        return self.fun(*args, **kwargs)

    def __hash__(self) -> int:
        return hash(self.fun)

    def __eq__(self, other) -> bool:
        return isinstance(other, _CallableShim) and self.fun == other.fun


class Partial(functools.partial):
    """A ``functools.partial`` that is a pytree: the bound arguments are its children and
    the function its static data, so it can be passed through ``jit`` and ``vmap``.

    >>> p = Partial(lambda a, b: a * b, 3.0)
    >>> p(2.0), tree_leaves(p)
    (6.0, [3.0])
    """

    def __new__(cls, func, *args, **kwargs):
        if isinstance(func, functools.partial):
            func = _CallableShim(func)
        return super().__new__(cls, func, *args, **kwargs)


register_pytree_node(Partial, lambda p: ((p.args, p.keywords), p.func),
                     lambda func, xs: Partial(func, *xs[0], **xs[1]))
