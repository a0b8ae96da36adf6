"""The ``inverted_cdf`` quantile method of ``quantile``/``percentile`` (and their nan
variants), the one method that takes ``weights=``, as in NumPy and JAX: the quantile
``q`` of a slice is its smallest value whose cumulative weight reaches ``q`` times the
slice's total weight (equal weights when none are given). A negative or NaN weight
makes the slice's result NaN, as in JAX.
"""

from __future__ import annotations

import numpy as np

from .. import lax
from ..core.avals import default_int_dtype
from ..core.trace import get_aval
from ..errors import ShapeError
from .indexing import take_along_axis


def broadcast_weights(weights, a_shape: tuple[int, ...], axis, op: str):
    """``weights`` broadcast to ``a``'s shape: they have ``a``'s shape, or (with
    ``axis``) the shape of the reduced axes, in order."""
    w_shape = get_aval(weights).shape
    if w_shape == a_shape:
        return weights
    if axis is None:
        raise ShapeError(f"{op}: weights of shape {w_shape} must have a's shape {a_shape} when "
                         "axis is None")
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    axes = tuple(int(ax) % len(a_shape) for ax in axes)
    if w_shape != tuple(a_shape[ax] for ax in axes):
        raise ShapeError(f"{op}: weights of shape {w_shape} must match a's shape {a_shape} or "
                         f"the reduced axes {tuple(a_shape[ax] for ax in axes)}")
    return lax.broadcast_in_dim(weights, a_shape, axes)


def inverted_cdf(flat, wflat, qs, ignore_nan: bool):
    """Quantiles ``qs`` (1-D) of the last axis of ``flat``, weighted by ``wflat`` (same
    shape, or None); the result has shape ``flat.shape[:-1] + qs.shape``."""
    shape = get_aval(flat).shape
    dt = get_aval(flat).dtype
    kept, n = shape[:-1], shape[-1]
    if wflat is None:
        wflat = lax.full(shape, 1, dt)
    srt, w = lax.sort_key_val(flat, wflat, dimension=-1)  # NaNs sort last
    zero = lax.full(shape, 0, dt)
    nan_data = lax.ne(srt, srt)
    bad = lax.bitwise_or(lax.lt(w, zero), lax.ne(w, w))
    clean = lax.select(lax.bitwise_or(bad, nan_data), zero, w)
    cum = lax.cumsum(clean, axis=len(shape) - 1)
    total = lax.slice_in_dim(cum, n - 1, n, axis=len(shape) - 1)  # kept + (1,)
    nq = get_aval(qs).shape[0]
    # target[..., j, i] = qs[i] * total; count the cumulative weights below each target
    target = lax.mul(lax.broadcast_in_dim(total, (*kept, nq, 1), (*range(len(kept)), len(kept))),
                     lax.broadcast_in_dim(qs, (*kept, nq, 1), (len(kept),)))
    below = lax.lt(lax.broadcast_in_dim(cum, (*kept, nq, n), (*range(len(kept)), len(kept) + 1)),
                   lax.broadcast_in_dim(target, (*kept, nq, n), tuple(range(len(kept) + 2))))
    itype = default_int_dtype()
    idx = lax.reduce_sum(lax.convert_element_type(below, itype), (len(kept) + 1,))
    valid = lax.reduce_sum(lax.convert_element_type(lax.bitwise_not(nan_data), itype),
                           (len(kept),)) if ignore_nan else lax.full(kept, n, itype)
    limit = lax.broadcast_in_dim(lax.max(lax.sub(valid, lax.full(kept, 1, itype)),
                                         lax.full(kept, 0, itype)), (*kept, nq),
                                 tuple(range(len(kept))))
    idx = lax.max(lax.full((*kept, nq), 0, itype), lax.min(idx, limit))
    out = take_along_axis(srt, idx, -1)
    any_bad = lax.reduce_or(bad, (len(kept),))
    if ignore_nan:
        force = lax.bitwise_or(any_bad, lax.eq(valid, lax.full(kept, 0, itype)))
    else:
        force = lax.bitwise_or(any_bad, lax.reduce_or(nan_data, (len(kept),)))
    force = lax.broadcast_in_dim(force, (*kept, nq), tuple(range(len(kept))))
    return lax.select(force, lax.full((*kept, nq), np.nan, dt), out)
