"""The derivative of a gamma sample in its shape parameter, for ``random.gamma``'s
reparameterised gradient (JAX's ``lax.random_gamma_grad``), from lax primitives.

For a sample ``x`` of Gamma(a, 1), ``dx/da = -(dP(a, x)/da) / p(a, x)``, P being the
regularised lower incomplete gamma function and p the density. As XLA does (after
Cephes' ``igam``/``igamc``), ``P`` comes from its power series where ``x <= 1`` or
``x <= a`` and from the continued fraction of ``Q = 1 - P`` elsewhere, each carried
together with its derivative in ``a``; the common factor ``x**a e**-x / Gamma(a)``
cancels against the density, so no ``lgamma`` is needed, only ``digamma``.

The loops run ``_MAX_TERMS`` steps when traced; eagerly they stop once every element
has converged. That is float32-accurate for ``a`` up to about 500 (the series needs
about ``9 sqrt(a)`` terms near ``x = a``).
"""

from __future__ import annotations

import numpy as np

from .. import lax
from .. import numpy as fnp
from ..core.trace import Tracer, get_aval

_MAX_TERMS = 200


def _c(value, dtype):
    return np.array(value, dtype)


def _converged(delta, scale, dtype) -> bool:
    if isinstance(delta, Tracer) or isinstance(scale, Tracer):
        return False
    eps = np.finfo(dtype).eps
    return bool(np.all(np.abs(np.asarray(delta)) <= eps * np.abs(np.asarray(scale))))


def digamma(a):
    """The digamma function for ``a > 0``: the recurrence up to ``a + 6``, then the
    asymptotic series (error below 1e-12 there)."""
    dtype = get_aval(a).dtype
    acc = fnp.zeros_like(a)
    for i in range(6):
        acc = lax.sub(acc, lax.div(_c(1.0, dtype), lax.add(a, _c(float(i), dtype))))
    y = lax.add(a, _c(6.0, dtype))
    inv2 = lax.div(_c(1.0, dtype), lax.mul(y, y))
    # 1/(12 y^2) - 1/(120 y^4) + 1/(252 y^6) - 1/(240 y^8) + 1/(132 y^10)
    poly = _c(1.0 / 132.0, dtype)
    for coef in (-1.0 / 240.0, 1.0 / 252.0, -1.0 / 120.0, 1.0 / 12.0):
        poly = lax.add(lax.mul(poly, inv2), _c(coef, dtype))
    tail = lax.mul(poly, inv2)
    psi = lax.sub(lax.sub(lax.log(y), lax.div(_c(0.5, dtype), y)), tail)
    return lax.add(acc, psi)


def _series_grad(a, x):
    """``-(dP/da) / p`` from the power series of P."""
    dtype = get_aval(a).dtype
    one = _c(1.0, dtype)
    r, c, ans = a, fnp.ones_like(a), fnp.ones_like(a)
    dc_da, dans_da = fnp.zeros_like(a), fnp.zeros_like(a)
    for _ in range(_MAX_TERMS):
        r = lax.add(r, one)
        x_r = lax.div(x, r)
        dc_da = lax.sub(lax.mul(dc_da, x_r), lax.div(lax.mul(c, x), lax.mul(r, r)))
        dans_da = lax.add(dans_da, dc_da)
        c = lax.mul(c, x_r)
        ans = lax.add(ans, c)
        if _converged(c, ans, dtype) and _converged(dc_da, dans_da, dtype):
            break
    dlogax_da = lax.sub(lax.log(x), digamma(lax.add(a, one)))
    return lax.neg(lax.div(lax.mul(lax.add(lax.mul(ans, dlogax_da), dans_da), x), a))


def _continued_fraction_grad(a, x):
    """``-(dP/da) / p = (dQ/da) / p`` from the continued fraction of Q."""
    dtype = get_aval(a).dtype
    one, zero = _c(1.0, dtype), _c(0.0, dtype)
    big = _c(4503599627370496.0, dtype)
    biginv = _c(2.22044604925031308085e-16, dtype)
    y = lax.sub(one, a)
    z = lax.add(lax.add(x, y), one)
    cnt = fnp.zeros_like(a)
    pkm2, qkm2 = fnp.ones_like(a), x
    pkm1, qkm1 = lax.add(x, one), lax.mul(z, x)
    ans = lax.div(pkm1, qkm1)
    dpkm2, dqkm2 = fnp.zeros_like(a), fnp.zeros_like(a)
    dpkm1, dqkm1 = fnp.zeros_like(a), lax.neg(x)
    dans = lax.div(lax.sub(dpkm1, lax.mul(ans, dqkm1)), qkm1)
    for _ in range(_MAX_TERMS):
        cnt = lax.add(cnt, one)
        y = lax.add(y, one)
        z = lax.add(z, _c(2.0, dtype))
        yc = lax.mul(y, cnt)
        pk = lax.sub(lax.mul(pkm1, z), lax.mul(pkm2, yc))
        qk = lax.sub(lax.mul(qkm1, z), lax.mul(qkm2, yc))
        nonzero = lax.ne(qk, zero)
        safe_qk = lax.select(nonzero, qk, fnp.ones_like(qk))
        new_ans = lax.select(nonzero, lax.div(pk, safe_qk), ans)
        dpk = lax.add(lax.sub(lax.sub(lax.mul(dpkm1, z), pkm1), lax.mul(dpkm2, yc)),
                      lax.mul(pkm2, cnt))
        dqk = lax.add(lax.sub(lax.sub(lax.mul(dqkm1, z), qkm1), lax.mul(dqkm2, yc)),
                      lax.mul(qkm2, cnt))
        new_dans = lax.select(nonzero, lax.div(lax.sub(dpk, lax.mul(new_ans, dqk)), safe_qk),
                              dans)
        delta, ddelta = lax.sub(new_ans, ans), lax.sub(new_dans, dans)
        ans, dans = new_ans, new_dans
        pkm2, pkm1, qkm2, qkm1 = pkm1, pk, qkm1, qk
        dpkm2, dpkm1, dqkm2, dqkm1 = dpkm1, dpk, dqkm1, dqk
        rescale = lax.gt(lax.abs(pk), big)
        factor = lax.select(rescale, fnp.full_like(pk, biginv), fnp.ones_like(pk))
        pkm2, pkm1, qkm2, qkm1 = (lax.mul(v, factor) for v in (pkm2, pkm1, qkm2, qkm1))
        dpkm2, dpkm1, dqkm2, dqkm1 = (lax.mul(v, factor) for v in (dpkm2, dpkm1, dqkm2, dqkm1))
        if _converged(delta, ans, dtype) and _converged(ddelta, dans, dtype):
            break
    dlogax_da = lax.sub(lax.log(x), digamma(a))
    return lax.mul(x, lax.add(lax.mul(ans, dlogax_da), dans))


def gamma_sample_grad(a, x):
    """``dx/da`` for a Gamma(``a``, 1) sample ``x`` (JAX's ``lax.random_gamma_grad``)."""
    dtype = get_aval(a).dtype
    one = _c(1.0, dtype)
    use_series = fnp.logical_or(lax.le(x, one), lax.le(x, a))
    # each branch evaluated where it is valid; the other gets a harmless stand-in
    x_series = lax.select(use_series, x, fnp.minimum(a, one))
    x_frac = lax.select(use_series, lax.add(a, _c(2.0, dtype)), x)
    x_frac = fnp.maximum(x_frac, _c(1.5, dtype))
    return lax.select(use_series, _series_grad(a, x_series), _continued_fraction_grad(a, x_frac))
