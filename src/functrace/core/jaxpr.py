"""The IR: variables, literals, equations and jaxprs; printer and type checker.

A jaxpr is a typed, first-order program::

    { lambda ; a:f32[] b:f32[] c:f32[]. let
        d:f32[] = add a b
        e:f32[] = mul d c
      in (e,) }

Constants (``constvars``) come before the ``;``, inputs after it.
"""

from __future__ import annotations

from collections import deque
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

    # ``memo``: what transformations derived from this program (its JVP, its batched or
    # partially evaluated forms, a compiled executable), kept for as long as it lives
    __slots__ = ("jaxpr", "consts", "memo")

    def __init__(self, jaxpr: Jaxpr, consts):
        self.jaxpr = jaxpr
        self.consts = list(consts)
        self.memo = None

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
    """Variable names of one printout, shared by the nested jaxprs (JAX's pp context):
    fresh names in order (``a``, ``b``... skipping the names of shared jaxprs), ``_`` for
    the top-level results nothing reads, and the names of shared jaxprs."""

    def __init__(self, drop=()):
        self.names: dict[Var, str] = dict.fromkeys(drop, "_")
        self.count = 0
        self.shared: dict = {}  # Jaxpr -> its name, printed once above the program
        self.reserved: set[str] = set()

    def fresh(self) -> str:
        while True:
            s = _letters(self.count)
            self.count += 1
            if s not in self.reserved:
                return s

    def __call__(self, v) -> str:
        if isinstance(v, Literal):
            return _pp_literal(v)
        name = self.names.get(v)
        if name is None:
            name = self.names[v] = self.fresh()
        return name

    def suggest(self, for_vars, like_vars):
        """Names ``for_vars`` (a nested program's binders) like ``like_vars`` (what the
        equation passes or binds), as JAX does for ``jit``: the first use of an outer
        variable lends its name; literals lend none."""
        if len(for_vars) != len(like_vars):
            return
        lent: set = set()
        for f, like in zip(for_vars, like_vars, strict=True):
            if (isinstance(like, Var) and like not in lent and isinstance(f, Var)
                    and f not in self.names):
                lent.add(like)
                self.names[f] = self(like)


def _pp_literal(lit: Literal) -> str:
    val = np.asarray(lit.val)
    if val.dtype == np.bool_:
        s = str(bool(val))
    elif np.issubdtype(val.dtype, np.integer):
        s = str(int(val))
    elif np.issubdtype(val.dtype, np.complexfloating):
        s = repr(complex(val))  # (1+2j), 3j: Python's form, as JAX prints it
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


def _doc_vars(vs, names: _Names, binder: bool, sep: str = ""):
    def one(v):
        if binder:
            return pp.text(f"{names(v)}:{v.aval.str_short()}")
        return pp.text(names(v))
    return pp.nest(2, pp.group(pp.join(pp.concat([pp.text(sep), pp.group(pp.brk())]),
                                       [one(v) for v in vs])))


def _open(j) -> Jaxpr:
    return j.jaxpr if isinstance(j, ClosedJaxpr) else j


def _doc_value(value, names: _Names):
    if _is_jaxpr(value):
        return _doc_jaxpr(_open(value), names)
    if _holds_jaxprs(value):
        inner = [_doc_jaxpr(_open(j), names) for j in value]
        return pp.group(pp.concat([
            pp.nest(2, pp.concat([pp.text("("), pp.brk(""), pp.join(pp.brk(), inner)])),
            pp.brk(""), pp.text(")")]))
    return pp.text(_pp_param(value))


# per primitive: the parameter holding a program called with the equation's operands and
# giving its results (``jit``): its binders print with the names of those (JAX 0.10)
pp_same_names: dict = {}


