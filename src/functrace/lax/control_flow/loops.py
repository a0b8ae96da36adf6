"""``lax.while_loop`` (the ``while`` primitive), ``lax.fori_loop`` and ``lax.map``.

``while[cond_jaxpr body_jaxpr cond_nconsts body_nconsts] *cond_consts *body_consts
*init`` repeats ``carry = body(carry)`` while ``cond(carry)``. Its trip count is
not known in advance, so it has no transpose: reverse mode through it raises an
error that points to ``scan`` / ``fori_loop`` with static bounds (which lowers to
``scan``, as in JAX). Forward mode, ``vmap`` (a batched predicate runs until every
example is done) and ``linearize`` work.
"""

from __future__ import annotations

import numpy as np

from ...core.trace import Primitive, abstract_eval_rules, impl_rules, trace_to_jaxpr
from ...errors import ConcretizationError, TransformError
from ...transforms.ad import Zero, instantiate_zeros, jvp_rules, tangent_aval, transpose_rules
from ...transforms.batching import (
    axis_size,
    batching_rules,
    bdim_at_front,
    moveaxis,
    not_mapped,
    vmap,
)
from ...transforms.higher_order import (
    batch_jaxpr,
    dce_jaxpr,
    eval_jaxpr_impl,
    jaxpr_as_fun,
    jvp_jaxpr,
    partial_eval_jaxpr,
    permute_jaxpr,
    with_extra_inputs,
)
from ...transforms.partial_eval import partial_eval_rules
from ...tree_util import tree_flatten, tree_unflatten
from ..elementwise import add, lt, select
from ..reductions import reduce_or
from ..shape_ops import broadcast_in_dim, convert_element_type, reshape
from ..slicing import concatenate
from ..slicing import slice as lax_slice
from .common import abstractify, carry_fixpoint, check_carry, loop_avals, trace_fun, types_str
from .scan import scan

__all__ = ["fori_loop", "map", "while_loop", "while_p"]

# a backend with no lowering for it runs its impl, a jaxpr interpreter (impl_fallback)
while_p = Primitive("while", multiple_results=True, impl_fallback=True)


def _trace_while(cond_fun, body_fun, leaves, tree):
    avals = loop_avals(leaves)
    args_tree = tree_flatten((tree_unflatten(tree, leaves),))[1]
    cond_j, cond_consts, _ = trace_fun(cond_fun, args_tree, avals, "lax.while_loop")
    body_j, body_consts, body_tree = trace_fun(body_fun, args_tree, avals, "lax.while_loop")
    return avals, cond_j, cond_consts, body_j, body_consts, body_tree


def while_loop(cond_fun, body_fun, init_val):
    """Repeats ``val = body_fun(val)`` while ``cond_fun(val)`` (``lax.while_loop``).

    Not reverse-differentiable (the trip count is dynamic): use ``lax.scan`` or
    ``lax.fori_loop`` with static bounds for that.

    Example:
        >>> import functrace as ft
        >>> ft.lax.while_loop(lambda x: x < 10, lambda x: x * 2, 1)
        array(16, dtype=int32)
    """
    if not callable(cond_fun) or not callable(body_fun):
        raise TransformError("lax.while_loop: cond_fun and body_fun must be callable")
    leaves, tree = tree_flatten(init_val)
    avals, cond_j, cc, body_j, bc, body_tree = _trace_while(
        cond_fun, body_fun, leaves, tree)
    outs = body_j.out_avals
    if body_tree == tree and any(a.dtype != b.dtype for a, b in zip(avals, outs, strict=True)):
        if all(a.dtype == b.dtype or (abstractify(x).weak_type and a.shape == b.shape)
               for a, b, x in zip(avals, outs, leaves, strict=True)):
            leaves = [np.asarray(x, b.dtype) for x, b in zip(leaves, outs, strict=True)]
            avals, cond_j, cc, body_j, bc, body_tree = _trace_while(cond_fun, body_fun, leaves,
                                                                    tree)
    pred = cond_j.out_avals
    if len(pred) != 1 or pred[0].shape != () or pred[0].dtype != np.bool_:
        raise TransformError(f"lax.while_loop: cond_fun must return a boolean scalar, but got "
                             f"output type(s) {types_str(pred)}")
    check_carry("lax.while_loop", tree, avals, body_tree, body_j.out_avals)
    out = while_p.bind(*cc, *bc, *leaves, cond_jaxpr=cond_j, body_jaxpr=body_j,
                       cond_nconsts=len(cc), body_nconsts=len(bc))
    return tree_unflatten(tree, out)


