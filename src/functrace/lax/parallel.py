"""Collectives over a named axis: ``psum``, ``pmean``, ``pmax``, ``pmin``, ``all_gather``,
``psum_scatter``, ``ppermute``, ``all_to_all``, ``axis_index``, ``axis_size`` (``jax.lax``).

An axis name is bound by ``vmap(f, axis_name=...)`` or ``pmap(f, axis_name=...)``; a
collective finds the innermost batch trace that binds its axis (``batching.axis_frame``),
even when its operands are not batched there, and that trace's rule performs it over the
mapped axis: ``psum`` of an operand batched at dimension ``d`` is a ``reduce_sum`` over
``d``. Each primitive below has its shape rule, JVP, transpose and axis rule beside it.

Under a ``pmap`` that spans several processes (``functrace.distributed``) the rule
first reduces (or stacks) this process's lanes, then calls a *process collective*:
``process_allreduce`` / ``process_allgather``, primitives whose implementation calls the
process group (MPI). They appear in the compiled program, where the CPU backend runs
them on host buffers. Sums are combined in a fixed order (each process's lanes first,
then the group's deterministic reduction), so every process ends bit-identical.

Derivatives follow JAX's classic rules: ``psum`` transposes to ``psum``, ``all_gather``
to ``psum_scatter`` (and back), ``ppermute`` to the inverse permutation and
``all_to_all`` to the swapped one; the JVP of ``pmax``/``pmin`` averages the tangents of
the lanes that attain the extreme (as ``reduce_max``'s does).

Example:
    >>> import functrace as ft, functrace.numpy as fnp
    >>> from functrace import lax
    >>> ft.vmap(lambda x: x / lax.psum(x, "i"), axis_name="i")(fnp.array([1., 3.]))
    array([0.25, 0.75], dtype=float32)
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

from ..core.avals import ShapedArray, is_python_scalar
from ..core.trace import Primitive, abstract_eval_rules, find_top_trace, get_aval, impl_rules
from ..devices import process_group
from ..errors import ShapeError, UnboundAxisError
from ..transforms.ad import (
    Zero,
    defjvp_zero,
    deflinear,
    instantiate_zeros,
    jvp_rules,
    transpose_rules,
)
from ..transforms.batching import (
    BatchTrace,
    axis_batching_rules,
    axis_frame,
    batching_rules,
    broadcast,
    moveaxis,
    not_mapped,
)
from ..tree_util import tree_flatten, tree_unflatten
from .creation import full, iota
from .elementwise import add, div, eq, mul
from .reductions import reduce_max, reduce_min
from .shape_ops import convert_element_type, reduce_sum, reshape
from .slicing import concatenate
from .slicing import slice as lax_slice

__all__ = [
    "all_gather", "all_gather_p", "all_to_all", "all_to_all_p", "axis_index", "axis_index_p",
    "axis_size", "pmax", "pmax_p", "pmean", "pmin", "pmin_p", "ppermute", "ppermute_p",
    "process_allgather_p", "process_allreduce_p", "psum", "psum_p", "psum_scatter",
    "psum_scatter_p", "pshuffle", "pswapaxes",
]


class AxisPrimitive(Primitive):
    """A collective: besides its operands' traces, the trace binding its axis processes it.

    A compiled program meets one only outside its axis, where the impl says so: backends
    run that impl (``impl_fallback``)."""

    def __init__(self, name: str, *, multiple_results: bool = False):
        super().__init__(name, multiple_results=multiple_results, impl_fallback=True)

    def find_top_trace(self, args, params):
        top = find_top_trace(args)
        for name in params["axes"]:
            main = axis_frame(name)
            if main.level > top.main.level:
                top = BatchTrace(main)
        return top


def _names(axis_name) -> tuple:
    return tuple(axis_name) if isinstance(axis_name, tuple | list) else (axis_name,)


def _no_groups(op: str, axis_index_groups):
    if axis_index_groups is not None:
        raise NotImplementedError(f"lax.{op}: axis_index_groups is not supported; split the "
                                  "axis with a nested pmap/vmap instead.")


def _one_name(op: str, axis_name):
    names = _names(axis_name)
    if len(names) != 1:
        raise NotImplementedError(f"lax.{op} over several axes {names} is not supported; "
                                  "apply it over one axis at a time.")
    return names


def axis_size(axis_name) -> int:
    """The number of lanes (devices of all processes, or vmap examples) of ``axis_name``.

    A tuple of names gives the product of their sizes.
    """
    return math.prod(axis_frame(n).global_data.global_size for n in _names(axis_name))


def _undefined_impl(prim_name, *args, axes, **params):
    raise UnboundAxisError(
        f"unbound axis name: {axes[0]}. lax.{prim_name} was evaluated outside the pmap/vmap "
        "that binds its axis (e.g. a jaxpr holding it was run on its own); apply the "
        "collective inside pmap(f, axis_name=...) or vmap(f, axis_name=...).")


def _impl_for(prim: Primitive):
    impl_rules[prim] = partial(_undefined_impl, prim.name)


# ---------------------------------------------------------------------------
# process collectives: what a rule calls once this process's lanes are combined

# compiled programs run them on host buffers (MPI), through their impl
process_allreduce_p = Primitive("process_allreduce", multiple_results=True, impl_fallback=True)
process_allgather_p = Primitive("process_allgather", impl_fallback=True)


def _allreduce_impl(*xs, op, axis_name, collective):
    return process_group().allreduce([np.asarray(x) for x in xs], op,
                                     collective=collective, axis_name=axis_name)


def _allgather_impl(x, *, axis_name, collective, nproc):
    return process_group().allgather(np.asarray(x), collective=collective, axis_name=axis_name)


impl_rules[process_allreduce_p] = _allreduce_impl
impl_rules[process_allgather_p] = _allgather_impl
abstract_eval_rules[process_allreduce_p] = lambda *xs, **_: [
    ShapedArray(x.shape, x.dtype) for x in xs]
abstract_eval_rules[process_allgather_p] = lambda x, *, nproc, **_: ShapedArray(
    (nproc,) + x.shape, x.dtype)


def _allreduce_jvp(primals, tangents, *, op, axis_name, collective):
    outs = process_allreduce_p.bind(*primals, op=op, axis_name=axis_name,
                                    collective=collective)
    params = dict(op="sum", axis_name=axis_name, collective=collective)
    if op == "sum":
        nz = [i for i, t in enumerate(tangents) if not isinstance(t, Zero)]
        t_out = [Zero(ShapedArray(get_aval(o).shape, get_aval(o).dtype)) for o in outs]
        if nz:
            for i, t in zip(nz, process_allreduce_p.bind(*[tangents[i] for i in nz], **params),
                            strict=True):
                t_out[i] = t
        return outs, t_out
    t_out = []
    for x, t, y in zip(primals, tangents, outs, strict=True):
        mask = convert_element_type(eq(x, y), get_aval(x).dtype)
        (cnt,) = process_allreduce_p.bind(mask, **params)  # separate: not a tangent
        (num,) = process_allreduce_p.bind(mul(instantiate_zeros(t), mask), **params)
        t_out.append(div(num, cnt))
    return outs, t_out


def _allreduce_transpose(cts, *xs, op, axis_name, collective):
    cts = [instantiate_zeros(c) for c in cts]
    return process_allreduce_p.bind(*cts, op="sum", axis_name=axis_name, collective=collective)


def _allgather_transpose(ct, x, *, axis_name, collective, nproc):
    (total,) = process_allreduce_p.bind(instantiate_zeros(ct), op="sum", axis_name=axis_name,
                                        collective=collective)
    rank = process_group().rank
    shape = get_aval(total).shape
    piece = lax_slice(total, (rank,) + (0,) * (len(shape) - 1), (rank + 1,) + shape[1:])
    return [reshape(piece, shape[1:])]


jvp_rules[process_allreduce_p] = _allreduce_jvp
transpose_rules[process_allreduce_p] = _allreduce_transpose
deflinear(process_allgather_p, _allgather_transpose)


def _allreduce_batch(args, dims, **params):
    return process_allreduce_p.bind(*args, **params), list(dims)


def _allgather_batch(args, dims, **params):
    (x,), (d,) = args, dims
    return process_allgather_p.bind(moveaxis(x, d, 0), **params), 1


batching_rules[process_allreduce_p] = _allreduce_batch
batching_rules[process_allgather_p] = _allgather_batch


def _lanes_front(data, x, d):
    """This process's lanes of ``x`` stacked on axis 0 (an unmapped ``x`` is broadcast)."""
    return broadcast(x, data.size, 0) if d is not_mapped else moveaxis(x, d, 0)


