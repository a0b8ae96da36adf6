"""``pad``'s non-constant modes (NumPy's and JAX's ``edge``, ``wrap``, ``reflect``,
``symmetric``, ``linear_ramp``, ``maximum``, ``minimum``, ``mean``, ``median``, ``empty``).

As in NumPy, the axes are padded one after the other, each from the array already padded
along the earlier axes (so the corners match NumPy's). The index modes gather with a
static index per axis; the others concatenate computed edge blocks.
"""

from __future__ import annotations

import numpy as np

from .. import lax
from ..core.trace import get_aval
from ..errors import FunctraceError, ShapeError
from ._promote import as_array, convert
from .indexing import getitem
from .reductions import max as _max
from .reductions import mean as _mean
from .reductions import min as _min
from .statistics import median as _median

INDEX_MODES = ("edge", "wrap", "reflect", "symmetric")
STAT_MODES = ("maximum", "minimum", "mean", "median")


def _source_index(mode: str, n: int, lo: int, hi: int) -> np.ndarray:
    """For each position of the padded axis, the source index along the original axis."""
    i = np.arange(-lo, n + hi)
    if mode == "edge":
        return np.clip(i, 0, n - 1)
    if mode == "wrap":
        return np.mod(i, n)
    if mode == "reflect":  # mirror without repeating the edge: period 2n - 2
        if n == 1:
            return np.zeros_like(i)
        j = np.mod(i, 2 * n - 2)
        return np.where(j < n, j, 2 * n - 2 - j)
    j = np.mod(i, 2 * n)  # symmetric: mirror repeating the edge, period 2n
    return np.where(j < n, j, 2 * n - 1 - j)


def _take(x, ax: int, idx):
    return getitem(x, (slice(None),) * ax + (np.asarray(idx),))


def _concat(parts, ax: int):
    parts = [p for p in parts if get_aval(p).shape[ax]]
    return parts[0] if len(parts) == 1 else lax.concatenate(parts, ax)


def _index_axis(x, ax: int, lo: int, hi: int, mode: str, reflect_type: str):
    n = get_aval(x).shape[ax]
    idx = _source_index(mode, n, lo, hi)
    out = _take(x, ax, idx)
    if reflect_type != "odd" or mode not in ("reflect", "symmetric"):
        return out
    if lo > n - 1 + (mode == "symmetric") or hi > n - 1 + (mode == "symmetric"):
        raise FunctraceError("pad: reflect_type='odd' with a pad wider than the array is not "
                             "supported; pad in several steps")
    # odd reflection: 2 * edge - mirrored value on each side
    first, last = _take(x, ax, [0] * lo), _take(x, ax, [n - 1] * hi)
    middle = _take(out, ax, np.arange(lo, lo + n))
    left = lax.sub(lax.add(first, first), _take(out, ax, np.arange(lo)))
    right = lax.sub(lax.add(last, last), _take(out, ax, np.arange(lo + n, lo + n + hi)))
    return _concat([left, middle, right], ax)


def _ramp(edge, end, width: int, ax: int, reverse: bool):
    """``width`` entries going linearly from ``end`` towards ``edge`` (``edge`` excluded)."""
    shape = list(get_aval(edge).shape)
    shape[ax] = width
    frac = np.arange(width, dtype=np.float64) / max(width, 1)
    if reverse:
        frac = frac[::-1]
    dt = get_aval(edge).dtype
    work = dt if dt.kind in "fc" else np.dtype(np.float64)
    f = lax.broadcast_in_dim(np.asarray(frac, work), tuple(shape), (ax,))
    e = lax.broadcast_in_dim(convert(edge, work), tuple(shape), tuple(range(len(shape))))
    end_ = np.asarray(end, work)
    vals = lax.add(lax.mul(lax.sub(e, end_), f), end_)
    if dt.kind in "iu":  # integers round down, as linspace(dtype=int) in NumPy and JAX
        vals = lax.floor(vals)
    return convert(vals, dt)


def _ramp_axis(x, ax: int, lo: int, hi: int, end_values):
    n = get_aval(x).shape[ax]
    first, last = _take(x, ax, [0]), _take(x, ax, [n - 1])
    left = _ramp(first, end_values[0], lo, ax, reverse=False)
    right = _ramp(last, end_values[1], hi, ax, reverse=True)
    return _concat([left, x, right], ax)


def _stat(x, ax: int, mode: str):
    if mode == "maximum":
        return _max(x, axis=ax, keepdims=True)
    if mode == "minimum":
        return _min(x, axis=ax, keepdims=True)
    dt = get_aval(x).dtype
    stat = _median if mode == "median" else _mean
    m = stat(x, axis=ax, keepdims=True)
    if dt.kind in "iu":  # NumPy rounds the mean (median) of integers
        m = lax.round(m, lax.RoundingMethod.TO_NEAREST_EVEN)
    return convert(m, dt)


def _stat_axis(x, ax: int, lo: int, hi: int, mode: str, stat_length):
    n = get_aval(x).shape[ax]
    blocks = []
    for side, width in ((0, lo), (1, hi)):
        length = n if stat_length is None else max(1, min(int(stat_length[side]), n))
        src = np.arange(length) if side == 0 else np.arange(n - length, n)
        s = _stat(_take(x, ax, src), ax, mode)
        shape = list(get_aval(x).shape)
        shape[ax] = width
        blocks.append(lax.broadcast_in_dim(lax.squeeze(s, (ax,)), tuple(shape),
                                           tuple(d for d in range(len(shape)) if d != ax)))
    return _concat([blocks[0], x, blocks[1]], ax)


def _pairs(value, nd: int, name: str):
    try:
        return np.broadcast_to(np.asarray(value, dtype=object), (nd, 2))
    except ValueError:
        raise ShapeError(f"pad: {name}={value!r} does not fit an array of rank {nd}") from None


def pad_mode(x, pw: np.ndarray, mode: str, *, reflect_type: str = "even",
             end_values=0, stat_length=None):
    """``x`` padded by ``pw`` (one (before, after) pair per axis) with a non-constant
    ``mode``."""
    x = as_array(x)
    shape = get_aval(x).shape
    nd = len(shape)
    if mode == "empty":  # the values are unspecified; zeros, as JAX
        return lax.pad(x, np.zeros((), get_aval(x).dtype),
                       [(int(lo), int(hi), 0) for lo, hi in pw])
    if mode not in INDEX_MODES + STAT_MODES + ("linear_ramp",):
        raise FunctraceError(f"pad: unknown mode {mode!r}; use 'constant', 'edge', 'wrap', "
                             "'reflect', 'symmetric', 'linear_ramp', 'maximum', 'minimum', "
                             "'mean', 'median' or 'empty'")
    if reflect_type not in ("even", "odd"):
        raise ShapeError(f"pad: reflect_type must be 'even' or 'odd', got {reflect_type!r}")
    ends = _pairs(end_values, nd, "end_values")
    stats = None if stat_length is None else _pairs(stat_length, nd, "stat_length")
    for ax in range(nd):
        lo, hi = int(pw[ax, 0]), int(pw[ax, 1])
        if lo == 0 and hi == 0:
            continue
        if get_aval(x).shape[ax] == 0:
            raise ShapeError(f"pad: can't extend empty axis {ax} using modes other than "
                             "'constant' or 'empty'")
        if mode in INDEX_MODES:
            x = _index_axis(x, ax, lo, hi, mode, reflect_type)
        elif mode == "linear_ramp":
            x = _ramp_axis(x, ax, lo, hi, ends[ax])
        else:
            x = _stat_axis(x, ax, lo, hi, mode, None if stats is None else stats[ax])
    return x
