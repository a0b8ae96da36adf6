"""Regressions for issue 14: results that were silently wrong (or crashed) where JAX's
documented behaviour is clear. Each expected value is derived by hand from the math or
from JAX's documented semantics, never from functrace's own output."""

import copy

import ml_dtypes
import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import lax, test_util
from functrace.errors import FunctraceError

BF16 = ml_dtypes.bfloat16


# 1. stop_gradient maps over pytrees ---------------------------------------------------

def test_stop_gradient_of_a_pytree_stops_every_leaf():
    assert ft.grad(lambda x: lax.stop_gradient({"a": x})["a"])(3.0) == 0.0
    # d/dx [x * sg(x) + sg([x, x])[1]] = sg(x) = 3
    g = ft.grad(lambda x: x * lax.stop_gradient(x) + lax.stop_gradient([x, x])[1])(3.0)
    assert g == 3.0


def test_stop_gradient_of_a_pytree_under_jit_and_vmap():
    def loss(p):
        target = lax.stop_gradient(p)  # a "target network": same values, no gradient
        return fnp.sum((p["w"] - 2 * target["w"]) ** 2)

    p = {"w": np.array([1.0, -2.0], np.float32)}
    expected = 2 * (p["w"] - 2 * p["w"])  # the target is constant: d/dw (w - 2c)^2
    np.testing.assert_allclose(ft.grad(loss)(p)["w"], expected)
    np.testing.assert_allclose(ft.jit(ft.grad(loss))(p)["w"], expected)
    per_ex = ft.vmap(ft.grad(loss))({"w": np.stack([p["w"], 3 * p["w"]])})["w"]
    np.testing.assert_allclose(per_ex, np.stack([expected, 3 * expected]))


def test_stop_gradient_keeps_integer_leaves_and_values():
    out = lax.stop_gradient({"i": np.arange(3), "x": np.ones(2, np.float32)})
    np.testing.assert_array_equal(out["i"], np.arange(3))
    np.testing.assert_array_equal(out["x"], np.ones(2))


# 2. bfloat16 and float16 derivatives -----------------------------------------------

@pytest.mark.parametrize("dtype", [np.float16, BF16], ids=["f16", "bf16"])
def test_low_precision_jvp_and_vjp_are_computed(dtype):
    x = np.array([1.0, 2.0], dtype)
    y, t = ft.jvp(lambda x: x * x, (x,), (np.ones_like(x),))
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.astype(np.float32), [2.0, 4.0])  # d(x^2) = 2x, exact
    out, f_vjp = ft.vjp(lambda a: fnp.dot(a, a), x)
    (ct,) = f_vjp(np.ones((), dtype))
    np.testing.assert_array_equal(ct.astype(np.float32), [2.0, 4.0])
    g = ft.grad(lambda a: fnp.sum(a * a))(x)
    assert g.dtype == dtype
    np.testing.assert_array_equal(g.astype(np.float32), [2.0, 4.0])


def test_bf16_grad_of_a_transcendental_matches_float64_to_bf16_precision():
    x = np.array([0.5, 1.25], BF16)
    g = ft.grad(lambda a: fnp.sum(fnp.sin(a * 2.0)))(x)
    expected = 2 * np.cos(2 * x.astype(np.float64))
    np.testing.assert_allclose(g.astype(np.float64), expected, rtol=2e-2, atol=2e-2)


# 3. complex abs ----------------------------------------------------------------------

def test_abs_of_complex_is_real():
    z = np.array([3 + 4j, -1j], np.complex64)
    out = fnp.abs(z)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [5.0, 1.0])
    assert ft.jit(fnp.abs)(z).dtype == np.float32


def test_abs_jvp_of_complex_is_re_conj_z_t_over_abs_z():
    # d|z| along t is Re(conj(z) t) / |z|: at 3+4j, t = 1 -> 3/5; t = 1j -> 4/5
    _, t = ft.jvp(fnp.abs, (np.complex64(3 + 4j),), (np.complex64(1),))
    assert t.dtype == np.float32
    np.testing.assert_allclose(t, 0.6, rtol=1e-6)
    _, t = ft.jvp(fnp.abs, (np.complex64(3 + 4j),), (np.complex64(1j),))
    np.testing.assert_allclose(t, 0.8, rtol=1e-6)


def test_grad_of_squared_abs_is_2_conj_z():
    # |z|^2 = x^2 + y^2: JAX's grad of a real function of z = x + iy is df/dx - i df/dy
    g = ft.grad(lambda z: fnp.square(fnp.abs(z)))(np.complex64(1 + 1j))
    np.testing.assert_allclose(g, 2 - 2j, rtol=1e-6)
    g = ft.jit(ft.grad(lambda z: fnp.square(fnp.abs(z))))(np.complex64(2 - 3j))
    np.testing.assert_allclose(g, 4 + 6j, rtol=1e-6)


