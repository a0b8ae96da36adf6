"""lax.linalg.eig and fnp.linalg.eig/eigvals from their definitions: A vr = vr w,
vl^H A = w vl^H, unit-norm vectors, complex results, and JAX's eigenvalue derivative
dw = diag(V^-1 dA V) (checked against finite differences of NumPy's eigenvalues)."""

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import lax

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 5, 5)).astype(np.float32)


def test_eigenpairs_satisfy_their_definitions():
    w, vl, vr = lax.linalg.eig(A)
    assert w.dtype == np.complex64 and vl.dtype == vr.dtype == np.complex64
    a = A.astype(np.complex128)
    np.testing.assert_allclose(a @ vr, vr * w[:, None, :], atol=2e-5)
    vlh = np.conj(np.swapaxes(vl, -1, -2))
    np.testing.assert_allclose(vlh @ a, w[:, :, None] * vlh, atol=2e-5)
    np.testing.assert_allclose(np.linalg.norm(vr, axis=-2), 1, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(vl, axis=-2), 1, rtol=1e-5)
    np.testing.assert_allclose(np.sort_complex(w[0]), np.sort_complex(np.linalg.eigvals(A[0])),
                               rtol=1e-5)


def test_numpy_style_wrappers():
    w, v = fnp.linalg.eig(A[0])
    np.testing.assert_allclose(A[0] @ v, v * w, atol=2e-5)
    np.testing.assert_allclose(fnp.linalg.eigvals(A[0]), w, rtol=1e-6)
    rot = np.array([[0., -1.], [1., 0.]], np.float32)  # eigenvalues +-i
    np.testing.assert_allclose(np.sort_complex(fnp.linalg.eigvals(rot)), [-1j, 1j], atol=1e-6)
    assert ft.vmap(fnp.linalg.eigvals)(A).shape == (3, 5)
    np.testing.assert_allclose(ft.jit(fnp.linalg.eigvals)(A[1]), fnp.linalg.eigvals(A[1]),
                               rtol=1e-5)


def test_eigenvalue_derivative_matches_finite_differences():
    a = A[0].astype(np.float64)
    da = RNG.standard_normal((5, 5))
    with ft.enable_x64():
        w, dw = ft.jvp(fnp.linalg.eigvals, (a,), (da,))
    eps = 1e-6

    def sorted_w(m):  # match eigenvalues by nearest, to follow each one
        return np.linalg.eigvals(m)

    wp, wm = sorted_w(a + eps * da), sorted_w(a - eps * da)
    order_p = [np.argmin(np.abs(wp - x)) for x in w]
    order_m = [np.argmin(np.abs(wm - x)) for x in w]
    fd = (wp[order_p] - wm[order_m]) / (2 * eps)
    np.testing.assert_allclose(dw, fd, rtol=1e-5, atol=1e-6)
    # reverse mode: the trace of A is the sum of its eigenvalues
    g = ft.grad(lambda m: fnp.linalg.eigvals(m).real.sum())(A[0])
    np.testing.assert_allclose(g, np.eye(5), atol=1e-5)


def test_eigenvector_derivatives_are_refused_as_in_jax():
    with pytest.raises(NotImplementedError, match="eigenvectors"):
        ft.jvp(lambda m: fnp.linalg.eig(m)[1], (A[0],), (A[1],))


def test_lu_pivots_to_permutation_traces():
    # lu returns (lu, pivots, permutation): the pivots' permutation must equal it, under
    # jit and vmap too (the pivots are then traced)
    f = lambda m: lax.linalg.lu_pivots_to_permutation(lax.linalg.lu(m)[1], 5)  # noqa: E731
    perms = [lax.linalg.lu(m)[2] for m in A]
    np.testing.assert_array_equal(ft.jit(f)(A[0]), perms[0])
    np.testing.assert_array_equal(ft.vmap(f)(A), np.stack(perms))
    with pytest.raises(ft.ShapeError, match="pivots"):
        lax.linalg.lu_pivots_to_permutation(np.zeros(6, np.int32), 5)


def test_roots_of_polynomials():
    for coeffs in ([1., -3., 2.], [2., 0., -8.], [1., 0., 1.], [1., -6., 11., -6.],
                   [0., 0., 1., -3., 2.], [1., 2., 0., 0.]):
        p = np.array(coeffs, np.float32)
        got = fnp.roots(p)
        assert got.dtype == np.complex64
        np.testing.assert_allclose(np.sort_complex(got), np.sort_complex(np.roots(p)),
                                   atol=1e-5)
    assert fnp.roots(np.array([5.0], np.float32)).shape == (0,)
    # without stripping (traceable): leading zeros give NaN roots, counted from the end
    with np.errstate(all="ignore"):
        got = ft.jit(lambda p: fnp.roots(p, strip_zeros=False))(
            np.array([0., 0., 1., -3., 2.], np.float32))
    np.testing.assert_allclose(np.sort_complex(got[:2]), [1, 2], atol=1e-5)
    assert np.isnan(got[2:]).all()
    with pytest.raises(ft.FunctraceError, match="strip_zeros=False"):
        ft.jit(fnp.roots)(np.array([1., 2.], np.float32))
