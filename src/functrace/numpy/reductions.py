"""Reductions: ``sum``, ``mean``, ``var``, ``std``, ``max``, ``min``, ``prod``, ``argmax``,
``argmin``, ``all``, ``any``, ``cumsum``. ``axis`` is None, an int or a tuple of ints
(negative values count from the end); ``keepdims`` keeps reduced axes as size 1.
"""

from __future__ import annotations

import numpy as np

from .. import lax
from ..core.avals import (
    canonicalize_dtype,
    default_int_dtype,
    is_inexact,
)
from ..core.trace import get_aval
from ..errors import DTypeError, ShapeError, UnsupportedArgumentError
from ._promote import (
    as_array,
    broadcast_to_shape,
    canonical_axes,
    canonical_axis,
    check_dtype,
    convert,
    inexact_dtype,
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


def _identity(dtype: np.dtype, kind: str):
    """The identity of ``kind`` (``sum``, ``prod``, ``max``, ``min``) for ``dtype``."""
    if kind in ("sum", "prod"):
        return np.asarray(0 if kind == "sum" else 1, dtype)
    big = kind == "min"
    if dtype == np.bool_:
        return np.asarray(big)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.asarray(info.max if big else info.min, dtype)
    return np.asarray(np.inf if big else -np.inf, dtype)


def _mask(x, where, fill, op: str):
    """``x`` with the entries where ``where`` is False replaced by ``fill``."""
    if where is None:
        return x
    shape = get_aval(x).shape
    mask = broadcast_to_shape(_to_bool(as_array(where)), shape, op)
    return lax.select(mask, x, lax.full(shape, fill, get_aval(x).dtype))


def _with_initial(out, initial, combine, op: str):
    """``combine(initial, out)`` with ``initial`` a scalar of ``out``'s dtype."""
    if initial is None:
        return out
    init = as_array(initial)
    if get_aval(init).shape != ():
        raise ShapeError(f"{op}: initial value must be a scalar. Got array of shape "
                         f"{get_aval(init).shape}")
    dtype = get_aval(out).dtype
    init = convert(init, dtype)
    return combine(lax.broadcast_in_dim(init, get_aval(out).shape, ()), out)


def _prepare_sum(a, axis, dtype, op: str, promote_integers: bool):
    """``(x in its computation dtype, axes, result dtype)`` of ``sum``/``prod``: booleans
    count as the default integer, narrow integers widen unless ``promote_integers=False``,
    and float16 accumulates in float32 (as JAX)."""
    x = as_array(a)
    axes = canonical_axes(axis, get_aval(x).ndim, op)
    if dtype is not None:
        x = convert(x, check_dtype(dtype))
        return x, axes, get_aval(x).dtype
    if get_aval(x).dtype == np.bool_:
        x = convert(x, default_int_dtype())
    if promote_integers:
        x = convert(x, _upcast_int(get_aval(x).dtype))
    result_dtype = get_aval(x).dtype
    return convert(x, _upcast_f16(result_dtype)), axes, result_dtype


def sum(a, axis=None, dtype=None, out=None, keepdims: bool = False, initial=None,  # noqa: A001
        where=None, promote_integers: bool = True):
    """The sum over ``axis`` (all axes by default); entries where ``where`` is False are
    left out and ``initial`` is added. Booleans and narrow integers accumulate in the
    default integer type unless ``promote_integers=False``.

    Example:
        >>> sum(np.array([[1., 2.], [3., 4.]], np.float32), axis=0)
        array([4., 6.], dtype=float32)
    """
    _no_out(out, "sum")
    x, axes, result_dtype = _prepare_sum(a, axis, dtype, "sum", promote_integers)
    if get_aval(x).dtype == np.bool_:
        x = _mask(x, where, False, "sum")
        out_ = _with_initial(lax.reduce_or(x, axes), initial, lax.bitwise_or, "sum")
    else:
        x = _mask(x, where, 0, "sum")
        out_ = _with_initial(lax.reduce_sum(x, axes), initial, lax.add, "sum")
    return convert(_keep(out_, axes, keepdims), result_dtype)


def prod(a, axis=None, dtype=None, out=None, keepdims: bool = False, initial=None,
         where=None, promote_integers: bool = True):
    """The product over ``axis`` (all axes by default); entries where ``where`` is False
    are left out and ``initial`` multiplies the result."""
    _no_out(out, "prod")
    x, axes, result_dtype = _prepare_sum(a, axis, dtype, "prod", promote_integers)
    if get_aval(x).dtype == np.bool_:
        x = _mask(x, where, True, "prod")
        out_ = _with_initial(lax.reduce_and(x, axes), initial, lax.bitwise_and, "prod")
    else:
        x = _mask(x, where, 1, "prod")
        out_ = _with_initial(lax.reduce_prod(x, axes), initial, lax.mul, "prod")
    return convert(_keep(out_, axes, keepdims), result_dtype)


def _float_input(a, axis, dtype, op: str):
    x, axes = _prepare(a, axis, dtype, op, upcast=False)
    if not is_inexact(get_aval(x).dtype):
        x = convert(x, inexact_dtype(get_aval(x).dtype))
    return x, axes


def _where_count(x, axes, where, keepdims: bool, op: str):
    """The number of entries over ``axes`` where ``where`` holds, in ``x``'s dtype."""
    shape = get_aval(x).shape
    mask = broadcast_to_shape(_to_bool(as_array(where)), shape, op)
    n = lax.reduce_sum(convert(mask, get_aval(x).dtype), axes)
    return _keep(n, axes, keepdims)


def _upcast_f16(dtype: np.dtype) -> np.dtype:
    """JAX computes float16/bfloat16 means and variances in float32."""
    if dtype.kind == "f" and dtype.itemsize < 4 or dtype.name == "bfloat16":
        return np.dtype(np.float32)
    if dtype.kind == "c" and dtype.itemsize < 8:
        return np.dtype(np.complex64)
    return dtype


def mean(a, axis=None, dtype=None, out=None, keepdims: bool = False, *, where=None):
    """The arithmetic mean over ``axis`` (of the entries where ``where`` holds); integer
    inputs give a float result. With ``dtype``, the sum, the division and the result are
    in ``dtype`` (an integer ``dtype`` truncates, as in JAX and NumPy).

    Example:
        >>> mean(np.array([1, 2], np.int32))
        array(1.5, dtype=float32)
    """
    _no_out(out, "mean")
    if dtype is None:
        x, axes = _float_input(a, axis, dtype, "mean")
    else:  # JAX: the mean is computed and returned in dtype, even an integer one
        x, axes = _prepare(a, axis, dtype, "mean", upcast=False)
    result_dtype = get_aval(x).dtype
    x = convert(x, _upcast_f16(result_dtype))
    total = lax.reduce_sum(_mask(x, where, 0, "mean"), axes)
    if where is None:
        n = _count(get_aval(x).shape, axes)
        if not is_inexact(get_aval(x).dtype):
            n = np.asarray(n or 1, get_aval(x).dtype)  # (no integer NaN for n == 0)
        out_ = _keep(lax.div(total, n if n else float("nan")), axes, keepdims)
    else:
        out_ = lax.div(_keep(total, axes, keepdims),
                       _where_count(x, axes, where, keepdims, "mean"))
    return convert(out_, result_dtype)


def _var_dtypes(x_dtype: np.dtype, dtype):
    """(computation dtype, result dtype) of ``var``, as JAX's ``_var_promote_types``."""
    if dtype is not None:
        dtype = check_dtype(dtype)
        if x_dtype.kind == "c" and dtype.kind != "c":
            raise DTypeError("var: a real dtype= for the variance of a complex array is not "
                             "supported; pass a complex dtype or take var(x.real)")
        comp = np.promote_types(dtype, x_dtype)
        if not is_inexact(comp):
            comp = inexact_dtype(comp)
        return _upcast_f16(canonicalize_dtype(comp)), dtype
    if not is_inexact(x_dtype):
        return inexact_dtype(x_dtype), inexact_dtype(x_dtype)
    real = np.dtype(np.float32 if x_dtype == np.complex64 else np.float64) \
        if x_dtype.kind == "c" else x_dtype
    return _upcast_f16(x_dtype), canonicalize_dtype(real)


def var(a, axis=None, dtype=None, out=None, ddof: int = 0, keepdims: bool = False, *,
        where=None, mean=None, correction=None):
    """The variance ``sum(|a - mean|**2) / (n - correction)`` over ``axis`` (of the
    entries where ``where`` holds); ``correction`` is ``ddof``'s Array-API name.

    Example:
        >>> var(np.array([1., 3.], np.float32))
        array(1., dtype=float32)
    """
    _no_out(out, "var")
    if correction is None:
        correction = ddof
    elif ddof != 0:
        raise ShapeError("var: ddof and correction can't be provided simultaneously")
    x = as_array(a)
    comp, result_dtype = _var_dtypes(get_aval(x).dtype, dtype)
    x = convert(x, comp)
    axes = canonical_axes(axis, get_aval(x).ndim, "var")
    if mean is None:
        m = _mean(x, axes, keepdims=True, where=where)
    else:
        m = convert(as_array(mean), comp)  # JAX: a precomputed mean with keepdims=True
    centered = subtract(x, m)
    if comp.kind == "c":  # |z - mean|**2: the variance of a complex array is real
        sq = lax.add(lax.integer_pow(lax.real(centered), 2),
                     lax.integer_pow(lax.imag(centered), 2))
    else:
        sq = lax.integer_pow(centered, 2)
    total = _keep(lax.reduce_sum(_mask(sq, where, 0, "var"), axes), axes, keepdims)
    if where is None:
        n = np.asarray(_count(get_aval(x).shape, axes) - correction, get_aval(total).dtype)
    else:
        n = lax.sub(_where_count(sq, axes, where, keepdims, "var"),
                    np.asarray(correction, get_aval(total).dtype))
    out_ = lax.div(total, n)
    ok = lax.gt(n, np.zeros((), get_aval(n).dtype))  # JAX: NaN when n - correction <= 0
    if get_aval(ok).shape != get_aval(out_).shape:
        ok = broadcast_to_shape(ok, get_aval(out_).shape, "var")
    out_ = lax.select(ok, out_, lax.full_like(out_, np.nan))
    return convert(out_, result_dtype)


def std(a, axis=None, dtype=None, out=None, ddof: int = 0, keepdims: bool = False, *,
        where=None, mean=None, correction=None):
    """The standard deviation, ``sqrt(var(...))``."""
    return lax.sqrt(var(a, axis, dtype, out, ddof=ddof, keepdims=keepdims, where=where,
                        mean=mean, correction=correction))


def _extremum(name: str, lax_fn, bool_fn, combine, bool_combine):
    def fn(a, axis=None, out=None, keepdims: bool = False, initial=None, where=None):
        _no_out(out, name)
        if initial is None and where is not None:
            raise ShapeError(f"reduction operation {name} does not have an identity, so to "
                             "use a where mask one has to specify 'initial'")
        x = as_array(a)
        axes = canonical_axes(axis, get_aval(x).ndim, name)
        empty = [ax for ax in axes if get_aval(x).shape[ax] == 0]
        if empty and initial is None:
            raise ShapeError(f"{name}: zero-size array to reduction operation {name} which has "
                             "no identity")
        is_bool = get_aval(x).dtype == np.bool_
        x = _mask(x, where, _identity(get_aval(x).dtype, name), name)
        reduce = bool_fn if is_bool else lax_fn
        out_ = reduce(x, axes) if axes else x
        out_ = _with_initial(out_, initial, bool_combine if is_bool else combine, name)
        return _keep(out_, axes, keepdims)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"The {name}imum over ``axis`` (all axes by default), of the entries where "
                  "``where`` holds and ``initial``; its gradient goes to the extremal "
                  "elements.")
    return fn


