"""Special functions: ``erfc``, ``lgamma``, ``digamma``, ``polygamma`` and the Hurwitz ``zeta``
(``jax.lax``), with JAX's values at poles and JAX's derivative rules.

``lgamma`` is elementwise and fuses under ``jit`` (Numba compiles ``math.lgamma``);
the others run their vectorised NumPy reference on every backend. Values follow JAX:
``lgamma`` is ``inf`` at the poles 0, -1, -2...; ``digamma`` is ``nan`` there;
``polygamma(m, x)`` for integer ``m >= 1`` is ``(-1)**(m+1) m! zeta(m+1, x)``;
``zeta(s, q)`` is ``sum_k (q + k)**-s`` (``inf`` for ``q`` a non-positive integer,
``nan`` for non-integer ``s`` with negative ``q``). Derivatives: ``lgamma' =
digamma``, ``digamma' = polygamma(1, .)``, ``d polygamma(m, x)/dx = polygamma(m+1,
x)``; as in JAX, none with respect to ``m``, and ``zeta`` has none.

Example:
    >>> import numpy as np
    >>> from functrace import lax
    >>> lax.lgamma(np.float32(5.0))  # log(4!)
    array(3.1780539, dtype=float32)
"""

from __future__ import annotations

import math

import numpy as np

from ..core.avals import ShapedArray, is_inexact
from ..core.trace import Primitive, abstract_eval_rules, impl_rules
from ..errors import DTypeError, MissingRuleError, ShapeError
from ..transforms.ad import defjvp
from ..transforms.batching import defbroadcasting, defvectorized
from .elementwise import add, exp, mul, neg

__all__ = ["digamma", "digamma_p", "erfc", "erfc_p", "lgamma", "lgamma_p", "polygamma",
           "polygamma_p", "zeta", "zeta_p"]

# the Bernoulli numbers B_2j, j = 1..12, of the Stirling and Euler-Maclaurin series
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510,
              43867 / 798, -174611 / 330, 854513 / 138, -236364091 / 2730)


def _float_abstract(op: str):
    def rule(*avals: ShapedArray) -> ShapedArray:
        for a in avals:
            if not is_inexact(a.dtype) or a.dtype.kind == "c":
                raise DTypeError(f"lax.{op} requires real floating-point operands, got "
                                 f"{a.str_short()}; cast with lax.convert_element_type.")
        if len({a.dtype for a in avals}) > 1:
            raise DTypeError(f"lax.{op} requires operands of one dtype, got "
                             f"{', '.join(a.str_short() for a in avals)}")
        shapes = {a.shape for a in avals if a.shape}
        if len(shapes) > 1:
            raise ShapeError(f"lax.{op} got incompatible shapes {sorted(shapes)}; lax needs "
                             "equal shapes (or rank-0 operands)")
        return ShapedArray(next(iter(shapes), ()), avals[0].dtype,
                           all(a.weak_type for a in avals))
    return rule


def _lgamma_scalar(v: float) -> float:
    try:
        return math.lgamma(v)
    except ValueError:  # the poles 0, -1, -2, ...
        return math.inf


_lgamma_vec = np.vectorize(_lgamma_scalar, otypes=[np.float64])


def _lgamma_impl(x):
    x = np.asarray(x)
    return _lgamma_vec(x.astype(np.float64)).astype(x.dtype)


def _digamma64(x):
    x = np.asarray(x, np.float64)
    with np.errstate(all="ignore"):
        pole = (x <= 0) & (x == np.floor(x))
        reflect = x < 0.5
        y = np.where(reflect, 1.0 - x, x)
        acc = np.zeros_like(y)
        for _ in range(7):  # recurrence psi(y) = psi(y + 1) - 1/y up to y >= 7.5
            small = y < 7.5
            acc = np.where(small, acc - 1.0 / y, acc)
            y = np.where(small, y + 1.0, y)
        inv2 = 1.0 / (y * y)
        tail = np.zeros_like(y)
        for j in range(len(_BERNOULLI[:8]), 0, -1):  # sum B_2j / (2j y^2j)
            tail = (tail + _BERNOULLI[j - 1] / (2 * j)) * inv2
        psi = acc + np.log(y) - 0.5 / y - tail
        psi = np.where(reflect, psi - np.pi / np.tan(np.pi * x), psi)
        return np.where(pole | np.isnan(x), np.nan, psi)


def _digamma_impl(x):
    x = np.asarray(x)
    return _digamma64(x).astype(x.dtype)


def _zeta64(s, q):
    s, q = np.broadcast_arrays(np.asarray(s, np.float64), np.asarray(q, np.float64))
    with np.errstate(all="ignore"):
        shift = 12 + int(np.ceil(max(0.0, -float(np.nanmin(q)) if q.size else 0.0)))
        total = np.zeros(s.shape)
        for k in range(shift):  # the first terms directly
            total = total + np.power(q + k, -s)
        a = q + shift  # then Euler-Maclaurin from q + shift on
        total = total + np.power(a, 1.0 - s) / (s - 1.0) + 0.5 * np.power(a, -s)
        rising = s.copy()  # s (s+1) ... (s+2j-2)
        for j, b in enumerate(_BERNOULLI, start=1):
            term = b / math.factorial(2 * j) * rising * np.power(a, -s - 2 * j + 1)
            total = total + term
            rising = rising * (s + 2 * j - 1) * (s + 2 * j)
        pole = (q <= 0) & (q == np.floor(q))
        bad = (s <= 1) | ((q < 0) & (s != np.floor(s)))
        return np.where(bad, np.nan, np.where(pole, np.inf, total))


