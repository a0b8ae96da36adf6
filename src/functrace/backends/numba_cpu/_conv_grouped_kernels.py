"""Numba kernel of grouped convolutions (``conv_grouped.py``): the per-group im2col.

Imported on first use, so ``import functrace`` does not import Numba. Serial on
purpose: it is memory-bound and runs right before multi-threaded BLAS calls, whose
spinning threads a parallel loop would fight for the cores (docs/performance.md).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .numba_cache import ensure_numba_can_cache

ensure_numba_can_cache(__file__)  # before the first cache=True kernel

_u = np.uint64  # non-negative indices: Numba skips its wraparound test


@njit(cache=True, nogil=True)
def gather(xp, cols, c_n, oh_n, ow_n, kh_n, kw_n, sh, sw, dh, dw):
    """``cols[g, (n*OH + y)*OW + x, (i*KW + j)*C + c] = xp[g, n, y*sh + i*dh, x*sw + j*dw, c]``
    from the zero-padded input, passed as ``xp (G, N, Hp, Wp*C)``. Without rhs dilation
    a window row's taps are one contiguous run of ``KW*C`` elements."""
    g_n, n_n = xp.shape[0], xp.shape[1]
    run = kw_n * c_n
    for g in range(g_n):
        for n in range(n_n):
            for y in range(oh_n):
                for x in range(ow_n):
                    dst = cols[g, _u((n * oh_n + y) * ow_n + x)]
                    for i in range(kh_n):
                        row = xp[g, n, _u(y * sh + i * dh)]
                        if dw == 1:
                            src0 = x * sw * c_n
                            for e in range(run):
                                dst[_u(i * run + e)] = row[_u(src0 + e)]
                            continue
                        for j in range(kw_n):
                            src0 = (x * sw + j * dw) * c_n
                            base = i * run + j * c_n
                            for c in range(c_n):
                                dst[_u(base + c)] = row[_u(src0 + c)]
