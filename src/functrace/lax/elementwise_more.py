"""Elementwise primitives that JAX has and functrace once built as compositions: ``tan``,
``asin``, ``acos``, ``atan``, ``sinh``, ``cosh``, ``asinh``, ``acosh``, ``atanh``,
``cbrt``, ``exp2``, ``square`` and ``clamp``.

As primitives they print as JAX prints them (``b:f32[] = tan a``), carry JAX's JVP
rules (``tan' = 1 + tan^2``, ``asin' = rsqrt(1 - x^2)``, ``acosh' = rsqrt(x^2 - 1)``,
``cbrt' = cbrt(x)^-2 / 3``, ``exp2' = log(2) exp2(x)``...), and fuse under ``jit``
through a ``math`` expression. The reference impls are NumPy's (``np.arcsinh`` is
accurate near 0 and for large ``x``; ``np.cbrt`` is exact on cubes). Operands are
floating (``square`` takes integers too); complex values run through NumPy.

Example:
    >>> import numpy as np
    >>> tan(np.array([0.0, 0.5], np.float32))
    array([0.       , 0.5463025], dtype=float32)
"""

from __future__ import annotations

import enum
import math

import numpy as np

from ..core.avals import ShapedArray
from ..core.trace import Primitive, abstract_eval_rules, get_aval, impl_rules
from ..errors import DTypeError, ShapeError
from ..transforms.ad import defjvp, defjvp2, defjvp_zero
from ..transforms.batching import defbroadcasting, defvectorized
from .creation import full_like
from .elementwise import (
    _check_kind,
    _make_unary,
    _match_operands,
    add,
    bitwise_and,
    div,
    gt,
    integer_pow,
    lt,
    mul,
    neg,
    no_accuracy,
    rsqrt,
    select,
    sub,
)
from .shape_ops import broadcast_in_dim

__all__ = [
    "acos", "acos_p", "acosh", "acosh_p", "asin", "asin_p", "asinh", "asinh_p", "atan",
    "atan_p", "atanh", "atanh_p", "cbrt", "cbrt_p", "clamp", "clamp_p", "cosh", "cosh_p",
    "exp2", "exp2_p", "RoundingMethod", "round", "round_p", "sinh", "sinh_p", "square",
    "square_p", "tan", "tan_p",
]


def _cbrt_impl(x):
    return np.cbrt(x) if x.dtype.kind != "c" else np.power(x, 1 / 3)


tan_p, _tan = _make_unary("tan", np.tan, scalar="math.tan({0})")
asin_p, _asin = _make_unary("asin", np.arcsin, scalar="math.asin({0})")
acos_p, _acos = _make_unary("acos", np.arccos, scalar="math.acos({0})")
atan_p, _atan = _make_unary("atan", np.arctan, scalar="math.atan({0})")
sinh_p, _sinh = _make_unary("sinh", np.sinh, scalar="math.sinh({0})")
cosh_p, _cosh = _make_unary("cosh", np.cosh, scalar="math.cosh({0})")
asinh_p, _asinh = _make_unary("asinh", np.arcsinh, scalar="math.asinh({0})")
acosh_p, _acosh = _make_unary("acosh", np.arccosh, scalar="math.acosh({0})")
atanh_p, _atanh = _make_unary("atanh", np.arctanh, scalar="math.atanh({0})")
cbrt_p, _cbrt = _make_unary("cbrt", _cbrt_impl,
                            scalar="math.copysign(abs({0}) ** (1.0 / 3.0), {0})")
exp2_p, _exp2 = _make_unary("exp2", np.exp2, scalar="math.pow(2.0, {0})")
square_p, _square = _make_unary("square", np.square, kinds="number", scalar="({0} * {0})")


def _one(x):
    return full_like(x, 1)


def _sq(x):
    return mul(x, x)


