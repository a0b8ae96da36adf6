"""Device lowerings of shape ops, reductions and ``dot_general``.

Shape ops are free or one ``gather``: ``reshape``/``squeeze``/``expand_dims``
re-view the contiguous buffer; ``transpose``, ``broadcast_in_dim``, ``rev`` and
``slice`` read it through strides. Reductions move the reduced axes last (a
gather, skipped when they already are) and reduce rows, one block per row.
``dot_general`` is the tiled matmul on (batch, free, contracting) strides.
"""

from __future__ import annotations

import math

from ...compiler.fusion import Step
from ...core.jaxpr import Var
from ...lax import dots, reductions, shape_ops, slicing
from . import epilogue, kernels
from .codegen import build_reduction
from .kernels import contiguous_strides
from .table import host_lowering, lowerings

# ---------------------------------------------------------------------------
# shape ops


def _reshape_lowering(eqn):
    shape = eqn.outvars[0].aval.shape

    def run(x):
        return [x.reshape(shape) if x.shape != shape else x]
    return run


def _transpose_lowering(eqn):
    perm = eqn.params["permutation"]
    return lambda x: [kernels.transpose(x, perm)]


def _broadcast_lowering(eqn):
    shape = eqn.params["shape"]
    dims = eqn.params["broadcast_dimensions"]
    in_shape = eqn.inputs[0].aval.shape
    src = contiguous_strides(in_shape)
    strides = [0] * len(shape)
    for i, d in enumerate(dims):
        if in_shape[i] != 1:
            strides[d] = src[i]
    return lambda x: [kernels.gather(x, shape, strides)]


def _rev_lowering(eqn):
    shape = eqn.inputs[0].aval.shape
    src = contiguous_strides(shape)
    dims = set(eqn.params["dimensions"])
    strides = [-s if d in dims else s for d, s in enumerate(src)]
    offset = sum((shape[d] - 1) * src[d] for d in dims if shape[d])
    return lambda x: [kernels.gather(x, shape, strides, offset)]


def _slice_lowering(eqn):
    src = contiguous_strides(eqn.inputs[0].aval.shape)
    starts = eqn.params["start_indices"]
    steps = eqn.params["strides"] or (1,) * len(src)
    out_shape = eqn.outvars[0].aval.shape
    strides = [s * st for s, st in zip(src, steps, strict=True)]
    offset = sum(b * s for b, s in zip(starts, src, strict=True))
    return lambda x: [kernels.gather(x, out_shape, strides, offset)]


for _prim in (shape_ops.reshape_p, shape_ops.squeeze_p, shape_ops.expand_dims_p):
    lowerings[_prim] = _reshape_lowering
lowerings[shape_ops.transpose_p] = _transpose_lowering
lowerings[shape_ops.broadcast_in_dim_p] = _broadcast_lowering
lowerings[slicing.rev_p] = _rev_lowering
lowerings[slicing.slice_p] = _slice_lowering


# ---------------------------------------------------------------------------
# reductions

_NUMERIC = ("f", "i", "u")


def _reduction_lowering(kind: str, eqn):
    x_aval = eqn.inputs[0].aval
    out_aval = eqn.outvars[0].aval
    if x_aval.dtype.kind not in _NUMERIC or x_aval.dtype != out_aval.dtype:
        return host_lowering(eqn)
    axes = tuple(sorted(eqn.params["axes"]))
    kept = tuple(d for d in range(x_aval.ndim) if d not in axes)
    perm = kept + axes
    rows = math.prod(x_aval.shape[d] for d in kept)
    length = math.prod(x_aval.shape[d] for d in axes)
    if length == 0:
        return host_lowering(eqn)  # the identity everywhere (or an error for max/min)

    if perm != tuple(range(len(perm))) and isinstance(eqn.inputs[0], Var):
        # reduced axes not last: one generated kernel walks them through strides
        # (instead of a transposed copy and a row reduction)
        run, _ = build_reduction(Step([eqn], [eqn.inputs[0]], list(eqn.outvars), fused=True))
        return run

    def run(x):
        if rows == 0:
            return [kernels.zeros(out_aval.shape, out_aval.dtype)]
        y = kernels.transpose(x, perm)
        return [kernels.reduce_rows(kind, y, rows, length).reshape(out_aval.shape)]
    return run


