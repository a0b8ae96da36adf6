"""Direct float32 convolutions with register tiles: forward, input and filter gradients.

The GEMM path (``conv.py``) streams the output once per window tap (or gathers an
im2col block) and leaves the arithmetic to OpenBLAS. Here, as in oneDNN's direct
convolutions (Georganas et al., SC'18), an output tile stays in vector registers
while every ``(tap, channel)`` product is accumulated into it
(``_conv_direct_kernels.py``, with the ``<16 x float>`` type of ``_simd.py``):

- forward: ``P`` (3-6, 6 preferred) pixels of one output row x up to 64 output channels, the
  row covered by tiles of mixed widths; window rows that fall in the padding are
  skipped, and the input is copied once into a zero-bordered channels-last buffer;
- input gradient: the same kernel on the cotangent, padded by ``(k - 1) * d - lo``,
  with the filter flipped in space and its channel axes swapped; with strides, one
  such convolution per stride phase, with that phase's sub-filter (``_phases``);
- filter gradient: 4 input x up to 64 output channels, accumulated over runs of
  whole output rows (``RUN_PIXELS``), each chunk of runs into its own copy (at most
  ``threads.SLOTS``, then summed in order).

When: float32, 1-D/2-D, at least ``MIN_OUT`` channels along the vectors (the input
gradient of a first layer with 1-3 input channels stays on the GEMM path; its forward
and filter gradient, 16-64 outputs, are faster here), rows at least 3 pixels
wide, and a host with AVX-512
(``host_ok``): on AVX2 a ``<16 x float>`` is two ``ymm`` registers and the 16
accumulators no longer fit the 16 registers. ``MODE`` forces the kernel on or off
(tests run it everywhere: it is correct, only slower, without AVX-512).

Output channels are padded to a multiple of 16 inside the kernels (zero filter
columns), never in the results. Numerics: float32 sums over ``T * C`` in a different
order than the reference impl (agreement to ~1e-6 relative to the output scale).
"""

from __future__ import annotations

import importlib

import numpy as np

from . import threads
from .scratch import empty, with_scratch

MODE = "auto"       # "auto": AVX-512 hosts only; "on": always; "off": never
MIN_OUT = 8         # channels the tiles vectorise: forward's outputs (also for the filter
#                     gradient), and the forward's inputs for the input gradient; chosen
#                     by measurement against the GEMM path (docs/performance.md)
MIN_WIDTH = 3       # output (forward) or input (input gradient) row width
STAGED = True       # forward: stage an NHWC input's window rows per output row (False:
#                     pad the whole input into a copy first, as any other layout)
SLOT_BYTES = 4 << 20  # filter gradient: partial-sum slots beyond 2 fit in this many bytes
RUN_PIXELS = 512    # filter gradient: output pixels per run (the cotangent block in L2)

_host: list = []


def host_ok() -> bool:
    """Whether LLVM's host CPU has AVX-512F (one ``zmm`` register per ``<16 x float>``)."""
    if not _host:
        try:
            import llvmlite.binding as llvm  # noqa: PLC0415 - keeps import functrace light

            _host.append(bool(llvm.get_host_cpu_features().get("avx512f", False)))
        except (ImportError, RuntimeError):
            _host.append(False)
    return _host[0]


def _enabled() -> bool:
    return MODE == "on" or (MODE == "auto" and host_ok())


def _kernels():
    return importlib.import_module("._conv_direct_kernels", __package__)


def _chunks(items):
    import numba  # noqa: PLC0415 - Numba is imported on first use of a kernel

    return threads.chunk_count(items, numba.get_num_threads())


