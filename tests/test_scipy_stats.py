"""functrace.scipy.stats distributions (gamma, beta, poisson, bernoulli, t, uniform, expon,
logistic, multivariate_normal) and the scipy.special functions built on the incomplete
gamma/beta and Bessel primitives, against closed forms written here with the math module,
float64 series, NumPy's linear algebra, finite differences, jit and vmap."""

import math

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace.scipy import special as S
from functrace.scipy.stats import (
    bernoulli,
    beta,
    expon,
    gamma,
    logistic,
    multivariate_normal,
    poisson,
    t,
    uniform,
)

f32 = np.float32
XS = np.array([-1.0, 0.3, 1.0, 2.5, 7.0], f32)


def _close(a, b, rtol=2e-5, atol=1e-6):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                               rtol=rtol, atol=atol)


def _p_series(a, x, terms=4000):
    """The regularised lower incomplete gamma function, from its power series."""
    if x <= 0:
        return 0.0
    total, term = 1.0, 1.0
    for k in range(1, terms):
        term *= x / (a + k)
        total += term
        if term < 1e-18 * total:
            break
    return math.exp(a * math.log(x) - x - math.lgamma(a + 1)) * total


def _fd(fn, x, h=1e-3):
    return (fn(x + h) - fn(x - h)) / (2 * h)


# ---- continuous distributions ---------------------------------------------------------

def test_gamma_distribution():
    a, loc, scale = 2.5, 0.5, 2.0
    for v in XS.astype(float):
        y = (v - loc) / scale
        if y < 0:
            ref_logpdf, ref_cdf = -math.inf, 0.0
        else:
            ref_logpdf = (a - 1) * math.log(y) - y - math.lgamma(a) - math.log(scale)
            ref_cdf = _p_series(a, y)
        _close(gamma.logpdf(f32(v), a, loc, scale), ref_logpdf)
        _close(gamma.pdf(f32(v), a, loc, scale), math.exp(ref_logpdf))
        _close(gamma.cdf(f32(v), a, loc, scale), ref_cdf)
        _close(gamma.sf(f32(v), a, loc, scale), 1 - ref_cdf, atol=2e-6)
    _close(gamma.logcdf(f32(3.0), 2.0), math.log(_p_series(2.0, 3.0)))
    _close(gamma.logsf(f32(3.0), 2.0), math.log(1 - _p_series(2.0, 3.0)))
    # d/dx cdf = pdf; d/da logpdf = log x - digamma(a)
    _close(ft.grad(gamma.cdf)(f32(2.0), f32(2.5)), gamma.pdf(f32(2.0), 2.5), rtol=1e-5)
    _close(ft.grad(gamma.logpdf, argnums=1)(f32(2.0), f32(2.5)),
           math.log(2.0) - S.digamma(f32(2.5)), rtol=1e-5)
    _close(ft.grad(gamma.cdf, argnums=1)(f32(2.0), f32(2.5)),
           _fd(lambda a: _p_series(a, 2.0), 2.5, 1e-5), rtol=1e-4)


def test_beta_distribution():
    a, b = 2.0, 3.0
    u = np.array([-0.1, 0.0, 0.2, 0.5, 0.9, 1.0, 1.2], f32)
    for v in u.astype(float):
        inside = 0 <= v <= 1
        dens = 12 * v * (1 - v) ** 2 if inside else 0.0  # 1 / B(2, 3) = 12
        cdf = min(max(6 * v ** 2 - 8 * v ** 3 + 3 * v ** 4, 0.0), 1.0) if v > 0 else 0.0
        if v > 1:
            cdf = 1.0
        _close(beta.pdf(f32(v), a, b), dens)
        _close(beta.cdf(f32(v), a, b), cdf)
        _close(beta.sf(f32(v), a, b), 1 - cdf)
    assert beta.logpdf(f32(1.2), a, b) == -np.inf
    # loc/scale: x in [1, 3]
    _close(beta.pdf(f32(2.0), a, b, 1.0, 2.0), 12 * 0.5 * 0.25 / 2)
    assert np.isnan(beta.logpdf(f32(0.5), -1.0, 2.0))
    _close(ft.grad(beta.cdf)(f32(0.3), f32(a), f32(b)), 12 * 0.3 * 0.7 ** 2, rtol=1e-5)
    _close(beta.logcdf(f32(0.5), a, b), math.log(0.6875))
    _close(beta.logsf(f32(0.5), a, b), math.log(0.3125))


