"""Fixes from a differential sweep of functrace.numpy against jax.numpy (round 5). Each
test states JAX's documented behaviour and checks it against an independent oracle:
NumPy with the documented dtype rule, or a value derived by hand from JAX's docs."""

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp

RNG = np.random.RandomState(0)
X = RNG.randn(3, 4).astype(np.float32)


def _same(got, want):
    got = np.asarray(got)
    assert got.dtype == np.asarray(want).dtype, (got.dtype, np.asarray(want).dtype)
    assert got.shape == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


# repeat(total_repeat_length=): JAX docs: "If the sum of repeats is larger than the
# specified total_repeat_length the remaining values will be discarded. In the case of
# sum of repeats being smaller than the specified target length, the final value will be
# repeated."

@pytest.mark.parametrize("reps,total", [([1, 0, 2], 4), ([1, 0, 2], 2), ([2, 1, 1], 4),
                                        ([0, 2, 0], 5)])
def test_repeat_total_repeat_length_truncates_or_pads_with_the_final_value(reps, total):
    base = np.repeat(X, reps, axis=0)
    want = base[:total] if len(base) >= total else np.concatenate(
        [base, np.repeat(X[-1:], total - len(base), axis=0)])
    _same(fnp.repeat(X, np.array(reps), axis=0, total_repeat_length=total), want)
    _same(ft.jit(lambda x: fnp.repeat(x, np.array(reps), axis=0,
                                      total_repeat_length=total))(X), want)


@pytest.mark.parametrize("reps,total", [([1, 0, 2], 4), ([2, 0, 1], 2), ([0, 0, 0], 2)])
def test_repeat_with_traced_repeats_needs_only_a_static_total_length(reps, total):
    # JAX: total_repeat_length "may be specified for the repeat behavior to be compatible
    # with jit"; the counts themselves may then be traced
    base = np.repeat(X, reps, axis=0)
    want = base[:total] if len(base) >= total else np.concatenate(
        [base, np.repeat(X[-1:], total - len(base), axis=0)])
    got = ft.jit(lambda x, r: fnp.repeat(x, r, axis=0, total_repeat_length=total))(
        X, np.array(reps, np.int32))
    _same(got, want)


def test_repeat_total_repeat_length_with_scalar_repeats_and_flattening():
    _same(fnp.repeat(X, 2, axis=1, total_repeat_length=5), np.repeat(X, 2, axis=1)[:, :5])
    _same(fnp.repeat(X, 1, total_repeat_length=3), X.ravel()[:3])


# mean / nanmean with dtype=: JAX computes the sum and the division in dtype, like NumPy

@pytest.mark.parametrize("axis", [None, 0, 1])
def test_mean_with_integer_dtype_is_integer_like_numpy(axis):
    a = np.arange(-6, 6, dtype=np.float32).reshape(3, 4) * 1.7
    _same(fnp.mean(a, axis=axis, dtype=np.int32), np.mean(a, axis=axis, dtype=np.int32))
    ints = np.arange(12, dtype=np.int32).reshape(3, 4)
    _same(fnp.mean(ints, axis=axis, dtype=np.int32),
          np.mean(ints, axis=axis, dtype=np.int32))


def test_nanmean_honours_dtype():
    v = np.array([1., np.nan, 2.5, 4.], np.float16)
    _same(fnp.nanmean(v, dtype=np.float32), np.nanmean(v, dtype=np.float32))
    ints = np.array([[1, 2], [4, 7]], np.int32)
    _same(fnp.nanmean(ints, axis=0, dtype=np.int32), np.mean(ints, axis=0, dtype=np.int32))
    _same(fnp.nanmean(ints), np.float32(3.5))  # integers: no NaNs, a float mean


# reshape / ravel with order="F" (column-major), as jax.numpy.reshape documents

@pytest.mark.parametrize("shape", [(4, 3), (2, -1), (12,), (2, 3, 2)])
def test_reshape_order_f_matches_numpy(shape):
    _same(fnp.reshape(X, shape, order="F"), np.reshape(X, shape, order="F"))
    _same(ft.jit(lambda x: fnp.reshape(x, shape, order="F"))(X),
          np.reshape(X, shape, order="F"))


def test_ravel_order_f_matches_numpy():
    _same(fnp.ravel(X, order="F"), np.ravel(X, order="F"))
    with pytest.raises(ft.FunctraceError):
        fnp.reshape(X, (12,), order="A")


