"""functrace.scipy.special's exp1, expi, expn, spence, poch and bernoulli against
scipy.special (float64 oracle) on grids over each branch, eagerly and under jit / vmap,
their edge values, and their derivatives against the closed forms and central finite
differences."""

import warnings

import numpy as np
import pytest
import scipy.special as sps

import functrace as ft
from functrace.scipy import special as S

# exp1 / expn: both sides of the series (x <= 1) / continued fraction (x > 1) switch
X_POS = np.concatenate([np.geomspace(1e-5, 0.9, 9), [0.999, 1.0, 1.001],
                        np.linspace(1.2, 5.0, 6), np.geomspace(7.0, 80.0, 5)])
# expi: negative side (-E1), positive series (x <= 40), asymptotic series (x > 40)
X_EI = np.concatenate([-X_POS[::-1], X_POS[:-2], [39.9, 40.0, 40.1, 60.0, 85.0]])
# spence: series (x >= 1/2), reflection (x < 1/2), inversion (x > 1)
X_SP = np.concatenate([[0.0, 1e-6, 0.1, 0.49, 0.5, 0.51, 0.9, 1.0, 1.1, 1.9],
                       [2.0, 2.1, 5.0, 50.0, 1e4]])
Z_P = np.array([0.5, 1.0, 2.5, 7.0, 30.0, -0.5, -2.5, -3.7])[:, None]
M_P = np.array([0.25, 1.0, 2.0, 3.5, -0.5, -1.5])[None, :]
N_EN = np.array([0, 1, 2, 3, 5, 12, 40])[:, None]

# float32 relative tolerances, a few ulps above what each function measured
# (exp1 2.4e-7, expi 4.6e-7, expn 3.2e-7, spence 3.6e-7, poch 5.7e-6)
TOL32 = {"exp1": 2e-6, "expi": 2e-6, "expn": 2e-6, "spence": 2e-6, "poch": 3e-5}
# float64 relative tolerances (measured: exp1 3.8e-16, expi 6.1e-15 next to Ei's zero,
# expn 2.5e-15, spence 1.9e-15, poch 1.6e-14)
TOL64 = {"exp1": 1e-14, "expi": 5e-14, "expn": 1e-14, "spence": 1e-14, "poch": 1e-13}


def _cases():
    return {
        "exp1": (S.exp1, sps.exp1, (X_POS,)),
        "expi": (S.expi, sps.expi, (X_EI,)),
        "expn": (S.expn, sps.expn, (N_EN, X_POS[None, :])),
        "spence": (S.spence, sps.spence, (X_SP,)),
        "poch": (S.poch, sps.poch, (Z_P, M_P)),
    }


def _check_rel(got, want, rtol, tiny):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    want = np.broadcast_to(want, got.shape)
    # only values the dtype represents normally (float32 underflows exp1(80) etc.)
    keep = np.isfinite(want) & (np.abs(want) > tiny) & (np.abs(want) < 1 / tiny)
    assert keep.sum() >= 0.8 * keep.size
    err = np.abs(got[keep] - want[keep]) / np.abs(want[keep])
    assert err.max() <= rtol, (err.max(), np.argmax(err))


@pytest.mark.parametrize("name", list(TOL32))
@pytest.mark.parametrize("jitted", [False, True], ids=["eager", "jit"])
def test_float32_matches_scipy(name, jitted):
    fn, ref, args = _cases()[name]
    args32 = [np.asarray(a, np.float32) for a in args]
    if name == "expn":
        args32[0] = args[0].astype(np.int32)      # integer n, as callers pass it
    f = ft.jit(fn) if jitted else fn
    out = f(*args32)
    assert np.asarray(out).dtype == np.float32
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = ref(*[np.asarray(a, np.float64) for a in args32])
    _check_rel(out, want, TOL32[name], 1e-30)


@pytest.mark.parametrize("name", list(TOL64))
def test_float64_matches_scipy(name, x64):
    fn, ref, args = _cases()[name]
    args64 = [np.asarray(a, np.float64) for a in args]
    out = ft.jit(fn)(*args64)
    assert np.asarray(out).dtype == np.float64
    _check_rel(out, ref(*args64), TOL64[name], 1e-290)


