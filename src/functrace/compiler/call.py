"""The ``jit`` call primitive: what ``jit(f)`` binds when it meets traced values.

Under ``grad``, ``vmap``, ``make_jaxpr`` or another ``jit``, a jitted function is traced
once per argument signature into a ``ClosedJaxpr`` and applied as one equation,
``jit[name=f jaxpr={ lambda ... }]``, as JAX 0.10 prints it. Every rule is the same
transformation applied to the program it holds (``transforms/higher_order.py``):

- impl: compiles the program with the default backend (once per program: the
  executable is memoised on the ``ClosedJaxpr``) and runs it;
- jvp: ``jvp_jaxpr``; batching: ``batch_jaxpr``;
- partial eval: ``partial_eval_jaxpr``; the known part is one ``jit`` equation (so
  eagerly it runs compiled) whose extra outputs are the residuals, the unknown part
  another one that takes them;
- transpose: the program is partially evaluated w.r.t. its linear inputs and the
  linear part transposed, all inside one ``jit`` equation.

Derived programs are memoised on the program they come from (``ClosedJaxpr.memo``), so
``grad(jit(f))`` called again reuses its JVP, its split and its transposition, and their
executables. The compiler inlines ``jit`` equations into the calling program before its
passes and fusion (``compiler/nested.inline_calls``; measured in docs/architecture.md).
"""

from __future__ import annotations

import numpy as np

from ..core.avals import canonicalize_value
from ..core.jaxpr import ClosedJaxpr, Jaxpr, pp_same_names
from ..core.trace import (
    Primitive,
    Tracer,
    abstract_eval_rules,
    get_aval,
    impl_rules,
    trace_to_jaxpr,
)
from ..errors import TransformError
from ..transforms import tape_fuse
from ..transforms.ad import (
    UndefPrimal,
    Zero,
    backward_pass,
    instantiate_zeros,
    is_undefined_primal,
    jvp_rules,
    tangent_aval,
    transpose_rules,
)
from ..transforms.batching import batching_rules, moveaxis, not_mapped
from ..transforms.higher_order import (
    batch_jaxpr,
    jaxpr_as_fun,
    jvp_jaxpr,
    partial_eval_jaxpr,
)
from ..transforms.partial_eval import partial_eval_rules
from ..transforms.tape import node_rules as tape_node_rules
from ..transforms.tape_vjp import linearize_node
from . import nested
from .registry import get_backend

__all__ = ["INLINE", "jit_p"]

# JAX 0.10's name. A backend that meets one (only when inlining is off) runs its impl,
# itself a compiled program (impl_fallback).
jit_p = Primitive("jit", multiple_results=True, impl_fallback=True)

# whether the compiler inlines jit equations into the calling program (see the module doc)
INLINE = {"on": True}


def memo(closed: ClosedJaxpr, key, make):
    """``make()``, computed once per ``key`` for the program ``closed`` and kept on it."""
    table = closed.memo
    if table is None:
        table = closed.memo = {}
    hit = table.get(key)
    if hit is None:
        hit = table[key] = make()
    return hit


# ---------------------------------------------------------------------------
# abstract eval and impl

def _abstract(*avals, jaxpr: ClosedJaxpr, name: str):
    want = jaxpr.in_avals
    if len(avals) != len(want) or any(a.shape != w.shape or a.dtype != w.dtype
                                      for a, w in zip(avals, want, strict=True)):
        got = ", ".join(a.str_short() for a in avals)
        exp = ", ".join(a.str_short() for a in want)
        raise TransformError(f"jit({name}): called with ({got}) but its program was traced "
                             f"for ({exp}); trace it again for these argument types")
    return list(jaxpr.out_avals)


def _execute(jaxpr: ClosedJaxpr, leaves) -> list:
    """Runs the program's executable (compiled on first use) on canonical arrays."""
    table = jaxpr.memo
    run = None if table is None else table.get("executable")
    if run is None:
        run = memo(jaxpr, "executable",
                   lambda: nested.compile_program(jaxpr, get_backend(None)))
    return run(*leaves)


def _impl(*args, jaxpr: ClosedJaxpr, name: str):
    return _execute(jaxpr, [canonicalize_value(x) for x in args])


abstract_eval_rules[jit_p] = _abstract
impl_rules[jit_p] = _impl


# ---------------------------------------------------------------------------
# forward mode

def _jvp(primals, tangents, *, jaxpr: ClosedJaxpr, name: str):
    nz = tuple(not isinstance(t, Zero) for t in tangents)
    jvp, out_nz = memo(jaxpr, ("jvp", nz), lambda: jvp_jaxpr(jaxpr, nz, False))
    outs = jit_p.bind(*primals, *[t for t in tangents if not isinstance(t, Zero)],
                      jaxpr=jvp, name=name)
    n = len(out_nz)
    it = iter(outs[n:])
    return outs[:n], [next(it) if z else Zero(tangent_aval(a))
                      for z, a in zip(out_nz, jaxpr.out_avals, strict=True)]


