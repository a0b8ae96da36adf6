"""``functrace.scipy.signal`` (``jax.scipy.signal``): N-d convolution and correlation on
``lax.conv_general_dilated`` (``method='direct'``/``'auto'``) or the FFT
(``method='fft'``, ``fftconvolve``), and ``detrend``. They differentiate, batch and
compile like any ``lax`` composition.

As JAX: both inputs must have the same rank, one must be at least as large as the other
in every dimension (the larger one slides), ``convolve2d``/``correlate2d`` support only
``boundary='fill'`` with ``fillvalue=0``. The windowed-FFT estimators ``stft``, ``istft``,
``csd`` and ``welch`` live in ``_spectral.py``, ``detrend`` in ``_detrend.py``.

Example:
    >>> import numpy as np
    >>> from functrace.scipy import signal
    >>> signal.convolve(np.array([1., 2., 3.], np.float32), np.array([0., 1., .5], np.float32))
    array([0. , 1. , 2.5, 4. , 1.5], dtype=float32)
"""

from __future__ import annotations

import operator

import numpy as np

from .. import lax
from .. import numpy as fnp
from ..core.trace import get_aval
from ..errors import FunctraceError, ShapeError
from ..numpy._promote import _fmt, as_array, canonical_axis, promote_inexact
from ._detrend import detrend
from ._spectral import csd, istft, stft, welch

__all__ = ["convolve", "convolve2d", "correlate", "correlate2d", "csd", "detrend", "fftconvolve",
           "istft", "stft", "welch"]

_MODES = ("full", "same", "valid")


def _shape(x) -> tuple[int, ...]:
    return get_aval(x).shape


def _conj(x):
    return fnp.conj(x) if get_aval(x).dtype.kind == "c" else x


def _check_mode(op: str, mode: str) -> None:
    if mode not in _MODES:
        raise ShapeError(f"scipy.signal.{op}: mode must be one of {list(_MODES)}, got {mode!r}")


def _convolve_nd(op: str, in1, in2, mode: str, precision):
    _check_mode(op, mode)
    in1, in2 = promote_inexact(as_array(in1), as_array(in2))
    s1, s2 = _shape(in1), _shape(in2)
    if len(s1) != len(s2):
        raise ShapeError(f"scipy.signal.{op}: in1 and in2 must have the same number of "
                         f"dimensions, got shapes {_fmt(s1)} and {_fmt(s2)}")
    if 0 in s1 or 0 in s2:
        raise ShapeError(f"scipy.signal.{op}: zero-size arrays are not supported, got shapes "
                         f"{_fmt(s1)} and {_fmt(s2)}")
    shape_o = s2  # 'same' centres on the original first operand
    if all(a <= b for a, b in zip(s1, s2, strict=True)):
        in1, in2 = in2, in1
    elif not all(a >= b for a, b in zip(s1, s2, strict=True)):
        raise ShapeError(f"scipy.signal.{op}: one input must be at least as large as the other "
                         f"in every dimension, got shapes {_fmt(s1)} and {_fmt(s2)}")
    shape = _shape(in2)
    kernel = fnp.flip(in2)  # a convolution is a correlation with the flipped kernel
    if mode == "valid":
        padding = [(0, 0)] * len(shape)
    elif mode == "same":
        padding = [(s - 1 - (so - 1) // 2, s - so + (so - 1) // 2)
                   for s, so in zip(shape, shape_o, strict=True)]
    else:
        padding = [(s - 1, s - 1) for s in shape]
    nd = len(shape)
    out = lax.conv_general_dilated(fnp.expand_dims(in1, (0, 1)), fnp.expand_dims(kernel, (0, 1)),
                                   (1,) * nd, padding, precision=precision)
    return out[0, 0]


def fftconvolve(in1, in2, mode: str = "full", axes=None):
    """The convolution of N-d ``in1`` and ``in2`` through the FFT (over ``axes``; all axes
    by default, the others must match and are mapped over).

    Example:
        >>> fftconvolve(np.array([1., 2.], np.float32), np.array([1., 1.], np.float32))
        array([1., 3., 2.], dtype=float32)
    """
    in1, in2 = promote_inexact(as_array(in1), as_array(in2))
    s1, s2 = _shape(in1), _shape(in2)
    if len(s1) != len(s2):
        raise ShapeError(f"scipy.signal.fftconvolve: in1 and in2 should have the same "
                         f"dimensionality, got shapes {_fmt(s1)} and {_fmt(s2)}")
    _check_mode("fftconvolve", mode)
    nd = len(s1)
    if axes is None:
        axes = tuple(range(nd))
    else:
        axes = (axes,) if isinstance(axes, int) else tuple(axes)
        axes = tuple(canonical_axis(operator.index(a), nd, "scipy.signal.fftconvolve")
                     for a in axes)
    mapped = [i for i in range(nd) if i not in axes]
    if any(s1[i] != s2[i] for i in mapped):
        raise ShapeError(f"scipy.signal.fftconvolve: mapped axes must have the same shape; got "
                         f"shapes {_fmt(s1)} and {_fmt(s2)} with axes={axes}")
    a1, a2 = (fnp.moveaxis(x, axes, tuple(range(len(mapped), nd))) for x in (in1, in2))
    out = _fftconvolve_core(a1, a2, mode, len(axes))
    return fnp.moveaxis(out, tuple(range(len(mapped), nd)), axes)


def _fftconvolve_core(in1, in2, mode: str, k: int):
    """FFT convolution over the trailing ``k`` axes (the leading ones are equal)."""
    s1, s2 = _shape(in1)[-k:] if k else (), _shape(in2)[-k:] if k else ()
    lead = _shape(in1)[:len(_shape(in1)) - k]
    full = tuple(a + b - 1 for a, b in zip(s1, s2, strict=True))
    if mode == "valid":
        no_swap = all(a >= b for a, b in zip(s1, s2, strict=True))
        swap = all(a <= b for a, b in zip(s1, s2, strict=True))
        if not (no_swap or swap):
            raise ShapeError("scipy.signal.fftconvolve: for 'valid' mode one input must be at "
                             f"least as large as the other in every dimension, got shapes "
                             f"{_fmt(s1)} and {_fmt(s2)}")
        if swap:
            in1, in2, s1, s2 = in2, in1, s2, s1
    axes = tuple(range(len(lead), len(lead) + k))
    if all(a == 1 or b == 1 for a, b in zip(s1, s2, strict=True)):
        conv = in1 * in2
    elif get_aval(in1).dtype.kind == "c":
        conv = fnp.fft.ifftn(fnp.fft.fftn(in1, full, axes) * fnp.fft.fftn(in2, full, axes),
                             full, axes)
    else:
        conv = fnp.fft.irfftn(fnp.fft.rfftn(in1, full, axes) * fnp.fft.rfftn(in2, full, axes),
                              full, axes)
    out = {"full": full, "same": s1,
           "valid": tuple(a - b + 1 for a, b in zip(s1, s2, strict=True))}[mode]
    starts = [0] * len(lead) + [(f - o) // 2 for f, o in zip(_shape(conv)[len(lead):], out,
                                                              strict=True)]
    return lax.slice(conv, starts, [s + o for s, o in zip(starts, lead + out, strict=True)])


