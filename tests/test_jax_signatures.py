"""JAX's argument names and keyword arguments on functrace.numpy: renamed parameters
(``clip(arr, min, max)``, ``reshape(a, shape)``...), the keywords with semantics
(``where=``, ``weights=``, ``preferred_element_type=``...) checked against NumPy, and the
keywords accepted only at their default (``out=``, ``out_sharding=``, ``device=``)."""

import inspect
import warnings

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace.errors import UnsupportedArgumentError

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 5)).astype(np.float32)
M = RNG.uniform(size=(3, 5)) > 0.3


def _close(a, b, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                               rtol=rtol, atol=atol, equal_nan=True)


def _params(f):
    return list(inspect.signature(f).parameters)


# ---------------------------------------------------------------------------
# renamed parameters

def test_clip_min_max_names_positional_and_keyword():
    x = np.array([-2.0, 0.5, 3.0], np.float32)
    _close(fnp.clip(x, -1.0, 1.0), np.clip(x, -1.0, 1.0))
    _close(fnp.clip(x, min=0.0), np.maximum(x, 0.0))
    _close(fnp.clip(x, max=0.0), np.minimum(x, 0.0))
    assert _params(fnp.clip)[:3] == ["arr", "min", "max"]
    with pytest.raises(TypeError):  # arr is positional-only, as in JAX
        fnp.clip(arr=x, min=0.0)


def test_clip_deprecated_a_min_a_max_still_work_with_a_warning():
    x = np.array([-2.0, 0.5, 3.0], np.float32)
    with pytest.warns(DeprecationWarning, match="a_min"):
        out = fnp.clip(x, a_min=-1.0, max=1.0)
    _close(out, np.clip(x, -1.0, 1.0))
    with pytest.raises(TypeError, match="both"):
        fnp.clip(x, 0.0, a_min=0.0)
    with pytest.raises(TypeError, match="complex"):
        fnp.clip(np.array([1 + 1j], np.complex64), 0.0)


def test_reshape_shape_keyword_and_deprecated_newshape():
    x = np.arange(6, dtype=np.int32)
    assert fnp.reshape(x, shape=(2, 3)).shape == (2, 3)
    assert fnp.reshape(x, (3, -1), copy=True).shape == (3, 2)
    with pytest.warns(DeprecationWarning, match="newshape"):
        assert fnp.reshape(x, newshape=(6, 1)).shape == (6, 1)
    with pytest.raises(TypeError, match="both"):
        fnp.reshape(x, (6,), newshape=(6,))
    with pytest.raises(NotImplementedError, match="out_sharding"):
        fnp.reshape(x, (6,), out_sharding="x")


@pytest.mark.parametrize("name", ["equal", "not_equal", "less", "less_equal", "greater",
                                  "greater_equal", "float_power", "nextafter", "left_shift",
                                  "bitwise_left_shift"])
def test_binary_operand_names_are_x_y(name):
    assert _params(getattr(fnp, name)) == ["x", "y"]
    a, b = np.array([1, 4, 2], np.int32), np.array([3, 1, 2], np.int32)
    if name == "nextafter":
        a, b = a.astype(np.float32), b.astype(np.float32)
    np.testing.assert_array_equal(np.asarray(getattr(fnp, name)(a, b)),
                                  getattr(np, name)(a, b).astype(
                                      np.float32 if name == "float_power" else None))


def test_operands_that_jax_lets_pass_by_keyword():
    a, b = np.array([1.0, np.nan], np.float32), np.array([2.0, 0.0], np.float32)
    _close(fnp.fmax(x1=a, x2=b), np.fmax(a, b))
    _close(fnp.fmin(x1=a, x2=b), np.fmin(a, b))
    assert int(fnp.gcd(x1=12, x2=18)) == 6 and int(fnp.lcm(x1=4, x2=6)) == 12
    _close(fnp.trunc(x=np.float32(-1.5)), -1.0)
    assert not bool(fnp.iscomplex(x=1.0)) and bool(fnp.isreal(x=1.0))
    _close(fnp.matmul(a=np.eye(2, dtype=np.float32), b=b), b)