def _all_lanes(data, x, d, collective):
    """Every lane of every process, stacked on axis 0 (``global_size`` rows)."""
    local = _lanes_front(data, x, d)
    if data.group is None:
        return local
    stacked = process_allgather_p.bind(local, axis_name=data.name, collective=collective,
                                       nproc=data.group.size)
    shape = get_aval(stacked).shape
    return reshape(stacked, (shape[0] * shape[1],) + shape[2:])


# ---------------------------------------------------------------------------
# psum, pmax, pmin (one primitive each, over all leaves of a pytree at once)

psum_p = AxisPrimitive("psum", multiple_results=True)
pmax_p = AxisPrimitive("pmax", multiple_results=True)
pmin_p = AxisPrimitive("pmin", multiple_results=True)
_REDUCERS = {psum_p: ("sum", reduce_sum), pmax_p: ("max", reduce_max),
             pmin_p: ("min", reduce_min)}


def _reduce_abstract(*xs, axes):
    return [ShapedArray(x.shape, x.dtype) for x in xs]


def _reduction_rule(prim, data, args, dims, *, axes):
    if data.name not in axes:  # over another axis: this one's lanes are independent
        return prim.bind(*args, axes=axes), list(dims)
    op, reducer = _REDUCERS[prim]
    outs = []
    for x, d in zip(args, dims, strict=True):
        if d is not_mapped:
            outs.append(mul(x, data.size) if op == "sum" else x)
        else:
            outs.append(reducer(x, (d,)))
    if data.group is not None:
        outs = process_allreduce_p.bind(*outs, op=op, axis_name=data.name,
                                        collective=prim.name)
    rest = tuple(a for a in axes if a != data.name)
    if rest:
        outs = prim.bind(*outs, axes=rest)
    return outs, [not_mapped] * len(outs)


