"""functrace.scipy.special's dawsn, fresnel, wofz, owens_t, hyp2f1 and sph_harm_y against
scipy.special (float64 oracle) on grids over each branch and their edges, eagerly and
under jit / vmap, and their derivatives against the closed forms and central finite
differences of SciPy."""

import warnings

import numpy as np
import pytest
import scipy.special as sps

import functrace as ft
from functrace import lax
from functrace import numpy as fnp
from functrace.errors import ConcretizationError
from functrace.scipy import special as S

# dawsn / fresnel / real wofz: both sides of the Taylor switch (0.5 resp. 1), Weideman's
# approximation above, large arguments
X_REAL = np.concatenate([[0.0, 1e-4, 0.1, 0.49, 0.5, 0.51, 0.99, 1.0, 1.01, 1.7, 3.0, 7.5,
                          9.9, 10.0, 37.0, 99.5, 1e3, 2.5e4],
                         -np.array([1e-3, 0.3, 0.75, 1.2, 4.0, 60.0])])
# wofz: the whole plane, both half-planes, near and on the real axis
WX = np.array([-30.0, -6.0, -2.0, -0.5, 0.0, 1e-3, 0.7, 1.5, 4.0, 9.0, 25.0])[:, None]
WY = np.array([-3.0, -0.5, -1e-3, 0.0, 1e-4, 0.05, 0.4, 1.0, 3.0, 12.0, 60.0])[None, :]
# owens_t: h = 0, small, large, negative; |a| <= 1 quadrature, |a| > 1 reflection
OH = np.array([0.0, 1e-3, 0.2, 0.5, 1.0, 2.0, 3.5, 6.0, 9.0, -1.3, -5.0])[:, None]
OA = np.array([0.0, 1e-3, 0.1, 0.5, 0.9, 1.0, 1.1, 2.0, 7.0, 50.0, 1e4, -0.4, -3.0])[None, :]
# hyp2f1: x < 0 (Pfaff), 0 <= x < 1 direct or Euler (c - a - b < 0), x = 1 (Gauss),
# terminating a or b
HA = np.array([0.5, 1.0, 2.0, 3.5, 1.5, 0.3, 5.0, -2.0, 1.0, 2.5])[:, None]
HB = np.array([1.0, 1.0, 0.5, 1.5, 2.5, 0.7, 4.0, 1.5, -3.0, 1.0])[:, None]
HC = np.array([1.5, 2.0, 3.0, 2.0, 1.2, 1.1, 10.0, 2.5, 2.0, 4.0])[:, None]
HX = np.array([-20.0, -5.0, -1.5, -0.5, -1e-3, 0.0, 0.1, 0.5, 0.8, 0.95, 1.0])[None, :]
# sph_harm_y: degrees 0..20, orders of both signs, the poles theta = 0 and pi
YN = np.array([0, 1, 1, 1, 2, 2, 3, 3, 5, 8, 12, 20, 20])
YM = np.array([0, -1, 0, 1, -2, 1, -3, 2, -4, 7, 0, 20, -13])
YT = np.array([0.0, 0.3, 1.0, np.pi / 2, 2.5, np.pi])[:, None]
YP = np.array([0.0, 0.7, 2.0, 4.0, 6.2, 1.1])[:, None]

# float32 relative tolerances, a few times what each measured (dawsn 3.2e-7, fresnel
# 1.1e-7, real wofz 2.5e-7, owens_t 1.1e-6 where it is above 1e-30, hyp2f1 2.6e-6, at
# x = -20 where 700 terms and (1 - x)**-a add up)
TOL32 = {"dawsn": 2e-6, "fresnel": 1e-6, "wofz": 2e-6, "owens_t": 5e-6, "hyp2f1": 1e-5}
# float64 (measured: dawsn 4.6e-15, fresnel 3.5e-14 at x = 1e3, wofz 1.2e-14, owens_t
# 4.3e-14 at h = 9, hyp2f1 7.5e-15)
TOL64 = {"dawsn": 2e-14, "fresnel": 1e-13, "wofz": 5e-14, "owens_t": 2e-13, "hyp2f1": 5e-14}


