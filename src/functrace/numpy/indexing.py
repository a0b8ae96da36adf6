"""NumPy indexing (``x[idx]``) on top of ``lax.slice``, ``lax.rev`` and ``lax.gather_leading``.

Supported: integers, slices (any step; negative steps reverse with ``lax.rev``),
``None``/``newaxis``, ``Ellipsis``, integer arrays (NumPy's advanced indexing,
with broadcasting of several index arrays and NumPy's placement of the result
axes) and boolean masks whose values are known (NumPy arrays, or traced values
that are concrete, as outside ``jit``/``make_jaxpr``).

Advanced indexing moves the indexed axes to the front, gathers with
``lax.gather_leading`` and moves the new axes to where NumPy puts them.
"""

from __future__ import annotations

import numpy as np

from .. import lax
from ..core.avals import default_int_dtype
from ..core.trace import Tracer, concrete_or_none, get_aval
from ..errors import ConcretizationError, ShapeError
from ._promote import (
    _fmt,
    as_array,
    broadcast_shapes,
    broadcast_to_shape,
    canonical_axis,
    has_tracer,
)
from ._promote import stack_nested as _stack_nested


class IndexingError(ShapeError, IndexError):
    """An index that does not fit the array (also a Python ``IndexError``, as in NumPy)."""


_BOOL_MASK_HELP = (
    "Boolean mask indexing (x[mask]) gives a result whose shape depends on the mask's "
    "values, so the mask must be concrete; here it is traced (under jit or make_jaxpr). "
    "Use functrace.numpy.where(mask, x, 0) for an elementwise choice, or compute the mask "
    "outside the traced function and pass it as a static argument.")


_EMPTY_ELLIPSIS = object()  # an Ellipsis that stands for no axes


def _classify(e):
    """One index entry as None/Ellipsis/slice/int, an integer array or a boolean mask."""
    if e is None or e is Ellipsis or isinstance(e, slice):
        return e
    if isinstance(e, bool | np.bool_):
        raise IndexingError("indexing with a Python/NumPy boolean scalar is not supported; use "
                            "None to add an axis")
    if isinstance(e, int | np.integer):
        return int(e)
    if isinstance(e, Tracer):
        dt = get_aval(e).dtype
        if dt == np.bool_:
            val = concrete_or_none(e)
            if val is None:
                raise ConcretizationError(_BOOL_MASK_HELP)
            return ("mask", np.asarray(val))
        if not np.issubdtype(dt, np.integer):
            raise IndexingError(f"indices must be integers, got a traced {dt.name} array")
        return ("array", e)
    if isinstance(e, list | tuple) and has_tracer(e):
        return _classify(_stack_nested(e))
    arr = np.asarray(e)
    if arr.dtype == np.bool_:
        return ("mask", arr)
    if arr.size == 0 and arr.dtype != object:
        arr = arr.astype(np.intp)
    if not np.issubdtype(arr.dtype, np.integer):
        raise IndexingError(f"only integers, slices (':'), ellipsis ('...'), None and integer "
                            f"or boolean arrays are valid indices, got {e!r:.60}")
    return ("array", arr)



def _consumed(e) -> int:
    if e is None or e is Ellipsis:
        return 0
    if isinstance(e, tuple) and e[0] == "mask":
        return max(e[1].ndim, 1)
    return 1


