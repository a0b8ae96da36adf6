"""Statistics and cumulative operations of ``jax.numpy``: ``quantile``/``percentile``/
``median`` (and their NaN-ignoring forms), the ``nan*`` reductions, ``cumprod`` and the
array API's ``cumulative_*``, ``diff``/``ediff1d`` and ``cov``/``corrcoef``. Compositions of
``lax`` (sorting, ``where``), so they trace, batch and differentiate.
"""

from __future__ import annotations

import operator

import numpy as np

from .. import lax
from ..core.avals import default_int_dtype
from ..core.trace import get_aval
from ..errors import FunctraceError, ShapeError, UnsupportedArgumentError, no_sharding
from ._promote import (
    as_array,
    canonical_axes,
    canonical_axis,
    convert,
    promote_args,
    promote_dtypes,
)
from ._quantile_weighted import broadcast_weights, inverted_cdf
from .indexing import take_along_axis
from .manip import moveaxis, ravel
from .math import isnan, sqrt, where
from .math import subtract as _subtract
from .math import where as _where
from .reductions import _upcast_int, _var_dtypes, mean, sum
from .reductions import any as _any
from .reductions import argmax as _argmax
from .reductions import argmin as _argmin
from .reductions import max as _max
from .reductions import min as _min
from .reductions import prod as _prod
from .sorting import sort

__all__ = [
    "corrcoef",
    "cov",
    "cumprod",
    "cumulative_prod",
    "cumulative_sum",
    "diff",
    "ediff1d",
    "median",
    "nanargmax",
    "nanargmin",
    "nancumprod",
    "nancumsum",
    "nanmax",
    "nanmean",
    "nanmedian",
    "nanmin",
    "nanpercentile",
    "nanprod",
    "nanquantile",
    "nanstd",
    "nansum",
    "nanvar",
    "percentile",
    "quantile",
]


def _shape(x) -> tuple[int, ...]:
    return get_aval(x).shape


def _dtype(x) -> np.dtype:
    return get_aval(x).dtype


def _float(x):
    (x,) = promote_args("statistics", as_array(x), inexact=True)
    return x


def _reduced_last(x, axis):
    """``x`` with the reduced axes flattened into one last axis; the kept shape and the
    keepdims shape."""
    nd = len(_shape(x))
    axes = tuple(range(nd)) if axis is None else canonical_axes(axis, nd, "quantile")
    kept = [d for d in range(nd) if d not in axes]
    moved = lax.transpose(x, tuple(kept) + axes)
    kept_shape = tuple(_shape(x)[d] for d in kept)
    flat = lax.reshape(moved, kept_shape + (int(np.prod([_shape(x)[d] for d in axes],
                                                         dtype=np.int64)),))
    keep_shape = tuple(1 if d in axes else n for d, n in enumerate(_shape(x)))
    return flat, kept_shape, keep_shape


# ---------------------------------------------------------------------------
# quantiles

_METHODS = ("linear", "lower", "higher", "midpoint", "nearest", "inverted_cdf")


