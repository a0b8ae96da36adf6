"""Per-signature VJP programs for the eager tape (``tape.py``).

For a primitive applied to inputs of given avals, with given inputs differentiated,
``derive`` runs the primitive's JVP rule on staging tracers under partial evaluation and
transposes the linear part with ``backward_pass``: what the jaxpr path does for a whole
program, done once per signature. The staged program is split into a *forward* part (the
outputs and the residuals) and a *backward* part (the transposed linear program); each is
a list of reference-impl (or backend-kernel) calls that ``run_steps`` executes on a list of
slots, without ``bind``. ``linearize_node`` is the same linearization on concrete values,
the per-node fallback for what cannot be staged.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.avals import ShapedArray, canonicalize_value, is_inexact
from ..core.jaxpr import ClosedJaxpr, Eqn, Jaxpr, Literal, Var
from ..core.trace import get_aval, impl_rules, trace_to_jaxpr
from . import tape_fuse
from .ad import UndefPrimal, Zero, backward_pass, jvp_flat, tangent_aval
from .custom import custom_jvp_call_p, custom_vjp_call_p
from .partial_eval import PartialVal, partial_eval_flat, partial_eval_rules
from .tape_fuse import fused_step, worth_fusing

ZERO_TANGENT = "zero"  # cache entry: the outputs do not depend differentiably on inputs
GENERIC = "generic"    # cache entry: use the per-node fallback
_CALLS = (custom_jvp_call_p, custom_vjp_call_p)  # inlined into a staged VJP
INTERNED: dict = {}


def intern(aval: ShapedArray) -> ShapedArray:
    """One object per aval, so cache keys can hold ``id(aval)`` (each cache entry keeps
    its avals alive, so the table may be emptied at any time)."""
    if len(INTERNED) > 65536:
        INTERNED.clear()
    return INTERNED.setdefault(aval, aval)


def linearize_node(apply, primals, mask, multiple):
    """JVP of ``apply`` at ``primals`` under partial evaluation (what the jaxpr path does).

    Returns the primal outputs, which of them have a symbolic-zero tangent, and a
    function mapping output cotangents (``None`` for zero) to one cotangent per input with
    ``mask`` set (``None`` where none reaches it). Works on concrete values and on staging
    tracers alike.
    """
    n = len(primals)
    info: dict[str, Any] = {}

    def f_jvp(*xs):
        ps, it = xs[:n], iter(xs[n:])
        ts = [next(it) if m else Zero(tangent_aval(get_aval(p)))
              for p, m in zip(ps, mask, strict=True)]
        outs, touts = jvp_flat(lambda *a: apply(*a) if multiple else [apply(*a)], ps, ts)
        info["n_out"] = len(outs)
        info["zero"] = [isinstance(t, Zero) for t in touts]
        return [*outs, *[t for t in touts if not isinstance(t, Zero)]]

    pvals = ([PartialVal.known(p) for p in primals]
             + [PartialVal.unknown(tangent_aval(get_aval(p)))
                for p, m in zip(primals, mask, strict=True) if m])
    jaxpr, residuals, pvals_out = partial_eval_flat(
        f_jvp, pvals, lambda k: [i >= info["n_out"] for i in range(k)])
    outs = [pv.const for pv in pvals_out[:info["n_out"]]]
    zero = info["zero"]
    undef = [UndefPrimal(tangent_aval(get_aval(p)))
             for p, m in zip(primals, mask, strict=True) if m]

    def backward(cts):
        # a missing cotangent stays a symbolic zero (a custom_vjp bwd registered with
        # symbolic_zeros=True sees it as one)
        cts_nz = [c if c is not None else Zero(tangent_aval(get_aval(o)))
                  for c, o, z in zip(cts, outs, zero, strict=True) if not z]
        cts_in = iter(backward_pass(jaxpr, residuals, undef, cts_nz))
        res = []
        for m in mask:
            if m:
                c = next(cts_in)
                res.append(None if isinstance(c, Zero) else c)
            else:
                res.append(None)
        return res

    return outs, zero, backward


# ---------------------------------------------------------------------------
# derived VJPs: a forward program and a backward program of impl calls

class Derived:
    __slots__ = ("template", "fwd", "out_idx", "out_avals", "bwd", "bwd_bind", "ct_idx",
                 "in_ct_idx", "one_blas_thread", "drop", "lazy")


def holds_program(params) -> bool:
    """Whether ``params`` carry a jaxpr or a function (higher-order primitives)."""
    return any(isinstance(v, ClosedJaxpr | Jaxpr) or callable(v) for v in params.values())


def derive(prim, params, avals, mask):
    out = prim.abstract_eval(*avals, **params)  # a shape error surfaces here, as in eager
    out_avals = list(out) if prim.multiple_results else [out]
    if not any(is_inexact(a.dtype) for a in out_avals):
        return ZERO_TANGENT
    if prim in partial_eval_rules or holds_program(params):
        return GENERIC
    try:
        return _stage_vjp(prim, params, avals, mask, out_avals)
    except Exception:  # noqa: BLE001 - a rule that cannot be staged: the per-node path
        return GENERIC


def derive_function(apply, avals, mask):
    """``derive`` for a function of arrays returning a list (a ``custom_jvp`` function's
    application, ``tape_custom``): its VJP staged once, its custom calls inlined."""
    try:
        out_avals = [ShapedArray(v.aval.shape, v.aval.dtype)
                     for v in trace_to_jaxpr(apply, list(avals), transform="grad").jaxpr.outvars]
        if not any(is_inexact(a.dtype) for a in out_avals):
            return ZERO_TANGENT
        return _stage_vjp(apply, True, avals, mask, out_avals)
    except Exception:  # noqa: BLE001 - a rule that cannot be staged: the per-node path
        return GENERIC


def _stage_vjp(prim, params, avals, mask, out_avals):
    if params is True:  # a function (derive_function), not a primitive
        apply, multiple = prim, True
    else:
        multiple = prim.multiple_results

        def apply(*xs):
            return prim.bind(*xs, **params)
    n, n_out = len(avals), len(out_avals)
    info: dict[str, Any] = {}

    def fun(*args):
        outs, zero, backward = linearize_node(apply, args[:n], mask, multiple)
        info["zero"] = zero
        cts_in = backward(list(args[n:]))
        info["ct_zero"] = [c is None for c in cts_in]
        return [*outs, *[c for c in cts_in if c is not None]]

    ct_avals = [tangent_aval(a) for a in out_avals]
    closed = _inline_custom(trace_to_jaxpr(fun, [*avals, *ct_avals], transform="grad"))
    zero = info["zero"]
    if all(zero):
        return ZERO_TANGENT
    jaxpr = closed.jaxpr
    # slots: inputs, then cotangents, then constants, then every equation's outputs
    slot: dict = {}
    template: list = []
    for v in jaxpr.invars:
        slot[v] = len(template)
        template.append(None)
    for v, c in zip(jaxpr.constvars, closed.consts, strict=True):
        slot[v] = len(template)
        template.append(canonicalize_value(c))

    def idx(a):
        if isinstance(a, Literal):
            slot[a] = len(template)
            template.append(canonicalize_value(a.val))
        return slot[a]

    fwd_eqns, bwd_eqns = _split(jaxpr, n)
    outvars = jaxpr.outvars
    d = Derived()
    rewritten = _rewrites(fwd_eqns + bwd_eqns)
    nf = len(fwd_eqns)
    fused = None
    if not rewritten and not any(_impl_of(e, False) for e in fwd_eqns) and worth_fusing(
            fwd_eqns, EAGER_KERNEL_MIN_SIZE):
        later = {a for e in bwd_eqns for a in e.inputs} | set(outvars)
        fused = fused_step(fwd_eqns, later, slot, template)
    d.fwd = [fused] if fused is not None else [
        _step(e, slot, template, idx) if k not in rewritten
        else _rewritten_step(rewritten[k], slot, template, idx)
        for k, e in enumerate(fwd_eqns)]
    # the plain backward first: a rewritten or fused step writes to the same slots, and
    # traced cotangents (``run_steps_bind``) take the plain one, all primitives
    d.bwd = d.bwd_bind = [_step(e, slot, template, idx) for e in bwd_eqns]
    if any(k >= nf for k in rewritten):
        d.bwd = [st if k + nf not in rewritten
                 else _rewritten_step(rewritten[k + nf], slot, template, idx)
                 for k, st in enumerate(d.bwd_bind)]
    elif not any(_impl_of(e, False) for e in bwd_eqns) and worth_fusing(
            bwd_eqns, EAGER_KERNEL_MIN_SIZE):
        fused = fused_step(bwd_eqns, set(outvars), slot, template)
        if fused is not None:
            d.bwd = [fused]
    d.template = template
    d.out_idx = [idx(a) for a in outvars[:n_out]]
    d.out_avals = [None if z else intern(ShapedArray(a.shape, a.dtype))
                   for a, z in zip(out_avals, zero, strict=True)]
    d.ct_idx = [slot[v] for v in jaxpr.invars[n:]]
    ct_out = iter(outvars[n_out:])
    # one entry per input: None where no cotangent reaches it (or it is not differentiated)
    d.in_ct_idx = [None if z else idx(next(ct_out)) for z in info["ct_zero"]]
    d.one_blas_thread = any(getattr(st[0], "one_blas_thread", False)
                            for st in d.fwd + d.bwd)
    # what the node need not keep once its outputs are out: forward values (inputs
    # included) that neither backward reads, so a tape holds residuals only
    read = {i for st in d.bwd + d.bwd_bind for i in st[1]}
    made = [*range(n), *(i for st in d.fwd for i, _ in st[3])]
    d.drop = tuple(i for i in made if i not in read and i not in d.in_ct_idx)
    d.lazy = None
    if (not rewritten and None not in d.out_avals and fwd_eqns
            and tape_fuse.passes(fwd_eqns, 0) is not None
            and any(v.aval.size >= EAGER_KERNEL_MIN_SIZE for e in fwd_eqns for v in e.outvars)
            and not any(_impl_of(e, False) for e in fwd_eqns)):
        # what tape_lazy needs to run this forward inside a larger program
        idx_var = dict(enumerate(jaxpr.invars[:n]))
        idx_var.update((slot[v], v) for e in fwd_eqns for v in e.outvars if v in slot)
        if all(i in idx_var for i in d.out_idx):
            used = {a for e in fwd_eqns for a in e.inputs}
            d.lazy = (tuple(jaxpr.invars[:n]), tuple(fwd_eqns), idx_var,
                      tuple((v, slot[v]) for v in jaxpr.constvars if v in used),
                      tuple(sorted(i for i in read if i in idx_var)))
    return d


def _split(jaxpr, n: int):
    """The staged VJP's equations as ``(forward, backward)``: the backward is what reads a
    cotangent; the forward keeps only what the outputs and the backward read. Equations of
    constants alone that only the backward reads (a broadcast zero) move to it, so a fused
    forward does not write them out."""
    bwd_vars = set(jaxpr.invars[n:])
    fwd_eqns, bwd_eqns = [], []
    for e in jaxpr.eqns:
        if any(not isinstance(a, Literal) and a in bwd_vars for a in e.inputs):
            bwd_eqns.append(e)
            bwd_vars.update(e.outvars)
        else:
            fwd_eqns.append(e)
    outvars = jaxpr.outvars
    # dead-code elimination: the forward keeps what the outputs and the backward read
    needed = {a for a in outvars if not isinstance(a, Literal)}
    for e in bwd_eqns:
        needed.update(a for a in e.inputs if not isinstance(a, Literal))
    kept = []
    for e in reversed(fwd_eqns):
        if any(v in needed for v in e.outvars):
            kept.append(e)
            needed.update(a for a in e.inputs if not isinstance(a, Literal))
    fwd_eqns = kept[::-1]
    varying = set(jaxpr.invars[:n])
    for e in fwd_eqns:
        if any(a in varying for a in e.inputs if not isinstance(a, Literal)):
            varying.update(e.outvars)
    fwd_read = {a for e in fwd_eqns for a in e.inputs} | set(outvars)
    moved = [e for e in fwd_eqns
             if not any(v in varying or v in fwd_read for v in e.outvars)]
    if moved:
        fwd_eqns = [e for e in fwd_eqns if all(e is not m for m in moved)]
        bwd_eqns = moved + bwd_eqns
    return fwd_eqns, bwd_eqns


def _inline_custom(closed: ClosedJaxpr) -> ClosedJaxpr:
    """``closed`` with its ``custom_jvp_call``/``custom_vjp_call`` equations (a rule that
    calls its own function, as ReLU's does) replaced by their bodies' equations: the same
    impls on the same values, which the tape runs (and a backend kernel may take) one by
    one rather than through an interpreter call."""
    if not any(e.primitive in _CALLS for e in closed.jaxpr.eqns):
        return closed
    consts, constvars, eqns = list(closed.consts), list(closed.jaxpr.constvars), []

    def inline(jaxpr, subst):
        def sub(a):
            return subst.get(a, a) if isinstance(a, Var) else a

        for e in jaxpr.eqns:
            ins = [sub(a) for a in e.inputs]
            if e.primitive not in _CALLS:
                outs = [Var(v.aval) for v in e.outvars]
                subst.update(zip(e.outvars, outs, strict=True))
                eqns.append(Eqn(e.primitive, ins, e.params, outs))
                continue
            body = e.params["call_jaxpr"]
            inner: dict = {}
            for v, c in zip(body.jaxpr.constvars, body.consts, strict=True):
                inner[v] = nv = Var(v.aval)
                constvars.append(nv)
                consts.append(c)
            inner.update(zip(body.jaxpr.invars, ins, strict=True))  # consts lead the inputs
            inline(body.jaxpr, inner)
            for v, o in zip(e.outvars, body.jaxpr.outvars, strict=True):
                subst[v] = inner.get(o, o) if isinstance(o, Var) else o

    subst: dict = {}
    inline(closed.jaxpr, subst)
    outvars = [subst.get(v, v) if isinstance(v, Var) else v for v in closed.jaxpr.outvars]
    return ClosedJaxpr(Jaxpr(constvars, closed.jaxpr.invars, eqns, outvars), consts)


# primitive -> ``lowering(eqn) -> run(*arrays) -> [outputs]``: compiled kernels a backend
# lends to the tape (the CPU backend's convolutions and pooling, the bulk of a CNN step).
# Used for equations of at least ``EAGER_KERNEL_MIN_SIZE`` input elements; smaller ones
# run the reference impl, whose call costs less than a kernel's dispatch. A kernel sums in
# its own order, so those results agree with the jaxpr path's to rounding, not bit for bit.
eager_lowerings: dict = {}
EAGER_KERNEL_MIN_SIZE = 1 << 14
# ``blas_threads(n) -> previous count or None``, set by the CPU backend: kernels marked
# ``one_blas_thread`` parallelise with prange and want BLAS on one thread meanwhile (as
# ``jit`` runs a program holding them), or OpenBLAS's spinning threads take their cores
blas_threads = None
# called before the first kernel runs on the tape, set by the CPU backend (it keeps freed
# memory in malloc's heap, as for a compiled program: fresh buffers page-fault)
before_first_kernel = None


# backend program rewrites lent to the tape (``rewrite(steps, outvars) -> {k: (run, reads,
# outs)}``, the CPU backend's ``program_rewrites`` protocol), applied to a node's forward and
# backward programs together when they hold kernel-sized equations: the max pool's forward
# records each window's argmax and its backward scatters by it, as under ``jit``
eager_rewrites: list = []


class _EqnStep:
    """A program step as a backend rewrite sees one: a single unfused equation."""

    __slots__ = ("eqns",)
    fused = False

    def __init__(self, eqn):
        self.eqns = [eqn]


def _rewrites(eqns) -> dict:
    if not eager_rewrites or not any(_kernel_sized(e) for e in eqns):
        return {}
    steps = [_EqnStep(e) for e in eqns]
    out: dict = {}
    for rewrite in eager_rewrites:
        out.update(rewrite(steps))
    if out and before_first_kernel is not None:
        before_first_kernel()
    return out


def _rewritten_step(spec, slot, template, idx):
    """A step of a backend rewrite: ``run(*reads) -> [outs]``; an output that is not a
    variable (a token such as the pool's argmax) gets a slot of its own."""
    run, reads, outs = spec
    for v in outs:
        if v not in slot:
            slot[v] = len(template)
            template.append(None)
    ins = tuple(idx(a) if not isinstance(a, tuple) else slot[a] for a in reads)
    out_slots = tuple((slot[v], v.aval.dtype if isinstance(v, Var) else None) for v in outs)
    impl = _kernel(run, True)
    return (impl, ins, _NO_PARAMS, out_slots, True, None)


_NO_PARAMS: dict = {}


def _kernel_sized(eqn) -> bool:
    return sum(v.aval.size for v in eqn.inputs) >= EAGER_KERNEL_MIN_SIZE


def _kernel(run, multiple):
    if multiple:
        def impl(*vals, **_):
            return run(*vals)
    else:
        def impl(*vals, **_):
            return run(*vals)[0]
    impl.one_blas_thread = getattr(run, "one_blas_thread", False)
    return impl


def _impl_of(eqn, build: bool = True):
    """The backend kernel that runs ``eqn`` on the tape, None for the reference impl;
    ``build=False`` only says whether there is one (True)."""
    lower = eager_lowerings.get(eqn.primitive)
    if lower is not None and _kernel_sized(eqn):
        if not build:
            return True
        if before_first_kernel is not None:
            before_first_kernel()
        return _kernel(lower(eqn), eqn.primitive.multiple_results)
    return None  # the reference impl, looked up when it runs (so a replaced impl is seen)


def _step(eqn, slot, template, idx):
    ins = tuple(idx(a) for a in eqn.inputs)
    outs = []
    for v in eqn.outvars:
        slot[v] = len(template)
        template.append(None)
        outs.append((slot[v], v.aval.dtype))
    return (_impl_of(eqn), ins, eqn.params, tuple(outs), eqn.primitive.multiple_results,
            eqn.primitive)


def run_steps(steps, env):
    for impl, ins, params, outs, multiple, prim in steps:
        if impl is None:
            impl = impl_rules[prim]
        if len(ins) == 2:
            r = impl(env[ins[0]], env[ins[1]], **params)
        else:
            r = impl(*[env[i] for i in ins], **params)
        if multiple:
            for (i, dt), x in zip(outs, r, strict=True):
                env[i] = x if dt is None else fix(x, dt)
        else:
            i, dt = outs[0]
            env[i] = r if type(r) is np.ndarray and r.dtype == dt else fix(r, dt)


def run_steps_bind(steps, env):
    """``_run`` through ``bind``: for cotangents that are tracers (``vmap``/``jit`` of a
    ``vjp`` function), so the backward is traced like the jaxpr path's."""
    for _, ins, params, outs, multiple, prim in steps:
        r = prim.bind(*[env[i] for i in ins], **params)
        if multiple:
            for (i, _), x in zip(outs, r, strict=True):
                env[i] = x
        else:
            env[outs[0][0]] = r


def fix(x, dtype):
    """An impl's result as a plain ndarray of the rule's dtype (as the eval trace does)."""
    if type(x) is not np.ndarray:
        x = np.asarray(x)
        if type(x) is not np.ndarray:
            x = x.view(np.ndarray)
    return x if x.dtype == dtype else x.astype(dtype)


def add_concrete(x, y):
    """``add_any`` of two concrete cotangents, as the eval trace computes it."""
    r = np.add(x, y)
    return r if type(r) is np.ndarray and r.dtype == x.dtype else fix(r, x.dtype)


def derived_backward(d: Derived, env, out_cts, traced: bool = False):
    if len(out_cts) == 1:
        env[d.ct_idx[0]] = out_cts[0]
    else:
        for i, c, a in zip(d.ct_idx, out_cts, d.out_avals, strict=True):
            if c is None and a is not None:  # a zero cotangent of one of several outputs
                c = np.zeros(a.shape, a.dtype)
            env[i] = c
    if d.bwd:
        if traced:
            run_steps_bind(d.bwd_bind, env)
        else:
            run_steps(d.bwd, env)
    return [None if i is None else env[i] for i in d.in_ct_idx]
