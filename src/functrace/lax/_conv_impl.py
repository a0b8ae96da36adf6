"""NumPy reference kernels of the three convolution primitives (see ``convolution.py``).

They work on canonical layouts: lhs ``(N, C, *S)``, rhs ``(O, I, *K)``, output
``(N, O, *P)``; ``convolution.py`` transposes to and from the user's dimension numbers.
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

from ._geometry import dilate_and_pad, dilate_dim, out_sizes, undilate_and_unpad

Pads = Sequence[tuple[int, int]]


# ---------------------------------------------------------------------------
# padding + lhs dilation (and its adjoint), on the spatial dims from dim 2 on

def _trivial(padding: Pads, dilation) -> bool:
    return all(p == (0, 0) for p in padding) and all(r == 1 for r in dilation)


def _every_dim(ndim: int, padding: Pads, dilation):
    """The spatial ``padding`` and ``dilation`` extended to all ``ndim`` dims (the two
    leading dims and any trailing ones are left alone)."""
    lead, trail = 2, ndim - 2 - len(padding)
    return (((0, 0),) * lead + tuple(padding) + ((0, 0),) * trail,
            (1,) * lead + tuple(dilation) + (1,) * trail)


def pad_dilate(x: np.ndarray, padding: Pads, dilation) -> np.ndarray:
    """Inserts ``dilation - 1`` zeros between the spatial elements of ``x`` (the
    ``len(padding)`` dims from dim 2 on), then pads with zeros (negative padding crops)."""
    if _trivial(padding, dilation):
        return x
    return dilate_and_pad(x, 0, *_every_dim(x.ndim, padding, dilation))


def unpad_undilate(y: np.ndarray, padding: Pads, dilation, spatial) -> np.ndarray:
    """The adjoint of ``pad_dilate``: reads back the elements of an input of ``spatial``
    size; elements that padding cropped away get zero."""
    if _trivial(padding, dilation):
        return y
    nd = len(padding)
    shape = y.shape[:2] + tuple(spatial) + y.shape[2 + nd:]
    return undilate_and_unpad(y, shape, *_every_dim(y.ndim, padding, dilation))


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
    out_spatial = out_sizes(x.shape[2:], k_spatial, strides, padding, lhs_dilation,
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

def _by_batch_groups(kernel, a, b, axes, out_axis: int, count: int, *args):
    """``kernel(a, b, *args)``; with ``count`` batch groups, once per group (``a`` and ``b``
    split along ``axes``), the results joined along ``out_axis``."""
    if count == 1:
        return kernel(a, b, *args)
    parts = zip(np.split(a, count, axes[0]), np.split(b, count, axes[1]), strict=True)
    return np.concatenate([kernel(pa, pb, *args) for pa, pb in parts], axis=out_axis)


def conv(x, w, *, strides, padding, lhs_dilation, rhs_dilation, feature_group_count,
         batch_group_count, out_dtype):
    """``out[n, o, p] = sum_{i, k} xpd[n, g(o)*I + i, p * stride + k * rhs_dilation] * w[o, i, k]``
    where ``xpd`` is ``x`` lhs-dilated then padded and ``g(o)`` the feature group of ``o``."""
    out_dtype = np.dtype(out_dtype)
    compute = np.promote_types(x.dtype, out_dtype)
    out = _by_batch_groups(_conv, x, w, (0, 0), 1, batch_group_count, strides, padding,
                           lhs_dilation, rhs_dilation, feature_group_count, compute)
    return out.astype(out_dtype, copy=False)


def conv_grad_input(ct, w, *, in_spatial, strides, padding, lhs_dilation, rhs_dilation,
                    feature_group_count, batch_group_count):
    """The cotangent of ``x`` in ``conv(x, w)`` given the output cotangent ``ct``."""
    return _by_batch_groups(_conv_grad_input, ct, w, (1, 0), 0, batch_group_count,
                            tuple(in_spatial), strides, padding, lhs_dilation, rhs_dilation,
                            feature_group_count)


def conv_grad_filter(x, ct, *, k_spatial, strides, padding, lhs_dilation, rhs_dilation,
                     feature_group_count, batch_group_count):
    """The cotangent of ``w`` in ``conv(x, w)`` given the output cotangent ``ct``."""
    return _by_batch_groups(_conv_grad_filter, x, ct, (0, 1), 0, batch_group_count,
                            tuple(k_spatial), strides, padding, lhs_dilation, rhs_dilation,
                            feature_group_count)
