"""``functrace.numpy.linalg``: the decompositions and solvers of ``decompositions.py``
(``cholesky``, ``qr``, ``svd``, ``eigh``, ``solve``, ``inv``, ``det``, ``slogdet``,
``norm``, ``pinv``, ``lstsq``, ``matrix_power``...), ``eig``, and the array API's
``matmul``, ``outer``, ``tensordot``, ``trace``, ``cross``, ``diagonal``, ``vecdot``...
(``linalg_extra.py``: positional-only operands ``x1, x2``, as ``jax.numpy.linalg``).
"""

from __future__ import annotations

from .decompositions import (  # noqa: F401 - fnp.linalg's names (decompositions.py)
    EighResult,
    QRResult,
    SlogdetResult,
    SVDResult,
    cholesky,
    det,
    eigh,
    eigvalsh,
    inv,
    lstsq,
    matrix_norm,
    matrix_power,
    matrix_rank,
    multi_dot,
    norm,
    pinv,
    qr,
    slogdet,
    solve,
    svd,
    svdvals,
    vector_norm,
)
from .linalg_eig import EigResult, eig, eigvals  # noqa: F401 - fnp.linalg's names
from .linalg_extra import (  # noqa: F401 - fnp.linalg's names
    cond,
    cross,
    diagonal,
    matmul,
    matrix_transpose,
    outer,
    tensordot,
    tensorinv,
    tensorsolve,
    trace,
    vecdot,
)
from .products import dot, einsum, inner, vdot  # noqa: F401 - kept under fnp.linalg too
