"""Traceable helpers shared by ``lax.linalg``'s rules (batched transposes, products,
triangle masks, the front-batching rule)."""

from __future__ import annotations

from functools import partial

import numpy as np

from ...core.avals import ShapedArray, is_inexact
from ...core.trace import Primitive, get_aval
from ...errors import DTypeError, ShapeError
from ...transforms.batching import batching_rules, bdim_at_front, not_mapped
from ..dots import dot_general
from ..elementwise import conj, mul, select
from ..shape_ops import (
    broadcast_in_dim,
    reduce_sum,
    transpose,
)


def _shape(x) -> tuple[int, ...]:
    return get_aval(x).shape


def _dtype(x) -> np.dtype:
    return get_aval(x).dtype


def _is_complex(x) -> bool:
    return _dtype(x).kind == "c"


def _T(x):
    nd = len(_shape(x))
    return transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def _H(x):
    x = _T(x)
    return conj(x) if _is_complex(x) else x


def _mm(a, b):
    """Batched ``a @ b`` for operands with the same leading dims."""
    nd = len(_shape(a))
    batch = tuple(range(nd - 2))
    return dot_general(a, b, (((nd - 1,), (nd - 2,)), (batch, batch)))


def _const_like(x, value):
    """A constant array (NumPy) of ``x``'s dtype that broadcasts against x's last 2 dims."""
    return np.asarray(value, _dtype(x))


def _bcast_matrix(m: np.ndarray, x):
    """A constant (n, k) matrix broadcast to ``x``'s shape."""
    shape = _shape(x)
    return broadcast_in_dim(m.astype(_dtype(x)), shape, (len(shape) - 2, len(shape) - 1))


def _tri_mask(shape, k: int, lower: bool) -> np.ndarray:
    n, m = shape[-2:]
    return np.tril(np.ones((n, m), bool), k) if lower else np.triu(np.ones((n, m), bool), k)


def _tril(x, k: int = 0):
    shape = _shape(x)
    mask = broadcast_in_dim(_tri_mask(shape, k, True), shape, (len(shape) - 2, len(shape) - 1))
    return select(mask, x, _bcast_matrix(np.zeros(shape[-2:]), x))


def _triu(x, k: int = 0):
    shape = _shape(x)
    mask = broadcast_in_dim(_tri_mask(shape, k, False), shape, (len(shape) - 2, len(shape) - 1))
    return select(mask, x, _bcast_matrix(np.zeros(shape[-2:]), x))


def _expand_to(x, axis: int, shape):
    """``x`` with a new axis inserted at ``axis`` and broadcast to ``shape``."""
    dims = tuple(d for d in range(len(shape)) if d != axis)
    return broadcast_in_dim(x, tuple(shape), dims)


def _eye_like(x, n: int):
    shape = _shape(x)[:-2] + (n, n)
    return broadcast_in_dim(np.eye(n, dtype=_dtype(x)), shape, (len(shape) - 2, len(shape) - 1))


def _diag(x):
    """The diagonal of the trailing square matrices, via a masked sum (traceable)."""
    n = _shape(x)[-1]
    masked = mul(x, _eye_like(x, n))
    nd = len(_shape(x))
    return reduce_sum(masked, (nd - 1,))


def _check_matrix(op: str, x: ShapedArray, square: bool = False) -> None:
    if x.ndim < 2:
        raise ShapeError(f"lax.linalg.{op}: the operand must have at least 2 dimensions "
                         f"(a batch of matrices), got {x.str_short()}")
    if square and x.shape[-1] != x.shape[-2]:
        raise ShapeError(f"lax.linalg.{op}: the trailing two dimensions must be equal (square "
                         f"matrices), got {x.str_short()}")
    if not is_inexact(x.dtype):
        raise DTypeError(f"lax.linalg.{op}: the operand must be floating-point or complex, got "
                         f"{x.str_short()}; cast it with astype(np.float32)")


def _front_batcher(prim: Primitive, args, dims, **params):
    """Rule of a primitive that maps over leading axes: the batch axis goes first."""
    size = next(_shape(x)[d] for x, d in zip(args, dims, strict=True) if d is not not_mapped)
    args = [bdim_at_front(x, d, size) for x, d in zip(args, dims, strict=True)]
    out = prim.bind(*args, **params)
    return (out, [0] * len(out)) if prim.multiple_results else (out, 0)


def _def_front_batching(prim: Primitive) -> None:
    batching_rules[prim] = partial(_front_batcher, prim)


