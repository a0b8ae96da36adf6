"""``functrace.scipy.stats`` (``jax.scipy.stats``): the normal distribution."""

from . import norm

__all__ = ["norm"]
