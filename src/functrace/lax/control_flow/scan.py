"""``lax.scan`` (and ``fori_loop`` with static bounds, ``lax.map``): the ``scan`` primitive.

``scan[jaxpr=body length num_consts num_carry reverse unroll linear] *consts *init *xs``
runs ``carry, y = body(*consts, *carry, *x_i)`` for each leading slice ``x_i`` of
``xs`` and returns the final carry and the stacked ``y``s, as JAX's scan does.

Reverse mode: the JVP of a scan is a scan carrying primal and tangent values;
partial evaluation splits it into a known scan, which also stacks the residuals
the tangent part needs (loop-invariant residuals are computed once, outside the
loop), and an unknown scan over those residuals; transposing that one runs a scan
backwards (``reverse`` flipped) that accumulates the cotangents of the constants.
"""

from __future__ import annotations

import numpy as np

from ...core.avals import ShapedArray
from ...core.jaxpr import ClosedJaxpr, Jaxpr, Literal, Var, pp_hidden_params
from ...core.trace import (
    Primitive,
    abstract_eval_rules,
    get_aval,
    impl_rules,
    trace_to_jaxpr,
)
from ...errors import ShapeError, TransformError
from ...transforms.ad import (
    UndefPrimal,
    Zero,
    add_any_p,
    backward_pass,
    instantiate_zeros,
    is_undefined_primal,
    jvp_rules,
    tangent_aval,
    transpose_rules,
)
from ...transforms.batching import (
    axis_size,
    batching_rules,
    bdim_at_front,
    moveaxis,
    not_mapped,
)
from ...transforms.higher_order import (
    batch_jaxpr,
    dce_jaxpr,
    eval_jaxpr_impl,
    jaxpr_as_fun,
    jvp_jaxpr,
    partial_eval_jaxpr,
    permute_jaxpr,
)
from ...transforms.partial_eval import partial_eval_rules
from ...tree_util import tree_flatten, tree_unflatten
from .common import abstractify, carry_fixpoint, check_carry, loop_avals, trace_fun, types_str

__all__ = ["scan", "scan_p"]

# a backend with no lowering for it runs its impl, a jaxpr interpreter (impl_fallback)
scan_p = Primitive("scan", multiple_results=True, impl_fallback=True)


def _xs_length(xs_leaves, length):
    lengths = []
    for x in xs_leaves:
        aval = abstractify(x)
        if aval.ndim == 0:
            raise ShapeError(f"lax.scan: every leaf of xs must have a leading axis to scan "
                             f"over, got a scalar {aval.str_short()}")
        lengths.append(aval.shape[0])
    if length is not None:
        try:
            length = int(length)
        except (TypeError, ValueError):
            raise TransformError(f"lax.scan: length must be an int, got {length!r}") from None
        if any(n != length for n in lengths):
            raise ShapeError(f"lax.scan: length={length} but the leading axes of xs have "
                             f"sizes {sorted(set(lengths))}")
        return length
    if not lengths:
        raise TransformError("lax.scan: with xs=None (or no array leaves) pass length=...")
    if len(set(lengths)) != 1:
        raise ShapeError(f"lax.scan: the leaves of xs must all have the same leading axis "
                         f"size, got sizes {lengths}")
    return lengths[0]


def _trace_body(f, init_leaves, init_tree, x_avals, xs_tree):
    carry_avals = loop_avals(init_leaves)
    store: dict = {}

    def body(carry, x):
        out = f(carry, x)
        if not (isinstance(out, tuple | list) and len(out) == 2):
            raise TransformError(f"lax.scan: the body function must return a pair (carry, y), "
                                 f"got {type(out).__name__}")
        c, y = out
        c_leaves, store["carry_tree"] = tree_flatten(c)
        y_leaves, store["y_tree"] = tree_flatten(y)
        return (*c_leaves, *y_leaves)

    in_tree = tree_flatten((tree_unflatten(init_tree, init_leaves),
                            tree_unflatten(xs_tree, list(x_avals))))[1]
    jaxpr, consts, _ = trace_fun(body, in_tree, carry_avals + list(x_avals), "lax.scan")
    return jaxpr, consts, store, carry_avals


