"""Devices and processes: what ``pmap`` maps over and collectives span.

A *platform* (``"cpu"``; a GPU backend registers its own) lists the devices of
this process. The CPU platform has ``config.num_cpu_devices`` virtual devices
(default 1, like XLA's host-platform device count): ``pmap`` over them runs as
one vectorised program, so SPMD code runs and is tested in one process.

Processes join through ``functrace.distributed.initialize()``, which installs a
*process group* here (an object with ``rank``, ``size`` and the collectives of
``functrace.distributed``). Without it there is one process. Device ids are
global: process ``p``'s ``k``-th device has id ``p * local_device_count() + k``.

Example:
    >>> import functrace as ft
    >>> ft.process_index(), ft.process_count()
    (0, 1)
    >>> ft.local_devices()
    [CpuDevice(id=0)]
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import threading
from collections.abc import Callable

from .config import config
from .errors import FunctraceError, TransferError

__all__ = [
    "CpuDevice", "Device", "check_transfer", "default_backend", "device_count", "devices",
    "local_device_count", "local_devices", "platform_put", "process_count", "process_group",
    "process_index", "register_platform", "set_process_group", "transfer_guard",
]

logger = logging.getLogger("functrace.transfer")


class Device:
    """One device of one process; ``id`` is unique across all processes."""

    platform = "unknown"
    device_kind = "unknown"

    def __init__(self, id: int, process_index: int):  # noqa: A002 - JAX's attribute name
        self.id = id
        self.process_index = process_index

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id})"

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other.id == self.id

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.id))


class CpuDevice(Device):
    """A (virtual) CPU device; all of a process's CPU devices share its cores."""

    platform = "cpu"
    device_kind = "cpu"


# -- platforms -------------------------------------------------------------------

# name -> (priority, fn(process_index) -> list of that process's devices)
_platforms: dict[str, tuple[int, Callable[[int], list[Device]]]] = {}
# name -> fn(host ndarray, device) -> that platform's device-resident array (device_put)
_putters: dict[str, Callable] = {}
# optional platforms, registered by importing their backend on first use (by name, with
# importlib, so this bottom layer imports no higher one); "gpu" is JAX's name for CUDA
LAZY_PLATFORMS = {"cuda": "functrace.backends.numba_cuda"}
ALIASES = {"gpu": "cuda"}


def register_platform(name: str, local_devices_fn: Callable[[int], list[Device]],
                      priority: int = 0, put: Callable | None = None) -> None:
    """Registers a platform: ``local_devices_fn(process_index)`` lists a process's devices.

    The default backend is the registered platform of highest priority that has devices
    (a GPU backend registers with a priority above the CPU's 0). ``put(x, device)``, for
    platforms whose arrays live off the host, copies a host array to ``device``.
    """
    _platforms[name] = (priority, local_devices_fn)
    if put is not None:
        _putters[name] = put


def platform_put(device: Device):
    """The ``put(x, device)`` of ``device``'s platform, or None for host platforms."""
    return _putters.get(ALIASES.get(device.platform, device.platform))


def _cpu_devices(proc: int) -> list[Device]:
    n = config.num_cpu_devices
    return [CpuDevice(proc * n + k, proc) for k in range(n)]


register_platform("cpu", _cpu_devices, 0)


def default_backend() -> str:
    """The name of the platform ``pmap`` uses when none is given (``"cpu"`` without a GPU)."""
    ranked = sorted(_platforms.items(), key=lambda kv: -kv[1][0])
    for name, (_, fn) in ranked:
        if fn(process_index()):
            return name
    return "cpu"


def _platform(backend: str | None):
    name = backend or default_backend()
    name = ALIASES.get(name, name)
    if name not in _platforms and name in LAZY_PLATFORMS:
        try:
            importlib.import_module(LAZY_PLATFORMS[name])
        except ImportError as e:
            raise FunctraceError(f"devices({name!r}): the backend could not be imported "
                                 f"({e}); install numba-cuda (pip install 'functrace[cuda]')"
                                 ) from e
    if name not in _platforms:
        raise FunctraceError(f"unknown backend {name!r}; known platforms: {sorted(_platforms)}")
    return _platforms[name][1]


