"""``threefry2x32``: the Threefry-2x32 block cipher (20 rounds) that ``functrace.random``
draws its keys and bits from (``random/prng.py``), as a primitive.

It is a primitive of ``lax`` rather than a function of ``functrace.random`` so that
the backends, which sit below ``random`` in the layering, can lower it. It is not
differentiable: its jvp is zero.
"""

from __future__ import annotations

import numpy as np

from ..core.avals import ShapedArray
from ..core.trace import Primitive, abstract_eval_rules, impl_rules
from ..errors import DTypeError, ShapeError
from ..transforms.ad import defjvp_zero
from ..transforms.batching import defbroadcasting

__all__ = ["threefry2x32", "threefry2x32_p"]


threefry2x32_p = Primitive("threefry2x32", multiple_results=True, impl_fallback=True)

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_KS_PARITY = np.uint32(0x1BD11BDA)


def threefry2x32(k1, k2, x1, x2):
    """Hashes the counter pairs ``(x1, x2)`` with the key ``(k1, k2)``: Threefry-2x32
    with 20 rounds (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3").

    All four operands are uint32 with equal shapes, or rank 0 (broadcast).

    Args:
        k1, k2: the two key words.
        x1, x2: the two counter words.
    Returns:
        ``[y1, y2]``, the two output words, uint32.

    Example:
        >>> [hex(int(y)) for y in threefry2x32(*np.zeros(4, np.uint32))]
        ['0x6b200159', '0x99ba4efe']
    """
    return threefry2x32_p.bind(k1, k2, x1, x2)


def _rotate_left(v: np.ndarray, d: int) -> np.ndarray:
    return np.left_shift(v, np.uint32(d)) | np.right_shift(v, np.uint32(32 - d))


def _threefry2x32_impl(k1, k2, x1, x2):
    shape = np.broadcast_shapes(*(np.shape(a) for a in (k1, k2, x1, x2)))
    # 1-d arrays throughout: uint32 ufuncs on arrays wrap silently (NumPy scalars would warn)
    k1, k2, x1, x2 = (np.broadcast_to(a, shape).astype(np.uint32).ravel()
                      for a in (k1, k2, x1, x2))
    ks = (k1, k2, k1 ^ k2 ^ _KS_PARITY)
    v0, v1 = x1 + ks[0], x2 + ks[1]
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            v0 = v0 + v1
            v1 = _rotate_left(v1, r) ^ v0
        # key injection i + 1
        v0 = v0 + ks[(i + 1) % 3]
        v1 = v1 + ks[(i + 2) % 3] + np.uint32(i + 1)
    return [v0.reshape(shape), v1.reshape(shape)]


def _threefry2x32_abstract(*avals: ShapedArray):
    for a in avals:
        if a.dtype != np.uint32:
            raise DTypeError(f"threefry2x32: all operands must be uint32, got "
                             f"{', '.join(b.str_short() for b in avals)}")
    shapes = {a.shape for a in avals if a.shape}
    if len(shapes) > 1:
        raise ShapeError(f"threefry2x32: operand shapes {[a.shape for a in avals]} must be "
                         "equal (or rank 0)")
    shape = shapes.pop() if shapes else ()
    return [ShapedArray(shape, np.uint32), ShapedArray(shape, np.uint32)]


impl_rules[threefry2x32_p] = _threefry2x32_impl
abstract_eval_rules[threefry2x32_p] = _threefry2x32_abstract
defjvp_zero(threefry2x32_p)
# elementwise in the counters, with rank-0 operands broadcast: a batch of keys hashes the
# same counters with each key, which is what vmap over random functions needs
defbroadcasting(threefry2x32_p)