def _cases():
    return {
        "dawsn": (S.dawsn, sps.dawsn, (X_REAL,)),
        "fresnel": (lambda x: fnp.stack(S.fresnel(x)),
                    lambda x: np.stack(sps.fresnel(x)), (X_REAL,)),
        "wofz": (S.wofz, sps.wofz, (X_REAL,)),
        "owens_t": (S.owens_t, sps.owens_t, (OH, OA)),
        "hyp2f1": (S.hyp2f1, sps.hyp2f1, (HA, HB, HC, HX)),
    }


def _check_rel(got, want, rtol, tiny):
    got, want = np.asarray(got), np.asarray(want)
    want = np.broadcast_to(want, got.shape)
    # only values the dtype represents normally (float32 underflows exp(-x**2) etc.)
    keep = np.isfinite(want) & (np.abs(want) > tiny)
    assert keep.sum() >= 0.7 * keep.size
    err = np.abs(got[keep] - want[keep]) / np.abs(want[keep])
    assert err.max() <= rtol, (err.max(), np.argmax(err))
    if np.iscomplexobj(want):    # and the parts separately, for real arguments
        _check_rel(got.real, want.real, rtol, tiny)
        _check_rel(got.imag[want.imag != 0], want.imag[want.imag != 0], rtol, tiny)


