"""functrace.scipy.linalg: values against SciPy (float64, batched against a loop),
derivatives against finite differences (check_grads), jit and vmap against eager, and the
error messages of bad input."""

import warnings

import numpy as np
import pytest
import scipy.linalg as sl

import functrace as ft
import functrace.scipy.linalg as L
from functrace.errors import FunctraceError
from functrace.test_util import check_grads

TOL = dict(rtol=1e-9, atol=1e-9)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _spd(rng, n, batch=()):
    a = rng.standard_normal(batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def _wc(rng, shape):
    return rng.standard_normal(shape) + 2 * shape[-1] ** 0.5 * np.eye(shape[-1])


def _loop(f, *arrays):
    """SciPy's ``f`` applied matrix by matrix over the leading axis."""
    return np.stack([f(*xs) for xs in zip(*arrays, strict=True)])


# ---------------------------------------------------------------------------
# values against SciPy

@pytest.mark.parametrize("lower", [False, True])
def test_cholesky_family(rng, x64, lower):
    spd = _spd(rng, 4)
    b = rng.standard_normal((4, 2))
    np.testing.assert_allclose(L.cholesky(spd, lower=lower), sl.cholesky(spd, lower=lower),
                               **TOL)
    # only the named triangle is read
    junk = np.tril(rng.standard_normal((4, 4)), -1)
    other = spd + (junk.T if lower else junk)
    np.testing.assert_allclose(L.cholesky(other, lower=lower), sl.cholesky(spd, lower=lower),
                               **TOL)
    c = L.cho_factor(spd, lower=lower)
    assert c[1] is lower
    want = sl.cho_solve(sl.cho_factor(spd, lower=lower), b)
    np.testing.assert_allclose(L.cho_solve(c, b), want, **TOL)
    np.testing.assert_allclose(L.cho_solve(c, b[:, 0]), want[:, 0], **TOL)


def test_cholesky_batched_and_not_positive_definite(rng, x64):
    spd = _spd(rng, 3, (2,))
    np.testing.assert_allclose(L.cholesky(spd), _loop(sl.cholesky, spd), **TOL)
    assert np.isnan(np.asarray(L.cholesky(-np.eye(2)))).all()


@pytest.mark.parametrize("trans", [0, 1, 2, "N", "T", "C"])
@pytest.mark.parametrize("lower", [False, True])
@pytest.mark.parametrize("unit_diagonal", [False, True])
def test_solve_triangular(rng, x64, trans, lower, unit_diagonal):
    a = _wc(rng, (4, 4)) + 1j * rng.standard_normal((4, 4))
    b = rng.standard_normal((4, 3)) + 1j * rng.standard_normal((4, 3))
    kw = dict(trans=trans, lower=lower, unit_diagonal=unit_diagonal)
    np.testing.assert_allclose(L.solve_triangular(a, b, **kw), sl.solve_triangular(a, b, **kw),
                               **TOL)
    np.testing.assert_allclose(L.solve_triangular(a, b[:, 0], **kw),
                               sl.solve_triangular(a, b[:, 0], **kw), **TOL)


def test_solve_triangular_broadcasts_batches(rng, x64):
    a = _wc(rng, (2, 3, 3))
    b = rng.standard_normal((3, 2))
    want = _loop(lambda m: sl.solve_triangular(m, b, lower=True), a)
    np.testing.assert_allclose(L.solve_triangular(a, b, lower=True), want, **TOL)
    # a batch of vectors with b.ndim == a.ndim - 1 is JAX's deprecated 1-D batch
    with pytest.warns(FutureWarning, match="deprecated"):
        out = L.solve_triangular(a, b.T, lower=True)
    np.testing.assert_allclose(out, np.stack([want[i][:, i] for i in range(2)]), **TOL)


@pytest.mark.parametrize("assume_a", ["gen", "sym", "her", "pos"])
@pytest.mark.parametrize("lower", [False, True])
def test_solve(rng, x64, assume_a, lower):
    a = _spd(rng, 4)
    b = rng.standard_normal((4, 2))
    kw = dict(assume_a=assume_a, lower=lower)
    np.testing.assert_allclose(L.solve(a, b, **kw), sl.solve(a, b, **kw), **TOL)
    np.testing.assert_allclose(L.solve(a, b[:, 0], **kw), sl.solve(a, b[:, 0], **kw), **TOL)
    batch, bb = _spd(rng, 4, (3,)), rng.standard_normal((3, 4, 2))
    np.testing.assert_allclose(L.solve(batch, bb, **kw),
                               _loop(lambda m, r: sl.solve(m, r, **kw), batch, bb), **TOL)


def test_inv_det(rng, x64):
    a = _wc(rng, (2, 4, 4))
    np.testing.assert_allclose(L.inv(a), _loop(sl.inv, a), **TOL)
    np.testing.assert_allclose(L.det(a), _loop(sl.det, a), **TOL)


@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (5, 3)])
def test_lu(rng, x64, shape):
    a = rng.standard_normal(shape)
    for got, want in zip(L.lu(a), sl.lu(a), strict=True):
        np.testing.assert_allclose(got, want, **TOL)
    for got, want in zip(L.lu(a, permute_l=True), sl.lu(a, permute_l=True), strict=True):
        np.testing.assert_allclose(got, want, **TOL)
    lu_, piv = L.lu_factor(a)
    want_lu, want_piv = sl.lu_factor(a)
    np.testing.assert_allclose(lu_, want_lu, **TOL)
    np.testing.assert_array_equal(piv, want_piv)


