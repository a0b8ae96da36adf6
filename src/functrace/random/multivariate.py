"""Samplers built on linear algebra: ``multivariate_normal``, ``orthogonal`` and ``ball``.

Each follows JAX's algorithm and key use (``jax._src.random``), so for the same key it
draws JAX's numbers up to float rounding of the factorisation (NumPy's LAPACK here,
XLA's there):

* ``multivariate_normal``: ``mean + factor @ z`` with ``z = normal(key, shape + (n,))`` and
  ``factor`` the Cholesky factor of ``cov`` (``method='cholesky'``), ``U sqrt(S)`` of its
  SVD (``'svd'``) or ``V sqrt(W)`` of its eigendecomposition (``'eigh'``);
* ``orthogonal``: the ``Q`` of the QR decomposition of a normal matrix, each column's sign
  fixed by the sign of ``R``'s diagonal (Mezzadri's method), so ``Q`` is Haar-distributed;
* ``ball``: a generalised-normal vector scaled by ``(sum |g|**p + e) ** (1/p)`` with ``e``
  exponential (Barthe, Guedon, Mendelson and Naor).
"""

from __future__ import annotations

import operator

import numpy as np

from .. import numpy as fnp
from ..core.avals import canonicalize_dtype, is_float
from ..core.trace import get_aval
from ..errors import DTypeError, FunctraceError, ShapeError, no_sharding
from ..numpy import linalg as fnp_linalg
from ..numpy._promote import promote_inexact
from .continuous import normal
from .distributions import exponential
from .gamma import generalized_normal
from .prng import canonical_shape, check_key, check_shape, float_dtype, split

__all__ = ["ball", "multivariate_normal", "orthogonal"]

_METHODS = ("svd", "eigh", "cholesky")


def _static_int(name: str, what: str, value) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise ShapeError(f"random.{name}: {what} must be a concrete Python int, got "
                         f"{value!r:.60}; pass it as a static value") from None


def _split2(key):
    keys = split(key)
    return keys[0], keys[1]


def multivariate_normal(key, mean, cov, shape=None, dtype=None, method: str = "cholesky", *,
                        out_sharding=None):
    """Multivariate normal random vectors (``jax.random.multivariate_normal``).

    Args:
        key: a PRNG key.
        mean: the mean, shape ``(..., n)``.
        cov: a positive (semi-)definite covariance, shape ``(..., n, n)``, its batch shape
            broadcast-compatible with ``mean``'s.
        shape: the batch shape of the result (the result is ``shape + (n,)``); by default
            the broadcast of ``mean.shape[:-1]`` and ``cov.shape[:-2]``.
        dtype: a float dtype; by default the promoted dtype of ``mean`` and ``cov``.
        method: how ``cov`` is factored: ``'cholesky'`` (default), ``'eigh'`` or ``'svd'``
            (use one of the last two for a singular ``cov``).
    Returns:
        An array of shape ``shape + mean.shape[-1:]``.

    Example:
        >>> import numpy as np
        >>> from functrace.random import PRNGKey
        >>> x = multivariate_normal(PRNGKey(0), np.zeros(2), np.eye(2), (5,))
        >>> x.shape, x.dtype
        ((5, 2), dtype('float32'))
    """
    no_sharding("random.multivariate_normal", out_sharding=out_sharding)
    key = check_key("multivariate_normal", key)
    mean, cov = promote_inexact(fnp.asarray(mean), fnp.asarray(cov))
    if method not in _METHODS:
        raise FunctraceError(f"random.multivariate_normal: method must be one of 'svd', "
                             f"'eigh' and 'cholesky', got {method!r}")
    dtype = get_aval(mean).dtype if dtype is None else canonicalize_dtype(np.dtype(dtype))
    if not is_float(dtype):
        raise DTypeError(f"random.multivariate_normal: dtype must be a float dtype, got "
                         f"{dtype.name}")
    mshape, cshape = get_aval(mean).shape, get_aval(cov).shape
    if len(mshape) < 1:
        raise ShapeError(f"random.multivariate_normal requires mean.ndim >= 1, got "
                         f"mean.ndim == {len(mshape)}")
    if len(cshape) < 2:
        raise ShapeError(f"random.multivariate_normal requires cov.ndim >= 2, got "
                         f"cov.ndim == {len(cshape)}")
    n = mshape[-1]
    if cshape[-2:] != (n, n):
        raise ShapeError(f"random.multivariate_normal requires cov.shape == (..., n, n) for "
                         f"n={n}, but got cov.shape == {cshape}")
    if shape is None:
        shape = tuple(np.broadcast_shapes(mshape[:-1], cshape[:-2]))
    else:
        shape = check_shape("multivariate_normal", shape, mshape[:-1], cshape[:-2])
    if method == "svd":
        u, s, _ = fnp_linalg.svd(cov)
        factor = u * fnp.sqrt(s[..., None, :])
    elif method == "eigh":
        w, v = fnp_linalg.eigh(cov)
        factor = v * fnp.sqrt(w[..., None, :])
    else:
        factor = fnp_linalg.cholesky(cov)
    z = normal(key, (*shape, n), dtype)
    return fnp.add(mean, fnp.einsum("...ij,...j->...i", factor, z))