def test_renamed_parameters_of_small_functions():
    assert _params(fnp.real) == _params(fnp.imag) == ["val"]
    assert fnp.promote_types(a=np.int8, b=np.uint8) == np.int16
    x = np.arange(3.0, dtype=np.float32)
    _close(fnp.copy(x, order="F"), x)
    e = fnp.empty_like(prototype=np.ones((2, 3), np.int8))
    assert e.shape == (2, 3) and e.dtype == np.int8
    assert [p.tolist() for p in ft.lax.unstack(x=np.eye(2, dtype=np.int32))] == [[1, 0], [0, 1]]
    assert ft.lax.empty((2, 3), np.float32).shape == (2, 3)


@pytest.mark.parametrize("trim", ["fb", "f", "b"])
@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)])
def test_trim_zeros_axis_matches_numpy(trim, axis):
    a = np.zeros((5, 6), np.int32)
    a[1, 2], a[3, 4] = 1, 2
    np.testing.assert_array_equal(np.asarray(fnp.trim_zeros(a, trim, axis=axis)),
                                  np.trim_zeros(a, trim, axis=axis))


def test_linalg_array_api_functions():
    a = RNG.normal(size=(2, 3, 3)).astype(np.float32)
    _close(fnp.linalg.trace(a, offset=1), np.trace(a, offset=1, axis1=-2, axis2=-1))
    _close(fnp.trace(a), np.trace(a))  # fnp.trace keeps NumPy's axes 0 and 1
    v, w = np.arange(1.0, 3.0, dtype=np.float32), np.arange(3.0, dtype=np.float32)
    _close(fnp.linalg.outer(v, w), np.outer(v, w))
    with pytest.raises(ValueError, match="1-D"):
        fnp.linalg.outer(a, w)
    _close(fnp.linalg.tensordot(a[0], a[1], axes=1), np.tensordot(a[0], a[1], axes=1), rtol=1e-4)
    _close(fnp.linalg.matmul(a, a), a @ a, rtol=1e-4)
    for f in (fnp.linalg.matmul, fnp.linalg.outer, fnp.linalg.tensordot):
        assert _params(f)[:2] == ["x1", "x2"]


def test_config_context_managers_take_new_val():
    with ft.default_matmul_precision(new_val="float32"):
        assert ft.config.default_matmul_precision == "float32"
    with ft.numpy_rank_promotion(new_val="raise"), pytest.raises(ValueError):
        fnp.ones((2, 3)) + fnp.ones(3)
    with ft.debug_nans(new_val=False):
        pass
    assert ft.process_count(backend="cpu") == 1 and ft.process_index("cpu") == 0
    assert ft.process_indices(backend=None) == [0]
    with pytest.raises(ft.FunctraceError):
        ft.process_count(backend="no-such-platform")


# ---------------------------------------------------------------------------
# keywords with semantics

@pytest.mark.parametrize("name", ["sum", "prod", "mean", "std", "var", "nanstd", "nanvar",
                                  "max", "min"])
def test_reductions_where_match_numpy(name):
    kw = {"initial": 0.0 if name in ("max", "min") else None}
    if kw["initial"] is None:
        kw = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = getattr(np, name)(X, axis=1, where=M, **kw)
    _close(getattr(fnp, name)(X, axis=1, where=M, **kw), ref, rtol=1e-4)


def test_all_any_where_and_sum_initial_promote_integers():
    b = X > 0
    np.testing.assert_array_equal(fnp.all(b, axis=0, where=M), np.all(b, axis=0, where=M))
    np.testing.assert_array_equal(fnp.any(b, axis=0, where=M), np.any(b, axis=0, where=M))
    _close(fnp.sum(X, axis=0, initial=2.0, where=M), np.sum(X, axis=0, initial=2.0, where=M))
    _close(fnp.prod(X, axis=1, initial=-1.0), np.prod(X, axis=1, initial=-1.0))
    i8 = np.array([100, 100, 100], np.int8)
    assert int(fnp.sum(i8)) == 300  # promoted to the default int
    assert fnp.sum(i8, promote_integers=False).dtype == np.int8


def test_std_var_correction_and_mean():
    _close(fnp.var(X, axis=1, correction=1), np.var(X, axis=1, ddof=1))
    _close(fnp.std(X, axis=0, correction=2), np.std(X, axis=0, ddof=2), rtol=1e-4)
    mu = np.mean(X, axis=1, keepdims=True)
    _close(fnp.var(X, axis=1, mean=mu), np.var(X, axis=1, mean=mu))
    _close(fnp.nanvar(X, axis=1, mean=mu), np.nanvar(X, axis=1, mean=mu))


