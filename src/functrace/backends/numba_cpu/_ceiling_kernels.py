"""The STREAM copy and triad loops of ``ceilings.py``, and the Numba/LLVM queries it
needs: a module of its own so that ``import functrace`` does not import Numba."""

from __future__ import annotations

import llvmlite.binding as llvm
import numba
from numba import njit, prange

from .numba_cache import ensure_numba_can_cache

ensure_numba_can_cache(__file__)  # before the first cache=True kernel


@njit(cache=True, nogil=True, parallel=True)
def copy(a, b):
    for i in prange(a.size):
        b[i] = a[i]


@njit(cache=True, nogil=True, parallel=True)
def triad(a, b, c, s):
    for i in prange(a.size):
        a[i] = b[i] + s * c[i]


def host_cpu_name() -> str:
    return llvm.get_host_cpu_name()


def configured_threads() -> int:
    return numba.config.NUMBA_NUM_THREADS


get_num_threads = numba.get_num_threads
set_num_threads = numba.set_num_threads
