"""functrace.lax.linalg and functrace.numpy.linalg: values against NumPy's LAPACK, derivatives
against finite differences (check_grads, float64), jit and vmap against eager."""

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import functrace as ft
import functrace.numpy as fnp
from functrace.errors import FunctraceError, ShapeError
from functrace.lax import linalg as lax_linalg
from functrace.test_util import check_grads

LA = fnp.linalg


def _rand(rng, shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


def _spd(rng, n, batch=(), dtype=np.float64):
    a = rng.standard_normal(batch + (n, n))
    return (a @ np.swapaxes(a, -1, -2) + n * np.eye(n)).astype(dtype)


def _well_conditioned(rng, shape, dtype=np.float64):
    n = shape[-1]
    return (rng.standard_normal(shape) + 2 * n ** 0.5 * np.eye(n)).astype(dtype)


def _fix_signs(v):
    """Eigen/singular vectors are defined up to sign: make each column's largest entry
    positive (a smooth choice where that entry is unique)."""
    idx = fnp.argmax(fnp.abs(v), axis=-2)
    pick = fnp.take_along_axis(v, idx[..., None, :], axis=-2)
    return v * fnp.sign(pick)


# ---------------------------------------------------------------------------
# values against NumPy

@settings(deadline=None)
@given(n=st.integers(1, 5), batch=st.sampled_from([(), (2,), (2, 3)]),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2 ** 16))
def test_values_match_numpy(n, batch, dtype, seed, x64):
    rng = np.random.default_rng(seed)
    a = _well_conditioned(rng, batch + (n, n), dtype)
    spd = _spd(rng, n, batch, dtype)
    b = _rand(rng, batch + (n, 2), dtype)
    tol = dict(rtol=2e-3, atol=2e-3) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(LA.cholesky(spd), np.linalg.cholesky(spd), **tol)
    np.testing.assert_allclose(LA.inv(a), np.linalg.inv(a), **tol)
    np.testing.assert_allclose(LA.solve(a, b), np.linalg.solve(a, b), **tol)
    np.testing.assert_allclose(LA.det(a), np.linalg.det(a), **tol)
    sign, logdet = LA.slogdet(a)
    want_sign, want_logdet = np.linalg.slogdet(a)
    np.testing.assert_array_equal(sign, want_sign)
    np.testing.assert_allclose(logdet, want_logdet, **tol)
    w, v = LA.eigh(spd)
    np.testing.assert_allclose(w, np.linalg.eigvalsh(spd), **tol)
    np.testing.assert_allclose(v @ (w[..., None] * np.swapaxes(v, -1, -2)), spd,
                               rtol=tol["rtol"], atol=tol["atol"] * n * 10)
    np.testing.assert_allclose(LA.svd(a, compute_uv=False),
                               np.linalg.svd(a, compute_uv=False), **tol)
    assert LA.inv(a).dtype == dtype and LA.det(a).dtype == dtype


def test_outputs_have_numpy_layouts(rng):
    a = _rand(rng, (5, 3), np.float32)
    u, s, vh = LA.svd(a)
    assert (u.shape, s.shape, vh.shape) == ((5, 5), (3,), (3, 3))
    u, s, vh = LA.svd(a, full_matrices=False)
    assert u.shape == (5, 3)
    np.testing.assert_allclose(u @ (s[:, None] * vh), a, atol=1e-5)
    q, r = LA.qr(a)
    assert q.shape == (5, 3) and r.shape == (3, 3)
    np.testing.assert_allclose(q @ r, a, atol=1e-5)
    assert np.allclose(np.tril(r, -1), 0)
    assert LA.qr(a, mode="complete").Q.shape == (5, 5)
    assert LA.qr(a, mode="r").shape == (3, 3)
    res = LA.eigh(_spd(rng, 3))
    assert res.eigenvalues.shape == (3,) and res.eigenvectors.shape == (3, 3)


def test_lu_and_triangular_solve(rng, x64):
    a = _rand(rng, (2, 4, 4))
    lu, piv, perm = lax_linalg.lu(a)
    for i in range(2):
        low = np.tril(lu[i], -1) + np.eye(4)
        np.testing.assert_allclose(a[i][perm[i]], low @ np.triu(lu[i]), atol=1e-12)
        # partial pivoting: |l| <= 1
        assert np.all(np.abs(low) <= 1 + 1e-12)
    np.testing.assert_array_equal(lax_linalg.lu_pivots_to_permutation(piv, 4), perm)
    t = np.tril(_rand(rng, (3, 3))) + 3 * np.eye(3)
    b = _rand(rng, (3, 2))
    np.testing.assert_allclose(lax_linalg.triangular_solve(t, b, left_side=True, lower=True),
                               np.linalg.solve(t, b))
    # only the named triangle is read; unit_diagonal ignores the diagonal
    junk = t + np.triu(np.full((3, 3), 7.0), 1)
    np.testing.assert_allclose(
        lax_linalg.triangular_solve(junk, b, left_side=True, lower=True), np.linalg.solve(t, b))
    unit = np.tril(t, -1) + np.eye(3)
    np.testing.assert_allclose(
        lax_linalg.triangular_solve(t, b, left_side=True, lower=True, unit_diagonal=True),
        np.linalg.solve(unit, b))
    # right side, transposed: x @ t.T = b.T
    np.testing.assert_allclose(
        lax_linalg.triangular_solve(t, b.T, lower=True, transpose_a=True), b.T @ np.linalg.inv(
            t.T))


