"""``lax.cond`` and ``lax.switch``: the ``cond`` primitive and its rules.

``cond[branches=(b0, b1, ...)] index *operands`` runs ``branches[index]`` (the
index clamped into range). ``lax.cond(pred, true_fun, false_fun)`` binds it with
``branches=(false, true)`` and ``index = int32(pred)``, as JAX does. Every branch
takes the constants of all branches (closed-over values, tracers of enclosing
transformations included) followed by the operands.
"""

from __future__ import annotations

import numpy as np

from ...core.avals import ShapedArray
from ...core.jaxpr import ClosedJaxpr, Jaxpr, Var
from ...core.trace import Primitive, abstract_eval_rules, get_aval, impl_rules, trace_to_jaxpr
from ...errors import TransformError
from ...transforms.ad import (
    Zero,
    instantiate_zeros,
    is_undefined_primal,
    jvp_rules,
    tangent_aval,
    transpose_rules,
)
from ...transforms.batching import batching_rules, moveaxis, not_mapped
from ...transforms.higher_order import (
    batch_jaxpr,
    eval_jaxpr_impl,
    jaxpr_as_fun,
    jvp_jaxpr,
    partial_eval_jaxpr,
    transpose_jaxpr,
)
from ...transforms.partial_eval import partial_eval_rules
from ...tree_util import tree_flatten, tree_unflatten
from ..elementwise import eq, ne, select
from ..elementwise import max as lax_max
from ..elementwise import min as lax_min
from ..shape_ops import broadcast_in_dim, convert_element_type
from .common import abstractify, trace_fun, types_str

__all__ = ["cond", "cond_p", "switch"]

# a backend with no lowering for it runs its impl, a jaxpr interpreter (impl_fallback)
cond_p = Primitive("cond", multiple_results=True, impl_fallback=True)


class _NoOperand:
    def __repr__(self) -> str:
        return "<no operand>"


_no_operand = _NoOperand()


def _operands_of(who: str, operands: tuple, operand) -> tuple:
    """The branch operands, given positionally or (JAX's older form) as ``operand=``."""
    if operand is _no_operand:
        return operands
    if operands:
        raise TransformError(f"lax.{who}: pass the operands positionally or with operand=, "
                             "not both")
    return (operand,)


def _join_consts(jaxprs, consts_list):
    """Each branch takes every branch's constants (its own in place) then the operands."""
    all_consts = [c for cs in consts_list for c in cs]
    joined = []
    for k, closed in enumerate(jaxprs):
        j = closed.jaxpr
        n_own = len(consts_list[k])
        before = sum(len(cs) for cs in consts_list[:k])
        after = len(all_consts) - before - n_own
        pre = [Var(abstractify(c).strip_weak_type()) for c in all_consts[:before]]
        post = [Var(abstractify(c).strip_weak_type())
                for c in all_consts[before + n_own:before + n_own + after]]
        invars = pre + j.invars[:n_own] + post + j.invars[n_own:]
        joined.append(ClosedJaxpr(Jaxpr(j.constvars, invars, j.eqns, j.outvars), closed.consts))
    return joined, all_consts


def _branch_label(who: str, k: int, n: int) -> str:
    if who == "cond":
        return "false_fun" if k == 0 else "true_fun"
    return f"branches[{k}]"


def _trace_branches(who, funs, ops):
    leaves, in_tree = tree_flatten(ops)
    avals = [abstractify(x) for x in leaves]
    jaxprs, consts_list, trees = [], [], []
    for f in funs:
        if not callable(f):
            raise TransformError(f"lax.{who}: branches must be callable, got "
                                 f"{type(f).__name__}")
        jaxpr, consts, out_tree = trace_fun(f, in_tree, avals, f"lax.{who}")
        jaxprs.append(jaxpr)
        consts_list.append(consts)
        trees.append(out_tree)
    n = len(funs)
    for k in range(1, n):
        a, b = _branch_label(who, 0, n), _branch_label(who, k, n)
        if trees[k] != trees[0]:
            raise TransformError(
                f"lax.{who}: {a} and {b} must return the same pytree structure, but {a} "
                f"returns {trees[0]} and {b} returns {trees[k]}.")
        ta, tb = jaxprs[0].out_avals, jaxprs[k].out_avals
        if any(x.shape != y.shape or x.dtype != y.dtype for x, y in zip(ta, tb, strict=True)):
            raise TransformError(
                f"lax.{who}: {a} and {b} must return the same types, but {a} returns "
                f"{types_str(ta)} and {b} returns {types_str(tb)}. Cast one of them (e.g. "
                ".astype(...)) so that both branches return the same shapes and dtypes.")
    jaxprs, consts = _join_consts(jaxprs, consts_list)
    return jaxprs, consts, leaves, trees[0]


def _scalar_index(who, x, what):
    aval = get_aval(x)
    if aval.shape != ():
        raise TransformError(f"lax.{who}: the {what} must be a scalar, got {aval.str_short()}")
    return aval


