"""Windowed-FFT spectral estimators of ``functrace.scipy.signal``: ``stft``, ``istft``,
``csd`` and ``welch``, with JAX 0.10.2's conventions (which differ from SciPy's in one
place: with ``nperseg=None`` a segment is the whole input, not 256 samples).

Segments are one gather (``x[..., starts[:, None] + arange(nperseg)]``), overlap-add is
``ceil(nperseg / step)`` shifted sums, so all four differentiate, batch and compile.
Windows: 'hann' is built here; other names go to ``scipy.signal.get_window`` (SciPy is
then needed, as in JAX); an array is used as given.
"""

from __future__ import annotations

import math
import operator
import warnings

import numpy as np

from .. import numpy as fnp
from ..core.trace import get_aval
from ..errors import FunctraceError, ShapeError
from ..numpy._promote import _fmt, as_array, canonical_axis, promote_inexact
from ._detrend import detrend

__all__ = ["csd", "istft", "stft", "welch"]


def _complex_of(dtype) -> np.dtype:
    return np.result_type(dtype, np.complex64)


def _window(window, nperseg: int, dtype) -> np.ndarray | object:
    if isinstance(window, str) and window == "hann":
        if nperseg == 1:
            return np.ones(1, dtype)
        return (np.sin(np.linspace(0, np.pi, nperseg, endpoint=False)) ** 2).astype(dtype)
    if isinstance(window, str | tuple):
        try:
            from scipy.signal import get_window
        except ImportError as err:  # pragma: no cover - scipy is in the dev extra
            raise FunctraceError(f"scipy.signal: window={window!r} needs SciPy's get_window; "
                                 "install scipy or pass the window as an array") from err
        return np.asarray(get_window(window, nperseg), dtype)
    return fnp.asarray(window, dtype)


def _triage(window, nperseg, length: int, dtype):
    """``(win, nperseg)`` as JAX: a named window has ``nperseg`` samples (the whole input by
    default, at most the input); an array window fixes ``nperseg``."""
    if isinstance(window, str | tuple):
        n = length if nperseg is None else operator.index(nperseg)
        if n > length:
            warnings.warn(f"nperseg={n} is greater than input_length={length}, using "
                          f"nperseg={length}", stacklevel=4)
            n = length
        return _window(window, n, dtype), n
    win = fnp.asarray(window, dtype)
    shape = get_aval(win).shape
    if len(shape) != 1:
        raise ShapeError(f"scipy.signal: window must be 1-D, got shape {_fmt(shape)}")
    if length < shape[0]:
        raise ShapeError(f"scipy.signal: the window ({shape[0]}) is longer than the input "
                         f"signal ({length})")
    n = shape[0] if nperseg is None else operator.index(nperseg)
    if n != shape[0]:
        raise ShapeError(f"scipy.signal: nperseg={n} differs from the window's length "
                         f"{shape[0]}")
    return win, n


def _odd_ext(x, n: int):
    if n < 1:
        return x
    size = get_aval(x).shape[-1]
    if n > size - 1:
        raise ShapeError(f"scipy.signal: the extension length {n} is too big; it must not "
                         f"exceed x.shape[axis] - 1 = {size - 1}")
    left = 2 * x[..., :1] - fnp.flip(x[..., 1:n + 1], -1)
    right = 2 * x[..., -1:] - fnp.flip(x[..., -(n + 1):-1], -1)
    return fnp.concatenate([left, x, right], axis=-1)


def _even_ext(x, n: int):
    # NumPy's 'reflect' padding: mirrored about the end samples, which are not repeated
    if n < 1:
        return x
    left, right = fnp.flip(x[..., 1:n + 1], -1), fnp.flip(x[..., -(n + 1):-1], -1)
    return fnp.concatenate([left, x, right], axis=-1)


def _const_ext(x, n: int):
    # NumPy's 'edge' padding: the end samples repeated
    if n < 1:
        return x
    shape = get_aval(x).shape[:-1] + (n,)
    left = fnp.broadcast_to(x[..., :1], shape)
    right = fnp.broadcast_to(x[..., -1:], shape)
    return fnp.concatenate([left, x, right], axis=-1)


def _zeros_ext(x, n: int):
    return fnp.pad(x, [(0, 0)] * (len(get_aval(x).shape) - 1) + [(n, n)])


_BOUNDARY = {"even": _even_ext, "odd": _odd_ext, "constant": _const_ext, "zeros": _zeros_ext,
             None: lambda x, n: x}


def _frames(x, nperseg: int, noverlap: int):
    """``(..., nframes, nperseg)`` segments of ``x`` along its last axis."""
    length = get_aval(x).shape[-1]
    starts = np.arange(0, length - nperseg + 1, nperseg - noverlap)
    return fnp.take(x, starts[:, None] + np.arange(nperseg)[None, :], axis=-1)