def test_vmap_matches_elementwise():
    x = np.array([0.3, 1.5, 2.0, 9.0], np.float32)
    _check_rel(ft.vmap(S.exp1)(x), sps.exp1(x.astype(np.float64)), TOL32["exp1"], 1e-30)
    _check_rel(ft.vmap(S.spence)(x), sps.spence(x.astype(np.float64)), TOL32["spence"], 1e-30)
    _check_rel(ft.vmap(S.expn, in_axes=(None, 0))(3, x), sps.expn(3, x.astype(np.float64)),
               TOL32["expn"], 1e-30)
    _check_rel(ft.vmap(S.poch)(x, x), sps.poch(x.astype(np.float64), x.astype(np.float64)),
               TOL32["poch"], 1e-30)


def test_integer_inputs_promote_to_float():
    assert np.asarray(S.exp1(np.array([1, 2]))).dtype == np.float32
    assert np.asarray(S.expi(2)).dtype == np.float32
    assert np.asarray(S.expn(2, 1)).dtype == np.float32
    assert np.asarray(S.spence(np.array([1, 2], np.int32))).dtype == np.float32
    assert np.asarray(S.poch(3, 2)).dtype == np.float32
    assert float(S.poch(3, 2)) == 12.0


def _same(got, want):
    # infinities and nans in the same places, finite values to float32 precision
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64),
                               rtol=1e-6, atol=0)


def test_edge_values_follow_scipy():
    inf, nan = np.inf, np.nan
    x = np.array([0.0, -1.0, inf, -inf, nan])
    _same(S.exp1(x.astype(np.float32)), sps.exp1(x))                  # inf, nan, 0, nan, nan
    _same(S.expi(x.astype(np.float32)), sps.expi(x))                  # -inf, ..., inf, 0, nan
    n = np.array([0, 1, 2, 3, 2, 2, -1, 2])
    xn = np.array([0.0, 0.0, 0.0, 0.0, inf, -1.0, 1.0, nan])
    _same(S.expn(n, xn.astype(np.float32)), sps.expn(n, xn))          # inf inf 1 .5 0 nan..
    assert np.isnan(float(S.expn(np.float32(2.5), np.float32(1.0))))  # non-integer n (JAX)
    xs = np.array([0.0, 1.0, -1.0, inf, nan])
    want_sp = np.array([np.pi ** 2 / 6, 0.0, nan, nan, nan])
    np.testing.assert_allclose(np.asarray(S.spence(xs.astype(np.float32))), want_sp,
                               rtol=1e-7)
    z = np.array([-1.0, -3.0, 0.0, -2.0, 1.0, -1.5, 4.0, nan])
    m = np.array([2.0, 2.0, 0.0, 0.5, -1.0, -1.5, 0.0, 1.0])
    _same(S.poch(z.astype(np.float32), m.astype(np.float32)), sps.poch(z, m))


def test_bernoulli_matches_scipy():
    got = S.bernoulli(20)
    assert got.shape == (21,) and np.asarray(got).dtype == np.float32
    np.testing.assert_allclose(np.asarray(got), sps.bernoulli(20), rtol=1e-6, atol=0)
    _same(S.bernoulli(0), [1.0])
    with pytest.raises(ValueError, match="bernoulli"):
        S.bernoulli(-1)
    with pytest.raises(TypeError, match="bernoulli"):
        S.bernoulli(1.5)


def test_bernoulli_float64(x64):
    # scipy's table is good to ~1e-12 only; oracle: B_2k = (-1)**(k+1) 2 (2k)! zeta(2k) /
    # (2 pi)**2k, odd ones past B_1 vanish, and the exact fractions of B_2 .. B_20
    got = np.asarray(S.bernoulli(30))
    assert got.dtype == np.float64 and got.shape == (31,)
    k = np.arange(1, 16)
    even = ((-1.0) ** (k + 1) * 2 * sps.factorial(2 * k) * sps.zeta(2 * k)
            / (2 * np.pi) ** (2 * k))
    np.testing.assert_allclose(got[2::2], even, rtol=1e-14, atol=0)
    assert got[0] == 1.0 and got[1] == -0.5 and not got[3::2].any()
    exact = [1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510,
             43867 / 798, -174611 / 330]
    np.testing.assert_allclose(got[2:21:2], exact, rtol=2e-16, atol=0)


