"""Elementwise functrace.numpy functions against NumPy, and JAX's dtype rules."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import functrace.numpy as fnp
from functrace.errors import DTypeError, ShapeError


def _data(rng, shape, dtype, lo=-3.0, hi=3.0):
    if np.dtype(dtype) == np.bool_:
        return rng.random(shape) > 0.5
    return rng.uniform(lo, hi, shape).astype(dtype)


UNARY = [  # (name, low, high)
    ("exp", -3, 3), ("log", 0.1, 5), ("log1p", -0.9, 5), ("expm1", -3, 3), ("sqrt", 0, 5),
    ("tanh", -3, 3), ("sin", -3, 3), ("cos", -3, 3), ("tan", -1.2, 1.2), ("abs", -3, 3),
    ("absolute", -3, 3), ("negative", -3, 3), ("positive", -3, 3), ("sign", -3, 3),
    ("floor", -3, 3), ("ceil", -3, 3), ("trunc", -3, 3), ("square", -3, 3),
    ("reciprocal", 0.5, 3), ("log2", 0.1, 5), ("log10", 0.1, 5), ("exp2", -3, 3),
    ("sinh", -2, 2), ("cosh", -2, 2), ("arctanh", -0.9, 0.9), ("cbrt", -3, 3),
    ("signbit", -3, 3),
]


@pytest.mark.parametrize("name,lo,hi", UNARY)
@given(shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4), seed=st.integers(0, 99))
def test_unary_matches_numpy(name, lo, hi, shape, seed):
    x = _data(np.random.default_rng(seed), shape, np.float32, lo, hi)
    got, want = getattr(fnp, name)(x), getattr(np, name)(x)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["exp", "sqrt", "log1p", "sin", "reciprocal"])
def test_unary_of_int_is_float(name):
    assert fnp.sqrt(np.arange(1, 4, dtype=np.int32)).dtype == np.float32
    assert getattr(fnp, name)(np.arange(1, 4, dtype=np.int32)).dtype == np.float32


def test_int_functions_stay_int():
    x = np.array([-3, 0, 5], np.int32)
    for name in ("abs", "negative", "sign", "floor", "ceil", "square"):
        got = getattr(fnp, name)(x)
        assert got.dtype == np.int32
        np.testing.assert_array_equal(got, getattr(np, name)(x))


BINARY_F = ["add", "subtract", "multiply", "divide", "true_divide", "maximum", "minimum",
            "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
            "logaddexp", "float_power", "floor_divide", "remainder", "mod", "power",
            "logical_and", "logical_or", "logical_xor"]


@pytest.mark.parametrize("name", BINARY_F)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4),
       seed=st.integers(0, 99))
def test_binary_float_broadcasting_matches_numpy(name, shapes, seed):
    rng = np.random.default_rng(seed)
    positive = name in ("power", "float_power")
    x = _data(rng, shapes.input_shapes[0], np.float32, 0.1 if positive else -3, 3)
    y = _data(rng, shapes.input_shapes[1], np.float32, 0.5, 2.0) if name in (
        "divide", "true_divide", "floor_divide", "remainder", "mod", "power", "float_power"
    ) else _data(rng, shapes.input_shapes[1], np.float32)
    got, want = getattr(fnp, name)(x, y), getattr(np, name)(x, y)
    assert got.shape == want.shape
    if name != "float_power":
        assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("name", ["add", "subtract", "multiply", "maximum", "minimum",
                                  "floor_divide", "remainder", "bitwise_and", "bitwise_or",
                                  "bitwise_xor", "equal", "less", "power"])
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4),
       seed=st.integers(0, 99))
def test_binary_int_matches_numpy(name, shapes, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-20, 20, shapes.input_shapes[0]).astype(np.int32)
    y = rng.integers(1, 6, shapes.input_shapes[1]).astype(np.int32)
    if name in ("floor_divide", "remainder"):
        y = y * rng.choice([-1, 1], shapes.input_shapes[1]).astype(np.int32)
    got, want = getattr(fnp, name)(x, y), getattr(np, name)(x, y)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("a,b,expected", [
    (np.float32, 2.0, np.float32),     # weak Python float adopts the array's dtype
    (np.int32, 2.5, np.float32),       # ...or promotes to the default float
    (np.int32, 2, np.int32),
    (np.float16, 2.0, np.float16),
    (np.uint8, 3, np.uint8),
    (np.bool_, 1, np.int32),
    (np.int32, np.float32, np.float32),  # int with float: the float wins (not float64)
    (np.int8, np.uint8, np.int16),
    (np.float16, np.float32, np.float32),
    (np.float32, np.float64, np.float32),  # float64 arrays are float32 without x64
    (np.int32, np.int64, np.int32),
    (np.bool_, np.int32, np.int32),
])
def test_jax_promotion(a, b, expected):
    x = np.ones(3, a)
    y = np.ones(3, b) if isinstance(b, type) else b
    assert fnp.add(x, y).dtype == expected
    assert fnp.multiply(y, x).dtype == expected
    assert fnp.result_type(x, y) == expected


def test_promotion_under_x64(x64):
    assert fnp.add(np.ones(2, np.float32), np.ones(2, np.float64)).dtype == np.float64
    assert fnp.multiply(np.ones(2, np.int32), 2.5).dtype == np.float64
    assert fnp.add(np.ones(2, np.float32), 1.0).dtype == np.float32


def test_python_scalars_only():
    assert fnp.add(2, 3.0).dtype == np.float32
    assert fnp.add(2, 3).dtype == np.int32
    assert fnp.true_divide(1, 2) == 0.5


def test_int_true_divide_is_float():
    out = fnp.divide(np.array([1, 2], np.int32), np.array([2, 4], np.int32))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [0.5, 0.5])


def test_broadcast_error_names_op_and_shapes():
    with pytest.raises(ShapeError, match=r"add: operands could not be broadcast together "
                                         r"with shapes \(3,\) \(4,\)"):
        fnp.add(np.ones(3), np.ones(4))
    with pytest.raises(ShapeError, match="where"):
        fnp.where(np.ones(3) > 0, np.ones(2), 0.0)


def test_bitwise_rejects_floats():
    with pytest.raises(DTypeError):
        fnp.bitwise_and(np.ones(2, np.float32), 1)


def test_special_values():
    x = np.array([1.0, np.inf, -np.inf, np.nan, 0.0], np.float32)
    for name in ("isfinite", "isnan", "isinf"):
        np.testing.assert_array_equal(getattr(fnp, name)(x), getattr(np, name)(x))
        assert getattr(fnp, name)(np.arange(3)).dtype == np.bool_
    np.testing.assert_allclose(fnp.nan_to_num(x), np.nan_to_num(x))


def test_logical_not_and_invert():
    x = np.array([0, 1, 2], np.int32)
    np.testing.assert_array_equal(fnp.logical_not(x), np.logical_not(x))
    np.testing.assert_array_equal(fnp.invert(x), np.invert(x))
    np.testing.assert_array_equal(fnp.invert(x > 0), ~(x > 0))


@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3),
       seed=st.integers(0, 99))
def test_where_broadcasts_three_ways(shapes, seed):
    rng = np.random.default_rng(seed)
    c = rng.random(shapes.input_shapes[0]) > 0.5
    x = rng.standard_normal(shapes.input_shapes[1]).astype(np.float32)
    y = rng.integers(0, 5, shapes.input_shapes[2]).astype(np.int32)
    got = fnp.where(c, x, y)
    np.testing.assert_array_equal(got, np.where(c, x, y))
    assert got.dtype == np.float32


def test_where_scalars_and_one_arg_form():
    c = np.array([True, False])
    got = fnp.where(c, 1.0, 0.0)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, [1.0, 0.0])
    assert fnp.where(c, np.ones(2, np.float32), 0).dtype == np.float32
    (idx,) = fnp.where(c)  # the one-argument form is nonzero, as in JAX and NumPy
    np.testing.assert_array_equal(idx, np.nonzero(c)[0])


@pytest.mark.parametrize("lo,hi", [(0.0, 1.0), (None, 0.5), (-0.5, None),
                                   (np.zeros(3, np.float32), np.ones(3, np.float32))])
def test_clip(lo, hi):
    x = np.array([-1.0, 0.25, 2.0], np.float32)
    got = fnp.clip(x, lo, hi)
    np.testing.assert_array_equal(got, np.clip(x, lo, hi))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(fnp.clip(x, min=0.0), np.clip(x, 0.0, None))


def test_power_with_python_int_uses_integer_pow():
    x = np.array([-2.0, 3.0], np.float32)
    np.testing.assert_array_equal(fnp.power(x, 3), x ** 3)
    np.testing.assert_allclose(fnp.power(x, -2), x ** -2.0)
    with pytest.raises(DTypeError, match="negative"):
        fnp.power(np.array([2], np.int32), -1)


@pytest.mark.parametrize("decimals", [0, 1, 2])
def test_round_half_to_even(decimals):
    x = np.array([0.5, 1.5, 2.5, -1.5, 0.49999997, 1.2345, -3.75, 2.0 ** 24 + 2], np.float32)
    np.testing.assert_array_equal(fnp.round(x, decimals), np.round(x, decimals))
    np.testing.assert_array_equal(fnp.rint(x), np.rint(x))
    assert fnp.round(np.array([3], np.int32)).dtype == np.int32


def test_isclose_allclose_array_equal():
    a = np.array([1.0, np.inf, np.nan, 2.0], np.float32)
    b = np.array([1.0 + 1e-7, np.inf, np.nan, 2.1], np.float32)
    np.testing.assert_array_equal(fnp.isclose(a, b), np.isclose(a, b))
    np.testing.assert_array_equal(fnp.isclose(a, b, equal_nan=True),
                                  np.isclose(a, b, equal_nan=True))
    assert bool(fnp.allclose(a[:2], b[:2])) and not bool(fnp.allclose(a, b))
    assert bool(fnp.array_equal(a, a, equal_nan=True)) and not bool(fnp.array_equal(a, a))
    assert not bool(fnp.array_equal(a, a[:2]))
    assert fnp.ptp(a[[0, 3]]) == 1.0
