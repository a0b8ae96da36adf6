"""The Numba loop of ``threefry.py``: Threefry-2x32, 20 rounds, on flat uint32 arrays."""

from __future__ import annotations

import numpy as np
from numba import njit

from .numba_cache import ensure_numba_can_cache

ensure_numba_can_cache(__file__)  # before the first cache=True kernel

_M = np.uint64(0xFFFFFFFF)
_PARITY = np.uint64(0x1BD11BDA)


@njit(cache=True, nogil=True, inline="always")
def _rotl(v, d):
    return ((v << np.uint64(d)) | (v >> np.uint64(32 - d))) & _M


@njit(cache=True, nogil=True, inline="always")
def _four(v0, v1, r0, r1, r2, r3):
    v0 = (v0 + v1) & _M
    v1 = _rotl(v1, r0) ^ v0
    v0 = (v0 + v1) & _M
    v1 = _rotl(v1, r1) ^ v0
    v0 = (v0 + v1) & _M
    v1 = _rotl(v1, r2) ^ v0
    v0 = (v0 + v1) & _M
    v1 = _rotl(v1, r3) ^ v0
    return v0, v1


@njit(cache=True, nogil=True)
def threefry2x32(k1, k2, x1, x2, y1, y2):
    for n in range(y1.size):
        a, b = np.uint64(k1[n]), np.uint64(k2[n])
        c = a ^ b ^ _PARITY
        v0, v1 = (np.uint64(x1[n]) + a) & _M, (np.uint64(x2[n]) + b) & _M
        v0, v1 = _four(v0, v1, 13, 15, 26, 6)
        v0, v1 = (v0 + b) & _M, (v1 + c + np.uint64(1)) & _M
        v0, v1 = _four(v0, v1, 17, 29, 16, 24)
        v0, v1 = (v0 + c) & _M, (v1 + a + np.uint64(2)) & _M
        v0, v1 = _four(v0, v1, 13, 15, 26, 6)
        v0, v1 = (v0 + a) & _M, (v1 + b + np.uint64(3)) & _M
        v0, v1 = _four(v0, v1, 17, 29, 16, 24)
        v0, v1 = (v0 + b) & _M, (v1 + c + np.uint64(4)) & _M
        v0, v1 = _four(v0, v1, 13, 15, 26, 6)
        v0, v1 = (v0 + c) & _M, (v1 + a + np.uint64(5)) & _M
        y1[n] = np.uint32(v0)
        y2[n] = np.uint32(v1)
