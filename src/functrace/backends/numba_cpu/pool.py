"""Lowering of the max/min-pool backward (``select_and_scatter_add``) to Numba.

Fast path: rank 4, float, windows (1, kh, kw, 1) tiling the spatial axes of an
NHWC array -- stride == window, no padding, no dilation (what
``stax.MaxPool((2, 2), strides=(2, 2))`` does): 3x faster than the NumPy
reference. Every other geometry (NCHW included) uses the reference impl.
"""

from __future__ import annotations

import importlib

import numpy as np

from ...lax.windowed import select_and_scatter_add_p
from . import lowerings, reference_lowering


def _kernels():
    return importlib.import_module("._pool_kernels", __package__)


def _layout(shape, dtype, params) -> str | None:
    dims = params["window_dimensions"]
    if (len(shape) != 4 or not np.issubdtype(dtype, np.floating)
            or params["window_strides"] != dims
            or any(p != (0, 0) for p in params["padding"])
            or any(d != 1 for d in params["base_dilation"] + params["window_dilation"])):
        return None
    if dims[0] == dims[3] == 1:
        return "nhwc"
    return None


def lower_select_and_scatter_add(eqn):
    operand = eqn.inputs[1].aval
    layout = _layout(operand.shape, operand.dtype, eqn.params)
    if layout is None:
        return reference_lowering(eqn)
    dims = eqn.params["window_dimensions"]
    kh, kw = dims[1], dims[2]
    kernel = getattr(_kernels(), f"scatter_{layout}")
    is_max = eqn.params["select_prim"] == "max"
    dtype = eqn.outvars[0].aval.dtype

    def run(source, x):
        out = np.zeros(x.shape, dtype)
        kernel(np.ascontiguousarray(source, dtype), np.ascontiguousarray(x), out, kh, kw,
               is_max)
        return [out]

    return run


lowerings[select_and_scatter_add_p] = lower_select_and_scatter_add
