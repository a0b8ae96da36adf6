"""``functrace.scipy.stats.uniform`` (``jax.scipy.stats.uniform``): the uniform
distribution on ``[loc, loc + scale]``.

Example:
    >>> import numpy as np
    >>> from functrace.scipy.stats import uniform
    >>> float(uniform.pdf(np.float32(1.0), 0.0, 4.0))
    0.25
"""

from __future__ import annotations

import numpy as np

from ... import numpy as fnp
from ...numpy._promote import promote_args

__all__ = ["cdf", "logpdf", "pdf", "ppf"]


def logpdf(x, loc=0, scale=1):
    """``-log(scale)`` on ``[loc, loc + scale]``, ``-inf`` outside."""
    x, loc, scale = promote_args("uniform.logpdf", x, loc, scale, inexact=True)
    return fnp.where((x > loc + scale) | (x < loc), -np.inf, -fnp.log(scale))


def pdf(x, loc=0, scale=1):
    """The density."""
    return fnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    """0 below ``loc``, 1 above ``loc + scale``, linear between."""
    x, loc, scale = promote_args("uniform.cdf", x, loc, scale, inexact=True)
    y = (x - loc) / scale
    return fnp.where(x < loc, fnp.zeros_like(y), fnp.where(x > loc + scale, fnp.ones_like(y), y))


def ppf(q, loc=0, scale=1):
    """``loc + scale q``; nan outside [0, 1]."""
    q, loc, scale = promote_args("uniform.ppf", q, loc, scale, inexact=True)
    return fnp.where(fnp.isnan(q) | (q < 0) | (q > 1), np.nan, loc + scale * q)