def _expand(idx, shape) -> list:
    """Index entries with Ellipsis expanded, masks turned into int arrays, and padded."""
    entries = [_classify(e) for e in (idx if isinstance(idx, tuple) else (idx,))]
    if sum(e is Ellipsis for e in entries) > 1:
        raise IndexingError("an index can only have a single ellipsis ('...')")
    used = sum(_consumed(e) for e in entries)
    if used > len(shape):
        raise IndexingError(f"too many indices for array: array is {len(shape)}-dimensional, "
                            f"but {used} were indexed")
    # NumPy treats an Ellipsis as a basic index even when it stands for no axes, so it
    # still separates advanced indices (which moves their result axes to the front)
    fill = [slice(None)] * (len(shape) - used) or [_EMPTY_ELLIPSIS]
    if any(e is Ellipsis for e in entries):
        i = next(k for k, e in enumerate(entries) if e is Ellipsis)
        entries = entries[:i] + fill + entries[i + 1:]
    elif fill[0] is not _EMPTY_ELLIPSIS:
        entries = entries + fill
    out, dim = [], 0
    for e in entries:
        if e is _EMPTY_ELLIPSIS:
            out.append(e)
            continue
        if isinstance(e, tuple) and e[0] == "mask":
            mask = e[1]
            if mask.ndim == 0:
                raise IndexingError("a 0-d boolean index is not supported")
            if mask.shape != tuple(shape[dim:dim + mask.ndim]):
                raise IndexingError(
                    f"boolean index of shape {_fmt(mask.shape)} does not match the indexed "
                    f"axes {_fmt(shape[dim:dim + mask.ndim])} of an array of shape "
                    f"{_fmt(shape)}")
            out += [("array", nz) for nz in np.nonzero(mask)]
        else:
            out.append(e)
        dim += _consumed(e)
    return out


def _normalize_concrete(arr: np.ndarray, n: int) -> np.ndarray:
    """Negative indices count from the end; out-of-range ones are clamped into the axis,
    as JAX's gathers ("out-of-bound indices are clamped to the bounds of the array")."""
    arr = np.where(arr < 0, arr + n, arr)
    return np.clip(arr, 0, max(n - 1, 0)).astype(default_int_dtype())


def _normalize_traced(i, n: int):
    i = lax.convert_element_type(i, default_int_dtype())
    zero = np.zeros((), default_int_dtype())
    shifted = lax.add(i, np.asarray(n, default_int_dtype()))
    return lax.select(lax.lt(i, zero), shifted, i)


def _slice_dim(x, d: int, s: slice):
    n = get_aval(x).shape[d]
    start, stop, step = s.indices(n)
    if (start, stop, step) == (0, n, 1):
        return x
    count = len(range(start, stop, step))
    nd = get_aval(x).ndim
    lo, hi, st = [0] * nd, list(get_aval(x).shape), [1] * nd
    if count == 0:
        lo[d] = hi[d] = 0
        return lax.slice(x, lo, hi)
    last = start + (count - 1) * step
    lo[d], hi[d], st[d] = min(start, last), max(start, last) + 1, abs(step)
    out = lax.slice(x, lo, hi, st)
    return lax.rev(out, (d,)) if step < 0 else out


def _is_advanced(e) -> bool:
    return isinstance(e, tuple) and e[0] == "array"


def getitem(x, idx):
    """``x[idx]`` with NumPy semantics (the implementation of tracers' ``__getitem__``).

    Example:
        >>> x = np.arange(12, dtype=np.float32).reshape(3, 4)
        >>> getitem(x, (slice(None, None, -1), [0, 2])).shape
        (3, 2)
    """
    x = as_array(x)
    entries = _expand(idx, get_aval(x).shape)
    advanced = any(_is_advanced(e) for e in entries)
    if advanced:  # integers take part in advanced indexing (broadcast and placement)
        entries = [("array", np.asarray(e)) if isinstance(e, int) else e for e in entries]
    adv = [k for k, e in enumerate(entries) if _is_advanced(e)]
    contiguous = adv == list(range(adv[0], adv[0] + len(adv))) if adv else True
    entries = [e for e in entries if e is not _EMPTY_ELLIPSIS]
    # None entries become new size-1 axes indexed by a full slice
    new_axes = [k for k, e in enumerate(entries) if e is None]
    if new_axes:
        x = lax.expand_dims(x, new_axes)
        entries = [slice(None) if e is None else e for e in entries]
    squeeze = []
    for d, e in enumerate(entries):
        if isinstance(e, slice):
            x = _slice_dim(x, d, e)
        elif isinstance(e, int):
            n = get_aval(x).shape[d]
            if n == 0:
                raise IndexingError(f"index {e} is out of bounds for axis {d} with size 0")
            e = int(_normalize_concrete(np.asarray(e), n))  # clamped, as JAX's gathers
            x = _slice_dim(x, d, slice(e, e + 1))
            squeeze.append(d)
    if squeeze:
        x = lax.squeeze(x, squeeze)
    if not advanced:
        return x
    return _gather(x, entries, contiguous)


