"""``jax.scipy.special.sici`` (sine and cosine integrals) and ``erfcx`` (the scaled
complementary error function): power series for small arguments, continued fractions
(evaluated from their tails in ``lax.fori_loop``) for large ones, closed-form
derivatives through ``custom_jvp``."""

from __future__ import annotations

import numpy as np

from .. import lax
from .. import numpy as fnp
from ..numpy._promote import promote_args
from ..transforms.custom import custom_jvp

_EULER = 0.57721566490153286061
_SICI_SWITCH = 4.0      # power series below, E1(ix)'s continued fraction above
_SICI_SERIES_TERMS = 30
_SICI_CF_TERMS = 80
_ERFCX_SWITCH = 2.0     # exp(x**2) erfc(x) below, the Laplace continued fraction above
_ERFCX_CF_TERMS = 60


def _float(*xs):
    return promote_args("scipy.special", *xs, inexact=True)


def _sici_series(x):
    # Si = sum_k (-1)**k x**(2k+1) / ((2k+1) (2k+1)!),
    # Ci = gamma + log x + sum_{k>=1} (-1)**k x**(2k) / (2k (2k)!),  0 < x <= 4
    def body(i, carry):
        term, si, ci = carry           # term = (-1)**k x**(2k) / (2k)!  at k = i
        k2 = 2.0 * lax.convert_element_type(i, x.dtype)
        odd = term * x / (k2 + 1.0)    # (-1)**k x**(2k+1) / (2k+1)!
        si = si + odd / (k2 + 1.0)
        term = -odd * x / (k2 + 2.0)   # next even term
        ci = ci + term / (k2 + 2.0)
        return term, si, ci

    zero = fnp.zeros_like(x)
    _, si, ci = lax.fori_loop(0, _SICI_SERIES_TERMS, body, (fnp.ones_like(x), zero, zero))
    return si, _EULER + fnp.log(x) + ci


def _sici_cf(x):
    # E1(i x) = exp(-i x) / (i x + 1 - 1 / (i x + 3 - 4 / (i x + 5 - ...))) in real pairs;
    # E1(i x) = -Ci(x) + i (Si(x) - pi/2) for x > 0
    def body(i, f):
        fr, fi = f
        k = float(_SICI_CF_TERMS) - lax.convert_element_type(i, x.dtype)
        scale = k * k / (fr * fr + fi * fi)
        return 2.0 * k - 1.0 - scale * fr, x + scale * fi

    fr, fi = lax.fori_loop(0, _SICI_CF_TERMS, body,
                           (fnp.full_like(x, 2.0 * _SICI_CF_TERMS + 1.0), x))
    den = fr * fr + fi * fi
    c, s = fnp.cos(x), fnp.sin(x)
    # (c - i s) (fr - i fi) / den
    re = (c * fr - s * fi) / den
    im = -(c * fi + s * fr) / den
    return 0.5 * np.pi + im, -re


@custom_jvp
def _sici(x):
    ax = fnp.abs(x)
    small = ax <= _SICI_SWITCH
    large = (ax > _SICI_SWITCH) & (ax < np.inf)
    si_s, ci_s = _sici_series(fnp.where(small & (ax > 0), ax, fnp.ones_like(x)))
    si_l, ci_l = _sici_cf(fnp.where(large, ax, fnp.full_like(x, 2.0 * _SICI_SWITCH)))
    si = fnp.where(small, si_s, si_l)
    ci = fnp.where(small, ci_s, ci_l)
    si = fnp.where(ax == np.inf, fnp.full_like(x, 0.5 * np.pi), si)
    ci = fnp.where(ax == np.inf, fnp.zeros_like(x), ci)
    si = fnp.where(ax == 0, fnp.zeros_like(x), si)
    ci = fnp.where(ax == 0, fnp.full_like(x, -np.inf), ci)
    si = fnp.where(x < 0, -si, si)                       # Si is odd
    si = fnp.where(fnp.isnan(x), x, si)
    ci = fnp.where((x == -np.inf) | fnp.isnan(x), fnp.full_like(x, np.nan), ci)
    return si, ci


@_sici.defjvp
def _sici_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return _sici(x), (fnp.sin(x) / x * dx, fnp.cos(x) / x * dx)


def sici(x):
    """The sine and cosine integrals ``(Si(x), Ci(x))``: ``Si(x) = integral_0^x sin(t) / t
    dt``, ``Ci(x) = gamma + log|x| + integral_0^|x| (cos(t) - 1) / t dt`` (SciPy's real
    ``Ci(-x) = Ci(x)``; ``-inf`` at 0, ``nan`` at ``-inf``). Derivatives ``sin(x) / x``
    and ``cos(x) / x``.

    Example:
        >>> import numpy as np
        >>> [round(float(v), 5) for v in sici(np.float32(1.0))]
        [0.94608, 0.3374]
    """
    (x,) = _float(x)
    return _sici(x)


def _erfcx_cf(x):
    # sqrt(pi) exp(x**2) erfc(x) = 1 / (x + (1/2) / (x + 1 / (x + (3/2) / (x + ...))))
    def body(i, f):
        k = float(_ERFCX_CF_TERMS) - lax.convert_element_type(i, x.dtype)
        return x + 0.5 * k / f

    f = lax.fori_loop(0, _ERFCX_CF_TERMS, body, x)
    return (1.0 / np.sqrt(np.pi)) / f


@custom_jvp
def _erfcx(x):
    large = x > _ERFCX_SWITCH
    x_s = fnp.where(large, fnp.zeros_like(x), x)
    x_l = fnp.where(large, x, fnp.full_like(x, 2.0 * _ERFCX_SWITCH))
    out = fnp.where(large, _erfcx_cf(x_l), fnp.exp(x_s * x_s) * lax.erfc(x_s))
    return fnp.where(x == np.inf, fnp.zeros_like(x), out)


@_erfcx.defjvp
def _erfcx_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    out = _erfcx(x)
    return out, (2.0 * x * out - 2.0 / np.sqrt(np.pi)) * dx


def erfcx(x):
    """The scaled complementary error function ``exp(x**2) erfc(x)``, accurate where
    ``erfc`` underflows (``~ 1 / (x sqrt(pi))`` for large ``x``); derivative
    ``2 x erfcx(x) - 2 / sqrt(pi)``.

    Example:
        >>> import numpy as np
        >>> round(float(erfcx(np.float32(1.0))), 5)
        0.42758
    """
    (x,) = _float(x)
    return _erfcx(x)
