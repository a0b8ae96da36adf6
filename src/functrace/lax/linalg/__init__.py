"""``functrace.lax.linalg``: matrix decompositions as primitives, with JAX's derivative rules.

Every primitive acts on the two trailing axes and maps over the leading (batch) axes, so
its batching rule moves the batch axis to the front. The reference impls call NumPy's
LAPACK (``numpy.linalg``); the triangular solve masks the unused triangle and calls
``numpy.linalg.solve``, and ``lu`` is a partial-pivoting elimination vectorised over the
batch (NumPy has no LU). Under ``jit`` they run their reference impls.

Derivatives (JAX's rules, written with primitives so they compose and nest):

- ``cholesky``: ``L dL = L phi(L^-1 dA L^-H)`` (Murray 2016), ``phi`` = lower triangle
  with a halved diagonal;
- ``eigh``: ``dw = diag(V^H dA V)``, ``dV = V (F * (V^H dA V))``, ``F_ij = 1/(w_j - w_i)``
  off the diagonal (undefined for repeated eigenvalues, as in JAX);
- ``qr`` (``m >= n``, reduced), ``svd`` (distinct singular values; reduced or square),
  ``lu`` (square) and ``triangular_solve`` (linear in ``b``; transposes to another
  triangular solve).

As in JAX, ``cholesky`` of a matrix that is not positive definite returns NaNs rather
than raising, and ``cholesky``/``eigh`` symmetrize their input by default.

Layout: ``decompositions.py`` holds the primitives and their rules, ``compositions.py``
the functions built on them, ``_util.py`` the traceable helpers.

Example:
    >>> import numpy as np
    >>> from functrace.lax import linalg
    >>> a = np.array([[4., 2.], [2., 3.]], np.float32)
    >>> l = linalg.cholesky(a)
    >>> bool(np.allclose(l @ l.T, a))
    True
"""

from .compositions import *  # noqa: F403
from .decompositions import *  # noqa: F403
from .decompositions import permutation_matrix, symmetrize  # noqa: F401
from .eig import *  # noqa: F403
from .pivots import *  # noqa: F403
