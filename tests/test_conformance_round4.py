"""Round-4 conformance fixes found by differential sweeps against JAX: keyword arguments and
edge cases that JAX's own tests exercise. Expected values come from NumPy or the math."""

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import lax, nn
from functrace.scipy import special

RNG = np.random.RandomState(0)
X = RNG.randn(3, 4).astype(np.float32)
W = RNG.rand(3, 4) > 0.4


# reductions: where= / initial= / promote_integers= ----------------------------------

@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_sum_prod_where_initial_match_numpy(axis, keepdims):
    for f, ref in ((fnp.sum, np.sum), (fnp.prod, np.prod)):
        got = f(X, axis=axis, keepdims=keepdims, where=W, initial=2.0)
        want = ref(X, axis=axis, keepdims=keepdims, where=W, initial=2.0)
        np.testing.assert_allclose(got, want, rtol=1e-5)
        assert got.dtype == np.float32


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_max_min_where_initial_match_numpy(axis):
    for f, ref in ((fnp.max, np.max), (fnp.min, np.min)):
        np.testing.assert_array_equal(f(X, axis=axis, where=W, initial=0.5),
                                      ref(X, axis=axis, where=W, initial=0.5))
        np.testing.assert_array_equal(f(X, axis=axis, initial=10.0), ref(X, axis=axis,
                                                                          initial=10.0))
    ints = np.arange(12, dtype=np.int32).reshape(3, 4)
    np.testing.assert_array_equal(fnp.max(ints, axis=axis, where=W, initial=-1),
                                  np.max(ints, axis=axis, where=W, initial=-1))


def test_max_where_without_initial_and_empty_without_initial_raise():
    with pytest.raises(ValueError, match="initial"):
        fnp.max(X, where=W)
    with pytest.raises(ValueError, match="zero-size"):
        fnp.min(np.zeros((0,), np.float32))
    # with initial= an empty reduction is the initial value (NumPy agrees)
    assert fnp.max(np.zeros((0,), np.float32), initial=3.0) == 3.0
    with pytest.raises(ValueError, match="scalar"):
        fnp.sum(X, initial=np.ones(2))


def test_sum_promote_integers_and_bool_where():
    i8 = np.array([100, 100, 100], np.int8)
    assert fnp.sum(i8).dtype == np.int32 and int(fnp.sum(i8)) == 300
    out = fnp.sum(i8, promote_integers=False)
    assert out.dtype == np.int8
    assert int(out) == int(np.sum(i8, dtype=np.int8))  # wraps modulo 256, as NumPy
    assert fnp.sum(np.array([1, 2], np.uint8)).dtype == np.uint32
    b = np.array([True, True, False])
    assert fnp.sum(b, where=np.array([True, False, True])) == 1
    assert fnp.all(np.array([True, False]), where=np.array([True, False]))
    assert not fnp.any(np.array([True, False]), where=np.array([False, True]))


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_mean_var_std_where_match_numpy(axis):
    np.testing.assert_allclose(fnp.mean(X, axis=axis, where=W),
                               np.mean(X, axis=axis, where=W), rtol=1e-5)
    np.testing.assert_allclose(fnp.var(X, axis=axis, where=W),
                               np.var(X, axis=axis, where=W), rtol=1e-5)
    np.testing.assert_allclose(fnp.std(X, axis=axis, where=W, ddof=1),
                               np.std(X, axis=axis, where=W, ddof=1), rtol=1e-5)
    # a where mask that broadcasts along the rows
    row = np.array([True, False, True, True])
    np.testing.assert_allclose(fnp.mean(X, axis=axis, where=row),
                               np.mean(X, axis=axis, where=np.broadcast_to(row, X.shape)),
                               rtol=1e-5)


