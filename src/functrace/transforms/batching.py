"""The batch trace: the interpreter behind ``vmap`` (the front end is ``vmap.py``).

``vmap(f)`` runs ``f`` once on *batch tracers*: each holds the whole batched
value and the position of its batch dimension (``batch_dim``, or ``not_mapped``
for a value that is the same for every example). Its ``aval`` is the type of
one example, so ``f`` sees per-example shapes. Every primitive applied to a
batch tracer goes through its rule in ``batching_rules`` (JAX's signature)::

    rule(batched_args, batch_dims, **params) -> (out, out_dim)

``batched_args`` are the batched values (NumPy arrays or tracers of the
transformations below), ``batch_dims`` an int or ``not_mapped`` per argument;
primitives with several results return ``(outs, out_dims)`` lists. Rules are
written with primitives, so they compose with ``grad``, ``jit`` and another
``vmap``. They live beside their primitives in ``functrace.lax``; this module
provides the trace, ``batch_flat`` (run a flat function on batched values) and the
helpers the rules share.

The helpers need ``transpose``, ``broadcast_in_dim`` and ``reduce_sum``, which
are primitives of ``functrace.lax`` (a higher layer): ``lax.shape_ops``
registers them in ``shape_ops`` when it is imported, as ``functrace.numpy``
fills ``core.trace.array_methods``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from ..core.array import wrap
from ..core.avals import ShapedArray
from ..core.trace import (
    Primitive,
    Trace,
    Tracer,
    bind_custom_jvp_call,
    bind_custom_vjp_call,
    get_aval,
    new_main,
    trace_stack,
)
from ..errors import (
    ConcretizationError,
    FunctraceError,
    MissingRuleError,
    UnboundAxisError,
)
from .ad import add_any_p, instantiate_zeros

__all__ = [
    "AxisData", "BatchTrace", "BatchTracer", "axis_batching_rules", "axis_frame",
    "batch_flat", "batching_rules", "bdim_at_front", "broadcast",
    "broadcast_batcher", "defbroadcasting", "defvectorized", "matchaxis", "moveaxis",
    "not_mapped", "shape_op", "vectorized_batcher",
]

not_mapped = None  # the batch dim of a value that does not vary along the mapped axis

batching_rules: dict[Primitive, Any] = {}

# collectives: rule(axis_data, batched_args, batch_dims, **params) -> (out, out_dim); called
# even when no argument is mapped (a psum of an unmapped value still sums over the axis)
axis_batching_rules: dict[Primitive, Any] = {}

# filled by functrace.lax.shape_ops: "transpose", "broadcast_in_dim", "reduce_sum",
# "squeeze", "reshape" (vmap's front end and the jacobians use the last two)
shape_ops: dict[str, Callable] = {}


def shape_op(name: str) -> Callable:
    """``lax.<name>`` for the transformations, which sit below ``lax``."""
    fn = shape_ops.get(name)
    if fn is None:
        raise FunctraceError(f"the transformations need lax.{name}: import functrace (or "
                             "functrace.lax) first")
    return fn


# ---------------------------------------------------------------------------
# helpers shared by the rules

def moveaxis(x, src: int, dst: int):
    """``x`` with axis ``src`` moved to position ``dst`` (a ``transpose``)."""
    if src == dst:
        return x
    ndim = get_aval(x).ndim
    perm = [i for i in range(ndim) if i != src]
    perm.insert(dst, src)
    return shape_op("transpose")(x, tuple(perm))


def broadcast(x, size: int, axis: int):
    """``x`` with a new axis of length ``size`` inserted at ``axis``."""
    aval = get_aval(x)
    shape = list(aval.shape)
    shape.insert(axis, size)
    dims = tuple(i for i in range(len(shape)) if i != axis)
    return shape_op("broadcast_in_dim")(x, tuple(shape), dims)


def matchaxis(src, dst: int, size: int, x):
    """``x`` (batched at ``src``, or ``not_mapped``) batched at ``dst``."""
    if src is not_mapped:
        return broadcast(x, size, dst)
    return moveaxis(x, src, dst)


def bdim_at_front(x, bdim, size: int):
    """``x`` with its batch dim first; an unmapped ``x`` is broadcast to ``size``."""
    return matchaxis(bdim, 0, size, x)


def axis_size(batched_args, batch_dims) -> int:
    """The length of the mapped axis, read from the first mapped argument."""
    for x, d in zip(batched_args, batch_dims, strict=True):
        if d is not not_mapped:
            return get_aval(x).shape[d]
    raise FunctraceError("internal error: a batching rule was called with no mapped argument")


def unbatched_shape(x, bdim) -> tuple[int, ...]:
    shape = get_aval(x).shape
    return shape if bdim is not_mapped else shape[:bdim] + shape[bdim + 1:]


def shift_axes(axes, bdim) -> tuple[int, ...]:
    """Axes of one example as axes of the batched value (batch dim at ``bdim``)."""
    return tuple(a + (a >= bdim) for a in axes)


def vectorized_batcher(prim: Primitive, batched_args, batch_dims, **params):
    """Rule of a unary primitive that acts on each element (or row) independently."""
    (x,), (d,) = batched_args, batch_dims
    return prim.bind(x, **params), d


def defvectorized(prim: Primitive):
    batching_rules[prim] = partial(vectorized_batcher, prim)


def broadcast_batcher(prim: Primitive, keep_scalars: bool, batched_args, batch_dims,
                      **params):
    """Rule of an n-ary elementwise primitive (operands of equal shapes, or rank 0).

    Batched operands are moved to one batch position; unmapped operands of the full
    shape are broadcast along the batch axis. With ``keep_scalars`` an unmapped rank-0
    operand stays rank 0 (lax broadcasts it); otherwise it is broadcast too.
    """
    shapes = [unbatched_shape(x, d) for x, d in zip(batched_args, batch_dims, strict=True)]
    out_shape = max(shapes, key=len)
    size = axis_size(batched_args, batch_dims)
    target = next((d for d, s in zip(batch_dims, shapes, strict=True)
                   if d is not not_mapped and s == out_shape), 0)
    full = list(out_shape)
    full.insert(target, size)
    full = tuple(full)
    bcast = shape_op("broadcast_in_dim")
    args = []
    for x, d, s in zip(batched_args, batch_dims, shapes, strict=True):
        if d is not_mapped:
            if keep_scalars and s == ():
                args.append(x)
            else:
                args.append(bcast(x, full, tuple(i for i in range(len(full))
                                                  if i != target)[:len(s)]))
        elif s == out_shape:
            args.append(moveaxis(x, d, target))
        else:  # a batched rank-0 operand of a non-scalar operation
            args.append(bcast(x, full, (target,)))
    out = prim.bind(*args, **params)
    if prim.multiple_results:
        return out, [target] * len(out)
    return out, target


def defbroadcasting(prim: Primitive, keep_scalars: bool = True):
    batching_rules[prim] = partial(broadcast_batcher, prim, keep_scalars)


# add_any is defined in ad.py, below this module (ad cannot import it: ad <- api <- here)
defbroadcasting(add_any_p, keep_scalars=False)


def unmapped_rule(prim: Primitive, batched_args, batch_dims, **params):
    """Rule of a primitive without operands (``iota``, ``full``): never batched."""
    return prim.bind(*batched_args, **params), not_mapped


def sum_batch_axis(x, bdim):
    """Sums ``x`` over its batch axis (a cotangent of an unmapped value)."""
    return x if bdim is not_mapped else shape_op("reduce_sum")(x, (bdim,))


# ---------------------------------------------------------------------------
# the batch trace

class AxisData:
    """The mapped axis of one batch trace, as collectives see it.

    ``size`` lanes live in this process. Under a multi-process ``pmap`` the axis spans
    ``group.size`` processes: it has ``global_size = size * group.size`` lanes and this
    process holds lanes ``offset .. offset + size - 1``; collectives over it also call the
    group's cross-process collectives. ``group`` is None for one process.
    """

    __slots__ = ("size", "name", "group", "global_size", "offset")

    def __init__(self, size: int, name, group=None):
        self.size = size
        self.name = name
        self.group = group if group is not None and group.size > 1 else None
        nproc = 1 if self.group is None else self.group.size
        self.global_size = size * nproc
        self.offset = 0 if self.group is None else self.group.rank * size


def axis_frame(name):
    """The innermost batch trace that binds the axis ``name`` (JAX's error if none does)."""
    for main in reversed(trace_stack):
        data = main.global_data
        if main.trace_type is BatchTrace and data.name is not None and data.name == name:
            return main
    bound = [m.global_data.name for m in reversed(trace_stack)
             if m.trace_type is BatchTrace and m.global_data.name is not None]
    raise UnboundAxisError(
        f"unbound axis name: {name}. The following axis names (e.g. defined by pmap) are "
        f"available to collective operations: {bound}. Call the collective inside "
        f"pmap(f, axis_name={name!r}) or vmap(f, axis_name={name!r}).")


class BatchTracer(Tracer):
    """A batched value: ``val`` with its batch dim at ``batch_dim`` (or not mapped)."""

    __slots__ = ("val", "batch_dim")

    def __init__(self, trace, val, batch_dim):
        self._trace = trace
        self.val = val
        self.batch_dim = batch_dim

    @property
    def aval(self) -> ShapedArray:
        aval = get_aval(self.val)
        if self.batch_dim is not_mapped:
            return aval
        d = self.batch_dim
        return ShapedArray(aval.shape[:d] + aval.shape[d + 1:], aval.dtype, aval.weak_type)

    def full_lower(self):
        if self.batch_dim is not_mapped:
            v = self.val
            return v.full_lower() if isinstance(v, Tracer) else v
        return self

    def concrete_value(self, op: str):
        if self.batch_dim is not_mapped:
            v = self.val
            return v.concrete_value(op) if isinstance(v, Tracer) else np.asarray(v)
        raise ConcretizationError(
            f"{op}() was called on a {self.aval.str_short()} value batched by vmap: it has one "
            "value per example, so Python control flow cannot depend on it. Use "
            "functrace.numpy.where(cond, x, y) for an elementwise choice, or pass the value "
            "with in_axes=None if it is the same for every example.")


class BatchTrace(Trace):
    def pure(self, val) -> BatchTracer:
        return BatchTracer(self, val, not_mapped)

    lift = pure

    def process_primitive(self, primitive, tracers, params):
        vals = [t.val for t in tracers]
        dims = [t.batch_dim for t in tracers]
        axis_rule = axis_batching_rules.get(primitive)
        if axis_rule is None and all(d is not_mapped for d in dims):
            out = primitive.bind(*vals, **params)
            return [self.pure(o) for o in out] if primitive.multiple_results else self.pure(out)
        rule = batching_rules.get(primitive) if axis_rule is None else partial(
            axis_rule, self.main.global_data)
        if rule is None:
            raise MissingRuleError(
                f"Batching rule for '{primitive.name}' is not implemented (vmap); register one "
                "in functrace.transforms.batching.batching_rules, or move the vmap inside a "
                "function that does not use this primitive.")
        # the shape rule on one example: errors speak of the user's (per-example) shapes
        expected = primitive.abstract_eval(*[t.aval for t in tracers], **params)
        out, out_dim = rule(vals, dims, **params)
        if primitive.multiple_results:
            for o, d, a in zip(out, out_dim, expected, strict=True):
                _check_rule_output(primitive, o, d, a)
            return [BatchTracer(self, o, d) for o, d in zip(out, out_dim, strict=True)]
        _check_rule_output(primitive, out, out_dim, expected)
        return BatchTracer(self, out, out_dim)


    # custom_jvp / custom_vjp functions: the body and the rules are batched, and the
    # batched function keeps the (batched) rules, so differentiation below vmap uses them
    def _batched_call_args(self, tracers):
        vals = [t.val for t in tracers]
        dims = [t.batch_dim for t in tracers]
        if all(d is not_mapped for d in dims):
            return None
        size = self.main.global_data.size
        vals = [v if d is not_mapped else moveaxis(v, d, 0) for v, d in zip(vals, dims,
                                                                             strict=True)]
        return vals, [d is not not_mapped for d in dims], [t.aval for t in tracers], size

    def process_custom_jvp_call(self, prim, fun, jvp, tracers, *, symbolic_zeros):
        call = self._batched_call_args(tracers)
        if call is None:
            outs = bind_custom_jvp_call(prim, fun, jvp, [t.val for t in tracers],
                                        symbolic_zeros=symbolic_zeros)
            return [self.pure(o) for o in outs]
        vals, in_b, avals, size = call
        fun_b = _batched_fun(fun, in_b, size)
        n = len(vals)

        def jvp_b(primals, tangents):
            # symbolic zeros cannot be mapped over: under vmap the rule sees zeros
            tangents = [instantiate_zeros(t) for t in tangents]
            dims = in_b + [_is_batched(t, a) for t, a in zip(tangents, avals, strict=True)]
            outs = _batched_fun(lambda *a: _concat(jvp(list(a[:n]), list(a[n:]))), dims,
                                size)(*primals, *tangents)
            m = len(outs) // 2
            return outs[:m], outs[m:]

        outs = bind_custom_jvp_call(prim, fun_b, jvp_b, vals, symbolic_zeros=symbolic_zeros)
        return [BatchTracer(self, o, 0) for o in outs]

    def process_custom_vjp_call(self, prim, fun, fwd, bwd, tracers, *, out_trees,
                                symbolic_zeros):
        call = self._batched_call_args(tracers)
        if call is None:
            outs = bind_custom_vjp_call(prim, fun, fwd, bwd, [t.val for t in tracers],
                                        out_trees=out_trees, symbolic_zeros=symbolic_zeros)
            return [self.pure(o) for o in outs]
        vals, in_b, _, size = call
        fun_b = _batched_fun(fun, in_b, size)
        n_out = [0]

        def fwd_b(*xs, **kw):  # kw: perturbed= (symbolic_zeros), the same per example
            def flat(*a):
                out, res = fwd(*a, **kw)
                n_out[0] = len(out)
                return [*out, *res]
            outs = _batched_fun(flat, in_b, size)(*xs)
            return outs[:n_out[0]], outs[n_out[0]:]

        def bwd_b(res, cts):
            nr = len(res)
            cts_in = _batched_fun(lambda *a: bwd(list(a[:nr]), list(a[nr:])),
                                  [True] * (nr + len(cts)), size)(*res, *cts)
            # an input shared by every example collects the cotangents of all of them
            return [c if b else sum_batch_axis(c, 0) for c, b in zip(cts_in, in_b, strict=True)]

        outs = bind_custom_vjp_call(prim, fun_b, fwd_b, bwd_b, vals, out_trees=out_trees,
                                    symbolic_zeros=symbolic_zeros)
        return [BatchTracer(self, o, 0) for o in outs]


def _is_batched(x, aval: ShapedArray) -> bool:
    return get_aval(x).ndim == aval.ndim + 1


def _concat(pair):
    a, b = pair
    return [*a, *b]


def _batched_fun(fun, in_batched, size: int):
    """``fun`` on values batched at 0 (flags ``in_batched``); every output batched at 0."""
    def batched(*xs):
        outs, dims = batch_flat(fun, list(xs), [0 if b else not_mapped for b in in_batched],
                                size)
        return [bdim_at_front(o, d, size) for o, d in zip(outs, dims, strict=True)]
    batched.__name__ = getattr(fun, "__name__", "fun")
    return batched


def _check_rule_output(prim, out, out_dim, expected: ShapedArray):
    got = unbatched_shape(out, out_dim)
    if got != expected.shape or get_aval(out).dtype != expected.dtype:
        raise FunctraceError(
            f"internal error: the batching rule of '{prim.name}' produced "
            f"{get_aval(out).str_short()} batched at {out_dim}, but one example should be "
            f"{expected.str_short()}")


def batch_flat(fun, vals, in_dims, size: int, axis_name=None, group=None):
    """Runs ``fun`` (flat arrays in, flat list out) on ``vals`` batched at ``in_dims``.

    Returns the output values and their batch dims (``not_mapped`` where an output
    does not depend on the mapped axis); ``fun`` is called inside the batch trace.
    ``group`` (a process group) makes the axis span processes (``pmap``).
    """
    with new_main(BatchTrace, AxisData(size, axis_name, group)) as main:
        trace = BatchTrace(main)
        # an unmapped NumPy array becomes an Array, so a batched index into it works
        args = [wrap(v) if d is not_mapped else BatchTracer(trace, v, d)
                for v, d in zip(vals, in_dims, strict=True)]
        outs = fun(*args)
        out_vals, out_dims = [], []
        for o in outs:
            if isinstance(o, BatchTracer) and o._trace.main is main:
                out_vals.append(o.val)
                out_dims.append(o.batch_dim)
            else:
                out_vals.append(o)
                out_dims.append(not_mapped)
    return out_vals, out_dims
