"""Grids, index helpers, products and spaced values of ``jax.numpy``: ``mgrid``/``ogrid``/
``r_``/``c_``/``ix_``/``indices``/``fromfunction``, the ``*_indices`` helpers,
``unravel_index``/``ravel_multi_index``, ``kron``/``cross``/``vecdot``/``matvec``/
``vecmat``/``vander``, ``logspace``/``geomspace`` and the window functions.
"""

from __future__ import annotations

import builtins
import math as _pymath
import operator

import numpy as np

from .. import lax
from ..core.avals import default_float_dtype, default_int_dtype
from ..core.trace import Tracer, get_aval
from ..errors import FunctraceError, ShapeError
from ._promote import (
    as_array,
    canonical_axis,
    check_dtype,
    convert,
    promote_args,
    promote_dtypes,
)
from .arrange import concatenate
from .creation import arange, linspace
from .indexed_update import IndexUpdateHelper
from .manip import broadcast_arrays, moveaxis, reshape
from .math import cos, multiply, power, where
from .mathx import i0

__all__ = [
    "bartlett",
    "blackman",
    "c_",
    "cross",
    "diag_indices",
    "diag_indices_from",
    "fromfunction",
    "geomspace",
    "hamming",
    "hanning",
    "index_exp",
    "indices",
    "ix_",
    "kaiser",
    "kron",
    "logspace",
    "mask_indices",
    "matvec",
    "mgrid",
    "ogrid",
    "r_",
    "ravel_multi_index",
    "s_",
    "tril_indices",
    "tril_indices_from",
    "triu_indices",
    "triu_indices_from",
    "unravel_index",
    "vander",
    "vecdot",
    "vecmat",
]


s_ = np.s_
index_exp = np.index_exp


def _shape(x) -> tuple[int, ...]:
    return get_aval(x).shape


def _dtype(x) -> np.dtype:
    return get_aval(x).dtype


# ---------------------------------------------------------------------------
# grids and index helpers

class _Grid:
    def __init__(self, sparse: bool):
        self.sparse = sparse

    def __getitem__(self, key):
        keys = key if isinstance(key, tuple) else (key,)
        axes = []
        for k in keys:
            start = 0 if k.start is None else k.start
            step = 1 if k.step is None else k.step
            if isinstance(step, complex):
                axes.append(linspace(start, k.stop, int(abs(step))))
            else:
                axes.append(arange(start, k.stop, step))
        if not isinstance(key, tuple):
            return axes[0]
        nd = len(axes)
        shapes = [tuple(-1 if i == d else 1 for i in range(nd)) for d in range(nd)]
        out = [reshape(a, s) for a, s in zip(axes, shapes, strict=True)]
        if self.sparse:
            return out
        out = broadcast_arrays(*out)
        return lax.concatenate([lax.expand_dims(convert(o, _dtype(out[0])), (0,))
                                for o in out], 0) if len({_dtype(o) for o in out}) == 1 else \
            lax.concatenate([lax.expand_dims(convert(o, default_float_dtype()), (0,))
                             for o in out], 0)


mgrid = _Grid(sparse=False)
ogrid = _Grid(sparse=True)


class _Concatenator:
    """``r_``/``c_`` for plain arrays, slices and scalars (no string directives)."""

    def __init__(self, column: bool):
        self.column = column

    def __getitem__(self, key):
        keys = key if isinstance(key, tuple) else (key,)
        parts = []
        for k in keys:
            if isinstance(k, str):
                raise FunctraceError("r_/c_: string directives are not supported")
            if isinstance(k, slice):
                parts.append(_Grid(False)[k])
            else:
                v = as_array(k)
                parts.append(reshape(v, (1,)) if not _shape(v) else v)
        if self.column:
            parts = [reshape(p, (-1, 1)) if len(_shape(p)) == 1 else p for p in parts]
            return concatenate(parts, axis=1)
        return concatenate(parts, axis=0)


r_ = _Concatenator(column=False)
c_ = _Concatenator(column=True)