def test_var_correction_is_ddof_and_complex_variance_is_real():
    np.testing.assert_allclose(fnp.var(X, axis=0, correction=1), np.var(X, axis=0, ddof=1),
                               rtol=1e-5)
    with pytest.raises(ValueError):
        fnp.var(X, ddof=1, correction=1)
    z = (X + 1j * X[::-1]).astype(np.complex64)
    v = fnp.var(z, axis=1)
    assert v.dtype == np.float32
    np.testing.assert_allclose(v, np.var(z, axis=1), rtol=1e-5)


def test_float16_mean_accumulates_in_float32():
    # 4096 copies of 1 + 2**-10 (exact in float16): a float16 running sum would stall
    x = np.full(4096, 1 + 2.0 ** -10, np.float16)
    m = fnp.mean(x)
    assert m.dtype == np.float16
    assert float(m) == float(np.float16(1 + 2.0 ** -10))


def test_nan_reductions_take_where_and_initial():
    a = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, 2.0]], np.float32)
    w = np.array([[True, True, False], [True, True, True]])
    np.testing.assert_allclose(fnp.nansum(a, axis=1, where=w, initial=1.0),
                               np.nansum(a, axis=1, where=w, initial=1.0))
    np.testing.assert_allclose(fnp.nanmean(a, axis=1, where=w), np.nanmean(a, axis=1, where=w))
    np.testing.assert_allclose(fnp.nanmax(a, axis=1, where=w, initial=0.0),
                               np.nanmax(a, axis=1, where=w, initial=0.0))


def test_argmax_of_empty_raises():
    with pytest.raises(ValueError, match="empty"):
        fnp.argmax(np.zeros((0,), np.float32))
    with pytest.raises(ValueError, match="empty"):
        fnp.argmin(np.zeros((2, 0), np.float32), axis=1)


def test_reductions_with_where_under_jit_and_grad():
    f = ft.jit(lambda x, w: fnp.sum(x ** 2, where=w))
    np.testing.assert_allclose(f(X, W), np.sum(X ** 2, where=W), rtol=1e-5)
    g = ft.grad(lambda x: fnp.sum(x ** 2, where=W))(X)
    np.testing.assert_allclose(g, np.where(W, 2 * X, 0), rtol=1e-6)


# where(condition) with size= ---------------------------------------------------------

def test_one_argument_where_is_nonzero_with_size():
    c = np.array([0, 3, 0, 5])
    (idx,) = fnp.where(c)
    np.testing.assert_array_equal(idx, np.nonzero(c)[0])
    (idx,) = ft.jit(lambda c: fnp.where(c, size=3, fill_value=-1))(c)
    np.testing.assert_array_equal(idx, [1, 3, -1])
    with pytest.raises(ValueError):
        fnp.where(c, 1.0)


# take / take_along_axis modes ----------------------------------------------------------

def test_take_modes_follow_jax_semantics():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    idx = np.array([0, -1, 3, -4])
    # default 'fill': a negative index wraps once, anything still outside is NaN
    want = np.stack([x[:, 0], x[:, 2], np.full(2, np.nan), np.full(2, np.nan)], axis=1)
    np.testing.assert_array_equal(fnp.take(x, idx, axis=1), want)
    np.testing.assert_array_equal(fnp.take(x, idx, axis=1, mode="wrap"),
                                  np.take(x, idx, axis=1, mode="wrap"))
    np.testing.assert_array_equal(fnp.take(x, idx, axis=1, mode="clip"),
                                  np.take(x, np.clip(idx, 0, 2), axis=1))
    np.testing.assert_array_equal(fnp.take(x, idx, axis=1, fill_value=-7.0)[:, 2:], -7.0)
    ints = fnp.take(np.arange(3, dtype=np.int32), np.array([5]))
    assert int(ints[0]) == np.iinfo(np.int32).min
    with pytest.raises(NotImplementedError):
        fnp.take(x, idx, mode="raise")


def test_take_along_axis_fill_and_broadcast():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    i = np.array([[0, 2, 5]])
    got = fnp.take_along_axis(x, i, axis=1)
    np.testing.assert_array_equal(got, [[0, 2, np.nan], [3, 5, np.nan]])
    got = fnp.take_along_axis(x, i, axis=1, mode="clip")
    np.testing.assert_array_equal(got, np.take_along_axis(x, np.broadcast_to(np.clip(i, 0, 2),
                                                                               (2, 3)), 1))


