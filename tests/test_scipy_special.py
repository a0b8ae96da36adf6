"""functrace.scipy.special and scipy.stats.norm against the math module, series sums and
finite differences; and lax.lgamma/digamma/polygamma/zeta under the transformations."""

import math

import numpy as np
import pytest

import functrace as ft
from functrace import lax
from functrace.scipy import special as S
from functrace.scipy.stats import norm

XS = np.array([0.3, 1.0, 2.5, 7.0, 31.5], np.float32)


def _close(a, b, rtol=2e-5, atol=1e-6):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                               rtol=rtol, atol=atol)


def _hurwitz(s, q, terms=200_000):
    k = np.arange(terms, dtype=np.float64)
    head = np.sum((k + q) ** -s)
    n = terms + q  # Euler-Maclaurin tail of the remaining sum
    return head + n ** (1 - s) / (s - 1) + 0.5 * n ** -s


def test_gammaln_and_erf_match_math():
    _close(S.gammaln(XS), [math.lgamma(float(x)) for x in XS])
    _close(S.gammaln(np.float32(-0.5)), math.lgamma(-0.5))
    z = np.linspace(-3, 3, 13).astype(np.float32)
    _close(S.erf(z), [math.erf(float(v)) for v in z], atol=2e-6)
    _close(S.erfc(z), [math.erfc(float(v)) for v in z], atol=2e-6)
    _close(S.erf(S.erfinv(np.float32(0.3))), 0.3)


def test_digamma_is_the_derivative_of_gammaln():
    h = 1e-5
    fd = [(math.lgamma(float(x) + h) - math.lgamma(float(x) - h)) / (2 * h) for x in XS]
    _close(S.digamma(XS), fd, rtol=1e-4, atol=1e-4)
    _close(ft.grad(S.gammaln)(np.float32(3.5)), S.digamma(np.float32(3.5)))
    # digamma(1) = -Euler-Mascheroni
    _close(S.digamma(np.float32(1.0)), -0.5772156649)


def test_polygamma_and_zeta_are_series():
    for x in (1.0, 2.5, 6.0):
        trigamma = _hurwitz(2.0, x)
        _close(S.polygamma(1, np.float32(x)), trigamma, rtol=1e-4)
        # psi^(2)(x) = -2 zeta(3, x)
        _close(S.polygamma(2, np.float32(x)), -2 * _hurwitz(3.0, x), rtol=1e-4)
    _close(S.zeta(np.float32(2.0)), math.pi ** 2 / 6)
    _close(S.zeta(np.float32(3.0), np.float32(2.0)), _hurwitz(3.0, 2.0), rtol=1e-5)
    _close(ft.grad(S.digamma)(np.float32(2.5)), S.polygamma(1, np.float32(2.5)), rtol=1e-4)
    # scipy's zeta differentiates in both arguments (lax.zeta in neither, as JAX)
    _close(ft.grad(S.zeta, argnums=1)(np.float32(2.5), np.float32(1.5)),
           -2.5 * _hurwitz(3.5, 1.5), rtol=1e-4)
    h = 1e-4
    fd = (_hurwitz(2.5 + h, 1.5) - _hurwitz(2.5 - h, 1.5)) / (2 * h)
    _close(ft.grad(S.zeta)(np.float32(2.5), np.float32(1.5)), fd, rtol=1e-4)
    with pytest.raises(Exception, match="zeta"):
        ft.grad(lax.zeta)(np.float32(2.5), np.float32(1.5))


def test_ndtr_ndtri_log_ndtr():
    z = np.array([-7.0, -3.0, -0.5, 0.0, 1.0, 4.0], np.float32)
    ref = [0.5 * math.erfc(-float(v) / math.sqrt(2)) for v in z]
    _close(S.ndtr(z), ref, rtol=1e-5, atol=0)
    for p in (0.01, 0.3, 0.5, 0.975):
        _close(S.ndtr(S.ndtri(np.float32(p))), p, rtol=1e-5)
    for v in (-4.0, -1.0, 2.0, 7.0):
        _close(S.log_ndtr(np.float32(v)), math.log(0.5 * math.erfc(-v / math.sqrt(2))),
               rtol=2e-5, atol=1e-12)
    # far tail, where ndtr itself underflows float32: log Phi(-40) = -804.6084420137538
    _close(S.log_ndtr(np.float32(-40.0)), -804.6084420137538, rtol=1e-6)
    # d/dx log Phi(x) = phi(x) / Phi(x), finite in every branch
    for v in (-10.0, 0.3, 8.0):
        phi = math.exp(-v * v / 2) / math.sqrt(2 * math.pi)
        Phi = 0.5 * math.erfc(-v / math.sqrt(2))
        _close(ft.grad(S.log_ndtr)(np.float32(v)), phi / Phi, rtol=1e-3, atol=1e-25)