def local_devices(process_index: int | None = None, backend: str | None = None,
                  host_id: int | None = None) -> list:
    """The devices of one process (this one by default), as ``jax.local_devices``
    (``host_id`` is JAX's older name for ``process_index``)."""
    if process_index is None:
        process_index = host_id
    proc = _group.rank if process_index is None else process_index
    return list(_platform(backend)(proc))


def devices(backend: str | None = None) -> list:
    """All devices of all processes, ordered by id (``jax.devices``)."""
    fn = _platform(backend)
    return [d for p in range(_group.size) for d in fn(p)]


def local_device_count(backend: str | None = None) -> int:
    """How many devices this process has (``jax.local_device_count``)."""
    return len(local_devices(backend=backend))


def device_count(backend: str | None = None) -> int:
    """How many devices all processes have together (``jax.device_count``)."""
    return len(devices(backend))


# -- processes -------------------------------------------------------------------

class _SingleProcess:
    """The process group of a program that was not launched with several processes."""

    rank = 0
    size = 1


_group = _SingleProcess()


def set_process_group(group) -> None:
    """Installs the group of processes (``functrace.distributed`` calls it)."""
    global _group
    _group = _SingleProcess() if group is None else group


def process_group():
    """The current process group (``rank``, ``size``; collectives when ``size > 1``)."""
    return _group


def process_index() -> int:
    """This process's index among all processes (0 without ``distributed.initialize``)."""
    return _group.rank


def process_count() -> int:
    """The number of processes (1 without ``distributed.initialize``)."""
    return _group.size


# -- transfer guard --------------------------------------------------------------

_LEVELS = ("allow", "log", "disallow", "log_explicit", "disallow_explicit")
_guard = threading.local()


@contextlib.contextmanager
def transfer_guard(level: str):
    """Logs or forbids host<->device transfers inside the ``with`` block (``jax.transfer_guard``).

    ``"allow"`` (the default outside any guard) lets every transfer through; ``"log"``
    logs implicit ones (a host array passed to a program that runs on a device, a device
    array read by NumPy or printed); ``"disallow"`` raises a ``TransferError`` for them.
    Explicit transfers (``device_put``, ``device_get``, ``Array.copy_to_host_async``) are
    always allowed, except under ``"log_explicit"`` (logged) and ``"disallow_explicit"``
    (forbidden too). The level is per thread, as in JAX.

    Example:
        >>> import functrace as ft
        >>> with ft.transfer_guard("disallow"):
        ...     ft.device_get(ft.device_put(1.0))  # explicit transfers are fine
        array(1., dtype=float32)
    """
    if level not in _LEVELS:
        raise FunctraceError(f"transfer_guard: unknown level {level!r}; expected one of "
                             f"{_LEVELS}")
    prev = getattr(_guard, "level", "allow")
    _guard.level = level
    try:
        yield
    finally:
        _guard.level = prev


def check_transfer(direction: str, what: str, explicit: bool = False) -> None:
    """Applies the current ``transfer_guard`` to one transfer (``direction``:
    ``"host-to-device"`` or ``"device-to-host"``; ``what`` names the value)."""
    level = getattr(_guard, "level", "allow")
    if level == "allow" or (explicit and level in ("log", "disallow")):
        return
    kind = "explicit" if explicit else "implicit"
    if level.startswith("log"):
        logger.warning("%s %s transfer: %s", kind, direction, what)
        return
    fix = ("put it on the device first with functrace.device_put(x)" if direction ==
           "host-to-device" else "fetch it explicitly with functrace.device_get(x)")
    raise TransferError(f"Disallowed {kind} {direction} transfer under "
                        f"transfer_guard({level!r}): {what}; {fix}, or leave the guard.")