def test_lu_batched_reconstructs(rng, x64):
    a = rng.standard_normal((2, 3, 4))
    p, low, up = L.lu(a)
    np.testing.assert_allclose(np.asarray(p) @ low @ up, a, **TOL)


@pytest.mark.parametrize("trans", [0, 1, 2])
def test_lu_solve(rng, x64, trans):
    a = _wc(rng, (4, 4)) + 1j * rng.standard_normal((4, 4))
    b = rng.standard_normal((4, 2)) + 0j
    want = sl.lu_solve(sl.lu_factor(a), b, trans=trans)
    f = L.lu_factor(a)
    np.testing.assert_allclose(L.lu_solve(f, b, trans=trans), want, **TOL)
    np.testing.assert_allclose(L.lu_solve(f, b[:, 0], trans=trans), want[:, 0], **TOL)
    # under jit the pivots are traced: the permutation is built from one-hot swaps
    jitted = ft.jit(lambda lu_, piv, b: L.lu_solve((lu_, piv), b, trans=trans))
    np.testing.assert_allclose(jitted(*f, b), want, **TOL)


def test_lu_solve_batched_pivots(rng, x64):
    a = _wc(rng, (3, 5, 5))
    b = rng.standard_normal((3, 5, 2))
    want = _loop(lambda m, r: sl.lu_solve(sl.lu_factor(m), r), a, b)
    np.testing.assert_allclose(L.lu_solve(L.lu_factor(a), b), want, **TOL)
    out = ft.vmap(lambda m, r: L.lu_solve(L.lu_factor(m), r))(a, b)
    np.testing.assert_allclose(out, want, **TOL)


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
@pytest.mark.parametrize("mode", ["full", "economic", "r"])
def test_qr(rng, x64, shape, mode):
    a = rng.standard_normal(shape)
    got, want = L.qr(a, mode=mode), sl.qr(a, mode=mode)
    assert isinstance(got, tuple) and len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        # columns of q (rows of r) are defined up to sign
        np.testing.assert_allclose(np.abs(np.asarray(g)), np.abs(w), **TOL)
    if mode != "r":
        np.testing.assert_allclose(np.asarray(got[0]) @ got[1], a, **TOL)


@pytest.mark.parametrize("mode", ["left", "right"])
def test_qr_multiply(rng, x64, mode):
    a = rng.standard_normal((5, 3))
    c = rng.standard_normal((3, 2) if mode == "left" else (2, 5))
    q = np.asarray(L.qr(a, mode="economic")[0])
    cq, r = L.qr_multiply(a, c, mode=mode)
    np.testing.assert_allclose(cq, q @ c if mode == "left" else c @ q, **TOL)
    np.testing.assert_allclose(r, L.qr(a, mode="economic")[1], **TOL)