def _quantile(a, q, axis, method, keepdims, ignore_nan: bool, op: str, weights=None,
              out=None):
    if method not in _METHODS:
        raise FunctraceError(f"{op}: method {method!r} is not supported; use one of {_METHODS}")
    no_sharding(op, out=out)
    if weights is not None and method != "inverted_cdf":
        raise UnsupportedArgumentError(f"{op}: method {method!r} does not take weights; only "
                                       "method='inverted_cdf' does")
    if weights is not None:
        if _dtype(as_array(weights)).kind == "c":
            raise ValueError(f"{op}: weights cannot be complex")
        x, weights = promote_args(op, as_array(a), as_array(weights), inexact=True)
        weights = broadcast_weights(weights, _shape(x), axis, op)
    else:
        x = _float(a)
    q = convert(as_array(q), _dtype(x))
    flat, kept_shape, keep_shape = _reduced_last(x, axis)
    n = _shape(flat)[-1]
    if n == 0:
        raise ShapeError(f"{op}: cannot take a quantile of an empty array")
    if method == "inverted_cdf":
        wflat = None if weights is None else _reduced_last(weights, axis)[0]
        qs = ravel(q)
        out = inverted_cdf(flat, wflat, qs, ignore_nan)
        return _quantile_layout(out, q, _shape(qs)[0], kept_shape, keep_shape, keepdims)
    srt = sort(flat, axis=-1)  # NaNs last
    nan = isnan(flat)
    if ignore_nan:
        count = sum(lax.convert_element_type(lax.bitwise_not(nan), _dtype(x)), axis=-1)
    else:
        count = lax.full(kept_shape, float(n), _dtype(x))
    qs = ravel(q)
    nq = _shape(qs)[0]
    # positions per (kept..., q)
    last = lax.sub(count, np.asarray(1, _dtype(x)))
    pos = lax.mul(lax.broadcast_in_dim(last, kept_shape + (nq,), tuple(range(len(kept_shape)))),
                  lax.broadcast_in_dim(qs, kept_shape + (nq,), (len(kept_shape),)))
    pos = lax.max(pos, lax.full_like(pos, 0))
    lo = lax.floor(pos)
    hi = lax.ceil(pos)
    if method == "lower":
        hi = lo
    elif method == "higher":
        lo = hi
    elif method == "nearest":
        # NumPy rounds halves to even
        lo = hi = lax.round(pos, lax.RoundingMethod.TO_NEAREST_EVEN)
    itype = default_int_dtype()
    lo_i = lax.convert_element_type(lo, itype)
    hi_i = lax.convert_element_type(hi, itype)
    lo_i = lax.min(lo_i, lax.full_like(lo_i, n - 1))
    hi_i = lax.min(hi_i, lax.full_like(hi_i, n - 1))
    v_lo = take_along_axis(srt, lo_i, -1)
    v_hi = take_along_axis(srt, hi_i, -1)
    if method == "midpoint":
        out = lax.mul(lax.add(v_lo, v_hi), np.asarray(0.5, _dtype(x)))
    else:
        frac = lax.sub(pos, lo)
        out = lax.add(v_lo, lax.mul(lax.sub(v_hi, v_lo), frac))
    if ignore_nan:
        empty = lax.eq(count, lax.full_like(count, 0))
        out = where(lax.broadcast_in_dim(empty, _shape(out), tuple(range(len(kept_shape)))),
                    np.nan, out)
    else:
        has_nan = _any(nan, axis=-1)
        out = where(lax.broadcast_in_dim(has_nan, _shape(out), tuple(range(len(kept_shape)))),
                    np.nan, out)
    return _quantile_layout(out, q, nq, kept_shape, keep_shape, keepdims)


def _quantile_layout(out, q, nq: int, kept_shape, keep_shape, keepdims: bool):
    """``out`` (kept..., nq) in NumPy's layout: q's dims first, then the kept dims."""
    out = moveaxis(out, -1, 0)
    if keepdims:
        out = lax.reshape(out, (nq,) + keep_shape)
        return lax.reshape(out, _shape(q) + keep_shape)
    return lax.reshape(out, _shape(q) + kept_shape)


def quantile(a, q, axis=None, out=None, overwrite_input: bool = False,
             method: str = "linear", keepdims: bool = False, *, weights=None):
    """The ``q``-th quantiles (``0 <= q <= 1``) over ``axis``, NumPy's methods ``linear``
    (default), ``lower``, ``higher``, ``midpoint``, ``nearest`` and ``inverted_cdf``; NaN
    if a slice has NaN. ``weights`` (``a``'s shape, or the reduced axes' shape) need
    ``method='inverted_cdf'``.

    Example:
        >>> quantile(np.array([1., 2., 3., 4.], np.float32), 0.5)
        array(2.5, dtype=float32)
    """
    return _quantile(a, q, axis, method, keepdims, False, "quantile", weights, out)


