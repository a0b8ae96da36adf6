"""``functrace.numpy.linalg``'s decompositions and solvers, composed from ``lax.linalg``.

``cholesky``, ``qr``, ``svd``, ``eigh`` wrap the primitives of ``functrace.lax.linalg``;
``solve``, ``inv``, ``det`` and ``slogdet`` go through ``lax.linalg.lu`` and two triangular
solves, so their derivatives come from those primitives' rules (``d log|det a| =
trace(a^-1 da)`` falls out of the LU rule). ``pinv`` has JAX's custom JVP; ``norm``,
``lstsq``, ``matrix_power``, ``matrix_rank`` and ``multi_dot`` are plain compositions.
All of them map over leading (batch) axes, as NumPy's do. Re-exported by
``functrace.numpy.linalg``.
"""

from __future__ import annotations

import operator
from typing import NamedTuple

import numpy as np

from .. import lax
from ..core.trace import get_aval
from ..errors import FunctraceError, ShapeError
from ..lax import linalg as lax_linalg
from ..transforms.custom import custom_jvp
from ._promote import (
    _fmt,
    as_array,
    broadcast_shapes,
    broadcast_to_shape,
    canonical_axes,
    promote_inexact,
)
from .manip import swapaxes
from .math import abs as _abs
from .math import conjugate, log, sign, sqrt, where
from .reductions import max as _max
from .reductions import prod, sum

__all__ = [
    "EighResult", "QRResult", "SVDResult", "SlogdetResult", "cholesky", "det", "eigh",
    "eigvalsh", "inv", "lstsq", "matrix_norm", "matrix_power", "matrix_rank", "multi_dot",
    "norm", "pinv", "qr", "slogdet", "solve", "svd", "svdvals", "vector_norm",
]


class EighResult(NamedTuple):
    eigenvalues: object
    eigenvectors: object


class QRResult(NamedTuple):
    Q: object
    R: object


class SVDResult(NamedTuple):
    U: object
    S: object
    Vh: object


class SlogdetResult(NamedTuple):
    sign: object
    logabsdet: object


def _shape(x) -> tuple[int, ...]:
    return get_aval(x).shape


def _is_complex(x) -> bool:
    return get_aval(x).dtype.kind == "c"


def _matrix(a, op: str, square: bool = False, namespace: str = "linalg"):
    """``a`` as an inexact array of rank >= 2, square in its two trailing dims if asked;
    errors name ``namespace.op`` (``scipy.linalg`` uses it too)."""
    (x,) = promote_inexact(as_array(a))
    shape = _shape(x)
    if len(shape) < 2:
        raise ShapeError(f"{namespace}.{op}: the input must have at least 2 dimensions (a "
                         f"batch of matrices, rank >= 2), got shape {_fmt(shape)}")
    if square and shape[-1] != shape[-2]:
        raise ShapeError(f"{namespace}.{op}: the last two dimensions must be square (a "
                         f"square matrix), got shape {_fmt(shape)}")
    return x


def _mT(x):
    return swapaxes(x, -1, -2)


def _mH(x):
    return conjugate(_mT(x)) if _is_complex(x) else _mT(x)


def _mm(a, b):
    """``a @ b`` for stacks of matrices, batch dims broadcast."""
    sa, sb = _shape(a), _shape(b)
    batch = broadcast_shapes("matmul", sa[:-2], sb[:-2])
    a = broadcast_to_shape(a, batch + sa[-2:], "matmul")
    b = broadcast_to_shape(b, batch + sb[-2:], "matmul")
    return lax.batch_matmul(a, b) if batch else lax.dot(a, b)


def _eye(n: int, like):
    return np.eye(n, dtype=get_aval(like).dtype)


# ---------------------------------------------------------------------------
# decompositions

def cholesky(a, *, upper: bool = False, symmetrize_input: bool = True):
    """The Cholesky factor of Hermitian positive-definite ``a``: lower ``L`` with
    ``L @ L^H = a`` (or upper ``U = L^H`` with ``upper=True``). NaNs where ``a`` is not
    positive definite (JAX's behaviour; NumPy raises).

    Example:
        >>> cholesky(np.array([[4., 2.], [2., 5.]], np.float32))
        array([[2., 0.],
               [1., 2.]], dtype=float32)
    """
    x = _matrix(a, "cholesky", square=True)
    low = lax_linalg.cholesky(x, symmetrize_input=symmetrize_input)
    return _mH(low) if upper else low