def test_logsumexp_weights_and_sign():
    a = np.array([1.0, 2.0, 3.0], np.float32)
    b = np.array([1.0, -1.0, 2.0], np.float32)
    total = float(np.sum(b * np.exp(a.astype(np.float64))))
    out, sign = S.logsumexp(a, b=b, return_sign=True)
    _close(out, math.log(abs(total)))
    assert float(sign) == 1.0
    out, sign = S.logsumexp(a, b=-b, return_sign=True)
    _close(out, math.log(abs(total)))
    assert float(sign) == -1.0
    assert np.isnan(float(S.logsumexp(a, b=-b)))
    m = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    out, sign = S.logsumexp(m, axis=1, b=np.array([1.0, -1.0], np.float32),
                            keepdims=True, return_sign=True)
    assert out.shape == (2, 1) and sign.shape == (2, 1)
    _close(out[:, 0], [math.log(math.e ** 2 - math.e), math.log(math.e ** 4 - math.e ** 3)])
    np.testing.assert_array_equal(sign, [[-1.0], [-1.0]])
    # gradient is the softmax
    g = ft.grad(S.logsumexp)(a)
    _close(g, np.exp(a) / np.exp(a).sum())


def test_xlogy_xlog1py_entr_logit_expit():
    assert float(S.xlogy(np.float32(0.0), np.float32(0.0))) == 0.0
    _close(S.xlogy(np.float32(2.0), np.float32(3.0)), 2 * math.log(3))
    assert float(S.xlog1py(np.float32(0.0), np.float32(-1.0))) == 0.0
    _close(S.xlog1py(np.float32(2.0), np.float32(0.5)), 2 * math.log1p(0.5))
    np.testing.assert_allclose(S.entr(np.array([0.0, 0.5, -1.0], np.float32)),
                               [0.0, -0.5 * math.log(0.5), -np.inf], rtol=1e-6)
    _close(ft.grad(S.xlogy)(np.float32(0.0), np.float32(2.0)), math.log(2.0))
    _close(S.logit(np.float32(0.25)), math.log(1 / 3))
    _close(S.expit(S.logit(np.float32(0.8))), 0.8)


def test_norm_matches_closed_forms():
    x, loc, scale = np.float32(1.3), np.float32(0.5), np.float32(2.0)
    z = (1.3 - 0.5) / 2.0
    pdf = math.exp(-z * z / 2) / (2.0 * math.sqrt(2 * math.pi))
    _close(norm.pdf(x, loc, scale), pdf)
    _close(norm.logpdf(x, loc, scale), math.log(pdf))
    cdf = 0.5 * math.erfc(-z / math.sqrt(2))
    _close(norm.cdf(x, loc, scale), cdf)
    _close(norm.sf(x, loc, scale), 1 - cdf)
    _close(norm.logcdf(x, loc, scale), math.log(cdf))
    _close(norm.logsf(x, loc, scale), math.log(1 - cdf))
    _close(norm.ppf(norm.cdf(x, loc, scale), loc, scale), 1.3, rtol=1e-5)
    _close(norm.isf(norm.sf(x, loc, scale), loc, scale), 1.3, rtol=1e-5)
    _close(norm.ppf(np.float32(0.01)), -2.3263478740408408, rtol=1e-6)
    # d logpdf / d loc = (x - loc) / scale^2
    _close(ft.grad(norm.logpdf, argnums=1)(x, loc, scale), (1.3 - 0.5) / 4.0)
    # d cdf / dx = pdf
    _close(ft.grad(norm.cdf)(x, loc, scale), pdf, rtol=1e-5)


@pytest.mark.parametrize("fn", [S.gammaln, S.digamma, lambda x: S.polygamma(1, x),
                                lambda x: S.zeta(np.float32(2.5), x), S.log_ndtr])
def test_special_under_jit_and_vmap(fn):
    x = np.array([0.7, 1.5, 3.0, 9.0], np.float32)
    eager = np.stack([np.asarray(fn(v)) for v in x])
    np.testing.assert_allclose(ft.jit(fn)(x), eager, rtol=1e-5)
    np.testing.assert_allclose(ft.vmap(fn)(x), eager, rtol=1e-5)
    np.testing.assert_allclose(ft.jit(ft.vmap(ft.grad(fn)))(x),
                               [ft.grad(fn)(v) for v in x], rtol=1e-4)


def test_lax_special_dtype_errors():
    with pytest.raises(TypeError, match="lgamma"):
        lax.lgamma(np.array([1, 2], np.int32))
    with pytest.raises(TypeError, match="zeta"):
        lax.zeta(np.float32(2.0), np.array(1, np.int32))
