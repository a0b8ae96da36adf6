"""Exponential integrals, Spence's function, the Pochhammer symbol and Bernoulli numbers
for ``functrace.scipy.special`` (``jax.scipy.special.exp1``, ``expi``, ``expn``,
``spence``, ``poch``, ``bernoulli``).

Everything is written in lax / functrace.numpy ops (power series and continued fractions
evaluated with ``lax.fori_loop`` over a fixed number of terms), so it runs eagerly and
under ``jit``, ``vmap`` and ``grad``; the derivatives are the closed forms, attached with
``custom_jvp``. Values at the edges follow ``scipy.special``: ``exp1(inf) = 0``,
``expi(0) = -inf``, ``expn(n, inf) = 0``, ``poch`` finite where both Gammas have poles.
"""

from __future__ import annotations

import operator
from fractions import Fraction

import numpy as np

from .. import lax
from .. import numpy as fnp
from ..core.avals import default_float_dtype
from ..numpy._promote import promote_args
from ..transforms.custom import custom_jvp

_EULER = 0.57721566490153286061
_PI2_6 = 1.64493406684822643647

# Term counts, chosen so that float64 results are within a few ulps on each branch.
_SERIES_TERMS = 30      # x**k / k! series for 0 < x <= 1
_CF_TERMS = 150         # backward-evaluated continued fractions, x > 1
_EI_TERMS = 130         # positive-x series of Ei for 0 < x <= 40
_EI_ASYM_TERMS = 40     # asymptotic series of Ei for x > 40
_LI2_TERMS = 56         # sum u**k / k**2 for |u| <= 1/2


def _float(*xs):
    return promote_args("scipy.special", *xs, inexact=True)


def _full(x, value):
    return fnp.full_like(x, value)


# ---------------------------------------------------------------------------
# E1 and Ei

def _e1_series(x):
    # E1(x) = -gamma - log x - sum_{k>=1} (-x)**k / (k k!), for 0 < x <= 1
    def body(_, carry):
        term, total, k = carry
        term = term * -x / k
        return term, total + term / k, k + 1.0

    _, total, _ = lax.fori_loop(0, _SERIES_TERMS, body,
                                (fnp.ones_like(x), fnp.zeros_like(x), fnp.ones_like(x)))
    return -_EULER - fnp.log(x) - total


def _en_cf(n, x):
    # E_n(x) = exp(-x) / (x + n - 1 n / (x + n + 2 - 2 (n + 1) / (x + n + 4 - ...))),
    # evaluated from the tail, for x > 1.
    def body(i, f):
        k = float(_CF_TERMS) - lax.convert_element_type(i, f.dtype)
        return x + n + 2.0 * (k - 1.0) - k * (n + k - 1.0) / f

    f = lax.fori_loop(0, _CF_TERMS, body, x + n + 2.0 * float(_CF_TERMS))
    return fnp.exp(-x) / f


def _e1_core(x):
    small = (x > 0) & (x <= 1.0)
    large = (x > 1.0) & (x < np.inf)
    xs = fnp.where(small, x, _full(x, 1.0))
    xl = fnp.where(large, x, _full(x, 2.0))
    out = fnp.where(small, _e1_series(xs), _en_cf(fnp.ones_like(x), xl))
    out = fnp.where(x == 0, _full(x, np.inf), out)
    out = fnp.where(x == np.inf, fnp.zeros_like(x), out)
    return fnp.where((x < 0) | fnp.isnan(x), _full(x, np.nan), out)


@custom_jvp
def _exp1(x):
    return _e1_core(x)


@_exp1.defjvp
def _exp1_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return _exp1(x), -fnp.exp(-x) / x * dx


def exp1(x):
    """The exponential integral ``E1(x) = integral_1^inf exp(-x t) / t dt`` for real
    ``x >= 0`` (``inf`` at 0, ``nan`` for ``x < 0``); ``d/dx E1 = -exp(-x) / x``.

    Example:
        >>> import numpy as np
        >>> round(float(exp1(np.float32(1.0))), 5)
        0.21938
    """
    (x,) = _float(x)
    return _exp1(x)


