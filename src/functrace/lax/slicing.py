"""Static slicing primitives: concatenate, pad, slice and rev. They live together
because each one's transpose is another one of them (or itself); their dynamic
counterparts, whose starts are traced values, are in ``dynamic_slicing.py``.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence

import numpy as np

from ..core.avals import ShapedArray, is_python_scalar
from ..core.trace import Primitive, abstract_eval_rules, get_aval, impl_rules
from ..errors import DTypeError, ShapeError
from ..transforms.ad import deflinear, is_undefined_primal
from ..transforms.batching import axis_size, batching_rules, bdim_at_front, not_mapped, shift_axes
from ._geometry import dilate_and_pad, int_tuple
from .creation import full
from .elementwise import _called_by_user, select, sub
from .shape_ops import broadcast_in_dim, reduce_sum

__all__ = ["concatenate", "concatenate_p", "pad", "pad_p", "rev", "rev_p", "slice", "slice_p"]


def _aval(x) -> ShapedArray:
    """The aval of a primal, known or not (transpose rules receive both)."""
    return x.aval if is_undefined_primal(x) else get_aval(x)


def _scalar_like(x, dtype):
    """Python scalars take the dtype of the array they combine with (weak typing)."""
    return np.asarray(x, dtype) if is_python_scalar(x) else x


# ---------------------------------------------------------------------------
# concatenate

concatenate_p = Primitive("concatenate", impl_fallback=True)


def concatenate(operands: Sequence, dimension: int):
    """Joins ``operands`` along ``dimension`` (``lax.concatenate``).

    All operands must have the same rank, dtype and shape except along ``dimension``.

    Example:
        >>> concatenate([np.zeros(2, np.float32), np.ones(1, np.float32)], 0)
        array([0., 0., 1.], dtype=float32)
    """
    operands = tuple(operands)
    if not operands:
        raise ShapeError("concatenate: needs at least one operand, got none")
    if len(operands) == 1:
        return operands[0]
    ndim = get_aval(operands[0]).ndim
    dimension = int(dimension)
    if -ndim <= dimension < 0:
        dimension += ndim
    return concatenate_p.bind(*operands, dimension=dimension)


def _concatenate_impl(*xs, dimension):
    return np.concatenate(xs, axis=dimension)


def _concatenate_abstract(*xs, dimension):
    shapes = [x.shape for x in xs]
    first = xs[0]
    if not 0 <= dimension < first.ndim:
        raise ShapeError(f"concatenate: dimension {dimension} is out of range for operands of "
                         f"rank {first.ndim} (shapes {shapes}); rank-0 operands cannot be "
                         "concatenated")
    for x in xs[1:]:
        if x.dtype != first.dtype:
            raise DTypeError(f"concatenate: operands must have the same dtype, got "
                             f"{first.str_short()} and {x.str_short()}; cast them with "
                             "lax.convert_element_type")
        rest = [n for i, n in enumerate(x.shape) if i != dimension]
        first_rest = [n for i, n in enumerate(first.shape) if i != dimension]
        if x.ndim != first.ndim or rest != first_rest:
            raise ShapeError(f"concatenate: operands of shapes {first.shape} and {x.shape} "
                             f"differ outside the concatenated dimension {dimension}; all "
                             "dimensions except that one must match")
    shape = list(first.shape)
    shape[dimension] = sum(x.shape[dimension] for x in xs)
    return ShapedArray(shape, first.dtype, all(x.weak_type for x in xs))


def _concatenate_transpose(ct, *xs, dimension):
    cts, offset = [], 0
    for x in xs:
        shape = _aval(x).shape
        if is_undefined_primal(x):
            start = [0] * len(shape)
            start[dimension] = offset
            limit = list(shape)
            limit[dimension] = offset + shape[dimension]
            cts.append(slice(ct, start, limit))
        else:
            cts.append(None)
        offset += shape[dimension]
    return cts


impl_rules[concatenate_p] = _concatenate_impl
abstract_eval_rules[concatenate_p] = _concatenate_abstract
deflinear(concatenate_p, _concatenate_transpose)


def _concatenate_batch(args, dims, *, dimension):
    size = axis_size(args, dims)
    xs = [bdim_at_front(x, d, size) for x, d in zip(args, dims, strict=True)]
    return concatenate_p.bind(*xs, dimension=dimension + 1), 0


batching_rules[concatenate_p] = _concatenate_batch


# ---------------------------------------------------------------------------
# pad

pad_p = Primitive("pad", impl_fallback=True)


def pad(operand, padding_value, padding_config: Sequence[tuple[int, int, int]]):
    """Pads ``operand`` with ``padding_value`` (``lax.pad``).

    ``padding_config`` has one ``(low, high, interior)`` triple per axis: ``low``
    and ``high`` elements at the two ends (negative values remove elements) and
    ``interior >= 0`` elements between neighbours.

    Example:
        >>> pad(np.array([1., 2.], np.float32), 0.0, [(1, 0, 1)])
        array([0., 1., 0., 2.], dtype=float32)
    """
    config = tuple(int_tuple(c, "pad", "each padding_config entry") for c in padding_config)
    if all(c == (0, 0, 0) for c in config) and len(config) == get_aval(operand).ndim:
        return operand
    dtype = get_aval(operand).dtype
    if (is_python_scalar(padding_value) and get_aval(padding_value).dtype != dtype
            and _called_by_user(1)):
        # as JAX 0.10: a Python scalar has its default dtype (pad(f32, 0, ...) raises)
        raise DTypeError(f"pad operand and padding_value must be same dtype: got "
                         f"{dtype.name} and {get_aval(padding_value).dtype.name}; pass a "
                         f"scalar of the operand's kind (0.0, not 0)")
    padding_value = _scalar_like(padding_value, dtype)
    return pad_p.bind(operand, padding_value, padding_config=config)


def _pad_impl(x, padding_value, *, padding_config):
    lo_hi = [(lo, hi) for lo, hi, _ in padding_config]
    return dilate_and_pad(x, padding_value, lo_hi, [i + 1 for _, _, i in padding_config])


def _pad_abstract(x, padding_value, *, padding_config):
    if padding_value.shape != ():
        raise ShapeError(f"pad: padding_value must be a scalar, got {padding_value.str_short()}")
    if padding_value.dtype != x.dtype:
        raise DTypeError(f"pad: padding_value has dtype {padding_value.dtype.name} but the "
                         f"operand is {x.str_short()}; they must match (cast the padding value)")
    if len(padding_config) != x.ndim or any(len(c) != 3 for c in padding_config):
        raise ShapeError(f"pad: padding_config {padding_config} must have one (low, high, "
                         f"interior) triple per axis of the operand of shape {x.shape}, i.e. "
                         f"{x.ndim} triples")
    shape = []
    for n, (lo, hi, interior) in zip(x.shape, padding_config, strict=True):
        if interior < 0:
            raise ShapeError(f"pad: interior padding must be >= 0, got {padding_config}")
        size = lo + hi + n + builtins.max(n - 1, 0) * interior
        if size < 0:
            raise ShapeError(f"pad: padding_config {padding_config} removes more elements "
                             f"than the operand of shape {x.shape} has; the negative low/high "
                             "padding is too large")
        shape.append(size)
    return ShapedArray(shape, x.dtype, x.weak_type)


def _pad_transpose(ct, x, padding_value, *, padding_config):
    # undo low/high (negating them also restores what negative padding removed),
    # then keep every (interior + 1)-th element
    lo, hi, interior = zip(*padding_config, strict=True) if padding_config else ((), (), ())
    zero = np.zeros((), _aval(ct).dtype)
    unpadded = pad(ct, zero, [(-a, -b, 0) for a, b in zip(lo, hi, strict=True)])
    ndim = len(padding_config)
    t_x = slice(unpadded, (0,) * ndim, get_aval(unpadded).shape, [i + 1 for i in interior])
    t_pv = None
    if is_undefined_primal(padding_value):
        every = tuple(range(ndim))
        t_pv = sub(reduce_sum(ct, every), reduce_sum(t_x, every))
    return [t_x if is_undefined_primal(x) else None, t_pv]


impl_rules[pad_p] = _pad_impl
abstract_eval_rules[pad_p] = _pad_abstract
deflinear(pad_p, _pad_transpose)


def _pad_batch(args, dims, *, padding_config):
    (x, value), (xd, vd) = args, dims
    x = bdim_at_front(x, xd, axis_size(args, dims))
    config = ((0, 0, 0), *padding_config)
    if vd is not_mapped:
        return pad_p.bind(x, value, padding_config=config), 0
    # one padding value per example (JAX's rule): pad with zeros, then select the value
    # wherever the mask, padded with False, says padding
    aval = get_aval(x)
    padded = pad_p.bind(x, np.zeros((), aval.dtype), padding_config=config)
    mask = pad_p.bind(full(aval.shape, True, np.bool_), np.asarray(False),
                      padding_config=config)
    fill = broadcast_in_dim(value, get_aval(padded).shape, (0,))
    return select(mask, padded, fill), 0


batching_rules[pad_p] = _pad_batch


# ---------------------------------------------------------------------------
# slice

slice_p = Primitive("slice", impl_fallback=True)


def slice(operand, start_indices: Sequence[int], limit_indices: Sequence[int],  # noqa: A001
          strides: Sequence[int] | None = None):
    """``operand[start:limit:stride]`` on every axis, with static bounds (``lax.slice``).

    Example:
        >>> slice(np.arange(6, dtype=np.float32), (1,), (6,), (2,))
        array([1., 3., 5.], dtype=float32)
    """
    start = int_tuple(start_indices, "slice", "start_indices")
    limit = int_tuple(limit_indices, "slice", "limit_indices")
    strides = None if strides is None else int_tuple(strides, "slice", "strides")
    if strides is not None and all(s == 1 for s in strides):
        strides = None
    shape = get_aval(operand).shape
    if strides is None and len(start) == len(shape) and not any(start) and limit == shape:
        return operand
    return slice_p.bind(operand, start_indices=start, limit_indices=limit, strides=strides)


def _slice_impl(x, *, start_indices, limit_indices, strides):
    strides = strides or (1,) * x.ndim
    return x[tuple(builtins.slice(s, l, st)
                   for s, l, st in zip(start_indices, limit_indices, strides, strict=True))]


def _slice_abstract(x, *, start_indices, limit_indices, strides):
    strides = strides or (1,) * x.ndim
    if not len(start_indices) == len(limit_indices) == len(strides) == x.ndim:
        raise ShapeError(f"slice: start_indices {start_indices}, limit_indices {limit_indices} "
                         f"and strides {strides} must each have one entry per axis of the "
                         f"operand of shape {x.shape}")
    bad = [i for i, (s, l, n) in enumerate(zip(start_indices, limit_indices, x.shape,
                                               strict=True)) if not 0 <= s <= l <= n]
    if bad:
        raise ShapeError(f"slice: start_indices {start_indices} and limit_indices "
                         f"{limit_indices} are out of bounds for an operand of shape "
                         f"{x.shape} on axes {bad}; need 0 <= start <= limit <= size")
    if any(st < 1 for st in strides):
        raise ShapeError(f"slice: strides {strides} must all be >= 1")
    shape = [-(-(l - s) // st) for s, l, st in zip(start_indices, limit_indices, strides,
                                                  strict=True)]
    return ShapedArray(shape, x.dtype, x.weak_type)


def _slice_transpose(ct, x, *, start_indices, limit_indices, strides):
    shape = x.aval.shape
    strides = strides or (1,) * len(shape)
    ct_shape = get_aval(ct).shape
    # the last element actually taken, which may be before limit - 1 when strided
    ends = [s + (n - 1) * st + 1 if n else s
            for s, n, st in zip(start_indices, ct_shape, strides, strict=True)]
    config = [(s, size - e, st - 1)
              for s, e, size, st in zip(start_indices, ends, shape, strides, strict=True)]
    return [pad(ct, np.zeros((), get_aval(ct).dtype), config)]


impl_rules[slice_p] = _slice_impl
abstract_eval_rules[slice_p] = _slice_abstract
deflinear(slice_p, _slice_transpose)


def _slice_batch(args, dims, *, start_indices, limit_indices, strides):
    (x,), (d,) = args, dims

    def insert(t, v):
        return t[:d] + (v,) + t[d:]

    return slice_p.bind(x, start_indices=insert(start_indices, 0),
                        limit_indices=insert(limit_indices, get_aval(x).shape[d]),
                        strides=None if strides is None else insert(strides, 1)), d


batching_rules[slice_p] = _slice_batch


# ---------------------------------------------------------------------------
# rev

rev_p = Primitive("rev", impl_fallback=True)


def rev(operand, dimensions: Sequence[int]):
    """Reverses ``operand`` along ``dimensions`` (``lax.rev``).

    Example:
        >>> rev(np.array([1., 2., 3.], np.float32), (0,))
        array([3., 2., 1.], dtype=float32)
    """
    dims = int_tuple(dimensions, "rev", "dimensions")
    if not dims:
        return operand
    return rev_p.bind(operand, dimensions=dims)


def _rev_abstract(x, *, dimensions):
    if len(set(dimensions)) != len(dimensions) or not all(
            0 <= d < x.ndim for d in dimensions):
        raise ShapeError(f"rev: dimensions {dimensions} must be distinct axes in [0, {x.ndim}) "
                         f"for an operand of shape {x.shape}")
    return ShapedArray(x.shape, x.dtype, x.weak_type)


impl_rules[rev_p] = lambda x, *, dimensions: np.flip(x, dimensions)
abstract_eval_rules[rev_p] = _rev_abstract
deflinear(rev_p, lambda ct, x, *, dimensions: [rev(ct, dimensions)])
batching_rules[rev_p] = lambda args, dims, *, dimensions: (
    rev_p.bind(args[0], dimensions=shift_axes(dimensions, dims[0])), dims[0])
