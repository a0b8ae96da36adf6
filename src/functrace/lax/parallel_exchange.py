"""Collectives that exchange data between the lanes of a named axis: ``all_gather``,
``psum_scatter`` (each other's transpose), ``ppermute``/``pshuffle`` and
``all_to_all``/``pswapaxes`` (``jax.lax``). The axis machinery they share (how a
collective finds the trace binding its axis, the process collectives under a
multi-process ``pmap``) is in ``parallel.py``.

Example:
    >>> import functrace as ft, functrace.numpy as fnp
    >>> from functrace import lax
    >>> ft.vmap(lambda x: lax.all_gather(x, "i"), axis_name="i")(fnp.array([1., 2.]))
    array([[1., 2.],
           [1., 2.]], dtype=float32)
"""

from __future__ import annotations

from ..core.avals import ShapedArray
from ..core.jaxpr import pp_params_rules
from ..core.trace import abstract_eval_rules, get_aval
from ..errors import ShapeError, UnsupportedArgumentError
from ..transforms.ad import deflinear, instantiate_zeros
from ..transforms.batching import axis_batching_rules, moveaxis, not_mapped
from ..tree_util import tree_flatten, tree_unflatten
from .creation import full
from .parallel import (
    AxisPrimitive,
    all_lanes,
    axis_size,
    groups_for,
    impl_for,
    lanes_size,
    one_name,
    psum_p,
    reduction_rule,
)
from .parallel_groups import group_rows, lane_rows, own_lanes, take_rows
from .reductions import reduce_sum
from .shape_ops import reshape
from .slicing import concatenate
from .slicing import slice as lax_slice

__all__ = [
    "all_gather", "all_gather_p", "all_to_all", "all_to_all_p", "ppermute", "ppermute_p",
    "pshuffle", "psum_scatter", "psum_scatter_p", "pswapaxes",
]

# ---------------------------------------------------------------------------
# all_gather and psum_scatter (each other's transpose)

all_gather_p = AxisPrimitive("all_gather")


def _all_gather_abstract(x, *, axes, axis, tiled, axis_size, axis_index_groups):
    if not 0 <= axis <= x.ndim - (1 if tiled else 0) or (tiled and x.ndim == 0):
        raise ShapeError(f"lax.all_gather: axis={axis} is out of range for an operand of shape "
                         f"{x.shape} (tiled={tiled})")
    shape = list(x.shape)
    if tiled:
        shape[axis] *= axis_size
    else:
        shape.insert(axis, axis_size)
    return ShapedArray(tuple(shape), x.dtype)


def _merge(x, axis: int):
    """``x`` with axes ``axis`` and ``axis + 1`` merged into one."""
    shape = get_aval(x).shape
    return reshape(x, shape[:axis] + (shape[axis] * shape[axis + 1],) + shape[axis + 2:])


def _all_gather_rule(data, args, dims, *, axes, axis, tiled, axis_size, axis_index_groups):
    (x,), (d,) = args, dims
    params = dict(axes=axes, tiled=tiled, axis_size=axis_size,
                  axis_index_groups=axis_index_groups)
    if data.name not in axes:
        if d is not_mapped:
            return all_gather_p.bind(x, axis=axis, **params), not_mapped
        return all_gather_p.bind(moveaxis(x, d, 0), axis=axis + 1, **params), 0
    g = all_lanes(data, x, d, "all_gather")  # (global_size, *shape)
    groups = axis_index_groups
    if groups is None:
        g = moveaxis(g, 0, axis)
        return (_merge(g, axis) if tiled else g), not_mapped
    # (lane, member, *shape): each lane's group, members in the group's order
    g = take_rows(group_rows(g, groups), lane_rows(groups, data.offset, data.size, False))
    g = moveaxis(g, 1, 1 + axis)
    return own_lanes(data, _merge(g, 1 + axis) if tiled else g)


def _all_gather_transpose(ct, x, *, axes, axis, tiled, axis_size, axis_index_groups):
    return [psum_scatter_p.bind(instantiate_zeros(ct), axes=axes, scatter_dimension=axis,
                                tiled=tiled, axis_size=axis_size,
                                axis_index_groups=axis_index_groups)]