def nanquantile(a, q, axis=None, out=None, overwrite_input: bool = False,
                method: str = "linear", keepdims: bool = False, *, weights=None):
    """``quantile`` ignoring NaNs."""
    return _quantile(a, q, axis, method, keepdims, True, "nanquantile", weights, out)


def percentile(a, q, axis=None, out=None, overwrite_input: bool = False,
               method: str = "linear", keepdims: bool = False, *, weights=None,
               out_sharding=None):
    """The ``q``-th percentiles (``0 <= q <= 100``) over ``axis``.

    Example:
        >>> percentile(np.array([1., 2., 3., 4., 5.], np.float32), [25, 100])
        array([2., 5.], dtype=float32)
    """
    no_sharding("percentile", out_sharding=out_sharding)
    q = lax.div(_float(q), np.asarray(100, _dtype(_float(q))))
    return _quantile(a, q, axis, method, keepdims, False, "percentile", weights, out)


def nanpercentile(a, q, axis=None, out=None, overwrite_input: bool = False,
                  method: str = "linear", keepdims: bool = False, *, weights=None):
    """``percentile`` ignoring NaNs."""
    q = lax.div(_float(q), np.asarray(100, _dtype(_float(q))))
    return _quantile(a, q, axis, method, keepdims, True, "nanpercentile", weights, out)


def median(a, axis=None, out=None, overwrite_input: bool = False, keepdims: bool = False):
    """The median over ``axis`` (the mean of the two middle values for even counts).

    Example:
        >>> median(np.array([[1., 3., 2.], [4., 6., 5.]], np.float32), axis=1)
        array([2., 5.], dtype=float32)
    """
    return _quantile(a, 0.5, axis, "linear", keepdims, False, "median")


def nanmedian(a, axis=None, out=None, overwrite_input: bool = False, keepdims: bool = False):
    """``median`` ignoring NaNs."""
    return _quantile(a, 0.5, axis, "linear", keepdims, True, "nanmedian")


# ---------------------------------------------------------------------------
# nan reductions

def _nan_filled(a, fill):
    x = as_array(a)
    if _dtype(x).kind not in "fc":
        return x
    return where(isnan(x), fill, x)


def nansum(a, axis=None, dtype=None, out=None, keepdims: bool = False, initial=None,
           where=None):
    """``sum`` treating NaNs as zero.

    Example:
        >>> nansum(np.array([1., np.nan, 2.], np.float32))
        array(3., dtype=float32)
    """
    return sum(_nan_filled(a, 0), axis=axis, dtype=dtype, keepdims=keepdims, initial=initial,
               where=where)


def nanprod(a, axis=None, dtype=None, out=None, keepdims: bool = False, initial=None,
            where=None):
    """``prod`` treating NaNs as one."""
    return _prod(_nan_filled(a, 1), axis=axis, dtype=dtype, keepdims=keepdims,
                 initial=initial, where=where)


def nanmean(a, axis=None, dtype=None, out=None, keepdims: bool = False, where=None):
    """``mean`` over the non-NaN entries (NaN where there are none).

    Example:
        >>> nanmean(np.array([1., np.nan, 3.], np.float32))
        array(2., dtype=float32)
    """
    x = as_array(a)
    if _dtype(x).kind in "biu":  # no NaNs to drop: JAX defers to mean
        return mean(x, axis, dtype, keepdims=keepdims, where=where)
    if dtype is None:
        x = _float(x)
        dtype = _dtype(x)
    valid = lax.bitwise_not(isnan(x))
    return lax.div(nansum(x, axis, dtype=dtype, keepdims=keepdims, where=where),
                   sum(valid, axis, dtype=dtype, keepdims=keepdims, where=where))