def ix_(*args):
    """Open-mesh index arrays: the ``i``-th 1-D input reshaped to broadcast along axis ``i``.

    Example:
        >>> [a.shape for a in ix_(np.array([0, 1]), np.array([2, 3, 4]))]
        [(2, 1), (1, 3)]
    """
    n = len(args)
    out = []
    for i, a in enumerate(args):
        v = as_array(a)
        if len(_shape(v)) != 1:
            raise ShapeError("ix_: each input must be 1-D")
        out.append(reshape(v, tuple(-1 if j == i else 1 for j in range(n))))
    return tuple(out)


def indices(dimensions, dtype=None, sparse: bool = False):
    """Index grids for an array of shape ``dimensions`` (one per axis, stacked unless
    ``sparse``).

    Example:
        >>> indices((2, 2))[1]
        array([[0, 1],
               [0, 1]], dtype=int32)
    """
    dims = tuple(operator.index(d) for d in dimensions)
    dt = np.dtype(dtype) if dtype is not None else default_int_dtype()
    nd = len(dims)
    grids = [lax.broadcasted_iota(dt, tuple(d if j == i else 1 for j, d in enumerate(dims)), i)
             for i in range(nd)]
    if sparse:
        return tuple(grids)
    if not nd:
        return lax.full((0,), 0, dt)
    return lax.concatenate([lax.expand_dims(lax.broadcast_in_dim(
        g, dims, tuple(range(nd))), (0,)) for g in grids], 0)


def fromfunction(function, shape, *, dtype=float, **kwargs):
    """``function(*indices(shape))`` (the index grids as floats by default).

    Example:
        >>> fromfunction(lambda i, j: i + j, (2, 2), dtype=np.int32)
        array([[0, 1],
               [1, 2]], dtype=int32)
    """
    dt = default_float_dtype() if dtype is float else np.dtype(dtype)
    grids = indices(shape, dtype=dt)
    return function(*[grids[i] for i in range(len(tuple(shape)))], **kwargs)


def diag_indices(n: int, ndim: int = 2):
    """The indices of the main diagonal of an ``n``-wide ``ndim``-array.

    Example:
        >>> diag_indices(2)
        (array([0, 1], dtype=int32), array([0, 1], dtype=int32))
    """
    i = np.arange(n, dtype=default_int_dtype())
    return (i,) * ndim


def diag_indices_from(arr):
    """``diag_indices`` for a square ``arr``."""
    shape = _shape(as_array(arr))
    if len(set(shape)) != 1 or len(shape) < 2:
        raise ShapeError("diag_indices_from: all dimensions must be equal (at least 2 of them)")
    return diag_indices(shape[0], len(shape))


def tril_indices(n: int, k: int = 0, m: int | None = None):
    """The indices of the lower triangle (diagonal ``k`` and below) of an ``(n, m)`` array.

    Example:
        >>> tril_indices(2)
        (array([0, 1, 1], dtype=int32), array([0, 0, 1], dtype=int32))
    """
    # NumPy on the static sizes, so the indices stay constants under jit (as in JAX)
    r, c = np.nonzero(np.tri(n, n if m is None else m, k, dtype=bool))
    return r.astype(default_int_dtype()), c.astype(default_int_dtype())


def triu_indices(n: int, k: int = 0, m: int | None = None):
    """The indices of the upper triangle (diagonal ``k`` and above) of an ``(n, m)`` array."""
    r, c = np.nonzero(~np.tri(n, n if m is None else m, k - 1, dtype=bool))
    return r.astype(default_int_dtype()), c.astype(default_int_dtype())


def tril_indices_from(arr, k: int = 0):
    """``tril_indices`` for the shape of the 2-D ``arr``."""
    n, m = _shape(as_array(arr))
    return tril_indices(n, k, m)


def triu_indices_from(arr, k: int = 0):
    """``triu_indices`` for the shape of the 2-D ``arr``."""
    n, m = _shape(as_array(arr))
    return triu_indices(n, k, m)


def mask_indices(n: int, mask_func, k: int = 0, *, size=None):
    """The indices where ``mask_func(ones((n, n)), k)`` is nonzero (e.g. ``triu``)."""
    mask = np.asarray(mask_func(np.ones((n, n), np.int32), k)) != 0
    r, c = np.nonzero(mask)
    return r.astype(default_int_dtype()), c.astype(default_int_dtype())


