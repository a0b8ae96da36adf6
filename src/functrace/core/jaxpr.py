"""The IR: variables, literals, equations and jaxprs; printer and type checker.

A jaxpr is a typed, first-order program::

    { lambda ; a:f32[] b:f32[] c:f32[]. let
        d:f32[] = add a b
        e:f32[] = mul d c
      in (e,) }

Constants (``constvars``) come before the ``;``, inputs after it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..errors import FunctraceError
from . import pretty as pp
from .avals import ShapedArray


class Var:
    """A jaxpr variable; identity is the object itself, names are given when printing."""

    __slots__ = ("aval", "count")
    _counter = 0

    def __init__(self, aval: ShapedArray):
        self.aval = aval
        Var._counter += 1
        self.count = Var._counter

    def __repr__(self) -> str:
        return f"Var({self.count}:{self.aval.str_short()})"


class Literal:
    """A scalar constant written inline in an equation (``2.0:f32[]``)."""

    __slots__ = ("val", "aval")

    def __init__(self, val, aval: ShapedArray):
        self.val = val
        self.aval = aval

    def __repr__(self) -> str:
        return f"Literal({self.val!r})"


Atom = Var | Literal


class Eqn(NamedTuple):
    """``outvars = primitive[params] inputs``."""

    primitive: Any
    inputs: list
    params: dict
    outvars: list


class Jaxpr:
    """A program: ``constvars``, ``invars``, ``eqns`` and ``outvars``."""

    __slots__ = ("constvars", "invars", "eqns", "outvars")

    def __init__(self, constvars, invars, eqns, outvars):
        self.constvars = list(constvars)
        self.invars = list(invars)
        self.eqns = list(eqns)
        self.outvars = list(outvars)

    @property
    def in_avals(self) -> list[ShapedArray]:
        return [v.aval for v in self.invars]

    @property
    def out_avals(self) -> list[ShapedArray]:
        return [v.aval for v in self.outvars]

    def __str__(self) -> str:
        return pp_jaxpr(self)

    __repr__ = __str__


class ClosedJaxpr:
    """A jaxpr together with the values of its constvars.

    This is what ``make_jaxpr`` returns; it prints like the jaxpr and exposes
    ``.jaxpr``, ``.consts``, ``.in_avals`` and ``.out_avals``.
    """

    __slots__ = ("jaxpr", "consts")

    def __init__(self, jaxpr: Jaxpr, consts):
        self.jaxpr = jaxpr
        self.consts = list(consts)

    @property
    def in_avals(self) -> list[ShapedArray]:
        return self.jaxpr.in_avals

    @property
    def out_avals(self) -> list[ShapedArray]:
        return self.jaxpr.out_avals

    @property
    def eqns(self) -> list[Eqn]:
        return self.jaxpr.eqns

    def __str__(self) -> str:
        return pp_jaxpr(self.jaxpr)

    __repr__ = __str__


# ---------------------------------------------------------------------------
# printer (JAX's format)

def _letters(n: int) -> str:
    s = chr(ord("a") + n % 26)
    n //= 26
    while n:
        s = chr(ord("a") + n % 26) + s
        n //= 26
    return s


class _Names:
    def __init__(self):
        self.names: dict[Var, str] = {}

    def __call__(self, v) -> str:
        if isinstance(v, Literal):
            return _pp_literal(v)
        if v not in self.names:
            self.names[v] = _letters(len(self.names))
        return self.names[v]


def _pp_literal(lit: Literal) -> str:
    val = np.asarray(lit.val)
    if val.dtype == np.bool_:
        s = str(bool(val))
    elif np.issubdtype(val.dtype, np.integer):
        s = str(int(val))
    else:
        s = repr(float(val))
    return f"{s}:{lit.aval.str_short()}"


WIDTH = 80  # JAX's printer width


def _is_jaxpr(value) -> bool:
    return isinstance(value, ClosedJaxpr | Jaxpr)


def _holds_jaxprs(value) -> bool:
    return _is_jaxpr(value) or (isinstance(value, tuple) and bool(value)
                                and all(_is_jaxpr(v) for v in value))


def _pp_param(value) -> str:
    if isinstance(value, np.dtype):
        return value.name
    if isinstance(value, type) and issubclass(value, np.generic):
        return np.dtype(value).name
    if callable(value):
        return getattr(value, "__name__", type(value).__name__)
    return str(value)


# per primitive: fn(params) -> names of parameters left out of the printout because they
# hold their default (JAX 0.10 omits scan's all-False ``linear`` and ``_split_transpose``)
pp_hidden_params: dict = {}

# per primitive: fn(eqn) -> the {name: value} JAX prints for it, where JAX's parameters
# differ from ours (dot_general's preferred_element_type is the output dtype in JAX;
# XLA-only sharding parameters are printed with their default, None)
pp_params_rules: dict = {}


def _printed_params(eqn: Eqn) -> dict:
    rule = pp_params_rules.get(eqn.primitive)
    params = rule(eqn) if rule is not None else eqn.params
    hide = pp_hidden_params.get(eqn.primitive)
    hidden = hide(params) if hide is not None else ()
    return {k: v for k, v in params.items() if k not in hidden}


def _param_order(params) -> list:
    keys = sorted(params)
    return (["name"] + [k for k in keys if k != "name"]) if "name" in params else keys


def _doc_vars(vs, names: _Names, used: set | None, binder: bool, sep: str = ""):
    def one(v):
        if binder:
            shown = "_" if used is not None and v not in used else names(v)
            return pp.text(f"{shown}:{v.aval.str_short()}")
        return pp.text(names(v))
    return pp.nest(2, pp.group(pp.join(pp.concat([pp.text(sep), pp.group(pp.brk())]),
                                       [one(v) for v in vs])))


def _doc_value(value, names: _Names):
    if _is_jaxpr(value):
        return _doc_jaxpr(value.jaxpr if isinstance(value, ClosedJaxpr) else value, names)
    if _holds_jaxprs(value):
        inner = [_doc_jaxpr(j.jaxpr if isinstance(j, ClosedJaxpr) else j, names) for j in value]
        return pp.group(pp.concat([
            pp.nest(2, pp.concat([pp.text("("), pp.brk(""), pp.join(pp.brk(), inner)])),
            pp.brk(""), pp.text(")")]))
    return pp.text(_pp_param(value))


def _doc_eqn(eqn: Eqn, names: _Names, used: set):
    params = _printed_params(eqn)
    parts = [pp.text(eqn.primitive.name)]
    if eqn.outvars:  # an equation with no results (an effect) is printed without "="
        parts[:0] = [_doc_vars(eqn.outvars, names, used, binder=True), pp.text(" = ")]
    if params:
        kvs = [pp.concat([pp.text(f"{k}="), _doc_value(params[k], names)])
               for k in _param_order(params)]
        parts.append(pp.group(pp.concat([
            pp.nest(2, pp.concat([pp.text("["), pp.brk(""), pp.join(pp.brk(), kvs)])),
            pp.brk(""), pp.text("]")])))
    parts.append(pp.concat([pp.text(" "), _doc_vars(eqn.inputs, names, None, binder=False)]))
    return pp.concat(parts)


def _used_vars(jaxpr: Jaxpr) -> set:
    used = {v for v in jaxpr.outvars if isinstance(v, Var)}
    for e in jaxpr.eqns:
        used.update(x for x in e.inputs if isinstance(x, Var))
    return used


def _doc_jaxpr(jaxpr: Jaxpr, names: _Names):
    consts = _doc_vars(jaxpr.constvars, names, None, binder=True)
    ins = _doc_vars(jaxpr.invars, names, None, binder=True)
    used = _used_vars(jaxpr)
    eqns = pp.join(pp.brk("; "), [_doc_eqn(e, names, used) for e in jaxpr.eqns])
    outs = pp.concat([pp.text("("), _doc_vars(jaxpr.outvars, names, None, binder=False, sep=","),
                      pp.text(",)" if len(jaxpr.outvars) == 1 else ")")])
    body = pp.concat([pp.text("{ lambda "), consts, pp.text("; "), ins, pp.text(". let"),
                      pp.nest(2, pp.concat([pp.brk(), eqns])), pp.brk(), pp.text("in "), outs])
    return pp.concat([pp.group(pp.nest(2, body)), pp.text(" }")])


def pp_jaxpr(jaxpr: Jaxpr) -> str:
    """Formats a jaxpr the way JAX prints one (80 columns, JAX's line breaks)."""
    return pp.layout(_doc_jaxpr(jaxpr, _Names()), WIDTH)


# ---------------------------------------------------------------------------
# type checking

class JaxprTypeError(FunctraceError, TypeError):
    """A jaxpr is malformed: a variable used before definition or a wrong aval."""


def _same_type(a: ShapedArray, b: ShapedArray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype


def typecheck(jaxpr: Jaxpr | ClosedJaxpr) -> list[ShapedArray]:
    """Re-derives every aval with the shape rules; returns the output avals.

    Raises ``JaxprTypeError`` naming the offending equation.
    """
    if isinstance(jaxpr, ClosedJaxpr):
        for v, c in zip(jaxpr.jaxpr.constvars, jaxpr.consts, strict=True):
            shape = np.shape(c)
            if tuple(shape) != v.aval.shape:
                raise JaxprTypeError(f"const {v} has shape {shape}, expected {v.aval.shape}")
        jaxpr = jaxpr.jaxpr
    env: set[Var] = set()

    def read(x):
        if isinstance(x, Literal):
            return x.aval
        if x not in env:
            raise JaxprTypeError(f"variable {x} used before it is defined")
        return x.aval

    for v in jaxpr.constvars + jaxpr.invars:
        if v in env:
            raise JaxprTypeError(f"variable {v} bound twice")
        env.add(v)
    for eqn in jaxpr.eqns:
        in_avals = [read(x) for x in eqn.inputs]
        out_avals = eqn.primitive.abstract_eval(*in_avals, **eqn.params)
        if not eqn.primitive.multiple_results:
            out_avals = [out_avals]
        if len(out_avals) != len(eqn.outvars):
            raise JaxprTypeError(f"{eqn.primitive.name}: {len(out_avals)} results, "
                                 f"{len(eqn.outvars)} outvars")
        for v, a in zip(eqn.outvars, out_avals, strict=True):
            if not _same_type(v.aval, a):
                raise JaxprTypeError(
                    f"{eqn.primitive.name}: outvar has type {v.aval.str_short()} but the shape "
                    f"rule gives {a.str_short()}")
            if v in env:
                raise JaxprTypeError(f"variable {v} bound twice")
            env.add(v)
    return [read(x) for x in jaxpr.outvars]
