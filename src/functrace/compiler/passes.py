"""Jaxpr-to-jaxpr optimisation passes used by ``jit``.

- ``dce``: drops equations whose results are never used (except effectful ones);
- ``simplify``: algebraic identities that reverse mode produces a lot of
  (``mul x 1.0``, ``add x 0.0``, a ``convert_element_type`` to the same type);
- ``fold_constants``: evaluates equations whose inputs are all known at compile
  time, when the result is small;
- ``cse``: merges equations with the same primitive, inputs and params;
- ``swap_transposed_dots``: ``transpose(dot_general(a, b))`` becomes ``dot_general(b, a)``.
"""

from __future__ import annotations

import numpy as np

from ..core.jaxpr import ClosedJaxpr, Eqn, Jaxpr, Literal, Var
from ..lax.dots import dot_general_p
from ..lax.elementwise import add_p, mul_p, sub_p
from ..lax.shape_ops import broadcast_in_dim_p, convert_element_type_p, transpose_p

FOLD_MAX_SIZE = 64  # fold only results this small: big constants would bloat the program


def dce(jaxpr: Jaxpr) -> Jaxpr:
    live = {v for v in jaxpr.outvars if isinstance(v, Var)}
    kept = []
    for eqn in reversed(jaxpr.eqns):
        if eqn.primitive.effectful or any(v in live for v in eqn.outvars):
            kept.append(eqn)
            live.update(x for x in eqn.inputs if isinstance(x, Var))
    return Jaxpr(jaxpr.constvars, jaxpr.invars, list(reversed(kept)), jaxpr.outvars)


def _is_literal(x, value) -> bool:
    return isinstance(x, Literal) and np.ndim(x.val) == 0 and x.val == value


def _substitute(jaxpr: Jaxpr, eqns, subst) -> Jaxpr:
    def sub(x):
        while isinstance(x, Var) and x in subst:
            x = subst[x]
        return x

    new_eqns = [Eqn(e.primitive, [sub(x) for x in e.inputs], e.params, e.outvars) for e in eqns]
    return Jaxpr(jaxpr.constvars, jaxpr.invars, new_eqns, [sub(v) for v in jaxpr.outvars])


def simplify(jaxpr: Jaxpr) -> Jaxpr:
    """Removes ``mul x 1``, ``add x 0``, ``sub x 0`` and no-op conversions; a 1 or 0
    broadcast from a scalar literal counts as one (the cotangent of a ``sum``)."""
    subst: dict[Var, object] = {}
    splats: dict[Var, Literal] = {}  # broadcast_in_dim results of a scalar literal

    def is_unit(x, unit) -> bool:
        return _is_literal(x, unit) or _is_literal(splats.get(x), unit)

    kept = []
    for eqn in jaxpr.eqns:
        prim = eqn.primitive
        out = eqn.outvars[0] if len(eqn.outvars) == 1 else None
        alias = None
        if prim is broadcast_in_dim_p and isinstance(eqn.inputs[0], Literal):
            splats[out] = eqn.inputs[0]
        elif prim in (mul_p, add_p, sub_p) and out is not None:
            x, y = eqn.inputs
            unit = 1 if prim is mul_p else 0
            if is_unit(y, unit) and x.aval.shape == out.aval.shape:
                alias = x
            elif prim is not sub_p and is_unit(x, unit) and y.aval.shape == out.aval.shape:
                alias = y
        elif prim is convert_element_type_p and out is not None:
            (x,) = eqn.inputs
            if x.aval.dtype == out.aval.dtype:
                alias = x
        if alias is not None and alias.aval.dtype == out.aval.dtype:
            subst[out] = alias
        else:
            kept.append(eqn)
    return _substitute(jaxpr, kept, subst)


def _use_counts(jaxpr: Jaxpr) -> dict:
    counts: dict = {}
    for e in jaxpr.eqns:
        for x in e.inputs:
            if isinstance(x, Var):
                counts[x] = counts.get(x, 0) + 1
    for v in jaxpr.outvars:
        if isinstance(v, Var):
            counts[v] = counts.get(v, 0) + 1
    return counts


