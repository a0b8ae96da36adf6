"""The array API's names in ``functrace.numpy.linalg`` (``cross``, ``diagonal``,
``matrix_transpose``, ``vecdot``), and ``cond``, ``tensorinv``, ``tensorsolve``;
re-exported by ``linalg.py``.
"""

from __future__ import annotations

import numpy as np

from ..core.trace import get_aval
from ..errors import ShapeError
from ._promote import as_operand
from .decompositions import inv, norm, solve, svdvals
from .grids import cross as _cross
from .grids import vecdot as _vecdot
from .indexing import diagonal as _diagonal
from .manip import reshape
from .products import matmul as _matmul
from .products import outer as _outer
from .products import tensordot as _tensordot
from .products import trace as _trace
from .shaping import matrix_transpose  # noqa: F401 - re-exported

__all__ = ["cond", "cross", "diagonal", "matmul", "matrix_transpose", "outer", "tensordot",
           "tensorinv", "tensorsolve", "trace", "vecdot"]


def matmul(x1, x2, /, *, precision=None, preferred_element_type=None):
    """The array API's ``linalg.matmul``: ``fnp.matmul`` with positional-only operands.

    Example:
        >>> matmul(np.ones((2, 3), np.float32), np.ones((3, 1), np.float32)).shape
        (2, 1)
    """
    return _matmul(x1, x2, precision=precision, preferred_element_type=preferred_element_type)


def outer(x1, x2, /):
    """The outer product of two 1-D arrays (the array API's ``linalg.outer``; unlike
    ``fnp.outer`` it does not flatten, and raises for other ranks).

    Example:
        >>> outer(np.array([1., 2.], np.float32), np.array([1., 0., 3.], np.float32))
        array([[1., 0., 3.],
               [2., 0., 6.]], dtype=float32)
    """
    nd1, nd2 = get_aval(as_operand(x1)).ndim, get_aval(as_operand(x2)).ndim
    if nd1 != 1 or nd2 != 1:
        raise ShapeError(f"linalg.outer: the inputs must be 1-D, got ndim {nd1} and {nd2}; "
                         "use fnp.outer to flatten them")
    return _outer(x1, x2)


def tensordot(x1, x2, /, *, axes=2, precision=None, preferred_element_type=None,
              out_sharding=None):
    """The array API's ``linalg.tensordot``: ``fnp.tensordot`` with positional-only
    operands and keyword-only ``axes``.

    Example:
        >>> tensordot(np.ones((2, 3), np.float32), np.ones((3, 4), np.float32), axes=1).shape
        (2, 4)
    """
    return _tensordot(x1, x2, axes, precision=precision,
                      preferred_element_type=preferred_element_type, out_sharding=out_sharding)


def trace(x, /, *, offset: int = 0, dtype=None):
    """The sum of the ``offset``-th diagonal of the last two axes of ``x`` (the array API's
    ``linalg.trace``, batched over the leading axes).

    Example:
        >>> trace(np.arange(8.0, dtype=np.float32).reshape(2, 2, 2))
        array([ 3., 11.], dtype=float32)
    """
    return _trace(x, offset=offset, axis1=-2, axis2=-1, dtype=dtype)


def cross(x1, x2, /, *, axis: int = -1):
    """The cross product of 3-vectors along ``axis`` (the array API's ``linalg.cross``).

    Example:
        >>> cross(np.array([0., 0., 1.], np.float32), np.array([1., 0., 0.], np.float32))
        array([0., 1., 0.], dtype=float32)
    """
    if get_aval(x1).shape[axis] != 3 or get_aval(x2).shape[axis] != 3:
        raise ShapeError("linalg.cross: both inputs must have 3 entries along axis")
    return _cross(x1, x2, axis=axis)


def diagonal(x, /, *, offset: int = 0):
    """The ``offset`` diagonal of the trailing two axes."""
    return _diagonal(x, offset, axis1=-2, axis2=-1)


def vecdot(x1, x2, /, *, axis: int = -1, precision=None, preferred_element_type=None):
    """``sum(conj(x1) * x2, axis)``."""
    return _vecdot(x1, x2, axis=axis)


def cond(x, p=None):
    """The condition number of ``x`` in the ``p`` norm (``None``/2: the ratio of the
    extreme singular values; others: ``norm(x, p) * norm(inv(x), p)``).

    Example:
        >>> cond(np.array([[2., 0.], [0., 0.5]], np.float32))
        array(4., dtype=float32)
    """
    if p in (None, 2, -2):
        s = svdvals(x)
        big, small = s[..., 0], s[..., -1]
        return big / small if p != -2 else small / big
    return norm(x, p, axis=(-2, -1)) * norm(inv(x), p, axis=(-2, -1))


def tensorinv(a, ind: int = 2):
    """The inverse of ``a`` as a tensor: ``tensordot(tensorinv(a), a, ind)`` is the
    identity (the leading ``ind`` dims' product must equal the trailing ones')."""
    shape = get_aval(a).shape
    lead, trail = shape[:ind], shape[ind:]
    n = int(np.prod(lead))
    if n != int(np.prod(trail)):
        raise ShapeError(f"linalg.tensorinv: the product of the first {ind} dims must equal "
                         f"the product of the rest, got shape {shape}")
    return reshape(inv(reshape(a, (n, n))), trail + lead)


def tensorsolve(a, b, axes=None):
    """The ``x`` with ``tensordot(a, x, x.ndim) == b``."""
    if axes is not None:
        raise ShapeError("linalg.tensorsolve: axes= is not supported")
    shape = get_aval(a).shape
    bn = len(get_aval(b).shape)
    xshape = shape[bn:]
    n = int(np.prod(xshape))
    return reshape(solve(reshape(a, (-1, n)), reshape(b, (-1,))), xshape)

