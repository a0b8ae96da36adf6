"""``functrace.scipy.linalg`` (``jax.scipy.linalg``): SciPy's linear-algebra API on
``functrace.lax.linalg``'s primitives, so ``grad``, ``jvp``, ``vmap`` and ``jit`` go
through every function (leading axes are batch axes, as in JAX).

As JAX, ``overwrite_*``, ``check_finite``, ``lwork``, ``debug`` and ``lapack_driver`` are
accepted and ignored; ``cholesky`` returns NaNs for a matrix that is not positive definite
instead of raising. Layout: this file holds the factorisations and solvers;
``_linalg_expm.py`` the matrix exponential and the polar decomposition;
``_linalg_schur.py`` the Schur and Hessenberg primitives (NumPy QR algorithm; not
differentiable, as JAX's) with ``rsf2csf`` and ``sqrtm``; ``_linalg_funm.py`` ``funm`` and
``solve_sylvester``; ``_linalg_special.py`` the special matrices (``toeplitz``,
``hadamard``, ``dft``, ...).

Left out: ``qr``/``qr_multiply`` with ``pivoting=True`` (no pivoted QR, ``geqp3``, in
``lax.linalg``), ``solve_sylvester(method='eigen')`` (no ``eig``), ``eigh_tridiagonal``'s
eigenvectors.

Example:
    >>> import numpy as np
    >>> from functrace.scipy import linalg
    >>> a = np.array([[4., 2.], [2., 3.]], np.float32)
    >>> c = linalg.cho_factor(a)
    >>> linalg.cho_solve(c, np.array([2., 1.], np.float32))
    array([0.5, 0. ], dtype=float32)
"""

from __future__ import annotations

import numpy as np

from .. import lax
from .. import numpy as fnp
from ..core.trace import Tracer, get_aval
from ..errors import FunctraceError, ShapeError
from ..lax import linalg as lax_linalg
from ..numpy._promote import _fmt, broadcast_shapes, broadcast_to_shape
from ..transforms.custom import custom_jvp
from ._linalg_common import inexact, is_complex, matrix, mH, mT, rhs, shape_of, unvector
from ._linalg_expm import expm, expm_frechet, polar
from ._linalg_funm import funm, solve_sylvester
from ._linalg_schur import hessenberg, rsf2csf, schur, sqrtm
from ._linalg_special import (
    block_diag,
    circulant,
    companion,
    convolution_matrix,
    dft,
    fiedler,
    fiedler_companion,
    hadamard,
    hankel,
    helmert,
    hilbert,
    invhilbert,
    invpascal,
    leslie,
    pascal,
    toeplitz,
)

__all__ = [
    "block_diag", "cho_factor", "cho_solve", "cholesky", "circulant", "companion",
    "convolution_matrix", "det", "dft", "eigh", "eigh_tridiagonal", "expm", "expm_frechet",
    "fiedler", "fiedler_companion", "funm", "hadamard", "hankel", "helmert", "hessenberg",
    "hilbert", "inv", "invhilbert", "invpascal", "leslie", "lu", "lu_factor", "lu_solve",
    "pascal", "polar", "qr", "qr_multiply", "rsf2csf", "schur", "solve", "solve_sylvester",
    "solve_triangular", "sqrtm", "svd", "toeplitz",
]


# ---------------------------------------------------------------------------
# Cholesky

def cholesky(a, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True):
    """The Cholesky factor of Hermitian positive-definite ``a``: upper ``U`` with
    ``U^H @ U = a`` (SciPy's default), or lower ``L`` with ``L @ L^H = a``. Only the
    triangle named by ``lower`` is read. NaNs where ``a`` is not positive definite.

    Example:
        >>> cholesky(np.array([[4., 2.], [2., 5.]], np.float32))
        array([[2., 1.],
               [0., 2.]], dtype=float32)
    """
    del overwrite_a, check_finite
    x = matrix(a, "cholesky", square=True)
    low = lax_linalg.cholesky(x if lower else mH(x), symmetrize_input=False)
    return low if lower else mH(low)