def _gather(x, entries, contiguous: bool):
    shape = get_aval(x).shape
    pos = [d for d, e in enumerate(entries) if _is_advanced(e)]
    arrays = []
    for d in pos:
        a = entries[d][1]
        if isinstance(a, Tracer):
            arrays.append(_normalize_traced(a, shape[d]))
        else:
            arrays.append(_normalize_concrete(a, shape[d]))
    try:
        batch = broadcast_shapes("index", *[get_aval(a).shape for a in arrays])
    except ShapeError:
        raise IndexingError("shape mismatch: indexing arrays could not be broadcast together "
                            "with shapes " + " ".join(_fmt(get_aval(a).shape) for a in arrays)
                            ) from None
    rest = [d for d in range(len(shape)) if d not in pos]
    xt = lax.transpose(x, pos + rest)
    idx = [lax.broadcast_in_dim(broadcast_to_shape(a, batch, "index"), batch + (1,),
                                tuple(range(len(batch)))) for a in arrays]
    idx = lax.concatenate(idx, len(batch)) if len(idx) > 1 else idx[0]
    out = lax.gather_leading(xt, idx)
    if not contiguous or pos[0] == 0:
        return out
    nb, p0 = len(batch), pos[0]
    n_rest = len(rest)
    perm = [nb + i for i in range(p0)] + list(range(nb)) + [nb + i for i in range(p0, n_rest)]
    return lax.transpose(out, perm)


def _fill_default(dtype: np.dtype):
    """JAX's out-of-bounds fill: NaN for inexact dtypes, the most negative signed integer,
    the largest unsigned one, True for booleans."""
    if dtype == np.bool_:
        return True
    if dtype.kind == "i":
        return np.iinfo(dtype).min
    if dtype.kind == "u":
        return np.iinfo(dtype).max
    return np.nan


def _bounded(ind, n: int, mode, op: str):
    """``(safe indices, valid mask or None)`` for ``mode`` (JAX: None/'fill' wraps negative
    indices once and marks the rest out of bounds; 'clip' clamps; 'wrap' takes the
    remainder; 'promise_in_bounds' trusts the caller)."""
    ind = as_array(ind)
    dt = get_aval(ind).dtype
    if dt.kind not in "iu":
        raise IndexingError(f"{op}: indices must be integers, got dtype {dt}")
    if mode == "raise":
        raise NotImplementedError(f"{op}: mode='raise' is not supported (as in JAX); use "
                                  "'fill', 'clip', 'wrap' or 'promise_in_bounds'")
    size = np.asarray(max(n, 1), dt)
    if mode == "wrap":
        return lax.rem(lax.add(lax.rem(ind, size), size), size), None
    if mode == "clip" or mode == "promise_in_bounds":
        hi = np.asarray(max(n - 1, 0), dt)
        return lax.clamp(np.asarray(0, dt), ind, hi), None
    if mode not in (None, "fill"):
        raise IndexingError(f"{op}: invalid mode {mode!r}; use 'fill', 'clip', 'wrap' or "
                            "'promise_in_bounds'")
    if dt.kind == "i":
        ind = lax.select(lax.lt(ind, lax.full_like(ind, 0)), lax.add(ind, np.asarray(n, dt)),
                         ind)
    valid = lax.bitwise_and(lax.ge(ind, lax.full_like(ind, 0)),
                            lax.lt(ind, lax.full_like(ind, n)))
    return lax.select(valid, ind, lax.full_like(ind, 0)), valid


