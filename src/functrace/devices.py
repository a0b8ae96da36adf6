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

from collections.abc import Callable

from .config import config
from .errors import FunctraceError

__all__ = [
    "CpuDevice", "Device", "default_backend", "device_count", "devices", "local_device_count",
    "local_devices", "process_count", "process_group", "process_index", "register_platform",
    "set_process_group",
]


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


def register_platform(name: str, local_devices_fn: Callable[[int], list[Device]],
                      priority: int = 0) -> None:
    """Registers a platform: ``local_devices_fn(process_index)`` lists a process's devices.

    The default backend is the registered platform of highest priority that has devices
    (a GPU backend registers with a priority above the CPU's 0).
    """
    _platforms[name] = (priority, local_devices_fn)


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
    if name not in _platforms:
        raise FunctraceError(f"unknown backend {name!r}; known platforms: {sorted(_platforms)}")
    return _platforms[name][1]


def local_devices(process_index: int | None = None, backend: str | None = None) -> list:
    """The devices of one process (this one by default), as ``jax.local_devices``."""
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