def test_ufunc_call_out_and_where_only_none():
    _close(fnp.add(X, 1.0, out=None, where=None), X + 1.0)
    for kw in ({"out": np.zeros_like(X)}, {"where": M}):
        with pytest.raises(NotImplementedError, match=next(iter(kw))):
            fnp.multiply(X, X, **kw)


@pytest.mark.parametrize("f, args", [
    (fnp.sum, (X,)), (fnp.mean, (X,)), (fnp.ptp, (X,)), (fnp.trace, (X,)),
    (fnp.outer, (X[0], X[1])), (fnp.stack, ([X, X],)), (fnp.isposinf, (X,)),
    (fnp.modf, (X,)), (fnp.quantile, (X, 0.5)),
])
def test_out_argument_none_only(f, args):
    f(*args, out=None)
    with pytest.raises(NotImplementedError, match="out"):
        f(*args, out=np.zeros(1, np.float32))


def test_take_and_take_along_axis_modes():
    a = np.arange(5.0, dtype=np.float32)
    idx = np.array([0, 7, -1], np.int32)
    _close(fnp.take(a, idx, mode="clip"), np.take(a, idx, mode="clip"))
    _close(fnp.take(a, idx, mode="wrap", unique_indices=True, indices_are_sorted=False),
           np.take(a, idx, mode="wrap"))
    # mode="fill": out-of-bound indices give fill_value; -1 counts from the end (JAX)
    _close(fnp.take(a, idx, mode="fill", fill_value=-9.0), [0.0, -9.0, 4.0])
    ia = np.array([[0, 9]] * 3, np.int32)
    out = fnp.take_along_axis(X, ia, axis=1, mode="fill", fill_value=5.0)
    _close(out, np.stack([X[:, 0], np.full(3, 5.0, np.float32)], axis=1))


def test_where_size_fill_value():
    rows, cols = fnp.where(X > 0, size=20, fill_value=-1)
    ref_r, ref_c = np.nonzero(X > 0)
    k = len(ref_r)
    np.testing.assert_array_equal(np.asarray(rows)[:k], ref_r)
    np.testing.assert_array_equal(np.asarray(cols)[:k], ref_c)
    assert (np.asarray(rows)[k:] == -1).all() and len(rows) == 20


@pytest.mark.parametrize("f", ["inner", "vdot", "tensordot", "dot", "matmul"])
def test_preferred_element_type_accumulates_wider(f):
    a = np.full((4,), 100, np.int8)
    ref = getattr(np, f)(a.astype(np.int32), a.astype(np.int32), **(
        {"axes": 1} if f == "tensordot" else {}))
    out = getattr(fnp, f)(a, a, preferred_element_type=np.int32,
                          **({"axes": 1} if f == "tensordot" else {}))
    assert out.dtype == np.int32 and int(out) == int(ref) == 40000


def test_argsort_dtype_and_kind():
    a = np.array([3.0, 1.0, 2.0, 1.0], np.float32)
    out = fnp.argsort(a, dtype=np.int16)
    assert out.dtype == np.int16
    np.testing.assert_array_equal(out, np.argsort(a, kind="stable"))
    with pytest.raises(TypeError, match="stable"):
        fnp.argsort(a, kind="quicksort")
    with pytest.raises(TypeError):
        fnp.argsort(a, dtype=np.float32)