def test_real_imag_conj_and_their_gradients():
    z = np.complex64(2 - 3j)
    assert fnp.real(z) == 2 and fnp.imag(z) == -3 and fnp.conj(z) == 2 + 3j
    # real(z) = x: grad = 1; imag(z) = y: grad = df/dx - i df/dy = -i
    np.testing.assert_allclose(ft.grad(fnp.real)(z), 1.0)
    np.testing.assert_allclose(ft.grad(fnp.imag)(z), -1j)
    # f = real(conj(z) * w) = x u + y v with w = u + iv: grad wrt z = u - iv = conj(w)
    w = np.complex64(0.5 + 2j)
    np.testing.assert_allclose(ft.grad(lambda z: fnp.real(fnp.conj(z) * w))(z), np.conj(w))
    c = lax.complex(np.float32(1.5), np.float32(-2.0))
    assert c.dtype == np.complex64 and c == 1.5 - 2j


# 4. complex logistic -----------------------------------------------------------------

def test_logistic_of_complex_is_one_over_one_plus_exp_minus_z():
    z = np.complex64(1 + 2j)
    expected = 1 / (1 + np.exp(-np.complex128(z)))  # 1.0214 + 0.4034j
    np.testing.assert_allclose(lax.logistic(z), expected, rtol=1e-6)
    np.testing.assert_allclose(ft.jit(lax.logistic)(np.array([z])), [expected], rtol=1e-6)


# 5. jacfwd's aux ---------------------------------------------------------------------

def test_jacfwd_has_aux_returns_values_not_tracers():
    jac, aux = ft.jacfwd(lambda x: (x ** 3, [x ** 2]), has_aux=True)(3.0)
    assert float(jac) == 27.0 and isinstance(aux[0], np.ndarray) and float(aux[0]) == 9.0
    # nested: the outer derivative of 3x^2 is 6x; the aux is the inner one's
    jac2, aux2 = ft.jacfwd(ft.jacfwd(lambda x: (x ** 3, [x ** 2]), has_aux=True),
                           has_aux=True)(3.0)
    assert float(jac2) == 18.0 and float(aux2[0]) == 9.0
    h, aux = ft.hessian(lambda x: (fnp.sum(x ** 3), {"a": x ** 2}), has_aux=True)(
        np.array([1.0, 2.0], np.float32))
    np.testing.assert_allclose(h, np.diag([6.0, 12.0]))
    np.testing.assert_allclose(aux["a"], [1.0, 4.0])


def test_linearize_has_aux():
    y, f_jvp, aux = ft.linearize(lambda x: (fnp.sin(x), fnp.cos(x)), 0.5, has_aux=True)
    np.testing.assert_allclose(aux, np.cos(0.5), rtol=1e-6)
    np.testing.assert_allclose(f_jvp(2.0), 2 * np.cos(0.5), rtol=1e-6)


# 7. Python ints that int32 cannot hold -----------------------------------------------

@pytest.mark.parametrize("value", [2 ** 31, -2 ** 31 - 1, [1, 2 ** 31]])
def test_asarray_of_an_out_of_range_python_int_raises_overflow(value):
    with pytest.raises(OverflowError, match="too large to convert to int32"):
        fnp.asarray(value)


def test_asarray_in_range_and_explicit_float_dtype():
    assert fnp.asarray(2 ** 31 - 1) == 2 ** 31 - 1
    assert fnp.asarray(-2 ** 31) == -2 ** 31
    # an explicit float dtype takes the value itself, not an int32-wrapped one
    assert fnp.asarray(2 ** 31, dtype=float) == np.float32(2 ** 31)


def test_asarray_out_of_range_is_fine_with_x64(x64):
    assert fnp.asarray(2 ** 31).dtype == np.int64


# 8. check_grads follows JAX's defaults -----------------------------------------------

def test_check_grads_uses_float32_tolerances_for_float32_results():
    # Python float argument, x64 off: the function computes in float32
    test_util.check_grads(lax.sin, (np.pi,), 2)
    test_util.check_grads(lax.exp, (np.float64(0.5),), 1)


def test_check_grads_checks_complex_directions():
    test_util.check_grads(lambda z: z * z, (np.complex64(1 + 2j),), 1,
                          atol=2e-2, rtol=2e-2)
    # a wrong complex rule must be caught: this derivative ignores the imaginary direction
    bad = ft.custom_jvp(lambda z: z * z)
    bad.defjvp(lambda p, t: (p[0] * p[0], 2 * p[0] * fnp.real(t[0]).astype(np.complex64)))
    with pytest.raises(AssertionError):
        test_util.check_grads(bad, (np.complex64(1 + 2j),), 1, modes=("fwd",),
                              atol=2e-2, rtol=2e-2)


