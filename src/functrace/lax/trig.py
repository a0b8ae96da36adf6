"""Inverse trigonometric and hyperbolic functions, and a few more elementwise names.

``atan2`` is a primitive (its JVP is ``(y dx - x dy) / (x^2 + y^2)`` for ``atan2(x, y)``);
``atan``, ``asin`` and ``acos`` are built on it with JAX's formulas (``asin(x) =
2 atan2(x, 1 + sqrt(1 - x^2))``), and the hyperbolic ones on ``log``/``log1p``/``exp``,
so all of them differentiate, batch and compile through their parts.

Example:
    >>> atan2(np.array([1., -1.], np.float32), np.array([1., 0.], np.float32))
    array([ 0.7853981, -1.5707964], dtype=float32)
"""

from __future__ import annotations

import enum

import numpy as np

from ..core.avals import is_inexact
from ..core.trace import Primitive, abstract_eval_rules, get_aval, impl_rules
from ..errors import DTypeError
from ..transforms.ad import defjvp
from ..transforms.batching import defbroadcasting
from .creation import full_like
from .elementwise import (
    _binary_abstract,
    _expand_unit_dims,
    _match_operands,
    abs,
    add,
    div,
    eq,
    exp,
    expm1,
    floor,
    ge,
    integer_pow,
    log,
    log1p,
    lt,
    mul,
    ne,
    neg,
    pow,
    rem,
    select,
    sign,
    sqrt,
    sub,
)

__all__ = [
    "RoundingMethod", "acos", "acosh", "asin", "asinh", "atan", "atan2", "atan2_p", "atanh",
    "cbrt", "cosh", "exp2", "reciprocal", "round", "sinh",
]


def _check_float(op: str, x) -> None:
    if not is_inexact(get_aval(x).dtype):
        raise DTypeError(f"lax.{op} requires a floating-point operand, got "
                         f"{get_aval(x).str_short()}; cast it with lax.convert_element_type")


def _c(x, value):
    return np.asarray(value, get_aval(x).dtype)


atan2_p = Primitive("atan2", elementwise=True, scalar="math.atan2({0}, {1})")
impl_rules[atan2_p] = np.arctan2
abstract_eval_rules[atan2_p] = _binary_abstract("atan2", kinds="float")
defbroadcasting(atan2_p)


def _atan2_jvp_x(g, x, y):
    return mul(g, div(y, add(mul(x, x), mul(y, y))))


def _atan2_jvp_y(g, x, y):
    return mul(g, div(neg(x), add(mul(x, x), mul(y, y))))


defjvp(atan2_p, _atan2_jvp_x, _atan2_jvp_y)


def atan2(x, y):
    """The angle of the point ``(y, x)``: ``arctan(x / y)`` in the right quadrant.

    Example:
        >>> atan2(np.array([1.], np.float32), np.array([-1.], np.float32))
        array([2.3561945], dtype=float32)
    """
    x, y = _expand_unit_dims(*_match_operands("atan2", x, y))
    return atan2_p.bind(x, y)


def atan(x):
    """Elementwise arc tangent.

    Example:
        >>> atan(np.array([0., 1.], np.float32))
        array([0.       , 0.7853981], dtype=float32)
    """
    _check_float("atan", x)
    return atan2(x, full_like(x, 1))


def asin(x):
    """Elementwise arc sine (NaN outside ``[-1, 1]``), JAX's ``2 atan2(x, 1 + sqrt(1-x^2))``.

    Example:
        >>> asin(np.array([0., 1.], np.float32))
        array([0.       , 1.5707963], dtype=float32)
    """
    _check_float("asin", x)
    one = _c(x, 1)
    return mul(_c(x, 2), atan2(x, add(one, sqrt(sub(one, mul(x, x))))))


def acos(x):
    """Elementwise arc cosine (NaN outside ``[-1, 1]``; ``acos(-1) = pi``).

    Example:
        >>> acos(np.array([1., -1.], np.float32))
        array([0.       , 3.1415927], dtype=float32)
    """
    _check_float("acos", x)
    one = _c(x, 1)
    general = mul(_c(x, 2), atan2(sqrt(sub(one, mul(x, x))), add(one, x)))
    return select(ne(x, _c(x, -1)), general, full_like(x, np.pi))


def sinh(x):
    """Elementwise hyperbolic sine, ``(e^x - e^-x) / 2`` via ``expm1`` near 0.

    Example:
        >>> sinh(np.array([0.], np.float32))
        array([0.], dtype=float32)
    """
    _check_float("sinh", x)
    # (expm1(x) - expm1(-x)) / 2 keeps small x accurate
    return mul(sub(expm1(x), expm1(neg(x))), _c(x, 0.5))