def cho_factor(a, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True):
    """``(c, lower)``: the Cholesky factor of ``a`` and which triangle it is, for
    ``cho_solve``. Unlike SciPy, the other triangle of ``c`` holds zeros.

    Example:
        >>> c, low = cho_factor(np.array([[4., 2.], [2., 5.]], np.float32), lower=True)
        >>> c, low
        (array([[2., 0.],
               [1., 2.]], dtype=float32), True)
    """
    del overwrite_a, check_finite
    return cholesky(a, lower=lower), lower


def cho_solve(c_and_lower, b, overwrite_b: bool = False, check_finite: bool = True):
    """Solves ``a @ x = b`` given ``(c, lower) = cho_factor(a)``.

    Example:
        >>> c = cho_factor(np.array([[4., 2.], [2., 5.]], np.float32))
        >>> cho_solve(c, np.array([[4.], [2.]], np.float32))
        array([[1.],
               [0.]], dtype=float32)
    """
    del overwrite_b, check_finite
    c, lower = c_and_lower
    c = matrix(c, "cho_solve", square=True)
    c, b = inexact(c, b)
    c, bm, vector = rhs(c, b, "cho_solve")
    return unvector(_cho_solve(c, bm, bool(lower)), vector)


def _cho_solve(c, b, lower: bool):
    # a = L L^H: solve L y = b then L^H x = y (with U = L^H when lower is False)
    y = lax_linalg.triangular_solve(c, b, left_side=True, lower=lower, transpose_a=not lower,
                                    conjugate_a=not lower)
    return lax_linalg.triangular_solve(c, y, left_side=True, lower=lower, transpose_a=lower,
                                       conjugate_a=lower)


# ---------------------------------------------------------------------------
# solvers

_TRANS = {0: (False, False), "N": (False, False), 1: (True, False), "T": (True, False),
          2: (True, True), "C": (True, True)}


def solve_triangular(a, b, trans=0, lower: bool = False, unit_diagonal: bool = False,
                     overwrite_b: bool = False, debug=None, check_finite: bool = True):
    """Solves ``op(a) @ x = b`` for triangular ``a`` (only its ``lower`` or upper triangle
    is read); ``trans`` is 0/'N' (``op(a) = a``), 1/'T' (``a^T``) or 2/'C' (``a^H``).

    Example:
        >>> a = np.array([[2., 0.], [1., 1.]], np.float32)
        >>> solve_triangular(a, np.array([2., 3.], np.float32), lower=True)
        array([1., 2.], dtype=float32)
    """
    del overwrite_b, debug, check_finite
    try:
        transpose_a, conjugate_a = _TRANS[trans]
    except (KeyError, TypeError):
        raise ShapeError(f"scipy.linalg.solve_triangular: invalid 'trans' value {trans!r}; use "
                         "0/'N', 1/'T' or 2/'C'") from None
    x = matrix(a, "solve_triangular", square=True)
    x, b = inexact(x, b)
    x, bm, vector = rhs(x, b, "solve_triangular")
    out = lax_linalg.triangular_solve(x, bm, left_side=True, lower=bool(lower),
                                      transpose_a=transpose_a, conjugate_a=conjugate_a,
                                      unit_diagonal=bool(unit_diagonal))
    return unvector(out, vector)


_ASSUME_A = ("gen", "sym", "her", "pos")


