"""``lax.fft``: the discrete Fourier transform over trailing axes, one primitive with four
kinds (``FftType``): complex forward/inverse (``FFT``/``IFFT``, the inverse scaled by
``1/n``), real-to-complex ``RFFT`` (``n//2 + 1`` outputs on the last axis) and its inverse
``IRFFT`` (``fft_lengths`` gives the real output lengths).

The DFT is linear, so the JVP applies it to the tangent; the transposes are JAX's: the DFT
matrix is symmetric (FFT and IFFT transpose to themselves), RFFT's transpose is the real
part of a full FFT of the zero-padded cotangent, and IRFFT's is an RFFT with the doubled
middle bins and ``1/n`` scaling, conjugated (JAX's convention for complex cotangents).
The reference impl is ``numpy.fft``.

Example:
    >>> fft(np.array([1., 0., 0., 0.], np.complex64), FftType.FFT, (4,))
    array([1.+0.j, 1.+0.j, 1.+0.j, 1.+0.j], dtype=complex64)
"""

from __future__ import annotations

import enum
import math

import numpy as np

from ..core.avals import ShapedArray
from ..core.trace import Primitive, abstract_eval_rules, get_aval, impl_rules
from ..errors import DTypeError, ShapeError
from ..transforms.ad import Zero, deflinear, tangent_aval
from ..transforms.batching import batching_rules, bdim_at_front
from .elementwise import conj, mul, real
from .shape_ops import broadcast_in_dim, convert_element_type
from .slicing import concatenate, pad

__all__ = ["FftType", "fft", "fft_p"]


class FftType(enum.IntEnum):
    """The kind of transform (JAX's names and values)."""

    FFT = 0
    IFFT = 1
    RFFT = 2
    IRFFT = 3


fft_p = Primitive("fft", impl_fallback=True)


def _complex_of(dtype) -> np.dtype:
    return np.dtype(np.complex64) if np.dtype(dtype) in (np.float32, np.complex64,
                                                          np.float16) else np.dtype(np.complex128)


def _real_of(dtype) -> np.dtype:
    return np.dtype(np.float32) if np.dtype(dtype) == np.complex64 else np.dtype(np.float64)


def fft(x, fft_type, fft_lengths):
    """The ``fft_type`` transform of ``x`` over its last ``len(fft_lengths)`` axes.

    Example:
        >>> fft(np.array([1., 2., 3.], np.float32), FftType.RFFT, (3,))
        array([ 6. +0.j       , -1.5+0.8660254j], dtype=complex64)
    """
    fft_type = FftType(fft_type) if not isinstance(fft_type, str) else FftType[fft_type]
    lengths = tuple(int(n) for n in fft_lengths)
    return fft_p.bind(x, fft_type=fft_type, fft_lengths=lengths)


def _axes(nd: int, lengths) -> tuple[int, ...]:
    return tuple(range(nd - len(lengths), nd))


def _fft_impl(x, *, fft_type, fft_lengths):
    axes = _axes(x.ndim, fft_lengths)
    if fft_type == FftType.FFT:
        out = np.fft.fftn(x, axes=axes)
        return out.astype(_complex_of(x.dtype))
    if fft_type == FftType.IFFT:
        return np.fft.ifftn(x, axes=axes).astype(_complex_of(x.dtype))
    if fft_type == FftType.RFFT:
        return np.fft.rfftn(x, axes=axes).astype(_complex_of(x.dtype))
    return np.fft.irfftn(x, s=fft_lengths, axes=axes).astype(_real_of(x.dtype))


def _fft_abstract(x, *, fft_type, fft_lengths):
    k = len(fft_lengths)
    if not 1 <= k <= 3 or x.ndim < k:
        raise ShapeError(f"lax.fft: 1 to 3 fft_lengths, at most the rank of the operand, got "
                         f"{fft_lengths} for {x.str_short()}")
    if fft_type in (FftType.FFT, FftType.IFFT):
        if x.dtype.kind != "c":
            raise DTypeError(f"lax.fft: {fft_type.name} needs a complex operand, got "
                             f"{x.str_short()}")
        if x.shape[-k:] != tuple(fft_lengths):
            raise ShapeError(f"lax.fft: fft_lengths {fft_lengths} must equal the trailing dims "
                             f"of {x.str_short()}")
        return ShapedArray(x.shape, x.dtype)
    if fft_type == FftType.RFFT:
        if x.dtype.kind != "f":
            raise DTypeError(f"lax.fft: RFFT needs a real operand, got {x.str_short()}")
        if x.shape[-k:] != tuple(fft_lengths):
            raise ShapeError(f"lax.fft: fft_lengths {fft_lengths} must equal the trailing dims "
                             f"of {x.str_short()}")
        shape = x.shape[:-1] + (fft_lengths[-1] // 2 + 1,)
        return ShapedArray(shape, _complex_of(x.dtype))
    if x.dtype.kind != "c":
        raise DTypeError(f"lax.fft: IRFFT needs a complex operand, got {x.str_short()}")
    want = tuple(fft_lengths[:-1]) + (fft_lengths[-1] // 2 + 1,)
    if x.shape[-k:] != want:
        raise ShapeError(f"lax.fft: IRFFT of lengths {fft_lengths} needs trailing dims {want}, "
                         f"got {x.str_short()}")
    return ShapedArray(x.shape[:-1] + (fft_lengths[-1],), _real_of(x.dtype))


def _rfft_transpose(ct, fft_lengths):
    shape = get_aval(ct).shape
    n = fft_lengths[-1]
    cfg = [(0, 0, 0)] * len(shape)
    cfg[-1] = (0, n - shape[-1], 0)
    full = pad(ct, np.zeros((), get_aval(ct).dtype), cfg)
    return real(fft(full, FftType.FFT, fft_lengths))


def _irfft_transpose(ct, fft_lengths):
    x = fft(ct, FftType.RFFT, fft_lengths)
    shape = get_aval(x).shape
    m = shape[-1]
    odd = fft_lengths[-1] % 2
    dt = get_aval(x).dtype
    mask = concatenate([np.ones((1,), dt), np.full((m - 2 + odd,), 2, dt),
                        np.ones((1 - odd,), dt)], 0)
    scale = np.asarray(1.0 / math.prod(fft_lengths), dt)
    out = mul(mul(x, broadcast_in_dim(mask, shape, (len(shape) - 1,))), scale)
    return conj(out)


def _fft_transpose(ct, x, *, fft_type, fft_lengths):
    if isinstance(ct, Zero):
        return [Zero(tangent_aval(x.aval))]
    if fft_type == FftType.RFFT:
        out = _rfft_transpose(ct, fft_lengths)
    elif fft_type == FftType.IRFFT:
        out = _irfft_transpose(ct, fft_lengths)
    else:
        out = fft(ct, fft_type, fft_lengths)
    dt = x.aval.dtype
    return [out if get_aval(out).dtype == dt else convert_element_type(out, dt)]


def _fft_batch(args, dims, *, fft_type, fft_lengths):
    (x,), (d,) = args, dims
    x = bdim_at_front(x, d, get_aval(x).shape[d])
    return fft_p.bind(x, fft_type=fft_type, fft_lengths=fft_lengths), 0


impl_rules[fft_p] = _fft_impl
abstract_eval_rules[fft_p] = _fft_abstract
deflinear(fft_p, _fft_transpose)
batching_rules[fft_p] = _fft_batch
