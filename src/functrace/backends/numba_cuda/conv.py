"""CUDA lowerings of the three convolution primitives: im2col + the tiled matmul.

With ``P = OH * OW`` output positions and ``K = Cg * KH * KW`` taps per group:

- forward: ``cols[n * P + p, k]`` gathers the input under each tap (padding,
  strides, both dilations folded into the index math), then per group
  ``out[n, o, p] = W[o, :] @ cols[n * P + p, :]``, written straight into the
  output layout through its strides;
- ``conv_grad_input``: ``dcols[n, p, k] = ct[n, :, p] @ W[:, k]`` (a matmul batched
  over n), then ``col2im`` sums, for each input element, the taps that read it
  (a gather: no atomics);
- ``conv_grad_filter``: ``dW[o, k] = ct[o, (n, p)] @ cols[(n, p), k]``, one matmul
  whose contraction runs over the batch and the positions.

Any layout (``dimension_numbers``) is read through strides; the filter is first
copied to ``(O, I, KH, KW)`` unless it already is. 1-D convolutions run as 2-D
ones with a unit height. 3-D convolutions, ``batch_group_count > 1``, integer
dtypes and a ``preferred_element_type`` other than the input's run on the host.
"""

from __future__ import annotations

import numpy as np
from numba import cuda

from ...lax import convolution
from . import epilogue, kernels, memory
from .kernels import THREADS, blocks, contiguous_strides, flat, registered
from .ops import group_strides
from .table import host_lowering, lowerings


@registered
@cuda.jit
def _im2col_kernel(x, cols, xs, geo, c0, cg, zero):
    # xs: element strides of x along (n, c, h, w); geo: see _Geometry.args
    n_, h_, w_, oh_, ow_, kh_, kw_, sh, sw, ph, pw, lh, lw, rh, rw = geo
    i = cuda.grid(1)
    kk = cg * kh_ * kw_
    if i < n_ * oh_ * ow_ * kk:
        col = i % kk
        row = i // kk
        kw = col % kw_
        t = col // kw_
        kh = t % kh_
        c = t // kh_
        ow = row % ow_
        t = row // ow_
        oh = t % oh_
        n = t // oh_
        hd = oh * sh - ph + kh * rh
        wd = ow * sw - pw + kw * rw
        v = zero
        if hd >= 0 and wd >= 0 and hd % lh == 0 and wd % lw == 0:
            ih = hd // lh
            iw = wd // lw
            if ih < h_ and iw < w_:
                v = x[n * xs[0] + (c0 + c) * xs[1] + ih * xs[2] + iw * xs[3]]
        cols[i] = v


@registered
@cuda.jit
def _col2im_kernel(dcols, dx, xs, geo, c0, cg, zero):
    # dx[n, c0 + c, ih, iw] = sum of the dcols taps that read that input element
    n_, h_, w_, oh_, ow_, kh_, kw_, sh, sw, ph, pw, lh, lw, rh, rw = geo
    i = cuda.grid(1)
    if i < n_ * cg * h_ * w_:
        iw = i % w_
        t = i // w_
        ih = t % h_
        t = t // h_
        c = t % cg
        n = t // cg
        kk = cg * kh_ * kw_
        acc = zero
        for kh in range(kh_):
            num_h = ih * lh + ph - kh * rh
            if num_h < 0 or num_h % sh != 0:
                continue
            oh = num_h // sh
            if oh >= oh_:
                continue
            for kw in range(kw_):
                num_w = iw * lw + pw - kw * rw
                if num_w < 0 or num_w % sw != 0:
                    continue
                ow = num_w // sw
                if ow >= ow_:
                    continue
                acc += dcols[((n * oh_ + oh) * ow_ + ow) * kk + (c * kh_ + kh) * kw_ + kw]
        dx[n * xs[0] + (c0 + c) * xs[1] + ih * xs[2] + iw * xs[3]] = acc


