"""CPU lowering of ``threefry2x32`` (``lax/threefry.py``): one Numba loop.

The reference impl runs the cipher's 20 rounds as ~90 NumPy ufunc calls over the whole
array; for the few thousand counters of a typical ``random.normal`` draw that costs
~0.1-0.3 ms, mostly per-call overhead (in the DP-SGD benchmark, the noise added to each
parameter spent ~1 ms there). One loop does each counter pair in registers. Bit-identical
to the reference (uint32 arithmetic, wrapped by masking, since Numba computes small
integers in 64 bits). Imported on first use of the lowering, with Numba.
"""

from __future__ import annotations

import importlib

import numpy as np

from ...lax.threefry import threefry2x32_p
from .table import lowerings


def _kernels():
    return importlib.import_module("._threefry_kernels", __package__)


def lower_threefry2x32(eqn):
    shape = eqn.outvars[0].aval.shape
    u32 = np.uint32

    def run(k1, k2, x1, x2):
        ops = [np.ascontiguousarray(np.broadcast_to(np.asarray(a, u32), shape)).reshape(-1)
               for a in (k1, k2, x1, x2)]
        y1, y2 = np.empty(ops[0].size, u32), np.empty(ops[0].size, u32)
        _kernels().threefry2x32(*ops, y1, y2)
        return [y1.reshape(shape), y2.reshape(shape)]

    return run


lowerings[threefry2x32_p] = lower_threefry2x32