lowerings[shape_ops.reduce_sum_p] = lambda eqn: _reduction_lowering("sum", eqn)
lowerings[reductions.reduce_max_p] = lambda eqn: _reduction_lowering("max", eqn)
lowerings[reductions.reduce_min_p] = lambda eqn: _reduction_lowering("min", eqn)


# ---------------------------------------------------------------------------
# dot_general


def group_strides(shape, strides, dims):
    """The single stride that walks ``dims`` (in order) of an array as one merged dim,
    or None when they are not evenly spaced in memory; 0 for no dims."""
    dims = [d for d in dims if shape[d] != 1]
    if not dims:
        return 0
    for a, b in zip(dims, dims[1:], strict=False):
        if strides[a] != strides[b] * shape[b]:
            return None
    return strides[dims[-1]]


def _dot_plan(eqn):
    """``(batch, m, n, k, lhs plan, rhs plan)`` of a float ``dot_general`` (a plan: the
    permutation to copy the operand through first, or None, and its (batch, row, col)
    strides), or None (integer or mixed-precision products)."""
    lhs, rhs = (x.aval for x in eqn.inputs)
    out = eqn.outvars[0].aval
    if out.dtype.kind != "f" or lhs.dtype != out.dtype or rhs.dtype != out.dtype:
        return None
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    lf = tuple(d for d in range(lhs.ndim) if d not in lc and d not in lb)
    rf = tuple(d for d in range(rhs.ndim) if d not in rc and d not in rb)
    size = lambda shape, dims: math.prod(shape[d] for d in dims)  # noqa: E731
    b, m, n, k = size(lhs.shape, lb), size(lhs.shape, lf), size(rhs.shape, rf), size(lhs.shape, lc)

    def operand_plan(shape, groups):
        """(permutation to copy first or None, (batch, row, col) strides)."""
        strides = contiguous_strides(shape)
        merged = [group_strides(shape, strides, g) for g in groups]
        if all(s is not None for s in merged):
            return None, tuple(merged)
        perm = tuple(d for g in groups for d in g)
        sizes = [size(shape, g) for g in groups]
        return perm, (sizes[1] * sizes[2], sizes[2], 1)

    return b, m, n, k, operand_plan(lhs.shape, (lb, lf, lc)), operand_plan(rhs.shape,
                                                                           (rb, rc, rf))


def _operands(x, y, lplan, rplan):
    if lplan[0] is not None:
        x = kernels.transpose(x, lplan[0])
    if rplan[0] is not None:
        y = kernels.transpose(y, rplan[0])
    return x, y


def _dot_matmul_plan(eqn):
    """``dot_general`` as one matmul, for an epilogue (``epilogue.lower``)."""
    plan = _dot_plan(eqn)
    if plan is None or plan[3] == 0:
        return None
    b, m, n, k, lplan, rplan = plan
    return (lambda x, y: _operands(x, y, lplan, rplan), b, m, n, k, lplan[1], rplan[1],
            (m * n, n, 1), (0, 0, 0))


def _dot_general_lowering(eqn):
    plan = _dot_plan(eqn)
    if plan is None:
        return host_lowering(eqn)  # integer or mixed-precision products
    b, m, n, k, lplan, rplan = plan
    out = eqn.outvars[0].aval

    def run(x, y):
        x, y = _operands(x, y, lplan, rplan)
        c = kernels.matmul(x, y, b, m, n, k, lplan[1], rplan[1], out.dtype)
        return [c.reshape(out.shape)]
    return run


lowerings[dots.dot_general_p] = _dot_general_lowering
epilogue._matmul_plans["dot_general"] = _dot_matmul_plan
