"""fnp.fft against numpy.fft (every function, n/s cropping and padding, the three norms),
gradients against finite differences, jit and vmap against eager."""

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace.test_util import check_grads


def _close(got, want):
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("norm", [None, "ortho", "forward"])
def test_one_dimensional_transforms_match_numpy(norm, rng, x64):
    x = rng.standard_normal((3, 6))
    z = x + 1j * rng.standard_normal((3, 6))
    for n in (None, 4, 9):
        _close(fnp.fft.fft(z, n, norm=norm), np.fft.fft(z, n, norm=norm))
        _close(fnp.fft.ifft(z, n, axis=0, norm=norm), np.fft.ifft(z, n, axis=0, norm=norm))
        _close(fnp.fft.rfft(x, n, norm=norm), np.fft.rfft(x, n, norm=norm))
        _close(fnp.fft.irfft(z, n, norm=norm), np.fft.irfft(z, n, norm=norm))
        _close(fnp.fft.hfft(z, n, norm=norm), np.fft.hfft(z, n, norm=norm))
        _close(fnp.fft.ihfft(x, n, norm=norm), np.fft.ihfft(x, n, norm=norm))


@pytest.mark.parametrize("norm", [None, "ortho"])
def test_multi_dimensional_transforms_match_numpy(norm, rng, x64):
    x = rng.standard_normal((2, 4, 5))
    z = x + 1j * rng.standard_normal((2, 4, 5))
    _close(fnp.fft.fft2(z, norm=norm), np.fft.fft2(z, norm=norm))
    _close(fnp.fft.ifft2(z, s=(3, 6), norm=norm), np.fft.ifft2(z, s=(3, 6), norm=norm))
    _close(fnp.fft.fftn(z, norm=norm), np.fft.fftn(z, norm=norm))
    _close(fnp.fft.ifftn(z, axes=(0, 2), norm=norm), np.fft.ifftn(z, axes=(0, 2), norm=norm))
    _close(fnp.fft.rfft2(x, norm=norm), np.fft.rfft2(x, norm=norm))
    _close(fnp.fft.rfftn(x, s=(2, 3, 4), norm=norm),
           np.fft.rfftn(x, s=(2, 3, 4), axes=(0, 1, 2), norm=norm))
    spec = np.fft.rfftn(x)
    _close(fnp.fft.irfftn(spec, s=x.shape, norm=norm),
           np.fft.irfftn(spec, s=x.shape, axes=(0, 1, 2), norm=norm))
    _close(fnp.fft.irfft2(spec, norm=norm), np.fft.irfft2(spec, norm=norm))


def test_frequencies_and_shifts(x64):
    for n in (1, 4, 7):
        _close(fnp.fft.fftfreq(n, 0.1), np.fft.fftfreq(n, 0.1))
        _close(fnp.fft.rfftfreq(n, 0.1), np.fft.rfftfreq(n, 0.1))
    x = np.arange(15).reshape(3, 5)
    np.testing.assert_array_equal(fnp.fft.fftshift(x), np.fft.fftshift(x))
    np.testing.assert_array_equal(fnp.fft.ifftshift(x, axes=1), np.fft.ifftshift(x, axes=1))


def test_dtypes_follow_jax():
    x = np.ones(4, np.float32)
    assert fnp.fft.fft(x).dtype == np.complex64
    assert fnp.fft.rfft(x).dtype == np.complex64
    assert fnp.fft.irfft(fnp.fft.rfft(x)).dtype == np.float32


def test_gradients(rng, x64):
    x = rng.standard_normal((2, 6))
    w = rng.standard_normal((2, 4)) + 1j * rng.standard_normal((2, 4))

    def power(x):
        spec = fnp.fft.rfft(x)
        return fnp.real(spec * fnp.conj(spec)) + fnp.fft.irfft(spec * w, 6)[..., :4]

    check_grads(power, (x,), order=2)
    check_grads(lambda x: fnp.abs(fnp.fft.fft2(x, norm="ortho")), (x,), order=1)
    # Parseval: the gradient of sum |fft(x)|^2 / n is 2 x
    g = ft.grad(lambda x: fnp.sum(fnp.abs(fnp.fft.fft(x)) ** 2) / 6)(x[0])
    np.testing.assert_allclose(g, 2 * x[0], rtol=1e-10)


def test_jit_and_vmap_match_eager(rng):
    x = rng.standard_normal((3, 8)).astype(np.float32)
    for f in (fnp.fft.rfft, lambda r: fnp.fft.irfft(fnp.fft.rfft(r) * 2.0),
              lambda r: fnp.fft.fft(r, 5, norm="ortho"), fnp.fft.fftshift):
        eager = np.stack([f(r) for r in x])
        np.testing.assert_allclose(ft.vmap(f)(x), eager, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(ft.jit(ft.vmap(f))(x), eager, rtol=1e-5, atol=1e-5)


def test_lax_fft_errors():
    from functrace.errors import DTypeError, ShapeError
    with pytest.raises(DTypeError, match="complex"):
        lax.fft(np.ones(4, np.float32), lax.FftType.FFT, (4,))
    with pytest.raises(ShapeError, match="fft_lengths"):
        lax.fft(np.ones(4, np.complex64), lax.FftType.FFT, (5,))