def test_t_uniform_expon_logistic():
    for v in XS.astype(float):
        # Student's t with 3 degrees of freedom, loc 1, scale 2
        z = (v - 1.0) / 2.0
        ref = (math.lgamma(2.0) - math.lgamma(1.5) - 0.5 * math.log(3 * math.pi * 4.0)
               - 2.0 * math.log1p(z * z / 3))
        _close(t.logpdf(f32(v), 3.0, 1.0, 2.0), ref)
        _close(t.pdf(f32(v), 1.0), 1 / (math.pi * (1 + v * v)))  # Cauchy
        inside = 0.0 <= v <= 2.0
        _close(uniform.pdf(f32(v), 0.0, 2.0), 0.5 if inside else 0.0)
        _close(uniform.cdf(f32(v), 0.0, 2.0), min(max(v / 2, 0.0), 1.0))
        e = (v - 0.5) / 2.0
        _close(expon.cdf(f32(v), 0.5, 2.0), 0.0 if e < 0 else -math.expm1(-e))
        _close(expon.sf(f32(v), 0.5, 2.0), 1.0 if e < 0 else math.exp(-e))
        _close(expon.logpdf(f32(v), 0.5, 2.0), -math.inf if e < 0 else -e - math.log(2.0))
        _close(logistic.pdf(f32(v)), math.exp(-v) / (1 + math.exp(-v)) ** 2)
        _close(logistic.cdf(f32(v), 0.5, 2.0), 1 / (1 + math.exp(-(v - 0.5) / 2)))
        _close(logistic.sf(f32(v)), 1 / (1 + math.exp(v)))
    assert np.isneginf(uniform.logpdf(f32(3.0), 0.0, 2.0))
    _close(uniform.ppf(np.array([0.0, 0.5, 1.0], f32), 1.0, 2.0), [1.0, 2.0, 3.0])
    assert np.isnan(uniform.ppf(f32(1.5)))
    _close(expon.ppf(f32(0.5), 0.0, 2.0), 2 * math.log(2))
    _close(expon.logcdf(f32(1.0)), math.log(-math.expm1(-1.0)))
    _close(expon.logsf(f32(3.0)), -3.0)
    # no overflow far in the tails
    _close(logistic.logpdf(f32(100.0)), -100.0 - 2 * math.log1p(math.exp(-100.0)))
    _close(logistic.ppf(f32(0.9), 1.0, 2.0), 1 + 2 * math.log(9))
    _close(logistic.isf(f32(0.1)), math.log(9), rtol=1e-5)
    # derivative of t.logpdf in x: -(df+1) z / (df + z^2) / scale
    _close(ft.grad(t.logpdf)(f32(0.7), f32(3.0)), -4 * 0.7 / (3 + 0.49), rtol=1e-5)


# ---- discrete distributions -----------------------------------------------------------

def test_poisson_and_bernoulli():
    mu = 3.0
    for k in (0, 1, 2, 5, 12):
        ref = mu ** k * math.exp(-mu) / math.factorial(k)
        _close(poisson.pmf(f32(k), mu), ref, rtol=1e-5, atol=1e-9)
        _close(poisson.logpmf(f32(k), mu), math.log(ref), rtol=1e-5)
        _close(poisson.pmf(f32(k + 2), mu, 2), ref, rtol=1e-5, atol=1e-9)  # loc shifts
        cdf = sum(mu ** j * math.exp(-mu) / math.factorial(j) for j in range(k + 1))
        _close(poisson.cdf(f32(k), mu), cdf, rtol=1e-5)
        _close(poisson.cdf(f32(k + 0.5), mu), cdf, rtol=1e-5)  # a step function
    assert poisson.logpmf(f32(2.5), mu) == -np.inf and poisson.logpmf(f32(-1), mu) == -np.inf
    assert float(poisson.cdf(f32(-0.5), mu)) == 0.0
    # d/dmu logpmf = k / mu - 1
    _close(ft.grad(poisson.logpmf, argnums=1)(f32(2.0), f32(mu)), 2 / mu - 1)
    p = 0.3
    _close(bernoulli.pmf(np.array([0.0, 1.0], f32), p), [1 - p, p])
    assert bernoulli.logpmf(f32(2.0), p) == -np.inf
    _close(bernoulli.pmf(f32(1.0), p, 1), 1 - p)
    _close(bernoulli.cdf(np.array([-1.0, 0.0, 0.5, 1.0, 2.0], f32), p),
           [0.0, 1 - p, 1 - p, 1.0, 1.0])
    assert np.isnan(bernoulli.cdf(f32(0.5), 1.5))
    _close(bernoulli.ppf(np.array([0.0, 0.7, 0.8], f32), p), [0.0, 0.0, 1.0])
    _close(ft.grad(bernoulli.logpmf, argnums=1)(f32(1.0), f32(p)), 1 / p)


