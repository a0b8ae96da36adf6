"""Small Numba functions the generated native loops call (``native_loop.py``).

They are compiled once per type signature and kept on disk (``cache=True``), so a new
loop that uses them links machine code instead of compiling the same thing again.
"""

from __future__ import annotations

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
