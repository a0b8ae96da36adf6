"""``functrace.example_libraries``: the home of ``stax`` and ``optimizers`` under JAX's
path, so a JAX script ports by changing its imports only::

    from functrace.example_libraries import stax, optimizers  # was: jax.example_libraries

``functrace.example_libraries.stax`` *is* ``functrace.stax`` (and likewise for
``optimizers``), also for ``import functrace.example_libraries.stax as stax``.
"""

import sys as _sys

from .. import optimizers, stax

_sys.modules[__name__ + ".stax"] = stax
_sys.modules[__name__ + ".optimizers"] = optimizers
