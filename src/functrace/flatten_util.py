"""``ravel_pytree``: a pytree of arrays as one flat vector and back (``jax.flatten_util``).

Example:
    >>> import functrace.numpy as fnp
    >>> flat, unravel = ravel_pytree({"w": fnp.ones((2, 2)), "b": fnp.zeros(2)})
    >>> flat
    array([0., 0., 1., 1., 1., 1.], dtype=float32)
    >>> unravel(flat)["w"].shape
    (2, 2)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import numpy as fnp
from .core.trace import get_aval
from .errors import DTypeError, ShapeError
from .tree_util import tree_flatten

__all__ = ["ravel_pytree"]


def ravel_pytree(pytree: Any) -> tuple[Any, Callable[[Any], Any]]:
    """Ravels every leaf of ``pytree`` and concatenates them (in ``tree_flatten`` order).

    Leaves are promoted to their common dtype (JAX's rules); ``unravel(flat)`` splits a
    vector of that size and dtype back into the tree, each leaf with its shape and
    dtype. An empty tree ravels to an empty float32 vector. Works on traced values.

    Args:
        pytree: a pytree of arrays or scalars.
    Returns:
        ``(flat, unravel)``.
    """
    leaves, treedef = tree_flatten(pytree)
    if not leaves:
        return fnp.zeros(0, np.float32), lambda flat: treedef.unflatten([])
    arrays = [fnp.asarray(x) for x in leaves]
    avals = [get_aval(a) for a in arrays]
    dtype = fnp.result_type(*arrays)
    flat = fnp.concatenate([fnp.ravel(a).astype(dtype) for a in arrays])
    sizes = [a.size for a in avals]
    total = int(sum(sizes))
    offsets = np.cumsum([0] + sizes)

    def unravel(vec):
        aval = get_aval(fnp.asarray(vec))
        if aval.shape != (total,):
            raise ShapeError(f"unravel: expected a vector of shape ({total},), got shape "
                             f"{aval.shape}")
        if aval.dtype != dtype:
            raise DTypeError(f"unravel: expected an array of dtype {np.dtype(dtype).name}, got "
                             f"{aval.dtype.name}")
        parts = [fnp.reshape(vec[int(lo):int(hi)], a.shape).astype(a.dtype)
                 for lo, hi, a in zip(offsets[:-1], offsets[1:], avals, strict=True)]
        return treedef.unflatten(parts)

    return flat, unravel