class _Geometry:
    """A convolution's sizes and index maps, 1-D ones seen as 2-D with a unit height."""

    def __init__(self, eqn, lhs_shape, rhs_shape, out_shape):
        p = eqn.params
        self.lspec, self.rspec, self.ospec = p["dimension_numbers"]
        self.nd = len(lhs_shape) - 2
        self.groups = p["feature_group_count"]
        pad1 = lambda t, v: (v,) * (2 - self.nd) + tuple(t)  # noqa: E731
        self.strides = pad1(p["window_strides"], 1)
        self.pads = pad1([lo for lo, _ in p["padding"]], 0)
        self.lhs_dil = pad1(p["lhs_dilation"], 1)
        self.rhs_dil = pad1(p["rhs_dilation"], 1)
        self.n, self.c = lhs_shape[self.lspec[0]], lhs_shape[self.lspec[1]]
        self.o = rhs_shape[self.rspec[0]]
        self.cg, self.og = self.c // self.groups, self.o // self.groups
        self.hw = pad1([lhs_shape[d] for d in self.lspec[2:]], 1)
        self.khw = pad1([rhs_shape[d] for d in self.rspec[2:]], 1)
        self.ohw = pad1([out_shape[d] for d in self.ospec[2:]], 1)
        self.positions = self.ohw[0] * self.ohw[1]
        self.taps = self.cg * self.khw[0] * self.khw[1]
        self.lhs_shape, self.rhs_shape, self.out_shape = lhs_shape, rhs_shape, out_shape

    def args(self):
        vals = (self.n, *self.hw, *self.ohw, *self.khw, *self.strides, *self.pads,
                *self.lhs_dil, *self.rhs_dil)
        return tuple(np.int64(v) for v in vals)

    def nchw_strides(self, shape, spec):
        """Element strides of a contiguous array of ``shape`` along (n, c, h, w)."""
        s = contiguous_strides(shape)
        spatial = [s[d] for d in spec[2:]]
        if self.nd == 1:
            spatial = [0] + spatial
        return (s[spec[0]], s[spec[1]], *spatial)

    def nop_strides(self, shape, spec):
        """(n, o, p) strides with p = oh * OW + ow merged, or None if not mergeable."""
        sn, so, sh, sw = self.nchw_strides(shape, spec)
        sp = group_strides(self.ohw, (sh, sw), (0, 1))
        return None if sp is None else (sn, so, sp)


def _supported(eqn) -> bool:
    p = eqn.params
    dtypes = {x.aval.dtype for x in eqn.inputs} | {eqn.outvars[0].aval.dtype}
    nd = len(eqn.inputs[0].aval.shape) - 2
    return (len(dtypes) == 1 and next(iter(dtypes)).kind == "f" and nd in (1, 2)
            and p["batch_group_count"] == 1 and p.get("preferred_element_type") in (None,) +
            tuple(dtypes))


def _canonical_filter(g: _Geometry, w):
    """The filter as a contiguous (O, Cg, KH, KW) device array."""
    return kernels.transpose(w, g.rspec)


def _im2col(g: _Geometry, x, xs, group: int, cols=None):
    rows = g.n * g.positions
    if cols is None:
        cols = memory.device_array(rows * g.taps, x.dtype)
    total = rows * g.taps
    if total:
        memory.launch(_im2col_kernel[blocks(total), THREADS], flat(x), cols,
                      tuple(np.int64(s) for s in xs), g.args(), np.int64(group * g.cg),
                      np.int64(g.cg), x.dtype.type(0))
    return cols


def _conv_lowering(eqn):
    if not _supported(eqn):
        return host_lowering(eqn)
    lhs, rhs = (v.aval for v in eqn.inputs)
    out = eqn.outvars[0].aval
    g = _Geometry(eqn, lhs.shape, rhs.shape, out.shape)
    xs = g.nchw_strides(lhs.shape, g.lspec)
    direct = g.nop_strides(out.shape, g.ospec)
    canon_shape = tuple(out.shape[d] for d in g.ospec)
    c_strides = direct or g.nop_strides(canon_shape, tuple(range(len(out.shape))))

    def run(x, w):
        wc = _canonical_filter(g, w)
        y = memory.device_array(out.shape if direct else canon_shape, out.dtype)
        if y.size == 0:
            return [y]
        if g.taps == 0:
            return [kernels.zeros(out.shape, out.dtype)]
        cols = None
        for grp in range(g.groups):
            cols = _im2col(g, x, xs, grp, cols)
            kernels.matmul_into(
                y, wc, cols, g.n, g.og, g.positions, g.taps, (0, g.taps, 1),
                (g.positions * g.taps, 1, g.taps), c_strides,
                (grp * g.og * g.taps, 0, grp * g.og * c_strides[1]))
        if direct is None:  # y holds (N, O, *spatial): lay it out as out_spec says
            y = kernels.transpose(y, np.argsort(g.ospec))
        return [y]
    return run


def _conv_matmul_plan(eqn):
    """How a forward conv is one matmul writing its output in place, for an epilogue
    (``epilogue.lower``): ``(prep(x, w) -> (A, B), batch, m, n, k, A/B/C strides,
    offsets)``, or None (feature groups, an output layout not walkable as (n, o, p))."""
    if not _supported(eqn):
        return None
    lhs, rhs = (v.aval for v in eqn.inputs)
    out = eqn.outvars[0].aval
    g = _Geometry(eqn, lhs.shape, rhs.shape, out.shape)
    direct = g.nop_strides(out.shape, g.ospec)
    if g.groups != 1 or g.taps == 0 or 0 in out.shape or direct is None:
        return None
    xs = g.nchw_strides(lhs.shape, g.lspec)

    def prep(x, w):
        return _canonical_filter(g, w), _im2col(g, x, xs, 0)
    return (prep, g.n, g.og, g.positions, g.taps, (0, g.taps, 1),
            (g.positions * g.taps, 1, g.taps), direct, (0, 0, 0))


