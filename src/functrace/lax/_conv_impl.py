"""NumPy reference kernels of the three convolution primitives (see ``conv.py``).

They work on canonical layouts: lhs ``(N, C, *S)``, rhs ``(O, I, *K)``, output
``(N, O, *P)``; ``conv.py`` transposes to and from the user's dimension numbers.
Every kernel is vectorised: the input is padded and lhs-dilated in one copy,
windows are strided views (``sliding_window_view``, honouring window strides and
rhs dilation), and each contraction is one ``np.matmul`` batched over the
feature groups (one GEMM, BLAS for floats). The gradient w.r.t. the input is a
col2im without scatters: one GEMM, then one strided-slice add per kernel offset.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

Pads = Sequence[tuple[int, int]]


def dilate_dim(d: int, rate: int) -> int:
    """The size of a dim of ``d`` elements after inserting ``rate - 1`` zeros between them."""
    return 0 if d == 0 else 1 + rate * (d - 1)


def conv_out_spatial(in_spatial, k_spatial, strides, padding: Pads, lhs_dilation,
                     rhs_dilation) -> tuple[int, ...]:
    """Output spatial sizes (0 where the window does not fit in the padded input)."""
    return tuple(
        max(0, (dilate_dim(s, ld) + lo + hi - dilate_dim(k, rd)) // st + 1)
        for s, k, st, (lo, hi), ld, rd in zip(in_spatial, k_spatial, strides, padding,
                                              lhs_dilation, rhs_dilation, strict=True))


# ---------------------------------------------------------------------------
# padding + lhs dilation (and its adjoint)

def _embedding(size: int, lo: int, rate: int, new_size: int) -> tuple[slice, slice] | None:
    """Element ``j`` of an axis lands at ``lo + rate * j`` of an axis of ``new_size``.

    Returns (source slice, destination slice) of the elements that land inside,
    or None if none does (negative padding may cut any of them away).
    """
    j0 = max(0, -(lo // rate))  # ceil(-lo / rate)
    j1 = min(size, (new_size - 1 - lo) // rate + 1)
    if j1 <= j0:
        return None
    return slice(j0, j1), slice(lo + rate * j0, lo + rate * (j1 - 1) + 1, rate)


def _embeddings(shape, padding: Pads, dilation, new_spatial):
    src, dst = [slice(None)] * 2, [slice(None)] * 2
    spatial = shape[2:2 + len(padding)]
    for size, (lo, _), rate, new in zip(spatial, padding, dilation, new_spatial, strict=True):
        pair = _embedding(size, lo, rate, new)
        if pair is None:
            return None
        src.append(pair[0])
        dst.append(pair[1])
    return tuple(src), tuple(dst)


def _trivial(padding: Pads, dilation) -> bool:
    return all(p == (0, 0) for p in padding) and all(r == 1 for r in dilation)


def pad_dilate(x: np.ndarray, padding: Pads, dilation) -> np.ndarray:
    """Inserts ``dilation - 1`` zeros between the spatial elements of ``x`` (the
    ``len(padding)`` dims from dim 2 on), then pads with zeros (negative padding crops)."""
    if _trivial(padding, dilation):
        return x
    nd = len(padding)
    new_spatial = tuple(dilate_dim(s, r) + lo + hi for s, (lo, hi), r
                        in zip(x.shape[2:2 + nd], padding, dilation, strict=True))
    out = np.zeros(x.shape[:2] + new_spatial + x.shape[2 + nd:], x.dtype)
    emb = _embeddings(x.shape, padding, dilation, new_spatial)
    if emb is not None:
        out[emb[1]] = x[emb[0]]
    return out


def unpad_undilate(y: np.ndarray, padding: Pads, dilation, spatial) -> np.ndarray:
    """The adjoint of ``pad_dilate``: reads back the elements of an input of ``spatial``
    size; elements that padding cropped away get zero."""
    if _trivial(padding, dilation):
        return y
    nd = len(padding)
    out = np.zeros(y.shape[:2] + tuple(spatial) + y.shape[2 + nd:], y.dtype)
    emb = _embeddings(out.shape, padding, dilation, y.shape[2:2 + nd])
    if emb is not None:
        out[emb[0]] = y[emb[1]]
    return out


# ---------------------------------------------------------------------------
# windows

def _windows(xp: np.ndarray, k_spatial, strides, rhs_dilation, out_spatial) -> np.ndarray:
    """A strided view ``(N, C, *P, *K)`` of the padded input: element
    ``[n, c, p, k] = xp[n, c, p * stride + k * rhs_dilation]``."""
    nd = len(k_spatial)
    eff = tuple(dilate_dim(k, r) for k, r in zip(k_spatial, rhs_dilation, strict=True))
    view = sliding_window_view(xp, eff, axis=tuple(range(2, 2 + nd)))
    index = ((slice(None),) * 2
             + tuple(slice(0, (p - 1) * s + 1, s) for p, s in zip(out_spatial, strides,
                                                                   strict=True))
             + tuple(slice(None, None, r) for r in rhs_dilation))
    return view[index]


def _im2col(win: np.ndarray, groups: int) -> np.ndarray:
    """``(N, C, *P, *K)`` windows -> ``(G, N * prod(P), C/G * prod(K))`` (one copy)."""
    n, c = win.shape[:2]
    nd = (win.ndim - 2) // 2
    p, k = win.shape[2:2 + nd], win.shape[2 + nd:]
    grouped = win.reshape((n, groups, c // groups) + p + k)
    perm = (1, 0) + tuple(range(3, 3 + nd)) + (2,) + tuple(range(3 + nd, 3 + 2 * nd))
    return grouped.transpose(perm).reshape(groups, n * math.prod(p), -1)


def _grouped_ct(ct: np.ndarray, groups: int, channels_last: bool) -> np.ndarray:
    """``(N, O, *P)`` -> ``(G, N * prod(P), O/G)`` or, if not channels_last, ``(G, O/G, N * P)``."""
    n, o = ct.shape[:2]
    p = math.prod(ct.shape[2:])
    g = ct.reshape(n, groups, o // groups, p)
    perm = (1, 0, 3, 2) if channels_last else (1, 2, 0, 3)
    shape = (groups, n * p, o // groups) if channels_last else (groups, o // groups, n * p)
    return g.transpose(perm).reshape(shape)


def _ungroup_channels(y: np.ndarray, nd: int) -> np.ndarray:
    """``(G, N, *spatial, Cg)`` -> ``(N, G * Cg, *spatial)`` (a view when G == 1)."""
    g, n = y.shape[:2]
    spatial, cg = y.shape[2:2 + nd], y.shape[-1]
    perm = (1, 0, nd + 2) + tuple(range(2, 2 + nd))
    moved = y.transpose(perm)
    if g == 1:
        return moved[:, 0]
    return moved.reshape((n, g * cg) + spatial)


# ---------------------------------------------------------------------------
# the three kernels (feature groups); batch groups are handled below

def _conv(x, w, strides, padding, lhs_dilation, rhs_dilation, groups, compute):
    nd = x.ndim - 2
    xp = pad_dilate(x, padding, lhs_dilation)
    k_spatial = w.shape[2:]
    out_spatial = conv_out_spatial(x.shape[2:], k_spatial, strides, padding, lhs_dilation,
                                   rhs_dilation)
    if 0 in out_spatial or 0 in x.shape[:1] + w.shape[:1]:  # empty (also: no window fits)
        return np.zeros((x.shape[0], w.shape[0]) + out_spatial, compute)
    cols = _im2col(_windows(xp, k_spatial, strides, rhs_dilation, out_spatial), groups)
    o = w.shape[0]
    wm = w.reshape(groups, o // groups, -1).transpose(0, 2, 1)
    out = np.matmul(cols.astype(compute, copy=False), wm.astype(compute, copy=False))
    return _ungroup_channels(out.reshape((groups, x.shape[0]) + out_spatial + (-1,)), nd)


def _conv_grad_input(ct, w, in_spatial, strides, padding, lhs_dilation, rhs_dilation, groups):
    nd = ct.ndim - 2
    n, o = ct.shape[:2]
    out_spatial, k_spatial = ct.shape[2:], w.shape[2:]
    ig = w.shape[1]
    if ct.size == 0:  # an empty output read nothing
        return np.zeros((n, ig * groups) + tuple(in_spatial), ct.dtype)
    # cols[g, n, p, k, i] = sum_o ct[n, g*Og + o, p] * w[g*Og + o, i, k]: one GEMM
    wm = w.reshape(groups, o // groups, ig, -1).transpose(0, 1, 3, 2)
    wm = wm.reshape(groups, o // groups, -1)
    cols = np.matmul(_grouped_ct(ct, groups, True), wm)
    cols = cols.reshape((groups, n) + out_spatial + k_spatial + (ig,))
    padded = tuple(dilate_dim(s, ld) + lo + hi for s, (lo, hi), ld
                   in zip(in_spatial, padding, lhs_dilation, strict=True))
    # col2im: window element k of output position p read padded position p*stride + k*rate
    acc = np.zeros((groups, n) + padded + (ig,), cols.dtype)
    lead = (slice(None),) * (2 + nd)
    for koff in np.ndindex(*k_spatial):
        dst = tuple(slice(k * r, k * r + (p - 1) * s + 1, s) for k, r, p, s
                    in zip(koff, rhs_dilation, out_spatial, strides, strict=True))
        acc[(slice(None), slice(None)) + dst] += cols[lead + koff]
    # (G, N, *S', Ig): undo padding and dilation on the spatial dims, then ungroup
    return _ungroup_channels(unpad_undilate(acc, padding, lhs_dilation, in_spatial), nd)


def _conv_grad_filter(x, ct, k_spatial, strides, padding, lhs_dilation, rhs_dilation, groups):
    if ct.size == 0:
        return np.zeros((ct.shape[1], x.shape[1] // groups) + tuple(k_spatial), ct.dtype)
    xp = pad_dilate(x, padding, lhs_dilation)
    cols = _im2col(_windows(xp, k_spatial, strides, rhs_dilation, ct.shape[2:]), groups)
    dw = np.matmul(_grouped_ct(ct, groups, False), cols)
    o = ct.shape[1]
    return dw.reshape((o, x.shape[1] // groups) + tuple(k_spatial))


# ---------------------------------------------------------------------------
# public entry points: batch groups split the batch of lhs and the output features

def conv(x, w, *, strides, padding, lhs_dilation, rhs_dilation, feature_group_count,
         batch_group_count, out_dtype):
    """``out[n, o, p] = sum_{i, k} xpd[n, g(o)*I + i, p * stride + k * rhs_dilation] * w[o, i, k]``
    where ``xpd`` is ``x`` lhs-dilated then padded and ``g(o)`` the feature group of ``o``."""
    out_dtype = np.dtype(out_dtype)
    compute = np.promote_types(x.dtype, out_dtype)
    args = (strides, padding, lhs_dilation, rhs_dilation, feature_group_count, compute)
    if batch_group_count == 1:
        out = _conv(x, w, *args)
    else:
        parts = zip(np.split(x, batch_group_count, 0), np.split(w, batch_group_count, 0),
                    strict=True)
        out = np.concatenate([_conv(xb, wb, *args) for xb, wb in parts], axis=1)
    return out.astype(out_dtype, copy=False)


def conv_grad_input(ct, w, *, in_spatial, strides, padding, lhs_dilation, rhs_dilation,
                    feature_group_count, batch_group_count):
    """The cotangent of ``x`` in ``conv(x, w)`` given the output cotangent ``ct``."""
    args = (tuple(in_spatial), strides, padding, lhs_dilation, rhs_dilation,
            feature_group_count)
    if batch_group_count == 1:
        return _conv_grad_input(ct, w, *args)
    parts = zip(np.split(ct, batch_group_count, 1), np.split(w, batch_group_count, 0),
                strict=True)
    return np.concatenate([_conv_grad_input(cb, wb, *args) for cb, wb in parts], axis=0)


def conv_grad_filter(x, ct, *, k_spatial, strides, padding, lhs_dilation, rhs_dilation,
                     feature_group_count, batch_group_count):
    """The cotangent of ``w`` in ``conv(x, w)`` given the output cotangent ``ct``."""
    args = (tuple(k_spatial), strides, padding, lhs_dilation, rhs_dilation,
            feature_group_count)
    if batch_group_count == 1:
        return _conv_grad_filter(x, ct, *args)
    parts = zip(np.split(x, batch_group_count, 0), np.split(ct, batch_group_count, 1),
                strict=True)
    return np.concatenate([_conv_grad_filter(xb, cb, *args) for xb, cb in parts], axis=0)
