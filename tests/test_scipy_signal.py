"""functrace.scipy.signal against scipy.signal (every mode and method, swapped operands,
N-d, complex), derivatives against finite differences, jit/vmap, and bad input."""

import numpy as np
import pytest
import scipy.signal as ss

import functrace as ft
import functrace.scipy.signal as S
from functrace.errors import FunctraceError
from functrace.test_util import check_grads

SHAPES = [((7,), (3,)), ((3,), (7,)), ((4,), (4,)), ((1,), (3,)), ((5, 6), (2, 3)),
          ((2, 3), (5, 6)), ((3, 3), (3, 3)), ((3, 4, 5), (2, 2, 3))]
MODES = ["full", "same", "valid"]


@pytest.fixture
def rng():
    return np.random.default_rng(2)


def _close(got, want, tol=1e-5):
    assert np.shape(got) == np.shape(want), (np.shape(got), np.shape(want))
    np.testing.assert_allclose(np.asarray(got), want, rtol=tol, atol=tol)


@pytest.mark.parametrize("s1,s2", SHAPES)
@pytest.mark.parametrize("mode", MODES)
def test_convolve_correlate_match_scipy(rng, s1, s2, mode):
    a = rng.standard_normal(s1).astype(np.float32)
    b = rng.standard_normal(s2).astype(np.float32)
    for method in ("direct", "auto", "fft"):
        _close(S.convolve(a, b, mode, method), ss.convolve(a, b, mode, "direct"))
        _close(S.correlate(a, b, mode, method), ss.correlate(a, b, mode, "direct"))
    _close(S.fftconvolve(a, b, mode), ss.fftconvolve(a, b, mode))
    if len(s1) == 2:
        _close(S.convolve2d(a, b, mode), ss.convolve2d(a, b, mode))
        _close(S.correlate2d(a, b, mode), ss.correlate2d(a, b, mode))


@pytest.mark.parametrize("mode", MODES)
def test_complex_correlation_conjugates(rng, mode):
    def c(shape):
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(
            np.complex64)
    a, b = c((4, 5)), c((2, 3))
    _close(S.correlate(a, b, mode), ss.correlate(a, b, mode))
    _close(S.correlate2d(a, b, mode), ss.correlate2d(a, b, mode))
    _close(S.correlate2d(b, a, mode), ss.correlate2d(b, a, mode))
    _close(S.convolve(a, b, mode, "fft"), ss.convolve(a, b, mode))


def test_fftconvolve_axes(rng):
    a = rng.standard_normal((3, 6)).astype(np.float32)
    b = rng.standard_normal((3, 4)).astype(np.float32)
    _close(S.fftconvolve(a, b, axes=1), ss.fftconvolve(a, b, axes=1))
    _close(S.fftconvolve(a.T, b.T, "same", axes=0), ss.fftconvolve(a.T, b.T, "same", axes=0))


def test_integer_inputs_become_float():
    out = S.convolve(np.array([1, 2, 3]), np.array([1, 1]))
    assert out.dtype == np.float32
    _close(out, [1., 3., 5., 3.])


@pytest.mark.parametrize("bp", [0, [3, 7]])
def test_detrend(rng, bp):
    x = rng.standard_normal((4, 10)).astype(np.float32)
    _close(S.detrend(x, bp=bp), ss.detrend(x, bp=bp))
    _close(S.detrend(x.T, axis=0, bp=bp), ss.detrend(x.T, axis=0, bp=bp))
    _close(S.detrend(x, type="constant"), ss.detrend(x, type="constant"))


@pytest.mark.parametrize("mode", MODES)
def test_grads(rng, x64, mode):
    a, b = rng.standard_normal((5, 4)), rng.standard_normal((2, 3))
    check_grads(lambda x, y: S.convolve2d(x, y, mode), (a, b), order=2)
    check_grads(lambda x, y: S.correlate(x, y, mode, method="fft"), (a, b), order=1)
    check_grads(lambda x: S.detrend(x), (a,), order=1)


def test_jit_and_vmap(rng):
    a = rng.standard_normal((3, 8)).astype(np.float32)
    k = rng.standard_normal(3).astype(np.float32)
    want = np.stack([ss.convolve(x, k, "same") for x in a])
    _close(ft.vmap(lambda x: S.convolve(x, k, "same"))(a), want)
    _close(ft.jit(lambda x, y: S.correlate2d(x, y, "valid"))(a, a[:2, :3]),
           ss.correlate2d(a, a[:2, :3], "valid"))


