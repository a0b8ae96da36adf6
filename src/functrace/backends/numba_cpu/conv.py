"""CPU lowerings of ``conv_general_dilated``, ``conv_grad_input`` and ``conv_grad_filter``.

The fast path covers 1-D and 2-D convolutions with one feature and batch group
and no lhs dilation, any strides, padding (negative crops) and rhs dilation,
float32/float64, in any dimension numbers. The forward and filter gradient of
grouped ones (what ``vmap`` makes of a convolution whose operands are both
batched: the per-example filter gradient) run ``conv_grouped.py``. Everything else
runs the NumPy reference impl, so every case still works.

How: no full im2col. The padded input is packed once (a Numba loop) into the
*wide layout*: for each stride phase ``(p, q)`` (``p = hp % stride_h``), one
picture of ``Ws`` columns and ``Hs`` rows per image, the images stacked. Output
position ``(n, oh, ow)`` gets the wide index ``(n * Hs + oh) * Ws + ow``, and the
input that window tap ``(i, j)`` reads for it is at that index plus a constant
offset in the buffer of the tap's phase. So each tap's operand is a strided
*view* of the packed buffer, and

- forward:      ``Y = sum_t W_t @ X_t``       (``W_t = w[:, :, i, j]``, ``X_t`` a view),
- grad-filter:  ``dW_t = D @ X_t.T``          (``D``: the output cotangent, wide),
- grad-input:   ``G_t += W_t.T @ D``           (accumulated into views of one buffer),

one BLAS GEMM per tap. Garbage columns between rows/images cost a little extra
GEMM work (for stride 1, neighbouring rows share their zero padding so that
``Ws = W + max(lo, hi)``); they are never read back. Compared with im2col this
moves ``kh * kw`` times less memory, and the GEMMs (``C`` deep) run near BLAS
speed for ``C >= 32``. Where a GEMM per tap is too shallow (few input channels)
and always for grad-filter, the taps of one chunk are copied into a ``(T*C, m)``
block, an im2col that stays in cache, for one GEMM ``T*C`` deep (grad-filter:
``T*C`` wide, with the cotangent block position-major so that the GEMM is NN or
TN; OpenBLAS ran the NT form, both operands position-contiguous, markedly slower
here; docs/performance.md).

Numerics: float32 GEMMs as in the reference impl, summed in a different order
(agreement to ~1e-6 relative to the output scale). Garbage positions multiply
zeros, so non-finite inputs may turn an ``inf`` of the reference into ``nan``
(as zero padding already does in any GEMM-based convolution).

The work is cut into chunks of wide rows sized to stay in the L2 cache: per
chunk, pack what the chunk needs, run the tap GEMMs, unpack the chunk's
results into the output layout. Packing kernels are serial (memory-bound, and a
Numba ``prange`` between multi-threaded BLAS calls fights OpenBLAS's spinning
threads for the two cores); GEMMs use NumPy's OpenBLAS through its CBLAS
interface (``blas.py``) on all its threads, or on one when that ran faster
lately (another process holding a core: ``threads.BlasGovernor``); CBLAS
because ``np.matmul`` cannot accumulate (``beta = 1``) into a strided view. If
that library cannot be found, GEMMs fall back to ``np.matmul`` on views (slower:
a temporary and an add per tap).

Two internal layouts: channels-first (``buf[phase, c, position]``, GEMMs
``(O, C) @ (C, m)``) when the result is channels-first (NCHW outputs need only
row copies), channels-last (``buf[phase, position, c]``) when it is
channels-last (NHWC: no transposes at all). Scratch buffers are kept by each
kernel (keyed by shape and dtype) so they are not page-faulted in on every call.
"""

from __future__ import annotations

import importlib

import numpy as np

from ...lax.convolution import conv_general_dilated_p, conv_grad_filter_p, conv_grad_input_p
from ...transforms import tape_vjp
from . import conv_direct, conv_grouped, threads
from .blas import Gemm, blas_threads
from .scratch import Scratch, with_scratch
from .table import lowerings, reference_lowering

