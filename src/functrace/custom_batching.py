"""``functrace.custom_batching`` (``jax.custom_batching``): functions with their own
``vmap`` rule.

Example:
    >>> import functrace as ft, functrace.numpy as fnp
    >>> from functrace.custom_batching import custom_vmap
    >>> @custom_vmap
    ... def norm(x):
    ...     return fnp.sqrt(fnp.sum(x * x))
    >>> @norm.def_vmap
    ... def norm_rule(axis_size, in_batched, xs):
    ...     return fnp.sqrt(fnp.sum(xs * xs, axis=1)), in_batched[0]
    >>> ft.vmap(norm)(fnp.ones((2, 4)))
    array([2., 2.], dtype=float32)
"""

from .transforms.custom_batching import custom_vmap, custom_vmap_p

__all__ = ["custom_vmap", "custom_vmap_p"]
