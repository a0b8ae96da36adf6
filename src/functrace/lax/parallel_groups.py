"""``axis_index_groups``: collectives within groups of lanes (``jax.lax``'s parameter).

``psum(x, "i", axis_index_groups=[[0, 1], [2, 3]])`` sums lanes 0 and 1 together and
lanes 2 and 3 together. The groups must partition the lanes of the axis (every index
exactly once) and have one size; a lane's *position* in its group (its index in the
list) is its rank there: ``all_gather`` stacks the members in list order, and
``psum_scatter``/``all_to_all`` give the lane at position ``p`` block ``p``. A
collective's axis size within groups is the group size (``psum(1, "i",
axis_index_groups=g)`` is ``len(g[0])``).

The rules work on *all* lanes of the axis, stacked on axis 0 (``parallel.all_lanes``:
under a multi-process ``pmap`` every process gathers every lane, then computes its own
lanes' results; each process reads the same data in the same order, so the results are
bit-identical). The helpers here rearrange those lanes by group and pick the rows of
this process's lanes. They use static slices, so a jaxpr stays small for the device
counts ``pmap`` meets (tens of lanes).

JAX supports ``axis_index_groups`` under ``pmap`` only; functrace supports it under
``vmap(axis_name=...)`` too, with the same meaning.
"""

from __future__ import annotations

from ..core.trace import get_aval
from ..transforms.batching import not_mapped
from .shape_ops import reshape
from .slicing import concatenate
from .slicing import slice as lax_slice

__all__ = ["canonical_groups", "check_groups", "group_rows", "lane_rows", "own_lanes",
           "take_rows"]


def canonical_groups(op: str, groups):
    """``groups`` as a tuple of tuples of ints (hashable, as a parameter), or None."""
    if groups is None:
        return None
    try:
        out = tuple(tuple(int(i) for i in g) for g in groups)
    except TypeError as err:
        raise TypeError(f"lax.{op}: axis_index_groups must be a list of lists of ints, e.g. "
                        f"[[0, 1], [2, 3]]; got {groups!r}") from err
    if not out or not all(out):
        raise ValueError(f"lax.{op}: axis_index_groups must be a non-empty list of non-empty "
                         f"groups of axis indices; got {groups!r}")
    return out


def check_groups(op: str, groups, name, size: int) -> None:
    """JAX's conditions: the groups cover ``range(size)`` exactly once, all of one size."""
    flat = [i for g in groups for i in g]
    if sorted(flat) != list(range(size)):
        raise ValueError(f"lax.{op}: axis_index_groups must cover all indices exactly once: "
                         f"got {[list(g) for g in groups]} for axis {name!r} of size {size} "
                         f"(each of 0..{size - 1} must appear in exactly one group)")
    if len({len(g) for g in groups}) != 1:
        raise ValueError(f"lax.{op}: all groups of axis_index_groups must be the same size; "
                         f"got sizes {[len(g) for g in groups]} for "
                         f"{[list(g) for g in groups]}")


def take_rows(x, rows):
    """``x[rows]`` for a static tuple of row indices (axis 0), by slices."""
    n = get_aval(x).shape[0]
    rows = tuple(rows)
    if rows == tuple(range(n)):
        return x
    shape = get_aval(x).shape
    pieces, start = [], 0
    while start < len(rows):  # runs of consecutive rows are one slice
        stop = start + 1
        while stop < len(rows) and rows[stop] == rows[stop - 1] + 1:
            stop += 1
        lo = rows[start]
        pieces.append(lax_slice(x, (lo,) + (0,) * (len(shape) - 1),
                                (lo + stop - start,) + shape[1:]))
        start = stop
    return pieces[0] if len(pieces) == 1 else concatenate(pieces, 0)


def group_rows(lanes, groups):
    """``lanes`` (one row per lane) arranged as ``(n_groups, group_size, ...)``, each
    group's members in the order the group lists them."""
    shape = get_aval(lanes).shape
    flat = take_rows(lanes, [i for g in groups for i in g])
    return reshape(flat, (len(groups), len(groups[0])) + shape[1:])


def lane_rows(groups, offset: int, size: int, per_position: bool):
    """For lanes ``offset .. offset + size - 1``: the row each reads from a per-group array
    (``per_position=False``: its group's index) or from a per-group, per-position array
    flattened to ``(n_groups * group_size, ...)`` (``per_position=True``)."""
    k = len(groups[0])
    where = {lane: (gi, p) for gi, g in enumerate(groups) for p, lane in enumerate(g)}
    rows = []
    for lane in range(offset, offset + size):
        gi, p = where[lane]
        rows.append(gi * k + p if per_position else gi)
    return tuple(rows)


def own_lanes(data, per_lane):
    """This process's lanes' results, one row each, as a batching rule returns them: at
    dim 0, or unmapped when the process holds one lane (the program stays unbatched)."""
    if data.size == 1:
        shape = get_aval(per_lane).shape
        return reshape(per_lane, shape[1:]), not_mapped
    return per_lane, 0