# nn: where= ------------------------------------------------------------------------------

def test_softmax_and_log_softmax_where():
    w = np.array([True, False, True, True])
    x = X[0]
    e = np.where(w, np.exp(x - x[w].max()), 0)
    np.testing.assert_allclose(nn.softmax(x, where=w), e / e.sum(), rtol=1e-5)
    ls = nn.log_softmax(x, where=w)
    np.testing.assert_allclose(np.asarray(ls)[w], np.log(e[w] / e.sum()), rtol=1e-5)
    assert np.all(np.isneginf(np.asarray(ls)[~w]))


def test_logsumexp_where_and_zero_weights():
    w = np.array([True, False, True, True])
    x = X[0]
    np.testing.assert_allclose(nn.logsumexp(x, where=w), np.log(np.exp(x[w]).sum()),
                               rtol=1e-6)
    # a zero weight drops an infinite term instead of making 0 * inf = nan
    a = np.array([np.inf, 0.0], np.float32)
    assert float(nn.logsumexp(a, b=np.array([0.0, 1.0], np.float32))) == 0.0
    assert np.isneginf(float(nn.logsumexp(np.zeros((0,), np.float32))))
    assert nn.logsumexp(np.arange(3)).dtype == np.float32


def test_standardize_where():
    w = np.array([True, True, False, True])
    x = X[0]
    m, v = x[w].mean(), x[w].var()
    np.testing.assert_allclose(nn.standardize(x, where=w), (x - m) / np.sqrt(v + 1e-5),
                               rtol=1e-4)


def test_vmap_accepts_spmd_axis_name():
    out = ft.vmap(lambda a: a * 2, spmd_axis_name="x")(np.arange(3.0))
    np.testing.assert_array_equal(out, [0.0, 2.0, 4.0])


def test_isinf_of_complex_checks_both_parts():
    z = np.array([complex(np.inf, 0), complex(0, -np.inf), 1 + 1j, complex(np.nan, 0)],
                 np.complex64)
    np.testing.assert_array_equal(fnp.isinf(z), np.isinf(z))


# pad modes --------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["edge", "wrap", "reflect", "symmetric", "linear_ramp",
                                  "maximum", "minimum", "mean"])
@pytest.mark.parametrize("pw", [1, ((1, 0), (0, 2)), 5, ((0, 0), (3, 7))])
@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_pad_modes_match_numpy(mode, pw, dtype):
    x = (np.arange(12).reshape(3, 4) * 3 - 7).astype(dtype)
    np.testing.assert_allclose(fnp.pad(x, pw, mode=mode), np.pad(x, pw, mode=mode),
                               rtol=1e-6)


@pytest.mark.parametrize("mode,kw", [("reflect", {"reflect_type": "odd"}),
                                     ("symmetric", {"reflect_type": "odd"}),
                                     ("linear_ramp", {"end_values": (2, -3)}),
                                     ("mean", {"stat_length": 2}),
                                     ("maximum", {"stat_length": ((1, 2), (3, 1))})])
def test_pad_mode_options_match_numpy(mode, kw):
    x = np.arange(12, dtype=np.float32).reshape(3, 4) ** 1.5
    np.testing.assert_allclose(fnp.pad(x, ((1, 2), (2, 1)), mode=mode, **kw),
                               np.pad(x, ((1, 2), (2, 1)), mode=mode, **kw), rtol=1e-5)


