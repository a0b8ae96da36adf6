"""Conformance with JAX 0.10 found by a differential run against JAX (lax, nn, random,
transformations). Each expectation comes from an independent oracle: NumPy, a value
derived by hand, or the rule JAX documents / implements (cited where it is the oracle).
"""

import math

import numpy as np
import pytest

import functrace as ft
from functrace import lax


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.float64(x)))


# ---------------------------------------------------------------------------
# derivatives at special points

def test_abs_derivative_at_zero_is_one():
    # JAX's rule (jax/_src/lax/lax.py, _abs_jvp_rule): select(x >= 0, g, -g), so
    # grad(abs)(0.) == 1, also at -0.0 (-0.0 >= 0 is true); elsewhere it is sign(x)
    for f in (lax.abs, ft.numpy.abs):
        assert float(ft.grad(f)(0.0)) == 1.0
        assert float(ft.grad(f)(-0.0)) == 1.0
        assert float(ft.grad(f)(-2.0)) == -1.0
    x = np.array([-1.5, -0.0, 0.0, 2.0], np.float32)
    want = np.array([-1.0, 1.0, 1.0, 1.0], np.float32)
    np.testing.assert_array_equal(ft.vmap(ft.grad(lax.abs))(x), want)
    np.testing.assert_array_equal(ft.jit(ft.grad(lambda v: lax.abs(v).sum()))(x), want)
    _, t = ft.jvp(lax.abs, (x,), (np.full(4, 2.0, np.float32),))
    np.testing.assert_array_equal(t, 2 * want)


def test_softplus_derivative_is_sigmoid_also_at_zero():
    # d/dx log(1 + e^x) = sigmoid(x); JAX's softplus (logaddexp(x, 0)) has 0.5 at 0
    for x in (0.0, 1.5, -3.0, 30.0, -30.0):
        np.testing.assert_allclose(ft.grad(ft.nn.softplus)(x), _sigmoid(x), rtol=1e-6,
                                   atol=1e-30)
        np.testing.assert_allclose(ft.nn.softplus(x), math.log1p(math.exp(x)), rtol=1e-6)
    # second derivative sigmoid' = s (1 - s): 0.25 at 0
    np.testing.assert_allclose(ft.grad(ft.grad(ft.nn.softplus))(0.0), 0.25, rtol=1e-6)
    # log_sigmoid(x) = -softplus(-x): derivative 1 - sigmoid(x), 0.5 at 0
    np.testing.assert_allclose(ft.grad(ft.nn.log_sigmoid)(0.0), 0.5, rtol=1e-6)


# ---------------------------------------------------------------------------
# dtypes and weak types

def test_full_of_a_python_scalar_is_weakly_typed():
    # jax.lax.full: weak_type = dtype is None and the fill value is weakly typed (a Python
    # int, float or complex; a bool is not)
    def weak(f, *args):
        return ft.make_jaxpr(f)(*args).out_avals[0].weak_type

    assert weak(lambda: lax.full((2,), 3.0))
    assert weak(lambda: lax.full((2,), 3))
    assert not weak(lambda: lax.full((2,), 3.0, np.float32))
    assert not weak(lambda: lax.full((2,), True))
    assert not weak(lambda: lax.full((2,), np.float32(3.0)))
    assert weak(lambda x: lax.full_like(x, 1), 2.0)  # the template is weak
    assert not weak(lambda x: lax.full_like(x, 1), np.float32(2.0))
    # the weak type is visible in promotion: weak float32 + float16 is float16
    out = ft.jit(lambda: lax.full((2,), 3.0) + np.float16(1))()
    assert out.dtype == np.float16 and out.tolist() == [4.0, 4.0]


def test_dot_of_different_dtypes_computes_in_the_wider_one():
    # JAX's dot_general dtype rule (XLA's HigherPrecisionType): int32 . float32 is float32,
    # int16 . int32 is int32, float16 . float32 is float32
    i = np.array([1, 2, 3], np.int32)
    f = np.array([0.5, -1.0, 2.0], np.float32)
    out = lax.dot(i, f)
    assert out.dtype == np.float32 and float(out) == float(np.dot(i, f))
    out = lax.dot(i.astype(np.int16), i)
    assert out.dtype == np.int32 and int(out) == 14
    assert lax.dot(f.astype(np.float16), f).dtype == np.float32
    np.testing.assert_array_equal(ft.grad(lambda w: lax.dot(i, w))(f), i.astype(np.float32))


