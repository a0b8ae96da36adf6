"""``functrace.scipy.special`` (``jax.scipy.special``): special functions built on lax,
so they differentiate, batch and compile.

Example:
    >>> import numpy as np
    >>> from functrace.scipy import special
    >>> special.logsumexp(np.array([1., 2., 3.], np.float32), b=np.array([1., -1., 2.]),
    ...                   return_sign=True)
    (array(3.569541, dtype=float32), array(1., dtype=float32))
"""

from __future__ import annotations

import math
import operator

import numpy as np

from .. import lax
from .. import nn as _nn
from .. import numpy as fnp
from ..nn import logsumexp
from ..numpy._promote import promote_args
from ..transforms.api import jvp
from ..transforms.custom import custom_jvp
from ._special_bessel import bessel_jn
from ._special_extra import dawsn, fresnel, owens_t, wofz
from ._special_extra2 import hyp2f1, sph_harm_y
from ._special_hyp import hyp1f1
from ._special_misc import boxcox, boxcox1p, comb, loggamma
from ._special_more import bernoulli, exp1, expi, expn, poch, spence
from ._special_sici import erfcx, sici

__all__ = ["bernoulli", "bessel_jn", "beta", "betainc", "betaln", "boxcox", "boxcox1p",
           "comb", "dawsn", "digamma", "entr", "erf", "erfc", "erfcx", "erfinv", "exp1",
           "expi", "expit", "expn", "factorial", "fresnel", "gamma", "gammainc",
           "gammaincc", "gammaln", "gammasgn", "hyp1f1", "hyp2f1", "i0", "i0e", "i1",
           "i1e", "kl_div", "log_ndtr", "log_softmax", "loggamma", "logit", "logsumexp",
           "multigammaln", "ndtr", "ndtri", "owens_t", "poch", "polygamma", "rel_entr",
           "sici", "softmax", "spence", "sph_harm_y", "wofz", "xlog1py", "xlogy", "zeta"]


def _float(*xs):
    return promote_args("scipy.special", *xs, inexact=True)


def erf(x):
    """The error function."""
    (x,) = _float(x)
    return lax.erf(x)


def erfc(x):
    """``1 - erf(x)``, accurate for large ``x``."""
    (x,) = _float(x)
    return lax.erfc(x)


def erfinv(x):
    """The inverse error function on (-1, 1).

    Example:
        >>> round(float(erfinv(np.float32(0.5))), 5)
        0.47694
    """
    (x,) = _float(x)
    return lax.erf_inv(x)


def expit(x):
    """The logistic sigmoid ``1 / (1 + exp(-x))``."""
    (x,) = _float(x)
    return lax.logistic(x)


def logit(x):
    """``log(x / (1 - x))``, the inverse of ``expit``."""
    (x,) = _float(x)
    return fnp.log(x / (1.0 - x))


def gammaln(x):
    """``log |Gamma(x)|``.

    Example:
        >>> round(float(gammaln(np.float32(5.0))), 5)  # log(24)
        3.17805
    """
    (x,) = _float(x)
    return lax.lgamma(x)


def digamma(x):
    """The logarithmic derivative of Gamma."""
    (x,) = _float(x)
    return lax.digamma(x)


def polygamma(n, x):
    """The ``n``-th derivative of ``digamma``."""
    n, x = _float(n, x)
    return lax.polygamma(n, x)


def zeta(x, q=None):
    """The Hurwitz zeta function ``sum_k (q + k)**-x`` (Riemann's with ``q=None``),
    differentiable in both arguments as in JAX (``lax.zeta`` itself has no derivative).

    Example:
        >>> round(float(zeta(np.float32(2.0))), 5)  # pi**2 / 6
        1.64493
    """
    if q is None:
        q = 1.0
    x, q = _float(x, q)
    return _zeta(x, q)


@custom_jvp
def _zeta(x, q):
    return lax.zeta(x, q)


_ZETA_TERMS = 12
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510)


def _zeta_series(x, q):
    # Euler-Maclaurin from q + 12 on, in differentiable ops: the tangent of this series
    # is the derivative of zeta in x and in q.
    total = 0.0
    for k in range(_ZETA_TERMS):
        total = total + (q + float(k)) ** -x
    a = q + float(_ZETA_TERMS)
    total = total + a ** (1.0 - x) / (x - 1.0) + 0.5 * a ** -x
    rising = x
    for j, b in enumerate(_BERNOULLI, start=1):
        total = total + b / math.factorial(2 * j) * rising * a ** (-x - float(2 * j - 1))
        rising = rising * (x + float(2 * j - 1)) * (x + float(2 * j))
    return total