def swap_transposed_dots(jaxpr: Jaxpr) -> Jaxpr:
    """``transpose(dot_general(a, b))`` that swaps the two free blocks (batch dims kept in
    front) -> ``dot_general(b, a)``.

    Reverse mode produces this for every weight gradient (``x.T @ g`` comes out
    as ``transpose(g.T-contract-x)``); the transposed view would make every later
    elementwise loop (the optimizer update) read memory with a large stride.
    """
    counts = _use_counts(jaxpr)
    producer = {e.outvars[0]: e for e in jaxpr.eqns if len(e.outvars) == 1}
    replaced: dict = {}
    for e in jaxpr.eqns:
        if e.primitive is not transpose_p or not isinstance(e.inputs[0], Var):
            continue
        dot = producer.get(e.inputs[0])
        if dot is None or dot.primitive is not dot_general_p or counts[e.inputs[0]] != 1:
            continue
        (lc, rc), (lb, rb) = dot.params["dimension_numbers"]
        a, b = dot.inputs
        nb = len(lb)  # batch dims lead the output and stay (vmap of a weight gradient)
        nl, nr = a.aval.ndim - len(lc) - nb, b.aval.ndim - len(rc) - nb
        if e.params["permutation"] != (tuple(range(nb)) + tuple(range(nb + nl, nb + nl + nr))
                                       + tuple(range(nb, nb + nl))):
            continue
        params = dict(dot.params, dimension_numbers=((rc, lc), (rb, lb)))
        replaced[id(e)] = Eqn(dot.primitive, [b, a], params, e.outvars)
        replaced[id(dot)] = None
    if not replaced:
        return jaxpr
    eqns = []
    for e in jaxpr.eqns:
        new = replaced.get(id(e), e)
        if new is not None:
            eqns.append(new)
    return Jaxpr(jaxpr.constvars, jaxpr.invars, eqns, jaxpr.outvars)


def _hashable_params(params) -> tuple | None:
    try:
        key = tuple(sorted(params.items()))
        hash(key)
        return key
    except TypeError:
        return None


def _atom_key(x):
    if isinstance(x, Literal):
        return ("lit", np.asarray(x.val).item(), x.aval.dtype)
    return x


def cse(jaxpr: Jaxpr) -> Jaxpr:
    seen: dict = {}
    subst: dict[Var, Var] = {}
    kept = []
    for eqn in jaxpr.eqns:
        inputs = [subst.get(x, x) if isinstance(x, Var) else x for x in eqn.inputs]
        params = _hashable_params(eqn.params)
        key = None
        if params is not None and eqn.outvars:
            key = (eqn.primitive, tuple(_atom_key(x) for x in inputs), params)
        if key is not None and key in seen:
            for old, new in zip(eqn.outvars, seen[key], strict=True):
                subst[old] = new
            continue
        if key is not None:
            seen[key] = eqn.outvars
        kept.append(Eqn(eqn.primitive, inputs, eqn.params, eqn.outvars))
    outvars = [subst.get(v, v) if isinstance(v, Var) else v for v in jaxpr.outvars]
    return Jaxpr(jaxpr.constvars, jaxpr.invars, kept, outvars)


def fold_constants(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Evaluates small equations whose inputs are literals or constants."""
    jaxpr = closed.jaxpr
    known = {v: c for v, c in zip(jaxpr.constvars, closed.consts, strict=True)
             if isinstance(c, np.ndarray)}
    subst: dict[Var, Literal] = {}
    kept = []
    for eqn in jaxpr.eqns:
        inputs = [subst.get(x, x) if isinstance(x, Var) else x for x in eqn.inputs]
        foldable = (eqn.inputs and not eqn.primitive.multiple_results
                    and all(isinstance(x, Literal) or x in known for x in inputs)
                    and eqn.outvars[0].aval.size <= FOLD_MAX_SIZE
                    and eqn.outvars[0].aval.shape == ())
        if foldable:
            vals = [np.asarray(x.val, x.aval.dtype) if isinstance(x, Literal) else known[x]
                    for x in inputs]
            try:
                out = np.asarray(eqn.primitive.impl(*vals, **eqn.params),
                                 eqn.outvars[0].aval.dtype)
            except Exception:  # noqa: BLE001 - leave it to run time, where it raises properly
                out = None
            if out is not None:
                subst[eqn.outvars[0]] = Literal(out, eqn.outvars[0].aval)
                continue
        kept.append(Eqn(eqn.primitive, inputs, eqn.params, eqn.outvars))
    outvars = [subst.get(v, v) if isinstance(v, Var) else v for v in jaxpr.outvars]
    return ClosedJaxpr(Jaxpr(jaxpr.constvars, jaxpr.invars, kept, outvars), closed.consts)


def optimize(closed: ClosedJaxpr) -> ClosedJaxpr:
    """The standard pipeline: simplify, fold, CSE, DCE."""
    jaxpr = simplify(closed.jaxpr)
    closed = fold_constants(ClosedJaxpr(jaxpr, closed.consts))
    jaxpr = dce(cse(swap_transposed_dots(simplify(closed.jaxpr))))
    used = {x for e in jaxpr.eqns for x in e.inputs if isinstance(x, Var)}
    used |= {v for v in jaxpr.outvars if isinstance(v, Var)}
    keep = [(v, c) for v, c in zip(jaxpr.constvars, closed.consts, strict=True) if v in used]
    jaxpr = Jaxpr([v for v, _ in keep], jaxpr.invars, jaxpr.eqns, jaxpr.outvars)
    return ClosedJaxpr(jaxpr, [c for _, c in keep])
