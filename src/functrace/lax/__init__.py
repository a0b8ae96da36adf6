"""``functrace.lax``: every primitive under its ``jax.lax`` name."""

from .dots import *  # noqa: F403
from .elementwise import *  # noqa: F403
from .reductions import *  # noqa: F403
from .shape_ops import *  # noqa: F403

# isort: split
# creation comes after elementwise: its full_like(x, fill_value, dtype, shape)
# replaces the two-argument helper that elementwise also exports under that name.
from .creation import *  # noqa: F403
from .slicing import *  # noqa: F403