defjvp2(tan_p, lambda g, y, x: mul(g, add(_one(x), _sq(y))))
defjvp(asin_p, lambda g, x: mul(g, rsqrt(sub(_one(x), _sq(x)))))
defjvp(acos_p, lambda g, x: mul(g, neg(rsqrt(sub(_one(x), _sq(x))))))
defjvp(atan_p, lambda g, x: div(g, add(_one(x), _sq(x))))
defjvp(sinh_p, lambda g, x: mul(g, cosh(x)))
defjvp(cosh_p, lambda g, x: mul(g, sinh(x)))
defjvp(asinh_p, lambda g, x: mul(g, rsqrt(add(_sq(x), _one(x)))))
# x^2 - 1 rather than (x + 1)(x - 1), as JAX: the domain is x >= 1
defjvp(acosh_p, lambda g, x: mul(g, rsqrt(sub(_sq(x), _one(x)))))
defjvp(atanh_p, lambda g, x: mul(div(_one(x), add(_one(x), x)), div(g, sub(_one(x), x))))
defjvp2(cbrt_p, lambda g, y, x: mul(g, mul(full_like(x, 1 / 3), integer_pow(y, -2))))
defjvp2(exp2_p, lambda g, y, x: mul(g, mul(y, full_like(x, math.log(2.0)))))
defjvp(square_p, lambda g, x: mul(g, mul(x, full_like(x, 2))))


def tan(x, *, accuracy=None):
    """Elementwise tangent.

    Example:
        >>> tan(np.array([0.], np.float32))
        array([0.], dtype=float32)
    """
    if accuracy is not None:
        no_accuracy("tan", accuracy)
    return tan_p.bind(x)


def asin(x):
    """Elementwise arc sine (nan outside ``[-1, 1]``).

    Example:
        >>> asin(np.array([0., 1.], np.float32))
        array([0.       , 1.5707964], dtype=float32)
    """
    return asin_p.bind(x)


def acos(x):
    """Elementwise arc cosine (nan outside ``[-1, 1]``; ``acos(-1) = pi``).

    Example:
        >>> acos(np.array([1., -1.], np.float32))
        array([0.       , 3.1415927], dtype=float32)
    """
    return acos_p.bind(x)


def atan(x):
    """Elementwise arc tangent.

    Example:
        >>> atan(np.array([0., 1.], np.float32))
        array([0.       , 0.7853982], dtype=float32)
    """
    return atan_p.bind(x)


def sinh(x):
    """Elementwise hyperbolic sine.

    Example:
        >>> sinh(np.array([0.], np.float32))
        array([0.], dtype=float32)
    """
    return sinh_p.bind(x)


def cosh(x):
    """Elementwise hyperbolic cosine.

    Example:
        >>> cosh(np.array([0.], np.float32))
        array([1.], dtype=float32)
    """
    return cosh_p.bind(x)


def asinh(x):
    """Elementwise inverse hyperbolic sine (odd, accurate near 0).

    Example:
        >>> asinh(np.array([0.], np.float32))
        array([0.], dtype=float32)
    """
    return asinh_p.bind(x)


def acosh(x):
    """Elementwise inverse hyperbolic cosine (nan below 1).

    Example:
        >>> acosh(np.array([1.], np.float32))
        array([0.], dtype=float32)
    """
    return acosh_p.bind(x)


def atanh(x):
    """Elementwise inverse hyperbolic tangent.

    Example:
        >>> atanh(np.array([0.], np.float32))
        array([0.], dtype=float32)
    """
    return atanh_p.bind(x)


def cbrt(x, *, accuracy=None):
    """Elementwise real cube root (negative for negative ``x``).

    Example:
        >>> cbrt(np.array([-8.], np.float32))
        array([-2.], dtype=float32)
    """
    if accuracy is not None:
        no_accuracy("cbrt", accuracy)
    return cbrt_p.bind(x)


def exp2(x, *, accuracy=None):
    """Elementwise ``2 ** x``.

    Example:
        >>> exp2(np.array([3.], np.float32))
        array([8.], dtype=float32)
    """
    if accuracy is not None:
        no_accuracy("exp2", accuracy)
    return exp2_p.bind(x)


def square(x):
    """Elementwise ``x * x`` (integers too).

    Example:
        >>> square(np.array([3], np.int32))
        array([9], dtype=int32)
    """
    return square_p.bind(x)


# ---------------------------------------------------------------------------
# clamp

