"""fnp's statistics, nan-reductions, cumulative ops, differences, cov/corrcoef, histogram,
interp, convolve/correlate and the extra elementwise functions: values against NumPy,
gradients against finite differences where they are smooth, jit/vmap against eager."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import functrace as ft
import functrace.numpy as fnp
from functrace.test_util import check_grads

_floats = st.floats(-10, 10, width=32)
_arrays = hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1,
                                                  max_side=5), elements=_floats)


@settings(deadline=None)
@given(x=_arrays, data=st.data())
def test_quantiles_match_numpy(x, data, x64):
    axis = data.draw(st.sampled_from([None] + list(range(-x.ndim, x.ndim))))
    q = data.draw(st.sampled_from([0.0, 0.25, 0.5, 0.9, 1.0, [0.1, 0.6]]))
    method = data.draw(st.sampled_from(["linear", "lower", "higher", "midpoint", "nearest"]))
    keepdims = data.draw(st.booleans())
    np.testing.assert_allclose(fnp.quantile(x, q, axis, method=method, keepdims=keepdims),
                               np.quantile(x, q, axis, method=method, keepdims=keepdims),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fnp.median(x, axis), np.median(x, axis), rtol=1e-12)
    np.testing.assert_allclose(fnp.percentile(x, 37.5, axis), np.percentile(x, 37.5, axis),
                               rtol=1e-12)


@settings(deadline=None)
@given(x=_arrays, data=st.data())
def test_nan_functions_match_numpy(x, data, x64):
    x = x.copy()
    mask = data.draw(hnp.arrays(bool, x.shape))
    x[mask] = np.nan
    axis = data.draw(st.sampled_from([None] + list(range(x.ndim))))
    with np.errstate(all="ignore"), _quiet():
        for name in ("nansum", "nanprod", "nanmean", "nanvar", "nanstd", "nanmax", "nanmin",
                     "nanmedian"):
            np.testing.assert_allclose(getattr(fnp, name)(x, axis), getattr(np, name)(x, axis),
                                       rtol=1e-10, atol=1e-10, err_msg=name)
        np.testing.assert_allclose(fnp.nanquantile(x, 0.3, axis), np.nanquantile(x, 0.3, axis),
                                   rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(fnp.nancumsum(x, axis), np.nancumsum(x, axis), rtol=1e-10)
        np.testing.assert_allclose(fnp.nancumprod(x, axis), np.nancumprod(x, axis), rtol=1e-10)
        if not mask.all():
            np.testing.assert_array_equal(fnp.nanargmax(x), np.nanargmax(x))
            np.testing.assert_array_equal(fnp.nanargmin(x), np.nanargmin(x))


class _quiet:
    def __enter__(self):
        import warnings
        self.ctx = warnings.catch_warnings()
        self.ctx.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc):
        self.ctx.__exit__(*exc)


def test_cumulative_and_differences(rng):
    x = rng.integers(-3, 4, (3, 4)).astype(np.int32)
    np.testing.assert_array_equal(fnp.cumprod(x, 1), np.cumprod(x, 1))
    np.testing.assert_array_equal(fnp.cumprod(x), np.cumprod(x))
    np.testing.assert_array_equal(fnp.cumulative_sum(x, axis=0, include_initial=True),
                                  np.concatenate([np.zeros((1, 4), np.int32),
                                                  np.cumsum(x, 0)]))
    np.testing.assert_array_equal(fnp.cumulative_prod(x[0]), np.cumprod(x[0]))
    for n in (0, 1, 2, 3):
        np.testing.assert_array_equal(fnp.diff(x, n, axis=0), np.diff(x, n, axis=0))
    np.testing.assert_array_equal(fnp.diff(x, prepend=0, append=x[:, :1]),
                                  np.diff(x, prepend=0, append=x[:, :1]))
    b = np.array([True, False, False, True])
    np.testing.assert_array_equal(fnp.diff(b), np.diff(b))
    np.testing.assert_array_equal(fnp.ediff1d(x, to_end=[9], to_begin=[7, 8]),
                                  np.ediff1d(x, to_end=[9], to_begin=[7, 8]))


def test_cov_corrcoef_match_numpy(rng, x64):
    m = rng.standard_normal((3, 6))
    y = rng.standard_normal((2, 6))
    np.testing.assert_allclose(fnp.cov(m), np.cov(m))
    np.testing.assert_allclose(fnp.cov(m, y), np.cov(m, y))
    np.testing.assert_allclose(fnp.cov(m.T, rowvar=False, bias=True), np.cov(m.T, rowvar=False,
                                                                            bias=True))
    fw = np.array([1, 2, 1, 3, 1, 1])
    aw = rng.random(6)
    np.testing.assert_allclose(fnp.cov(m, fweights=fw, aweights=aw),
                               np.cov(m, fweights=fw, aweights=aw))
    np.testing.assert_allclose(fnp.cov(m, ddof=0, aweights=aw), np.cov(m, ddof=0, aweights=aw))
    np.testing.assert_allclose(fnp.cov(m[0]), np.cov(m[0]))
    np.testing.assert_allclose(fnp.corrcoef(m, y), np.corrcoef(m, y), atol=1e-12)
    check_grads(lambda m: fnp.cov(m), (m,), order=2)


def test_histogram_and_interp_match_numpy(rng, x64):
    a = rng.standard_normal(50)
    for bins in (1, 5, np.array([-1.0, 0.0, 0.5, 2.0])):
        h, e = fnp.histogram(a, bins)
        wh, we = np.histogram(a, bins)
        np.testing.assert_allclose(e, we, rtol=1e-12)
        np.testing.assert_array_equal(h, wh)
    w = rng.random(50)
    h, _ = fnp.histogram(a, 4, range=(-1.0, 1.0), weights=w, density=True)
    np.testing.assert_allclose(h, np.histogram(a, 4, range=(-1.0, 1.0), weights=w,
                                               density=True)[0])
    xp = np.sort(rng.standard_normal(6))
    fp = rng.standard_normal(6)
    x = np.concatenate([rng.standard_normal(20) * 2, xp])
    np.testing.assert_allclose(fnp.interp(x, xp, fp), np.interp(x, xp, fp), rtol=1e-12)
    np.testing.assert_allclose(fnp.interp(x, xp, fp, left=-9, right=9),
                               np.interp(x, xp, fp, left=-9, right=9), rtol=1e-12)
    np.testing.assert_allclose(fnp.interp(x, xp, fp, period=2.0),
                               np.interp(x, xp, fp, period=2.0), rtol=1e-12)
    check_grads(lambda x, fp: fnp.interp(x, xp, fp), (x[:20] * 0.3, fp), order=1)


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("n, m", [(5, 3), (5, 4), (3, 5), (4, 4), (1, 3)])
def test_convolve_correlate_match_numpy(mode, n, m, rng, x64):
    a, v = rng.standard_normal(n), rng.standard_normal(m)
    np.testing.assert_allclose(fnp.convolve(a, v, mode), np.convolve(a, v, mode), atol=1e-12)
    np.testing.assert_allclose(fnp.correlate(a, v, mode), np.correlate(a, v, mode), atol=1e-12)


def test_trapezoid_and_gradient(rng, x64):
    y = rng.standard_normal((3, 5))
    x = np.sort(rng.standard_normal(5))
    np.testing.assert_allclose(fnp.trapezoid(y), np.trapezoid(y))
    np.testing.assert_allclose(fnp.trapezoid(y, x), np.trapezoid(y, x))
    np.testing.assert_allclose(fnp.trapezoid(y, dx=0.5, axis=0), np.trapezoid(y, dx=0.5,
                                                                              axis=0))
    for got, want in zip(fnp.gradient(y, 0.5), np.gradient(y, 0.5), strict=True):
        np.testing.assert_allclose(got, want)
    np.testing.assert_allclose(fnp.gradient(y, axis=1), np.gradient(y, axis=1))


_BINARY = ["hypot", "copysign", "fmod", "logaddexp2", "heaviside", "fmax", "fmin", "arctan2"]
_UNARY = ["deg2rad", "rad2deg", "degrees", "radians", "fabs", "sinc", "arcsin", "arccos",
          "arctan", "arcsinh", "spacing"]


def test_elementwise_extras_match_numpy(rng, x64):
    x = np.array([-2.5, -1.0, -0.0, 0.0, 0.3, 1.0, 3.0, np.inf, np.nan])
    y = np.array([1.5, -0.0, 2.0, -3.0, np.nan, 0.7, -1.0, 2.0, 1.0])
    with np.errstate(all="ignore"):
        for name in _BINARY:
            np.testing.assert_allclose(getattr(fnp, name)(x, y), getattr(np, name)(x, y),
                                       rtol=1e-14, atol=1e-300, err_msg=name)
        for name in _UNARY:
            # spacing(-0.0) is -tiny in JAX (away from zero on the sign's side), +tiny in NumPy
            xs = x[~((x == 0) & np.signbit(x))] if name == "spacing" else x
            np.testing.assert_allclose(getattr(fnp, name)(xs), getattr(np, name)(xs),
                                       rtol=1e-14, atol=1e-300, err_msg=name)
    xi = np.array([-7, 12, 0, 9, -15], np.int32)
    yi = np.array([2, 18, 5, 0, 10], np.int32)
    for name in ("gcd", "lcm", "fmod", "left_shift", "right_shift"):
        b = np.abs(yi) % 5 if "shift" in name else yi
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(getattr(fnp, name)(xi, b), getattr(np, name)(xi, b),
                                          err_msg=name)
    q, r = fnp.divmod(xi, np.int32(4))
    np.testing.assert_array_equal(q, np.floor_divide(xi, 4))
    np.testing.assert_array_equal(r, np.remainder(xi, 4))
    f = np.array([8.0, -0.75, 0.0, 3.0, 1e-3, 1024.0])
    m, e = fnp.frexp(f)
    wm, we = np.frexp(f)
    np.testing.assert_array_equal(m, wm)
    np.testing.assert_array_equal(e, we)
    np.testing.assert_array_equal(fnp.ldexp(wm, we), f)
    for got, want in zip(fnp.modf(f - 0.3), np.modf(f - 0.3), strict=True):
        np.testing.assert_allclose(got, want)
    np.testing.assert_array_equal(fnp.bitwise_count(xi), np.bitwise_count(xi))
    z = np.array([1 + 1j, -1j, -2.0 + 0j])
    np.testing.assert_allclose(fnp.angle(z, deg=True), np.angle(z, deg=True))
    np.testing.assert_array_equal(fnp.isposinf(x), np.isposinf(x))
    np.testing.assert_array_equal(fnp.isneginf(-x), np.isneginf(-x))
    np.testing.assert_array_equal(fnp.iscomplex(z), np.iscomplex(z))
    np.testing.assert_array_equal(fnp.nextafter(x, y), np.nextafter(x, y))
    assert fnp.iscomplexobj(z) and fnp.isrealobj(x) and fnp.isscalar(3.0)
    assert not fnp.isscalar(np.ones(2)) and fnp.iterable([1]) and not fnp.iterable(3)


def test_gradients_of_smooth_functions(rng, x64):
    x = rng.uniform(0.5, 2, 5)
    y = rng.uniform(-2, -0.5, 5)
    check_grads(fnp.hypot, (x, y), order=2)
    check_grads(fnp.logaddexp2, (x, y), order=2)
    check_grads(fnp.arctan2, (x, y), order=2)
    check_grads(fnp.sinc, (np.array([0.0, 0.3, -1.2]),), order=2)
    check_grads(lambda v: fnp.quantile(v, 0.3), (rng.permutation(7) * 0.5,), order=1)
    # NaN entries get a zero gradient: the mean of the others
    g = ft.grad(lambda v: fnp.nanmean(v))(np.array([1.0, np.nan, 2.0]))
    np.testing.assert_array_equal(g, [0.5, 0.0, 0.5])


def test_jit_and_vmap_match_eager(rng):
    x = rng.standard_normal((4, 7)).astype(np.float32)
    fns = {
        "median": fnp.median, "quantile": lambda r: fnp.quantile(r, [0.2, 0.8]),
        "nanmax": fnp.nanmax, "cumprod": fnp.cumprod, "diff": lambda r: fnp.diff(r, 2),
        "histogram": lambda r: fnp.histogram(r, 3, range=(-1.0, 1.0)),
        "interp": lambda r: fnp.interp(r, np.array([-1.0, 0.0, 2.0], np.float32),
                                       np.array([0.0, 1.0, 5.0], np.float32)),
        "convolve": lambda r: fnp.convolve(r, np.array([1.0, -2.0, 0.5], np.float32), "same"),
        "gcd": lambda r: fnp.gcd((r * 10).astype(np.int32), np.int32(6)),
        "hypot": lambda r: fnp.hypot(r, 2.0),
    }
    for name, f in fns.items():
        eager = ft.tree_util.tree_map(lambda *xs: np.stack(xs), *[f(r) for r in x])
        for got in (ft.vmap(f)(x), ft.jit(ft.vmap(f))(x)):
            ft.tree_util.tree_map(lambda g, w, name=name: np.testing.assert_allclose(
                g, w, rtol=1e-5, atol=1e-6, err_msg=name), got, eager)
