"""Index and set functions whose output size depends on the values: ``nonzero``,
``argwhere``, ``flatnonzero``, ``extract``, ``compress``, ``isin`` and the sorted set
operations ``intersect1d``/``union1d``/``setdiff1d``/``setxor1d``.

As in JAX, under a trace they need a static ``size=`` (results are padded with
``fill_value`` or truncated); outside a trace they read the values to size the result.
"""

from __future__ import annotations

import operator

import numpy as np

from .. import lax
from ..core.avals import default_int_dtype
from ..core.trace import Tracer, get_aval
from ..errors import ConcretizationError, ShapeError, no_sharding
from ._promote import as_array, canonical_axis, convert, promote_args, promote_dtypes
from .indexed_update import IndexUpdateHelper
from .manip import ravel
from .math import where as _where3
from .sorting import sort, unique

__all__ = [
    "argwhere", "compress", "extract", "flatnonzero", "in1d", "intersect1d", "isin",
    "nonzero", "setdiff1d", "setxor1d", "union1d", "where",
]


def _shape(x) -> tuple[int, ...]:
    return get_aval(x).shape


def _static_size(mask, size, op: str) -> int:
    if size is not None:
        return operator.index(size)
    if isinstance(mask, Tracer):
        raise ConcretizationError(
            f"{op}: the number of results depends on the values of a traced array; pass "
            "size= (a static int, with fill_value=) to use it under jit/vmap/grad, as in JAX")
    return int(np.count_nonzero(np.asarray(mask)))


def _positions(mask, size: int):
    """Flat indices of the true entries of 1-D ``mask``, in order: ``(idx, valid)`` of
    length ``size`` (``valid`` marks real results)."""
    n = _shape(mask)[0]
    itype = default_int_dtype()
    m = lax.convert_element_type(mask, itype)
    slot = lax.sub(lax.cumsum(m, 0), np.asarray(1, itype)) if n else np.zeros((0,), itype)
    target = lax.select(mask, slot, lax.full((n,), size, itype)) if n else slot
    idx = IndexUpdateHelper(lax.full((size,), 0, itype))[target].set(
        lax.iota(itype, n), mode="drop")
    count = lax.reduce_sum(m, (0,)) if n else np.zeros((), itype)
    valid = lax.lt(lax.iota(itype, size), lax.broadcast_in_dim(count, (size,), ()))
    return idx, valid


def _to_bool(x):
    x = as_array(x)
    if get_aval(x).dtype == np.bool_:
        return x
    return lax.ne(x, lax.full_like(x, 0))


def nonzero(a, *, size: int | None = None, fill_value=None):
    """The indices of ``a``'s nonzero entries, one int32 array per dimension; ``size=``
    pads (with ``fill_value``, default 0) or truncates them.

    Example:
        >>> nonzero(np.array([[0, 3], [4, 0]], np.int32))
        (array([0, 1], dtype=int32), array([1, 0], dtype=int32))
    """
    mask = _to_bool(a)
    shape = _shape(mask)
    if not shape:
        raise ShapeError("nonzero: calling it on a rank-0 array is not allowed (as in JAX); "
                         "use atleast_1d first")
    flat = ravel(mask)
    size = _static_size(flat, size, "nonzero")
    idx, valid = _positions(flat, size)
    coords = []
    rem_ = idx
    itype = default_int_dtype()
    for d in reversed(shape):
        coords.append(lax.rem(rem_, np.asarray(d, itype)))
        rem_ = lax.div(rem_, np.asarray(d, itype))
    coords = coords[::-1]
    fills = fill_value if isinstance(fill_value, tuple | list) else [fill_value] * len(shape)
    out = []
    for c, f in zip(coords, fills, strict=True):
        if f is not None:
            c = lax.select(valid, c, lax.full_like(c, f))
        out.append(c)
    return tuple(out)


def where(condition, x=None, y=None, /, *, size: int | None = None, fill_value=None):
    """``x`` where ``condition`` holds, else ``y`` (all three broadcast together); with
    ``condition`` alone, ``nonzero(condition, size=size, fill_value=fill_value)``.

    Example:
        >>> where(np.array([True, False]), 1.0, np.zeros(2, np.float32))
        array([1., 0.], dtype=float32)
        >>> where(np.array([0, 3, 5]), size=3, fill_value=-1)
        (array([ 1,  2, -1], dtype=int32),)
    """
    if x is None and y is None:
        return nonzero(condition, size=size, fill_value=fill_value)
    if x is None or y is None:
        raise ShapeError("where: either both or neither of x and y should be given")
    if size is not None or fill_value is not None:
        raise ShapeError("where: size and fill_value are only used with the one-argument "
                         "form where(condition)")
    return _where3(condition, x, y)


