"""The ``shard_map`` equation ``pmap`` stages: the per-device program, as JAX 0.10 shows it.

JAX 0.10 implements ``pmap`` with ``jit`` of ``shard_map``, so ``make_jaxpr(pmap(f))``
prints ``jit[name=_fun jaxpr={ ... shard_map[check_vma=False in_specs=(P('i',),)
jaxpr={ lambda ; a:f32[1,3]. let b:f32[3] = squeeze[dimensions=(0,)] a; ...
psum[axes=('i',) axis_index_groups=None] ...; broadcast_in_dim ... } mesh=Mesh('i': 2,
axis_types=(Auto,)) newly_manual_axes=frozenset({'i'}) out_specs=(P('i',),)] ... }]``.
functrace stages the same equation. Its ``jaxpr`` is one device's program: each mapped
operand arrives as a block with a mapped axis of length 1, which it squeezes, then the
traced function (collectives as equations), then each mapped result is given its axis of
length 1 back. It is built that way here, so the function's own program is that jaxpr
without its leading squeezes and trailing broadcasts (``lane_program``).

What runs is the *expansion*: ``spmd_map`` (vmap over the local lanes, collectives
across processes) of that function over the whole operands, traced once per program
and process group. Every rule hands the expansion to the ``jit`` call primitive's rule
(impl, JVP, partial evaluation, transpose, batching, the eager tape), and the compiler
inlines it (``nested.INLINED``), so compiled code is what ``pmap`` compiled before.
"""

from __future__ import annotations

from typing import NamedTuple

from ..core.avals import ShapedArray
from ..core.jaxpr import ClosedJaxpr, Eqn, Jaxpr, Var
from ..core.trace import (
    Primitive,
    abstract_eval_rules,
    eval_jaxpr,
    get_aval,
    impl_rules,
    new_main,
    trace_to_jaxpr,
)
from ..devices import process_group
from ..lax.parallel import axis_binding_rules
from ..lax.shape_ops import broadcast_in_dim_p, squeeze_p
from ..transforms.ad import jvp_rules, transpose_rules
from ..transforms.batching import AxisData, BatchTrace, batching_rules
from ..transforms.partial_eval import partial_eval_rules
from ..transforms.tape import node_rules as tape_node_rules
from ..transforms.vmap import flat_out_axes, spmd_map
from . import nested
from .call import jit_p, memo

__all__ = ["Mesh", "P", "shard_map_p", "stage_pmap"]

# the name JAX gives the axis of a pmap without axis_name
INTERNAL_AXIS = "_internal_pmap_axis_name"


class P(tuple):
    """A partition spec as JAX prints one: ``P('i',)``, ``P(None, 'i')``, ``P()``."""

    def __repr__(self) -> str:
        inner = ", ".join(repr(e) for e in self)
        return f"P({inner}{',' if len(self) == 1 else ''})"

    __str__ = __repr__


class Mesh(NamedTuple):
    """The devices of a ``pmap``: ``size`` along the axis ``name`` (all processes'), of
    which ``local_size`` are this process's. Prints as JAX's ``Mesh('i': 2, ...)``."""

    name: object
    size: int
    local_size: int

    def __repr__(self) -> str:
        return f"Mesh({self.name!r}: {self.size}, axis_types=(Auto,))"

    __str__ = __repr__


def _spec(dim, name) -> P:
    return P() if dim is None else P((None,) * dim + (name,))


def _spec_dim(spec: P):
    return None if not spec else len(spec) - 1


shard_map_p = Primitive("shard_map", multiple_results=True, impl_fallback=True)


# ---------------------------------------------------------------------------
# the per-device program and the expansion

def device_program(lane: Jaxpr, in_dims, out_dims) -> Jaxpr:
    """``lane`` (no constvars) with a squeeze of each mapped input's block in front and a
    broadcast of each mapped result to its block behind."""
    invars, head = [], []
    for v, d in zip(lane.invars, in_dims, strict=True):
        if d is None:
            invars.append(v)
            continue
        shape = v.aval.shape[:d] + (1,) + v.aval.shape[d:]
        block = Var(ShapedArray(shape, v.aval.dtype, v.aval.weak_type))
        invars.append(block)
        head.append(Eqn(squeeze_p, [block], {"dimensions": (d,)}, [v]))
    outvars, tail = [], []
    for o, d in zip(lane.outvars, out_dims, strict=True):
        if d is None:
            outvars.append(o)
            continue
        shape = o.aval.shape[:d] + (1,) + o.aval.shape[d:]
        block = Var(ShapedArray(shape, o.aval.dtype))
        dims = tuple(i for i in range(len(shape)) if i != d)
        tail.append(Eqn(broadcast_in_dim_p, [o], {"shape": shape, "broadcast_dimensions": dims},
                        [block]))
        outvars.append(block)
    return Jaxpr([], invars, head + list(lane.eqns) + tail, outvars)


