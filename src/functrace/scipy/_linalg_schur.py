"""Schur and Hessenberg decompositions for ``functrace.scipy.linalg``, and what JAX builds
on them: ``schur``, ``hessenberg``, ``rsf2csf``, ``sqrtm``.

``lax.linalg`` has no Schur or Hessenberg primitive and NumPy no LAPACK ``gees``/``gehrd``,
so two primitives here run NumPy reference impls (on the host, also under ``jit``):
Householder reduction to Hessenberg form, then the shifted QR algorithm -- single
(Wilkinson) shifts in complex arithmetic for the complex Schur form, Francis double shifts
for the real one (2x2 blocks for complex eigenvalue pairs, 2x2 blocks with real eigenvalues
split). As in JAX, neither primitive has a derivative rule; both map over leading axes.
The Schur form is unique only up to the order of eigenvalues and phases, so it need not
equal LAPACK's bit for bit; ``Z T Z^H = A`` with unitary ``Z`` is what holds.
"""

from __future__ import annotations

import numpy as np

from .. import numpy as fnp
from ..core.avals import ShapedArray
from ..core.trace import Primitive, abstract_eval_rules, impl_rules
from ..errors import FunctraceError, ShapeError
from ..lax import linalg as lax_linalg
from ..lax.linalg._util import _check_matrix, _def_front_batching
from ..numpy._promote import _fmt
from ._linalg_common import dtype_of, matrix, mH, shape_of

__all__ = ["hessenberg", "rsf2csf", "schur", "sqrtm"]

_MAX_SWEEPS = 60  # QR sweeps per eigenvalue before giving up (LAPACK uses 30 per block)


# ---------------------------------------------------------------------------
# reference algorithms (one matrix, NumPy)