def cond(pred, true_fun, false_fun, *operands, operand=_no_operand):
    """``true_fun(*operands)`` if ``pred`` else ``false_fun(*operands)``, staged as one
    ``cond`` primitive so that the choice may depend on traced values (``lax.cond``).

    Both branches are traced, must return the same types, and are differentiable and
    batchable (a batched ``pred`` evaluates both and selects, as in JAX).

    Example:
        >>> import functrace as ft
        >>> ft.lax.cond(3.0 > 0, lambda x: x + 1.0, lambda x: x - 1.0, 2.0)
        array(3., dtype=float32)
    """
    operands = _operands_of("cond", operands, operand)
    aval = _scalar_index("cond", pred, "predicate (pred)")
    if aval.dtype != np.bool_:
        if aval.dtype.kind in "iuf":  # as JAX: any real number, true where nonzero
            pred = ne(pred, np.zeros((), aval.dtype))
        else:
            raise TransformError(f"lax.cond: the predicate must be boolean or a real number, "
                                 f"got {aval.str_short()}; compare it first (e.g. x > 0).")
    index = convert_element_type(pred, np.int32)
    jaxprs, consts, leaves, out_tree = _trace_branches("cond", (false_fun, true_fun), operands)
    outs = cond_p.bind(index, *consts, *leaves, branches=tuple(jaxprs))
    return tree_unflatten(out_tree, outs)


def switch(index, branches, *operands, operand=_no_operand):
    """``branches[index](*operands)``, the index clamped into range (``lax.switch``).

    Example:
        >>> import functrace as ft
        >>> ft.lax.switch(1, [lambda x: x, lambda x: 2.0 * x, lambda x: 3.0 * x], 5.0)
        array(10., dtype=float32)
    """
    operands = _operands_of("switch", operands, operand)
    branches = tuple(branches)
    if not branches:
        raise TransformError("lax.switch: branches must be a non-empty sequence of functions")
    aval = _scalar_index("switch", index, "index")
    if aval.dtype.kind not in "iu":
        raise TransformError(f"lax.switch: the index must be an integer scalar, got "
                             f"{aval.str_short()}")
    index = convert_element_type(index, np.int32)
    if len(branches) == 1:
        return branches[0](*operands)
    index = lax_max(lax_min(index, np.int32(len(branches) - 1)), np.int32(0))
    jaxprs, consts, leaves, out_tree = _trace_branches("switch", branches, operands)
    outs = cond_p.bind(index, *consts, *leaves, branches=tuple(jaxprs))
    return tree_unflatten(out_tree, outs)


# ---------------------------------------------------------------------------
# rules: impl, abstract eval, jvp, vmap, partial eval, transpose

def _cond_impl(index, *ops, branches):
    k = int(np.clip(int(index), 0, len(branches) - 1))
    return eval_jaxpr_impl(branches[k], *ops)


def _cond_abstract(index: ShapedArray, *avals, branches):
    if index.shape != () or index.dtype.kind not in "iu":
        raise TransformError(f"cond: the index must be an integer scalar, got "
                             f"{index.str_short()}")
    for k, b in enumerate(branches):
        want = b.in_avals
        if len(want) != len(avals) or any(
                x.shape != y.shape or x.dtype != y.dtype for x, y in zip(want, avals,
                                                                         strict=True)):
            raise TransformError(f"cond: branch {k} takes {types_str(want)}, the operands "
                                 f"are {types_str(avals)}")
    return [a.strip_weak_type() for a in branches[0].out_avals]


impl_rules[cond_p] = _cond_impl
abstract_eval_rules[cond_p] = _cond_abstract


def _cond_jvp(primals, tangents, *, branches):
    index, *ops = primals
    nz = [not isinstance(t, Zero) for t in tangents[1:]]
    out_nz = [False] * len(branches[0].out_avals)
    for b in branches:
        out_nz = [x or y for x, y in zip(out_nz, jvp_jaxpr(b, nz, False)[1], strict=True)]
    jvps = tuple(jvp_jaxpr(b, nz, out_nz)[0] for b in branches)
    ts = [t for t in tangents[1:] if not isinstance(t, Zero)]
    outs = cond_p.bind(index, *ops, *ts, branches=jvps)
    n = len(out_nz)
    it = iter(outs[n:])
    t_out = [next(it) if z else Zero(tangent_aval(a))
             for z, a in zip(out_nz, branches[0].out_avals, strict=True)]
    return outs[:n], t_out


jvp_rules[cond_p] = _cond_jvp