def nanvar(a, axis=None, dtype=None, out=None, ddof: int = 0, keepdims: bool = False,
           where=None, mean=None):
    """``var`` over the non-NaN entries (NaN where fewer than ``ddof + 1`` remain).

    Example:
        >>> nanvar(np.array([1., np.nan, 3.], np.float32))
        array(1., dtype=float32)
    """
    x = as_array(a)
    comp, result_dtype = _var_dtypes(_dtype(x), dtype)
    x = convert(x, comp)
    m = nanmean(x, axis, keepdims=True, where=where) if mean is None else convert(
        as_array(mean), comp)
    nan = isnan(x)
    dev = _where(nan, 0, _subtract(x, m))  # only the input's NaNs are dropped, as JAX
    sq = lax.mul(dev, dev) if _dtype(x).kind != "c" else lax.real(lax.mul(dev, lax.conj(dev)))
    n = sum(lax.bitwise_not(nan), axis=axis, keepdims=keepdims, where=where)
    n = lax.sub(n, np.asarray(ddof, _dtype(n)))
    bad = lax.le(n, np.zeros((), _dtype(n)))
    total = sum(sq, axis, keepdims=keepdims, where=where)
    total = _where(bad, np.nan, total)
    out_ = lax.div(total, convert(_where(bad, 1, n), _dtype(total)))
    return convert(out_, result_dtype)


def nanstd(a, axis=None, dtype=None, out=None, ddof: int = 0, keepdims: bool = False,
           where=None, mean=None):
    """``std`` over the non-NaN entries."""
    return sqrt(nanvar(a, axis, dtype, ddof=ddof, keepdims=keepdims, where=where, mean=mean))


def _nan_extremum(name: str, reduce, fill):
    def fn(a, axis=None, out=None, keepdims: bool = False, initial=None, where=None):
        x = as_array(a)
        kw = {"axis": axis, "keepdims": keepdims, "initial": initial, "where": where}
        if _dtype(x).kind not in "fc":
            return reduce(x, **kw)
        nan = isnan(x)
        out_ = reduce(where_(nan, fill, x), **kw)
        all_nan = lax.bitwise_not(_any(lax.bitwise_not(nan), axis=axis, keepdims=keepdims))
        return out_ if initial is not None else where_(all_nan, np.nan, out_)

    where_ = where
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``{name[3:]}`` ignoring NaNs (NaN where a slice is all NaN)."
    return fn


nanmax = _nan_extremum("nanmax", _max, -np.inf)
nanmin = _nan_extremum("nanmin", _min, np.inf)


def nanargmax(a, axis=None, out=None, keepdims: bool = False):
    """``argmax`` ignoring NaNs."""
    return _argmax(_nan_filled(a, -np.inf), axis=axis, keepdims=keepdims)


def nanargmin(a, axis=None, out=None, keepdims: bool = False):
    """``argmin`` ignoring NaNs."""
    return _argmin(_nan_filled(a, np.inf), axis=axis, keepdims=keepdims)


# ---------------------------------------------------------------------------
# cumulative ops and differences

def _cum_prepare(a, axis, dtype, op):
    x = as_array(a)
    if axis is None:
        x = ravel(x)
        axis = 0
    if dtype is not None:
        x = convert(x, dtype)
    elif _dtype(x) == np.bool_:  # JAX keeps narrow integers (int8 stays int8); bool counts
        x = convert(x, default_int_dtype())
    return x, canonical_axis(axis, len(_shape(x)), op)


def cumprod(a, axis=None, dtype=None, out=None):
    """The inclusive cumulative product along ``axis`` (the flattened array if None).

    Example:
        >>> cumprod(np.array([1, 2, 3, 4], np.int32))
        array([ 1,  2,  6, 24], dtype=int32)
    """
    x, ax = _cum_prepare(a, axis, dtype, "cumprod")
    return lax.cumprod(x, ax)


def nancumsum(a, axis=None, dtype=None, out=None):
    """``cumsum`` treating NaNs as zero."""
    x, ax = _cum_prepare(_nan_filled(a, 0), axis, dtype, "nancumsum")
    return lax.cumsum(x, ax)


