"""functrace.numpy reductions against NumPy, for random shapes, axes and keepdims."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import functrace.numpy as fnp
from functrace.errors import ShapeError


@st.composite
def array_and_axis(draw, min_side=1):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=min_side, max_side=4))
    nd = len(shape)
    axis = draw(st.one_of(
        st.none(), st.integers(-nd, nd - 1),
        st.lists(st.integers(0, nd - 1), unique=True, max_size=nd).map(
            lambda axes: tuple(a - nd if i % 2 else a for i, a in enumerate(axes)))))
    return shape, axis, draw(st.booleans()), draw(st.integers(0, 99))


JAX_DTYPE = {  # (function, input dtype) -> result dtype under JAX's rules
    ("sum", "int32"): np.int32, ("sum", "bool"): np.int32, ("prod", "int32"): np.int32,
    ("mean", "int32"): np.float32, ("mean", "bool"): np.float32, ("var", "int32"): np.float32,
    ("std", "int32"): np.float32,
}


def _input(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if dtype == "int32":
        return rng.integers(-3, 4, shape).astype(np.int32)
    return rng.uniform(-2, 2, shape).astype(np.float32)


@pytest.mark.parametrize("name", ["sum", "mean", "var", "std", "max", "min", "prod", "amax",
                                  "amin", "all", "any"])
@pytest.mark.parametrize("dtype", ["float32", "int32", "bool"])
@given(case=array_and_axis())
def test_reduction_matches_numpy(name, dtype, case):
    shape, axis, keepdims, seed = case
    if dtype == "bool" and name in ("var", "std", "prod"):
        return
    x = _input(shape, dtype, seed)
    got = getattr(fnp, name)(x, axis=axis, keepdims=keepdims)
    want = getattr(np, name)(x, axis=axis, keepdims=keepdims)
    assert got.shape == want.shape
    if name in ("all", "any"):
        assert got.dtype == np.bool_
    elif (name, dtype) in JAX_DTYPE:
        assert got.dtype == JAX_DTYPE[(name, dtype)]
    elif dtype != "bool":
        assert got.dtype == x.dtype
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), seed=st.integers(0, 99),
       keepdims=st.booleans(), data=st.data())
def test_argmax_argmin(name, shape, seed, keepdims, data):
    # small integers, so that ties happen and the first index must win
    x = np.random.default_rng(seed).integers(0, 3, shape).astype(np.float32)
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    got = getattr(fnp, name)(x, axis=axis, keepdims=keepdims)
    want = getattr(np, name)(x, axis=axis, keepdims=keepdims)
    assert got.dtype == np.int32 and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), seed=st.integers(0, 99),
       data=st.data())
def test_cumsum(shape, seed, data):
    x = _input(shape, "float32", seed)
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    np.testing.assert_allclose(fnp.cumsum(x, axis=axis), np.cumsum(x, axis=axis), rtol=1e-5,
                               atol=1e-5)
    xi = _input(shape, "bool", seed)
    got = fnp.cumsum(xi, axis=axis)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, np.cumsum(xi, axis=axis))


def test_dtype_argument_and_ddof():
    x = np.arange(6, dtype=np.int32).reshape(2, 3)
    assert fnp.sum(x, dtype=np.float32).dtype == np.float32
    assert fnp.mean(x, axis=1, dtype=np.float32).dtype == np.float32
    np.testing.assert_allclose(fnp.var(x, axis=1, ddof=1), np.var(x, axis=1, ddof=1))
    np.testing.assert_allclose(fnp.std(x, ddof=1), np.std(x, ddof=1), rtol=1e-6)


def test_average_and_count_nonzero():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    w = np.array([[1, 2, 3], [1, 1, 1]], np.float32)
    np.testing.assert_allclose(fnp.average(x, axis=1, weights=w),
                               np.average(x, axis=1, weights=w), rtol=1e-6)
    np.testing.assert_array_equal(fnp.count_nonzero(x, axis=0), np.count_nonzero(x, axis=0))


def test_errors():
    with pytest.raises(ShapeError, match="out of bounds"):
        fnp.sum(np.ones((2, 3)), axis=2)
    with pytest.raises(ShapeError, match="repeated axis"):
        fnp.sum(np.ones((2, 3)), axis=(0, -2))
    with pytest.raises(ShapeError, match="zero-size"):
        fnp.max(np.ones((0, 3)), axis=0)
