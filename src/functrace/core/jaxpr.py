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


WIDTH = 80  # JAX's printer width: a nested jaxpr that fits is printed on one line


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


def _pp_nested(value, names: _Names, indent: int, column: int) -> str:
    """A jaxpr parameter starting at ``column``: on one line if it fits, else broken."""
    jaxpr = value.jaxpr if isinstance(value, ClosedJaxpr) else value
    snapshot = dict(names.names)
    flat = _pp_jaxpr(jaxpr, names, indent, flat=True)
    if "\n" not in flat and column + len(flat) <= WIDTH:
        return flat
    names.names = snapshot
    return _pp_jaxpr(jaxpr, names, indent)


# per primitive: fn(params) -> names of parameters left out of the printout because they
# hold their default (JAX 0.10 omits scan's all-False ``linear`` and ``_split_transpose``)
pp_hidden_params: dict = {}


def _param_order(params, prim=None) -> list:
    hide = pp_hidden_params.get(prim)
    hidden = hide(params) if hide is not None else ()
    keys = sorted(k for k in params if k not in hidden)
    return (["name"] + [k for k in keys if k != "name"]) if "name" in params else keys


def _pp_eqn(eqn: Eqn, names: _Names, indent: int, used: set | None = None) -> str:
    multiple = len(eqn.outvars) > 1
    lhs = " ".join("_:" + v.aval.str_short() if multiple and used is not None and v not in used
                   else f"{names(v)}:{v.aval.str_short()}" for v in eqn.outvars)
    args = " ".join(names(x) for x in eqn.inputs)
    pad = " " * indent
    if not any(_holds_jaxprs(v) for v in eqn.params.values()):
        params = ""
        if eqn.params:
            items = " ".join(f"{k}={_pp_param(eqn.params[k])}"
                             for k in _param_order(eqn.params, eqn.primitive))
            params = f"[{items}]"
        rhs = f"{eqn.primitive.name}{params}" + (f" {args}" if args else "")
        return pad + f"{lhs} = {rhs}"
    # JAX's layout for equations holding jaxprs: one parameter per line
    inner = indent + 2
    lines = [pad + f"{lhs} = {eqn.primitive.name}["]
    for k in _param_order(eqn.params, eqn.primitive):
        v = eqn.params[k]
        if _is_jaxpr(v):
            head = " " * inner + f"{k}="
            lines.append(head + _pp_nested(v, names, inner, len(head)))
        elif _holds_jaxprs(v):
            lines.append(" " * inner + f"{k}=(")
            for j in v:
                lines.append(" " * (inner + 2) + _pp_nested(j, names, inner + 2, inner + 2))
            lines.append(" " * inner + ")")
        else:
            lines.append(" " * inner + f"{k}={_pp_param(v)}")
    lines.append(pad + "]" + (f" {args}" if args else ""))
    return "\n".join(lines)


def _used_vars(jaxpr: Jaxpr) -> set:
    used = {v for v in jaxpr.outvars if isinstance(v, Var)}
    for e in jaxpr.eqns:
        used.update(x for x in e.inputs if isinstance(x, Var))
    return used


def _pp_jaxpr(jaxpr: Jaxpr, names: _Names, indent: int, flat: bool = False) -> str:
    consts = " ".join(f"{names(v)}:{v.aval.str_short()}" for v in jaxpr.constvars)
    ins = " ".join(f"{names(v)}:{v.aval.str_short()}" for v in jaxpr.invars)
    used = _used_vars(jaxpr)
    pad = " " * indent
    eqns = [_pp_eqn(e, names, 0 if flat else indent + 4, used) for e in jaxpr.eqns]
    outs = ", ".join(names(v) for v in jaxpr.outvars)
    trailing = "," if len(jaxpr.outvars) == 1 else ""
    if flat:
        body = " ".join(eqns)
        return f"{{ lambda {consts}; {ins}. let {body}{' ' if body else ''}in ({outs}{trailing}) }}"
    lines = [f"{{ lambda {consts}; {ins}. let"]
    lines += eqns
    lines.append(f"{pad}  in ({outs}{trailing}) }}")
    return "\n".join(lines)


def pp_jaxpr(jaxpr: Jaxpr) -> str:
    """Formats a jaxpr the way JAX prints one."""
    return _pp_jaxpr(jaxpr, _Names(), 0)


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
