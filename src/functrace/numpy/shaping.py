"""Building and rearranging arrays as ``jax.numpy`` does: ``append``/``insert``/``delete``
(static positions, as in JAX), ``block``, ``concat``/``permute_dims``/``matrix_transpose``/
``unstack`` (the array API's names), ``rollaxis``, ``dsplit``, ``rot90``, ``resize``,
``diagflat``, ``fill_diagonal`` and ``trim_zeros``.
"""

from __future__ import annotations

import builtins
import operator

import numpy as np

from .. import lax
from ..core.trace import Tracer, get_aval
from ..errors import FunctraceError, ShapeError
from ._promote import as_array, broadcast_to_shape, canonical_axis, convert, promote_dtypes
from .arrange import concatenate, flip, split
from .indexed_update import IndexUpdateHelper
from .indexing import take
from .manip import moveaxis, ravel, reshape, swapaxes, transpose

__all__ = [
    "append",
    "block",
    "concat",
    "delete",
    "diagflat",
    "dsplit",
    "fill_diagonal",
    "insert",
    "matrix_transpose",
    "permute_dims",
    "resize",
    "rollaxis",
    "rot90",
    "trim_zeros",
    "unstack",
]


def _shape(x) -> tuple[int, ...]:
    return get_aval(x).shape


def _dtype(x) -> np.dtype:
    return get_aval(x).dtype


# ---------------------------------------------------------------------------
# append / insert / delete

def append(arr, values, axis: int | None = None):
    """``arr`` with ``values`` appended (both flattened when ``axis`` is None).

    Example:
        >>> append(np.array([1, 2], np.int32), np.array([[3]], np.int32))
        array([1, 2, 3], dtype=int32)
    """
    # promoted before as_array, so a Python scalar stays weakly typed (as in JAX)
    a, v = (as_array(t) for t in promote_dtypes(arr, values, op="append"))
    if axis is None:
        a, v = ravel(a), ravel(v)
        axis = 0
    return concatenate([a, v], axis)


def delete(arr, obj, axis: int | None = None, *, assume_unique_indices: bool = False):
    """``arr`` without the entries at the static indices/slice ``obj`` along ``axis``.

    Example:
        >>> delete(np.array([1, 2, 3, 4], np.int32), [0, 2])
        array([2, 4], dtype=int32)
    """
    a = as_array(arr)
    if axis is None:
        a, axis = ravel(a), 0
    axis = canonical_axis(axis, len(_shape(a)), "delete")
    n = _shape(a)[axis]
    if isinstance(obj, Tracer):
        raise FunctraceError("delete: the indices must be static (a Python int, slice or "
                             "NumPy array), as in JAX")
    keep = np.delete(np.arange(n), obj)
    return take(a, keep.astype(np.int32), axis=axis)


def insert(arr, obj, values, axis: int | None = None):
    """``arr`` with ``values`` inserted before the static index (or indices) ``obj``.

    Example:
        >>> insert(np.array([1, 2, 3], np.int32), 1, np.int32(9))
        array([1, 9, 2, 3], dtype=int32)
    """
    a = as_array(arr)
    if axis is None:
        a, axis = ravel(a), 0
    axis = canonical_axis(axis, len(_shape(a)), "insert")
    if isinstance(obj, Tracer):
        raise FunctraceError("insert: the positions must be static, as in JAX")
    n = _shape(a)[axis]
    v = convert(as_array(values), _dtype(a))
    nd = len(_shape(a))
    if isinstance(obj, slice):
        obj = np.arange(n)[obj]
    if np.ndim(obj) == 0:
        # a scalar position inserts a block: values gain leading axes up to a's rank
        while len(_shape(v)) < nd:
            v = lax.expand_dims(v, (0,))
        v = moveaxis(v, 0, axis) if len(_shape(v)) else v
        count = _shape(v)[axis]
        positions = np.full(count, int(obj))
    else:
        positions = np.asarray(obj, np.int64).ravel()
        count = positions.size
        if len(_shape(v)) == nd:
            v = moveaxis(v, 0, axis) if _shape(v)[0] == count and axis != 0 else v
    target = list(_shape(a))
    target[axis] = count
    v = broadcast_to_shape(v, tuple(target), "insert")
    positions = np.where(positions < 0, positions + n, positions)
    order = np.insert(np.arange(n), positions, n + np.arange(count))
    return take(concatenate([a, v], axis), order.astype(np.int32), axis=axis)


