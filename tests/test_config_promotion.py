"""Config flags that change what functrace.numpy traces (issue 15 item 13):
``numpy_dtype_promotion('strict')``, ``numpy_rank_promotion('warn'/'raise')`` and
``default_matmul_precision``, as context managers and ``config.update`` flags.

Expected behaviour is JAX 0.10's (``jax.numpy_dtype_promotion``'s strict lattice: no
implicit promotion between two different dtypes; a weak Python int may join any
number, a weak float floats and complex numbers, a weak complex complex numbers, and a
Python bool is a strong bool. ``jax_numpy_rank_promotion``: operands of two different
non-zero ranks, rank-0 ones excepted).
"""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import functrace as ft
import functrace.numpy as fnp
from functrace.core.trace import get_aval
from functrace.dtypes import TypePromotionError
from functrace.errors import FunctraceError, ShapeError

DTYPES = [np.bool_, np.int8, np.uint8, np.int16, np.int32, np.float16, np.float32,
          np.complex64]


@pytest.fixture(autouse=True)
def _restore():
    yield
    ft.config.update("numpy_dtype_promotion", "standard")
    ft.config.update("numpy_rank_promotion", "allow")
    ft.config.update("default_matmul_precision", None)


def _arr(dtype, shape=(3,)):
    return np.ones(shape, dtype)


# ---------------------------------------------------------------------------
# strict dtype promotion

@given(st.sampled_from(DTYPES), st.sampled_from(DTYPES))
def test_strict_allows_only_equal_dtypes(a, b):
    x, y = _arr(a), _arr(b)
    with ft.numpy_dtype_promotion("strict"):
        if a == b:
            assert fnp.add(x, y).dtype == np.dtype(a) or a == np.bool_
        else:
            with pytest.raises(TypePromotionError) as err:
                fnp.add(x, y)
            msg = str(err.value)
            assert np.dtype(a).name in msg and np.dtype(b).name in msg and "add" in msg
    # standard promotion is unchanged outside the context
    fnp.add(x, y)


# (array dtype, Python scalar, allowed in strict mode)
WEAK_CASES = [
    (np.int32, 1, True), (np.uint8, 1, True), (np.float32, 1, True), (np.complex64, 1, True),
    (np.int32, 1.0, False), (np.float16, 1.0, True), (np.complex64, 1.0, True),
    (np.float32, 1j, False), (np.complex64, 1j, True), (np.bool_, 1, False),
    (np.int32, True, False), (np.bool_, True, True),
]


@pytest.mark.parametrize("dtype,scalar,ok", WEAK_CASES)
def test_strict_weak_scalars(dtype, scalar, ok):
    x = _arr(dtype)
    with ft.numpy_dtype_promotion("strict"):
        if ok:
            out = fnp.multiply(x, scalar)
            assert out.dtype == np.dtype(dtype)  # the weak scalar takes the array's dtype
        else:
            # JAX names a weak operand by its Python type; a Python bool is a strong bool
            name = "'bool'" if isinstance(scalar, bool) else f"<class '{type(scalar).__name__}'>"
            with pytest.raises(TypePromotionError, match=name):
                fnp.multiply(x, scalar)


def test_strict_between_weak_values_and_under_transforms():
    with ft.numpy_dtype_promotion("strict"):
        # weak with weak: int joins float (JAX's lattice)
        assert get_aval(ft.jit(lambda a, b: fnp.add(a, b))(1, 2.0)).dtype == np.float32
        f = ft.jit(lambda a, b: a * b)
        with pytest.raises(TypePromotionError):
            f(_arr(np.int32), _arr(np.float32))
        np.testing.assert_allclose(ft.grad(lambda x: (x * 2 + 1.0).sum())(_arr(np.float32)),
                                   2.0)
        with pytest.raises(TypePromotionError):
            fnp.where(_arr(np.bool_), _arr(np.int32), _arr(np.float32))
        with pytest.raises(TypePromotionError):
            fnp.concatenate([_arr(np.int32), _arr(np.float32)])
        # explicit casts are the way out
        assert fnp.add(_arr(np.int32).astype(np.float32), _arr(np.float32)).dtype == np.float32


def test_strict_is_a_jit_cache_key():
    f = ft.jit(lambda a, b: a + b)
    x, y = _arr(np.int32), _arr(np.float32)
    assert f(x, y).dtype == np.float32  # traced under 'standard'
    with ft.numpy_dtype_promotion("strict"):
        with pytest.raises(TypePromotionError):
            f(x, y)  # retraced under 'strict', not served from the cache
    assert f(x, y).dtype == np.float32