def _cond_batch(args, dims, *, branches):
    index, *ops = args
    idim, *op_dims = dims
    size = next(get_aval(x).shape[d] for x, d in zip(args, dims, strict=True)
                if d is not not_mapped)
    ops = [x if d is not_mapped else moveaxis(x, d, 0) for x, d in zip(ops, op_dims,
                                                                        strict=True)]
    in_b = [d is not not_mapped for d in op_dims]
    if idim is not not_mapped:
        # a different branch per example: run every branch, select per example (as JAX)
        index = moveaxis(index, idim, 0)
        outs_per = [jaxpr_as_fun(batch_jaxpr(b, size, in_b, True)[0])(*ops) for b in branches]
        out = list(outs_per[0])
        for k in range(1, len(branches)):
            for i, y in enumerate(outs_per[k]):
                shape = get_aval(y).shape
                pick = broadcast_in_dim(eq(index, np.int32(k)), shape, (0,))
                out[i] = select(pick, y, out[i])
        return out, [0] * len(out)
    out_b = [False] * len(branches[0].out_avals)
    for b in branches:
        out_b = [x or y for x, y in zip(out_b, batch_jaxpr(b, size, in_b, False)[1],
                                        strict=True)]
    batched = tuple(batch_jaxpr(b, size, in_b, out_b)[0] for b in branches)
    outs = cond_p.bind(index, *ops, branches=batched)
    return outs, [0 if b else not_mapped for b in out_b]


batching_rules[cond_p] = _cond_batch


def _cond_partial_eval(trace, tracers, *, branches):
    index, *ops = tracers
    if not index.pval.is_known:
        return trace.stage(cond_p, tracers, {"branches": branches})
    unknowns = [not t.pval.is_known for t in ops]
    out_uk = [False] * len(branches[0].out_avals)
    for b in branches:
        out_uk = [x or y for x, y in zip(out_uk, partial_eval_jaxpr(b, unknowns, False)[2],
                                         strict=True)]
    splits = [partial_eval_jaxpr(b, unknowns, out_uk) for b in branches]
    # every branch's known part returns the residuals of all branches (zeros for others)
    res_avals = [[v.aval for v in known.jaxpr.outvars[len(known.jaxpr.outvars) - nres:]]
                 for known, _, _, nres in splits]
    all_res = [a for avals in res_avals for a in avals]
    n_known_out = sum(not u for u in out_uk)
    knowns, unknowns_j = [], []
    for k, (known, unknown, _, nres) in enumerate(splits):
        before = sum(len(r) for r in res_avals[:k])
        knowns.append(_pad_residual_outputs(known, n_known_out, all_res, before, nres))
        unknowns_j.append(_pad_residual_inputs(unknown, all_res, before, nres))
    known_ops = [t.pval.const for t in ops if t.pval.is_known]
    outs = cond_p.bind(index.pval.const, *known_ops, branches=tuple(knowns))
    known_outs, residuals = outs[:n_known_out], outs[n_known_out:]
    res_tracers = [trace.instantiate_const(trace.pure(r)) for r in residuals]
    uk_ops = [t for t in ops if not t.pval.is_known]
    staged = trace.stage(cond_p, [trace.instantiate_const(index), *res_tracers, *uk_ops],
                         {"branches": tuple(unknowns_j)})
    it_k, it_u = iter(known_outs), iter(staged)
    return [next(it_u) if u else next(it_k) for u in out_uk]


def _pad_residual_outputs(known: ClosedJaxpr, n_out, all_res, before, nres) -> ClosedJaxpr:
    """``known`` returning the residuals of every branch (zeros in the others' places)."""
    def fun(*args):
        outs = jaxpr_as_fun(known)(*args)
        mine = outs[n_out:]
        pre = [np.zeros(a.shape, a.dtype) for a in all_res[:before]]
        post = [np.zeros(a.shape, a.dtype) for a in all_res[before + nres:]]
        return list(outs[:n_out]) + pre + list(mine) + post
    return trace_to_jaxpr(fun, known.in_avals, transform="partial eval", fun_name="known")


def _pad_residual_inputs(unknown: ClosedJaxpr, all_res, before, nres) -> ClosedJaxpr:
    j = unknown.jaxpr
    pre = [Var(a) for a in all_res[:before]]
    post = [Var(a) for a in all_res[before + nres:]]
    invars = pre + j.invars[:nres] + post + j.invars[nres:]
    return ClosedJaxpr(Jaxpr(j.constvars, invars, j.eqns, j.outvars), unknown.consts)


partial_eval_rules[cond_p] = _cond_partial_eval


def _cond_transpose(cts, index, *ops, branches):
    if is_undefined_primal(index):
        raise TransformError("cond: cannot transpose with respect to the branch index")
    linear = [is_undefined_primal(x) for x in ops]
    res = [x for x in ops if not is_undefined_primal(x)]
    cts = [instantiate_zeros(c) if isinstance(c, Zero) else c for c in cts]
    transposed = tuple(transpose_jaxpr(b, linear) for b in branches)
    outs = iter(cond_p.bind(index, *res, *cts, branches=transposed))
    return [None] + [next(outs) if lin else None for lin in linear]


transpose_rules[cond_p] = _cond_transpose

