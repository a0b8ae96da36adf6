"""The decomposition primitives of ``lax.linalg`` and their rules (see the package
docstring)."""

from __future__ import annotations

import numpy as np

from ...core.avals import ShapedArray
from ...core.trace import Primitive, abstract_eval_rules, get_aval, impl_rules
from ...errors import DTypeError, ShapeError
from ...transforms.ad import (
    Zero,
    defjvp2,
    is_undefined_primal,
    jvp_rules,
    tangent_aval,
    transpose_rules,
)
from ..elementwise import add, conj, div, eq, integer_pow, mul, neg, real, sub
from ..shape_ops import (
    broadcast_in_dim,
    convert_element_type,
)
from ._util import (
    _H,
    _T,
    _bcast_matrix,
    _check_matrix,
    _const_like,
    _def_front_batching,
    _diag,
    _dtype,
    _expand_to,
    _eye_like,
    _is_complex,
    _mm,
    _shape,
    _tril,
    _triu,
)

__all__ = [
    "cholesky", "cholesky_p", "eigh", "eigh_p", "lu", "lu_p",
    "qr", "qr_p", "svd", "svd_p", "triangular_solve", "triangular_solve_p",
]


# ---------------------------------------------------------------------------
# cholesky

cholesky_p = Primitive("cholesky", impl_fallback=True)


def cholesky(x, *, symmetrize_input: bool = True):
    """The lower Cholesky factor ``L`` of Hermitian positive-definite ``x`` (``L @ L^H = x``),
    batched over leading axes. NaNs (not an error) where ``x`` is not positive definite.

    Example:
        >>> cholesky(np.array([[4., 2.], [2., 5.]], np.float32))
        array([[2., 0.],
               [1., 2.]], dtype=float32)
    """
    _check_matrix("cholesky", get_aval(x), square=True)
    if symmetrize_input:
        x = symmetrize(x)
    return cholesky_p.bind(x)


def symmetrize(x):
    """``(x + x^H) / 2``: the Hermitian part of a batch of square matrices."""
    return div(add(x, _H(x)), _const_like(x, 2))


def _cholesky_impl(x):
    try:
        return np.linalg.cholesky(x)
    except np.linalg.LinAlgError:
        flat = x.reshape((-1,) + x.shape[-2:])
        out = np.empty_like(flat)
        for i, m in enumerate(flat):
            try:
                out[i] = np.linalg.cholesky(m)
            except np.linalg.LinAlgError:
                out[i] = np.nan
        return out.reshape(x.shape)


def _cholesky_abstract(x):
    _check_matrix("cholesky", x, square=True)
    return ShapedArray(x.shape, x.dtype)


def _cholesky_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    L = cholesky_p.bind(x)
    n = _shape(x)[-1]
    dx = convert_element_type(dx, _dtype(L)) if _dtype(dx) != _dtype(L) else dx
    tmp = triangular_solve(L, dx, left_side=False, transpose_a=True, conjugate_a=True,
                           lower=True)
    inner = triangular_solve(L, tmp, left_side=True, lower=True)
    phi = div(_tril(inner), _bcast_matrix(1 + np.eye(n), inner))
    return L, _mm(L, phi)


impl_rules[cholesky_p] = _cholesky_impl
abstract_eval_rules[cholesky_p] = _cholesky_abstract
jvp_rules[cholesky_p] = _cholesky_jvp
_def_front_batching(cholesky_p)


# ---------------------------------------------------------------------------
# triangular_solve

triangular_solve_p = Primitive("triangular_solve", impl_fallback=True)


def triangular_solve(a, b, *, left_side: bool = False, lower: bool = False,
                     transpose_a: bool = False, conjugate_a: bool = False,
                     unit_diagonal: bool = False):
    """Solves ``op(a) @ x = b`` (``left_side``) or ``x @ op(a) = b`` for triangular ``a``;
    ``op`` transposes and/or conjugates ``a``. Only ``a``'s ``lower`` (or upper) triangle is
    read; ``unit_diagonal`` assumes ones on the diagonal.

    Example:
        >>> a = np.array([[2., 0.], [1., 1.]], np.float32)
        >>> triangular_solve(a, np.array([[2.], [3.]], np.float32), left_side=True, lower=True)
        array([[1.],
               [2.]], dtype=float32)
    """
    return triangular_solve_p.bind(
        a, b, left_side=bool(left_side), lower=bool(lower), transpose_a=bool(transpose_a),
        conjugate_a=bool(conjugate_a), unit_diagonal=bool(unit_diagonal))