def cosh(x):
    """Elementwise hyperbolic cosine.

    Example:
        >>> cosh(np.array([0.], np.float32))
        array([1.], dtype=float32)
    """
    _check_float("cosh", x)
    return mul(add(exp(x), exp(neg(x))), _c(x, 0.5))


def asinh(x):
    """Elementwise inverse hyperbolic sine, accurate near 0 and odd (``asinh(-x) =
    -asinh(x)``); the derivative is ``1 / sqrt(x^2 + 1)``, also at 0.

    Example:
        >>> asinh(np.array([0.], np.float32))
        array([0.], dtype=float32)
    """
    _check_float("asinh", x)
    zero = full_like(x, 0)
    nonneg = ge(x, _c(x, 0))
    # each branch sees only its own half (a safe input), so no inf/NaN reaches the
    # gradient of the branch that select drops
    pos = _asinh_nonneg(select(nonneg, x, zero))
    negpart = neg(_asinh_nonneg(select(nonneg, zero, neg(x))))
    return select(nonneg, pos, negpart)


def _asinh_nonneg(a):
    # log(a + sqrt(a^2 + 1)) written as log1p(a + a^2 / (1 + sqrt(1 + a^2))); where a^2
    # would overflow, log(a) + log(2) (as JAX)
    one = _c(a, 1)
    big = ge(a, _c(a, np.sqrt(np.finfo(get_aval(a).dtype).max)))
    small = select(big, full_like(a, 1), a)
    near = log1p(add(small, div(mul(small, small), add(one, sqrt(add(one, mul(small, small)))))))
    far = add(log(select(big, a, full_like(a, 1))), _c(a, np.log(2.0)))
    return select(big, far, near)


def acosh(x):
    """Elementwise inverse hyperbolic cosine (NaN below 1).

    Example:
        >>> acosh(np.array([1.], np.float32))
        array([0.], dtype=float32)
    """
    _check_float("acosh", x)
    one = _c(x, 1)
    return log(add(x, mul(sqrt(add(x, one)), sqrt(sub(x, one)))))


def atanh(x):
    """Elementwise inverse hyperbolic tangent, ``(log1p(x) - log1p(-x)) / 2``.

    Example:
        >>> atanh(np.array([0.], np.float32))
        array([0.], dtype=float32)
    """
    _check_float("atanh", x)
    return mul(sub(log1p(x), log1p(neg(x))), _c(x, 0.5))


def cbrt(x):
    """Elementwise real cube root (negative for negative ``x``).

    Example:
        >>> cbrt(np.array([-8.], np.float32))
        array([-2.], dtype=float32)
    """
    _check_float("cbrt", x)
    return mul(sign(x), pow(abs(x), _c(x, 1.0 / 3.0)))


def exp2(x):
    """Elementwise ``2 ** x``.

    Example:
        >>> exp2(np.array([3.], np.float32))
        array([8.], dtype=float32)
    """
    _check_float("exp2", x)
    return exp(mul(x, _c(x, np.log(2.0))))


def reciprocal(x):
    """Elementwise ``1 / x``.

    Example:
        >>> reciprocal(np.array([4.], np.float32))
        array([0.25], dtype=float32)
    """
    return integer_pow(x, -1)


class RoundingMethod(enum.IntEnum):
    """How ``lax.round`` breaks ties (JAX's values)."""

    AWAY_FROM_ZERO = 0
    TO_NEAREST_EVEN = 1


def round(x, rounding_method=RoundingMethod.AWAY_FROM_ZERO):  # noqa: A001 - JAX's name
    """Elementwise rounding to an integral value; halves go away from zero (JAX's
    default) or to the nearest even integer. Its derivative is zero.

    Example:
        >>> round(np.array([0.5, 1.5, -2.5], np.float32))
        array([ 1.,  2., -3.], dtype=float32)
        >>> round(np.array([0.5, 1.5, -2.5], np.float32), RoundingMethod.TO_NEAREST_EVEN)
        array([ 0.,  2., -2.], dtype=float32)
    """
    _check_float("round", x)
    method = RoundingMethod(rounding_method)
    a = abs(x)
    half = _c(x, 0.5)
    if method is RoundingMethod.AWAY_FROM_ZERO:
        return mul(sign(x), floor(add(a, half)))
    down = floor(a)
    frac = sub(a, down)
    odd = eq(rem(down, _c(x, 2)), _c(x, 1))
    up = select(eq(frac, half), odd, ge(frac, half))
    rounded = add(down, select(up, full_like(x, 1), full_like(x, 0)))
    # sign(x) * rounded keeps -0.0 for small negatives, as NumPy's rint
    return select(lt(x, _c(x, 0)), neg(rounded), rounded)
