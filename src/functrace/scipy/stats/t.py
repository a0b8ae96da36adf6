"""``functrace.scipy.stats.t`` (``jax.scipy.stats.t``): Student's t distribution with
``df`` degrees of freedom, ``loc`` and ``scale``.

Example:
    >>> import numpy as np
    >>> from functrace.scipy.stats import t
    >>> round(float(t.pdf(np.float32(0.0), 1.0)), 6)  # Cauchy: 1 / pi
    0.31831
"""

from __future__ import annotations

import math

from ... import numpy as fnp
from ...numpy._promote import promote_args
from ..special import gammaln

__all__ = ["logpdf", "pdf"]


def logpdf(x, df, loc=0, scale=1):
    """``gammaln((df+1)/2) - gammaln(df/2) - log(pi df scale^2)/2
    - (df+1)/2 log1p(z^2/df)``, ``z = (x - loc) / scale``."""
    x, df, loc, scale = promote_args("t.logpdf", x, df, loc, scale, inexact=True)
    z = (x - loc) / scale
    half = df / 2.0
    norm = gammaln(half) + fnp.log(scale * scale * math.pi * df) / 2.0 - gammaln(half + 0.5)
    return -(norm + (half + 0.5) * fnp.log1p(z * z / df))


def pdf(x, df, loc=0, scale=1):
    """The density."""
    return fnp.exp(logpdf(x, df, loc, scale))
