"""``unique(..., axis=k)``: the unique slices of an array along one axis, sorted
lexicographically (NumPy's and JAX's rule), with the same ``return_*`` outputs and
``size``/``fill_value`` padding as the flattened ``unique``.
"""

from __future__ import annotations

import operator

import numpy as np

from .. import lax
from ..core.avals import default_int_dtype
from ..core.trace import Tracer, get_aval
from ..errors import ConcretizationError, ShapeError
from ._promote import as_array, canonical_axis, convert
from .indexed_update import IndexUpdateHelper


def _isnan(x):
    return lax.ne(x, x) if get_aval(x).dtype.kind in "fc" else None


def unique_along(ar, axis, return_index: bool, return_inverse: bool, return_counts: bool,
                 equal_nan: bool, size, fill_value):
    """``unique`` of the slices of ``ar`` along ``axis`` (see ``functrace.numpy.unique``)."""
    x = as_array(ar)
    shape = get_aval(x).shape
    ax = canonical_axis(axis, len(shape), "unique")
    xt = lax.transpose(x, (ax,) + tuple(d for d in range(len(shape)) if d != ax))
    n, rest = shape[ax], get_aval(xt).shape[1:]
    m = int(np.prod(rest))
    if m == 0:
        raise ShapeError(f"unique: the slices along axis {axis} of an array of shape {shape} "
                         "are empty")
    rows = lax.reshape(xt, (n, m))
    itype = default_int_dtype()
    cols = [lax.reshape(lax.slice(rows, (0, j), (n, j + 1)), (n,)) for j in range(m)]
    *scols, perm = lax.sort((*cols, lax.iota(itype, n)), dimension=0, num_keys=m)
    if n:
        same = None
        for c in scols:
            eq = lax.eq(lax.slice(c, (1,), (n,)), lax.slice(c, (0,), (n - 1,)))
            nan = _isnan(c)
            if equal_nan and nan is not None:
                eq = lax.bitwise_or(eq, lax.bitwise_and(lax.slice(nan, (1,), (n,)),
                                                        lax.slice(nan, (0,), (n - 1,))))
            same = eq if same is None else lax.bitwise_and(same, eq)
        first = lax.concatenate([np.ones((1,), bool), lax.bitwise_not(same)], 0)
        slot = lax.sub(lax.cumsum(lax.convert_element_type(first, itype), 0),
                       np.asarray(1, itype))
    else:
        first, slot = np.zeros((0,), bool), np.zeros((0,), itype)
    if size is None:
        if isinstance(first, Tracer):
            raise ConcretizationError(
                "unique: the number of results depends on the values of a traced array; "
                "pass size= (a static int) to use unique under jit/vmap/grad, as in JAX")
        size = int(np.sum(np.asarray(first)))
    size = operator.index(size)
    target = lax.select(first, slot, lax.full((n,), size, itype)) if n else slot
    srows = IndexUpdateHelper(rows)[perm].get() if n else rows
    dt = get_aval(x).dtype
    if fill_value is None:
        fill = lax.slice(srows, (0, 0), (1, m)) if n else np.zeros((1, m), dt)
        fill = lax.broadcast_in_dim(lax.reshape(fill, (m,)), (size, m), (1,))
    else:
        fill = lax.full((size, m), 0, dt)
        fill = lax.add(fill, convert(as_array(fill_value), dt))
    values = IndexUpdateHelper(fill)[target].set(srows, mode="drop")
    values = lax.reshape(values, (size,) + rest)
    back = list(range(1, len(shape)))
    back.insert(ax, 0)
    outs = [lax.transpose(values, tuple(back))]
    if return_index:
        pad = lax.slice(perm, (0,), (1,)) if n else np.zeros((1,), itype)
        base = lax.broadcast_in_dim(lax.reshape(pad, ()), (size,), ())
        outs.append(IndexUpdateHelper(base)[target].set(perm, mode="drop"))
    if return_inverse:
        outs.append(IndexUpdateHelper(lax.full((n,), 0, itype))[perm].set(slot))
    if return_counts:
        ones = lax.full((n,), 1, itype)
        outs.append(IndexUpdateHelper(lax.full((size,), 0, itype))[slot].add(ones, mode="drop"))
    return outs[0] if len(outs) == 1 else tuple(outs)