def scan(f, init, xs=None, length=None, reverse: bool = False, unroll=1,
         _split_transpose: bool = False):
    """Loops ``carry, y = f(carry, x)`` over the leading axis of ``xs`` (``lax.scan``).

    Returns ``(final carry, stacked ys)``. ``init``, ``xs`` and the outputs may be
    pytrees; ``xs=None`` with ``length=n`` loops ``n`` times; ``reverse=True`` runs
    from the end; ``unroll`` is accepted (a hint to the compiler).

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> ft.lax.scan(lambda c, x: (c + x, c + x), 0.0, fnp.arange(4.0))
        (array(6., dtype=float32), array([0., 1., 3., 6.], dtype=float32))
    """
    if not callable(f):
        raise TransformError(f"lax.scan: f must be callable, got {type(f).__name__}")
    xs_leaves, xs_tree = tree_flatten(xs)
    length = _xs_length(xs_leaves, length)
    if isinstance(unroll, bool):
        unroll = max(length, 1) if unroll else 1
    unroll = int(unroll)
    if unroll < 1:
        raise TransformError(f"lax.scan: unroll must be a positive int or a bool, got {unroll}")
    init_leaves, init_tree = tree_flatten(init)
    x_avals = [abstractify(x).strip_weak_type() for x in xs_leaves]
    x_avals = [ShapedArray(a.shape[1:], a.dtype) for a in x_avals]
    jaxpr, consts, store, carry_avals = _trace_body(f, init_leaves, init_tree, x_avals, xs_tree)
    n_carry = len(init_leaves)
    out_avals = jaxpr.out_avals[:n_carry]
    if store["carry_tree"] == init_tree and _promotable(carry_avals, out_avals, init_leaves):
        # a weakly typed initial value takes the type the body gives it (as in JAX)
        init_leaves = [np.asarray(x, b.dtype) if a.dtype != b.dtype else x
                       for x, a, b in zip(init_leaves, carry_avals, out_avals, strict=True)]
        jaxpr, consts, store, carry_avals = _trace_body(f, init_leaves, init_tree, x_avals,
                                                        xs_tree)
    check_carry("lax.scan", init_tree, carry_avals, store["carry_tree"],
                jaxpr.out_avals[:n_carry])
    n_in = len(consts) + n_carry + len(xs_leaves)
    outs = scan_p.bind(*consts, *init_leaves, *xs_leaves, jaxpr=jaxpr, length=length,
                       reverse=bool(reverse), unroll=unroll, num_consts=len(consts),
                       num_carry=n_carry, linear=(False,) * n_in,
                       _split_transpose=bool(_split_transpose))
    carry = tree_unflatten(init_tree, outs[:n_carry])
    return carry, tree_unflatten(store["y_tree"], outs[n_carry:])



def _promotable(carry_avals, out_avals, init_leaves) -> bool:
    changed = False
    for a, b, x in zip(carry_avals, out_avals, init_leaves, strict=True):
        if a.dtype != b.dtype:
            if not (abstractify(x).weak_type and a.shape == b.shape):
                return False
            changed = True
    return changed


# ---------------------------------------------------------------------------
# impl and abstract eval

def _split3(args, a: int, b: int):
    return list(args[:a]), list(args[a:a + b]), list(args[a + b:])


def _scan_impl(*args, jaxpr, length, reverse, num_consts, num_carry, **_):
    consts, carry, xs = _split3(args, num_consts, num_carry)
    y_avals = jaxpr.out_avals[num_carry:]
    ys = [np.empty((length, *a.shape), a.dtype) for a in y_avals]
    for i in (range(length - 1, -1, -1) if reverse else range(length)):
        outs = eval_jaxpr_impl(jaxpr, *consts, *carry, *[x[i] for x in xs])
        carry = outs[:num_carry]
        for y, o in zip(ys, outs[num_carry:], strict=True):
            y[i] = o
    return [np.asarray(c) for c in carry] + ys