def _op_a(a: np.ndarray, lower, transpose_a, conjugate_a, unit_diagonal) -> np.ndarray:
    a = np.tril(a) if lower else np.triu(a)
    if unit_diagonal:
        n = a.shape[-1]
        a = a * (1 - np.eye(n, dtype=a.dtype)) + np.eye(n, dtype=a.dtype)
    if transpose_a:
        a = np.swapaxes(a, -1, -2)
    if conjugate_a:
        a = np.conj(a)
    return a


def _triangular_solve_impl(a, b, *, left_side, lower, transpose_a, conjugate_a, unit_diagonal):
    op = _op_a(a, lower, transpose_a, conjugate_a, unit_diagonal)
    with np.errstate(all="ignore"):
        if left_side:
            return np.linalg.solve(op, b).astype(b.dtype)
        # x @ op = b  <=>  op^T @ x^T = b^T
        xt = np.linalg.solve(np.swapaxes(op, -1, -2), np.swapaxes(b, -1, -2))
        return np.swapaxes(xt, -1, -2).astype(b.dtype)


def _triangular_solve_abstract(a, b, *, left_side, lower, transpose_a, conjugate_a,
                               unit_diagonal):
    _check_matrix("triangular_solve", a, square=True)
    if b.ndim != a.ndim or b.shape[:-2] != a.shape[:-2]:
        raise ShapeError(f"lax.linalg.triangular_solve: a and b must have the same rank and "
                         f"batch dims, got {a.str_short()} and {b.str_short()}")
    m = b.shape[-2] if left_side else b.shape[-1]
    if m != a.shape[-1]:
        side = "rows" if left_side else "columns"
        raise ShapeError(f"lax.linalg.triangular_solve: b's {side} ({m}) must match a's size "
                         f"{a.shape[-1]} (left_side={left_side}), got {a.str_short()} and "
                         f"{b.str_short()}")
    if a.dtype != b.dtype:
        raise DTypeError(f"lax.linalg.triangular_solve: a and b must have the same dtype, got "
                         f"{a.str_short()} and {b.str_short()}")
    return ShapedArray(b.shape, b.dtype)


def _triangular_solve_jvp_a(g_a, ans, a, b, *, left_side, lower, transpose_a, conjugate_a,
                            unit_diagonal):
    params = dict(left_side=left_side, lower=lower, transpose_a=transpose_a,
                  conjugate_a=conjugate_a, unit_diagonal=unit_diagonal)
    k = 1 if unit_diagonal else 0
    g_a = _tril(g_a, -k) if lower else _triu(g_a, k)
    g_a = neg(g_a)
    g_a = _T(g_a) if transpose_a else g_a
    g_a = conj(g_a) if conjugate_a and _is_complex(g_a) else g_a
    # d(op(a)^-1 b) = -op(a)^-1 d(op(a)) x, and on the right side x d(op(a)) op(a)^-1
    if left_side:
        return triangular_solve(a, _mm(g_a, ans), **params)
    return triangular_solve(a, _mm(ans, g_a), **params)


def _triangular_solve_jvp_b(g_b, ans, a, b, **params):
    return triangular_solve(a, g_b, **params)


def _triangular_solve_transpose(ct, a, b, *, left_side, lower, transpose_a, conjugate_a,
                                unit_diagonal):
    if is_undefined_primal(a):
        raise ShapeError("lax.linalg.triangular_solve is not linear in a; its transpose "
                         "exists only with respect to b")
    if isinstance(ct, Zero):
        return [None, Zero(tangent_aval(b.aval))]
    ct_b = triangular_solve(a, ct, left_side=left_side, lower=lower,
                            transpose_a=not transpose_a, conjugate_a=conjugate_a,
                            unit_diagonal=unit_diagonal)
    return [None, ct_b]


impl_rules[triangular_solve_p] = _triangular_solve_impl
abstract_eval_rules[triangular_solve_p] = _triangular_solve_abstract
defjvp2(triangular_solve_p, _triangular_solve_jvp_a, _triangular_solve_jvp_b)
transpose_rules[triangular_solve_p] = _triangular_solve_transpose
_def_front_batching(triangular_solve_p)


# ---------------------------------------------------------------------------
# eigh

eigh_p = Primitive("eigh", multiple_results=True, impl_fallback=True)