def _zeta_impl(s, q):
    dtype = np.result_type(np.asarray(s), np.asarray(q))
    return _zeta64(s, q).astype(dtype)


def _polygamma64(m, x):
    m, x = np.broadcast_arrays(np.asarray(m, np.float64), np.asarray(x, np.float64))
    with np.errstate(all="ignore"):
        integral = (m >= 0) & (m == np.floor(m))
        mi = np.where(integral, m, 0.0)
        sign = np.where(np.mod(mi, 2) == 0, -1.0, 1.0)  # (-1)**(m+1)
        fact = np.vectorize(lambda v: float(math.factorial(int(v))), otypes=[np.float64])(mi) \
            if mi.size else mi
        higher = sign * fact * _zeta64(mi + 1.0, x)
        out = np.where(mi == 0, _digamma64(x), higher)
        return np.where(integral, out, np.nan)


def _polygamma_impl(m, x):
    dtype = np.result_type(np.asarray(m), np.asarray(x))
    return _polygamma64(m, x).astype(dtype)


def _erfc_impl(x):
    x = np.asarray(x)
    if not x.size:
        return x.copy()
    return np.vectorize(math.erfc, otypes=[np.float64])(x).astype(x.dtype)


lgamma_p = Primitive("lgamma", elementwise=True, scalar="math.lgamma({0})")
# a primitive, not 1 - erf(x): that cancels to 0 in float32 from x ~ 3.9 on
erfc_p = Primitive("erfc", elementwise=True, scalar="math.erfc({0})")
digamma_p = Primitive("digamma", impl_fallback=True)
polygamma_p = Primitive("polygamma", impl_fallback=True)
zeta_p = Primitive("zeta", impl_fallback=True)

impl_rules[lgamma_p] = _lgamma_impl
impl_rules[erfc_p] = _erfc_impl
abstract_eval_rules[erfc_p] = _float_abstract("erfc")
defvectorized(erfc_p)
impl_rules[digamma_p] = _digamma_impl
impl_rules[polygamma_p] = _polygamma_impl
impl_rules[zeta_p] = _zeta_impl
abstract_eval_rules[lgamma_p] = _float_abstract("lgamma")
abstract_eval_rules[digamma_p] = _float_abstract("digamma")
abstract_eval_rules[polygamma_p] = _float_abstract("polygamma")
abstract_eval_rules[zeta_p] = _float_abstract("zeta")
defvectorized(lgamma_p)
defvectorized(digamma_p)
defbroadcasting(polygamma_p)
defbroadcasting(zeta_p)


def erfc(x):
    """Elementwise complementary error function ``1 - erf(x)``, accurate in the right tail.

    Example:
        >>> import numpy as np
        >>> float(erfc(np.float32(5.0)))  # 1 - erf(5) would round to 0 in float32
        1.53745...e-12
    """
    return erfc_p.bind(x)


def lgamma(x):
    """``log |Gamma(x)|`` elementwise (``lax.lgamma``); ``inf`` at 0, -1, -2, ..."""
    return lgamma_p.bind(x)


def digamma(x):
    """The digamma function ``Gamma'(x) / Gamma(x)`` (``lax.digamma``); ``nan`` at the poles.

    Example:
        >>> import numpy as np
        >>> round(float(digamma(np.float32(1.0))), 6)  # minus the Euler-Mascheroni constant
        -0.577216
    """
    return digamma_p.bind(x)


def polygamma(m, x):
    """The ``m``-th derivative of ``digamma`` (``lax.polygamma``); ``m`` a non-negative
    integer value of ``x``'s float dtype.

    Example:
        >>> import numpy as np
        >>> round(float(polygamma(np.float32(1.0), np.float32(1.0))), 5)  # pi**2 / 6
        1.64493
    """
    return polygamma_p.bind(m, x)


def zeta(x, q):
    """The Hurwitz zeta function ``sum_{k>=0} (q + k)**-x`` (``lax.zeta``), ``x > 1``.

    Example:
        >>> import numpy as np
        >>> round(float(zeta(np.float32(2.0), np.float32(1.0))), 5)  # Riemann zeta(2)
        1.64493
    """
    return zeta_p.bind(x, q)


def _no_m_derivative(g, m, x):
    raise MissingRuleError("polygamma gradient with respect to m is not supported (as in JAX)")


defjvp(lgamma_p, lambda g, x: mul(g, digamma(x)))
defjvp(erfc_p, lambda g, x: mul(g, mul(exp(neg(mul(x, x))), -2.0 / math.sqrt(math.pi))))
defjvp(digamma_p, lambda g, x: mul(g, polygamma(np.ones((), x.dtype), x)))
defjvp(polygamma_p, _no_m_derivative,
       lambda g, m, x: mul(g, polygamma(add(m, np.ones((), m.dtype)), x)))
