"""Winograd F(2x2, 3x3) for 3x3, stride-1 convolutions and their input gradients
(experimental: off unless ``enable()`` is called).

Lavin & Gray (2016): each 4x4 input tile ``d`` and each 3x3 filter ``g`` are
transformed (``V = B^T d B``, ``U = G g G^T``), multiplied elementwise and summed
over input channels -- 16 independent GEMMs ``(O, C) @ (C, tiles)`` -- and
transformed back to a 2x2 output tile (``Y = A^T M A``). That is 16 multiplies per
4 outputs instead of 36: the GEMMs do 2.25x less work.

``conv_grad_input`` of a 3x3 stride-1 convolution is itself one: the cotangent,
padded by ``2 - pad``, correlated with the filter flipped in space and with its
channel axes swapped.

Why it is not on the default path: the transforms are serial and unblocked, and
they cost about what the GEMMs save; against the CPU backend's direct kernels
(``backends/numba_cpu/conv_direct.py``) it loses on the benchmark shapes
(docs/performance.md, "Winograd"). It is kept, tested, as the base of a
cache-blocked version (transform, GEMM and inverse-transform a block of tiles at a
time, with the blocks spread over both cores), which is what would make it pay.

When it applies: the transformed tiles are 4x the input and the GEMM results 4x the
output, so unless both fit in the last-level cache (``MAX_TRANSFORMED_BYTES``) the
transforms turn a compute-bound convolution into a memory-bound one; such calls keep
the default lowering. Used for float32/float64 2-D convolutions with NCHW/OIHW/NCHW
or NHWC/HWIO/NHWC dimension numbers, no dilation or groups, padding in ``[0, 2]``,
and at least ``MIN_CHANNELS`` input and output channels (below that the GEMMs are too
shallow to pay for the transforms). Numerics: the transforms add and subtract (and
halve, in ``G``) values, so results agree with direct convolution to a few float32
ulps of the output scale.
"""

from __future__ import annotations

import importlib
import threading

import numpy as np

from ..backends.numba_cpu import lowerings
from ..lax.convolution import conv_general_dilated_p, conv_grad_input_p

MIN_CHANNELS = 16
MAX_TRANSFORMED_BYTES = 20 << 20  # transformed tiles + GEMM results, per call

_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])

NCHW, NHWC = ((0, 1, 2, 3), (0, 1, 2, 3), (0, 1, 2, 3)), ((0, 3, 1, 2), (3, 2, 0, 1),
                                                           (0, 3, 1, 2))


def _kernels():
    return importlib.import_module("._winograd_kernels", __package__)


def _layout(params) -> str | None:
    dn = params["dimension_numbers"]
    specs = (tuple(dn[0]), tuple(dn[1]), tuple(dn[2]))
    return "cf" if specs == NCHW else "cl" if specs == NHWC else None


def _applies(params, c, o, window, dtype) -> str | None:
    """The layout ('cf'/'cl') if Winograd applies, else None."""
    if (len(params["window_strides"]) != 2 or tuple(window) != (3, 3)
            or params["window_strides"] != (1, 1) or params["rhs_dilation"] != (1, 1)
            or params["lhs_dilation"] != (1, 1) or params["feature_group_count"] != 1
            or params["batch_group_count"] != 1 or min(c, o) < MIN_CHANNELS
            or np.dtype(dtype) not in (np.float32, np.float64)
            or any(not 0 <= p <= 2 for pair in params["padding"] for p in pair)):
        return None
    return _layout(params)


def _filter_transform(w_oihw, cl, dtype):
    """U (16, O, C) -- or (16, C, O) channels-last -- from an OIHW filter."""
    o, c = w_oihw.shape[:2]
    g = _G.astype(dtype)
    u = np.tensordot(g, w_oihw, axes=(1, 2))    # (4, O, C, 3): one GEMM
    u = np.tensordot(u, g, axes=(3, 1))         # (4, O, C, 4)
    u = u.transpose(0, 3, 2, 1) if cl else u.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(u).reshape(16, *u.shape[2:])


