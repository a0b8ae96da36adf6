import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import functrace as ft
from functrace import lax
from functrace.errors import DTypeError, ShapeError
from functrace.test_util import check_grads

fixture_ok = settings(suppress_health_check=[HealthCheck.function_scoped_fixture,
                                             HealthCheck.too_slow])
shapes = st.lists(st.integers(0, 3), min_size=1, max_size=3).map(tuple)


@given(size=st.integers(0, 6), dtype=st.sampled_from([np.int32, np.float32, np.uint8]))
def test_iota(size, dtype):
    out = lax.iota(dtype, size)
    np.testing.assert_array_equal(out, np.arange(size))
    assert out.dtype == dtype and out.shape == (size,)


@given(shape=shapes, data=st.data())
def test_broadcasted_iota(shape, data):
    dim = data.draw(st.integers(0, len(shape) - 1))
    out = lax.broadcasted_iota(np.int32, shape, dim)
    expected = np.indices(shape)[dim] if shape else np.zeros(())
    np.testing.assert_array_equal(out, expected)


def test_iota_dtype_canonicalisation(x64):
    assert lax.iota(np.int64, 3).dtype == np.int64
    assert lax.iota(np.float64, 3).dtype == np.float64


def test_iota_narrow_without_x64():
    assert lax.iota(np.int64, 3).dtype == np.int32
    assert lax.iota(np.float64, 3).dtype == np.float32


def test_iota_jaxpr_and_errors():
    jaxpr = ft.make_jaxpr(lambda: lax.iota(np.int32, 4))()
    (eqn,) = jaxpr.eqns
    assert eqn.primitive.name == "iota" and eqn.inputs == []
    assert eqn.params == {"dtype": np.dtype(np.int32), "shape": (4,), "dimension": 0}
    hash(tuple(eqn.params.items()))
    with pytest.raises(ShapeError, match=r"dimension 2 is out of range for shape \(2, 3\)"):
        lax.broadcasted_iota(np.int32, (2, 3), 2)
    with pytest.raises(DTypeError, match="numeric"):
        lax.iota(np.bool_, 3)
    with pytest.raises(ShapeError, match="negative"):
        lax.iota(np.int32, -1)


@given(shape=shapes, value=st.one_of(st.integers(-5, 5), st.floats(-3, 3), st.booleans()))
def test_full_matches_numpy(shape, value):
    out = lax.full(shape, value)
    expected = np.full(shape, value)
    np.testing.assert_allclose(out, expected.astype(out.dtype), rtol=1e-6)
    assert out.dtype == {bool: np.bool_, int: np.int32, float: np.float32}[type(value)]


def test_full_dtypes():
    assert lax.full((2,), 1.0).dtype == np.float32
    assert lax.full((2,), np.float64(1.0)).dtype == np.float32
    assert lax.full((2,), 1, np.float64).dtype == np.float32
    assert lax.full((2,), 1.7, np.int32).tolist() == [1, 1]
    assert lax.full((), 2.0).shape == ()


def test_full_dtypes_x64(x64):
    assert lax.full((2,), 1.0).dtype == np.float64
    assert lax.full((2,), 1).dtype == np.int64
    assert lax.full((2,), 1, np.float64).dtype == np.float64


def test_full_staged_and_eager():
    out = lax.full((2, 3), 2.5)
    assert isinstance(out, np.ndarray)
    jaxpr = ft.make_jaxpr(lambda: lax.full((2, 3), 2.5))()
    (eqn,) = jaxpr.eqns
    assert eqn.primitive.name == "full" and eqn.inputs == []
    # a Python fill value (and no dtype) is weakly typed, as in JAX
    assert eqn.params == {"shape": (2, 3), "fill_value": 2.5, "dtype": np.dtype(np.float32),
                          "weak_type": True}
    hash(tuple(eqn.params.items()))
    assert "full[dtype=float32 fill_value=2.5 shape=(2, 3) weak_type=True]" in str(jaxpr)
    np.testing.assert_array_equal(ft.core.trace.eval_closed_jaxpr(jaxpr)[0], out)


def test_full_traced_fill_value():
    jaxpr = ft.make_jaxpr(lambda v: lax.full((2,), v))(np.float32(1))
    assert [e.primitive.name for e in jaxpr.eqns] == ["broadcast_in_dim"]
    g = ft.grad(lambda v: lax.reduce_sum(lax.full((3,), v), (0,)))(np.float32(2))
    assert g == 3


def test_full_like_and_zeros_like(x64):
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    np.testing.assert_array_equal(lax.full_like(x, 4), np.full_like(x, 4))
    assert lax.full_like(x, 4, np.int32, (5,)).tolist() == [4] * 5
    z = lax.zeros_like_array(x)
    assert z.dtype == x.dtype and not z.any()
    # only the type of x is used: the derivative through full_like is zero
    f = lambda a: lax.sin(lax.mul(lax.add(a, lax.full_like(a, 0.5)), a))  # noqa: E731
    check_grads(f, (x / 7,), order=2, modes=("fwd", "rev"))
    jaxpr = ft.make_jaxpr(lambda a: lax.add(a, lax.zeros_like_array(a)))(x)
    assert [e.primitive.name for e in jaxpr.eqns] == ["full", "add"]


def test_full_under_grad_float32():
    x = np.float32(1.5)
    g = ft.grad(lambda a: lax.reduce_sum(lax.mul(lax.full((3,), 2.0), a), (0,)))(x)
    assert g == 6


def test_full_errors():
    with pytest.raises(ShapeError, match="fill_value must be a scalar"):
        lax.full((2,), np.ones(2))
    with pytest.raises(DTypeError, match="does not fit in int8"):
        lax.full((2,), 300, np.int8)
    with pytest.raises(DTypeError, match="unknown dtype"):
        lax.full((2,), 1, "notadtype")
    with pytest.raises(ShapeError, match="negative"):
        lax.full((2, -1), 0.0)
