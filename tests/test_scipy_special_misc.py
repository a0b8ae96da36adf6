"""functrace.scipy.special's boxcox, boxcox1p, comb, loggamma, sici and erfcx against scipy.special
(float64 oracle), eagerly and under jit, their edge values, and their derivatives against
closed forms and central finite differences."""

import warnings

import numpy as np
import pytest
import scipy.special as sps

import functrace as ft
from functrace.scipy import special as S

# lmbda = 0 exactly, tiny (the series branch), both signs, and x at 0 / inf / nan
X_BC = np.array([0.0, 1e-8, 0.5, 2.0, 3.0, 1.0001, 100.0, 7.0, 0.2, np.inf, np.nan, 4.0])
L_BC = np.array([1e-12, 0.5, -1.0, 2.0, 1e-6, -3e-5, 0.0, 0.3, -2.5, 0.0, 1.0, 5e-5])


def _ref(f, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f(*[np.asarray(a, np.float64) for a in args])


@pytest.mark.parametrize("jitted", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize("name", ["boxcox", "boxcox1p"])
def test_boxcox_matches_scipy(name, jitted):
    fn = getattr(S, name)
    f = ft.jit(fn) if jitted else fn
    x, lam = X_BC.astype(np.float32), L_BC.astype(np.float32)
    got = np.asarray(f(x, lam), np.float64)
    np.testing.assert_allclose(got, _ref(getattr(sps, name), x, lam), rtol=2e-6, atol=1e-12)


def test_boxcox_float64_and_edges(x64):
    np.testing.assert_allclose(np.asarray(S.boxcox(X_BC, L_BC)), sps.boxcox(X_BC, L_BC),
                               rtol=1e-15, atol=0)
    np.testing.assert_allclose(np.asarray(S.boxcox1p(X_BC, L_BC)),
                               sps.boxcox1p(X_BC, L_BC), rtol=1e-15, atol=0)
    assert float(S.boxcox(0.0, 0.0)) == -np.inf
    assert np.isnan(float(S.boxcox(-1.0, 0.5)))
    assert float(S.boxcox1p(-1.0, 0.0)) == -np.inf


@pytest.mark.parametrize("x,lam", [(2.0, 0.5), (2.0, 0.0), (0.3, 1e-7), (5.0, -1.5)])
def test_boxcox_grads(x, lam, x64):
    gx, gl = ft.grad(S.boxcox, argnums=(0, 1))(x, lam)
    np.testing.assert_allclose(float(gx), x ** (lam - 1.0), rtol=1e-12)
    # d/dlmbda: log(x)**2 / 2 at 0, else (lmbda x**lmbda log x - x**lmbda + 1) / lmbda**2
    h = 1e-5
    fd = (sps.boxcox(x, lam + h) - sps.boxcox(x, lam - h)) / (2 * h)
    np.testing.assert_allclose(float(gl), fd, rtol=1e-7)
    if lam == 0.0:
        np.testing.assert_allclose(float(gl), np.log(x) ** 2 / 2, rtol=1e-14)
    g1 = ft.grad(S.boxcox1p)(x - 1.0, lam)
    np.testing.assert_allclose(float(g1), x ** (lam - 1.0), rtol=1e-12)


N_C = np.array([5.0, 5.0, 5.0, 3.5, -1.0, 5.0, 0.0, 30.0, 60.0, 2.0, 0.0])
K_C = np.array([2.0, 0.0, 6.0, 1.5, 1.0, -1.0, 0.0, 12.0, 30.0, 0.0, 3.0])


@pytest.mark.parametrize("repetition", [False, True])
@pytest.mark.parametrize("jitted", [False, True], ids=["eager", "jit"])
def test_comb_matches_scipy(repetition, jitted):
    f = ft.jit(S.comb, static_argnames="repetition") if jitted else S.comb
    got = np.asarray(f(N_C.astype(np.float32), K_C.astype(np.float32),
                       repetition=repetition), np.float64)
    want = _ref(lambda n, k: sps.comb(n, k, repetition=repetition), N_C, K_C)
    keep = ~np.isnan(want)   # scipy: nan for comb(-1, 1, repetition=True); JAX (and we): 0
    assert keep.sum() >= N_C.size - 1
    # float32 through gammaln: measured 1.04e-5 at comb(89, 30) ~ 4.5e23
    np.testing.assert_allclose(got[keep], want[keep], rtol=3e-5, atol=0)
    np.testing.assert_array_equal(got[keep] == 0, want[keep] == 0)


def test_comb_float64_and_grad(x64):
    np.testing.assert_allclose(np.asarray(S.comb(N_C, K_C)), sps.comb(N_C, K_C), rtol=1e-13)
    gn, gk = ft.grad(S.comb, argnums=(0, 1))(5.0, 2.0)
    c = sps.comb(5.0, 2.0)
    np.testing.assert_allclose(float(gn), c * (sps.digamma(6.0) - sps.digamma(4.0)),
                               rtol=1e-12)
    np.testing.assert_allclose(float(gk), c * (sps.digamma(4.0) - sps.digamma(3.0)),
                               rtol=1e-12)
    assert float(S.comb(0.0, 0.0, repetition=True)) == 1.0
    assert float(S.comb(-1.0, 1.0, repetition=True)) == 0.0


def test_loggamma_real(x64):
    x = np.array([-2.5, -1.0, 0.0, 1e-5, 0.5, 3.0, 50.0, 1e4])
    got = np.asarray(ft.jit(S.loggamma)(x))
    np.testing.assert_allclose(got, sps.loggamma(x), rtol=1e-14)      # nan, nan, inf too
    np.testing.assert_allclose(float(ft.grad(S.loggamma)(3.5)), sps.digamma(3.5), rtol=1e-12)
    assert np.asarray(S.loggamma(np.array([1, 2]))).dtype == np.float64
    got32 = np.asarray(S.loggamma(x.astype(np.float32)), np.float64)
    np.testing.assert_allclose(got32, sps.loggamma(x.astype(np.float32).astype(np.float64)),
                               rtol=2e-6)


# ---------------------------------------------------------------------------
# sici, erfcx

# series (|x| <= 4) and continued fraction (|x| > 4) sides, Ci's first zero, both signs
X_SICI = np.array([-np.inf, -30.0, -4.5, -2.0, 0.0, 1e-6, 0.3, 0.6165, 1.0, 3.9, 4.0, 4.1,
                   6.0, 30.0, 1e3, 1e8, np.inf, np.nan])
X_ERFCX = np.array([-np.inf, -9.0, -5.0, -1.0, 0.0, 0.3, 1.0, 1.99, 2.0, 2.01, 5.0, 30.0,
                    1e4, 1e20, np.inf, np.nan])


@pytest.mark.parametrize("jitted", [False, True], ids=["eager", "jit"])
def test_sici_matches_scipy(jitted):
    f = ft.jit(S.sici) if jitted else S.sici
    x = X_SICI.astype(np.float32)
    si, ci = f(x)
    want_si, want_ci = _ref(sps.sici, x)
    # float32, absolute (Ci crosses zero at 0.6165): measured 7.4e-8 (Si), 2.9e-7 (Ci)
    np.testing.assert_allclose(np.asarray(si, np.float64), want_si, rtol=0, atol=5e-7)
    np.testing.assert_allclose(np.asarray(ci, np.float64), want_ci, rtol=1e-6, atol=1e-6)


def test_sici_float64_and_grads(x64):
    si, ci = S.sici(X_SICI)
    want_si, want_ci = _ref(sps.sici, X_SICI)
    np.testing.assert_allclose(np.asarray(si), want_si, rtol=1e-15, atol=1e-15)  # 4.4e-16
    np.testing.assert_allclose(np.asarray(ci), want_ci, rtol=1e-15, atol=3e-15)  # 8.9e-16
    for x in (0.4, 2.0, 4.0, 5.0, -7.0):
        np.testing.assert_allclose(float(ft.grad(lambda t: S.sici(t)[0])(x)), np.sin(x) / x,
                                   rtol=1e-14)
        np.testing.assert_allclose(float(ft.jit(ft.grad(lambda t: S.sici(t)[1]))(x)),
                                   np.cos(x) / x, rtol=1e-14)
        fd = (sps.sici(x + 1e-6)[1] - sps.sici(x - 1e-6)[1]) / 2e-6
        np.testing.assert_allclose(float(ft.grad(lambda t: S.sici(t)[1])(x)), fd, rtol=1e-7)


@pytest.mark.parametrize("jitted", [False, True], ids=["eager", "jit"])
def test_erfcx_matches_scipy(jitted):
    f = ft.jit(S.erfcx) if jitted else S.erfcx
    x = X_ERFCX.astype(np.float32)
    got = np.asarray(f(x), np.float64)
    assert np.asarray(f(x)).dtype == np.float32
    # measured 1.2e-7; exp(x**2) overflows to inf for x < -9.4 as scipy's
    np.testing.assert_allclose(got, _ref(sps.erfcx, x), rtol=1e-6, atol=0)


def test_erfcx_float64_and_grad(x64):
    np.testing.assert_allclose(np.asarray(S.erfcx(X_ERFCX)), sps.erfcx(X_ERFCX), rtol=2e-15,
                               atol=0)       # measured 4.3e-16
    for x in (-1.5, 0.5, 2.0, 3.0, 40.0):
        want = 2 * x * sps.erfcx(x) - 2 / np.sqrt(np.pi)
        g = float(ft.grad(S.erfcx)(x))
        np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-16)
        fd = (sps.erfcx(x + 1e-6) - sps.erfcx(x - 1e-6)) / 2e-6
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-12)


def test_sici_erfcx_vmap_and_promotion():
    x = np.array([0.5, 3.0, 9.0], np.float32)
    si, ci = ft.vmap(S.sici)(x)
    want_si, want_ci = sps.sici(x.astype(np.float64))
    np.testing.assert_allclose(np.asarray(si, np.float64), want_si, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(ci, np.float64), want_ci, rtol=2e-6)
    np.testing.assert_allclose(np.asarray(ft.vmap(S.erfcx)(x), np.float64),
                               sps.erfcx(x.astype(np.float64)), rtol=1e-6)
    assert np.asarray(S.sici(np.array([1, 2]))[0]).dtype == np.float32
    assert np.asarray(S.erfcx(3)).dtype == np.float32
