"""XLA-style ``gather`` and the ``scatter`` family, with JAX's signatures and semantics.

``gather`` reads one window of ``operand`` per index vector of ``start_indices``;
``scatter``/``scatter_add``/``scatter_mul``/``scatter_min``/``scatter_max`` combine
one window of ``updates`` per index vector into ``operand``. The index vector is
always the last axis of the indices (JAX's implicit ``index_vector_dim``).
``GatherDimensionNumbers``/``ScatterDimensionNumbers`` say how the axes relate,
including JAX's ``operand_batching_dims``, which the batching rules use.

Out-of-bounds windows follow ``GatherScatterMode``: ``CLIP`` clamps the start so
the whole window is in bounds; ``FILL_OR_DROP`` fills a gathered window with
``fill_value`` and drops a scattered one; ``PROMISE_IN_BOUNDS`` (``lax.gather``'s
default) clamps gathers and drops scatters, as XLA does in practice. The scatters'
default (``mode=None``) is ``FILL_OR_DROP``, as in JAX.

The reference impls turn every window element into a flat operand position and
use NumPy's fancy indexing (gather) or ``ufunc.at`` (scatter: duplicate positions
accumulate; for ``scatter`` the last update in index order wins, and the JVP
rules rely on that order being the same for every call).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from functools import partial
from typing import NamedTuple

import numpy as np

from ..core.avals import ShapedArray, is_int, is_python_scalar
from ..core.trace import Primitive, abstract_eval_rules, concrete_or_none, get_aval, impl_rules
from ..errors import DTypeError, MissingRuleError, ShapeError
from ..transforms.ad import (
    Zero,
    add_tangents,
    instantiate_zeros,
    is_undefined_primal,
    jvp_rules,
    tangent_aval,
    transpose_rules,
)
from ..transforms.batching import axis_size, batching_rules, bdim_at_front, moveaxis, not_mapped
from .creation import broadcasted_iota, full
from .elementwise import add, div, eq, mul, select
from .shape_ops import convert_element_type

__all__ = [
    "GatherDimensionNumbers", "GatherScatterMode", "ScatterDimensionNumbers", "gather",
    "gather_p", "scatter", "scatter_add", "scatter_add_p", "scatter_max", "scatter_max_p",
    "scatter_min", "scatter_min_p", "scatter_mul", "scatter_mul_p", "scatter_p",
]


class GatherScatterMode(enum.Enum):
    """How gathers and scatters treat windows that are not wholly inside the operand.

    ``CLIP`` clamps the window start into range; ``FILL_OR_DROP`` fills gathered
    windows with ``fill_value`` and drops scattered ones; ``PROMISE_IN_BOUNDS`` is
    the caller's promise that indices are in bounds (gathers clamp, scatters drop,
    and gradients are wrong for out-of-bounds indices, as in JAX). ``ONE_HOT`` is
    JAX's name for an XLA-only lowering and is not supported.
    """

    CLIP = enum.auto()
    FILL_OR_DROP = enum.auto()
    PROMISE_IN_BOUNDS = enum.auto()
    ONE_HOT = enum.auto()

    def __str__(self) -> str:
        return f"GatherScatterMode.{self.name}"

    @staticmethod
    def from_any(s) -> GatherScatterMode:
        """The mode for ``s``: a mode, ``'clip'``, ``'fill'``/``'drop'``/``None``
        (``FILL_OR_DROP``), ``'promise_in_bounds'`` or ``'one_hot'``."""
        if isinstance(s, GatherScatterMode):
            return s
        named = {"clip": GatherScatterMode.CLIP, "fill": GatherScatterMode.FILL_OR_DROP,
                 "drop": GatherScatterMode.FILL_OR_DROP, None: GatherScatterMode.FILL_OR_DROP,
                 "promise_in_bounds": GatherScatterMode.PROMISE_IN_BOUNDS,
                 "one_hot": GatherScatterMode.ONE_HOT}
        if isinstance(s, str | None) and s in named:
            return named[s]
        raise ShapeError(f'Unknown gather mode "{s}": use "clip", "fill", "drop", '
                         '"promise_in_bounds" or a lax.GatherScatterMode')


class GatherDimensionNumbers(NamedTuple):
    """How the axes of ``operand``, ``start_indices`` and the output of ``gather`` relate.

    ``offset_dims``: output axes that hold window axes (ascending);
    ``collapsed_slice_dims``: operand axes of window size 1 dropped from the output;
    ``start_index_map``: the operand axis each entry of an index vector starts;
    ``operand_batching_dims``/``start_indices_batching_dims``: operand axes that
    are indexed by the position along the paired indices axis (size-1 windows).
    """

    offset_dims: tuple[int, ...]
    collapsed_slice_dims: tuple[int, ...]
    start_index_map: tuple[int, ...]
    operand_batching_dims: tuple[int, ...] = ()
    start_indices_batching_dims: tuple[int, ...] = ()


class ScatterDimensionNumbers(NamedTuple):
    """How the axes of ``operand``, ``scatter_indices`` and ``updates`` relate.

    ``update_window_dims``: axes of ``updates`` that are window axes (ascending);
    ``inserted_window_dims``: operand axes of window size 1 absent from ``updates``;
    ``scatter_dims_to_operand_dims``: the operand axis each index vector entry starts;
    ``operand_batching_dims``/``scatter_indices_batching_dims``: as in gather.
    """

    update_window_dims: tuple[int, ...]
    inserted_window_dims: tuple[int, ...]
    scatter_dims_to_operand_dims: tuple[int, ...]
    operand_batching_dims: tuple[int, ...] = ()
    scatter_indices_batching_dims: tuple[int, ...] = ()


def _tuples(dnums, cls):
    try:
        return cls(*(tuple(int(d) for d in f) for f in dnums))
    except TypeError:
        raise ShapeError(f"dimension_numbers must be a lax.{cls.__name__}, got "
                         f"{dnums!r}") from None


def _default_fill(dtype: np.dtype):
    """JAX's fill value for out-of-bounds gathers: NaN, the most negative or the
    largest integer, or True."""
    if np.issubdtype(dtype, np.inexact):
        return float("nan")
    if np.issubdtype(dtype, np.signedinteger):
        return int(np.iinfo(dtype).min)
    if np.issubdtype(dtype, np.unsignedinteger):
        return int(np.iinfo(dtype).max)
    return True


# ---------------------------------------------------------------------------
# the shared index computation (reference impls)

def _window_positions(shape, indices, start_map, batch_pairs, sizes, window_dims, clamp):
    """Flat operand positions of every window element, shape ``batch + window``, and a
    mask over ``batch`` of windows wholly in bounds (all True when clamping)."""
    batch = indices.shape[:-1]
    nb, nw = len(batch), len(window_dims)
    ok = np.ones(batch, bool)
    flat = np.zeros(batch + (1,) * nw, np.int64)
    stride = 1
    for d in reversed(range(len(shape))):
        n, k = shape[d], sizes[d]
        if d in start_map:
            s = indices[..., start_map.index(d)].astype(np.int64)
            if clamp:
                s = np.clip(s, 0, n - k)
            else:
                ok &= (s >= 0) & (s <= n - k)
        elif d in batch_pairs:
            axis = batch_pairs[d]
            s = np.arange(batch[axis]).reshape([-1 if a == axis else 1 for a in range(nb)])
        else:
            s = np.zeros((), np.int64)
        pos = np.reshape(s, np.shape(s) + (1,) * nw)
        if d in window_dims:
            w = window_dims.index(d)
            pos = pos + np.arange(k).reshape((1,) * nb + tuple(-1 if j == w else 1
                                                               for j in range(nw)))
        flat = flat + pos * stride
        stride *= n
    full_shape = batch + tuple(sizes[d] for d in window_dims)
    flat = np.broadcast_to(flat, full_shape)
    if not clamp:
        flat = np.where(ok.reshape(batch + (1,) * nw), flat, 0)
    return flat, ok


def _canonical_perm(out_rank: int, window_axes: Sequence[int]) -> list[int]:
    """Axis order that takes the ``batch + window`` layout to the one where the window
    axes sit at ``window_axes`` and the batch axes fill the rest, in order."""
    nw = len(window_axes)
    nb = out_rank - nw
    perm, b = [], 0
    for o in range(out_rank):
        if o in window_axes:
            perm.append(nb + window_axes.index(o))
        else:
            perm.append(b)
            b += 1
    return perm


def _gather_impl(x, indices, *, dimension_numbers, slice_sizes, mode, fill_value,
                 unique_indices, indices_are_sorted):
    dn = dimension_numbers
    window_dims = [d for d in range(x.ndim) if d not in dn.collapsed_slice_dims
                   and d not in dn.operand_batching_dims]
    out_rank = indices.ndim - 1 + len(window_dims)
    perm = _canonical_perm(out_rank, dn.offset_dims)
    batch = indices.shape[:-1]
    canon_shape = batch + tuple(slice_sizes[d] for d in window_dims)
    if 0 in canon_shape:
        return np.zeros([canon_shape[p] for p in perm], x.dtype)
    clamp = mode is not GatherScatterMode.FILL_OR_DROP
    pairs = dict(zip(dn.operand_batching_dims, dn.start_indices_batching_dims, strict=True))
    flat, ok = _window_positions(x.shape, indices, dn.start_index_map, pairs, slice_sizes,
                                 window_dims, clamp)
    out = np.ascontiguousarray(x).reshape(-1)[flat]
    if not clamp and not ok.all():
        fill = np.asarray(fill_value).astype(x.dtype)
        out = np.where(ok.reshape(batch + (1,) * len(window_dims)), out, fill)
    return np.transpose(out, perm)


def _scatter_positions(x_shape, indices, updates, dn, mode):
    """(flat positions, updates) of the in-bounds window elements, in index order."""
    window_dims = [d for d in range(len(x_shape)) if d not in dn.inserted_window_dims
                   and d not in dn.operand_batching_dims]
    scatter_axes = [a for a in range(updates.ndim) if a not in dn.update_window_dims]
    upd = np.transpose(updates, scatter_axes + list(dn.update_window_dims))
    sizes = [1] * len(x_shape)
    for d, a in zip(window_dims, dn.update_window_dims, strict=True):
        sizes[d] = updates.shape[a]
    clamp = mode is GatherScatterMode.CLIP
    pairs = dict(zip(dn.operand_batching_dims, dn.scatter_indices_batching_dims, strict=True))
    flat, ok = _window_positions(x_shape, indices, dn.scatter_dims_to_operand_dims, pairs,
                                 sizes, window_dims, clamp)
    if clamp or ok.all():
        return flat.reshape(-1), upd.reshape(-1)
    keep = np.broadcast_to(ok.reshape(ok.shape + (1,) * len(window_dims)), flat.shape)
    return flat[keep], upd[keep]


_UFUNCS = {"scatter-add": np.add, "scatter-mul": np.multiply, "scatter-min": np.minimum,
           "scatter-max": np.maximum}


def _scatter_impl(name, x, indices, updates, *, dimension_numbers, mode, unique_indices,
                  indices_are_sorted):
    out = np.array(x, order="C", copy=True)  # C order so the flat view below writes into it
    if out.size == 0 or updates.size == 0:
        return out
    flat, vals = _scatter_positions(x.shape, indices, updates, dimension_numbers, mode)
    dest = out.reshape(-1)
    if name == "scatter":
        dest[flat] = vals  # NumPy assigns in order: the last duplicate wins
    else:
        _UFUNCS[name].at(dest, flat, vals)
    return out


# ---------------------------------------------------------------------------
# shape rules

def _check_sorted(op: str, what: str, dims, bound: int) -> None:
    if list(dims) != sorted(set(dims)) or any(not 0 <= d < bound for d in dims):
        raise ShapeError(f"{op}: {what} {tuple(dims)} must be distinct axes in [0, {bound}), "
                         "in ascending order")


def _check_indices(op: str, indices: ShapedArray) -> None:
    if not is_int(indices.dtype):
        raise DTypeError(f"{op}: indices must be integers, got {indices.str_short()}")
    if indices.ndim < 1:
        raise ShapeError(f"{op}: indices must have at least one axis (the last is the index "
                         f"vector; add a trailing axis of size 1 for scalar indices), got "
                         f"{indices.str_short()}")


def _check_batching(op, operand, indices, op_dims, idx_dims, idx_name) -> None:
    _check_sorted(op, "operand_batching_dims", op_dims, operand.ndim)
    if len(idx_dims) != len(op_dims) or len(set(idx_dims)) != len(idx_dims) or any(
            not 0 <= d < indices.ndim - 1 for d in idx_dims):
        raise ShapeError(f"{op}: {idx_name} {tuple(idx_dims)} must be distinct axes of the "
                         f"indices (not the last one), one per operand batching dim "
                         f"{tuple(op_dims)}")
    for od, id_ in zip(op_dims, idx_dims, strict=True):
        if operand.shape[od] != indices.shape[id_]:
            raise ShapeError(f"{op}: operand batching axis {od} (size {operand.shape[od]}) "
                             f"and indices axis {id_} (size {indices.shape[id_]}) must have "
                             "the same size")


def _gather_abstract(x, indices, *, dimension_numbers, slice_sizes, mode, fill_value,
                     unique_indices, indices_are_sorted):
    dn, op = dimension_numbers, "gather"
    _check_indices(op, indices)
    if mode is GatherScatterMode.ONE_HOT:
        raise ShapeError("gather: mode ONE_HOT is not supported; use 'clip' or 'fill'")
    if len(slice_sizes) != x.ndim or any(not 0 <= k <= n for k, n in zip(
            slice_sizes, x.shape, strict=True)):
        raise ShapeError(f"gather: slice_sizes {slice_sizes} must have one entry per axis of "
                         f"the operand of shape {x.shape}, each between 0 and the axis size")
    _check_sorted(op, "collapsed_slice_dims", dn.collapsed_slice_dims, x.ndim)
    _check_batching(op, x, indices, dn.operand_batching_dims, dn.start_indices_batching_dims,
                    "start_indices_batching_dims")
    for what, dims in (("collapsed_slice_dims", dn.collapsed_slice_dims),
                       ("operand_batching_dims", dn.operand_batching_dims)):
        if any(slice_sizes[d] != 1 for d in dims):
            raise ShapeError(f"gather: slice_sizes {slice_sizes} must be 1 on the {what} "
                             f"{dims}")
    if set(dn.collapsed_slice_dims) & set(dn.operand_batching_dims):
        raise ShapeError("gather: collapsed_slice_dims and operand_batching_dims overlap")
    if indices.shape[-1] != len(dn.start_index_map):
        raise ShapeError(f"gather: the index vectors have length {indices.shape[-1]} but "
                         f"start_index_map {dn.start_index_map} has {len(dn.start_index_map)} "
                         "entries")
    if len(set(dn.start_index_map)) != len(dn.start_index_map) or any(
            not 0 <= d < x.ndim or d in dn.operand_batching_dims for d in dn.start_index_map):
        raise ShapeError(f"gather: start_index_map {dn.start_index_map} must be distinct axes "
                         f"of the operand of shape {x.shape}, none of them a batching dim")
    window = [slice_sizes[d] for d in range(x.ndim) if d not in dn.collapsed_slice_dims
              and d not in dn.operand_batching_dims]
    out_rank = indices.ndim - 1 + len(window)
    _check_sorted(op, "offset_dims", dn.offset_dims, out_rank)
    if len(dn.offset_dims) != len(window):
        raise ShapeError(f"gather: offset_dims {dn.offset_dims} must have one entry per "
                         f"operand axis that is neither collapsed nor batched ({len(window)})")
    perm = _canonical_perm(out_rank, dn.offset_dims)
    canon = indices.shape[:-1] + tuple(window)
    return ShapedArray(tuple(canon[p] for p in perm), x.dtype, x.weak_type)


def _scatter_abstract(name, x, indices, updates, *, dimension_numbers, mode, unique_indices,
                      indices_are_sorted):
    dn = dimension_numbers
    _check_indices(name, indices)
    if mode is GatherScatterMode.ONE_HOT:
        raise ShapeError(f"{name}: mode ONE_HOT is not supported; use 'clip' or 'drop'")
    if updates.dtype != x.dtype:
        raise DTypeError(f"{name}: updates {updates.str_short()} and operand {x.str_short()} "
                         "must have the same dtype; cast the updates first")
    _check_sorted(name, "update_window_dims", dn.update_window_dims, updates.ndim)
    _check_sorted(name, "inserted_window_dims", dn.inserted_window_dims, x.ndim)
    _check_batching(name, x, indices, dn.operand_batching_dims,
                    dn.scatter_indices_batching_dims, "scatter_indices_batching_dims")
    window_dims = [d for d in range(x.ndim) if d not in dn.inserted_window_dims
                   and d not in dn.operand_batching_dims]
    if (len(window_dims) != len(dn.update_window_dims)
            or set(dn.inserted_window_dims) & set(dn.operand_batching_dims)):
        raise ShapeError(f"{name}: update_window_dims {dn.update_window_dims}, "
                         f"inserted_window_dims {dn.inserted_window_dims} and "
                         f"operand_batching_dims {dn.operand_batching_dims} must together "
                         f"account for each of the {x.ndim} operand axes once")
    if indices.shape[-1] != len(dn.scatter_dims_to_operand_dims) or len(
            set(dn.scatter_dims_to_operand_dims)) != indices.shape[-1] or any(
            not 0 <= d < x.ndim or d in dn.operand_batching_dims
            for d in dn.scatter_dims_to_operand_dims):
        raise ShapeError(f"{name}: scatter_dims_to_operand_dims "
                         f"{dn.scatter_dims_to_operand_dims} must be distinct operand axes "
                         f"(not batching dims), one per entry of the index vectors "
                         f"({indices.shape[-1]})")
    scatter_axes = [a for a in range(updates.ndim) if a not in dn.update_window_dims]
    if tuple(updates.shape[a] for a in scatter_axes) != indices.shape[:-1]:
        raise ShapeError(f"{name}: the scatter axes of updates of shape {updates.shape} must "
                         f"match the indices' batch shape {indices.shape[:-1]}")
    for d, a in zip(window_dims, dn.update_window_dims, strict=True):
        if updates.shape[a] > x.shape[d]:
            raise ShapeError(f"{name}: update window axis {a} (size {updates.shape[a]}) is "
                             f"larger than operand axis {d} (size {x.shape[d]})")
    return ShapedArray(x.shape, x.dtype, x.weak_type)


# ---------------------------------------------------------------------------
# the dimension numbers of each one's transpose

def _scatter_dnums_of(dn: GatherDimensionNumbers) -> ScatterDimensionNumbers:
    return ScatterDimensionNumbers(dn.offset_dims, dn.collapsed_slice_dims, dn.start_index_map,
                                   dn.operand_batching_dims, dn.start_indices_batching_dims)


def _gather_dnums_of(dn: ScatterDimensionNumbers) -> GatherDimensionNumbers:
    return GatherDimensionNumbers(dn.update_window_dims, dn.inserted_window_dims,
                                  dn.scatter_dims_to_operand_dims, dn.operand_batching_dims,
                                  dn.scatter_indices_batching_dims)


def _window_sizes(x_shape, updates_shape, dn: ScatterDimensionNumbers) -> tuple[int, ...]:
    sizes = [1] * len(x_shape)
    window_dims = [d for d in range(len(x_shape)) if d not in dn.inserted_window_dims
                   and d not in dn.operand_batching_dims]
    for d, a in zip(window_dims, dn.update_window_dims, strict=True):
        sizes[d] = updates_shape[a]
    return tuple(sizes)


def _zeros(aval: ShapedArray):
    return full(aval.shape, 0, aval.dtype)


def _aval(x) -> ShapedArray:
    return x.aval if is_undefined_primal(x) else get_aval(x)


# ---------------------------------------------------------------------------
# gather

gather_p = Primitive("gather")


def gather(operand, start_indices, dimension_numbers: GatherDimensionNumbers,
           slice_sizes: Sequence[int], *, unique_indices: bool = False,
           indices_are_sorted: bool = False, mode=None, fill_value=None):
    """XLA's gather (``lax.gather``): one ``slice_sizes`` window of ``operand`` per index
    vector (the last axis of ``start_indices``).

    ``mode=None`` means ``PROMISE_IN_BOUNDS`` here (out-of-bounds windows are clamped);
    with ``'fill'`` they read ``fill_value`` (default NaN, the most negative or largest
    integer, or True). NumPy-style indexing and ``x.at[idx].get()`` are built on it.

    Example:
        >>> x = np.array([10, 11, 12], np.int32)
        >>> dn = GatherDimensionNumbers(offset_dims=(), collapsed_slice_dims=(0,),
        ...                             start_index_map=(0,))
        >>> gather(x, np.array([[2], [0], [2]]), dn, (1,))
        array([12, 10, 12], dtype=int32)
    """
    mode = GatherScatterMode.PROMISE_IN_BOUNDS if mode is None else (
        GatherScatterMode.from_any(mode))
    if mode is GatherScatterMode.FILL_OR_DROP:
        if fill_value is None:
            fill_value = _default_fill(get_aval(operand).dtype)
        else:
            value = concrete_or_none(fill_value)
            if value is None or np.ndim(value):
                raise ShapeError("gather: fill_value must be a static scalar, not a traced or "
                                 "array value")
            fill_value = value.item()
    else:
        fill_value = None
    return gather_p.bind(operand, start_indices,
                         dimension_numbers=_tuples(dimension_numbers, GatherDimensionNumbers),
                         slice_sizes=tuple(int(k) for k in slice_sizes),
                         unique_indices=bool(unique_indices),
                         indices_are_sorted=bool(indices_are_sorted), mode=mode,
                         fill_value=fill_value)


def _gather_jvp(primals, tangents, **params):
    x, indices = primals
    out = gather_p.bind(x, indices, **params)
    if isinstance(tangents[0], Zero):
        return out, Zero(tangent_aval(get_aval(out)))
    tparams = dict(params, fill_value=0 if params["fill_value"] is not None else None)
    return out, gather_p.bind(tangents[0], indices, **tparams)


def _gather_transpose(ct, x, indices, *, dimension_numbers, slice_sizes, mode, fill_value,
                      unique_indices, indices_are_sorted):
    if is_undefined_primal(indices):
        raise DTypeError("gather: cannot transpose with respect to the integer indices")
    if isinstance(ct, Zero):
        return [None, None]
    out = scatter_add_p.bind(_zeros(x.aval), indices, ct,
                             dimension_numbers=_scatter_dnums_of(dimension_numbers),
                             mode=mode, unique_indices=unique_indices,
                             indices_are_sorted=indices_are_sorted)
    return [out, None]


def _gather_batch(args, dims, *, dimension_numbers, slice_sizes, **params):
    (x, indices), (xd, id_) = args, dims
    dn = dimension_numbers
    inc = lambda ds: tuple(d + 1 for d in ds)  # noqa: E731
    if id_ is not_mapped:  # the batch axis is one more (whole) window axis, first
        dn = GatherDimensionNumbers((0,) + inc(dn.offset_dims), inc(dn.collapsed_slice_dims),
                                    inc(dn.start_index_map), inc(dn.operand_batching_dims),
                                    dn.start_indices_batching_dims)
        x = moveaxis(x, xd, 0)
        sizes = (get_aval(x).shape[0],) + tuple(slice_sizes)
    elif xd is not_mapped:  # one more indices batch axis, first in the output
        dn = GatherDimensionNumbers(inc(dn.offset_dims), dn.collapsed_slice_dims,
                                    dn.start_index_map, dn.operand_batching_dims,
                                    inc(dn.start_indices_batching_dims))
        indices, sizes = moveaxis(indices, id_, 0), tuple(slice_sizes)
    else:  # example b reads operand b: a batching dim pair
        dn = GatherDimensionNumbers(inc(dn.offset_dims), inc(dn.collapsed_slice_dims),
                                    inc(dn.start_index_map),
                                    (0,) + inc(dn.operand_batching_dims),
                                    (0,) + inc(dn.start_indices_batching_dims))
        x, indices = moveaxis(x, xd, 0), moveaxis(indices, id_, 0)
        sizes = (1,) + tuple(slice_sizes)
    return gather_p.bind(x, indices, dimension_numbers=dn, slice_sizes=sizes, **params), 0


impl_rules[gather_p] = _gather_impl
abstract_eval_rules[gather_p] = _gather_abstract
jvp_rules[gather_p] = _gather_jvp
transpose_rules[gather_p] = _gather_transpose
batching_rules[gather_p] = _gather_batch


# ---------------------------------------------------------------------------
# the scatter family: one factory for the primitives, one block of rules each

def _scatter_bind(prim, operand, scatter_indices, updates, dimension_numbers, *,
                  indices_are_sorted=False, unique_indices=False, mode=None):
    if is_python_scalar(updates):  # weakly typed: takes the operand's dtype
        updates = np.asarray(updates, get_aval(operand).dtype)
    return prim.bind(operand, scatter_indices, updates,
                     dimension_numbers=_tuples(dimension_numbers, ScatterDimensionNumbers),
                     indices_are_sorted=bool(indices_are_sorted),
                     unique_indices=bool(unique_indices), mode=GatherScatterMode.from_any(mode))


def _make_scatter(name: str, doc: str):
    prim = Primitive(name)
    impl_rules[prim] = partial(_scatter_impl, name)
    abstract_eval_rules[prim] = partial(_scatter_abstract, name)

    def bind(operand, scatter_indices, updates, dimension_numbers, *,
             indices_are_sorted=False, unique_indices=False, mode=None):
        return _scatter_bind(prim, operand, scatter_indices, updates, dimension_numbers,
                             indices_are_sorted=indices_are_sorted,
                             unique_indices=unique_indices, mode=mode)
    bind.__doc__ = doc
    return prim, bind


scatter_p, scatter = _make_scatter("scatter", """XLA's scatter with replacement
    (``lax.scatter``): ``operand`` with one window of ``updates`` written per index
    vector of ``scatter_indices``. Where windows overlap, the last update in index
    order wins (JAX leaves the order unspecified). ``mode=None`` drops
    out-of-bounds windows (``FILL_OR_DROP``).

    Example:
        >>> dn = ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
        ...                              scatter_dims_to_operand_dims=(0,))
        >>> scatter(np.zeros(4, np.float32), np.array([[1], [3], [7]]),
        ...         np.array([5., 6., 7.], np.float32), dn)
        array([0., 5., 0., 6.], dtype=float32)
    """)
scatter_add_p, scatter_add = _make_scatter("scatter-add", """XLA's scatter with addition
    (``lax.scatter_add``): duplicate indices accumulate. ``mode=None`` drops
    out-of-bounds windows.

    Example:
        >>> dn = ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
        ...                              scatter_dims_to_operand_dims=(0,))
        >>> scatter_add(np.zeros(3, np.float32), np.array([[1], [1], [2]]),
        ...             np.array([1., 2., 3.], np.float32), dn)
        array([0., 3., 3.], dtype=float32)
    """)
scatter_mul_p, scatter_mul = _make_scatter("scatter-mul", """XLA's scatter with
    multiplication (``lax.scatter_mul``). The derivative with respect to ``updates``
    needs indices known to be unique (``unique_indices=True``, or concrete indices
    that are), as in JAX.

    Example:
        >>> dn = ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
        ...                              scatter_dims_to_operand_dims=(0,))
        >>> scatter_mul(np.ones(3, np.float32), np.array([[0], [0]]),
        ...             np.array([2., 3.], np.float32), dn)
        array([6., 1., 1.], dtype=float32)
    """)
scatter_min_p, scatter_min = _make_scatter("scatter-min", """XLA's scatter with minimum
    (``lax.scatter_min``). Ties share the derivative equally, as in JAX.

    Example:
        >>> dn = ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
        ...                              scatter_dims_to_operand_dims=(0,))
        >>> scatter_min(np.full(3, 5., np.float32), np.array([[0], [0], [2]]),
        ...             np.array([7., 1., 9.], np.float32), dn)
        array([1., 5., 5.], dtype=float32)
    """)
scatter_max_p, scatter_max = _make_scatter("scatter-max", """XLA's scatter with maximum
    (``lax.scatter_max``). Ties share the derivative equally, as in JAX.

    Example:
        >>> dn = ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
        ...                              scatter_dims_to_operand_dims=(0,))
        >>> scatter_max(np.zeros(3, np.float32), np.array([[2], [2]]),
        ...             np.array([4., -1.], np.float32), dn)
        array([0., 0., 4.], dtype=float32)
    """)
SCATTER_PRIMITIVES = (scatter_p, scatter_add_p, scatter_mul_p, scatter_min_p, scatter_max_p)


def _gather_back(ct, indices, updates_aval, x_shape, params):
    """The updates-shaped windows of ``ct`` that a scatter with ``params`` wrote."""
    dn = params["dimension_numbers"]
    mode = params["mode"]
    return gather_p.bind(ct, indices, dimension_numbers=_gather_dnums_of(dn),
                         slice_sizes=_window_sizes(x_shape, updates_aval.shape, dn),
                         mode=mode,
                         fill_value=0 if mode is GatherScatterMode.FILL_OR_DROP else None,
                         unique_indices=params["unique_indices"],
                         indices_are_sorted=params["indices_are_sorted"])


def _no_index_ct(op: str, indices):
    if is_undefined_primal(indices):
        raise DTypeError(f"{op}: cannot transpose with respect to the integer indices")


# scatter-add: linear in (operand, updates)

def _scatter_add_jvp(primals, tangents, **params):
    x, indices, updates = primals
    out = scatter_add_p.bind(x, indices, updates, **params)
    t_x, _, t_u = tangents
    if isinstance(t_x, Zero) and isinstance(t_u, Zero):
        return out, Zero(tangent_aval(get_aval(out)))
    return out, scatter_add_p.bind(instantiate_zeros(t_x), indices, instantiate_zeros(t_u),
                                   **params)


def _scatter_add_transpose(ct, x, indices, updates, **params):
    _no_index_ct("scatter-add", indices)
    if isinstance(ct, Zero):
        return [None, None, None]
    ct_x = ct if is_undefined_primal(x) else None
    ct_u = None
    if is_undefined_primal(updates):
        ct_u = _gather_back(ct, indices, updates.aval, _aval(x).shape, params)
    return [ct_x, None, ct_u]


jvp_rules[scatter_add_p] = _scatter_add_jvp
transpose_rules[scatter_add_p] = _scatter_add_transpose


# scatter (replace): linear in (operand, updates) for one choice of winners


def _update_ids(updates_aval, dn):
    """1, 2, ... per scatter position of the updates, broadcast over the window axes."""
    scatter_axes = [a for a in range(updates_aval.ndim) if a not in dn.update_window_dims]
    ids = None
    for a in scatter_axes:  # a row-major counter over the scatter axes
        n = updates_aval.shape[a]
        term = broadcasted_iota(np.int32, updates_aval.shape, a)
        ids = term if ids is None else add(mul(ids, np.int32(n)), term)
    if ids is None:
        ids = full(updates_aval.shape, 0, np.int32)
    return add(ids, np.int32(1))


def _scatter_jvp(primals, tangents, **params):
    x, indices, updates = primals
    out = scatter_p.bind(x, indices, updates, **params)
    t_x, _, t_u = tangents
    if isinstance(t_x, Zero) and isinstance(t_u, Zero):
        return out, Zero(tangent_aval(get_aval(out)))
    t_x, t_u = instantiate_zeros(t_x), instantiate_zeros(t_u)
    if params["unique_indices"]:
        return out, scatter_p.bind(t_x, indices, t_u, **params)
    # with duplicates, find which update won each position (the same scatter decides),
    # then the tangent is a selection and a scatter-add, both transposable
    u_aval, dn = get_aval(updates), params["dimension_numbers"]
    ids = _update_ids(u_aval, dn)
    won = scatter_p.bind(full(get_aval(x).shape, 0, np.int32), indices, ids, **params)
    winner = _gather_back(won, indices, ShapedArray(u_aval.shape, np.int32),
                          get_aval(x).shape, params)
    kept_x = select(eq(won, np.int32(0)), t_x, _zeros(get_aval(t_x)))
    kept_u = select(eq(winner, ids), t_u, _zeros(get_aval(t_u)))
    return out, scatter_add_p.bind(kept_x, indices, kept_u, **params)


def _scatter_transpose(ct, x, indices, updates, **params):
    _no_index_ct("scatter", indices)
    if not params["unique_indices"]:
        raise MissingRuleError("scatter: the transpose is only defined for unique indices "
                               "(unique_indices=True); differentiate through the JVP instead")
    if isinstance(ct, Zero):
        return [None, None, None]
    u_aval = _aval(updates)
    ct_x = ct_u = None
    if is_undefined_primal(x):
        ct_x = scatter_p.bind(ct, indices, _zeros(u_aval), **params)
    if is_undefined_primal(updates):
        ct_u = _gather_back(ct, indices, u_aval, _aval(x).shape, params)
    return [ct_x, None, ct_u]


jvp_rules[scatter_p] = _scatter_jvp
transpose_rules[scatter_p] = _scatter_transpose


# scatter-mul: linear in the operand; in the updates only with unique indices


def _known_unique(x_shape, indices, updates_aval, params) -> bool:
    if params["unique_indices"]:
        return True
    idx = concrete_or_none(indices)
    if idx is None:
        return False
    flat, _ = _scatter_positions(x_shape, idx, np.zeros(updates_aval.shape, np.int8),
                                 params["dimension_numbers"], params["mode"])
    return len(np.unique(flat)) == len(flat)


def _scatter_mul_jvp(primals, tangents, **params):
    x, indices, updates = primals
    out = scatter_mul_p.bind(x, indices, updates, **params)
    t_x, _, t_u = tangents
    t_out = Zero(tangent_aval(get_aval(out)))
    if not isinstance(t_x, Zero):
        t_out = scatter_mul_p.bind(t_x, indices, updates, **params)
    if not isinstance(t_u, Zero):
        u_aval = get_aval(updates)
        if not _known_unique(get_aval(x).shape, indices, u_aval, params):
            raise MissingRuleError(
                "scatter_mul: the derivative with respect to the updates is only implemented "
                "for unique indices, as in JAX; pass unique_indices=True if they are unique")
        placed = scatter_p.bind(_zeros(get_aval(x)), indices, t_u,
                                **dict(params, unique_indices=True))
        t_out = add_tangents(t_out, mul(x, placed))
    return out, t_out


def _scatter_mul_transpose(ct, x, indices, updates, **params):
    _no_index_ct("scatter-mul", indices)
    if is_undefined_primal(updates):
        raise MissingRuleError("scatter_mul: not linear in the updates; transpose with respect "
                               "to the operand only")
    if isinstance(ct, Zero):
        return [None, None, None]
    return [scatter_mul_p.bind(ct, indices, updates, **params), None, None]


jvp_rules[scatter_mul_p] = _scatter_mul_jvp
transpose_rules[scatter_mul_p] = _scatter_mul_transpose


# scatter-min / scatter-max: the tangent of each output is the mean tangent of the
# sources (operand and updates) that attain it


def _scatter_extremum_jvp(prim, primals, tangents, **params):
    x, indices, updates = primals
    out = prim.bind(x, indices, updates, **params)
    t_x, _, t_u = tangents
    if isinstance(t_x, Zero) and isinstance(t_u, Zero):
        return out, Zero(tangent_aval(get_aval(out)))
    t_x, t_u = instantiate_zeros(t_x), instantiate_zeros(t_u)
    x_aval, u_aval = get_aval(x), get_aval(updates)
    dtype = x_aval.dtype
    seen = _gather_back(out, indices, u_aval, x_aval.shape, params)
    u_wins = convert_element_type(eq(updates, seen), dtype)
    x_wins = convert_element_type(eq(x, out), dtype)
    count = scatter_add_p.bind(x_wins, indices, u_wins, **params)
    total = scatter_add_p.bind(mul(x_wins, t_x), indices, mul(u_wins, t_u), **params)
    return out, div(total, count)


for _prim in (scatter_min_p, scatter_max_p):
    jvp_rules[_prim] = partial(_scatter_extremum_jvp, _prim)


# batching: the batch axis becomes a window axis (indices unbatched) or a batching
# dim pair (indices batched); operand and updates are batched together


def _scatter_batch(prim, args, dims, *, dimension_numbers, **params):
    (x, indices, updates), (xd, id_, ud) = args, dims
    size = axis_size(args, dims)
    dn = dimension_numbers
    inc = lambda ds: tuple(d + 1 for d in ds)  # noqa: E731
    x, updates = bdim_at_front(x, xd, size), bdim_at_front(updates, ud, size)
    if id_ is not_mapped:
        dn = ScatterDimensionNumbers((0,) + inc(dn.update_window_dims),
                                     inc(dn.inserted_window_dims),
                                     inc(dn.scatter_dims_to_operand_dims),
                                     inc(dn.operand_batching_dims),
                                     dn.scatter_indices_batching_dims)
    else:
        indices = moveaxis(indices, id_, 0)
        dn = ScatterDimensionNumbers(inc(dn.update_window_dims), inc(dn.inserted_window_dims),
                                     inc(dn.scatter_dims_to_operand_dims),
                                     (0,) + inc(dn.operand_batching_dims),
                                     (0,) + inc(dn.scatter_indices_batching_dims))
    return prim.bind(x, indices, updates, dimension_numbers=dn, **params), 0


for _prim in SCATTER_PRIMITIVES:
    batching_rules[_prim] = partial(_scatter_batch, _prim)
del _prim