def _fill_invalid(out, valid, first: int, fill_value):
    """``out`` with the positions of ``valid``'s False entries (axes ``first..``) filled."""
    if valid is None:
        return out
    shape, dtype = get_aval(out).shape, get_aval(out).dtype
    vdims = tuple(range(first, first + get_aval(valid).ndim))
    mask = lax.broadcast_in_dim(valid, shape, vdims)
    fill = _fill_default(dtype) if fill_value is None else fill_value
    return lax.select(mask, out, lax.full(shape, np.asarray(fill).astype(dtype), dtype))


def take(a, indices, axis: int | None = None, out=None, mode=None, unique_indices=False,
         indices_are_sorted=False, fill_value=None):
    """Elements of ``a`` at ``indices`` along ``axis`` (of the flattened array if None).

    As in JAX, out-of-bounds indices give ``fill_value`` (NaN for floats) under the default
    ``mode='fill'``; ``mode='clip'`` clamps them and ``mode='wrap'`` wraps them.

    Example:
        >>> take(np.array([[1, 2], [3, 4]], np.int32), [1, 0], axis=1)
        array([[2, 1],
               [4, 3]], dtype=int32)
    """
    del unique_indices, indices_are_sorted
    if out is not None:
        raise ShapeError("take: out= is not supported (arrays are immutable)")
    x = as_array(a)
    if axis is None:
        x = lax.reshape(x, (get_aval(x).size,))
        axis = 0
    ax = canonical_axis(axis, get_aval(x).ndim, "take")
    ind, valid = _bounded(indices, get_aval(x).shape[ax], mode, "take")
    if get_aval(x).shape[ax] == 0 and get_aval(ind).size:
        raise IndexingError("take: cannot do a non-empty take from an empty axis")
    out_ = getitem(x, (slice(None),) * ax + (ind,))
    return _fill_invalid(out_, valid, ax, fill_value)


def take_along_axis(arr, indices, axis: int | None = -1, mode=None, fill_value=None, *,
                    wrap_negative_indices: bool | None = None):
    """Picks ``arr``'s elements at ``indices`` along ``axis``; ``indices`` has ``arr``'s rank
    (the other axes broadcast against each other), as ``jax.numpy.take_along_axis``.

    Out-of-bounds indices follow ``mode``: ``None``/``'fill'`` read ``fill_value``
    (default NaN, the most negative integer...), ``'clip'`` clamps, and ``'one_hot'``
    computes each element as a one-hot contraction along the axis, as JAX does: an
    out-of-bounds index gives 0, and a NaN or infinity anywhere along the axis spreads
    (``0 * inf``). Negative indices count from the end unless
    ``wrap_negative_indices=False`` (default: wrap, except for ``'promise_in_bounds'``).

    Example:
        >>> x = np.array([[10, 30, 20]], np.int32)
        >>> take_along_axis(x, np.array([[1]]), axis=1)
        array([[30]], dtype=int32)
        >>> take_along_axis(np.array([1., 2.], np.float32), np.array([1, 5]), axis=0,
        ...                 mode="one_hot")
        array([2., 0.], dtype=float32)
    """
    x, ind = as_array(arr), as_array(indices)
    if not np.issubdtype(get_aval(ind).dtype, np.integer):
        raise IndexingError(f"take_along_axis: indices must be integers, got "
                            f"{get_aval(ind).str_short()}")
    if axis is None:
        if get_aval(ind).ndim != 1:
            raise IndexingError(f"take_along_axis: indices must be 1-D when axis=None, got "
                                f"shape {_fmt(get_aval(ind).shape)}")
        x, axis = lax.reshape(x, (get_aval(x).size,)), 0
    shape, ishape = get_aval(x).shape, get_aval(ind).shape
    if len(shape) != len(ishape):
        raise IndexingError(f"take_along_axis: indices of shape {_fmt(ishape)} must have the "
                            f"rank of the array, of shape {_fmt(shape)}")
    ax = canonical_axis(axis, len(shape), "take_along_axis")
    n = shape[ax]
    out_shape = broadcast_shapes("take_along_axis", ishape, shape[:ax] + (1,) + shape[ax + 1:])
    if n == 0 or 0 in out_shape:  # nothing to gather (a gather's slices must fit the axes)
        return lax.full(out_shape, 0, get_aval(x).dtype)
    mode_name = mode.name.lower() if isinstance(mode, lax.GatherScatterMode) else mode
    if wrap_negative_indices is None:
        wrap_negative_indices = mode_name != "promise_in_bounds"
    ind = lax.convert_element_type(ind, default_int_dtype())
    if wrap_negative_indices:
        ind = _normalize_traced(ind, n)
    ind = broadcast_to_shape(ind, out_shape, "take_along_axis")
    if mode_name == "one_hot":  # sum_z [ind == z] * x[..., z, ...], as JAX's einsum
        hot = lax.eq(lax.expand_dims(ind, (len(shape),)),
                     lax.broadcasted_iota(get_aval(ind).dtype, (*out_shape, n), len(shape)))
        moved = lax.expand_dims(lax.transpose(x, [d for d in range(len(shape)) if d != ax]
                                              + [ax]), (ax,))
        prod = lax.mul(lax.convert_element_type(hot, get_aval(x).dtype), moved)
        return lax.reduce_sum(prod, (len(shape),))
    x = broadcast_to_shape(x, out_shape[:ax] + (n,) + out_shape[ax + 1:], "take_along_axis")
    others = tuple(d for d in range(len(shape)) if d != ax)
    dn = lax.GatherDimensionNumbers(offset_dims=(), collapsed_slice_dims=(ax,),
                                    start_index_map=(ax,), operand_batching_dims=others,
                                    start_indices_batching_dims=others)
    return lax.gather(x, lax.expand_dims(ind, (len(shape),)), dn, (1,) * len(shape),
                      mode="fill" if mode is None else mode, fill_value=fill_value)