# ---------------------------------------------------------------------------
# block

def _depth(x) -> int:
    return 1 + _depth(x[0]) if isinstance(x, list) and x else (1 if isinstance(x, list) else 0)


def block(arrays):
    """An array assembled from nested lists of blocks (NumPy's ``block``): the innermost
    lists are joined along the last axis, the next ones along the second-to-last, ...

    Example:
        >>> block([[np.zeros((1, 2), np.int32), np.ones((1, 1), np.int32)],
        ...        [np.full((1, 3), 2, np.int32)]])
        array([[0, 0, 1],
               [2, 2, 2]], dtype=int32)
    """
    depth = _depth(arrays)
    leaves = []

    def collect(x):
        if isinstance(x, list):
            for e in x:
                collect(e)
        elif isinstance(x, tuple):
            raise FunctraceError("block: use lists, not tuples, to nest the blocks")
        else:
            leaves.append(as_array(x))

    collect(arrays)
    ndim = builtins.max([depth] + [len(_shape(v)) for v in leaves])

    def build(x, level):
        if not isinstance(x, list):
            v = as_array(x)
            return reshape(v, (1,) * (ndim - len(_shape(v))) + _shape(v))
        parts = [build(e, level + 1) for e in x]
        return concatenate(parts, axis=-(depth - level))

    return build(arrays, 0)


# ---------------------------------------------------------------------------
# rearranging

def concat(arrays, /, *, axis: int | None = 0):
    """The array API's name for ``concatenate``."""
    return concatenate(arrays, axis)


def permute_dims(a, /, axes):
    """The array API's name for ``transpose``."""
    return transpose(a, axes)


def matrix_transpose(x, /):
    """``x`` with its last two axes swapped.

    Example:
        >>> matrix_transpose(np.ones((2, 3, 4), np.float32)).shape
        (2, 4, 3)
    """
    if len(_shape(as_array(x))) < 2:
        raise ShapeError("matrix_transpose: the input must have at least 2 dimensions")
    return swapaxes(x, -1, -2)


def unstack(x, /, *, axis: int = 0):
    """The slices of ``x`` along ``axis``, as a tuple."""
    v = as_array(x)
    return tuple(lax.unstack(v, canonical_axis(axis, len(_shape(v)), "unstack")))


def rollaxis(a, axis: int, start: int = 0):
    """``axis`` moved to before position ``start`` (NumPy's older ``moveaxis``)."""
    x = as_array(a)
    nd = len(_shape(x))
    axis = canonical_axis(axis, nd, "rollaxis")
    start = start + nd if start < 0 else start
    if start > axis:
        start -= 1
    return moveaxis(x, axis, start)


def dsplit(ary, indices_or_sections):
    """``split`` along the third axis."""
    return split(ary, indices_or_sections, axis=2)


def rot90(m, k: int = 1, axes=(0, 1)):
    """``m`` rotated by 90 degrees ``k`` times in the plane of ``axes``.

    Example:
        >>> rot90(np.array([[1, 2], [3, 4]], np.int32))
        array([[2, 4],
               [1, 3]], dtype=int32)
    """
    x = as_array(m)
    nd = len(_shape(x))
    a0, a1 = (canonical_axis(a, nd, "rot90") for a in axes)
    if a0 == a1:
        raise ShapeError("rot90: the axes must differ")
    k = operator.index(k) % 4
    if k == 0:
        return x
    if k == 2:
        return flip(flip(x, a0), a1)
    perm = list(range(nd))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 1:
        return transpose(flip(x, a1), perm)
    return flip(transpose(x, perm), a1)


