"""Bit-level primitives: shifts, ``bitcast_convert_type`` and ``population_count``.

Shifts follow XLA, not C or NumPy: a shift amount that is negative or at least the
bit width shifts every bit out (0 for ``shift_left``/``shift_right_logical``, the
sign bit repeated for ``shift_right_arithmetic``). Operands are integers of the same
dtype; shapes are equal or one operand is rank 0, as for the other lax binary ops.
None of these primitives is differentiable: their jvps are zero. They are not
``elementwise`` for the compiler (the fused-loop generators have no spelling for XLA's
out-of-range shifts): backends run their NumPy impls (``impl_fallback``), which are
vectorised already.
"""

from __future__ import annotations

import numpy as np

from ..core.avals import ShapedArray, canonicalize_dtype, dtype_kind, is_int
from ..core.trace import Primitive, abstract_eval_rules, get_aval, impl_rules
from ..errors import DTypeError, ShapeError
from ..transforms.ad import defjvp_zero
from ..transforms.batching import defbroadcasting, defvectorized
from .elementwise import _match_operands

__all__ = [
    "bitcast_convert_type", "bitcast_convert_type_p", "population_count",
    "population_count_p", "shift_left", "shift_left_p", "shift_right_arithmetic",
    "shift_right_arithmetic_p", "shift_right_logical", "shift_right_logical_p",
]


def _check_int(op: str, *avals: ShapedArray) -> None:
    for a in avals:
        if not is_int(a.dtype):
            raise DTypeError(f"lax.{op} requires integer operands, got {a.str_short()}; use "
                             "lax.bitcast_convert_type to reinterpret a float's bits.")


def _unsigned(dtype: np.dtype) -> np.dtype:
    return np.dtype(f"u{dtype.itemsize}")


def _signed(dtype: np.dtype) -> np.dtype:
    return np.dtype(f"i{dtype.itemsize}")


# ---------------------------------------------------------------------------
# shifts

def _shift_abstract(op: str):
    def rule(x: ShapedArray, y: ShapedArray) -> ShapedArray:
        _check_int(op, x, y)
        if x.dtype != y.dtype:
            raise DTypeError(f"lax.{op} requires operands of the same dtype, got "
                             f"{x.str_short()} and {y.str_short()}; cast the shift amount "
                             "with lax.convert_element_type.")
        if x.shape != y.shape and x.shape and y.shape:
            raise ShapeError(f"lax.{op} got incompatible shapes {x.shape} and {y.shape}; lax "
                             "needs equal shapes (or a rank-0 operand).")
        return ShapedArray(x.shape or y.shape, x.dtype, x.weak_type and y.weak_type)
    return rule


def _shift_amounts(x: np.ndarray, y):
    """The amounts as unsigned integers (negative ones become huge) and where they are
    out of range (>= the bit width)."""
    amount = np.asarray(y).astype(_unsigned(x.dtype))
    out_of_range = amount >= x.dtype.itemsize * 8
    return np.where(out_of_range, 0, amount).astype(amount.dtype), out_of_range


def _shift_left_impl(x, y):
    amount, out = _shift_amounts(x, y)
    # on the unsigned view: a left shift of a negative signed value is undefined in C
    shifted = np.left_shift(x.astype(_unsigned(x.dtype)), amount)
    return np.where(out, 0, shifted).astype(x.dtype)


def _shift_right_logical_impl(x, y):
    amount, out = _shift_amounts(x, y)
    shifted = np.right_shift(x.astype(_unsigned(x.dtype)), amount)
    return np.where(out, 0, shifted).astype(x.dtype)


def _shift_right_arithmetic_impl(x, y):
    amount, out = _shift_amounts(x, y)
    signed = _signed(x.dtype)
    # shifting by width - 1 fills every bit with the sign bit, which is XLA's result for an
    # out-of-range amount; an unsigned operand is shifted as its signed view, as in XLA
    amount = np.where(out, x.dtype.itemsize * 8 - 1, amount).astype(signed)
    return np.right_shift(x.astype(signed), amount).astype(x.dtype)


def _make_shift(name: str, impl, doc: str):
    prim = Primitive(name, impl_fallback=True)
    impl_rules[prim] = impl
    abstract_eval_rules[prim] = _shift_abstract(name)
    defjvp_zero(prim)
    defbroadcasting(prim)

    def fn(x, y):
        x, y = _match_operands(name, x, y)
        return prim.bind(x, y)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return prim, fn