@_zeta.defjvp
def _zeta_jvp(primals, tangents):
    x, q = primals
    return _zeta(x, q), jvp(_zeta_series, (x, q), tangents)[1]


@custom_jvp
def xlogy(x, y):
    """``x * log(y)``, 0 where ``x == 0`` (also for ``y == 0``), as JAX; its derivative
    is ``log(y) dx + x / y dy`` everywhere.

    Example:
        >>> float(xlogy(np.float32(0.0), np.float32(0.0)))
        0.0
    """
    x, y = _float(x, y)
    safe_y = fnp.where(x == 0, np.ones((), fnp.result_type(y)), y)
    return fnp.where(x == 0, np.zeros((), fnp.result_type(x)), x * fnp.log(safe_y))


@xlogy.defjvp
def _xlogy_jvp(primals, tangents):
    (x, y), (dx, dy) = primals, tangents
    return xlogy(x, y), dx * fnp.log(y) + dy * x / y


@custom_jvp
def xlog1py(x, y):
    """``x * log1p(y)``, 0 where ``x == 0``; its derivative is ``log1p(y) dx + x / (1 + y)
    dy``."""
    x, y = _float(x, y)
    safe_y = fnp.where(x == 0, np.zeros((), fnp.result_type(y)), y)
    return fnp.where(x == 0, np.zeros((), fnp.result_type(x)), x * fnp.log1p(safe_y))


@xlog1py.defjvp
def _xlog1py_jvp(primals, tangents):
    (x, y), (dx, dy) = primals, tangents
    return xlog1py(x, y), dx * fnp.log1p(y) + dy * x / (1.0 + y)


def entr(x):
    """``-x log x`` for ``x > 0``, 0 at 0, ``-inf`` below (scipy's and JAX's definition)."""
    (x,) = _float(x)
    safe = fnp.where(x > 0, x, np.ones((), fnp.result_type(x)))
    out = fnp.where(x > 0, -x * fnp.log(safe),
                    fnp.where(x == 0, np.zeros((), fnp.result_type(x)), -np.inf))
    return fnp.where(fnp.isnan(x), x, out)


def ndtr(x):
    """The standard normal CDF."""
    (x,) = _float(x)
    return 0.5 * lax.erfc(-x / math.sqrt(2.0))


def ndtri(p):
    """The standard normal quantile function (inverse of ``ndtr``)."""
    (p,) = _float(p)
    central = math.sqrt(2.0) * lax.erf_inv(2.0 * p - 1.0)
    # In the tails 2p - 1 rounds to -1 (float32 below p ~ 6e-8); there Acklam's rational
    # approximation in q = sqrt(-2 log p) plus one Halley step on ndtr keeps full precision.
    dt = fnp.result_type(p)
    lower = p < 0.5
    small = fnp.where(lower, p, 1.0 - p)
    tail_ok = fnp.logical_and(small > 0, small < _ACKLAM_SPLIT)
    safe = fnp.where(tail_ok, small, np.full((), 0.01, dt))
    q = fnp.sqrt(-2.0 * fnp.log(safe))
    c, d = _ACKLAM_C, _ACKLAM_D
    num = ((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]
    den = (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0
    x = num / den  # the lower-tail quantile of ``small``
    err = 0.5 * lax.erfc(-x / math.sqrt(2.0)) - safe
    u = err * math.sqrt(2.0 * math.pi) * fnp.exp(x * x / 2.0)
    x = x - u / (1.0 + x * u / 2.0)
    tail = fnp.where(lower, x, -x)
    return fnp.where(tail_ok, tail, central)


_ACKLAM_SPLIT = 0.02425
_ACKLAM_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
             -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00)
_ACKLAM_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
             3.754408661907416e+00)


