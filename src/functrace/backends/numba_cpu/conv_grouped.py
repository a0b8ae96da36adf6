"""CPU lowerings of grouped convolutions (``feature_group_count > 1``): the forward and the
filter gradient, as one batched GEMM over the groups.

Where they come from: ``vmap`` of a convolution whose operands are both batched folds
the vmapped axis into the feature groups (JAX's rule, ``lax/_conv_folds.py``). The
per-example filter gradient of ``vmap(grad(loss))`` is such a ``conv_grad_filter``,
with ``B`` groups (one per example) of ``C`` input and ``O`` output channels: ``B``
independent small products, a batched GEMM over examples. The GEMM paths of
``conv.py``/``conv_direct.py`` serve one group only, and a Python loop over the groups
cost more in calls than the work (a few hundred kFLOP per example). So the input is
copied once into a group-major, channels-last, zero-padded buffer ``(G, N, Hp, Wp, Cg)``,
a Numba loop (``_conv_grouped_kernels.py``) gathers each group's im2col block
``cols (G, M, T*Cg)`` (``M = N*OH*OW`` positions, ``T`` taps), and one stacked
``np.matmul`` (a BLAS GEMM per group) computes ``cols @ W`` (forward) or ``cols.T @ D``
(filter gradient). Measured on the DP-SGD example's two layers, this beat both a Numba
loop nest with a ``prange`` over groups (2x slower: the accumulators did not stay in
registers) and the reference impl (docs/performance.md, "Per-example gradients").

Applies to 1-D/2-D float32/float64 convolutions with feature groups, no batch groups
and no lhs dilation (any strides, padding, rhs dilation and dimension numbers); the rest
runs the reference impl. ``conv.py``'s lowerings call the entry points below.
The input gradient of a grouped convolution is not covered (under ``vmap(grad)`` of a
CNN the input gradient's filter is not batched, so it folds into the batch instead).
"""

from __future__ import annotations

import importlib

import numpy as np

from ...core.jaxpr import Var
from ...lax.convolution import conv_general_dilated_p, conv_grad_filter_p
from ...lax.shape_ops import reshape_p, transpose_p
from .table import program_rewrites

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
# output channels per group below which the reference impl stays: with one (depthwise) each
# group's GEMM is a GEMV, measured slower than the reference on (8, 32, 32, 64) NHWC; with
# 2-8 the kernel was 1.1-3.6x faster on the sizes that vmap makes (batch of one per group)
MIN_GROUP_OUT = 2


def _kernels():
    return importlib.import_module("._conv_grouped_kernels", __package__)


class _Grouped:
    """The geometry of one grouped convolution, in canonical 2-D order."""

    def __init__(self, eqn, lhs_shape, rhs_shape, out_shape):
        p = eqn.params
        lspec, rspec, ospec = p["dimension_numbers"]
        self.specs, self.nd = (lspec, rspec, ospec), len(lhs_shape) - 2

        def two(vals, one):  # 1-D as 2-D with H = 1
            return ((one,) + tuple(vals)) if self.nd == 1 else tuple(vals)

        self.g = p["feature_group_count"]
        self.n, c = lhs_shape[lspec[0]], lhs_shape[lspec[1]]
        self.o = rhs_shape[rspec[0]]
        self.cg, self.og = c // self.g, self.o // self.g
        self.hw = two([lhs_shape[d] for d in lspec[2:]], 1)
        self.k = two([rhs_shape[d] for d in rspec[2:]], 1)
        self.out_hw = two([out_shape[d] for d in ospec[2:]], 1)
        self.strides = two(p["window_strides"], 1)
        self.dil = two(p["rhs_dilation"], 1)
        self.pad = two(p["padding"], (0, 0))

    def canonical(self, x, which):
        v = np.transpose(x, self.specs[which])
        return v[:, :, None, :] if self.nd == 1 else v

    def padded_input(self, x):
        """``(G, N, Hp, Wp, Cg)``: the input zero-padded (or cropped) to what the windows read."""
        x4 = self.canonical(x, 0)
        hp, wp = ((o - 1) * s + (k - 1) * d + 1 for o, s, k, d in
                  zip(self.out_hw, self.strides, self.k, self.dil, strict=True))
        xp = np.zeros((self.g, self.n, hp, wp, self.cg), x4.dtype)
        (lh, _), (lw, _) = self.pad
        (h, w) = self.hw
        h0, h1 = max(0, -lh), min(h, hp - lh)
        w0, w1 = max(0, -lw), min(w, wp - lw)
        if h1 > h0 and w1 > w0:
            src = x4[:, :, h0:h1, w0:w1].reshape(self.n, self.g, self.cg, h1 - h0, w1 - w0)
            xp[:, :, lh + h0:lh + h1, lw + w0:lw + w1, :] = src.transpose(1, 0, 3, 4, 2)
        return xp

    def grouped(self, y4, per):
        """``(N, G*per, A, B)`` -> contiguous ``(G, N, A, B, per)``."""
        n, _, a, b = y4.shape
        return np.ascontiguousarray(y4.reshape(n, self.g, per, a, b).transpose(1, 0, 3, 4, 2))

    def split_groups(self, v):
        """A view of ``v`` with its first axis (``G * per``, group-major) split in two."""
        s0, per = v.strides[0], v.shape[0] // self.g
        return np.lib.stride_tricks.as_strided(v, (self.g, per, *v.shape[1:]),
                                               (s0 * per, s0, *v.strides[1:]))

    def args(self):
        return (*self.strides, *self.dil)


