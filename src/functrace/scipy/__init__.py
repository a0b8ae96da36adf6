"""``functrace.scipy`` (``jax.scipy``): ``special`` and ``stats.norm``."""

from . import special, stats

__all__ = ["special", "stats"]