max = _extremum("max", lax.reduce_max, lax.reduce_or, lax.max, lax.bitwise_or)  # noqa: A001
min = _extremum("min", lax.reduce_min, lax.reduce_and, lax.min, lax.bitwise_and)  # noqa: A001
amax = max
amin = min


def _arg(name: str, lax_fn):
    def fn(a, axis=None, out=None, keepdims: bool = False):
        _no_out(out, name)
        x = as_array(a)
        if get_aval(x).dtype == np.bool_:
            x = convert(x, np.int32)
        shape = get_aval(x).shape
        n = get_aval(x).size if axis is None else shape[canonical_axis(axis, len(shape), name)]
        if n == 0:
            raise ShapeError(f"{name}: attempt to get {name} of an empty sequence (an axis "
                             "of size 0)")
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


def all(a, axis=None, out=None, keepdims: bool = False, *, where=None):  # noqa: A001
    """True where every element over ``axis`` (where ``where`` holds) is nonzero."""
    _no_out(out, "all")
    x = _mask(_to_bool(as_array(a)), where, True, "all")
    axes = canonical_axes(axis, get_aval(x).ndim, "all")
    return _keep(lax.reduce_and(x, axes), axes, keepdims)


def any(a, axis=None, out=None, keepdims: bool = False, *, where=None):  # noqa: A001
    """True where some element over ``axis`` (where ``where`` holds) is nonzero."""
    _no_out(out, "any")
    x = _mask(_to_bool(as_array(a)), where, False, "any")
    axes = canonical_axes(axis, get_aval(x).ndim, "any")
    return _keep(lax.reduce_or(x, axes), axes, keepdims)


