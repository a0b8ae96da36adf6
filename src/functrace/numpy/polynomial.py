"""``jax.numpy``'s polynomial functions on coefficient arrays (highest power first, as
NumPy's ``poly1d`` convention): ``polyval`` (Horner), ``polyadd``/``polysub``/``polymul``/
``polydiv``, ``polyder``/``polyint``, ``polyfit`` (least squares through ``lstsq``) and
``poly`` (coefficients from roots).
"""

from __future__ import annotations

import operator

import numpy as np

from .. import lax
from ..core.trace import Tracer, get_aval
from ..errors import FunctraceError, ShapeError
from ._promote import as_array, convert, promote_args
from .decompositions import lstsq
from .grids import vander
from .linalg_eig import eigvals
from .manip import ravel
from .numerics import convolve

__all__ = ["roots", "poly", "polyadd", "polyder", "polydiv", "polyfit", "polyint", "polymul",
           "polysub", "polyval"]


def _shape(x) -> tuple[int, ...]:
    return get_aval(x).shape


def _coeffs(p, op: str):
    x = as_array(p)
    if len(_shape(x)) != 1:
        raise ShapeError(f"{op}: coefficients must be 1-D, got shape {_shape(x)}")
    return x


def polyval(p, x, *, unroll: int = 16):
    """The polynomial with coefficients ``p`` (highest power first) at ``x`` (Horner).

    Example:
        >>> polyval(np.array([1., 0., -1.], np.float32), np.array([2., 3.], np.float32))
        array([3., 8.], dtype=float32)
    """
    c = _coeffs(p, "polyval")
    c, v = promote_args("polyval", c, x, broadcast=False)
    out = lax.full_like(v, 0)
    for i in range(_shape(c)[0]):
        ci = lax.reshape(lax.slice(c, (i,), (i + 1,)), ())
        out = lax.add(lax.mul(out, v), lax.broadcast_in_dim(ci, _shape(v), ()))
    return out


def _align(a, b):
    n = max(_shape(a)[0], _shape(b)[0])
    a = lax.pad(a, np.zeros((), get_aval(a).dtype), [(n - _shape(a)[0], 0, 0)])
    b = lax.pad(b, np.zeros((), get_aval(b).dtype), [(n - _shape(b)[0], 0, 0)])
    return a, b


def polyadd(a1, a2):
    """The coefficients of the sum of two polynomials.

    Example:
        >>> polyadd(np.array([1, 2], np.int32), np.array([1, 0, 0], np.int32))
        array([1, 1, 2], dtype=int32)
    """
    a, b = promote_args("polyadd", _coeffs(a1, "polyadd"), _coeffs(a2, "polyadd"),
                        broadcast=False)
    return lax.add(*_align(a, b))


def polysub(a1, a2):
    """The coefficients of ``a1 - a2``."""
    a, b = promote_args("polysub", _coeffs(a1, "polysub"), _coeffs(a2, "polysub"),
                        broadcast=False)
    return lax.sub(*_align(a, b))


def _trim(x):
    if isinstance(x, Tracer):
        raise FunctraceError("trim_leading_zeros=True needs concrete coefficients")
    v = np.asarray(x)
    nz = np.flatnonzero(v)
    start = int(nz[0]) if nz.size else max(v.size - 1, 0)
    return lax.slice(x, (start,), (_shape(x)[0],))


def polymul(a1, a2, *, trim_leading_zeros: bool = False):
    """The coefficients of the product (a full convolution).

    Example:
        >>> polymul(np.array([1., 1.], np.float32), np.array([1., -1.], np.float32))
        array([ 1.,  0., -1.], dtype=float32)
    """
    # JAX promotes the coefficients to inexact: integer polynomials give float products
    a, b = promote_args("polymul", _coeffs(a1, "polymul"), _coeffs(a2, "polymul"),
                        broadcast=False, inexact=True)
    if trim_leading_zeros:
        a, b = _trim(a), _trim(b)
    return convolve(a, b)