def _doc_eqn(eqn: Eqn, names: _Names):
    params = _printed_params(eqn)
    call = pp_same_names.get(eqn.primitive)
    if call is not None and _open(eqn.params[call]) not in names.shared:
        inner = _open(eqn.params[call])
        names.suggest(inner.invars, eqn.inputs)
        names.suggest(inner.outvars, eqn.outvars)
    parts = [pp.text(eqn.primitive.name)]
    if eqn.outvars:  # an equation with no results (an effect) is printed without "="
        parts[:0] = [_doc_vars(eqn.outvars, names, binder=True), pp.text(" = ")]
    if params:
        kvs = [pp.concat([pp.text(f"{k}="), _doc_value(params[k], names)])
               for k in _param_order(params)]
        parts.append(pp.group(pp.concat([
            pp.nest(2, pp.concat([pp.text("["), pp.brk(""), pp.join(pp.brk(), kvs)])),
            pp.brk(""), pp.text("]")])))
    parts.append(pp.concat([pp.text(" "), _doc_vars(eqn.inputs, names, binder=False)]))
    return pp.concat(parts)


def _unused_results(jaxpr: Jaxpr) -> list:
    """Results of the top-level equations that nothing reads (JAX prints them ``_``; it
    names those of nested programs)."""
    used = {v for v in jaxpr.outvars if isinstance(v, Var)}
    for e in jaxpr.eqns:
        used.update(x for x in e.inputs if isinstance(x, Var))
    return [v for e in jaxpr.eqns for v in e.outvars if v not in used]


def _doc_jaxpr(jaxpr: Jaxpr, names: _Names, top: bool = False):
    shared = names.shared.get(jaxpr)
    if shared is not None and not top:
        return pp.text(shared)
    consts = _doc_vars(jaxpr.constvars, names, binder=True)
    ins = _doc_vars(jaxpr.invars, names, binder=True)
    eqns = pp.join(pp.brk("; "), [_doc_eqn(e, names) for e in jaxpr.eqns])
    outs = pp.concat([pp.text("("), _doc_vars(jaxpr.outvars, names, binder=False, sep=","),
                      pp.text(",)" if len(jaxpr.outvars) == 1 else ")")])
    body = pp.concat([pp.text("{ lambda "), consts, pp.text("; "), ins, pp.text(". let"),
                      pp.nest(2, pp.concat([pp.brk(), eqns])), pp.brk(), pp.text("in "), outs])
    # the closing brace is inside the group, as in JAX: it counts when fitting the line
    return pp.group(pp.concat([pp.nest(2, body), pp.text(" }")]))


def _jaxprs_in_params(params) -> list:
    out = []
    for val in params.values():
        for v in val if isinstance(val, tuple) else (val,):
            if _is_jaxpr(v):
                out.append(_open(v))
    return out


def _shared_jaxprs(top: Jaxpr, names: _Names) -> list:
    """The nested programs JAX 0.10 prints once, above the program, as ``let name = {...}
    in``: those met more than once, and those of more than 10 equations. A program is
    named after the ``name`` parameter of the equation holding it (``jit``'s), else
    ``jaxpr``; a name taken twice gets a number."""
    counts: dict = {}
    label: dict = {}
    queue = deque([top])
    while queue:
        j = queue.popleft()
        counts[j] = counts.get(j, 0) + 1 + (j is not top and len(j.eqns) > 10)
        for eqn in j.eqns:
            subs = _jaxprs_in_params(eqn.params)
            queue.extend(subs)
            name = eqn.params.get("name")
            if isinstance(name, str):
                for sj in subs:
                    label.setdefault(sj, name.strip("<>"))
    taken: dict[str, int] = {}
    order = []
    for j, c in counts.items():
        if c == 1:
            continue
        name = label.get(j, "jaxpr")
        k = taken.get(name, 0)
        taken[name] = k + 1
        if k:
            name += str(k)
            taken[name] = taken.get(name, 0) + 1
        names.reserved.add(name)
        names.shared[j] = name
        order.append((name, j))
    return order


def pp_jaxpr(jaxpr: Jaxpr) -> str:
    """Formats a jaxpr the way JAX prints one (80 columns, JAX's line breaks)."""
    names = _Names(_unused_results(jaxpr))
    lines = [pp.layout(pp.concat([pp.text(f"let {name} = "), _doc_jaxpr(j, names, top=True),
                                  pp.text(" in")]), WIDTH)
             for name, j in _shared_jaxprs(jaxpr, names)]
    return "\n".join([*lines, pp.layout(_doc_jaxpr(jaxpr, names, top=True), WIDTH)])


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
