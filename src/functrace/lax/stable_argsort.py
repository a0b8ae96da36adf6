"""``stable_argsort``: the int32 permutation that sorts an array along one axis, ties in
index order; ``random.permutation`` and ``random.choice`` are built on it (JAX uses
``lax.sort_key_val`` there).

It is a primitive of ``lax`` so that the backends, which sit below ``random`` in the
layering, can lower it. It is not differentiable: its jvp is zero.
"""

from __future__ import annotations

import numpy as np

from ..core.avals import ShapedArray, is_float, is_int
from ..core.trace import Primitive, abstract_eval_rules, get_aval, impl_rules
from ..errors import DTypeError, ShapeError
from ..transforms.ad import defjvp_zero
from ..transforms.batching import batching_rules

__all__ = ["stable_argsort", "stable_argsort_p"]


stable_argsort_p = Primitive("stable_argsort", impl_fallback=True)


def stable_argsort(operand, dimension: int = -1):
    """The int32 indices that sort ``operand`` along ``dimension``, ties in index order.

    Args:
        operand: an integer or floating-point array (NaNs sort last).
        dimension: the axis to sort along.
    Returns:
        int32 indices of ``operand``'s shape.

    Example:
        >>> stable_argsort(np.uint32([3, 1, 3, 0]))
        array([3, 1, 0, 2], dtype=int32)
    """
    ndim = get_aval(operand).ndim
    if not -ndim <= dimension < ndim:
        raise ShapeError(f"stable_argsort: dimension {dimension} is out of range for an "
                         f"operand of rank {ndim}")
    return stable_argsort_p.bind(operand, dimension=int(dimension) % ndim)


def _stable_argsort_abstract(x: ShapedArray, *, dimension):
    if not (is_int(x.dtype) or is_float(x.dtype)):
        raise DTypeError(f"stable_argsort: the operand must be an integer or floating-point "
                         f"array, got {x.str_short()}")
    if not 0 <= dimension < x.ndim:
        raise ShapeError(f"stable_argsort: dimension {dimension} is out of range for "
                         f"{x.str_short()}")
    return ShapedArray(x.shape, np.int32)


impl_rules[stable_argsort_p] = lambda x, *, dimension: np.argsort(
    x, axis=dimension, kind="stable").astype(np.int32)
abstract_eval_rules[stable_argsort_p] = _stable_argsort_abstract
defjvp_zero(stable_argsort_p)


def _stable_argsort_batch(args, dims, *, dimension):
    (x,), (d,) = args, dims
    return stable_argsort_p.bind(x, dimension=dimension + (dimension >= d)), d


batching_rules[stable_argsort_p] = _stable_argsort_batch