def qr(a, mode: str = "reduced"):
    """QR decomposition: ``QRResult(Q, R)`` for ``mode='reduced'``/``'complete'``, ``R``
    alone for ``mode='r'``.

    Example:
        >>> q, r = qr(np.array([[3., 1.], [4., 2.], [0., 1.]], np.float32))
        >>> q.shape, r.shape
        ((3, 2), (2, 2))
    """
    x = _matrix(a, "qr")
    if mode not in ("reduced", "complete", "r"):
        raise FunctraceError(f"linalg.qr: unsupported mode {mode!r}; use 'reduced', "
                             "'complete' or 'r'")
    q, r = lax_linalg.qr(x, full_matrices=mode == "complete")
    return r if mode == "r" else QRResult(q, r)


def svd(a, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False,
        subset_by_index=None):
    """Singular value decomposition ``a = U @ diag(S) @ Vh``, ``S`` descending:
    ``SVDResult(U, S, Vh)``, or ``S`` alone with ``compute_uv=False``.

    Example:
        >>> svd(np.array([[0., 2.], [1., 0.]], np.float32), compute_uv=False)
        array([2., 1.], dtype=float32)
    """
    x = _matrix(a, "svd")
    out = lax_linalg.svd(x, full_matrices=full_matrices, compute_uv=compute_uv,
                         subset_by_index=subset_by_index)
    return SVDResult(*out) if compute_uv else out


def svdvals(x):
    """The singular values of ``x``, descending (``svd(x, compute_uv=False)``)."""
    return svd(x, compute_uv=False)