def _scan_abstract(*avals, jaxpr, length, reverse, num_consts, num_carry, unroll, linear,
                   _split_transpose):
    consts, carry, xs = _split3(avals, num_consts, num_carry)
    for x in xs:
        if x.ndim == 0 or x.shape[0] != length:
            raise ShapeError(f"scan: an xs operand has type {x.str_short()}, expected a "
                             f"leading axis of length {length}")
    want = consts + carry + [ShapedArray(x.shape[1:], x.dtype) for x in xs]
    got = jaxpr.in_avals
    if len(want) != len(got) or any(a.shape != b.shape or a.dtype != b.dtype
                                    for a, b in zip(want, got, strict=True)):
        raise TransformError(f"scan: operand types {types_str(want)} do not match the body's "
                             f"inputs {types_str(got)}")
    out = jaxpr.out_avals
    c_out = out[:num_carry]
    if any(a.shape != b.shape or a.dtype != b.dtype for a, b in zip(carry, c_out,
                                                                    strict=True)):
        raise TransformError(f"scan: the body's carry output {types_str(c_out)} does not match "
                             f"its carry input {types_str(carry)}")
    return ([a.strip_weak_type() for a in carry]
            + [ShapedArray((length, *a.shape), a.dtype) for a in out[num_carry:]])


def _scan_hidden_params(params) -> set:
    hidden = set() if params["_split_transpose"] else {"_split_transpose"}
    return hidden if any(params["linear"]) else hidden | {"linear"}


pp_hidden_params[scan_p] = _scan_hidden_params
impl_rules[scan_p] = _scan_impl
abstract_eval_rules[scan_p] = _scan_abstract


# ---------------------------------------------------------------------------
# jvp

def _scan_jvp(primals, tangents, *, jaxpr, length, reverse, num_consts, num_carry, unroll,
              linear, _split_transpose):
    nz = [not isinstance(t, Zero) for t in tangents]
    c_nz, carry_nz, x_nz = _split3(nz, num_consts, num_carry)
    n_ys = len(jaxpr.out_avals) - num_carry
    carry_nz = carry_fixpoint(carry_nz, lambda c: jvp_jaxpr(
        jaxpr, c_nz + c + x_nz, c + [False] * n_ys)[1][:num_carry])
    jvp, out_nz = jvp_jaxpr(jaxpr, c_nz + carry_nz + x_nz, carry_nz + [False] * n_ys)
    nc, nx = num_consts, len(x_nz)
    k1, k2, k3 = sum(c_nz), sum(carry_nz), sum(x_nz)
    n = nc + num_carry + nx
    in_order = (list(range(nc)) + [n + i for i in range(k1)]
                + [nc + i for i in range(num_carry)] + [n + k1 + i for i in range(k2)]
                + [nc + num_carry + i for i in range(nx)] + [n + k1 + k2 + i for i in range(k3)])
    m = num_carry + n_ys
    ky = sum(out_nz[num_carry:])
    out_order = (list(range(num_carry)) + [m + i for i in range(k2)]
                 + [num_carry + i for i in range(n_ys)] + [m + k2 + i for i in range(ky)])
    jvp = permute_jaxpr(jvp, in_order, out_order)
    consts, carry, xs = _split3(primals, num_consts, num_carry)
    c_t, carry_t, x_t = _split3(tangents, num_consts, num_carry)
    c_dot = [t for t in c_t if not isinstance(t, Zero)]
    carry_dot = [instantiate_zeros(t) for t, z in zip(carry_t, carry_nz, strict=True) if z]
    x_dot = [t for t in x_t if not isinstance(t, Zero)]
    lin_c, lin_carry, lin_x = _split3(list(linear), num_consts, num_carry)
    new_linear = tuple(lin_c + [True] * k1 + lin_carry + [True] * k2 + lin_x + [True] * k3)
    outs = scan_p.bind(*consts, *c_dot, *carry, *carry_dot, *xs, *x_dot, jaxpr=jvp,
                       length=length, reverse=reverse, unroll=unroll, num_consts=nc + k1,
                       num_carry=num_carry + k2, linear=new_linear,
                       _split_transpose=_split_transpose)
    carry_out = outs[:num_carry]
    carry_dot_out = iter(outs[num_carry:num_carry + k2])
    ys = outs[num_carry + k2:num_carry + k2 + n_ys]
    ys_dot = iter(outs[num_carry + k2 + n_ys:])
    out_avals = _scan_abstract(*[get_aval(x) for x in primals], jaxpr=jaxpr, length=length,
                               reverse=reverse, num_consts=num_consts, num_carry=num_carry,
                               unroll=unroll, linear=linear, _split_transpose=_split_transpose)
    t_out = ([next(carry_dot_out) if z else Zero(tangent_aval(a))
              for z, a in zip(carry_nz, out_avals[:num_carry], strict=True)]
             + [next(ys_dot) if z else Zero(tangent_aval(a))
                for z, a in zip(out_nz[num_carry:], out_avals[num_carry:], strict=True)])
    return list(carry_out) + list(ys), t_out


