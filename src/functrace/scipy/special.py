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

import numpy as np

from .. import lax
from .. import numpy as fnp
from ..nn import log_softmax, logsumexp, softmax
from ..numpy._promote import promote_args
from ..random.continuous import erf_inv
from ..transforms.api import jvp
from ..transforms.custom import custom_jvp

__all__ = ["digamma", "entr", "erf", "erfc", "erfinv", "expit", "gammaln", "log_ndtr",
           "log_softmax", "logit", "logsumexp", "ndtr", "ndtri", "polygamma", "softmax",
           "xlog1py", "xlogy", "zeta"]


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
    return erf_inv(x)


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
    return fnp.where(x > 0, -x * fnp.log(safe),
                     fnp.where(x == 0, np.zeros((), fnp.result_type(x)), -np.inf))


def ndtr(x):
    """The standard normal CDF."""
    (x,) = _float(x)
    return 0.5 * lax.erfc(-x / math.sqrt(2.0))


def ndtri(p):
    """The standard normal quantile function (inverse of ``ndtr``)."""
    (p,) = _float(p)
    return math.sqrt(2.0) * erf_inv(2.0 * p - 1.0)


def log_ndtr(x):
    """``log(ndtr(x))``, accurate far in the lower tail (an asymptotic series there).

    Example:
        >>> round(float(log_ndtr(np.float32(-40.0))), 2)
        -804.61
    """
    (x,) = _float(x)
    dt = fnp.result_type(x)
    # Each branch sees only inputs in its own range, so the unused ones stay finite
    # and their gradients cannot turn the selected one into NaN.
    hi = fnp.where(x > 6.0, x, np.full((), 6.0, dt))
    upper = fnp.log1p(-0.5 * lax.erfc(hi / math.sqrt(2.0)))
    xm = fnp.clip(x, -5.0, 6.0)
    mid = fnp.log(0.5 * lax.erfc(-xm / math.sqrt(2.0)))
    # x < -5: log(phi(x)/-x) + log(1 - 1/x^2 + 3/x^4 - 15/x^6 + 105/x^8)
    xs = fnp.where(x < -5.0, x, np.full((), -5.0, dt))
    inv2 = 1.0 / (xs * xs)
    series = 1.0 + inv2 * (-1.0 + inv2 * (3.0 + inv2 * (-15.0 + inv2 * 105.0)))
    tail = -0.5 * xs * xs - fnp.log(-xs) - 0.5 * math.log(2 * math.pi) + fnp.log(series)
    return fnp.where(x > 6.0, upper, fnp.where(x < -5.0, tail, mid))
