"""lax.igamma, igammac, igamma_grad_a, random_gamma_grad, betainc, bessel_i0e/i1e and
erf_inv: values against closed forms and float64 series summed here, JAX's values at the
edges (printed by JAX 0.10.2), JAX's derivative rules against finite differences, and the
fused jit kernels and vmap against the eager reference."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import functrace as ft
from functrace import lax

f32 = np.float32

# float64 operands stay float64 (tight checks against the float64 oracles)
pytestmark = pytest.mark.usefixtures("x64")


def _close(a, b, rtol=2e-5, atol=1e-6):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                               rtol=rtol, atol=atol)


# ---- float64 oracles ------------------------------------------------------------------

def _p_series(a, x, terms=4000):
    """P(a, x) = x^a e^-x / Gamma(a + 1) * sum_k x^k / ((a+1)...(a+k))."""
    total, term = 1.0, 1.0
    for k in range(1, terms):
        term *= x / (a + k)
        total += term
        if term < 1e-18 * total:
            break
    return math.exp(a * math.log(x) - x - math.lgamma(a + 1)) * total


def _dp_da(a, x, h=1e-5):
    return (_p_series(a + h, x) - _p_series(a - h, x)) / (2 * h)


def _gamma_pdf(a, x):
    return math.exp((a - 1) * math.log(x) - x - math.lgamma(a))


def _bessel_i(x, order, terms=80):
    """I_order(x) from its power series."""
    total = 0.0
    for k in range(terms):
        total += (x / 2) ** (2 * k + order) / (math.factorial(k) * math.factorial(k + order))
    return total


def _beta_integral(a, b, x, n=20000):
    """I_x(a, b) by Simpson's rule on t^(a-1) (1-t)^(b-1) (a, b >= 1)."""
    def integral(hi):
        t = np.linspace(0.0, hi, n + 1)
        y = t ** (a - 1) * (1 - t) ** (b - 1)
        return (hi / n / 3) * (y[0] + y[-1] + 4 * y[1:-1:2].sum() + 2 * y[2:-1:2].sum())
    return integral(x) / integral(1.0)


AX = [(0.5, 2.0), (1.0, 0.3), (2.0, 3.0), (3.0, 3.0), (5.0, 2.0), (0.1, 10.0),
      (7.5, 9.0), (30.0, 25.0), (0.8, 0.05)]


# ---- values ---------------------------------------------------------------------------

def test_igamma_closed_forms_and_series():
    x = np.array([0.1, 0.5, 1.0, 2.5, 8.0, 20.0], f32)
    _close(lax.igamma(np.ones_like(x), x), [1 - math.exp(-v) for v in x.astype(float)])
    _close(lax.igamma(np.full_like(x, 0.5), x), [math.erf(math.sqrt(v)) for v in x])
    # integer a: Q(n, x) = e^-x sum_{k<n} x^k / k!
    for n in (2, 5):
        ref = [math.exp(-v) * sum(v ** k / math.factorial(k) for k in range(n)) for v in x]
        _close(lax.igammac(np.full_like(x, n), x), ref, rtol=1e-5, atol=1e-7)
    for a, v in AX:
        p = _p_series(a, v)
        _close(lax.igamma(f32(a), f32(v)), p, rtol=1e-5, atol=1e-7)
        _close(lax.igammac(f32(a), f32(v)), 1 - p, rtol=1e-5, atol=1e-7)
    # float64 operands are computed to float64 accuracy
    _close(lax.igamma(np.float64(7.5), np.float64(9.0)), _p_series(7.5, 9.0), rtol=1e-13)


def test_igamma_family_edges_are_jaxs():
    nan = math.nan
    a = np.array([0, 0, 0.5, 1, 2, -1, 1, nan, 2, 0.5], f32)
    x = np.array([0, 0.5, 2, 0, np.inf, 1, -1, 1, nan, 1e-30], f32)
    # printed by JAX 0.10.2 for these inputs
    np.testing.assert_allclose(
        lax.igamma(a, x), [nan, nan, 0.9544997, 0.0, 1.0, nan, nan, nan, nan, 1.1283792e-15],
        rtol=1e-6)
    np.testing.assert_allclose(
        lax.igammac(a, x), [nan, 0.0, 0.0455003, 1.0, 0.0, nan, nan, nan, nan, 1.0],
        rtol=1e-5)
    np.testing.assert_allclose(
        lax.igamma_grad_a(a, x),
        [nan, nan, -0.13561937, 0.0, nan, nan, nan, nan, nan, -7.798686e-14], rtol=1e-5)
    np.testing.assert_allclose(
        lax.random_gamma_grad(a, x),
        [nan, nan, 2.5118897, 0.0, nan, nan, nan, nan, nan, 1.3822808e-28], rtol=1e-5)


