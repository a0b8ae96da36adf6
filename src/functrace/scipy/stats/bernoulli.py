"""``functrace.scipy.stats.bernoulli`` (``jax.scipy.stats.bernoulli``): the Bernoulli
distribution with success probability ``p``.

Example:
    >>> import numpy as np
    >>> from functrace.scipy.stats import bernoulli
    >>> float(bernoulli.pmf(np.float32(1.0), 0.25))
    0.25
"""

from __future__ import annotations

import numpy as np

from ... import numpy as fnp
from ...numpy._promote import promote_args
from ..special import xlog1py, xlogy

__all__ = ["cdf", "logpmf", "pmf", "ppf"]


def logpmf(k, p, loc=0):
    """``k log p + (1 - k) log(1 - p)`` at ``k - loc``; ``-inf`` outside ``[0, 1]``."""
    k, p, loc = promote_args("bernoulli.logpmf", k, p, loc, inexact=True)
    x = k - loc
    log_probs = xlogy(x, p) + xlog1py(1.0 - x, -p)
    return fnp.where((x < 0) | (x > 1), -np.inf, log_probs)


def pmf(k, p, loc=0):
    """The probability mass."""
    return fnp.exp(logpmf(k, p, loc))


def cdf(k, p):
    """0 below 0, ``1 - p`` on ``[0, 1)``, 1 from 1 on; nan for ``p`` outside [0, 1]."""
    k, p = promote_args("bernoulli.cdf", k, p, inexact=True)
    one = fnp.ones_like(k)
    bad = fnp.isnan(k) | fnp.isnan(p) | (p < 0) | (p > 1)
    inside = fnp.where(k < 1, one - p, one)
    return fnp.where(bad, np.nan, fnp.where(k < 0, fnp.zeros_like(k), inside))


def ppf(q, p):
    """The quantile: 0 for ``q <= 1 - p``, else 1 (nan outside the domain)."""
    q, p = promote_args("bernoulli.ppf", q, p, inexact=True)
    bad = fnp.isnan(q) | fnp.isnan(p) | (p < 0) | (p > 1) | (q < 0) | (q > 1)
    one = fnp.ones_like(q)
    return fnp.where(bad, np.nan, fnp.where(q <= 1 - p, fnp.zeros_like(q), one))
