"""What custom rules see with ``symbolic_zeros=True`` (``jax.custom_derivatives``'s
``SymbolicZero``, ``zero_from_primal``, ``CustomVJPPrimal`` and
``custom_vjp_primal_tree_values``).

With ``custom_jvp.defjvp(rule, symbolic_zeros=True)`` the rule receives a
``SymbolicZero`` in place of the tangent of every input that takes no part in the
differentiation; with ``custom_vjp.defvjp(fwd, bwd, symbolic_zeros=True)`` ``fwd`` receives
a ``CustomVJPPrimal(value, perturbed)`` in place of every input leaf and ``bwd`` a
``SymbolicZero`` in place of the cotangent of every output that receives none. Rules may
return a ``SymbolicZero`` (or ``None`` from ``bwd``) for a zero result whatever the flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core.avals import ShapedArray
from ..core.trace import get_aval
from ..errors import TransformError
from ..tree_util import tree_map
from .ad import Zero, tangent_aval, zeros_like_aval

__all__ = ["CustomVJPPrimal", "SymbolicZero", "custom_vjp_primal_tree_values",
           "zero_from_primal"]


class SymbolicZero:
    """A zero tangent or cotangent known to be zero while tracing: it carries only a
    type (``aval``), and ``shape``, ``dtype``, ``ndim`` and ``size`` read from it.

    Example:
        >>> import numpy as np
        >>> z = SymbolicZero.from_primal_value(np.ones((2, 3), np.float32))
        >>> z, z.shape, z.dtype
        (SymbolicZero, (2, 3), dtype('float32'))
    """

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self) -> str:
        return "SymbolicZero"

    def __getattr__(self, name: str):
        if name == "aval":  # not set yet (copy/pickle): no recursion into __getattr__
            raise AttributeError(name)
        try:
            return getattr(self.aval, name)
        except AttributeError:
            raise AttributeError(f"SymbolicZero has no attribute {name!r}") from None

    @staticmethod
    def from_primal_value(val) -> SymbolicZero:
        """The symbolic zero tangent of the primal ``val``."""
        return SymbolicZero(tangent_aval(get_aval(val)))

    def instantiate(self):
        """The zeros this symbolic zero stands for, as an array (functrace's helper)."""
        return zeros_like_aval(self.aval)


def zero_from_primal(val, symbolic_zeros: bool = False):
    """The zero tangent of every leaf of ``val``: ``SymbolicZero`` objects with
    ``symbolic_zeros=True``, arrays of zeros otherwise (``jax.custom_derivatives``' helper).

    Example:
        >>> import numpy as np
        >>> zero_from_primal({"w": np.ones(2, np.float32)})
        {'w': array([0., 0.], dtype=float32)}
    """
    def leaf(x):
        aval = tangent_aval(get_aval(x))
        return SymbolicZero(aval) if symbolic_zeros else zeros_like_aval(aval)
    return tree_map(leaf, val)


@dataclass(frozen=True)
class CustomVJPPrimal:
    """An input leaf of a ``custom_vjp`` forward rule registered with
    ``symbolic_zeros=True``: the primal ``value`` and whether it is ``perturbed`` (takes
    part in the differentiation; if not, its cotangent is not needed)."""

    value: Any
    perturbed: bool


def custom_vjp_primal_tree_values(tree):
    """``tree`` with every ``CustomVJPPrimal`` leaf replaced by its ``value``.

    Example:
        >>> custom_vjp_primal_tree_values((CustomVJPPrimal(1.0, True),))
        (1.0,)
    """
    def value(leaf):
        if type(leaf) is not CustomVJPPrimal:
            raise TransformError(f"custom_vjp_primal_tree_values: expected CustomVJPPrimal "
                                 f"leaves, got {type(leaf).__name__}")
        return leaf.value
    return tree_map(value, tree)


def to_symbolic(t):
    """A rule's input: an internal ``Zero`` becomes the public ``SymbolicZero``."""
    return SymbolicZero(t.aval) if isinstance(t, Zero) else t


def is_zero(t) -> bool:
    return isinstance(t, Zero | SymbolicZero)
