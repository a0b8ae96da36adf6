"""``functrace.custom_derivatives`` (``jax.custom_derivatives``): user-defined derivative
rules and the objects their rules see.

Example:
    >>> import functrace as ft
    >>> from functrace.custom_derivatives import SymbolicZero, custom_jvp
    >>> @custom_jvp
    ... def f(x, y):
    ...     return x * y
    >>> @f.defjvp
    ... def f_jvp(primals, tangents):
    ...     (x, y), (tx, ty) = primals, tangents
    ...     return x * y, tx * y + x * ty
    >>> float(ft.grad(f)(2.0, 3.0))
    3.0
"""

from .transforms.custom import custom_jvp, custom_jvp_call_p, custom_vjp, custom_vjp_call_p
from .transforms.custom_gradient import custom_gradient
from .transforms.symbolic_zeros import (
    CustomVJPPrimal,
    SymbolicZero,
    custom_vjp_primal_tree_values,
    zero_from_primal,
)
from .transforms.utilities import closure_convert

__all__ = [
    "CustomVJPPrimal", "SymbolicZero", "closure_convert", "custom_gradient", "custom_jvp",
    "custom_jvp_call_p", "custom_vjp", "custom_vjp_call_p", "custom_vjp_primal_tree_values",
    "zero_from_primal",
]