# ---------------------------------------------------------------------------
# derivatives


def _fd(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


def test_grad_closed_forms_float32():
    x = np.float32(1.0)
    np.testing.assert_allclose(float(ft.grad(S.exp1)(x)), -np.exp(-1.0) / 1.0, rtol=1e-6)
    np.testing.assert_allclose(float(ft.grad(S.expi)(x)), np.exp(1.0), rtol=1e-6)
    np.testing.assert_allclose(float(ft.grad(S.spence)(np.float32(0.5))), 2 * np.log(0.5),
                               rtol=1e-6)
    np.testing.assert_allclose(float(ft.grad(S.spence)(np.float32(1.0))), -1.0, rtol=1e-6)
    np.testing.assert_allclose(float(ft.grad(S.expn, argnums=1)(2, x)), -sps.exp1(1.0),
                               rtol=1e-6)


@pytest.mark.parametrize("x", [0.05, 0.7, 1.0, 1.6, 4.0, 30.0])
def test_grads_match_closed_forms_and_finite_differences(x, x64):
    def check(fn, ref, want):
        g = float(ft.jit(ft.grad(fn))(x))
        np.testing.assert_allclose(g, want, rtol=1e-10)
        np.testing.assert_allclose(g, _fd(ref, x, h=1e-6 * max(x, 1.0)), rtol=1e-6)

    check(S.exp1, sps.exp1, -np.exp(-x) / x)
    check(S.expi, sps.expi, np.exp(x) / x)
    check(lambda t: S.expi(-t), lambda t: sps.expi(-t), np.exp(-x) / x)
    check(S.spence, sps.spence, np.log(x) / (1 - x) if x != 1.0 else -1.0)
    for n in [0, 1, 2, 5]:
        want = -(np.exp(-x) / x) * (1 + 1 / x) if n == 0 else -sps.expn(n - 1, x)
        check(lambda t, n=n: S.expn(n, t), lambda t, n=n: sps.expn(n, t), want)


@pytest.mark.parametrize("z,m", [(2.0, 1.5), (0.7, 3.0), (-2.5, 1.25), (9.0, -0.5)])
def test_poch_grads(z, m, x64):
    gz, gm = ft.grad(S.poch, argnums=(0, 1))(z, m)
    p = sps.poch(z, m)
    np.testing.assert_allclose(float(gz), p * (sps.digamma(z + m) - sps.digamma(z)),
                               rtol=1e-10)
    np.testing.assert_allclose(float(gm), p * sps.digamma(z + m), rtol=1e-10)
    np.testing.assert_allclose(float(gz), _fd(lambda t: sps.poch(t, m), z), rtol=1e-6)
    np.testing.assert_allclose(float(gm), _fd(lambda t: sps.poch(z, t), m), rtol=1e-6)


def test_second_derivative_of_exp1(x64):
    # d2/dx2 E1 = exp(-x) (1/x + 1/x**2)
    x = 1.7
    g2 = float(ft.grad(ft.grad(S.exp1))(x))
    np.testing.assert_allclose(g2, np.exp(-x) * (1 / x + 1 / x ** 2), rtol=1e-10)


def test_vmapped_grad():
    x = np.array([0.5, 1.5, 3.0], np.float32)
    g = ft.vmap(ft.grad(S.exp1))(x)
    np.testing.assert_allclose(np.asarray(g), -np.exp(-x) / x, rtol=1e-6)


def test_jit_of_python_float_numerator_over_python_float_argument():
    # expn's derivative divides a literal by its argument; jit once failed on that
    assert float(ft.jit(lambda x: 1.0 / x)(0.5)) == 2.0
    assert float(ft.jit(ft.grad(lambda x: S.expn(0, x)))(2.0)) == pytest.approx(
        -np.exp(-2.0) / 2.0 * 1.5, rel=1e-6)


# ---------------------------------------------------------------------------
# bessel_jn

Z_J = np.array([0.0, 1e-6, 5e-5, 2e-4, 0.3, 1.0, 2.404825557695773, 5.0, 9.5, 14.0, 20.0,
                -0.7, -6.0, -19.0])


@pytest.mark.parametrize("jitted", [False, True], ids=["eager", "jit"])
def test_bessel_jn_float32_matches_scipy(jitted):
    f = ft.jit(S.bessel_jn, static_argnames=("v", "n_iter")) if jitted else S.bessel_jn
    for v in (0, 1, 4, 15):
        got = f(Z_J.astype(np.float32), v=v)
        assert got.shape == (v + 1, Z_J.size) and np.asarray(got).dtype == np.float32
        want = sps.jv(np.arange(v + 1)[:, None], Z_J.astype(np.float32).astype(np.float64))
        # float32: absolute error (J_n crosses zero); measured 1.2e-7
        np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=0, atol=5e-7)


