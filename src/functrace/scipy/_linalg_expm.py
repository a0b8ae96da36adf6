"""``expm`` (Pade approximants with scaling and squaring), ``expm_frechet`` (its JVP) and
``polar`` for ``functrace.scipy.linalg``.

``expm`` follows JAX (Higham 2005): the 1-norm of ``A`` picks the Pade degree (3, 5, 7, 9
or 13 in float64; 3, 5 or 7 in float32) and the number ``s`` of squarings; ``A / 2^s`` is
approximated by ``Q^-1 P`` and squared ``s`` times. Everything is a composition of
``lax`` ops (``switch`` on the degree, ``scan`` + ``cond`` over the squarings, an LU
solve), so ``grad``/``jvp``/``vmap``/``jit`` differentiate and batch through it, and
``expm_frechet`` is ``jvp(expm)``. More than ``max_squarings`` squarings gives NaNs.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from .. import lax
from .. import numpy as fnp
from ..core.trace import Tracer
from ..errors import FunctraceError, ShapeError
from ..lax import linalg as lax_linalg
from ..numpy._promote import _fmt
from ..transforms.api import jvp
from ..transforms.vmap import vmap
from ._linalg_common import dtype_of, inexact, is_complex, matrix, mH, shape_of

__all__ = ["expm", "expm_frechet", "polar"]

# (degree, coefficients b_0..b_m) of the [m/m] Pade approximant of exp
_PADE = {
    3: (120., 60., 12., 1.),
    5: (30240., 15120., 3360., 420., 30., 1.),
    7: (17297280., 8648640., 1995840., 277200., 25200., 1512., 56., 1.),
    9: (17643225600., 8821612800., 2075673600., 302702400., 30270240., 2162160., 110880.,
        3960., 90., 1.),
    13: (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800.,
         129060195264000., 10559470521600., 670442572800., 33522128640., 1323241920.,
         40840800., 960960., 16380., 182., 1.),
}
# Higham's theta_m (the largest 1-norm for which degree m is accurate) and the norm past
# which squaring starts, per precision
_DOUBLE = ((0.01495585217958292, 0.253939833006323, 0.9504178996162932, 2.097847961257068),
           5.371920351148152, (3, 5, 7, 9, 13))
_SINGLE = ((0.4258730016922831, 1.880152677804762), 3.92572478313866, (3, 5, 7))


def _pade(m: int, a):
    """``(U, V)``: the odd and even parts of the degree-``m`` Pade numerator."""
    b = _PADE[m]
    n = shape_of(a)[-1]
    ident = np.eye(n, dtype=dtype_of(a))
    a2 = fnp.matmul(a, a)
    if m == 13:
        a4 = fnp.matmul(a2, a2)
        a6 = fnp.matmul(a4, a2)
        u = fnp.matmul(a, fnp.matmul(a6, b[13] * a6 + b[11] * a4 + b[9] * a2)
                       + b[7] * a6 + b[5] * a4 + b[3] * a2 + b[1] * ident)
        v = (fnp.matmul(a6, b[12] * a6 + b[10] * a4 + b[8] * a2)
             + b[6] * a6 + b[4] * a4 + b[2] * a2 + b[0] * ident)
        return u, v
    powers = [ident, a2]
    for _ in range(2, m // 2 + 1):
        powers.append(fnp.matmul(powers[-1], a2))
    odd = sum(b[2 * i + 1] * p for i, p in enumerate(powers))
    even = sum(b[2 * i] * p for i, p in enumerate(powers))
    return fnp.matmul(a, odd), even


def _expm_2d(a, upper_triangular: bool, max_squarings: int):
    dt = dtype_of(a)
    conds, maxnorm, degrees = _DOUBLE if dt in (np.float64, np.complex128) else _SINGLE
    norm1 = fnp.linalg.norm(a, 1)
    rdt = dtype_of(norm1)
    # max(0, floor(log2(norm / maxnorm))), with log2 kept away from 0 (a zero matrix)
    n_sq = fnp.floor(fnp.log2(fnp.maximum(norm1 / np.asarray(maxnorm, rdt), 1)))
    a = a / lax.convert_element_type(2 ** n_sq, dt)
    idx = fnp.digitize(norm1, np.asarray(conds, rdt))
    branches = [lambda x, m=m: _pade(m, x) for m in degrees]
    u, v = lax.switch(idx, branches, a)
    p, q = u + v, v - u
    if upper_triangular:
        r = lax_linalg.triangular_solve(q, p, left_side=True, lower=False)
    else:
        r = fnp.linalg.solve(q, p)
    if not isinstance(n_sq, Tracer):  # concrete count: square in Python
        count = int(n_sq)
        if count > max_squarings:
            return fnp.full_like(r, np.nan)
        for _ in range(count):
            r = fnp.matmul(r, r)
        return r

    def body(carry, i):
        return lax.cond(i < n_sq, lambda x: fnp.matmul(x, x), lambda x: x, carry), None

    r, _ = lax.scan(body, r, np.arange(max_squarings, dtype=rdt))
    return fnp.where(n_sq > max_squarings, np.asarray(np.nan, dt), r)


def expm(A, *, upper_triangular: bool = False, max_squarings: int = 16):  # noqa: N803
    """The matrix exponential of square ``A`` (batched over leading axes), by Pade
    approximation with scaling and squaring. ``upper_triangular`` solves the Pade
    system with a triangular solve; more than ``max_squarings`` squarings gives NaNs.

    Example:
        >>> expm(np.array([[0., 1.], [0., 0.]], np.float32))
        array([[1., 1.],
               [0., 1.]], dtype=float32)
    """
    a = matrix(A, "expm", square=True)
    if dtype_of(a) not in (np.float32, np.float64, np.complex64, np.complex128):
        raise FunctraceError(f"scipy.linalg.expm: dtype {dtype_of(a)} is not supported; use "
                             "float32/float64/complex64/complex128")
    f = partial(_expm_2d, upper_triangular=bool(upper_triangular),
                max_squarings=int(max_squarings))
    for _ in range(len(shape_of(a)) - 2):  # leading axes are batch axes
        f = vmap(f)
    return f(a)


def expm_frechet(A, E, *, method=None, compute_expm: bool = True):  # noqa: N803
    """The Frechet derivative of ``expm`` at ``A`` in direction ``E`` (``jvp`` of
    ``expm``): ``(expm(A), L(A, E))``, or ``L(A, E)`` alone with ``compute_expm=False``.

    Example:
        >>> z = np.zeros((2, 2), np.float32)
        >>> expm_frechet(z, np.eye(2, dtype=np.float32), compute_expm=False)
        array([[1., 0.],
               [0., 1.]], dtype=float32)
    """
    del method
    a, e = inexact(A, E)
    sa, se = shape_of(a), shape_of(e)
    if len(sa) < 2 or sa[-1] != sa[-2]:
        raise ShapeError(f"scipy.linalg.expm_frechet: expected A to be a (batched) square "
                         f"matrix, got shape {_fmt(sa)}")
    if len(se) < 2 or se[-1] != se[-2]:
        raise ShapeError(f"scipy.linalg.expm_frechet: expected E to be a (batched) square "
                         f"matrix, got shape {_fmt(se)}")
    if sa != se:
        raise ShapeError(f"scipy.linalg.expm_frechet: expected A and E of the same shape, got "
                         f"{_fmt(sa)} and {_fmt(se)}")
    val, tan = jvp(lambda x: expm(x), (a,), (e,))
    return (val, tan) if compute_expm else tan


def polar(a, side: str = "right", *, method: str = "qdwh", eps=None, max_iterations=None):
    """The polar decomposition ``a = u @ p`` (``side='right'``, ``p`` is ``(n, n)``) or
    ``a = p @ u`` (``'left'``, ``p`` is ``(m, m)``): ``u`` has orthonormal columns (rows)
    and ``p`` is Hermitian positive semi-definite. Computed from the SVD for both methods
    (``'qdwh'`` keeps JAX's shape limits: ``m >= n`` for 'right', ``m < n`` for 'left').

    Example:
        >>> u, p = polar(np.array([[2., 0.], [0., -3.]], np.float32))
        >>> u, p
        (array([[ 1.,  0.],
               [ 0., -1.]], dtype=float32), array([[2., 0.],
               [0., 3.]], dtype=float32))
    """
    del eps, max_iterations
    x = matrix(a, "polar")
    if side not in ("right", "left"):
        raise ShapeError(f"scipy.linalg.polar: side must be 'right' or 'left', got {side!r}")
    if method not in ("qdwh", "svd"):
        raise ShapeError(f"scipy.linalg.polar: unknown method {method!r}; use 'qdwh' or 'svd'")
    m, n = shape_of(x)[-2:]
    if method == "qdwh" and not ((m >= n and side == "right") or (m < n and side == "left")):
        raise FunctraceError(f"scipy.linalg.polar: method='qdwh' supports m >= n with "
                             f"side='right' and m < n with side='left' (as JAX), got shape "
                             f"{_fmt(shape_of(x))} with side={side!r}; use method='svd'")
    u, s, vh = lax_linalg.svd(x, full_matrices=False)
    s = lax.convert_element_type(s, dtype_of(x)) if is_complex(x) else s
    unitary = fnp.matmul(u, vh)
    if side == "right":
        posdef = fnp.matmul(mH(vh) * fnp.expand_dims(s, -2), vh)
    else:
        posdef = fnp.matmul(u * fnp.expand_dims(s, -2), mH(u))
    return unitary, posdef
