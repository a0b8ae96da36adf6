"""Reductions: ``sum``, ``mean``, ``var``, ``std``, ``max``, ``min``, ``prod``, ``argmax``,
``argmin``, ``all``, ``any``, ``cumsum``. ``axis`` is None, an int or a tuple of ints
(negative values count from the end); ``keepdims`` keeps reduced axes as size 1.
"""

from __future__ import annotations

import numpy as np

from .. import lax
from ..core.avals import (
    canonicalize_dtype,
    default_float_dtype,
    default_int_dtype,
    is_inexact,
)
from ..core.trace import get_aval
from ..errors import DTypeError, ShapeError
from ._promote import (
    as_array,
    canonical_axes,
    canonical_axis,
    check_dtype,
    convert,
    promote_dtypes,
)
from .math import _to_bool, isclose, multiply, subtract, true_divide


def _keep(out, axes: tuple[int, ...], keepdims: bool):
    return lax.expand_dims(out, axes) if keepdims and axes else out


def _count(shape, axes) -> int:
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def _upcast_int(dtype: np.dtype) -> np.dtype:
    """NumPy/JAX accumulate booleans and narrow integers in the default integer type."""
    if dtype == np.bool_:
        return default_int_dtype()
    if np.issubdtype(dtype, np.signedinteger) and dtype.itemsize < default_int_dtype().itemsize:
        return default_int_dtype()
    if np.issubdtype(dtype, np.unsignedinteger) and dtype.itemsize < 4:
        return canonicalize_dtype(np.uint64 if default_int_dtype().itemsize == 8 else np.uint32)
    return dtype


def _prepare(a, axis, dtype, op: str, upcast: bool):
    x = as_array(a)
    axes = canonical_axes(axis, get_aval(x).ndim, op)
    if dtype is not None:
        x = convert(x, check_dtype(dtype))
    elif upcast:
        x = convert(x, _upcast_int(get_aval(x).dtype))
    return x, axes


def sum(a, axis=None, dtype=None, out=None, keepdims: bool = False):  # noqa: A001
    """The sum over ``axis`` (all axes by default).

    Example:
        >>> sum(np.array([[1., 2.], [3., 4.]], np.float32), axis=0)
        array([4., 6.], dtype=float32)
    """
    _no_out(out, "sum")
    x, axes = _prepare(a, axis, dtype, "sum", upcast=True)
    return _keep(lax.reduce_sum(x, axes), axes, keepdims)


def prod(a, axis=None, dtype=None, out=None, keepdims: bool = False):
    """The product over ``axis`` (all axes by default)."""
    _no_out(out, "prod")
    x, axes = _prepare(a, axis, dtype, "prod", upcast=True)
    return _keep(lax.reduce_prod(x, axes), axes, keepdims)


def _float_input(a, axis, dtype, op: str):
    x, axes = _prepare(a, axis, dtype, op, upcast=False)
    if not is_inexact(get_aval(x).dtype):
        x = convert(x, default_float_dtype())
    return x, axes


def mean(a, axis=None, dtype=None, out=None, keepdims: bool = False):
    """The arithmetic mean over ``axis``; integer inputs give a float result.

    Example:
        >>> mean(np.array([1, 2], np.int32))
        array(1.5, dtype=float32)
    """
    _no_out(out, "mean")
    x, axes = _float_input(a, axis, dtype, "mean")
    n = _count(get_aval(x).shape, axes)
    total = lax.reduce_sum(x, axes)
    return _keep(lax.div(total, float(n) if n else float("nan")), axes, keepdims)


def var(a, axis=None, dtype=None, out=None, ddof: int = 0, keepdims: bool = False):
    """The variance ``sum((a - mean)**2) / (n - ddof)`` over ``axis``.

    Example:
        >>> var(np.array([1., 3.], np.float32))
        array(1., dtype=float32)
    """
    _no_out(out, "var")
    x, axes = _float_input(a, axis, dtype, "var")
    n = _count(get_aval(x).shape, axes)
    centered = subtract(x, mean(x, axes, keepdims=True))
    if get_aval(x).dtype.kind == "c":  # |z - mean|**2: the variance of a complex array is real
        sq = lax.add(lax.integer_pow(lax.real(centered), 2),
                     lax.integer_pow(lax.imag(centered), 2))
    else:
        sq = lax.integer_pow(centered, 2)
    sq = lax.reduce_sum(sq, axes)
    denom = n - ddof
    out_ = lax.div(sq, float(denom)) if denom > 0 else lax.mul(sq, float("nan"))
    return _keep(out_, axes, keepdims)


def std(a, axis=None, dtype=None, out=None, ddof: int = 0, keepdims: bool = False):
    """The standard deviation, ``sqrt(var(...))``."""
    return lax.sqrt(var(a, axis, dtype, out, ddof=ddof, keepdims=keepdims))


