"""Array-creation primitives: ``iota`` and ``full``.

Both take no array inputs, so ``bind`` runs them eagerly outside a staging
transformation and records them (with no arguments) under ``make_jaxpr``/``jit``.
Their outputs do not depend on any input, so their derivatives are zero.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from functools import partial

import numpy as np

from ..core.avals import ShapedArray, aval_of_value, canonicalize_dtype, is_python_scalar
from ..core.trace import Primitive, Tracer, abstract_eval_rules, get_aval, impl_rules
from ..errors import DTypeError, ShapeError, no_sharding
from ..transforms.ad import defjvp_zero
from ..transforms.batching import batching_rules, unmapped_rule
from .shape_ops import broadcast_in_dim, convert_element_type

__all__ = ["broadcasted_iota", "full", "full_like", "full_p", "iota", "iota_p",
           "zeros_like_array"]


def _shape_tuple(shape, op: str) -> tuple[int, ...]:
    if isinstance(shape, int | np.integer):
        shape = (shape,)
    try:
        dims = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise ShapeError(f"{op}: shape must be a sequence of ints, got {shape!r}") from None
    if any(d < 0 for d in dims):
        raise ShapeError(f"{op}: shape {dims} has a negative dimension; sizes must be >= 0")
    return dims


def _check_dtype(dtype, op: str) -> np.dtype:
    try:
        return np.dtype(dtype)
    except TypeError:
        raise DTypeError(f"{op}: unknown dtype {dtype!r}; pass a NumPy dtype such as "
                         "np.float32 or np.int32") from None


# ---------------------------------------------------------------------------
# iota

iota_p = Primitive("iota", impl_fallback=True)


def iota(dtype, size: int):
    """``[0, 1, ..., size - 1]`` as a 1-D array of ``dtype`` (``lax.iota``).

    Args:
        dtype: the element type (canonicalised: int64 -> int32 unless x64 is on).
        size: the length of the result.
    Returns:
        An array of shape ``(size,)``.

    Example:
        >>> iota(np.int32, 4)
        array([0, 1, 2, 3], dtype=int32)
    """
    return broadcasted_iota(dtype, (size,), 0)


def broadcasted_iota(dtype, shape: Sequence[int], dimension: int, *, out_sharding=None):
    """An array of ``shape`` whose value is the index along ``dimension``.

    Example:
        >>> broadcasted_iota(np.int32, (2, 3), 1)
        array([[0, 1, 2],
               [0, 1, 2]], dtype=int32)
    """
    no_sharding("lax.broadcasted_iota", out_sharding=out_sharding)
    shape = _shape_tuple(shape, "iota")
    return iota_p.bind(dtype=canonicalize_dtype(_check_dtype(dtype, "iota")), shape=shape,
                       dimension=int(dimension))


def _iota_impl(*, dtype, shape, dimension):
    line = np.arange(shape[dimension], dtype=dtype)
    expanded = [1] * len(shape)
    expanded[dimension] = shape[dimension]
    return np.broadcast_to(line.reshape(expanded), shape).copy()  # writable, like np.arange


def _iota_abstract(*, dtype, shape, dimension):
    _shape_tuple(shape, "iota")
    if not 0 <= dimension < len(shape):
        raise ShapeError(f"iota: dimension {dimension} is out of range for shape {shape}; "
                         f"pass 0 <= dimension < {len(shape)}")
    if dtype == np.bool_ or not np.issubdtype(dtype, np.number):
        raise DTypeError(f"iota: dtype must be numeric, got {np.dtype(dtype).name}; use an "
                         "integer or floating-point dtype")
    return ShapedArray(shape, dtype)


impl_rules[iota_p] = _iota_impl
abstract_eval_rules[iota_p] = _iota_abstract
defjvp_zero(iota_p)
# no operands: never batched (the rule is only there for completeness of the table)
batching_rules[iota_p] = partial(unmapped_rule, iota_p)


# ---------------------------------------------------------------------------
# full

full_p = Primitive("full", impl_fallback=True)


def full(shape: Sequence[int], fill_value, dtype=None, *, sharding=None):
    """An array of ``shape`` filled with ``fill_value`` (``lax.full``).

    Args:
        shape: the result shape.
        fill_value: a scalar. A Python or concrete NumPy scalar is stored as the
            primitive's parameter; a traced scalar is broadcast instead.
        dtype: the element type; by default the dtype of ``fill_value`` under
            JAX's rules (a Python float gives float32, or float64 with x64).
    Returns:
        An array of ``shape`` and ``dtype``.

    Example:
        >>> full((2,), 1.5)
        array([1.5, 1.5], dtype=float32)
    """
    no_sharding("lax.full", sharding=sharding)
    shape = _shape_tuple(shape, "full")
    if isinstance(fill_value, Tracer):
        aval = get_aval(fill_value)
        if aval.shape != ():
            raise ShapeError(f"full: fill_value must be a scalar, got {aval.str_short()}; "
                             "use lax.broadcast_in_dim to broadcast an array")
        value = fill_value if dtype is None else convert_element_type(fill_value, dtype)
        return broadcast_in_dim(value, shape, ())
    if np.ndim(fill_value) != 0:
        raise ShapeError(f"full: fill_value must be a scalar, got an array of shape "
                         f"{np.shape(fill_value)}; use lax.broadcast_in_dim to broadcast it")
    fill_dtype = aval_of_value(fill_value).dtype  # a string or an object raises here
    dtype_given = dtype is not None
    dtype = fill_dtype if dtype is None else _check_dtype(dtype, "full")
    dtype = canonicalize_dtype(dtype)
    if np.issubdtype(dtype, np.integer) and isinstance(fill_value, int | np.integer):
        info = np.iinfo(dtype)
        if not info.min <= int(fill_value) <= info.max:
            raise DTypeError(f"full: fill_value {fill_value} does not fit in {dtype.name} "
                             f"(range [{info.min}, {info.max}]); pass a wider dtype")
    # a canonical Python scalar of the result dtype keeps the params hashable and cache-stable
    value = np.asarray(fill_value).astype(dtype).item()
    # as JAX: full((2,), 3.0) is weakly typed (~float32), so full((2,), 3.0) + f16 is f16
    return _bind_full(shape, value, dtype, not dtype_given and _is_weak_scalar(fill_value))


def _is_weak_scalar(x) -> bool:
    # JAX's weak types: Python int, float and complex (a Python bool is strongly typed)
    return is_python_scalar(x) and not isinstance(x, bool | np.bool_)


def _bind_full(shape, value, dtype, weak: bool):
    # the weak_type parameter is only added when set, so other jaxprs and cache keys stay
    if weak:
        return full_p.bind(shape=shape, fill_value=value, dtype=dtype, weak_type=True)
    return full_p.bind(shape=shape, fill_value=value, dtype=dtype)


def _full_impl(*, shape, fill_value, dtype, weak_type=False):
    return np.full(shape, fill_value, dtype)


def _full_abstract(*, shape, fill_value, dtype, weak_type=False):
    _shape_tuple(shape, "full")
    if not is_python_scalar(fill_value):
        raise DTypeError(f"full: the fill_value parameter must be a Python scalar, got "
                         f"{type(fill_value).__name__}; call lax.full, which converts it")
    return ShapedArray(shape, _check_dtype(dtype, "full"), weak_type)


impl_rules[full_p] = _full_impl
abstract_eval_rules[full_p] = _full_abstract
defjvp_zero(full_p)
batching_rules[full_p] = partial(unmapped_rule, full_p)


def full_like(x, fill_value, dtype=None, shape=None, sharding=None):
    """An array like ``x`` (its shape and dtype unless given) filled with ``fill_value``.

    Only the type of ``x`` is used, so the result does not depend on ``x``'s value.

    Example:
        >>> full_like(np.zeros((2,), np.int32), 7)
        array([7, 7], dtype=int32)
    """
    no_sharding("lax.full_like", sharding=sharding)
    aval = get_aval(x)
    out = full(aval.shape if shape is None else shape, fill_value,
               aval.dtype if dtype is None else dtype)
    if dtype is None and not isinstance(fill_value, Tracer) and (
            aval.weak_type or _is_weak_scalar(x)):
        # as JAX: the result keeps a weakly typed template's weak type
        out_aval = get_aval(out)
        value = np.asarray(fill_value).astype(out_aval.dtype).item()
        return _bind_full(out_aval.shape, value, out_aval.dtype, True)
    return out


def zeros_like_array(x):
    """Zeros of the shape and dtype of ``x`` (``lax.zeros_like_array``).

    Example:
        >>> zeros_like_array(np.ones((2,), np.float32))
        array([0., 0.], dtype=float32)
    """
    return full_like(x, 0)