@pytest.mark.parametrize("full_matrices", [True, False])
def test_svd(rng, x64, full_matrices):
    a = rng.standard_normal((4, 3))
    u, s, vh = L.svd(a, full_matrices=full_matrices)
    wu, ws, wvh = sl.svd(a, full_matrices=full_matrices)
    np.testing.assert_allclose(s, ws, **TOL)
    assert np.shape(u) == wu.shape and np.shape(vh) == wvh.shape
    np.testing.assert_allclose(np.asarray(u)[:, :3] * s @ vh, a, **TOL)
    np.testing.assert_allclose(L.svd(a, compute_uv=False), ws, **TOL)


@pytest.mark.parametrize("lower", [True, False])
def test_eigh(rng, x64, lower):
    a = _spd(rng, 4)
    w, v = L.eigh(a, lower=lower)
    np.testing.assert_allclose(w, sl.eigh(a, eigvals_only=True), **TOL)
    np.testing.assert_allclose(a @ v, np.asarray(v) * w, **TOL)
    np.testing.assert_allclose(L.eigh(a, eigvals_only=True), w, **TOL)
    # as JAX (unlike SciPy), a non-Hermitian input is symmetrized, not read from a triangle
    skew = np.triu(rng.standard_normal((4, 4)), 1)
    np.testing.assert_allclose(L.eigh(a + skew, lower=lower, eigvals_only=True),
                               sl.eigh(a + (skew + skew.T) / 2, eigvals_only=True), **TOL)


def test_eigh_tridiagonal(rng, x64):
    d, e = rng.standard_normal(6), rng.standard_normal(5)
    want = sl.eigh_tridiagonal(d, e, eigvals_only=True)
    np.testing.assert_allclose(L.eigh_tridiagonal(d, e, eigvals_only=True), want, **TOL)
    sel = L.eigh_tridiagonal(d, e, eigvals_only=True, select="i", select_range=(1, 3))
    np.testing.assert_allclose(sel, want[1:4], **TOL)


def test_polar(rng, x64):
    a = rng.standard_normal((4, 3))
    for got, want in zip(L.polar(a), sl.polar(a), strict=True):
        np.testing.assert_allclose(got, want, **TOL)
    for got, want in zip(L.polar(a.T, "left"), sl.polar(a.T, "left"), strict=True):
        np.testing.assert_allclose(got, want, **TOL)
    for got, want in zip(L.polar(a.T, method="svd"), sl.polar(a.T), strict=True):
        np.testing.assert_allclose(got, want, **TOL)


# ---------------------------------------------------------------------------
# expm

@pytest.mark.parametrize("scale", [1e-3, 0.3, 1.0, 3.0, 30.0])
def test_expm_every_pade_degree_and_squaring(rng, x64, scale):
    # the scales reach Pade degrees 3..13 and 0..several squarings
    a = scale * rng.standard_normal((4, 4)) / 4
    want = sl.expm(a)
    np.testing.assert_allclose(L.expm(a), want, rtol=1e-10, atol=1e-12 * np.abs(want).max())


def test_expm_float32_batched_and_upper_triangular(rng):
    a = (rng.standard_normal((3, 4, 4)) * np.array([0.01, 1, 5])[:, None, None]).astype(
        np.float32)
    want = _loop(sl.expm, a.astype(np.float64))
    got = L.expm(a)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5 * np.abs(want).max())
    np.testing.assert_allclose(ft.vmap(L.expm)(a), got, rtol=1e-6, atol=1e-6)
    t = np.triu(a[1])
    np.testing.assert_allclose(L.expm(t, upper_triangular=True), sl.expm(t), rtol=1e-5,
                               atol=1e-5)