def test_igamma_grad_a_and_random_gamma_grad_are_derivatives():
    for a, v in AX:
        dp = _dp_da(a, v)
        # (the central difference of P itself is good to about 1e-11)
        _close(lax.igamma_grad_a(np.float64(a), np.float64(v)), dp, rtol=1e-6, atol=1e-10)
        _close(lax.igamma_grad_a(f32(a), f32(v)), dp, rtol=2e-4, atol=1e-7)
        # a sample x of Gamma(a, 1) solves P(a, x) = u: dx/da = -(dP/da) / p(x)
        _close(lax.random_gamma_grad(f32(a), f32(v)), -dp / _gamma_pdf(a, v),
               rtol=2e-4, atol=1e-6)


def test_betainc_values():
    x = np.array([0.0, 0.1, 0.3, 0.5, 0.9, 1.0], f32)
    xd = x.astype(float)
    _close(lax.betainc(f32(1.0), f32(3.5), x), 1 - (1 - xd) ** 3.5)
    _close(lax.betainc(f32(2.5), f32(1.0), x), xd ** 2.5)
    # I_x(2, 3) = 6x^2 - 8x^3 + 3x^4
    _close(lax.betainc(f32(2.0), f32(3.0), x), 6 * xd ** 2 - 8 * xd ** 3 + 3 * xd ** 4)
    for a, b, v in [(1.5, 2.5, 0.4), (5.0, 2.0, 0.9), (30.0, 40.0, 0.45), (3.0, 9.0, 0.05)]:
        ref = _beta_integral(a, b, v)
        _close(lax.betainc(f32(a), f32(b), f32(v)), ref, rtol=1e-5, atol=1e-7)
        _close(lax.betainc(np.float64(a), np.float64(b), np.float64(v)), ref, rtol=1e-9)
        # the symmetry I_x(a, b) = 1 - I_{1-x}(b, a)
        _close(lax.betainc(f32(b), f32(a), f32(1 - v)), 1 - ref, rtol=1e-5, atol=1e-6)
    nan = math.nan  # edges printed by JAX 0.10.2
    aa = np.array([0, 1, -1, 2, 2, np.inf, 1, 0], f32)
    bb = np.array([1, 0, 1, 2, 2, 1, np.inf, 0], f32)
    xx = np.array([0.5, 0.5, 0.5, 0, 1, 0.5, 0.5, 0.5], f32)
    np.testing.assert_array_equal(lax.betainc(aa, bb, xx),
                                  [1.0, 0.0, nan, 0.0, 1.0, 0.0, 1.0, nan])
    assert np.isnan(lax.betainc(f32(2), f32(2), f32(1.5)))


def test_bessel_scaled_against_series():
    x = np.array([0.0, 1e-6, 0.5, 1.0, 3.0, 7.9, 8.1, 15.0, 30.0], f32)
    for v in x.astype(float):
        scale = math.exp(-abs(v))
        _close(lax.bessel_i0e(f32(v)), scale * _bessel_i(v, 0), rtol=3e-6)
        _close(lax.bessel_i1e(f32(v)), scale * _bessel_i(v, 1), rtol=3e-6, atol=1e-12)
        _close(lax.bessel_i0e(np.float64(v)), scale * _bessel_i(v, 0), rtol=1e-13)
    # even and odd; large x: i0e ~ 1/sqrt(2 pi x); JAX's values at inf and nan
    np.testing.assert_array_equal(lax.bessel_i0e(-x), lax.bessel_i0e(x))
    np.testing.assert_array_equal(lax.bessel_i1e(-x), -lax.bessel_i1e(x))
    _close(lax.bessel_i0e(f32(1e6)), 1 / math.sqrt(2 * math.pi * 1e6), rtol=1e-5)
    np.testing.assert_array_equal(lax.bessel_i0e(np.array([np.inf, -np.inf], f32)), [0, 0])
    assert np.isnan(lax.bessel_i1e(f32(np.nan)))


