"""Numerical helpers of ``jax.numpy``: ``histogram``/``histogram_bin_edges``, ``interp``,
``convolve``/``correlate`` (through ``lax.conv_general_dilated``), ``trapezoid`` and
``gradient``.
"""

from __future__ import annotations

import numpy as np

from .. import lax
from ..core.avals import default_int_dtype
from ..errors import FunctraceError, ShapeError
from ._promote import as_array, canonical_axes, canonical_axis, convert, promote_args
from .manip import ravel, reshape
from .math import where
from .reductions import max as _max
from .reductions import min as _min
from .reductions import sum
from .sorting import bincount, searchsorted
from .statistics import _dtype, _float, _shape, diff

__all__ = [
    "convolve",
    "correlate",
    "gradient",
    "histogram",
    "histogram_bin_edges",
    "interp",
    "trapezoid",
]


# ---------------------------------------------------------------------------
# histogram, interp

def histogram_bin_edges(a, bins=10, range=None, weights=None):  # noqa: A002
    """The edges ``histogram`` uses: ``bins + 1`` equal steps over ``range`` (default: the
    data's min and max, widened by 0.5 each side when they are equal), or ``bins`` itself
    when it is an array.

    Example:
        >>> histogram_bin_edges(np.array([0., 1., 4.], np.float32), bins=4)
        array([0., 1., 2., 3., 4.], dtype=float32)
    """
    x = _float(ravel(as_array(a)))
    if not isinstance(bins, int | np.integer):
        return _float(bins)
    if range is None:
        lo, hi = _min(x), _max(x)
    else:
        lo, hi = (convert(as_array(v), _dtype(x)) for v in range)
    same = lax.eq(lo, hi)
    lo = where(same, lax.sub(lo, np.asarray(0.5, _dtype(x))), lo)
    hi = where(same, lax.add(hi, np.asarray(0.5, _dtype(x))), hi)
    nb = int(bins)
    steps = np.linspace(0.0, 1.0, nb + 1)[:-1].astype(_dtype(x))
    width = lax.sub(hi, lo)
    inner = lax.add(lax.broadcast_in_dim(lo, (nb,), ()),
                    lax.mul(steps, lax.broadcast_in_dim(width, (nb,), ())))
    # the last edge is exactly hi (lo + 1.0 * width may round below it and drop the max)
    return lax.concatenate([inner, lax.broadcast_in_dim(hi, (1,), ())], 0)


def histogram(a, bins=10, range=None, weights=None, density=None):  # noqa: A002
    """``(counts, bin_edges)`` of the flattened ``a``; the last bin includes its right edge;
    values outside the edges are not counted. ``density=True`` normalises to a density.

    Example:
        >>> histogram(np.array([0., 1., 1., 4.], np.float32), bins=2)
        (array([3., 1.], dtype=float32), array([0., 2., 4.], dtype=float32))
    """
    x = _float(ravel(as_array(a)))
    edges = histogram_bin_edges(x, bins, range)
    nb = _shape(edges)[0] - 1
    idx = lax.convert_element_type(searchsorted(edges, x, side="right"), default_int_dtype())
    idx = lax.sub(idx, np.asarray(1, default_int_dtype()))
    last = lax.eq(x, lax.broadcast_in_dim(lax.slice(edges, (nb,), (nb + 1,)), _shape(x), (0,)))
    idx = where(last, nb - 1, idx)
    outside = lax.bitwise_or(lax.lt(idx, lax.full_like(idx, 0)),
                             lax.gt(idx, lax.full_like(idx, nb - 1)))
    idx = where(outside, nb, idx)  # dropped by length=nb
    w = lax.full(_shape(x), 1, _dtype(x)) if weights is None else convert(
        ravel(as_array(weights)), _dtype(x))
    counts = bincount(idx, w, length=nb)
    if density:
        widths = diff(edges)
        counts = lax.div(counts, lax.mul(sum(counts), widths))
    return counts, edges