class _Conv:
    """One Winograd convolution geometry with its reusable scratch buffers:
    ``run(x, w_oihw) -> y`` with x and y in the physical layout."""

    def __init__(self, layout, n, c, h, w, o, pads, dtype):
        self.cl = layout == "cl"
        self.dtype = np.dtype(dtype)
        (lh, hh), (lw, hw) = pads
        self.oh, self.ow = h + lh + hh - 2, w + lw + hw - 2
        self.th, self.tw = -(-self.oh // 2), -(-self.ow // 2)
        self.n, self.c, self.o, self.h, self.w, self.lh, self.lw = n, c, o, h, w, lh, lw
        self.kern = _kernels()
        self._local = threading.local()

    def fits(self) -> bool:
        """Whether the transformed tiles and GEMM results stay cache-sized."""
        tiles = self.n * self.th * self.tw
        return 16 * tiles * (self.c + self.o) * self.dtype.itemsize <= MAX_TRANSFORMED_BYTES

    def _buffers(self):
        bufs = getattr(self._local, "bufs", None)
        if bufs is None:
            n, c, o, t = self.n, self.c, self.o, self.n * self.th * self.tw
            hp, wp = 2 * self.th + 2, 2 * self.tw + 2
            # the padded input: borders stay zero, the interior is rewritten per call
            xp = np.zeros((n, hp, wp, c) if self.cl else (n, c, hp, wp), self.dtype)
            v = np.empty((16, t, c) if self.cl else (16, c, t), self.dtype)
            m = np.empty((16, t, o) if self.cl else (16, o, t), self.dtype)
            full = (self.oh, self.ow) == (2 * self.th, 2 * self.tw)
            yp = None if full else np.empty(
                (n, 2 * self.th, 2 * self.tw, o) if self.cl else (n, o, 2 * self.th, 2 * self.tw),
                self.dtype)
            bufs = self._local.bufs = (xp, v, m, yp)
        return bufs

    def __call__(self, x, w_oihw):
        xp, v, m, yp = self._buffers()
        h, w, lh, lw = self.h, self.w, self.lh, self.lw
        if self.cl:
            xp[:, lh:lh + h, lw:lw + w, :] = x
            self.kern.input_cl(xp, v, self.th, self.tw)
            np.matmul(v, _filter_transform(w_oihw, True, self.dtype), out=m)
            y = np.empty((self.n, self.oh, self.ow, self.o), self.dtype)
            self.kern.output_cl(m, y if yp is None else yp, self.th, self.tw)
            if yp is not None:
                y[...] = yp[:, :self.oh, :self.ow, :]
        else:
            xp[:, :, lh:lh + h, lw:lw + w] = x
            self.kern.input_cf(xp, v, self.th, self.tw)
            np.matmul(_filter_transform(w_oihw, False, self.dtype), v, out=m)
            y = np.empty((self.n, self.o, self.oh, self.ow), self.dtype)
            self.kern.output_cf(m, y if yp is None else yp, self.th, self.tw)
            if yp is not None:
                y[...] = yp[:, :, :self.oh, :self.ow]
        return y


def _oihw(w, layout):
    return w if layout == "cf" else np.transpose(w, (3, 2, 0, 1))


def forward_kernel(eqn):
    """``run(x, w)`` for a ``conv_general_dilated`` equation, or None."""
    lhs, rhs = (v.aval for v in eqn.inputs)
    out = eqn.outvars[0].aval
    p = eqn.params
    dn = p["dimension_numbers"]
    if (p.get("preferred_element_type") not in (None, lhs.dtype)
            or len({np.dtype(lhs.dtype), np.dtype(rhs.dtype), np.dtype(out.dtype)}) != 1):
        return None
    c, o = lhs.shape[dn[0][1]], rhs.shape[dn[1][0]]
    window = [rhs.shape[d] for d in dn[1][2:]]
    layout = _applies(p, c, o, window, out.dtype)
    if layout is None:
        return None
    n, h, w = (lhs.shape[d] for d in (dn[0][0], *dn[0][2:]))
    conv = _Conv(layout, n, c, h, w, o, p["padding"], out.dtype)
    if not conv.fits():
        return None
    dtype = out.dtype

    def run(x, wt):
        return [conv(np.asarray(x, dtype), _oihw(np.asarray(wt, dtype), layout))]

    return run


def grad_input_kernel(eqn):
    """``run(ct, w)`` for a ``conv_grad_input`` equation, or None."""
    ct, rhs = (v.aval for v in eqn.inputs)
    out = eqn.outvars[0].aval
    p = eqn.params
    dn = p["dimension_numbers"]
    if len({np.dtype(ct.dtype), np.dtype(rhs.dtype), np.dtype(out.dtype)}) != 1:
        return None
    lhs_shape = p["lhs_shape"]
    c, o = lhs_shape[dn[0][1]], rhs.shape[dn[1][0]]
    window = [rhs.shape[d] for d in dn[1][2:]]
    layout = _applies(p, c, o, window, out.dtype)
    if layout is None:
        return None
    n, oh, ow = (ct.shape[d] for d in (dn[2][0], *dn[2][2:]))
    pads = tuple((2 - lo, 2 - hi) for lo, hi in p["padding"])
    conv = _Conv(layout, n, o, oh, ow, c, pads, out.dtype)
    if not conv.fits():
        return None
    dtype = out.dtype

    def run(g, wt):
        w = _oihw(np.asarray(wt, dtype), layout)
        flipped = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
        return [conv(np.asarray(g, dtype), flipped)]

    return run


# ---------------------------------------------------------------------------
# switching it on: the CPU backend's lowerings of the two primitives are wrapped

def _or_default(kernel, default):
    def lower(eqn):
        run = kernel(eqn)
        return default(eqn) if run is None else run
    return lower


_DEFAULT: dict = {}  # the CPU backend's own lowerings while Winograd is enabled


def enable(on: bool = True) -> None:
    """Routes the convolutions and input gradients that Winograd applies to through it,
    in programs that ``jit`` compiles from now on (``on=False``: back to the default
    lowerings). Programs compiled before keep their kernels.

    Example:
        >>> enable(); enable(False)
        >>> lowerings[conv_general_dilated_p].__module__
        'functrace.backends.numba_cpu.conv'
    """
    if on and not _DEFAULT:
        for prim, kernel in ((conv_general_dilated_p, forward_kernel),
                             (conv_grad_input_p, grad_input_kernel)):
            _DEFAULT[prim] = lowerings[prim]
            lowerings[prim] = _or_default(kernel, _DEFAULT[prim])
    elif not on:
        lowerings.update(_DEFAULT)
        _DEFAULT.clear()


def lower_conv_general_dilated(eqn):
    """The Winograd kernel of a ``conv_general_dilated`` equation, else the default one."""
    return _or_default(forward_kernel, _DEFAULT.get(conv_general_dilated_p,
                                                    lowerings[conv_general_dilated_p]))(eqn)


def lower_conv_grad_input(eqn):
    """The Winograd kernel of a ``conv_grad_input`` equation, else the default one."""
    return _or_default(grad_input_kernel, _DEFAULT.get(conv_grad_input_p,
                                                       lowerings[conv_grad_input_p]))(eqn)