@pytest.mark.parametrize("call", [
    lambda: lax.is_finite(np.array([1, 2], np.int32)),   # JAX: floating only
    lambda: lax.abs(np.array([True, False])),            # JAX: signed, float, complex
    lambda: lax.abs(np.array([1, 2], np.uint8)),
    lambda: lax.conj(np.array([1, 2], np.int32)),        # JAX: float or complex only
    lambda: ft.nn.sigmoid(np.array([1, 2], np.int32)),   # JAX: it is lax.logistic
    lambda: ft.nn.silu(2),                               # a Python int is an int32
])
def test_operand_dtypes_jax_rejects_raise_type_error(call):
    with pytest.raises(TypeError):
        call()


def test_sigmoid_still_takes_floats():
    np.testing.assert_allclose(ft.nn.sigmoid(0.0), 0.5)
    x = np.array([-2.0, 0.5], np.float32)
    np.testing.assert_allclose(ft.nn.silu(x), x * _sigmoid(x), rtol=1e-6)
    assert ft.nn.sigmoid(np.float16(1.0)).dtype == np.float16


# ---------------------------------------------------------------------------
# top_k, cond, fold_in

def test_top_k_orders_floats_totally():
    # XLA's TopK (JAX's lax.top_k) compares floats in total order: NaN above everything,
    # then 0.0 above -0.0; equal values keep index order. Derived by hand:
    x = np.array([0.0, -0.0, 1.0, -0.0, 0.0, np.nan, -np.inf], np.float32)
    values, idx = lax.top_k(x, 7)
    assert idx.tolist() == [5, 2, 0, 4, 1, 3, 6]
    np.testing.assert_array_equal(np.signbit(values[2:6]), [False, False, True, True])
    _, idx = ft.jit(lambda v: lax.top_k(v, 3))(x)
    assert idx.tolist() == [5, 2, 0]


def test_cond_takes_a_real_predicate():
    # jax.lax.cond (conditionals.py): a non-boolean integer or floating pred becomes
    # pred != 0; a complex one raises
    def f(p):
        return lax.cond(p, lambda: 1.0, lambda: 0.0)

    assert float(f(np.float32(0.5))) == 1.0
    assert float(f(np.float32(0.0))) == 0.0
    assert float(f(np.float32(np.nan))) == 1.0  # nan != 0
    assert float(ft.jit(f)(np.float32(-2.0))) == 1.0
    with pytest.raises(TypeError):
        f(np.complex64(1j))


def test_fold_in_python_int_must_fit_uint32():
    # jax.random.fold_in converts a Python int to uint32 and raises OverflowError outside
    # [0, 2**32); NumPy integers wrap modulo 2**32
    key = ft.random.PRNGKey(0)
    for bad in (-1, 2**32):
        with pytest.raises(OverflowError):
            ft.random.fold_in(key, bad)
    np.testing.assert_array_equal(ft.random.fold_in(key, np.int32(-1)),
                                  ft.random.fold_in(key, 2**32 - 1))


# ---------------------------------------------------------------------------
# float0: the tangent of integer values (JAX's documented convention)

def test_vjp_and_jvp_give_float0_for_integer_values():
    float0 = ft.dtypes.float0
    # vjp: the cotangent of an integer input is float0 zeros of its shape
    _, f_vjp = ft.vjp(lambda n, x: n * x, np.array([1, 2], np.int32),
                      np.array([3.0, 4.0], np.float32))
    ct_n, ct_x = f_vjp(np.ones(2, np.float32))
    assert ct_n.dtype == float0 and ct_n.shape == (2,)
    np.testing.assert_array_equal(ct_x, [1.0, 2.0])
    # jvp: an integer primal takes a float0 tangent; an integer output has a float0 one
    y, t = ft.jvp(lambda n, x: (n * 2, x * n), (np.int32(3), np.float32(2.0)),
                  (np.zeros((), float0), np.float32(1.0)))
    assert int(y[0]) == 6 and t[0].dtype == float0 and float(t[1]) == 3.0
    with pytest.raises(TypeError):  # a float0 tangent for a float primal
        ft.jvp(lambda x: x * 2, (np.float32(3.0),), (np.zeros((), float0),))
    # grad with allow_int: float0 for the integer argument, eager and under jit (where
    # functrace has no float0 values, zeros of the argument's dtype)
    g = ft.grad(lambda x, n: x * n, argnums=(0, 1), allow_int=True)
    gx, gn = g(np.float32(2.0), np.int32(3))
    assert float(gx) == 3.0 and gn.dtype == float0
    gx, gn = ft.jit(g)(np.float32(2.0), np.int32(3))
    assert float(gx) == 3.0 and int(gn) == 0