def _psum_transpose(cts, *xs, axes):
    return psum_p.bind(*[instantiate_zeros(c) for c in cts], axes=axes)


def _pminmax_jvp(prim, primals, tangents, *, axes):
    outs = prim.bind(*primals, axes=axes)
    t_out = []
    for x, t, y in zip(primals, tangents, outs, strict=True):
        if isinstance(t, Zero):
            t_out.append(t)
            continue
        mask = convert_element_type(eq(x, y), get_aval(x).dtype)
        (cnt,) = psum_p.bind(mask, axes=axes)  # separate: the count is not a tangent
        (num,) = psum_p.bind(mul(t, mask), axes=axes)
        t_out.append(div(num, cnt))
    return outs, t_out


for _p in (psum_p, pmax_p, pmin_p):
    abstract_eval_rules[_p] = _reduce_abstract
    _impl_for(_p)
    axis_batching_rules[_p] = partial(_reduction_rule, _p)
deflinear(psum_p, _psum_transpose)
jvp_rules[pmax_p] = partial(_pminmax_jvp, pmax_p)
jvp_rules[pmin_p] = partial(_pminmax_jvp, pmin_p)


def _tree_collective(prim, x, axis_name):
    names = _names(axis_name)
    if not names:
        return x
    leaves, tree = tree_flatten(x)
    arrays = [i for i, v in enumerate(leaves) if not is_python_scalar(v)]
    out = list(leaves)
    if prim is psum_p:  # psum(1, 'i') is the axis size, known statically (as in JAX)
        size = axis_size(names)
        out = [v * size if is_python_scalar(v) else v for v in out]
    else:
        for n in names:
            axis_frame(n)  # unbound names raise even for Python scalars
    if arrays:
        for i, v in zip(arrays, prim.bind(*[leaves[i] for i in arrays], axes=names),
                        strict=True):
            out[i] = v
    return tree_unflatten(tree, out)


