"""Slicing primitives: concatenate, pad, slice, dynamic_slice, dynamic_update_slice and
rev, and leading-axes forms of gather/scatter_add (the general primitives live in
``gather_scatter.py``). They live together because each one's transpose is another
one of them.

Index operands (dynamic starts, gather indices) are integer arrays; they get no
tangents and no cotangents. Out-of-range indices are clamped, as in ``jax.lax``.
"""

from __future__ import annotations

import builtins
import operator
from collections.abc import Sequence

import numpy as np

from ..core.avals import ShapedArray, default_int_dtype, is_int, is_python_scalar
from ..core.trace import Primitive, Tracer, abstract_eval_rules, get_aval, impl_rules
from ..errors import DTypeError, ShapeError
from ..transforms.ad import (
    Zero,
    deflinear,
    instantiate_zeros,
    is_undefined_primal,
    jvp_rules,
    tangent_aval,
    transpose_rules,
)
from ..transforms.batching import (
    axis_size,
    batching_rules,
    bdim_at_front,
    moveaxis,
    not_mapped,
    shift_axes,
    unbatched_shape,
)
from .creation import broadcasted_iota, full
from .elementwise import add, ne, select, sub
from .elementwise import max as lax_max
from .elementwise import min as lax_min
from .gather_scatter import (
    GatherDimensionNumbers,
    GatherScatterMode,
    ScatterDimensionNumbers,
    gather,
    scatter_add,
)
from .shape_ops import broadcast_in_dim, convert_element_type, reduce_sum, reshape

__all__ = [
    "concatenate", "concatenate_p", "dynamic_slice", "dynamic_slice_p", "dynamic_update_slice",
    "dynamic_update_slice_p", "gather_leading", "pad", "pad_p", "rev", "rev_p",
    "scatter_add_leading", "slice", "slice_p",
]


def _aval(x) -> ShapedArray:
    """The aval of a primal, known or not (transpose rules receive both)."""
    return x.aval if is_undefined_primal(x) else get_aval(x)


def _ints(xs, op: str, what: str) -> tuple[int, ...]:
    try:  # operator.index: 2.5 or "2" is a mistake, not 2
        return tuple(operator.index(x) for x in xs)
    except TypeError:
        raise ShapeError(f"{op}: {what} must be a sequence of ints, got {xs!r}") from None


def _zeros(aval: ShapedArray):
    return full(aval.shape, 0, aval.dtype)


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
    config = tuple(_ints(c, "pad", "each padding_config entry") for c in padding_config)
    if all(c == (0, 0, 0) for c in config) and len(config) == get_aval(operand).ndim:
        return operand
    padding_value = _scalar_like(padding_value, get_aval(operand).dtype)
    return pad_p.bind(operand, padding_value, padding_config=config)


def _pad_impl(x, padding_value, *, padding_config):
    grown, place, crop = [], [], []
    for n, (lo, hi, interior) in zip(x.shape, padding_config, strict=True):
        lo_pos, hi_pos = builtins.max(lo, 0), builtins.max(hi, 0)
        core = n + builtins.max(n - 1, 0) * interior
        size = lo_pos + core + hi_pos
        grown.append(size)
        place.append(builtins.slice(lo_pos, lo_pos + core, interior + 1))
        crop.append(builtins.slice(builtins.max(-lo, 0), size - builtins.max(-hi, 0)))
    out = np.full(grown, padding_value, x.dtype)
    out[tuple(place)] = x
    return out[tuple(crop)]


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
    start = _ints(start_indices, "slice", "start_indices")
    limit = _ints(limit_indices, "slice", "limit_indices")
    strides = None if strides is None else _ints(strides, "slice", "strides")
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
# dynamic_slice / dynamic_update_slice

def _start_operands(start_indices, op: str) -> list:
    """Scalar integer start operands: Python ints become arrays of the default int type;
    a 1-D array (or tracer) is split into its elements."""
    if isinstance(start_indices, Tracer | np.ndarray) and get_aval(start_indices).ndim == 1:
        n = get_aval(start_indices).shape[0]
        return [reshape(slice(start_indices, (i,), (i + 1,)), ()) for i in range(n)]
    if not isinstance(start_indices, Sequence):
        raise ShapeError(f"{op}: start_indices must be a sequence of scalar integers or a 1-D "
                         f"integer array, got {type(start_indices).__name__}")
    return [np.asarray(i, default_int_dtype()) if isinstance(i, int | np.integer) else i
            for i in start_indices]