# ---- multivariate normal --------------------------------------------------------------

def _mvn_ref(x, mean, cov):
    d = np.asarray(x, np.float64) - mean
    n = d.shape[-1]
    quad = np.einsum("...i,...ij,...j->...", d, np.linalg.inv(cov), d)
    return -0.5 * quad - 0.5 * n * math.log(2 * math.pi) - 0.5 * np.linalg.slogdet(cov)[1]


def test_multivariate_normal():
    rng = np.random.default_rng(0)
    m = np.array([0.5, -1.0, 2.0], f32)
    a = rng.normal(size=(3, 3))
    cov = (a @ a.T + 3 * np.eye(3)).astype(f32)
    xs = rng.normal(size=(4, 3)).astype(f32)
    _close(multivariate_normal.logpdf(xs, m, cov), _mvn_ref(xs, m, cov), rtol=1e-5)
    _close(multivariate_normal.pdf(xs[0], m, cov), np.exp(_mvn_ref(xs[0], m, cov)), rtol=1e-5)
    # a scalar variance, a scalar distribution, and a batch of covariances
    _close(multivariate_normal.logpdf(xs, m, f32(2.0)), _mvn_ref(xs, m, 2.0 * np.eye(3)),
           rtol=1e-5)
    _close(multivariate_normal.logpdf(f32(0.3), f32(1.0), f32(2.0)),
           -0.5 * 0.49 / 2 - 0.5 * math.log(2 * math.pi * 2), rtol=1e-6)
    covs = np.stack([cov, 2 * cov])
    _close(multivariate_normal.logpdf(xs[:2], m, covs), _mvn_ref(xs[:2], m, covs), rtol=1e-5)
    # d/dmean = cov^-1 (x - mean)
    g = ft.grad(multivariate_normal.logpdf, argnums=1)(xs[0], m, cov)
    _close(g, np.linalg.solve(cov.astype(float), xs[0] - m.astype(float)), rtol=1e-4)
    with pytest.raises(ValueError, match="incompatible shapes"):
        multivariate_normal.logpdf(xs, m, np.eye(2, dtype=f32))
    with pytest.raises(NotImplementedError, match="allow_singular"):
        multivariate_normal.logpdf(xs, m, cov, allow_singular=True)


# ---- scipy.special on the new primitives ----------------------------------------------

def test_incomplete_gamma_beta_and_betaln():
    _close(S.gammainc(2, np.array([0.5, 3.0], f32)), [_p_series(2, 0.5), _p_series(2, 3.0)])
    _close(S.gammaincc(2.0, f32(3.0)), 4 * math.exp(-3))
    _close(S.betainc(2.0, 3.0, f32(0.5)), 0.6875)
    for a, b in [(2.0, 3.0), (0.5, 1.5), (10.0, 20.0), (1e-3, 5.0)]:
        ref = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
        _close(S.betaln(f32(a), f32(b)), ref, rtol=1e-5)
        _close(S.beta(f32(a), f32(b)), math.exp(ref), rtol=1e-5)
    # large arguments, where lgamma(a) + lgamma(b) - lgamma(a + b) cancels in float32
    ref = math.lgamma(3e6) + math.lgamma(2e6) - math.lgamma(5e6)
    _close(S.betaln(f32(3e6), f32(2e6)), ref, rtol=2e-7)
    _close(ft.grad(S.betaln, argnums=1)(f32(2.5), f32(30.0)),
           S.digamma(f32(30.0)) - S.digamma(f32(32.5)), rtol=1e-4)