def solve(a, b, lower: bool = False, overwrite_a: bool = False, overwrite_b: bool = False,
          debug: bool = False, check_finite: bool = True, assume_a: str = "gen"):
    """Solves ``a @ x = b`` for square ``a``. ``assume_a='pos'`` (positive definite) solves
    with a Cholesky factorisation reading the ``lower`` (or upper) triangle; 'gen', 'sym'
    and 'her' use LU (as JAX). ``b`` is ``(n,)`` or ``(..., n, k)``; batch dims broadcast.

    Example:
        >>> a = np.array([[4., 2.], [2., 3.]], np.float32)
        >>> solve(a, np.array([2., 1.], np.float32), assume_a="pos")
        array([0.5, 0. ], dtype=float32)
    """
    del overwrite_a, overwrite_b, debug, check_finite
    if assume_a not in _ASSUME_A:
        raise ShapeError(f"scipy.linalg.solve: expected assume_a to be one of "
                         f"{list(_ASSUME_A)}; got {assume_a!r}")
    if assume_a != "pos":
        return fnp.linalg.solve(matrix(a, "solve", square=True), b)
    x, b = inexact(matrix(a, "solve", square=True), b)
    sa, sb = shape_of(x), shape_of(b)
    if not (len(sb) in (len(sa), len(sa) - 1) and sb[len(sa) - 2] == sa[-1]):
        raise ShapeError(f"scipy.linalg.solve: a and b must have shapes (..., m, m) and "
                         f"(..., m, k) or (..., m); got a={_fmt(sa)} and b={_fmt(sb)}")
    vector = len(sb) == len(sa) - 1
    bm = fnp.expand_dims(b, -1) if vector else b
    batch = broadcast_shapes("scipy.linalg.solve", sa[:-2], shape_of(bm)[:-2])
    x = broadcast_to_shape(x, batch + sa[-2:], "solve")
    bm = broadcast_to_shape(bm, batch + shape_of(bm)[-2:], "solve")
    return unvector(_pos_solve(bool(lower), x, bm), vector)


def _pos_solve_impl(lower, a, b):
    return _cho_solve(cholesky(a, lower=lower), b, lower)


_pos_solve = custom_jvp(_pos_solve_impl, nondiff_argnums=(0,))


@_pos_solve.defjvp
def _pos_solve_jvp(lower, primals, tangents):
    # d(a^-1 b) = a^-1 (db - da x), with the factor of a reused (JAX's custom_linear_solve
    # derivative: the matrix enters through a @ x, all of it, not one triangle)
    a, b = primals
    da, db = tangents
    c = cholesky(a, lower=lower)
    x = _cho_solve(c, b, lower)
    return x, _cho_solve(c, db - fnp.matmul(da, x), lower)


def inv(a, overwrite_a: bool = False, check_finite: bool = True):
    """The inverse of square ``a`` (batched over leading axes).

    Example:
        >>> inv(np.array([[2., 0.], [0., 4.]], np.float32))
        array([[0.5 , 0.  ],
               [0.  , 0.25]], dtype=float32)
    """
    del overwrite_a, check_finite
    return fnp.linalg.inv(matrix(a, "inv", square=True))


def det(a, overwrite_a: bool = False, check_finite: bool = True):
    """The determinant of square ``a`` (through LU; batched over leading axes).

    Example:
        >>> det(np.array([[2., 1.], [4., 4.]], np.float32))
        array(4., dtype=float32)
    """
    del overwrite_a, check_finite
    return fnp.linalg.det(matrix(a, "det", square=True))


# ---------------------------------------------------------------------------
# LU

def _eye(m: int, k: int, like):
    return np.eye(m, k, dtype=get_aval(like).dtype)


def lu(a, permute_l: bool = False, overwrite_a: bool = False, check_finite: bool = True):
    """LU decomposition with partial pivoting: ``(p, l, u)`` with ``a = p @ l @ u``, or
    ``(p @ l, u)`` with ``permute_l=True``. ``l`` is ``(m, k)`` unit lower triangular and
    ``u`` ``(k, n)`` upper triangular, ``k = min(m, n)``.

    Example:
        >>> p, l, u = lu(np.array([[1., 2.], [3., 4.]], np.float32))
        >>> p
        array([[0., 1.],
               [1., 0.]], dtype=float32)
    """
    del overwrite_a, check_finite
    x = matrix(a, "lu")
    lu_, _, perm = lax_linalg.lu(x)
    *_, m, n = shape_of(x)
    k = min(m, n)
    # p[i, j] = 1 where perm[j] == i: a[perm] = l @ u, so a = p @ l @ u
    p = lax.convert_element_type(
        fnp.equal(fnp.expand_dims(perm, -2), np.arange(m, dtype=np.int32)[:, None]),
        get_aval(x).dtype)
    low = fnp.tril(lu_, -1)[..., :, :k] + _eye(m, k, x)
    up = fnp.triu(lu_)[..., :k, :]
    if permute_l:
        return fnp.matmul(p, low), up
    return p, low, up


