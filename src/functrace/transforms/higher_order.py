"""Transformations of whole jaxprs: the building blocks of higher-order primitives.

A primitive that holds a program (``cond``, ``scan``, ``while``, ``jit``,
``remat``, ``custom_jvp_call``...) writes each of its rules by applying the same
transformation to the jaxpr it holds, as JAX does:

- ``jvp_jaxpr``: primals and nonzero tangents in, primal and tangent outputs out;
- ``batch_jaxpr``: the same program on values with a leading batch axis;
- ``partial_eval_jaxpr``: a known program (known outputs and residuals) and an
  unknown one (residuals and unknown inputs -> unknown outputs);
- ``transpose_jaxpr``: non-linear inputs and output cotangents -> input cotangents.

Each is a trace of a small Python function that interprets the jaxpr under the
transformation (``trace_to_jaxpr`` of ``eval_jaxpr`` under ``jvp_flat``...), so
nested higher-order primitives go through their own rules. The results are
``ClosedJaxpr``s whose constants are concrete arrays (the inputs are abstract).
"""

from __future__ import annotations

import numpy as np

from ..core.avals import ShapedArray
from ..core.jaxpr import ClosedJaxpr, Jaxpr, Literal, Var
from ..core.trace import (
    eval_jaxpr,
    full_lower,
    impl_rules,
    trace_to_jaxpr,
)
from ..errors import FunctraceError
from .ad import (
    UndefPrimal,
    Zero,
    backward_pass,
    instantiate_zeros,
    is_differentiable,
    jvp_flat,
    tangent_aval,
)
from .batching import batch_flat, broadcast, moveaxis, not_mapped
from .partial_eval import PartialVal, partial_eval_flat

__all__ = [
    "batch_jaxpr", "closure_convert", "dce_jaxpr", "eval_jaxpr_impl", "jaxpr_as_fun",
    "jvp_jaxpr", "with_extra_inputs",
    "partial_eval_jaxpr", "permute_jaxpr", "transpose_jaxpr",
]


def jaxpr_as_fun(closed: ClosedJaxpr):
    """``closed`` as a Python function of flat arrays (binds each equation)."""
    def fun(*args):
        return eval_jaxpr(closed.jaxpr, closed.consts, *args)
    return fun


def eval_jaxpr_impl(closed: ClosedJaxpr, *args) -> list:
    """Evaluates ``closed`` on NumPy values with the reference impls, bypassing the trace
    stack (an impl may run while a staging trace is active, e.g. in ``jit``'s folding)."""
    jaxpr = closed.jaxpr
    env: dict = dict(zip(jaxpr.constvars, closed.consts, strict=True))
    env.update(zip(jaxpr.invars, args, strict=True))

    def read(a):
        return a.val if isinstance(a, Literal) else env[a]

    for eqn in jaxpr.eqns:
        rule = impl_rules.get(eqn.primitive)
        if rule is None:
            raise FunctraceError(f"primitive '{eqn.primitive.name}' has no reference "
                                 "implementation")
        outs = rule(*[read(a) for a in eqn.inputs], **eqn.params)
        if not eqn.primitive.multiple_results:
            outs = [outs]
        for v, o in zip(eqn.outvars, outs, strict=True):
            env[v] = _as_array(o, v.aval)
    return [_as_array(read(a), a.aval) for a in jaxpr.outvars]


def _as_array(x, aval: ShapedArray):
    x = np.asarray(x)
    return x if x.dtype == aval.dtype else x.astype(aval.dtype)


def closure_convert(closed: ClosedJaxpr) -> tuple[ClosedJaxpr, list]:
    """Turns the constants of ``closed`` into leading inputs: ``(jaxpr, consts)``.

    Higher-order primitives take what their bodies close over as operands, so every
    transformation sees (and can differentiate or batch) those values.
    """
    j = closed.jaxpr
    return ClosedJaxpr(Jaxpr([], j.constvars + j.invars, j.eqns, j.outvars), []), list(
        closed.consts)


