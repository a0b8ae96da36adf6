"""``functrace.scipy.stats.poisson`` (``jax.scipy.stats.poisson``): the Poisson
distribution of mean ``mu``, shifted by ``loc``; ``-inf`` log mass off the integers
``>= loc``.

Example:
    >>> import numpy as np
    >>> from functrace.scipy.stats import poisson
    >>> round(float(poisson.pmf(np.float32(2.0), 3.0)), 6)  # 9/2 e**-3
    0.224042
"""

from __future__ import annotations

import numpy as np

from ... import numpy as fnp
from ...numpy._promote import promote_args
from ..special import gammaincc, gammaln, xlogy

__all__ = ["cdf", "logpmf", "pmf"]


def logpmf(k, mu, loc=0):
    """The log mass ``k log mu - gammaln(k + 1) - mu`` at ``k - loc``."""
    k, mu, loc = promote_args("poisson.logpmf", k, mu, loc, inexact=True)
    x = k - loc
    log_probs = xlogy(x, mu) - gammaln(x + 1.0) - mu
    return fnp.where((x < 0) | (fnp.round(k) != k), -np.inf, log_probs)


def pmf(k, mu, loc=0):
    """The probability mass."""
    return fnp.exp(logpmf(k, mu, loc))


def cdf(k, mu, loc=0):
    """``P(K <= k) = Q(floor(k - loc) + 1, mu)``; 0 below ``loc``."""
    k, mu, loc = promote_args("poisson.cdf", k, mu, loc, inexact=True)
    x = k - loc
    p = gammaincc(fnp.floor(1.0 + fnp.maximum(x, 0.0)), mu)
    return fnp.where(x < 0, fnp.zeros_like(p), p)