def _scipy(ref, args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ref(*[np.asarray(a, np.float64) for a in args])


@pytest.mark.parametrize("name", list(TOL32))
def test_float32_matches_scipy(name):
    fn, ref, args = _cases()[name]
    args32 = [np.asarray(a, np.float32) for a in args]
    out = np.asarray(fn(*args32))
    assert out.dtype == (np.complex64 if name == "wofz" else np.float32)
    _check_rel(out, _scipy(ref, args32), TOL32[name], 1e-30)


@pytest.mark.parametrize("name", list(TOL64))
def test_float64_matches_scipy(name, x64):
    fn, ref, args = _cases()[name]
    out = np.asarray(fn(*args))
    assert out.dtype == (np.complex128 if name == "wofz" else np.float64)
    _check_rel(out, _scipy(ref, args), TOL64[name], 1e-290)


def test_wofz_complex_plane():
    # error relative to |w(z)| (Weideman's approximation is uniform in that sense; near
    # the real axis a tiny real part carries only that absolute accuracy); measured
    # 2.0e-6 (complex64) and 1.3e-14 (complex128)
    z = (WX + 1j * WY).astype(np.complex64)
    got = np.asarray(S.wofz(z))
    assert got.dtype == np.complex64
    want = sps.wofz(z.astype(np.complex128))
    keep = np.isfinite(want) & (np.abs(want) < 1e30)
    err = np.abs(got - want)[keep] / np.abs(want[keep])
    assert err.max() < 1e-5


def test_wofz_complex_plane_float64(x64):
    z = WX + 1j * WY
    got = np.asarray(S.wofz(z))
    assert got.dtype == np.complex128
    want = sps.wofz(z)
    keep = np.isfinite(want)
    assert keep.sum() > 0.9 * keep.size
    # complex rtol: |got - want| <= 5e-14 |want| (measured 1.3e-14)
    np.testing.assert_allclose(got[keep], want[keep], rtol=5e-14, atol=0)


def test_sph_harm_y_matches_scipy(x64):
    # SciPy's argument order: sph_harm_y(n, m, theta (polar), phi (azimuth))
    for dt, atol in ((np.float32, 2e-6), (np.float64, 2e-14)):   # measured 3.7e-7, 3.1e-15
        t, p = YT.astype(dt), YP.astype(dt)
        got = np.asarray(S.sph_harm_y(YN, YM, t, p))
        assert got.dtype == (np.complex64 if dt == np.float32 else np.complex128)
        want = sps.sph_harm_y(YN, YM, t.astype(np.float64), p.astype(np.float64))
        np.testing.assert_allclose(got, want, rtol=0, atol=atol)
    # orthonormality: sum over a Gauss-Legendre x uniform grid of Y_2^1 conj(Y_3^1) etc.
    u, w = np.polynomial.legendre.leggauss(12)
    phi = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    th, ph = np.arccos(u)[:, None], phi[None, :]
    wts = w[:, None] * (2 * np.pi / 16)
    for (n1, m1), (n2, m2) in [((2, 1), (2, 1)), ((2, 1), (3, 1)), ((4, -3), (4, -3))]:
        y1, y2 = np.asarray(S.sph_harm_y(n1, m1, th, ph)), np.asarray(S.sph_harm_y(n2, m2, th, ph))
        inner = np.sum(wts * y1 * np.conj(y2))
        np.testing.assert_allclose(inner, float((n1, m1) == (n2, m2)), atol=1e-13)


def _everything(x):
    s, c = S.fresnel(x)
    w = S.wofz(lax.complex(x, fnp.abs(x) * 0.5))
    return (S.dawsn(x), s, c, fnp.real(w), fnp.imag(w), S.owens_t(x, x * 0.7),
            S.hyp2f1(1.5, 0.5, 2.0, x / 8.0),
            fnp.real(S.sph_harm_y(3, -2, fnp.abs(x), x, n_max=3)))


def test_jit_and_vmap_agree_with_eager():
    x = np.array([0.2, 0.8, 2.5, -7.0], np.float32)
    eager = _everything(x)
    _check_rel(eager[0], sps.dawsn(x.astype(np.float64)), TOL32["dawsn"], 1e-30)
    for got, want in zip(ft.vmap(_everything)(x), eager, strict=True):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=2e-6, atol=1e-7)
    # jit compiles are slow (Numba), so only the three loop structures: Weideman's scan
    # (shared by dawsn and fresnel), hyp2f1's while_loop, sph_harm_y's fori_loop with a
    # static n_max
    w = ft.jit(S.wofz)(lax.complex(x, fnp.abs(x) * 0.5))
    np.testing.assert_allclose(np.asarray(w), np.asarray(eager[3]) + 1j * np.asarray(eager[4]),
                               rtol=2e-6)
    hyp = ft.jit(S.hyp2f1)(1.5, 0.5, 2.0, x / 8.0)
    np.testing.assert_allclose(np.asarray(hyp), np.asarray(eager[6]), rtol=2e-6)
    sph = ft.jit(S.sph_harm_y, static_argnames=("n_max",))(3, -2, np.abs(x), x, n_max=3)
    np.testing.assert_allclose(np.asarray(sph).real, np.asarray(eager[7]), rtol=2e-6,
                               atol=1e-7)


def test_integer_inputs_promote():
    assert np.asarray(S.dawsn(np.array([1, 2]))).dtype == np.float32
    assert np.asarray(S.fresnel(2)[0]).dtype == np.float32
    assert np.asarray(S.wofz(np.array([1, 2]))).dtype == np.complex64
    assert np.asarray(S.owens_t(1, 2)).dtype == np.float32
    assert np.asarray(S.hyp2f1(1, 1, 2, 0)).dtype == np.float32
    assert np.asarray(S.sph_harm_y(1, 1, 1, 0)).dtype == np.complex64
    assert S.owens_t(np.ones(3, np.float32), 0.5).shape == (3,)


