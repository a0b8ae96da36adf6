"""Forward mode (JVP) and the transposition of linear programs.

- ``jvp_rules[prim](primals, tangents, **params) -> (primal_out, tangent_out)``;
  tangents may be the symbolic ``Zero``.
- ``transpose_rules[prim](ct, *args, **params) -> cts``; linear inputs arrive
  as ``UndefPrimal`` and the rule returns one cotangent (or ``None``) per input.

Both tables are filled beside each primitive, in ``functrace.lax``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from ..core.avals import ShapedArray, is_inexact
from ..core.jaxpr import Jaxpr, Literal, Var
from ..core.trace import (
    Primitive,
    Trace,
    Tracer,
    abstract_eval_rules,
    bind_custom_jvp_call,
    bind_custom_vjp_call,
    full_lower,
    get_aval,
    impl_rules,
    new_main,
)
from ..errors import MissingRuleError

jvp_rules: dict[Primitive, Any] = {}
transpose_rules: dict[Primitive, Any] = {}


class Zero:
    """A symbolic zero tangent/cotangent of type ``aval``: it costs no operations."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self) -> str:
        return f"Zero({self.aval.str_short()})"


def tangent_aval(aval: ShapedArray) -> ShapedArray:
    return ShapedArray(aval.shape, aval.dtype)


def zeros_like_aval(aval: ShapedArray) -> np.ndarray:
    return np.zeros(aval.shape, aval.dtype)


def instantiate_zeros(t):
    return zeros_like_aval(t.aval) if isinstance(t, Zero) else t


def is_differentiable(aval: ShapedArray) -> bool:
    return is_inexact(aval.dtype)


# ---------------------------------------------------------------------------
# add_any: the sum used to accumulate tangents and cotangents

add_any_p = Primitive("add_any", elementwise=True, scalar="({0} + {1})")
impl_rules[add_any_p] = np.add


def _add_any_abstract(x: ShapedArray, y: ShapedArray) -> ShapedArray:
    if x.shape != y.shape or x.dtype != y.dtype:
        raise TypeError(f"add_any: operands must match, got {x.str_short()} and {y.str_short()}")
    return tangent_aval(x)


abstract_eval_rules[add_any_p] = _add_any_abstract


def add_tangents(x, y):
    """Sums two (co)tangents, keeping symbolic zeros symbolic."""
    if isinstance(x, Zero):
        return y
    if isinstance(y, Zero):
        return x
    return add_any_p.bind(x, y)


def _add_any_jvp(primals, tangents):
    return add_any_p.bind(*primals), add_tangents(*tangents)


jvp_rules[add_any_p] = _add_any_jvp
transpose_rules[add_any_p] = lambda ct, x, y: [ct, ct]


# ---------------------------------------------------------------------------
# rule factories (JAX's defjvp / deflinear)

def defjvp(prim: Primitive, *jvp_fns):
    """Registers per-input tangent functions ``fn(g, *primals, **params)``.

    An input whose tangent is a symbolic zero costs nothing; ``None`` marks a
    non-differentiable input.
    """
    jvp_rules[prim] = partial(_standard_jvp, jvp_fns, prim, False)


def defjvp2(prim: Primitive, *jvp_fns):
    """Like ``defjvp`` but each ``fn(g, ans, *primals, **params)`` also gets the output."""
    jvp_rules[prim] = partial(_standard_jvp, jvp_fns, prim, True)


def _standard_jvp(jvp_fns, prim, with_ans, primals, tangents, **params):
    out = prim.bind(*primals, **params)
    out_aval = get_aval(out)
    tangent_out = Zero(tangent_aval(out_aval))
    if not is_differentiable(out_aval):
        return out, tangent_out
    lead = (out,) if with_ans else ()
    for fn, t in zip(jvp_fns, tangents, strict=True):
        if fn is not None and not isinstance(t, Zero):
            tangent_out = add_tangents(tangent_out, fn(t, *lead, *primals, **params))
    return out, tangent_out


def defjvp_zero(prim: Primitive):
    """The output does not depend differentiably on the inputs (comparisons, argmax...)."""
    jvp_rules[prim] = partial(_zero_jvp, prim)


