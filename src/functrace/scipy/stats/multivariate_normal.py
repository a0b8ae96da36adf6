"""``functrace.scipy.stats.multivariate_normal`` (``jax.scipy.stats.multivariate_normal``):
the normal distribution of ``mean`` (the last axis is the event) and ``cov`` (a scalar
variance, or a ``(..., n, n)`` covariance, through its Cholesky factor).

Example:
    >>> import numpy as np
    >>> from functrace.scipy.stats import multivariate_normal as mvn
    >>> round(float(mvn.logpdf(np.zeros(2, np.float32), np.zeros(2, np.float32),
    ...                        np.eye(2, dtype=np.float32))), 5)  # -log(2 pi)
    -1.83788
"""

from __future__ import annotations

import math

from ... import lax
from ... import numpy as fnp
from ...errors import ShapeError
from ...numpy._promote import promote_args

__all__ = ["logpdf", "pdf"]

_LOG_2PI = math.log(2 * math.pi)


def logpdf(x, mean, cov, allow_singular=None):
    """The log density; ``allow_singular`` is not supported, as in JAX."""
    if allow_singular is not None:
        raise NotImplementedError("allow_singular argument of multivariate_normal.logpdf is "
                                  "not supported (as in JAX)")
    x, mean, cov = promote_args("multivariate_normal.logpdf", x, mean, cov, broadcast=False,
                                inexact=True)
    if not fnp.shape(mean):
        return -0.5 * fnp.square(x - mean) / cov - 0.5 * (_LOG_2PI + fnp.log(cov))
    n = fnp.shape(mean)[-1]
    d = x - mean
    if not fnp.shape(cov):
        return -0.5 * fnp.sum(d * d, axis=-1) / cov - n / 2 * (_LOG_2PI + fnp.log(cov))
    if fnp.ndim(cov) < 2 or fnp.shape(cov)[-2:] != (n, n):
        raise ShapeError(f"multivariate_normal.logpdf got incompatible shapes: mean "
                         f"{fnp.shape(mean)} and cov {fnp.shape(cov)}; cov must be "
                         f"(..., {n}, {n})")
    chol = lax.linalg.cholesky(cov)
    batch = fnp.broadcast_shapes(fnp.shape(chol)[:-2], fnp.shape(d)[:-1])
    chol_b = fnp.broadcast_to(chol, batch + (n, n))
    d_b = fnp.broadcast_to(d, batch + (n,))[..., None, :]
    # y L^T = d, i.e. y = L^-1 d: the whitened residual
    y = lax.linalg.triangular_solve(chol_b, d_b, left_side=False, lower=True,
                                    transpose_a=True)[..., 0, :]
    log_det = fnp.sum(fnp.log(fnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
    return -0.5 * fnp.sum(y * y, axis=-1) - n / 2 * _LOG_2PI - log_det


def pdf(x, mean, cov):
    """The density."""
    return fnp.exp(logpdf(x, mean, cov))
