"""``functrace.scipy.stats.logistic`` (``jax.scipy.stats.logistic``): the logistic
distribution with ``loc`` and ``scale``.

Example:
    >>> import numpy as np
    >>> from functrace.scipy.stats import logistic
    >>> float(logistic.cdf(np.float32(0.0)))
    0.5
"""

from __future__ import annotations

from ... import numpy as fnp
from ...numpy._promote import promote_args
from ..special import expit, logit

__all__ = ["cdf", "isf", "logpdf", "pdf", "ppf", "sf"]


def logpdf(x, loc=0, scale=1):
    """``-2 logaddexp(z/2, -z/2) - log(scale)``, ``z = (x - loc)/scale`` (no overflow)."""
    x, loc, scale = promote_args("logistic.logpdf", x, loc, scale, inexact=True)
    half = (x - loc) / scale / 2.0
    return -2.0 * fnp.logaddexp(half, -half) - fnp.log(scale)


def pdf(x, loc=0, scale=1):
    """The density."""
    return fnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    """``expit((x - loc) / scale)``."""
    x, loc, scale = promote_args("logistic.cdf", x, loc, scale, inexact=True)
    return expit((x - loc) / scale)


def sf(x, loc=0, scale=1):
    """``expit(-(x - loc) / scale)``."""
    x, loc, scale = promote_args("logistic.sf", x, loc, scale, inexact=True)
    return expit(-(x - loc) / scale)


def ppf(q, loc=0, scale=1):
    """``loc + scale logit(q)``."""
    q, loc, scale = promote_args("logistic.ppf", q, loc, scale, inexact=True)
    return logit(q) * scale + loc


def isf(q, loc=0, scale=1):
    """``loc - scale logit(q)``."""
    q, loc, scale = promote_args("logistic.isf", q, loc, scale, inexact=True)
    return -logit(q) * scale + loc
