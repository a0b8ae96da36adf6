"""``Array``: a value that lives in a CUDA device's memory, and the CUDA devices.

``functrace.device_put(x, device)`` makes one; a ``jit``-compiled function whose
inputs include one runs on the device and returns ``Array``s that stay there, so a
training loop moves nothing across PCIe between steps. Reading one from the host
(``np.asarray``, printing, ``float``) is an *implicit* device-to-host copy, which
``functrace.transfer_guard`` logs or forbids; ``functrace.device_get`` and
``copy_to_host_async`` are explicit. Indexing runs a small compiled program on the
device. The buffer belongs to a ``memory.Lease``: it returns to the caching pool when
the last ``Array`` over it is collected, or moves to an output when donated.
"""

from __future__ import annotations

import numpy as np
from numba import cuda

from ...compiler.jit import jit
from ...core.avals import DEVICE_ARRAY_TYPES, ShapedArray
from ...devices import Device, check_transfer
from ...errors import FunctraceError
from . import memory


class CudaDevice(Device):
    """A CUDA GPU of this process (``platform == "gpu"``, as JAX names it)."""

    platform = "gpu"
    device_kind = "cuda"


class Array:
    """A device-resident array (``jax.Array`` on a GPU).

    Example:
        >>> import numpy as np, functrace as ft
        >>> x = ft.device_put(np.arange(3.0, dtype=np.float32), ft.devices("cuda")[0])
        >>> x.shape, x.dtype, x.devices()
        ((3,), dtype('float32'), {CudaDevice(id=0)})
        >>> x[1:]
        Array([1., 2.], dtype=float32)
    """

    __slots__ = ("__weakref__", "_buf", "_device", "_dtype", "_host", "_lease", "_shape")
    __array_priority__ = 100

    def __init__(self, buf, lease, device: Device):
        self._buf = buf          # the numba device array (C-contiguous)
        self._lease = lease      # owns the bytes (None: owned by an executable, read-only)
        self._device = device
        self._host = None        # the host copy once fetched (copy_to_host_async)
        self._shape = tuple(buf.shape)
        self._dtype = np.dtype(buf.dtype)

    # -- metadata ------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self._shape

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def ndim(self) -> int:
        return len(self._shape)

    @property
    def size(self) -> int:
        return int(np.prod(self._shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def aval(self) -> ShapedArray:
        return ShapedArray(self.shape, self.dtype)

    @property
    def device(self) -> Device:
        return self._device

    def devices(self) -> set:
        """The set of devices holding this array (one)."""
        return {self._device}

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of an unsized (rank-0) Array")
        return self.shape[0]

    # -- lifetime ------------------------------------------------------------------
    def buffer(self):
        """The numba device array (raises once the array was donated or deleted)."""
        if self._buf is None:
            raise FunctraceError("Array has been deleted (donated to a jit-compiled "
                                 "function through donate_argnums, or .delete()); use the "
                                 "function's output instead.")
        return self._buf

    def is_deleted(self) -> bool:
        return self._buf is None

    def delete(self) -> None:
        """Frees the buffer now (back to the pool); later use raises."""
        self._buf = self._lease = self._host = None

    def block_until_ready(self) -> Array:
        """Waits until every kernel writing this array has finished; returns it."""
        self.buffer()
        cuda.synchronize()
        return self

    # -- host access ---------------------------------------------------------------
    def _fetch(self, explicit: bool) -> np.ndarray:
        if self._host is None:
            check_transfer("device-to-host", f"Array {self.aval.str_short()}", explicit)
            self._host = memory.to_host(self.buffer())
        return self._host

    def copy_to_host_async(self) -> None:
        """Starts the copy to the host; later host reads use it without a transfer. (The
        simulator and numba's default stream copy synchronously.)"""
        self._fetch(explicit=True)

    def __array__(self, dtype=None, copy=None):
        host = self._fetch(explicit=False)
        return host.astype(dtype) if dtype is not None and dtype != host.dtype else host.copy()

    def __repr__(self) -> str:
        if self._buf is None:
            return f"Array(<deleted>, shape={self.shape}, dtype={self.dtype})"
        body = np.array2string(self._fetch(explicit=False), separator=", ", prefix="Array(")
        return f"Array({body}, dtype={self.dtype})"

    def __str__(self) -> str:
        return str(self._fetch(explicit=False))

    def __float__(self) -> float:
        return float(self._fetch(explicit=False))

    def __int__(self) -> int:
        return int(self._fetch(explicit=False))

    def __bool__(self) -> bool:
        return bool(self._fetch(explicit=False))

    def item(self):
        return self._fetch(explicit=False).item()

    def tolist(self):
        return self._fetch(explicit=False).tolist()

    # -- indexing: a compiled program on the device --------------------------------
    def __getitem__(self, idx):
        key = _static_index_key(idx)
        if key is not None:
            fn = _INDEXERS.get(key)
            if fn is None:
                fn = _INDEXERS[key] = jit(lambda a: a[idx], backend="cuda")
            return fn(self)
        return _DYNAMIC_INDEX(self, idx)  # array indices: an argument of the program


DEVICE_ARRAY_TYPES.add(Array)

_INDEXERS: dict = {}
_DYNAMIC_INDEX = jit(lambda a, i: a[i], backend="cuda")


def _static_index_key(idx):
    """A hashable key for an index of ints, slices, None and Ellipsis; None otherwise."""
    parts = idx if isinstance(idx, tuple) else (idx,)
    key = []
    for p in parts:
        if isinstance(p, slice):
            key.append(("slice", p.start, p.stop, p.step))
        elif p is None or p is Ellipsis or isinstance(p, int | np.integer):
            key.append(p if p is None or p is Ellipsis else int(p))
        else:
            return None
    return (isinstance(idx, tuple), tuple(key))


def local_cuda_devices(process_index: int) -> list[Device]:
    """The CUDA devices of a process: numba's current device (one per process)."""
    try:
        ok = cuda.is_available()
    except Exception:  # noqa: BLE001 - a broken driver means no devices
        ok = False
    return [CudaDevice(process_index, process_index)] if ok else []


def put(x: np.ndarray, device: Device) -> Array:
    """Copies the host array ``x`` to ``device`` (the caller applied the transfer guard)."""
    x = np.asarray(x)
    x = x if x.flags.c_contiguous else np.ascontiguousarray(x)  # keeps rank 0
    held = memory.lease(x.nbytes)
    buf = memory.typed_view(held.block, x.shape, x.dtype)
    memory.COUNTS["h2d_bytes"] += x.nbytes
    if x.size:
        buf.copy_to_device(x)
    return Array(buf, held, device)
