"""Small helpers shared by the stax modules: the error type and layer names."""

from __future__ import annotations

import operator

from ..errors import FunctraceError, ShapeError


class StaxError(FunctraceError, ValueError):
    """A stax layer was built or called with invalid arguments (not shapes: those raise
    ``ShapeError``). A ``ValueError`` too, as in JAX."""


def layer_name(name: str, *args, **kwargs) -> str:
    """``'Dense(10)'``: how a layer's errors name it (its constructor call)."""
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def shape_str(shape) -> str:
    return str(tuple(int(d) for d in shape))


def check_shape(input_shape, who: str, min_rank: int = 0) -> tuple:
    """``input_shape`` as a tuple of ints (``-1`` allowed, for an unknown batch size) of
    rank at least ``min_rank``; else a ``ShapeError`` naming the layer."""
    try:
        shape = tuple(operator.index(d) for d in input_shape)
    except TypeError:
        shape = None
    if shape is None or len(shape) < min_rank:
        raise ShapeError(f"{who}: input_shape must be a tuple of ints of rank >= {min_rank} "
                         f"(e.g. (-1, 784) for a batch of vectors), got {input_shape!r}")
    return shape


def check_params(params, n: int, who: str, what: str) -> tuple:
    """``params`` unpacked into its ``n`` parts (``what`` names them); else a
    ``StaxError`` that says to pass what ``init_fun`` returned."""
    if not isinstance(params, tuple | list) or len(params) != n:
        got = (f"a {type(params).__name__} of length {len(params)}"
               if isinstance(params, tuple | list) else type(params).__name__)
        raise StaxError(f"{who}: params must be {what} as returned by its init_fun, got {got}")
    return tuple(params)


def check_layers(layers, who: str) -> None:
    for i, layer in enumerate(layers):
        if not (isinstance(layer, tuple | list) and len(layer) == 2
                and all(callable(f) for f in layer)):
            raise StaxError(f"{who}: layer {i} must be an (init_fun, apply_fun) pair, got "
                            f"{type(layer).__name__} ({layer!r:.60})")