def test_bessel_jn_float64_and_n_iter(x64):
    got = S.bessel_jn(Z_J, v=6)
    np.testing.assert_allclose(np.asarray(got), sps.jv(np.arange(7)[:, None], Z_J), rtol=0,
                               atol=1e-15)     # measured 1.9e-16
    z = np.array([30.0, -45.0, 60.0])          # |z| past the default n_iter's reach
    got = S.bessel_jn(z, v=3, n_iter=120)
    np.testing.assert_allclose(np.asarray(got), sps.jv(np.arange(4)[:, None], z), rtol=0,
                               atol=1e-15)


def test_bessel_jn_shapes_edges_and_errors():
    z = np.array([[0.0, 1.0], [np.inf, np.nan]], np.float32)
    got = np.asarray(S.bessel_jn(z, v=2))
    assert got.shape == (3, 2, 2)
    np.testing.assert_array_equal(got[:, 0, 0], [1.0, 0.0, 0.0])
    assert np.isnan(got[:, 1, :]).all()              # nan at inf (scipy's jv) and nan
    assert np.asarray(S.bessel_jn(np.array([1, 2]), v=1)).dtype == np.float32
    assert S.bessel_jn(np.float32(2.0), v=3).shape == (4,)
    with pytest.raises(TypeError, match="bessel_jn"):
        S.bessel_jn(np.float32(1.0), v=1.5)
    with pytest.raises(ValueError, match="bessel_jn"):
        S.bessel_jn(np.float32(1.0), v=-1)


@pytest.mark.parametrize("z", [0.0, 0.4, 1.5, 7.3, -3.1])
def test_bessel_jn_grad(z, x64):
    v = 3
    for order in range(v + 1):
        g = float(ft.jit(ft.grad(lambda t, k=order: S.bessel_jn(t, v=v)[k]))(z))
        want = -sps.jv(1, z) if order == 0 else 0.5 * (sps.jv(order - 1, z)
                                                        - sps.jv(order + 1, z))
        np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(g, _fd(lambda t, k=order: sps.jv(k, t), z), rtol=1e-6,
                                   atol=1e-9)


def test_bessel_jn_vmap():
    z = np.array([0.5, 3.0, 8.0], np.float32)
    got = ft.vmap(lambda t: S.bessel_jn(t, v=2))(z)
    assert got.shape == (3, 3)
    np.testing.assert_allclose(np.asarray(got, np.float64),
                               sps.jv(np.arange(3)[None, :], z[:, None].astype(np.float64)),
                               rtol=0, atol=5e-7)


# ---------------------------------------------------------------------------
# hyp1f1

# positive-x series, negative x through Kummer's transformation (b - a of both signs),
# large x, a terminating numerator, tiny x
A_H = np.array([1.0, 0.5, 2.0, 3.0, 1.0, 10.0, 0.5, 1.0, -2.5, 2.0, 0.3, 5.0, 0.5, 7.5, 4.0])
B_H = np.array([1.0, 1.5, 3.0, 2.0, 1.0, 5.0, 20.0, 1.0, 1.0, 0.5, 4.0, 1.5, 0.2, 12.0, 2.0])
X_H = np.array([1.0, 2.0, 0.0, 3.0, -1.0, 20.0, 30.0, 50.0, 3.0, -40.0, -10.0, -25.0, 60.0,
                0.01, -3.0])


