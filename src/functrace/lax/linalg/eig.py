"""``lax.linalg.eig``: eigenvalues and left/right eigenvectors of general square matrices.

The eigenvalues and vectors are complex whatever the input (``complex64`` for
``float32``), as in JAX. The impl calls NumPy's LAPACK ``geev`` for ``w`` and the right
eigenvectors ``vr`` (unit norm, largest component real); the left eigenvectors are the
conjugated rows of ``vr^-1`` (``u^H A = w u^H``), normalised the same way.

Derivatives: the eigenvalues only, as JAX without ``enable_eigvec_derivs``:
``dw = diag(V^-1 dA V)``, with ``V^-1`` from the LU-based ``solve`` of this package.
"""

from __future__ import annotations

import numpy as np

from ...core.avals import ShapedArray
from ...core.trace import Primitive, abstract_eval_rules, get_aval, impl_rules
from ...errors import DTypeError
from ...transforms.ad import jvp_rules
from ..shape_ops import convert_element_type
from ._util import _check_matrix, _def_front_batching, _diag, _mm
from .decompositions import lu, permutation_matrix, triangular_solve

__all__ = ["eig", "eig_p"]

eig_p = Primitive("eig", multiple_results=True, impl_fallback=True)


def _complex(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        return dtype
    if dtype.kind != "f":
        raise DTypeError(f"lax.linalg.eig: needs a float or complex matrix, got {dtype}")
    return np.dtype(np.complex128 if dtype == np.float64 else np.complex64)


def eig(x, *, compute_left_eigenvectors: bool = True, compute_right_eigenvectors: bool = True,
        enable_eigvec_derivs: bool = False, implementation=None, use_magma=None):
    """``[w, vl, vr]`` (the vectors as asked) of the square matrices ``x``:
    ``x @ vr = vr * w`` and ``vl^H @ x = w[:, None] * vl^H`` (``jax.lax.linalg.eig``).

    Example:
        >>> import numpy as np
        >>> w, = eig(np.array([[2., 0.], [0., 3.]], np.float32),
        ...          compute_left_eigenvectors=False, compute_right_eigenvectors=False)
        >>> w
        array([2.+0.j, 3.+0.j], dtype=complex64)
    """
    _check_matrix("eig", get_aval(x), square=True)
    return eig_p.bind(x, compute_left_eigenvectors=bool(compute_left_eigenvectors),
                      compute_right_eigenvectors=bool(compute_right_eigenvectors),
                      enable_eigvec_derivs=bool(enable_eigvec_derivs),
                      implementation=implementation)


def _unit_columns(v: np.ndarray) -> np.ndarray:
    """Unit-norm columns whose component of largest modulus is real (keeping the sign of
    its real part, so real vectors are only scaled)."""
    v = v / np.linalg.norm(v, axis=-2, keepdims=True)
    big = np.take_along_axis(v, np.argmax(np.abs(v), axis=-2)[..., None, :], axis=-2)
    sign = np.where(np.real(big) < 0, -1.0, 1.0)
    return v * (np.conj(big) / np.abs(big) * sign)


def _eig_impl(x, *, compute_left_eigenvectors, compute_right_eigenvectors,
              enable_eigvec_derivs, implementation):
    cdt = _complex(x.dtype)
    bad = ~np.isfinite(x).all(axis=(-2, -1))
    if bad.any():  # LAPACK refuses infinities and NaNs; JAX's eig gives NaNs for them
        x = np.where(bad[..., None, None], 0, x)
    w, vr = np.linalg.eig(x)
    if bad.any():
        w = np.where(bad[..., None], np.nan, w)
        vr = np.where(bad[..., None, None], np.nan, vr)
    outs = [w.astype(cdt)]
    if compute_left_eigenvectors:
        vl = np.conj(np.swapaxes(np.linalg.inv(vr), -1, -2))
        outs.append(_unit_columns(vl).astype(cdt))
    if compute_right_eigenvectors:
        outs.append(vr.astype(cdt))
    return outs


def _eig_abstract(x: ShapedArray, *, compute_left_eigenvectors, compute_right_eigenvectors,
                  enable_eigvec_derivs, implementation):
    _check_matrix("eig", x, square=True)
    cdt = _complex(x.dtype)
    n_vec = int(compute_left_eigenvectors) + int(compute_right_eigenvectors)
    return [ShapedArray(x.shape[:-1], cdt)] + [ShapedArray(x.shape, cdt)] * n_vec


def _solve(a, b):
    """``a^-1 b`` for square ``a`` through ``lu`` and two triangular solves."""
    lu_mat, _, perm = lu(a)
    pb = _mm(permutation_matrix(perm, get_aval(a).dtype), b)
    y = triangular_solve(lu_mat, pb, left_side=True, lower=True, unit_diagonal=True)
    return triangular_solve(lu_mat, y, left_side=True, lower=False)


def _eig_jvp(primals, tangents, *, compute_left_eigenvectors, compute_right_eigenvectors,
             enable_eigvec_derivs, implementation):
    if compute_left_eigenvectors or compute_right_eigenvectors:
        raise NotImplementedError(
            "lax.linalg.eig: the derivatives of eigenvectors are not implemented, only "
            "eigenvalues; use functrace.numpy.linalg.eigvals (or eig with "
            "compute_left_eigenvectors=False, compute_right_eigenvectors=False)")
    (a,), (da,) = primals, tangents
    w, vr = eig_p.bind(a, compute_left_eigenvectors=False, compute_right_eigenvectors=True,
                       enable_eigvec_derivs=False, implementation=implementation)
    cdt = get_aval(w).dtype
    da = convert_element_type(da, cdt)
    dw = _diag(_solve(vr, _mm(da, vr)))  # diag(V^-1 dA V)
    return [w], [dw]


impl_rules[eig_p] = _eig_impl
abstract_eval_rules[eig_p] = _eig_abstract
jvp_rules[eig_p] = _eig_jvp
_def_front_batching(eig_p)