def fori_loop(lower, upper, body_fun, init_val, *, unroll=None):
    """``val = body_fun(i, val)`` for ``i`` in ``range(lower, upper)`` (``lax.fori_loop``).

    With concrete bounds it is a ``scan`` (so reverse mode works), otherwise a
    ``while_loop``, as in JAX.

    Example:
        >>> import functrace as ft
        >>> ft.lax.fori_loop(0, 5, lambda i, x: x + i, 0)
        array(10, dtype=int32)
    """
    lo_aval, hi_aval = abstractify(lower), abstractify(upper)
    if lo_aval.shape or hi_aval.shape or lo_aval.dtype.kind not in "iu" or (
            hi_aval.dtype.kind not in "iu"):
        raise TransformError(f"lax.fori_loop: lower and upper must be integer scalars, got "
                             f"{lo_aval.str_short()} and {hi_aval.str_short()}")
    dtype = np.result_type(lo_aval.dtype if not lo_aval.weak_type else hi_aval.dtype,
                           hi_aval.dtype if not hi_aval.weak_type else lo_aval.dtype)
    try:
        lo, hi = int(lower), int(upper)
    except ConcretizationError:
        lo = hi = None
    if lo is not None:
        def step(carry, _):
            i, x = carry
            return (add(i, np.asarray(1, dtype)), body_fun(i, x)), None

        start = convert_element_type(lower, dtype)
        (_, out), _ = scan(step, (start, init_val), None, length=max(hi - lo, 0),
                           unroll=1 if unroll is None else unroll)
        return out
    if unroll is not None and unroll is not False and unroll != 1:
        raise TransformError("lax.fori_loop: unroll needs static loop bounds (Python ints)")

    def cond(carry):
        return lt(carry[0], carry[1])

    def body(carry):
        i, hi_, x = carry
        return add(i, np.asarray(1, dtype)), hi_, body_fun(i, x)

    init = (convert_element_type(lower, dtype), convert_element_type(upper, dtype), init_val)
    return while_loop(cond, body, init)[2]


def map(f, xs, *, batch_size: int | None = None):  # noqa: A001 - JAX's name
    """``f`` applied to each leading slice of ``xs``, as a ``scan`` (``lax.map``).

    With ``batch_size``, slices are processed ``batch_size`` at a time with ``vmap``.

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> ft.lax.map(lambda x: x * x, fnp.arange(4.0))
        array([0., 1., 4., 9.], dtype=float32)
    """
    if batch_size is None:
        return scan(lambda _, x: ((), f(x)), (), xs)[1]
    leaves, tree = tree_flatten(xs)
    if not leaves:
        raise TransformError("lax.map: xs must have at least one array leaf")
    n = abstractify(leaves[0]).shape[0]
    bs = int(batch_size)
    if bs < 1:
        raise TransformError(f"lax.map: batch_size must be a positive int, got {batch_size}")
    nb, rem = divmod(n, bs)
    g = vmap(f)

    def rows(x, start, stop):
        shape = abstractify(x).shape
        return lax_slice(x, (start,) + (0,) * (len(shape) - 1), (stop, *shape[1:]))

    parts = []
    if nb:
        main = [reshape(rows(x, 0, nb * bs), (nb, bs, *abstractify(x).shape[1:]))
                for x in leaves]
        ys = scan(lambda _, x: ((), g(x)), (), tree_unflatten(tree, main))[1]
        y_leaves, y_tree = tree_flatten(ys)
        parts.append(([reshape(y, (nb * bs, *abstractify(y).shape[2:])) for y in y_leaves],
                      y_tree))
    if rem:
        tail = g(tree_unflatten(tree, [rows(x, nb * bs, n) for x in leaves]))
        parts.append(tree_flatten(tail))
    if len(parts) == 1:
        return tree_unflatten(parts[0][1], parts[0][0])
    (a, t), (b, _) = parts
    return tree_unflatten(t, [concatenate([x, y], 0) for x, y in zip(a, b, strict=True)])


# ---------------------------------------------------------------------------
# rules

def _split(args, cond_nconsts, body_nconsts):
    return (list(args[:cond_nconsts]), list(args[cond_nconsts:cond_nconsts + body_nconsts]),
            list(args[cond_nconsts + body_nconsts:]))