def _ei_positive(x):
    # 0 < x <= 40: gamma + log x + sum_{k>=1} x**k / (k k!)  (all terms positive)
    def body(_, carry):
        term, total, k = carry
        term = term * x / k
        return term, total + term / k, k + 1.0

    _, total, _ = lax.fori_loop(0, _EI_TERMS, body,
                                (fnp.ones_like(x), fnp.zeros_like(x), fnp.ones_like(x)))
    return _EULER + fnp.log(x) + total


def _ei_asymptotic(x):
    # x > 40: exp(x) / x * sum_{k>=0} k! / x**k (truncated well before its smallest term)
    def body(_, carry):
        term, total, k = carry
        term = term * k / x
        return term, total + term, k + 1.0

    _, total, _ = lax.fori_loop(0, _EI_ASYM_TERMS, body,
                                (fnp.ones_like(x), fnp.ones_like(x), fnp.ones_like(x)))
    # exp(x) / x * total, split so that it overflows only where Ei does
    return fnp.exp(x * 0.5) * (fnp.exp(x * 0.5) / x * total)


@custom_jvp
def _expi(x):
    neg = x < 0
    mid = (x > 0) & (x <= 40.0)
    big = (x > 40.0) & (x < np.inf)
    out_neg = -_e1_core(fnp.where(neg, -x, fnp.ones_like(x)))
    out_mid = _ei_positive(fnp.where(mid, x, fnp.ones_like(x)))
    out_big = _ei_asymptotic(fnp.where(big, x, _full(x, 50.0)))
    out = fnp.where(neg, out_neg, fnp.where(big, out_big, out_mid))
    out = fnp.where(x == 0, _full(x, -np.inf), out)
    out = fnp.where(x == np.inf, x, out)
    return fnp.where(fnp.isnan(x), x, out)


@_expi.defjvp
def _expi_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return _expi(x), fnp.exp(x) / x * dx


def expi(x):
    """The exponential integral ``Ei(x) = -PV integral_{-x}^inf exp(-t) / t dt``
    (``-inf`` at 0, ``-E1(-x)`` for ``x < 0``); ``d/dx Ei = exp(x) / x``.

    Example:
        >>> import numpy as np
        >>> round(float(expi(np.float32(1.0))), 5)
        1.89512
    """
    (x,) = _float(x)
    return _expi(x)


# ---------------------------------------------------------------------------
# E_n

def _en_series(n, x):
    # 0 < x <= 1, integer n >= 1:
    # E_n(x) = (-x)**(n-1) / (n-1)! (psi(n) - log x) - sum_{k != n-1} (-x)**k / ((k-n+1) k!)
    def body(i, carry):
        term, total = carry           # term = (-x)**k / k!
        k = lax.convert_element_type(i, x.dtype)
        denom = k - n + 1.0
        skip = denom == 0
        total = total - fnp.where(skip, fnp.zeros_like(x),
                                  term / fnp.where(skip, fnp.ones_like(x), denom))
        return term * -x / (k + 1.0), total

    _, total = lax.fori_loop(0, _SERIES_TERMS, body, (fnp.ones_like(x), fnp.zeros_like(x)))
    sign = fnp.where(fnp.remainder(n - 1.0, 2.0) == 0, fnp.ones_like(x), -fnp.ones_like(x))
    lead = sign * fnp.exp((n - 1.0) * fnp.log(x) - lax.lgamma(n))
    return lead * (lax.digamma(n) - fnp.log(x)) + total


def _en_core(n, x):
    valid_n = (n >= 0) & (n == fnp.floor(n))
    pos_n = valid_n & (n >= 1)
    small = pos_n & (x > 0) & (x <= 1.0)
    large = pos_n & (x > 1.0) & (x < np.inf)
    one = fnp.ones_like(x)
    n_s = fnp.where(small, n, one)
    x_s = fnp.where(small, x, _full(x, 0.5))
    n_l = fnp.where(large, n, one)
    x_l = fnp.where(large, x, _full(x, 2.0))
    out = fnp.where(small, _en_series(n_s, x_s), _en_cf(n_l, x_l))
    x_safe = fnp.where((x > 0) & (x < np.inf), x, one)
    out = fnp.where(n == 0, fnp.exp(-x_safe) / x_safe, out)
    at_zero = fnp.where(n <= 1, _full(x, np.inf), 1.0 / fnp.where(n <= 1, one, n - 1.0))
    out = fnp.where(x == 0, at_zero, out)
    out = fnp.where(x == np.inf, fnp.zeros_like(x), out)
    bad = ~valid_n | (x < 0) | fnp.isnan(x) | fnp.isnan(n)
    return fnp.where(bad, _full(x, np.nan), out)