def test_edge_values():
    inf, nan = np.inf, np.nan
    x = np.array([0.0, inf, -inf, nan], np.float32)
    np.testing.assert_array_equal(np.asarray(S.dawsn(x)), [0.0, 0.0, -0.0, nan])
    s, c = S.fresnel(x)
    np.testing.assert_array_equal(np.asarray(s), [0.0, 0.5, -0.5, nan])
    np.testing.assert_array_equal(np.asarray(c), [0.0, 0.5, -0.5, nan])
    w = np.asarray(S.wofz(x))
    np.testing.assert_array_equal(w[:2], [1.0, 0.0])
    assert np.isnan(w[3].real) and np.isnan(w[3].imag)
    # owens_t: T(0, a) = atan(a) / 2 pi, T(h, inf) = Q(|h|) / 2, T(inf, a) = 0, odd in a
    h = np.array([0.0, 0.0, 1.5, -1.5, inf, 0.0, 2.0, nan])
    a = np.array([0.7, inf, inf, -inf, 3.0, 0.0, 0.0, 1.0])
    got = np.asarray(S.owens_t(h.astype(np.float32), a.astype(np.float32)), np.float64)
    np.testing.assert_allclose(got, sps.owens_t(h, a), rtol=1e-6, atol=0)
    # hyp2f1 (scipy's values): inf for x > 1, at x = 1 when c - a - b <= 0 and at poles of
    # c, Gauss's sum at x = 1, 1 at x = 0 or a = 0, polynomials cut off before the pole
    a, b, c, xs = (np.array(v, np.float32) for v in (
        [1.0, 1.0, 1.0, 1.0, 0.0, 2.0, -1.0, 1.0, 1.0],
        [1.0, 1.0, 1.0, 2.0, 3.0, 1.0, 1.0, 1.0, 1.0],
        [2.0, 1.5, 3.0, 3.5, 2.0, -2.0, -2.0, 2.0, 2.0],
        [2.0, 1.0, 1.0, 1.0, 0.7, 0.5, 0.5, 0.0, nan]))
    want = sps.hyp2f1(*(v.astype(np.float64) for v in (a, b, c, xs)))
    np.testing.assert_allclose(np.asarray(S.hyp2f1(a, b, c, xs)), want, rtol=1e-6)
    assert np.isinf(want[:2]).all() and np.isinf(want[5]) and want[6] == 1.25


def test_sph_harm_y_arguments():
    zero = np.float32(0.0)
    assert complex(S.sph_harm_y(1, 2, zero, zero)) == 0.0        # |m| > n
    with pytest.raises(NotImplementedError, match="diff_n"):
        S.sph_harm_y(1, 0, zero, zero, diff_n=1)
    with pytest.raises(ConcretizationError, match="n_max"):
        ft.jit(lambda n: S.sph_harm_y(n, 0, zero, zero))(2)
    # n above n_max is clipped to degree n_max (JAX's documented behaviour)
    clipped = S.sph_harm_y(np.array([5, 2]), 1, np.float32(0.8), zero, n_max=2)
    want = sps.sph_harm_y(2, 1, np.float32(0.8), 0.0)
    np.testing.assert_allclose(np.asarray(clipped), [want, want], rtol=1e-6)


# ---------------------------------------------------------------------------
# derivatives