def test_reduce_prod_gradient_is_exact_at_zeros():
    # d prod(x) / d x_i = prod_{j != i} x_j (by hand: [2, 0, 3] -> [0, 6, 0]); JAX's rule
    # is zero-safe, while prod / x_i is NaN at the zero
    def g(v):
        return ft.grad(lambda x: lax.reduce_prod(x, (0,)))(np.array(v, np.float32))

    np.testing.assert_array_equal(g([2.0, 0.0, 3.0]), [0.0, 6.0, 0.0])
    np.testing.assert_array_equal(g([2.0, 0.0, 0.0]), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(ft.grad(lambda x: ft.numpy.prod(x))(
        np.array([2.0, 0.0, 3.0], np.float32)), [0.0, 6.0, 0.0])
    # several axes, odd sizes: against the product of the other entries (NumPy)
    x = np.arange(-6.0, 18.0, dtype=np.float32).reshape(2, 3, 4) / 5
    got = ft.jit(ft.grad(lambda v: lax.reduce_prod(v, (0, 2)).sum()))(x)
    for i, j, k in np.ndindex(x.shape):
        others = np.delete(x[:, j, :].ravel(), i * 4 + k)
        np.testing.assert_allclose(got[i, j, k], np.prod(others), rtol=1e-5, atol=1e-6)
    # second derivatives: d2 prod / dx_i dx_j = the product of the third entry
    h = ft.hessian(lambda v: lax.reduce_prod(v, (0,)))(np.array([2.0, 0.0, 3.0], np.float32))
    np.testing.assert_array_equal(h, [[0, 3, 0], [3, 0, 2], [0, 2, 0]])


def test_select_takes_an_integer_predicate():
    # jax.lax.select(pred, t, f) is select_n(pred, f, t), whose selector may be an
    # integer: 0 picks on_false, 1 on_true; a floating predicate raises
    t, f = np.zeros(3, np.float32), np.ones(3, np.float32)
    for pred in (np.array([0, 1, 1], np.int32), np.array([0, 1, 1], np.uint8)):
        np.testing.assert_array_equal(lax.select(pred, t, f), [1.0, 0.0, 0.0])
        np.testing.assert_array_equal(ft.jit(lax.select)(pred, t, f), [1.0, 0.0, 0.0])
    with pytest.raises(TypeError):
        lax.select(np.array([0.0, 1.0, 1.0], np.float32), t, f)


def test_python_scalars_keep_their_default_dtype_in_lax_ops():
    # JAX 0.10 (checked against jax.lax): a Python scalar is an array of its default dtype
    # (int -> int32, float -> float32, bool -> bool) and lax ops require equal dtypes
    f32 = np.ones(3, np.float32)
    i32 = np.ones(3, np.int32)
    for call in (lambda: lax.add(f32, 2), lambda: lax.mul(2, f32), lambda: lax.max(f32, True),
                 lambda: lax.add(i32, 2.0), lambda: lax.clamp(0, f32, 1),
                 lambda: lax.shift_left(np.ones(3, np.uint8), 2),
                 lambda: lax.add(np.ones(3, np.float16), 2.0),
                 lambda: lax.pad(f32, 0, [(1, 1, 0)])):
        with pytest.raises(TypeError):
            call()
    np.testing.assert_array_equal(lax.add(f32, 2.0), [3.0, 3.0, 3.0])
    np.testing.assert_array_equal(lax.add(i32, 2), [3, 3, 3])
    np.testing.assert_array_equal(lax.clamp(0.0, f32 * 2, 1.0), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(lax.pad(f32, 0.0, [(1, 0, 0)]), [0.0, 1.0, 1.0, 1.0])
    # lax.pow alone mixes dtypes: an integer exponent with a floating base
    np.testing.assert_array_equal(lax.pow(f32 * 3, 2), [9.0, 9.0, 9.0])
    # the same rule applies inside jit, and functrace.numpy still promotes
    with pytest.raises(TypeError):
        ft.jit(lambda v: lax.add(v, 2))(f32)
    assert ft.numpy.add(f32, 2).dtype == np.float32


def test_lax_add_and_mul_reject_booleans():
    # jax.lax.add/mul: "does not accept dtype bool"; or/and are lax.bitwise_or/and
    t = np.array([True, False])
    for op in (lax.add, lax.mul):
        with pytest.raises(TypeError):
            op(t, t)
    assert lax.bitwise_or(t, t).tolist() == [True, False]
    assert ft.numpy.add(t, t).tolist() == [True, False]  # NumPy's logical or
