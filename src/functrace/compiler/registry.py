"""The backend registry: backends register themselves; ``jit`` looks them up by name."""

from __future__ import annotations

from ..errors import FunctraceError

backends: dict[str, object] = {}
DEFAULT_BACKEND = "cpu"


def register_backend(name: str, backend) -> None:
    backends[name] = backend


def get_backend(name: str | None):
    name = name or DEFAULT_BACKEND
    if name not in backends:
        raise FunctraceError(f"jit: unknown backend {name!r}; available: {sorted(backends)}")
    return backends[name]
