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
            buf = self.bufs[key] = np.empty(shape, dtype)
        return buf


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