def convolve(in1, in2, mode: str = "full", method: str = "auto", precision=None):
    """The N-d convolution of ``in1`` and ``in2`` (same rank). ``mode`` 'full', 'same'
    (the size of ``in1``) or 'valid'; ``method`` 'auto'/'direct' (a ``lax`` convolution)
    or 'fft'.

    Example:
        >>> convolve(np.array([1., 2., 3.], np.float32), np.array([1., 1.], np.float32), "same")
        array([1., 3., 5.], dtype=float32)
    """
    if method == "fft":
        return fftconvolve(in1, in2, mode=mode)
    if method not in ("direct", "auto"):
        raise ShapeError(f"scipy.signal.convolve: got method={method!r}; expected 'auto', "
                         "'fft', or 'direct'")
    return _convolve_nd("convolve", in1, in2, mode, precision)


def correlate(in1, in2, mode: str = "full", method: str = "auto", precision=None):
    """The N-d cross-correlation ``z[k] = sum_l in1[l] * conj(in2[l - k + ...])`` of
    ``in1`` and ``in2``: ``convolve(in1, flip(conj(in2)))``.

    Example:
        >>> correlate(np.array([1., 2., 3.], np.float32), np.array([1., 0.], np.float32))
        array([0., 1., 2., 3.], dtype=float32)
    """
    return convolve(in1, fnp.flip(_conj(as_array(in2))), mode, method=method,
                    precision=precision)


def _check_2d(op: str, in1, in2, boundary: str, fillvalue) -> None:
    if boundary != "fill" or fillvalue != 0:
        raise FunctraceError(f"scipy.signal.{op}: only boundary='fill' with fillvalue=0 is "
                             f"supported (as in JAX), got boundary={boundary!r}, "
                             f"fillvalue={fillvalue!r}; pad the input yourself")
    if np.ndim(in1) != 2 or np.ndim(in2) != 2:
        raise ShapeError(f"scipy.signal.{op}: only 2-dimensional inputs are supported, got "
                         f"shapes {_fmt(np.shape(in1))} and {_fmt(np.shape(in2))}")


def convolve2d(in1, in2, mode: str = "full", boundary: str = "fill", fillvalue=0,
               precision=None):
    """The 2-D convolution of ``in1`` and ``in2`` (zero fill outside).

    Example:
        >>> convolve2d(np.eye(2, dtype=np.float32), np.ones((1, 2), np.float32))
        array([[1., 1., 0.],
               [0., 1., 1.]], dtype=float32)
    """
    in1, in2 = as_array(in1), as_array(in2)
    _check_2d("convolve2d", in1, in2, boundary, fillvalue)
    return _convolve_nd("convolve2d", in1, in2, mode, precision)


def correlate2d(in1, in2, mode: str = "full", boundary: str = "fill", fillvalue=0,
                precision=None):
    """The 2-D cross-correlation of ``in1`` and ``in2`` (zero fill outside), with SciPy's
    orientation in every mode.

    Example:
        >>> correlate2d(np.eye(2, dtype=np.float32), np.ones((1, 2), np.float32), "valid")
        array([[1.],
               [1.]], dtype=float32)
    """
    in1, in2 = as_array(in1), as_array(in2)
    _check_2d("correlate2d", in1, in2, boundary, fillvalue)
    s1, s2 = _shape(in1), _shape(in2)
    swap = all(a <= b for a, b in zip(s1, s2, strict=True))
    same_shape = s1 == s2

    def conv(x, y):
        return _convolve_nd("correlate2d", x, y, mode, precision)

    if mode == "same" or (mode == "valid" and not (swap and not same_shape)) or \
            (mode == "full" and not swap):
        return fnp.flip(conv(fnp.flip(in1), _conj(in2)))
    if mode == "valid":
        return conv(fnp.flip(in2), _conj(in1))
    return _conj(conv(fnp.flip(in2), _conj(in1)))
