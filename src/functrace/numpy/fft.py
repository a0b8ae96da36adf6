"""``functrace.numpy.fft``: NumPy's FFT functions over ``lax.fft`` (so they differentiate,
batch and compile): ``fft``/``ifft``, ``rfft``/``irfft``, ``hfft``/``ihfft``, the 2-D and
n-D forms, ``fftfreq``/``rfftfreq`` and ``fftshift``/``ifftshift``. ``n``/``s`` crop or
zero-pad the input; ``norm`` is ``"backward"`` (default), ``"ortho"`` or ``"forward"``.
Float32 inputs give complex64 results (NumPy gives complex128), as in JAX.

Example:
    >>> import functrace.numpy as fnp
    >>> fnp.fft.fft(np.array([1., 2., 3., 4.], np.float32))
    array([10.+0.j, -2.+2.j, -2.+0.j, -2.-2.j], dtype=complex64)
"""

from __future__ import annotations

import math
import operator

import numpy as np

from .. import lax
from ..core.avals import default_float_dtype
from ..core.trace import get_aval
from ..errors import FunctraceError, ShapeError
from ._promote import as_array, canonical_axis, convert
from .math import conjugate

__all__ = [
    "fft", "fft2", "fftfreq", "fftn", "fftshift", "hfft", "ifft", "ifft2", "ifftn",
    "ifftshift", "ihfft", "irfft", "irfft2", "irfftn", "rfft", "rfft2", "rfftfreq", "rfftn",
]

_NORMS = (None, "backward", "ortho", "forward")


def _shape(x) -> tuple[int, ...]:
    return get_aval(x).shape


def _complex_dtype(x) -> np.dtype:
    dt = get_aval(x).dtype
    if dt.kind == "c":
        return dt
    return np.dtype(np.complex128) if dt == np.float64 else np.dtype(np.complex64)


def _real_dtype(x) -> np.dtype:
    dt = get_aval(x).dtype
    if dt.kind == "c":
        return np.dtype(np.float64) if dt == np.complex128 else np.dtype(np.float32)
    return np.dtype(np.float64) if dt == np.float64 else default_float_dtype()


def _resize_axis(x, axis: int, n: int):
    """``x`` cropped or zero-padded to length ``n`` along ``axis``."""
    cur = _shape(x)[axis]
    if n == cur:
        return x
    if n < cur:
        return lax.slice_in_dim(x, 0, n, axis=axis)
    cfg = [(0, 0, 0)] * len(_shape(x))
    cfg[axis] = (0, n - cur, 0)
    return lax.pad(x, np.zeros((), get_aval(x).dtype), cfg)


def _scale(x, n_total: int, norm, inverse: bool):
    if norm not in _NORMS:
        raise FunctraceError(f"fft: norm must be one of {_NORMS[1:]}, got {norm!r}")
    norm = norm or "backward"
    # lax.fft's IFFT/IRFFT already divide by n ("backward"); FFT/RFFT do not
    if norm == "backward":
        return x
    if norm == "ortho":
        factor = math.sqrt(n_total) if inverse else 1 / math.sqrt(n_total)
    else:  # forward
        factor = float(n_total) if inverse else 1.0 / n_total
    return lax.mul(x, np.asarray(factor, get_aval(x).dtype))


def _axes_and_sizes(a, s, axes, op: str, default_all: bool):
    nd = len(_shape(a))
    if axes is None:
        if s is not None:
            axes = tuple(range(nd - len(s), nd))
        else:
            axes = tuple(range(nd)) if default_all else (nd - 1,)
    axes = tuple(canonical_axis(ax, nd, op) for ax in axes)
    if len(set(axes)) != len(axes):
        raise ShapeError(f"{op}: repeated axes {axes}")
    if s is None:
        s = tuple(_shape(a)[ax] for ax in axes)
    s = tuple(operator.index(n) for n in s)
    if len(s) != len(axes):
        raise ShapeError(f"{op}: s and axes must have the same length")
    if len(axes) > 3:
        raise ShapeError(f"{op}: at most 3 axes are supported (lax.fft's limit)")
    return axes, s


