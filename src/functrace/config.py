"""Global configuration flags.

``functrace.config.update("enable_x64", True)`` turns on float64 (JAX spells
the flag ``jax_enable_x64``; both spellings are accepted). ``"log_compiles"``
logs every jit (re)trace and why. ``"cpu_keep_memory"`` (default on) lets the
CPU backend ask glibc's malloc to keep freed memory for reuse instead of
returning it to the OS (see ``backends/numba_cpu``); turn it off before the
first ``jit`` call to keep the process's default allocator settings.
``"cpu_native_loops"`` (default on) compiles a ``scan``/``while`` whose body has Numba
entry points into one Numba function on the CPU; off, every loop is stepped from Python
(it applies to programs compiled afterwards).
``"threefry_partitionable"`` (default on, as in JAX >= 0.5; alias
``"jax_threefry_partitionable"``) picks how ``functrace.random`` derives keys and bits
from a key; off gives the streams of JAX before 0.5.
``"num_cpu_devices"`` (default 1, or ``$FUNCTRACE_NUM_CPU_DEVICES``) is the number of
virtual CPU devices of this process, which ``pmap`` maps over (XLA's host-platform device
count). ``"collective_timeout"`` (seconds, default 300, or ``$FUNCTRACE_COLLECTIVE_TIMEOUT``)
bounds how long a cross-process collective waits for the other processes.

Example:
    >>> from functrace import config
    >>> config.update("enable_x64", False)
    >>> config.enable_x64
    False
"""

from __future__ import annotations

import os

from .errors import FunctraceError

_ALIASES = {"jax_enable_x64": "enable_x64", "jax_log_compiles": "log_compiles",
            "jax_threefry_partitionable": "threefry_partitionable",
            "jax_num_cpu_devices": "num_cpu_devices"}
_BOOL_FLAGS = ("enable_x64", "log_compiles", "cpu_keep_memory", "threefry_partitionable",
               "cpu_native_loops")


def _positive(name: str, value, kind):
    try:
        out = kind(value)
    except (TypeError, ValueError):
        out = None
    if out is None or out <= 0 or isinstance(value, bool):
        raise FunctraceError(f"config.update({name!r}, {value!r}): expected a positive "
                             f"{kind.__name__}")
    return out


class Config:
    """Process-wide settings; read them as attributes, change them with ``update``."""

    def __init__(self) -> None:
        self.enable_x64 = False
        self.log_compiles = False
        self.cpu_keep_memory = True
        self.cpu_native_loops = True
        self.threefry_partitionable = True
        self.num_cpu_devices = _positive(
            "FUNCTRACE_NUM_CPU_DEVICES", os.environ.get("FUNCTRACE_NUM_CPU_DEVICES", 1), int)
        self.collective_timeout = _positive(
            "FUNCTRACE_COLLECTIVE_TIMEOUT",
            os.environ.get("FUNCTRACE_COLLECTIVE_TIMEOUT", 300.0), float)

    def update(self, name: str, value) -> None:
        """Set the flag ``name`` (``"enable_x64"``/``"jax_enable_x64"``, ``"log_compiles"``,
        ``"cpu_keep_memory"``, ``"cpu_native_loops"``, ``"threefry_partitionable"``,
        ``"num_cpu_devices"``, ``"collective_timeout"``)."""
        key = _ALIASES.get(name, name)
        if key == "num_cpu_devices":
            self.num_cpu_devices = _positive(name, value, int)
            return
        if key == "collective_timeout":
            self.collective_timeout = _positive(name, value, float)
            return
        if key not in _BOOL_FLAGS:
            raise FunctraceError(
                f"config.update: unknown flag {name!r}; known flags are "
                "'enable_x64' (alias 'jax_enable_x64'), 'log_compiles', 'cpu_keep_memory', "
                "'cpu_native_loops', 'threefry_partitionable' "
                "(alias 'jax_threefry_partitionable'), "
                "'num_cpu_devices' and 'collective_timeout'."
            )
        setattr(self, key, bool(value))

    def read(self, name: str):
        return getattr(self, _ALIASES.get(name, name))


config = Config()
update = config.update