def lane_program(params) -> ClosedJaxpr:
    """The traced function inside ``params["jaxpr"]`` (``device_program`` undone)."""
    closed = params["jaxpr"]
    j = closed.jaxpr
    in_dims = [_spec_dim(s) for s in params["in_specs"]]
    out_dims = [_spec_dim(s) for s in params["out_specs"]]
    n_in = sum(d is not None for d in in_dims)
    n_out = sum(d is not None for d in out_dims)
    head, tail = iter(j.eqns[:n_in]), iter(j.eqns[len(j.eqns) - n_out:])
    invars = [v if d is None else next(head).outvars[0]
              for v, d in zip(j.invars, in_dims, strict=True)]
    outvars = [v if d is None else next(tail).inputs[0]
               for v, d in zip(j.outvars, out_dims, strict=True)]
    body = j.eqns[n_in:len(j.eqns) - n_out]
    return ClosedJaxpr(Jaxpr(j.constvars, invars, body, outvars), closed.consts)


def _expand(params) -> ClosedJaxpr:
    lane = lane_program(params)
    mesh = params["mesh"]
    in_dims = tuple(_spec_dim(s) for s in params["in_specs"])
    out_dims = tuple(_spec_dim(s) for s in params["out_specs"])
    name = None if mesh.name == INTERNAL_AXIS else mesh.name

    def lane_fun(*xs):
        return tuple(eval_jaxpr(lane.jaxpr, lane.consts, *xs))

    mapped = spmd_map(lane_fun, in_dims, out_dims, name, mesh.local_size,
                      group=process_group(), unmap_single_lane=True)
    avals = []
    for v, d in zip(params["jaxpr"].jaxpr.invars, in_dims, strict=True):
        shape = v.aval.shape
        if d is not None:
            shape = shape[:d] + (mesh.local_size,) + shape[d + 1:]
        avals.append(ShapedArray(shape, v.aval.dtype, v.aval.weak_type))
    return trace_to_jaxpr(lambda *xs: list(mapped(*xs)), avals, transform="pmap",
                          fun_name="shard_map")


def expansion(params) -> ClosedJaxpr:
    """What the equation computes, as a program over the whole operands (memoised on the
    per-device program, per process group)."""
    return memo(params["jaxpr"], ("expansion", id(process_group())), lambda: _expand(params))


# ---------------------------------------------------------------------------
# staging (what pmap's compiled body calls)

def stage_pmap(flat_fun, leaves, in_dims, size, store, *, axis_name, group, out_axes,
               fun_name):
    """Traces ``flat_fun`` once for one device, with ``axis_name`` bound, and binds the
    ``shard_map`` equation over ``leaves`` (a ``spmd_map`` stage hook)."""
    data = AxisData(size, axis_name, group)
    avals = []
    for x, d in zip(leaves, in_dims, strict=True):
        a = get_aval(x)
        avals.append(a if d is None else ShapedArray(a.shape[:d] + a.shape[d + 1:], a.dtype,
                                                     a.weak_type))
    with new_main(BatchTrace, data):  # binds the axis name for the collectives in flat_fun
        lane = trace_to_jaxpr(flat_fun, avals, transform="pmap", fun_name=fun_name)
    out_dims = flat_out_axes(out_axes, store["out"])
    # closed-over values (outer tracers included) become leading, unmapped operands
    j = lane.jaxpr
    lane_j = Jaxpr([], j.constvars + j.invars, j.eqns, j.outvars)
    all_dims = [None] * len(j.constvars) + list(in_dims)
    name = INTERNAL_AXIS if axis_name is None else axis_name
    params = dict(
        jaxpr=ClosedJaxpr(device_program(lane_j, all_dims, out_dims), []),
        mesh=Mesh(name, data.global_size, size),
        in_specs=tuple(_spec(d, name) for d in all_dims),
        out_specs=tuple(_spec(d, name) for d in out_dims),
        check_vma=False,
        newly_manual_axes=frozenset({name}),
    )
    expansion(params)  # shape errors of the mapped program surface here
    return shard_map_p.bind(*lane.consts, *leaves, **params)


# ---------------------------------------------------------------------------
# rules: the jit call primitive's, applied to the expansion

abstract_eval_rules[shard_map_p] = lambda *avals, **params: list(expansion(params).out_avals)
impl_rules[shard_map_p] = lambda *args, **params: impl_rules[jit_p](
    *args, jaxpr=expansion(params), name="shard_map")
jvp_rules[shard_map_p] = lambda primals, tangents, **params: jvp_rules[jit_p](
    primals, tangents, jaxpr=expansion(params), name="shard_map")
partial_eval_rules[shard_map_p] = lambda trace, tracers, **params: partial_eval_rules[jit_p](
    trace, tracers, jaxpr=expansion(params), name="shard_map")
transpose_rules[shard_map_p] = lambda cts, *args, **params: transpose_rules[jit_p](
    cts, *args, jaxpr=expansion(params), name="shard_map")
batching_rules[shard_map_p] = lambda args, dims, **params: batching_rules[jit_p](
    args, dims, jaxpr=expansion(params), name="shard_map")
tape_node_rules[shard_map_p] = lambda vals, mask, **params: tape_node_rules[jit_p](
    vals, mask, jaxpr=expansion(params), name="shard_map")
# the collectives inside the per-device program are over the equation's own axis
axis_binding_rules[shard_map_p] = lambda params: params["newly_manual_axes"]
nested.INLINED[shard_map_p] = (expansion, lambda params: True)
