"""Loops in machine code: a ``scan``/``while`` (and the ``cond``s and loops nested in it)
whose every step has a Numba entry point becomes ONE generated Numba function.

The body is compiled by the normal pipeline (``compiler.nested.prepare_program``:
inlining, passes, the fusion plan); instead of lowering each step to a kernel called
from Python, each step is written as a few lines of the loop function:

- a fused step over scalars (rank 0, the usual ``fori_loop`` body) is inlined as
  scalar assignments, with the same expressions as the generated loops (``codegen``);
  scalars live in locals for the whole loop;
- any other fused step calls its generated loop (``codegen.plan_fused``: the same
  kernel the Python-orchestrated path runs) on operands reshaped as it expects;
- ``dot_general`` on float32/float64 is ``np.dot`` (BLAS) inside the function; shape
  ops are views or copies; a standalone ``reduce_sum/max/min`` is a one-equation fused
  loop; ``reduce_or``/``reduce_and`` over every axis are ``np.any``/``np.all``;
- ``cond`` becomes ``if``/``elif``, and a nested ``scan``/``while`` a nested loop.

A loop with any other step raises ``Unsupported`` with the reason, and the caller
(``control_flow.py``) keeps the Python-orchestrated loop. The source is written through
the kernel cache (``compiler/kernel_cache.py``), so Numba's ``cache=True`` keeps the
machine code on disk for the next process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...compiler.fusion import Step
from ...compiler.kernel_cache import load_kernel_module
from ...compiler.nested import prepare_program
from ...compiler.scalar_expr import cast, literal, scalar_expr
from ...core.jaxpr import ClosedJaxpr, Literal
from ...lax.control_flow import cond_p, scan_p, while_p
from ...lax.dots import dot_general_p
from ...lax.dynamic_slicing import dynamic_slice_p, dynamic_update_slice_p
from ...lax.reductions import reduce_and_p, reduce_max_p, reduce_min_p, reduce_or_p
from ...lax.shape_ops import (
    broadcast_in_dim_p,
    expand_dims_p,
    reduce_sum_p,
    reshape_p,
    squeeze_p,
    transpose_p,
)
from ...lax.slicing import concatenate_p, rev_p, slice_p
from .codegen import FUNCTIONS, plan_fused

# dtypes a native loop keeps in Numba locals and arrays (complex, float16 and bfloat16
# bodies stay on the Python-orchestrated path)
NATIVE_DTYPES = frozenset(np.dtype(t) for t in (
    np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
    np.uint64, np.float32, np.float64))
BLAS_DTYPES = frozenset((np.dtype(np.float32), np.dtype(np.float64)))


class Unsupported(Exception):  # noqa: N818 - a decision, not an error the user sees
    """This loop cannot be one Numba function; the message says why."""


@dataclass(frozen=True)
class Val:
    """A value in the generated function: a local's name (or a literal's expression);
    rank-0 values are Numba scalars, the others C-contiguous arrays."""

    expr: str
    shape: tuple
    dtype: np.dtype

    @property
    def scalar(self) -> bool:
        return self.shape == ()


def _shape(t) -> str:
    return repr(tuple(int(n) for n in t))


def _number(x) -> str:
    x = x.item() if isinstance(x, np.generic) else x
    if isinstance(x, float) and not math.isfinite(x):
        return "np.nan" if x != x else ("np.inf" if x > 0 else "-np.inf")
    return repr(x)


class Emitter:
    """Collects the lines, imports and extra parameters (constants of bodies) of one
    generated loop function."""

    def __init__(self):
        self.imports: dict[tuple[str, str], str] = {}
        self.extras: list[tuple[str, object]] = []  # (parameter name, value)
        self.count = 0

    def fresh(self, prefix: str = "t") -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def kernel(self, module, name: str) -> str:
        key = (module.__name__, name)
        if key not in self.imports:
            self.imports[key] = f"_k{len(self.imports)}"
        return self.imports[key]

    def constant(self, value) -> Val:
        """A constant of a body (a closed jaxpr's const) becomes a parameter."""
        arr = np.asarray(value)
        name = f"e{len(self.extras)}"
        self.extras.append((name, arr))
        _check_dtype(arr.dtype, "a constant")
        return Val(name, arr.shape, arr.dtype)

    # -- bodies ------------------------------------------------------------------
    def jaxpr(self, closed: ClosedJaxpr, inputs: list[Val], lines: list[str],
              ind: str) -> list[Val]:
        """Writes ``closed`` applied to ``inputs`` into ``lines``; returns its outputs."""
        closed, steps = prepare_program(closed, reductions=True)
        j = closed.jaxpr
        env: dict = {}
        for v, c in zip(j.constvars, closed.consts, strict=True):
            env[v] = self.constant(c)
        for v, x in zip(j.invars, inputs, strict=True):
            env[v] = x
        for step in steps:
            for e in step.eqns:
                for v in e.outvars:
                    _check_dtype(v.aval.dtype, f"{e.primitive.name}'s result")
            self.step(step, env, lines, ind)
        return [self.read(env, v) for v in j.outvars]

    def read(self, env: dict, x) -> Val:
        if isinstance(x, Literal):
            if np.ndim(x.val):
                raise Unsupported("an array literal")
            _check_dtype(x.aval.dtype, "a literal")
            return Val(literal(x), (), np.dtype(x.aval.dtype))
        return env[x]

    def bind(self, env: dict, var, expr: str, lines: list[str], ind: str) -> Val:
        """A new local for ``var`` holding ``expr``."""
        name = self.fresh()
        lines.append(f"{ind}{name} = {expr}")
        env[var] = Val(name, tuple(var.aval.shape), np.dtype(var.aval.dtype))
        return env[var]

    def step(self, step: Step, env: dict, lines: list[str], ind: str) -> None:
        if step.fused and step.shape == ():
            self.scalar_cluster(step, env, lines, ind)
        elif step.fused:
            self.fused(step, env, lines, ind)
        else:
            eqn = step.eqns[0]
            rule = RULES.get(eqn.primitive)
            if rule is None:
                raise Unsupported(f"{eqn.primitive.name} has no Numba entry point")
            rule(self, eqn, env, lines, ind)

    def scalar_cluster(self, step: Step, env: dict, lines: list[str], ind: str) -> None:
        for eqn in step.eqns:
            args = [self.read(env, x).expr for x in eqn.inputs]
            out = eqn.outvars[0]
            if eqn.primitive is broadcast_in_dim_p or eqn.primitive.fusible_reduction:
                # a broadcast to rank 0, or a reduction over no axes: the value itself
                self.bind(env, out, cast(np.dtype(out.aval.dtype), args[0]), lines, ind)
                continue
            expr = scalar_expr(eqn, args, FUNCTIONS)
            self.bind(env, out, cast(np.dtype(out.aval.dtype), expr), lines, ind)

    def fused(self, step: Step, env: dict, lines: list[str], ind: str) -> None:
        """A call of the step's generated loop (the same kernel as outside loops)."""
        plan = plan_fused(step)
        kernel = self.kernel(plan.module, plan.kernel_name)
        ins = []
        for k, grouped in plan.feeds:
            x = self.read(env, step.inputs[k])
            if x.scalar:
                ins.append(f"np.full({_shape(grouped)}, {x.expr})")
            else:
                ins.append(_reshaped(x, grouped))
        outs = []
        for (grouped, acc, init), (_, dtype) in zip(plan.outputs, plan.finals, strict=True):
            name = self.fresh("o")
            if acc is None:
                lines.append(f"{ind}{name} = np.empty({_shape(grouped)}, "
                             f"np.{np.dtype(dtype).name})")
            else:
                lines.append(f"{ind}{name} = np.full({_shape(grouped)}, {_number(init)}, "
                             f"np.{np.dtype(acc).name})")
            outs.append(name)
        lines.append(f"{ind}{kernel}({_shape(plan.loop_shape)}, {', '.join(ins + outs)})")
        for v, name, (grouped, acc, _), (shape, dtype) in zip(
                step.outputs, outs, plan.outputs, plan.finals, strict=True):
            dtype = np.dtype(dtype)
            if shape == ():
                expr = cast(dtype, f"{name}.reshape((1,))[0]")
            else:
                expr = _reshaped(Val(name, tuple(grouped), dtype), shape)
                if acc is not None and np.dtype(acc) != dtype:
                    expr = f"{expr}.astype(np.{dtype.name})"
            self.bind(env, v, expr, lines, ind)

    # -- loops -------------------------------------------------------------------
    def scan(self, params: dict, args: list[Val], lines: list[str], ind: str) -> list[Val]:
        """A scan as a Python ``for`` loop in the generated source; returns its outputs."""
        nc, ncarry, n = params["num_consts"], params["num_carry"], params["length"]
        body = params["jaxpr"]
        consts, init, xs = args[:nc], args[nc:nc + ncarry], args[nc + ncarry:]
        carry = [self.local(x, lines, ind) for x in init]
        ys = []
        for a in body.out_avals[ncarry:]:
            _check_dtype(a.dtype, "a stacked output")
            y = Val(self.fresh("ys"), (n, *a.shape), np.dtype(a.dtype))
            lines.append(f"{ind}{y.expr} = np.empty({_shape(y.shape)}, np.{y.dtype.name})")
            ys.append(y)
        it, i = self.fresh("it"), self.fresh("i")
        lines.append(f"{ind}for {it} in range({n}):")
        inner = ind + "    "
        lines.append(f"{inner}{i} = {n - 1} - {it}" if params["reverse"] else
                     f"{inner}{i} = {it}")
        x_vals = []
        for x in xs:
            name = self.fresh("x")
            lines.append(f"{inner}{name} = {x.expr}[{i}]")
            x_vals.append(Val(name, x.shape[1:], x.dtype))
        outs = self.jaxpr(body, consts + carry + x_vals, lines, inner)
        for y, o in zip(ys, outs[ncarry:], strict=True):
            lines.append(f"{inner}{y.expr}[{i}] = {o.expr}" if o.scalar else
                         f"{inner}_h.store({y.expr}, {i}, {o.expr})")
        self.assign(carry, outs[:ncarry], lines, inner)
        return carry + ys

    def while_(self, params: dict, args: list[Val], lines: list[str], ind: str) -> list[Val]:
        nc, nb = params["cond_nconsts"], params["body_nconsts"]
        cc, bc, init = args[:nc], args[nc:nc + nb], args[nc + nb:]
        carry = [self.local(x, lines, ind) for x in init]
        lines.append(f"{ind}while True:")
        inner = ind + "    "
        (pred,) = self.jaxpr(params["cond_jaxpr"], cc + carry, lines, inner)
        lines.append(f"{inner}if not {pred.expr}:")
        lines.append(f"{inner}    break")
        outs = self.jaxpr(params["body_jaxpr"], bc + carry, lines, inner)
        self.assign(carry, outs, lines, inner)
        return carry

    def local(self, x: Val, lines: list[str], ind: str) -> Val:
        """A loop-carried local initialised with ``x``."""
        name = self.fresh("c")
        lines.append(f"{ind}{name} = {cast(x.dtype, x.expr) if x.scalar else x.expr}")
        return Val(name, x.shape, x.dtype)

    @staticmethod
    def assign(targets: list[Val], values: list[Val], lines: list[str], ind: str) -> None:
        """All targets at once (a body may swap its carries); scalars keep their type."""
        if not targets:
            return
        exprs = [cast(t.dtype, v.expr) if t.scalar else v.expr
                 for t, v in zip(targets, values, strict=True)]
        lines.append(f"{ind}{', '.join(t.expr for t in targets)}"
                     f"{',' if len(targets) == 1 else ''} = {', '.join(exprs)}"
                     f"{',' if len(targets) == 1 else ''}")


def _check_dtype(dtype, what: str) -> None:
    if np.dtype(dtype) not in NATIVE_DTYPES:
        raise Unsupported(f"{what} has dtype {np.dtype(dtype).name}")


def _reshaped(x: Val, shape) -> str:
    return x.expr if tuple(x.shape) == tuple(shape) else f"{x.expr}.reshape({_shape(shape)})"


# ---------------------------------------------------------------------------
# steps that are not fused loops: rule(emitter, eqn, env, lines, ind)

def _dot_operand(x: Val, perm: tuple, shape: tuple) -> str:
    """``x`` with its dims permuted to ``perm`` and reshaped to ``shape`` (2-D or 3-D). A
    2-D transpose stays a view: Numba's BLAS call reads Fortran-ordered operands."""
    if perm == tuple(range(len(perm))):
        return _reshaped(x, shape)
    if len(perm) == 2 and len(shape) == 2:
        return f"{x.expr}.T"
    moved = Val(f"np.ascontiguousarray(np.transpose({x.expr}, {perm!r}))",
                tuple(x.shape[d] for d in perm), x.dtype)
    return _reshaped(moved, shape)


def _dot_general(em: Emitter, eqn, env, lines, ind) -> None:
    x, y = (em.read(env, a) for a in eqn.inputs)
    out = eqn.outvars[0]
    dtype = np.dtype(out.aval.dtype)
    if x.scalar or y.scalar or x.dtype not in BLAS_DTYPES or y.dtype != x.dtype or (
            dtype != x.dtype):
        raise Unsupported(f"dot_general of {x.dtype.name}{list(x.shape)} and "
                          f"{y.dtype.name}{list(y.shape)} -> {dtype.name} has no BLAS call")
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    lf = tuple(d for d in range(len(x.shape)) if d not in lc and d not in lb)
    rf = tuple(d for d in range(len(y.shape)) if d not in rc and d not in rb)
    b = math.prod(x.shape[d] for d in lb)
    m = math.prod(x.shape[d] for d in lf)
    k = math.prod(x.shape[d] for d in lc)
    n = math.prod(y.shape[d] for d in rf)
    shape = tuple(out.aval.shape)
    if b * m * n == 0 or k == 0:  # nothing to multiply: zeros (or an empty result)
        em.bind(env, out, f"np.zeros({_shape(shape)}, np.{dtype.name})", lines, ind)
        return
    if not lb:
        a = _dot_operand(x, tuple(lf + lc), (m, k))
        c = _dot_operand(y, tuple(rc + rf), (k, n))
        prod = Val(f"np.dot({a}, {c})", (m, n), dtype)
        expr = (f"{prod.expr}[0, 0]" if shape == () else _reshaped(prod, shape))
        em.bind(env, out, expr, lines, ind)
        return
    a = _dot_operand(x, tuple(lb + lf + lc), (b, m, k))
    c = _dot_operand(y, tuple(rb + rc + rf), (b, k, n))
    an, cn, o, q = em.fresh("a"), em.fresh("b"), em.fresh("o"), em.fresh("q")
    lines += [f"{ind}{an} = {a}", f"{ind}{cn} = {c}",
              f"{ind}{o} = np.empty({_shape((b, m, n))}, np.{dtype.name})",
              f"{ind}for {q} in range({b}):",
              f"{ind}    np.dot({an}[{q}], {cn}[{q}], {o}[{q}])"]
    em.bind(env, out, _reshaped(Val(o, (b, m, n), dtype), shape), lines, ind)


def _transpose(em: Emitter, eqn, env, lines, ind) -> None:
    x = em.read(env, eqn.inputs[0])
    perm = tuple(eqn.params["permutation"])
    if perm == tuple(range(len(perm))):
        env[eqn.outvars[0]] = x
    elif len(perm) == 2:
        em.bind(env, eqn.outvars[0], f"np.ascontiguousarray({x.expr}.T)", lines, ind)
    else:
        em.bind(env, eqn.outvars[0],
                f"np.ascontiguousarray(np.transpose({x.expr}, {perm!r}))", lines, ind)


def _reshape(em: Emitter, eqn, env, lines, ind) -> None:
    """reshape, squeeze and expand_dims: the same elements in a new shape."""
    if eqn.params.get("dimensions") is not None:
        raise Unsupported("reshape with dimensions")
    x = em.read(env, eqn.inputs[0])
    out = eqn.outvars[0]
    shape = tuple(out.aval.shape)
    if shape == ():
        expr = x.expr if x.scalar else f"{x.expr}.reshape((1,))[0]"
    elif x.scalar:
        expr = f"np.full({_shape(shape)}, {x.expr})"
    else:
        expr = _reshaped(x, shape)
    em.bind(env, out, expr, lines, ind)


def _broadcast_in_dim(em: Emitter, eqn, env, lines, ind) -> None:
    x = em.read(env, eqn.inputs[0])
    out = eqn.outvars[0]
    shape = tuple(out.aval.shape)
    dtype = np.dtype(out.aval.dtype)
    if shape == ():
        em.bind(env, out, cast(dtype, x.expr), lines, ind)
    elif x.scalar:
        em.bind(env, out, f"np.full({_shape(shape)}, {cast(dtype, x.expr)})", lines, ind)
    else:
        expanded = [1] * len(shape)
        for n, d in zip(x.shape, eqn.params["broadcast_dimensions"], strict=True):
            expanded[d] = n
        em.bind(env, out, f"np.broadcast_to({_reshaped(x, expanded)}, "
                          f"{_shape(shape)}).copy()", lines, ind)


def _reduce_fused(em: Emitter, eqn, env, lines, ind) -> None:
    """A reduction no fused step ends: a fused step of its own."""
    x = eqn.inputs[0]
    if isinstance(x, Literal) or not x.aval.shape:
        em.bind(env, eqn.outvars[0], cast(np.dtype(eqn.outvars[0].aval.dtype),
                                          em.read(env, x).expr), lines, ind)
        return
    em.fused(Step([eqn], inputs=[x], outputs=list(eqn.outvars), fused=True), env, lines,
             ind)


def _reduce_bool(fn: str):
    def rule(em: Emitter, eqn, env, lines, ind) -> None:
        x = em.read(env, eqn.inputs[0])
        if x.scalar:
            em.bind(env, eqn.outvars[0], cast(np.dtype(np.bool_), x.expr), lines, ind)
        elif len(eqn.params["axes"]) == len(x.shape):
            em.bind(env, eqn.outvars[0], f"bool(np.{fn}({x.expr}))", lines, ind)
        else:
            raise Unsupported(f"{eqn.primitive.name} over some axes only")
    return rule


def _cond(em: Emitter, eqn, env, lines, ind) -> None:
    """``if``/``elif`` on the (clamped) index; every branch assigns the same locals."""
    index, *ops = (em.read(env, a) for a in eqn.inputs)
    branches = eqn.params["branches"]
    outs = []
    for v in eqn.outvars:
        _check_dtype(v.aval.dtype, "a cond result")
        outs.append(Val(em.fresh("r"), tuple(v.aval.shape), np.dtype(v.aval.dtype)))
    last = len(branches) - 1
    for k, branch in enumerate(branches):
        if k == last:
            head = "else:" if last else "if True:"
        elif k == 0:
            head = f"if {index.expr} <= 0:"
        else:
            head = f"elif {index.expr} == {k}:"
        lines.append(f"{ind}{head}")
        vals = em.jaxpr(branch, list(ops), lines, ind + "    ")
        for o, val in zip(outs, vals, strict=True):
            lines.append(f"{ind}    {o.expr} = {cast(o.dtype, val.expr) if o.scalar else val.expr}")
    env.update(zip(eqn.outvars, outs, strict=True))


def _slice(em: Emitter, eqn, env, lines, ind) -> None:
    x = em.read(env, eqn.inputs[0])
    p = eqn.params
    strides = p["strides"] or (1,) * len(x.shape)
    at = ", ".join(f"{a}:{b}:{s}" for a, b, s in zip(p["start_indices"], p["limit_indices"],
                                                     strides, strict=True))
    em.bind(env, eqn.outvars[0], f"np.ascontiguousarray({x.expr}[{at}])", lines, ind)


def _rev(em: Emitter, eqn, env, lines, ind) -> None:
    x = em.read(env, eqn.inputs[0])
    dims = set(eqn.params["dimensions"])
    at = ", ".join("::-1" if d in dims else ":" for d in range(len(x.shape)))
    em.bind(env, eqn.outvars[0], f"np.ascontiguousarray({x.expr}[{at}])", lines, ind)


def _concatenate(em: Emitter, eqn, env, lines, ind) -> None:
    xs = [em.read(env, a).expr for a in eqn.inputs]
    em.bind(env, eqn.outvars[0], f"np.concatenate(({', '.join(xs)},), "
                                 f"axis={eqn.params['dimension']})", lines, ind)


def _starts(em: Emitter, starts, shape, sizes, lines, ind) -> list[str]:
    """Start indices clamped so the window fits, as ``lax.dynamic_slice`` does."""
    names = []
    for s, n, k in zip(starts, shape, sizes, strict=True):
        name = em.fresh("s")
        lines.append(f"{ind}{name} = min(max(np.int64({s.expr}), 0), {n - k})")
        names.append(name)
    return names


def _dynamic_slice(em: Emitter, eqn, env, lines, ind) -> None:
    x, *starts = (em.read(env, a) for a in eqn.inputs)
    sizes = eqn.params["slice_sizes"]
    if x.scalar:
        env[eqn.outvars[0]] = x
        return
    names = _starts(em, starts, x.shape, sizes, lines, ind)
    at = ", ".join(f"{s}:{s} + {k}" for s, k in zip(names, sizes, strict=True))
    em.bind(env, eqn.outvars[0], f"np.ascontiguousarray({x.expr}[{at}])", lines, ind)


def _dynamic_update_slice(em: Emitter, eqn, env, lines, ind) -> None:
    x, update, *starts = (em.read(env, a) for a in eqn.inputs)
    if x.scalar:
        env[eqn.outvars[0]] = update
        return
    names = _starts(em, starts, x.shape, update.shape, lines, ind)
    at = ", ".join(f"{s}:{s} + {k}" for s, k in zip(names, update.shape, strict=True))
    out = em.bind(env, eqn.outvars[0], f"{x.expr}.copy()", lines, ind)
    lines.append(f"{ind}{out.expr}[{at}] = {update.expr}")


def _loop(method: str):
    def rule(em: Emitter, eqn, env, lines, ind) -> None:
        args = [em.read(env, a) for a in eqn.inputs]
        outs = getattr(em, method)(eqn.params, args, lines, ind)
        env.update(zip(eqn.outvars, outs, strict=True))
    return rule


RULES = {
    dot_general_p: _dot_general,
    transpose_p: _transpose,
    reshape_p: _reshape,
    squeeze_p: _reshape,
    expand_dims_p: _reshape,
    broadcast_in_dim_p: _broadcast_in_dim,
    reduce_sum_p: _reduce_fused,
    reduce_max_p: _reduce_fused,
    reduce_min_p: _reduce_fused,
    reduce_or_p: _reduce_bool("any"),
    reduce_and_p: _reduce_bool("all"),
    slice_p: _slice,
    rev_p: _rev,
    concatenate_p: _concatenate,
    dynamic_slice_p: _dynamic_slice,
    dynamic_update_slice_p: _dynamic_update_slice,
    cond_p: _cond,
    scan_p: _loop("scan"),
    while_p: _loop("while_"),
}


# ---------------------------------------------------------------------------
# the loop function and its Python entry

def _loop_source(eqn, em: Emitter, params: list[str], lines: list[str], outs: list[Val]):
    imports = [f"from {mod} import {fn} as {alias}" for (mod, fn), alias in em.imports.items()]
    ret = ", ".join(o.expr for o in outs) + ("," if len(outs) == 1 else "")
    return "\n".join([
        f"# {eqn.primitive.name}: a native loop, one Numba function "
        "(backends/numba_cpu/native_loop.py)",
        "import math", "import numpy as np", "from numba import njit",
        "from functrace.backends.numba_cpu import scalar as _s",
        "from functrace.backends.numba_cpu import loop_helpers as _h", *imports, "",
        # error_model="numpy": x / 0 gives inf or nan, as in the fused loops
        "@njit(cache=True, error_model='numpy')",
        f"def loop({', '.join(params)}):", *[f"    {line}" for line in lines],
        f"    return ({ret})", ""])


def _argument(x, aval):
    """How a value is passed in: rank-0 values as NumPy scalars, arrays C-contiguous."""
    return np.asarray(x, aval.dtype)[()] if aval.shape == () else np.ascontiguousarray(x)


def lower_native(eqn):
    """``(run, source)`` for a ``scan`` or ``while`` equation compiled into one Numba
    function; raises ``Unsupported`` (with the reason) when a step has no Numba entry
    point, so the caller keeps the Python-orchestrated loop."""
    em = Emitter()
    in_avals = [x.aval for x in eqn.inputs]
    args = []
    for k, a in enumerate(in_avals):
        _check_dtype(a.dtype, "an operand")
        args.append(Val(f"a{k}", tuple(a.shape), np.dtype(a.dtype)))
    lines: list[str] = []
    loop = em.scan if eqn.primitive is scan_p else em.while_
    outs = loop(eqn.params, args, lines, "")
    params = [a.expr for a in args] + [name for name, _ in em.extras]
    source = _loop_source(eqn, em, params, lines, outs)
    fn = load_kernel_module(source, prefix="ft_loop").loop
    extras = [v[()] if v.shape == () else np.ascontiguousarray(v) for _, v in em.extras]
    out_avals = [v.aval for v in eqn.outvars]

    def run(*vals):
        res = fn(*[_argument(x, a) for x, a in zip(vals, in_avals, strict=True)], *extras)
        return [np.asarray(r, a.dtype) if a.shape == () else r
                for r, a in zip(res, out_avals, strict=True)]

    return run, source