def _fd(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.parametrize("x", [0.0, 0.3, 0.5, 1.0, 2.7, -6.0])
def test_dawsn_fresnel_grads(x, x64):
    d = sps.dawsn(x)
    np.testing.assert_allclose(float(ft.grad(S.dawsn)(x)), 1 - 2 * x * d, rtol=1e-13,
                               atol=1e-15)
    np.testing.assert_allclose(float(ft.grad(S.dawsn)(x)), _fd(sps.dawsn, x), rtol=1e-7,
                               atol=1e-9)
    # second derivative through the custom_jvp rule: D'' = -2 D - 2 x D'
    np.testing.assert_allclose(float(ft.grad(ft.grad(S.dawsn))(x)),
                               -2 * d - 2 * x * (1 - 2 * x * d), rtol=1e-10, atol=1e-15)
    gs = float(ft.grad(lambda t: S.fresnel(t)[0])(x))
    gc = float(ft.grad(lambda t: S.fresnel(t)[1])(x))
    np.testing.assert_allclose([gs, gc], [np.sin(np.pi * x * x / 2), np.cos(np.pi * x * x / 2)],
                               rtol=1e-13, atol=1e-14)   # sin(18 pi) is exactly 0 here
    np.testing.assert_allclose(gs, _fd(lambda t: sps.fresnel(t)[0], x), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("x,y", [(0.5, 0.0), (1.3, 0.4), (-2.0, 1.5), (0.7, -0.6)])
def test_wofz_derivative_is_holomorphic(x, y, x64):
    # d/dx w = w'(z), d/dy w = i w'(z), with w' = -2 z w + 2i / sqrt(pi)
    def part(fn):
        return lambda u, v: fn(S.wofz(lax.complex(u, v)))

    z = x + 1j * y
    wp = -2 * z * sps.wofz(z) + 2j / np.sqrt(np.pi)
    gx = [float(ft.grad(part(f), argnums=0)(x, y)) for f in (fnp.real, fnp.imag)]
    gy = [float(ft.grad(part(f), argnums=1)(x, y)) for f in (fnp.real, fnp.imag)]
    np.testing.assert_allclose(gx[0] + 1j * gx[1], wp, rtol=1e-13)
    np.testing.assert_allclose(gy[0] + 1j * gy[1], 1j * wp, rtol=1e-13)
    np.testing.assert_allclose(gx[0] + 1j * gx[1], _fd(lambda t: sps.wofz(t + 1j * y), x),
                               rtol=1e-7)
    # a real argument: the tangent of the complex result
    _, t = ft.jvp(S.wofz, (x,), (1.0,))
    np.testing.assert_allclose(complex(t), -2 * x * sps.wofz(x) + 2j / np.sqrt(np.pi),
                               rtol=1e-13)


@pytest.mark.parametrize("h,a", [(0.0, 0.5), (0.7, 0.3), (1.2, 1.0), (-2.0, 3.0),
                                 (4.0, -0.8)])
def test_owens_t_grads(h, a, x64):
    gh, ga = ft.grad(S.owens_t, argnums=(0, 1))(h, a)
    want_h = -np.exp(-h * h / 2) / np.sqrt(2 * np.pi) * sps.erf(a * h / np.sqrt(2)) / 2
    want_a = np.exp(-h * h * (1 + a * a) / 2) / (2 * np.pi * (1 + a * a))
    np.testing.assert_allclose([float(gh), float(ga)], [want_h, want_a], rtol=1e-13,
                               atol=1e-16)
    np.testing.assert_allclose(float(gh), _fd(lambda t: sps.owens_t(t, a), h), rtol=1e-6,
                               atol=1e-10)
    np.testing.assert_allclose(float(ga), _fd(lambda t: sps.owens_t(h, t), a), rtol=1e-6,
                               atol=1e-10)


@pytest.mark.parametrize("a,b,c,x", [(0.5, 1.5, 2.0, 0.3), (2.0, 1.5, 3.0, 0.8),
                                     (1.5, 2.5, 2.0, 0.6), (1.2, 0.7, 2.2, -3.0)])
def test_hyp2f1_grads(a, b, c, x, x64):
    # branches: direct series, direct near 1, Euler (c - a - b < 0), Pfaff (x < 0)
    grads = ft.grad(S.hyp2f1, argnums=(0, 1, 2, 3))(a, b, c, x)
    args = [a, b, c, x]
    for i, g in enumerate(grads):
        def f(t, i=i):
            return sps.hyp2f1(*args[:i], t, *args[i + 1:])
        np.testing.assert_allclose(float(g), _fd(f, args[i]), rtol=1e-6)
    np.testing.assert_allclose(float(grads[3]), a * b / c * sps.hyp2f1(a + 1, b + 1, c + 1, x),
                               rtol=1e-13)


def test_sph_harm_y_grads(x64):
    n, m, t, p = 4, -3, 0.9, 2.2
    want_t = _fd(lambda u: sps.sph_harm_y(n, m, u, p), t)
    y = sps.sph_harm_y(n, m, t, p)
    for part in (fnp.real, fnp.imag):
        gt, gp = ft.grad(lambda u, v, part=part: part(S.sph_harm_y(n, m, u, v)),
                         argnums=(0, 1))(t, p)
        np.testing.assert_allclose(float(gt), part(want_t), rtol=1e-7)
        # d/dphi Y = i m Y
        np.testing.assert_allclose(float(gp), part(1j * m * y), rtol=1e-12)