def _check_starts(op: str, operand: ShapedArray, starts) -> None:
    if len(starts) != operand.ndim:
        raise ShapeError(f"{op}: got {len(starts)} start indices for an operand of shape "
                         f"{operand.shape}; pass one per axis")
    for s in starts:
        if s.shape != () or not is_int(s.dtype):
            raise DTypeError(f"{op}: start indices must be scalar integers, got "
                             f"{s.str_short()}; cast with lax.convert_element_type")


def _clamped_starts(starts, shape, sizes) -> tuple:
    return tuple(int(np.clip(int(s), 0, n - k)) for s, n, k in zip(starts, shape, sizes,
                                                                    strict=True))


dynamic_slice_p = Primitive("dynamic_slice", impl_fallback=True)


def dynamic_slice(operand, start_indices, slice_sizes: Sequence[int]):
    """A ``slice_sizes`` block of ``operand`` at traced ``start_indices`` (``lax.dynamic_slice``).

    Starts are clamped so the block lies inside ``operand``, as in JAX.

    Example:
        >>> dynamic_slice(np.arange(5, dtype=np.float32), [4], (2,))  # start clamped to 3
        array([3., 4.], dtype=float32)
    """
    starts = _start_operands(start_indices, "dynamic_slice")
    sizes = _ints(slice_sizes, "dynamic_slice", "slice_sizes")
    return dynamic_slice_p.bind(operand, *starts, slice_sizes=sizes)


def _dynamic_slice_impl(x, *starts, slice_sizes):
    starts = _clamped_starts(starts, x.shape, slice_sizes)
    return x[tuple(builtins.slice(s, s + k) for s, k in zip(starts, slice_sizes, strict=True))]


def _dynamic_slice_abstract(x, *starts, slice_sizes):
    _check_starts("dynamic_slice", x, starts)
    if len(slice_sizes) != x.ndim or not all(
            0 <= k <= n for k, n in zip(slice_sizes, x.shape, strict=True)):
        raise ShapeError(f"dynamic_slice: slice_sizes {slice_sizes} must have one entry per "
                         f"axis of the operand of shape {x.shape}, each between 0 and the "
                         "axis size")
    return ShapedArray(slice_sizes, x.dtype, x.weak_type)


def _dynamic_slice_jvp(primals, tangents, *, slice_sizes):
    x, *starts = primals
    out = dynamic_slice_p.bind(x, *starts, slice_sizes=slice_sizes)
    if isinstance(tangents[0], Zero):
        return out, Zero(tangent_aval(get_aval(out)))
    return out, dynamic_slice_p.bind(tangents[0], *starts, slice_sizes=slice_sizes)


def _dynamic_slice_transpose(ct, x, *starts, slice_sizes):
    zeros = _zeros(x.aval)
    return [dynamic_update_slice_p.bind(zeros, ct, *starts)] + [None] * len(starts)


impl_rules[dynamic_slice_p] = _dynamic_slice_impl
abstract_eval_rules[dynamic_slice_p] = _dynamic_slice_abstract
jvp_rules[dynamic_slice_p] = _dynamic_slice_jvp
transpose_rules[dynamic_slice_p] = _dynamic_slice_transpose


def _with_batch_index(indices):
    """Indices batched at 0, with the example number prepended to each index vector."""
    aval = get_aval(indices)
    if aval.dtype.itemsize < 4:  # the example number may not fit in a narrow dtype
        indices = convert_element_type(indices, np.int32)
        aval = get_aval(indices)
    coord = broadcasted_iota(aval.dtype, (*aval.shape[:-1], 1), 0)
    return concatenate_p.bind(coord, indices, dimension=aval.ndim - 1)


def _block_indices(starts, start_dims, shape, sizes, size):
    """The index of every element of a ``sizes`` block at per-example (clamped) starts:
    int32 of shape ``(batch, *sizes, len(shape))``, the example number not included."""
    full_shape = (size, *sizes)
    cols = []
    for axis, (s, d, n, k) in enumerate(zip(starts, start_dims, shape, sizes, strict=True)):
        dtype = get_aval(s).dtype
        s = lax_max(lax_min(s, np.asarray(n - k, dtype)), np.asarray(0, dtype))
        s = convert_element_type(s, np.int32)
        s = broadcast_in_dim(s, full_shape, () if d is not_mapped else (0,))
        col = add(s, broadcasted_iota(np.int32, full_shape, axis + 1))
        cols.append(broadcast_in_dim(col, (*full_shape, 1), tuple(range(len(full_shape)))))
    if not cols:
        return full((*full_shape, 0), 0, np.int32)
    return concatenate_p.bind(*cols, dimension=len(full_shape)) if len(cols) > 1 else cols[0]