def eigh(x, *, lower: bool = True, symmetrize_input: bool = True,
         sort_eigenvalues: bool = True, subset_by_index=None):
    """Eigenvectors ``v`` and (ascending, real) eigenvalues ``w`` of Hermitian ``x``:
    ``x @ v = v * w``. Returns ``(v, w)`` (JAX's lax order; ``fnp.linalg.eigh`` returns
    ``(w, v)``).

    Example:
        >>> v, w = eigh(np.array([[2., 1.], [1., 2.]], np.float32))
        >>> w
        array([1., 3.], dtype=float32)
    """
    _check_matrix("eigh", get_aval(x), square=True)
    if subset_by_index is not None:
        raise ShapeError("lax.linalg.eigh: subset_by_index is not supported; slice the "
                         "eigenvalues/eigenvectors of the full decomposition instead")
    if symmetrize_input:
        x = symmetrize(x)
    v, w = eigh_p.bind(x, lower=bool(lower), sort_eigenvalues=bool(sort_eigenvalues))
    return v, w


def _real_dtype(dtype) -> np.dtype:
    return np.finfo(dtype).dtype


def _eigh_impl(x, *, lower, sort_eigenvalues):
    w, v = np.linalg.eigh(x, UPLO="L" if lower else "U")
    return [v.astype(x.dtype), w.astype(_real_dtype(x.dtype))]


def _eigh_abstract(x, *, lower, sort_eigenvalues):
    _check_matrix("eigh", x, square=True)
    return [ShapedArray(x.shape, x.dtype), ShapedArray(x.shape[:-1], _real_dtype(x.dtype))]


def _eigh_jvp(primals, tangents, *, lower, sort_eigenvalues):
    (a,), (da,) = primals, tangents
    v, w_real = eigh_p.bind(a, lower=lower, sort_eigenvalues=sort_eigenvalues)
    n = _shape(a)[-1]
    w = convert_element_type(w_real, _dtype(a)) if _is_complex(a) else w_real
    eye = _eye_like(a, n)
    nd = len(_shape(a))
    # F_ij = 1 / (w_j - w_i) off the diagonal, 0 on it (the eye keeps 1/0 out)
    full = _shape(a)
    diffs = sub(_expand_to(w, nd - 2, full), _expand_to(w, nd - 1, full))
    fmat = sub(integer_pow(add(eye, diffs), -1), eye)
    vdag_da_v = _mm(_mm(_H(v), da), v)
    dv = _mm(v, mul(fmat, vdag_da_v))
    dw = _diag(vdag_da_v)
    dw = real(dw) if _is_complex(dw) else dw
    return [v, w_real], [dv, dw]


impl_rules[eigh_p] = _eigh_impl
abstract_eval_rules[eigh_p] = _eigh_abstract
jvp_rules[eigh_p] = _eigh_jvp
_def_front_batching(eigh_p)


# ---------------------------------------------------------------------------
# qr

qr_p = Primitive("qr", multiple_results=True, impl_fallback=True)


def qr(x, *, pivoting: bool = False, full_matrices: bool = True):
    """QR decomposition ``x = q @ r`` (``q`` orthonormal columns, ``r`` upper triangular).
    With ``full_matrices=False`` the reduced factors ``(m, k)`` and ``(k, n)``,
    ``k = min(m, n)``. Returns ``(q, r)``.

    Example:
        >>> q, r = qr(np.array([[3., 1.], [4., 2.]], np.float32))
        >>> bool(np.allclose(q @ r, [[3., 1.], [4., 2.]], atol=1e-6))
        True
    """
    _check_matrix("qr", get_aval(x))
    if pivoting:
        raise ShapeError("lax.linalg.qr: pivoting=True is not supported")
    q, r = qr_p.bind(x, full_matrices=bool(full_matrices))
    return q, r


def _qr_impl(x, *, full_matrices):
    q, r = np.linalg.qr(x, mode="complete" if full_matrices else "reduced")
    return [q.astype(x.dtype), r.astype(x.dtype)]


def _qr_abstract(x, *, full_matrices):
    _check_matrix("qr", x)
    *batch, m, n = x.shape
    k = m if full_matrices else min(m, n)
    return [ShapedArray((*batch, m, k), x.dtype), ShapedArray((*batch, k, n), x.dtype)]


def _qr_jvp(primals, tangents, *, full_matrices):
    (x,), (dx,) = primals, tangents
    q, r = qr_p.bind(x, full_matrices=full_matrices)
    *_, m, n = _shape(x)
    if m < n or (full_matrices and m != n):
        raise ShapeError(f"lax.linalg.qr: differentiation is implemented only for m >= n "
                         f"with full_matrices=False (or square inputs), got shape {_shape(x)}")
    dx_rinv = triangular_solve(r, dx)  # dx @ r^-1 (a right-side solve)
    qt_dx_rinv = _mm(_H(q), dx_rinv)
    lower = _tril(qt_dx_rinv, -1)
    do = sub(lower, _H(lower))  # skew-Hermitian
    if _is_complex(x):
        imag_part = sub(qt_dx_rinv, convert_element_type(real(qt_dx_rinv), _dtype(x)))
        do = add(do, mul(_eye_like(x, n), imag_part))
    dq = add(_mm(q, sub(do, qt_dx_rinv)), dx_rinv)
    dr = _mm(sub(qt_dx_rinv, do), r)
    return [q, r], [dq, dr]