def _zero_jvp(prim, primals, tangents, **params):
    out = prim.bind(*primals, **params)
    if prim.multiple_results:
        return out, [Zero(tangent_aval(get_aval(o))) for o in out]
    return out, Zero(tangent_aval(get_aval(out)))


def deflinear(prim: Primitive, transpose_rule):
    """A primitive linear in all its inputs: its jvp applies it to the tangents."""
    jvp_rules[prim] = partial(_linear_jvp, prim)
    transpose_rules[prim] = transpose_rule


def _linear_jvp(prim, primals, tangents, **params):
    out = prim.bind(*primals, **params)
    if all(isinstance(t, Zero) for t in tangents):
        return out, Zero(tangent_aval(get_aval(out)))
    return out, prim.bind(*[instantiate_zeros(t) for t in tangents], **params)


def defbilinear(prim: Primitive, transpose_rule):
    """A primitive of two inputs, linear in each one separately (a product): the tangent
    for each input is the primitive with that input replaced by its tangent."""
    defjvp(prim, lambda g, x, y, **params: prim.bind(g, y, **params),
           lambda g, x, y, **params: prim.bind(x, g, **params))
    transpose_rules[prim] = transpose_rule


# ---------------------------------------------------------------------------
# the JVP trace

class JVPTracer(Tracer):
    __slots__ = ("primal", "tangent")

    def __init__(self, trace, primal, tangent):
        self._trace = trace
        self.primal = primal
        self.tangent = tangent

    @property
    def aval(self) -> ShapedArray:
        return get_aval(self.primal)

    def full_lower(self):
        if isinstance(self.tangent, Zero):
            # a value with a zero tangent is a constant to the traces below
            from_primal = self.primal
            return from_primal.full_lower() if isinstance(from_primal, Tracer) else from_primal
        return self

    def concrete_value(self, op: str):
        p = self.primal
        return p.concrete_value(op) if isinstance(p, Tracer) else np.asarray(p)


class JVPTrace(Trace):
    def pure(self, val):
        return JVPTracer(self, val, Zero(tangent_aval(get_aval(val))))

    lift = pure

    def process_primitive(self, primitive, tracers, params):
        primals = [t.primal for t in tracers]
        tangents = [t.tangent for t in tracers]
        if all(isinstance(t, Zero) for t in tangents):
            out = primitive.bind(*primals, **params)
            if primitive.multiple_results:
                return [self.pure(o) for o in out]
            return self.pure(out)
        rule = jvp_rules.get(primitive)
        if rule is None:
            raise MissingRuleError(
                f"Differentiation rule for '{primitive.name}' is not implemented (jvp); "
                "wrap the computation in functrace.custom_jvp or custom_vjp to supply one.")
        primal_out, tangent_out = rule(primals, tangents, **params)
        if primitive.multiple_results:
            return [JVPTracer(self, p, t) for p, t in zip(primal_out, tangent_out, strict=True)]
        return JVPTracer(self, primal_out, tangent_out)

    def process_custom_jvp_call(self, prim, fun, jvp, tracers, *, symbolic_zeros):
        primals = [t.primal for t in tracers]
        tangents = [t.tangent for t in tracers]
        if all(isinstance(t, Zero) for t in tangents):
            outs = bind_custom_jvp_call(prim, fun, jvp, primals, symbolic_zeros=symbolic_zeros)
            return [self.pure(o) for o in outs]
        if not symbolic_zeros:
            tangents = [instantiate_zeros(t) for t in tangents]
        primal_out, tangent_out = jvp(primals, tangents)
        return [JVPTracer(self, p, t) for p, t in zip(primal_out, tangent_out, strict=True)]

    def process_custom_vjp_call(self, prim, fun, fwd, bwd, tracers, *, out_trees,
                                symbolic_zeros):
        primals = [t.primal for t in tracers]
        tangents = [t.tangent for t in tracers]
        if all(isinstance(t, Zero) for t in tangents):
            outs = bind_custom_vjp_call(prim, fun, fwd, bwd, primals, out_trees=out_trees,
                                        symbolic_zeros=symbolic_zeros)
            return [self.pure(o) for o in outs]
        if symbolic_zeros:  # the rule learns which inputs take part (CustomVJPPrimal)
            primal_out, res = fwd(*primals,
                                  perturbed=[not isinstance(t, Zero) for t in tangents])
        else:
            primal_out, res = fwd(*primals)
        # the tangents go through a linear equation whose transpose is the user's bwd
        tangent_out = prim.linear_call(res, [instantiate_zeros(t) for t in tangents], bwd,
                                       [tangent_aval(get_aval(p)) for p in primal_out])
        return [JVPTracer(self, p, t) for p, t in zip(primal_out, tangent_out, strict=True)]