def test_pad_reflect_is_differentiable_and_traceable():
    x = np.array([1.0, 2.0, 3.0], np.float32)
    f = ft.jit(lambda v: fnp.sum(fnp.pad(v, 2, mode="reflect") * np.arange(7.0)))
    assert float(f(x)) == float(np.sum(np.pad(x, 2, mode="reflect") * np.arange(7.0)))
    # padded [x2 x1 x0 x1 x2 x1 x0] weighted by 0..6: d/dx0 = 2+6, d/dx1 = 1+3+5, d/dx2 = 0+4
    np.testing.assert_allclose(ft.grad(f)(x), [8.0, 9.0, 4.0])
    with pytest.raises(ValueError, match="empty axis"):
        fnp.pad(np.zeros((0, 2), np.float32), 1, mode="edge")


def test_histogram_counts_the_maximum_in_the_last_bin():
    # lo + 1.0 * (hi - lo) rounds below hi in float32 for these values
    x = np.array([1.867558, -0.97727787, 0.95008844, -0.1513572], np.float32)
    counts, edges = fnp.histogram(x)
    assert float(fnp.sum(counts)) == 4.0
    assert float(edges[-1]) == float(x.max()) and float(edges[0]) == float(x.min())
    np.testing.assert_array_equal(counts, np.histogram(x)[0])


def test_average_with_one_dimensional_weights_along_an_axis():
    w = np.array([1.0, 2.0, 0.5, 3.0], np.float32)
    np.testing.assert_allclose(fnp.average(X, axis=1, weights=w),
                               np.average(X, axis=1, weights=w), rtol=1e-5)
    avg, total = fnp.average(X, axis=-1, weights=w, returned=True)
    np.testing.assert_allclose(total, np.full(3, w.sum()))
    with pytest.raises(ValueError):
        fnp.average(X, weights=w)


@pytest.fixture
def x64():
    ft.config.update("jax_enable_x64", True)
    yield
    ft.config.update("jax_enable_x64", False)


@pytest.mark.parametrize("dtype,want", [(np.int8, np.float32), (np.int32, np.float32),
                                        (np.uint32, np.float32), (np.bool_, np.float32),
                                        (np.int64, np.float64)])
def test_integers_become_floats_of_their_width_under_x64(x64, dtype, want):
    # JAX 0.10's to_inexact_dtype: up to 32-bit integers (and bool) -> float32, int64 -> f64
    x = np.ones(3, dtype)
    for out in (fnp.sin(x), fnp.true_divide(x, x), fnp.mean(x), fnp.var(x), fnp.std(x),
                fnp.median(x), fnp.nanmean(x)):
        assert out.dtype == want
    assert fnp.exp(3).dtype == np.float64  # a Python int is a (weak) 64-bit integer
    assert fnp.add(np.ones(3, np.int32), 1.5).dtype == np.float64  # weak float: float64


# integer power, float floor_divide, nextafter broadcasting --------------------------------

def test_integer_power_with_array_exponents_follows_jax():
    base = np.array([2, 1, -1, 0, 3, -2], np.int32)
    exp_ = np.array([-1, -2, -3, -1, 3, 5], np.int32)
    # negative exponents: 1 and -1 keep their powers, other bases give 0 (as JAX)
    np.testing.assert_array_equal(fnp.power(base, exp_), [0, 1, -1, 0, 27, -32])
    np.testing.assert_array_equal(fnp.power(2, np.arange(5)), 2 ** np.arange(5))
    assert fnp.power(np.arange(3, dtype=np.uint8), np.uint8(2)).dtype == np.uint8
    with pytest.raises(TypeError):
        fnp.power(np.array([2], np.int32), -1)


def test_float_floor_divide_matches_python_divmod_at_the_edges():
    a = np.array([1.5, -2.5, np.inf, -np.inf, 7.0, -7.0, 5.0], np.float32)
    b = np.array([-np.inf, np.inf, -np.inf, -2.5, 0.0, 2.0, -0.5], np.float32)
    # CPython's float floor division: 1.5 // -inf == -1.0, inf // x is nan, 7 // 0 = inf
    want = [-1.0, -1.0, np.nan, np.nan, np.inf, -4.0, -10.0]
    np.testing.assert_array_equal(fnp.floor_divide(a, b), np.array(want, np.float32))
    np.testing.assert_array_equal(fnp.floor_divide(np.float32(3.0), np.array([2.0, -2.0])),
                                  [1.0, -2.0])


