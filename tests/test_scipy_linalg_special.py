"""functrace.scipy.linalg's special matrices against SciPy's (values, dtypes, batching) and
against their defining properties."""

import numpy as np
import pytest
import scipy.linalg as sl

import functrace.scipy.linalg as L


@pytest.fixture
def rng():
    return np.random.default_rng(1)


def _close(got, want, tol=1e-6):
    assert np.shape(got) == np.shape(want), (np.shape(got), np.shape(want))
    np.testing.assert_allclose(np.asarray(got), want, rtol=tol, atol=tol)


def test_from_vectors(rng):
    c = rng.standard_normal(4).astype(np.float32)
    r = rng.standard_normal(3).astype(np.float32)
    _close(L.toeplitz(c, r), sl.toeplitz(c, r))
    _close(L.toeplitz(c), sl.toeplitz(c))
    _close(L.hankel(c, r), sl.hankel(c, r))
    _close(L.hankel(c), sl.hankel(c))
    _close(L.circulant(c), sl.circulant(c))
    _close(L.companion(c), sl.companion(c))
    _close(L.leslie(c, r), sl.leslie(c, r))
    _close(L.fiedler(c), sl.fiedler(c))
    for n in range(2, 7):
        a = rng.standard_normal(n).astype(np.float32)
        _close(L.fiedler_companion(a), sl.fiedler_companion(a), 1e-5)
    assert np.shape(L.fiedler_companion(np.ones(1, np.float32))) == (0, 0)  # JAX's shape


def test_complex_toeplitz_is_hermitian_by_default(rng):
    c = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    c[0] = c[0].real
    t = np.asarray(L.toeplitz(c.astype(np.complex64)))
    _close(t, sl.toeplitz(c), 1e-6)
    _close(t, t.conj().T, 1e-7)


def test_leading_axes_are_batch_axes(rng):
    c = rng.standard_normal((2, 4)).astype(np.float32)
    r = rng.standard_normal((1, 3)).astype(np.float32)  # broadcasts against c's batch
    _close(L.toeplitz(c, r), np.stack([sl.toeplitz(x, r[0]) for x in c]))
    _close(L.hankel(c, r), np.stack([sl.hankel(x, r[0]) for x in c]))
    _close(L.circulant(c), np.stack([sl.circulant(x) for x in c]))
    _close(L.companion(c), np.stack([sl.companion(x) for x in c]), 1e-5)
    _close(L.fiedler(c), np.stack([sl.fiedler(x) for x in c]))


def test_block_diag(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((1, 1))
    _close(L.block_diag(a, b, [1., 2.], 5.), sl.block_diag(a, b, [1., 2.], 5.))
    assert np.shape(L.block_diag()) == (1, 0)


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("n", [1, 3, 6])
def test_convolution_matrix(rng, mode, n):
    a = rng.standard_normal(4).astype(np.float32)
    _close(L.convolution_matrix(a, n, mode), sl.convolution_matrix(a, n, mode))
    v = rng.standard_normal(n).astype(np.float32)
    _close(np.asarray(L.convolution_matrix(a, n, mode)) @ v, np.convolve(a, v, mode), 1e-5)


@pytest.mark.parametrize("kind", [None, "lower", "upper"])
def test_pascal_and_inverse(kind, x64):
    want = sl.pascal(6, kind or "symmetric")
    got = L.pascal(6, kind)
    assert got.dtype == np.float32  # as JAX, whatever x64 says
    _close(got, want, 0)
    inv = L.invpascal(6, kind)
    assert inv.dtype == np.float64
    _close(inv, sl.invpascal(6, kind or "symmetric"), 0)
    _close(np.asarray(got, np.float64) @ inv, np.eye(6), 0)


def test_size_constructors(x64):
    _close(L.hilbert(5), sl.hilbert(5), 1e-15)
    _close(L.invhilbert(5), sl.invhilbert(5), 1e-9)
    _close(np.asarray(L.hilbert(5)) @ L.invhilbert(5), np.eye(5), 1e-8)
    for full in (False, True):
        h = np.asarray(L.helmert(5, full))
        _close(h, sl.helmert(5, full), 1e-15)
        _close(h @ h.T, np.eye(h.shape[0]), 1e-14)  # orthonormal rows
    h = L.hadamard(8)
    assert h.dtype == np.int64
    _close(h, sl.hadamard(8), 0)
    assert L.hadamard(4, np.float32).dtype == np.float32
    for scale in (None, "sqrtn", "n"):
        d = L.dft(6, scale)
        assert d.dtype == np.complex128
        _close(d, sl.dft(6, scale), 1e-14)
    x = np.arange(6.)
    _close(np.asarray(L.dft(6)) @ x, np.fft.fft(x), 1e-12)


def test_default_dtypes_without_x64():
    assert L.hilbert(3).dtype == np.float32
    assert L.hadamard(2).dtype == np.int32
    assert L.dft(3).dtype == np.complex64
    assert L.helmert(3).dtype == np.float32
