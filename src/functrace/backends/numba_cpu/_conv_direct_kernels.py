"""Numba kernels of the direct convolution (``conv_direct.py``), float32, channels-last.

The input is copied once into a zero-bordered buffer ``xp[n, r, s, c]`` (flat), the
filter into blocks of at most 64 output channels (``_block_layout`` in
``conv_direct.py``: block ``b`` starting at output channel ``o0`` with ``16 * v``
channels holds ``w[t, c, o0:o0 + 16 * v]`` at ``T * C * o0 + (t * C + c) * 16 * v``).

- Forward (and the input gradient, the same kernel run on the cotangent): a tile of
  ``P`` (3-6) output pixels of one row x ``16 * V`` output channels lives in registers
  (``_simd``) through the whole ``T * C`` reduction; the row's pixels are covered by
  tiles of mixed widths, and the taps whose input row is padding are skipped.
- Filter gradient: a tile of ``CB`` input channels (6, or 4 in blocks of under 64
  outputs) x ``16 * V`` output channels accumulates over a run of whole output rows;
  each chunk of runs adds its tiles into its own copy of the gradient, which the
  caller sums.

Work is split by a ``prange`` over chunks of rows, several per thread, that Numba hands
out one at a time (the caller sets that up, ``threads.py``): one static share per
thread waited for a descheduled thread on a busy machine. Results do not depend on the
thread count. No BLAS runs inside. Indices are non-negative by
construction; copies index through ``uint64`` (``_u``) or ``range`` variables so that
Numba does not emit its negative-index wraparound (a computed signed offset compiled
to slow gathers; docs/performance.md).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._simd import tile_add, tile_fma, tile_store, tile_zeros, transpose16

_u = np.uint64
ROW_GROUP = 4  # output rows a forward chunk works through block by block (a literal:
#                the scratch buffers of conv_direct.py are sized by it)


@njit(cache=True, nogil=True)
def _fwd_tile(acc, xp, xi0, xstep, w, wi0, vw, c_count, tap_x, tap_w, t0, t1, y, yi, ystep):
    for t in range(t0, t1):
        xi = xi0 + tap_x[t]
        wi = wi0 + tap_w[t] * vw
        # four channels a step: the loop's own counter and pointer updates share the
        # FMA ports on Intel cores, and one step per channel ran at ~87% of the peak
        for _ in range(c_count >> 2):
            acc = tile_fma(acc, w, wi, xp, xi, xstep)
            acc = tile_fma(acc, w, wi + vw, xp, xi + 1, xstep)
            acc = tile_fma(acc, w, wi + 2 * vw, xp, xi + 2, xstep)
            acc = tile_fma(acc, w, wi + 3 * vw, xp, xi + 3, xstep)
            xi += 4
            wi += 4 * vw
        for _ in range(c_count & 3):
            acc = tile_fma(acc, w, wi, xp, xi, xstep)
            xi += 1
            wi += vw
    tile_store(acc, y, yi, ystep)


@njit(cache=True, nogil=True)
def _fwd_dispatch(p, v, xp, xi0, xstep, w, wi0, c_count, tap_x, tap_w, t0, t1, y, yi, ystep):
    """One ``p``-pixel x ``16 * v``-channel tile (3 <= p <= 6 and 1 <= v <= 4, or p in
    (7, 8) and v <= 3)."""
    a = (xp, xi0, xstep, w, wi0, 16 * v, c_count, tap_x, tap_w, t0, t1, y, yi, ystep)
    if p > 6:
        if v == 3:
            if p == 8:
                _fwd_tile(tile_zeros(8, 3), *a)
            else:
                _fwd_tile(tile_zeros(7, 3), *a)
        elif v == 2:
            if p == 8:
                _fwd_tile(tile_zeros(8, 2), *a)
            else:
                _fwd_tile(tile_zeros(7, 2), *a)
        elif p == 8:
            _fwd_tile(tile_zeros(8, 1), *a)
        else:
            _fwd_tile(tile_zeros(7, 1), *a)
    elif v == 4:
        if p == 4:
            _fwd_tile(tile_zeros(4, 4), *a)
        elif p == 5:
            _fwd_tile(tile_zeros(5, 4), *a)
        elif p == 3:
            _fwd_tile(tile_zeros(3, 4), *a)
        else:
            _fwd_tile(tile_zeros(6, 4), *a)
    elif v == 3:
        if p == 4:
            _fwd_tile(tile_zeros(4, 3), *a)
        elif p == 5:
            _fwd_tile(tile_zeros(5, 3), *a)
        elif p == 3:
            _fwd_tile(tile_zeros(3, 3), *a)
        else:
            _fwd_tile(tile_zeros(6, 3), *a)
    elif v == 2:
        if p == 4:
            _fwd_tile(tile_zeros(4, 2), *a)
        elif p == 5:
            _fwd_tile(tile_zeros(5, 2), *a)
        elif p == 3:
            _fwd_tile(tile_zeros(3, 2), *a)
        else:
            _fwd_tile(tile_zeros(6, 2), *a)
    else:
        if p == 4:
            _fwd_tile(tile_zeros(4, 1), *a)
        elif p == 5:
            _fwd_tile(tile_zeros(5, 1), *a)
        elif p == 3:
            _fwd_tile(tile_zeros(3, 1), *a)
        else:
            _fwd_tile(tile_zeros(6, 1), *a)


@njit(cache=True, nogil=True)
def _tap_rows(oh, sh, dh, kh, lo_h, hc):
    """The window rows ``[i0, i1)`` of output row ``oh`` that read real input rows."""
    base = oh * sh - lo_h
    i0 = 0
    while i0 < kh and base + i0 * dh < 0:
        i0 += 1
    i1 = kh
    while i1 > i0 and base + (i1 - 1) * dh >= hc:
        i1 -= 1
    return i0, i1


@njit(cache=True, nogil=True)
def _transpose_block(src, si, ss, dst, di, ds, rows, cols):
    """``dst[di + c * ds + r] = src[si + r * ss + c]`` for ``r < rows``, ``c < cols``: an
    NCHW <-> NHWC copy, 16 x 16 blocks at a time in registers. Element by element, the
    16 reads (or writes) a step in channel planes of 4 KB (32 x 32 images) all fell in
    one L1 set; this ran 4.9x slower than the channels-last copy."""
    r0 = 0
    while r0 + 16 <= rows:
        c0 = 0
        while c0 + 16 <= cols:
            transpose16(src, si + r0 * ss + c0, ss, dst, di + c0 * ds + r0, ds)
            c0 += 16
        for c in range(c0, cols):
            for r in range(r0, r0 + 16):
                dst[_u(di + c * ds + r)] = src[_u(si + r * ss + c)]
        r0 += 16
    for c in range(cols):
        for r in range(r0, rows):
            dst[_u(di + c * ds + r)] = src[_u(si + r * ss + c)]


@njit(cache=True, nogil=True, parallel=True)
def pad_input(x, xf, xp, hp, wp, lo_h, lo_w, h0, w0, hc, wc, nchunks):
    """``xp[n, r, s, c] = x[n, c, h0 + r - lo_h, w0 + s - lo_w]`` inside the kept input,
    zero outside; ``x`` is a canonical ``(N, C, H, W)`` view of any strides. When ``x``
    is NCHW-contiguous, ``xf`` is it flat (else empty): rows copy by 16 x 16 blocks."""
    n_img, c_count, h_in, w_in = x.shape
    c_inner = x.strides[1] <= x.strides[3]
    rows = n_img * hp
    for chunk in prange(nchunks):
        for row in range(rows * chunk // nchunks, rows * (chunk + 1) // nchunks):
            n = row // hp
            h = row - n * hp - lo_h
            base = row * wp * c_count
            if h < 0 or h >= hc:
                for k in range(wp * c_count):
                    xp[_u(base + k)] = 0
                continue
            hi = h0 + h
            lo = min(lo_w, wp)
            width = min(wc, wp - lo)   # columns past the last one read are not copied
            for k in range(lo * c_count):
                xp[_u(base + k)] = 0
            for k in range((lo + width) * c_count, wp * c_count):
                xp[_u(base + k)] = 0
            base += lo * c_count
            if xf.shape[0] > 0:
                _transpose_block(xf, (n * c_count * h_in + hi) * w_in + w0, h_in * w_in, xp,
                                 base, c_count, c_count, width)
            elif c_inner:
                for b in range(width):
                    for c in range(c_count):
                        xp[_u(base + b * c_count + c)] = x[n, _u(c), hi, _u(w0 + b)]
            else:
                for c in range(c_count):
                    for b in range(width):
                        xp[_u(base + b * c_count + c)] = x[n, _u(c), hi, _u(w0 + b)]


@njit(cache=True, nogil=True)
def _copy_row_out(yrow, base, out, n, oh, op):
    """``out[n, o, oh, b] = yrow[base + b * op + o]`` (``out`` canonical, any strides)."""
    o_count, ow = out.shape[1], out.shape[3]
    if out.strides[1] <= out.strides[3]:
        for b in range(ow):
            for o in range(o_count):
                out[n, _u(o), oh, _u(b)] = yrow[_u(base + b * op + o)]
    else:
        for o in range(o_count):
            for b in range(ow):
                out[n, _u(o), oh, _u(b)] = yrow[_u(base + b * op + o)]


@njit(cache=True, nogil=True)
def _stage_rows(x, xl, base, geo, n, oh, i0, i1):
    """Window rows ``[i0, i1)`` of output row ``(n, oh)`` from the NHWC input ``x``
    (flat) into the chunk's buffer ``xl``: row ``i`` at ``i * wp * C``, its real columns
    after ``lo_w`` zero ones (the borders, zeroed once per chunk, are never written)."""
    hp, wp, c_count, oh_count, ow_count, op, sh, sw, dh, kh, kw, lo_h, hc, lo_w, h0, w0, \
        wc, h_in, w_in = geo[:19]
    lo = min(lo_w, wp)
    width = min(wc, wp - lo) * c_count
    for i in range(i0, i1):
        src = ((n * h_in + h0 + oh * sh - lo_h + i * dh) * w_in + w0) * c_count
        dst = base + (i * wp + lo) * c_count
        for k in range(width):
            xl[_u(dst + k)] = x[_u(src + k)]


@njit(cache=True, nogil=True)
def _zero_borders(xl, base, geo):
    hp, wp, c_count, oh_count, ow_count, op, sh, sw, dh, kh, kw, lo_h, hc, lo_w, h0, w0, \
        wc, h_in, w_in = geo[:19]
    lo = min(lo_w, wp)
    width = min(wc, wp - lo)
    for i in range(kh):
        row = base + i * wp * c_count
        for k in range(lo * c_count):
            xl[_u(row + k)] = 0
        for k in range((lo + width) * c_count, wp * c_count):
            xl[_u(row + k)] = 0


@njit(cache=True, nogil=True, parallel=True)
def forward(xp, x, xl, w, out, ydirect, yflat, yrows, geo, tap_x, tap_w, blk_o, blk_v,
            tile_s, tile_p, nchunks):
    """The direct convolution of the padded input ``xp`` with the blocked filter ``w``.

    ``geo = (hp, wp, C, OH, OW, Op, sh, sw, dh, kh, kw, lo_h, hc, lo_w, h0, w0, wc, H,
    W, tpr, inner)``: the kept input region and the input's size (for staging), then
    how the taps are walked: ``tap_x``/``tap_w`` hold ``tpr`` entries per window row,
    each a run of ``inner`` consecutive (input, filter) elements (a whole window row,
    ``kw * C``, when the filter has no column dilation; else one tap, ``C``).
    When ``x`` (the NHWC input, flat) is given, ``xp`` is empty: each output row's
    window rows are staged into the chunk's zero-bordered buffer ``xl[chunk]`` (a few
    KB, in L1) instead of padding the whole input in a pass of its own; ``tap_x`` is
    then relative to that buffer. Results go straight to ``ydirect`` (the flat output,
    when it is NHWC-contiguous with ``Op`` channels) or, when ``ydirect`` is empty,
    through a per-chunk row ``yrows[chunk]`` into ``out`` (canonical ``(N, O, OH, OW)``,
    any strides; transposed by 16 x 16 blocks into ``yflat``, the flat output, when
    ``out`` is NCHW-contiguous).
    """
    hp, wp, c_count, oh_count, ow_count, op, sh, sw, dh, kh, kw, lo_h, hc = geo[:13]
    tpr, inner = geo[19], geo[20]  # tap entries per window row, channels per entry
    direct = ydirect.shape[0] > 0
    staged = x.shape[0] > 0
    rows = out.shape[0] * oh_count
    taps = kh * kw * c_count
    slot = kh * wp * c_count       # one output row's staged window rows
    yslot = ow_count * op          # one output row in ``yrows``
    for chunk in prange(nchunks):
        yrow = yrows[chunk]
        src = xp
        if staged:
            src = xl[chunk]
            for g in range(ROW_GROUP):
                _zero_borders(src, g * slot, geo)
        r_hi = rows * (chunk + 1) // nchunks
        for g0 in range(rows * chunk // nchunks, r_hi, ROW_GROUP):
            g1 = min(g0 + ROW_GROUP, r_hi)
            if staged:
                for row in range(g0, g1):
                    n = row // oh_count
                    oh = row - n * oh_count
                    i0, i1 = _tap_rows(oh, sh, dh, kh, lo_h, hc)
                    _stage_rows(x, src, (row - g0) * slot, geo, n, oh, i0, i1)
            # block-major over the group: a block's filter (T * C * 64 floats) serves
            # ROW_GROUP rows while it is in L2 (256 channels: 2.4 MB of filter, over the
            # L2, went through once per output row of 8 pixels)
            for b in range(blk_o.shape[0]):
                for row in range(g0, g1):
                    n = row // oh_count
                    oh = row - n * oh_count
                    i0, i1 = _tap_rows(oh, sh, dh, kh, lo_h, hc)
                    if staged:
                        xrow = (row - g0) * slot
                    else:
                        xrow = (n * hp + oh * sh) * wp * c_count
                    y, ybase = ((ydirect, row * yslot) if direct
                                else (yrow, (row - g0) * yslot))
                    for k in range(tile_s.shape[0]):
                        ow0 = tile_s[k]
                        _fwd_dispatch(tile_p[k], blk_v[b], src, xrow + ow0 * sw * c_count,
                                      sw * c_count, w, taps * blk_o[b], inner, tap_x, tap_w,
                                      i0 * tpr, i1 * tpr, y, ybase + ow0 * op + blk_o[b], op)
            if direct:
                continue
            for row in range(g0, g1):
                n = row // oh_count
                oh = row - n * oh_count
                if yflat.shape[0] > 0:
                    o_count = out.shape[1]
                    _transpose_block(yrow, (row - g0) * yslot, op, yflat,
                                     (n * o_count * oh_count + oh) * ow_count,
                                     oh_count * ow_count, ow_count, o_count)
                else:
                    _copy_row_out(yrow, (row - g0) * yslot, out, n, oh, op)


@njit(cache=True, nogil=True, parallel=True)
def pack_cotangent(ct, ctf, dy, op, nchunks):
    """``dy[((n * OH + a) * OW + b) * op + o] = ct[n, o, a, b]``, zero for ``o >= O``;
    ``ctf`` is ``ct`` flat when it is NCHW-contiguous (16 x 16 block copies), else empty."""
    n_img, o_count, oh, ow = ct.shape
    o_inner = ct.strides[1] <= ct.strides[3]
    rows = n_img * oh
    for chunk in prange(nchunks):
        for row in range(rows * chunk // nchunks, rows * (chunk + 1) // nchunks):
            n = row // oh
            a = row - n * oh
            base = row * ow * op
            if ctf.shape[0] > 0:
                _transpose_block(ctf, (n * o_count * oh + a) * ow, oh * ow, dy, base, op,
                                 o_count, ow)
            elif o_inner:
                for b in range(ow):
                    for o in range(o_count):
                        dy[_u(base + b * op + o)] = ct[n, _u(o), a, _u(b)]
            else:
                for o in range(o_count):
                    for b in range(ow):
                        dy[_u(base + b * op + o)] = ct[n, _u(o), a, _u(b)]
            for b in range(ow):
                for o in range(o_count, op):
                    dy[_u(base + b * op + o)] = 0


@njit(cache=True, nogil=True)
def _gf_tile(acc, xp, x_off, xstep, dy, d_off, op, ow, r0, r1, geo, i, y, yi, ystep, first):
    """Accumulates ``acc[k][v] += sum_pixels xp[pixel at tap + k] * dy[pixel, o0 + 16v]``
    over output rows ``[r0, r1)``, skipping the rows where window row ``i`` is padding;
    then adds the tile into ``y`` (stores it there when ``first``: no zeroing pass)."""
    hp, wp, c_count, oh_count, sh, dh, lo_h, hc = geo
    n = r0 // oh_count  # the row's image and output row, counted (a division per row
    oh = r0 - n * oh_count  # cost ~15% on 8-pixel rows)
    xrow = wp * c_count
    for row in range(r0, r1):
        h = oh * sh + i * dh
        xi = (n * hp + h) * xrow + x_off
        di = row * ow * op + d_off
        oh += 1
        if oh == oh_count:
            oh = 0
            n += 1
        if h < lo_h or h >= lo_h + hc:
            continue
        for _ in range(ow >> 2):  # four pixels a step, as _fwd_tile's channels
            acc = tile_fma(acc, dy, di, xp, xi, 1)
            acc = tile_fma(acc, dy, di + op, xp, xi + xstep, 1)
            acc = tile_fma(acc, dy, di + 2 * op, xp, xi + 2 * xstep, 1)
            acc = tile_fma(acc, dy, di + 3 * op, xp, xi + 3 * xstep, 1)
            xi += 4 * xstep
            di += 4 * op
        for _ in range(ow & 3):
            acc = tile_fma(acc, dy, di, xp, xi, 1)
            xi += xstep
            di += op
    if first:
        tile_store(acc, y, yi, ystep)
    else:
        tile_add(acc, y, yi, ystep)


@njit(cache=True, nogil=True)
def _gf_dispatch(cb, v, xp, x_off, xstep, dy, d_off, op, ow, r0, r1, geo, i, y, yi, first):
    """One ``cb``-channel x ``16 * v``-output tile (1 <= v <= 4; 1 <= cb <= 6 with
    ``v == 4``, else ``cb <= 4``)."""
    a = (xp, x_off, xstep, dy, d_off, op, ow, r0, r1, geo, i, y, yi, 16 * v, first)
    if v == 4:
        if cb == 6:
            _gf_tile(tile_zeros(6, 4), *a)
        elif cb == 5:
            _gf_tile(tile_zeros(5, 4), *a)
        elif cb == 4:
            _gf_tile(tile_zeros(4, 4), *a)
        elif cb == 3:
            _gf_tile(tile_zeros(3, 4), *a)
        elif cb == 2:
            _gf_tile(tile_zeros(2, 4), *a)
        else:
            _gf_tile(tile_zeros(1, 4), *a)
    elif v == 3:
        if cb == 4:
            _gf_tile(tile_zeros(4, 3), *a)
        elif cb == 3:
            _gf_tile(tile_zeros(3, 3), *a)
        elif cb == 2:
            _gf_tile(tile_zeros(2, 3), *a)
        else:
            _gf_tile(tile_zeros(1, 3), *a)
    elif v == 2:
        if cb == 4:
            _gf_tile(tile_zeros(4, 2), *a)
        elif cb == 3:
            _gf_tile(tile_zeros(3, 2), *a)
        elif cb == 2:
            _gf_tile(tile_zeros(2, 2), *a)
        else:
            _gf_tile(tile_zeros(1, 2), *a)
    else:
        if cb == 4:
            _gf_tile(tile_zeros(4, 1), *a)
        elif cb == 3:
            _gf_tile(tile_zeros(3, 1), *a)
        elif cb == 2:
            _gf_tile(tile_zeros(2, 1), *a)
        else:
            _gf_tile(tile_zeros(1, 1), *a)


@njit(cache=True, nogil=True, parallel=True)
def grad_filter(xp, dy, dw, geo, blk_o, blk_v, run_rows):
    """``dw[k]`` (blocked layout) = chunk ``k``'s share of the filter gradient.

    ``geo = (hp, wp, C, OH, OW, Op, sh, sw, dh, dw, kh, kw, lo_h, hc)``; ``dy`` is the
    packed cotangent (``pack_cotangent``); the output rows are cut into runs of
    ``run_rows`` rows, the runs split evenly over the ``dw.shape[0]`` chunks.
    """
    hp, wp, c_count, oh_count, ow, op, sh, sw, dh, dwl, kh, kw, lo_h, hc = geo
    rows = dy.shape[0] // (ow * op)
    runs = (rows + run_rows - 1) // run_rows
    taps = kh * kw * c_count
    g2 = (hp, wp, c_count, oh_count, sh, dh, lo_h, hc)
    nchunks = dw.shape[0]
    # without column dilation a window row's kw taps x C channels are one run, in the
    # input and in the blocked gradient alike: tiles walk it whole (fewer partial tiles)
    jn, run_len = (1, kw * c_count) if dwl == 1 else (kw, c_count)
    for chunk in prange(nchunks):
        y = dw[chunk]
        run0 = runs * chunk // nchunks  # its tiles store, later runs' add (nchunks <= runs)
        for run in range(run0, runs * (chunk + 1) // nchunks):
            r0 = run * run_rows
            r1 = min(r0 + run_rows, rows)
            for b in range(blk_o.shape[0]):
                vw = 16 * blk_v[b]
                # 6 channels x 64 outputs: each cotangent vector loaded serves 6 FMAs
                cb = 6 if blk_v[b] == 4 else 4
                for i in range(kh):
                    for j in range(jn):
                        t = i * kw + j
                        for c0 in range(0, run_len, cb):
                            _gf_dispatch(min(cb, run_len - c0), blk_v[b], xp,
                                         j * dwl * c_count + c0, sw * c_count, dy, blk_o[b],
                                         op, ow, r0, r1, g2, i, y,
                                         taps * blk_o[b] + (t * c_count + c0) * vw,
                                         run == run0)


@njit(cache=True, nogil=True, parallel=True)
def block_weights(w4, flat, starts, vecs, flip):
    """The blocked filter (module docstring) of ``w4`` (canonical ``(O, C, KH, KW)``, any
    strides); with ``flip``, of the input gradient's filter (flipped in space, channel
    axes swapped). Output channels past the real ones are zero."""
    o_count, c_count, kh, kw = w4.shape
    cin, cout = (o_count, c_count) if flip else (c_count, o_count)
    taps = kh * kw
    for t in prange(taps):
        i = t // kw
        j = t - i * kw
        for b in range(starts.shape[0]):
            s = starts[b]
            width = 16 * vecs[b]
            real = min(width, cout - s)
            base = taps * cin * s + t * cin * width
            for ci in range(cin):
                row = base + ci * width
                if flip:
                    for jj in range(real):
                        flat[_u(row + jj)] = w4[_u(ci), _u(s + jj), _u(kh - 1 - i),
                                                _u(kw - 1 - j)]
                else:
                    for jj in range(real):
                        flat[_u(row + jj)] = w4[_u(s + jj), _u(ci), _u(i), _u(j)]
                for jj in range(real, width):
                    flat[_u(row + jj)] = 0


@njit(cache=True, nogil=True, parallel=True)
def unblock_sum(acc, dw4, starts, vecs):
    """``dw4`` (canonical ``(O, C, KH, KW)``, any strides) = the sum over the slots
    ``acc[k]`` of blocked filter gradients, added in slot order (as ``acc.sum(0)``)."""
    o_count, c_count, kh, kw = dw4.shape
    taps = kh * kw
    slots = acc.shape[0]
    for t in prange(taps):
        i = t // kw
        j = t - i * kw
        for b in range(starts.shape[0]):
            s = starts[b]
            width = 16 * vecs[b]
            base = taps * c_count * s + t * c_count * width
            for ci in range(c_count):
                row = base + ci * width
                for jj in range(min(width, o_count - s)):
                    tot = acc[0, _u(row + jj)]
                    for k in range(1, slots):
                        tot += acc[k, _u(row + jj)]
                    dw4[_u(s + jj), _u(ci), _u(i), _u(j)] = tot

