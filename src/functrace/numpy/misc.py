"""``jax.numpy``'s remaining small names: dtype aliases, ``can_cast``/``isdtype``, NumPy's
print options and ``array_repr``/``array_str``, host I/O (``load``, ``save``, ``savez``,
``frombuffer``, ``fromstring``, ``fromiter``, ``fromfile``), ``einsum_path``,
``packbits``/``unpackbits`` and ``histogram2d``/``histogramdd``.
"""

from __future__ import annotations

import builtins
import operator

import numpy as np

from .. import lax
from ..core.avals import default_float_dtype, default_int_dtype
from ..core.trace import get_aval
from ..errors import FunctraceError, ShapeError
from ._promote import as_array, canonical_axis, convert
from .creation import asarray
from .manip import moveaxis, ravel, reshape
from .numerics import histogram_bin_edges
from .sorting import bincount, searchsorted

__all__ = [
    "ComplexWarning", "array_repr", "array_str", "can_cast", "cdouble", "character",
    "complex_", "csingle", "double", "einsum_path", "flexible", "float_", "frombuffer",
    "fromfile", "fromiter", "fromstring", "get_printoptions", "histogram2d", "histogramdd",
    "int_", "isdtype", "load", "object_", "packbits", "printoptions", "save", "savez",
    "set_printoptions", "single", "uint", "unpackbits",
]

# dtype names (jax.numpy's: the 64-bit ones become 32-bit arrays unless x64 is enabled)
float_ = double = np.float64
single = np.float32
complex_ = cdouble = np.complex128
csingle = np.complex64
int_ = np.int64
uint = np.uint64
object_ = np.object_
flexible = np.flexible
character = np.character
ComplexWarning = np.exceptions.ComplexWarning

# NumPy's printing and host I/O, unchanged (they act on host values)
can_cast = np.can_cast
get_printoptions = np.get_printoptions
set_printoptions = np.set_printoptions
printoptions = np.printoptions
array_repr = np.array_repr
array_str = np.array_str
save = np.save
savez = np.savez


def isdtype(dtype, kind) -> bool:
    """Whether ``dtype`` is of ``kind`` (the array API: ``'bool'``, ``'signed integer'``,
    ``'unsigned integer'``, ``'integral'``, ``'real floating'``, ``'complex floating'``,
    ``'numeric'``, a dtype, or a tuple of them).

    Example:
        >>> isdtype(np.float32, "real floating")
        True
    """
    return bool(np.isdtype(np.dtype(dtype), kind))


def load(file, *args, **kwargs):
    """``numpy.load``, with arrays returned as functrace arrays (canonical dtypes)."""
    out = np.load(file, *args, **kwargs)
    return asarray(out) if isinstance(out, np.ndarray) else out


def frombuffer(buffer, dtype=float, count: int = -1, offset: int = 0):
    """A 1-D array read from a bytes-like ``buffer``."""
    dt = default_float_dtype() if dtype is float else dtype
    return asarray(np.frombuffer(buffer, dt, count, offset))


def fromstring(string, dtype=float, count: int = -1, *, sep: str):
    """A 1-D array parsed from text (``sep`` separates the numbers)."""
    dt = default_float_dtype() if dtype is float else dtype
    return asarray(np.fromstring(string, dt, count, sep=sep))


def fromiter(iterable, dtype, count: int = -1):
    """A 1-D array from an iterable (read on the host)."""
    return asarray(np.fromiter(iterable, dtype, count))


def fromfile(*args, **kwargs):
    """``numpy.fromfile`` on the host, as a functrace array."""
    return asarray(np.fromfile(*args, **kwargs))


def einsum_path(subscripts, *operands, optimize="auto"):
    """NumPy's contraction-order search for an ``einsum`` (on the operands' shapes only).

    Example:
        >>> einsum_path("ij,jk->ik", np.ones((2, 3)), np.ones((3, 4)))[0]
        ['einsum_path', (0, 1)]
    """
    shapes = [np.empty(get_aval(as_array(o)).shape, np.int8) for o in operands]
    return np.einsum_path(subscripts, *shapes, optimize=optimize if optimize != "auto"
                          else "greedy")


