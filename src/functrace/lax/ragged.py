"""``lax.ragged_dot``: one matrix product per group of consecutive rows (the
mixture-of-experts matmul), built from a gather of each row's group and a batched
``dot_general``, so ``jit``, ``vmap`` and both differentiation modes follow."""

from __future__ import annotations

import numpy as np

from ..core.trace import get_aval
from ..errors import ShapeError, no_sharding
from .dots import dot_general
from .elementwise import ge, lt, mul
from .gather_scatter import GatherDimensionNumbers, gather
from .reductions import cumsum, reduce_sum
from .shape_ops import broadcast_in_dim, convert_element_type, reshape

__all__ = ["ragged_dot"]


def ragged_dot(lhs, rhs, group_sizes, precision=None, preferred_element_type=None,
               group_offset=None, out_sharding=None):
    """``out[i] = lhs[i] @ rhs[g(i)]`` where row ``i`` belongs to group ``g(i)``: the
    first ``group_sizes[0]`` rows to group 0, the next ``group_sizes[1]`` to group 1...
    Rows past ``sum(group_sizes)`` give zeros (``jax.lax.ragged_dot``).

    Example:
        >>> import numpy as np
        >>> lhs, rhs = np.ones((3, 2), np.float32), np.arange(8.0, dtype=np.float32)
        >>> ragged_dot(lhs, rhs.reshape(2, 2, 2), np.array([1, 2], np.int32))
        array([[ 2.,  4.],
               [10., 12.],
               [10., 12.]], dtype=float32)
    """
    no_sharding("lax.ragged_dot", out_sharding=out_sharding)
    la, ra, ga = get_aval(lhs), get_aval(rhs), get_aval(group_sizes)
    if la.ndim != 2 or ra.ndim != 3 or ga.ndim != 1 or ra.shape[1] != la.shape[1] or (
            ga.shape[0] != ra.shape[0]) or ga.dtype.kind not in "iu":
        raise ShapeError(f"lax.ragged_dot: expects lhs (m, k), rhs (g, k, n) and integer "
                         f"group_sizes (g,), got {la.str_short()}, {ra.str_short()} and "
                         f"{ga.str_short()}")
    if group_offset is not None:
        raise NotImplementedError("lax.ragged_dot: group_offset is not supported (JAX "
                                  "supports it on TPU only)")
    m, g = la.shape[0], ra.shape[0]
    k, n = ra.shape[1], ra.shape[2]
    ends = cumsum(convert_element_type(group_sizes, np.int32), 0)
    rows = broadcast_in_dim(np.arange(m, dtype=np.int32), (m, g), (0,))
    past = convert_element_type(ge(rows, broadcast_in_dim(ends, (m, g), (1,))), np.int32)
    group = reduce_sum(past, (1,))  # how many groups end at or before each row
    inside = lt(group, np.int32(g))  # rows past the last group give zeros
    per_row = gather(rhs, reshape(group, (m, 1)),  # (m, k, n); clamped past the end
                     GatherDimensionNumbers(offset_dims=(1, 2), collapsed_slice_dims=(0,),
                                            start_index_map=(0,)), (1, k, n), mode="clip")
    out = dot_general(lhs, per_row, (((1,), (1,)), ((0,), (0,))), precision=precision,
                      preferred_element_type=preferred_element_type)
    mask = convert_element_type(inside, get_aval(out).dtype)
    return mul(out, broadcast_in_dim(mask, get_aval(out).shape, (0,)))