def unravel_index(indices, shape):
    """The coordinates, in an array of ``shape``, of flat ``indices`` (negative ones count
    from the end; out-of-range ones are clipped, as in JAX).

    Example:
        >>> unravel_index(np.array([5, -1], np.int32), (2, 3))
        (array([1, 1], dtype=int32), array([2, 2], dtype=int32))
    """
    idx = as_array(indices)
    dt = _dtype(idx)
    shape = (shape,) if np.ndim(shape) == 0 else tuple(shape)  # an int shape, as JAX
    total = int(np.prod(shape, dtype=np.int64))
    idx = where(idx < 0, lax.add(idx, np.asarray(total, dt)), idx)
    idx = lax.clamp(np.asarray(0, dt), idx, np.asarray(builtins.max(total - 1, 0), dt))
    out = []
    for d in reversed(tuple(shape)):
        out.append(lax.rem(idx, np.asarray(d, dt)))
        idx = lax.div(idx, np.asarray(d, dt))
    return tuple(out[::-1])


def ravel_multi_index(multi_index, dims, mode: str = "raise", order: str = "C", *,
                      dtype=None):
    """The flat indices of the coordinate arrays ``multi_index`` in an array of ``dims``
    (``mode='clip'`` or ``'wrap'`` for out-of-range coordinates; ``'raise'`` checks
    concrete values), of integer ``dtype`` (default: the default integer dtype).

    Example:
        >>> ravel_multi_index((np.array([1, 0]), np.array([2, 1])), (2, 3))
        array([5, 1], dtype=int32)
    """
    if order != "C":
        raise FunctraceError("ravel_multi_index: only order='C' is supported")
    coords = [as_array(c) for c in multi_index]
    if len(coords) != len(dims):
        raise ShapeError("ravel_multi_index: one coordinate array per dimension is needed")
    coords = broadcast_arrays(*coords)
    out = None
    idx_dtype = default_int_dtype() if dtype is None else check_dtype(dtype)
    for c, d in zip(coords, dims, strict=True):
        c = convert(c, idx_dtype)
        d_ = np.asarray(d, idx_dtype)
        if mode == "clip":
            c = lax.clamp(np.asarray(0, _dtype(c)), c, np.asarray(d - 1, _dtype(c)))
        elif mode == "wrap":
            c = lax.rem(lax.add(lax.rem(c, d_), d_), d_)
        elif not isinstance(c, Tracer) and (np.any(np.asarray(c) < 0) or np.any(
                np.asarray(c) >= d)):
            raise ShapeError("ravel_multi_index: invalid entry in coordinates array")
        out = c if out is None else lax.add(lax.mul(out, d_), c)
    return out


# ---------------------------------------------------------------------------
# products

def kron(a, b):
    """The Kronecker product: blocks ``a[i, j] * b``.

    Example:
        >>> kron(np.array([1, 2], np.int32), np.array([1, 10], np.int32))
        array([ 1, 10,  2, 20], dtype=int32)
    """
    x, y = (as_array(t) for t in promote_dtypes(a, b, op="kron"))  # Python scalars: weak
    nd = builtins.max(len(_shape(x)), len(_shape(y)))
    x = reshape(x, (1,) * (nd - len(_shape(x))) + _shape(x))
    y = reshape(y, (1,) * (nd - len(_shape(y))) + _shape(y))
    sx, sy = _shape(x), _shape(y)
    big = tuple(d for pair in zip(sx, sy, strict=True) for d in pair)
    xe = lax.broadcast_in_dim(x, big, tuple(range(0, 2 * nd, 2)))
    ye = lax.broadcast_in_dim(y, big, tuple(range(1, 2 * nd, 2)))
    return reshape(lax.mul(xe, ye), tuple(p * q for p, q in zip(sx, sy, strict=True)))


