"""Smaller ``jax.lax`` names, composed from the primitives: stacking and tiling,
``select_n``, ``scatter_sub``/``scatter_apply``, ``reduce_xor``, ``associative_scan``,
bit helpers (``clz``, ``nextafter``), ``index_take``, ``optimization_barrier`` and JAX's
type aliases for dimension numbers.

Example:
    >>> associative_scan(add, np.arange(5, dtype=np.int32))
    array([ 0,  1,  3,  6, 10], dtype=int32)
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.avals import canonicalize_dtype, is_float, is_int
from ..core.trace import get_aval
from ..errors import DTypeError, ShapeError, no_sharding
from ..tree_util import tree_flatten, tree_unflatten
from .bits import bitcast_convert_type, population_count, shift_right_logical
from .convenience import slice_in_dim
from .creation import full, full_like
from .elementwise import (
    add,
    bitwise_or,
    bitwise_xor,
    eq,
    gt,
    lt,
    ne,
    neg,
    rem,
    select,
    sub,
)
from .gather_scatter import (
    GatherDimensionNumbers,
    ScatterDimensionNumbers,
    gather,
    scatter,
    scatter_add,
)
from .shape_ops import broadcast_in_dim, expand_dims, reshape
from .slicing import concatenate, rev

__all__ = [
    "ConvGeneralDilatedDimensionNumbers", "DotDimensionNumbers", "Precision", "PrecisionLike",
    "associative_scan", "broadcast_shapes", "broadcast_to_rank", "clz", "collapse", "dtype",
    "empty", "index_take", "nextafter", "optimization_barrier", "reduce_xor", "scatter_apply",
    "scatter_sub", "select_n", "stack", "tile", "unstack",
]

class Precision(enum.Enum):
    """``dot_general``/``conv`` precision hints (JAX's names; the CPU backends always compute
    at the operands' full precision, so every value gives the same result here)."""

    DEFAULT = 0
    HIGH = 1
    HIGHEST = 2


# JAX's type aliases (for annotations)
DotDimensionNumbers = tuple[tuple[Sequence[int], Sequence[int]],
                            tuple[Sequence[int], Sequence[int]]]
ConvGeneralDilatedDimensionNumbers = Any
PrecisionLike = Any


def _shape(x) -> tuple[int, ...]:
    return get_aval(x).shape


def dtype(x, *, canonicalize: bool = False):
    """The dtype of ``x`` (an array, scalar or tracer), canonical (32-bit unless x64) when
    asked.

    Example:
        >>> dtype(np.ones(2, np.float64), canonicalize=True)
        dtype('float32')
    """
    d = get_aval(x).dtype if hasattr(x, "aval") or not np.isscalar(x) else np.asarray(x).dtype
    return canonicalize_dtype(d) if canonicalize else np.dtype(d)


def broadcast_shapes(*shapes):
    """The NumPy broadcast of ``shapes`` (``lax.broadcast_shapes``).

    Example:
        >>> broadcast_shapes((2, 1), (3,))
        (2, 3)
    """
    try:
        return tuple(int(d) for d in np.broadcast_shapes(*shapes))
    except ValueError:
        raise ShapeError(f"lax.broadcast_shapes: incompatible shapes {shapes}") from None


def broadcast_to_rank(x, rank: int):
    """``x`` with leading size-1 axes added up to ``rank``.

    Example:
        >>> broadcast_to_rank(np.ones(3, np.float32), 3).shape
        (1, 1, 3)
    """
    nd = len(_shape(x))
    if rank < nd:
        raise ShapeError(f"lax.broadcast_to_rank: rank {rank} is below the operand's {nd}")
    return reshape(x, (1,) * (rank - nd) + _shape(x))


def empty(shape, dtype, *, out_sharding=None):
    """An array of ``shape`` and ``dtype`` whose values are unspecified (``jax.lax.empty``);
    functrace fills it with zeros. ``out_sharding`` must be None.

    Example:
        >>> empty((2,), np.float32).shape
        (2,)
    """
    no_sharding("lax.empty", out_sharding=out_sharding)
    shape = (shape,) if isinstance(shape, int | np.integer) else tuple(shape)
    return full(shape, 0, np.dtype(dtype))


def collapse(operand, start_dimension: int, stop_dimension: int | None = None):
    """``operand`` with dimensions ``[start, stop)`` merged into one.

    Example:
        >>> collapse(np.ones((2, 3, 4), np.float32), 1).shape
        (2, 12)
    """
    shape = _shape(operand)
    nd = len(shape)
    stop = nd if stop_dimension is None else stop_dimension
    start, stop = (start_dimension % nd if nd else 0), (stop % (nd + 1) if stop < 0 else stop)
    if not 0 <= start <= stop <= nd:
        raise ShapeError(f"lax.collapse: invalid dimensions [{start_dimension}, "
                         f"{stop_dimension}) for shape {shape}")
    merged = int(np.prod(shape[start:stop], dtype=np.int64))
    return reshape(operand, shape[:start] + (merged,) + shape[stop:])


def stack(operands, axis: int = 0):
    """The operands (same shape) stacked along a new ``axis``.

    Example:
        >>> stack([np.zeros(2, np.float32), np.ones(2, np.float32)], 1)
        array([[0., 1.],
               [0., 1.]], dtype=float32)
    """
    operands = list(operands)
    if not operands:
        raise ShapeError("lax.stack: pass at least one operand")
    nd = len(_shape(operands[0])) + 1
    axis = operator.index(axis)
    if not -nd <= axis < nd:
        raise ShapeError(f"lax.stack: axis {axis} is out of range for rank {nd}")
    axis %= nd
    return concatenate([expand_dims(x, (axis,)) for x in operands], axis)


def unstack(x, axis: int = 0):
    """The slices of ``x`` along ``axis``, as a tuple (``jax.lax.unstack``).

    Example:
        >>> [v.tolist() for v in unstack(np.arange(4, dtype=np.int32).reshape(2, 2))]
        [[0, 1], [2, 3]]
    """
    shape = _shape(x)
    axis = operator.index(axis) % len(shape)
    rest = shape[:axis] + shape[axis + 1:]
    return tuple(reshape(slice_in_dim(x, i, i + 1, axis=axis), rest)
                 for i in range(shape[axis]))


def tile(operand, reps: Sequence[int]):
    """``operand`` repeated ``reps[i]`` times along each axis (same length as its rank).

    Example:
        >>> tile(np.array([1, 2], np.int32), (2,))
        array([1, 2, 1, 2], dtype=int32)
    """
    shape = _shape(operand)
    reps = tuple(operator.index(r) for r in reps)
    if len(reps) != len(shape):
        raise ShapeError(f"lax.tile: reps {reps} must have one entry per dimension of {shape}")
    big = tuple(d for pair in zip(reps, shape, strict=True) for d in pair)
    dims = tuple(range(1, 2 * len(shape), 2))
    out = broadcast_in_dim(operand, big, dims)
    return reshape(out, tuple(r * s for r, s in zip(reps, shape, strict=True)))


def select_n(which, *cases):
    """Picks ``cases[which]`` elementwise (``which`` bool for two cases, else int32).

    Example:
        >>> select_n(np.array([0, 2, 1], np.int32), np.zeros(3, np.float32),
        ...          np.ones(3, np.float32), np.full(3, 2, np.float32))
        array([0., 2., 1.], dtype=float32)
    """
    if not cases:
        raise ShapeError("lax.select_n: pass at least one case")
    if len(cases) == 1:
        return cases[0]
    wdt = get_aval(which).dtype
    if wdt == np.bool_:
        if len(cases) != 2:
            raise DTypeError("lax.select_n: a boolean selector takes exactly two cases")
        return select(which, cases[1], cases[0])
    if not is_int(wdt):
        raise DTypeError(f"lax.select_n: which must be bool or integer, got {wdt}")
    out = cases[-1]
    for i in range(len(cases) - 2, -1, -1):
        pick = eq(which, np.asarray(i, wdt))
        if _shape(pick) != _shape(out):
            pick = broadcast_in_dim(pick, _shape(out), ())
        out = select(pick, cases[i], out)
    return out


def scatter_sub(operand, scatter_indices, updates, dimension_numbers, *,
                indices_are_sorted: bool = False, unique_indices: bool = False, mode=None):
    """``scatter_add`` of ``-updates``."""
    return scatter_add(operand, scatter_indices, neg(updates), dimension_numbers,
                       indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
                       mode=mode)


def scatter_apply(operand, scatter_indices, func, dimension_numbers, *, update_shape=(),
                  indices_are_sorted: bool = False, unique_indices: bool = False, mode=None):
    """``operand`` with ``func`` applied to the entries the scatter addresses (once each):
    the entries are gathered, transformed and scattered back.
    """
    dn = dimension_numbers
    slice_sizes = []
    pos = 0
    for i in range(len(_shape(operand))):
        if i in dn.inserted_window_dims or i in getattr(dn, "operand_batching_dims", ()):
            slice_sizes.append(1)
        else:
            slice_sizes.append(update_shape[dn.update_window_dims[pos]] if update_shape else 1)
            pos += 1
    gdn = GatherDimensionNumbers(offset_dims=dn.update_window_dims,
                                 collapsed_slice_dims=dn.inserted_window_dims,
                                 start_index_map=dn.scatter_dims_to_operand_dims)
    picked = gather(operand, scatter_indices, gdn, tuple(slice_sizes), mode=mode)
    return scatter(operand, scatter_indices, func(picked), ScatterDimensionNumbers(
        update_window_dims=dn.update_window_dims, inserted_window_dims=dn.inserted_window_dims,
        scatter_dims_to_operand_dims=dn.scatter_dims_to_operand_dims),
        indices_are_sorted=indices_are_sorted, unique_indices=unique_indices, mode=mode)


def reduce_xor(operand, axes: Sequence[int]):
    """Bitwise (integers) or logical (booleans) XOR over ``axes``.

    Example:
        >>> reduce_xor(np.array([1, 3, 4], np.int32), (0,))
        array(6, dtype=int32)
    """
    shape = _shape(operand)
    axes = sorted({operator.index(a) % len(shape) for a in axes})
    x = operand
    for a in reversed(axes):
        n = _shape(x)[a]
        rest = _shape(x)[:a] + _shape(x)[a + 1:]
        acc = full(rest, 0, get_aval(x).dtype)
        for i in range(n):
            acc = bitwise_xor(acc, reshape(slice_in_dim(x, i, i + 1, axis=a), rest))
        x = acc
    return x


def associative_scan(fn, elems, reverse: bool = False, axis: int = 0):
    """The inclusive prefix scan of ``elems`` (a pytree of arrays, same length along
    ``axis``) with the associative ``fn``, in ``log2(n)`` rounds of ``fn`` on shifted
    slices (so ``fn`` must work elementwise on arrays, as JAX requires).

    Example:
        >>> associative_scan(add, np.array([1., 2., 3.], np.float32), reverse=True)
        array([6., 5., 3.], dtype=float32)
    """
    leaves, tree = tree_flatten(elems)
    if not leaves:
        return elems
    nd = len(_shape(leaves[0]))
    axis = operator.index(axis) % nd
    n = _shape(leaves[0])[axis]
    if any(_shape(x)[axis] != n for x in leaves):
        raise ShapeError("lax.associative_scan: all elements must have the same length along "
                         f"axis {axis}")
    if reverse:
        leaves = [_rev(x, axis) for x in leaves]
    shift = 1
    while shift < n:
        head = [slice_in_dim(x, 0, shift, axis=axis) for x in leaves]
        prev = tree_unflatten(tree, [slice_in_dim(x, 0, n - shift, axis=axis) for x in leaves])
        cur = tree_unflatten(tree, [slice_in_dim(x, shift, n, axis=axis) for x in leaves])
        combined = tree_flatten(fn(prev, cur))[0]
        leaves = [concatenate([h, c], axis) for h, c in zip(head, combined, strict=True)]
        shift *= 2
    if reverse:
        leaves = [_rev(x, axis) for x in leaves]
    return tree_unflatten(tree, leaves)


def _rev(x, axis):
    return rev(x, (axis,))


def index_take(src, idxs, axes):
    """``src`` at the 1-D index arrays ``idxs`` (one per axis in ``axes``, taken modulo the
    axis size): the result's first dim runs over the indices, then ``src``'s other dims.

    Example:
        >>> index_take(np.arange(6, dtype=np.int32).reshape(2, 3),
        ...            (np.array([2, -1], np.int32),), (1,))
        array([[2, 5],
               [2, 5]], dtype=int32)
    """
    axes = tuple(operator.index(a) for a in axes)
    shape = _shape(src)
    if len(idxs) != len(axes):
        raise ShapeError(f"lax.index_take: {len(idxs)} index arrays for {len(axes)} axes")
    cols = []
    for i, ax in zip(idxs, axes, strict=True):
        i = rem_positive(i, shape[ax])
        cols.append(expand_dims(i, (1,)))
    indices = concatenate(cols, 1) if len(cols) > 1 else cols[0]
    slice_sizes = tuple(1 if d in axes else n for d, n in enumerate(shape))
    dn = GatherDimensionNumbers(offset_dims=tuple(range(1, len(shape) - len(axes) + 1)),
                                collapsed_slice_dims=axes, start_index_map=axes)
    return gather(src, indices, dn, slice_sizes)


def rem_positive(i, n: int):
    """``i mod n`` in ``[0, n)`` for signed integer ``i``."""
    dt = get_aval(i).dtype
    r = rem(i, np.asarray(n, dt))
    return select(lt(r, np.zeros((), dt)), add(r, np.asarray(n, dt)), r)


def optimization_barrier(operand):
    """The operand unchanged (an XLA scheduling hint in JAX; a no-op here)."""
    return operand


def clz(x):
    """The number of leading zero bits of each (integer) element.

    Example:
        >>> clz(np.array([1, 0, -1, 256], np.int32))
        array([31, 32,  0, 23], dtype=int32)
    """
    dt = get_aval(x).dtype
    if not is_int(dt):
        raise DTypeError(f"lax.clz requires integers, got {get_aval(x).str_short()}")
    bits = dt.itemsize * 8
    y = x
    shift = 1
    while shift < bits:  # smear the highest set bit into every lower position
        y = bitwise_or(y, shift_right_logical(y, full_like(y, shift)))
        shift *= 2
    return sub(full_like(x, bits), population_count(y))


def nextafter(x1, x2):
    """The next representable float after ``x1`` in the direction of ``x2``.

    Example:
        >>> nextafter(np.array([1.], np.float32), np.array([2.], np.float32)) - 1
        array([1.1920929e-07], dtype=float32)
    """
    dt = get_aval(x1).dtype
    if not is_float(dt) or get_aval(x2).dtype != dt:
        raise DTypeError(f"lax.nextafter requires two floats of one dtype, got "
                         f"{get_aval(x1).str_short()} and {get_aval(x2).str_short()}")
    s1, s2 = get_aval(x1).shape, get_aval(x2).shape
    if s1 != s2 and () in (s1, s2):  # a rank-0 operand broadcasts, as in JAX
        shape = s1 or s2
        x1, x2 = (v if get_aval(v).shape == shape else broadcast_in_dim(v, shape, ())
                  for v in (x1, x2))
    idt = np.dtype(f"i{dt.itemsize}")
    bits = bitcast_convert_type(x1, idt)
    one = full_like(bits, 1)
    # moving away from zero adds one to the magnitude bits, towards zero subtracts one
    away = eq(lt(x1, x2), gt(x1, full_like(x1, 0)))
    stepped = bitcast_convert_type(select(away, add(bits, one), sub(bits, one)), dt)
    tiny = bitcast_convert_type(full_like(bits, 1), dt)
    from_zero = select(lt(x2, x1), neg(tiny), tiny)
    out = select(eq(x1, full_like(x1, 0)), from_zero, stepped)
    out = select(eq(x1, x2), x2, out)
    nan = bitwise_or(ne(x1, x1), ne(x2, x2))
    return select(nan, full_like(x1, np.nan), out)

