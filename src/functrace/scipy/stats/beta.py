"""``functrace.scipy.stats.beta`` (``jax.scipy.stats.beta``): the beta distribution on
``[loc, loc + scale]``; ``-inf`` log density outside, nan for non-positive ``a``, ``b``
or ``scale``. The CDF differentiates in ``x`` only (``lax.betainc``, as in JAX).

Example:
    >>> import numpy as np
    >>> from functrace.scipy.stats import beta
    >>> round(float(beta.pdf(np.float32(0.5), 2.0, 2.0)), 5)  # 6 x (1 - x)
    1.5
"""

from __future__ import annotations

import numpy as np

from ... import numpy as fnp
from ...numpy._promote import promote_args
from ..special import betainc, betaln, xlog1py, xlogy

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]


def logpdf(x, a, b, loc=0, scale=1):
    """The log density ``(a-1) log y + (b-1) log(1-y) - betaln(a, b) - log(scale)``."""
    x, a, b, loc, scale = promote_args("beta.logpdf", x, a, b, loc, scale, inexact=True)
    outside = (x > loc + scale) | (x < loc)
    # outside the support the logs see 1/2: no nan warning, and -inf replaces the value
    y = fnp.where(outside, fnp.full_like(x, 0.5), (x - loc) / scale)
    log_probs = -betaln(a, b) + xlogy(a - 1.0, y) + xlog1py(b - 1.0, -y) - fnp.log(scale)
    out = fnp.where(outside, -np.inf, log_probs)
    return fnp.where((a <= 0) | (b <= 0) | (scale <= 0), np.nan, out)


def pdf(x, a, b, loc=0, scale=1):
    """The density."""
    return fnp.exp(logpdf(x, a, b, loc, scale))


def _unit(x, loc, scale):
    return fnp.clip((x - loc) / scale, 0.0, 1.0)


def cdf(x, a, b, loc=0, scale=1):
    """The cumulative distribution function ``I_y(a, b)``."""
    x, a, b, loc, scale = promote_args("beta.cdf", x, a, b, loc, scale, inexact=True)
    return betainc(a, b, _unit(x, loc, scale))


def logcdf(x, a, b, loc=0, scale=1):
    """``log(cdf)``."""
    return fnp.log(cdf(x, a, b, loc, scale))


def sf(x, a, b, loc=0, scale=1):
    """The survival function ``I_{1-y}(b, a)``."""
    x, a, b, loc, scale = promote_args("beta.sf", x, a, b, loc, scale, inexact=True)
    return betainc(b, a, 1.0 - _unit(x, loc, scale))


def logsf(x, a, b, loc=0, scale=1):
    """``log(sf)``."""
    return fnp.log(sf(x, a, b, loc, scale))
