"""Numba kernels of the CPU convolution lowerings (``conv.py``): packing to and
from the "wide" layout in which a convolution is a sum of plain GEMMs.

The wide layout (see ``conv.py``): the zero-padded input of one stride phase
``(p, r)`` is stored with ``Ws`` elements per row and ``Hs`` rows per image, all
images stacked, so that input element ``(n, a, b)`` of the phase picture sits at
``(n * Hs + a) * Ws + b``. A window tap is then a constant offset, and the taps'
operands are strided views of one buffer. ``*_cf`` kernels keep channels outer
(``buf[phase, channel, position]``), ``*_cl`` kernels keep them inner
(``buf[phase, position, channel]``). Every kernel works on a range of wide rows
``[r0, r1)`` (row ``r`` = image ``r // Hs``, row ``r % Hs``) so that the caller
can run it chunk by chunk between GEMMs while the data is in cache.

Arrays are passed as canonical-order views of any strides: ``x`` as
``(N, C, H, W)``, outputs as ``(N, O, OH, OW)``. The kernels are serial on
purpose: they are memory-bound and run between multi-threaded BLAS calls,
whose threads would fight a parallel loop for the cores (docs/performance.md).
Imported on first use of a conv lowering, so ``import functrace`` does not
import Numba.

Inner-loop indices are cast to ``uint64`` (``_u``): Numba then skips its
negative-index wraparound test, which otherwise blocks vectorisation of these
copy loops (docs/performance.md). Every such index is non-negative by
construction.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .numba_cache import ensure_numba_can_cache

ensure_numba_can_cache(__file__)  # before the first cache=True kernel

_u = np.uint64


@njit(cache=True, nogil=True)
def _ceil_div(a, b):
    return -((-a) // b)


@njit(cache=True, nogil=True)
def _valid_cols(q, sw, lo_w, wc, ws):
    """The phase-``q`` columns ``b`` whose input column ``b*sw + q - lo_w`` is in [0, wc)."""
    b_lo = min(max(_ceil_div(lo_w - q, sw), 0), ws)
    b_hi = min(max(_ceil_div(wc + lo_w - q, sw), b_lo), ws)
    return b_lo, b_hi


@njit(cache=True, nogil=True)
def _pack_phase_cf(x, bk, p, q, r0, r1, n_img, hs, ws, sh, sw, lo_h, lo_w, h0, w0, hc, wc):
    c_count = x.shape[1]
    b_lo, b_hi = _valid_cols(q, sw, lo_w, wc, ws)
    src0 = w0 + b_lo * sw + q - lo_w   # input column of b_lo (>= 0)
    for c in range(c_count):
        n = r0 // hs
        a = r0 - n * hs
        base = r0 * ws
        for _ in range(r0, r1):
            h = a * sh + p - lo_h
            if n >= n_img or h < 0 or h >= hc:
                for b in range(ws):
                    bk[c, _u(base + b)] = 0
            else:
                hi = h0 + h
                for b in range(b_lo):
                    bk[c, _u(base + b)] = 0
                dst0 = base + b_lo
                if sw == 1:
                    for b in range(b_hi - b_lo):
                        bk[c, _u(dst0 + b)] = x[n, c, hi, _u(src0 + b)]
                else:
                    for b in range(b_hi - b_lo):
                        bk[c, _u(dst0 + b)] = x[n, c, hi, _u(src0 + b * sw)]
                for b in range(b_hi, ws):
                    bk[c, _u(base + b)] = 0
            base += ws
            a += 1
            if a == hs:
                a = 0
                n += 1


@njit(cache=True, nogil=True)
def pack_cf(x, buf, ph_p, ph_r, r0, r1, n_img, hs, ws, sh, sw, lo_h, lo_w, h0, w0, hc, wc):
    """Writes wide rows [r0, r1) of every used phase of the padded input into
    ``buf[phase, c, position]``; rows of images >= n_img (the tail) are zeros.

    Channel-outer: each channel's destination is one contiguous stream (a loop
    over rows first would touch C rows 4 KiB apart at once and thrash the cache).
    """
    for k in range(ph_p.shape[0]):
        _pack_phase_cf(x, buf[k], ph_p[k], ph_r[k], r0, r1, n_img, hs, ws, sh, sw, lo_h, lo_w,
                       h0, w0, hc, wc)


@njit(cache=True, nogil=True)
def _pack_phase_cl(x, bk, p, q, r0, r1, n_img, hs, ws, sh, sw, lo_h, lo_w, h0, w0, hc, wc):
    c_count = x.shape[1]
    c_inner = x.strides[1] <= x.strides[3]
    b_lo, b_hi = _valid_cols(q, sw, lo_w, wc, ws)
    src0 = w0 + b_lo * sw + q - lo_w
    n = r0 // hs
    a = r0 - n * hs
    base = r0 * ws
    for _ in range(r0, r1):
        h = a * sh + p - lo_h
        if n >= n_img or h < 0 or h >= hc:
            for b in range(ws):
                for c in range(c_count):
                    bk[_u(base + b), _u(c)] = 0
        else:
            hi = h0 + h
            for b in range(b_lo):
                for c in range(c_count):
                    bk[_u(base + b), _u(c)] = 0
            dst0 = base + b_lo
            if c_inner:
                for b in range(b_hi - b_lo):
                    wi = src0 + b * sw
                    for c in range(c_count):
                        bk[_u(dst0 + b), _u(c)] = x[n, _u(c), hi, _u(wi)]
            else:
                for c in range(c_count):
                    for b in range(b_hi - b_lo):
                        bk[_u(dst0 + b), _u(c)] = x[n, _u(c), hi, _u(src0 + b * sw)]
            for b in range(b_hi, ws):
                for c in range(c_count):
                    bk[_u(base + b), _u(c)] = 0
        base += ws
        a += 1
        if a == hs:
            a = 0
            n += 1


@njit(cache=True, nogil=True)
def pack_cl(x, buf, ph_p, ph_r, r0, r1, n_img, hs, ws, sh, sw, lo_h, lo_w, h0, w0, hc, wc):
    """As ``pack_cf`` into ``buf[phase, position, c]``."""
    for k in range(ph_p.shape[0]):
        _pack_phase_cl(x, buf[k], ph_p[k], ph_r[k], r0, r1, n_img, hs, ws, sh, sw, lo_h, lo_w,
                       h0, w0, hc, wc)


@njit(cache=True, nogil=True)
def unpack_out_cf(y, out, r0, r1, hs, ws):
    """``out[n, o, a, b] = y[o, (r - r0) * ws + b]`` for the wide rows ``r`` in [r0, r1)
    that hold outputs (``a < OH``); ``y`` is the GEMM result of those rows."""
    n_img, o_count, oh, ow = out.shape
    for o in range(o_count):
        n = r0 // hs
        a = r0 - n * hs
        col = 0
        for _ in range(r0, r1):
            if n < n_img and a < oh:
                for b in range(ow):
                    out[n, o, a, _u(b)] = y[o, _u(col + b)]
            col += ws
            a += 1
            if a == hs:
                a = 0
                n += 1


@njit(cache=True, nogil=True)
def unpack_out_cl(y, out, r0, r1, hs, ws):
    """As ``unpack_out_cf`` from ``y[(r - r0) * ws + b, o]``."""
    n_img, o_count, oh, ow = out.shape
    o_inner = out.strides[1] <= out.strides[3]
    n = r0 // hs
    a = r0 - n * hs
    col = 0
    for _ in range(r0, r1):
        if n < n_img and a < oh:
            if o_inner:
                for b in range(ow):
                    for o in range(o_count):
                        out[n, _u(o), a, _u(b)] = y[_u(col + b), _u(o)]
            else:
                for o in range(o_count):
                    for b in range(ow):
                        out[n, _u(o), a, _u(b)] = y[_u(col + b), _u(o)]
        col += ws
        a += 1
        if a == hs:
            a = 0
            n += 1


@njit(cache=True, nogil=True)
def pack_ct_cf(ct, d, r0, r1, hs, ws):
    """The adjoint of ``unpack_out_cf``: ``d[o, (r - r0) * ws + b] = ct[n, o, a, b]``,
    zero at the positions that hold no output."""
    n_img, o_count, oh, ow = ct.shape
    for o in range(o_count):
        n = r0 // hs
        a = r0 - n * hs
        col = 0
        for _ in range(r0, r1):
            if n >= n_img or a >= oh:
                for b in range(ws):
                    d[o, _u(col + b)] = 0
            else:
                for b in range(ow):
                    d[o, _u(col + b)] = ct[n, o, a, _u(b)]
                for b in range(ow, ws):
                    d[o, _u(col + b)] = 0
            col += ws
            a += 1
            if a == hs:
                a = 0
                n += 1


@njit(cache=True, nogil=True)
def pack_ct_cl(ct, d, r0, r1, hs, ws):
    """As ``pack_ct_cf`` into ``d[(r - r0) * ws + b, o]``."""
    n_img, o_count, oh, ow = ct.shape
    o_inner = ct.strides[1] <= ct.strides[3]
    n = r0 // hs
    a = r0 - n * hs
    col = 0
    for _ in range(r0, r1):
        if n >= n_img or a >= oh:
            for b in range(ws):
                for o in range(o_count):
                    d[_u(col + b), _u(o)] = 0
        else:
            if o_inner:
                for b in range(ow):
                    for o in range(o_count):
                        d[_u(col + b), _u(o)] = ct[n, _u(o), a, _u(b)]
            else:
                for o in range(o_count):
                    for b in range(ow):
                        d[_u(col + b), _u(o)] = ct[n, _u(o), a, _u(b)]
            for b in range(ow, ws):
                for o in range(o_count):
                    d[_u(col + b), _u(o)] = 0
        col += ws
        a += 1
        if a == hs:
            a = 0
            n += 1


@njit(cache=True, nogil=True)
def unpack_in_cf(g, dx, ph_index, r0, r1, hs, ws, sh, sw, lo_h, lo_w, h0, w0, hc, wc):
    """The adjoint of ``pack_cf``: writes the input rows that wide rows [r0, r1) hold,
    ``dx[n, c, h0 + h, w0 + w] = g[phase, c, position]`` (zero for unused phases).
    ``ph_index[p, q]`` is the buffer index of phase ``(p, q)`` or -1."""
    n_img, c_count = dx.shape[0], dx.shape[1]
    for c in range(c_count):
        n = r0 // hs
        a = r0 - n * hs
        base = r0 * ws
        for _ in range(r0, r1):
            if n < n_img:
                for p in range(sh):
                    h = a * sh + p - lo_h
                    if h < 0 or h >= hc:
                        continue
                    hi = h0 + h
                    if sw == 1:
                        k = ph_index[p, 0]
                        if k < 0:
                            for w in range(wc):
                                dx[n, c, hi, _u(w0 + w)] = 0
                        else:
                            src0 = base + lo_w
                            for w in range(wc):
                                dx[n, c, hi, _u(w0 + w)] = g[k, c, _u(src0 + w)]
                    else:
                        for w in range(wc):
                            wp = w + lo_w
                            b = wp // sw
                            k = ph_index[p, wp - b * sw]
                            dx[n, c, hi, _u(w0 + w)] = g[k, c, _u(base + b)] if k >= 0 else 0
            base += ws
            a += 1
            if a == hs:
                a = 0
                n += 1


@njit(cache=True, nogil=True)
def unpack_in_cl(g, dx, ph_index, r0, r1, hs, ws, sh, sw, lo_h, lo_w, h0, w0, hc, wc):
    """As ``unpack_in_cf`` from ``g[phase, position, c]``."""
    n_img, c_count = dx.shape[0], dx.shape[1]
    c_inner = dx.strides[1] <= dx.strides[3]
    n = r0 // hs
    a = r0 - n * hs
    base = r0 * ws
    for _ in range(r0, r1):
        if n < n_img:
            for p in range(sh):
                h = a * sh + p - lo_h
                if h < 0 or h >= hc:
                    continue
                hi = h0 + h
                if sw == 1:
                    k = ph_index[p, 0]
                    src0 = base + lo_w
                    if k < 0:
                        for c in range(c_count):
                            for w in range(wc):
                                dx[n, _u(c), hi, _u(w0 + w)] = 0
                    elif c_inner:
                        for w in range(wc):
                            for c in range(c_count):
                                dx[n, _u(c), hi, _u(w0 + w)] = g[k, _u(src0 + w), _u(c)]
                    else:
                        for c in range(c_count):
                            for w in range(wc):
                                dx[n, _u(c), hi, _u(w0 + w)] = g[k, _u(src0 + w), _u(c)]
                else:
                    for w in range(wc):
                        wp = w + lo_w
                        b = wp // sw
                        k = ph_index[p, wp - b * sw]
                        for c in range(c_count):
                            dx[n, _u(c), hi, _u(w0 + w)] = g[k, _u(base + b), _u(c)] if k >= 0 \
                                else 0
        base += ws
        a += 1
        if a == hs:
            a = 0
            n += 1