def interp(x, xp, fp, left=None, right=None, period=None):
    """Piecewise-linear interpolation of the points ``(xp, fp)`` (``xp`` increasing) at
    ``x``; ``left``/``right`` outside (default ``fp[0]``/``fp[-1]``); ``period`` wraps
    ``x`` and ``xp``.

    Example:
        >>> interp(np.array([0.5, 2.5, 9.], np.float32), np.array([0., 1., 3.], np.float32),
        ...        np.array([0., 10., 30.], np.float32))
        array([ 5., 25., 30.], dtype=float32)
    """
    xv, xpv, fpv = promote_args("interp", as_array(x), as_array(xp), as_array(fp),
                                broadcast=False, inexact=True)
    if len(_shape(xpv)) != 1 or _shape(xpv) != _shape(fpv):
        raise ShapeError(f"interp: xp and fp must be 1-D of the same length, got {_shape(xpv)} "
                         f"and {_shape(fpv)}")
    dt = _dtype(xv)
    if period is not None:
        p = np.asarray(period, dt)
        xv = lax.rem(lax.add(lax.rem(xv, p), p), p)
        xpv = lax.rem(lax.add(lax.rem(xpv, p), p), p)
        xpv, fpv = lax.sort_key_val(xpv, fpv)
        xpv = lax.concatenate([lax.sub(lax.slice(xpv, (_shape(xpv)[0] - 1,), _shape(xpv)), p),
                               xpv, lax.add(lax.slice(xpv, (0,), (1,)), p)], 0)
        fpv = lax.concatenate([lax.slice(fpv, (_shape(fpv)[0] - 1,), _shape(fpv)), fpv,
                               lax.slice(fpv, (0,), (1,))], 0)
    n = _shape(xpv)[0]
    i = lax.convert_element_type(searchsorted(xpv, xv, side="right"), default_int_dtype())
    i = lax.clamp(np.asarray(1, default_int_dtype()), i,
                  np.asarray(max(n - 1, 1), default_int_dtype()))
    im1 = lax.sub(i, np.asarray(1, default_int_dtype()))
    take = lax.index_take
    x0, x1 = take(xpv, (ravel(im1),), (0,)), take(xpv, (ravel(i),), (0,))
    f0, f1 = take(fpv, (ravel(im1),), (0,)), take(fpv, (ravel(i),), (0,))
    xf = ravel(xv)
    dx = lax.sub(x1, x0)
    safe = where(dx == 0, 1, dx)
    out = lax.add(f0, lax.mul(lax.div(lax.sub(xf, x0), safe), lax.sub(f1, f0)))
    out = where(dx == 0, f0, out)
    out = reshape(out, _shape(xv))
    if period is None:
        first, last_ = lax.slice(xpv, (0,), (1,)), lax.slice(xpv, (n - 1,), (n,))
        lv = lax.slice(fpv, (0,), (1,)) if left is None else as_array(left)
        rv = lax.slice(fpv, (n - 1,), (n,)) if right is None else as_array(right)
        out = where(xv < lax.reshape(first, ()), lax.reshape(convert(lv, dt), ()), out)
        out = where(xv > lax.reshape(last_, ()), lax.reshape(convert(rv, dt), ()), out)
    return out


# ---------------------------------------------------------------------------
# convolution, integration, gradient