def resize(a, new_shape):
    """``a`` flattened, repeated as needed and cut to ``new_shape``.

    Example:
        >>> resize(np.array([1, 2, 3], np.int32), (2, 4))
        array([[1, 2, 3, 1],
               [2, 3, 1, 2]], dtype=int32)
    """
    x = ravel(as_array(a))
    shape = (new_shape,) if isinstance(new_shape, int | np.integer) else tuple(new_shape)
    total = int(np.prod(shape, dtype=np.int64))
    n = _shape(x)[0]
    if n == 0:
        return lax.full(shape, 0, _dtype(x))
    reps = -(-total // n)
    tiled = lax.tile(x, (reps,)) if reps > 1 else x
    return reshape(lax.slice(tiled, (0,), (total,)), shape)


def diagflat(v, k: int = 0):
    """A 2-D array with the flattened ``v`` on diagonal ``k``.

    Example:
        >>> diagflat(np.array([[1, 2]], np.int32))
        array([[1, 0],
               [0, 2]], dtype=int32)
    """
    x = ravel(as_array(v))
    n = _shape(x)[0]
    size = n + abs(k)
    rows = np.arange(n) + builtins.max(-k, 0)
    cols = np.arange(n) + builtins.max(k, 0)
    out = lax.full((size, size), 0, _dtype(x))
    return IndexUpdateHelper(out)[rows, cols].set(x)


def fill_diagonal(a, val, wrap: bool = False, *, inplace: bool = True):
    """``a`` with ``val`` written on its main diagonal; JAX needs ``inplace=False`` (arrays
    are immutable) and so does this.

    Example:
        >>> fill_diagonal(np.zeros((2, 2), np.int32), 7, inplace=False)
        array([[7, 0],
               [0, 7]], dtype=int32)
    """
    if inplace:
        raise FunctraceError("fill_diagonal: arrays are immutable; pass inplace=False and use "
                             "the returned array")
    x = as_array(a)
    shape = _shape(x)
    if len(shape) < 2 or (len(shape) > 2 and len(set(shape)) != 1):
        raise ShapeError("fill_diagonal: the array must be 2-D, or all of equal length")
    if len(shape) == 2:
        n, m = shape
        length = builtins.min(n, m)
        if wrap and n > m + 1:
            flat_step = m + 1
            flat = np.arange(0, n * m, flat_step)
            rows, cols = flat // m, flat % m
        else:
            rows = cols = np.arange(length)
    else:
        rows = cols = np.arange(shape[0])
    idx = (rows, cols) + (np.arange(shape[0]),) * (len(shape) - 2)
    v = ravel(convert(as_array(val), _dtype(x)))
    count = len(rows)
    if _shape(v)[0] != count:
        v = resize(v, (count,))
    return IndexUpdateHelper(x)[idx].set(v)


def trim_zeros(filt, trim: str = "fb", axis=None):
    """``filt`` without its leading (``'f'``) and/or trailing (``'b'``) all-zero slices
    along each axis in ``axis`` (every axis when None), as JAX's ``trim_zeros``: along an
    axis, a slice is trimmed when it is zero across all the other axes. The values must
    be concrete (the result's shape depends on them).

    Example:
        >>> trim_zeros(np.array([0, 1, 0, 2, 0], np.int32))
        array([1, 0, 2], dtype=int32)
        >>> trim_zeros(np.array([[0, 0, 0], [0, 5, 0]], np.int32), axis=0)
        array([[0, 5, 0]], dtype=int32)
    """
    x = as_array(filt)
    if isinstance(x, Tracer):
        raise FunctraceError("trim_zeros: the result's shape depends on the values; call it "
                             "outside jit/vmap/grad")
    v = np.asarray(x)
    axes = range(v.ndim) if axis is None else (
        (axis,) if isinstance(axis, int | np.integer) else axis)
    axes = {canonical_axis(a, v.ndim, "trim_zeros") for a in axes}
    front, back = "f" in trim.lower(), "b" in trim.lower()
    starts, stops = [0] * v.ndim, list(v.shape)
    for ax in sorted(axes):
        nz = np.flatnonzero(np.any(v != 0, axis=tuple(i for i in range(v.ndim) if i != ax)))
        if nz.size == 0:
            starts[ax], stops[ax] = 0, 0
            continue
        starts[ax] = int(nz[0]) if front else 0
        stops[ax] = int(nz[-1]) + 1 if back else v.shape[ax]
    return lax.slice(x, tuple(starts), tuple(stops))
