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

from __future__ import annotations

from . import lax
from .transforms.custom_batching import custom_vmap, custom_vmap_p
from .tree_util import tree_flatten, tree_map, tree_unflatten

__all__ = ["custom_vmap", "custom_vmap_p", "sequential_vmap"]


def sequential_vmap(f):
    """``f`` batched by a loop (``lax.map``) over the examples when it is vmapped
    (``jax.custom_batching.sequential_vmap``): for a function that cannot take a batch.

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> @sequential_vmap
        ... def f(x):
        ...     return x + 1
        >>> ft.vmap(f)(fnp.arange(3))
        array([1, 2, 3], dtype=int32)
    """
    f = custom_vmap(f)

    @f.def_vmap
    def rule(axis_size, in_batched, *args):
        flags, tree = tree_flatten(in_batched)
        leaves = tree_flatten(list(args))[0]
        mapped = [x for x, b in zip(leaves, flags, strict=True) if b]
        fixed = [x for x, b in zip(leaves, flags, strict=True) if not b]

        def one(xs):
            it_m, it_f = iter(xs), iter(fixed)
            merged = [next(it_m) if b else next(it_f) for b in flags]
            return f(*tree_unflatten(tree, merged))

        out = lax.map(one, mapped)
        return out, tree_map(lambda _: True, out)

    return f
