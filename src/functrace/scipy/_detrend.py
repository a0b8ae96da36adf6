"""``detrend`` of ``functrace.scipy.signal`` (its own module: the spectral estimators
detrend each segment with it)."""

from __future__ import annotations

import numpy as np

from .. import numpy as fnp
from ..core.trace import get_aval
from ..errors import FunctraceError, ShapeError
from ..numpy._promote import as_array, canonical_axis, promote_inexact

__all__ = ["detrend"]


def _shape(x) -> tuple[int, ...]:
    return get_aval(x).shape


def detrend(data, axis: int = -1, type: str = "linear", bp=0,  # noqa: A002
            overwrite_data=None):
    """``data`` minus its least-squares line along ``axis`` (``type='linear'``, piecewise
    between the breakpoints ``bp``) or minus its mean (``'constant'``).

    Example:
        >>> detrend(np.array([1., 2., 3.], np.float32), type="constant")
        array([-1.,  0.,  1.], dtype=float32)
    """
    if overwrite_data is not None:
        raise FunctraceError("scipy.signal.detrend: overwrite_data is not supported")
    if type not in ("constant", "linear"):
        raise ShapeError(f"scipy.signal.detrend: type must be 'linear' or 'constant', got "
                         f"{type!r}")
    (x,) = promote_inexact(as_array(data))
    if type == "constant":
        return x - fnp.mean(x, axis, keepdims=True)
    ax = canonical_axis(axis, len(_shape(x)), "scipy.signal.detrend")
    n = _shape(x)[ax]
    bps = np.sort(np.unique(np.r_[0, bp, n]))
    if bps[0] < 0 or bps[-1] > n:
        raise ShapeError("scipy.signal.detrend: breakpoints must be non-negative and at most "
                         f"the length {n} of the data along axis {axis}")
    moved = fnp.moveaxis(x, ax, 0)
    flat = fnp.reshape(moved, (n, -1))
    dt = get_aval(flat).dtype
    pieces = []
    for lo, hi in zip(bps[:-1], bps[1:], strict=True):
        npts = int(hi - lo)
        if npts == 0:
            continue
        design = np.stack([np.ones(npts), np.arange(1, npts + 1) / npts], axis=1).astype(dt)
        seg = flat[int(lo):int(hi)]
        coef = fnp.linalg.lstsq(design, seg)[0]
        pieces.append(seg - fnp.matmul(design, coef))
    out = fnp.concatenate(pieces, axis=0) if pieces else flat
    return fnp.moveaxis(fnp.reshape(out, _shape(moved)), 0, ax)
