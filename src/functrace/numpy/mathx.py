"""More elementwise functions of ``jax.numpy``: inverse trigonometric and hyperbolic
functions, ``hypot``, ``copysign``, ``fmod``, ``logaddexp2``, angle conversions,
``gcd``/``lcm``, float decomposition (``frexp``, ``ldexp``, ``modf``), the ``is*``
predicates and the bit-shift names. NumPy broadcasting and JAX promotion, via ``math.py``.
"""

from __future__ import annotations

import numpy as np

from .. import lax
from ..core.avals import is_inexact
from ..core.trace import Tracer, get_aval
from ..errors import DTypeError, no_sharding
from ._promote import as_array, broadcast_shapes, broadcast_to_shape, promote_args
from .math import (
    _binary,
    _unary,
    absolute,
    floor,
    floor_divide,
    isinf,
    isnan,
    logaddexp,
    maximum,
    minimum,
    remainder,
    trunc,
    where,
)

__all__ = [
    "acos", "acosh", "angle", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2",
    "asin", "asinh", "atan", "atan2", "atanh", "bitwise_count", "bitwise_invert",
    "bitwise_left_shift", "bitwise_right_shift", "copysign", "deg2rad", "degrees", "divmod",
    "fabs", "fmax", "fmin", "fmod", "frexp", "gcd", "heaviside", "hypot", "i0", "iscomplex",
    "iscomplexobj", "isneginf", "isposinf", "isreal", "isrealobj", "isscalar", "iterable",
    "lcm", "ldexp", "left_shift", "logaddexp2", "modf", "nextafter", "rad2deg", "radians",
    "right_shift", "sinc", "spacing",
]


def _dtype(x) -> np.dtype:
    return get_aval(x).dtype


def _sign_bit(a):
    """The IEEE sign bit (set for -0.0 and negative NaNs too)."""
    dt = _dtype(a)
    if not is_inexact(dt) or dt.kind == "c":
        return lax.lt(a, lax.full_like(a, 0))
    bits = lax.bitcast_convert_type(a, np.dtype(f"i{dt.itemsize}"))
    return lax.lt(bits, lax.full_like(bits, 0))


arcsin = asin = _unary("arcsin", lax.asin)
arccos = acos = _unary("arccos", lax.acos)
arctan = atan = _unary("arctan", lax.atan)
arcsinh = asinh = _unary("arcsinh", lax.asinh)
arccosh = acosh = _unary("arccosh", lax.acosh)
atanh = _unary("atanh", lax.atanh)
arctan2 = atan2 = _binary("arctan2", lax.atan2, inexact=True,
                          doc="""Elementwise ``arctan(x1 / x2)`` in the right quadrant.

    Example:
        >>> arctan2(np.float32(1), np.float32(-1)).round(4)
        array(2.3562, dtype=float32)
    """)
fabs = _unary("fabs", lax.abs)
deg2rad = radians = _unary("deg2rad", lambda x: lax.mul(x, np.asarray(np.pi / 180, _dtype(x))))
rad2deg = degrees = _unary("rad2deg", lambda x: lax.mul(x, np.asarray(180 / np.pi, _dtype(x))))


def hypot(x1, x2, /):
    """``sqrt(x1**2 + x2**2)`` without overflow or underflow in the squares.

    Example:
        >>> hypot(np.float32(3e30), np.float32(4e30))
        array(5.e+30, dtype=float32)
    """
    a, b = promote_args("hypot", x1, x2, inexact=True)
    a, b = absolute(a), absolute(b)
    big, small = maximum(a, b), minimum(a, b)
    safe = where(big == 0, 1, big)
    ratio = lax.div(small, safe)
    out = lax.mul(big, lax.sqrt(lax.add(lax.mul(ratio, ratio), np.asarray(1, _dtype(big)))))
    return where(isinf(a) | isinf(b), np.inf, where(big == 0, 0, out))


def copysign(x1, x2, /):
    """``|x1|`` with the sign (bit) of ``x2``.

    Example:
        >>> copysign(np.float32(2), np.float32(-0.0))
        array(-2., dtype=float32)
    """
    a, b = promote_args("copysign", x1, x2, inexact=True)
    mag = absolute(a)
    return where(_sign_bit(b), lax.neg(mag), mag)


def fmod(x1, x2, /):
    """The C remainder: the result has the sign of the dividend ``x1`` (``lax.rem``).

    Example:
        >>> fmod(np.array([-3, 3], np.int32), np.int32(2))
        array([-1,  1], dtype=int32)
    """
    a, b = promote_args("fmod", x1, x2)
    return lax.rem(a, b)


