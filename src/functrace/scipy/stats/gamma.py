"""``functrace.scipy.stats.gamma`` (``jax.scipy.stats.gamma``): the gamma distribution
with shape ``a``, ``loc`` and ``scale``; ``-inf`` log density below ``loc``.

Example:
    >>> import numpy as np
    >>> from functrace.scipy.stats import gamma
    >>> round(float(gamma.cdf(np.float32(2.0), 1.0)), 6)  # 1 - e**-2
    0.864665
"""

from __future__ import annotations

import numpy as np

from ... import numpy as fnp
from ...numpy._promote import promote_args
from ..special import gammainc, gammaincc, gammaln, xlogy

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]


def logpdf(x, a, loc=0, scale=1):
    """The log density ``(a-1) log y - y - gammaln(a) - log(scale)``, ``y = (x-loc)/scale``."""
    x, a, loc, scale = promote_args("gamma.logpdf", x, a, loc, scale, inexact=True)
    ok = x >= loc
    y = fnp.where(ok, (x - loc) / scale, fnp.ones_like(x))
    log_probs = xlogy(a - 1.0, y) - y - (gammaln(a) + fnp.log(scale))
    return fnp.where(ok, log_probs, -np.inf)


def pdf(x, a, loc=0, scale=1):
    """The density."""
    return fnp.exp(logpdf(x, a, loc, scale))


def cdf(x, a, loc=0, scale=1):
    """The cumulative distribution function ``P(a, (x - loc) / scale)`` (0 below ``loc``)."""
    x, a, loc, scale = promote_args("gamma.cdf", x, a, loc, scale, inexact=True)
    return gammainc(a, fnp.clip((x - loc) / scale, 0.0, np.inf))


def logcdf(x, a, loc=0, scale=1):
    """``log(cdf)``."""
    return fnp.log(cdf(x, a, loc, scale))


def sf(x, a, loc=0, scale=1):
    """The survival function ``Q(a, (x - loc) / scale)`` (1 below ``loc``)."""
    x, a, loc, scale = promote_args("gamma.sf", x, a, loc, scale, inexact=True)
    y = (x - loc) / scale
    return fnp.where(y < 0, fnp.ones_like(y), gammaincc(a, fnp.maximum(y, 0.0)))


def logsf(x, a, loc=0, scale=1):
    """``log(sf)``."""
    return fnp.log(sf(x, a, loc, scale))