def _to_end(x, axes):
    """``x`` with ``axes`` moved last (in order) and the permutation back."""
    nd = len(_shape(x))
    rest = [d for d in range(nd) if d not in axes]
    perm = rest + list(axes)
    inv = [perm.index(d) for d in range(nd)]
    return lax.transpose(x, tuple(perm)), tuple(inv)


def _complex_transform(a, s, axes, norm, inverse: bool, op: str, default_all: bool):
    x = as_array(a)
    axes, s = _axes_and_sizes(x, s, axes, op, default_all)
    x = convert(x, _complex_dtype(x))
    for ax, n in zip(axes, s, strict=True):
        if n < 1:
            raise ShapeError(f"{op}: invalid number of data points {n}")
        x = _resize_axis(x, ax, n)
    moved, inv = _to_end(x, axes)
    out = lax.fft(moved, lax.FftType.IFFT if inverse else lax.FftType.FFT, s)
    return _scale(lax.transpose(out, inv), math.prod(s), norm, inverse)


def _real_forward(a, s, axes, norm, op: str, default_all: bool):
    x = as_array(a)
    if get_aval(x).dtype.kind == "c":
        raise FunctraceError(f"{op}: the input must be real")
    axes, s = _axes_and_sizes(x, s, axes, op, default_all)
    x = convert(x, _real_dtype(x))
    for ax, n in zip(axes, s, strict=True):
        x = _resize_axis(x, ax, n)
    moved, inv = _to_end(x, axes)
    out = lax.fft(moved, lax.FftType.RFFT, s)
    return _scale(lax.transpose(out, inv), math.prod(s), norm, False)