def flatnonzero(a, *, size: int | None = None, fill_value=None):
    """The indices of the nonzero entries of the flattened ``a``.

    Example:
        >>> flatnonzero(np.array([0, 2, 0, 5], np.int32), size=3, fill_value=-1)
        array([ 1,  3, -1], dtype=int32)
    """
    return nonzero(ravel(as_array(a)), size=size, fill_value=fill_value)[0]


def argwhere(a, *, size: int | None = None, fill_value=None):
    """The ``(count, ndim)`` array of the coordinates of ``a``'s nonzero entries.

    Example:
        >>> argwhere(np.array([[0, 3], [4, 0]], np.int32))
        array([[0, 1],
               [1, 0]], dtype=int32)
    """
    x = as_array(a)
    if not _shape(x):  # NumPy: one (empty) coordinate row if nonzero, none otherwise
        count = _static_size(lax.reshape(_to_bool(x), (1,)), size, "argwhere")
        return lax.full((count, 0), 0, default_int_dtype())
    coords = nonzero(x, size=size, fill_value=fill_value)
    return lax.concatenate([lax.expand_dims(c, (1,)) for c in coords], 1)


def extract(condition, arr, *, size: int | None = None, fill_value=0):
    """The entries of the flattened ``arr`` where the flattened ``condition`` is true.

    Example:
        >>> extract(np.array([True, False, True]), np.array([1., 2., 3.], np.float32))
        array([1., 3.], dtype=float32)
    """
    x = ravel(as_array(arr))
    cond = ravel(_to_bool(condition))
    n = min(_shape(cond)[0], _shape(x)[0])
    cond, x = lax.slice(cond, (0,), (n,)), lax.slice(x, (0,), (n,))
    size = _static_size(cond, size, "extract")
    idx, valid = _positions(cond, size)
    picked = IndexUpdateHelper(x)[idx].get(mode="fill", fill_value=0)
    return lax.select(valid, picked, lax.full_like(picked, fill_value))


def compress(condition, a, axis: int | None = None, *, size: int | None = None,
             fill_value=0, out=None):
    """The slices of ``a`` along ``axis`` where the 1-D ``condition`` is true (``out``
    must be None).

    Example:
        >>> compress(np.array([False, True]), np.array([[1, 2], [3, 4]], np.int32), axis=0)
        array([[3, 4]], dtype=int32)
    """
    no_sharding("compress", out=out)
    x = as_array(a)
    if axis is None:
        x, axis = ravel(x), 0
    axis = canonical_axis(axis, len(_shape(x)), "compress")
    cond = _to_bool(condition)
    if len(_shape(cond)) != 1:
        raise ShapeError("compress: condition must be 1-D")
    n = _shape(x)[axis]
    if _shape(cond)[0] > n:
        raise ShapeError(f"compress: condition has {_shape(cond)[0]} entries for an axis of "
                         f"length {n}")
    size = _static_size(cond, size, "compress")
    idx, valid = _positions(cond, size)
    taken = lax.index_take(x, (idx,), (axis,))  # (size, *other dims)
    nd = len(_shape(x))
    perm = tuple(range(1, axis + 1)) + (0,) + tuple(range(axis + 1, nd))
    taken = lax.transpose(taken, perm)
    mask = lax.broadcast_in_dim(valid, _shape(taken), (axis,))
    return lax.select(mask, taken, lax.full_like(taken, fill_value))


def isin(element, test_elements, assume_unique: bool = False, invert: bool = False, *,
         method: str = "auto"):
    """Where ``element``'s entries occur in ``test_elements`` (compared all against all).

    Example:
        >>> isin(np.array([1, 2, 3], np.int32), np.array([3, 1], np.int32))
        array([ True, False,  True])
    """
    x, t = promote_args("isin", as_array(element), ravel(as_array(test_elements)),
                        broadcast=False)
    shape = _shape(x)
    m = _shape(t)[0]
    full = shape + (m,)
    eq = lax.eq(lax.broadcast_in_dim(x, full, tuple(range(len(shape)))),
                lax.broadcast_in_dim(t, full, (len(shape),)))
    hit = lax.reduce_or(eq, (len(shape),)) if m else lax.full(shape, False, np.bool_)
    return lax.bitwise_not(hit) if invert else hit


def in1d(ar1, ar2, assume_unique: bool = False, invert: bool = False):
    """``isin`` of the flattened ``ar1`` (NumPy's older name)."""
    return isin(ravel(as_array(ar1)), ar2, assume_unique, invert)