def _conv1d(a, v, mode: str, op: str, flip: bool):
    x, k = promote_args(op, as_array(a), as_array(v), broadcast=False, inexact=True)
    if len(_shape(x)) != 1 or len(_shape(k)) != 1:
        raise ShapeError(f"{op}: both inputs must be 1-D, got {_shape(x)} and {_shape(k)}")
    n, m = _shape(x)[0], _shape(k)[0]
    if n == 0 or m == 0:
        raise ShapeError(f"{op}: inputs cannot be empty")
    if _dtype(x).kind == "c":  # (xr + i xi) * (kr + i ki), as four real convolutions
        parts = [[_conv1d(p, q, mode, op, flip) for q in (lax.real(k), lax.imag(k))]
                 for p in (lax.real(x), lax.imag(x))]
        return lax.complex(lax.sub(parts[0][0], parts[1][1]), lax.add(parts[0][1], parts[1][0]))
    if flip:
        k = lax.rev(k, (0,))
    if mode == "full":
        pad = (m - 1, m - 1)
    elif mode == "same":  # the centre n entries of the full result
        pad = (m // 2, (m - 1) // 2)
    elif mode == "valid":
        pad = (0, 0)
    else:
        raise FunctraceError(f"{op}: mode must be 'full', 'same' or 'valid', got {mode!r}")
    out = lax.conv_general_dilated(lax.reshape(x, (1, 1, n)), lax.reshape(k, (1, 1, m)), (1,),
                                   (pad,))
    return lax.reshape(out, (_shape(out)[-1],))


def _conj(x):
    return lax.conj(x) if _dtype(x).kind == "c" else x


def convolve(a, v, mode: str = "full", *, precision=None, preferred_element_type=None):
    """The discrete linear convolution of 1-D ``a`` and ``v`` (NumPy's modes).

    Example:
        >>> convolve(np.array([1., 2., 3.], np.float32), np.array([0., 1., 0.5], np.float32))
        array([0. , 1. , 2.5, 4. , 1.5], dtype=float32)
    """
    x, k = as_array(a), as_array(v)
    if _shape(k) and _shape(x) and _shape(k)[0] > _shape(x)[0]:
        x, k = k, x  # convolution commutes; NumPy slides the shorter one
    return _conv1d(x, k, mode, "convolve", flip=True)


def correlate(a, v, mode: str = "valid", *, precision=None, preferred_element_type=None):
    """The cross-correlation ``c[k] = sum_n a[n + k] * conj(v[n])`` of 1-D inputs (NumPy's
    modes; default ``'valid'``).

    Example:
        >>> correlate(np.array([1., 2., 3.], np.float32), np.array([0., 1., 0.5], np.float32))
        array([3.5], dtype=float32)
    """
    x, k = as_array(a), as_array(v)
    if _dtype(x).kind == "c" or _dtype(k).kind == "c":
        x, k = promote_args("correlate", x, k, broadcast=False)
    if _shape(k) and _shape(x) and _shape(k)[0] > _shape(x)[0]:
        # NumPy: correlate(a, v) = conj(correlate(v, a))[::-1]
        out = lax.rev(_conv1d(k, _conj(x), mode, "correlate", flip=False), (0,))
        return _conj(out)
    return _conv1d(x, _conj(k), mode, "correlate", flip=False)


def trapezoid(y, x=None, dx=1.0, axis: int = -1):
    """The integral of ``y`` along ``axis`` by the trapezoidal rule (sample points ``x`` or
    spacing ``dx``).

    Example:
        >>> trapezoid(np.array([1., 2., 3.], np.float32))
        array(4., dtype=float32)
    """
    yv = _float(y)
    ax = canonical_axis(axis, len(_shape(yv)), "trapezoid")
    n = _shape(yv)[ax]
    hi = lax.slice_in_dim(yv, 1, n, axis=ax)
    lo = lax.slice_in_dim(yv, 0, max(n - 1, 0), axis=ax)
    avg = lax.mul(lax.add(hi, lo), np.asarray(0.5, _dtype(yv)))
    if x is None:
        return lax.mul(sum(avg, axis=ax), np.asarray(dx, _dtype(yv)))
    d = diff(_float(x), axis=-1 if len(_shape(as_array(x))) == 1 else ax)
    if len(_shape(d)) == 1 and len(_shape(avg)) > 1:
        shape = [1] * len(_shape(avg))
        shape[ax] = _shape(d)[0]
        d = lax.reshape(d, tuple(shape))
        d = lax.broadcast_in_dim(d, _shape(avg), tuple(range(len(shape))))
    avg, d = promote_args("trapezoid", avg, d)
    return sum(lax.mul(avg, d), axis=ax)


def _gradient_coords(x, coords, ax: int):
    """The gradient along ``ax`` at the sample points ``coords`` (NumPy's and JAX's
    second-order formula for uneven spacing inside, one-sided differences at the edges)."""
    n, nd = _shape(x)[ax], len(_shape(x))
    if _shape(coords) != (n,):
        raise ShapeError(f"gradient: a coordinate array must have the length {n} of the axis, "
                         f"got shape {_shape(coords)}")
    shape = [1] * nd
    shape[ax] = n
    h = lax.broadcast_in_dim(coords, tuple(shape), (ax,))

    def sl(a, lo, hi):
        return lax.slice_in_dim(a, lo, hi, axis=ax)

    def div(a, b):  # b broadcasts along the other axes
        return lax.div(a, lax.broadcast_in_dim(lax.reshape(b, (_shape(b)[ax],)), _shape(a),
                                               (ax,)))

    first = div(lax.sub(sl(x, 1, 2), sl(x, 0, 1)), lax.sub(sl(h, 1, 2), sl(h, 0, 1)))
    last = div(lax.sub(sl(x, n - 1, n), sl(x, n - 2, n - 1)),
               lax.sub(sl(h, n - 1, n), sl(h, n - 2, n - 1)))
    if n == 2:
        return lax.concatenate([first, last], ax)
    dx1, dx2 = lax.sub(sl(h, 1, n - 1), sl(h, 0, n - 2)), lax.sub(sl(h, 2, n), sl(h, 1, n - 1))
    total = lax.add(dx1, dx2)
    wa = lax.neg(lax.div(dx2, lax.mul(dx1, total)))
    wb = lax.div(lax.sub(dx2, dx1), lax.mul(dx1, dx2))
    wc = lax.div(dx1, lax.mul(dx2, total))

    def mul(w, a):
        return lax.mul(lax.broadcast_in_dim(lax.reshape(w, (n - 2,)), _shape(a), (ax,)), a)

    inner = lax.add(lax.add(mul(wa, sl(x, 0, n - 2)), mul(wb, sl(x, 1, n - 1))),
                    mul(wc, sl(x, 2, n)))
    return lax.concatenate([first, inner, last], ax)


def gradient(f, *varargs, axis=None, edge_order=None):
    """The gradient by central differences inside and one-sided differences at the edges
    (NumPy's ``edge_order=1``), for each axis (a list if several); each spacing is a
    scalar or a 1-D array of sample coordinates along its axis.

    Example:
        >>> gradient(np.array([1., 2., 4., 7.], np.float32))
        array([1. , 1.5, 2.5, 3. ], dtype=float32)
    """
    x = _float(f)
    nd = len(_shape(x))
    axes = tuple(range(nd)) if axis is None else canonical_axes(axis, nd, "gradient")
    if edge_order not in (None, 1):
        raise FunctraceError("gradient: only edge_order=1 is supported")
    if len(varargs) == 0:
        spacing = [1.0] * len(axes)
    elif len(varargs) == 1:
        spacing = list(varargs) * len(axes)
    else:
        spacing = list(varargs)
    outs = []
    for ax, h in zip(axes, spacing, strict=True):
        n = _shape(x)[ax]
        if n < 2:
            raise ShapeError("gradient: each axis needs at least 2 samples")
        if np.ndim(h) == 1:
            outs.append(_gradient_coords(x, convert(as_array(h), _dtype(x)), ax))
            continue
        if np.ndim(h) != 0:
            raise ShapeError("gradient: spacings must be scalars or 1-D coordinate arrays")
        hv = np.asarray(h, _dtype(x))

        def sl(a, b, ax=ax):
            return lax.slice_in_dim(x, a, b, axis=ax)

        first = lax.div(lax.sub(sl(1, 2), sl(0, 1)), hv)
        last = lax.div(lax.sub(sl(n - 1, n), sl(n - 2, n - 1)), hv)
        parts = [first]
        if n > 2:
            parts.append(lax.div(lax.sub(sl(2, n), sl(0, n - 2)), np.asarray(2 * h, _dtype(x))))
        parts.append(last)
        outs.append(lax.concatenate(parts, ax))
    return outs[0] if len(outs) == 1 else outs