def psum(x, axis_name, *, axis_index_groups=None):
    """Sum of ``x`` (a pytree) over every lane of ``axis_name`` (``jax.lax.psum``).

    ``axis_name`` may be a tuple of names (the sum over all of them). A Python scalar
    leaf gives its product with the axis size: ``psum(1, 'i')`` is the size of ``'i'``.

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> from functrace import lax
        >>> ft.vmap(lambda x: lax.psum(x, "i"), axis_name="i")(fnp.arange(3.))
        array([3., 3., 3.], dtype=float32)
    """
    _no_groups("psum", axis_index_groups)
    return _tree_collective(psum_p, x, axis_name)


def pmax(x, axis_name, *, axis_index_groups=None):
    """Maximum of ``x`` (a pytree) over the lanes of ``axis_name`` (``jax.lax.pmax``)."""
    _no_groups("pmax", axis_index_groups)
    return _tree_collective(pmax_p, x, axis_name)


def pmin(x, axis_name, *, axis_index_groups=None):
    """Minimum of ``x`` (a pytree) over the lanes of ``axis_name`` (``jax.lax.pmin``)."""
    _no_groups("pmin", axis_index_groups)
    return _tree_collective(pmin_p, x, axis_name)


def pmean(x, axis_name, *, axis_index_groups=None):
    """Mean of ``x`` (a pytree) over the lanes of ``axis_name`` (``jax.lax.pmean``).

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> from functrace import lax
        >>> ft.vmap(lambda x: lax.pmean(x, "i"), axis_name="i")(fnp.arange(4.))
        array([1.5, 1.5, 1.5, 1.5], dtype=float32)
    """
    _no_groups("pmean", axis_index_groups)
    n = axis_size(axis_name)
    total = psum(x, axis_name)
    leaves, tree = tree_flatten(total)
    out = []
    for v in leaves:
        if is_python_scalar(v):
            out.append(v / n)
            continue
        if not np.issubdtype(get_aval(v).dtype, np.inexact):
            v = convert_element_type(v, np.float32)
        out.append(div(v, n))
    return tree_unflatten(tree, out)


# ---------------------------------------------------------------------------
# all_gather and psum_scatter (each other's transpose)

all_gather_p = AxisPrimitive("all_gather")


def _all_gather_abstract(x, *, axes, axis, tiled, axis_size):
    if not 0 <= axis <= x.ndim - (1 if tiled else 0) or (tiled and x.ndim == 0):
        raise ShapeError(f"lax.all_gather: axis={axis} is out of range for an operand of shape "
                         f"{x.shape} (tiled={tiled})")
    shape = list(x.shape)
    if tiled:
        shape[axis] *= axis_size
    else:
        shape.insert(axis, axis_size)
    return ShapedArray(tuple(shape), x.dtype)


def _all_gather_rule(data, args, dims, *, axes, axis, tiled, axis_size):
    (x,), (d,) = args, dims
    if data.name not in axes:
        if d is not_mapped:
            return all_gather_p.bind(x, axes=axes, axis=axis, tiled=tiled,
                                     axis_size=axis_size), not_mapped
        return all_gather_p.bind(moveaxis(x, d, 0), axes=axes, axis=axis + 1, tiled=tiled,
                                 axis_size=axis_size), 0
    g = _all_lanes(data, x, d, "all_gather")  # (global_size, *shape)
    g = moveaxis(g, 0, axis)
    if tiled:
        shape = get_aval(g).shape
        g = reshape(g, shape[:axis] + (shape[axis] * shape[axis + 1],) + shape[axis + 2:])
    return g, not_mapped


def _all_gather_transpose(ct, x, *, axes, axis, tiled, axis_size):
    return [psum_scatter_p.bind(instantiate_zeros(ct), axes=axes, scatter_dimension=axis,
                                tiled=tiled, axis_size=axis_size)]


