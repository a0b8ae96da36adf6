"""``functrace.scipy.stats.expon`` (``jax.scipy.stats.expon``): the exponential
distribution with ``loc`` and ``scale``.

Example:
    >>> import numpy as np
    >>> from functrace.scipy.stats import expon
    >>> round(float(expon.cdf(np.float32(1.0))), 6)  # 1 - e**-1
    0.632121
"""

from __future__ import annotations

import numpy as np

from ... import numpy as fnp
from ...numpy._promote import promote_args

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "ppf", "sf"]


def logpdf(x, loc=0, scale=1):
    """``-(x - loc)/scale - log(scale)``; ``-inf`` below ``loc``."""
    x, loc, scale = promote_args("expon.logpdf", x, loc, scale, inexact=True)
    return fnp.where(x < loc, -np.inf, -((x - loc) / scale + fnp.log(scale)))


def pdf(x, loc=0, scale=1):
    """The density."""
    return fnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    """``1 - exp(-(x - loc)/scale)`` (``-expm1``, accurate near ``loc``)."""
    x, loc, scale = promote_args("expon.cdf", x, loc, scale, inexact=True)
    y = (loc - x) / scale
    return fnp.where(x < loc, fnp.zeros_like(y), -fnp.expm1(y))


def logsf(x, loc=0, scale=1):
    """``-(x - loc)/scale``; 0 below ``loc``."""
    x, loc, scale = promote_args("expon.logsf", x, loc, scale, inexact=True)
    y = (loc - x) / scale
    return fnp.where(x < loc, fnp.zeros_like(y), y)


def sf(x, loc=0, scale=1):
    """The survival function."""
    return fnp.exp(logsf(x, loc, scale))


def logcdf(x, loc=0, scale=1):
    """``log1p(-sf)``."""
    return fnp.log1p(-sf(x, loc, scale))


def ppf(q, loc=0, scale=1):
    """``loc - scale log1p(-q)``; nan outside [0, 1]."""
    q, loc, scale = promote_args("expon.ppf", q, loc, scale, inexact=True)
    return fnp.where(fnp.isnan(q) | (q < 0) | (q > 1), np.nan, loc - scale * fnp.log1p(-q))
