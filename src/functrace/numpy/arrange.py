"""Joining, splitting, padding, flipping, tiling, repeating and rolling arrays; ``tril``
and ``triu``. Built on ``lax.concatenate``, ``lax.slice``, ``lax.pad`` and ``lax.rev``.
"""

from __future__ import annotations

import operator

import numpy as np

from .. import lax
from ..core.trace import Tracer, concrete_or_none, get_aval
from ..errors import FunctraceError, ShapeError, no_sharding
from ._promote import (
    _fmt,
    as_array,
    as_operand,
    canonical_axes,
    canonical_axis,
    check_dtype,
    convert,
    promote_dtypes,
)
from .creation import tri_mask
from .manip import (
    _shape,
    _static_ints,
    atleast_1d,
    atleast_2d,
    atleast_3d,
    moveaxis,
    ndim,
    ravel,
    reshape,
)
from .math import where
from .padding import pad_mode

# ---------------------------------------------------------------------------
# joining

def concatenate(arrays, axis: int | None = 0, dtype=None):
    """Joins ``arrays`` along an existing ``axis`` (flattened first if ``axis`` is None).

    Example:
        >>> concatenate([np.zeros(2, np.float32), np.ones(1, np.float32)]).shape
        (3,)
    """
    xs = [as_array(a) for a in arrays]
    if not xs:
        raise ShapeError("concatenate: need at least one array to concatenate")
    if axis is None:
        xs = [ravel(x) for x in xs]
        axis = 0
    xs = promote_dtypes(*xs)
    if dtype is not None:
        xs = [convert(x, check_dtype(dtype)) for x in xs]
    shapes = [_shape(x) for x in xs]
    if any(len(s) == 0 for s in shapes):
        raise ShapeError("concatenate: zero-dimensional arrays cannot be concatenated")
    ax = canonical_axis(axis, len(shapes[0]), "concatenate")
    for s in shapes:
        if len(s) != len(shapes[0]) or s[:ax] + s[ax + 1:] != shapes[0][:ax] + shapes[0][ax + 1:]:
            raise ShapeError(f"concatenate: all the input array dimensions except for the "
                             f"concatenation axis {ax} must match exactly, got shapes "
                             + " ".join(_fmt(t) for t in shapes))
    return lax.concatenate(xs, ax)


def stack(arrays, axis: int = 0, out=None, dtype=None):
    """Joins ``arrays`` (all of one shape) along a new ``axis`` (``out`` must be None).

    Example:
        >>> stack([np.zeros(2, np.float32), np.ones(2, np.float32)], axis=1).shape
        (2, 2)
    """
    no_sharding("stack", out=out)
    xs = [as_array(a) for a in arrays]
    if not xs:
        raise ShapeError("stack: need at least one array to stack")
    shapes = {_shape(x) for x in xs}
    if len(shapes) != 1:
        raise ShapeError("stack: all input arrays must have the same shape, got "
                         + " ".join(_fmt(_shape(x)) for x in xs))
    ax = canonical_axis(axis, len(_shape(xs[0])) + 1, "stack")
    return concatenate([lax.expand_dims(x, (ax,)) for x in xs], ax, dtype)


def hstack(tup, dtype=None):
    """Joins along the second axis (the first for 1-D inputs)."""
    xs = [atleast_1d(x) for x in tup]
    return concatenate(xs, 0 if all(ndim(x) == 1 for x in xs) else 1, dtype)


def vstack(tup, dtype=None):
    """Joins along the first axis, after making the inputs at least 2-D."""
    return concatenate([atleast_2d(x) for x in tup], 0, dtype)


row_stack = vstack


def dstack(tup, dtype=None):
    """Joins along the third axis, after making the inputs at least 3-D."""
    return concatenate([atleast_3d(x) for x in tup], 2, dtype)


def column_stack(tup):
    """Stacks 1-D arrays as columns of a 2-D array."""
    xs = [reshape(x, (-1, 1)) if ndim(x) < 2 else as_array(x) for x in tup]
    return concatenate(xs, 1)


# ---------------------------------------------------------------------------
# splitting

def _slice_axis(x, axis: int, start: int, stop: int, step: int = 1):
    s = _shape(x)
    starts = [0] * len(s)
    limits = list(s)
    strides = [1] * len(s)
    starts[axis], limits[axis], strides[axis] = start, max(stop, start), step
    return lax.slice(x, starts, limits, strides)


