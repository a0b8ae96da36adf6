"""Reference impls, shape rules and parameter types of ``gather`` and the scatters
(``gather_scatter.py`` holds the primitives and their transformation rules).

The reference impls turn every window element into a flat operand position and
use NumPy's fancy indexing (gather) or ``ufunc.at`` (scatter: duplicate positions
accumulate; for ``scatter`` the last update in index order wins, and the JVP rules
rely on that order being the same for every call).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ..core.avals import ShapedArray, is_int
from ..errors import DTypeError, ShapeError


class GatherScatterMode(enum.Enum):
    """How gathers and scatters treat windows that are not wholly inside the operand.

    ``CLIP`` clamps the window start into range; ``FILL_OR_DROP`` fills gathered
    windows with ``fill_value`` and drops scattered ones; ``PROMISE_IN_BOUNDS`` is
    the caller's promise that indices are in bounds (gathers clamp, scatters drop,
    and gradients are wrong for out-of-bounds indices, as in JAX). ``ONE_HOT``: as in
    JAX 0.10, only ``numpy.take_along_axis`` takes it (a one-hot contraction along the
    axis: an out-of-bounds index reads 0); ``gather`` and the scatters reject it.
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


_UFUNCS = {"scatter-add": np.add, "scatter-sub": np.subtract, "scatter-mul": np.multiply,
           "scatter-min": np.minimum, "scatter-max": np.maximum}


def scatter_into(name, out, indices, updates, *, dimension_numbers, mode) -> None:
    """Combines ``updates`` into ``out`` (a C-contiguous array) in place."""
    if out.size == 0 or updates.size == 0:
        return
    flat, vals = _scatter_positions(out.shape, indices, updates, dimension_numbers, mode)
    dest = out.reshape(-1)  # a view: C order
    if name == "scatter":
        dest[flat] = vals  # NumPy assigns in order: the last duplicate wins
    else:
        _UFUNCS[name].at(dest, flat, vals)


def _scatter_impl(name, x, indices, updates, *, dimension_numbers, mode, unique_indices,
                  indices_are_sorted):
    out = np.array(x, order="C", copy=True)  # C order so the flat view writes into it
    scatter_into(name, out, indices, updates, dimension_numbers=dimension_numbers, mode=mode)
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
