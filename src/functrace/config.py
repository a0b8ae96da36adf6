"""Global configuration flags.

``functrace.config.update("enable_x64", True)`` turns on float64 (JAX spells
the flag ``jax_enable_x64``; both spellings are accepted). ``"log_compiles"``
logs every jit (re)trace and why. ``"cpu_keep_memory"`` (default on) lets the
CPU backend ask glibc's malloc to keep freed memory for reuse instead of
returning it to the OS (see ``backends/numba_cpu``); turn it off before the
first ``jit`` call to keep the process's default allocator settings.

Example:
    >>> from functrace import config
    >>> config.update("enable_x64", False)
    >>> config.enable_x64
    False
"""

from __future__ import annotations

from .errors import FunctraceError

_ALIASES = {"jax_enable_x64": "enable_x64", "jax_log_compiles": "log_compiles"}


class Config:
    """Process-wide settings; read them as attributes, change them with ``update``."""

    def __init__(self) -> None:
        self.enable_x64 = False
        self.log_compiles = False
        self.cpu_keep_memory = True

    def update(self, name: str, value) -> None:
        """Set the flag ``name`` (``"enable_x64"``/``"jax_enable_x64"``, ``"log_compiles"``,
        ``"cpu_keep_memory"``)."""
        key = _ALIASES.get(name, name)
        if key not in ("enable_x64", "log_compiles", "cpu_keep_memory"):
            raise FunctraceError(
                f"config.update: unknown flag {name!r}; known flags are "
                "'enable_x64' (alias 'jax_enable_x64'), 'log_compiles' and 'cpu_keep_memory'."
            )
        setattr(self, key, bool(value))

    def read(self, name: str):
        return getattr(self, _ALIASES.get(name, name))


config = Config()
update = config.update
