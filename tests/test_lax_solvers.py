"""lax.custom_linear_solve and lax.custom_root against linear algebra done by hand:
x = A^-1 b has dx = A^-1 (db - dA x), d(sum x)/db = A^-T 1, d(sum x)/dA = -A^-T 1 x^T;
a root x* of f(x, a) has dx*/da = -(df/dx)^-1 df/da (JAX's documented semantics)."""

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace.errors import TransformError

A = np.array([[4., 1., 0.5], [0.3, 3., 1.], [0.2, 0.7, 5.]], np.float32)  # not symmetric
B = np.array([1., -2., 3.], np.float32)
S = (A + A.T) / 2


def _solve(a, b, **kw):
    return lax.custom_linear_solve(lambda x: a @ x, b,
                                   lambda mv, r: fnp.linalg.solve(a, r), **kw)


def _solve_t(a, b):
    return lax.custom_linear_solve(lambda x: a @ x, b, lambda mv, r: fnp.linalg.solve(a, r),
                                   transpose_solve=lambda vm, r: fnp.linalg.solve(a.T, r))


def test_values_and_the_transposed_system():
    np.testing.assert_allclose(_solve(A, B), np.linalg.solve(A, B), rtol=1e-5)
    # transpose_solve is handed vecmat, the transpose of matvec: check it is A^T
    seen = {}

    def tsolve(vecmat, r):
        seen["vm"] = vecmat
        return fnp.linalg.solve(A.T, r)

    ft.grad(lambda b: lax.custom_linear_solve(lambda x: A @ x, b,
                                              lambda mv, r: fnp.linalg.solve(A, r),
                                              transpose_solve=tsolve).sum())(B)
    e = np.array([1., 2., -1.], np.float32)
    np.testing.assert_allclose(seen["vm"](e), A.T @ e, rtol=1e-6)


def test_gradients_match_the_closed_forms():
    x = np.linalg.solve(A.astype(np.float64), B)
    ones = np.ones(3)
    g_b = np.linalg.solve(A.T.astype(np.float64), ones)
    gA, gb = ft.grad(lambda a, b: _solve_t(a, b).sum(), argnums=(0, 1))(A, B)
    np.testing.assert_allclose(gb, g_b, rtol=1e-4)
    np.testing.assert_allclose(gA, -np.outer(g_b, x), rtol=1e-4, atol=1e-6)
    dA = np.linspace(-1, 1, 9).reshape(3, 3).astype(np.float32)
    _, dx = ft.jvp(lambda a: _solve(a, B), (A,), (dA,))
    np.testing.assert_allclose(dx, -np.linalg.solve(A.astype(np.float64), dA @ x),
                               rtol=1e-4, atol=1e-6)


def test_symmetric_reuses_solve_for_reverse_mode():
    g = ft.grad(lambda b: _solve(S, b, symmetric=True).sum())(B)
    np.testing.assert_allclose(g, np.linalg.solve(S.astype(np.float64), np.ones(3)),
                               rtol=1e-4)


def test_reverse_mode_without_transpose_solve_says_what_to_pass():
    with pytest.raises(TransformError, match="transpose_solve"):
        ft.grad(lambda b: _solve(A, b).sum())(B)


def test_under_jit_and_vmap():
    np.testing.assert_allclose(ft.jit(_solve_t)(A, B), np.linalg.solve(A, B), rtol=1e-5)
    bs = np.stack([B, 2 * B, -B])
    np.testing.assert_allclose(ft.vmap(_solve_t, in_axes=(None, 0))(A, bs),
                               np.linalg.solve(A, bs.T).T, rtol=1e-5)
    As = np.stack([A, 2 * A])
    np.testing.assert_allclose(ft.vmap(_solve_t, in_axes=(0, None))(As, B),
                               [np.linalg.solve(a, B) for a in As], rtol=1e-5)
    g = ft.vmap(ft.grad(lambda b: _solve_t(A, b).sum()))(bs)
    np.testing.assert_allclose(g, np.tile(np.linalg.solve(A.T, np.ones(3)), (3, 1)),
                               rtol=1e-4)