def _grad_input_lowering(eqn):
    if not _supported(eqn):
        return host_lowering(eqn)
    ct_aval, rhs = (v.aval for v in eqn.inputs)
    lhs_shape = eqn.params["lhs_shape"]
    g = _Geometry(eqn, lhs_shape, rhs.shape, ct_aval.shape)
    xs = g.nchw_strides(lhs_shape, g.lspec)
    ct_nop = g.nop_strides(ct_aval.shape, g.ospec)
    dtype = ct_aval.dtype

    def run(ct, w):
        dx = memory.device_array(lhs_shape, dtype)
        if dx.size == 0:
            return [dx]
        if g.taps == 0 or ct.size == 0 or g.og == 0:
            return [kernels.zeros(lhs_shape, dtype)]
        wc = _canonical_filter(g, w)
        ct_strides = ct_nop
        if ct_strides is None:  # an unusual layout: copy the cotangent to NCHW first
            ct = kernels.transpose(ct, g.ospec)
            ct_strides = g.nop_strides(ct.shape, tuple(range(ct.ndim)))
        dcols = memory.device_array(g.n * g.positions * g.taps, dtype)
        total = g.n * g.cg * g.hw[0] * g.hw[1]
        for grp in range(g.groups):
            kernels.matmul_into(
                dcols, ct, wc, g.n, g.positions, g.taps, g.og,
                (ct_strides[0], ct_strides[2], ct_strides[1]), (0, g.taps, 1),
                (g.positions * g.taps, g.taps, 1),
                (grp * g.og * ct_strides[1], grp * g.og * g.taps, 0))
            memory.launch(
                _col2im_kernel[blocks(total), THREADS], dcols, flat(dx),
                tuple(np.int64(s) for s in xs), g.args(), np.int64(grp * g.cg), np.int64(g.cg),
                dx.dtype.type(0))
        return [dx]
    return run


def _grad_filter_lowering(eqn):
    if not _supported(eqn):
        return host_lowering(eqn)
    lhs, ct_aval = (v.aval for v in eqn.inputs)
    rhs_shape = eqn.params["rhs_shape"]
    g = _Geometry(eqn, lhs.shape, rhs_shape, ct_aval.shape)
    xs = g.nchw_strides(lhs.shape, g.lspec)
    ct_nop = g.nop_strides(ct_aval.shape, g.ospec)
    # the one stride walking (n, p) together, when there is one (NHWC-like layouts)
    k_stride = None if ct_nop is None else group_strides(
        (g.n, g.positions), (ct_nop[0], ct_nop[2]), (0, 1))
    dtype = ct_aval.dtype
    canon_shape = (g.o, g.cg) + ((g.khw[1],) if g.nd == 1 else tuple(g.khw))
    inverse = tuple(np.argsort(g.rspec))
    k_rows = g.n * g.positions

    def run(x, ct):
        if g.o * g.taps == 0:
            return [kernels.zeros(rhs_shape, dtype)]
        if k_rows == 0:
            return [kernels.zeros(rhs_shape, dtype)]
        split = None
        if k_stride is not None:  # (n, p) walk the cotangent with one stride
            a, a_strides, a_off = ct, (0, ct_nop[1], k_stride), ct_nop[1]
        elif ct_nop is not None:  # (n, p) as two strides (NCHW): read in place
            sn, so, sp = ct_nop
            a, a_strides, a_off, split = ct, (0, so, sp), so, (g.positions, sn)
        else:  # an unusual layout: to NCHW, then copy it to (O, N * P)
            ct = kernels.transpose(ct, g.ospec)
            sn, so, sp = g.nop_strides(ct.shape, tuple(range(ct.ndim)))
            a = kernels.gather(ct, (g.o, g.n, g.positions), (so, sn, sp))
            a_strides, a_off = (0, k_rows, 1), k_rows
        dwc = memory.device_array(canon_shape, dtype)
        cols = None
        for grp in range(g.groups):
            cols = _im2col(g, x, xs, grp, cols)
            kernels.matmul_into(dwc, a, cols, 1, g.og, g.taps, k_rows, a_strides,
                                (0, g.taps, 1), (0, g.taps, 1),
                                (grp * g.og * a_off, 0, grp * g.og * g.taps), a_split=split)
        return [kernels.transpose(dwc, inverse).reshape(rhs_shape)]
    return run


lowerings[convolution.conv_general_dilated_p] = _conv_lowering
epilogue._matmul_plans["conv_general_dilated"] = _conv_matmul_plan
lowerings[convolution.conv_grad_input_p] = _grad_input_lowering
lowerings[convolution.conv_grad_filter_p] = _grad_filter_lowering
