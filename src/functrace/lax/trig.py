"""``atan2`` and ``reciprocal``.

``atan2`` is a primitive (its JVP is ``(y dx - x dy) / (x^2 + y^2)`` for ``atan2(x, y)``).
The other inverse trigonometric and hyperbolic functions are primitives of their own
(``lax/elementwise_more.py``).

Example:
    >>> atan2(np.array([1., -1.], np.float32), np.array([1., 0.], np.float32))
    array([ 0.7853981, -1.5707964], dtype=float32)
"""

from __future__ import annotations

import numpy as np

from ..core.avals import is_inexact
from ..core.trace import Primitive, abstract_eval_rules, get_aval, impl_rules
from ..errors import DTypeError
from ..transforms.ad import defjvp
from ..transforms.batching import defbroadcasting
from .elementwise import (
    _binary_abstract,
    _expand_unit_dims,
    _match_operands,
    add,
    div,
    integer_pow,
    mul,
    neg,
)

__all__ = ["atan2", "atan2_p", "reciprocal"]


def _check_float(op: str, x) -> None:
    if not is_inexact(get_aval(x).dtype):
        raise DTypeError(f"lax.{op} requires a floating-point operand, got "
                         f"{get_aval(x).str_short()}; cast it with lax.convert_element_type")


def _c(x, value):
    return np.asarray(value, get_aval(x).dtype)


atan2_p = Primitive("atan2", elementwise=True, scalar="math.atan2({0}, {1})")
impl_rules[atan2_p] = np.arctan2
abstract_eval_rules[atan2_p] = _binary_abstract("atan2", kinds="float")
defbroadcasting(atan2_p)


def _atan2_jvp_x(g, x, y):
    return mul(g, div(y, add(mul(x, x), mul(y, y))))


def _atan2_jvp_y(g, x, y):
    return mul(g, div(neg(x), add(mul(x, x), mul(y, y))))


defjvp(atan2_p, _atan2_jvp_x, _atan2_jvp_y)


def atan2(x, y):
    """The angle of the point ``(y, x)``: ``arctan(x / y)`` in the right quadrant.

    Example:
        >>> atan2(np.array([1.], np.float32), np.array([-1.], np.float32))
        array([2.3561945], dtype=float32)
    """
    x, y = _expand_unit_dims(*_match_operands("atan2", x, y))
    return atan2_p.bind(x, y)


def reciprocal(x):
    """Elementwise ``1 / x``.

    Example:
        >>> reciprocal(np.array([4.], np.float32))
        array([0.25], dtype=float32)
    """
    return integer_pow(x, -1)
