"""``checkpoint`` / ``remat``: trade compute for memory in reverse mode.

``checkpoint(f)`` binds one ``checkpoint`` equation holding ``f``'s jaxpr. Its
partial-evaluation rule is the point of it: under ``grad`` the forward pass
computes only ``f``'s outputs, and saves as residuals only ``f``'s inputs plus
the intermediate values the ``policy`` calls saveable; the backward pass
(``checkpoint``'s transpose) recomputes everything else from them. The policy is
JAX's: ``policy(prim, *avals, **params) -> bool`` for each equation, with
``checkpoint_policies.nothing_saveable`` (the default), ``everything_saveable`` and
``dots_saveable``.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace

from ..core.jaxpr import ClosedJaxpr, Jaxpr, Literal
from ..core.trace import Primitive, abstract_eval_rules, get_aval, impl_rules, trace_to_jaxpr
from ..errors import TransformError
from ..tree_util import tree_flatten, tree_unflatten
from .ad import (
    Zero,
    instantiate_zeros,
    is_undefined_primal,
    jvp_rules,
    tangent_aval,
    transpose_rules,
)
from .api_util import StaticArgs, check_callable, flatten_fun, fun_name, with_statics
from .batching import batching_rules, moveaxis, not_mapped
from .higher_order import (
    batch_jaxpr,
    closure_convert,
    dce_jaxpr,
    eval_jaxpr_impl,
    jaxpr_as_fun,
    jvp_jaxpr,
    partial_eval_jaxpr,
    transpose_jaxpr,
)
from .partial_eval import partial_eval_rules

__all__ = ["checkpoint", "checkpoint_p", "checkpoint_policies", "remat"]

# JAX 0.10 prints this primitive as remat2
# a backend with no lowering for it runs its impl, a jaxpr interpreter (impl_fallback)
checkpoint_p = Primitive("remat2", multiple_results=True, impl_fallback=True)


def nothing_saveable(prim, *avals, **params) -> bool:
    """Save nothing: recompute every intermediate in the backward pass."""
    return False


def everything_saveable(prim, *avals, **params) -> bool:
    """Save every intermediate (no recomputation: the same as no checkpoint)."""
    return True


def dots_saveable(prim, *avals, **params) -> bool:
    """Save the results of matrix products (``dot_general``); recompute the rest."""
    return prim.name == "dot_general"


def dots_with_no_batch_dims_saveable(prim, *avals, **params) -> bool:
    """Save the results of ``dot_general``s without batch dimensions."""
    if prim.name != "dot_general":
        return False
    (_, _), (lb, rb) = params["dimension_numbers"]
    return not lb and not rb


checkpoint_policies = SimpleNamespace(
    nothing_saveable=nothing_saveable, everything_saveable=everything_saveable,
    dots_saveable=dots_saveable, checkpoint_dots=dots_saveable,
    dots_with_no_batch_dims_saveable=dots_with_no_batch_dims_saveable,
    checkpoint_dots_with_no_batch_dims=dots_with_no_batch_dims_saveable)


def checkpoint(fun=None, *, prevent_cse: bool = True, policy=None, static_argnums=(),
               static_argnames=(), concrete: bool = False):
    """Makes reverse mode recompute ``fun``'s intermediates instead of storing them
    (``jax.checkpoint``, alias ``remat``).

    Args:
        fun: the function to checkpoint.
        prevent_cse: keep the recomputation from being merged with the forward pass
            by ``jit``'s common-subexpression elimination (the default, as in JAX).
        policy: which intermediates may still be saved, e.g.
            ``checkpoint_policies.dots_saveable``; ``None`` saves none.
        static_argnums, static_argnames: arguments that are Python values, not arrays
            (by position; by keyword name).
        concrete: JAX's removed option; only ``False`` is accepted.

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> f = ft.checkpoint(lambda x: fnp.sin(fnp.sin(x)))
        >>> float(ft.grad(f)(0.5)) == float(fnp.cos(fnp.sin(0.5)) * fnp.cos(0.5))
        True
    """
    if concrete:
        raise TransformError("checkpoint: concrete=True is no longer supported (as in JAX); "
                             "use static_argnums for arguments that control Python flow")
    if fun is None:
        return functools.partial(checkpoint, prevent_cse=prevent_cse, policy=policy,
                                 static_argnums=static_argnums,
                                 static_argnames=static_argnames)
    check_callable(fun, "checkpoint")
    static = StaticArgs(fun, static_argnums, static_argnames, label="checkpoint",
                        by_keyword=bool(static_argnames))

    @functools.wraps(fun)
    def checkpointed(*args, **kwargs):
        dyn, dyn_kwargs, statics = static.split(args, kwargs)
        leaves, in_tree = tree_flatten((dyn, dyn_kwargs))
        flat, store = flatten_fun(with_statics(fun, statics), in_tree, with_kwargs=True,
                                  check_outputs=False)
        closed = trace_to_jaxpr(flat, [get_aval(x) for x in leaves], transform="checkpoint",
                                fun_name=fun_name(fun))
        jaxpr, consts = closure_convert(closed)
        outs = checkpoint_p.bind(*consts, *leaves, jaxpr=jaxpr, prevent_cse=bool(prevent_cse),
                                 differentiated=False, policy=policy)
        return tree_unflatten(store["out_tree"], outs)

    return checkpointed


remat = checkpoint


# ---------------------------------------------------------------------------
# rules

def _impl(*args, jaxpr, **_):
    return eval_jaxpr_impl(jaxpr, *args)


def _abstract(*avals, jaxpr, **_):
    return [a.strip_weak_type() for a in jaxpr.out_avals]


impl_rules[checkpoint_p] = _impl
abstract_eval_rules[checkpoint_p] = _abstract


def _jvp(primals, tangents, *, jaxpr, prevent_cse, differentiated, policy):
    nz = [not isinstance(t, Zero) for t in tangents]
    jvp, out_nz = jvp_jaxpr(jaxpr, nz, False)
    outs = checkpoint_p.bind(*primals, *[t for t in tangents if not isinstance(t, Zero)],
                             jaxpr=jvp, prevent_cse=prevent_cse, differentiated=True,
                             policy=policy)
    n = len(out_nz)
    it = iter(outs[n:])
    return outs[:n], [next(it) if z else Zero(tangent_aval(a))
                      for z, a in zip(out_nz, jaxpr.out_avals, strict=True)]


jvp_rules[checkpoint_p] = _jvp


def _batch(args, dims, *, jaxpr, **params):
    size = next(get_aval(x).shape[d] for x, d in zip(args, dims, strict=True)
                if d is not not_mapped)
    in_b = [d is not not_mapped for d in dims]
    args = [x if d is not_mapped else moveaxis(x, d, 0) for x, d in zip(args, dims, strict=True)]
    batched, out_b = batch_jaxpr(jaxpr, size, in_b, False)
    outs = checkpoint_p.bind(*args, jaxpr=batched, **params)
    return outs, [0 if b else not_mapped for b in out_b]


batching_rules[checkpoint_p] = _batch


def _known_vars(jaxpr: Jaxpr, unknowns) -> set:
    known = set(jaxpr.constvars) | {v for v, u in zip(jaxpr.invars, unknowns, strict=True)
                                    if not u}
    for eqn in jaxpr.eqns:
        if all(isinstance(x, Literal) or x in known for x in eqn.inputs):
            known.update(eqn.outvars)
    return known


def _remat_jaxpr(j: Jaxpr, consts, unknowns, saved, out_known) -> ClosedJaxpr:
    """Known inputs, saved values and unknown inputs -> the unknown outputs, recomputing
    every known value that was not saved."""
    saved_set = set(saved)
    eqns = [e for e in j.eqns if not any(v in saved_set for v in e.outvars)]
    known_in = [v for v, u in zip(j.invars, unknowns, strict=True) if not u]
    uk_in = [v for v, u in zip(j.invars, unknowns, strict=True) if u]
    outs = [v for v, k in zip(j.outvars, out_known, strict=True) if not k]
    return dce_jaxpr(ClosedJaxpr(Jaxpr(j.constvars, known_in + saved + uk_in, eqns, outs),
                                 consts), [True] * len(outs))


def _used_saved(j: Jaxpr, consts, unknowns, saved, out_known) -> list:
    """The saved values the recomputation actually reads (others need not be kept)."""
    remat = _remat_jaxpr(j, consts, unknowns, saved, out_known).jaxpr
    used = {x for e in remat.eqns for x in e.inputs} | set(remat.outvars)
    return [v for v in saved if v in used]


def _partial_eval(trace, tracers, *, jaxpr, prevent_cse, differentiated, policy):
    unknowns = [not t.pval.is_known for t in tracers]
    saveable = policy or nothing_saveable
    j = jaxpr.jaxpr
    known = _known_vars(j, unknowns)
    # the known equations whose results the policy lets us keep for the backward pass
    saved = []
    for eqn in j.eqns:
        if eqn.outvars[0] in known and saveable(eqn.primitive, *[x.aval for x in eqn.inputs],
                                              **eqn.params):
            saved += eqn.outvars
    out_known = [isinstance(v, Literal) or v in known for v in j.outvars]
    saved = _used_saved(j, jaxpr.consts, unknowns, saved, out_known)
    # forward: the known outputs and the saved values, from the known inputs
    known_in = [v for v, u in zip(j.invars, unknowns, strict=True) if not u]
    fwd = dce_jaxpr(ClosedJaxpr(Jaxpr(j.constvars, known_in, j.eqns,
                                      [v for v, k in zip(j.outvars, out_known, strict=True)
                                       if k] + saved), jaxpr.consts),
                    [True] * (sum(out_known) + len(saved)))
    vals = jaxpr_as_fun(fwd)(*[t.pval.const for t in tracers if t.pval.is_known])
    n_kout = sum(out_known)
    known_outs, saved_vals = vals[:n_kout], vals[n_kout:]
    if all(out_known):
        return known_outs
    # the staged part recomputes from the inputs whatever was not saved
    remat = _remat_jaxpr(j, jaxpr.consts, unknowns, saved, out_known)
    ins = ([trace.instantiate_const(t) for t in tracers if t.pval.is_known]
           + [trace.instantiate_const(trace.pure(v)) for v in saved_vals]
           + [t for t in tracers if not t.pval.is_known])
    staged = trace.stage(checkpoint_p, ins, dict(jaxpr=remat, prevent_cse=prevent_cse,
                                                 differentiated=True, policy=policy))
    it_k, it_u = iter(known_outs), iter(staged)
    return [next(it_k) if k else next(it_u) for k in out_known]


partial_eval_rules[checkpoint_p] = _partial_eval


def _transpose(cts, *args, jaxpr, prevent_cse, differentiated, policy):
    linear = [is_undefined_primal(x) for x in args]
    known, unknown, out_uk, nres = partial_eval_jaxpr(jaxpr, linear, False)
    n_kout = len(known.out_avals) - nres
    t = transpose_jaxpr(unknown, [False] * nres + [True] * sum(linear))
    nonlin = [x for x in args if not is_undefined_primal(x)]
    cts_uk = [instantiate_zeros(c) if isinstance(c, Zero) else c
              for c, u in zip(cts, out_uk, strict=True) if u]

    def backward(*a):
        # the recomputation: the non-linear part runs again from the saved inputs
        res = jaxpr_as_fun(known)(*a[:len(nonlin)])[n_kout:]
        return jaxpr_as_fun(t)(*res, *a[len(nonlin):])

    if prevent_cse:
        # one equation of its own, so that jit cannot merge the recomputation with the
        # forward pass (JAX's prevent_cse)
        bwd = trace_to_jaxpr(backward, [get_aval(x) for x in nonlin + cts_uk],
                             transform="checkpoint", fun_name="checkpoint_bwd")
        bwd, consts = closure_convert(bwd)
        ct_in = iter(checkpoint_p.bind(*consts, *nonlin, *cts_uk, jaxpr=bwd,
                                       prevent_cse=True, differentiated=True, policy=policy))
    else:
        ct_in = iter(backward(*nonlin, *cts_uk))
    return [next(ct_in) if lin else None for lin in linear]


transpose_rules[checkpoint_p] = _transpose