def cross(a, b, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis: int | None = None):
    """The cross product of 3-vectors (or the z-component for 2-vectors) along the given
    axes.

    Example:
        >>> cross(np.array([1., 0., 0.], np.float32), np.array([0., 1., 0.], np.float32))
        array([0., 0., 1.], dtype=float32)
    """
    if axis is not None:
        axisa = axisb = axisc = axis
    x, y = promote_args("cross", as_array(a), as_array(b), broadcast=False)
    x = moveaxis(x, axisa, -1)
    y = moveaxis(y, axisb, -1)
    nx, ny = _shape(x)[-1], _shape(y)[-1]
    if nx not in (2, 3) or ny not in (2, 3):
        raise ShapeError("cross: the vectors must have 2 or 3 components")

    def comp(v, i, n):
        if i >= n:
            return lax.full(_shape(v)[:-1], 0, _dtype(v))
        return lax.reshape(lax.slice_in_dim(v, i, i + 1, axis=len(_shape(v)) - 1),
                           _shape(v)[:-1])

    x0, x1, x2 = (comp(x, i, nx) for i in range(3))
    y0, y1, y2 = (comp(y, i, ny) for i in range(3))
    x0, x1, x2, y0, y1, y2 = broadcast_arrays(x0, x1, x2, y0, y1, y2)
    z = lax.sub(lax.mul(x0, y1), lax.mul(x1, y0))
    if nx == 2 and ny == 2:
        return z
    cx = lax.sub(lax.mul(x1, y2), lax.mul(x2, y1))
    cy = lax.sub(lax.mul(x2, y0), lax.mul(x0, y2))
    out = lax.stack([cx, cy, z], -1)
    return moveaxis(out, -1, axisc)


def vecdot(x1, x2, /, *, axis: int = -1, precision=None, preferred_element_type=None):
    """``sum(conj(x1) * x2, axis)`` with broadcasting (the array API's vector dot).

    Example:
        >>> vecdot(np.array([1., 2.], np.float32), np.array([3., 4.], np.float32))
        array(11., dtype=float32)
    """
    a, b = promote_args("vecdot", x1, x2)
    nd = len(_shape(a))
    ax = canonical_axis(axis, nd, "vecdot")
    if _dtype(a).kind == "c":
        a = lax.conj(a)
    return lax.reduce_sum(lax.mul(a, b), (ax,))


def matvec(x1, x2, /):
    """``x1 @ x2`` for stacks of matrices ``(..., m, n)`` and vectors ``(..., n)``.

    Example:
        >>> matvec(np.eye(2, dtype=np.float32), np.array([1., 2.], np.float32))
        array([1., 2.], dtype=float32)
    """
    m, v = as_array(x1), as_array(x2)
    return vecdot(m, lax.expand_dims(v, (len(_shape(v)) - 1,)) if _shape(v) else v, axis=-1) \
        if _dtype(m).kind != "c" else vecdot(lax.conj(m), lax.expand_dims(
            v, (len(_shape(v)) - 1,)), axis=-1)


def vecmat(x1, x2, /):
    """``conj(x1) @ x2`` for stacks of vectors ``(..., m)`` and matrices ``(..., m, n)``.

    Example:
        >>> vecmat(np.array([1., 2.], np.float32), np.eye(2, dtype=np.float32))
        array([1., 2.], dtype=float32)
    """
    v, m = as_array(x1), as_array(x2)
    return vecdot(lax.expand_dims(v, (len(_shape(v)),)), m, axis=-2)


def vander(x, N: int | None = None, increasing: bool = False):  # noqa: N803
    """The Vandermonde matrix: columns are powers of ``x`` (decreasing by default).

    Example:
        >>> vander(np.array([1, 2, 3], np.int32), 3)
        array([[1, 1, 1],
               [4, 2, 1],
               [9, 3, 1]], dtype=int32)
    """
    v = as_array(x)
    if len(_shape(v)) != 1:
        raise ShapeError("vander: x must be 1-D")
    n = _shape(v)[0] if N is None else operator.index(N)
    powers = np.arange(n) if increasing else np.arange(n)[::-1]
    cols = [lax.integer_pow(v, int(p)) if p else lax.full_like(v, 1) for p in powers]
    if not cols:
        return lax.full((_shape(v)[0], 0), 0, _dtype(v))
    return lax.stack(cols, 1)


# ---------------------------------------------------------------------------
# spaces and windows

