"""Helpers shared by ``functrace.scipy.linalg``'s modules: promotion, shape checks, batched
transposes and the broadcasting of a right-hand side against a batch of matrices."""

from __future__ import annotations

import warnings

import numpy as np

from .. import lax
from .. import numpy as fnp
from ..core.trace import get_aval
from ..errors import ShapeError
from ..numpy._promote import _fmt, as_array, broadcast_shapes, broadcast_to_shape, promote_inexact
from ..numpy.decompositions import _matrix


def shape_of(x) -> tuple[int, ...]:
    return get_aval(x).shape


def dtype_of(x) -> np.dtype:
    return get_aval(x).dtype


def is_complex(x) -> bool:
    return dtype_of(x).kind == "c"


def inexact(*xs):
    """The operands as arrays of one inexact dtype (ints become the default float)."""
    return promote_inexact(*[as_array(x) for x in xs])


def matrix(a, op: str, square: bool = False):
    """``a`` as an inexact array of rank >= 2 (square in its two trailing dims if asked)."""
    return _matrix(a, op, square, namespace="scipy.linalg")


def mT(x):
    return fnp.swapaxes(x, -1, -2)


def mH(x):
    return fnp.conj(mT(x)) if is_complex(x) else mT(x)


def rhs(a, b, op: str):
    """Broadcasts ``b`` against the square matrices ``a`` as SciPy/JAX's solvers do: a 1-D
    ``b`` is one vector ``(n,)``; a ``b`` of rank ``a.ndim - 1`` whose last axis is ``n``
    is a batch of vectors (deprecated in JAX, with a FutureWarning); anything else is a
    batch of ``(n, k)`` matrices. Returns ``(a, b_matrix, vector)`` with equal batch dims,
    ``b_matrix`` of shape ``(..., n, k)``; ``vector`` says to drop the trailing axis after."""
    sa, sb = shape_of(a), shape_of(b)
    n = sa[-1]
    if len(sb) == 0:
        raise ShapeError(f"scipy.linalg.{op}: b must have rank >= 1, got a scalar")
    vector = len(sb) == 1
    if not vector and len(sa) == len(sb) + 1 and sa[-1] == sb[-1]:
        warnings.warn(f"scipy.linalg.{op}: batched 1D solves with b.ndim > 1 are deprecated "
                      f"(as in JAX); use {op}(..., b[..., None]).squeeze(-1)", FutureWarning,
                      stacklevel=3)
        vector = True
    if vector:
        b = fnp.expand_dims(b, -1)
        sb = shape_of(b)
    if sb[-2] != n:
        raise ShapeError(f"scipy.linalg.{op}: b's rows ({sb[-2]}) must match a's size {n}, "
                         f"got a of shape {_fmt(sa)} and b of shape "
                         f"{_fmt(sb[:-1] if vector else sb)}")
    batch = broadcast_shapes(f"scipy.linalg.{op}", sa[:-2], sb[:-2])
    a = broadcast_to_shape(a, batch + sa[-2:], op)
    b = broadcast_to_shape(b, batch + sb[-2:], op)
    return a, b, vector


def unvector(x, vector: bool):
    return lax.squeeze(x, (len(shape_of(x)) - 1,)) if vector else x