_mean = mean


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


def ptp(a, axis=None, out=None, keepdims: bool = False):
    """The range ``max - min`` over ``axis`` (``out`` must be None).

    Example:
        >>> ptp(np.array([[1, 5], [2, 3]], np.int32), axis=1)
        array([4, 1], dtype=int32)
    """
    _no_out(out, "ptp")
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
    xshape, wshape = get_aval(x).shape, get_aval(w).shape
    if wshape != xshape:
        if axis is None or isinstance(axis, tuple | list) or len(wshape) != 1:
            raise ShapeError(f"average: weights of shape {wshape} differ from a's shape "
                             f"{xshape}; 1-D weights need an int axis= (as in NumPy)")
        ax = canonical_axis(axis, len(xshape), "average")
        if wshape[0] != xshape[ax]:
            raise ShapeError(f"average: length of weights ({wshape[0]}) differs from the "
                             f"length of axis {axis} of a ({xshape[ax]})")
        w = lax.broadcast_in_dim(w, xshape, (ax,))
    total_w = sum(w, axis, keepdims=keepdims)
    avg = true_divide(sum(multiply(x, w), axis, keepdims=keepdims), total_w)
    return (avg, total_w) if returned else avg


def _no_out(out, op: str):
    if out is not None:
        raise UnsupportedArgumentError(f"{op}: out= is not supported (arrays are immutable); "
                                       "use the return value")