# tril_indices / triu_indices depend only on static sizes: usable under jit

def test_tril_triu_indices_work_under_jit():
    v = np.arange(1., 7., dtype=np.float32)

    def fill(v):
        return fnp.zeros((3, 3), np.float32).at[fnp.tril_indices(3)].set(v)
    want = np.zeros((3, 3), np.float32)
    want[np.tril_indices(3)] = v
    _same(ft.jit(fill)(v), want)
    m = X[:, :3]
    _same(ft.jit(lambda a: a[fnp.triu_indices_from(a, 1)])(m), m[np.triu_indices(3, 1)])
    r, c = fnp.tril_indices(3, 1, 4)
    wr, wc = np.tril_indices(3, 1, 4)
    _same(r, wr.astype(np.int32))
    _same(c, wc.astype(np.int32))


# Python scalars are weakly typed (JAX's type promotion docs), also in these functions

def test_python_scalars_stay_weak_in_append_kron_and_set_operations():
    u8 = np.array([3, 1, 2], np.uint8)
    h = np.array([0.5, 1.5], np.float16)
    assert fnp.append(u8, 7).dtype == np.uint8
    _same(fnp.append(u8, 7), np.array([3, 1, 2, 7], np.uint8))
    assert fnp.append(h, 2.5).dtype == np.float16
    assert fnp.kron(u8, 2).dtype == np.uint8
    _same(fnp.kron(u8, 2), (u8 * 2).astype(np.uint8))
    _same(fnp.union1d(u8, 5), np.array([1, 2, 3, 5], np.uint8))
    _same(fnp.intersect1d(u8, 2), np.array([2], np.uint8))
    _same(fnp.setxor1d(h, 0.5), np.array([1.5], np.float16))
    # a strong array still promotes: uint8 with int32 is int32
    assert fnp.append(u8, np.array([1], np.int32)).dtype == np.int32


def test_linspace_dtype_follows_its_bounds():
    # JAX: without dtype, the inexact result_type of start and stop
    assert fnp.linspace(np.float16(0), 1, 5).dtype == np.float16
    assert fnp.linspace(0, 1, 5).dtype == np.float32
    assert fnp.linspace(np.int32(0), 4, 5).dtype == np.float32
    z = fnp.linspace(np.complex64(1j), 2, 3)
    _same(z, np.linspace(1j, 2, 3).astype(np.complex64))
    # an integer dtype floors, as NumPy's linspace
    _same(fnp.linspace(-3, 3, 4, dtype=np.int32), np.linspace(-3, 3, 4, dtype=np.int32))


def test_linspace_with_array_bounds_under_jit_matches_numpy():
    lo, hi = X[0], X[1]
    for axis in (0, 1, -1):
        want = np.linspace(lo.astype(np.float64), hi, 5, axis=axis).astype(np.float32)
        _same(fnp.linspace(lo, hi, 5, axis=axis), want)
        got = ft.jit(lambda a, b, axis=axis: fnp.linspace(a, b, 5, axis=axis))(lo, hi)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        assert got.shape == want.shape
    # endpoint: the last sample is stop itself
    got = ft.jit(lambda a, b: fnp.linspace(a, b, 7))(np.float32(0.1), np.float32(0.7))
    assert got[-1] == np.float32(0.7)


def test_geomspace_axis_with_array_bounds():
    lo = np.array([1., 2.], np.float32)
    hi = np.array([100., 32.], np.float32)
    want = np.geomspace(lo.astype(np.float64), hi, 3, axis=-1).astype(np.float32)
    _same(fnp.geomspace(lo, hi, 3, axis=-1), want)


# integer dtypes kept where JAX keeps them, promoted where JAX promotes

def test_matrix_power_of_integers_stays_integer():
    m = np.array([[1, 1], [0, 1]], np.int32)
    _same(fnp.linalg.matrix_power(m, 5), np.linalg.matrix_power(m, 5))
    _same(fnp.linalg.matrix_power(m.astype(np.uint8), 0), np.eye(2, dtype=np.uint8))
    assert fnp.linalg.matrix_power(m, -1).dtype == np.float32  # the inverse is inexact


