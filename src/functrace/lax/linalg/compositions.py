"""``lax.linalg`` functions composed from the decompositions: ``symmetric_product``,
``tridiagonal_solve`` (through a pivoted LU of the dense matrix), and JAX's algorithm enums
(the LAPACK routines run whichever is named)."""

from __future__ import annotations

import enum

import numpy as np

from ..elementwise import add, div, mul
from ..shape_ops import broadcast_in_dim
from ._util import _T, _bcast_matrix, _const_like, _dtype, _eye_like, _mm, _shape, _tril
from .decompositions import lu, permutation_matrix, triangular_solve

__all__ = ["EigImplementation", "EighImplementation", "SvdAlgorithm", "symmetric_product",
           "tridiagonal_solve"]


class EighImplementation(enum.Enum):
    """``eigh``'s algorithm names (JAX's)."""

    QR = "qr"
    JACOBI = "jacobi"
    QDWH = "qdwh"


class EigImplementation(enum.Enum):
    """``eig``'s backend names (JAX's)."""

    LAPACK = "lapack"
    MAGMA = "magma"


class SvdAlgorithm(enum.Enum):
    """``svd``'s algorithm names (JAX's)."""

    DEFAULT = "default"
    QR = "QR"
    JACOBI = "Jacobi"
    POLAR = "polar"


def symmetric_product(a_matrix, c_matrix, *, alpha: float = 1.0, beta: float = 0.0,
                      symmetrize_output: bool = False):
    """``alpha * a @ a^T + beta * c`` (batched); ``symmetrize_output`` makes the result
    exactly symmetric.

    Example:
        >>> symmetric_product(np.array([[1., 2.]], np.float32), np.eye(1, dtype=np.float32),
        ...                   beta=1.0)
        array([[6.]], dtype=float32)
    """
    prod = mul(_mm(a_matrix, _T(a_matrix)), _const_like(a_matrix, alpha))
    out = add(prod, mul(c_matrix, _const_like(c_matrix, beta)))
    if symmetrize_output:
        out = div(add(out, _T(out)), _const_like(out, 2))
    return out


def tridiagonal_solve(dl, d, du, b):
    """Solves the tridiagonal systems with sub-, main and super-diagonals ``dl``, ``d``,
    ``du`` (each ``(..., m)``; ``dl[..., 0]`` and ``du[..., -1]`` are ignored) for the
    right-hand sides ``b`` ``(..., m, n)``.

    Example:
        >>> tridiagonal_solve(np.array([0., 1.], np.float32), np.array([2., 2.], np.float32),
        ...                   np.array([1., 0.], np.float32), np.array([[3.], [3.]], np.float32))
        array([[1.],
               [1.]], dtype=float32)
    """
    shape = _shape(d)
    m = shape[-1]
    full = shape + (m,)
    rows = tuple(range(len(full) - 1))
    like = broadcast_in_dim(d, full, rows)

    def band(v, k):  # v[..., i] on the entries (i, i + k)
        return mul(broadcast_in_dim(v, full, rows), _bcast_matrix(np.eye(m, k=k), like))

    dense = add(add(band(d, 0), band(dl, -1)), band(du, 1))
    lu_, _, perm = lu(dense)
    low = add(_tril(lu_, -1), _eye_like(lu_, m))
    pb = _mm(permutation_matrix(perm, _dtype(d)), b)
    y = triangular_solve(low, pb, left_side=True, lower=True, unit_diagonal=True)
    return triangular_solve(lu_, y, left_side=True, lower=False)
