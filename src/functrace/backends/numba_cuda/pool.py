"""CUDA lowerings of pooling: ``reduce_window_{max,sum,min}`` and max/min-pool's
backward ``select_and_scatter_add``.

One thread per pooled output element walks its window (padding, strides and
both dilations folded into the index math). Operands of rank below 4 are seen
as rank 4 with leading unit dims (``WindowGeometry``); higher ranks run on the host.
The backward pass runs one thread per operand element: it walks the windows that
contain it and adds the cotangent of each window whose first maximum (minimum), in
row-major window order as the reference impl, it is. Overlapping windows
accumulate with no atomics and no zero fill.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

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


class WindowGeometry(NamedTuple):
    """A windowed op's geometry, every field padded to rank 4 with leading unit dims."""

    shape: tuple            # the operand's
    out: tuple              # the pooled output's (the cotangent's, for the scatter)
    window: tuple
    strides: tuple
    pad_lo: tuple
    base_dilation: tuple
    window_dilation: tuple

    @classmethod
    def of(cls, in_shape, out_shape, params) -> WindowGeometry:
        lead = RANK - len(in_shape)

        def pad(t, v):
            return tuple(np.int64(x) for x in (v,) * lead + tuple(t))
        return cls(pad(in_shape, 1), pad(out_shape, 1), pad(params["window_dimensions"], 1),
                   pad(params["window_strides"], 1), pad([lo for lo, _ in params["padding"]], 0),
                   pad(params["base_dilation"], 1), pad(params["window_dilation"], 1))


@cuda.jit(device=True, inline=True)
def _tap(o, w, geo, d):
    """The operand index under window tap ``w`` of output ``o`` along dim ``d``, or -1
    for padding and the holes of a base dilation."""
    p = o * geo.strides[d] - geo.pad_lo[d] + w * geo.window_dilation[d]
    if p < 0 or p % geo.base_dilation[d] != 0 or p // geo.base_dilation[d] >= geo.shape[d]:
        return -1
    return p // geo.base_dilation[d]


@functools.cache
def _reduce_window_kernel(kind: str, dtype: np.dtype):
    identity = _identity(kind, dtype)
    is_sum, is_max = kind == "sum", kind == "max"

    @cuda.jit
    def kernel(x, out, geo):
        i = cuda.grid(1)
        if i >= out.size:
            return
        o3 = i % geo.out[3]
        t = i // geo.out[3]
        o2 = t % geo.out[2]
        t //= geo.out[2]
        o1 = t % geo.out[1]
        o0 = t // geo.out[1]
        acc = identity
        for w0 in range(geo.window[0]):
            p0 = _tap(o0, w0, geo, 0)
            if p0 < 0:
                continue
            for w1 in range(geo.window[1]):
                p1 = _tap(o1, w1, geo, 1)
                if p1 < 0:
                    continue
                for w2 in range(geo.window[2]):
                    p2 = _tap(o2, w2, geo, 2)
                    if p2 < 0:
                        continue
                    for w3 in range(geo.window[3]):
                        p3 = _tap(o3, w3, geo, 3)
                        if p3 < 0:
                            continue
                        acc = combine(acc, x[((p0 * geo.shape[1] + p1) * geo.shape[2] + p2)
                                             * geo.shape[3] + p3], is_sum, is_max)
        out[i] = acc

    return registered(kernel)


@cuda.jit(device=True, inline=True)
def _first_best(operand, geo, o0, o1, o2, o3, select_max):
    """The flat operand index of window ``o``'s first maximum (minimum), or -1."""
    best_at = -1
    best = operand[0]
    for w0 in range(geo.window[0]):
        p0 = _tap(o0, w0, geo, 0)
        if p0 < 0:
            continue
        for w1 in range(geo.window[1]):
            p1 = _tap(o1, w1, geo, 1)
            if p1 < 0:
                continue
            for w2 in range(geo.window[2]):
                p2 = _tap(o2, w2, geo, 2)
                if p2 < 0:
                    continue
                for w3 in range(geo.window[3]):
                    p3 = _tap(o3, w3, geo, 3)
                    if p3 < 0:
                        continue
                    at = ((p0 * geo.shape[1] + p1) * geo.shape[2] + p2) * geo.shape[3] + p3
                    v = operand[at]
                    if best_at < 0 or (v > best if select_max else v < best):
                        best = v
                        best_at = at
    return best_at


@cuda.jit(device=True, inline=True)
def _windows_of(q, w, geo, d):
    """The output index whose window tap ``w`` reads operand index ``q`` along ``d``, or -1."""
    n = q * geo.base_dilation[d] + geo.pad_lo[d] - w * geo.window_dilation[d]
    if n < 0 or n % geo.strides[d] != 0 or n // geo.strides[d] >= geo.out[d]:
        return -1
    return n // geo.strides[d]


@functools.cache
def _scatter_kernel(select_max: bool):
    """One thread per operand element: it sums the cotangents of the windows whose
    first maximum (minimum) it is. A gather, so no zero fill and no atomics."""

    @cuda.jit
    def kernel(src, operand, out, geo, zero):
        i = cuda.grid(1)
        if i >= out.size:
            return
        q3 = i % geo.shape[3]
        t = i // geo.shape[3]
        q2 = t % geo.shape[2]
        t //= geo.shape[2]
        q1 = t % geo.shape[1]
        q0 = t // geo.shape[1]
        acc = zero
        for w0 in range(geo.window[0]):
            o0 = _windows_of(q0, w0, geo, 0)
            if o0 < 0:
                continue
            for w1 in range(geo.window[1]):
                o1 = _windows_of(q1, w1, geo, 1)
                if o1 < 0:
                    continue
                for w2 in range(geo.window[2]):
                    o2 = _windows_of(q2, w2, geo, 2)
                    if o2 < 0:
                        continue
                    for w3 in range(geo.window[3]):
                        o3 = _windows_of(q3, w3, geo, 3)
                        if o3 >= 0 and _first_best(operand, geo, o0, o1, o2, o3,
                                                   select_max) == i:
                            acc += src[((o0 * geo.out[1] + o1) * geo.out[2] + o2)
                                       * geo.out[3] + o3]
        out[i] = acc

    return registered(kernel)


def _numeric(dtype) -> bool:
    return dtype.kind in ("f", "i", "u") and dtype != np.bool_


def _reduce_window_lowering(kind: str, eqn):
    x = eqn.inputs[0].aval
    out = eqn.outvars[0].aval
    if x.ndim > RANK or not _numeric(x.dtype) or x.size == 0:
        return host_lowering(eqn)
    geo = WindowGeometry.of(x.shape, out.shape, eqn.params)
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
    geo = WindowGeometry.of(operand.shape, src.shape, eqn.params)
    kernel = _scatter_kernel(eqn.params["select_prim"] == "max")
    zero = np.dtype(out.dtype).type(0)

    def run(s, x):
        y = memory.device_array(out.shape, out.dtype)
        if s.size == 0:
            kernels.fill(y, 0)
        elif y.size:
            memory.launch(kernel[blocks(y.size), THREADS], flat(s), flat(x), flat(y), geo, zero)
        return [y]
    return run


for _kind in ("max", "sum", "min"):
    lowerings[getattr(windowed, f"reduce_window_{_kind}_p")] = functools.partial(
        _reduce_window_lowering, _kind)
lowerings[windowed.select_and_scatter_add_p] = _select_and_scatter_add_lowering
