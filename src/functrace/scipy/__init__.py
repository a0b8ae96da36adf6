"""``functrace.scipy`` (``jax.scipy``): ``special``, ``stats``, ``linalg``, ``signal``,
``ndimage`` and ``integrate``."""

from . import integrate, linalg, ndimage, signal, special, stats

__all__ = ["integrate", "linalg", "ndimage", "signal", "special", "stats"]