def eigh(a, UPLO: str | None = None, symmetrize_input: bool = True):  # noqa: N803
    """Eigenvalues (ascending) and eigenvectors of Hermitian ``a``:
    ``EighResult(eigenvalues, eigenvectors)``; ``UPLO`` picks the triangle read when
    ``symmetrize_input=False``.

    Example:
        >>> eigh(np.array([[2., 1.], [1., 2.]], np.float32)).eigenvalues
        array([1., 3.], dtype=float32)
    """
    x = _matrix(a, "eigh", square=True)
    if UPLO not in (None, "L", "U"):
        raise FunctraceError(f"linalg.eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    v, w = lax_linalg.eigh(x, lower=UPLO != "U", symmetrize_input=symmetrize_input)
    return EighResult(w, v)


def eigvalsh(a, UPLO: str | None = "L", *, symmetrize_input: bool = True):  # noqa: N803
    """The eigenvalues (ascending) of Hermitian ``a``; with ``symmetrize_input`` (the
    default) ``a`` is first replaced by ``(a + a^H) / 2``, otherwise only the ``UPLO``
    triangle is read.

    Example:
        >>> eigvalsh(np.array([[2., 0.], [0., 1.]], np.float32))
        array([1., 2.], dtype=float32)
    """
    return eigh(a, UPLO, symmetrize_input=symmetrize_input).eigenvalues


# ---------------------------------------------------------------------------
# solvers through LU

def _lu_parts(x):
    lu, pivots, perm = lax_linalg.lu(x)
    n = _shape(x)[-1]
    low = lax.add(_tril_strict(lu), lax.broadcast_in_dim(_eye(n, lu), _shape(lu),
                                                         (len(_shape(lu)) - 2,
                                                          len(_shape(lu)) - 1)))
    return lu, pivots, perm, low


def _tril_strict(x):
    shape = _shape(x)
    nd = len(shape)
    mask = lax.broadcast_in_dim(np.tril(np.ones(shape[-2:], bool), -1), shape, (nd - 2, nd - 1))
    return lax.select(mask, x, lax.broadcast_in_dim(np.zeros((), get_aval(x).dtype), shape, ()))


def solve(a, b):
    """The solution ``x`` of ``a @ x = b`` for square ``a``; ``b`` is a vector (1-D) or a
    stack of matrices ``(..., N, K)``; batch dims broadcast.

    Example:
        >>> solve(np.array([[2., 0.], [0., 4.]], np.float32), np.array([2., 2.], np.float32))
        array([1. , 0.5], dtype=float32)
    """
    x = _matrix(a, "solve", square=True)
    (x, b) = promote_inexact(x, as_array(b))
    n = _shape(x)[-1]
    vector = len(_shape(b)) == 1
    if vector:
        b = lax.expand_dims(b, (1,))
    if _shape(b)[-2] != n:
        raise ShapeError(f"linalg.solve: b's leading dimension {_shape(b)[-2]} does not match "
                         f"a's shape {_fmt(_shape(x))}")
    batch = broadcast_shapes("solve", _shape(x)[:-2], _shape(b)[:-2])
    x = broadcast_to_shape(x, batch + (n, n), "solve")
    b = broadcast_to_shape(b, batch + _shape(b)[-2:], "solve")
    lu, _, perm, low = _lu_parts(x)
    pb = lax.batch_matmul(lax_linalg.permutation_matrix(perm, get_aval(x).dtype), b) \
        if batch else lax.dot(lax_linalg.permutation_matrix(perm, get_aval(x).dtype), b)
    y = lax_linalg.triangular_solve(low, pb, left_side=True, lower=True, unit_diagonal=True)
    out = lax_linalg.triangular_solve(lu, y, left_side=True, lower=False)
    return lax.squeeze(out, (len(_shape(out)) - 1,)) if vector else out


def inv(a):
    """The inverse of square ``a`` (batched over leading axes).

    Example:
        >>> inv(np.array([[2., 0.], [0., 4.]], np.float32))
        array([[0.5 , 0.  ],
               [0.  , 0.25]], dtype=float32)
    """
    x = _matrix(a, "inv", square=True)
    n = _shape(x)[-1]
    return solve(x, broadcast_to_shape(_eye(n, x), _shape(x), "inv"))


def _lu_diag_parity(x):
    lu, pivots, _, _ = _lu_parts(x)
    n = _shape(x)[-1]
    diag = lax.reduce_sum(lax.mul(lu, lax.broadcast_in_dim(
        _eye(n, lu), _shape(lu), (len(_shape(lu)) - 2, len(_shape(lu)) - 1))),
        (len(_shape(lu)) - 1,))
    swaps = lax.ne(pivots, lax.broadcast_in_dim(np.arange(n, dtype=np.int32),
                                                _shape(pivots), (len(_shape(pivots)) - 1,)))
    odd = lax.rem(sum(swaps, axis=-1), 2)
    parity = lax.sub(np.asarray(1, get_aval(x).dtype),
                     lax.mul(lax.convert_element_type(odd, get_aval(x).dtype),
                             np.asarray(2, get_aval(x).dtype)))
    return diag, parity


def slogdet(a, *, method: str | None = None):
    """``SlogdetResult(sign, logabsdet)`` of square ``a``: ``det(a) = sign *
    exp(logabsdet)``, computed from an LU factorisation (no overflow for large dets).

    Example:
        >>> s, l = slogdet(np.array([[0., 2.], [3., 0.]], np.float32))
        >>> float(s), round(float(l), 5)
        (-1.0, 1.79176)
    """
    x = _matrix(a, "slogdet", square=True)
    if method not in (None, "lu"):
        raise FunctraceError(f"linalg.slogdet: unsupported method {method!r}; use 'lu'")
    diag, parity = _lu_diag_parity(x)
    mag = _abs(diag)
    logabsdet = sum(log(mag), axis=-1)
    if _is_complex(x):
        phase = prod(lax.div(diag, lax.convert_element_type(mag, get_aval(x).dtype)), axis=-1)
        sgn = lax.mul(phase, parity)
    else:
        sgn = lax.mul(prod(sign(diag), axis=-1), parity)
    return SlogdetResult(sgn, logabsdet)


def det(a):
    """The determinant of square ``a``: the product of the LU pivots, with the parity of the
    row swaps (its derivative is ``det(a) * trace(a^-1 da)``).

    Example:
        >>> det(np.array([[2., 1.], [4., 4.]], np.float32))
        array(4., dtype=float32)
    """
    x = _matrix(a, "det", square=True)
    shape = get_aval(x).shape
    if shape[-1] == 0:  # the empty product: det of a 0x0 matrix is 1 (NumPy, JAX)
        return lax.full(shape[:-2], 1, get_aval(x).dtype)
    diag, parity = _lu_diag_parity(x)
    return lax.mul(prod(diag, axis=-1), parity)


def matrix_power(a, n: int):
    """``a`` multiplied by itself ``n`` times (``n < 0`` inverts first; ``n = 0`` gives the
    identity), by repeated squaring; for ``n >= 0`` the result keeps ``a``'s dtype.

    Example:
        >>> matrix_power(np.array([[1., 1.], [0., 1.]], np.float32), 3)
        array([[1., 3.],
               [0., 1.]], dtype=float32)
    """
    x = _matrix(a, "matrix_power", square=True)
    try:
        n = operator.index(n)
    except TypeError:
        raise FunctraceError(f"linalg.matrix_power: the exponent must be an integer, got "
                             f"{n!r}") from None
    if n >= 0:  # only products: an integer matrix stays integer, as in JAX
        x = as_array(a)
    if n == 0:
        return broadcast_to_shape(_eye(_shape(x)[-1], x), _shape(x), "matrix_power")
    if n < 0:
        x, n = inv(x), -n
    result = None
    while n:
        if n & 1:
            result = x if result is None else _mm(result, x)
        n >>= 1
        if n:
            x = _mm(x, x)
    return result


def multi_dot(arrays, *, precision=None):
    """The product of a chain of matrices (the first may be 1-D, a row; the last 1-D, a
    column), multiplied left to right.

    Example:
        >>> multi_dot([np.eye(2, dtype=np.float32), np.ones((2, 3), np.float32),
        ...            np.ones(3, np.float32)])
        array([3., 3.], dtype=float32)
    """
    arrays = list(promote_inexact(*[as_array(x) for x in arrays]))
    if len(arrays) < 2:
        raise FunctraceError("linalg.multi_dot: pass at least two arrays")
    first_vec, last_vec = len(_shape(arrays[0])) == 1, len(_shape(arrays[-1])) == 1
    if first_vec:
        arrays[0] = lax.expand_dims(arrays[0], (0,))
    if last_vec:
        arrays[-1] = lax.expand_dims(arrays[-1], (1,))
    if any(len(_shape(x)) != 2 for x in arrays):
        raise ShapeError("linalg.multi_dot: the inner arrays must be 2-D (the first and last "
                         f"may be 1-D), got shapes {[_shape(x) for x in arrays]}")
    out = arrays[0]
    for x in arrays[1:]:
        out = _mm(out, x)
    if last_vec:
        out = lax.squeeze(out, (1,))
    if first_vec:
        out = lax.squeeze(out, (0,))
    return out


# ---------------------------------------------------------------------------
# SVD-based: pinv, lstsq, matrix_rank

def _default_rtol(x):
    m, n = _shape(x)[-2:]
    return float(np.finfo(get_aval(x).dtype).eps) * max(m, n)


@custom_jvp
def _pinv(x, rtol):
    u, s, vh = lax_linalg.svd(x, full_matrices=False)
    cutoff = lax.mul(lax.expand_dims(_max(s, axis=-1), (len(_shape(s)) - 1,)), rtol)
    cutoff = lax.broadcast_in_dim(cutoff, _shape(s), tuple(range(len(_shape(s)))))
    keep = lax.gt(s, cutoff)
    safe = where(keep, s, 1.0)
    s_inv = where(keep, lax.div(np.asarray(1, get_aval(s).dtype), safe), 0.0)
    s_inv = lax.convert_element_type(s_inv, get_aval(x).dtype) if _is_complex(x) else s_inv
    nd = len(_shape(s))
    scaled = lax.mul(lax.broadcast_in_dim(s_inv, _shape(s) + (_shape(u)[-2],),
                                          tuple(range(nd))), _mH(u))
    return _mm(_mH(vh), scaled)


@_pinv.defjvp
def _pinv_jvp(primals, tangents):
    # JAX's rule (Golub & Pereyra 1973, eq. 4.12): correct where the rank does not change
    x, rtol = primals
    dx, _ = tangents
    p = _pinv(x, rtol)
    m, n = _shape(x)[-2:]
    eye_m = broadcast_to_shape(_eye(m, x), _shape(x)[:-2] + (m, m), "pinv")
    eye_n = broadcast_to_shape(_eye(n, x), _shape(x)[:-2] + (n, n), "pinv")
    dxh = _mH(dx)
    p_dot = lax.add(lax.add(
        lax.neg(_mm(_mm(p, dx), p)),
        _mm(_mm(_mm(p, _mH(p)), dxh), lax.sub(eye_m, _mm(x, p)))),
        _mm(_mm(lax.sub(eye_n, _mm(p, x)), dxh), _mm(_mH(p), p)))
    return p, p_dot


def pinv(a, rtol=None, hermitian: bool = False, *, rcond=None):
    """The Moore-Penrose pseudo-inverse, from the SVD; singular values at most ``rtol``
    times the largest are treated as zero (default ``10 * max(m, n) * eps``, JAX's).

    Example:
        >>> pinv(np.array([[2., 0.], [0., 0.]], np.float32))
        array([[0.5, 0. ],
               [0. , 0. ]], dtype=float32)
    """
    x = _matrix(a, "pinv")
    rtol = rcond if rtol is None else rtol
    rtol = 10 * _default_rtol(x) if rtol is None else rtol
    rtol_dtype = np.finfo(get_aval(x).dtype).dtype
    return _pinv(x, np.asarray(rtol, rtol_dtype))


def matrix_rank(M, rtol=None, *, hermitian: bool = False, tol=None):  # noqa: N803
    """The number of singular values above ``tol`` (absolute) or ``rtol`` times the
    largest (default ``max(m, n) * eps``). With ``hermitian=True`` ``M`` is taken to be
    Hermitian and its singular values are the magnitudes of its eigenvalues (``eigvalsh``,
    cheaper than an SVD).

    Example:
        >>> int(matrix_rank(np.array([[1., 2.], [2., 4.]], np.float32)))
        1
    """
    x = _matrix(M, "matrix_rank")
    s = _abs(eigvalsh(x)) if hermitian else svdvals(x)
    sdt = get_aval(s).dtype
    if tol is None:
        rtol = _default_rtol(x) if rtol is None else rtol
        tol = lax.mul(_max(s, axis=-1, keepdims=True), np.asarray(rtol, sdt))
    else:
        tol = lax.convert_element_type(as_array(tol), sdt)
        tol = lax.expand_dims(tol, (len(_shape(tol)),)) if _shape(tol) else tol
    tol = broadcast_to_shape(tol, _shape(s), "matrix_rank")
    return sum(lax.gt(s, tol), axis=-1)


def lstsq(a, b, rcond=None, *, numpy_resid: bool = False):
    """The least-squares solution of ``a @ x = b``: ``(x, resid, rank, s)`` as NumPy's,
    except that ``resid`` is always computed (``numpy_resid=True`` empties it where NumPy
    does, outside ``jit``).

    Example:
        >>> x, resid, rank, s = lstsq(np.array([[1., 0.], [0., 1.], [1., 1.]], np.float32),
        ...                          np.array([1., 2., 3.], np.float32))
        >>> np.round(x, 5), int(rank)
        (array([1., 2.], dtype=float32), 2)
    """
    x = _matrix(a, "lstsq")
    x, b = promote_inexact(x, as_array(b))
    if len(_shape(x)) != 2:
        raise ShapeError(f"linalg.lstsq: a must be 2-D, got shape {_fmt(_shape(x))}")
    vector = len(_shape(b)) == 1
    if vector:
        b = lax.expand_dims(b, (1,))
    m, n = _shape(x)
    if _shape(b)[0] != m:
        raise ShapeError(f"linalg.lstsq: a has {m} rows but b has {_shape(b)[0]}")
    rcond = _default_rtol(x) if rcond is None or rcond < 0 else rcond
    u, s, vh = lax_linalg.svd(x, full_matrices=False)
    cutoff = lax.mul(lax.slice(s, (0,), (1,)), np.asarray(rcond, get_aval(s).dtype))
    mask = lax.ge(s, lax.broadcast_in_dim(cutoff, _shape(s), (0,)))
    rank = sum(mask)
    s_inv = where(mask, lax.div(np.asarray(1, get_aval(s).dtype), where(mask, s, 1.0)), 0.0)
    s_inv = lax.convert_element_type(s_inv, get_aval(x).dtype) if _is_complex(x) else s_inv
    utb = lax.dot(_mH(u), b)
    sol = lax.dot(_mH(vh), lax.mul(lax.broadcast_in_dim(s_inv, _shape(utb), (0,)), utb))
    r = lax.sub(b, lax.dot(x, sol))
    resid = sum(lax.mul(r, conjugate(r)).real if _is_complex(r) else lax.mul(r, r), axis=0)
    if numpy_resid and (int(np.asarray(rank)) < n or m <= n):
        resid = np.zeros((0,), get_aval(resid).dtype)
    if vector:
        sol = lax.squeeze(sol, (1,))
    return sol, resid, rank, s


# ---------------------------------------------------------------------------
# norms

def vector_norm(x, /, *, axis=None, keepdims: bool = False, ord=2):  # noqa: A002
    """The vector ``ord``-norm over ``axis`` (all axes when None; the array API's name):
    several axes are one vector of their entries (never a matrix norm).

    Example:
        >>> vector_norm(np.ones((2, 2), np.float32), axis=(0, 1))
        array(2., dtype=float32)
    """
    x = as_array(x)
    shape = _shape(x)
    nd = len(shape)
    axes = tuple(range(nd)) if axis is None else canonical_axes(axis, nd, "vector_norm")
    if len(axes) == 1:
        return norm(x, ord, axis=axes[0], keepdims=keepdims)
    rest = [d for d in range(nd) if d not in axes]
    flat = lax.reshape(lax.transpose(x, tuple(rest + list(axes))),
                       tuple(shape[d] for d in rest) + (int(np.prod([shape[d] for d in axes])),))
    out = norm(flat, ord, axis=-1)
    if keepdims:
        out = lax.reshape(out, tuple(1 if d in axes else shape[d] for d in range(nd)))
    return out


def matrix_norm(x, /, *, keepdims: bool = False, ord="fro"):  # noqa: A002
    """The matrix ``ord``-norm over the last two axes (the array API's name)."""
    return norm(x, ord, axis=(-2, -1), keepdims=keepdims)


def _vector_norm(x, ord, axis: int, keepdims: bool):  # noqa: A002
    mag = _abs(x)
    if ord is None or ord == 2:
        sq = lax.mul(x, conjugate(x)).real if _is_complex(x) else lax.mul(x, x)
        return sqrt(sum(sq, axis=axis, keepdims=keepdims))
    if ord == np.inf:
        return _max(mag, axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return -_max(-mag, axis=axis, keepdims=keepdims)
    if ord == 0:
        nonzero = lax.convert_element_type(lax.ne(mag, np.zeros((), get_aval(mag).dtype)),
                                           get_aval(mag).dtype)
        return sum(nonzero, axis=axis, keepdims=keepdims)
    if ord == 1:
        return sum(mag, axis=axis, keepdims=keepdims)
    p = float(ord)
    dt = get_aval(mag).dtype
    return lax.pow(sum(lax.pow(mag, np.asarray(p, dt)), axis=axis, keepdims=keepdims),
                   np.asarray(1.0 / p, dt))


def _matrix_norm(x, ord, axes, keepdims: bool):  # noqa: A002
    r, c = axes
    if ord in (None, "fro"):
        sq = lax.mul(x, conjugate(x)).real if _is_complex(x) else lax.mul(x, x)
        out = sqrt(sum(sq, axis=axes, keepdims=keepdims))
        return out
    if ord in (1, -1, np.inf, -np.inf):
        along, other = (r, c) if ord in (1, -1) else (c, r)
        sums = sum(_abs(x), axis=along, keepdims=True)
        pick = _max(sums, axis=other, keepdims=True) if ord > 0 else \
            -_max(-sums, axis=other, keepdims=True)
        return pick if keepdims else lax.squeeze(pick, tuple(sorted((r, c))))
    if ord in (2, -2, "nuc"):
        moved = lax.transpose(x, tuple(d for d in range(len(_shape(x))) if d not in axes)
                              + (r, c))
        s = svdvals(moved)
        out = sum(s, axis=-1) if ord == "nuc" else (
            _max(s, axis=-1) if ord == 2 else -_max(-s, axis=-1))
        if keepdims:
            for d in sorted((r, c)):
                out = lax.expand_dims(out, (d,))
        return out
    raise FunctraceError(f"linalg.norm: invalid order {ord!r} for a matrix norm; use None, "
                         "'fro', 'nuc', 1, -1, 2, -2, inf or -inf")


def norm(x, ord=None, axis=None, keepdims: bool = False):  # noqa: A002
    """Vector or matrix norm, as ``numpy.linalg.norm``: with ``axis=None`` the 2-norm of the
    flattened array (for ``ord=None``), a vector norm over one axis, a matrix norm over two.

    Example:
        >>> norm(np.array([3., 4.], np.float32))
        array(5., dtype=float32)
    """
    (x,) = promote_inexact(as_array(x))
    nd = len(_shape(x))
    if axis is None:
        if ord is None:
            flat = lax.reshape(x, (int(np.prod(_shape(x))),))
            out = _vector_norm(flat, None, 0, False)
            return lax.reshape(out, (1,) * nd) if keepdims else out
        if nd not in (1, 2):
            raise ShapeError(f"linalg.norm: with ord={ord!r} and axis=None the input must be "
                             f"1-D or 2-D, got shape {_fmt(_shape(x))}")
        axis = tuple(range(nd))
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    axes = tuple(int(a) % nd if -nd <= a < nd else _bad_axis(a, nd) for a in axes)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes[0], keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, axes, keepdims)
    raise ShapeError(f"linalg.norm: axis must name one or two axes, got {axis!r}")


def _bad_axis(a, nd):
    raise ShapeError(f"linalg.norm: axis {a} is out of range for an array of rank {nd}")