def _applies(eqn, dtypes) -> bool:
    p = eqn.params
    nd = len(p["window_strides"])
    groups = p["feature_group_count"]
    out_features = eqn.outvars[0].aval.shape[p["dimension_numbers"][2][1]] \
        if eqn.primitive is conv_general_dilated_p else p["rhs_shape"][p["dimension_numbers"][1][0]]
    return (nd in (1, 2) and groups > 1 and p["batch_group_count"] == 1
            and out_features // groups >= MIN_GROUP_OUT
            and all(d == 1 for d in p["lhs_dilation"])
            and p.get("preferred_element_type") in (None, np.dtype(dtypes[0]))
            and all(np.dtype(d) in _FLOATS for d in dtypes)
            and len({np.dtype(d) for d in dtypes}) == 1)


def _columns(gm, x):
    """The im2col blocks ``(G, M, T*Cg)`` of the input of every group."""
    xp = gm.padded_input(x)
    oh, ow = gm.out_hw
    cols = np.empty((gm.g, gm.n * oh * ow, gm.k[0] * gm.k[1] * gm.cg), x.dtype)
    _kernels().gather(xp.reshape(*xp.shape[:3], -1), cols, gm.cg, oh, ow, *gm.k, *gm.args())
    return cols


def _forward(eqn):
    lhs, rhs = (v.aval for v in eqn.inputs)
    out = eqn.outvars[0].aval
    gm = _Grouped(eqn, lhs.shape, rhs.shape, out.shape)
    dtype, tc = out.dtype, gm.k[0] * gm.k[1] * gm.cg

    def run(x, w):
        cols = _columns(gm, np.asarray(x, dtype))
        w4 = gm.canonical(np.asarray(w, dtype), 1)   # (O, Cg, KH, KW), O group-major
        wg = w4.reshape(gm.g, gm.og, gm.cg, *gm.k).transpose(0, 3, 4, 2, 1).reshape(
            gm.g, tc, gm.og)
        yb = np.matmul(cols, wg)                      # (G, M, Og)
        y = np.empty(out.shape, dtype)
        y4 = gm.canonical(y, 2).transpose(1, 0, 2, 3)   # (O, N, OH, OW)
        gm.split_groups(y4)[...] = yb.reshape(gm.g, gm.n, *gm.out_hw, gm.og).transpose(
            0, 4, 1, 2, 3)
        return [y]

    return run


def _filter_gradients(gm, x, d, dtype):
    """Each group's filter gradient, ``(G, KH, KW, Cg, Og)``."""
    cols = _columns(gm, np.asarray(x, dtype))
    dg = gm.grouped(gm.canonical(np.asarray(d, dtype), 2), gm.og)  # (G, N, OH, OW, Og)
    acc = np.matmul(cols.transpose(0, 2, 1), dg.reshape(gm.g, -1, gm.og))  # (G, T*Cg, Og)
    return acc.reshape(gm.g, *gm.k, gm.cg, gm.og)