jvp_rules[scan_p] = _scan_jvp


# ---------------------------------------------------------------------------
# vmap

def _scan_batch(args, dims, *, jaxpr, length, reverse, num_consts, num_carry, unroll, linear,
                _split_transpose):
    size = axis_size(args, dims)
    b = [d is not not_mapped for d in dims]
    c_b, carry_b, x_b = _split3(b, num_consts, num_carry)
    n_ys = len(jaxpr.out_avals) - num_carry
    carry_b = carry_fixpoint(carry_b, lambda c: batch_jaxpr(
        jaxpr, size, c_b + c + x_b, c + [False] * n_ys)[1][:num_carry])
    batched, out_b = batch_jaxpr(jaxpr, size, c_b + carry_b + x_b, carry_b + [False] * n_ys)
    consts, carry, xs = _split3(args, num_consts, num_carry)
    c_d, carry_d, x_d = _split3(dims, num_consts, num_carry)
    consts = [x if d is not_mapped else moveaxis(x, d, 0) for x, d in zip(consts, c_d,
                                                                          strict=True)]
    carry = [bdim_at_front(x, d, size) if bb else x
             for x, d, bb in zip(carry, carry_d, carry_b, strict=True)]
    xs = [x if d is not_mapped else moveaxis(x, d, 1) for x, d in zip(xs, x_d, strict=True)]
    outs = scan_p.bind(*consts, *carry, *xs, jaxpr=batched, length=length, reverse=reverse,
                       unroll=unroll, num_consts=num_consts, num_carry=num_carry,
                       linear=linear, _split_transpose=_split_transpose)
    out_dims = ([0 if bb else not_mapped for bb in carry_b]
                + [1 if bb else not_mapped for bb in out_b[num_carry:]])
    return outs, out_dims


batching_rules[scan_p] = _scan_batch


# ---------------------------------------------------------------------------
# partial evaluation: a known scan that stacks residuals, an unknown scan over them

def _invariant_outputs(known: ClosedJaxpr, n_consts: int, first: int) -> list[bool]:
    """Which outputs from ``first`` on depend only on the constants (not carry or xs)."""
    j = known.jaxpr
    inv = set(j.constvars) | set(j.invars[:n_consts])
    for eqn in j.eqns:
        if all(isinstance(x, Literal) or x in inv for x in eqn.inputs):
            inv.update(eqn.outvars)
    return [isinstance(v, Literal) or v in inv for v in j.outvars[first:]]


