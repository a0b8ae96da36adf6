"""Programs inside programs: the bodies and branches of higher-order primitives.

A backend lowers ``cond``/``while``/``scan`` by compiling the jaxprs they hold with
the same pipeline as the outer program (passes, fusion plan, its own ``compile``,
whose programs the shared executor runs: ``compiler/executor.py``) and calling the
resulting executables from the step's kernel.
"""

from __future__ import annotations

from ..core.jaxpr import ClosedJaxpr, Eqn, Jaxpr, Var
from ..transforms.checkpoint import checkpoint_p
from ..transforms.custom import custom_jvp_call_p, custom_vjp_call_p
from ..transforms.custom_batching import custom_vmap_p
from . import fusion, passes

# call-like primitives whose body is compiled as part of the caller: the jaxpr
# parameter that holds the body (or a function of the params giving it), and whether
# inlining is allowed for these params
INLINED = {
    custom_jvp_call_p: ("call_jaxpr", lambda params: True),
    custom_vjp_call_p: ("call_jaxpr", lambda params: True),
    custom_vmap_p: ("call", lambda params: True),  # its rule matters only under vmap
    # a checkpoint stays a program of its own unless the user allowed CSE across it
    checkpoint_p: ("jaxpr", lambda params: not params["prevent_cse"]),
}


def inline_calls(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Replaces ``custom_jvp_call``/``custom_vjp_call`` (and ``checkpoint`` without
    ``prevent_cse``) equations by the equations of their bodies, so the body fuses
    with its surroundings."""
    if not any(_inlinable(e) for e in closed.jaxpr.eqns):
        return closed
    consts = list(closed.consts)
    constvars = list(closed.jaxpr.constvars)
    subst: dict = {}
    eqns: list = []
    _inline_into(closed.jaxpr, subst, eqns, constvars, consts)
    outvars = [subst.get(v, v) if isinstance(v, Var) else v for v in closed.jaxpr.outvars]
    return ClosedJaxpr(Jaxpr(constvars, closed.jaxpr.invars, eqns, outvars), consts)


def _inlinable(eqn: Eqn) -> bool:
    spec = INLINED.get(eqn.primitive)
    return spec is not None and spec[1](eqn.params)


def _inline_into(jaxpr: Jaxpr, subst: dict, eqns: list, constvars: list, consts: list,
                 rename: bool = False):
    """Appends ``jaxpr``'s equations to ``eqns``, reading inputs through ``subst``; with
    ``rename`` every result gets a fresh variable (a body may be inlined twice)."""
    def sub(x):
        return subst.get(x, x) if isinstance(x, Var) else x

    for eqn in jaxpr.eqns:
        inputs = [sub(x) for x in eqn.inputs]
        if not _inlinable(eqn):
            outvars = eqn.outvars
            if rename:
                outvars = [Var(v.aval) for v in eqn.outvars]
                subst.update(zip(eqn.outvars, outvars, strict=True))
            eqns.append(Eqn(eqn.primitive, inputs, eqn.params, outvars))
            continue
        where = INLINED[eqn.primitive][0]
        body: ClosedJaxpr = where(eqn.params) if callable(where) else eqn.params[where]
        inner: dict = {}
        for v, c in zip(body.jaxpr.constvars, body.consts, strict=True):
            inner[v] = nv = Var(v.aval)
            constvars.append(nv)
            consts.append(c)
        inner.update(zip(body.jaxpr.invars, inputs, strict=True))
        _inline_into(body.jaxpr, inner, eqns, constvars, consts, rename=True)
        for v, o in zip(eqn.outvars, body.jaxpr.outvars, strict=True):
            subst[v] = inner.get(o, o) if isinstance(o, Var) else o


def prepare_program(closed: ClosedJaxpr, reductions: bool = False):
    """``closed`` as ``compile_program`` compiles it: calls inlined, optimised, and its
    fusion plan. Returns ``(closed, steps)``. A backend that compiles a whole loop into
    one function (the CPU's native loops) reads the plan of its body from here."""
    closed = passes.optimize(inline_calls(closed))
    return closed, fusion.plan(closed.jaxpr, reductions=reductions)


def compile_program(closed: ClosedJaxpr, backend):
    """Optimises and lowers ``closed`` with ``backend``; returns ``run(*args) -> list``."""
    closed, steps = prepare_program(closed, getattr(backend, "fuses_reductions", False))
    run, _ = backend.compile(closed.jaxpr, closed.consts, steps)
    return run