def _extremum(name: str, lax_fn, bool_fn):
    def fn(a, axis=None, out=None, keepdims: bool = False, initial=None, where=None):
        _no_out(out, name)
        if initial is not None or where is not None:
            raise DTypeError(f"{name}: the initial= and where= arguments are not supported")
        x = as_array(a)
        axes = canonical_axes(axis, get_aval(x).ndim, name)
        empty = [ax for ax in axes if get_aval(x).shape[ax] == 0]
        if empty:
            raise ShapeError(f"{name}: zero-size array to reduction operation {name} which has "
                             "no identity")
        reduce = bool_fn if get_aval(x).dtype == np.bool_ else lax_fn
        return _keep(reduce(x, axes) if axes else x, axes, keepdims)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"The {name}imum over ``axis`` (all axes by default); its gradient goes to "
                  "the extremal elements.")
    return fn


max = _extremum("max", lax.reduce_max, lax.reduce_or)  # noqa: A001
min = _extremum("min", lax.reduce_min, lax.reduce_and)  # noqa: A001
amax = max
amin = min


def _arg(name: str, lax_fn):
    def fn(a, axis=None, out=None, keepdims: bool = False):
        _no_out(out, name)
        x = as_array(a)
        if get_aval(x).dtype == np.bool_:
            x = convert(x, np.int32)
        shape = get_aval(x).shape
        if axis is None:
            flat = lax.reshape(x, (_count(shape, range(len(shape))),))
            idx = lax_fn(flat, 0, default_int_dtype())
            return lax.reshape(idx, (1,) * len(shape)) if keepdims else idx
        ax = canonical_axis(axis, len(shape), name)
        return _keep(lax_fn(x, ax, default_int_dtype()), (ax,), keepdims)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"The index of the {name[3:]}imum along ``axis`` (of the flattened array "
                  "when ``axis`` is None); the first one on ties.")
    return fn


argmax = _arg("argmax", lax.argmax)
argmin = _arg("argmin", lax.argmin)


def all(a, axis=None, out=None, keepdims: bool = False):  # noqa: A001
    """True where every element over ``axis`` is nonzero."""
    _no_out(out, "all")
    x = _to_bool(as_array(a))
    axes = canonical_axes(axis, get_aval(x).ndim, "all")
    return _keep(lax.reduce_and(x, axes), axes, keepdims)


def any(a, axis=None, out=None, keepdims: bool = False):  # noqa: A001
    """True where some element over ``axis`` is nonzero."""
    _no_out(out, "any")
    x = _to_bool(as_array(a))
    axes = canonical_axes(axis, get_aval(x).ndim, "any")
    return _keep(lax.reduce_or(x, axes), axes, keepdims)


def cumsum(a, axis=None, dtype=None, out=None):
    """The inclusive cumulative sum along ``axis`` (of the flattened array if None).

    Example:
        >>> cumsum(np.array([1, 2, 3], np.int32))
        array([1, 3, 6], dtype=int32)
    """
    _no_out(out, "cumsum")
    x = as_array(a)
    if axis is None:
        x = lax.reshape(x, (get_aval(x).size,))
        axis = 0
    if dtype is None and get_aval(x).dtype == np.bool_:
        dtype = default_int_dtype()  # JAX keeps other integer dtypes (int8 stays int8)
    x, _ = _prepare(x, None, dtype, "cumsum", upcast=False)
    ax = canonical_axis(axis, get_aval(x).ndim, "cumsum")
    return lax.cumsum(x, ax)


def allclose(a, b, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False):
    """Whether every element of ``a`` is close to ``b`` (a boolean 0-d array)."""
    return all(isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def array_equal(a1, a2, equal_nan: bool = False):
    """Whether ``a1`` and ``a2`` have the same shape and elements (a boolean 0-d array)."""
    x, y = promote_dtypes(as_array(a1), as_array(a2))
    if get_aval(x).shape != get_aval(y).shape:
        return np.asarray(False)
    same = lax.eq(x, y)
    if equal_nan and is_inexact(get_aval(x).dtype):
        same = lax.bitwise_or(same, lax.bitwise_and(lax.ne(x, x), lax.ne(y, y)))
    return all(same)


def ptp(a, axis=None, keepdims: bool = False):
    """The range ``max - min`` over ``axis``."""
    return subtract(max(a, axis, keepdims=keepdims), min(a, axis, keepdims=keepdims))


def count_nonzero(a, axis=None, keepdims: bool = False):
    """The number of nonzero elements over ``axis``."""
    x = convert(_to_bool(as_array(a)), default_int_dtype())
    return sum(x, axis=axis, keepdims=keepdims)


def average(a, axis=None, weights=None, returned: bool = False, keepdims: bool = False):
    """The (weighted) mean over ``axis``."""
    if weights is None:
        avg = mean(a, axis, keepdims=keepdims)
        if returned:
            x = as_array(a)
            n = _count(get_aval(x).shape, canonical_axes(axis, get_aval(x).ndim, "average"))
            return avg, lax.full(get_aval(avg).shape, float(n), get_aval(avg).dtype)
        return avg
    x, w = as_array(a), as_array(weights)
    if get_aval(w).shape != get_aval(x).shape:
        raise ShapeError("average: weights must have the shape of a (1-D weights along one "
                         "axis are not supported yet)")
    total_w = sum(w, axis, keepdims=keepdims)
    avg = true_divide(sum(multiply(x, w), axis, keepdims=keepdims), total_w)
    return (avg, total_w) if returned else avg


def _no_out(out, op: str):
    if out is not None:
        raise DTypeError(f"{op}: out= is not supported (arrays are immutable); use the return "
                         "value")