def _real_inverse(a, s, axes, norm, op: str, default_all: bool):
    x = as_array(a)
    nd = len(_shape(x))
    if axes is None:
        axes = tuple(range(nd - len(s), nd)) if s is not None else (
            tuple(range(nd)) if default_all else (nd - 1,))
    axes = tuple(canonical_axis(ax, nd, op) for ax in axes)
    if s is None:
        s = tuple(_shape(x)[ax] for ax in axes[:-1]) + (2 * (_shape(x)[axes[-1]] - 1),)
    s = tuple(operator.index(n) for n in s)
    x = convert(x, _complex_dtype(x))
    for ax, n in zip(axes[:-1], s[:-1], strict=True):
        x = _resize_axis(x, ax, n)
    x = _resize_axis(x, axes[-1], s[-1] // 2 + 1)
    moved, inv = _to_end(x, axes)
    out = lax.fft(moved, lax.FftType.IRFFT, s)
    return _scale(lax.transpose(out, inv), math.prod(s), norm, True)


def fft(a, n=None, axis: int = -1, norm=None):
    """The 1-D discrete Fourier transform along ``axis``."""
    return _complex_transform(a, None if n is None else (n,), (axis,), norm, False, "fft",
                              False)


def ifft(a, n=None, axis: int = -1, norm=None):
    """The inverse of ``fft``.

    Example:
        >>> ifft(np.array([4., 0., 0., 0.], np.complex64))
        array([1.+0.j, 1.+0.j, 1.+0.j, 1.+0.j], dtype=complex64)
    """
    return _complex_transform(a, None if n is None else (n,), (axis,), norm, True, "ifft",
                              False)


def fft2(a, s=None, axes=(-2, -1), norm=None):
    """The 2-D transform over ``axes``."""
    return _complex_transform(a, s, axes, norm, False, "fft2", False)


def ifft2(a, s=None, axes=(-2, -1), norm=None):
    """The inverse of ``fft2``."""
    return _complex_transform(a, s, axes, norm, True, "ifft2", False)


def fftn(a, s=None, axes=None, norm=None):
    """The n-D transform over ``axes`` (all by default; at most 3)."""
    return _complex_transform(a, s, axes, norm, False, "fftn", True)


def ifftn(a, s=None, axes=None, norm=None):
    """The inverse of ``fftn``."""
    return _complex_transform(a, s, axes, norm, True, "ifftn", True)


def rfft(a, n=None, axis: int = -1, norm=None):
    """The transform of real input: the ``n//2 + 1`` non-negative frequencies.

    Example:
        >>> rfft(np.array([1., 2., 3., 4.], np.float32))
        array([10.+0.j, -2.+2.j, -2.+0.j], dtype=complex64)
    """
    return _real_forward(a, None if n is None else (n,), (axis,), norm, "rfft", False)


def irfft(a, n=None, axis: int = -1, norm=None):
    """The inverse of ``rfft``: ``n`` real outputs (default ``2 * (m - 1)``)."""
    return _real_inverse(a, None if n is None else (n,), (axis,), norm, "irfft", False)


def rfft2(a, s=None, axes=(-2, -1), norm=None):
    """``rfftn`` over two axes."""
    return _real_forward(a, s, axes, norm, "rfft2", False)


def irfft2(a, s=None, axes=(-2, -1), norm=None):
    """The inverse of ``rfft2``."""
    return _real_inverse(a, s, axes, norm, "irfft2", False)


def rfftn(a, s=None, axes=None, norm=None):
    """The n-D transform of real input (half spectrum on the last axis)."""
    return _real_forward(a, s, axes, norm, "rfftn", True)


def irfftn(a, s=None, axes=None, norm=None):
    """The inverse of ``rfftn``."""
    return _real_inverse(a, s, axes, norm, "irfftn", True)


def hfft(a, n=None, axis: int = -1, norm=None):
    """The transform of a Hermitian-symmetric signal given by its first half: real output.

    Example:
        >>> hfft(np.array([1., 0., 0.], np.complex64))
        array([1., 1., 1., 1.], dtype=float32)
    """
    x = as_array(a)
    m = _shape(x)[canonical_axis(axis, len(_shape(x)), "hfft")]
    n_out = 2 * (m - 1) if n is None else operator.index(n)
    flipped = {None: "forward", "backward": "forward", "forward": "backward",
               "ortho": "ortho"}[norm]
    return irfft(conjugate(convert(x, _complex_dtype(x))), n_out, axis, flipped)


def ihfft(a, n=None, axis: int = -1, norm=None):
    """The inverse of ``hfft``: the first half of the spectrum of a real signal."""
    flipped = {None: "forward", "backward": "forward", "forward": "backward",
               "ortho": "ortho"}[norm]
    return conjugate(rfft(a, n, axis, flipped))


def fftfreq(n: int, d=1.0, *, dtype=None, device=None):
    """The sample frequencies of an ``n``-point ``fft`` with spacing ``d``.

    Example:
        >>> fftfreq(4)
        array([ 0.  ,  0.25, -0.5 , -0.25], dtype=float32)
    """
    n = operator.index(n)
    dt = np.dtype(dtype) if dtype is not None else default_float_dtype()
    k = np.concatenate([np.arange(0, (n - 1) // 2 + 1), np.arange(-(n // 2), 0)])
    return lax.div(np.asarray(k, dt), lax.mul(convert(as_array(d), dt), np.asarray(n, dt)))


def rfftfreq(n: int, d=1.0, *, dtype=None, device=None):
    """The sample frequencies of an ``n``-point ``rfft``.

    Example:
        >>> rfftfreq(4)
        array([0.  , 0.25, 0.5 ], dtype=float32)
    """
    n = operator.index(n)
    dt = np.dtype(dtype) if dtype is not None else default_float_dtype()
    k = np.arange(0, n // 2 + 1)
    return lax.div(np.asarray(k, dt), lax.mul(convert(as_array(d), dt), np.asarray(n, dt)))


def _shift(x, axes, sign: int, op: str):
    x = as_array(x)
    nd = len(_shape(x))
    axes = tuple(range(nd)) if axes is None else (
        (axes,) if isinstance(axes, int | np.integer) else tuple(axes))
    for ax in axes:
        ax = canonical_axis(ax, nd, op)
        n = _shape(x)[ax]
        k = (n // 2) if sign > 0 else -(n // 2)
        k %= max(n, 1)
        if k:
            x = lax.concatenate([lax.slice_in_dim(x, n - k, n, axis=ax),
                                 lax.slice_in_dim(x, 0, n - k, axis=ax)], ax)
    return x


def fftshift(x, axes=None):
    """``x`` with the zero frequency moved to the centre.

    Example:
        >>> fftshift(np.array([0, 1, 2, -2, -1], np.int32))
        array([-2, -1,  0,  1,  2], dtype=int32)
    """
    return _shift(x, axes, 1, "fftshift")


def ifftshift(x, axes=None):
    """The inverse of ``fftshift``."""
    return _shift(x, axes, -1, "ifftshift")