def test_gamma_sign_factorial_bessel_multigammaln_entropy():
    x = np.array([-0.0, 0.0, -1.5, -2.0, 2.5, -3.5, np.nan], f32)
    np.testing.assert_array_equal(S.gammasgn(x), [-1, 1, 1, np.nan, 1, 1, np.nan])
    gam = S.gamma(x)
    assert gam[0] == -np.inf and gam[1] == np.inf and np.isnan(gam[3])
    _close(gam[[2, 4, 5]], [math.gamma(-1.5), math.gamma(2.5), math.gamma(-3.5)])
    _close(S.factorial(np.array([-1.0, 0.0, 4.0, 5.5], f32)), [0.0, 1.0, 24.0,
                                                               math.gamma(6.5)])
    with pytest.raises(NotImplementedError):
        S.factorial(3, exact=True)
    for v in (-3.0, 0.0, 1.0, 6.0):
        i0 = sum((v / 2) ** (2 * k) / math.factorial(k) ** 2 for k in range(60))
        i1 = sum((v / 2) ** (2 * k + 1) / (math.factorial(k) * math.factorial(k + 1))
                 for k in range(60))
        _close(S.i0(f32(v)), i0, rtol=3e-6)
        _close(S.i1(f32(v)), i1, rtol=3e-6)
        _close(S.i0e(f32(v)), i0 * math.exp(-abs(v)), rtol=3e-6)
        _close(S.i1e(f32(v)), i1 * math.exp(-abs(v)), rtol=3e-6)
    # d/dx i0 = i1
    _close(ft.grad(S.i0)(f32(1.5)), S.i1(f32(1.5)), rtol=1e-5)
    a = np.array([3.0, 5.5], f32)
    ref = [0.25 * 3 * 2 * math.log(math.pi) + sum(math.lgamma(v - j / 2) for j in range(3))
           for v in a.astype(float)]
    _close(S.multigammaln(a, 3), ref)
    _close(S.rel_entr(np.array([0.0, 0.0, 1.0, 2.0, -1.0], f32),
                      np.array([0.0, 1.0, 0.0, 3.0, 1.0], f32)),
           [0.0, 0.0, np.inf, 2 * math.log(2 / 3), np.inf])
    _close(S.kl_div(f32(2.0), f32(3.0)), 2 * math.log(2 / 3) + 1)
    _close(S.erfinv(f32(0.5)), 0.4769362762044699, rtol=1e-6)


# ---- transformations ------------------------------------------------------------------

@pytest.mark.parametrize("fn", [
    lambda x: gamma.logpdf(x, 2.5),
    lambda x: gamma.cdf(x, 2.5),
    lambda x: beta.cdf(x / 8, 2.0, 3.0),
    lambda x: poisson.cdf(x, 3.0),
    lambda x: t.logpdf(x, 3.0),
    lambda x: S.i0(x),
])
def test_jit_and_vmap(fn):
    x = np.linspace(0.1, 7.5, 24).astype(f32)
    eager = np.stack([np.asarray(fn(v)) for v in x])
    np.testing.assert_allclose(ft.jit(fn)(x), eager, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ft.vmap(fn)(x), eager, rtol=1e-5, atol=1e-7)


def test_vmap_of_multivariate_normal_grad():
    rng = np.random.default_rng(1)
    m = np.zeros(2, f32)
    cov = np.array([[2.0, 0.3], [0.3, 1.0]], f32)
    xs = rng.normal(size=(5, 2)).astype(f32)
    g = ft.jit(ft.vmap(ft.grad(multivariate_normal.logpdf), in_axes=(0, None, None)))(
        xs, m, cov)
    _close(g, -np.linalg.solve(cov.astype(float), xs.T.astype(float)).T, rtol=1e-5)


def test_numpy_i0_and_kaiser():
    for v in (-2.0, 0.0, 0.5, 9.0):
        ref = sum((v / 2) ** (2 * k) / math.factorial(k) ** 2 for k in range(60))
        _close(fnp.i0(f32(v)), ref, rtol=3e-6)
    _close(ft.grad(fnp.i0)(f32(1.5)), S.i1(f32(1.5)), rtol=1e-5)
    n = np.arange(7)
    ref = [sum((5 * math.sqrt(1 - (2 * k / 6 - 1) ** 2) / 2) ** (2 * j) / math.factorial(j) ** 2
               for j in range(60)) / sum((5 / 2) ** (2 * j) / math.factorial(j) ** 2
                                         for j in range(60)) for k in n]
    out = fnp.kaiser(7, 5.0)
    assert out.dtype == f32 and out.shape == (7,)
    _close(out, ref, rtol=3e-6)
    np.testing.assert_array_equal(fnp.kaiser(1, 5.0), [1.0])
    assert fnp.kaiser(0, 5.0).shape == (0,)