jvp_rules[jit_p] = _jvp


# ---------------------------------------------------------------------------
# partial evaluation: the known part runs (compiled, eagerly), residuals are its outputs

def _split(jaxpr: ClosedJaxpr, unknowns):
    """``partial_eval_jaxpr`` arranged as JAX arranges a ``jit``'s: residuals in the order
    the unknown program first reads them, and a residual that is a known input passed
    straight to the unknown program instead of being returned by the known one.

    Returns ``(known, unknown, out_uk, forwarded)``: ``forwarded[i]`` is the position
    among the known inputs of residual ``i``, or None when ``known`` returns it."""
    known, unknown, out_uk, nres = partial_eval_jaxpr(jaxpr, unknowns, False)
    kj, uj = known.jaxpr, unknown.jaxpr
    res_in = uj.invars[:nres]
    first = {}
    for k, eqn in enumerate(uj.eqns):
        for x in eqn.inputs:
            first.setdefault(x, k)
    order = sorted(range(nres), key=lambda i: first.get(res_in[i], len(uj.eqns)))
    n_kout = len(kj.outvars) - nres
    res_out = [kj.outvars[n_kout + i] for i in order]
    forwarded = [kj.invars.index(v) if v in kj.invars else None for v in res_out]
    known = ClosedJaxpr(Jaxpr(kj.constvars, kj.invars, kj.eqns, kj.outvars[:n_kout] + [
        v for v, f in zip(res_out, forwarded, strict=True) if f is None]), known.consts)
    unknown = ClosedJaxpr(Jaxpr(uj.constvars, [res_in[i] for i in order] + uj.invars[nres:],
                                uj.eqns, uj.outvars), unknown.consts)
    return known, unknown, out_uk, forwarded


def _partial_eval(trace, tracers, *, jaxpr: ClosedJaxpr, name: str):
    unknowns = tuple(not t.pval.is_known for t in tracers)
    known, unknown, out_uk, forwarded = memo(jaxpr, ("partial_eval", unknowns),
                                             lambda: _split(jaxpr, unknowns))
    known_in = [t.pval.const for t in tracers if t.pval.is_known]
    vals = jit_p.bind(*known_in, jaxpr=known, name=name)
    n_known = len(out_uk) - sum(out_uk)
    known_outs, returned = vals[:n_known], iter(vals[n_known:])
    if not any(out_uk):
        return known_outs
    residuals = [next(returned) if f is None else known_in[f] for f in forwarded]
    ins = ([trace.instantiate_const(trace.pure(r)) for r in residuals]
           + [t for t in tracers if not t.pval.is_known])
    staged = trace.stage(jit_p, ins, dict(jaxpr=unknown, name=name))
    it_k, it_u = iter(known_outs), iter(staged)
    return [next(it_u) if uk else next(it_k) for uk in out_uk]


partial_eval_rules[jit_p] = _partial_eval


# ---------------------------------------------------------------------------
# transposition

def _transpose_program(jaxpr: ClosedJaxpr, linear, ct_nonzero):
    """Non-linear inputs and the nonzero cotangents of the linear outputs -> one cotangent
    per linear input; the non-linear part is evaluated first (partial eval)."""
    known, unknown, out_uk, nres = partial_eval_jaxpr(jaxpr, linear, False)
    n_kout = len(known.out_avals) - nres
    nonlin = [a for a, lin in zip(jaxpr.in_avals, linear, strict=True) if not lin]
    lin_avals = [tangent_aval(a) for a, lin in zip(jaxpr.in_avals, linear, strict=True) if lin]
    uk_avals = [tangent_aval(a) for a, u in zip(jaxpr.out_avals, out_uk, strict=True) if u]
    ct_nz = [nz for nz, u in zip(ct_nonzero, out_uk, strict=True) if u]
    n = len(nonlin)

    def backward(*args):
        res = jaxpr_as_fun(known)(*args[:n])[n_kout:]
        it = iter(args[n:])
        cts = [next(it) if nz else Zero(a) for a, nz in zip(uk_avals, ct_nz, strict=True)]
        ins = [*res, *[UndefPrimal(a) for a in lin_avals]]
        cts_in = backward_pass(unknown.jaxpr, unknown.consts, ins, cts)[len(res):]
        return [instantiate_zeros(c) for c in cts_in]

    avals = nonlin + [a for a, nz in zip(uk_avals, ct_nz, strict=True) if nz]
    return trace_to_jaxpr(backward, avals, transform="transpose", fun_name="transpose"), out_uk


