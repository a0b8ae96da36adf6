"""``fnp.linalg.eig`` and ``eigvals`` (general, non-Hermitian matrices), on
``lax.linalg.eig``: complex results whatever the input, as in JAX."""

from __future__ import annotations

from typing import NamedTuple

from ..lax import linalg as lax_linalg
from ._promote import as_operand, promote_inexact

__all__ = ["EigResult", "eig", "eigvals"]


class EigResult(NamedTuple):
    eigenvalues: object
    eigenvectors: object


def eig(a) -> EigResult:
    """Eigenvalues ``w`` and right eigenvectors ``v`` (columns) of square ``a``:
    ``a @ v = v * w``. Only the eigenvalues are differentiable, as in JAX.

    Example:
        >>> import numpy as np, functrace.numpy as fnp
        >>> w, v = fnp.linalg.eig(np.array([[2., 0.], [0., 3.]], np.float32))
        >>> w
        array([2.+0.j, 3.+0.j], dtype=complex64)
    """
    (a,) = promote_inexact(as_operand(a), op="linalg.eig")
    w, v = lax_linalg.eig(a, compute_left_eigenvectors=False)
    return EigResult(w, v)


def eigvals(a):
    """The eigenvalues of square ``a`` (complex), differentiable.

    Example:
        >>> import numpy as np, functrace.numpy as fnp
        >>> fnp.linalg.eigvals(np.array([[0., -1.], [1., 0.]], np.float32))
        array([0.+1.j, 0.-1.j], dtype=complex64)
    """
    (a,) = promote_inexact(as_operand(a), op="linalg.eigvals")
    return lax_linalg.eig(a, compute_left_eigenvectors=False,
                          compute_right_eigenvectors=False)[0]
