"""Collectives over a named axis: ``psum``, ``pmean``, ``pmax``, ``pmin``, ``axis_index``,
``axis_size`` (``jax.lax``), and the machinery every collective shares; the ones that
exchange data between lanes (``all_gather``, ``psum_scatter``, ``ppermute``,
``all_to_all``) are in ``parallel_exchange.py``.

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
from ..core.jaxpr import pp_params_rules
from ..core.trace import Primitive, abstract_eval_rules, find_top_trace, get_aval, impl_rules
from ..devices import process_group
from ..errors import UnboundAxisError
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
from .creation import iota
from .elementwise import add, div, eq, mul
from .parallel_groups import (
    canonical_groups,
    check_groups,
    group_rows,
    lane_rows,
    own_lanes,
    take_rows,
)
from .reductions import reduce_max, reduce_min
from .shape_ops import convert_element_type, reduce_sum, reshape
from .slicing import slice as lax_slice

__all__ = [
    "axis_binding_rules", "axis_index", "axis_index_p", "axis_size", "pmax", "pmax_p", "pmean",
    "pmin", "pmin_p", "process_allgather_p", "process_allreduce_p", "psum", "psum_p",
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


# per primitive holding a program: fn(params) -> the axis names it binds for the
# collectives of that program (``shard_map``), so they are not "over an outer axis"
axis_binding_rules: dict = {}


def axis_names(axis_name) -> tuple:
    return tuple(axis_name) if isinstance(axis_name, tuple | list) else (axis_name,)


def groups_for(op: str, axis_name, axis_index_groups):
    """``axis_index_groups`` checked against the axis (JAX's errors) and made hashable."""
    groups = canonical_groups(op, axis_index_groups)
    if groups is None:
        return None
    names = axis_names(axis_name)
    if len(names) != 1:
        raise NotImplementedError(f"lax.{op}: axis_index_groups over several axes {names} is "
                                  "not supported; apply the collective over one axis.")
    check_groups(op, groups, names[0], axis_size(names))
    return groups


def lanes_size(axis_name, groups) -> int:
    """The number of lanes a collective combines: the group size, or the axis size."""
    return len(groups[0]) if groups is not None else axis_size(axis_name)


def one_name(op: str, axis_name):
    names = axis_names(axis_name)
    if len(names) != 1:
        raise NotImplementedError(f"lax.{op} over several axes {names} is not supported; "
                                  "apply it over one axis at a time.")
    return names


def axis_size(axis_name) -> int:
    """The number of lanes (devices of all processes, or vmap examples) of ``axis_name``.

    A tuple of names gives the product of their sizes.
    """
    return math.prod(axis_frame(n).global_data.global_size for n in axis_names(axis_name))


def _undefined_impl(prim_name, *args, axes, **params):
    raise UnboundAxisError(
        f"unbound axis name: {axes[0]}. lax.{prim_name} was evaluated outside the pmap/vmap "
        "that binds its axis (e.g. a jaxpr holding it was run on its own); apply the "
        "collective inside pmap(f, axis_name=...) or vmap(f, axis_name=...).")


def impl_for(prim: Primitive, op: str | None = None):
    impl_rules[prim] = partial(_undefined_impl, op or prim.name)


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


def lanes_front(data, x, d):
    """This process's lanes of ``x`` stacked on axis 0 (an unmapped ``x`` is broadcast)."""
    return broadcast(x, data.size, 0) if d is not_mapped else moveaxis(x, d, 0)


def all_lanes(data, x, d, collective):
    """Every lane of every process, stacked on axis 0 (``global_size`` rows)."""
    local = lanes_front(data, x, d)
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


def _reduce_abstract(*xs, axes, axis_index_groups):
    return [ShapedArray(x.shape, x.dtype) for x in xs]


def _group_reduce(prim, data, x, d, groups):
    """One operand of ``prim`` within groups: each lane gets its group's reduction."""
    op, reducer = _REDUCERS[prim]
    if d is not_mapped and data.group is None:  # every lane holds x
        return (mul(x, len(groups[0])) if op == "sum" else x), not_mapped
    lanes = all_lanes(data, x, d, prim.name)
    per_group = reducer(group_rows(lanes, groups), (1,))
    return own_lanes(data, take_rows(per_group, lane_rows(groups, data.offset, data.size,
                                                          per_position=False)))


def reduction_rule(prim, data, args, dims, *, axes, axis_index_groups):
    groups = axis_index_groups
    if data.name not in axes:  # over another axis: this one's lanes are independent
        return prim.bind(*args, axes=axes, axis_index_groups=groups), list(dims)
    if groups is not None:  # one axis (checked by the API)
        outs = [_group_reduce(prim, data, x, d, groups) for x, d in zip(args, dims, strict=True)]
        return [o for o, _ in outs], [d for _, d in outs]
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
        outs = prim.bind(*outs, axes=rest, axis_index_groups=None)
    return outs, [not_mapped] * len(outs)


def _psum_transpose(cts, *xs, axes, axis_index_groups):
    return psum_p.bind(*[instantiate_zeros(c) for c in cts], axes=axes,
                       axis_index_groups=axis_index_groups)


def _pminmax_jvp(prim, primals, tangents, *, axes, axis_index_groups):
    params = dict(axes=axes, axis_index_groups=axis_index_groups)
    outs = prim.bind(*primals, **params)
    t_out = []
    for x, t, y in zip(primals, tangents, outs, strict=True):
        if isinstance(t, Zero):
            t_out.append(t)
            continue
        mask = convert_element_type(eq(x, y), get_aval(x).dtype)
        (cnt,) = psum_p.bind(mask, **params)  # separate: the count is not a tangent
        (num,) = psum_p.bind(mul(t, mask), **params)
        t_out.append(div(num, cnt))
    return outs, t_out


for _p in (psum_p, pmax_p, pmin_p):
    abstract_eval_rules[_p] = _reduce_abstract
    impl_for(_p)
    axis_batching_rules[_p] = partial(reduction_rule, _p)
deflinear(psum_p, _psum_transpose)
jvp_rules[pmax_p] = partial(_pminmax_jvp, pmax_p)
jvp_rules[pmin_p] = partial(_pminmax_jvp, pmin_p)


def _tree_collective(prim, x, axis_name, axis_index_groups):
    names = axis_names(axis_name)
    if not names:
        return x
    groups = groups_for(prim.name, names, axis_index_groups)
    leaves, tree = tree_flatten(x)
    arrays = [i for i, v in enumerate(leaves) if not is_python_scalar(v)]
    out = list(leaves)
    if prim is psum_p:  # psum(1, 'i') is the axis (or group) size, known statically (JAX)
        size = lanes_size(names, groups)
        out = [v * size if is_python_scalar(v) else v for v in out]
    else:
        for n in names:
            axis_frame(n)  # unbound names raise even for Python scalars
    if arrays:
        for i, v in zip(arrays, prim.bind(*[leaves[i] for i in arrays], axes=names,
                                          axis_index_groups=groups), strict=True):
            out[i] = v
    return tree_unflatten(tree, out)


def psum(x, axis_name, *, axis_index_groups=None):
    """Sum of ``x`` (a pytree) over every lane of ``axis_name`` (``jax.lax.psum``).

    ``axis_name`` may be a tuple of names (the sum over all of them). A Python scalar
    leaf gives its product with the axis size: ``psum(1, 'i')`` is the size of ``'i'``.

    ``axis_index_groups`` (one axis only), e.g. ``[[0, 1], [2, 3]]`` for an axis of size
    4, sums within each group instead: the groups must cover every index exactly once and
    all have one size (``ValueError`` otherwise). ``pmax``, ``pmin``, ``pmean``,
    ``all_gather``, ``psum_scatter`` and ``all_to_all`` take it too (``parallel_groups``).

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> from functrace import lax
        >>> ft.vmap(lambda x: lax.psum(x, "i"), axis_name="i")(fnp.arange(3.))
        array([3., 3., 3.], dtype=float32)
        >>> ft.vmap(lambda x: lax.psum(x, "i", axis_index_groups=[[0, 2], [1, 3]]),
        ...         axis_name="i")(fnp.arange(4.))
        array([2., 4., 2., 4.], dtype=float32)
    """
    return _tree_collective(psum_p, x, axis_name, axis_index_groups)


def pmax(x, axis_name, *, axis_index_groups=None):
    """Maximum of ``x`` (a pytree) over the lanes of ``axis_name`` (``jax.lax.pmax``), or
    within each of ``axis_index_groups`` (see ``psum``)."""
    return _tree_collective(pmax_p, x, axis_name, axis_index_groups)


def pmin(x, axis_name, *, axis_index_groups=None):
    """Minimum of ``x`` (a pytree) over the lanes of ``axis_name`` (``jax.lax.pmin``), or
    within each of ``axis_index_groups`` (see ``psum``)."""
    return _tree_collective(pmin_p, x, axis_name, axis_index_groups)


def pmean(x, axis_name, *, axis_index_groups=None):
    """Mean of ``x`` (a pytree) over the lanes of ``axis_name`` (``jax.lax.pmean``), or
    within each of ``axis_index_groups`` (see ``psum``; the divisor is the group size).

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> from functrace import lax
        >>> ft.vmap(lambda x: lax.pmean(x, "i"), axis_name="i")(fnp.arange(4.))
        array([1.5, 1.5, 1.5, 1.5], dtype=float32)
    """
    total = psum(x, axis_name, axis_index_groups=axis_index_groups)
    n = lanes_size(axis_name, canonical_groups("pmean", axis_index_groups))
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
# axis_index

axis_index_p = AxisPrimitive("axis_index")
abstract_eval_rules[axis_index_p] = lambda *, axes: ShapedArray((), np.dtype(np.int32))
impl_for(axis_index_p)
defjvp_zero(axis_index_p)


def _axis_index_rule(data, args, dims, *, axes):
    if data.name not in axes:
        return axis_index_p.bind(axes=axes), not_mapped
    idx = iota(np.int32, data.size)
    return (add(idx, np.int32(data.offset)) if data.offset else idx), 0


axis_batching_rules[axis_index_p] = _axis_index_rule
# JAX 0.10 prints the name itself: axis_index[axis_name=i]
pp_params_rules[axis_index_p] = lambda eqn: {"axis_name": eqn.params["axes"][0]}


def axis_index(axis_name):
    """This lane's index (``int32``) along ``axis_name`` (``jax.lax.axis_index``).

    A tuple of names gives the row-major index over all of them.

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> from functrace import lax
        >>> ft.vmap(lambda x: x * lax.axis_index("i"), axis_name="i")(fnp.ones(3))
        array([0., 1., 2.], dtype=float32)
    """
    names = axis_names(axis_name)
    out = None
    for n in names:
        i = axis_index_p.bind(axes=(n,))
        out = i if out is None else add(mul(out, np.int32(axis_size(n))), i)
    return out

