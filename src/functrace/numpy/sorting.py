"""Sorting and searching: ``sort``, ``argsort``, ``lexsort``, ``partition``,
``searchsorted``, ``digitize``, the ``unique`` family and ``bincount``, composed from
``lax.sort`` and scatters (so they trace, batch and differentiate where JAX's do).

Shapes must be static under a trace, as in JAX: ``unique`` needs ``size=`` and
``bincount`` needs ``length=`` when their input is traced; outside a trace they read the
values to size the result.
"""

from __future__ import annotations

import operator

import numpy as np

from .. import lax
from ..core.avals import default_int_dtype
from ..core.trace import Tracer, get_aval
from ..errors import ConcretizationError, DTypeError, FunctraceError, ShapeError, no_sharding
from ._promote import as_array, canonical_axis, check_dtype, convert, promote_args
from .indexed_update import IndexUpdateHelper
from .unique_axis import unique_along

__all__ = [
    "argpartition", "argsort", "bincount", "digitize", "lexsort", "partition", "searchsorted",
    "sort", "unique", "unique_all", "unique_counts", "unique_inverse", "unique_values",
]


def _shape(x) -> tuple[int, ...]:
    return get_aval(x).shape


def _flat(x):
    return lax.reshape(x, (int(np.prod(_shape(x))),))


def _axis_or_flat(a, axis, op: str):
    x = as_array(a)
    if axis is None:
        return _flat(x), 0
    return x, canonical_axis(axis, len(_shape(x)), op)


def sort(a, axis: int | None = -1, *, kind=None, order=None, stable: bool = True,
         descending: bool = False):
    """A sorted copy of ``a`` along ``axis`` (the flattened array if None); NaNs last.

    Example:
        >>> sort(np.array([3, 1, 2], np.int32), descending=True)
        array([3, 2, 1], dtype=int32)
    """
    _no_order(order, "sort", kind)
    x, axis = _axis_or_flat(a, axis, "sort")
    if descending:
        return lax.rev(lax.sort(x, dimension=axis, is_stable=stable), (axis,))
    return lax.sort(x, dimension=axis, is_stable=stable)


def argsort(a, axis: int | None = -1, *, kind=None, order=None, stable: bool = True,
            descending: bool = False, dtype=None):
    """The indices that sort ``a`` along ``axis``; equal elements keep their order (also
    with ``descending=True``, as in JAX). ``dtype`` is the integer dtype of the indices
    (default: the default integer dtype).

    Example:
        >>> argsort(np.array([1, 3, 3, 2], np.int32), descending=True)
        array([1, 2, 3, 0], dtype=int32)
    """
    _no_order(order, "argsort", kind)
    x, axis = _axis_or_flat(a, axis, "argsort")
    idx_dtype = default_int_dtype() if dtype is None else check_dtype(dtype)
    if not np.issubdtype(idx_dtype, np.integer):
        raise DTypeError(f"argsort: dtype must be an integer dtype, got {idx_dtype}")
    iota = lax.broadcasted_iota(idx_dtype, _shape(x), axis)
    if descending:
        # reversed inputs sorted stably, then reversed: ties end in their original order
        x, iota = lax.rev(x, (axis,)), lax.rev(iota, (axis,))
        _, idx = lax.sort_key_val(x, iota, dimension=axis, is_stable=stable)
        return lax.rev(idx, (axis,))
    return lax.sort_key_val(x, iota, dimension=axis, is_stable=stable)[1]


def lexsort(keys, axis: int = -1):
    """The indices that sort by several keys; the LAST key is the primary one (NumPy's
    convention).

    Example:
        >>> lexsort((np.array([1, 2, 1]), np.array([0, 0, 0])))
        array([0, 2, 1], dtype=int32)
    """
    keys = [as_array(k) for k in keys]
    if not keys:
        raise FunctraceError("lexsort: pass at least one key")
    shapes = {_shape(k) for k in keys}
    if len(shapes) != 1:
        raise ShapeError(f"lexsort: all keys must have the same shape, got {sorted(shapes)}")
    shape = shapes.pop()
    axis = canonical_axis(axis, len(shape), "lexsort")
    iota = lax.broadcasted_iota(default_int_dtype(), shape, axis)
    return lax.sort((*reversed(keys), iota), dimension=axis, num_keys=len(keys))[-1]


def partition(a, kth: int, axis: int = -1):
    """``a`` rearranged so that the ``kth`` entry is the one a sort would put there, smaller
    ones before and larger ones after (here: a full sort, which satisfies that).

    Example:
        >>> partition(np.array([3, 1, 2], np.int32), 1)
        array([1, 2, 3], dtype=int32)
    """
    x = as_array(a)
    _check_kth(kth, x, axis, "partition")
    return sort(x, axis)


def argpartition(a, kth: int, axis: int = -1):
    """Indices that ``partition`` along ``axis`` (here: a full stable argsort)."""
    x = as_array(a)
    _check_kth(kth, x, axis, "argpartition")
    return lax.convert_element_type(argsort(x, axis), np.int32)  # int32, as JAX's