def packbits(a, axis: int | None = None, bitorder: str = "big"):
    """The booleans (nonzero entries) of ``a`` packed into uint8, 8 per byte along
    ``axis`` (the flattened array if None), zero-padded at the end.

    Example:
        >>> packbits(np.array([1, 0, 1, 1, 0, 0, 0, 1], np.uint8))
        array([177], dtype=uint8)
    """
    if bitorder not in ("big", "little"):
        raise FunctraceError("packbits: bitorder must be 'big' or 'little'")
    x = as_array(a)
    if get_aval(x).dtype.kind not in "biu":
        raise FunctraceError("packbits: the input must be boolean or integer")
    if axis is None:
        x, axis = ravel(x), 0
    axis = canonical_axis(axis, len(get_aval(x).shape), "packbits")
    bits = convert(lax.ne(x, lax.full_like(x, 0)), np.uint8)
    bits = moveaxis(bits, axis, -1)
    shape = get_aval(bits).shape
    n = shape[-1]
    pad = (-n) % 8
    if pad:
        cfg = [(0, 0, 0)] * (len(shape) - 1) + [(0, pad, 0)]
        bits = lax.pad(bits, np.zeros((), np.uint8), cfg)
    groups = reshape(bits, shape[:-1] + ((n + pad) // 8, 8))
    weights = 2 ** np.arange(7, -1, -1) if bitorder == "big" else 2 ** np.arange(8)
    packed = lax.reduce_sum(lax.mul(groups, lax.broadcast_in_dim(
        weights.astype(np.uint8), get_aval(groups).shape, (len(get_aval(groups).shape) - 1,))),
        (len(get_aval(groups).shape) - 1,))
    return moveaxis(packed, -1, axis)


def unpackbits(a, axis: int | None = None, count: int | None = None, bitorder: str = "big"):
    """The bits of the uint8 array ``a`` as a uint8 0/1 array, 8 per byte along ``axis``
    (``count`` keeps that many, or drops ``-count`` at the end).

    Example:
        >>> unpackbits(np.array([177], np.uint8))
        array([1, 0, 1, 1, 0, 0, 0, 1], dtype=uint8)
    """
    if bitorder not in ("big", "little"):
        raise FunctraceError("unpackbits: bitorder must be 'big' or 'little'")
    x = as_array(a)
    if get_aval(x).dtype != np.uint8:
        raise FunctraceError("unpackbits: the input must be uint8")
    if axis is None:
        x, axis = ravel(x), 0
    axis = canonical_axis(axis, len(get_aval(x).shape), "unpackbits")
    x = moveaxis(x, axis, -1)
    shape = get_aval(x).shape
    shifts = np.arange(7, -1, -1) if bitorder == "big" else np.arange(8)
    full = shape + (8,)
    xb = lax.broadcast_in_dim(x, full, tuple(range(len(shape))))
    sb = lax.broadcast_in_dim(shifts.astype(np.uint8), full, (len(shape),))
    bits = lax.bitwise_and(lax.shift_right_logical(xb, sb), lax.full(full, 1, np.uint8))
    bits = reshape(bits, shape[:-1] + (shape[-1] * 8,))
    if count is not None:
        total = shape[-1] * 8
        keep = operator.index(count) if count >= 0 else total + count
        if keep <= total:
            bits = lax.slice_in_dim(bits, 0, keep, axis=len(shape) - 1)
        else:
            cfg = [(0, 0, 0)] * (len(shape) - 1) + [(0, keep - total, 0)]
            bits = lax.pad(bits, np.zeros((), np.uint8), cfg)
    return moveaxis(bits, -1, axis)


def histogramdd(sample, bins=10, range=None, weights=None, density=None):  # noqa: A002
    """The D-dimensional histogram of the ``(N, D)`` ``sample``: ``(counts, edges)`` with
    one edge array per dimension (the last bin of each includes its right edge). As in
    JAX, unweighted counts are integers; weighted ones and densities are floats.

    Example:
        >>> h, edges = histogramdd(np.array([[0., 0.], [1., 1.], [1., 0.]], np.float32), 2)
        >>> h
        array([[1, 0],
               [1, 1]], dtype=int32)
    """
    s = as_array(sample)
    if len(get_aval(s).shape) == 1:
        s = lax.expand_dims(s, (1,))
    if len(get_aval(s).shape) != 2:
        raise ShapeError("histogramdd: sample must be (N, D)")
    n, d = get_aval(s).shape
    if get_aval(s).dtype.kind != "f":
        s = convert(s, default_float_dtype())
    bins_list = list(bins) if isinstance(bins, list | tuple) else [bins] * d
    ranges = list(range) if range is not None else [None] * d
    edges, flat, sizes, outside = [], None, [], None
    for j in builtins.range(d):
        col = lax.reshape(lax.slice_in_dim(s, j, j + 1, axis=1), (n,))
        e = histogram_bin_edges(col, bins_list[j], ranges[j])
        nb = get_aval(e).shape[0] - 1
        idx = searchsorted(e, col, side="right")
        idx = lax.sub(idx, np.asarray(1, get_aval(idx).dtype))
        last = lax.eq(col, lax.broadcast_in_dim(lax.reshape(lax.slice(e, (nb,), (nb + 1,)),
                                                            ()), (n,), ()))
        idx = lax.select(last, lax.full_like(idx, nb - 1), idx)
        bad = lax.bitwise_or(lax.lt(idx, lax.full_like(idx, 0)),
                             lax.gt(idx, lax.full_like(idx, nb - 1)))
        flat = idx if flat is None else lax.add(lax.mul(flat, np.asarray(nb, get_aval(
            idx).dtype)), idx)
        outside = bad if outside is None else lax.bitwise_or(outside, bad)
        edges.append(e)
        sizes.append(nb)
    total = int(np.prod(sizes))
    flat = lax.select(outside, lax.full_like(flat, total), flat)
    w = lax.full((n,), 1, get_aval(s).dtype) if weights is None else convert(
        as_array(weights), get_aval(s).dtype)
    counts = reshape(bincount(flat, w, length=total), tuple(sizes))
    if density:
        vol = None
        for j, e in enumerate(edges):
            width = lax.sub(lax.slice(e, (1,), (sizes[j] + 1,)), lax.slice(e, (0,), (sizes[j],)))
            shape = [1] * d
            shape[j] = sizes[j]
            width = lax.broadcast_in_dim(reshape(width, tuple(shape)), tuple(sizes),
                                         tuple(builtins.range(d)))
            vol = width if vol is None else lax.mul(vol, width)
        counts = lax.div(counts, lax.mul(vol, lax.broadcast_in_dim(
            lax.reduce_sum(counts, tuple(builtins.range(d))), tuple(sizes), ())))
    elif weights is None:  # JAX counts with an unweighted bincount: integer counts
        counts = convert(counts, default_int_dtype())
    return counts, edges


def histogram2d(x, y, bins=10, range=None, weights=None, density=None):  # noqa: A002
    """The 2-D histogram of the points ``(x, y)``: ``(counts, xedges, yedges)``.

    Example:
        >>> h, xe, ye = histogram2d(np.array([0., 1.]), np.array([0., 1.]), bins=2)
        >>> h
        array([[1, 0],
               [0, 1]], dtype=int32)
    """
    xs, ys = as_array(x), as_array(y)
    sample = lax.concatenate([lax.expand_dims(convert(xs, default_float_dtype()), (1,)),
                              lax.expand_dims(convert(ys, default_float_dtype()), (1,))], 1)
    counts, (xe, ye) = histogramdd(sample, bins, range, weights, density)
    return counts, xe, ye