def jvp_flat(fun, primals, tangents):
    """Runs ``fun`` on (primal, tangent) pairs; returns primal and tangent outputs.

    Tangent outputs may be symbolic ``Zero``s.
    """
    with new_main(JVPTrace) as main:
        trace = JVPTrace(main)
        tracers_in = [JVPTracer(trace, full_lower(p), t)
                      for p, t in zip(primals, tangents, strict=True)]
        outs = fun(*tracers_in)
        primals_out, tangents_out = [], []
        for o in outs:
            if isinstance(o, Tracer) and o._trace.main is main:
                primals_out.append(o.primal)
                tangents_out.append(o.tangent)
            else:
                primals_out.append(o)
                tangents_out.append(Zero(tangent_aval(get_aval(o))))
    return primals_out, tangents_out


# ---------------------------------------------------------------------------
# transposition of a linear jaxpr

class UndefPrimal:
    """Marks a linear input whose value is unknown during transposition."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self) -> str:
        return f"UndefPrimal({self.aval.str_short()})"


def is_undefined_primal(x) -> bool:
    return isinstance(x, UndefPrimal)


def backward_pass(jaxpr: Jaxpr, consts, args, cts_out):
    """Transposes ``jaxpr`` (linear in the ``UndefPrimal`` entries of ``args``).

    Returns one cotangent per ``UndefPrimal`` argument (``Zero`` if none reaches it).
    Equations whose outputs receive no cotangent are skipped, so symbolic zeros
    never produce operations.
    """
    primal_env: dict[Var, Any] = {}
    ct_env: dict[Var, Any] = {}
    for v, x in zip(jaxpr.constvars, consts, strict=True):
        primal_env[v] = x
    for v, x in zip(jaxpr.invars, args, strict=True):
        if not is_undefined_primal(x):
            primal_env[v] = x

    def read_primal(a):
        if isinstance(a, Literal):
            return a.val
        return primal_env[a] if a in primal_env else UndefPrimal(a.aval)

    def write_ct(v, ct):
        if isinstance(v, Literal) or ct is None or isinstance(ct, Zero):
            return
        ct_env[v] = add_tangents(ct_env[v], ct) if v in ct_env else ct

    for v, ct in zip(jaxpr.outvars, cts_out, strict=True):
        write_ct(v, ct)
    for eqn in reversed(jaxpr.eqns):
        cts = [ct_env.pop(v, None) for v in eqn.outvars]
        if all(c is None for c in cts):
            continue
        rule = transpose_rules.get(eqn.primitive)
        if rule is None:
            raise MissingRuleError(
                f"Transpose rule for '{eqn.primitive.name}' is not implemented (reverse-mode "
                "differentiation needs it); use forward mode (jvp/jacfwd) or custom_vjp.")
        invals = [read_primal(a) for a in eqn.inputs]
        if eqn.primitive.multiple_results:
            cts = [Zero(tangent_aval(v.aval)) if c is None else c
                   for c, v in zip(cts, eqn.outvars, strict=True)]
            cts_in = rule(cts, *invals, **eqn.params)
        else:
            cts_in = rule(cts[0], *invals, **eqn.params)
        for a, x, ct in zip(eqn.inputs, invals, cts_in, strict=True):
            if is_undefined_primal(x):
                write_ct(a, ct)
    return [ct_env.get(v, Zero(tangent_aval(v.aval))) if is_undefined_primal(x) else None
            for v, x in zip(jaxpr.invars, args, strict=True)]