def test_erf_inv_inverts_erf():
    p = np.array([-0.999999, -0.9, -0.3, 0.0, 1e-7, 0.25, 0.7, 0.99, 0.9999999], np.float64)
    out = lax.erf_inv(p)
    _close([math.erf(v) for v in out], p, rtol=1e-14, atol=1e-16)
    out32 = lax.erf_inv(p.astype(f32))
    assert out32.dtype == f32
    _close([math.erf(v) for v in out32.astype(float)], p.astype(f32), rtol=2e-6, atol=1e-7)
    np.testing.assert_array_equal(lax.erf_inv(np.array([-1, 1, 1.5, np.nan], f32)),
                                  [-np.inf, np.inf, np.nan, np.nan])


# ---- derivatives ----------------------------------------------------------------------

def test_igamma_jvps_are_jaxs():
    a, x = np.float64(2.5), np.float64(3.0)
    da, dx = ft.grad(lax.igamma, argnums=(0, 1))(a, x)
    _close(da, _dp_da(2.5, 3.0), rtol=1e-6)
    _close(dx, _gamma_pdf(2.5, 3.0), rtol=1e-12)
    dca, dcx = ft.grad(lax.igammac, argnums=(0, 1))(a, x)
    _close(dca, -da, rtol=1e-12)
    _close(dcx, -dx, rtol=1e-12)
    # JAX 0.10.2: grad of igamma at (2, 3) in float32
    _close(ft.grad(lax.igamma, argnums=(0, 1))(f32(2.0), f32(3.0)),
           [-0.19742535, 0.14936121], rtol=2e-6)
    with pytest.raises(NotImplementedError, match="igamma_grad_a"):
        ft.grad(lax.igamma_grad_a)(f32(2.0), f32(3.0))
    with pytest.raises(NotImplementedError, match="random_gamma_grad"):
        ft.grad(lax.random_gamma_grad)(f32(2.0), f32(3.0))


def test_betainc_differentiates_in_x_only():
    a, b, x = 2.5, 1.5, 0.4
    ref = x ** (a - 1) * (1 - x) ** (b - 1) * math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b))
    _close(ft.grad(lax.betainc, argnums=2)(np.float64(a), np.float64(b), np.float64(x)), ref,
           rtol=1e-12)
    h = 1e-6
    fd = (_beta_integral(a, b, x + h, 200000) - _beta_integral(a, b, x - h, 200000)) / (2 * h)
    _close(ref, fd, rtol=1e-4)
    _close(ft.grad(lax.betainc, argnums=2)(f32(2.0), f32(3.0), f32(0.3)), 1.7640011, rtol=2e-6)
    for argnums in (0, 1):
        with pytest.raises(NotImplementedError, match="betainc gradient with respect to a"):
            ft.grad(lax.betainc, argnums=argnums)(f32(2.0), f32(3.0), f32(0.3))
    # a and b held constant: fine
    g = ft.grad(lambda a, b, x: lax.betainc(lax.stop_gradient(a), lax.stop_gradient(b), x),
                argnums=(0, 1, 2))(f32(2.0), f32(3.0), f32(0.3))
    _close(g, [0.0, 0.0, 1.7640011], rtol=2e-6)


@pytest.mark.parametrize("fn", [lax.bessel_i0e, lax.bessel_i1e])
def test_bessel_derivatives_match_finite_differences(fn):
    h = 1e-6
    for v in (-9.0, -2.0, 0.3, 1.0, 4.0, 12.0):
        fd = (fn(np.float64(v + h)) - fn(np.float64(v - h))) / (2 * h)
        _close(ft.grad(fn)(np.float64(v)), fd, rtol=1e-7, atol=1e-10)
    # at 0: i0e has a kink (JAX's rule gives i1e(0) - sign(0) i0e(0) = 0); i1e' = 1/2
    assert float(ft.grad(lax.bessel_i0e)(f32(0.0))) == 0.0
    assert float(ft.grad(lax.bessel_i1e)(f32(0.0))) == 0.5
    # JAX 0.10.2's float32 values at 2
    _close(ft.grad(lax.bessel_i0e)(f32(2.0)), -0.093239024, rtol=1e-5)
    _close(ft.grad(lax.bessel_i1e)(f32(2.0)), -0.014395624, rtol=1e-5)