def polydiv(u, v, *, trim_leading_zeros: bool = False):
    """``(quotient, remainder)`` of the polynomial division ``u / v`` (the remainder keeps
    ``u``'s length, as JAX's).

    Example:
        >>> polydiv(np.array([1., 0., -1.], np.float32), np.array([1., 1.], np.float32))
        (array([ 1., -1.], dtype=float32), array([0., 0., 0.], dtype=float32))
    """
    a, b = promote_args("polydiv", _coeffs(u, "polydiv"), _coeffs(v, "polydiv"),
                        broadcast=False, inexact=True)
    if trim_leading_zeros:
        a, b = _trim(a), _trim(b)
    m, n = _shape(a)[0] - 1, _shape(b)[0] - 1
    scale = lax.div(np.asarray(1, get_aval(b).dtype), lax.reshape(lax.slice(b, (0,), (1,)), ()))
    q = lax.full((max(m - n + 1, 1),), 0, get_aval(a).dtype)
    r = a
    for k in range(0, m - n + 1):
        d = lax.mul(scale, lax.reshape(lax.slice(r, (k,), (k + 1,)), ()))
        q = lax.dynamic_update_slice(q, lax.reshape(d, (1,)), (k,))
        upd = lax.mul(lax.broadcast_in_dim(d, (n + 1,), ()), b)
        seg = lax.sub(lax.slice(r, (k,), (k + n + 1,)), upd)
        r = lax.dynamic_update_slice(r, seg, (k,))
    return q, r


def polyder(p, m: int = 1):
    """The coefficients of the ``m``-th derivative.

    Example:
        >>> polyder(np.array([1., 1., 1., 1.], np.float32))
        array([3., 2., 1.], dtype=float32)
    """
    (c,) = promote_args("polyder", _coeffs(p, "polyder"), inexact=True)  # floats, as JAX
    m = operator.index(m)
    if m < 0:
        raise FunctraceError("polyder: the order of derivative must be non-negative")
    for _ in range(m):
        n = _shape(c)[0]
        if n <= 1:
            return lax.full((0,), 0, get_aval(c).dtype)
        powers = np.arange(n - 1, 0, -1).astype(get_aval(c).dtype)
        c = lax.mul(lax.slice(c, (0,), (n - 1,)), powers)
    return c


def polyint(p, m: int = 1, k=None):
    """The coefficients of the ``m``-th antiderivative, with integration constants ``k``
    (zeros by default).

    Example:
        >>> polyint(np.array([3., 2., 1.], np.float32))
        array([1., 1., 1., 0.], dtype=float32)
    """
    (c,) = promote_args("polyint", _coeffs(p, "polyint"), inexact=True)
    m = operator.index(m)
    ks = np.zeros(m) if k is None else np.atleast_1d(np.asarray(k, np.float64))
    if ks.size == 1 and m > 1:
        ks = np.full(m, ks[0])
    if ks.size != m:
        raise FunctraceError("polyint: k must have m entries")
    for i in range(m):
        n = _shape(c)[0]
        powers = np.arange(n, 0, -1).astype(get_aval(c).dtype)
        c = lax.concatenate([lax.div(c, powers), np.asarray([ks[i]], get_aval(c).dtype)], 0)
    return c


def polyfit(x, y, deg: int, rcond=None, full: bool = False, w=None, cov: bool = False):
    """The least-squares polynomial fit of degree ``deg`` (highest power first).

    Example:
        >>> polyfit(np.array([0., 1., 2.]), np.array([1., 3., 5.]), 1).round(4)
        array([2., 1.], dtype=float32)
    """
    if full or cov:
        raise FunctraceError("polyfit: full=True and cov=True are not supported")
    xv, yv = promote_args("polyfit", ravel(as_array(x)), as_array(y), broadcast=False,
                          inexact=True)
    lhs = vander(xv, operator.index(deg) + 1)
    rhs = yv
    if w is not None:
        wv = convert(as_array(w), get_aval(xv).dtype)
        lhs = lax.mul(lhs, lax.broadcast_in_dim(wv, _shape(lhs), (0,)))
        rhs = lax.mul(rhs, lax.broadcast_in_dim(wv, _shape(rhs), (0,)))
    # column scaling, as NumPy, for conditioning
    scale = lax.sqrt(lax.reduce_sum(lax.mul(lhs, lhs), (0,)))
    lhs = lax.div(lhs, lax.broadcast_in_dim(scale, _shape(lhs), (1,)))
    sol = lstsq(lhs, rhs, rcond)[0]
    if len(_shape(sol)) == 2:
        return lax.div(sol, lax.broadcast_in_dim(scale, _shape(sol), (0,)))
    return lax.div(sol, scale)