def _clamp_abstract(lo: ShapedArray, x: ShapedArray, hi: ShapedArray) -> ShapedArray:
    for what, b in (("min", lo), ("max", hi)):
        if b.shape not in ((), x.shape):
            raise ShapeError(f"lax.clamp: {what} must be a scalar or have the operand's shape "
                             f"{x.shape}, got {b.str_short()}")
        if b.dtype != x.dtype:
            raise DTypeError(f"lax.clamp: {what} and the operand must have one dtype, got "
                             f"{b.str_short()} and {x.str_short()}; cast one first")
    _check_kind("clamp", "number", x)
    if x.dtype.kind == "c":
        raise DTypeError(f"lax.clamp: complex operands have no order, got {x.str_short()}")
    return ShapedArray(x.shape, x.dtype, x.weak_type and lo.weak_type and hi.weak_type)


def _clamp_impl(lo, x, hi):
    # min(max(x, lo), hi): with lo > hi the result is hi, as JAX's
    return np.minimum(np.maximum(x, lo), hi).astype(np.asarray(x).dtype)


clamp_p = Primitive("clamp", elementwise=True,
                    scalar="_s.minimum(_s.maximum({1}, {0}), {2})")
impl_rules[clamp_p] = _clamp_impl
abstract_eval_rules[clamp_p] = _clamp_abstract
defbroadcasting(clamp_p)


def _like(g, x):
    shape = get_aval(x).shape
    return g if get_aval(g).shape == shape else broadcast_in_dim(g, shape, ())


def _where(pred, g, x):
    g = _like(g, x)
    return select(pred, g, full_like(g, 0))


# JAX's rules: the gradient reaches x strictly inside [min, max], min where it is active
# (and below max), max where it is active; none at a tie
defjvp(clamp_p,
       lambda g, lo, x, hi: _where(bitwise_and(gt(lo, x), lt(lo, hi)), g, x),
       lambda g, lo, x, hi: _where(bitwise_and(gt(x, lo), lt(x, hi)), g, x),
       lambda g, lo, x, hi: _where(lt(hi, x), g, x))


def clamp(min, x, max):  # noqa: A002 - JAX's names
    """``x`` limited to ``[min, max]`` elementwise (``min``/``max`` may be scalars); where
    ``min > max`` the result is ``max``, as JAX's.

    Example:
        >>> clamp(np.float32(0), np.array([-1., 0.5, 2.], np.float32), np.float32(1))
        array([0. , 0.5, 1. ], dtype=float32)
    """
    return clamp_p.bind(*_match_operands("clamp", min, x, max))


# ---------------------------------------------------------------------------
# round

class RoundingMethod(enum.IntEnum):
    """How ``lax.round`` breaks ties (JAX's values)."""

    AWAY_FROM_ZERO = 0
    TO_NEAREST_EVEN = 1


def _round_impl(x, *, rounding_method):
    x = np.asarray(x)
    if rounding_method == RoundingMethod.TO_NEAREST_EVEN:
        return np.rint(x)
    r = np.trunc(x)  # x - trunc(x) is exact: no floor(x + 0.5), which rounds 0.49999997 up
    with np.errstate(invalid="ignore"):  # inf - inf
        return np.where(np.abs(x - r) >= 0.5, r + np.sign(x), r).astype(x.dtype)


def _round_abstract(x: ShapedArray, *, rounding_method) -> ShapedArray:
    if x.dtype.kind != "f":
        raise DTypeError(f"lax.round requires a real floating-point operand, got "
                         f"{x.str_short()}; cast it with lax.convert_element_type")
    return x


round_p = Primitive("round", elementwise=True,
                    scalar="_s.round_method({0}, {rounding_method:d})")
impl_rules[round_p] = _round_impl
abstract_eval_rules[round_p] = _round_abstract
defvectorized(round_p)
defjvp_zero(round_p)


def round(x, rounding_method=RoundingMethod.AWAY_FROM_ZERO):  # noqa: A001 - JAX's name
    """Elementwise rounding to an integral value; halves go away from zero (JAX's
    default) or to the nearest even integer. Its derivative is zero.

    Example:
        >>> round(np.array([0.5, 1.5, -2.5], np.float32))
        array([ 1.,  2., -3.], dtype=float32)
        >>> round(np.array([0.5, 1.5, -2.5], np.float32), RoundingMethod.TO_NEAREST_EVEN)
        array([ 0.,  2., -2.], dtype=float32)
    """
    return round_p.bind(x, rounding_method=RoundingMethod(rounding_method))
