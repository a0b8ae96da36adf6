"""grad/jacfwd/jacrev with holomorphic=True and grad with allow_int=True, against
JAX's documented rules: the complex derivative f'(z) of a holomorphic function (checked
by a finite difference along the real axis), JAX's dtype errors, float0 gradients for
integer inputs, and tracer .real/.imag."""

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace.errors import TransformError

Z = np.array([1 + 1j, 2 - 1j, -0.5 + 0.3j], np.complex64)


def _fd(f, z, eps=1e-3):
    return (f(z + eps) - f(z - eps)) / (2 * eps)  # f'(z) for holomorphic f, any direction


def test_holomorphic_grad_is_the_complex_derivative():
    f = lambda z: fnp.sin(z) * z  # noqa: E731
    for z in Z:
        want = _fd(lambda v: np.sin(v) * v, complex(z))
        np.testing.assert_allclose(ft.grad(f, holomorphic=True)(z), want, rtol=1e-3)


def test_holomorphic_jacobians_agree_and_are_diagonal_derivatives():
    f = lambda v: v * v * v  # noqa: E731
    want = np.diag(3 * Z.astype(np.complex128) ** 2)
    np.testing.assert_allclose(ft.jacfwd(f, holomorphic=True)(Z), want, rtol=1e-5)
    np.testing.assert_allclose(ft.jacrev(f, holomorphic=True)(Z), want, rtol=1e-5)
    h = ft.hessian(lambda v: fnp.sum(v ** 3), holomorphic=True)(Z)
    np.testing.assert_allclose(h, np.diag(6 * Z.astype(np.complex128)), rtol=1e-5)


def test_real_valued_function_of_complex_input_by_jacrev_and_grad():
    # d|z|^2: JAX's convention gives 2 * conj(z) (the cotangent pulled back through z)
    np.testing.assert_allclose(ft.grad(lambda z: fnp.abs(z) ** 2)(Z[0]), 2 * np.conj(Z[0]),
                               rtol=1e-6)
    np.testing.assert_allclose(ft.jacrev(lambda v: fnp.abs(v) ** 2)(Z),
                               np.diag(2 * np.conj(Z)), rtol=1e-6)
    np.testing.assert_allclose(ft.grad(lambda z: (z * fnp.conj(z)).real)(Z[0]),
                               2 * np.conj(Z[0]), rtol=1e-6)


@pytest.mark.parametrize("call,match", [
    (lambda: ft.grad(lambda z: z * z, holomorphic=True)(1.0), "complex dtype"),
    (lambda: ft.grad(lambda z: fnp.abs(z), holomorphic=True)(Z[0]), "outputs with complex"),
    (lambda: ft.grad(lambda z: z * z)(Z[0]), "holomorphic=True"),
    (lambda: ft.jacfwd(lambda v: v * v)(Z), "holomorphic=True"),
    (lambda: ft.jacrev(lambda v: v * v)(Z), "holomorphic=True"),
    (lambda: ft.grad(lambda n: n * 2.0)(3), "allow_int"),
])
def test_dtype_errors_follow_jax(call, match):
    with pytest.raises(TransformError, match=match):
        call()


def test_allow_int_gives_float0_zeros_for_integer_inputs():
    gx, gn = ft.grad(lambda x, n: x * n, argnums=(0, 1), allow_int=True)(2.0, 3)
    assert float(gx) == 3.0
    assert gn.dtype == ft.dtypes.float0 and gn.shape == ()
    g = ft.grad(lambda p: fnp.sum(p["w"] * p["idx"]), allow_int=True)(
        {"w": np.ones(3, np.float32), "idx": np.arange(3, dtype=np.int32)})
    np.testing.assert_array_equal(g["w"], [0, 1, 2])
    assert g["idx"].dtype == ft.dtypes.float0 and g["idx"].shape == (3,)
