"""``functrace.lax``: every primitive under its ``jax.lax`` name."""

from . import (
    _printing,  # noqa: F401 - registers how equations print
    callbacks,  # noqa: F401 - debug_callback and pure_callback primitives
    linalg,  # lax.linalg, a namespace as in JAX (not star-imported)
)
from .bits import *  # noqa: F403
from .control_flow import *  # noqa: F403
from .conv_extras import *  # noqa: F403
from .convenience import *  # noqa: F403
from .convolution import *  # noqa: F403
from .creation import *  # noqa: F403
from .dots import *  # noqa: F403
from .dynamic_slicing import *  # noqa: F403
from .elementwise import *  # noqa: F403
from .elementwise_more import *  # noqa: F403
from .extras import *  # noqa: F403
from .fft import *  # noqa: F403
from .gather_scatter import *  # noqa: F403
from .parallel import *  # noqa: F403
from .parallel_exchange import *  # noqa: F403
from .precision_ops import *  # noqa: F403
from .ragged import *  # noqa: F403
from .reductions import *  # noqa: F403
from .shape_ops import *  # noqa: F403
from .slicing import *  # noqa: F403
from .sorting import *  # noqa: F403
from .special import *  # noqa: F403
from .special_more import *  # noqa: F403
from .stable_argsort import *  # noqa: F403
from .threefry import *  # noqa: F403
from .trig import *  # noqa: F403
from .windowed import *  # noqa: F403