def test_erf_inv_derivative():
    for v in (-0.95, -0.2, 0.0, 0.3, 0.8):
        y = lax.erf_inv(np.float64(v))
        _close(ft.grad(lax.erf_inv)(np.float64(v)), math.sqrt(math.pi) / 2 * math.exp(y * y),
               rtol=1e-13)
        h = 1e-7
        fd = (lax.erf_inv(np.float64(v + h)) - lax.erf_inv(np.float64(v - h))) / (2 * h)
        _close(ft.grad(lax.erf_inv)(np.float64(v)), fd, rtol=1e-6)
    # second derivative: d/dx [c exp(y^2)] = 2 y y' * c exp(y^2) = 2 y y'^2
    v = 0.6
    y = float(lax.erf_inv(np.float64(v)))
    d1 = math.sqrt(math.pi) / 2 * math.exp(y * y)
    _close(ft.grad(ft.grad(lax.erf_inv))(np.float64(v)), 2 * y * d1 * d1, rtol=1e-12)


# ---- jit, vmap, dtypes ----------------------------------------------------------------

def _inputs(rng, n=40):
    a = rng.uniform(0.05, 40.0, n).astype(f32)
    b = rng.uniform(0.05, 40.0, n).astype(f32)
    x = rng.uniform(0.0, 50.0, n).astype(f32)
    p = rng.uniform(0.0, 1.0, n).astype(f32)
    v = rng.uniform(-30.0, 30.0, n).astype(f32)
    return a, b, x, p, v


CASES = {
    "igamma": lambda a, b, x, p, v: lax.igamma(a, x),
    "igammac": lambda a, b, x, p, v: lax.igammac(a, x),
    "igamma_grad_a": lambda a, b, x, p, v: lax.igamma_grad_a(a, x),
    "random_gamma_grad": lambda a, b, x, p, v: lax.random_gamma_grad(a, x),
    "betainc": lambda a, b, x, p, v: lax.betainc(a, b, p),
    "bessel_i0e": lambda a, b, x, p, v: lax.bessel_i0e(v),
    "bessel_i1e": lambda a, b, x, p, v: lax.bessel_i1e(v),
    "erf_inv": lambda a, b, x, p, v: lax.erf_inv(2 * p - 1),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_fused_kernel_matches_reference_and_vmap(name):
    fn = CASES[name]
    args = _inputs(np.random.default_rng(0))
    eager = fn(*args)
    jitted = ft.jit(lambda *z: fn(*z) * 2.0 + 1.0)
    assert "fused" in jitted.lower(*args).as_text()
    np.testing.assert_allclose(jitted(*args), eager * 2.0 + 1.0, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ft.vmap(fn)(*args), eager, rtol=1e-6, atol=1e-30)
    # vmap over a matrix with one operand unbatched
    rows = ft.vmap(lambda z: fn(z, *args[1:]))(np.stack([args[0], args[0][::-1]]))
    np.testing.assert_allclose(rows[1], fn(args[0][::-1], *args[1:]), rtol=1e-6, atol=1e-30)


def test_grad_under_jit_and_vmap():
    a = np.array([0.5, 1.0, 2.0, 4.0, 9.0], f32)
    x = np.array([0.2, 1.5, 2.0, 6.0, 7.0], f32)
    g = ft.jit(ft.vmap(ft.grad(lax.igamma, argnums=(0, 1))))(a, x)
    ref = [ft.grad(lax.igamma, argnums=(0, 1))(p, q) for p, q in zip(a, x, strict=True)]
    np.testing.assert_allclose(np.stack(g, 1), np.array(ref), rtol=1e-6)


def test_dtype_rules():
    with pytest.raises(TypeError, match="igamma"):
        lax.igamma(np.int32(1), np.int32(2))
    with pytest.raises(TypeError, match="bessel_i0e"):
        lax.bessel_i0e(np.int32(1))
    with pytest.raises(TypeError, match="regularized_incomplete_beta"):
        lax.betainc(f32(1), np.float64(2), f32(0.5))
    # (a Python float is float64 here, under x64, so as in JAX it would not match f32)
    assert lax.igamma(f32(1.0), f32(2.0)).dtype == f32
    out = lax.erf_inv(np.float16(0.5))
    assert out.dtype == np.float16 and abs(float(out) - 0.4769) < 1e-3
    text = str(ft.make_jaxpr(lax.betainc)(f32(1), f32(2), f32(0.3)))
    assert "regularized_incomplete_beta a b c" in text


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=st.sampled_from([(), (3,), (2, 5), (4, 1, 3)]),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2 ** 16))
def test_shapes_and_dtypes_keep_through_jit(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.1, 10.0, shape).astype(dtype)
    x = rng.uniform(0.0, 12.0, shape).astype(dtype)
    out = ft.jit(lambda a, x: lax.igammac(a, x) + lax.bessel_i1e(x - a))(a, x)
    assert out.shape == shape and out.dtype == dtype
    ref = [math.exp(-abs(q - p)) * _bessel_i(q - p, 1) + 1 - (_p_series(p, q) if q > 0 else 0)
           for p, q in zip(a.ravel().astype(float), x.ravel().astype(float), strict=True)]
    tol = 1e-4 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(np.ravel(out), ref, rtol=tol, atol=tol)