@custom_jvp
def _expn(n, x):
    return _en_core(n, x)


@_expn.defjvp
def _expn_jvp(primals, tangents):
    (n, x), (_, dx) = primals, tangents
    # d/dx E_n = -E_{n-1}; for n = 0, d/dx exp(-x) / x = -exp(-x) / x * (1 + 1 / x)
    e0 = fnp.exp(-x) / x
    dfdx = fnp.where(n == 0, -e0 * (1.0 + 1.0 / x),
                     -_expn(fnp.maximum(n - 1.0, fnp.zeros_like(n)), x))
    return _expn(n, x), dfdx * dx


def expn(n, x):
    """The generalised exponential integral ``E_n(x) = integral_1^inf exp(-x t) / t**n dt``
    for integer-valued ``n >= 0`` and ``x >= 0`` (``nan`` for other ``n`` and for
    ``x < 0``); differentiable in ``x`` (``d/dx E_n = -E_{n-1}``), not in ``n``.

    Example:
        >>> import numpy as np
        >>> round(float(expn(2, np.float32(1.0))), 4)
        0.1485
    """
    n, x = _float(n, x)
    n, x = fnp.broadcast_arrays(n, x)
    return _expn(n, x)


# ---------------------------------------------------------------------------
# spence

def _li2_series(u):
    # Li2(u) = sum_{k>=1} u**k / k**2, |u| <= 1/2
    def body(i, carry):
        power, total = carry
        k = lax.convert_element_type(i, u.dtype) + 1.0
        power = power * u
        return power, total + power / (k * k)

    _, total = lax.fori_loop(0, _LI2_TERMS, body, (fnp.ones_like(u), fnp.zeros_like(u)))
    return total


def _spence_unit(x):
    # spence(x) = Li2(1 - x) for 0 <= x <= 1
    upper = x >= 0.5
    direct = _li2_series(fnp.where(upper, 1.0 - x, fnp.zeros_like(x)))
    xl = fnp.where(upper, _full(x, 0.25), x)
    # Li2(u) + Li2(1 - u) = pi**2/6 - log(u) log(1 - u), with u = x < 1/2
    xl_safe = fnp.where(xl == 0, _full(x, 0.25), xl)
    log_term = fnp.where(xl == 0, fnp.zeros_like(x), fnp.log(xl_safe) * fnp.log1p(-xl_safe))
    reflected = _PI2_6 - log_term - _li2_series(xl)
    return fnp.where(upper, direct, reflected)


@custom_jvp
def _spence(x):
    big = x > 1.0
    xi = fnp.where(big, 1.0 / fnp.where(big, x, fnp.ones_like(x)), x)
    inner = _spence_unit(fnp.clip(xi, 0.0, 1.0))
    # spence(x) = -spence(1/x) - log(x)**2 / 2
    log_x = fnp.log(fnp.where(big, x, fnp.ones_like(x)))
    out = fnp.where(big, -inner - 0.5 * log_x * log_x, inner)
    bad = (x < 0) | fnp.isnan(x) | (x == np.inf)
    return fnp.where(bad, _full(x, np.nan), out)


@_spence.defjvp
def _spence_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    at_one = x == 1.0
    safe = fnp.where(at_one, _full(x, 2.0), x)
    slope = fnp.where(at_one, -fnp.ones_like(x), fnp.log(safe) / (1.0 - safe))
    return _spence(x), slope * dx


def spence(x):
    """Spence's function ``integral_1^x log(t) / (1 - t) dt`` (the dilogarithm
    ``Li2(1 - x)``) for real ``x >= 0``, ``nan`` below and at ``inf``, as
    ``scipy.special.spence``; ``d/dx spence = log(x) / (1 - x)``.

    Example:
        >>> import numpy as np
        >>> round(float(spence(np.float32(0.0))), 5)  # pi**2 / 6
        1.64493
    """
    (x,) = _float(x)
    return _spence(x)


