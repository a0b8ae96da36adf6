"""``functrace.scipy.stats.norm`` (``jax.scipy.stats.norm``): the normal distribution
with ``loc`` and ``scale``, differentiable in every argument.

Example:
    >>> import numpy as np
    >>> from functrace.scipy.stats import norm
    >>> round(float(norm.cdf(np.float32(1.0))), 5)
    0.84134
"""

from __future__ import annotations

import math

from ...numpy import exp, log
from ...numpy._promote import promote_args
from ..special import log_ndtr, ndtr, ndtri

__all__ = ["cdf", "isf", "logcdf", "logpdf", "logsf", "pdf", "ppf", "sf"]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _std(x, loc, scale):
    x, loc, scale = promote_args("norm", x, loc, scale, inexact=True)
    return (x - loc) / scale, scale


def logpdf(x, loc=0, scale=1):
    """The log density."""
    z, scale = _std(x, loc, scale)
    return -0.5 * z * z - _LOG_SQRT_2PI - log(scale)


def pdf(x, loc=0, scale=1):
    """The density.

    Example:
        >>> import numpy as np
        >>> round(float(pdf(np.float32(0.0))), 5)  # 1/sqrt(2 pi)
        0.39894
    """
    return exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    """The cumulative distribution function."""
    z, _ = _std(x, loc, scale)
    return ndtr(z)


def logcdf(x, loc=0, scale=1):
    """``log(cdf)``, accurate in the lower tail."""
    z, _ = _std(x, loc, scale)
    return log_ndtr(z)


def sf(x, loc=0, scale=1):
    """The survival function ``1 - cdf``."""
    z, _ = _std(x, loc, scale)
    return ndtr(-z)


def logsf(x, loc=0, scale=1):
    """``log(sf)``."""
    z, _ = _std(x, loc, scale)
    return log_ndtr(-z)


def ppf(q, loc=0, scale=1):
    """The quantile function (inverse of ``cdf``)."""
    q, loc, scale = promote_args("norm.ppf", q, loc, scale, inexact=True)
    return loc + scale * ndtri(q)


def isf(q, loc=0, scale=1):
    """The inverse survival function."""
    q, loc, scale = promote_args("norm.isf", q, loc, scale, inexact=True)
    return loc - scale * ndtri(q)