def test_polymul_and_polyder_promote_integers_to_float():
    # JAX's docs: jnp.polymul / jnp.polyder of integer coefficients give float32 arrays
    p = np.array([3, 2, 1], np.int32)
    _same(fnp.polymul(p, p), np.polymul(p, p).astype(np.float32))
    _same(fnp.polyder(p), np.polyder(p).astype(np.float32))


# gathers clamp out-of-range indices (JAX's sharp bits: "for retrieval operations
# out-of-bound indices are clamped to the bounds of the array")

def test_gather_with_constant_out_of_range_indices_clamps_under_jit():
    idx = np.array([0, 7, -1, -8])
    want = X[np.clip(np.where(idx < 0, idx + 3, idx), 0, 2)]
    _same(ft.jit(lambda x: x[idx])(X), want)
    _same(ft.jit(lambda x: x[1, 9])(X), X[1, 3])
    _same(ft.jit(lambda x: x[-5])(X), X[0])
    cols = np.array([[9], [-9]])
    _same(ft.jit(lambda x: x[:, cols])(X), X[:, np.array([[3], [0]])])


# empty arrays: empty results, as NumPy

def test_diagonal_and_median_of_empty_arrays_are_empty():
    e = np.zeros((0, 4), np.float32)
    _same(fnp.diagonal(e), np.diagonal(e))
    _same(fnp.diag(e), np.diag(e))
    _same(fnp.median(e, axis=-1), np.zeros((0,), np.float32))
    _same(fnp.quantile(e, 0.3, axis=1), np.zeros((0,), np.float32))
    _same(fnp.take_along_axis(e, np.zeros((0, 2), np.int32), axis=1), np.zeros((0, 2), np.float32))


def test_diff_prepend_python_scalar_is_weak():
    u = np.array([1, 5, 2], np.uint8)
    _same(fnp.diff(u, prepend=1), np.diff(u, prepend=np.uint8(1)))
    _same(fnp.diff(u, append=np.array([9], np.int32)),
          np.diff(u.astype(np.int32), append=np.array([9], np.int32)))


def test_histogramdd_unweighted_counts_are_integers():
    # JAX's histogramdd counts with an unweighted bincount (default integer dtype); weights
    # and density give floats
    s = np.random.RandomState(1).randn(30, 2).astype(np.float32)
    h, _ = fnp.histogramdd(s, bins=3)
    want, _ = np.histogramdd(s, bins=3)
    _same(h, want.astype(np.int32))
    h2, _, _ = fnp.histogram2d(s[:, 0], s[:, 1], bins=2)
    _same(h2, np.histogram2d(s[:, 0], s[:, 1], bins=2)[0].astype(np.int32))
    assert fnp.histogramdd(s, bins=3, weights=np.ones(30, np.float32))[0].dtype == np.float32
    assert fnp.histogramdd(s, bins=3, density=True)[0].dtype == np.float32


def test_size_tuple_axis_unravel_int_shape_and_0d_array_shapes():
    assert fnp.size(X, axis=(0, 1)) == 12
    assert fnp.size(X, axis=(-1,)) == 4
    (i,) = fnp.unravel_index(np.array([1, 3, 7, -1]), 4)
    _same(i, np.array([1, 3, 3, 3], np.int32))  # out of range: clamped, negative: from the end
    assert fnp.zeros(np.array(2)).shape == (2,)
    assert fnp.ones(np.int32(3)).shape == (3,)


# arange: without dtype, JAX's result_type of the bounds (NumPy scalars are strong,
# Python numbers weak); with dtype, NumPy's arange in that dtype

@pytest.mark.parametrize("args", [(np.float16(0), 3), (np.uint8(5),), (2, np.int8(9)),
                                  (0, 1, np.float16(0.25)), (5,), (0.5, 3), (np.int32(2), 7.5)])
def test_arange_dtype_is_the_result_type_of_its_bounds(args):
    strong = [np.asarray(a).dtype for a in args if isinstance(a, np.generic)]
    weak_float = any(type(a) is float for a in args)
    want = np.result_type(*strong) if strong else np.dtype(np.int32)
    if weak_float and want.kind in "iub":
        want = np.dtype(np.float32)
    got = fnp.arange(*args)
    assert got.dtype == want
    np.testing.assert_allclose(got, np.arange(*[float(a) for a in args]), rtol=1e-3)


def test_arange_with_integer_dtype_and_float_step_counts_like_numpy():
    _same(fnp.arange(0, 5, 1.5, dtype=np.int32), np.arange(0, 5, 1.5, dtype=np.int32))