def test_errors():
    one, two = np.ones(3, np.float32), np.ones((3, 3), np.float32)
    cases = [
        (lambda: S.convolve(one, two), "same number of dimensions"),
        (lambda: S.convolve(one, one, mode="middle"), "mode"),
        (lambda: S.convolve(one, one, method="winograd"), "method"),
        (lambda: S.convolve(np.ones((2, 5)), np.ones((3, 2))), "at least as large"),
        (lambda: S.convolve(np.ones(0), one), "zero-size"),
        (lambda: S.convolve2d(one, one), "2-dimensional"),
        (lambda: S.correlate2d(two, two, boundary="wrap"), "boundary='fill'"),
        (lambda: S.convolve2d(two, two, fillvalue=1), "fillvalue"),
        (lambda: S.fftconvolve(np.ones((2, 4)), np.ones((3, 2)), axes=1), "mapped axes"),
        (lambda: S.detrend(two, type="cubic"), "type"),
    ]
    for fn, pattern in cases:
        with pytest.raises((FunctraceError, ValueError), match=pattern) as info:
            fn()
        assert "scipy.signal" in str(info.value)


# ---------------------------------------------------------------------------
# windowed-FFT estimators

SPECTRAL_KW = [dict(nperseg=16), dict(nperseg=16, noverlap=4), dict(nperseg=10, nfft=16),
               dict(nperseg=16, window="hamming"), dict(nperseg=16, detrend="linear"),
               dict(nperseg=16, return_onesided=False)]


@pytest.mark.parametrize("kw", SPECTRAL_KW, ids=str)
def test_welch_csd_match_scipy(rng, kw):
    x, y = rng.standard_normal((2, 3, 50)).astype(np.float32)
    for got, want in zip(S.welch(x, **kw), ss.welch(x, **kw), strict=True):
        _close(got, want.astype(np.asarray(got).dtype), 1e-4)
    for got, want in zip(S.csd(x, y, **kw), ss.csd(x, y, **kw), strict=True):
        _close(got, want.astype(np.asarray(got).dtype), 1e-4)
    f, p = S.welch(x.T, axis=0, average="median", **kw)
    _close(p, ss.welch(x.T, axis=0, average="median", **kw)[1].astype(np.float32), 1e-4)


@pytest.mark.parametrize("boundary", ["zeros", "even", "odd", "constant", None])
def test_stft_matches_scipy_and_istft_inverts_it(rng, boundary):
    x = rng.standard_normal((2, 40)).astype(np.float32)
    kw = dict(nperseg=8, noverlap=6, boundary=boundary, padded=boundary is not None)
    for got, want in zip(S.stft(x, **kw), ss.stft(x, **kw), strict=True):
        _close(got, want.astype(np.asarray(got).dtype), 1e-5)
    if boundary is not None:
        back = S.istft(S.stft(x, **kw)[2], nperseg=8, noverlap=6)[1]
        _close(np.asarray(back)[:, :40], x, 1e-4)
        t, back = S.istft(S.stft(x[0], **kw)[2], nperseg=8, noverlap=6)
        _close(t, np.arange(np.shape(back)[-1]), 0)


def test_istft_axes_match_scipy(rng):
    x = rng.standard_normal(40)
    z = ss.stft(x, nperseg=8)[2]
    zt = np.moveaxis(z, -1, 0)  # time first, frequency last
    got = S.istft(zt.astype(np.complex64), nperseg=8, time_axis=0, freq_axis=-1)[1]
    want = ss.istft(zt, nperseg=8, time_axis=0, freq_axis=-1)[1]
    _close(got, want.astype(np.float32), 1e-4)


def test_welch_grad_and_jit(rng, x64):
    x = rng.standard_normal(24)
    check_grads(lambda v: S.welch(v, nperseg=8)[1], (x,), order=1)
    _close(ft.jit(lambda v: S.welch(v, nperseg=8)[1])(x), ss.welch(x, nperseg=8)[1], 1e-10)


def test_spectral_errors():
    x = np.ones(16, np.float32)
    for fn, pattern in [(lambda: S.welch(x, nperseg=8, noverlap=8), "noverlap"),
                        (lambda: S.welch(x, nperseg=8, nfft=4), "nfft"),
                        (lambda: S.welch(x, nperseg=8, scaling="power"), "scaling"),
                        (lambda: S.welch(x, nperseg=8, average="max"), "average"),
                        (lambda: S.stft(x, nperseg=4, boundary="wrap"), "boundary"),
                        (lambda: S.welch(x, window=np.ones((2, 2))), "1-D"),
                        (lambda: S.istft(x), "2-D")]:
        with pytest.raises((FunctraceError, ValueError), match=pattern):
            fn()
