"""The Numba loops of ``scatter.py``: one per combiner, over a flat operand.

Each kernel walks the index vectors in order, finds the flat start of each window
(``_start``: the batching-dim offset plus each index entry times its stride, clamped
or dropped when out of bounds) and combines the window's updates into ``out`` in
place. Walking in order is what makes ``scatter``'s last update win and duplicates
accumulate, as the NumPy reference does.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .numba_cache import ensure_numba_can_cache

ensure_numba_can_cache(__file__)  # before the first cache=True kernel


@njit(cache=True, nogil=True, inline="always")
def _start(idx, n, bbase, strides, limits, clamp):
    """Flat start of window ``n``, or -1 when it is dropped (out of bounds)."""
    base = bbase[n]
    for j in range(idx.shape[1]):
        s = np.int64(idx[n, j])
        lim = limits[j]
        if s < 0 or s > lim:
            if not clamp:
                return -1
            s = 0 if s < 0 else lim
        base += s * strides[j]
    return base


# (out, idx, upd, bbase, strides, limits, woff, clamp, contig): out is the flat operand,
# idx the (N, K) index vectors, upd the (N, W) windows, woff the flat offset of each
# window element (contig: woff is arange(W), the window is one contiguous run)

@njit(cache=True, nogil=True)
def scatter_set(out, idx, upd, bbase, strides, limits, woff, clamp, contig):
    for n in range(idx.shape[0]):
        b = _start(idx, n, bbase, strides, limits, clamp)
        if b < 0:
            continue
        if contig:
            for i in range(woff.size):
                out[b + i] = upd[n, i]
        else:
            for i in range(woff.size):
                out[b + woff[i]] = upd[n, i]


@njit(cache=True, nogil=True)
def scatter_add(out, idx, upd, bbase, strides, limits, woff, clamp, contig):
    for n in range(idx.shape[0]):
        b = _start(idx, n, bbase, strides, limits, clamp)
        if b < 0:
            continue
        if contig:
            for i in range(woff.size):
                out[b + i] += upd[n, i]
        else:
            for i in range(woff.size):
                out[b + woff[i]] += upd[n, i]


@njit(cache=True, nogil=True)
def scatter_sub(out, idx, upd, bbase, strides, limits, woff, clamp, contig):
    for n in range(idx.shape[0]):
        b = _start(idx, n, bbase, strides, limits, clamp)
        if b < 0:
            continue
        if contig:
            for i in range(woff.size):
                out[b + i] -= upd[n, i]
        else:
            for i in range(woff.size):
                out[b + woff[i]] -= upd[n, i]


@njit(cache=True, nogil=True)
def scatter_mul(out, idx, upd, bbase, strides, limits, woff, clamp, contig):
    for n in range(idx.shape[0]):
        b = _start(idx, n, bbase, strides, limits, clamp)
        if b < 0:
            continue
        for i in range(woff.size):
            p = b + (i if contig else woff[i])
            out[p] *= upd[n, i]


@njit(cache=True, nogil=True)
def scatter_min(out, idx, upd, bbase, strides, limits, woff, clamp, contig):
    for n in range(idx.shape[0]):
        b = _start(idx, n, bbase, strides, limits, clamp)
        if b < 0:
            continue
        for i in range(woff.size):
            p = b + (i if contig else woff[i])
            u = upd[n, i]
            if u != u or u < out[p]:  # NaN propagates, as np.minimum
                out[p] = u


@njit(cache=True, nogil=True)
def scatter_max(out, idx, upd, bbase, strides, limits, woff, clamp, contig):
    for n in range(idx.shape[0]):
        b = _start(idx, n, bbase, strides, limits, clamp)
        if b < 0:
            continue
        for i in range(woff.size):
            p = b + (i if contig else woff[i])
            u = upd[n, i]
            if u != u or u > out[p]:  # NaN propagates, as np.maximum
                out[p] = u