def _fft_segments(x, win, detrend_func, nperseg, noverlap, nfft, sides):
    if get_aval(x).dtype.kind in "iu":
        x = fnp.asarray(x, get_aval(win).dtype)
    seg = detrend_func(_frames(x, nperseg, noverlap))
    seg = seg * win
    if sides == "twosided":
        return fnp.fft.fft(seg, n=nfft)
    return fnp.fft.rfft(fnp.real(seg), n=nfft)


def _detrend_func(detrend_type):
    if isinstance(detrend_type, str):
        return lambda d: detrend(d, axis=-1, type=detrend_type)
    if callable(detrend_type):
        return detrend_type
    if not detrend_type:
        return lambda d: d
    raise ShapeError(f"scipy.signal: unsupported detrend type {detrend_type!r}")


def _spectral(x, y, fs, window, nperseg, noverlap, nfft, detrend_type, return_onesided,
              scaling, axis, mode, boundary=None, padded=False):
    if boundary not in _BOUNDARY:
        raise ShapeError(f"scipy.signal: unknown boundary option {boundary!r}, must be one of "
                         f"{list(_BOUNDARY)}")
    if y is None:
        (x,) = promote_inexact(as_array(x))
        yv = None
    else:
        x, yv = promote_inexact(as_array(x), as_array(y))
        if len(get_aval(x).shape) != len(get_aval(yv).shape):
            raise ShapeError(f"scipy.signal.csd: x and y must have the same rank, got shapes "
                             f"{_fmt(get_aval(x).shape)} and {_fmt(get_aval(yv).shape)}")
    ndim = len(get_aval(x).shape)
    axis = canonical_axis(operator.index(axis), ndim, "scipy.signal")
    rdt = get_aval(x).dtype
    cdt = _complex_of(rdt)
    fdt = np.finfo(cdt).dtype
    if nperseg is not None and operator.index(nperseg) < 1:
        raise ShapeError("scipy.signal: nperseg must be a positive integer")
    win, nperseg = _triage(window, nperseg, get_aval(x).shape[axis], fdt)
    noverlap = nperseg // 2 if noverlap is None else operator.index(noverlap)
    nfft = nperseg if nfft is None else operator.index(nfft)
    x = fnp.moveaxis(x, axis, -1)
    if yv is not None:
        yv = fnp.moveaxis(yv, axis, -1)
        nx, ny = get_aval(x).shape[-1], get_aval(yv).shape[-1]
        if nx < ny:
            x = fnp.pad(x, [(0, 0)] * (ndim - 1) + [(0, ny - nx)])
        elif ny < nx:
            yv = fnp.pad(yv, [(0, 0)] * (ndim - 1) + [(0, nx - ny)])
    if nfft < nperseg:
        raise ShapeError(f"scipy.signal: nfft ({nfft}) must be greater than or equal to "
                         f"nperseg ({nperseg})")
    if noverlap >= nperseg:
        raise ShapeError(f"scipy.signal: noverlap ({noverlap}) must be less than nperseg "
                         f"({nperseg})")
    step = nperseg - noverlap
    ext = _BOUNDARY[boundary]
    x = ext(x, nperseg // 2)
    yv = None if yv is None else ext(yv, nperseg // 2)
    if padded:
        nadd = -(get_aval(x).shape[-1] - nperseg) % step % nperseg
        x = fnp.pad(x, [(0, 0)] * (ndim - 1) + [(0, nadd)])
        yv = None if yv is None else fnp.pad(yv, [(0, 0)] * (ndim - 1) + [(0, nadd)])
    if scaling == "density":
        scale = 1.0 / (fs * fnp.sum(win * win))
    elif scaling == "spectrum":
        scale = 1.0 / fnp.sum(win) ** 2
    else:
        raise ShapeError(f"scipy.signal: unknown scaling {scaling!r}; use 'density' or "
                         "'spectrum'")
    scale = fnp.sqrt(scale) if mode == "stft" else scale
    sides = "onesided" if return_onesided else "twosided"
    if return_onesided and (rdt.kind == "c" or (yv is not None
                                                and get_aval(yv).dtype.kind == "c")):
        warnings.warn("Input data is complex, switching to return_onesided=False", stacklevel=3)
        sides = "twosided"
    freqs = (fnp.fft.fftfreq(nfft, 1 / fs, dtype=fdt) if sides == "twosided"
             else fnp.fft.rfftfreq(nfft, 1 / fs, dtype=fdt))
    detrend_func = _detrend_func(detrend_type)
    result = _fft_segments(x, win, detrend_func, nperseg, noverlap, nfft, sides)
    if yv is not None:
        result = fnp.conj(result) * _fft_segments(yv, win, detrend_func, nperseg, noverlap,
                                                  nfft, sides)
    elif mode == "psd":
        result = fnp.conj(result) * result
    result = result * fnp.asarray(scale, cdt)
    if sides == "onesided" and mode == "psd":
        nbins = get_aval(result).shape[-1]
        double = np.full(nbins, 2.0, fdt)
        double[0] = 1.0
        if nfft % 2 == 0:
            double[-1] = 1.0
        result = result * double
    length = get_aval(x).shape[-1]
    time = fnp.asarray(np.arange(nperseg / 2, length - nperseg / 2 + 1, step), fdt) / fs
    if boundary is not None:
        time = time - nperseg / 2 / fs
    result = fnp.asarray(result, cdt)
    if yv is None and mode != "stft":
        result = fnp.real(result)
    return freqs, time, fnp.moveaxis(result, -1, axis)


def stft(x, fs=1.0, window="hann", nperseg: int = 256, noverlap=None, nfft=None,
         detrend=False, return_onesided: bool = True, boundary="zeros", padded: bool = True,
         axis: int = -1):
    """The short-time Fourier transform of ``x`` along ``axis``: ``(f, t, Zxx)``, with
    ``Zxx`` of shape ``(..., len(f), len(t))`` (frequencies before segment times).

    Example:
        >>> f, t, z = stft(np.ones(8, np.float32), nperseg=4)
        >>> f.shape, t.shape, z.shape
        ((3,), (5,), (3, 5))
    """
    return _spectral(x, None, fs, window, nperseg, noverlap, nfft, detrend, return_onesided,
                     "spectrum", axis, "stft", boundary, padded)


def csd(x, y, fs=1.0, window="hann", nperseg=None, noverlap=None, nfft=None,
        detrend="constant", return_onesided: bool = True, scaling: str = "density",
        axis: int = -1, average: str = "mean"):
    """The cross power spectral density of ``x`` and ``y`` by Welch's method (segment
    periodograms averaged with ``average`` 'mean' or 'median'): ``(f, Pxy)``.

    Example:
        >>> f, p = csd(np.ones(8, np.float32), np.ones(8, np.float32), nperseg=4)
        >>> p.dtype
        dtype('complex64')
    """
    freqs, _, pxy = _spectral(x, y, fs, window, nperseg, noverlap, nfft, detrend,
                              return_onesided, scaling, axis, "psd")
    if y is not None:
        pxy = pxy + 0j
    shape = get_aval(pxy).shape
    if len(shape) >= 2 and math.prod(shape) > 0:
        if shape[-1] > 1:
            if average == "median":
                k = shape[-1]
                bias = 1 + sum(1 / (i + 1) - 1 / i for i in range(2, k, 2))
                if get_aval(pxy).dtype.kind == "c":
                    pxy = (fnp.median(fnp.real(pxy), axis=-1)
                           + 1j * fnp.median(fnp.imag(pxy), axis=-1))
                else:
                    pxy = fnp.median(pxy, axis=-1)
                pxy = pxy / np.asarray(bias, get_aval(pxy).dtype)
            elif average == "mean":
                pxy = fnp.mean(pxy, axis=-1)
            else:
                raise ShapeError(f"scipy.signal.csd: average must be 'median' or 'mean', got "
                                 f"{average!r}")
        else:
            pxy = fnp.reshape(pxy, shape[:-1])
    return freqs, pxy


def welch(x, fs=1.0, window="hann", nperseg=None, noverlap=None, nfft=None,
          detrend="constant", return_onesided: bool = True, scaling: str = "density",
          axis: int = -1, average: str = "mean"):
    """The power spectral density of ``x`` by Welch's method: ``(f, Pxx)``.

    Example:
        >>> f, p = welch(np.array([1., -1.] * 4, np.float32), nperseg=4)
        >>> [round(float(v), 4) for v in p]
        [0.0, 1.3333, 2.6667]
    """
    freqs, pxx = csd(x, None, fs=fs, window=window, nperseg=nperseg, noverlap=noverlap,
                     nfft=nfft, detrend=detrend, return_onesided=return_onesided,
                     scaling=scaling, axis=axis, average=average)
    return freqs, fnp.real(pxx)


def _overlap_add(frames, step: int):
    """``(..., nframes, seg)`` frames summed at offsets ``0, step, 2 step, ...``: the frame
    is cut into ``ceil(seg / step)`` pieces of ``step`` samples; piece ``j`` of every
    frame, laid end to end, is one contiguous signal shifted by ``j * step``."""
    *batch, nframes, seg = get_aval(frames).shape
    pieces = -(-seg // step)
    frames = fnp.pad(frames, [(0, 0)] * len(batch) + [(0, 0), (0, pieces * step - seg)])
    out_len = step * (nframes - 1) + seg
    total = step * (nframes + pieces - 1)
    out = None
    for j in range(pieces):
        run = fnp.reshape(frames[..., j * step:(j + 1) * step], (*batch, nframes * step))
        run = fnp.pad(run, [(0, 0)] * len(batch) + [(j * step, total - nframes * step
                                                     - j * step)])
        out = run if out is None else out + run
    return out[..., :out_len]


def istft(Zxx, fs=1.0, window="hann", nperseg=None, noverlap=None, nfft=None,  # noqa: N803
          input_onesided: bool = True, boundary: bool = True, time_axis: int = -1,
          freq_axis: int = -2):
    """The inverse of ``stft`` by weighted overlap-add: ``(t, x)``. As in JAX 0.10.2,
    ``t = arange(x.shape[0]) / fs`` (the sample times for a 1-D result).

    Example:
        >>> x = np.arange(16, dtype=np.float32)
        >>> _, _, z = stft(x, nperseg=4)
        >>> t, y = istft(z, nperseg=4)
        >>> bool(np.allclose(y, x, atol=1e-4))
        True
    """
    z = as_array(Zxx)
    shape = get_aval(z).shape
    nd = len(shape)
    if nd < 2:
        raise ShapeError(f"scipy.signal.istft: the stft must be at least 2-D, got shape "
                         f"{_fmt(shape)}")
    freq_axis = canonical_axis(freq_axis, nd, "scipy.signal.istft")
    time_axis = canonical_axis(time_axis, nd, "scipy.signal.istft")
    if freq_axis == time_axis:
        raise ShapeError("scipy.signal.istft: time_axis and freq_axis must differ")
    z = fnp.asarray(z, _complex_of(get_aval(z).dtype))
    n_default = 2 * (shape[freq_axis] - 1) if input_onesided else shape[freq_axis]
    nperseg = operator.index(nperseg or n_default)
    if nperseg < 1:
        raise ShapeError("scipy.signal.istft: nperseg must be a positive integer")
    if nfft is None:
        nfft = n_default + (1 if input_onesided and nperseg == n_default + 1 else 0)
    nfft = operator.index(nfft)
    if nfft < nperseg:
        raise ShapeError(f"scipy.signal.istft: the FFT length ({nfft}) must be at least "
                         f"nperseg ({nperseg})")
    noverlap = operator.index(noverlap or nperseg // 2)
    if noverlap >= nperseg:
        raise ShapeError(f"scipy.signal.istft: noverlap ({noverlap}) must be less than "
                         f"nperseg ({nperseg})")
    step = nperseg - noverlap
    if (time_axis, freq_axis) != (nd - 1, nd - 2):
        outer = tuple(i for i in range(nd) if i not in (time_axis, freq_axis))
        z = fnp.transpose(z, outer + (freq_axis, time_axis))
    inverse = fnp.fft.irfft if input_onesided else fnp.fft.ifft
    xsubs = inverse(z, n=nfft, axis=-2)[..., :nperseg, :]
    dt = get_aval(xsubs).dtype
    if isinstance(window, str | tuple):
        win = fnp.asarray(_window(window, nperseg, dt))
    else:
        win = fnp.asarray(window)
        wshape = get_aval(win).shape
        if len(wshape) != 1:
            raise ShapeError(f"scipy.signal.istft: window must be 1-D, got shape "
                             f"{_fmt(wshape)}")
        if wshape[0] != nperseg:
            raise ShapeError(f"scipy.signal.istft: window must have length {nperseg}, got "
                             f"{wshape[0]}")
    xsubs = xsubs * fnp.sum(win)
    wcol = fnp.reshape(win, (nperseg, 1))
    x = _overlap_add(fnp.swapaxes(xsubs * wcol, -1, -2), step)
    nframes = get_aval(xsubs).shape[-1]
    norm = _overlap_add(fnp.broadcast_to(fnp.reshape(win * win, (1, nperseg)),
                                         (nframes, nperseg)), step)
    if boundary:
        half = nperseg // 2
        x, norm = x[..., half:-half], norm[..., half:-half]
    x = x / fnp.where(norm > 1e-10, norm, 1.0)
    if len(get_aval(x).shape) > 1 and time_axis != nd - 1:
        x = fnp.moveaxis(x, -1, time_axis - 1 if freq_axis < time_axis else time_axis)
    time = fnp.arange(get_aval(x).shape[0], dtype=np.finfo(get_aval(x).dtype).dtype) / fs
    return time, x
