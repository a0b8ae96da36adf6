"""Numba kernel of batched outer products (``dot_general`` with nothing to sum), imported
on first use so that ``import functrace`` does not import Numba."""

from __future__ import annotations

from numba import njit, prange

from .numba_cache import ensure_numba_can_cache

ensure_numba_can_cache(__file__)  # before the first cache=True kernel


@njit(cache=True, nogil=True, parallel=True)
def outer(a, c, out, nchunks):
    """``out[b, i, j] = a[b, i] * c[b, j]``, its ``B * M`` rows cut into ``nchunks``
    chunks (handed out one at a time: ``threads.Governor``)."""
    nb, m, n = out.shape
    rows = nb * m
    for chunk in prange(nchunks):
        for r in range(rows * chunk // nchunks, rows * (chunk + 1) // nchunks):
            b = r // m
            i = r - b * m
            x = a[b, i]
            for j in range(n):
                out[b, i, j] = x * c[b, j]
