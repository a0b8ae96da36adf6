"""First-order optimizers, the API of ``jax.example_libraries.optimizers``.

An optimizer is a triple ``(init_fun, update_fun, get_params)``:

- ``init_fun(params) -> opt_state``
- ``update_fun(step, grads, opt_state) -> opt_state``
- ``get_params(opt_state) -> params``

``params`` and ``grads`` are pytrees of arrays; ``opt_state`` is an ``OptimizerState``
(itself a pytree). Step sizes are floats or *schedules*, callables of the step index.
Every update is written with ``functrace.numpy``, so it runs eagerly on NumPy arrays and
also on traced values (``functrace.make_jaxpr``, a later ``jit``).

Example (JAX's canonical loop):
    >>> import numpy as np
    >>> import functrace as ft
    >>> from functrace import optimizers
    >>> opt_init, opt_update, get_params = optimizers.adam(0.1)
    >>> opt_state = opt_init({"w": np.ones(3, np.float32)})
    >>> loss = lambda p: (p["w"] ** 2).sum()
    >>> for i in range(3):
    ...     value, grads = ft.value_and_grad(loss)(get_params(opt_state))
    ...     opt_state = opt_update(i, grads, opt_state)
    >>> get_params(opt_state)["w"].round(4)
    array([0.7016, 0.7016, 0.7016], dtype=float32)

functrace extension: ``save_checkpoint`` / ``load_checkpoint`` write and read parameters,
optimizer state and step as one ``.npz`` file, atomically, with no pickle.
"""

from . import checkpoints
from ._core import *
from ._core import __all__ as _core_all
from .checkpoints import CheckpointError, load_checkpoint, save_checkpoint

__all__ = [*_core_all, "CheckpointError", "save_checkpoint", "load_checkpoint"]