abstract_eval_rules[all_gather_p] = _all_gather_abstract
impl_for(all_gather_p)
axis_batching_rules[all_gather_p] = _all_gather_rule
deflinear(all_gather_p, _all_gather_transpose)
pp_params_rules[all_gather_p] = lambda eqn: dict(  # JAX 0.10's names
    all_gather_dimension=eqn.params["axis"], axis_index_groups=eqn.params["axis_index_groups"],
    axis_name=eqn.params["axes"], axis_size=eqn.params["axis_size"], tiled=eqn.params["tiled"])


def all_gather(x, axis_name, *, axis_index_groups=None, axis: int = 0, tiled: bool = False,
               to: str = "varying"):
    """Every lane's ``x`` (a pytree), stacked along a new axis ``axis`` (``jax.lax.all_gather``).

    With ``tiled=True`` they are concatenated along the existing axis ``axis`` instead.

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> from functrace import lax
        >>> ft.vmap(lambda x: lax.all_gather(x, "i"), axis_name="i")(fnp.arange(2.))
        array([[0., 1.],
               [0., 1.]], dtype=float32)
    """
    if to != "varying":
        raise UnsupportedArgumentError(f"all_gather: to={to!r} is not supported; functrace's "
                                       "gathered values are always 'varying' (the default)")
    names = one_name("all_gather", axis_name)
    groups = groups_for("all_gather", names, axis_index_groups)
    size = lanes_size(names, groups)
    leaves, tree = tree_flatten(x)
    outs = []
    for v in leaves:
        ndim = get_aval(v).ndim
        ax = axis + (ndim + (0 if tiled else 1)) if axis < 0 else axis
        outs.append(all_gather_p.bind(v, axes=names, axis=ax, tiled=bool(tiled),
                                      axis_size=size, axis_index_groups=groups))
    return tree_unflatten(tree, outs)


psum_scatter_p = AxisPrimitive("reduce_scatter")  # JAX's name for psum_scatter's primitive


def _psum_scatter_abstract(x, *, axes, scatter_dimension, tiled, axis_size,
                           axis_index_groups):
    sd = scatter_dimension
    if not 0 <= sd < x.ndim:
        raise ShapeError(f"lax.psum_scatter: scatter_dimension={sd} is out of range for an "
                         f"operand of shape {x.shape}")
    shape = list(x.shape)
    if tiled:
        if shape[sd] % axis_size:
            raise ShapeError(f"lax.psum_scatter: dimension {sd} of {x.str_short()} must be a "
                             f"multiple of the axis size {axis_size} (tiled=True)")
        shape[sd] //= axis_size
    else:
        if shape[sd] != axis_size:
            raise ShapeError(f"lax.psum_scatter: dimension {sd} of {x.str_short()} must equal "
                             f"the axis size {axis_size} (or pass tiled=True)")
        del shape[sd]
    return ShapedArray(tuple(shape), x.dtype)