# ---------------------------------------------------------------------------
# poch

def _gamma_sign(x):
    # sign of Gamma(x) away from its poles
    negative_odd = (x < 0) & (fnp.remainder(fnp.floor(x), 2.0) != 0)
    return fnp.where(negative_odd, -fnp.ones_like(x), fnp.ones_like(x))


def _is_pole(x):
    return (x <= 0) & (x == fnp.floor(x))


@custom_jvp
def _poch(z, m):
    zm = z + m
    pole_z, pole_zm = _is_pole(z), _is_pole(zm)
    both = pole_z & pole_zm
    one = fnp.ones_like(z)
    z_g = fnp.where(pole_z | pole_zm, _full(z, 2.0), z)
    zm_g = fnp.where(pole_z | pole_zm, _full(z, 3.0), zm)
    generic = (_gamma_sign(zm_g) * _gamma_sign(z_g)
               * fnp.exp(lax.lgamma(zm_g) - lax.lgamma(z_g)))
    # both poles (so m is an integer): Gamma(z+m)/Gamma(z) = (-1)**m Gamma(1-z)/Gamma(1-z-m)
    z_b = fnp.where(both, z, fnp.zeros_like(z))
    m_b = fnp.where(both, m, fnp.zeros_like(m))
    sign_b = fnp.where(fnp.remainder(m_b, 2.0) == 0, one, -one)
    ratio = sign_b * fnp.exp(lax.lgamma(1.0 - z_b) - lax.lgamma(1.0 - z_b - m_b))
    out = fnp.where(both, ratio,
                    fnp.where(pole_z, fnp.zeros_like(z),
                              fnp.where(pole_zm, _full(z, np.inf), generic)))
    return fnp.where(fnp.isnan(z) | fnp.isnan(m), _full(z, np.nan), out)


@_poch.defjvp
def _poch_jvp(primals, tangents):
    (z, m), (dz, dm) = primals, tangents
    out = _poch(z, m)
    psi_zm = lax.digamma(z + m)
    return out, out * ((psi_zm - lax.digamma(z)) * dz + psi_zm * dm)


def poch(z, m):
    """The Pochhammer symbol (rising factorial) ``Gamma(z + m) / Gamma(z)`` for real
    ``z`` and ``m``; finite where both Gammas have poles (``poch(-3, 2) = 6``), 0 where
    only ``Gamma(z)`` has one, ``inf`` where only ``Gamma(z + m)`` has one. Its
    derivatives are ``poch * (digamma(z + m) - digamma(z))`` in ``z`` and
    ``poch * digamma(z + m)`` in ``m``.

    Example:
        >>> import numpy as np
        >>> float(poch(np.float32(3.0), np.float32(2.0)))  # 3 * 4
        12.0
    """
    z, m = _float(z, m)
    z, m = fnp.broadcast_arrays(z, m)
    return _poch(z, m)


# ---------------------------------------------------------------------------
# bernoulli

def _bernoulli_numbers(n):
    # B_0 .. B_n (B_1 = -1/2) from sum_{k=0}^{m} C(m+1, k) B_k = 0, in exact fractions
    b = [Fraction(1)]
    for m in range(1, n + 1):
        acc = Fraction(0)
        binom = 1                                  # C(m+1, k)
        for k in range(m):
            acc += binom * b[k]
            binom = binom * (m + 1 - k) // (k + 1)
        b.append(-acc / (m + 1))
    return [float(v) for v in b]


def bernoulli(n):
    """The Bernoulli numbers ``B_0 .. B_n`` (``B_1 = -1/2``) as an array of length
    ``n + 1`` in the default float dtype; ``n`` is a non-negative Python int.

    Example:
        >>> bernoulli(4).tolist()
        [1.0, -0.5, 0.1666666716337204, 0.0, -0.03333333507180214]
    """
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"scipy.special.bernoulli: n must be a Python int, got "
                        f"{type(n).__name__} {n!r}") from None
    if n < 0:
        raise ValueError(f"scipy.special.bernoulli: n must be a non-negative integer, "
                         f"got {n}")
    return fnp.asarray(np.asarray(_bernoulli_numbers(n), default_float_dtype()))