def _hessenberg_ref(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(h, q)``: upper Hessenberg ``h`` and unitary ``q`` with ``a = q h q^H``."""
    h = np.array(a, copy=True)
    n = h.shape[0]
    q = np.eye(n, dtype=h.dtype)
    for k in range(n - 2):
        x = h[k + 1:, k]
        alpha = np.linalg.norm(x)
        if alpha == 0:
            continue
        phase = x[0] / abs(x[0]) if x[0] != 0 else 1
        v = x.copy()
        v[0] += phase * alpha
        v /= np.linalg.norm(v)
        h[k + 1:, :] -= 2 * np.outer(v, v.conj() @ h[k + 1:, :])
        h[:, k + 1:] -= 2 * np.outer(h[:, k + 1:] @ v, v.conj())
        q[:, k + 1:] -= 2 * np.outer(q[:, k + 1:] @ v, v.conj())
    return np.triu(h, -1), q


def _negligible(t: np.ndarray, i: int) -> bool:
    eps = np.finfo(t.dtype).eps
    scale = abs(t[i - 1, i - 1]) + abs(t[i, i])
    return abs(t[i, i - 1]) <= eps * (scale if scale else 1.0)


def _active_start(t: np.ndarray, hi: int) -> int:
    lo = hi
    while lo > 0 and not _negligible(t, lo):
        lo -= 1
    if lo > 0:
        t[lo, lo - 1] = 0
    return lo


def _givens(x, y) -> np.ndarray:
    """Unitary ``g`` (2x2) with ``g @ [x, y] = [r, 0]``."""
    r = np.hypot(abs(x), abs(y))
    if r == 0:
        return np.eye(2, dtype=np.result_type(x, y))
    if x == 0:
        c, s = 0.0, np.conj(y) / abs(y)
    else:
        c, s = abs(x) / r, (x / abs(x)) * np.conj(y) / r
    return np.array([[c, s], [-np.conj(s), c]])


def _rotate(t, z, k: int, g: np.ndarray, hi: int) -> None:
    """``t <- G t G^H`` on rows/columns ``k, k+1`` (columns from ``k - 1``, rows to ``hi``)."""
    t[k:k + 2, max(k - 1, 0):] = g @ t[k:k + 2, max(k - 1, 0):]
    t[:min(k + 3, hi + 1), k:k + 2] = t[:min(k + 3, hi + 1), k:k + 2] @ g.conj().T
    z[:, k:k + 2] = z[:, k:k + 2] @ g.conj().T


def _complex_schur(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t, z = _hessenberg_ref(a.astype(np.complex128))
    hi, sweeps = t.shape[0] - 1, 0
    while hi > 0:
        lo = _active_start(t, hi)
        if lo == hi:
            hi, sweeps = hi - 1, 0
            continue
        if sweeps > _MAX_SWEEPS:
            raise FunctraceError("scipy.linalg.schur: the QR algorithm did not converge")
        # Wilkinson shift: the eigenvalue of the trailing 2x2 block nearer t[hi, hi]
        a11, a12, a21, a22 = t[hi - 1, hi - 1], t[hi - 1, hi], t[hi, hi - 1], t[hi, hi]
        half = (a11 - a22) / 2
        disc = np.sqrt(half * half + a12 * a21)
        denom = half + disc if abs(half + disc) >= abs(half - disc) else half - disc
        mu = a22 - a12 * a21 / denom if denom != 0 else a22  # the stable root formula
        if sweeps in (10, 20):  # exceptional shift against cycling
            mu = a22 + abs(a21)
        x, y = t[lo, lo] - mu, t[lo + 1, lo]
        for k in range(lo, hi):
            if k > lo:
                x, y = t[k, k - 1], t[k + 1, k - 1]
            _rotate(t, z, k, _givens(x, y), hi)
            if k > lo:
                t[k + 1, k - 1] = 0
        sweeps += 1
    return np.triu(t), z


def _house(x: np.ndarray) -> tuple[np.ndarray, float]:
    """``(v, beta)`` with ``(I - beta v v^T) x`` a multiple of ``e_1`` (real)."""
    v = x.astype(np.float64, copy=True)
    alpha = np.linalg.norm(v)
    if alpha == 0:
        return v, 0.0
    v[0] += np.copysign(alpha, v[0])
    return v, 2.0 / (v @ v)


def _reflect(t, z, k: int, v, beta, lo_col: int, hi_row: int) -> None:
    m = len(v)
    t[k:k + m, lo_col:] -= beta * np.outer(v, v @ t[k:k + m, lo_col:])
    t[:hi_row + 1, k:k + m] -= beta * np.outer(t[:hi_row + 1, k:k + m] @ v, v)
    z[:, k:k + m] -= beta * np.outer(z[:, k:k + m] @ v, v)


def _split_real_pair(t, z, k: int) -> None:
    """Triangularizes the 2x2 block at ``k`` when its eigenvalues are real."""
    a, b, c, d = t[k, k], t[k, k + 1], t[k + 1, k], t[k + 1, k + 1]
    half = (a - d) / 2
    disc = half * half + b * c
    if disc < 0:
        return  # a complex pair: the block stays
    lam = d + half + np.copysign(np.sqrt(disc), half) if half else d + np.sqrt(disc)
    vec = np.array([b, lam - a]) if abs(b) + abs(lam - a) > abs(lam - d) + abs(c) \
        else np.array([lam - d, c])
    vec = vec / np.linalg.norm(vec)
    g = np.array([[vec[0], vec[1]], [-vec[1], vec[0]]])  # g @ vec = e_1
    t[k:k + 2, k:] = g @ t[k:k + 2, k:]
    t[:k + 2, k:k + 2] = t[:k + 2, k:k + 2] @ g.T
    z[:, k:k + 2] = z[:, k:k + 2] @ g.T
    t[k + 1, k] = 0


def _real_schur(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t, z = _hessenberg_ref(a.astype(np.float64))
    hi, sweeps = t.shape[0] - 1, 0
    while hi > 0:
        lo = _active_start(t, hi)
        if lo == hi:
            hi, sweeps = hi - 1, 0
            continue
        if lo == hi - 1:
            _split_real_pair(t, z, lo)
            hi, sweeps = hi - 2, 0
            continue
        if sweeps > _MAX_SWEEPS:
            raise FunctraceError("scipy.linalg.schur: the QR algorithm did not converge")
        # Francis double shift by the trailing 2x2 block's eigenvalues (Golub & Van Loan
        # 7.5.1), with ad hoc shifts now and then against cycling
        if sweeps in (10, 20):
            w = abs(t[hi, hi - 1]) + abs(t[hi - 1, hi - 2])
            s, p = 1.5 * w, w * w
        else:
            s = t[hi - 1, hi - 1] + t[hi, hi]
            p = t[hi - 1, hi - 1] * t[hi, hi] - t[hi - 1, hi] * t[hi, hi - 1]
        x = t[lo, lo] ** 2 + t[lo, lo + 1] * t[lo + 1, lo] - s * t[lo, lo] + p
        y = t[lo + 1, lo] * (t[lo, lo] + t[lo + 1, lo + 1] - s)
        w3 = t[lo + 1, lo] * t[lo + 2, lo + 1]
        for k in range(lo, hi - 1):
            v, beta = _house(np.array([x, y, w3]))
            _reflect(t, z, k, v, beta, max(lo, k - 1), min(k + 3, hi))
            x, y = t[k + 1, k], t[k + 2, k]
            if k < hi - 2:
                w3 = t[k + 3, k]
        v, beta = _house(np.array([x, y]))
        _reflect(t, z, hi - 1, v, beta, hi - 2, hi)
        for i in range(lo + 2, hi + 1):  # the bulge is gone: clear the rounding it left
            t[i, :i - 1] = 0
        sweeps += 1
    return np.triu(t, -1), z


# ---------------------------------------------------------------------------
# primitives

def _batched(fn, x: np.ndarray, dtype) -> list[np.ndarray]:
    flat = x.reshape((-1,) + x.shape[-2:])
    outs = [fn(m) for m in flat] if flat.shape[0] else []
    res = []
    for i in range(2):
        stack = np.stack([o[i] for o in outs]) if outs else np.zeros(flat.shape, dtype)
        res.append(stack.astype(dtype).reshape(x.shape))
    return res


schur_p = Primitive("schur", multiple_results=True, impl_fallback=True)
hessenberg_p = Primitive("hessenberg", multiple_results=True, impl_fallback=True)


def _schur_impl(x):
    fn = _complex_schur if x.dtype.kind == "c" else _real_schur
    return _batched(fn, x, x.dtype)


def _hessenberg_impl(x):
    return _batched(_hessenberg_ref, x.astype(np.result_type(x.dtype, np.float64)), x.dtype)


def _square_pair_abstract(op: str):
    def rule(x):
        _check_matrix(op, x, square=True)
        return [ShapedArray(x.shape, x.dtype), ShapedArray(x.shape, x.dtype)]
    return rule


impl_rules[schur_p] = _schur_impl
abstract_eval_rules[schur_p] = _square_pair_abstract("schur")
_def_front_batching(schur_p)
impl_rules[hessenberg_p] = _hessenberg_impl
abstract_eval_rules[hessenberg_p] = _square_pair_abstract("hessenberg")
_def_front_batching(hessenberg_p)


# ---------------------------------------------------------------------------
# public functions

def _complex_dtype(x) -> np.dtype:
    return np.result_type(dtype_of(x), np.complex64)


def schur(a, output: str = "real"):
    """The Schur decomposition ``a = z @ t @ z^H``: ``(t, z)`` with unitary ``z`` and ``t``
    upper triangular (``output='complex'``, or a complex input) or quasi upper triangular
    with 2x2 blocks for complex eigenvalue pairs (``'real'``). Not differentiable (as JAX).

    Example:
        >>> t, z = schur(np.array([[1., 2.], [0., 3.]], np.float32))
        >>> t
        array([[1., 2.],
               [0., 3.]], dtype=float32)
    """
    if output not in ("real", "complex"):
        raise ShapeError(f"scipy.linalg.schur: expected output to be 'real' or 'complex', got "
                         f"{output!r}")
    x = matrix(a, "schur", square=True)
    if output == "complex":
        x = fnp.asarray(x, _complex_dtype(x))
    t, z = schur_p.bind(x)
    return t, z


def hessenberg(a, *, calc_q: bool = False, overwrite_a: bool = False,
               check_finite: bool = True):
    """The Hessenberg form ``h`` of square ``a`` (zeros below the first subdiagonal), and
    with ``calc_q=True`` also unitary ``q`` with ``a = q @ h @ q^H``: ``(h, q)``.

    Example:
        >>> h = hessenberg(np.array([[1., 2., 3.], [4., 5., 6.], [7., 8., 0.]], np.float32))
        >>> float(h[2, 0])
        0.0
    """
    del overwrite_a, check_finite
    x = matrix(a, "hessenberg", square=True)
    h, q = hessenberg_p.bind(x)
    return (h, q) if calc_q else h


def rsf2csf(T, Z, check_finite: bool = True):  # noqa: N803
    """Converts a real Schur form ``(T, Z)`` to the complex one: each 2x2 block is
    triangularized by a complex Givens rotation. Traceable and batched (each step is a
    masked update, taken where the subdiagonal entry is not negligible).

    Example:
        >>> t, z = rsf2csf(*schur(np.array([[0., -1.], [1., 0.]], np.float32)))
        >>> bool(abs(complex(t[1, 0])) < 1e-6)
        True
    """
    del check_finite
    t = matrix(T, "rsf2csf", square=True)
    z = matrix(Z, "rsf2csf", square=True)
    if shape_of(t)[-1] != shape_of(z)[-1]:
        raise ShapeError(f"scipy.linalg.rsf2csf: T and Z must have the same size, got "
                         f"{_fmt(shape_of(t))} and {_fmt(shape_of(z))}")
    dt = np.result_type(dtype_of(t), dtype_of(z), np.complex64)
    t, z = fnp.asarray(t, dt), fnp.asarray(z, dt)
    n = shape_of(t)[-1]
    eps = np.finfo(dt).eps
    idx = np.arange(n)
    for m in range(n - 1, 0, -1):
        a, b = t[..., m - 1, m - 1], t[..., m - 1, m]
        c, d = t[..., m, m - 1], t[..., m, m]
        act = fnp.abs(c) > eps * (fnp.abs(a) + fnp.abs(d))
        # mu = an eigenvalue of the 2x2 block minus d (as SciPy: the first root)
        half = (a - d) / 2
        root = fnp.sqrt(half * half + b * c)
        mu = half + root
        r = fnp.sqrt(fnp.abs(mu) ** 2 + fnp.abs(c) ** 2)
        r = fnp.where(act, r, 1)
        cs, sn = mu / r, c / r
        g = fnp.stack([fnp.stack([fnp.conj(cs), sn], -1), fnp.stack([-sn, cs], -1)], -2)
        g = fnp.where(act[..., None, None], g, np.eye(2, dtype=dt))
        rows = fnp.matmul(g, t[..., m - 1:m + 1, :])
        keep = idx < m - 1
        t = fnp.concatenate([t[..., :m - 1, :],
                             fnp.where(keep, t[..., m - 1:m + 1, :], rows),
                             t[..., m + 1:, :]], axis=-2)
        cols = fnp.matmul(t[..., :, m - 1:m + 1], mH(g))
        keep_r = (idx >= m + 1)[:, None]
        t = fnp.concatenate([t[..., :, :m - 1],
                             fnp.where(keep_r, t[..., :, m - 1:m + 1], cols),
                             t[..., :, m + 1:]], axis=-1)
        z = fnp.concatenate([z[..., :, :m - 1], fnp.matmul(z[..., :, m - 1:m + 1], mH(g)),
                             z[..., :, m + 1:]], axis=-1)
        t = fnp.where((idx[:, None] == m) & (idx[None, :] == m - 1), 0, t)
    return t, z


def _sqrt_upper(t):
    """The upper-triangular square root ``u`` of upper-triangular ``t`` (``u @ u = t``),
    column by column: ``(u[:j, :j] + u_jj I) u[:j, j] = t[:j, j]`` is a triangular solve."""
    n = shape_of(t)[-1]
    diag = fnp.sqrt(fnp.diagonal(t, axis1=-2, axis2=-1))
    cols = []
    for j in range(n):
        if j == 0:
            cols.append(fnp.pad(diag[..., :1, None], [(0, 0)] * (len(shape_of(t)) - 2)
                                + [(0, n - 1), (0, 0)]))
            continue
        u = fnp.concatenate(cols, axis=-1)[..., :j, :j]
        lhs = u + diag[..., j, None, None] * np.eye(j, dtype=dtype_of(t))
        x = lax_linalg.triangular_solve(lhs, t[..., :j, j:j + 1], left_side=True, lower=False)
        col = fnp.concatenate([x, diag[..., j:j + 1, None]], axis=-2)
        cols.append(fnp.pad(col, [(0, 0)] * (len(shape_of(t)) - 2) + [(0, n - j - 1), (0, 0)]))
    return fnp.concatenate(cols, axis=-1)


def sqrtm(A, blocksize: int = 1):  # noqa: N803
    """A square root of ``A`` (``sqrtm(A) @ sqrtm(A) = A``), from the complex Schur form
    (complex result, as JAX). ``blocksize > 1`` is not implemented (as JAX).

    Example:
        >>> sqrtm(np.array([[4., 0.], [0., 9.]], np.float32)).real
        array([[2., 0.],
               [0., 3.]], dtype=float32)
    """
    if blocksize > 1:
        raise FunctraceError("scipy.linalg.sqrtm: the blocked version (blocksize > 1) is not "
                             "implemented (as in JAX)")
    t, z = schur(A, output="complex")
    return fnp.matmul(fnp.matmul(z, _sqrt_upper(t)), mH(z))