def lu_factor(a, overwrite_a: bool = False, check_finite: bool = True):
    """``(lu, piv)``: ``l`` (unit diagonal, not stored) and ``u`` packed in ``lu``, and the
    row swapped with row ``i`` at step ``i`` in ``piv`` (int32), for ``lu_solve``.

    Example:
        >>> lu_, piv = lu_factor(np.array([[1., 2.], [3., 4.]], np.float32))
        >>> piv
        array([1, 1], dtype=int32)
    """
    del overwrite_a, check_finite
    lu_, pivots, _ = lax_linalg.lu(matrix(a, "lu_factor"))
    return lu_, pivots


def _pivots_to_permutation(pivots, m: int):
    """The permutation the row swaps ``pivots`` apply, traceable in ``pivots``: a host
    value goes to ``lax.linalg.lu_pivots_to_permutation``, a traced one is swapped
    with one-hot masks (``k`` unrolled steps)."""
    if not isinstance(pivots, Tracer):
        return lax_linalg.lu_pivots_to_permutation(np.asarray(pivots, np.int32), m)
    pivots = lax.convert_element_type(pivots, np.int32)
    shape = shape_of(pivots)
    iota = np.arange(m, dtype=np.int32)
    perm = fnp.broadcast_to(iota, shape[:-1] + (m,))
    for j in range(shape[-1]):
        pj = pivots[..., j:j + 1]
        at_p = fnp.equal(iota, pj)
        val_p = fnp.sum(fnp.where(at_p, perm, 0), axis=-1, keepdims=True)
        val_j = perm[..., j:j + 1]
        perm = fnp.where(iota == j, val_p, fnp.where(at_p, val_j, perm))
    return lax.convert_element_type(perm, np.int32)


def lu_solve(lu_and_piv, b, trans: int = 0, overwrite_b: bool = False,
             check_finite: bool = True):
    """Solves ``op(a) @ x = b`` given ``(lu, piv) = lu_factor(a)``; ``trans`` is 0
    (``a``), 1 (``a^T``) or 2 (``a^H``).

    Example:
        >>> f = lu_factor(np.array([[1., 2.], [3., 4.]], np.float32))
        >>> lu_solve(f, np.array([5., 11.], np.float32))
        array([1., 2.], dtype=float32)
    """
    del overwrite_b, check_finite
    if isinstance(trans, str) or trans not in (0, 1, 2):
        raise ShapeError(f"scipy.linalg.lu_solve: 'trans' must be 0, 1 or 2, got {trans!r}")
    lu_, pivots = lu_and_piv
    lu_ = matrix(lu_, "lu_solve", square=True)
    lu_, b = inexact(lu_, b)
    n = shape_of(lu_)[-1]
    perm = _pivots_to_permutation(pivots, n)
    lu_, bm, vector = rhs(lu_, b, "lu_solve")
    batch = shape_of(lu_)[:-2]
    pmat = broadcast_to_shape(lax_linalg.permutation_matrix(perm, get_aval(lu_).dtype),
                              batch + (n, n), "lu_solve")
    solve_ = lax_linalg.triangular_solve
    if trans == 0:
        x = fnp.matmul(pmat, bm)
        x = solve_(lu_, x, left_side=True, lower=True, unit_diagonal=True)
        x = solve_(lu_, x, left_side=True, lower=False)
    else:
        conj = trans == 2
        x = solve_(lu_, bm, left_side=True, lower=False, transpose_a=True, conjugate_a=conj)
        x = solve_(lu_, x, left_side=True, lower=True, unit_diagonal=True, transpose_a=True,
                   conjugate_a=conj)
        x = fnp.matmul(mT(pmat), x)
    return unvector(x, vector)