def permute_jaxpr(closed: ClosedJaxpr, in_order=None, out_order=None) -> ClosedJaxpr:
    """The same program with inputs ``invars[i] for i in in_order`` (and outputs likewise)."""
    j = closed.jaxpr
    invars = j.invars if in_order is None else [j.invars[i] for i in in_order]
    outvars = j.outvars if out_order is None else [j.outvars[i] for i in out_order]
    return ClosedJaxpr(Jaxpr(j.constvars, invars, j.eqns, outvars), closed.consts)


def _flags(spec, n: int) -> list[bool]:
    return [bool(spec)] * n if isinstance(spec, bool) else list(spec)


# ---------------------------------------------------------------------------
# jvp

def jvp_jaxpr(closed: ClosedJaxpr, nonzeros, instantiate) -> tuple[ClosedJaxpr, list[bool]]:
    """The JVP of ``closed``: inputs ``[*primals, *tangents where nonzeros]``, outputs
    ``[*primal_outs, *tangent_outs where out_nonzeros]``; returns ``(jaxpr, out_nonzeros)``.

    ``instantiate`` (a flag or one per output) forces a tangent output even when it is
    a symbolic zero (only for inexact outputs: integers have no tangent).
    """
    in_avals = closed.in_avals
    n = len(in_avals)
    inst = _flags(instantiate, len(closed.out_avals))
    store: dict = {}

    def fun(*args):
        it = iter(args[n:])
        tangents = [next(it) if nz else Zero(tangent_aval(a))
                    for nz, a in zip(nonzeros, in_avals, strict=True)]
        p_out, t_out = jvp_flat(jaxpr_as_fun(closed), list(args[:n]), tangents)
        t_out = [instantiate_zeros(t) if i and isinstance(t, Zero) and is_differentiable(a)
                 else t for t, i, a in zip(t_out, inst, closed.out_avals, strict=True)]
        store["nz"] = [not isinstance(t, Zero) for t in t_out]
        return list(p_out) + [t for t in t_out if not isinstance(t, Zero)]

    avals = list(in_avals) + [tangent_aval(a) for a, nz in zip(in_avals, nonzeros, strict=True)
                              if nz]
    out = trace_to_jaxpr(fun, avals, transform="jvp", fun_name="jvp")
    return out, store["nz"]


# ---------------------------------------------------------------------------
# vmap

def batch_jaxpr(closed: ClosedJaxpr, size: int, in_batched, instantiate,
                axis_name=None) -> tuple[ClosedJaxpr, list[bool]]:
    """``closed`` mapped over a leading axis of length ``size`` of the inputs flagged in
    ``in_batched``; outputs come batched at 0 where they vary (or where ``instantiate``
    asks). Returns ``(jaxpr, out_batched)``."""
    inst = _flags(instantiate, len(closed.out_avals))
    store: dict = {}

    def fun(*args):
        dims = [0 if b else not_mapped for b in in_batched]
        outs, out_dims = batch_flat(jaxpr_as_fun(closed), list(args), dims, size, axis_name)
        res, flags = [], []
        for o, d, i in zip(outs, out_dims, inst, strict=True):
            if d is not_mapped:
                if i:
                    o, d = broadcast(o, size, 0), 0
            else:
                o, d = moveaxis(o, d, 0), 0
            res.append(o)
            flags.append(d is not not_mapped)
        store["batched"] = flags
        return res

    avals = [a.update(shape=(size, *a.shape)) if b else a
             for a, b in zip(closed.in_avals, in_batched, strict=True)]
    out = trace_to_jaxpr(fun, avals, transform="vmap", fun_name="vmap")
    return out, store["batched"]


# ---------------------------------------------------------------------------
# partial evaluation