abstract_eval_rules[all_gather_p] = _all_gather_abstract
_impl_for(all_gather_p)
axis_batching_rules[all_gather_p] = _all_gather_rule
deflinear(all_gather_p, _all_gather_transpose)


def all_gather(x, axis_name, *, axis_index_groups=None, axis: int = 0, tiled: bool = False):
    """Every lane's ``x`` (a pytree), stacked along a new axis ``axis`` (``jax.lax.all_gather``).

    With ``tiled=True`` they are concatenated along the existing axis ``axis`` instead.

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> from functrace import lax
        >>> ft.vmap(lambda x: lax.all_gather(x, "i"), axis_name="i")(fnp.arange(2.))
        array([[0., 1.],
               [0., 1.]], dtype=float32)
    """
    _no_groups("all_gather", axis_index_groups)
    names = _one_name("all_gather", axis_name)
    size = axis_size(names)
    leaves, tree = tree_flatten(x)
    outs = []
    for v in leaves:
        ndim = get_aval(v).ndim
        ax = axis + (ndim + (0 if tiled else 1)) if axis < 0 else axis
        outs.append(all_gather_p.bind(v, axes=names, axis=ax, tiled=bool(tiled),
                                      axis_size=size))
    return tree_unflatten(tree, outs)


psum_scatter_p = AxisPrimitive("psum_scatter")


def _psum_scatter_abstract(x, *, axes, scatter_dimension, tiled, axis_size):
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


def _psum_scatter_rule(data, args, dims, *, axes, scatter_dimension, tiled, axis_size):
    (x,), (d,) = args, dims
    sd = scatter_dimension
    if data.name not in axes:
        if d is not_mapped:
            return psum_scatter_p.bind(x, axes=axes, scatter_dimension=sd, tiled=tiled,
                                       axis_size=axis_size), not_mapped
        return psum_scatter_p.bind(moveaxis(x, d, 0), axes=axes, scatter_dimension=sd + 1,
                                   tiled=tiled, axis_size=axis_size), 0
    (total,), _ = _reduction_rule(psum_p, data, [x], [d], axes=(data.name,))
    shape = get_aval(total).shape
    m = shape[sd] // data.global_size if tiled else 1
    lo, hi = data.offset * m, (data.offset + data.size) * m
    mine = lax_slice(total, (0,) * sd + (lo,) + (0,) * (len(shape) - sd - 1),
                     shape[:sd] + (hi,) + shape[sd + 1:])
    if tiled:
        mine = reshape(mine, shape[:sd] + (data.size, m) + shape[sd + 1:])
    return mine, sd


def _psum_scatter_transpose(ct, x, *, axes, scatter_dimension, tiled, axis_size):
    return [all_gather_p.bind(instantiate_zeros(ct), axes=axes, axis=scatter_dimension,
                              tiled=tiled, axis_size=axis_size)]


abstract_eval_rules[psum_scatter_p] = _psum_scatter_abstract
_impl_for(psum_scatter_p)
axis_batching_rules[psum_scatter_p] = _psum_scatter_rule
deflinear(psum_scatter_p, _psum_scatter_transpose)


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
    _no_groups("psum_scatter", axis_index_groups)
    names = _one_name("psum_scatter", axis_name)
    size = axis_size(names)
    leaves, tree = tree_flatten(x)
    outs = []
    for v in leaves:
        sd = scatter_dimension % max(get_aval(v).ndim, 1)
        outs.append(psum_scatter_p.bind(v, axes=names, scatter_dimension=sd, tiled=bool(tiled),
                                        axis_size=size))
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
    lanes = _all_lanes(data, x, d, "ppermute")  # (global_size, *shape)
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
_impl_for(ppermute_p)
axis_batching_rules[ppermute_p] = _ppermute_rule
deflinear(ppermute_p, _ppermute_transpose)


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
    names = _one_name("ppermute", axis_name)
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


def _all_to_all_abstract(x, *, axes, split_axis, concat_axis, tiled, axis_size):
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