def test_norms_match_numpy(rng, x64):
    x = _rand(rng, (3, 4))
    v = _rand(rng, (5,))
    for ordv in (None, 1, 2, np.inf, -np.inf, 0, 3):
        np.testing.assert_allclose(LA.norm(v, ordv), np.linalg.norm(v, ordv), rtol=1e-12)
        np.testing.assert_allclose(LA.norm(x, ordv, axis=1), np.linalg.norm(x, ordv, axis=1),
                                   rtol=1e-12)
    for ordm in (None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf):
        np.testing.assert_allclose(LA.norm(x, ordm), np.linalg.norm(x, ordm), rtol=1e-12)
    y = _rand(rng, (2, 3, 4))
    np.testing.assert_allclose(LA.norm(y), np.linalg.norm(y.ravel()))
    np.testing.assert_allclose(LA.norm(y, axis=(0, 2), keepdims=True),
                               np.linalg.norm(y, axis=(0, 2), keepdims=True))
    np.testing.assert_allclose(LA.norm(y, 2, axis=(2, 1)), np.linalg.norm(y, 2, axis=(2, 1)))


def test_pinv_lstsq_rank_power(rng, x64):
    a = _rand(rng, (5, 3))
    np.testing.assert_allclose(LA.pinv(a), np.linalg.pinv(a), atol=1e-12)
    sing = np.array([[1.0, 2.0], [2.0, 4.0]])
    np.testing.assert_allclose(LA.pinv(sing), np.linalg.pinv(sing), atol=1e-12)
    assert int(LA.matrix_rank(sing)) == 1 and int(LA.matrix_rank(a)) == 3
    b = _rand(rng, (5,))
    x, resid, rank, s = LA.lstsq(a, b)
    wx, wresid, wrank, ws = np.linalg.lstsq(a, b)
    np.testing.assert_allclose(x, wx, atol=1e-12)
    np.testing.assert_allclose(resid, wresid, rtol=1e-10)
    assert int(rank) == wrank
    np.testing.assert_allclose(s, ws)
    m = _rand(rng, (3, 3))
    for n in (0, 1, 2, 5, -1, -3):
        np.testing.assert_allclose(LA.matrix_power(m, n), np.linalg.matrix_power(m, n),
                                   rtol=1e-9, atol=1e-9)
    c = _rand(rng, (3, 2))
    np.testing.assert_allclose(LA.multi_dot([v := _rand(rng, (5,)), a, c]), v @ a @ c)


def test_cholesky_not_positive_definite_gives_nan(x64):
    # JAX returns NaNs (NumPy raises LinAlgError)
    out = LA.cholesky(np.array([[[1.0, 2.0], [2.0, 1.0]], [[2.0, 0.0], [0.0, 2.0]]]))
    assert np.isnan(out[0]).all()
    np.testing.assert_allclose(out[1], np.sqrt(2) * np.eye(2))


def test_upper_and_symmetrize(rng, x64):
    spd = _spd(rng, 3)
    u = LA.cholesky(spd, upper=True)
    np.testing.assert_allclose(u.T @ u, spd)
    lopsided = np.tril(spd)  # only the lower triangle: symmetrize_input=False reads it
    np.testing.assert_allclose(LA.eigh(lopsided, symmetrize_input=False).eigenvalues,
                               np.linalg.eigvalsh(spd))


def test_errors_name_the_operation():
    with pytest.raises(ShapeError, match="square"):
        LA.inv(np.ones((2, 3)))
    with pytest.raises(ShapeError, match="at least 2"):
        LA.det(np.ones(3))
    with pytest.raises(FunctraceError, match="mode"):
        LA.qr(np.ones((2, 2)), mode="raw")
    with pytest.raises(ShapeError, match="triangular_solve"):
        lax_linalg.triangular_solve(np.eye(3), np.ones((2, 2)), left_side=True)


# ---------------------------------------------------------------------------
# derivatives against finite differences (float64)

def test_grads_of_decompositions(rng, x64):
    spd = _spd(rng, 3)
    check_grads(LA.cholesky, (spd,), order=2)
    check_grads(lambda x: LA.eigh(x).eigenvalues, (spd,), order=2)
    check_grads(lambda x: _fix_signs(LA.eigh(x).eigenvectors), (spd,), order=1)
    for shape in ((3, 3), (4, 3), (3, 4)):
        a = _rand(rng, shape)
        check_grads(LA.svdvals, (a,), order=2)
        check_grads(lambda x: _fix_signs(LA.svd(x, full_matrices=False).U), (a,), order=1)
        check_grads(lambda x: _fix_signs(fnp.swapaxes(LA.svd(x, full_matrices=False).Vh, 0, 1)),
                    (a,), order=1)
        if shape[0] >= shape[1]:
            check_grads(lambda x: tuple(LA.qr(x)), (a,), order=2)


