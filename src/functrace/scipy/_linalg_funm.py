"""``funm`` and ``solve_sylvester`` of ``functrace.scipy.linalg``, on the complex Schur
form of ``_linalg_schur.py`` (as JAX builds them).

``funm`` applies ``func`` to the eigenvalues on the diagonal of the triangular Schur
factor and fills the rest by Parlett's recurrence (Golub & Van Loan, Alg. 11.1.1), one
superdiagonal at a time. ``solve_sylvester`` (``A X + X B = C``) reduces both matrices to
Schur form and solves the triangular equation column by column with triangular solves.
"""

from __future__ import annotations

import numpy as np

from .. import numpy as fnp
from ..errors import FunctraceError, ShapeError
from ..lax import linalg as lax_linalg
from ..numpy._promote import _fmt
from ._linalg_common import dtype_of, inexact, mH, shape_of
from ._linalg_schur import rsf2csf, schur

__all__ = ["funm", "solve_sylvester"]


def _parlett(f, t):
    """Fills the strict upper triangle of ``f`` (diagonal given) from triangular ``t``;
    returns ``(f, minden)`` with ``minden`` the smallest eigenvalue gap met."""
    n = shape_of(t)[-1]
    diag_t = fnp.diagonal(t, axis1=-2, axis2=-1)
    den = diag_t[..., None, :] - diag_t[..., :, None]  # t_jj - t_ii
    safe = fnp.where(den != 0, den, 1)
    upper_t = fnp.triu(t, 1)
    diag_f = fnp.diagonal(f, axis1=-2, axis2=-1)
    fdiff = diag_f[..., None, :] - diag_f[..., :, None]
    for p in range(1, n):
        upper_f = fnp.triu(f, 1)
        s = t * fdiff + fnp.matmul(upper_t, upper_f) - fnp.matmul(upper_f, upper_t)
        s = fnp.where(den != 0, s / safe, s)
        f = fnp.where(np.eye(n, k=p, dtype=bool), s, f)
    gaps = fnp.where(np.triu(np.ones((n, n), bool), 1), fnp.abs(den), np.inf)
    minden = fnp.minimum(fnp.abs(t[..., 0, 0]), fnp.min(gaps, axis=(-2, -1)))
    return f, minden


def funm(A, func, disp: bool = True):  # noqa: N803
    """The matrix function ``func(A)`` for square 2-D ``A``, where ``func`` maps an array
    of eigenvalues elementwise. With ``disp=False`` also an error estimate: ``(F, err)``.

    Example:
        >>> f = funm(np.array([[1., 2.], [0., 3.]], np.float32), lambda x: x * x)
        >>> f.real
        array([[1., 8.],
               [0., 9.]], dtype=float32)
    """
    a = fnp.asarray(A)
    shape = shape_of(a)
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ShapeError(f"scipy.linalg.funm: expected a square 2-D array, got shape "
                         f"{_fmt(shape)}")
    t, z = rsf2csf(*schur(a))
    f = fnp.asarray(fnp.diag(func(fnp.diagonal(t))), dtype_of(t))
    f, minden = _parlett(f, t)
    f = fnp.matmul(fnp.matmul(z, f), mH(z))
    if disp:
        return f
    tol = np.finfo(np.float32 if dtype_of(f) == np.complex64 else np.float64).eps
    minden = fnp.where(minden == 0, tol, minden)
    est = fnp.minimum(1, fnp.maximum(tol, (tol / minden)
                                     * fnp.linalg.norm(fnp.triu(t, 1), 1)))
    # (real and imaginary parts apart: fnp.isinf of a complex array fails to type-check)
    inf = fnp.any(fnp.isinf(fnp.real(f)) | fnp.isinf(fnp.imag(f)))
    return f, fnp.where(inf, np.inf, est)


def solve_sylvester(A, B, C, *, method: str = "schur", tol: float = 1e-8):  # noqa: N803
    """The solution ``X`` of ``A @ X + X @ B = C`` (``A`` is ``(m, m)``, ``B`` ``(n, n)``,
    ``C`` ``(m, n)``), by the Bartels-Stewart method on complex Schur forms. NaNs where
    some eigenvalues of ``A`` and ``B`` add up to less than ``tol`` in magnitude (no unique
    solution). Only ``method='schur'``: 'eigen' needs ``eig``, which functrace lacks.

    Example:
        >>> a, b = np.diag([1., 2.]).astype(np.float32), np.eye(2, dtype=np.float32)
        >>> solve_sylvester(a, b, np.ones((2, 2), np.float32))
        array([[0.5       , 0.5       ],
               [0.33333334, 0.33333334]], dtype=float32)
    """
    if method == "eigen":
        raise FunctraceError("scipy.linalg.solve_sylvester: method='eigen' needs "
                             "numpy.linalg.eig, which functrace does not have; use 'schur'")
    if method != "schur":
        raise ShapeError(f"scipy.linalg.solve_sylvester: unrecognized method {method!r}; use "
                         "'schur'")
    a, b, c = inexact(A, B, C)
    m, n = shape_of(c)[-2:]
    if shape_of(a)[-2:] != (m, m) or shape_of(b)[-2:] != (n, n):
        raise ShapeError(f"scipy.linalg.solve_sylvester: incompatible shapes A={_fmt(shape_of(a))}"
                         f", B={_fmt(shape_of(b))}, C={_fmt(shape_of(c))}")
    r, u = schur(a, output="complex")
    s, v = schur(mH(b), output="complex")
    low = mH(s)  # lower triangular, with B's eigenvalues on its diagonal
    f = fnp.matmul(fnp.matmul(mH(u), fnp.asarray(c, dtype_of(r))), v)
    batch = shape_of(f)[:-2]
    eig_a = fnp.diagonal(r, axis1=-2, axis2=-1)
    eig_b = fnp.conj(fnp.diagonal(s, axis1=-2, axis2=-1))
    close = fnp.any(fnp.abs(eig_a[..., :, None] + eig_b[..., None, :]) < tol, axis=(-2, -1))
    # R Y + Y L = F, last column first: (R + L_jj I) y_j = f_j - sum_{k > j} y_k L_kj
    cols: list = [None] * n
    eye = np.eye(m, dtype=dtype_of(r))
    for j in range(n - 1, -1, -1):
        rhs = f[..., :, j:j + 1]
        for k in range(j + 1, n):
            rhs = rhs - cols[k] * low[..., k:k + 1, j:j + 1]
        lhs = r + low[..., j, j][..., None, None] * fnp.broadcast_to(eye, batch + (m, m))
        lhs = fnp.where(close[..., None, None], eye, lhs)  # no unique solution: NaN below
        cols[j] = lax_linalg.triangular_solve(lhs, rhs, left_side=True, lower=False)
    y = fnp.concatenate(cols, axis=-1)
    x = fnp.matmul(fnp.matmul(u, y), mH(v))
    if dtype_of(c).kind != "c":
        x = fnp.real(x)
    return fnp.where(close[..., None, None], np.nan, x)