# ---------------------------------------------------------------------------
# QR, SVD, eigh

def qr(a, overwrite_a: bool = False, lwork=None, mode: str = "full", pivoting: bool = False,
       check_finite: bool = True):
    """QR decomposition: ``(q, r)`` for ``mode='full'`` (``q`` is ``(m, m)``) or
    ``'economic'`` (``(m, k)``, ``k = min(m, n)``); the 1-tuple ``(r,)`` for ``mode='r'``
    (JAX's return types).

    Example:
        >>> q, r = qr(np.array([[3., 1.], [4., 2.], [0., 1.]], np.float32), mode="economic")
        >>> q.shape, r.shape
        ((3, 2), (2, 2))
    """
    del overwrite_a, lwork, check_finite
    if mode not in ("full", "r", "economic"):
        raise ShapeError(f"scipy.linalg.qr: unsupported mode {mode!r}; use 'full', "
                         "'economic' or 'r'")
    if pivoting:
        raise FunctraceError("scipy.linalg.qr: pivoting=True is not supported (lax.linalg has "
                             "no pivoted QR); use pivoting=False")
    q, r = lax_linalg.qr(matrix(a, "qr"), full_matrices=mode != "economic")
    return (r,) if mode == "r" else (q, r)


def qr_multiply(a, c, mode: str = "right", pivoting: bool = False, conjugate: bool = False,
                overwrite_a: bool = False, overwrite_c: bool = False):
    """``(q @ c, r)`` (``mode='left'``) or ``(c @ q, r)`` (``'right'``) for the economic QR
    ``a = q @ r``; ``conjugate`` uses ``conj(q)``.

    Example:
        >>> a = np.array([[3., 0.], [4., 5.]], np.float32)
        >>> cq, r = qr_multiply(a, np.eye(2, dtype=np.float32), mode="left")
        >>> bool(np.allclose(cq @ r, a, atol=1e-5))
        True
    """
    del overwrite_a, overwrite_c
    if mode not in ("right", "left"):
        raise ShapeError(f"scipy.linalg.qr_multiply: mode must be 'right' or 'left', got "
                         f"{mode!r}")
    if pivoting:
        raise FunctraceError("scipy.linalg.qr_multiply: pivoting=True is not supported")
    x = matrix(a, "qr_multiply")
    x, c = inexact(x, c)
    m, n = shape_of(x)[-2:]
    k = min(m, n)
    onedim = len(shape_of(c)) == 1
    if onedim:
        c = fnp.expand_dims(c, -1 if mode == "left" else 0)
    sc = shape_of(c)
    if mode == "left" and sc[-2] != k:
        raise ShapeError(f"scipy.linalg.qr_multiply: q @ c needs c with {k} rows (a has shape "
                         f"{_fmt(shape_of(x))}), got c of shape {_fmt(sc)}")
    if mode == "right" and sc[-1] != m:
        raise ShapeError(f"scipy.linalg.qr_multiply: c @ q needs c with {m} columns (a has "
                         f"shape {_fmt(shape_of(x))}), got c of shape {_fmt(sc)}")
    q, r = lax_linalg.qr(x, full_matrices=False)
    q = fnp.conj(q) if conjugate and is_complex(q) else q
    cq = fnp.matmul(q, c) if mode == "left" else fnp.matmul(c, q)
    return (fnp.ravel(cq) if onedim else cq), r


def svd(a, full_matrices: bool = True, compute_uv: bool = True, overwrite_a: bool = False,
        check_finite: bool = True, lapack_driver: str = "gesdd"):
    """Singular value decomposition ``a = u @ diag(s) @ vh`` (``s`` descending):
    ``(u, s, vh)``, or ``s`` alone with ``compute_uv=False``.

    Example:
        >>> svd(np.array([[0., 2.], [1., 0.]], np.float32), compute_uv=False)
        array([2., 1.], dtype=float32)
    """
    del overwrite_a, check_finite, lapack_driver
    return lax_linalg.svd(matrix(a, "svd"), full_matrices=bool(full_matrices),
                          compute_uv=bool(compute_uv))