def _scan_partial_eval(trace, tracers, *, jaxpr, length, reverse, num_consts, num_carry,
                       unroll, linear, _split_transpose):
    params = dict(jaxpr=jaxpr, length=length, reverse=reverse, num_consts=num_consts,
                  num_carry=num_carry, unroll=unroll, linear=linear,
                  _split_transpose=_split_transpose)
    uk = [not t.pval.is_known for t in tracers]
    c_uk, carry_uk, x_uk = _split3(uk, num_consts, num_carry)
    n_ys = len(jaxpr.out_avals) - num_carry
    carry_uk = carry_fixpoint(carry_uk, lambda c: partial_eval_jaxpr(
        jaxpr, c_uk + c + x_uk, c + [False] * n_ys)[2][:num_carry])
    known, unknown, out_uk, nres = partial_eval_jaxpr(jaxpr, c_uk + carry_uk + x_uk,
                                                      carry_uk + [False] * n_ys)
    if out_uk[:num_carry] != carry_uk:
        return trace.stage(scan_p, tracers, params)
    n_kc = sum(not u for u in c_uk)
    n_kcarry = sum(not u for u in carry_uk)
    n_known_out = len(known.jaxpr.outvars) - nres
    invariant = _invariant_outputs(known, n_kc, n_known_out)
    consts, carry, xs = _split3(tracers, num_consts, num_carry)
    k_consts = [t.pval.const for t, u in zip(consts, c_uk, strict=True) if not u]
    # loop-invariant residuals: computed once, from the known constants, outside the loop
    j = known.jaxpr
    inv_vars = [v for v, i in zip(j.outvars[n_known_out:], invariant, strict=True) if i]
    inv_jaxpr = dce_jaxpr(ClosedJaxpr(Jaxpr(j.constvars, j.invars[:n_kc], j.eqns, inv_vars),
                                      known.consts), [True] * len(inv_vars))
    inv_vals = jaxpr_as_fun(inv_jaxpr)(*k_consts) if inv_vars else []
    # the known scan: known outputs, and the per-iteration residuals stacked as ys; a
    # residual that is a slice of a known xs is that xs, not a stacked copy (as in JAX)
    k_x_invars = j.invars[n_kc + n_kcarry:]
    forwarded = {k: k_x_invars.index(v) for k, v in enumerate(j.outvars[n_known_out:])
                 if not invariant[k] and isinstance(v, Var) and v in k_x_invars}
    keep = [True] * n_known_out + [not i and k not in forwarded
                                   for k, i in enumerate(invariant)]
    body_known = _drop_outputs(known, keep)
    k_carry = [t.pval.const for t, u in zip(carry, carry_uk, strict=True) if not u]
    k_xs = [t.pval.const for t, u in zip(xs, x_uk, strict=True) if not u]
    n_k_in = len(k_consts) + len(k_carry) + len(k_xs)
    outs = scan_p.bind(*k_consts, *k_carry, *k_xs, jaxpr=body_known, length=length,
                       reverse=reverse, unroll=unroll, num_consts=n_kc, num_carry=n_kcarry,
                       linear=(False,) * n_k_in, _split_transpose=_split_transpose)
    known_outs, stacked_iter = outs[:n_known_out], iter(outs[n_known_out:])
    stacked = [k_xs[forwarded[k]] if k in forwarded else next(stacked_iter)
               for k, i in enumerate(invariant) if not i]
    # the unknown scan: [invariant residuals, unknown consts] [unknown carry] [xs, residuals]
    inv_idx = [k for k, i in enumerate(invariant) if i]
    stk_idx = [k for k, i in enumerate(invariant) if not i]
    n_uk_in = len(unknown.jaxpr.invars) - nres
    n_uc = sum(c_uk)
    n_ucarry = sum(carry_uk)
    in_order = inv_idx + [nres + i for i in range(n_uk_in)] + stk_idx
    body_unknown = permute_jaxpr(unknown, in_order)
    pure = [trace.instantiate_const(trace.pure(v)) for v in inv_vals]
    uk_consts = [t for t, u in zip(consts, c_uk, strict=True) if u]
    uk_carry = [trace.instantiate_const(t) for t, u in zip(carry, carry_uk, strict=True) if u]
    uk_xs = [t for t, u in zip(xs, x_uk, strict=True) if u]
    res_xs = [trace.instantiate_const(trace.pure(v)) for v in stacked]
    ins = [*pure, *uk_consts, *uk_carry, *uk_xs, *res_xs]
    lin = tuple([False] * len(pure) + [True] * (n_uc + n_ucarry + len(uk_xs))
                + [False] * len(res_xs))
    staged = trace.stage(scan_p, ins, dict(
        jaxpr=body_unknown, length=length, reverse=reverse, unroll=unroll,
        num_consts=len(pure) + n_uc, num_carry=n_ucarry, linear=lin,
        _split_transpose=_split_transpose))
    it_k, it_u = iter(known_outs), iter(staged)
    return [next(it_u) if u else next(it_k) for u in out_uk]


def _drop_outputs(closed: ClosedJaxpr, keep) -> ClosedJaxpr:
    j = closed.jaxpr
    outvars = [v for v, k in zip(j.outvars, keep, strict=True) if k]
    return ClosedJaxpr(Jaxpr(j.constvars, j.invars, j.eqns, outvars), closed.consts)


partial_eval_rules[scan_p] = _scan_partial_eval