def log_ndtr(x, series_order: int = 3):
    """``log(ndtr(x))``, accurate far in the lower tail, where it is the asymptotic series
    ``log(phi(x) / -x) + log(1 + sum_{n=1..N} (-1)^n (2n-1)!! / x^(2n))`` with
    ``N = series_order`` (0 to 30, JAX's default 3), used below JAX's cut-over (-10 in
    float32, -20 in float64).

    Example:
        >>> round(float(log_ndtr(np.float32(-40.0))), 2)
        -804.61
    """
    if not isinstance(series_order, int) or isinstance(series_order, bool):
        raise TypeError(f"log_ndtr: series_order must be a Python int, got {series_order!r}")
    if not 0 <= series_order <= 30:
        raise ValueError(f"log_ndtr: series_order must be in [0, 30], got {series_order}")
    (x,) = _float(x)
    dt = fnp.result_type(x)
    lower = -20.0 if dt == np.float64 else -10.0
    # Each branch sees only inputs in its own range, so the unused ones stay finite
    # and their gradients cannot turn the selected one into NaN.
    hi = fnp.where(x > 6.0, x, np.full((), 6.0, dt))
    upper = fnp.log1p(-0.5 * lax.erfc(hi / math.sqrt(2.0)))
    # (where, not clip: at x == lower clip would pass on only half of the gradient)
    xm = fnp.where(x < lower, np.full((), lower, dt), fnp.where(x > 6.0, np.full((), 6.0, dt), x))
    mid = fnp.log(0.5 * lax.erfc(-xm / math.sqrt(2.0)))
    xs = fnp.where(x < lower, x, np.full((), lower, dt))
    tail = (-0.5 * xs * xs - fnp.log(-xs) - 0.5 * math.log(2 * math.pi)
            + fnp.log(_log_ndtr_series(xs, series_order)))
    return fnp.where(x > 6.0, upper, fnp.where(x < lower, tail, mid))


def _log_ndtr_series(x, order: int):
    """``1 + sum_{n=1..order} (-1)^n (2n-1)!! / x^(2n)``, Horner's scheme in ``1/x^2``."""
    inv2 = 1.0 / (x * x)
    acc = fnp.zeros_like(x)
    for n in range(order, 0, -1):  # coefficient (-1)^n (2n-1)!!
        coef = (-1.0) ** n * math.prod(range(2 * n - 1, 0, -2))
        acc = inv2 * (coef + acc)
    return 1.0 + acc


def gammainc(a, x):
    """The regularised lower incomplete gamma function ``P(a, x)`` (``lax.igamma``).

    Example:
        >>> round(float(gammainc(1.0, np.float32(2.0))), 6)  # 1 - e**-2
        0.864665
    """
    a, x = _float(a, x)
    return lax.igamma(a, x)


def gammaincc(a, x):
    """The regularised upper incomplete gamma function ``Q(a, x) = 1 - P(a, x)``."""
    a, x = _float(a, x)
    return lax.igammac(a, x)


def betainc(a, b, x):
    """The regularised incomplete beta function ``I_x(a, b)``; differentiable in ``x``
    only, as in JAX.

    Example:
        >>> round(float(betainc(2.0, 3.0, np.float32(0.3))), 4)
        0.3483
    """
    a, b, x = _float(a, b, x)
    return lax.betainc(a, b, x)


def _algdiv(a, b):
    # log(Gamma(b) / Gamma(a + b)) for b >= 8 (cdflib's algdiv, a <= b), no cancellation
    # between two huge lgamma values
    h = a / b
    x = h / (1.0 + h)
    x2 = x * x
    s3 = 1.0 + (x + x2)
    s5 = 1.0 + (x + x2 * s3)
    s7 = 1.0 + (x + x2 * s5)
    s9 = 1.0 + (x + x2 * s7)
    s11 = 1.0 + (x + x2 * s9)
    t = (1.0 / b) ** 2
    w = -0.165322962780713e-02 * s11 * t + 0.837308034031215e-03 * s9
    w = w * t - 0.595202931351870e-03 * s7
    w = w * t + 0.793650666825390e-03 * s5
    w = w * t - 0.277777777760991e-02 * s3
    w = (w * t + 0.833333333333333e-01) * (x / b)
    u = (b + (a - 0.5)) * fnp.log1p(a / b)
    v = a * (fnp.log(b) - 1.0)
    return fnp.where(u <= v, (w - v) - u, (w - u) - v)


def betaln(a, b):
    """``log |B(a, b)|``, accurate for large arguments (JAX's algorithm, after cdflib).

    Example:
        >>> round(float(betaln(np.float32(2.0), np.float32(3.0))), 5)  # log(1/12)
        -2.48491
    """
    a, b = _float(a, b)
    a, b = fnp.minimum(a, b), fnp.maximum(a, b)
    small_b = lax.lgamma(a) + (lax.lgamma(b) - lax.lgamma(a + b))
    # the large-b branch sees b >= 8 only, so its values (and gradients) stay finite
    big = fnp.where(b < 8, fnp.full_like(b, 8.0), b)
    return fnp.where(b < 8, small_b, lax.lgamma(a) + _algdiv(a, big))