def _dynamic_slice_batch(args, dims, *, slice_sizes):
    (x, *starts), (xd, *start_dims) = args, dims
    size = axis_size(args, dims)
    if all(d is not_mapped for d in start_dims):
        zero = np.zeros((), default_int_dtype())
        starts = [*starts[:xd], zero, *starts[xd:]]
        sizes = (*slice_sizes[:xd], size, *slice_sizes[xd:])
        return dynamic_slice_p.bind(x, *starts, slice_sizes=sizes), xd
    # per-example starts: gather every element of the block
    shape = unbatched_shape(x, xd)
    indices = _block_indices(starts, start_dims, shape, slice_sizes, size)
    if xd is not_mapped:
        return gather_leading(x, indices), 0
    return gather_leading(moveaxis(x, xd, 0), _with_batch_index(indices)), 0


batching_rules[dynamic_slice_p] = _dynamic_slice_batch

dynamic_update_slice_p = Primitive("dynamic_update_slice", impl_fallback=True)


def dynamic_update_slice(operand, update, start_indices):
    """``operand`` with the block at ``start_indices`` replaced by ``update``
    (``lax.dynamic_update_slice``); starts are clamped so ``update`` fits.

    Example:
        >>> dynamic_update_slice(np.zeros(4, np.float32), np.ones(2, np.float32), [1])
        array([0., 1., 1., 0.], dtype=float32)
    """
    starts = _start_operands(start_indices, "dynamic_update_slice")
    update = _scalar_like(update, get_aval(operand).dtype)
    return dynamic_update_slice_p.bind(operand, update, *starts)


def _dynamic_update_slice_impl(x, update, *starts):
    starts = _clamped_starts(starts, x.shape, update.shape)
    out = x.copy()
    out[tuple(builtins.slice(s, s + k) for s, k in zip(starts, update.shape, strict=True))] = (
        update)
    return out


def _dynamic_update_slice_abstract(x, update, *starts):
    _check_starts("dynamic_update_slice", x, starts)
    if update.dtype != x.dtype:
        raise DTypeError(f"dynamic_update_slice: update {update.str_short()} and operand "
                         f"{x.str_short()} must have the same dtype")
    if update.ndim != x.ndim or not all(
            k <= n for k, n in zip(update.shape, x.shape, strict=True)):
        raise ShapeError(f"dynamic_update_slice: update of shape {update.shape} does not fit "
                         f"in the operand of shape {x.shape}; it needs the same rank and no "
                         "larger a size on any axis")
    return ShapedArray(x.shape, x.dtype, x.weak_type)


def _dynamic_update_slice_jvp(primals, tangents):
    x, update, *starts = primals
    out = dynamic_update_slice_p.bind(x, update, *starts)
    t_x, t_update = tangents[:2]
    if isinstance(t_x, Zero) and isinstance(t_update, Zero):
        return out, Zero(tangent_aval(get_aval(out)))
    return out, dynamic_update_slice_p.bind(instantiate_zeros(t_x), instantiate_zeros(t_update),
                                            *starts)


def _dynamic_update_slice_transpose(ct, x, update, *starts):
    update_aval = _aval(update)
    t_x = t_update = None
    if is_undefined_primal(x):
        t_x = dynamic_update_slice_p.bind(ct, _zeros(update_aval), *starts)
    if is_undefined_primal(update):
        t_update = dynamic_slice_p.bind(ct, *starts, slice_sizes=update_aval.shape)
    return [t_x, t_update] + [None] * len(starts)


impl_rules[dynamic_update_slice_p] = _dynamic_update_slice_impl
abstract_eval_rules[dynamic_update_slice_p] = _dynamic_update_slice_abstract
jvp_rules[dynamic_update_slice_p] = _dynamic_update_slice_jvp
transpose_rules[dynamic_update_slice_p] = _dynamic_update_slice_transpose


def _dynamic_update_slice_batch(args, dims):
    (x, update, *starts), (xd, ud, *start_dims) = args, dims
    size = axis_size(args, dims)
    x, update = bdim_at_front(x, xd, size), bdim_at_front(update, ud, size)
    if all(d is not_mapped for d in start_dims):
        zero = np.zeros((), default_int_dtype())
        return dynamic_update_slice_p.bind(x, update, zero, *starts), 0
    # per-example starts: scatter the update into zeros and select it where it landed
    # (within one example the block's positions are distinct, so nothing accumulates)
    u_shape = unbatched_shape(update, 0)
    indices = _with_batch_index(_block_indices(starts, start_dims, unbatched_shape(x, 0),
                                               u_shape, size))
    aval = get_aval(x)
    placed = scatter_add_leading(full(aval.shape, 0, aval.dtype), indices, update)
    hits = scatter_add_leading(full(aval.shape, 0, np.int32), indices,
                              full((size, *u_shape), 1, np.int32))
    return select(ne(hits, np.asarray(0, np.int32)), placed, x), 0


