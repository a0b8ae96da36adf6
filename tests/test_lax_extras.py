"""The smaller lax names: inverse trig/hyperbolic functions (values vs NumPy, derivatives vs
finite differences), round's two methods, and the stacking/selection/bit helpers."""

import math

import numpy as np
import pytest

import functrace as ft
from functrace import lax
from functrace.errors import DTypeError, ShapeError
from functrace.test_util import check_grads

_X = np.array([-0.95, -0.6, -0.2, 0.0, 0.3, 0.7, 0.9])
_UNARY = {
    "asin": (lax.asin, np.arcsin, _X), "acos": (lax.acos, np.arccos, _X),
    "atan": (lax.atan, np.arctan, _X * 3), "asinh": (lax.asinh, np.arcsinh, _X * 5),
    "atanh": (lax.atanh, np.arctanh, _X), "sinh": (lax.sinh, np.sinh, _X * 3),
    "cosh": (lax.cosh, np.cosh, _X * 3), "exp2": (lax.exp2, np.exp2, _X * 3),
    "erfc": (lax.erfc, lambda v: 1 - np.vectorize(math.erf)(v), _X * 2),
    "acosh": (lax.acosh, np.arccosh, np.linspace(1.1, 4, 5)),
    "cbrt": (lax.cbrt, np.cbrt, np.array([-8.0, -0.5, 0.3, 27.0])),
    "tan": (lax.tan, np.tan, _X), "square": (lax.square, np.square, _X),
    "reciprocal": (lax.reciprocal, np.reciprocal, _X[_X != 0]),
}


@pytest.mark.parametrize("name", sorted(_UNARY))
def test_unary_values_and_gradients(name, x64):
    fn, ref, x = _UNARY[name]
    np.testing.assert_allclose(fn(x), ref(x), rtol=1e-12, atol=1e-14)
    check_grads(fn, (x,), order=2)
    np.testing.assert_allclose(ft.jit(fn)(x), ref(x), rtol=1e-12, atol=1e-14)


def test_atan2_quadrants_and_gradient(rng, x64):
    x = np.array([1.0, 1.0, -1.0, -1.0, 0.0, 2.0])
    y = np.array([1.0, -1.0, 1.0, -1.0, 1.0, 0.5])
    np.testing.assert_allclose(lax.atan2(x, y), np.arctan2(x, y), rtol=1e-15)
    check_grads(lax.atan2, (x, y), order=2)
    assert lax.acos(np.float64(-1)) == np.pi
    with pytest.raises(DTypeError, match="floating-point"):
        lax.asin(np.int32(1))


def test_large_inputs_stay_accurate(x64):
    big = np.array([-1e6, 1e6, 1e-9, -1e-12])
    np.testing.assert_allclose(lax.asinh(big), np.arcsinh(big), rtol=1e-14)
    np.testing.assert_allclose(lax.sinh(np.array([1e-10])), [1e-10], rtol=1e-12)


def test_round_both_methods():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999997, 2.6, -2.6], np.float32)
    # in float64: in float32, 0.49999997 + 0.5 rounds to 1 (JAX rounds 0.49999997 to 0)
    xd = x.astype(np.float64)
    away = (np.sign(xd) * np.floor(np.abs(xd) + 0.5)).astype(np.float32)
    np.testing.assert_array_equal(lax.round(x), away)
    np.testing.assert_array_equal(lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN), np.rint(x))
    assert ft.grad(lambda v: lax.round(v))(np.float32(1.3)) == 0.0


def test_stack_unstack_tile_collapse_select_n(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    np.testing.assert_array_equal(lax.stack([a, b], -1), np.stack([a, b], -1).astype(np.float32))
    parts = lax.unstack(np.arange(6, dtype=np.int32).reshape(2, 3), 1)
    assert [p.tolist() for p in parts] == [[0, 3], [1, 4], [2, 5]]
    x = np.arange(6, dtype=np.int32).reshape(2, 3)
    np.testing.assert_array_equal(lax.tile(x, (2, 3)), np.tile(x, (2, 3)))
    np.testing.assert_array_equal(lax.collapse(np.zeros((2, 3, 4, 5)), 1, 3).shape, (2, 12, 5))
    which = np.array([[0, 1, 2], [2, 1, 0]], np.int32)
    cases = [np.full((2, 3), k, np.float32) for k in (10, 20, 30)]
    np.testing.assert_array_equal(lax.select_n(which, *cases), np.choose(which, cases))
    np.testing.assert_array_equal(lax.broadcast_to_rank(x, 4).shape, (1, 1, 2, 3))
    assert lax.broadcast_shapes((2, 1), (1, 3), (3,)) == (2, 3)
    with pytest.raises(ShapeError, match="tile"):
        lax.tile(x, (2,))


def test_associative_scan_matches_cumulative_ops(rng):
    x = rng.standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_allclose(lax.associative_scan(lax.add, x, axis=1), np.cumsum(x, 1),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lax.associative_scan(lax.max, x, reverse=True),
                               np.flip(np.maximum.accumulate(np.flip(x, 0), 0), 0))
    # a pytree of elements: (sum, product) pairs
    s, p = lax.associative_scan(lambda u, v: (u[0] + v[0], u[1] * v[1]),
                                (np.arange(5.0), np.arange(1.0, 6.0)))
    np.testing.assert_allclose(s, np.cumsum(np.arange(5.0)))
    np.testing.assert_allclose(p, np.cumprod(np.arange(1.0, 6.0)))


def test_bits_reduce_xor_nextafter():
    x = np.array([1, 0, -1, 256, 2 ** 30], np.int32)
    want = [32 - int(v).bit_length() if v >= 0 else 0 for v in x]
    np.testing.assert_array_equal(lax.clz(x), want)
    y = np.array([[1, 3, 7], [4, 5, 9]], np.int32)
    np.testing.assert_array_equal(lax.reduce_xor(y, (1,)), np.bitwise_xor.reduce(y, 1))
    assert int(lax.reduce_xor(y, (0, 1))) == int(np.bitwise_xor.reduce(y.ravel()))
    a = np.array([1.0, 0.0, -1.0, 3.4e38, np.inf, 2.0, np.nan], np.float32)
    b = np.array([2.0, -1.0, -2.0, np.inf, 0.0, 2.0, 1.0], np.float32)
    np.testing.assert_array_equal(lax.nextafter(a, b), np.nextafter(a, b))


def test_index_take_and_scatter_sub():
    src = np.arange(12, dtype=np.int32).reshape(3, 4)
    out = lax.index_take(src, (np.array([2, -1], np.int32),), (1,))
    np.testing.assert_array_equal(out, src[:, [2, 3]].T)
    dn = lax.ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
                                     scatter_dims_to_operand_dims=(0,))
    got = lax.scatter_sub(np.zeros(4, np.float32), np.array([[1], [1], [3]], np.int32),
                          np.array([1.0, 2.0, 5.0], np.float32), dn)
    np.testing.assert_array_equal(got, [0.0, -3.0, 0.0, -5.0])


def test_atan2_fuses_under_jit():
    f = ft.jit(lambda x, y: lax.atan2(x * 2.0, y) + 1.0)
    x = np.linspace(-3, 3, 64, dtype=np.float32)
    y = np.linspace(-2, 2, 64, dtype=np.float32)
    assert "fused mul, atan2, add" in f.lower(x, y).as_text()
    np.testing.assert_allclose(f(x, y), np.arctan2(2 * x, y) + 1, rtol=1e-6, atol=1e-6)