def test_expm_known_values(x64):
    # exp of a nilpotent matrix is a finite series; exp of a rotation generator is a rotation
    n = np.array([[0., 1., 2.], [0., 0., 3.], [0., 0., 0.]])
    np.testing.assert_allclose(L.expm(n), np.eye(3) + n + n @ n / 2, **TOL)
    t = 0.7
    rot = L.expm(np.array([[0., -t], [t, 0.]]))
    np.testing.assert_allclose(rot, [[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]], **TOL)


def test_expm_too_many_squarings_gives_nan(rng, x64):
    a = 100 * rng.standard_normal((3, 3))
    assert np.isnan(np.asarray(L.expm(a, max_squarings=2))).all()
    assert np.isfinite(np.asarray(L.expm(a / 100, max_squarings=2))).all()


def test_expm_frechet(rng, x64):
    a, e = rng.standard_normal((2, 4, 4))
    want_expm, want_frechet = sl.expm_frechet(a, e)
    got_expm, got_frechet = L.expm_frechet(a, e)
    np.testing.assert_allclose(got_expm, want_expm, rtol=1e-10)
    np.testing.assert_allclose(got_frechet, want_frechet, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(L.expm_frechet(a, e, compute_expm=False), got_frechet, **TOL)


@pytest.mark.slow
def test_expm_jit_traces_the_squaring_loop(rng):
    a = (3 * rng.standard_normal((4, 4))).astype(np.float32)  # several squarings
    np.testing.assert_allclose(ft.jit(L.expm)(a), L.expm(a), rtol=1e-5, atol=1e-5)
    big = ft.jit(lambda x: L.expm(x, max_squarings=1))(30 * a)
    assert np.isnan(np.asarray(big)).all()


# ---------------------------------------------------------------------------
# derivatives against finite differences

def _sym(x):
    return x + x.T + 8 * np.eye(x.shape[0])


GRAD_CASES = {
    "cholesky": (lambda x: L.cholesky(_sym(x)), 1),
    "cholesky_lower": (lambda x: L.cholesky(_sym(x), lower=True), 1),
    "cho_solve": (lambda x, b: L.cho_solve(L.cho_factor(_sym(x)), b), 1),
    "solve_triangular": (lambda x, b: L.solve_triangular(x + 4 * np.eye(3), b, trans=1), 1),
    "solve_gen": (lambda x, b: L.solve(x + 4 * np.eye(3), b), 1),
    "solve_pos": (lambda x, b: L.solve(_sym(x), b, assume_a="pos", lower=True), 2),
    "inv": (lambda x: L.inv(x + 4 * np.eye(3)), 1),
    "det": (lambda x: L.det(x + 4 * np.eye(3)), 1),
    "lu": (lambda x: L.lu(x + 4 * np.eye(3))[1:], 1),
    "lu_solve": (lambda x, b: L.lu_solve(L.lu_factor(x + 4 * np.eye(3)), b, trans=1), 1),
    "qr": (lambda x: L.qr(x, mode="economic"), 1),
    "svd": (lambda x: L.svd(x, compute_uv=False), 1),
    "eigh": (lambda x: L.eigh(_sym(x), eigvals_only=True), 1),
    "expm": (lambda x: L.expm(x), 2),
    "expm_squared": (lambda x: L.expm(4 * x), 1),
    "polar": (lambda x: L.polar(x + 4 * np.eye(3))[1], 1),
    "toeplitz": (lambda x: L.toeplitz(x[0], x[1]), 1),
    "hankel": (lambda x: L.hankel(x[0], x[1]), 1),
    "block_diag": (lambda x: L.block_diag(x, x[:2, :1]), 1),
}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_grads_match_finite_differences(rng, x64, name):
    f, order = GRAD_CASES[name]
    x = rng.standard_normal((3, 3))
    b = rng.standard_normal((3, 2))
    args = (x, b) if f.__code__.co_argcount == 2 else (x,)
    check_grads(f, args, order)


def test_solve_pos_gradient_is_that_of_the_full_matrix(rng, x64):
    # as JAX's custom_linear_solve: d x = -a^-1 da x for any da, not just one triangle
    a, b = _spd(rng, 3), rng.standard_normal(3)
    da = rng.standard_normal((3, 3))
    _, dx = ft.jvp(lambda m: L.solve(m, b, assume_a="pos"), (a,), (da,))
    np.testing.assert_allclose(dx, -np.linalg.solve(a, da @ np.linalg.solve(a, b)), **TOL)


def test_jit_and_vmap_match_eager(rng, x64):
    spd = _spd(rng, 3, (4,))
    b = rng.standard_normal((4, 3, 2))
    f = lambda m, r: L.cho_solve(L.cho_factor(m, lower=True), r)  # noqa: E731
    want = _loop(lambda m, r: sl.cho_solve(sl.cho_factor(m, lower=True), r), spd, b)
    np.testing.assert_allclose(ft.vmap(f)(spd, b), want, **TOL)
    np.testing.assert_allclose(ft.jit(f)(spd, b), want, **TOL)
    g = lambda m, r: L.solve(m, r, assume_a="pos")  # noqa: E731
    np.testing.assert_allclose(ft.jit(ft.vmap(g))(spd, b), want, **TOL)
    h = lambda m: L.qr(m, mode="r")[0]  # noqa: E731
    np.testing.assert_allclose(np.abs(ft.vmap(h)(spd)), np.abs(_loop(lambda m: sl.qr(m)[1],
                                                                      spd)), **TOL)


# ---------------------------------------------------------------------------
# bad input

def test_errors_name_the_operation():
    sq, rect = np.eye(3, dtype=np.float32), np.ones((2, 3), np.float32)
    cases = [
        (lambda: L.cholesky(rect), "cholesky.*square"),
        (lambda: L.inv(rect), "inv.*square"),
        (lambda: L.det(np.ones(3)), "det.*rank >= 2"),
        (lambda: L.solve_triangular(sq, np.ones(3), trans=3), "invalid 'trans'"),
        (lambda: L.solve_triangular(sq, np.ones(3), trans="X"), "invalid 'trans'"),
        (lambda: L.solve_triangular(sq, np.ones(4)), "rows \\(4\\) must match"),
        (lambda: L.solve(sq, np.ones(3), assume_a="diagonal"), "assume_a"),
        (lambda: L.solve(sq, np.ones(4), assume_a="pos"), "shapes"),
        (lambda: L.lu_solve(L.lu_factor(sq), np.ones(3), trans="T"), "'trans' must be"),
        (lambda: L.qr(sq, mode="complete"), "unsupported mode"),
        (lambda: L.qr(sq, pivoting=True), "pivoting=True"),
        (lambda: L.eigh(sq, sq), "b=None"),
        (lambda: L.eigh(sq, type=2), "type=1"),
        (lambda: L.expm(rect), "expm.*square"),
        (lambda: L.expm_frechet(sq, np.eye(2)), "same shape"),
        (lambda: L.polar(sq, side="up"), "side"),
        (lambda: L.polar(rect), "qdwh"),
        (lambda: L.hadamard(6), "power of 2"),
        (lambda: L.pascal(3, kind="diag"), "kind"),
        (lambda: L.dft(3, scale="x"), "scale"),
        (lambda: L.dft(3, dtype=np.float32), "complex"),
        (lambda: L.leslie(np.ones(3), np.ones(3)), "one shorter"),
        (lambda: L.companion(np.ones(1)), "at least 2"),
        (lambda: L.block_diag(np.ones((1, 1, 1))), "at most 2"),
        (lambda: L.convolution_matrix(np.ones(3), 2, mode="x"), "mode"),
        (lambda: L.helmert(0), "positive"),
    ]
    for fn, pattern in cases:
        with pytest.raises((FunctraceError, ValueError)) as info:
            fn()
        assert "scipy.linalg" in str(info.value), str(info.value)
        assert __import__("re").search(pattern, str(info.value)), (pattern, str(info.value))


def test_no_future_warning_for_matrix_rhs(rng):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        L.solve_triangular(np.eye(3, dtype=np.float32), np.ones((3, 3), np.float32))