def _split(name: str, ary, indices_or_sections, axis: int, equal: bool) -> list:
    x = as_array(ary)
    ax = canonical_axis(axis, len(_shape(x)), name)
    n = _shape(x)[ax]
    if isinstance(indices_or_sections, int | np.integer):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ShapeError(f"{name}: number of sections must be larger than 0")
        if equal and n % sections:
            raise ShapeError(f"{name}: array split does not result in an equal division "
                             f"({n} elements along axis {ax} into {sections} sections)")
        each, extra = divmod(n, sections)
        sizes = [each + 1] * extra + [each] * (sections - extra)
        bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
    else:
        idx = _static_ints(indices_or_sections, name)
        bounds = [0] + [slice(i).indices(n)[1] for i in idx] + [n]
    return [_slice_axis(x, ax, bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]



def split(ary, indices_or_sections, axis: int = 0) -> list:
    """Splits ``ary`` into equal sections, or at the given indices, along ``axis``.

    Example:
        >>> [p.shape for p in split(np.zeros(6, np.float32), [2, 3])]
        [(2,), (1,), (3,)]
    """
    return _split("split", ary, indices_or_sections, axis, equal=True)


def array_split(ary, indices_or_sections, axis: int = 0) -> list:
    """Like ``split``, but the sections may differ in size by one."""
    return _split("array_split", ary, indices_or_sections, axis, equal=False)


def hsplit(ary, indices_or_sections) -> list:
    """``split`` along the second axis (the first for 1-D arrays)."""
    return split(ary, indices_or_sections, 1 if ndim(ary) > 1 else 0)


def vsplit(ary, indices_or_sections) -> list:
    """``split`` along the first axis."""
    return split(ary, indices_or_sections, 0)


# ---------------------------------------------------------------------------
# padding, flipping, tiling

def _pad_width(pad_width, nd: int) -> np.ndarray:
    pw = np.asarray([operator.index(v) for v in np.ravel(pad_width)], np.int64).reshape(
        np.shape(pad_width))
    try:
        pw = np.broadcast_to(pw, (nd, 2))
    except ValueError:
        raise ShapeError(f"pad: pad_width {pad_width!r} does not fit an array of rank {nd}; "
                         "pass an int, (before, after) or one (before, after) per axis") from None
    if (pw < 0).any():
        raise ShapeError(f"pad: pad_width must be non-negative, got {pad_width!r}")
    return pw


def pad(array, pad_width, mode: str = "constant", constant_values=0, *,
        reflect_type: str = "even", end_values=0, stat_length=None):
    """Pads ``array`` by ``pad_width`` with ``mode`` (NumPy's modes: ``'constant'`` with
    ``constant_values``, ``'edge'``, ``'wrap'``, ``'reflect'``/``'symmetric'`` (with
    ``reflect_type``), ``'linear_ramp'`` (to ``end_values``), ``'maximum'``,
    ``'minimum'``, ``'mean'`` (over ``stat_length`` entries) and ``'empty'``).

    ``pad_width`` takes NumPy's forms: ``n``, ``(before, after)`` or one pair per axis.

    Example:
        >>> pad(np.ones((1, 2), np.float32), 1).shape
        (3, 4)
        >>> pad(np.array([1, 2, 3], np.int32), 2, mode="reflect")
        array([3, 2, 1, 2, 3, 2, 1], dtype=int32)
    """
    if mode != "constant":
        x = as_array(array)
        return pad_mode(x, _pad_width(pad_width, len(_shape(x))), mode,
                        reflect_type=reflect_type, end_values=end_values,
                        stat_length=stat_length)
    x = as_array(array)
    nd = len(_shape(x))
    pw = _pad_width(pad_width, nd)
    dt = get_aval(x).dtype
    if isinstance(constant_values, Tracer) or np.ndim(constant_values) == 0:
        value = convert(as_operand(constant_values), dt)
        return lax.pad(x, value, [(int(lo), int(hi), 0) for lo, hi in pw])
    values = np.broadcast_to(np.asarray(constant_values), (nd, 2)).astype(dt)
    for ax in range(nd):
        for side in (0, 1):
            config = [(0, 0, 0)] * nd
            config[ax] = (int(pw[ax, 0]), 0, 0) if side == 0 else (0, int(pw[ax, 1]), 0)
            x = lax.pad(x, values[ax, side], config)
    return x


def flip(m, axis=None):
    """``m`` with the order of elements reversed along ``axis`` (all axes if None)."""
    x = as_array(m)
    return lax.rev(x, canonical_axes(axis, len(_shape(x)), "flip"))


def fliplr(m):
    """Reverses the second axis."""
    return flip(m, 1)


def flipud(m):
    """Reverses the first axis."""
    return flip(m, 0)


def tile(A, reps):
    """``A`` repeated ``reps`` times along each axis.

    Example:
        >>> tile(np.array([1, 2], np.int32), 2)
        array([1, 2, 1, 2], dtype=int32)
    """
    x = as_array(A)
    reps = _static_ints(reps, "tile")
    s = _shape(x)
    nd = max(len(s), len(reps))
    s = (1,) * (nd - len(s)) + s
    reps = (1,) * (nd - len(reps)) + reps
    x = lax.reshape(x, s)
    inter = tuple(v for pair in zip(reps, s, strict=True) for v in pair)
    x = lax.broadcast_in_dim(x, inter, tuple(range(1, 2 * nd, 2)))
    return lax.reshape(x, tuple(r * d for r, d in zip(reps, s, strict=True)))


def repeat(a, repeats, axis: int | None = None, *, total_repeat_length=None,
           out_sharding=None):
    """Repeats each element of ``a`` ``repeats`` times along ``axis`` (flattened if None).

    ``repeats`` is an int or a concrete array with one count per element. With
    ``total_repeat_length``, the result has exactly that length along ``axis``, as in JAX:
    extra repeats are dropped, and a shortfall is filled with the last element of ``a``.

    Example:
        >>> repeat(np.array([1, 2], np.int32), 2)
        array([1, 1, 2, 2], dtype=int32)
    """
    no_sharding("repeat", out_sharding=out_sharding)
    x = as_array(a)
    if axis is None:
        x, axis = ravel(x), 0
    s = _shape(x)
    ax = canonical_axis(axis, len(s), "repeat")
    reps = concrete_or_none(repeats)
    if reps is None and total_repeat_length is not None:  # traced counts, static length
        idx = _traced_total_length_indices(repeats, s[ax], int(total_repeat_length))
        out = lax.gather_leading(moveaxis(x, ax, 0), lax.expand_dims(idx, (1,)))
        return moveaxis(out, 0, ax)
    if reps is None:
        raise FunctraceError("repeat: repeats must be concrete (it decides the result's "
                             "shape), or pass a static total_repeat_length")
    if total_repeat_length is not None:
        idx = _total_length_indices(np.broadcast_to(np.asarray(reps, np.int64), (s[ax],)),
                                    int(total_repeat_length))
        out = lax.gather_leading(moveaxis(x, ax, 0), idx[:, None])
        return moveaxis(out, 0, ax)
    if np.ndim(reps) == 0 or np.size(reps) == 1:
        r = int(np.ravel(reps)[0])
        expanded = s[:ax + 1] + (r,) + s[ax + 1:]
        dims = tuple(i for i in range(len(s) + 1) if i != ax + 1)
        y = lax.broadcast_in_dim(x, expanded, dims)
        return lax.reshape(y, s[:ax] + (s[ax] * r,) + s[ax + 1:])
    idx = np.repeat(np.arange(s[ax]), np.broadcast_to(reps, (s[ax],)))
    moved = moveaxis(x, ax, 0)
    out = lax.gather_leading(moved, idx.astype(np.int32)[:, None])
    return moveaxis(out, 0, ax)


def _total_length_indices(reps: np.ndarray, total: int) -> np.ndarray:
    """JAX's gather indices for ``repeat(..., total_repeat_length=total)``: position ``p``
    takes the last element whose block starts at or before ``p``."""
    starts = np.concatenate([[0], np.cumsum(reps)[:-1]]) if reps.size else reps
    return (np.searchsorted(starts, np.arange(total), side="right") - 1).astype(np.int32)


def _traced_total_length_indices(repeats, n: int, total: int):
    """``_total_length_indices`` for traced counts: position ``p`` takes the number of
    blocks starting at or before ``p``, minus one."""
    reps = lax.convert_element_type(as_array(repeats), np.int32)
    reps = lax.broadcast_in_dim(reps, (n,), ()) if get_aval(reps).shape == () else reps
    starts = lax.sub(lax.cumsum(reps, 0), reps)
    pos = lax.broadcasted_iota(np.int32, (total, n), 0)
    begun = lax.le(lax.broadcast_in_dim(starts, (total, n), (1,)), pos)
    count = lax.reduce_sum(lax.convert_element_type(begun, np.int32), (1,))
    return lax.sub(count, np.ones((), np.int32))


def roll(a, shift, axis=None):
    """Rolls the elements of ``a`` by ``shift`` positions along ``axis`` (flattened if None)."""
    x = as_array(a)
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), _shape(x))
    shifts = _static_ints(shift, "roll")
    axes = _static_ints(axis, "roll")
    if len(shifts) == 1 and len(axes) > 1:
        shifts = shifts * len(axes)
    for sh, ax in zip(shifts, axes, strict=True):
        ax = canonical_axis(ax, len(_shape(x)), "roll")
        n = _shape(x)[ax]
        k = sh % n if n else 0
        if k:
            x = lax.concatenate([_slice_axis(x, ax, n - k, n), _slice_axis(x, ax, 0, n - k)], ax)
    return x


def _tri_select(m, k: int, lower: bool):
    x = as_array(m)
    s = _shape(x)
    if len(s) < 2:
        raise ShapeError(f"{'tril' if lower else 'triu'}: input must be at least 2-D, got shape "
                         f"{_fmt(s)}")
    mask = tri_mask(s[-2], s[-1], k if lower else k - 1)
    if not lower:
        mask = lax.bitwise_not(mask)
    zero = np.zeros((), get_aval(x).dtype)
    return where(mask, x, zero)


def tril(m, k: int = 0):
    """``m`` with the entries above the ``k``-th diagonal zeroed."""
    return _tri_select(m, k, lower=True)


def triu(m, k: int = 0):
    """``m`` with the entries below the ``k``-th diagonal zeroed."""
    return _tri_select(m, k, lower=False)
