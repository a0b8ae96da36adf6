"""Numba loops of the Winograd convolutions (``winograd.py``): the input transform
``V = B^T d B`` of every 4x4 tile, the output transform ``Y = A^T M A`` back to 2x2
outputs, for channels-first (NCHW, tiles along the innermost loop) and channels-last (NHWC,
channels innermost) arrays. Straight-line arithmetic on unit-stride rows (even
and odd columns are split apart first where tiles overlap), so LLVM vectorises
the inner loops; serial (memory-bound, and the GEMMs between them use
OpenBLAS's threads).

    B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]
"""

import numpy as np
from numba import njit

from ..backends.numba_cpu.numba_cache import ensure_numba_can_cache

ensure_numba_can_cache(__file__)  # before the first cache=True kernel


@njit(cache=True, nogil=True, inline="always")
def _bt(d0, d1, d2, d3):
    return d0 - d2, d1 + d2, d2 - d1, d1 - d3


@njit(cache=True, nogil=True, inline="always")
def _at(m0, m1, m2, m3):
    return m0 + m1 + m2, m1 - m2 - m3


@njit(cache=True, nogil=True)
def input_cf(xp, v, th, tw):
    """xp: padded (N, C, 2*th + 2, 2*tw + 2); v: (16, C, N*th*tw).

    Per row of tiles: ``B^T d`` on whole rows, then its even and odd columns are
    split apart, so that ``(B^T d) B`` reads and writes with unit stride only."""
    n_img, chans = xp.shape[0], xp.shape[1]
    ev = np.empty((4, tw + 1), xp.dtype)
    od = np.empty((4, tw + 1), xp.dtype)
    for c in range(chans):
        for n in range(n_img):
            for a in range(th):
                r0, r1, r2, r3 = xp[n, c, 2 * a], xp[n, c, 2 * a + 1], \
                    xp[n, c, 2 * a + 2], xp[n, c, 2 * a + 3]
                for b in range(tw + 1):
                    j = 2 * b
                    ev[0, b], ev[1, b], ev[2, b], ev[3, b] = _bt(r0[j], r1[j], r2[j], r3[j])
                    od[0, b], od[1, b], od[2, b], od[3, b] = _bt(r0[j + 1], r1[j + 1],
                                                                 r2[j + 1], r3[j + 1])
                t0 = (n * th + a) * tw
                for k in range(4):
                    e, o = ev[k], od[k]
                    w0, w1, w2, w3 = v[4 * k, c], v[4 * k + 1, c], v[4 * k + 2, c], \
                        v[4 * k + 3, c]
                    for b in range(tw):
                        t = t0 + b
                        w0[t] = e[b] - e[b + 1]
                        w1[t] = o[b] + e[b + 1]
                        w2[t] = e[b + 1] - o[b]
                        w3[t] = o[b] - o[b + 1]


@njit(cache=True, nogil=True)
def output_cf(m, y, th, tw):
    """m: (16, O, N*th*tw); y: (N, O, 2*th, 2*tw). Per output channel, all tiles
    are transformed in one unit-stride pass into four scratch rows (the 2x2 outputs
    of every tile), which are then interleaved into the image."""
    n_img, outs = y.shape[0], y.shape[1]
    n_tiles = m.shape[2]
    q = np.empty((4, n_tiles), y.dtype)
    q0, q1, q2, q3 = q[0], q[1], q[2], q[3]
    for o in range(outs):
        m0, m1, m2, m3, m4, m5, m6, m7 = m[0, o], m[1, o], m[2, o], m[3, o], m[4, o], \
            m[5, o], m[6, o], m[7, o]
        m8, m9, m10, m11, m12, m13, m14, m15 = m[8, o], m[9, o], m[10, o], m[11, o], \
            m[12, o], m[13, o], m[14, o], m[15, o]
        for t in range(n_tiles):
            p00, p10 = _at(m0[t], m4[t], m8[t], m12[t])
            p01, p11 = _at(m1[t], m5[t], m9[t], m13[t])
            p02, p12 = _at(m2[t], m6[t], m10[t], m14[t])
            p03, p13 = _at(m3[t], m7[t], m11[t], m15[t])
            q0[t], q1[t] = _at(p00, p01, p02, p03)
            q2[t], q3[t] = _at(p10, p11, p12, p13)
        for n in range(n_img):
            for a in range(th):
                t0 = (n * th + a) * tw
                y0, y1 = y[n, o, 2 * a], y[n, o, 2 * a + 1]
                for b in range(tw):
                    y0[2 * b], y0[2 * b + 1] = q0[t0 + b], q1[t0 + b]
                    y1[2 * b], y1[2 * b + 1] = q2[t0 + b], q3[t0 + b]


@njit(cache=True, nogil=True)
def input_cl(xp, v, th, tw):
    """xp: padded (N, 2*th + 2, 2*tw + 2, C); v: (16, N*th*tw, C). Per row of tiles,
    ``B^T d`` on the four whole image rows (flat, unit stride), then ``(.) B``
    tile by tile with channels innermost."""
    n_img, wp, chans = xp.shape[0], xp.shape[2], xp.shape[3]
    e = np.empty((4, wp * chans), xp.dtype)
    e0, e1, e2, e3 = e[0], e[1], e[2], e[3]
    for n in range(n_img):
        for a in range(th):
            r0 = xp[n, 2 * a].reshape(-1)
            r1 = xp[n, 2 * a + 1].reshape(-1)
            r2 = xp[n, 2 * a + 2].reshape(-1)
            r3 = xp[n, 2 * a + 3].reshape(-1)
            for i in range(wp * chans):
                e0[i], e1[i], e2[i], e3[i] = _bt(r0[i], r1[i], r2[i], r3[i])
            t0 = (n * th + a) * tw
            for k in range(4):
                ek = e[k]
                w0, w1, w2, w3 = v[4 * k], v[4 * k + 1], v[4 * k + 2], v[4 * k + 3]
                for b in range(tw):
                    t, j = t0 + b, 2 * b * chans
                    for c in range(chans):
                        w0[t, c], w1[t, c], w2[t, c], w3[t, c] = _bt(
                            ek[j + c], ek[j + chans + c], ek[j + 2 * chans + c],
                            ek[j + 3 * chans + c])


@njit(cache=True, nogil=True)
def output_cl(m, y, th, tw):
    """m: (16, N*th*tw, O); y: (N, 2*th, 2*tw, O). Output channels innermost."""
    n_img, outs = y.shape[0], y.shape[3]
    m0, m1, m2, m3, m4, m5, m6, m7 = m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7]
    m8, m9, m10, m11, m12, m13, m14, m15 = m[8], m[9], m[10], m[11], m[12], m[13], m[14], \
        m[15]
    for n in range(n_img):
        for a in range(th):
            y0, y1 = y[n, 2 * a], y[n, 2 * a + 1]
            for b in range(tw):
                t = (n * th + a) * tw + b
                for o in range(outs):
                    p00, p10 = _at(m0[t, o], m4[t, o], m8[t, o], m12[t, o])
                    p01, p11 = _at(m1[t, o], m5[t, o], m9[t, o], m13[t, o])
                    p02, p12 = _at(m2[t, o], m6[t, o], m10[t, o], m14[t, o])
                    p03, p13 = _at(m3[t, o], m7[t, o], m11[t, o], m15[t, o])
                    y0[2 * b, o], y0[2 * b + 1, o] = _at(p00, p01, p02, p03)
                    y1[2 * b, o], y1[2 * b + 1, o] = _at(p10, p11, p12, p13)