def eigh(a, b=None, lower: bool = True, eigvals_only: bool = False, overwrite_a: bool = False,
         overwrite_b: bool = False, turbo: bool = True, eigvals=None, type: int = 1,  # noqa: A002
         check_finite: bool = True):
    """Eigenvalues (ascending) and eigenvectors of Hermitian ``a``: ``(w, v)`` with
    ``a @ v = v * w``, or ``w`` alone with ``eigvals_only=True``. As JAX, ``a`` is
    symmetrized (``(a + a^H) / 2``) rather than read from one triangle, and only the
    standard problem is solved (``b=None``, ``type=1``, ``eigvals=None``).

    Example:
        >>> eigh(np.array([[2., 1.], [1., 2.]], np.float32), eigvals_only=True)
        array([1., 3.], dtype=float32)
    """
    del overwrite_a, overwrite_b, turbo, check_finite
    if b is not None:
        raise FunctraceError("scipy.linalg.eigh: only the b=None case is implemented (as in "
                             "JAX); reduce a generalized problem with cholesky(b) first")
    if type != 1:
        raise FunctraceError(f"scipy.linalg.eigh: only type=1 is implemented, got {type}")
    if eigvals is not None:
        raise FunctraceError("scipy.linalg.eigh: only eigvals=None is implemented; slice the "
                             "result instead")
    # as JAX, the input is symmetrized first ((a + a^H) / 2), so lower changes nothing for
    # a Hermitian input
    v, w = lax_linalg.eigh(matrix(a, "eigh", square=True), lower=bool(lower))
    return w if eigvals_only else (w, v)


def eigh_tridiagonal(d, e, *, eigvals_only: bool = False, select: str = "a",
                     select_range=None, tol=None, key=None):
    """Eigenvalues of the symmetric tridiagonal matrix with diagonal ``d`` and off-diagonal
    ``e``. Only ``eigvals_only=True`` (JAX's eigenvectors come from a randomised inverse
    iteration); ``select='a'`` (all) or ``'i'`` (indices ``select_range[0]`` to
    ``select_range[1]``, inclusive). Computed with a dense ``eigh``, not bisection.

    Example:
        >>> eigh_tridiagonal(np.array([2., 2.], np.float32), np.array([1.], np.float32),
        ...                  eigvals_only=True)
        array([1., 3.], dtype=float32)
    """
    del tol, key
    if not eigvals_only:
        raise FunctraceError("scipy.linalg.eigh_tridiagonal: only eigvals_only=True is "
                             "implemented; for eigenvectors build the matrix and call eigh")
    if select not in ("a", "i", "v"):
        raise ShapeError("scipy.linalg.eigh_tridiagonal: select must be 'a', 'i' or 'v', got "
                         f"{select!r}")
    if select == "v":
        raise FunctraceError("scipy.linalg.eigh_tridiagonal: select='v' is not implemented "
                             "(as in JAX)")
    alpha, beta = fnp.asarray(d), fnp.asarray(e)
    if get_aval(alpha).dtype != get_aval(beta).dtype:
        raise ShapeError("scipy.linalg.eigh_tridiagonal: d and e must have the same dtype, "
                         f"got {get_aval(alpha).dtype} and {get_aval(beta).dtype}")
    n = shape_of(alpha)[0]
    if n <= 1:
        return fnp.real(alpha)
    t = fnp.diag(alpha) + fnp.diag(beta, -1) + fnp.diag(fnp.conj(beta), 1)
    w = lax_linalg.eigh(t, symmetrize_input=False)[1]
    if select == "i":
        if select_range is None:
            raise ShapeError("scipy.linalg.eigh_tridiagonal: select='i' needs select_range")
        lo, hi = (int(i) for i in select_range)
        if lo > hi:
            raise ShapeError("scipy.linalg.eigh_tridiagonal: empty index range in "
                             f"select_range={select_range}")
        w = w[lo:hi + 1]
    return w