def _all_to_all_rule(data, args, dims, *, axes, split_axis, concat_axis, tiled, axis_size):
    (x,), (d,) = args, dims
    params = dict(axes=axes, tiled=tiled, axis_size=axis_size)
    if data.name not in axes:
        if d is not_mapped:
            return all_to_all_p.bind(x, split_axis=split_axis, concat_axis=concat_axis,
                                     **params), not_mapped
        return all_to_all_p.bind(moveaxis(x, d, 0), split_axis=split_axis + 1,
                                 concat_axis=concat_axis + 1, **params), 0
    g, sa, ca = data.global_size, split_axis, concat_axis
    z = _all_lanes(data, x, d, "all_to_all")  # (src, *shape)
    shape = get_aval(z).shape
    if tiled:  # split axis -> (g, m): chunk j of every source goes to lane j
        m = shape[1 + sa] // g
        z = reshape(z, shape[:1 + sa] + (g, m) + shape[2 + sa:])
    shape = get_aval(z).shape
    z = lax_slice(z, (0,) * (1 + sa) + (data.offset,) + (0,) * (len(shape) - 2 - sa),
                  shape[:1 + sa] + (data.offset + data.size,) + shape[2 + sa:])
    z = moveaxis(z, 1 + sa, 0)  # (lane, src, *rest): rest is the shape without split axis
    if not tiled:
        return moveaxis(z, 1, 1 + ca), 0
    z = moveaxis(z, 1, 1 + ca)  # the sources just before the concat axis
    shape = get_aval(z).shape
    return reshape(z, shape[:1 + ca] + (shape[1 + ca] * shape[2 + ca],) + shape[3 + ca:]), 0


def _all_to_all_transpose(ct, x, *, axes, split_axis, concat_axis, tiled, axis_size):
    return [all_to_all_p.bind(instantiate_zeros(ct), axes=axes, split_axis=concat_axis,
                              concat_axis=split_axis, tiled=tiled, axis_size=axis_size)]


abstract_eval_rules[all_to_all_p] = _all_to_all_abstract
_impl_for(all_to_all_p)
axis_batching_rules[all_to_all_p] = _all_to_all_rule
deflinear(all_to_all_p, _all_to_all_transpose)


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
    _no_groups("all_to_all", axis_index_groups)
    names = _one_name("all_to_all", axis_name)
    size = axis_size(names)
    leaves, tree = tree_flatten(x)
    outs = []
    for v in leaves:
        ndim = get_aval(v).ndim
        outs.append(all_to_all_p.bind(v, axes=names, split_axis=split_axis % ndim,
                                      concat_axis=concat_axis % ndim, tiled=bool(tiled),
                                      axis_size=size))
    return tree_unflatten(tree, outs)


def pswapaxes(x, axis_name, axis: int, *, axis_index_groups=None):
    """``all_to_all(x, axis_name, axis, axis)`` (``jax.lax.pswapaxes``)."""
    return all_to_all(x, axis_name, axis, axis, axis_index_groups=axis_index_groups)


# ---------------------------------------------------------------------------
# axis_index

axis_index_p = AxisPrimitive("axis_index")
abstract_eval_rules[axis_index_p] = lambda *, axes: ShapedArray((), np.dtype(np.int32))
_impl_for(axis_index_p)
defjvp_zero(axis_index_p)


def _axis_index_rule(data, args, dims, *, axes):
    if data.name not in axes:
        return axis_index_p.bind(axes=axes), not_mapped
    idx = iota(np.int32, data.size)
    return (add(idx, np.int32(data.offset)) if data.offset else idx), 0


axis_batching_rules[axis_index_p] = _axis_index_rule


def axis_index(axis_name):
    """This lane's index (``int32``) along ``axis_name`` (``jax.lax.axis_index``).

    A tuple of names gives the row-major index over all of them.

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> from functrace import lax
        >>> ft.vmap(lambda x: x * lax.axis_index("i"), axis_name="i")(fnp.ones(3))
        array([0., 1., 2.], dtype=float32)
    """
    names = _names(axis_name)
    out = None
    for n in names:
        i = axis_index_p.bind(axes=(n,))
        out = i if out is None else add(mul(out, np.int32(axis_size(n))), i)
    return out