shift_left_p, shift_left = _make_shift("shift_left", _shift_left_impl, """\
``x << y`` elementwise (``lax.shift_left``); amounts >= the bit width (or negative) give 0.

    Example:
        >>> shift_left(np.uint32([1, 3]), np.uint32([4, 32]))
        array([16,  0], dtype=uint32)
    """)

shift_right_logical_p, shift_right_logical = _make_shift(
    "shift_right_logical", _shift_right_logical_impl, """\
``x >> y`` filling with zeros (``lax.shift_right_logical``); out-of-range amounts give 0.

    Example:
        >>> shift_right_logical(np.int32([-1, 256]), np.int32([28, 4]))
        array([15, 16], dtype=int32)
    """)

shift_right_arithmetic_p, shift_right_arithmetic = _make_shift(
    "shift_right_arithmetic", _shift_right_arithmetic_impl, """\
``x >> y`` filling with the sign bit (``lax.shift_right_arithmetic``); out-of-range
    amounts give 0 or -1 (all bits set) by the sign.

    Example:
        >>> shift_right_arithmetic(np.int32([-16, 16]), np.int32([2, 40]))
        array([-4,  0], dtype=int32)
    """)


# ---------------------------------------------------------------------------
# bitcast_convert_type

bitcast_convert_type_p = Primitive("bitcast_convert_type", impl_fallback=True)


def bitcast_convert_type(operand, new_dtype):
    """Reinterprets the bits of ``operand`` as ``new_dtype`` of the same size
    (``lax.bitcast_convert_type``, same-itemsize case).

    Args:
        operand: a numeric array.
        new_dtype: a dtype with the itemsize of ``operand``'s (64-bit ones need x64).
    Returns:
        An array of ``operand``'s shape and dtype ``new_dtype``.

    Example:
        >>> bitcast_convert_type(np.float32(1.0), np.uint32)
        array(1065353216, dtype=uint32)
    """
    try:
        new_dtype = canonicalize_dtype(new_dtype)
    except TypeError:
        raise DTypeError(f"bitcast_convert_type: unknown dtype {new_dtype!r}; pass a NumPy "
                         "dtype such as np.uint32") from None
    if get_aval(operand).dtype == new_dtype:
        return operand
    return bitcast_convert_type_p.bind(operand, new_dtype=new_dtype)


def _bitcast_abstract(x: ShapedArray, *, new_dtype):
    new_dtype = np.dtype(new_dtype)
    for d in (x.dtype, new_dtype):
        if dtype_kind(d) not in "iufc":  # bfloat16 counts as a float
            raise DTypeError(f"bitcast_convert_type: cannot bitcast {x.dtype.name} to "
                             f"{new_dtype.name}: both dtypes must be numeric (not bool)")
    if x.dtype.itemsize != new_dtype.itemsize:
        raise DTypeError(
            f"bitcast_convert_type: {x.str_short()} has {x.dtype.itemsize}-byte elements but "
            f"{new_dtype.name} has {new_dtype.itemsize}-byte ones; only same-size bitcasts are "
            "supported (64-bit dtypes need config.update('enable_x64', True)).")
    return ShapedArray(x.shape, new_dtype)


impl_rules[bitcast_convert_type_p] = lambda x, *, new_dtype: np.asarray(x).view(new_dtype)
abstract_eval_rules[bitcast_convert_type_p] = _bitcast_abstract
defjvp_zero(bitcast_convert_type_p)
defvectorized(bitcast_convert_type_p)


# ---------------------------------------------------------------------------
# population_count

population_count_p = Primitive("population_count", impl_fallback=True)


def population_count(x):
    """The number of set bits of each element, in ``x``'s dtype (``lax.population_count``).

    Example:
        >>> population_count(np.int32([0, 7, -1]))
        array([ 0,  3, 32], dtype=int32)
    """
    return population_count_p.bind(x)


def _population_count_abstract(x: ShapedArray) -> ShapedArray:
    _check_int("population_count", x)
    return ShapedArray(x.shape, x.dtype, x.weak_type)


_BYTE_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], np.uint8)


def _population_count_impl(x):
    # bytes of the two's-complement bits through a table (np.bitwise_count needs NumPy 2 and
    # counts the bits of |x| for signed types)
    as_bytes = x.astype(_unsigned(x.dtype)).reshape(x.shape + (1,)).view(np.uint8)
    return _BYTE_POPCOUNT[as_bytes].sum(axis=-1, dtype=np.int64).astype(x.dtype)


impl_rules[population_count_p] = _population_count_impl
abstract_eval_rules[population_count_p] = _population_count_abstract
defjvp_zero(population_count_p)
defvectorized(population_count_p)
