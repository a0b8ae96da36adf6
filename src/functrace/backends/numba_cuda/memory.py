"""Device memory of the CUDA backend: counters, a caching pool and per-program arenas.

Numba allocates every device array with a synchronous ``cuMemAlloc``: on an H100
that measured 72 us for 1 MiB and 175 us for 8 MiB, more than most kernels of a
training step take. So a compiled program allocates nothing once it has run once:

- **Arena.** The first call of an executable *records* every allocation its
  kernels ask for, in order, with the step that asked and the last step that reads
  the value (from the plan's liveness). The program is the same every call, so from
  the second call on the k-th request is a view at a fixed offset of one arena per
  executable; requests whose lifetimes do not overlap share bytes (``layout``).
- **Pool.** Requests that become program outputs outlive the call; they come from
  a caching pool of size-classed blocks. A block goes back to the pool when the last
  ``Array`` over it is collected (its ``Lease`` dies), and the next request of that
  size class reuses it. Kernels run in order on the default stream, so a block reused
  by a later kernel is never overwritten while an earlier kernel still reads it.

``COUNTS`` counts what the device does (kernel launches, real allocations, bytes
copied each way); executables report the difference over each call. The pool is on
by default: under the simulator it turned a CNN step's per-call allocations from one
per output into zero (tests/test_cuda_arrays.py). ``FUNCTRACE_CUDA_POOL=0`` turns it
off (blocks are then freed by Numba when their arrays die), for memory debuggers.
"""

from __future__ import annotations

import math
import os
import weakref
from collections import defaultdict

import numpy as np
from numba import config as numba_config
from numba import cuda

SIMULATOR = bool(getattr(numba_config, "ENABLE_CUDASIM", False))
POOL = os.environ.get("FUNCTRACE_CUDA_POOL", "1") != "0"
ALIGN = 256  # arena offsets (bytes); cudaMalloc aligns to 256 as well

COUNTS = {"launches": 0, "allocations": 0, "h2d_bytes": 0, "d2h_bytes": 0}
COUNTER_NAMES = tuple(COUNTS)

_free: dict[int, list] = defaultdict(list)  # rounded size in bytes -> free blocks

if SIMULATOR:
    from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray
else:  # pragma: no cover - needs a GPU
    from numba.cuda.cudadrv.devicearray import DeviceNDArray


def snapshot() -> tuple[int, ...]:
    return tuple(COUNTS.values())


def since(before: tuple[int, ...]) -> dict[str, int]:
    """The counters' increase since ``snapshot()`` returned ``before``."""
    return {k: v - b for (k, v), b in zip(COUNTS.items(), before, strict=True)}


_log: list | None = None  # (configured, args) of each launch, while an executable records
STUB_LAUNCHES = False  # benchmarks.gpu_profile --host: count launches, run nothing


def launch(configured, *args) -> None:
    """Launches a configured kernel (``kernel[grid, block]`` or ``configure``'s), counting
    it (and noting it while an executable records its launches, ``replay.py``)."""
    COUNTS["launches"] += 1
    if _log is not None:
        _log.append((configured, args))
    if not STUB_LAUNCHES:
        configured(*args)


def configure(kernel, grid, block):
    """``kernel[grid, block]``, made once per executable. (The simulator's kernels keep
    the last configuration on themselves, so there it is applied at each launch.)"""
    if SIMULATOR:
        def run(*args):
            kernel[grid, block](*args)
    else:  # pragma: no cover - needs a GPU
        made = []  # configured on the first launch (building needs no device)

        def run(*args):
            if not made:
                made.append(kernel[grid, block])
            made[0](*args)
    run.spec = (kernel, grid, block)
    return run


