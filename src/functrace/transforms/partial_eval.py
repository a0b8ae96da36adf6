"""Partial evaluation: run what is known now, stage what is not.

``partial_eval_flat(f, pvals)`` calls ``f`` on partially known inputs. An
operation whose inputs are all known is evaluated at once (by the traces below,
so eagerly outside ``jit``); any other is recorded. The recorded equations form
the jaxpr of the unknown part; known values it needs become its constants
(the *residuals*). Applied to a JVP, this splits the forward pass from the
linear tangent program, which ``backward_pass`` then transposes.
"""

from __future__ import annotations

import itertools
from typing import Any, NamedTuple

from ..core.avals import ShapedArray
from ..core.jaxpr import Eqn, Jaxpr, Var
from ..core.trace import Trace, Tracer, full_raise, get_aval, new_main

_counter = itertools.count()

# rules of primitives that hold jaxprs: ``rule(trace, tracers, **params) -> outputs``; an
# output is a known value or a tracer of ``trace`` (``trace.stage`` records the default)
partial_eval_rules: dict = {}


class PartialVal(NamedTuple):
    aval: ShapedArray
    const: Any  # None when unknown

    @classmethod
    def known(cls, val) -> PartialVal:
        return PartialVal(get_aval(val), val)

    @classmethod
    def unknown(cls, aval: ShapedArray) -> PartialVal:
        return PartialVal(aval, None)

    @property
    def is_known(self) -> bool:
        return self.const is not None


class _LambdaBinding(NamedTuple):
    pass


class _ConstRecipe(NamedTuple):
    val: Any


class _EqnRecipe(NamedTuple):
    order: int
    prim: Any
    inputs: list
    params: dict
    outs: list  # the output tracers


class PartialEvalTracer(Tracer):
    __slots__ = ("pval", "recipe")

    def __init__(self, trace, pval: PartialVal, recipe):
        self._trace = trace
        self.pval = pval
        self.recipe = recipe

    @property
    def aval(self) -> ShapedArray:
        return self.pval.aval

    def full_lower(self):
        if self.pval.is_known:
            c = self.pval.const
            return c.full_lower() if isinstance(c, Tracer) else c
        return self

    def concrete_value(self, op: str):
        c = self.pval.const
        if c is None:
            return super().concrete_value(op)
        return c.concrete_value(op) if isinstance(c, Tracer) else c


class PartialEvalTrace(Trace):
    def new_arg(self, pval: PartialVal) -> PartialEvalTracer:
        return PartialEvalTracer(self, pval, _LambdaBinding() if not pval.is_known else None)

    def pure(self, val) -> PartialEvalTracer:
        return PartialEvalTracer(self, PartialVal.known(val), None)

    lift = pure

    def instantiate_const(self, tracer: PartialEvalTracer) -> PartialEvalTracer:
        if not tracer.pval.is_known:
            return tracer
        return PartialEvalTracer(self, PartialVal.unknown(tracer.aval),
                                 _ConstRecipe(tracer.pval.const))

    def process_primitive(self, primitive, tracers, params):
        if all(t.pval.is_known for t in tracers):
            return primitive.bind(*[t.pval.const for t in tracers], **params)
        rule = partial_eval_rules.get(primitive)
        if rule is not None:
            return rule(self, tracers, **params)
        return self.stage(primitive, tracers, params)

    def stage(self, primitive, tracers, params):
        """Records ``primitive`` as unknown (known inputs become residuals)."""
        tracers_in = [self.instantiate_const(t) for t in tracers]
        avals_out = primitive.abstract_eval(*[t.aval for t in tracers_in], **params)
        multiple = primitive.multiple_results
        outs = [PartialEvalTracer(self, PartialVal.unknown(a), None)
                for a in (avals_out if multiple else [avals_out])]
        recipe = _EqnRecipe(next(_counter), primitive, tracers_in, params, outs)
        for o in outs:
            o.recipe = recipe
        return outs if multiple else outs[0]


def tracers_to_jaxpr(tracers_in: list[PartialEvalTracer], tracers_out: list[PartialEvalTracer]):
    """Builds the jaxpr of the unknown part; returns ``(jaxpr, residual values)``."""
    var_of: dict[int, Var] = {}
    constvars: dict[int, Var] = {}
    consts: list = []
    invars = []
    for t in tracers_in:
        var_of[id(t)] = v = Var(t.aval)
        invars.append(v)
    recipes: dict[int, _EqnRecipe] = {}
    stack = list(tracers_out)
    seen: set[int] = set()
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        r = t.recipe
        if isinstance(r, _ConstRecipe):
            key = id(r.val)
            if key not in constvars:
                constvars[key] = Var(t.aval.strip_weak_type())
                consts.append(r.val)
            var_of[id(t)] = constvars[key]
        elif isinstance(r, _EqnRecipe) and r.order not in recipes:
            recipes[r.order] = r
            stack.extend(r.inputs)
        elif isinstance(r, _LambdaBinding) and id(t) not in var_of:
            raise ValueError("partial_eval: an input tracer that is not an argument")
    eqns = []
    for order in sorted(recipes):
        r = recipes[order]
        outvars = []
        for o in r.outs:
            var_of[id(o)] = v = Var(o.aval)
            outvars.append(v)
        eqns.append(Eqn(r.prim, [var_of[id(x)] for x in r.inputs], r.params, outvars))
    jaxpr = Jaxpr(list(constvars.values()), invars, eqns, [var_of[id(t)] for t in tracers_out])
    return jaxpr, consts


def partial_eval_flat(fun, pvals_in: list[PartialVal], instantiate):
    """Traces ``fun`` with partially known inputs.

    Returns ``(jaxpr, residuals, pvals_out)``; outputs with ``instantiate`` set
    are always outputs of the jaxpr, the others only when unknown. ``instantiate``
    is a list of flags or a function of the number of outputs returning one.
    """
    with new_main(PartialEvalTrace) as main:
        trace = PartialEvalTrace(main)
        tracers_in = [trace.new_arg(p) for p in pvals_in]
        outs = fun(*tracers_in)
        tracers_out = [full_raise(trace, o) for o in outs]
        if callable(instantiate):
            instantiate = instantiate(len(tracers_out))
        tracers_out = [trace.instantiate_const(t) if inst else t
                       for t, inst in zip(tracers_out, instantiate, strict=True)]
        pvals_out = [t.pval for t in tracers_out]
        unknown_in = [t for t in tracers_in if not t.pval.is_known]
        unknown_out = [t for t in tracers_out if not t.pval.is_known]
        jaxpr, consts = tracers_to_jaxpr(unknown_in, unknown_out)
    return jaxpr, consts, pvals_out