def test_grads_of_solvers(rng, x64):
    a = _well_conditioned(rng, (3, 3))
    b = _rand(rng, (3, 2))
    check_grads(LA.solve, (a, b), order=2)
    check_grads(LA.inv, (a,), order=2)
    check_grads(LA.det, (a,), order=2)
    check_grads(lambda x: LA.slogdet(x).logabsdet, (a,), order=2)
    # d det = det * trace(a^-1 da): the gradient is det * a^-T
    np.testing.assert_allclose(ft.grad(LA.det)(a), np.linalg.det(a) * np.linalg.inv(a).T)
    check_grads(LA.pinv, (_rand(rng, (4, 3)),), order=1)
    check_grads(lambda x: LA.norm(x), (_rand(rng, (3, 4)),), order=2)
    check_grads(lambda x: LA.norm(x, "nuc"), (_rand(rng, (3, 4)),), order=1)
    check_grads(lambda x: LA.matrix_power(x, 3), (_rand(rng, (3, 3)),), order=2)
    check_grads(lambda x, y: LA.lstsq(x, y)[0], (_rand(rng, (5, 3)), _rand(rng, (5,))),
                order=1)
    t = np.tril(_rand(rng, (3, 3))) + 3 * np.eye(3)
    for left in (True, False):
        for lower in (True, False):
            for trans in (True, False):
                for unit in (True, False):
                    tt = t if lower else t.T
                    bb = b if left else b.T
                    solve = functools.partial(lax_linalg.triangular_solve, left_side=left,
                                              lower=lower, transpose_a=trans,
                                              unit_diagonal=unit)
                    check_grads(solve, (tt, bb), order=2)


# ---------------------------------------------------------------------------
# jit and vmap against eager

def test_jit_and_vmap_match_eager(rng):
    a = _well_conditioned(rng, (4, 3, 3), np.float32)
    spd = _spd(rng, 3, (4,), np.float32)
    b = _rand(rng, (4, 3), np.float32)
    fns = {
        "solve": (lambda x, y: LA.solve(x, y[:, None])[:, 0], (a, b)),
        "inv": (LA.inv, (a,)),
        "det": (LA.det, (a,)),
        "slogdet": (lambda x: tuple(LA.slogdet(x)), (a,)),
        "cholesky": (LA.cholesky, (spd,)),
        "eigvalsh": (LA.eigvalsh, (spd,)),
        "svdvals": (LA.svdvals, (a,)),
        "qr_r": (lambda x: fnp.abs(LA.qr(x).R), (a,)),
        "norm": (LA.norm, (a,)),
        "pinv": (LA.pinv, (a,)),
        "grad_det": (ft.grad(LA.det), (a,)),
    }
    for name, (f, args) in fns.items():
        eager = [f(*(x[i] for x in args)) for i in range(4)]
        eager = ft.tree_util.tree_map(lambda *xs: np.stack(xs), *eager)
        batched = ft.vmap(f)(*args)
        jitted = ft.jit(ft.vmap(f))(*args)
        for got in (batched, jitted):
            ft.tree_util.tree_map(
                lambda g, w, name=name: np.testing.assert_allclose(
                    g, w, rtol=2e-4, atol=2e-4, err_msg=name), got, eager)


def test_vmap_of_grad_matches_loop(rng, x64):
    a = _well_conditioned(rng, (3, 3, 3))
    g = ft.vmap(ft.grad(lambda x: LA.slogdet(x).logabsdet))(a)
    for i in range(3):
        np.testing.assert_allclose(g[i], np.linalg.inv(a[i]).T, rtol=1e-5, atol=1e-6)


def test_tridiagonal_solve_and_symmetric_product(rng, x64):
    dl, du = rng.standard_normal((2, 5)), rng.standard_normal((2, 5))
    d = rng.standard_normal((2, 5)) + 4
    b = rng.standard_normal((2, 5, 3))
    dense = np.stack([np.diag(d[k]) + np.diag(dl[k, 1:], -1) + np.diag(du[k, :-1], 1)
                      for k in range(2)])
    np.testing.assert_allclose(lax_linalg.tridiagonal_solve(dl, d, du, b),
                               np.linalg.solve(dense, b), rtol=1e-10, atol=1e-12)
    check_grads(lambda d, b: lax_linalg.tridiagonal_solve(dl[0], d, du[0], b), (d[0], b[0]),
                order=1)
    a, c = rng.standard_normal((3, 4)), rng.standard_normal((3, 3))
    np.testing.assert_allclose(lax_linalg.symmetric_product(a, c, alpha=2.0, beta=0.5),
                               2 * a @ a.T + 0.5 * c)
    out = lax_linalg.symmetric_product(a, c, beta=1.0, symmetrize_output=True)
    np.testing.assert_allclose(out, out.T)