def logaddexp2(x1, x2, /):
    """``log2(2**x1 + 2**x2)`` without overflow.

    Example:
        >>> logaddexp2(np.float32(3), np.float32(3))
        array(4., dtype=float32)
    """
    a, b = promote_args("logaddexp2", x1, x2, inexact=True)
    ln2 = np.asarray(np.log(2.0), _dtype(a))
    return lax.div(logaddexp(lax.mul(a, ln2), lax.mul(b, ln2)), ln2)


def heaviside(x1, x2, /):
    """0 where ``x1 < 0``, ``x2`` where ``x1 == 0``, 1 where ``x1 > 0``.

    Example:
        >>> heaviside(np.array([-1., 0., 2.], np.float32), np.float32(0.5))
        array([0. , 0.5, 1. ], dtype=float32)
    """
    a, b = promote_args("heaviside", x1, x2, inexact=True)
    return where(isnan(a), a, where(a < 0, 0, where(a > 0, 1, b)))


def i0(x):
    """The modified Bessel function of the first kind, order 0 (``exp(|x|)
    lax.bessel_i0e(x)``); its derivative is ``I1``.

    Example:
        >>> i0(np.array([0., 1.], np.float32)).round(5)
        array([1.     , 1.26607], dtype=float32)
    """
    (a,) = promote_args("i0", x, inexact=True)
    return lax.mul(lax.exp(lax.abs(a)), lax.bessel_i0e(a))


def sinc(x, /):
    """``sin(pi x) / (pi x)``, 1 at 0 (with a smooth derivative there).

    Example:
        >>> sinc(np.array([0., 0.5], np.float32))
        array([1.        , 0.63661975], dtype=float32)
    """
    (a,) = promote_args("sinc", x, inexact=True)
    zero = a == 0
    pix = lax.mul(where(zero, 1, a), np.asarray(np.pi, _dtype(a)))
    # near 0 the Taylor series 1 - (pi x)^2 / 6 gives the right value and derivatives
    taylor = lax.sub(np.asarray(1, _dtype(a)), lax.div(lax.mul(
        lax.mul(a, np.asarray(np.pi, _dtype(a))), lax.mul(a, np.asarray(np.pi, _dtype(a)))),
        np.asarray(6, _dtype(a))))
    return where(zero, taylor, lax.div(lax.sin(pix), pix))


def fmax(x1, x2):
    """Elementwise maximum that ignores NaNs (NaN only where both are NaN).

    Example:
        >>> fmax(np.array([np.nan, 1.], np.float32), np.array([2., np.nan], np.float32))
        array([2., 1.], dtype=float32)
    """
    a, b = promote_args("fmax", x1, x2)
    return where(isnan(a), b, where(isnan(b), a, maximum(a, b)))


def fmin(x1, x2):
    """Elementwise minimum that ignores NaNs."""
    a, b = promote_args("fmin", x1, x2)
    return where(isnan(a), b, where(isnan(b), a, minimum(a, b)))


def divmod(x1, x2, /):  # noqa: A001 - NumPy's name
    """``(floor_divide(x1, x2), remainder(x1, x2))``.

    Example:
        >>> divmod(np.int32(-7), np.int32(2))
        (array(-4, dtype=int32), array(1, dtype=int32))
    """
    return floor_divide(x1, x2), remainder(x1, x2)


def modf(x, /, out=None):
    """``(fractional part, integral part)``, both with ``x``'s sign.

    Example:
        >>> modf(np.array([-1.5, 2.25], np.float32))
        (array([-0.5 ,  0.25], dtype=float32), array([-1.,  2.], dtype=float32))
    """
    no_sharding("modf", out=out)
    (a,) = promote_args("modf", x, inexact=True)
    whole = trunc(a)
    return lax.sub(a, whole), whole


def ldexp(x1, x2, /):
    """``x1 * 2**x2`` for integer ``x2``.

    Example:
        >>> ldexp(np.float32(3), np.int32(4))
        array(48., dtype=float32)
    """
    (a,) = promote_args("ldexp", x1, inexact=True)
    e = as_array(x2)
    if is_inexact(_dtype(e)):
        raise DTypeError("ldexp: the exponent must be an integer array")
    two = _pow2(lax.convert_element_type(e, _dtype(a)))
    a, two = promote_args("ldexp", a, two)
    return lax.mul(a, two)