def poly(seq_of_zeros):
    """The coefficients of the monic polynomial with the given roots (or of a square
    matrix's characteristic polynomial is not supported).

    Example:
        >>> poly(np.array([1., -1.], np.float32))
        array([ 1.,  0., -1.], dtype=float32)
    """
    z = as_array(seq_of_zeros)
    if len(_shape(z)) != 1:
        raise ShapeError("poly: pass a 1-D array of roots")
    (z,) = promote_args("poly", z, inexact=True)
    c = np.ones((1,), get_aval(z).dtype)
    out = as_array(c)
    for i in range(_shape(z)[0]):
        r = lax.slice(z, (i,), (i + 1,))
        factor = lax.concatenate([np.ones((1,), get_aval(z).dtype), lax.neg(r)], 0)
        out = polymul(out, factor)
    return out


def _companion_roots(p):
    """The eigenvalues of ``p``'s companion matrix (``p[0]`` nonzero for finite roots)."""
    n = get_aval(p).shape[0]
    cdt = np.complex128 if get_aval(p).dtype in (np.float64, np.complex128) else np.complex64
    if n < 2:
        return lax.full((0,), 0, np.dtype(cdt))
    first = lax.div(lax.neg(p[1:]), p[0])
    below = np.eye(n - 1, k=-1, dtype=get_aval(p).dtype)[1:]  # ones under the diagonal
    companion = lax.concatenate([lax.reshape(first, (1, n - 1)), below], 0)
    return eigvals(companion)


def _roots_with_zeros(p):
    """JAX's traceable scheme: leading zeros are rolled to the end (roots at 0), those
    zero roots sorted last, and as many as there were leading zeros become NaN."""
    n = get_aval(p).shape[0]
    if n < 2:
        return _companion_roots(p)
    is_zero = lax.eq(p, lax.full_like(p, 0))
    lead = lax.convert_element_type(lax.argmin(is_zero, 0, np.int32), np.int32)
    all_zero = lax.reduce_and(is_zero, (0,))
    lead = lax.select(all_zero, np.int32(n), lead)
    p = lax.select(lax.broadcast_in_dim(all_zero, (n,), ()), lax.full_like(p, 1), p)
    order = lax.rem(lax.add(np.arange(n, dtype=np.int32), lead), np.int32(n))
    found = _companion_roots(p[order])
    zero_root = lax.eq(found, lax.full_like(found, 0))
    _, found = lax.sort_key_val(zero_root, found)
    m = get_aval(found).shape[0]
    keep = lax.lt(np.arange(m, dtype=np.int32), lax.sub(np.int32(m), lead))
    nan = lax.full_like(found, complex(np.nan, np.nan))
    return lax.select(keep, found, nan)


def roots(p, *, strip_zeros: bool = True):
    """The roots of the polynomial with coefficients ``p`` (highest power first), complex,
    as the eigenvalues of its companion matrix (``jax.numpy.roots``).

    With ``strip_zeros`` (the default, which needs a concrete ``p``) leading zeros are
    dropped and trailing zeros give roots at 0; without it, leading zeros give NaN roots
    (usable under ``jit``).

    Example:
        >>> import numpy as np
        >>> roots(np.array([1., -3., 2.], np.float32))  # (x - 2)(x - 1)
        array([2.+0.j, 1.+0.j], dtype=complex64)
    """
    (p,) = promote_args("roots", p, inexact=True)
    if len(get_aval(p).shape) != 1:
        raise ShapeError(f"roots: the coefficients must be 1-D, got shape "
                         f"{get_aval(p).shape}")
    if not strip_zeros:
        return _roots_with_zeros(p)
    if isinstance(p, Tracer):
        raise FunctraceError("roots: strip_zeros=True needs concrete coefficients (it "
                             "changes the number of roots); under jit pass "
                             "strip_zeros=False")
    nonzero = np.flatnonzero(np.asarray(p))
    cdt = np.complex128 if get_aval(p).dtype == np.float64 else np.complex64
    if nonzero.size == 0:
        return lax.full((0,), 0, np.dtype(cdt))
    found = _companion_roots(p[nonzero[0]:nonzero[-1] + 1])
    trailing = get_aval(p).shape[0] - 1 - int(nonzero[-1])
    return lax.concatenate([found, lax.full((trailing,), 0, get_aval(found).dtype)], 0)
