"""CUDA lowerings of pooling: ``reduce_window_{max,sum,min}`` and max/min-pool's
backward ``select_and_scatter_add``.

One thread per pooled output element walks its window (padding, strides and
both dilations folded into the index math). Operands of rank below 4 are seen
as rank 4 with leading unit dims; higher ranks run on the host. The backward
pass finds each window's first maximum (minimum) in row-major window order, as
the reference impl does, and adds the cotangent there with an atomic add, so
overlapping windows accumulate.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import cuda

from ...lax import windowed
from . import kernels, memory
from .kernels import THREADS, blocks, combine, flat, registered
from .table import host_lowering, lowerings

RANK = 4


def _identity(kind: str, dtype: np.dtype):
    if kind == "sum":
        return dtype.type(0)
    if dtype.kind == "f":
        return dtype.type(-np.inf if kind == "max" else np.inf)
    info = np.iinfo(dtype)
    return dtype.type(info.min if kind == "max" else info.max)


@functools.cache
def _reduce_window_kernel(kind: str, dtype: np.dtype):
    identity = _identity(kind, dtype)
    is_sum, is_max = kind == "sum", kind == "max"

    @cuda.jit
    def kernel(x, out, geo):
        # geo: (in_shape, out_shape, window, strides, pad_lo, base_dil, window_dil) x 4
        i = cuda.grid(1)
        if i >= out.size:
            return
        o3 = i % geo[7]
        t = i // geo[7]
        o2 = t % geo[6]
        t //= geo[6]
        o1 = t % geo[5]
        o0 = t // geo[5]
        acc = identity
        for w0 in range(geo[8]):
            p0 = o0 * geo[12] - geo[16] + w0 * geo[24]
            if p0 < 0 or p0 % geo[20] != 0 or p0 // geo[20] >= geo[0]:
                continue
            for w1 in range(geo[9]):
                p1 = o1 * geo[13] - geo[17] + w1 * geo[25]
                if p1 < 0 or p1 % geo[21] != 0 or p1 // geo[21] >= geo[1]:
                    continue
                for w2 in range(geo[10]):
                    p2 = o2 * geo[14] - geo[18] + w2 * geo[26]
                    if p2 < 0 or p2 % geo[22] != 0 or p2 // geo[22] >= geo[2]:
                        continue
                    for w3 in range(geo[11]):
                        p3 = o3 * geo[15] - geo[19] + w3 * geo[27]
                        if p3 < 0 or p3 % geo[23] != 0 or p3 // geo[23] >= geo[3]:
                            continue
                        acc = combine(acc, x[((p0 // geo[20] * geo[1] + p1 // geo[21])
                                                * geo[2] + p2 // geo[22]) * geo[3]
                                               + p3 // geo[23]], is_sum, is_max)
        out[i] = acc

    return registered(kernel)


@functools.cache
def _scatter_kernel(select_max: bool):

    @cuda.jit
    def kernel(src, operand, out, geo):
        i = cuda.grid(1)
        if i >= src.size:
            return
        o3 = i % geo[7]
        t = i // geo[7]
        o2 = t % geo[6]
        t //= geo[6]
        o1 = t % geo[5]
        o0 = t // geo[5]
        best_at = -1
        best = operand[0]
        for w0 in range(geo[8]):
            p0 = o0 * geo[12] - geo[16] + w0 * geo[24]
            if p0 < 0 or p0 % geo[20] != 0 or p0 // geo[20] >= geo[0]:
                continue
            for w1 in range(geo[9]):
                p1 = o1 * geo[13] - geo[17] + w1 * geo[25]
                if p1 < 0 or p1 % geo[21] != 0 or p1 // geo[21] >= geo[1]:
                    continue
                for w2 in range(geo[10]):
                    p2 = o2 * geo[14] - geo[18] + w2 * geo[26]
                    if p2 < 0 or p2 % geo[22] != 0 or p2 // geo[22] >= geo[2]:
                        continue
                    for w3 in range(geo[11]):
                        p3 = o3 * geo[15] - geo[19] + w3 * geo[27]
                        if p3 < 0 or p3 % geo[23] != 0 or p3 // geo[23] >= geo[3]:
                            continue
                        at = ((p0 // geo[20] * geo[1] + p1 // geo[21]) * geo[2]
                              + p2 // geo[22]) * geo[3] + p3 // geo[23]
                        v = operand[at]
                        if best_at < 0 or (v > best if select_max else v < best):
                            best = v
                            best_at = at
        if best_at >= 0:
            cuda.atomic.add(out, best_at, src[i])

    return registered(kernel)


def _geometry(in_shape, out_shape, params):
    """The 28 int64 kernel params: every geometry tuple padded to rank 4."""
    lead = RANK - len(in_shape)
    def pad(t, v):
        return (v,) * lead + tuple(t)
    vals = (pad(in_shape, 1) + pad(out_shape, 1) + pad(params["window_dimensions"], 1)
            + pad(params["window_strides"], 1) + pad([lo for lo, _ in params["padding"]], 0)
            + pad(params["base_dilation"], 1) + pad(params["window_dilation"], 1))
    return tuple(np.int64(v) for v in vals)


def _numeric(dtype) -> bool:
    return dtype.kind in ("f", "i", "u") and dtype != np.bool_


def _reduce_window_lowering(kind: str, eqn):
    x = eqn.inputs[0].aval
    out = eqn.outvars[0].aval
    if x.ndim > RANK or not _numeric(x.dtype) or x.size == 0:
        return host_lowering(eqn)
    geo = _geometry(x.shape, out.shape, eqn.params)
    kernel = _reduce_window_kernel(kind, np.dtype(x.dtype))

    def run(xv):
        y = memory.device_array(out.shape, out.dtype)
        if y.size:
            memory.launch(kernel[blocks(y.size), THREADS], flat(xv), flat(y), geo)
        return [y]
    return run


def _select_and_scatter_add_lowering(eqn):
    src, operand = (v.aval for v in eqn.inputs)
    out = eqn.outvars[0].aval
    if (operand.ndim > RANK or out.dtype.kind != "f" or operand.dtype.kind != "f"
            or operand.size == 0):
        return host_lowering(eqn)
    geo = _geometry(operand.shape, src.shape, eqn.params)
    kernel = _scatter_kernel(eqn.params["select_prim"] == "max")

    def run(s, x):
        y = kernels.zeros(out.shape, out.dtype)
        if s.size:
            memory.launch(kernel[blocks(s.size), THREADS], flat(s), flat(x), flat(y), geo)
        return [y]
    return run


for _kind in ("max", "sum", "min"):
    lowerings[getattr(windowed, f"reduce_window_{_kind}_p")] = functools.partial(
        _reduce_window_lowering, _kind)
lowerings[windowed.select_and_scatter_add_p] = _select_and_scatter_add_lowering