def frexp(x, /):
    """``(mantissa, exponent)`` with ``x = mantissa * 2**exponent`` and
    ``0.5 <= |mantissa| < 1`` (0, inf and NaN give themselves and exponent 0).

    Example:
        >>> frexp(np.array([8., -0.75, 0.], np.float32))
        (array([ 0.5 , -0.75,  0.  ], dtype=float32), array([4, 0, 0], dtype=int32))
    """
    (a,) = promote_args("frexp", x, inexact=True)
    dt = _dtype(a)
    mag = absolute(a)
    special = (mag == 0) | isinf(a) | isnan(a)
    safe = where(special, 1, mag)
    e = lax.add(floor(lax.div(lax.log(safe), np.asarray(np.log(2.0), dt))), np.asarray(1, dt))
    m = lax.div(a, _pow2(e))
    # log2 rounding can be off by one at powers of two: renormalise into [0.5, 1)
    hi = absolute(m) >= 1
    m, e = where(hi, lax.mul(m, np.asarray(0.5, dt)), m), where(hi, lax.add(e, 1.0), e)
    lo = absolute(m) < 0.5
    m, e = where(lo, lax.mul(m, np.asarray(2, dt)), m), where(lo, lax.sub(e, 1.0), e)
    m = where(special, a, m)
    e = where(special, 0, e)
    return m, lax.convert_element_type(e, np.int32)


def _pow2(e):
    """``2 ** e`` for integral float ``e``, exactly (``pow``, not ``exp(e log 2)``)."""
    return lax.pow(lax.full_like(e, 2), e)


def nextafter(x, y, /):
    """The next representable value after ``x`` towards ``y``.

    Example:
        >>> nextafter(np.float32(0), np.float32(1))
        array(1.e-45, dtype=float32)
    """
    a, b = promote_args("nextafter", x, y, inexact=True)
    shape = broadcast_shapes("nextafter", get_aval(a).shape, get_aval(b).shape)
    return lax.nextafter(broadcast_to_shape(a, shape, "nextafter"),
                         broadcast_to_shape(b, shape, "nextafter"))


def spacing(x, /):
    """The distance from ``x`` to the next larger-magnitude float.

    Example:
        >>> spacing(np.float32(1))
        array(1.1920929e-07, dtype=float32)
    """
    (a,) = promote_args("spacing", x, inexact=True)
    away = where(_sign_bit(a), -np.inf, np.inf)
    return lax.sub(lax.nextafter(a, lax.convert_element_type(away, _dtype(a))), a)


def angle(z, deg: bool = False):
    """The argument of complex ``z`` (radians, or degrees with ``deg``).

    Example:
        >>> angle(np.complex64(1j))
        array(1.5707964, dtype=float32)
    """
    x = as_array(z)
    if _dtype(x).kind == "c":
        re, im = lax.real(x), lax.imag(x)
    else:
        (re,) = promote_args("angle", x, inexact=True)
        im = lax.full_like(re, 0)
    out = lax.atan2(im, re)
    return lax.mul(out, np.asarray(180 / np.pi, _dtype(out))) if deg else out


def _int_pair(name: str, x1, x2):
    a, b = promote_args(name, x1, x2)
    if _dtype(a).kind not in "iu":
        raise DTypeError(f"{name}: the operands must be integers, got {get_aval(a).str_short()}")
    return a, b


def gcd(x1, x2):
    """The greatest common divisor of ``|x1|`` and ``|x2|`` (Euclid's algorithm, as a
    ``while_loop`` over the whole array).

    Example:
        >>> gcd(np.array([12, 0, -9], np.int32), np.int32(6))
        array([6, 6, 3], dtype=int32)
    """
    a, b = _int_pair("gcd", x1, x2)
    a, b = lax.abs(a), lax.abs(b)
    shape = np.broadcast_shapes(get_aval(a).shape, get_aval(b).shape)
    a = lax.broadcast_in_dim(a, shape, tuple(range(len(shape) - get_aval(a).ndim, len(shape))))
    b = lax.broadcast_in_dim(b, shape, tuple(range(len(shape) - get_aval(b).ndim, len(shape))))

    def cond(ab):
        return lax.reduce_or(lax.ne(ab[1], lax.full_like(ab[1], 0)), tuple(range(len(shape))))

    def body(ab):
        x, y = ab
        nz = lax.ne(y, lax.full_like(y, 0))
        safe = lax.select(nz, y, lax.full_like(y, 1))
        return lax.select(nz, y, x), lax.select(nz, lax.rem(x, safe), y)

    return lax.while_loop(cond, body, (a, b))[0]