def _grad_filter(eqn):
    lhs, ct = (v.aval for v in eqn.inputs)
    rhs_shape = tuple(eqn.params["rhs_shape"])
    gm = _Grouped(eqn, lhs.shape, rhs_shape, ct.shape)
    dtype = eqn.outvars[0].aval.dtype

    def run(x, d):
        acc = _filter_gradients(gm, x, d, dtype)
        dw = np.empty(rhs_shape, dtype)
        gm.split_groups(gm.canonical(dw, 1))[...] = acc.transpose(0, 4, 3, 1, 2)
        return [dw]

    return run


def _grad_filter_unfolded(eqn, permutation):
    """The filter gradient written straight in the layout that vmap's unfold (a reshape
    splitting O into (G, Og), then ``transpose[permutation]``) gives it."""
    lhs, ct = (v.aval for v in eqn.inputs)
    rhs_shape = tuple(eqn.params["rhs_shape"])
    gm = _Grouped(eqn, lhs.shape, rhs_shape, ct.shape)
    dtype = eqn.outvars[0].aval.dtype
    rspec = eqn.params["dimension_numbers"][1]
    names = dict(zip(rspec, ("O", "I", "h", "w") if gm.nd == 2 else ("O", "I", "w"),
                     strict=True))
    split = [n for d in range(len(rhs_shape)) for n in
             (("G", "Og") if names[d] == "O" else (names[d],))]
    order = [split[p] for p in permutation]
    have = ["G", "h", "w", "I", "Og"] if gm.nd == 2 else ["G", "w", "I", "Og"]
    axes = [have.index(n) for n in order]

    def run(x, d):
        acc = _filter_gradients(gm, x, d, dtype)
        acc = acc if gm.nd == 2 else acc[:, 0]
        return [np.ascontiguousarray(acc.transpose(axes))]

    return run


def _noop():
    return []


def _only_reader(readers, outvars, v):
    """The one step that reads ``v`` (not a program output), else None."""
    ks = readers.get(v, ())
    return ks[0] if len(ks) == 1 and v not in outvars else None


def unfold_filter_gradients(steps, outvars=frozenset()) -> dict:
    """A program rewrite: a grouped filter gradient whose result only vmap's unfold reads
    (``reshape`` splitting O into (G, Og), then ``transpose``) is computed by the
    transpose's step in its final layout; the two steps before it do nothing. Without
    it, the per-example gradients come out strided (the unfold is a transposed view)
    and the clipping that follows copies and reads them at a large stride."""
    readers: dict = {}
    for k, step in enumerate(steps):
        for x in (step.inputs if step.fused else step.eqns[0].inputs):
            if isinstance(x, Var):
                readers.setdefault(x, []).append(k)
    out = {}
    for k, step in enumerate(steps):
        if step.fused or step.eqns[0].primitive is not conv_grad_filter_p:
            continue
        eqn = step.eqns[0]
        if grad_filter_kernel(eqn) is None:
            continue
        r = _only_reader(readers, outvars, eqn.outvars[0])
        if r is None or steps[r].fused or steps[r].eqns[0].primitive is not reshape_p:
            continue
        t = _only_reader(readers, outvars, steps[r].eqns[0].outvars[0])
        if t is None or steps[t].fused or steps[t].eqns[0].primitive is not transpose_p:
            continue
        shape, o_dim = tuple(eqn.params["rhs_shape"]), eqn.params["dimension_numbers"][1][0]
        g = eqn.params["feature_group_count"]
        split = (*shape[:o_dim], g, shape[o_dim] // g, *shape[o_dim + 1:])
        if tuple(steps[r].eqns[0].params["new_sizes"]) != split:
            continue
        trans = steps[t].eqns[0]
        out[k] = out[r] = (_noop, [], [])
        out[t] = (_grad_filter_unfolded(eqn, trans.params["permutation"]), list(eqn.inputs),
                  trans.outvars)
    return out


def forward_kernel(eqn):
    """The grouped forward of ``eqn`` (a ``conv_general_dilated``), or None (``conv.py``)."""
    dtypes = [*(v.aval.dtype for v in eqn.inputs), eqn.outvars[0].aval.dtype]
    return _forward(eqn) if _applies(eqn, dtypes) else None


def grad_filter_kernel(eqn):
    """The grouped filter gradient of ``eqn`` (a ``conv_grad_filter``), or None."""
    dtypes = [*(v.aval.dtype for v in eqn.inputs), eqn.outvars[0].aval.dtype]
    return _grad_filter(eqn) if _applies(eqn, dtypes) else None


program_rewrites.append(unfold_filter_gradients)
