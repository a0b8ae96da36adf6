"""Scratch buffers that a kernel reuses from call to call (the conv kernels' im2col
blocks, padded inputs, accumulators): allocating them fresh each call page-faults
them in again (docs/architecture.md, the malloc note)."""

from __future__ import annotations

import functools

import numpy as np


class Scratch:
    """Buffers reused across calls, keyed by name, shape and dtype."""

    def __init__(self):
        self.bufs = {}

    def get(self, name, shape, dtype=np.float32):
        key = (name, tuple(shape), np.dtype(dtype))
        buf = self.bufs.get(key)
        if buf is None:
            buf = self.bufs[key] = aligned_empty(shape, dtype)
        return buf


ALIGN = 64  # bytes: one cache line, one zmm vector


ALIGN_MIN_BYTES = 1 << 16  # outputs this big are aligned (below, one more slice costs more)


def empty(shape, dtype=np.float32) -> np.ndarray:
    """A kernel's output: ``np.empty``, on a cache line when it is big (a conv's filter
    gradient streams its cotangent, often such an output, in 64-byte vectors)."""
    dtype = np.dtype(dtype)
    n = 1
    for d in shape:
        n *= d
    if n * dtype.itemsize < ALIGN_MIN_BYTES:
        return np.empty(shape, dtype)
    return aligned_empty(shape, dtype)


def aligned_empty(shape, dtype=np.float32) -> np.ndarray:
    """``np.empty`` whose data starts on a cache line. NumPy's buffers start 16 bytes
    into one (malloc's alignment): on Intel cores every 64-byte vector load from them
    then spans two lines, and the direct conv kernels ran at ~2/3 of the FMA peak."""
    dtype = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64))
    raw = np.empty(n * dtype.itemsize + ALIGN, np.uint8)
    skip = -raw.ctypes.data % ALIGN
    return raw[skip:skip + n * dtype.itemsize].view(dtype).reshape(shape)


def with_scratch(body, free: list | None = None):
    """``run(*args)``: ``body(scratch, *args)`` with a scratch set of its own, reused by
    later calls (a call overlapping another one, from another thread, gets a second
    set). Kernels given the same ``free`` list share their sets. ``run`` carries
    ``body``'s name and module (tests tell the kernels apart by them)."""
    free = [Scratch()] if free is None else free

    @functools.wraps(body)
    def run(*args):
        try:
            sc = free.pop()
        except IndexError:
            sc = Scratch()
        try:
            return body(sc, *args)
        finally:
            free.append(sc)

    return run