def test_matrix_rank_hermitian_and_eigvalsh_symmetrize_input():
    b = RNG.normal(size=(4, 2)).astype(np.float32)
    h = b @ b.T  # rank 2, symmetric
    assert int(fnp.linalg.matrix_rank(h, hermitian=True)) == np.linalg.matrix_rank(
        h, hermitian=True) == 2
    a = RNG.normal(size=(3, 3)).astype(np.float32)  # not symmetric
    # without symmetrizing only the lower triangle is read, as NumPy's eigvalsh
    _close(fnp.linalg.eigvalsh(a, symmetrize_input=False), np.linalg.eigvalsh(a), rtol=1e-4,
           atol=1e-5)
    _close(fnp.linalg.eigvalsh(a), np.linalg.eigvalsh((a + a.T) / 2), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("fn", ["quantile", "nanquantile", "percentile", "nanpercentile"])
@pytest.mark.parametrize("axis", [None, 1, (0, 1)])
def test_weighted_inverted_cdf_quantiles_match_numpy(fn, axis):
    a = RNG.normal(size=(3, 6)).astype(np.float32)
    a[1, 2] = np.nan if fn.startswith("nan") else a[1, 2]
    w = RNG.uniform(0.1, 2.0, size=a.shape).astype(np.float32)
    q = np.array([0.0, 0.2, 0.5, 0.9, 1.0], np.float32) * (100 if "percentile" in fn else 1)
    ref = getattr(np, fn)(a, q, axis=axis, method="inverted_cdf", weights=w)
    _close(getattr(fnp, fn)(a, q, axis=axis, method="inverted_cdf", weights=w), ref)
    _close(getattr(fnp, fn)(a, q, axis=axis, method="inverted_cdf"),
           getattr(np, fn)(a, q, axis=axis, method="inverted_cdf"))


def test_weights_of_the_reduced_axis_and_errors():
    a = RNG.normal(size=(3, 6)).astype(np.float32)
    w = RNG.uniform(size=6).astype(np.float32)
    _close(fnp.quantile(a, 0.3, axis=1, method="inverted_cdf", weights=w),
           np.quantile(a, 0.3, axis=1, method="inverted_cdf", weights=np.broadcast_to(w, a.shape)))
    with pytest.raises(NotImplementedError, match="inverted_cdf"):
        fnp.quantile(a, 0.3, weights=np.ones_like(a))
    bad = np.ones_like(a)
    bad[0, 0] = -1.0  # a negative weight: NaN for that slice (JAX)
    out = np.asarray(fnp.quantile(a, 0.5, axis=1, method="inverted_cdf", weights=bad))
    assert np.isnan(out[0]) and not np.isnan(out[1:]).any()


def test_small_keywords_with_meaning():
    idx = fnp.ravel_multi_index((np.array([1, 0]), np.array([2, 1])), (2, 3), dtype=np.int16)
    assert idx.dtype == np.int16 and idx.tolist() == [5, 1]
    m = RNG.normal(size=(2, 5)).astype(np.float32)
    _close(fnp.cov(m, None, True, False, None, None, None, np.float32), np.cov(m), rtol=1e-4)
    _close(fnp.corrcoef(m, None, True, np.float32), np.corrcoef(m), rtol=1e-4)
    _close(fnp.compress(np.array([True, False]), m, axis=0, out=None), m[:1])


# ---------------------------------------------------------------------------
# placement keywords: None (or a CPU device) only

@pytest.mark.parametrize("f, args", [
    (fnp.zeros, ((2,),)), (fnp.ones, ((2,),)), (fnp.empty, ((2,),)), (fnp.full, ((2,), 1.0)),
    (fnp.zeros_like, (X,)), (fnp.ones_like, (X,)), (fnp.full_like, (X, 2.0)),
    (fnp.arange, (3,)), (fnp.array, ([1.0],)), (fnp.asarray, ([1.0],)),
])
def test_creation_device_and_out_sharding(f, args):
    cpu = ft.devices("cpu")[0]
    ref = np.asarray(f(*args))
    np.testing.assert_array_equal(np.asarray(f(*args, device=cpu, out_sharding=None)), ref)
    with pytest.raises(NotImplementedError, match="out_sharding"):
        f(*args, out_sharding="data")
    with pytest.raises(UnsupportedArgumentError, match="device"):
        f(*args, device="tpu:0")


@pytest.mark.parametrize("f, args", [
    (fnp.dot, (X, X.T)), (fnp.matmul, (X, X.T)), (fnp.tensordot, (X, X.T, 1)),
    (fnp.ravel, (X,)), (fnp.broadcast_to, (X, (2, 3, 5))), (fnp.repeat, (X, 2)),
    (fnp.bincount, (np.array([0, 2], np.int32),)), (fnp.percentile, (X, 50.0)),
    (fnp.einsum, ("ij,kj->ik", X, X)),
])
def test_out_sharding_none_only(f, args):
    np.testing.assert_array_equal(np.asarray(f(*args, out_sharding=None)), np.asarray(f(*args)))
    with pytest.raises(NotImplementedError, match="out_sharding"):
        f(*args, out_sharding=("x",))
