"""Host callbacks inside traced programs: ``debug_callback`` (an effect: kept even
though nothing reads it) and ``pure_callback`` (a pure function the compiler may
drop or merge like any other).

Both run Python on the host with NumPy arrays, eagerly and from compiled programs
on every backend (``impl_fallback``). Under ``vmap`` a debug callback runs once per
batch member, as in JAX; a pure callback follows its ``vmap_method``. Under ``jvp``
a debug callback sees the primal values only; a pure callback has no derivative
(JAX's rule: wrap it in ``custom_jvp``).
"""

from __future__ import annotations

import numpy as np

from ..core.avals import ShapedArray
from ..core.trace import Primitive, abstract_eval_rules, get_aval, impl_rules
from ..errors import MissingRuleError, ShapeError, TransformError
from ..transforms.ad import jvp_rules
from ..transforms.batching import batching_rules
from .shape_ops import broadcast_in_dim, expand_dims, reshape, transpose
from .slicing import concatenate
from .slicing import slice as lax_slice

__all__ = ["debug_callback_p", "pure_callback_p"]


class _Callback:
    """A Python function as an equation parameter: printed by name, hashed by identity."""

    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn

    def __repr__(self) -> str:
        return getattr(self.fn, "__name__", type(self.fn).__name__)


def wrap_callback(fn) -> _Callback:
    return _Callback(fn)


# ---------------------------------------------------------------------------
# debug_callback

debug_callback_p = Primitive("debug_callback", multiple_results=True, impl_fallback=True,
                             effectful=True)


def _debug_impl(*args, callback, effect):
    callback.fn(*[np.asarray(a) for a in args])
    return []


def _debug_jvp(primals, tangents, *, callback, effect):
    debug_callback_p.bind(*primals, callback=callback, effect=effect)
    return [], []


def _batch_size(args, dims) -> int:
    return next(get_aval(a).shape[d] for a, d in zip(args, dims, strict=True) if d is not None)


def _members(args, dims, n):
    """For each batch member, the arguments with that member taken out of the batch axis."""
    for i in range(n):
        member = []
        for a, d in zip(args, dims, strict=True):
            if d is None:
                member.append(a)
                continue
            shape = get_aval(a).shape
            start = [0] * len(shape)
            limit = list(shape)
            start[d], limit[d] = i, i + 1
            member.append(reshape(lax_slice(a, start, limit), shape[:d] + shape[d + 1:]))
        yield member


def _debug_batch(args, dims, *, callback, effect):
    for member in _members(args, dims, _batch_size(args, dims)):
        debug_callback_p.bind(*member, callback=callback, effect=effect)
    return [], []


impl_rules[debug_callback_p] = _debug_impl
abstract_eval_rules[debug_callback_p] = lambda *args, **_: []
jvp_rules[debug_callback_p] = _debug_jvp
batching_rules[debug_callback_p] = _debug_batch


# ---------------------------------------------------------------------------
# pure_callback

pure_callback_p = Primitive("pure_callback", multiple_results=True, impl_fallback=True)

VMAP_METHODS = (None, "sequential", "sequential_unrolled", "expand_dims", "broadcast_all",
                "legacy_vectorized")


def _pure_impl(*args, callback, result_avals, vmap_method):
    outs = callback.fn(*[np.asarray(a) for a in args])
    outs = list(outs) if isinstance(outs, list | tuple) else [outs]
    if len(outs) != len(result_avals):
        raise ShapeError(f"pure_callback: {callback!r} returned {len(outs)} array(s) but "
                         f"result_shape_dtypes declares {len(result_avals)}")
    checked = []
    for i, (o, aval) in enumerate(zip(outs, result_avals, strict=True)):
        o = np.asarray(o)
        if o.shape != aval.shape:
            raise ShapeError(f"pure_callback: {callback!r} returned shape {o.shape} for "
                             f"result {i}, but result_shape_dtypes declares {aval.str_short()}")
        checked.append(o.astype(aval.dtype, copy=False))
    return checked


def _pure_jvp(primals, tangents, **params):
    raise MissingRuleError(
        "Pure callbacks do not support JVP (pure_callback has no derivative). Please use "
        "functrace.custom_jvp or custom_vjp around the function that calls it to give one.")


def _pure_batch(args, dims, *, callback, result_avals, vmap_method):
    n = _batch_size(args, dims)
    if vmap_method is None:
        raise TransformError(
            "pure_callback under vmap needs vmap_method: 'sequential' (call the callback once "
            "per batch member), 'expand_dims' (unbatched arguments get a leading axis of "
            "size 1) or 'broadcast_all' (every argument gets the batch axis); as in JAX.")
    if vmap_method in ("sequential", "sequential_unrolled"):
        per_member = [pure_callback_p.bind(*member, callback=callback,
                                           result_avals=result_avals, vmap_method=vmap_method)
                      for member in _members(args, dims, n)]
        outs = [concatenate([expand_dims(m[j], (0,)) for m in per_member], 0)
                for j in range(len(result_avals))]
        return outs, [0] * len(outs)
    moved = []
    for a, d in zip(args, dims, strict=True):
        aval = get_aval(a)
        if d is None:
            moved.append(expand_dims(a, (0,)) if vmap_method != "broadcast_all" else
                         broadcast_in_dim(a, (n,) + aval.shape,
                                          tuple(range(1, aval.ndim + 1))))
        else:
            perm = (d,) + tuple(i for i in range(aval.ndim) if i != d)
            moved.append(a if d == 0 else transpose(a, perm))
    batched_avals = tuple(ShapedArray((n,) + r.shape, r.dtype) for r in result_avals)
    outs = pure_callback_p.bind(*moved, callback=callback, result_avals=batched_avals,
                                vmap_method=vmap_method)
    return outs, [0] * len(outs)


impl_rules[pure_callback_p] = _pure_impl
abstract_eval_rules[pure_callback_p] = lambda *args, result_avals, **_: list(result_avals)
jvp_rules[pure_callback_p] = _pure_jvp
batching_rules[pure_callback_p] = _pure_batch