def partial_eval_jaxpr(closed: ClosedJaxpr, unknowns, instantiate):
    """Splits ``closed`` into what can run now and what must wait for unknown inputs.

    Returns ``(known, unknown, out_unknowns, num_res)``:

    - ``known``: known inputs -> ``[*known outputs, *residuals]``;
    - ``unknown``: ``[*residuals, *unknown inputs]`` -> unknown outputs;
    - ``instantiate`` (flag or one per output) makes an output unknown even if known.
    """
    in_avals = closed.in_avals
    known_avals = [a for a, uk in zip(in_avals, unknowns, strict=True) if not uk]
    inst = _flags(instantiate, len(closed.out_avals))
    store: dict = {}

    def fun(*known_args):
        it = iter(known_args)
        pvals = [PartialVal.unknown(a) if uk else PartialVal.known(next(it))
                 for a, uk in zip(in_avals, unknowns, strict=True)]
        jaxpr_uk, residuals, pvals_out = partial_eval_flat(jaxpr_as_fun(closed), pvals, inst)
        store["jaxpr"] = jaxpr_uk
        store["out_uk"] = [not pv.is_known for pv in pvals_out]
        store["num_res"] = len(residuals)
        return [full_lower(pv.const) for pv in pvals_out if pv.is_known] + list(residuals)

    known = trace_to_jaxpr(fun, known_avals, transform="partial eval", fun_name="known")
    j = store["jaxpr"]
    unknown = ClosedJaxpr(Jaxpr([], j.constvars + j.invars, j.eqns, j.outvars), [])
    return known, unknown, store["out_uk"], store["num_res"]


# ---------------------------------------------------------------------------
# transposition

def transpose_jaxpr(closed: ClosedJaxpr, linear) -> ClosedJaxpr:
    """The transpose of ``closed`` w.r.t. its inputs flagged ``linear``.

    The result takes ``[*non-linear inputs, *output cotangents]`` and returns one
    cotangent per linear input (zeros where none reaches it).
    """
    in_avals = closed.in_avals
    res_avals = [a for a, lin in zip(in_avals, linear, strict=True) if not lin]
    nres = len(res_avals)

    def fun(*args):
        it = iter(args[:nres])
        ins = [UndefPrimal(tangent_aval(a)) if lin else next(it)
               for a, lin in zip(in_avals, linear, strict=True)]
        cts = backward_pass(closed.jaxpr, closed.consts, ins, list(args[nres:]))
        return [instantiate_zeros(c) for c, lin in zip(cts, linear, strict=True) if lin]

    avals = res_avals + [tangent_aval(a) for a in closed.out_avals]
    return trace_to_jaxpr(fun, avals, transform="transpose", fun_name="transpose")



def dce_jaxpr(closed: ClosedJaxpr, keep) -> ClosedJaxpr:
    """``closed`` returning only the outputs flagged in ``keep``, dead equations dropped."""
    j = closed.jaxpr
    outvars = [v for v, k in zip(j.outvars, keep, strict=True) if k]
    live = {v for v in outvars if not isinstance(v, Literal)}
    kept = []
    for eqn in reversed(j.eqns):
        if eqn.primitive.effectful or any(v in live for v in eqn.outvars):
            kept.append(eqn)
            live.update(x for x in eqn.inputs if not isinstance(x, Literal))
    return ClosedJaxpr(Jaxpr(j.constvars, j.invars, list(reversed(kept)), outvars),
                       closed.consts)


def with_extra_inputs(closed: ClosedJaxpr, avals, at: int | None = None) -> ClosedJaxpr:
    """``closed`` taking extra (unused) inputs of types ``avals`` at position ``at``."""
    j = closed.jaxpr
    extra = [Var(a) for a in avals]
    at = len(j.invars) if at is None else at
    invars = j.invars[:at] + extra + j.invars[at:]
    return ClosedJaxpr(Jaxpr(j.constvars, invars, j.eqns, j.outvars), closed.consts)