@pytest.mark.parametrize("jitted", [False, True], ids=["eager", "jit"])
def test_hyp1f1_float32_matches_scipy(jitted):
    f = ft.jit(S.hyp1f1) if jitted else S.hyp1f1
    args = [v.astype(np.float32) for v in (A_H, B_H, X_H)]
    got = f(*args)
    assert np.asarray(got).dtype == np.float32
    want = sps.hyp1f1(*[v.astype(np.float64) for v in args])
    # measured 6.2e-7 (largest where the sum is large: x = 20, 60)
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=3e-6, atol=0)


def test_hyp1f1_float64_and_edges(x64):
    got = S.hyp1f1(A_H, B_H, X_H)
    np.testing.assert_allclose(np.asarray(got), sps.hyp1f1(A_H, B_H, X_H), rtol=1e-14,
                               atol=0)      # measured 2.6e-15
    # polynomial cases: 1F1(-1; b; x) = 1 - x / b, 1F1(-2; -4; x) = 1 + x / 2 + x**2 / 12
    np.testing.assert_allclose(float(S.hyp1f1(-1.0, 2.0, 3.0)), 1 - 3 / 2, atol=1e-15)
    np.testing.assert_allclose(float(S.hyp1f1(-2.0, -4.0, 3.0)), 1 + 1.5 + 9 / 12, rtol=1e-15)
    assert float(S.hyp1f1(0.0, 0.0, 2.0)) == 1.0          # JAX's convention
    assert float(S.hyp1f1(1.0, 0.0, 2.0)) == np.inf       # pole in b (scipy)
    assert float(S.hyp1f1(1.0, -1.0, 2.0)) == np.inf
    assert np.isnan(float(S.hyp1f1(np.nan, 1.0, 2.0)))
    # 1F1(a; a; x) = exp(x), 1F1(1; 2; x) = (exp(x) - 1) / x
    x = np.array([-30.0, -2.0, 0.5, 15.0])
    np.testing.assert_allclose(np.asarray(S.hyp1f1(2.5, 2.5, x)), np.exp(x), rtol=1e-14)
    np.testing.assert_allclose(np.asarray(S.hyp1f1(1.0, 2.0, x)), np.expm1(x) / x,
                               rtol=1e-14)


@pytest.mark.parametrize("a,b,x", [(0.5, 1.5, 2.0), (0.5, 1.5, -3.0), (2.0, 0.7, 4.0),
                                   (3.0, 1.2, -6.0)])
def test_hyp1f1_grads(a, b, x, x64):
    ga, gb, gx = ft.jit(ft.grad(S.hyp1f1, argnums=(0, 1, 2)))(a, b, x)
    h = 1e-6
    np.testing.assert_allclose(float(ga), (sps.hyp1f1(a + h, b, x) - sps.hyp1f1(a - h, b, x))
                               / (2 * h), rtol=1e-6)
    np.testing.assert_allclose(float(gb), (sps.hyp1f1(a, b + h, x) - sps.hyp1f1(a, b - h, x))
                               / (2 * h), rtol=1e-6)
    # closed form: d/dx 1F1(a; b; x) = a / b 1F1(a + 1; b + 1; x)
    np.testing.assert_allclose(float(gx), a / b * sps.hyp1f1(a + 1, b + 1, x), rtol=1e-12)


def test_hyp1f1_vmap_and_promotion():
    got = ft.vmap(S.hyp1f1)(A_H[:4].astype(np.float32), B_H[:4].astype(np.float32),
                            X_H[:4].astype(np.float32))
    np.testing.assert_allclose(np.asarray(got, np.float64),
                               sps.hyp1f1(A_H[:4], B_H[:4], X_H[:4]), rtol=3e-6)
    assert np.asarray(S.hyp1f1(1, 2, 3)).dtype == np.float32
    assert S.hyp1f1(np.ones(3, np.float32), 2.0, 1.0).shape == (3,)