batching_rules[dynamic_update_slice_p] = _dynamic_update_slice_batch


# ---------------------------------------------------------------------------
# rev

rev_p = Primitive("rev", impl_fallback=True)


def rev(operand, dimensions: Sequence[int]):
    """Reverses ``operand`` along ``dimensions`` (``lax.rev``).

    Example:
        >>> rev(np.array([1., 2., 3.], np.float32), (0,))
        array([3., 2., 1.], dtype=float32)
    """
    dims = _ints(dimensions, "rev", "dimensions")
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


# ---------------------------------------------------------------------------
# gather / scatter_add on leading axes: the small forms NumPy indexing and the
# batching rules above use, written with the general primitives of gather_scatter.py


def _leading_dnums(op: str, x: ShapedArray, indices: ShapedArray):
    if indices.ndim < 1 or indices.shape[-1] > x.ndim:
        raise ShapeError(f"{op}: indices of shape {indices.shape} must have a last axis of "
                         f"length k <= {x.ndim} (the rank of the operand of shape {x.shape}); "
                         "it indexes the first k axes")
    k, nb = indices.shape[-1], indices.ndim - 1
    return k, tuple(range(nb, nb + x.ndim - k)), tuple(range(k))


def gather_leading(operand, indices):
    """Gathers slices of ``operand`` along its first ``k`` axes.

    A small form of ``lax.gather``: ``indices`` is an integer array of shape
    ``batch + (k,)`` and ``out[b] = operand[tuple(indices[b])]``, so the result has
    shape ``batch + operand.shape[k:]``. Out-of-range indices are clamped into
    range (``mode='clip'``); negative indices are clamped to 0 too, so callers that
    want Python's wrap-around must normalise them first.

    Args:
        operand: the array to read.
        indices: integer array of shape ``batch + (k,)``, ``k <= operand.ndim``.
    Returns:
        An array of shape ``batch + operand.shape[k:]``.

    Example:
        >>> x = np.arange(6, dtype=np.float32).reshape(3, 2)
        >>> gather_leading(x, np.array([[2], [0]]))
        array([[4., 5.],
               [0., 1.]], dtype=float32)
    """
    x = get_aval(operand)
    k, window, leading = _leading_dnums("gather", x, get_aval(indices))
    dn = GatherDimensionNumbers(offset_dims=window, collapsed_slice_dims=leading,
                                start_index_map=leading)
    return gather(operand, indices, dn, (1,) * k + x.shape[k:], mode=GatherScatterMode.CLIP)


def scatter_add_leading(operand, indices, updates):
    """Adds ``updates`` into ``operand`` at leading-axes ``indices``; the transpose
    of ``gather_leading`` (a small form of ``lax.scatter_add``).

    ``out[tuple(indices[b])] += updates[b]`` for every batch position ``b``;
    duplicate indices accumulate. Indices are clamped as in ``gather_leading``.

    Args:
        operand: the array added into; ``updates`` must have its dtype.
        indices: integer array of shape ``batch + (k,)``.
        updates: array of shape ``batch + operand.shape[k:]``.
    Returns:
        An array like ``operand``.

    Example:
        >>> scatter_add_leading(np.zeros(3, np.float32), np.array([[1], [1]]),
        ...                     np.array([1., 2.], np.float32))
        array([0., 3., 0.], dtype=float32)
    """
    x, i_aval = get_aval(operand), get_aval(indices)
    k, window, leading = _leading_dnums("scatter_add", x, i_aval)
    expected = i_aval.shape[:-1] + x.shape[k:]
    if get_aval(updates).shape != expected:
        raise ShapeError(f"scatter_add: updates have shape {get_aval(updates).shape} but "
                         f"indices of shape {i_aval.shape} into an operand of shape {x.shape} "
                         f"need {expected} (batch + operand.shape[k:])")
    dn = ScatterDimensionNumbers(update_window_dims=window, inserted_window_dims=leading,
                                 scatter_dims_to_operand_dims=leading)
    return scatter_add(operand, indices, _scalar_like(updates, get_aval(operand).dtype), dn,
                       mode=GatherScatterMode.CLIP)