def test_nextafter_broadcasts_scalars():
    got = fnp.nextafter(np.float32(0), np.ones(3, np.float32))
    np.testing.assert_array_equal(got, np.nextafter(np.float32(0), np.ones(3, np.float32)))
    got = fnp.nextafter(np.ones(3, np.float32), 2.0)
    np.testing.assert_array_equal(got, np.nextafter(np.ones(3, np.float32), np.float32(2)))


def test_sum_of_booleans_counts_even_without_integer_promotion():
    b = np.array([True, True, False])
    for out in (fnp.sum(b, promote_integers=False), fnp.sum(b), fnp.prod(b)):
        assert out.dtype == np.int32
    assert int(fnp.sum(b, promote_integers=False)) == 2
    assert fnp.sum(b, dtype=bool).dtype == np.bool_


def test_float16_sum_accumulates_in_float32():
    x = np.full(4096, 1.0, np.float16)  # a float16 running sum stalls at 2048
    out = fnp.sum(x)
    assert out.dtype == np.float16 and float(out) == 4096.0
    assert float(fnp.sum(x, initial=1.0)) == float(np.float16(4097.0))


def test_var_is_nan_when_too_few_entries_remain():
    assert np.isnan(float(fnp.var(np.array([1.0, 2.0], np.float32), ddof=2)))
    assert np.isnan(float(fnp.std(np.zeros((2, 0), np.float32), ddof=1)))
    a = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, 2.0]], np.float32)
    np.testing.assert_array_equal(fnp.nanvar(a, axis=1, ddof=1), [2.0, np.nan])
    # a NaN produced by the data (inf - inf) is not dropped: only the input's NaNs are
    e = np.array([np.nan, -0.0, np.inf, -np.inf, 1.0], np.float32)
    assert np.isnan(float(fnp.nanstd(e)))
    z = np.array([1 + 1j, np.nan, 1 - 1j], np.complex64)
    v = fnp.nanvar(z)
    assert v.dtype == np.float32 and float(v) == 1.0


# lax: negative dynamic_slice starts, nextafter with a scalar ---------------------------

def test_lax_dynamic_slice_wraps_negative_starts_then_clamps():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    # (5, -1, 1): 5 clamps to 2 - 2 = 0, -1 wraps to 2 and then clamps to 3 - 1 = 2
    np.testing.assert_array_equal(lax.dynamic_slice(x, (5, -1, 1), (2, 1, 3)), x[0:2, 2:3, 1:4])
    np.testing.assert_array_equal(lax.dynamic_slice(x, (0, -2, -4), (1, 1, 2)), x[0:1, 1:2, 0:2])
    np.testing.assert_array_equal(
        lax.dynamic_slice(x, (0, -2, 0), (1, 1, 2), allow_negative_indices=False),
        x[0:1, 0:1, 0:2])
    f = ft.jit(lambda v, i: lax.dynamic_update_slice(v, np.ones((1, 1, 2), np.float32),
                                                     (i, i, i)))
    want = x.copy()
    want[1:2, 2:3, 2:4] = 1.0  # -1 wraps to (1, 2, 3); the last axis clamps to 4 - 2 = 2
    np.testing.assert_array_equal(f(x, np.int32(-1)), want)


def test_lax_nextafter_broadcasts_a_scalar():
    got = lax.nextafter(np.float32(1), np.full(2, 2, np.float32))
    np.testing.assert_array_equal(got, np.nextafter(np.float32(1), np.full(2, 2, np.float32)))