# tuning knobs (module-level so benchmarks and tests can change them)
CHUNK_BYTES = 1 << 20     # target size of a chunk's GEMM result / cotangent block
GRAD_FILTER_CHUNK_BYTES = 2 << 20  # grad-filter: chunks are the GEMMs' depth
IM2COL_MAX_DEPTH = 64     # gather the taps into one block when C * kh * kw is at most this
IM2COL_MAX_CHANNELS = 8   # ... or when C is at most this
GRAD_FILTER_IM2COL = True  # grad-filter gathers taps whatever C (measured faster)
# ... but keeps the cotangent channels-first (an NT GEMM) when the taps are few and the
# outputs many (64+); the thresholds and their measurements: docs/performance.md
GRAD_FILTER_NT_MAX_DEPTH = 72
GRAD_FILTER_NT_MIN_OUT = 64
LAYOUT = None             # None: choose per equation; "cf" or "cl" forces one (tests)
GEMM = "auto"             # "auto": CBLAS of NumPy's OpenBLAS if found; "numpy": np.matmul

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _kernels():
    """The Numba kernels, imported on first use (``import functrace`` stays Numba-free)."""
    return importlib.import_module("._conv_kernels", __package__)


# ---------------------------------------------------------------------------
# geometry of the wide layout

def _ceil_div(a, b):
    return -(-a // b)


class _Geometry:
    """Everything about one convolution's wide layout (2-D, canonical order)."""

    def __init__(self, n, c, hw, o, k, strides, padding, dilation):
        (h, w), (kh, kw) = hw, k
        (sh, sw), ((lh, hh), (lw, hw_)), (dh, dw) = strides, padding, dilation
        self.n, self.c, self.o, self.kh, self.kw, self.h, self.w = n, c, o, kh, kw, h, w
        self.sh, self.sw, self.dh, self.dw = sh, sw, dh, dw
        self.h0, self.w0 = max(0, -lh), max(0, -lw)           # first input row/col kept
        self.hc = h - self.h0 - max(0, -hh)                    # rows/cols kept after cropping
        self.wc = w - self.w0 - max(0, -hw_)
        self.lo_h, self.lo_w = max(lh, 0), max(lw, 0)          # zero padding after cropping
        hi_h, hi_w = max(hh, 0), max(hw_, 0)
        hp, wp = self.hc + self.lo_h + hi_h, self.wc + self.lo_w + hi_w
        self.oh = (hp - (kh - 1) * dh - 1) // sh + 1
        self.ow = (wp - (kw - 1) * dw - 1) // sw + 1
        self.ok = self.hc > 0 and self.wc > 0 and self.oh > 0 and self.ow > 0
        if not self.ok:
            return
        # stride 1: neighbouring rows (images) share their zero padding
        self.hs = max(self.hc + max(self.lo_h, hi_h), self.oh) if sh == 1 else _ceil_div(hp, sh)
        self.ws = max(self.wc + max(self.lo_w, hi_w), self.ow) if sw == 1 else _ceil_div(wp, sw)
        phases, taps = [], []
        for i in range(kh):
            for j in range(kw):
                ph = ((i * dh) % sh, (j * dw) % sw)
                if ph not in phases:
                    phases.append(ph)
                taps.append((phases.index(ph), (i * dh // sh) * self.ws + j * dw // sw))
        self.phases, self.taps = phases, taps
        self.ph_p = np.array([p for p, _ in phases], np.int64)
        self.ph_r = np.array([q for _, q in phases], np.int64)
        self.ph_index = np.full((sh, sw), -1, np.int64)
        for idx, (p, q) in enumerate(phases):
            self.ph_index[p, q] = idx
        max_off = max(off for _, off in taps)
        self.halo = _ceil_div(max_off, self.ws)             # extra rows a chunk's taps read
        self.rows_out = (n - 1) * self.hs + self.oh          # wide rows holding outputs
        self.length = (self.rows_out - 1) * self.ws + self.ow  # wide positions computed
        self.rows_tot = max(n * self.hs, self.rows_out + self.halo)
        self.lbuf = self.rows_tot * self.ws

    def pack_args(self):
        return (self.n, self.hs, self.ws, self.sh, self.sw, self.lo_h, self.lo_w, self.h0,
                self.w0, self.hc, self.wc)

    def unpack_args(self):
        return (self.hs, self.ws, self.sh, self.sw, self.lo_h, self.lo_w, self.h0, self.w0,
                self.hc, self.wc)


# ---------------------------------------------------------------------------
# the three kernels

def _canonical(x, spec, nd):
    """A view of ``x`` in canonical order (batch/out-feature, feature, H, W), 1-D as H = 1."""
    v = np.transpose(x, spec)
    return v[:, :, None, :] if nd == 1 else v


def _two_d(vals, nd, one):
    return ((one,) + tuple(vals)) if nd == 1 else tuple(vals)


def _use_cl(feature_dim, ndim):
    if LAYOUT is not None:
        return LAYOUT == "cl"
    return feature_dim == ndim - 1


class _Plan:
    """What the three kernels share: geometry, layout, GEMM, scratch buffers, chunks."""

    def __init__(self, g, cl, dtype, chunk_bytes, width, im2col):
        self.g, self.cl, self.dtype = g, cl, np.dtype(dtype)
        self.kern = _kernels()
        self.gemm = Gemm(dtype, GEMM == "auto")
        self._free = [Scratch()]  # scratch sets not in use (one unless calls overlap)
        self.t = len(g.taps)
        self.im2col = im2col and self.t > 1
        rows = max(1, chunk_bytes // (g.ws * width * self.dtype.itemsize))
        self.chunks = [(r0, min(r0 + rows, g.rows_out)) for r0 in range(0, g.rows_out, rows)]
        self.cols = (self.chunks[0][1] - self.chunks[0][0]) * g.ws   # positions a chunk

    def wrap(self, body):
        """``body(scratch, *args)`` as ``run(*args)``; the plan's kernels share scratch sets.
        Its BLAS thread count is chosen per call from measured times (``threads.py``)."""
        return threads.governed(with_scratch(body, self._free), blas=True)

    def buf(self, sc, name, channels):
        """A buffer of the wide layout: ``(phases, lbuf, ch)`` or ``(phases, ch, lbuf)``."""
        g = self.g
        shape = (len(g.phases), g.lbuf, channels) if self.cl else \
            (len(g.phases), channels, g.lbuf)
        return sc.get(name, shape, self.dtype)

    def block(self, sc, name, channels):
        """A chunk-sized block: ``(cols, ch)`` or ``(ch, cols)``."""
        shape = (self.cols, channels) if self.cl else (channels, self.cols)
        return sc.get(name, shape, self.dtype)

    def tap_weights(self, sc, w4):
        """Per-tap weights ``(T, O, C)`` (channels-first) or ``(T, C, O)``; for im2col
        ``(O, T*C)`` or ``(T*C, O)`` (taps outer, channels inner)."""
        o, c, kh, kw = w4.shape
        if self.cl:
            wt = sc.get("wt", (kh, kw, c, o), self.dtype)
            np.copyto(wt, w4.transpose(2, 3, 1, 0))
        elif self.im2col:
            wt = sc.get("wt", (o, kh, kw, c), self.dtype)
            np.copyto(wt, w4.transpose(0, 2, 3, 1))
        else:
            wt = sc.get("wt", (kh, kw, o, c), self.dtype)
            np.copyto(wt, w4.transpose(2, 3, 0, 1))
        return wt

    def pack_input(self, x4, xbuf, packed, need):
        """Packs wide rows [packed, need) of the input; returns the new ``packed``."""
        g = self.g
        need = min(need, g.rows_tot)
        if need > packed:
            (self.kern.pack_cl if self.cl else self.kern.pack_cf)(
                x4, xbuf, g.ph_p, g.ph_r, packed, need, *g.pack_args())
        return max(packed, need)

    def gather_taps(self, xbuf, cols, q0, m):
        """``cols[t*C + c, j] = X_t[c, q0 + j]`` (channels-first; transposed if cl)."""
        c = self.g.c
        for t, (k, off) in enumerate(self.g.taps):
            if self.cl:
                cols[:m, t * c:(t + 1) * c] = xbuf[k, q0 + off:q0 + off + m, :]
            else:
                cols[t * c:(t + 1) * c, :m] = xbuf[k, :, q0 + off:q0 + off + m]

    def scatter_taps(self, gbuf, cols, q0, m):
        """The adjoint of ``gather_taps``: ``G_t += cols`` block by block."""
        c = self.g.c
        for t, (k, off) in enumerate(self.g.taps):
            if self.cl:
                gbuf[k, q0 + off:q0 + off + m, :] += cols[:m, t * c:(t + 1) * c]
            else:
                gbuf[k, :, q0 + off:q0 + off + m] += cols[t * c:(t + 1) * c, :m]

    def span(self, r0, r1):
        """First wide position and number of positions of the chunk of rows [r0, r1)."""
        q0 = r0 * self.g.ws
        return q0, min(r1 * self.g.ws, self.g.length) - q0


def _shallow(g):
    """Few input channels: the per-tap GEMMs would be too shallow (C deep), so copy the
    taps of each chunk into one ``(T*C, m)`` block (an im2col that stays in cache) and
    run one GEMM ``T*C`` deep instead."""
    return g.c * g.kh * g.kw <= IM2COL_MAX_DEPTH or g.c <= IM2COL_MAX_CHANNELS


def _forward_kernel(g, cl, nd, lspec, rspec, ospec, out_shape, dtype):
    pl = _Plan(g, cl, dtype, CHUNK_BYTES, g.o, _shallow(g))
    kern, gemm, c, o, tc = pl.kern, pl.gemm, g.c, g.o, g.c * pl.t
    unpack = kern.unpack_out_cl if cl else kern.unpack_out_cf

    def run(sc, x, w):
        x4 = _canonical(np.asarray(x, dtype), lspec, nd)
        w4 = _canonical(np.asarray(w, dtype), rspec, nd)
        out = np.empty(out_shape, dtype)
        out4 = _canonical(out, ospec, nd)
        wt = gemm.bind(pl.tap_weights(sc, w4))
        xbuf, ybuf = pl.buf(sc, "x", c), pl.block(sc, "y", o)
        xb, yb = gemm.bind(xbuf), gemm.bind(ybuf)
        if pl.im2col:
            cbuf = pl.block(sc, "cols", tc)
            cb = gemm.bind(cbuf)
        packed = 0
        for r0, r1 in pl.chunks:
            packed = pl.pack_input(x4, xbuf, packed, r1 + g.halo)
            q0, m = pl.span(r0, r1)
            if pl.im2col:
                pl.gather_taps(xbuf, cbuf, q0, m)
                if cl:   # Y (m, O) = cols (m, TC) @ W (TC, O)
                    gemm(False, False, m, o, tc, cb, 0, tc, wt, 0, o, 0.0, yb, 0, o)
                else:    # Y (O, m) = W (O, TC) @ cols (TC, m)
                    gemm(False, False, o, m, tc, wt, 0, tc, cb, 0, pl.cols, 0.0, yb, 0, pl.cols)
            else:
                for t, (k, off) in enumerate(g.taps):
                    beta = 1.0 if t else 0.0
                    if cl:   # Y (m, O) += X_t (m, C) @ W_t (C, O)
                        gemm(False, False, m, o, c, xb, (k * g.lbuf + q0 + off) * c, c,
                             wt, t * c * o, o, beta, yb, 0, o)
                    else:    # Y (O, m) += W_t (O, C) @ X_t (C, m)
                        gemm(False, False, o, m, c, wt, t * o * c, c,
                             xb, k * c * g.lbuf + q0 + off, g.lbuf, beta, yb, 0, pl.cols)
            unpack(ybuf, out4, r0, r1, g.hs, g.ws)
        return [out]

    return pl.wrap(run)


def _grad_filter_kernel(g, cl, nd, lspec, rspec, ospec, rhs_shape, dtype):
    pl = _Plan(g, cl, dtype, GRAD_FILTER_CHUNK_BYTES, g.o + g.c,
               _shallow(g) or GRAD_FILTER_IM2COL)
    kern, gemm, c, o, kh, kw, tc = pl.kern, pl.gemm, g.c, g.o, g.kh, g.kw, g.c * pl.t
    # the cotangent block is position-major (m, O) except for per-tap GEMMs channels-first:
    # with the gathered taps that makes the GEMM an NN (channels-first) or TN one; NT
    # (both operands position-contiguous) ran markedly slower in OpenBLAS here
    d_cl = cl or pl.im2col
    # ... except when the gathered taps are few (first layers): the GEMM is then tiny and
    # transposing the whole cotangent into position-major blocks is what costs
    nt = (not cl and pl.im2col and tc <= GRAD_FILTER_NT_MAX_DEPTH
          and o >= GRAD_FILTER_NT_MIN_OUT)
    d_cl = d_cl and not nt
    pack_ct = kern.pack_ct_cl if d_cl else kern.pack_ct_cf

    def run(sc, x, ct):
        x4 = _canonical(np.asarray(x, dtype), lspec, nd)
        ct4 = _canonical(np.asarray(ct, dtype), ospec, nd)
        xbuf = pl.buf(sc, "x", c)
        dbuf = sc.get("d", (pl.cols, o) if d_cl else (o, pl.cols), dtype)
        acc = sc.get("acc", (o, kh, kw, c) if nt else (kh, kw, c, o) if d_cl else
                     (kh, kw, o, c), dtype)
        xb, db, ab = gemm.bind(xbuf), gemm.bind(dbuf), gemm.bind(acc)
        if pl.im2col:
            cbuf = pl.block(sc, "cols", tc)
            cb = gemm.bind(cbuf)
        packed = 0
        for ci, (r0, r1) in enumerate(pl.chunks):
            packed = pl.pack_input(x4, xbuf, packed, r1 + g.halo)
            pack_ct(ct4, dbuf, r0, r1, g.hs, g.ws)
            q0, m = pl.span(r0, r1)
            beta = 1.0 if ci else 0.0
            if pl.im2col:
                pl.gather_taps(xbuf, cbuf, q0, m)
                if cl:   # dW (TC, O) += cols.T (TC, m) @ D (m, O)
                    gemm(True, False, tc, o, m, cb, 0, tc, db, 0, o, beta, ab, 0, o)
                elif nt:  # dW (O, TC) += D (O, m) @ cols.T (m, TC)
                    gemm(False, True, o, tc, m, db, 0, pl.cols, cb, 0, pl.cols, beta, ab, 0, tc)
                else:    # dW (TC, O) += cols (TC, m) @ D (m, O)
                    gemm(False, False, tc, o, m, cb, 0, pl.cols, db, 0, o, beta, ab, 0, o)
                continue
            for t, (k, off) in enumerate(g.taps):
                if cl:   # dW_t (C, O) += X_t.T (C, m) @ D (m, O)
                    gemm(True, False, c, o, m, xb, (k * g.lbuf + q0 + off) * c, c,
                         db, 0, o, beta, ab, t * c * o, o)
                else:    # dW_t (O, C) += D (O, m) @ X_t.T (m, C)
                    gemm(False, True, o, c, m, db, 0, pl.cols,
                         xb, k * c * g.lbuf + q0 + off, g.lbuf, beta, ab, t * o * c, c)
        dw = np.empty(rhs_shape, dtype)
        dw4 = _canonical(dw, rspec, nd)
        dw4[...] = acc.transpose(0, 3, 1, 2) if nt else acc.transpose(3, 2, 0, 1) if d_cl \
            else acc.transpose(2, 3, 0, 1)
        return [dw]

    return pl.wrap(run)


def _grad_input_kernel(g, cl, nd, lspec, rspec, ospec, lhs_shape, dtype):
    pl = _Plan(g, cl, dtype, CHUNK_BYTES, g.o, _shallow(g))
    kern, gemm, c, o, tc = pl.kern, pl.gemm, g.c, g.o, g.c * pl.t
    pack_ct = kern.pack_ct_cl if cl else kern.pack_ct_cf
    unpack = kern.unpack_in_cl if cl else kern.unpack_in_cf
    cropped = g.h0 > 0 or g.w0 > 0 or g.hc < g.h or g.wc < g.w

    def zero_rows(gbuf, z0, z1):
        if cl:
            gbuf[:, z0 * g.ws:z1 * g.ws, :] = 0
        else:
            gbuf[:, :, z0 * g.ws:z1 * g.ws] = 0

    def run(sc, ct, w):
        ct4 = _canonical(np.asarray(ct, dtype), ospec, nd)
        w4 = _canonical(np.asarray(w, dtype), rspec, nd)
        dx = np.empty(lhs_shape, dtype)
        dx4 = _canonical(dx, lspec, nd)
        if cropped:  # input rows/cols that negative padding cut away get no gradient
            dx4[...] = 0
        wt = gemm.bind(pl.tap_weights(sc, w4))
        gbuf, dbuf = pl.buf(sc, "g", c), pl.block(sc, "d", o)
        gb, db = gemm.bind(gbuf), gemm.bind(dbuf)
        if pl.im2col:
            cbuf = pl.block(sc, "cols", tc)
            cb = gemm.bind(cbuf)
        args = g.unpack_args()
        zeroed = done = 0
        for r0, r1 in pl.chunks:
            need = min(r1 + g.halo + 1, g.rows_tot)
            if need > zeroed:
                zero_rows(gbuf, zeroed, need)
                zeroed = need
            pack_ct(ct4, dbuf, r0, r1, g.hs, g.ws)
            q0, m = pl.span(r0, r1)
            if pl.im2col:
                if cl:   # cols (m, TC) = D (m, O) @ W.T (O, TC); W stored (TC, O)
                    gemm(False, True, m, tc, o, db, 0, o, wt, 0, o, 0.0, cb, 0, tc)
                else:    # cols (TC, m) = W.T (TC, O) @ D (O, m); W stored (O, TC)
                    gemm(True, False, tc, m, o, wt, 0, tc, db, 0, pl.cols, 0.0, cb, 0, pl.cols)
                pl.scatter_taps(gbuf, cbuf, q0, m)
            else:
                for t, (k, off) in enumerate(g.taps):
                    if cl:   # G_t (m, C) += D (m, O) @ W_t (O, C); wt[t] is (C, O)
                        gemm(False, True, m, c, o, db, 0, o, wt, t * c * o, o,
                             1.0, gb, (k * g.lbuf + q0 + off) * c, c)
                    else:    # G_t (C, m) += W_t.T (C, O) @ D (O, m); wt[t] is (O, C)
                        gemm(True, False, c, m, o, wt, t * o * c, c, db, 0, pl.cols,
                             1.0, gb, k * c * g.lbuf + q0 + off, g.lbuf)
            # no later chunk writes before its own first position: these rows are final
            last = r1 if r1 < g.rows_out else g.n * g.hs
            if last > done:
                if last > zeroed:
                    zero_rows(gbuf, zeroed, last)
                    zeroed = last
                unpack(gbuf, dx4, g.ph_index, done, last, *args)
                done = last
        return [dx]

    return pl.wrap(run)


# ---------------------------------------------------------------------------
# lowering entry points: the fast path or the reference impl

def _fast_path_geometry(eqn, lhs_shape, rhs_shape, dtypes):
    """The ``_Geometry`` if the fast path applies, else None."""
    p = eqn.params
    nd = len(lhs_shape) - 2
    if nd not in (1, 2) or p["feature_group_count"] != 1 or p["batch_group_count"] != 1:
        return None
    if any(d != 1 for d in p["lhs_dilation"]):
        return None
    if any(np.dtype(d) not in _FLOATS for d in dtypes) or len({np.dtype(d) for d in dtypes}) != 1:
        return None
    lspec, rspec, _ = p["dimension_numbers"]
    n, c = lhs_shape[lspec[0]], lhs_shape[lspec[1]]
    o = rhs_shape[rspec[0]]
    spatial = [lhs_shape[d] for d in lspec[2:]]
    window = [rhs_shape[d] for d in rspec[2:]]
    if min([n, c, o] + spatial + window) <= 0:
        return None
    g = _Geometry(n, c, _two_d(spatial, nd, 1), o, _two_d(window, nd, 1),
                  _two_d(p["window_strides"], nd, 1), _two_d(p["padding"], nd, (0, 0)),
                  _two_d(p["rhs_dilation"], nd, 1))
    return g if g.ok else None


def _dims(eqn):
    return eqn.params["dimension_numbers"], len(eqn.params["window_strides"])


def lower_conv_general_dilated(eqn):
    lhs, rhs = (v.aval for v in eqn.inputs)
    out = eqn.outvars[0].aval
    if eqn.params.get("preferred_element_type") not in (None, lhs.dtype):
        return reference_lowering(eqn)
    g = _fast_path_geometry(eqn, lhs.shape, rhs.shape, (lhs.dtype, rhs.dtype, out.dtype))
    if g is None:
        return conv_grouped.forward_kernel(eqn) or reference_lowering(eqn)
    (lspec, rspec, ospec), nd = _dims(eqn)
    if (run := conv_direct.forward_kernel(g, nd, lspec, rspec, ospec, out.shape,
                                          out.dtype)) is not None:
        return run
    return _forward_kernel(g, _use_cl(ospec[1], len(out.shape)), nd, lspec, rspec, ospec,
                           out.shape, out.dtype)


def lower_conv_grad_filter(eqn):
    lhs, ct = (v.aval for v in eqn.inputs)
    out = eqn.outvars[0].aval
    rhs_shape = eqn.params["rhs_shape"]
    g = _fast_path_geometry(eqn, lhs.shape, rhs_shape, (lhs.dtype, ct.dtype, out.dtype))
    if g is None:
        return conv_grouped.grad_filter_kernel(eqn) or reference_lowering(eqn)
    (lspec, rspec, ospec), nd = _dims(eqn)
    if (run := conv_direct.grad_filter_kernel(g, nd, lspec, rspec, ospec, tuple(rhs_shape),
                                              out.dtype)) is not None:
        return run
    return _grad_filter_kernel(g, _use_cl(ospec[1], len(ct.shape)), nd, lspec, rspec, ospec,
                               tuple(rhs_shape), out.dtype)


def lower_conv_grad_input(eqn):
    ct, rhs = (v.aval for v in eqn.inputs)
    out = eqn.outvars[0].aval
    lhs_shape = eqn.params["lhs_shape"]
    g = _fast_path_geometry(eqn, lhs_shape, rhs.shape, (ct.dtype, rhs.dtype, out.dtype))
    if g is None:
        return reference_lowering(eqn)
    (lspec, rspec, ospec), nd = _dims(eqn)
    if (run := conv_direct.grad_input_kernel(g, nd, lspec, rspec, ospec, tuple(lhs_shape),
                                             out.dtype)) is not None:
        return run
    return _grad_input_kernel(g, _use_cl(lspec[1], len(lhs_shape)), nd, lspec, rspec, ospec,
                              tuple(lhs_shape), out.dtype)


lowerings[conv_general_dilated_p] = lower_conv_general_dilated
lowerings[conv_grad_filter_p] = lower_conv_grad_filter
lowerings[conv_grad_input_p] = lower_conv_grad_input
# the eager tape (un-jitted grad) runs the same kernels
for _p in (conv_general_dilated_p, conv_grad_filter_p, conv_grad_input_p):
    tape_vjp.eager_lowerings[_p] = lowerings[_p]
tape_vjp.blas_threads = blas_threads