# ---- elementwise primitives that were compositions ------------------------------------

UNARY = {  # name -> (math reference, derivative written from calculus, domain)
    "tan": (math.tan, lambda x: 1 / math.cos(x) ** 2, (-1.4, 1.4)),
    "asin": (math.asin, lambda x: 1 / math.sqrt(1 - x * x), (-0.95, 0.95)),
    "acos": (math.acos, lambda x: -1 / math.sqrt(1 - x * x), (-0.95, 0.95)),
    "atan": (math.atan, lambda x: 1 / (1 + x * x), (-5.0, 5.0)),
    "sinh": (math.sinh, math.cosh, (-4.0, 4.0)),
    "cosh": (math.cosh, math.sinh, (-4.0, 4.0)),
    "asinh": (math.asinh, lambda x: 1 / math.sqrt(x * x + 1), (-6.0, 6.0)),
    "acosh": (math.acosh, lambda x: 1 / math.sqrt(x * x - 1), (1.1, 9.0)),
    "atanh": (math.atanh, lambda x: 1 / (1 - x * x), (-0.95, 0.95)),
    "cbrt": (lambda x: math.copysign(abs(x) ** (1 / 3), x),
             lambda x: abs(x) ** (-2 / 3) / 3, (-8.0, 8.0)),
    "exp2": (lambda x: 2.0 ** x, lambda x: math.log(2) * 2.0 ** x, (-5.0, 5.0)),
    "square": (lambda x: x * x, lambda x: 2 * x, (-5.0, 5.0)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_primitives_values_derivatives_jit_vmap(name):
    fn, dfn, (lo, hi) = UNARY[name]
    prim = getattr(lax, f"{name}_p")
    x = np.linspace(lo, hi, 33).astype(f32)
    x = x[np.abs(x) > 1e-3]  # cbrt' is infinite at 0
    ref = [fn(float(v)) for v in x]
    _close(getattr(lax, name)(x), ref, rtol=2e-6, atol=1e-6)
    _close(ft.vmap(ft.grad(getattr(lax, name)))(x), [dfn(float(v)) for v in x],
           rtol=1e-5, atol=1e-6)
    jitted = ft.jit(lambda v: getattr(lax, name)(v) + 1.0)
    assert f"fused {name}, add" in jitted.lower(x).as_text()
    _close(jitted(x), np.asarray(ref) + 1.0, rtol=2e-6, atol=2e-6)
    # one equation of its own name, as JAX prints it
    assert f"= {name} a" in str(ft.make_jaxpr(getattr(lax, name))(f32(0.5)))
    assert prim.elementwise
    # float64: to float64 accuracy
    v = np.float64((lo + hi) / 3 + 0.1)
    _close(getattr(lax, name)(v), fn(float(v)), rtol=1e-14, atol=1e-15)


def test_unary_primitive_edges():
    np.testing.assert_array_equal(lax.acos(np.array([-1.0, 1.0], f32)), [f32(np.pi), 0.0])
    assert np.isnan(lax.asin(f32(1.5))) and np.isnan(lax.acosh(f32(0.5)))
    np.testing.assert_array_equal(lax.atanh(np.array([-1.0, 1.0], f32)), [-np.inf, np.inf])
    np.testing.assert_array_equal(lax.cbrt(np.array([-27.0, 8.0, 0.0])), [-3.0, 2.0, 0.0])
    assert lax.square(np.int32(7)) == 49 and lax.square(np.int32(7)).dtype == np.int32
    assert float(lax.asinh(f32(1e30))) == pytest.approx(math.asinh(1e30), rel=1e-6)
    assert float(lax.asinh(f32(-1e-30))) == float(f32(-1e-30))
    with pytest.raises(TypeError, match="tan"):
        lax.tan(np.int32(1))


def test_clamp_primitive():
    x = np.array([-1.0, 0.5, 2.0], f32)
    np.testing.assert_array_equal(lax.clamp(f32(0), x, f32(1)), [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(lax.clamp(np.zeros(3, f32), x, np.full(3, 1.5, f32)),
                                  [0.0, 0.5, 1.5])
    assert float(lax.clamp(f32(2.0), f32(0.5), f32(1.0))) == 1.0  # min > max: max, as JAX
    ints = np.arange(4, dtype=np.int32)
    np.testing.assert_array_equal(lax.clamp(np.int32(0), ints, np.int32(2)), [0, 1, 2, 2])
    assert str(ft.make_jaxpr(lambda v: lax.clamp(f32(0.0), v, f32(1.0)))(x)).count("clamp") == 1
    # JAX's rules (values printed by JAX 0.10.2): none at a tie, the active bound outside
    g = ft.grad(lax.clamp, argnums=(0, 1, 2))
    _close(g(f32(0.0), f32(0.0), f32(1.0)), [0, 0, 0])
    _close(g(f32(0.0), f32(2.0), f32(1.0)), [0, 0, 1])
    _close(g(f32(0.0), f32(-1.0), f32(1.0)), [1, 0, 0])
    _close(g(f32(2.0), f32(0.5), f32(1.0)), [0, 0, 0])
    _close(g(f32(0.0), f32(0.5), f32(1.0)), [0, 1, 0])
    # a scalar bound's tangent spreads over the elements it clamps
    _, tangent = ft.jvp(lambda lo: lax.clamp(lo, x, f32(1.0)), (f32(0.0),), (f32(1.0),))
    _close(tangent, [1.0, 0.0, 0.0])
    big = np.linspace(-2, 2, 64).astype(f32)
    jitted = ft.jit(lambda v: lax.clamp(f32(-1.0), v * 2, f32(1.0)))
    assert "fused mul, clamp" in jitted.lower(big).as_text()
    np.testing.assert_array_equal(jitted(big), np.clip(2 * big, -1, 1))
    rows = np.array([[-1, 0.5], [2, 3], [0.2, -5]], f32)
    np.testing.assert_array_equal(ft.vmap(lax.clamp, (0, 0, None))(np.zeros(3, f32), rows,
                                                                   f32(1)),
                                  np.clip(rows, 0, 1))
    with pytest.raises(ValueError, match="clamp"):
        lax.clamp(np.zeros(2, f32), np.zeros(3, f32), f32(1))
    with pytest.raises(TypeError, match="clamp"):
        lax.clamp(f32(0), np.zeros(3), f32(1))


def test_round_primitive():
    # values printed by JAX 0.10.2; 0.49999997 + 0.5 rounds to 1 in float32, so a
    # floor(x + 0.5) formula would give 1
    x = np.array([0.49999997, -2.5, -0.2, 2.5, -0.5, 1.5, 3.7, -7.5, 6.5], f32)
    np.testing.assert_array_equal(lax.round(x), [0, -3, -0.0, 3, -1, 2, 4, -8, 7])
    np.testing.assert_array_equal(lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN),
                                  [0, -2, -0.0, 2, -0.0, 2, 4, -8, 6])
    assert np.signbit(lax.round(f32(-0.2)))
    text = str(ft.make_jaxpr(lambda v: (lax.round(v, 1), lax.round(v)))(f32(1.0)))
    assert "round[rounding_method=1] a" in text and "round[rounding_method=0] a" in text
    assert float(ft.grad(lax.round)(f32(1.2))) == 0.0
    big = np.concatenate([x, -x, [np.inf, -np.inf, np.nan, -0.0]]).astype(f32)
    for method in (0, 1):
        jitted = ft.jit(lambda v, m=method: lax.round(v * 2.0, m))
        assert "fused mul, round" in jitted.lower(big).as_text()
        out = jitted(big)
        np.testing.assert_array_equal(out, lax.round(big * 2, method))
        np.testing.assert_array_equal(np.signbit(out), np.signbit(lax.round(big * 2, method)))
    np.testing.assert_array_equal(lax.round(big, 1), np.rint(big))
    with pytest.raises(TypeError, match="round"):
        lax.round(np.int32(1))