def nancumprod(a, axis=None, dtype=None, out=None):
    """``cumprod`` treating NaNs as one."""
    x, ax = _cum_prepare(_nan_filled(a, 1), axis, dtype, "nancumprod")
    return lax.cumprod(x, ax)


def _cumulative(name, lax_fn, identity, widen: bool):
    def fn(x, /, *, axis=None, dtype=None, include_initial: bool = False):
        arr = as_array(x)
        if axis is None:
            if len(_shape(arr)) > 1:
                raise ShapeError(f"{name}: axis is required for arrays of rank > 1")
            axis = 0
        if widen and dtype is None:  # JAX's cumulative_sum widens integers as sum does
            arr = convert(arr, _upcast_int(_dtype(arr)))
        arr, ax = _cum_prepare(arr, axis, dtype, name)
        out = lax_fn(arr, ax)
        if include_initial:
            cfg = [(0, 0, 0)] * len(_shape(out))
            cfg[ax] = (1, 0, 0)
            out = lax.pad(out, np.asarray(identity, _dtype(out)), cfg)
        return out

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"The array API's ``{name}``: along ``axis``, optionally starting with the "
                  f"identity ({identity}).")
    return fn


cumulative_sum = _cumulative("cumulative_sum", lax.cumsum, 0, widen=True)
cumulative_prod = _cumulative("cumulative_prod", lax.cumprod, 1, widen=False)


def diff(a, n: int = 1, axis: int = -1, prepend=None, append=None):
    """The ``n``-th discrete difference ``a[i+1] - a[i]`` along ``axis``.

    Example:
        >>> diff(np.array([1, 4, 9, 16], np.int32), n=2)
        array([2, 2], dtype=int32)
    """
    x = as_array(a)
    nd = len(_shape(x))
    ax = canonical_axis(axis, nd, "diff")
    given = [e for e in (prepend, append) if e is not None]
    if given:  # promoted before as_array, so a Python scalar stays weak (as in JAX)
        x, *given = promote_dtypes(x, *given, op="diff")
        prepend, append = (given.pop(0) if e is not None else None for e in (prepend, append))
    parts = []
    for extra in (prepend, append):
        if extra is None:
            parts.append(None)
            continue
        e = as_array(extra)
        if len(_shape(e)) == 0:
            shape = list(_shape(x))
            shape[ax] = 1
            e = lax.broadcast_in_dim(e, tuple(shape), ())
        parts.append(e)
    if parts[0] is not None or parts[1] is not None:
        seq = [p for p in (parts[0], x, parts[1]) if p is not None]
        seq = promote_args("diff", *seq, broadcast=False)
        x = lax.concatenate(list(seq), ax)
    n = operator.index(n)
    if n < 0:
        raise FunctraceError(f"diff: order n must be non-negative, got {n}")
    for _ in range(n):
        size = _shape(x)[ax]
        if size == 0:
            break
        hi = lax.slice_in_dim(x, 1, size, axis=ax)
        lo = lax.slice_in_dim(x, 0, size - 1, axis=ax)
        x = lax.ne(hi, lo) if _dtype(x) == np.bool_ else lax.sub(hi, lo)
    return x


def ediff1d(ary, to_end=None, to_begin=None):
    """The differences of the flattened array, with optional values before and after.

    Example:
        >>> ediff1d(np.array([1, 2, 4], np.int32), to_begin=np.array([0], np.int32))
        array([0, 1, 2], dtype=int32)
    """
    x = diff(ravel(as_array(ary)))
    seq = [ravel(as_array(to_begin))] if to_begin is not None else []
    seq.append(x)
    if to_end is not None:
        seq.append(ravel(as_array(to_end)))
    if len(seq) == 1:
        return x
    return lax.concatenate([convert(s, _dtype(x)) for s in seq], 0)


# ---------------------------------------------------------------------------
# covariance