impl_rules[qr_p] = _qr_impl
abstract_eval_rules[qr_p] = _qr_abstract
jvp_rules[qr_p] = _qr_jvp
_def_front_batching(qr_p)


# ---------------------------------------------------------------------------
# svd

svd_p = Primitive("svd", multiple_results=True, impl_fallback=True)


def svd(x, *, full_matrices: bool = True, compute_uv: bool = True, subset_by_index=None,
        algorithm=None):
    """Singular value decomposition ``x = u @ diag(s) @ vh`` with ``s`` descending. Returns
    ``(u, s, vh)``, or ``s`` alone when ``compute_uv=False``.

    Example:
        >>> svd(np.array([[3., 0.], [0., 4.]], np.float32), compute_uv=False)
        array([4., 3.], dtype=float32)
    """
    _check_matrix("svd", get_aval(x))
    if subset_by_index is not None:
        raise ShapeError("lax.linalg.svd: subset_by_index is not supported; slice the full "
                         "decomposition instead")
    outs = svd_p.bind(x, full_matrices=bool(full_matrices), compute_uv=bool(compute_uv))
    if not compute_uv:
        return outs[0]
    s, u, vh = outs
    return u, s, vh


def _svd_impl(x, *, full_matrices, compute_uv):
    rdt = _real_dtype(x.dtype)
    if not compute_uv:
        return [np.linalg.svd(x, compute_uv=False).astype(rdt)]
    u, s, vh = np.linalg.svd(x, full_matrices=full_matrices)
    return [s.astype(rdt), u.astype(x.dtype), vh.astype(x.dtype)]


def _svd_abstract(x, *, full_matrices, compute_uv):
    _check_matrix("svd", x)
    *batch, m, n = x.shape
    k = min(m, n)
    s = ShapedArray((*batch, k), _real_dtype(x.dtype))
    if not compute_uv:
        return [s]
    um, vn = (m, n) if full_matrices else (k, k)
    return [s, ShapedArray((*batch, m, um), x.dtype), ShapedArray((*batch, vn, n), x.dtype)]


def _svd_jvp(primals, tangents, *, full_matrices, compute_uv):
    (a,), (da,) = primals, tangents
    *_, m, n = _shape(a)
    if compute_uv and full_matrices and m != n:
        raise ShapeError("lax.linalg.svd: differentiation with full_matrices=True is "
                         f"implemented only for square matrices, got shape {_shape(a)}; pass "
                         "full_matrices=False")
    s, u, vt = svd_p.bind(a, full_matrices=False, compute_uv=True)
    ut, v = _H(u), _H(vt)
    nd = len(_shape(a))
    ds_mat = _mm(_mm(ut, da), v)
    ds = _diag(ds_mat)
    ds = real(ds) if _is_complex(ds) else ds
    if not compute_uv:
        return [s], [ds]
    dt = _dtype(a)
    s_a = convert_element_type(s, dt) if _is_complex(a) else s
    k = _shape(s)[-1]
    kk = _shape(s)[:-1] + (k, k)
    s_row = _expand_to(s_a, nd - 2, kk)  # s_row[..., i, j] = s_j
    s_col = _expand_to(s_a, nd - 1, kk)  # s_col[..., i, j] = s_i
    s_diffs = mul(add(s_row, s_col), sub(s_row, s_col))
    zero_mask = convert_element_type(eq(s_diffs, _const_like(s_diffs, 0)), dt)
    fmat = sub(div(_const_like(s_diffs, 1), add(s_diffs, zero_mask)), zero_mask)
    dss = mul(s_row, ds_mat)  # dS @ diag(s)
    sds = mul(s_col, ds_mat)  # diag(s) @ dS
    s_zero = convert_element_type(eq(s_a, _const_like(s_a, 0)), dt)
    s_inv = sub(div(_const_like(s_a, 1), add(s_a, s_zero)), s_zero)
    s_inv_mat = mul(_eye_like(ds_mat, k), _expand_to(s_inv, nd - 2, kk))
    dudv_diag = mul(mul(sub(ds_mat, _H(ds_mat)), s_inv_mat), _const_like(ds_mat, 0.5))
    du = _mm(u, add(mul(fmat, add(dss, _H(dss))), dudv_diag))
    dv = _mm(v, mul(fmat, add(sds, _H(sds))))
    if m > n:
        dav = _mm(da, v)
        du = add(du, div(sub(dav, _mm(u, _mm(ut, dav))), _expand_to(s_a, nd - 2, _shape(dav))))
    if n > m:
        dahu = _mm(_H(da), u)
        dv = add(dv, div(sub(dahu, _mm(v, _mm(vt, dahu))),
                         _expand_to(s_a, nd - 2, _shape(dahu))))
    return [s, u, vt], [ds, du, _H(dv)]