def launch_spec(configured) -> tuple:
    """``(kernel, grid, block)`` of what ``launch`` was given: a ``configure`` result or
    ``kernel[grid, block]`` (numba's launch configuration; the simulator's kernel itself,
    whose configuration is the one it was last given)."""
    spec = getattr(configured, "spec", None)
    if spec is not None:
        return spec
    if SIMULATOR:
        return configured, configured.grid_dim, configured.block_dim
    return configured.dispatcher, configured.griddim, configured.blockdim  # pragma: no cover


def nbytes_of(shape, dtype) -> int:
    return math.prod(shape) * np.dtype(dtype).itemsize


def _rounded(nbytes: int) -> int:
    """Size classes: 512 B steps up to 1 MiB, then 1 MiB steps."""
    if nbytes <= 1 << 20:
        return max(512, -(-nbytes // 512) * 512)
    return -(-nbytes // (1 << 20)) << 20


def raw_block(nbytes: int):
    """A fresh uint8 device buffer (one real allocation, counted)."""
    COUNTS["allocations"] += 1
    return cuda.device_array(max(nbytes, 1), np.uint8)


def _strides(shape, itemsize) -> tuple[int, ...]:
    out, acc = [], itemsize
    for n in reversed(shape):
        out.append(acc)
        acc *= max(n, 1)
    return tuple(reversed(out))


def typed_view(block, shape, dtype, offset: int = 0):
    """A C-contiguous array of ``shape``/``dtype`` over ``block``'s bytes from ``offset``."""
    dtype = np.dtype(dtype)
    n = nbytes_of(shape, dtype)
    if SIMULATOR:
        return FakeCUDAArray(block._ary[offset:offset + n].view(dtype).reshape(shape))
    mem = block.gpu_data.view(offset, offset + n) if n else block.gpu_data  # pragma: no cover
    return DeviceNDArray(shape, _strides(shape, dtype.itemsize), dtype,  # pragma: no cover
                         gpu_data=mem)


def is_device_array(a) -> bool:
    return type(a) is (FakeCUDAArray if SIMULATOR else DeviceNDArray)


def byte_view(a, offset: int, nbytes: int, dtype):
    """The 1-D ``dtype`` array over ``nbytes`` bytes of the C-contiguous device array
    ``a`` from byte ``offset``."""
    dtype = np.dtype(dtype)
    if SIMULATOR:
        raw = a._ary.reshape(-1).view(np.uint8)[offset:offset + nbytes]
        return FakeCUDAArray(raw.view(dtype))
    mem = a.gpu_data.view(offset, offset + nbytes) if nbytes else a.gpu_data  # pragma: no cover
    return DeviceNDArray((nbytes // dtype.itemsize,), (dtype.itemsize,), dtype,  # pragma: no cover
                         gpu_data=mem)


def data_pointer(a) -> int:
    """The device address of ``a``'s first element (the simulator's host address)."""
    if SIMULATOR:
        return a._ary.__array_interface__["data"][0]
    return a.device_ctypes_pointer.value or 0  # pragma: no cover - needs a GPU


class Lease:
    """Ownership of one pooled block: when the lease dies the block returns to the pool.

    ``Array``s hold the lease of their buffer; donation moves a block from one lease to
    a new one (``transfer``) so that the old array's death does not free it.
    """

    __slots__ = ("_fin", "__weakref__", "block", "size")

    def __init__(self, block, size: int):
        self.block = block
        self.size = size
        self._fin = weakref.finalize(self, _free[size].append, block) if POOL else None

    def transfer(self) -> Lease:
        if self._fin is not None:
            self._fin.detach()
        return Lease(self.block, self.size)


def lease(nbytes: int) -> Lease:
    """A block of at least ``nbytes`` from the pool (allocated when none is free)."""
    size = _rounded(nbytes)
    blocks = _free[size] if POOL else ()
    return Lease(blocks.pop() if blocks else raw_block(size), size)


def pooled_bytes() -> int:
    """Bytes held by free blocks (for tests and reports)."""
    return sum(size * len(blocks) for size, blocks in _free.items())


# ---------------------------------------------------------------------------
# allocation inside a running program

_active = None  # the allocator of the program now running (set by the executor)


def device_array(shape, dtype):
    """An uninitialised C-contiguous device array: from the running program's arena or
    pool when a program is running, else a fresh allocation."""
    if type(shape) is not tuple:
        shape = (int(shape),) if isinstance(shape, int | np.integer) else tuple(
            int(n) for n in shape)
    if _active is not None:
        return _active.alloc(shape, np.dtype(dtype))
    COUNTS["allocations"] += 1
    return cuda.device_array(shape, dtype)


def to_device(x: np.ndarray):
    """A device copy of the host array ``x`` (C-contiguous); counted as a transfer."""
    x = np.asarray(x)
    x = x if x.flags.c_contiguous else np.ascontiguousarray(x)  # keeps rank 0
    out = device_array(x.shape, x.dtype)
    COUNTS["h2d_bytes"] += x.nbytes
    out.copy_to_device(x)
    return out


def to_host(a) -> np.ndarray:
    """A host copy of the device array ``a``; counted as a transfer."""
    COUNTS["d2h_bytes"] += a.size * a.dtype.itemsize
    return a.copy_to_host()


class Recorder:
    """The allocator of an executable's first call: fresh pooled blocks, every request
    recorded (size, step, address). Every block stays alive until the call ends, so
    addresses identify requests."""

    def __init__(self):
        self.step = 0
        self.requests: list[tuple[int, int, int]] = []  # (nbytes, step, address)
        self.leases: list[Lease] = []

    def alloc(self, shape, dtype):
        n = nbytes_of(shape, dtype)
        held = lease(n)
        a = typed_view(held.block, shape, dtype)
        self.requests.append((n, self.step, data_pointer(a) if n else -len(self.requests)))
        self.leases.append(held)
        return a


class Replayer:
    """The allocator of later calls: request k is ``plan[k]``: an arena offset, or a
    program output taken from the pool (or from a donated input's block)."""

    def __init__(self, arena, plan, donors, views):
        self.arena = arena
        self.plan = plan        # [(nbytes, offset or None)]
        self.donors = donors    # request index -> Lease given up by a donated input
        self.views = views      # request index -> its arena view (kept by the executable)
        self.k = 0
        self.leases: dict[int, Lease] = {}

    def alloc(self, shape, dtype):
        k = self.k
        self.k += 1
        n = nbytes_of(shape, dtype)
        if k >= len(self.plan) or self.plan[k][0] != n:
            raise RuntimeError(f"cuda backend: allocation {k} of {n} bytes does not match the "
                               "first call's plan (a lowering allocated differently)")
        offset = self.plan[k][1]
        if offset is not None:
            view = self.views.get(k)
            if view is None or view.shape != shape or view.dtype != dtype:
                view = self.views[k] = typed_view(self.arena, shape, dtype, offset)
            return view
        held = self.donors.get(k) or lease(n)
        self.leases[k] = held
        return typed_view(held.block, shape, dtype)


def layout(sizes, lives) -> tuple[list[int], int]:
    """Offsets for buffers of ``sizes`` (bytes) alive over the step intervals ``lives``
    (inclusive ``(first, last)``): two buffers share bytes only when their intervals are
    disjoint. Greedy, largest first, lowest free offset. Returns (offsets, arena bytes)."""
    order = sorted(range(len(sizes)), key=lambda i: -sizes[i])
    placed: list[tuple[int, int, int, int]] = []  # (offset, end, first, last)
    offsets = [0] * len(sizes)
    total = 0
    for i in order:
        size = -(-sizes[i] // ALIGN) * ALIGN
        first, last = lives[i]
        busy = sorted((o, e) for o, e, f, la in placed if f <= last and first <= la)
        at = 0
        for o, e in busy:
            if at + size <= o:
                break
            at = max(at, e)
        offsets[i] = at
        placed.append((at, at + size, first, last))
        total = max(total, at + size)
    return offsets, total
