"""A caching device allocator for the CUDA backend.

Numba allocates every device array with ``cuMemAlloc``: on an H100 that measured
72 us for 1 MiB and 175 us for 8 MiB, and ``to_device`` of 4 KiB 211 us, more
than most kernels of a training step take. A compiled program allocates one or
more arrays per step, every call, so the small CNN step spent most of its 24 ms
allocating. Here freed blocks go back to a pool (keyed by their rounded size)
and the next allocation of that size reuses one.

How a block comes back: every array handed out gets a fresh ``MemoryPointer``
over the pooled block; reshapes of the array share that pointer object, so when
the last array over it is collected, a ``weakref.finalize`` returns the block.
Kernels run in order on the default stream, so a block reused by a later
kernel is never overwritten while an earlier kernel still reads it. The pool
only grows (to the program's peak working set); ``FUNCTRACE_CUDA_POOL=0``
turns it off. In Numba's CUDA simulator plain ``cuda.device_array`` is used.
"""

from __future__ import annotations

import os
import weakref
from collections import defaultdict

import numpy as np
from numba import config as numba_config
from numba import cuda

SIMULATOR = bool(getattr(numba_config, "ENABLE_CUDASIM", False))
ENABLED = not SIMULATOR and os.environ.get("FUNCTRACE_CUDA_POOL", "0") == "1"

_free: dict[int, list] = defaultdict(list)  # rounded size in bytes -> free blocks


def _rounded(nbytes: int) -> int:
    """Size classes: 512 B steps up to 1 MiB, then 1 MiB steps."""
    if nbytes <= 1 << 20:
        return max(512, -(-nbytes // 512) * 512)
    return -(-nbytes // (1 << 20)) << 20


def _strides(shape, itemsize) -> tuple[int, ...]:
    out, acc = [], itemsize
    for n in reversed(shape):
        out.append(acc)
        acc *= max(n, 1)
    return tuple(reversed(out))


def device_array(shape, dtype):
    """An uninitialised C-contiguous device array, from the pool when possible."""
    if not ENABLED:
        return cuda.device_array(shape, dtype)
    from numba.cuda.cudadrv.devicearray import DeviceNDArray  # noqa: PLC0415 - GPU only
    from numba.cuda.cudadrv.driver import MemoryPointer  # noqa: PLC0415

    shape = (shape,) if isinstance(shape, int | np.integer) else tuple(int(n) for n in shape)
    dtype = np.dtype(dtype)
    size = _rounded(int(np.prod(shape, dtype=np.int64)) * dtype.itemsize)
    pool = _free[size]
    block = pool.pop() if pool else cuda.device_array(size, np.uint8)
    mem = block.gpu_data
    handle = MemoryPointer(mem.context, mem.device_pointer, size, owner=block)
    weakref.finalize(handle, pool.append, block)
    return DeviceNDArray(shape, _strides(shape, dtype.itemsize), dtype, gpu_data=handle)


def to_device(x: np.ndarray):
    """A device copy of the host array ``x`` (C-contiguous)."""
    x = np.ascontiguousarray(x)
    if not ENABLED:
        return cuda.to_device(x)
    out = device_array(x.shape, x.dtype)
    out.copy_to_device(x)
    return out


def pooled_bytes() -> int:
    """Bytes held by free blocks (for tests and reports)."""
    return sum(size * len(blocks) for size, blocks in _free.items())
