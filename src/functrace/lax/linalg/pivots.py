"""``lax.linalg.lu_pivots_to_permutation``: the permutation that LU's row swaps apply, a
primitive so that traced pivots (``lu`` under ``jit`` or ``vmap``) work too."""

from __future__ import annotations

import numpy as np

from ...core.avals import ShapedArray
from ...core.trace import Primitive, abstract_eval_rules, impl_rules
from ...errors import DTypeError, ShapeError
from ...transforms.ad import defjvp_zero
from ._util import _def_front_batching

__all__ = ["lu_pivots_to_permutation", "lu_pivots_to_permutation_p"]

# index bookkeeping: backends run the NumPy impl
lu_pivots_to_permutation_p = Primitive("lu_pivots_to_permutation", impl_fallback=True)


def lu_pivots_to_permutation(pivots, permutation_size: int):
    """The permutation that a sequence of LU row swaps (``pivots``) applies, as int32.

    Example:
        >>> import numpy as np
        >>> lu_pivots_to_permutation(np.array([1, 1], np.int32), 2)
        array([1, 0], dtype=int32)
    """
    return lu_pivots_to_permutation_p.bind(pivots, permutation_size=int(permutation_size))


def _impl(pivots, *, permutation_size):
    p = np.asarray(pivots)
    batch = p.shape[:-1]
    flat = p.reshape((-1, p.shape[-1]))
    perm = np.broadcast_to(np.arange(permutation_size, dtype=np.int32),
                           (flat.shape[0], permutation_size)).copy()
    rows = np.arange(flat.shape[0])
    for j in range(flat.shape[1]):
        q = flat[:, j]
        perm[rows, j], perm[rows, q] = perm[rows, q].copy(), perm[rows, j].copy()
    return perm.reshape(batch + (permutation_size,))


def _abstract(pivots: ShapedArray, *, permutation_size):
    if pivots.dtype.kind not in "iu":
        raise DTypeError(f"lax.linalg.lu_pivots_to_permutation: pivots must be integers, "
                         f"got {pivots.str_short()}")
    if pivots.ndim < 1 or pivots.shape[-1] > permutation_size:
        raise ShapeError(f"lax.linalg.lu_pivots_to_permutation: needs at most "
                         f"permutation_size={permutation_size} pivots on the last axis, got "
                         f"{pivots.str_short()}")
    return ShapedArray(pivots.shape[:-1] + (permutation_size,), np.dtype(np.int32))


impl_rules[lu_pivots_to_permutation_p] = _impl
abstract_eval_rules[lu_pivots_to_permutation_p] = _abstract
defjvp_zero(lu_pivots_to_permutation_p)
_def_front_batching(lu_pivots_to_permutation_p)