def _while_impl(*args, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    cc, bc, carry = _split(args, cond_nconsts, body_nconsts)
    while bool(eval_jaxpr_impl(cond_jaxpr, *cc, *carry)[0]):
        carry = eval_jaxpr_impl(body_jaxpr, *bc, *carry)
    return [np.asarray(c) for c in carry]


def _while_abstract(*avals, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    cc, bc, carry = _split(avals, cond_nconsts, body_nconsts)
    for who, j, ins in (("cond", cond_jaxpr, cc + carry), ("body", body_jaxpr, bc + carry)):
        if len(ins) != len(j.in_avals) or any(
                a.shape != b.shape or a.dtype != b.dtype
                for a, b in zip(ins, j.in_avals, strict=True)):
            raise TransformError(f"while: operand types {types_str(ins)} do not match the "
                                 f"{who} jaxpr's inputs {types_str(j.in_avals)}")
    return [a.strip_weak_type() for a in carry]


impl_rules[while_p] = _while_impl
abstract_eval_rules[while_p] = _while_abstract


def _while_jvp(primals, tangents, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    nz = [not isinstance(t, Zero) for t in tangents]
    _, bc_nz, carry_nz = _split(nz, cond_nconsts, body_nconsts)
    n = len(carry_nz)
    carry_nz = carry_fixpoint(carry_nz, lambda c: jvp_jaxpr(body_jaxpr, bc_nz + c, c)[1])
    body_jvp, _ = jvp_jaxpr(body_jaxpr, bc_nz + carry_nz, carry_nz)
    nb, kb, kc = body_nconsts, sum(bc_nz), sum(carry_nz)
    m = nb + n
    body_jvp = permute_jaxpr(body_jvp, list(range(nb)) + [m + i for i in range(kb)]
                             + [nb + i for i in range(n)] + [m + kb + i for i in range(kc)])
    carry_avals = body_jaxpr.out_avals
    cond_aug = with_extra_inputs(cond_jaxpr, [tangent_aval(a) for a, z in
                                              zip(carry_avals, carry_nz, strict=True) if z])
    cc, bc, carry = _split(primals, cond_nconsts, body_nconsts)
    _, bc_t, carry_t = _split(tangents, cond_nconsts, body_nconsts)
    bc_dot = [t for t in bc_t if not isinstance(t, Zero)]
    carry_dot = [instantiate_zeros(t) for t, z in zip(carry_t, carry_nz, strict=True) if z]
    outs = while_p.bind(*cc, *bc, *bc_dot, *carry, *carry_dot, cond_jaxpr=cond_aug,
                        body_jaxpr=body_jvp, cond_nconsts=cond_nconsts,
                        body_nconsts=nb + kb)
    it = iter(outs[n:])
    return outs[:n], [next(it) if z else Zero(tangent_aval(a))
                      for z, a in zip(carry_nz, carry_avals, strict=True)]


jvp_rules[while_p] = _while_jvp


def _while_batch(args, dims, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    size = axis_size(args, dims)
    b = [d is not not_mapped for d in dims]
    cc_b, bc_b, carry_b = _split(b, cond_nconsts, body_nconsts)
    n = len(carry_b)
    pred_b = False
    # not carry_fixpoint: a batched predicate batches every carry, so it joins the fixpoint
    for _ in range(n + 2):
        pred_b = batch_jaxpr(cond_jaxpr, size, cc_b + carry_b, False)[1][0]
        if pred_b:
            carry_b = [True] * n
        out_b = batch_jaxpr(body_jaxpr, size, bc_b + carry_b, carry_b)[1]
        new = [p or q for p, q in zip(carry_b, out_b, strict=True)]
        if new == carry_b:
            break
        carry_b = new
    cc, bc, carry = _split(args, cond_nconsts, body_nconsts)
    cc_d, bc_d, carry_d = _split(dims, cond_nconsts, body_nconsts)
    cc = [x if d is not_mapped else moveaxis(x, d, 0) for x, d in zip(cc, cc_d, strict=True)]
    bc = [x if d is not_mapped else moveaxis(x, d, 0) for x, d in zip(bc, bc_d, strict=True)]
    carry = [bdim_at_front(x, d, size) if bb else x
             for x, d, bb in zip(carry, carry_d, carry_b, strict=True)]
    cond_b = batch_jaxpr(cond_jaxpr, size, cc_b + carry_b, False)[0]
    body_b = batch_jaxpr(body_jaxpr, size, bc_b + carry_b, carry_b)[0]
    out_dims = [0 if bb else not_mapped for bb in carry_b]
    if not pred_b:
        outs = while_p.bind(*cc, *bc, *carry, cond_jaxpr=cond_b, body_jaxpr=body_b,
                            cond_nconsts=cond_nconsts, body_nconsts=body_nconsts)
        return outs, out_dims
    # a predicate per example: step every example while any is running; those that are
    # done keep their value (a select), as JAX does
    nc, nb = cond_nconsts, body_nconsts
    cond_f, body_f = jaxpr_as_fun(cond_b), jaxpr_as_fun(body_b)

    def any_running(*a):
        return [reduce_or(cond_f(*a)[0], (0,))]

    def masked_body(*a):
        c_consts, b_consts, c = a[:nc], a[nc:nc + nb], a[nc + nb:]
        running = cond_f(*c_consts, *c)[0]
        new = body_f(*b_consts, *c)
        return [select(broadcast_in_dim(running, abstractify(x).shape, (0,)), y, x)
                for x, y in zip(c, new, strict=True)]

    cond_avals = cond_b.in_avals
    body_avals = cond_avals[:nc] + body_b.in_avals
    cond_w = trace_to_jaxpr(any_running, cond_avals, transform="vmap", fun_name="cond")
    body_w = trace_to_jaxpr(masked_body, body_avals, transform="vmap", fun_name="body")
    outs = while_p.bind(*cc, *cc, *bc, *carry, cond_jaxpr=cond_w, body_jaxpr=body_w,
                        cond_nconsts=nc, body_nconsts=nc + nb)
    return outs, [0] * n


batching_rules[while_p] = _while_batch


def _while_partial_eval(trace, tracers, *, cond_jaxpr, body_jaxpr, cond_nconsts,
                        body_nconsts):
    params = dict(cond_jaxpr=cond_jaxpr, body_jaxpr=body_jaxpr, cond_nconsts=cond_nconsts,
                  body_nconsts=body_nconsts)
    uk = [not t.pval.is_known for t in tracers]
    cc_uk, bc_uk, carry_uk = _split(uk, cond_nconsts, body_nconsts)
    carry_uk = carry_fixpoint(carry_uk,
                              lambda c: partial_eval_jaxpr(body_jaxpr, bc_uk + c, c)[2])
    cond_known, _, cond_out_uk, _ = partial_eval_jaxpr(cond_jaxpr, cc_uk + carry_uk, False)
    if cond_out_uk[0] or all(carry_uk):
        return trace.stage(while_p, tracers, params)
    # the known carries run in a loop of their own now; the unknown ones are staged as the
    # whole loop (recomputing the known part), as JAX does
    body_known, _, _, _ = partial_eval_jaxpr(body_jaxpr, bc_uk + carry_uk, carry_uk)
    n_known = sum(not u for u in carry_uk)
    body_known = dce_jaxpr(body_known, [i < n_known for i in range(len(body_known.out_avals))])
    cond_known = dce_jaxpr(cond_known, [i == 0 for i in range(len(cond_known.out_avals))])
    cc, bc, carry = _split(tracers, cond_nconsts, body_nconsts)
    known = [t.pval.const for t, u in zip(cc + bc + carry, cc_uk + bc_uk + carry_uk,
                                          strict=True) if not u]
    k_outs = while_p.bind(*known, cond_jaxpr=cond_known, body_jaxpr=body_known,
                          cond_nconsts=sum(not u for u in cc_uk),
                          body_nconsts=sum(not u for u in bc_uk))
    staged = trace.stage(while_p, tracers, params)
    it = iter(k_outs)
    return [s if u else next(it) for s, u in zip(staged, carry_uk, strict=True)]


partial_eval_rules[while_p] = _while_partial_eval


def _while_transpose(cts, *args, **params):
    raise TransformError(
        "Reverse-mode differentiation does not work for lax.while_loop (or lax.fori_loop "
        "with traced bounds): its trip count is not known in advance, so the values of "
        "every iteration cannot be saved. Use lax.scan, or lax.fori_loop with static "
        "(Python int) bounds, which lowers to scan; forward mode (jvp, jacfwd) works.")


transpose_rules[while_p] = _while_transpose