def _transpose(cts, *args, jaxpr: ClosedJaxpr, name: str):
    linear = tuple(is_undefined_primal(x) for x in args)
    ct_nz = tuple(not isinstance(c, Zero) for c in cts)
    bwd, out_uk = memo(jaxpr, ("transpose", linear, ct_nz),
                       lambda: _transpose_program(jaxpr, linear, ct_nz))
    cts_in = [c for c, u, nz in zip(cts, out_uk, ct_nz, strict=True) if u and nz]
    nonlin = [x for x in args if not is_undefined_primal(x)]
    outs = iter(jit_p.bind(*nonlin, *cts_in, jaxpr=bwd, name=name))
    return [next(outs) if lin else None for lin in linear]


transpose_rules[jit_p] = _transpose


# ---------------------------------------------------------------------------
# batching

def _batch(args, dims, *, jaxpr: ClosedJaxpr, name: str):
    size = next(get_aval(x).shape[d] for x, d in zip(args, dims, strict=True)
                if d is not not_mapped)
    in_b = tuple(d is not not_mapped for d in dims)
    args = [x if d is not_mapped else moveaxis(x, d, 0) for x, d in zip(args, dims, strict=True)]
    batched, out_b = memo(jaxpr, ("batch", size, in_b),
                          lambda: batch_jaxpr(jaxpr, size, in_b, False))
    outs = jit_p.bind(*args, jaxpr=batched, name=name)
    return outs, [0 if b else not_mapped for b in out_b]


batching_rules[jit_p] = _batch


# ---------------------------------------------------------------------------
# eager reverse mode (the tape): the compiled forward and backward programs

def _vjp_programs(jaxpr: ClosedJaxpr, mask):
    """``(forward, backward, out_nz, forwarded)``: ``forward`` maps the inputs to the
    outputs and the residuals it returns, ``backward`` the residuals and the output
    cotangents of the outputs with a tangent (``out_nz``) to the cotangents of the inputs
    flagged in ``mask``; None when some tangent output does not depend on the tangents."""
    jvp, out_nz = memo(jaxpr, ("jvp", mask), lambda: jvp_jaxpr(jaxpr, mask, False))
    n_in, n_out = len(mask), len(out_nz)
    unknowns = (False,) * n_in + (True,) * sum(mask)
    known, unknown, out_uk, forwarded = memo(jvp, ("partial_eval", unknowns),
                                             lambda: _split(jvp, unknowns))
    if any(out_uk[:n_out]) or not all(out_uk[n_out:]):
        return None
    nres = len(forwarded)
    linear = (False,) * nres + (True,) * sum(mask)
    ct_nz = (True,) * sum(out_nz)
    backward, _ = memo(unknown, ("transpose", linear, ct_nz),
                       lambda: _transpose_program(unknown, linear, ct_nz))
    return known, backward, out_nz, forwarded


def _tape_node(vals, mask, *, jaxpr: ClosedJaxpr, name: str):
    mask = tuple(mask)
    progs = memo(jaxpr, ("tape", mask), lambda: _vjp_programs(jaxpr, mask) or False)
    if not progs:  # not the usual shape: linearize this application generically
        return linearize_node(lambda *xs: jit_p.bind(*xs, jaxpr=jaxpr, name=name), vals,
                              list(mask), True)
    known, backward, out_nz, forwarded = progs
    outs = _execute(known, vals)  # the tape's values are canonical arrays
    n_out = len(out_nz)
    returned = iter(outs[n_out:])
    residuals = [next(returned) if f is None else vals[f] for f in forwarded]
    primal_outs = outs[:n_out]

    def run_backward(cts):
        cts = [c if c is not None else np.zeros(o.shape, o.dtype)
               for c, o, nz in zip(cts, primal_outs, out_nz, strict=True) if nz]
        if any(isinstance(c, Tracer) for c in cts):  # a transformation of the backward pass
            cts_in = iter(jit_p.bind(*residuals, *cts, jaxpr=backward, name=name))
        else:
            cts_in = iter(_execute(backward, [*residuals, *map(canonicalize_value, cts)]))
        return [next(cts_in) if m else None for m in mask]

    return primal_outs, [not nz for nz in out_nz], run_backward


tape_node_rules[jit_p] = _tape_node


def _tape_compile(closed: ClosedJaxpr):
    """A node's elementwise program for the eager tape (``transforms/tape_fuse``), compiled
    on the CPU backend as ``jit`` would; None when the default backend is another."""
    backend = get_backend(None)
    return nested.compile_program(closed, backend) if backend.name == "cpu" else None


tape_fuse.eager_compile = _tape_compile


# ---------------------------------------------------------------------------
# printing and compiling

pp_same_names[jit_p] = "jaxpr"  # inner binders take the names of the operands/results
nested.INLINED[jit_p] = ("jaxpr", lambda params: INLINE["on"])
