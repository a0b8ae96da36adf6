"""Small Numba functions the generated native loops call (``native_loop.py``).

They are compiled once per type signature and kept on disk (``cache=True``), so a new
loop that uses them links machine code instead of compiling the same thing again.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .numba_cache import ensure_numba_can_cache

ensure_numba_can_cache(__file__)  # before the first cache=True function


@njit(cache=True)
def store(ys, i, y):
    """``ys[i] = y`` for a C-contiguous ``ys`` and array ``y`` (a scan's stacked output).
    Numba compiled the generic array setitem for ~1 s per occurrence; this loop once."""
    n = y.size
    dst = ys[i].reshape(n)
    src = y.reshape(n)
    for k in range(n):
        dst[k] = src[k]


# uint64 constants: Numba types uint64 mixed with int64 as float64
_MASK32 = np.uint64(0xFFFFFFFF)
_W32 = np.uint64(32)


@njit(cache=True)
def shift(left, x, y, bits, out):
    """``lax.shift_left`` (``left``) or ``lax.shift_right_logical`` of unsigned integers,
    flattened; ``y`` holds one amount or one per element. Amounts >= ``bits`` give 0."""
    one = y.size == 1
    for k in range(x.size):
        a = y[0] if one else y[k]
        if a >= bits:
            out[k] = 0
        elif left:
            out[k] = x[k] << a  # the store wraps to the element type
        else:
            out[k] = x[k] >> a


@njit(cache=True, inline="always")
def _rotl32(v, r):
    return ((v << r) | (v >> (_W32 - r))) & _MASK32


@njit(cache=True)
def threefry2x32(k1, k2, x1, x2, o1, o2):
    """Threefry-2x32 with 20 rounds, as ``lax.threefry2x32`` (``lax/threefry.py``): the
    four operands flattened, each with one element (broadcast) or one per output. The
    words are kept in uint64 and masked to 32 bits after every addition."""
    for k in range(o1.size):
        a = np.uint64(k1[0 if k1.size == 1 else k])
        b = np.uint64(k2[0 if k2.size == 1 else k])
        c = (a ^ b ^ np.uint64(0x1BD11BDA)) & _MASK32
        v0 = (np.uint64(x1[0 if x1.size == 1 else k]) + a) & _MASK32
        v1 = (np.uint64(x2[0 if x2.size == 1 else k]) + b) & _MASK32
        for i in range(5):
            for r in ((13, 15, 26, 6) if i % 2 == 0 else (17, 29, 16, 24)):
                v0 = (v0 + v1) & _MASK32
                v1 = _rotl32(v1, np.uint64(r)) ^ v0
            ks0 = a if (i + 1) % 3 == 0 else (b if (i + 1) % 3 == 1 else c)
            ks1 = a if (i + 2) % 3 == 0 else (b if (i + 2) % 3 == 1 else c)
            v0 = (v0 + ks0) & _MASK32
            v1 = (v1 + ks1 + np.uint64(i + 1)) & _MASK32
        o1[k] = v0
        o2[k] = v1