def test_pytree_right_hand_sides_and_aux():
    def solve(mv, r):
        return {"u": r["u"] / 2, "v": r["v"] / 3}, fnp.int32(7)

    out, aux = lax.custom_linear_solve(
        lambda x: {"u": 2 * x["u"], "v": 3 * x["v"]}, {"u": B, "v": B[:2]}, solve,
        symmetric=True, has_aux=True)
    np.testing.assert_allclose(out["u"], B / 2)
    np.testing.assert_allclose(out["v"], B[:2] / 3)
    assert int(aux) == 7


def test_a_matvec_of_the_wrong_type_is_named():
    with pytest.raises(TransformError, match="matvec must return"):
        lax.custom_linear_solve(lambda x: x[:2], B, lambda mv, r: r)


def _newton_sqrt(a):
    def newton(f, x):
        for _ in range(25):
            x = x - f(x) / (2 * x)
        return x
    return lax.custom_root(lambda x: x ** 2 - a, 1.0, newton, lambda g, y: y / g(1.0))


def test_custom_root_value_and_implicit_derivative():
    a = np.float32(2.0)
    np.testing.assert_allclose(_newton_sqrt(a), np.sqrt(2.0), rtol=1e-6)
    np.testing.assert_allclose(ft.grad(_newton_sqrt)(a), 0.5 / np.sqrt(2.0), rtol=1e-5)
    np.testing.assert_allclose(ft.jvp(_newton_sqrt, (a,), (np.float32(3.0),))[1],
                               1.5 / np.sqrt(2.0), rtol=1e-5)
    np.testing.assert_allclose(ft.jit(ft.grad(_newton_sqrt))(a), 0.5 / np.sqrt(2.0),
                               rtol=1e-5)
    xs = np.array([1., 4., 9.], np.float32)
    np.testing.assert_allclose(ft.vmap(_newton_sqrt)(xs), np.sqrt(xs), rtol=1e-6)
    np.testing.assert_allclose(ft.vmap(ft.grad(_newton_sqrt))(xs), 0.5 / np.sqrt(xs),
                               rtol=1e-5)


def test_the_derivative_ignores_the_solvers_iterations():
    # a solver that is not differentiable at all (a host round trip) still has a
    # derivative: it comes from f alone
    def solve(f, x):
        return fnp.asarray(ft.pure_callback(lambda: np.float32(np.cbrt(5.0)),
                                            ft.ShapeDtypeStruct((), np.float32)))

    cube_root = lambda c: lax.custom_root(lambda x: x ** 3 - c, 1.0, solve,  # noqa: E731
                                          lambda g, y: y / g(1.0))
    np.testing.assert_allclose(ft.grad(cube_root)(np.float32(5.0)),
                               1 / (3 * np.cbrt(5.0) ** 2), rtol=1e-5)


def test_vector_root_with_aux_and_a_linear_tangent_solve():
    theta = np.array([0.2, -0.5], np.float32)

    def root(t):
        def solve(f, x):
            for _ in range(30):
                x = x - f(x) / (1 - fnp.tanh(x) ** 2)
            return x, fnp.int32(30)

        def tangent_solve(g, y):
            return fnp.linalg.solve(ft.jacfwd(g)(y), y)

        return lax.custom_root(lambda x: fnp.tanh(x) - t, fnp.zeros(2), solve,
                               tangent_solve, has_aux=True)

    x, iters = root(theta)
    np.testing.assert_allclose(x, np.arctanh(theta), rtol=1e-5)
    assert int(iters) == 30
    want = np.diag(1 / (1 - theta.astype(np.float64) ** 2))
    np.testing.assert_allclose(ft.jacfwd(lambda t: root(t)[0])(theta), want, rtol=1e-4)
    np.testing.assert_allclose(ft.jacrev(lambda t: root(t)[0])(theta), want, rtol=1e-4)