def _check_kth(kth, x, axis, op: str) -> None:
    n = _shape(x)[canonical_axis(axis, len(_shape(x)), op)]
    if not -n <= operator.index(kth) < n:
        raise ShapeError(f"{op}: kth={kth} is out of range for an axis of length {n}")


def _no_order(order, op: str, kind=None) -> None:
    if kind is not None:  # as JAX: kind= is refused, stability is stable=
        raise TypeError(f"{op}: the kind= argument is not supported; use stable=True or "
                        "stable=False to choose the sort's stability")
    if order is not None:
        raise FunctraceError(f"{op}: order= (structured arrays) is not supported")


# ---------------------------------------------------------------------------
# searching

def _isnan(x):
    return lax.ne(x, x) if get_aval(x).dtype.kind in "fc" else None


def _less_total(x, y):
    """``x < y`` in sort order: NaN is larger than every number."""
    lt = lax.lt(x, y)
    nan_y, nan_x = _isnan(y), _isnan(x)
    if nan_y is None:
        return lt
    return lax.bitwise_or(lt, lax.bitwise_and(nan_y, lax.bitwise_not(nan_x)))


def searchsorted(a, v, side: str = "left", sorter=None, *, method: str = "scan"):
    """Where ``v``'s elements would be inserted into sorted 1-D ``a`` to keep it sorted
    (``side='left'``: before equal entries; ``'right'``: after them). NaNs sort last.

    Example:
        >>> searchsorted(np.array([1., 2., 2., 3.], np.float32), np.array([2., 0., 9.]))
        array([1, 0, 4], dtype=int32)
    """
    if side not in ("left", "right"):
        raise FunctraceError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    if method not in ("scan", "scan_unrolled", "sort", "compare_all"):
        raise FunctraceError(f"searchsorted: unknown method {method!r}")
    a = as_array(a)
    if len(_shape(a)) != 1:
        raise ShapeError(f"searchsorted: a must be 1-D, got shape {_shape(a)}")
    if sorter is not None:
        a = _take(a, as_array(sorter))
    a, v = promote_args("searchsorted", a, v, broadcast=False)
    vshape = _shape(v)
    n = _shape(a)[0]
    full = vshape + (n,)
    nd = len(full)
    ab = lax.broadcast_in_dim(a, full, (nd - 1,))
    vb = lax.broadcast_in_dim(v, full, tuple(range(nd - 1)))
    # left: count of a < v; right: count of a <= v, i.e. of not (v < a)
    hits = _less_total(ab, vb) if side == "left" else lax.bitwise_not(_less_total(vb, ab))
    # int32 (even under x64), as JAX's searchsorted for arrays of under 2**31 entries
    itype = np.int32 if n < 2 ** 31 else default_int_dtype()
    return lax.reduce_sum(lax.convert_element_type(hits, itype), (nd - 1,))


def _take(a, idx):
    return IndexUpdateHelper(a)[idx].get()


def digitize(x, bins, right: bool = False, *, method=None):
    """The index of the bin each ``x`` falls in, for monotonically increasing or
    decreasing ``bins`` (NumPy's rule: ``bins[i-1] <= x < bins[i]``, or ``<`` / ``<=``
    swapped when ``right``).

    Example:
        >>> digitize(np.array([0.5, 1.0, 2.5]), np.array([1.0, 2.0, 3.0]))
        array([0, 1, 2], dtype=int32)
    """
    bins = as_array(bins)
    if len(_shape(bins)) != 1:
        raise ShapeError(f"digitize: bins must be 1-D, got shape {_shape(bins)}")
    side = "left" if right else "right"
    n = _shape(bins)[0]
    if n == 0:
        return lax.full(_shape(as_array(x)), 0, np.int32)
    b = np.asarray(bins) if not isinstance(bins, Tracer) else None
    decreasing = b is not None and n > 1 and b[-1] < b[0]
    if decreasing:
        rev = searchsorted(lax.rev(bins, (0,)), x, side=side)
        return lax.sub(np.asarray(n, get_aval(rev).dtype), rev)
    return searchsorted(bins, x, side=side)


# ---------------------------------------------------------------------------
# unique

def _concrete_size(x, op: str, what: str) -> None:
    if isinstance(x, Tracer):
        raise ConcretizationError(
            f"{op}: the size of the result depends on the values of a traced array; pass "
            f"{what}= (a static int) to use {op} under jit/vmap/grad, as in JAX")