def logspace(start, stop, num: int = 50, endpoint: bool = True, base=10.0, dtype=None,
             axis: int = 0):
    """``base ** linspace(start, stop, num)``.

    Example:
        >>> logspace(0., 2., 3)
        array([  1.,  10., 100.], dtype=float32)
    """
    if dtype is not None:  # JAX computes in (the inexact version of) dtype, then casts
        comp = check_dtype(dtype)
        comp = comp if comp.kind in "fc" else default_float_dtype()
        start, stop = convert(as_array(start), comp), convert(as_array(stop), comp)
    exps = linspace(start, stop, num, endpoint=endpoint, axis=axis)
    out = power(convert(as_array(base), _dtype(exps)), exps)
    return convert(out, dtype) if dtype is not None else out


def geomspace(start, stop, num: int = 50, endpoint: bool = True, dtype=None, axis: int = 0):
    """``num`` values spaced evenly on a log scale from ``start`` to ``stop`` (same sign).

    Example:
        >>> geomspace(1., 1000., 4).round(3)
        array([   1.,   10.,  100., 1000.], dtype=float32)
    """
    s, e = promote_args("geomspace", start, stop, inexact=True)
    sign = lax.sign(s)
    ls, le = lax.log(lax.abs(s)), lax.log(lax.abs(e))
    out = lax.exp(linspace(ls, le, num, endpoint=endpoint))  # samples on axis 0 first
    out = multiply(out, sign)
    # the ends are exact, as NumPy's
    if num > 0 and not isinstance(s, Tracer) and not isinstance(e, Tracer):
        out = IndexUpdateHelper(out)[0].set(s)
        if endpoint and num > 1:
            out = IndexUpdateHelper(out)[num - 1].set(e)
    out = moveaxis(out, 0, axis)
    return convert(out, dtype) if dtype is not None else out


def _window(name: str, coeffs):
    def fn(M: int):  # noqa: N803
        m = operator.index(M)
        if m < 1:
            return lax.full((0,), 0, default_float_dtype())
        if m == 1:
            return lax.full((1,), 1, default_float_dtype())
        n = arange(0, m, dtype=default_float_dtype())
        out = lax.full((m,), 0, default_float_dtype())
        for k, c in enumerate(coeffs):
            term = cos(lax.mul(n, np.asarray(2 * _pymath.pi * k / (m - 1),
                                             default_float_dtype())))
            out = lax.add(out, lax.mul(term, np.asarray(c, default_float_dtype())))
        return out

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"The {name} window of ``M`` points (NumPy's formula)."
    return fn


hanning = _window("hanning", (0.5, -0.5))
hamming = _window("hamming", (0.54, -0.46))
blackman = _window("blackman", (0.42, -0.5, 0.08))


def bartlett(M: int):  # noqa: N803
    """The triangular Bartlett window of ``M`` points.

    Example:
        >>> bartlett(5)
        array([0. , 0.5, 1. , 0.5, 0. ], dtype=float32)
    """
    m = operator.index(M)
    if m < 1:
        return lax.full((0,), 0, default_float_dtype())
    if m == 1:
        return lax.full((1,), 1, default_float_dtype())
    n = arange(0, m, dtype=default_float_dtype())
    half = (m - 1) / 2.0
    return lax.sub(np.asarray(1, default_float_dtype()),
                   lax.abs(lax.div(lax.sub(n, np.asarray(half, default_float_dtype())),
                                   np.asarray(half, default_float_dtype()))))


def kaiser(M: int, beta):  # noqa: N803
    """The Kaiser window of ``M`` points, ``i0(beta sqrt(1 - (2n/(M-1) - 1)^2)) / i0(beta)``.

    Example:
        >>> kaiser(3, 0.0)
        array([1., 1., 1.], dtype=float32)
    """
    m = operator.index(M)
    if m < 1:
        return lax.full((0,), 0, default_float_dtype())
    if m == 1:
        return lax.full((1,), 1, default_float_dtype())
    (b,) = promote_args("kaiser", as_array(beta), inexact=True)
    n = arange(m, dtype=get_aval(b).dtype)
    alpha = (m - 1) / 2.0
    ratio = (n - alpha) / alpha
    return i0(b * lax.sqrt(1.0 - ratio * ratio)) / i0(b)