def orthogonal(key, n, shape=(), dtype=None, m=None, *, out_sharding=None):
    """A Haar-random orthogonal matrix (``jax.random.orthogonal``): uniform on O(n), or,
    with ``m != n``, an ``n x m`` matrix with orthonormal rows (``n <= m``) or columns
    (``n >= m``). With a complex dtype, Haar-random on the unitary group U(n): each
    column of ``Q`` is multiplied by the phase ``r / |r|`` of ``R``'s diagonal (and for
    ``n < m`` the result is transposed, not conjugated, as in JAX).

    Args:
        key: a PRNG key.
        n: the number of rows (a concrete int).
        shape: the batch shape.
        dtype: a float or complex dtype (float32 by default, float64 with x64).
        m: the number of columns; ``n`` by default.
    Returns:
        An array of shape ``(*shape, n, m)``.

    Example:
        >>> import numpy as np
        >>> from functrace.random import PRNGKey
        >>> q = orthogonal(PRNGKey(0), 3)
        >>> bool(np.allclose(q @ q.T, np.eye(3), atol=1e-5))
        True
    """
    no_sharding("random.orthogonal", out_sharding=out_sharding)
    key = check_key("orthogonal", key)
    n = _static_int("orthogonal", "n", n)
    m = n if m is None else _static_int("orthogonal", "m", m)
    if dtype is None or np.dtype(dtype).kind != "c":
        dtype = float_dtype("orthogonal", dtype)
    else:
        dtype = canonicalize_dtype(np.dtype(dtype))
    shape = canonical_shape(shape, "orthogonal")
    z = normal(key, (*shape, max(n, m), min(n, m)), dtype)
    q, r = fnp_linalg.qr(z)
    d = fnp.diagonal(r, axis1=-2, axis2=-1)
    x = q * fnp.expand_dims(fnp.sign(d), -2)
    return fnp.swapaxes(x, -1, -2) if n < m else x


def ball(key, d, p=2, shape=(), dtype=None, *, out_sharding=None):
    """Uniform random points in the unit ``p``-norm ball of dimension ``d``
    (``jax.random.ball``).

    Args:
        key: a PRNG key.
        d: the dimension (a concrete non-negative int).
        p: the exponent of the norm (``p > 0``).
        shape: the batch shape.
        dtype: a float dtype (float32 by default, float64 with x64).
    Returns:
        An array of shape ``(*shape, d)``.

    Example:
        >>> import numpy as np
        >>> from functrace.random import PRNGKey
        >>> x = ball(PRNGKey(0), 3, shape=(100,))
        >>> bool(np.all(np.linalg.norm(x, axis=-1) <= 1))
        True
    """
    no_sharding("random.ball", out_sharding=out_sharding)
    key = check_key("ball", key)
    d = _static_int("ball", "d", d)
    if d < 0:
        raise ShapeError(f"random.ball: d must be non-negative, got {d}")
    dtype = float_dtype("ball", dtype)
    shape = canonical_shape(shape, "ball")
    k1, k2 = _split2(key)
    g = generalized_normal(k1, p, (*shape, d), dtype)
    e = exponential(k2, shape, dtype)
    radius = fnp.power(fnp.sum(fnp.power(fnp.abs(g), p), axis=-1) + e, 1 / p)
    return g / radius[..., None]