def gammasgn(x):
    """The sign of the gamma function: nan at the poles (and for nan), -1 where Gamma is
    negative (and at -0.0), else 1."""
    (x,) = _float(x)
    floor_x = lax.floor(x)
    negative = x < 0
    one = fnp.ones_like(x)
    # -0.0: atan2(-0.0, -1) = -pi, atan2(+0.0, -1) = +pi (fnp.signbit says False for it)
    negative_zero = (x == 0) & (lax.atan2(x, -one) < 0)
    return fnp.where((negative & (x == floor_x)) | fnp.isnan(x), fnp.full_like(x, np.nan),
                     fnp.where((negative & (fnp.remainder(floor_x, 2) != 0)) | negative_zero,
                               -one, one))


def gamma(x):
    """The gamma function, ``gammasgn(x) * exp(gammaln(x))`` (real arguments).

    Example:
        >>> float(gamma(np.float32(5.0)))
        24.0
    """
    (x,) = _float(x)
    return gammasgn(x) * fnp.exp(lax.lgamma(x))


def beta(a, b):
    """The beta function ``Gamma(a) Gamma(b) / Gamma(a + b)``."""
    a, b = _float(a, b)
    sign = gammasgn(a) * gammasgn(b) * gammasgn(a + b)
    return sign * fnp.exp(betaln(a, b))


def factorial(n, exact: bool = False):
    """``n!`` as ``Gamma(n + 1)`` (0 for negative ``n``); ``exact=True`` is not supported,
    as in JAX."""
    if exact:
        raise NotImplementedError("factorial with exact=True is not supported (as in JAX); "
                                  "use math.factorial on a Python int")
    (n,) = _float(n)
    return fnp.where(n < 0, fnp.zeros_like(n), fnp.exp(lax.lgamma(n + 1.0)))


def i0e(x):
    """The exponentially scaled modified Bessel function ``exp(-|x|) I0(x)``."""
    (x,) = _float(x)
    return lax.bessel_i0e(x)


def i1e(x):
    """The exponentially scaled modified Bessel function ``exp(-|x|) I1(x)``."""
    (x,) = _float(x)
    return lax.bessel_i1e(x)


def i0(x):
    """The modified Bessel function of order 0, ``exp(|x|) i0e(x)``.

    Example:
        >>> round(float(i0(np.float32(1.0))), 5)
        1.26607
    """
    (x,) = _float(x)
    return fnp.exp(fnp.abs(x)) * lax.bessel_i0e(x)


def i1(x):
    """The modified Bessel function of order 1, ``exp(|x|) i1e(x)``."""
    (x,) = _float(x)
    return fnp.exp(fnp.abs(x)) * lax.bessel_i1e(x)


def multigammaln(a, d):
    """The log of the multivariate gamma function of dimension ``d`` (a Python int):
    ``d (d-1)/4 log(pi) + sum_j gammaln(a - j/2)``.

    Example:
        >>> round(float(multigammaln(np.float32(3.0), 1)), 5)  # gammaln(3) = log 2
        0.69315
    """
    d = operator.index(d)
    (a,) = _float(a)
    dt = fnp.result_type(a)
    constant = 0.25 * d * (d - 1) * math.log(math.pi)
    halves = np.arange(d, dtype=dt) / 2
    terms = lax.lgamma(fnp.expand_dims(a, -1) - halves)
    return fnp.sum(terms, axis=-1) + np.asarray(constant, dt)


def rel_entr(p, q):
    """``p log(p / q)`` for ``p, q > 0``; 0 where ``p == 0`` and ``q >= 0``; else inf."""
    p, q = _float(p, q)
    both = (p > 0) & (q > 0)
    one = fnp.ones_like(p)
    safe_p, safe_q = fnp.where(both, p, one), fnp.where(both, q, one)
    val = safe_p * (fnp.log(safe_p) - fnp.log(safe_q))
    return fnp.where(both, val, fnp.where((p == 0) & (q >= 0), fnp.zeros_like(p), np.inf))


def kl_div(p, q):
    """``rel_entr(p, q) - p + q``.

    Example:
        >>> float(kl_div(np.float32(1.0), np.float32(1.0)))
        0.0
    """
    p, q = _float(p, q)
    return rel_entr(p, q) - p + q


def softmax(x, /, *, axis=None):
    """``exp(x) / sum(exp(x))`` over ``axis`` (``jax.scipy.special.softmax``: every axis
    by default, unlike ``nn.softmax``'s last one).

    Example:
        >>> softmax(np.zeros((2, 2), np.float32))
        array([[0.25, 0.25],
               [0.25, 0.25]], dtype=float32)
    """
    return _nn.softmax(x, axis=axis)


def log_softmax(x, /, *, axis=None):
    """``x - logsumexp(x)`` over ``axis`` (``jax.scipy.special.log_softmax``: every axis
    by default)."""
    return _nn.log_softmax(x, axis=axis)
