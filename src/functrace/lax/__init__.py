"""``functrace.lax``: every primitive under its ``jax.lax`` name."""

from .elementwise import *  # noqa: F403
from .shape_ops import *  # noqa: F403
