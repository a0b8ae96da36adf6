"""Global configuration flags.

``functrace.config.update("enable_x64", True)`` turns on float64 (JAX spells
the flag ``jax_enable_x64``; both spellings are accepted). ``"log_compiles"``
logs every jit (re)trace and why. ``"cpu_keep_memory"`` (default on) lets the
CPU backend ask glibc's malloc to keep freed memory for reuse instead of
returning it to the OS (see ``backends/numba_cpu``); turn it off before the
first ``jit`` call to keep the process's default allocator settings.
``"threefry_partitionable"`` (default on, as in JAX >= 0.5; alias
``"jax_threefry_partitionable"``) picks how ``functrace.random`` derives keys and bits
from a key; off gives the streams of JAX before 0.5.

Example:
    >>> from functrace import config
    >>> config.update("enable_x64", False)
    >>> config.enable_x64
    False
"""

from __future__ import annotations

from .errors import FunctraceError

_ALIASES = {"jax_enable_x64": "enable_x64", "jax_log_compiles": "log_compiles",
            "jax_threefry_partitionable": "threefry_partitionable"}
_FLAGS = ("enable_x64", "log_compiles", "cpu_keep_memory", "threefry_partitionable")


class Config:
    """Process-wide settings; read them as attributes, change them with ``update``."""

    def __init__(self) -> None:
        self.enable_x64 = False
        self.log_compiles = False
        self.cpu_keep_memory = True
        self.threefry_partitionable = True

    def update(self, name: str, value) -> None:
        """Set the flag ``name`` (``"enable_x64"``/``"jax_enable_x64"``, ``"log_compiles"``,
        ``"cpu_keep_memory"``, ``"threefry_partitionable"``/``"jax_threefry_partitionable"``)."""
        key = _ALIASES.get(name, name)
        if key not in _FLAGS:
            raise FunctraceError(
                f"config.update: unknown flag {name!r}; known flags are "
                "'enable_x64' (alias 'jax_enable_x64'), 'log_compiles', 'cpu_keep_memory' and "
                "'threefry_partitionable' (alias 'jax_threefry_partitionable')."
            )
        setattr(self, key, bool(value))

    def read(self, name: str):
        return getattr(self, _ALIASES.get(name, name))


config = Config()
update = config.update