def test_check_grads_still_catches_a_wrong_real_derivative():
    bad = ft.custom_jvp(lambda x: fnp.sin(x))
    bad.defjvp(lambda p, t: (fnp.sin(p[0]), 1.5 * fnp.cos(p[0]) * t[0]))
    with pytest.raises(AssertionError):
        test_util.check_grads(bad, (0.3,), 1, modes=("fwd",))


def test_check_grads_default_step_is_jax_eps():
    assert test_util.EPS == 1e-4


# 13, 15, 16, 17. crashes on supported features ---------------------------------------

def test_vmap_passes_unmapped_non_array_arguments_through():
    xs = np.array([0.0, 1.0, 2.0], np.float32)
    out = ft.vmap(lambda f, x: f(x), (None, 0))(fnp.sin, xs)
    np.testing.assert_allclose(out, np.sin(xs), rtol=1e-6)
    out = ft.vmap(lambda x, cfg: x * cfg["scale"], (0, None))(xs, {"scale": 2.0})
    np.testing.assert_allclose(out, 2 * xs)
    with pytest.raises(FunctraceError, match="argument f"):
        ft.vmap(lambda f, x: f(x), (0, 0))(fnp.sin, xs)


def test_deepcopy_of_a_traced_value_inside_jit():
    out = ft.jit(lambda x: copy.deepcopy(x) + 1)(np.ones(2, np.float32))
    np.testing.assert_array_equal(out, [2.0, 2.0])
    g = ft.grad(lambda x: copy.copy(x) * x)(3.0)
    assert g == 6.0


def test_shape_dtype_struct_is_hashable_and_immutable():
    a, b = ft.ShapeDtypeStruct((2,), np.float32), ft.ShapeDtypeStruct((2,), np.float32)
    assert hash(a) == hash(b) and {a: 1}[b] == 1
    assert a != ft.ShapeDtypeStruct((2,), np.int32)
    with pytest.raises(AttributeError):
        a.shape = (3,)



# 10. concrete arrays indexed by traced indices -----------------------------------------

def test_concrete_array_indexed_by_a_traced_index():
    t = fnp.arange(3.0)
    assert ft.jit(lambda i: t[i])(1) == 1.0
    assert ft.jit(lambda i: t[i])(-1) == 2.0  # negative indices wrap, as in NumPy
    out = ft.vmap(lambda x, i: x[i], in_axes=(None, 0))(t, np.array([0, 2]))
    np.testing.assert_array_equal(out, [0.0, 2.0])
    # a plain NumPy array passed unmapped to vmap is indexable too
    out = ft.vmap(lambda x, i: x[i], in_axes=(None, 0))(np.arange(3.0), np.array([2, 1]))
    np.testing.assert_array_equal(out, [2.0, 1.0])
    # d/dx (table[k] * x) = table[k]
    table = fnp.asarray([1.0, 5.0, 7.0])
    assert ft.grad(lambda x, k: table[k] * x)(2.0, 1) == 5.0
    rows = fnp.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(ft.jit(lambda i: rows[i, 1])(2), 5.0)


def test_results_stay_numpy_arrays():
    for x in (fnp.ones(2), fnp.asarray(np.ones(2)), ft.jit(fnp.sin)(np.ones(2)),
              ft.grad(lambda v: fnp.sum(v * v))(np.ones(2, np.float32))):
        assert isinstance(x, np.ndarray) and isinstance(x, fnp.ndarray)
        assert repr(x).startswith("array(")
    assert fnp.ones(2)[0] == 1.0 and isinstance(fnp.ones(2) + np.ones(2), np.ndarray)


def test_jitted_division_by_zero_gives_inf_and_nan_as_numpy():
    # a fused loop used Python's error model: 1/0 raised ZeroDivisionError (also when
    # compiling, which runs the program once on zeros)
    x = np.array([0.0, 2.0, -0.0, 0.0], np.float32)
    y = np.array([0.0, 1.0, 1.0, 5.0], np.float32)
    with np.errstate(all="ignore"):
        want = (1.0 / x, y / x)
    got = ft.jit(lambda a, b: (1.0 / a, b / a))(x, y)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    ft.jit(lambda a: 1.0 / a).lower(x).compile()  # compiles (runs on zeros) without raising


def test_signbit_reads_the_sign_bit():
    # JAX and NumPy: -0.0 and a negative NaN have their sign bit set
    x = np.array([-0.0, 0.0, -1.0, np.nan, -np.nan, -np.inf, 2.0], np.float32)
    want = [True, False, True, False, True, True, False]
    np.testing.assert_array_equal(fnp.signbit(x), want)
    np.testing.assert_array_equal(ft.jit(fnp.signbit)(x), want)
    np.testing.assert_array_equal(fnp.signbit(x.astype(np.float16)), want)
    np.testing.assert_array_equal(fnp.signbit(np.array([-1, 0, 3], np.int32)), [True, False, False])