def diagonal(a, offset: int = 0, axis1: int = 0, axis2: int = 1):
    """The ``offset`` diagonal over ``axis1``/``axis2``, as a new last axis (as NumPy).

    Example:
        >>> diagonal(np.arange(9, dtype=np.float32).reshape(3, 3), 1)
        array([1., 5.], dtype=float32)
    """
    x = as_array(a)
    nd = get_aval(x).ndim
    i, j = canonical_axis(axis1, nd, "diagonal"), canonical_axis(axis2, nd, "diagonal")
    if i == j:
        raise ShapeError("diagonal: axis1 and axis2 cannot be the same")
    rest = [d for d in range(nd) if d not in (i, j)]
    x = lax.transpose(x, rest + [i, j])
    n1, n2 = get_aval(x).shape[-2:]
    length = max(0, min(n1 + min(offset, 0), n2 - max(offset, 0)))
    if length == 0 or 0 in get_aval(x).shape:
        return lax.full(get_aval(x).shape[:-2] + (length,), 0, get_aval(x).dtype)
    line = np.arange(length)
    rows, cols = line + max(-offset, 0), line + max(offset, 0)
    return getitem(x, (Ellipsis, rows, cols))


def diag(v, k: int = 0):
    """The ``k``-th diagonal of a 2-D ``v``, or a 2-D array with the 1-D ``v`` on it."""
    x = as_array(v)
    shape = get_aval(x).shape
    if len(shape) == 2:
        return diagonal(x, k)
    if len(shape) != 1:
        raise ShapeError(f"diag: input must be 1-D or 2-D, got shape {_fmt(shape)}")
    n = shape[0] + abs(k)
    padded = lax.pad(x, np.zeros((), get_aval(x).dtype), [(0, abs(k), 0)])
    values = lax.broadcast_in_dim(padded, (n, n), (0,) if k >= 0 else (1,))
    rows = lax.broadcasted_iota(np.int32, (n, n), 0)
    cols = lax.broadcasted_iota(np.int32, (n, n), 1)
    on_diag = lax.eq(lax.add(rows, np.int32(k)), cols)
    return lax.select(on_diag, values, lax.full((n, n), 0, get_aval(x).dtype))
