"""functrace.scipy.linalg's Schur family: schur/hessenberg checked by their defining
properties (unitary factor, triangular/Hessenberg shape, reconstruction, eigenvalues), and
rsf2csf, sqrtm, funm, solve_sylvester against SciPy and math; batching, jit, errors."""

import numpy as np
import pytest
import scipy.linalg as sl

import functrace as ft
import functrace.numpy as fnp
import functrace.scipy.linalg as L
from functrace.errors import FunctraceError, MissingRuleError


@pytest.fixture
def rng():
    return np.random.default_rng(5)


def _matrices(rng):
    """Random, integer-valued (repeated eigenvalues), rotation-like, defective, tiny."""
    yield rng.standard_normal((6, 6))
    yield np.round(3 * rng.standard_normal((5, 5)))
    yield np.array([[0., -1., 0.], [1., 0., 0.], [0., 0., 2.]])
    yield np.array([[2., 1., 0.], [0., 2., 1.], [0., 0., 2.]])
    yield np.array([[3.]])
    yield rng.standard_normal((12, 12))


def _assert_same_spectrum(got, want, atol):
    """Each eigenvalue of one list is within ``atol`` of one of the other (sorting would
    pair a conjugate pair's members differently under rounding)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape
    dist = np.abs(got[:, None] - want[None, :])
    assert dist.min(axis=1).max() < atol and dist.min(axis=0).max() < atol, (got, want)


def _eigs(t, quasi: bool):
    """Eigenvalues read off a (quasi) triangular Schur factor; checks the 2x2 blocks hold
    complex pairs only."""
    t = np.asarray(t)
    out, i, n = [], 0, t.shape[0]
    while i < n:
        if quasi and i < n - 1 and t[i + 1, i] != 0:
            pair = np.linalg.eigvals(t[i:i + 2, i:i + 2])
            assert abs(pair[0].imag) > 0, t[i:i + 2, i:i + 2]
            out += list(pair)
            i += 2
        else:
            out.append(t[i, i])
            i += 1
    return np.sort_complex(np.array(out))


@pytest.mark.parametrize("output", ["real", "complex"])
def test_schur_properties(rng, x64, output):
    for a in _matrices(rng):
        n = a.shape[0]
        t, z = (np.asarray(v) for v in L.schur(a, output))
        assert t.dtype == (np.float64 if output == "real" else np.complex128)
        np.testing.assert_allclose(z.conj().T @ z, np.eye(n), atol=1e-12)
        np.testing.assert_allclose(z @ t @ z.conj().T, a, atol=1e-12)
        quasi = output == "real"
        assert not np.tril(t, -2 if quasi else -1).any()
        if quasi and n > 2:  # no two consecutive nonzero subdiagonals
            sub = np.diag(t, -1) != 0
            assert not (sub[1:] & sub[:-1]).any()
        # (1e-5: a defective eigenvalue is only known to ~eps^(1/3))
        _assert_same_spectrum(_eigs(t, quasi), np.linalg.eigvals(a), 1e-5)


def test_schur_complex_input_and_batch(rng, x64):
    a = rng.standard_normal((2, 4, 4)) + 1j * rng.standard_normal((2, 4, 4))
    t, z = (np.asarray(v) for v in L.schur(a))
    np.testing.assert_allclose(z @ t @ np.swapaxes(z, -1, -2).conj(), a, atol=1e-12)
    assert not np.tril(t, -1).any()
    tv, _ = ft.vmap(L.schur)(a)
    np.testing.assert_allclose(tv, t, atol=0)
    tj, _ = ft.jit(L.schur)(a[0])
    np.testing.assert_allclose(tj, t[0], atol=0)


def test_hessenberg(rng, x64):
    a = rng.standard_normal((6, 6))
    h, q = (np.asarray(v) for v in L.hessenberg(a, calc_q=True))
    want_h, _ = sl.hessenberg(a, calc_q=True)
    assert not np.tril(h, -2).any()
    np.testing.assert_allclose(q @ h @ q.T, a, atol=1e-12)
    np.testing.assert_allclose(q.T @ q, np.eye(6), atol=1e-12)
    np.testing.assert_allclose(np.abs(h), np.abs(want_h), atol=1e-12)  # Householder signs
    np.testing.assert_allclose(L.hessenberg(a), h, atol=0)


def test_rsf2csf(rng, x64):
    a = rng.standard_normal((6, 6))
    t, z = (np.asarray(v) for v in L.rsf2csf(*L.schur(a)))
    assert t.dtype == np.complex128
    assert np.abs(np.tril(t, -1)).max() == 0
    np.testing.assert_allclose(z @ t @ z.conj().T, a, atol=1e-12)
    np.testing.assert_allclose(z.conj().T @ z, np.eye(6), atol=1e-12)
    want_t, _ = sl.rsf2csf(*sl.schur(a))
    _assert_same_spectrum(np.diag(t), np.diag(want_t), 1e-10)


def test_sqrtm(rng, x64):
    spd = rng.standard_normal((5, 5))
    spd = spd @ spd.T + np.eye(5)
    r = np.asarray(L.sqrtm(spd))
    assert r.dtype == np.complex128  # as JAX: through the complex Schur form
    np.testing.assert_allclose(r, sl.sqrtm(spd), atol=1e-10)
    a = rng.standard_normal((4, 4))
    r = np.asarray(L.sqrtm(a))
    np.testing.assert_allclose(r @ r, a, atol=1e-10)
    np.testing.assert_allclose(r, sl.sqrtm(a + 0j), atol=1e-10)
    batch = np.stack([spd, 2 * spd])
    np.testing.assert_allclose(ft.vmap(L.sqrtm)(batch)[1], sl.sqrtm(2 * spd), atol=1e-10)


@pytest.mark.parametrize("name", ["exp", "sin", "sqrt"])
def test_funm(rng, x64, name):
    a = rng.standard_normal((5, 5))
    if name == "sqrt":
        a = a @ a.T + np.eye(5)
    got = L.funm(a, getattr(fnp, name))
    np.testing.assert_allclose(got, sl.funm(a, getattr(np, name)), atol=1e-10)
    if name == "exp":
        np.testing.assert_allclose(got, sl.expm(a), atol=1e-10)
    f, err = L.funm(a, getattr(fnp, name), disp=False)
    assert 0 < float(err) < 1e-6


def test_solve_sylvester(rng, x64):
    a, b = rng.standard_normal((4, 4)), rng.standard_normal((3, 3))
    c = rng.standard_normal((4, 3))
    x = np.asarray(L.solve_sylvester(a, b, c))
    assert x.dtype == np.float64
    np.testing.assert_allclose(x, sl.solve_sylvester(a, b, c), atol=1e-10)
    # a complex right-hand side (checked by the residual: SciPy 1.x mishandles this case)
    cc = c + 1j * rng.standard_normal((4, 3))
    xc = np.asarray(L.solve_sylvester(a, b, cc))
    np.testing.assert_allclose(a @ xc + xc @ b, cc, atol=1e-10)
    # eigenvalues of A and -B coincide: no unique solution, NaNs (as JAX)
    assert np.isnan(np.asarray(L.solve_sylvester(np.eye(2), -np.eye(2), np.ones((2, 2))))).all()
    batch = L.solve_sylvester(np.stack([a, 2 * a]), b, np.stack([c, c]))
    np.testing.assert_allclose(batch[1], sl.solve_sylvester(2 * a, b, c), atol=1e-10)
    np.testing.assert_allclose(ft.jit(L.solve_sylvester)(a, b, c), x, atol=1e-12)


def test_errors():
    sq, rect = np.eye(3, dtype=np.float32), np.ones((2, 3), np.float32)
    cases = [
        (lambda: L.schur(rect), "schur.*square"),
        (lambda: L.schur(sq, output="quasi"), "output"),
        (lambda: L.hessenberg(rect), "hessenberg.*square"),
        (lambda: L.rsf2csf(sq, np.eye(2)), "same size"),
        (lambda: L.sqrtm(sq, blocksize=2), "blocksize"),
        (lambda: L.funm(np.ones((2, 3, 3)), fnp.exp), "square 2-D"),
        (lambda: L.solve_sylvester(sq, sq, rect), "incompatible shapes"),
        (lambda: L.solve_sylvester(sq, sq, sq, method="eigen"), "eig"),
        (lambda: L.solve_sylvester(sq, sq, sq, method="qz"), "method"),
    ]
    for fn, pattern in cases:
        with pytest.raises((FunctraceError, ValueError), match=pattern) as info:
            fn()
        assert "scipy.linalg" in str(info.value)


def test_schur_has_no_derivative_as_in_jax():
    with pytest.raises(MissingRuleError, match="schur"):
        ft.grad(lambda a: L.schur(a)[0].sum())(np.eye(2, dtype=np.float32))