def test_lax_pow_takes_an_integer_exponent_and_top_k_puts_nan_first():
    got = lax.pow(np.array([2.0, 3.0], np.float32), np.array([3, -1], np.int32))
    np.testing.assert_allclose(got, [8.0, 1.0 / 3.0], rtol=1e-7)
    assert got.dtype == np.float32
    assert float(ft.grad(lambda v: lax.pow(v, np.int32(3)))(2.0)) == 12.0  # 3 v^2
    vals, idx = lax.top_k(np.array([np.nan, 1.0, 3.0, np.inf], np.float32), 3)
    assert np.isnan(vals[0]) and list(np.asarray(vals[1:])) == [np.inf, 3.0]
    np.testing.assert_array_equal(idx, [0, 3, 2])


# nn kinks, scipy.special tails ----------------------------------------------------------

def test_relu6_and_hard_tanh_derivatives_at_the_kinks_follow_jax():
    g6 = ft.grad(nn.relu6)
    assert [float(g6(v)) for v in (0.0, 3.0, 6.0, 7.0)] == [0.0, 1.0, 0.0, 0.0]
    gt = ft.grad(nn.hard_tanh)
    # where(x > 1, 1, where(x < -1, -1, x)): the identity branch owns the kinks
    assert [float(gt(v)) for v in (-2.0, -1.0, 0.5, 1.0, 2.0)] == [0.0, 1.0, 1.0, 1.0, 0.0]
    out = nn.hard_tanh(np.arange(-2, 3, dtype=np.int32))
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, np.clip(np.arange(-2, 3), -1, 1))


def test_ndtri_is_accurate_in_the_tails():
    from scipy import special as sp_special  # SciPy is a dev dependency (CI has it)
    p = np.array([1e-30, 1e-8, 1e-5, 0.01, 0.3, 0.5, 0.99, 1 - 1e-6], np.float32)
    np.testing.assert_allclose(special.ndtri(p), sp_special.ndtri(p.astype(np.float64)),
                               rtol=2e-6, atol=1e-6)
    assert np.isneginf(float(special.ndtri(np.float32(0.0))))
    # d/dp ndtri(p) = 1 / pdf(ndtri(p))
    q = sp_special.ndtri(0.01)
    np.testing.assert_allclose(ft.grad(special.ndtri)(np.float32(0.01)),
                               np.sqrt(2 * np.pi) * np.exp(q * q / 2), rtol=1e-5)


def test_entr_propagates_nan():
    x = np.array([np.nan, -1.0, 0.0, 0.5], np.float32)
    got = np.asarray(special.entr(x))
    assert np.isnan(got[0]) and np.isneginf(got[1]) and got[2] == 0.0
    np.testing.assert_allclose(got[3], -0.5 * np.log(0.5), rtol=1e-6)


# eager Array operators follow JAX's promotion, not NumPy's -----------------------------

def test_eager_array_operators_and_methods_promote_like_jax():
    x = fnp.arange(3)  # int32
    f = fnp.ones(3)  # float32
    assert (x / 2).dtype == np.float32  # NumPy would give float64
    assert (x * 1.5).dtype == np.float32 and (x + f).dtype == np.float32
    assert (2 * x).dtype == np.int32 and (1 - x).dtype == np.int32
    assert x.sum().dtype == np.int32  # NumPy's ndarray.sum would give int64
    assert (x[1] + 0.5).dtype == np.float32  # an element is a 0-d array, not a NumPy scalar
    np.testing.assert_array_equal(x / 2, np.arange(3) / 2)
    y = x
    y += 1  # rebinding, as on an immutable jax.Array: x is unchanged
    np.testing.assert_array_equal(x, [0, 1, 2])
    np.testing.assert_array_equal(y, [1, 2, 3])
    assert int(x[2]) == 2 and float(f.mean()) == 1.0


def test_searchsorted_returns_int32_under_x64(x64):
    out = fnp.searchsorted(np.array([1.0, 2.0, 3.0]), np.array([2.5, 0.0]))
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [2, 0])
    assert fnp.digitize(np.array([0.5, 2.5]), np.array([1.0, 2.0])).dtype == np.int32


def test_det_of_an_empty_matrix_is_one():
    np.testing.assert_array_equal(fnp.linalg.det(np.zeros((3, 0, 0), np.float32)),
                                  np.linalg.det(np.zeros((3, 0, 0), np.float32)))