# ---------------------------------------------------------------------------
# transpose: a scan running the other way, accumulating the constants' cotangents

def _scan_transpose(cts, *args, jaxpr, length, reverse, num_consts, num_carry, unroll,
                    linear, _split_transpose):
    consts, carry, xs = _split3(args, num_consts, num_carry)
    c_lin = [is_undefined_primal(x) for x in consts]
    x_lin = [is_undefined_primal(x) for x in xs]
    res_c = [x for x in consts if not is_undefined_primal(x)]
    res_x = [x for x in xs if not is_undefined_primal(x)]
    in_avals = jaxpr.in_avals
    c_avals, carry_avals, x_avals = _split3(in_avals, num_consts, num_carry)
    lin_c_avals = [tangent_aval(a) for a, lin in zip(c_avals, c_lin, strict=True) if lin]
    y_avals = [tangent_aval(a) for a in jaxpr.out_avals[num_carry:]]
    ct_carry = [instantiate_zeros(c) if isinstance(c, Zero) else c for c in cts[:num_carry]]
    ct_ys = [np.zeros((length, *a.shape), a.dtype) if isinstance(c, Zero) else c
             for c, a in zip(cts[num_carry:], y_avals, strict=True)]
    n_rc, n_lc = len(res_c), len(lin_c_avals)

    def body_t(*a):
        rc, acc = a[:n_rc], a[n_rc:n_rc + n_lc]
        ctc = a[n_rc + n_lc:n_rc + n_lc + num_carry]
        rest = a[n_rc + n_lc + num_carry:]
        cty, rx = rest[:len(y_avals)], rest[len(y_avals):]
        it_c, it_x = iter(rc), iter(rx)
        ins = ([UndefPrimal(tangent_aval(av)) if lin else next(it_c)
                for av, lin in zip(c_avals, c_lin, strict=True)]
               + [UndefPrimal(tangent_aval(av)) for av in carry_avals]
               + [UndefPrimal(tangent_aval(av)) if lin else next(it_x)
                  for av, lin in zip(x_avals, x_lin, strict=True)])
        ct_in = backward_pass(jaxpr.jaxpr, jaxpr.consts, ins, [*ctc, *cty])
        ct_c, ct_carry_in, ct_x = _split3(ct_in, num_consts, num_carry)
        new_acc = [add_any_p.bind(s, instantiate_zeros(c)) if not isinstance(c, Zero) else s
                   for s, c in zip(acc, [c for c, lin in zip(ct_c, c_lin, strict=True) if lin],
                                   strict=True)]
        return (new_acc + [instantiate_zeros(c) for c in ct_carry_in]
                + [instantiate_zeros(c) for c, lin in zip(ct_x, x_lin, strict=True) if lin])

    avals = ([get_aval(x).strip_weak_type() for x in res_c] + lin_c_avals
             + [tangent_aval(a) for a in carry_avals] + y_avals
             + [ShapedArray(get_aval(x).shape[1:], get_aval(x).dtype) for x in res_x])
    body = trace_to_jaxpr(body_t, avals, transform="transpose", fun_name="scan_transpose")
    acc0 = [np.zeros(a.shape, a.dtype) for a in lin_c_avals]
    n_in = n_rc + n_lc + num_carry + len(ct_ys) + len(res_x)
    outs = scan_p.bind(*res_c, *acc0, *ct_carry, *ct_ys, *res_x, jaxpr=body, length=length,
                       reverse=not reverse, unroll=unroll, num_consts=n_rc,
                       num_carry=n_lc + num_carry,
                       linear=(False,) * n_rc + (True,) * (n_in - n_rc - len(res_x))
                       + (False,) * len(res_x), _split_transpose=_split_transpose)
    ct_lc = iter(outs[:n_lc])
    ct_init = outs[n_lc:n_lc + num_carry]
    ct_lx = iter(outs[n_lc + num_carry:])
    return ([next(ct_lc) if lin else None for lin in c_lin]
            + [c if is_undefined_primal(x) else None for c, x in zip(ct_init, carry,
                                                                       strict=True)]
            + [next(ct_lx) if lin else None for lin in x_lin])


transpose_rules[scan_p] = _scan_transpose