def cov(m, y=None, rowvar: bool = True, bias: bool = False, ddof=None, fweights=None,
        aweights=None, dtype=None):
    """The covariance matrix of the variables in ``m``'s rows (columns if not ``rowvar``),
    with NumPy's frequency/analytic weights and ``ddof`` rules.

    Example:
        >>> cov(np.array([[0., 1., 2.], [2., 1., 0.]], np.float32))
        array([[ 1., -1.],
               [-1.,  1.]], dtype=float32)
    """
    x = _float(m)
    if len(_shape(x)) > 2:
        raise ShapeError("cov: m must have at most 2 dimensions")
    x = lax.reshape(x, (1,) + _shape(x)) if len(_shape(x)) < 2 else x
    if not rowvar and _shape(x)[0] != 1:
        x = lax.transpose(x, (1, 0))
    if y is not None:
        yy = _float(y)
        yy = lax.reshape(yy, (1,) + _shape(yy)) if len(_shape(yy)) < 2 else yy
        if not rowvar and _shape(yy)[0] != 1:
            yy = lax.transpose(yy, (1, 0))
        x, yy = promote_args("cov", x, yy, broadcast=False)
        x = lax.concatenate([x, yy], 0)
    if dtype is not None:
        x = convert(x, dtype)
    if ddof is None:
        ddof = 0 if bias else 1
    n = _shape(x)[1]
    w = None
    if fweights is not None:
        w = convert(as_array(fweights), _dtype(x))
    if aweights is not None:
        aw = convert(as_array(aweights), _dtype(x))
        w = aw if w is None else lax.mul(w, aw)
    if w is None:
        avg = mean(x, axis=1)
        fact = np.asarray(n - ddof, _dtype(x))
        xc = lax.sub(x, lax.broadcast_in_dim(avg, _shape(x), (0,)))
        xw = xc
    else:
        w_sum = sum(w)
        avg = lax.div(sum(lax.mul(x, lax.broadcast_in_dim(w, _shape(x), (1,))), axis=1), w_sum)
        if ddof == 0:
            fact = w_sum
        elif aweights is None:
            fact = lax.sub(w_sum, np.asarray(ddof, _dtype(x)))
        else:
            fact = lax.sub(w_sum, lax.div(lax.mul(np.asarray(ddof, _dtype(x)), sum(
                lax.mul(w, aw))), w_sum))
        xc = lax.sub(x, lax.broadcast_in_dim(avg, _shape(x), (0,)))
        xw = lax.mul(xc, lax.broadcast_in_dim(w, _shape(x), (1,)))
    xh = lax.conj(xc) if _dtype(xc).kind == "c" else xc
    c = lax.dot_general(xw, xh, (((1,), (1,)), ((), ())))
    c = lax.div(c, lax.broadcast_in_dim(as_array(fact), _shape(c), ()))
    return lax.reshape(c, ()) if _shape(c) == (1, 1) else c


def corrcoef(x, y=None, rowvar: bool = True, dtype=None):
    """Pearson correlation coefficients (``cov`` normalised by the standard deviations,
    clipped to ``[-1, 1]``).

    Example:
        >>> corrcoef(np.array([[0., 1., 2.], [0., 2., 4.]], np.float32))
        array([[1., 1.],
               [1., 1.]], dtype=float32)
    """
    c = cov(x, y, rowvar, dtype=dtype)
    if len(_shape(c)) == 0:
        return lax.div(c, c)
    d = lax.real(_diagonal(c)) if _dtype(c).kind == "c" else _diagonal(c)
    sd = sqrt(d)
    n = _shape(c)[0]
    c = lax.div(c, lax.broadcast_in_dim(convert(sd, _dtype(c)), (n, n), (0,)))
    c = lax.div(c, lax.broadcast_in_dim(convert(sd, _dtype(c)), (n, n), (1,)))
    if _dtype(c).kind == "c":
        return c
    return lax.clamp(np.asarray(-1, _dtype(c)), c, np.asarray(1, _dtype(c)))


def _diagonal(c):
    n = _shape(c)[0]
    return sum(lax.mul(c, np.eye(n, dtype=_dtype(c))), axis=1)