def test_select_keeps_a_python_scalar_default_weak(x64):
    v = np.array([0.5, -2.0, 3.0], np.float32)
    out = fnp.select([v > 1.0], [v], default=5.0)
    assert out.dtype == np.float32  # the weak default does not widen to float64
    np.testing.assert_array_equal(out, [5.0, 5.0, 3.0])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_unique_along_an_axis_matches_numpy(axis):
    a = np.array([[1, 2], [1, 2], [0, 1], [3, 0], [0, 1]], np.int32)
    got = fnp.unique(a, axis=axis, return_index=True, return_inverse=True,
                     return_counts=True)
    want = np.unique(a, axis=axis, return_index=True, return_inverse=True,
                     return_counts=True)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, np.reshape(w, np.shape(g)))
    np.testing.assert_array_equal(fnp.unique(a, axis=axis), np.unique(a, axis=axis))


def test_unique_along_an_axis_with_size_under_jit():
    a = np.array([[1, 2], [1, 2], [0, 1]], np.int32)
    out = ft.jit(lambda v: fnp.unique(v, axis=0, size=3, fill_value=-1))(a)
    np.testing.assert_array_equal(out, [[0, 1], [1, 2], [-1, -1]])


def test_intersect1d_return_indices_matches_numpy():
    a = np.array([3, 1, 2, 1, 3, 0], np.int32)
    b = np.array([1, 3, 5, 3], np.int32)
    for got, want in zip(fnp.intersect1d(a, b, return_indices=True),
                         np.intersect1d(a, b, return_indices=True), strict=True):
        np.testing.assert_array_equal(got, want)
    vals, i1, i2 = fnp.intersect1d(a, b, return_indices=True, size=4, fill_value=-1)
    np.testing.assert_array_equal(vals, [1, 3, -1, -1])
    np.testing.assert_array_equal(i1, [1, 0, 6, 6])  # padding: len(ar1), as JAX
    np.testing.assert_array_equal(i2, [0, 1, 4, 4])


def test_histogram_and_interp_under_x64(x64):
    v = np.array([0.5, -1.0, 2.0, 0.1])
    np.testing.assert_array_equal(fnp.histogram(v, bins=3)[0], np.histogram(v, bins=3)[0])
    np.testing.assert_allclose(fnp.interp(v, np.array([-1.0, 0.0, 1.0]),
                                          np.array([0.0, 1.0, 3.0])),
                               np.interp(v, [-1.0, 0.0, 1.0], [0.0, 1.0, 3.0]))


def test_cumulative_dtypes_follow_jax():
    i8 = np.array([1, 2, 3], np.int8)
    assert fnp.cumprod(i8).dtype == np.int8 and fnp.cumsum(i8).dtype == np.int8
    assert fnp.nancumprod(np.ones(3, np.uint8)).dtype == np.uint8
    assert fnp.cumprod(np.ones(3, bool)).dtype == np.int32  # booleans count as ints
    # the array API's cumulative_sum widens like sum; cumulative_prod does not
    assert fnp.cumulative_sum(i8).dtype == np.int32
    assert fnp.cumulative_sum(np.ones(3, np.uint8)).dtype == np.uint32
    assert fnp.cumulative_prod(i8).dtype == np.int8
    np.testing.assert_array_equal(fnp.cumprod(i8), np.cumprod(i8))


def test_index_helpers_use_the_default_int_and_argpartition_int32(x64):
    assert fnp.tril_indices(3)[0].dtype == np.int64  # the default int under x64
    assert fnp.diag_indices(3)[0].dtype == np.int64
    np.testing.assert_array_equal(fnp.triu_indices(3, 1)[1], np.triu_indices(3, 1)[1])
    out = fnp.argpartition(np.array([3, 1, 2]), 1)
    assert out.dtype == np.int32
    assert int(out[1]) == 2  # the kth smallest (2) is at position kth
