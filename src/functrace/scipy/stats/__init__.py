"""``functrace.scipy.stats`` (``jax.scipy.stats``): ``norm``, ``gamma``, ``beta``,
``poisson``, ``bernoulli``, ``t``, ``uniform``, ``expon``, ``logistic`` and
``multivariate_normal``."""

from . import (
    bernoulli,
    beta,
    expon,
    gamma,
    logistic,
    multivariate_normal,
    norm,
    poisson,
    t,
    uniform,
)

__all__ = ["bernoulli", "beta", "expon", "gamma", "logistic", "multivariate_normal", "norm",
           "poisson", "t", "uniform"]
