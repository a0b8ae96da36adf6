"""The per-call cost of ``jit``: a cache key and canonical leaves for the arguments.

``jit``'s cache key is the pytree structure, each leaf's (shape, dtype, weak type),
the statics, the backend and the config flags that change tracing. Built the general
way (``tree_flatten``, a ``PyTreeDef``, one aval per leaf) it was most of a small call
(docs/performance.md). ``fast_key`` builds an equivalent key in one pass for the arguments
users pass most (host arrays, Python and NumPy scalars, and tuple/list/dict/None
containers of them): a leaf's signature is read from a table keyed by its type (a
scalar's signature depends on its type alone) or from its shape and dtype, and the
structure is written into the same flat tuple. Anything else (a tracer, a registered
pytree node, a namedtuple, a device array) makes it return None, and ``jit`` takes
the general path, whose key also names the cached program for the fast one.
"""

from __future__ import annotations

import functools

import numpy as np

from ..config import config
from ..core.array import Array
from ..core.avals import (
    ARRAY_TYPES,
    aval_of_value,
    canonicalize_dtype,
    python_scalar_signature,
)
from ..errors import DTypeError
from ..tree_util import tree_unflatten

__all__ = ["fast_key", "leaf_signature", "unflattener"]


def leaf_signature(x):
    """(shape, dtype, weak_type) of an argument leaf (the general path)."""
    if type(x) in ARRAY_TYPES:
        return (x.shape, canonicalize_dtype(x.dtype), False)
    sig = python_scalar_signature(x)
    if sig is not None:
        return sig
    a = aval_of_value(x)
    return (a.shape, a.dtype, a.weak_type)


# filled on first sight, one table per value of enable_x64
_SCALAR_SIGS: dict[bool, dict[type, tuple]] = {False: {}, True: {}}
_CANONICAL_DTYPES: dict[bool, dict[np.dtype, np.dtype]] = {False: {}, True: {}}
_PY_SCALARS = (bool, int, float, complex)
_NODE_TYPES = frozenset({tuple, list, dict, type(None)})  # the containers _walk reads


def _scalar_signature(t: type, x64: bool):
    """The signature of any scalar of type ``t``; None if ``t`` is not a scalar type."""
    if t in _PY_SCALARS:
        sig = python_scalar_signature(t(0))
    elif issubclass(t, np.generic):
        try:
            sig = ((), canonicalize_dtype(np.dtype(t)), False)
        except (DTypeError, TypeError):  # not a number: the general path explains
            return None
    else:
        return None
    _SCALAR_SIGS[x64][t] = sig
    return sig


def _canonical_dtype(dtype, x64: bool) -> np.dtype:
    cdt = _CANONICAL_DTYPES[x64][dtype] = canonicalize_dtype(dtype)
    return cdt


def _walk_seq(xs, key: list, leaves: list, x64: bool) -> bool:
    """``_walk`` of each element of ``xs``, with the leaves handled inline (the usual
    case: this is the whole cost of a call with flat arguments)."""
    scalar_sigs, canonical = _SCALAR_SIGS[x64], _CANONICAL_DTYPES[x64]
    for x in xs:
        t = type(x)
        sig = scalar_sigs.get(t)
        if sig is None:
            if t is np.ndarray or t is Array:
                dt = x.dtype
                sig = (x.shape, canonical.get(dt) or _canonical_dtype(dt, x64), False)
            elif t in _NODE_TYPES or (sig := _scalar_signature(t, x64)) is None:
                if not _walk(x, key, leaves, x64):
                    return False
                continue
        key.append(sig)
        leaves.append(np.asarray(x, sig[1]))
    return True


def _walk(x, key: list, leaves: list, x64: bool) -> bool:
    """Appends the structure of the container ``x`` and its leaves' signatures to ``key``
    (pre-order, each node with its type and length or keys, so the key determines the
    tree) and its canonical leaves to ``leaves``, in ``tree_flatten``'s order. False if
    ``x`` needs the general path (a tracer, a registered node, a namedtuple...)."""
    t = type(x)
    if t is tuple or t is list:
        key.append((t, len(x)))
        return _walk_seq(x, key, leaves, x64)
    if t is dict:
        try:
            keys = tuple(sorted(x))  # tree_flatten's order
        except TypeError:
            return False
        key.append((dict, keys))
        return _walk_seq(map(x.__getitem__, keys), key, leaves, x64)
    if x is None:
        key.append(None)
        return True
    return False


def fast_key(args: tuple, kwargs: dict):
    """``(key, canonical leaves)`` for a call without static arguments, or None.

    Equal keys mean equal general keys (tree, signatures and config context), so the
    key can stand for the general one in a second cache.
    """
    x64 = config.enable_x64
    key: list = [len(args)]
    leaves: list = []
    if not _walk_seq(args, key, leaves, x64):
        return None
    if kwargs and not _walk(kwargs, key, leaves, x64):
        return None
    return (tuple(key), x64, config.trace_context), leaves


def unflattener(tree):
    """``tree_unflatten(tree, ·)`` for a program's outputs: for trees of tuples, lists,
    dicts with str/int keys and None (what functions return), one generated expression
    (``lambda o: {'a': o[0], 'b': (o[1], o[2])}``), which builds the same containers in
    the same order as ``tree_unflatten`` without walking the tree; otherwise that."""
    count = [0]
    expr = _build_expr(tree, count)
    if expr is None:
        return functools.partial(tree_unflatten, tree)
    return eval(compile(f"lambda o: {expr}", "<functrace output tree>", "eval"))  # noqa: S307


def _build_expr(tree, count: list) -> str | None:
    t = tree.node_type
    if t is None:
        count[0] += 1
        return f"o[{count[0] - 1}]"
    kids = [_build_expr(c, count) for c in tree.children_defs]
    if None in kids:
        return None
    if t is tuple:
        return "(" + "".join(f"{k}, " for k in kids) + ")"
    if t is list:
        return "[" + ", ".join(kids) + "]"
    if t is type(None):
        return "None"
    if t is dict and all(type(k) in (str, int) for k in tree.node_data):
        return "{" + ", ".join(f"{k!r}: {v}" for k, v in zip(tree.node_data, kids,
                                                              strict=True)) + "}"
    return None