def lcm(x1, x2):
    """The least common multiple of ``|x1|`` and ``|x2|`` (0 if either is 0).

    Example:
        >>> lcm(np.array([4, 0, 6], np.int32), np.int32(6))
        array([12,  0,  6], dtype=int32)
    """
    a, b = _int_pair("lcm", x1, x2)
    g = gcd(a, b)
    zero = lax.eq(g, lax.full_like(g, 0))
    safe = lax.select(zero, lax.full_like(g, 1), g)
    out = lax.abs(lax.mul(lax.div(lax.abs(a), safe), lax.abs(b)))
    return lax.select(zero, lax.full_like(g, 0), out)


def isposinf(x, /, out=None):
    """Where ``x`` is ``+inf`` (``out`` must be None: arrays are immutable)."""
    no_sharding("isposinf", out=out)
    (a,) = promote_args("isposinf", x)
    return isinf(a) & ~_sign_bit(a) if is_inexact(_dtype(a)) else lax.full_like(a, False, bool)


def isneginf(x, /, out=None):
    """Where ``x`` is ``-inf`` (``out`` must be None: arrays are immutable)."""
    no_sharding("isneginf", out=out)
    (a,) = promote_args("isneginf", x)
    return isinf(a) & _sign_bit(a) if is_inexact(_dtype(a)) else lax.full_like(a, False, bool)


def iscomplex(x):
    """Where the imaginary part is nonzero."""
    a = as_array(x)
    if _dtype(a).kind != "c":
        return lax.full_like(a, False, bool)
    return lax.ne(lax.imag(a), lax.full_like(lax.imag(a), 0))


def isreal(x):
    """Where the imaginary part is zero."""
    return lax.bitwise_not(iscomplex(x))


def iscomplexobj(x) -> bool:
    """Whether ``x`` has a complex dtype."""
    return get_aval(as_array(x)).dtype.kind == "c"


def isrealobj(x) -> bool:
    """Whether ``x`` does not have a complex dtype."""
    return not iscomplexobj(x)


def isscalar(element) -> bool:
    """Whether ``element`` is a scalar (a Python/NumPy scalar or a rank-0 array)."""
    if isinstance(element, Tracer | np.ndarray):
        return get_aval(element).ndim == 0
    return bool(np.isscalar(element))


def iterable(y) -> bool:
    """Whether ``iter(y)`` works."""
    try:
        iter(y)
    except TypeError:
        return False
    return True


def bitwise_count(x, /):
    """The number of set bits of each integer's absolute value.

    Example:
        >>> bitwise_count(np.array([7, -8], np.int32))
        array([3, 1], dtype=uint8)
    """
    (a,) = promote_args("bitwise_count", x)
    if _dtype(a).kind not in "iu":
        raise DTypeError("bitwise_count: the operand must be an integer array")
    mag = lax.abs(a) if _dtype(a).kind == "i" else a
    return lax.convert_element_type(lax.population_count(mag), np.uint8)


def bitwise_invert(x, /):
    """``~x`` (the array API's name for ``invert``)."""
    return lax.bitwise_not(as_array(x))


def left_shift(x, y, /):
    """``x << y`` for integers.

    Example:
        >>> left_shift(np.int32(3), np.int32(2))
        array(12, dtype=int32)
    """
    a, b = _int_pair("left_shift", x, y)
    return lax.shift_left(*_same_shape(a, b))


def right_shift(x1, x2, /):
    """``x1 >> x2``: arithmetic for signed integers, logical for unsigned.

    Example:
        >>> right_shift(np.int32(-8), np.int32(1))
        array(-4, dtype=int32)
    """
    a, b = _int_pair("right_shift", x1, x2)
    a, b = _same_shape(a, b)
    if _dtype(a).kind == "u":
        return lax.shift_right_logical(a, b)
    return lax.shift_right_arithmetic(a, b)


def _same_shape(a, b):
    shape = np.broadcast_shapes(get_aval(a).shape, get_aval(b).shape)
    out = []
    for x in (a, b):
        nd = get_aval(x).ndim
        out.append(x if get_aval(x).shape == shape else lax.broadcast_in_dim(
            x, shape, tuple(range(len(shape) - nd, len(shape)))))
    return out


bitwise_left_shift = left_shift
bitwise_right_shift = right_shift
