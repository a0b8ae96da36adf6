"""Dynamic slicing primitives: dynamic_slice and dynamic_update_slice, slices whose
starts are traced integer scalars. They live together because each one's transpose
is the other. Out-of-range starts are clamped, as in ``jax.lax``; start operands get
no tangents and no cotangents.

Also here: ``gather_leading`` and ``scatter_add_leading``, leading-axes forms of
``gather``/``scatter_add`` written with the general primitives of
``gather_scatter.py``. Per-example starts under ``vmap`` batch into them, and NumPy
indexing uses them.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence

import numpy as np

from ..core.avals import ShapedArray, default_int_dtype, is_int, is_python_scalar
from ..core.trace import Primitive, Tracer, abstract_eval_rules, get_aval, impl_rules
from ..errors import DTypeError, ShapeError
from ..transforms.ad import (
    Zero,
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
    unbatched_shape,
)
from ._geometry import int_tuple
from .creation import broadcasted_iota, full
from .elementwise import add, lt, ne, select
from .elementwise import max as lax_max
from .elementwise import min as lax_min
from .gather_scatter import (
    GatherDimensionNumbers,
    GatherScatterMode,
    ScatterDimensionNumbers,
    gather,
    scatter_add,
)
from .shape_ops import broadcast_in_dim, convert_element_type, reshape
from .slicing import concatenate_p
from .slicing import slice as lax_slice

__all__ = [
    "dynamic_slice", "dynamic_slice_p", "dynamic_update_slice", "dynamic_update_slice_p",
    "gather_leading", "scatter_add_leading",
]


# ---------------------------------------------------------------------------
# dynamic_slice / dynamic_update_slice

def _start_operands(start_indices, op: str) -> list:
    """Scalar integer start operands: Python ints become arrays of the default int type;
    a 1-D array (or tracer) is split into its elements."""
    if isinstance(start_indices, Tracer | np.ndarray) and get_aval(start_indices).ndim == 1:
        n = get_aval(start_indices).shape[0]
        return [reshape(lax_slice(start_indices, (i,), (i + 1,)), ()) for i in range(n)]
    if not isinstance(start_indices, Sequence):
        raise ShapeError(f"{op}: start_indices must be a sequence of scalar integers or a 1-D "
                         f"integer array, got {type(start_indices).__name__}")
    return [np.asarray(i, default_int_dtype()) if isinstance(i, int | np.integer) else i
            for i in start_indices]


def _wrap_negative(starts, shape, allow) -> list:
    """JAX's ``allow_negative_indices``: a negative start counts from the end of its axis
    (``start + size``) before the clamping; ``allow`` is a bool or one bool per axis."""
    flags = [allow] * len(starts) if isinstance(allow, bool) else list(allow)
    if len(flags) != len(starts) or len(starts) != len(shape):
        return starts  # the abstract evaluation reports the mismatch
    out = []
    for s, n, wrap in zip(starts, shape, flags, strict=True):
        if not wrap:
            out.append(s)
        elif isinstance(s, Tracer):
            dt = get_aval(s).dtype
            zero, size = np.zeros((), dt), np.asarray(n, dt)
            out.append(select(lt(s, zero), add(s, size), s))
        else:
            v = np.asarray(s)
            out.append(np.asarray(v + n, v.dtype) if v.ndim == 0 and v < 0 else s)
    return out


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


def dynamic_slice(operand, start_indices, slice_sizes: Sequence[int], *,
                  allow_negative_indices: bool | Sequence[bool] = True):
    """A ``slice_sizes`` block of ``operand`` at traced ``start_indices`` (``lax.dynamic_slice``).

    As in JAX, a negative start counts from the end of its axis (unless
    ``allow_negative_indices=False``), then starts are clamped so the block lies inside
    ``operand``.

    Example:
        >>> dynamic_slice(np.arange(5, dtype=np.float32), [4], (2,))  # start clamped to 3
        array([3., 4.], dtype=float32)
    """
    starts = _start_operands(start_indices, "dynamic_slice")
    starts = _wrap_negative(starts, get_aval(operand).shape, allow_negative_indices)
    sizes = int_tuple(slice_sizes, "dynamic_slice", "slice_sizes")
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
    zeros = full(x.aval.shape, 0, x.aval.dtype)
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


def dynamic_update_slice(operand, update, start_indices, *,
                         allow_negative_indices: bool | Sequence[bool] = True):
    """``operand`` with the block at ``start_indices`` replaced by ``update``
    (``lax.dynamic_update_slice``); a negative start counts from the end of its axis (as
    JAX, unless ``allow_negative_indices=False``), then starts are clamped so ``update``
    fits.

    Example:
        >>> dynamic_update_slice(np.zeros(4, np.float32), np.ones(2, np.float32), [1])
        array([0., 1., 1., 0.], dtype=float32)
    """
    starts = _start_operands(start_indices, "dynamic_update_slice")
    starts = _wrap_negative(starts, get_aval(operand).shape, allow_negative_indices)
    if is_python_scalar(update):  # weakly typed: takes the operand's dtype
        update = np.asarray(update, get_aval(operand).dtype)
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
    update_aval = update.aval if is_undefined_primal(update) else get_aval(update)
    t_x = t_update = None
    if is_undefined_primal(x):
        t_x = dynamic_update_slice_p.bind(ct, full(update_aval.shape, 0, update_aval.dtype),
                                          *starts)
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
    # scatter_add gives a Python scalar ``updates`` the operand's dtype
    return scatter_add(operand, indices, updates, dn, mode=GatherScatterMode.CLIP)