def test_python_int_out_of_a_narrow_dtype_wraps_around():
    # a weak Python int takes the array's dtype (JAX's promotion table: u8 + int -> u8)
    # and, as in JAX, an out-of-range value wraps instead of raising
    u = np.array([1, 44], np.uint8)
    _same(fnp.add(u, 300), u + np.uint8(300 % 256))
    _same(fnp.equal(u, 300), np.array([False, True]))
    _same(fnp.add(np.array([1, -1], np.int8), 200), np.array([-55, -57], np.int8))


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_complex_convolve_and_correlate_match_numpy(mode):
    # jnp.correlate conjugates its second argument, as numpy.correlate
    r = np.random.RandomState(3)
    a = (r.randn(5) + 1j * r.randn(5)).astype(np.complex64)
    v = (r.randn(3) + 1j * r.randn(3)).astype(np.complex64)
    f = r.randn(3).astype(np.float32)
    for x, y in ((a, v), (v, a), (a, f), (f, a)):
        np.testing.assert_allclose(fnp.correlate(x, y, mode), np.correlate(x, y, mode),
                                   atol=1e-5)
        np.testing.assert_allclose(fnp.convolve(x, y, mode), np.convolve(x, y, mode),
                                   atol=1e-5)
        assert fnp.correlate(x, y, mode).dtype == np.complex64


@pytest.mark.parametrize("stat_length", [None, 2, ((1, 2), (3, 1))])
def test_pad_median_mode_matches_numpy(stat_length):
    # jnp.pad lists mode='median' among its modes (NumPy's semantics)
    ints = np.random.RandomState(4).randint(-5, 6, (3, 5)).astype(np.int32)
    for x in (X, ints):
        _same(fnp.pad(x, ((1, 2), (2, 1)), mode="median", stat_length=stat_length),
              np.pad(x, ((1, 2), (2, 1)), mode="median", stat_length=stat_length))


def test_gradient_with_coordinate_arrays_matches_numpy():
    # jnp.gradient accepts 1-D spacing arrays (sample coordinates), as numpy.gradient
    c4 = np.array([0., 1., 3., 4.5], np.float32)
    c3 = np.array([0., .5, 2.], np.float32)
    np.testing.assert_allclose(fnp.gradient(X, c4, axis=1), np.gradient(X, c4, axis=1),
                               atol=1e-5)
    for got, want in zip(fnp.gradient(X, c3, c4), np.gradient(X, c3, c4), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5)
    got = ft.jit(lambda f, c: fnp.gradient(f, 2.0, c))(X, c4)
    for g, w in zip(got, np.gradient(X, 2.0, c4), strict=True):
        np.testing.assert_allclose(g, w, atol=1e-5)


@pytest.mark.parametrize("ord_", [2, 1, np.inf, 3])
def test_vector_norm_over_several_axes_is_a_vector_norm(ord_):
    # the array API's vector_norm (jnp.linalg.vector_norm): a tuple axis means the vector
    # of those entries (numpy.linalg.vector_norm), never a matrix norm
    x3 = np.random.RandomState(5).randn(2, 3, 4).astype(np.float32)
    for axis in ((0, 1), (-1, 0), None):
        want = np.linalg.vector_norm(x3, axis=axis, ord=ord_)
        np.testing.assert_allclose(fnp.linalg.vector_norm(x3, axis=axis, ord=ord_), want,
                                   rtol=1e-5)
        got = fnp.linalg.vector_norm(x3, axis=axis, ord=ord_, keepdims=True)
        assert got.shape == np.linalg.vector_norm(x3, axis=axis, ord=ord_,
                                                  keepdims=True).shape
    assert fnp.linalg.vector_norm(np.float32(-3.0)).shape == ()


def test_logspace_computes_in_the_requested_dtype():
    # JAX: logspace's computation dtype is the (inexact) requested dtype, so float16
    # bounds with dtype=float32 do not overflow float16
    s = np.array([1., 6.5, -2.], np.float16)
    want = np.logspace(s.astype(np.float64), 7.0, 4).astype(np.float32)
    np.testing.assert_allclose(fnp.logspace(s, 7.0, 4, dtype=np.float32), want, rtol=1e-5)
    assert fnp.logspace(s, 7.0, 4, dtype=np.float32).dtype == np.float32