def _promoted_flat(op: str, ar1, ar2):
    """Both operands in their common dtype, flattened; promoted before ``as_array`` so a
    Python scalar stays weakly typed (``union1d(uint8_array, 3)`` is uint8, as in JAX)."""
    a, b = promote_dtypes(ar1, ar2, op=op)
    return ravel(as_array(a)), ravel(as_array(b))


def intersect1d(ar1, ar2, assume_unique: bool = False, return_indices: bool = False, *,
                size: int | None = None, fill_value=None):
    """The sorted unique values present in both arrays (with ``return_indices``, also the
    index of each one's first occurrence in ``ar1`` and in ``ar2``).

    Example:
        >>> intersect1d(np.array([1, 3, 4, 3], np.int32), np.array([3, 1, 2], np.int32))
        array([1, 3], dtype=int32)
    """
    a1, a2 = _promoted_flat("intersect1d", ar1, ar2)
    values = _select_sorted(a1, lambda u: isin(u, a2), size, fill_value, "intersect1d")
    if not return_indices:
        return values
    return values, _first_index(a1, values), _first_index(a2, values)


def _first_index(arr, values):
    """For each of ``values``, the index of its first occurrence in 1-D ``arr`` (``len(arr)``
    when it does not occur, as JAX pads a ``size=`` result)."""
    k, n = _shape(values)[0], _shape(arr)[0]
    itype = default_int_dtype()
    if k == 0 or n == 0:
        return lax.full((k,), n, itype)
    hits = lax.eq(lax.broadcast_in_dim(arr, (k, n), (1,)),
                  lax.broadcast_in_dim(values, (k, n), (0,)))
    first = lax.argmax(lax.convert_element_type(hits, np.int32), 1, itype)
    return lax.select(lax.reduce_or(hits, (1,)), first, lax.full((k,), n, itype))


def setdiff1d(ar1, ar2, assume_unique: bool = False, *, size: int | None = None,
              fill_value=None):
    """The sorted unique values of ``ar1`` that are not in ``ar2``.

    Example:
        >>> setdiff1d(np.array([1, 2, 3, 2], np.int32), np.array([2], np.int32))
        array([1, 3], dtype=int32)
    """
    return _select_sorted(ar1, lambda u: isin(u, ar2, invert=True), size, fill_value,
                          "setdiff1d")


def union1d(ar1, ar2, *, size: int | None = None, fill_value=None):
    """The sorted unique values of both arrays.

    Example:
        >>> union1d(np.array([3, 1], np.int32), np.array([2, 1], np.int32))
        array([1, 2, 3], dtype=int32)
    """
    a, b = _promoted_flat("union1d", ar1, ar2)
    return unique(lax.concatenate([a, b], 0), size=size, fill_value=fill_value)


def setxor1d(ar1, ar2, assume_unique: bool = False, *, size: int | None = None,
             fill_value=None):
    """The sorted unique values in exactly one of the arrays.

    Example:
        >>> setxor1d(np.array([1, 2, 3], np.int32), np.array([2, 4], np.int32))
        array([1, 3, 4], dtype=int32)
    """
    a, b = _promoted_flat("setxor1d", ar1, ar2)
    both = lax.concatenate([a, b], 0)
    return _select_sorted(both, lambda u: lax.bitwise_xor(isin(u, a), isin(u, b)), size,
                          fill_value, "setxor1d")


def _select_sorted(values, keep_fn, size, fill_value, op: str):
    """The sorted unique entries ``u`` of ``values`` with ``keep_fn(u)`` true."""
    flat = ravel(as_array(values))
    n = _shape(flat)[0]
    if size is None and not isinstance(flat, Tracer):
        u = unique(flat)
        real = lax.full(_shape(u), True, np.bool_)
    else:  # padded to n with the smallest value; the padding has count 0
        u, counts = unique(flat, size=n, return_counts=True)
        real = lax.gt(counts, lax.full_like(counts, 0))
    m = _shape(u)[0]
    keep = lax.bitwise_and(keep_fn(u), real) if m else real
    out_size = _static_size(keep, size, op)
    idx, valid = _positions(keep, out_size)
    picked = IndexUpdateHelper(u)[idx].get(mode="fill", fill_value=0) if m else lax.full(
        (out_size,), 0, get_aval(u).dtype)
    if fill_value is None:
        fill = lax.reshape(lax.slice(picked, (0,), (1,)), ()) if out_size else 0
        fill = lax.select(lax.reshape(lax.slice(valid, (0,), (1,)), ()), fill, lax.reshape(
            lax.slice(sort(flat), (0,), (1,)), ())) if out_size and n else fill
    else:
        fill = convert(as_array(fill_value), get_aval(picked).dtype)
    fill = lax.broadcast_in_dim(as_array(fill), _shape(picked), ()) if out_size else fill
    return lax.select(valid, picked, fill) if out_size else picked