def row_tiles(width):
    """Tile widths 3-6 (6 preferred: each filter vector loaded serves that many FMAs)
    covering ``width`` with no waste: ``(starts, widths)`` as int64 arrays (one tile of
    ``width`` if it is under 3: unused, the forward kernel needs rows of at least
    ``MIN_WIDTH``)."""
    if width < 3:
        return np.zeros(1, np.int64), np.full(1, width, np.int64)
    k = max(1, round(width / 6))
    while -(-width // k) > 6:
        k += 1
    while width // k < 3:
        k -= 1
    base, extra = divmod(width, k)
    widths = [base + 1] * extra + [base] * (k - extra)
    starts = np.cumsum([0] + widths[:-1])
    return np.asarray(starts, np.int64), np.asarray(widths, np.int64)


def out_blocks(o, vectors=4):
    """Output-channel blocks of at most ``16 * vectors``: ``(Op, starts, vectors per
    block)``."""
    op = -(-o // 16) * 16
    vecs = [vectors] * (op // (16 * vectors))
    if op % (16 * vectors):
        vecs.append(op % (16 * vectors) // 16)
    if len(vecs) > 1 and vecs[-1] == 1 and vecs[-2] == 3:  # a 1-vector tile is load-bound
        vecs[-2:] = [2, 2]
    starts = np.cumsum([0] + [16 * v for v in vecs[:-1]])
    return op, np.asarray(starts, np.int64), np.asarray(vecs, np.int64)


NARROW = (7, 8)  # row widths tiled whole, 3 vectors wide (24 accumulators): two tiles
#                  of 4 or fewer pixels left each filter vector loaded to 4 FMAs, the
#                  weakest case on Intel cores (8x8 images: 101 GFLOP/s on one thread)


_NONE = np.empty(0, np.float32)
_NONE2 = np.empty((0, 0), np.float32)
PLANAR_MIN_CHANNELS = 16  # NCHW copies by 16 x 16 register blocks from this many channels


def _channels_last(a4):
    """Whether a canonical ``(N, C, H, W)`` float32 view is NHWC-contiguous."""
    n, c, h, w = a4.shape
    want = (4 * c * h * w, 4, 4 * c * w, 4 * c)
    return all(d == 1 or s == x for d, s, x in zip(a4.shape, a4.strides, want, strict=True))


def _planar(a4):
    """Whether a canonical ``(N, C, H, W)`` view is NCHW-contiguous with enough channels
    for the blocked NCHW <-> NHWC copies (``_transpose_block``)."""
    return a4.flags.c_contiguous and a4.shape[1] >= PLANAR_MIN_CHANNELS


class _Conv:
    """One stride-``(sh, sw)`` convolution of a ``(N, C, H, W)`` input (the rows and
    columns ``[h0, h0 + hc) x [w0, w0 + wc)`` kept, padded by ``lo``) giving ``(OH, OW)``
    outputs with ``O`` channels, as the forward kernel sees it."""

    def __init__(self, n, c, o, k, strides, dil, lo, keep, out_hw):
        (self.kh, self.kw), (self.sh, self.sw), (self.dh, self.dw) = k, strides, dil
        (self.lo_h, self.lo_w), (self.h0, self.w0, self.hc, self.wc) = lo, keep
        self.n, self.c, self.o, (self.oh, self.ow) = n, c, o, out_hw
        self.hp = (self.oh - 1) * self.sh + (self.kh - 1) * self.dh + 1
        self.wp = (self.ow - 1) * self.sw + (self.kw - 1) * self.dw + 1
        self.op, self.blk_o, self.blk_v = out_blocks(o, 3 if self.ow in NARROW else 4)
        _, self.gf_o, self.gf_v = out_blocks(o)  # the filter gradient's blocks
        taps = [(i, j) for i in range(self.kh) for j in range(self.kw)]
        self.t = len(taps)
        if self.dw == 1:  # a window row's kw taps x C channels are one run in the input
            #               and in the filter block: one tap-loop entry per row, kw * C
            #               long (the C = 3 first layer walked 9 loops of 3 per pixel)
            taps = [(i, 0) for i in range(self.kh)]
            self.tpr, self.inner = 1, self.kw * c
        else:
            self.tpr, self.inner = self.kw, c
        self.tap_x = np.array([(i * self.dh * self.wp + j * self.dw) * c for i, j in taps],
                              np.int64)
        # the same taps in a forward's staged rows (window row i at i * wp * C)
        self.tap_staged = np.array([(i * self.wp + j * self.dw) * c for i, j in taps],
                                   np.int64)
        # times 16 v inside a block
        self.tap_w = np.array([(i * self.kw + j) * c for i, j in taps], np.int64)
        self.tile_s, self.tile_p = row_tiles(self.ow)
        if self.ow in NARROW:
            self.tile_s, self.tile_p = np.zeros(1, np.int64), np.full(1, self.ow, np.int64)
        self.kern = _kernels()

    def pad(self, sc, x4):
        xp = sc.get("xp", (self.n * self.hp * self.wp * self.c,))
        self.kern.pad_input(x4, x4.reshape(-1) if _planar(x4) else _NONE, xp, self.hp,
                            self.wp, self.lo_h, self.lo_w, self.h0, self.w0, self.hc, self.wc,
                            _chunks(self.n * self.hp))
        return xp

    def forward(self, sc, x4, wflat, out4):
        """``out4`` (canonical view) = the convolution of ``x4`` with ``wflat`` (blocked).
        An NHWC-contiguous ``x4`` is read in place (each output row stages its window
        rows, ``_stage_rows``); any other layout is padded into a copy first."""
        nch = _chunks(self.n * self.oh)
        if STAGED and _channels_last(x4):
            xp, tap_x = _NONE, self.tap_staged
            x = np.transpose(x4, (0, 2, 3, 1)).reshape(-1)
            xl = sc.get("xl", (nch, self.kern.ROW_GROUP * self.kh * self.wp * self.c))
        else:
            xp, tap_x, x, xl = self.pad(sc, x4), self.tap_x, _NONE, _NONE2
        ydirect = yflat = _NONE
        if _channels_last(out4) and self.op == self.o:
            ydirect = np.transpose(out4, (0, 2, 3, 1)).reshape(-1)
        elif _planar(out4):
            yflat = out4.reshape(-1)
        geo = (self.hp, self.wp, self.c, self.oh, self.ow, self.op, self.sh, self.sw, self.dh,
               self.kh, self.kw, self.lo_h, self.hc, self.lo_w, self.h0, self.w0, self.wc,
               x4.shape[2], x4.shape[3], self.tpr, self.inner)
        yrows = sc.get("yrows", (nch, self.kern.ROW_GROUP * self.ow * self.op))
        self.kern.forward(xp, x, xl, wflat, out4, ydirect, yflat, yrows, geo, tap_x,
                          self.tap_w, self.blk_o, self.blk_v, self.tile_s, self.tile_p, nch)

    def grad_filter(self, sc, x4, ct4, dw4):
        """``dw4`` (canonical ``(O, C, KH, KW)``) = the filter gradient of this
        convolution for cotangent ``ct4``."""
        xp = self.pad(sc, x4)
        if _channels_last(ct4) and self.op == self.o:  # already the packed layout
            dy = np.transpose(ct4, (0, 2, 3, 1)).reshape(-1)
        else:
            dy = sc.get("dy", (self.n * self.oh * self.ow * self.op,))
            self.kern.pack_cotangent(ct4, ct4.reshape(-1) if _planar(ct4) else _NONE, dy,
                                     self.op, _chunks(self.n * self.oh))
        run_rows = max(1, RUN_PIXELS // self.ow)
        runs = -(-self.n * self.oh // run_rows)
        size = self.t * self.c * self.op
        # each slot is written whole and read back by the sum: a big filter gets fewer
        # (32x256x8x8: 4 slots of 2.4 MB moved ~30 MB per call for 10 ms of FMAs)
        cap = max(2, SLOT_BYTES // (4 * size))
        slots = min(threads.slot_count(runs), 1 << (cap.bit_length() - 1))  # 2, 4 or 8
        acc = sc.get("dw", (slots, size))
        geo = (self.hp, self.wp, self.c, self.oh, self.ow, self.op, self.sh, self.sw, self.dh,
               self.dw, self.kh, self.kw, self.lo_h, self.hc)
        self.kern.grad_filter(xp, dy, acc, geo, self.gf_o, self.gf_v, run_rows)
        self.kern.unblock_sum(acc, dw4, self.gf_o, self.gf_v)


# ---------------------------------------------------------------------------
# the lowerings' entry points (``conv.py``): a kernel, or None where it does not apply

_F32 = np.dtype(np.float32)


def _wrap(body):
    run = threads.governed(with_scratch(body))  # thread count and chunking: threads.py
    run.one_blas_thread = True  # the program runs its BLAS calls on one thread (conv.py)
    return run


def _canonical(x, spec, nd):
    v = np.transpose(x, spec)
    return v[:, :, None, :] if nd == 1 else v


def _flat_filter(sc, w4, op, starts, vecs, flip=False):
    """Blocked filter from ``w4`` (canonical ``(O, C, KH, KW)``); with ``flip``, the
    input gradient's filter: flipped in space, channel axes swapped."""
    o, c, kh, kw = w4.shape
    flat = sc.get("wflat", (kh * kw * (o if flip else c) * op,))
    _kernels().block_weights(w4, flat, starts, vecs, flip)
    return flat


def _conv_of(g):
    return _Conv(g.n, g.c, g.o, (g.kh, g.kw), (g.sh, g.sw), (g.dh, g.dw), (g.lo_h, g.lo_w),
                 (g.h0, g.w0, g.hc, g.wc), (g.oh, g.ow))


def forward_kernel(g, nd, lspec, rspec, ospec, out_shape, dtype):
    if not _enabled() or np.dtype(dtype) != _F32 or g.o < MIN_OUT or g.ow < MIN_WIDTH:
        return None
    cv = _conv_of(g)

    def run(sc, x, w):
        x4 = _canonical(np.asarray(x, _F32), lspec, nd)
        w4 = _canonical(np.asarray(w, _F32), rspec, nd)
        out = empty(out_shape, _F32)
        cv.forward(sc, x4, _flat_filter(sc, w4, cv.op, cv.blk_o, cv.blk_v),
                   _canonical(out, ospec, nd))
        return [out]

    return _wrap(run)


def grad_filter_kernel(g, nd, lspec, rspec, ospec, rhs_shape, dtype):
    if not _enabled() or np.dtype(dtype) != _F32 or g.o < MIN_OUT:
        return None
    cv = _conv_of(g)

    def run(sc, x, ct):
        x4 = _canonical(np.asarray(x, _F32), lspec, nd)
        ct4 = _canonical(np.asarray(ct, _F32), ospec, nd)
        dw = empty(rhs_shape, _F32)
        cv.grad_filter(sc, x4, ct4, _canonical(dw, rspec, nd))
        return [dw]

    return _wrap(run)


def _phases(g):
    """The strided input gradient as stride-1 convolutions of the cotangent, one per
    stride phase ``(p, q)``: the padded input rows ``R * sh + p`` receive
    ``sum_a ct[R - a] w[p + a * sh]``, a convolution with the sub-filter
    ``w[p::sh, q::sw]`` flipped. Returns ``[(conv, (p, q), (first row, first col))]``
    (in ``dx4``'s kept region) and whether every kept input position is covered, or
    None where a phase's rows are too narrow for the kernel."""
    out, covered = [], g.kh >= g.sh and g.kw >= g.sw

    def axis(p, s, k, lo, kept, outs):
        taps = -(-(k - p) // s) if p < k else 0
        r0 = -(-(lo - p) // s)                  # first output of the phase in the kept rows
        count = (kept - 1 + lo - p) // s - r0 + 1
        shift = taps - 1 - r0                   # the cotangent's zero padding (< 0: crop)
        return taps, r0, count, max(0, shift), max(0, -shift), outs - max(0, -shift)

    for p in range(g.sh):
        ka, r0, nr, pad_h, crop_h, kept_h = axis(p, g.sh, g.kh, g.lo_h, g.hc, g.oh)
        for q in range(g.sw):
            kb, c0, nc, pad_w, crop_w, kept_w = axis(q, g.sw, g.kw, g.lo_w, g.wc, g.ow)
            if min(nr, nc) <= 0:
                continue
            if min(ka, kb, kept_h, kept_w) <= 0:
                covered = False
                continue
            if nc < MIN_WIDTH:
                return None
            cv = _Conv(g.n, g.o, g.c, (ka, kb), (1, 1), (1, 1), (pad_h, pad_w),
                       (crop_h, crop_w, kept_h, kept_w), (nr, nc))
            out.append((cv, (p, q), (r0 * g.sh + p - g.lo_h, c0 * g.sw + q - g.lo_w)))
    return out, covered


def _strided_grad_input(g, nd, lspec, rspec, ospec, lhs_shape):
    planned = _phases(g)
    if planned is None:
        return None
    phases, covered = planned
    zeros = not covered or g.h0 > 0 or g.w0 > 0 or g.hc < g.h or g.wc < g.w

    def run(sc, ct, w):
        ct4 = _canonical(np.asarray(ct, _F32), ospec, nd)
        w4 = _canonical(np.asarray(w, _F32), rspec, nd)
        dx = (np.zeros if zeros else empty)(lhs_shape, _F32)
        dx4 = _canonical(dx, lspec, nd)[:, :, g.h0:g.h0 + g.hc, g.w0:g.w0 + g.wc]
        for cv, (p, q), (r, c) in phases:
            sub = w4[:, :, p::g.sh, q::g.sw]
            out = dx4[:, :, r::g.sh, c::g.sw][:, :, :cv.oh, :cv.ow]
            cv.forward(sc, ct4, _flat_filter(sc, sub, cv.op, cv.blk_o, cv.blk_v, flip=True),
                       out)
        return [dx]

    return _wrap(run)


def grad_input_kernel(g, nd, lspec, rspec, ospec, lhs_shape, dtype):
    """The input gradient: a plain convolution of the cotangent for stride 1, one per
    stride phase otherwise (``_phases``); no rhs dilation with strides."""
    if not _enabled() or np.dtype(dtype) != _F32 or g.c < MIN_OUT or g.wc < MIN_WIDTH:
        return None
    if (g.sh, g.sw) != (1, 1):
        if (g.dh, g.dw) != (1, 1):
            return None
        return _strided_grad_input(g, nd, lspec, rspec, ospec, lhs_shape)
    lo = ((g.kh - 1) * g.dh - g.lo_h, (g.kw - 1) * g.dw - g.lo_w)
    keep0 = (max(0, -lo[0]), max(0, -lo[1]))
    cv = _Conv(g.n, g.o, g.c, (g.kh, g.kw), (1, 1), (g.dh, g.dw),
               (max(0, lo[0]), max(0, lo[1])),
               (keep0[0], keep0[1], g.oh - keep0[0], g.ow - keep0[1]), (g.hc, g.wc))
    cropped = g.h0 > 0 or g.w0 > 0 or g.hc < g.h or g.wc < g.w

    def run(sc, ct, w):
        ct4 = _canonical(np.asarray(ct, _F32), ospec, nd)
        w4 = _canonical(np.asarray(w, _F32), rspec, nd)
        dx = (np.zeros if cropped else empty)(lhs_shape, _F32)
        dx4 = _canonical(dx, lspec, nd)[:, :, g.h0:g.h0 + g.hc, g.w0:g.w0 + g.wc]
        cv.forward(sc, ct4, _flat_filter(sc, w4, cv.op, cv.blk_o, cv.blk_v, flip=True), dx4)
        return [dx]

    return _wrap(run)
