"""stax's pooling layers: MaxPool, SumPool and AvgPool (``lax.reduce_window``).

As in JAX, the layout is channels-last by default (``spec=None``: the window
slides over every dim but the first and the last); ``spec`` (e.g. ``'NCHW'``)
names the batch (``N``) and channel (``C``) dims otherwise. ``strides`` default
to 1 (not to the window) and ``padding`` to ``'VALID'``.
"""

from __future__ import annotations

from .. import lax
from .. import numpy as fnp
from ..errors import ShapeError
from ._util import StaxError, layer_name, shape_str

__all__ = ["AvgPool", "MaxPool", "SumPool"]


def _non_spatial_axes(spec, ndim: int) -> tuple[int, int]:
    return (0, ndim - 1) if spec is None else (spec.index("N"), spec.index("C"))


def _with_non_spatial(values: tuple, axes, fill) -> tuple:
    for i in sorted(axes):
        values = values[:i] + (fill,) + values[i:]
    return values


def _spatial_padding(padding, n_spatial: int, who: str):
    """A padding name, or explicit ``(lo, hi)`` pairs for the spatial dims only."""
    if isinstance(padding, str):
        return padding
    try:
        pads = tuple((int(lo), int(hi)) for lo, hi in padding)
    except (TypeError, ValueError):
        raise StaxError(f"{who}: padding must be 'VALID', 'SAME', 'SAME_LOWER' or (low, high) "
                        f"pairs, got {padding!r}") from None
    if len(pads) != n_spatial:
        raise StaxError(f"{who}: padding {pads} needs one (low, high) pair per spatial dim "
                        f"({n_spatial})")
    return pads


def _pooling_layer(kind: str, reducer, init_val, rescaler=None):
    def PoolingLayer(window_shape, strides=None, padding="VALID", spec=None):
        window_shape = tuple(window_shape)
        strides = tuple(strides) if strides else (1,) * len(window_shape)
        name = layer_name(kind, window_shape)
        spatial_padding = _spatial_padding(padding, len(window_shape), name)
        rescale = rescaler(window_shape, strides, spatial_padding) if rescaler else None
        ndim = len(window_shape) + 2
        if spec is not None and len(spec) != ndim:
            raise StaxError(f"{name}: spec {spec!r} must have {ndim} characters (the window "
                            f"{window_shape} has {len(window_shape)} spatial dims)")
        non_spatial = _non_spatial_axes(spec, ndim)
        full_window = _with_non_spatial(window_shape, non_spatial, 1)
        full_strides = _with_non_spatial(strides, non_spatial, 1)
        full_padding = spatial_padding if isinstance(spatial_padding, str) else (
            _with_non_spatial(spatial_padding, non_spatial, (0, 0)))

        def init_fun(rng, input_shape):
            input_shape = tuple(input_shape)
            _check_rank(input_shape, ndim, spec, name)
            spatial = tuple(d for i, d in enumerate(input_shape) if i not in non_spatial)
            pads = (lax.padtype_to_pads(spatial, window_shape, strides, spatial_padding)
                    if isinstance(spatial_padding, str) else spatial_padding)
            pads = _with_non_spatial(tuple(pads), non_spatial, (0, 0))
            out_shape = tuple((n + lo + hi - w) // s + 1 for n, w, s, (lo, hi)
                              in zip(input_shape, full_window, full_strides, pads, strict=True))
            return out_shape, ()

        def apply_fun(params, inputs, **kwargs):
            _check_rank(fnp.shape(inputs), ndim, spec, name)
            out = lax.reduce_window(inputs, init_val, reducer, full_window, full_strides,
                                    full_padding)
            return rescale(out, inputs, spec) if rescale else out

        return init_fun, apply_fun

    PoolingLayer.__name__ = PoolingLayer.__qualname__ = kind
    return PoolingLayer


def _check_rank(shape, ndim: int, spec, who: str) -> None:
    if len(shape) != ndim:
        layout = repr(spec) if spec else "(batch, *spatial, channels)"
        raise ShapeError(f"{who}: expected inputs of rank {ndim} (layout {layout}), got shape "
                         f"{shape_str(shape)}")


def _normalize_by_window_size(dims, strides, padding):
    """AvgPool's rescaling (JAX's ``_normalize_by_window_size``): each window sum is
    divided by the number of *input* elements in the window, so padding positions
    are not counted (a SAME-padded border window averages fewer elements)."""
    def rescale(outputs, inputs, spec):
        ndim = fnp.ndim(inputs)
        non_spatial = _non_spatial_axes(spec, ndim)
        spatial_shape = tuple(d for i, d in enumerate(fnp.shape(inputs)) if i not in non_spatial)
        one = fnp.ones(spatial_shape, dtype=inputs.dtype)
        window_sizes = lax.reduce_window(one, 0.0, lax.add, dims, strides, padding)
        for i in sorted(non_spatial):
            window_sizes = fnp.expand_dims(window_sizes, i)
        return outputs / window_sizes
    return rescale


_POOL_DOC = """{what} pooling layer (``jax.example_libraries.stax.{kind}``).

    Args:
        window_shape: the window over the spatial dims, e.g. ``(2, 2)``.
        strides: one per spatial dim; default all 1 (as in JAX: not the window).
        padding: ``'VALID'`` (default), ``'SAME'``, ``'SAME_LOWER'`` or one ``(low, high)``
            pair per spatial dim (explicit pairs are an addition to JAX's API).
        spec: the layout, e.g. ``'NCHW'``; ``None`` (default) means channels-last.
    Returns:
        ``(init_fun, apply_fun)``; no params.{extra}

    Example:
        >>> from functrace import random
        >>> init_fun, apply_fun = {kind}((2, 2), strides=(2, 2))
        >>> init_fun(random.PRNGKey(0), (-1, 28, 28, 8))[0]
        (-1, 14, 14, 8)
    """

MaxPool = _pooling_layer("MaxPool", lax.max, -float("inf"))
MaxPool.__doc__ = _POOL_DOC.format(what="A max", kind="MaxPool", extra="")
SumPool = _pooling_layer("SumPool", lax.add, 0.0)
SumPool.__doc__ = _POOL_DOC.format(what="A sum", kind="SumPool", extra="")
AvgPool = _pooling_layer("AvgPool", lax.add, 0.0, _normalize_by_window_size)
AvgPool.__doc__ = _POOL_DOC.format(
    what="An average", kind="AvgPool",
    extra="\n\n    Padding positions are not averaged: each output is the window's sum over "
          "the\n    input elements it covers divided by their count, exactly as in JAX.")