impl_rules[svd_p] = _svd_impl
abstract_eval_rules[svd_p] = _svd_abstract
jvp_rules[svd_p] = _svd_jvp
_def_front_batching(svd_p)


# ---------------------------------------------------------------------------
# lu

lu_p = Primitive("lu", multiple_results=True, impl_fallback=True)


def lu(x):
    """LU decomposition with partial pivoting: ``x[..., permutation, :] = l @ u``. Returns
    ``(lu, pivots, permutation)``: ``l`` (unit diagonal, not stored) below the diagonal of
    ``lu`` and ``u`` on and above it; ``pivots[i]`` is the row swapped with row ``i`` at step
    ``i``; both int32.

    Example:
        >>> lu_, piv, perm = lu(np.array([[1., 2.], [3., 4.]], np.float32))
        >>> piv, perm
        (array([1, 1], dtype=int32), array([1, 0], dtype=int32))
    """
    _check_matrix("lu", get_aval(x))
    lu_, pivots, perm = lu_p.bind(x)
    return lu_, pivots, perm


def _lu_impl(x):
    *batch, m, n = x.shape
    k = min(m, n)
    a = np.array(x, copy=True).reshape((-1, m, n))
    nb = a.shape[0]
    pivots = np.zeros((nb, k), np.int32)
    perm = np.broadcast_to(np.arange(m, dtype=np.int32), (nb, m)).copy()
    rows = np.arange(nb)
    with np.errstate(all="ignore"):
        for j in range(k):
            p = j + np.argmax(np.abs(a[:, j:, j]), axis=1)
            pivots[:, j] = p
            a[rows, j], a[rows, p] = a[rows, p].copy(), a[rows, j].copy()
            perm[rows, j], perm[rows, p] = perm[rows, p].copy(), perm[rows, j].copy()
            piv = a[:, j, j][:, None]
            a[:, j + 1:, j] = np.where(piv != 0, a[:, j + 1:, j] / piv, a[:, j + 1:, j])
            a[:, j + 1:, j + 1:] -= a[:, j + 1:, j, None] * a[:, j, None, j + 1:]
    return [a.reshape(x.shape), pivots.reshape((*batch, k)), perm.reshape((*batch, m))]


def _lu_abstract(x):
    _check_matrix("lu", x)
    *batch, m, n = x.shape
    return [ShapedArray(x.shape, x.dtype), ShapedArray((*batch, min(m, n)), np.int32),
            ShapedArray((*batch, m), np.int32)]


def permutation_matrix(perm, dtype):
    """``P`` with ``P @ x == x[..., perm, :]`` (built by comparison, so it is traceable)."""
    shape = _shape(perm)
    m = shape[-1]
    nd = len(shape) + 1
    rows = broadcast_in_dim(perm, shape + (m,), tuple(range(nd - 1)))
    cols = broadcast_in_dim(np.arange(m, dtype=np.int32), shape + (m,), (nd - 1,))
    return convert_element_type(eq(rows, cols), dtype)


def _lu_jvp(primals, tangents):
    (a,), (da,) = primals, tangents
    lu_, pivots, perm = lu_p.bind(a)
    *_, m, n = _shape(a)
    if m != n:
        raise ShapeError(f"lax.linalg.lu: differentiation is implemented for square matrices "
                         f"only, got shape {_shape(a)}")
    x = _mm(permutation_matrix(perm, _dtype(a)), da)
    l_ = add(_tril(lu_, -1), _eye_like(lu_, m))
    u_ = _triu(lu_)
    la = triangular_solve(l_, x, left_side=True, lower=True, unit_diagonal=True)
    lau = triangular_solve(u_, la, left_side=False, lower=False)
    dlu = add(_mm(l_, _tril(lau, -1)), _mm(_triu(lau), u_))
    return ([lu_, pivots, perm],
            [dlu, Zero(tangent_aval(get_aval(pivots))), Zero(tangent_aval(get_aval(perm)))])


impl_rules[lu_p] = _lu_impl
abstract_eval_rules[lu_p] = _lu_abstract
jvp_rules[lu_p] = _lu_jvp
_def_front_batching(lu_p)