def _psum_scatter_groups(data, x, d, sd, tiled, groups):
    """Lane at position ``p`` of group ``g`` gets block ``p`` of ``g``'s sum."""
    k = len(groups[0])
    sums = reduce_sum(group_rows(all_lanes(data, x, d, "psum_scatter"), groups), (1,))
    shape = get_aval(sums).shape  # (n_groups, *shape)
    if tiled:  # the scatter dimension -> (k, m)
        sums = reshape(sums, shape[:1 + sd] + (k, shape[1 + sd] // k) + shape[2 + sd:])
    blocks = moveaxis(sums, 1 + sd, 1)  # (n_groups, k, ...)
    shape = get_aval(blocks).shape
    blocks = reshape(blocks, (shape[0] * k,) + shape[2:])
    return own_lanes(data, take_rows(blocks, lane_rows(groups, data.offset, data.size, True)))


def _psum_scatter_rule(data, args, dims, *, axes, scatter_dimension, tiled, axis_size,
                       axis_index_groups):
    (x,), (d,) = args, dims
    sd = scatter_dimension
    params = dict(axes=axes, tiled=tiled, axis_size=axis_size,
                  axis_index_groups=axis_index_groups)
    if data.name not in axes:
        if d is not_mapped:
            return psum_scatter_p.bind(x, scatter_dimension=sd, **params), not_mapped
        return psum_scatter_p.bind(moveaxis(x, d, 0), scatter_dimension=sd + 1, **params), 0
    if axis_index_groups is not None:
        return _psum_scatter_groups(data, x, d, sd, tiled, axis_index_groups)
    (total,), _ = reduction_rule(psum_p, data, [x], [d], axes=(data.name,),
                                 axis_index_groups=None)
    shape = get_aval(total).shape
    m = shape[sd] // data.global_size if tiled else 1
    lo, hi = data.offset * m, (data.offset + data.size) * m
    mine = lax_slice(total, (0,) * sd + (lo,) + (0,) * (len(shape) - sd - 1),
                     shape[:sd] + (hi,) + shape[sd + 1:])
    if tiled:
        mine = reshape(mine, shape[:sd] + (data.size, m) + shape[sd + 1:])
    return mine, sd


def _psum_scatter_transpose(ct, x, *, axes, scatter_dimension, tiled, axis_size,
                            axis_index_groups):
    return [all_gather_p.bind(instantiate_zeros(ct), axes=axes, axis=scatter_dimension,
                              tiled=tiled, axis_size=axis_size,
                              axis_index_groups=axis_index_groups)]


abstract_eval_rules[psum_scatter_p] = _psum_scatter_abstract
impl_for(psum_scatter_p, "psum_scatter")
axis_batching_rules[psum_scatter_p] = _psum_scatter_rule
deflinear(psum_scatter_p, _psum_scatter_transpose)
pp_params_rules[psum_scatter_p] = lambda eqn: dict(
    axis_index_groups=eqn.params["axis_index_groups"], axis_name=eqn.params["axes"],
    axis_size=eqn.params["axis_size"], scatter_dimension=eqn.params["scatter_dimension"],
    tiled=eqn.params["tiled"])


def psum_scatter(x, axis_name, *, scatter_dimension: int = 0, axis_index_groups=None,
                 tiled: bool = False):
    """``psum`` whose result is scattered: lane ``k`` keeps block ``k`` along
    ``scatter_dimension`` (``jax.lax.psum_scatter``).

    Without ``tiled`` that dimension must equal the axis size and is removed; with
    ``tiled=True`` it must be a multiple of it and shrinks by that factor.

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> from functrace import lax
        >>> ft.vmap(lambda x: lax.psum_scatter(x, "i"), axis_name="i")(
        ...     fnp.array([[1., 2.], [10., 20.]]))
        array([11., 22.], dtype=float32)
    """
    names = one_name("psum_scatter", axis_name)
    groups = groups_for("psum_scatter", names, axis_index_groups)
    size = lanes_size(names, groups)
    leaves, tree = tree_flatten(x)
    outs = []
    for v in leaves:
        sd = scatter_dimension % max(get_aval(v).ndim, 1)
        outs.append(psum_scatter_p.bind(v, axes=names, scatter_dimension=sd, tiled=bool(tiled),
                                        axis_size=size, axis_index_groups=groups))
    return tree_unflatten(tree, outs)


# ---------------------------------------------------------------------------
# ppermute

ppermute_p = AxisPrimitive("ppermute")


def _ppermute_abstract(x, *, axes, perm):
    return ShapedArray(x.shape, x.dtype)


def _ppermute_rule(data, args, dims, *, axes, perm):
    (x,), (d,) = args, dims
    if data.name not in axes:
        return ppermute_p.bind(x, axes=axes, perm=perm), d
    lanes = all_lanes(data, x, d, "ppermute")  # (global_size, *shape)
    shape = get_aval(lanes).shape
    src_of = {dst: src for src, dst in perm}
    rows, zero = [], None
    for k in range(data.size):
        src = src_of.get(data.offset + k)
        if src is None:
            if zero is None:
                zero = full((1,) + shape[1:], 0, get_aval(lanes).dtype)
            rows.append(zero)
        else:
            rows.append(lax_slice(lanes, (src,) + (0,) * (len(shape) - 1),
                                  (src + 1,) + shape[1:]))
    return (rows[0] if len(rows) == 1 else concatenate(rows, 0)), 0


def _ppermute_transpose(ct, x, *, axes, perm):
    inverse = tuple((dst, src) for src, dst in perm)
    return [ppermute_p.bind(instantiate_zeros(ct), axes=axes, perm=inverse)]


abstract_eval_rules[ppermute_p] = _ppermute_abstract
impl_for(ppermute_p)
axis_batching_rules[ppermute_p] = _ppermute_rule
deflinear(ppermute_p, _ppermute_transpose)
pp_params_rules[ppermute_p] = lambda eqn: dict(axis_name=eqn.params["axes"],
                                               perm=eqn.params["perm"])


def ppermute(x, axis_name, perm):
    """Sends lane ``src``'s ``x`` to lane ``dst`` for each ``(src, dst)`` in ``perm``
    (``jax.lax.ppermute``); lanes that receive nothing get zeros.

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> from functrace import lax
        >>> ft.vmap(lambda x: lax.ppermute(x, "i", [(0, 1), (1, 2), (2, 0)]),
        ...         axis_name="i")(fnp.array([1., 2., 3.]))
        array([3., 1., 2.], dtype=float32)
    """
    names = one_name("ppermute", axis_name)
    size = axis_size(names)
    perm = tuple((int(s), int(t)) for s, t in perm)
    srcs, dsts = [s for s, _ in perm], [t for _, t in perm]
    if len(set(srcs)) != len(srcs) or len(set(dsts)) != len(dsts):
        raise ShapeError(f"lax.ppermute: perm {perm} sends from or to a lane more than once; "
                         "each source and each destination may appear once")
    if any(not 0 <= i < size for i in srcs + dsts):
        raise ShapeError(f"lax.ppermute: perm {perm} names a lane outside 0..{size - 1} "
                         f"(axis {names[0]!r} has size {size})")
    leaves, tree = tree_flatten(x)
    return tree_unflatten(tree, [ppermute_p.bind(v, axes=names, perm=perm) for v in leaves])


def pshuffle(x, axis_name, perm):
    """Lane ``k`` receives lane ``perm[k]``'s ``x`` (``jax.lax.pshuffle``)."""
    return ppermute(x, axis_name, [(int(s), k) for k, s in enumerate(perm)])


# ---------------------------------------------------------------------------
# all_to_all

all_to_all_p = AxisPrimitive("all_to_all")


def _all_to_all_abstract(x, *, axes, split_axis, concat_axis, tiled, axis_size,
                         axis_index_groups):
    shape = list(x.shape)
    if not (0 <= split_axis < x.ndim and 0 <= concat_axis < x.ndim + (0 if tiled else 0)):
        raise ShapeError(f"lax.all_to_all: split_axis={split_axis}, concat_axis={concat_axis} "
                         f"out of range for an operand of shape {x.shape}")
    if tiled:
        if shape[split_axis] % axis_size:
            raise ShapeError(f"lax.all_to_all: dimension {split_axis} of {x.str_short()} must "
                             f"be a multiple of the axis size {axis_size} (tiled=True)")
        shape[split_axis] //= axis_size
        shape[concat_axis] *= axis_size
    else:
        if shape[split_axis] != axis_size:
            raise ShapeError(f"lax.all_to_all: dimension {split_axis} of {x.str_short()} must "
                             f"equal the axis size {axis_size} (or pass tiled=True)")
        del shape[split_axis]
        shape.insert(concat_axis, axis_size)
    return ShapedArray(tuple(shape), x.dtype)


def _all_to_all_finish(z, ca, tiled):
    """``(lane, src, *rest)`` -> each lane's result: the sources at ``concat_axis``."""
    z = moveaxis(z, 1, 1 + ca)
    return _merge(z, 1 + ca) if tiled else z


def _all_to_all_groups(data, x, d, sa, ca, tiled, groups):
    """Lane at position ``p`` of group ``g`` gets chunk ``p`` of each member of ``g``."""
    k = len(groups[0])
    z = group_rows(all_lanes(data, x, d, "all_to_all"), groups)  # (n_groups, src, *shape)
    shape = get_aval(z).shape
    if tiled:  # the split axis -> (k, m)
        z = reshape(z, shape[:2 + sa] + (k, shape[2 + sa] // k) + shape[3 + sa:])
    z = moveaxis(z, 2 + sa, 1)  # (n_groups, chunk, src, *rest)
    shape = get_aval(z).shape
    z = take_rows(reshape(z, (shape[0] * k,) + shape[2:]),
                  lane_rows(groups, data.offset, data.size, True))
    return own_lanes(data, _all_to_all_finish(z, ca, tiled))


def _all_to_all_rule(data, args, dims, *, axes, split_axis, concat_axis, tiled, axis_size,
                     axis_index_groups):
    (x,), (d,) = args, dims
    params = dict(axes=axes, tiled=tiled, axis_size=axis_size,
                  axis_index_groups=axis_index_groups)
    if data.name not in axes:
        if d is not_mapped:
            return all_to_all_p.bind(x, split_axis=split_axis, concat_axis=concat_axis,
                                     **params), not_mapped
        return all_to_all_p.bind(moveaxis(x, d, 0), split_axis=split_axis + 1,
                                 concat_axis=concat_axis + 1, **params), 0
    g, sa, ca = data.global_size, split_axis, concat_axis
    if axis_index_groups is not None:
        return _all_to_all_groups(data, x, d, sa, ca, tiled, axis_index_groups)
    z = all_lanes(data, x, d, "all_to_all")  # (src, *shape)
    shape = get_aval(z).shape
    if tiled:  # split axis -> (g, m): chunk j of every source goes to lane j
        m = shape[1 + sa] // g
        z = reshape(z, shape[:1 + sa] + (g, m) + shape[2 + sa:])
    shape = get_aval(z).shape
    z = lax_slice(z, (0,) * (1 + sa) + (data.offset,) + (0,) * (len(shape) - 2 - sa),
                  shape[:1 + sa] + (data.offset + data.size,) + shape[2 + sa:])
    z = moveaxis(z, 1 + sa, 0)  # (lane, src, *rest): rest is the shape without split axis
    return _all_to_all_finish(z, ca, tiled), 0


def _all_to_all_transpose(ct, x, *, axes, split_axis, concat_axis, tiled, axis_size,
                          axis_index_groups):
    return [all_to_all_p.bind(instantiate_zeros(ct), axes=axes, split_axis=concat_axis,
                              concat_axis=split_axis, tiled=tiled, axis_size=axis_size,
                              axis_index_groups=axis_index_groups)]


abstract_eval_rules[all_to_all_p] = _all_to_all_abstract
impl_for(all_to_all_p)
axis_batching_rules[all_to_all_p] = _all_to_all_rule
deflinear(all_to_all_p, _all_to_all_transpose)
# JAX prints the name itself. (Its all_to_all keeps the split axis, of size 1, when
# split_axis != concat_axis, and squeezes it after; ours removes it: the shapes agree.)
pp_params_rules[all_to_all_p] = lambda eqn: dict(
    axis_index_groups=eqn.params["axis_index_groups"], axis_name=eqn.params["axes"][0],
    concat_axis=eqn.params["concat_axis"], split_axis=eqn.params["split_axis"],
    tiled=eqn.params["tiled"])


def all_to_all(x, axis_name, split_axis: int, concat_axis: int, *, axis_index_groups=None,
               tiled: bool = False):
    """Lane ``j`` receives chunk ``j`` (along ``split_axis``) of every lane's ``x``,
    stacked along ``concat_axis`` in lane order (``jax.lax.all_to_all``).

    Without ``tiled`` the split axis must equal the axis size; it is removed and a new
    axis of that size is inserted at ``concat_axis``. With ``tiled=True`` the chunks are
    concatenated along the existing ``concat_axis``.

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> from functrace import lax
        >>> ft.vmap(lambda x: lax.all_to_all(x, "i", 0, 0), axis_name="i")(
        ...     fnp.array([[1., 2.], [3., 4.]]))
        array([[1., 3.],
               [2., 4.]], dtype=float32)
    """
    names = one_name("all_to_all", axis_name)
    groups = groups_for("all_to_all", names, axis_index_groups)
    size = lanes_size(names, groups)
    leaves, tree = tree_flatten(x)
    outs = []
    for v in leaves:
        ndim = get_aval(v).ndim
        outs.append(all_to_all_p.bind(v, axes=names, split_axis=split_axis % ndim,
                                      concat_axis=concat_axis % ndim, tiled=bool(tiled),
                                      axis_size=size, axis_index_groups=groups))
    return tree_unflatten(tree, outs)


def pswapaxes(x, axis_name, axis: int, *, axis_index_groups=None):
    """``all_to_all(x, axis_name, axis, axis)`` (``jax.lax.pswapaxes``)."""
    return all_to_all(x, axis_name, axis, axis, axis_index_groups=axis_index_groups)
