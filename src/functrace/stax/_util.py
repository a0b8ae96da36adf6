"""Small helpers shared by the stax modules: the error type and layer names."""

from __future__ import annotations

from ..errors import FunctraceError


class StaxError(FunctraceError, ValueError):
    """A stax layer was built or called with invalid arguments (not shapes: those raise
    ``ShapeError``). A ``ValueError`` too, as in JAX."""


def layer_name(name: str, *args, **kwargs) -> str:
    """``'Dense(10)'``: how a layer's errors name it (its constructor call)."""
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def shape_str(shape) -> str:
    return str(tuple(int(d) for d in shape))