def test_type_promotion_error_is_a_value_error():
    assert issubclass(TypePromotionError, ValueError)
    assert issubclass(TypePromotionError, FunctraceError)


# ---------------------------------------------------------------------------
# rank promotion

RANK_CASES = [  # shapes, promotes rank (two different non-zero ranks)
    (((2, 3), (3,)), True), (((2, 3), ()), False), (((2, 3), (1, 3)), False),
    (((4, 2, 3), (2, 3)), True), (((3,), (3,)), False), (((2, 1), (1, 3)), False),
]


@pytest.mark.parametrize("shapes,promotes", RANK_CASES)
def test_rank_promotion_raise(shapes, promotes):
    a, b = (np.ones(s, np.float32) for s in shapes)
    want = np.asarray(a) + np.asarray(b)
    with ft.numpy_rank_promotion("raise"):
        if promotes:
            with pytest.raises(ShapeError, match=r"multiply on shapes .*'raise'"):
                fnp.multiply(a, b)
            with pytest.raises(ShapeError, match="'raise'"):
                ft.jit(lambda u, v: u + v)(a, b)
        else:
            np.testing.assert_array_equal(fnp.add(a, b), want)
            np.testing.assert_array_equal(ft.jit(lambda u, v: u + v)(a, b), want)
        # Python scalars never count
        assert fnp.add(a, 1.0).shape == a.shape
    np.testing.assert_array_equal(fnp.add(a, b), want)


def test_rank_promotion_warn():
    a, b = np.ones((2, 3), np.float32), np.ones(3, np.float32)
    with ft.numpy_rank_promotion("warn"):
        with pytest.warns(UserWarning, match=r"rank promotion for add on shapes \(2, 3\) \(3,\)"):
            out = fnp.add(a, b)
        np.testing.assert_array_equal(out, np.full((2, 3), 2.0))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fnp.add(a, np.ones((1, 3), np.float32))  # equal ranks: no warning


def test_rank_promotion_under_vmap_counts_per_example_ranks():
    # vmap adds a batch axis to both operands alike: the per-example ranks are compared
    xs, w = np.ones((4, 2, 3), np.float32), np.ones((2, 3), np.float32)
    with ft.numpy_rank_promotion("raise"):
        assert ft.vmap(lambda x: x * w)(xs).shape == (4, 2, 3)


# ---------------------------------------------------------------------------
# the flags

@pytest.mark.parametrize("name,value,attr", [
    ("jax_numpy_dtype_promotion", "strict", "numpy_dtype_promotion"),
    ("numpy_rank_promotion", "warn", "numpy_rank_promotion"),
    ("jax_numpy_rank_promotion", "raise", "numpy_rank_promotion"),
    ("jax_default_matmul_precision", "highest", "default_matmul_precision"),
    ("default_matmul_precision", "FLOAT32", "default_matmul_precision"),
])
def test_config_update_spellings(name, value, attr):
    ft.config.update(name, value)
    assert getattr(ft.config, attr) == (value.lower() if value.isupper() else value)
    assert ft.config.read(name) == getattr(ft.config, attr) == getattr(ft.config, name)


@pytest.mark.parametrize("ctx,bad", [
    (ft.numpy_dtype_promotion, "loose"), (ft.numpy_rank_promotion, "error"),
    (ft.default_matmul_precision, "fp8"),
])
def test_bad_values_raise_and_leave_the_flag(ctx, bad):
    with pytest.raises(FunctraceError, match="must be one of"):
        with ctx(bad):
            pass
    assert ft.config.numpy_dtype_promotion == "standard"
    assert ft.config.numpy_rank_promotion == "allow"


def test_context_managers_restore_on_error():
    with pytest.raises(RuntimeError):
        with ft.numpy_rank_promotion("raise"), ft.numpy_dtype_promotion("strict"):
            assert ft.config.numpy_rank_promotion == "raise"
            raise RuntimeError
    assert ft.config.numpy_rank_promotion == "allow"
    assert ft.config.numpy_dtype_promotion == "standard"


@pytest.mark.parametrize("precision", [None, "default", "high", "highest", "bfloat16",
                                       "tensorfloat32", "float32"])
def test_default_matmul_precision_changes_no_result(precision):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 7), np.float32), rng.standard_normal((7, 3), np.float32)
    want = np.asarray(fnp.matmul(a, b))
    with ft.default_matmul_precision(precision):
        assert ft.config.default_matmul_precision == precision
        np.testing.assert_array_equal(fnp.matmul(a, b), want)
        np.testing.assert_array_equal(ft.jit(fnp.matmul)(a, b), want)
    assert ft.config.default_matmul_precision is None