def unique(ar, return_index: bool = False, return_inverse: bool = False,
           return_counts: bool = False, axis=None, *, equal_nan: bool = True,
           size: int | None = None, fill_value=None, sorted: bool = True):  # noqa: A002
    """The sorted unique elements of the flattened ``ar`` (or, with ``axis``, its unique
    slices along that axis), optionally with the index of each one's first occurrence, the
    inverse (``ar``'s shape; 1-D with ``axis``) and the counts.

    ``size=`` fixes the output length (needed under a trace): shorter results are padded
    with ``fill_value`` (default: the smallest element; the pad's index is that element's
    and its count is 0), longer ones truncated.

    Example:
        >>> unique(np.array([3, 1, 3, 0, 1, 7], np.int32), size=6, fill_value=-1)
        array([ 0,  1,  3,  7, -1, -1], dtype=int32)
    """
    if axis is not None:
        return unique_along(ar, axis, return_index, return_inverse, return_counts,
                            equal_nan, size, fill_value)
    x = as_array(ar)
    in_shape = _shape(x)
    x = _flat(x)
    n = _shape(x)[0]
    itype = default_int_dtype()
    iota = lax.iota(itype, n)
    xs, perm = lax.sort_key_val(x, iota)
    if n:
        same = lax.eq(lax.slice(xs, (1,), (n,)), lax.slice(xs, (0,), (n - 1,)))
        nan = _isnan(xs)
        if equal_nan and nan is not None:
            both = lax.bitwise_and(lax.slice(nan, (1,), (n,)), lax.slice(nan, (0,), (n - 1,)))
            same = lax.bitwise_or(same, both)
        first = lax.concatenate([np.ones((1,), bool), lax.bitwise_not(same)], 0)
    else:
        first = np.zeros((0,), bool)
    slot = lax.sub(lax.cumsum(lax.convert_element_type(first, itype), 0),
                   np.asarray(1, itype)) if n else np.zeros((0,), itype)
    if size is None:
        _concrete_size(x, "unique", "size")
        size = int(np.sum(np.asarray(first)))
    size = operator.index(size)
    # each first-of-a-run entry goes to its slot; the others (and slots >= size) drop out
    target = lax.select(first, slot, lax.full((n,), size, itype))
    fill = (lax.slice(xs, (0,), (1,)) if n else np.zeros((1,), get_aval(x).dtype)) \
        if fill_value is None else as_array(fill_value)
    fill = lax.broadcast_in_dim(convert(lax.reshape(fill, ()) if _shape(fill) else fill,
                                        get_aval(x).dtype), (size,), ())
    values = IndexUpdateHelper(fill)[target].set(xs, mode="drop")
    outs = [values]
    if return_index:
        pad = lax.slice(perm, (0,), (1,)) if n else np.zeros((1,), itype)
        base = lax.broadcast_in_dim(lax.reshape(pad, ()), (size,), ())
        outs.append(IndexUpdateHelper(base)[target].set(perm, mode="drop"))
    if return_inverse:
        inv = IndexUpdateHelper(lax.full((n,), 0, itype))[perm].set(slot)
        outs.append(lax.reshape(inv, in_shape))
    if return_counts:
        ones = lax.full((n,), 1, itype)
        outs.append(IndexUpdateHelper(lax.full((size,), 0, itype))[slot].add(ones, mode="drop"))
    return outs[0] if len(outs) == 1 else tuple(outs)


def unique_values(x, *, size=None, fill_value=None):
    """The array API's ``unique(x)`` values (sorted)."""
    return unique(x, size=size, fill_value=fill_value)


def unique_counts(x, *, size=None, fill_value=None):
    """``(values, counts)`` of the array API."""
    return unique(x, return_counts=True, size=size, fill_value=fill_value)


def unique_inverse(x, *, size=None, fill_value=None):
    """``(values, inverse_indices)`` of the array API (inverse has ``x``'s shape)."""
    return unique(x, return_inverse=True, size=size, fill_value=fill_value)


def unique_all(x, *, size=None, fill_value=None):
    """``(values, indices, inverse_indices, counts)`` of the array API."""
    return unique(x, return_index=True, return_inverse=True, return_counts=True, size=size,
                  fill_value=fill_value)


def bincount(x, weights=None, minlength: int = 0, *, length: int | None = None,
             out_sharding=None):
    """Counts (or sums ``weights``) of each value of the non-negative integer array ``x``.
    As in JAX, negative values count in bin 0 and values ``>= length`` are dropped;
    ``length=`` (static) is needed under a trace.

    Example:
        >>> bincount(np.array([0, 2, 2, 5], np.int32), length=4)
        array([1, 0, 2, 0], dtype=int32)
    """
    no_sharding("bincount", out_sharding=out_sharding)
    x = as_array(x)
    if len(_shape(x)) != 1 or get_aval(x).dtype.kind not in "iub":
        raise ShapeError(f"bincount: x must be a 1-D integer array, got "
                         f"{get_aval(x).str_short()}")
    if length is None:
        _concrete_size(x, "bincount", "length")
        xv = np.asarray(x)
        length = max(int(xv.max()) + 1 if xv.size else 0, operator.index(minlength))
    length = operator.index(length)
    if weights is None:
        w = lax.full(_shape(x), 1, default_int_dtype())
    else:
        (w,) = promote_args("bincount", as_array(weights))
        if _shape(w) != _shape(x):
            raise ShapeError(f"bincount: weights must have x's shape {_shape(x)}, got "
                             f"{_shape(w)}")
    idx = lax.max(x, np.zeros((), get_aval(x).dtype))
    zeros = lax.full((length,), 0, get_aval(w).dtype)
    return IndexUpdateHelper(zeros)[idx].add(w, mode="drop")
