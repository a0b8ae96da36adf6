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

import warnings

import numpy as np

from ...compiler.fusion import Step
from ...compiler.kernel_cache import load_kernel_module
from ...compiler.nested import prepare_program
from ...compiler.scalar_expr import cast, literal, scalar_expr
from ...core.jaxpr import ClosedJaxpr, Literal
from ...errors import FunctraceWarning
from ...lax.control_flow import scan_p
from ...lax.shape_ops import broadcast_in_dim_p
from .codegen import FUNCTIONS, HELPERS_DIGEST, plan_fused
from .native_rules import RULES, Unsupported, Val, check_dtype, number, reshaped, shape_str

__all__ = ["Unsupported", "lower_native"]


class Emitter:
    """Collects the lines, imports and extra parameters (constants of bodies) of one
    generated loop function."""

    def __init__(self):
        self.imports: dict[tuple[str, str], str] = {}
        self.extras: list[tuple[str, object]] = []  # (parameter name, value)
        self.count = 0
        # updates that may write into their operand, by id (the dict keeps them alive, so
        # that an id is never reused by another equation)
        self.in_place: dict[int, object] = {}
        self.owned: set[int] = set()  # what the last body written updates in place

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
        check_dtype(arr.dtype, "a constant")
        return Val(name, arr.shape, arr.dtype)

    # -- bodies ------------------------------------------------------------------
    def jaxpr(self, closed: ClosedJaxpr, inputs: list[Val], lines: list[str],
              ind: str, carries=()) -> list[Val]:
        """Writes ``closed`` applied to ``inputs`` into ``lines``; returns its outputs.
        ``carries`` pairs (input position, output position) of a loop body's carries;
        ``self.owned`` is then the input positions whose array the body updates in place."""
        closed, steps = prepare_program(closed, reductions=True)
        j = closed.jaxpr
        owned = _updated_in_place(j, carries, self.in_place)
        env: dict = {}
        for v, c in zip(j.constvars, closed.consts, strict=True):
            env[v] = self.constant(c)
        for v, x in zip(j.invars, inputs, strict=True):
            env[v] = x
        for step in steps:
            for e in step.eqns:
                for v in e.outvars:
                    check_dtype(v.aval.dtype, f"{e.primitive.name}'s result")
            self.step(step, env, lines, ind)
        self.owned = owned  # after the nested bodies, which set their own
        return [self.read(env, v) for v in j.outvars]

    def read(self, env: dict, x) -> Val:
        if isinstance(x, Literal):
            if np.ndim(x.val):
                raise Unsupported("an array literal")
            check_dtype(x.aval.dtype, "a literal")
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
                ins.append(f"np.full({shape_str(grouped)}, {x.expr})")
            else:
                ins.append(reshaped(x, grouped))
        outs = []
        for (grouped, acc, init), (_, dtype) in zip(plan.outputs, plan.finals, strict=True):
            name = self.fresh("o")
            if acc is None:
                lines.append(f"{ind}{name} = np.empty({shape_str(grouped)}, "
                             f"np.{np.dtype(dtype).name})")
            else:
                lines.append(f"{ind}{name} = np.full({shape_str(grouped)}, {number(init)}, "
                             f"np.{np.dtype(acc).name})")
            outs.append(name)
        lines.append(f"{ind}{kernel}({shape_str(plan.loop_shape)}, {', '.join(ins + outs)})")
        for v, name, (grouped, acc, _), (shape, dtype) in zip(
                step.outputs, outs, plan.outputs, plan.finals, strict=True):
            dtype = np.dtype(dtype)
            if shape == ():
                expr = cast(dtype, f"{name}.reshape((1,))[0]")
            else:
                expr = reshaped(Val(name, tuple(grouped), dtype), shape)
                if acc is not None and np.dtype(acc) != dtype:
                    expr = f"{expr}.astype(np.{dtype.name})"
            self.bind(env, v, expr, lines, ind)

    # -- loops -------------------------------------------------------------------
    def scan(self, params: dict, args: list[Val], lines: list[str], ind: str) -> list[Val]:
        """A scan as a Python ``for`` loop in the generated source; returns its outputs."""
        nc, ncarry, n = params["num_consts"], params["num_carry"], params["length"]
        body = params["jaxpr"]
        consts, init, xs = args[:nc], args[nc:nc + ncarry], args[nc + ncarry:]
        starts = len(lines)
        carry = [self.local(x, lines, ind) for x in init]
        ys = []
        for a in body.out_avals[ncarry:]:
            check_dtype(a.dtype, "a stacked output")
            y = Val(self.fresh("ys"), (n, *a.shape), np.dtype(a.dtype))
            lines.append(f"{ind}{y.expr} = np.empty({shape_str(y.shape)}, np.{y.dtype.name})")
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
        outs = self.jaxpr(body, consts + carry + x_vals, lines, inner,
                          carries=[(nc + k, k) for k in range(ncarry)])
        self.own_copies(self.owned, nc, lines, starts)
        for y, o in zip(ys, outs[ncarry:], strict=True):
            lines.append(f"{inner}{y.expr}[{i}] = {o.expr}" if o.scalar else
                         f"{inner}_h.store({y.expr}, {i}, {o.expr})")
        self.assign(carry, outs[:ncarry], lines, inner)
        return carry + ys

    def while_(self, params: dict, args: list[Val], lines: list[str], ind: str) -> list[Val]:
        nc, nb = params["cond_nconsts"], params["body_nconsts"]
        cc, bc, init = args[:nc], args[nc:nc + nb], args[nc + nb:]
        starts = len(lines)
        carry = [self.local(x, lines, ind) for x in init]
        lines.append(f"{ind}while True:")
        inner = ind + "    "
        (pred,) = self.jaxpr(params["cond_jaxpr"], cc + carry, lines, inner)
        lines.append(f"{inner}if not {pred.expr}:")
        lines.append(f"{inner}    break")
        outs = self.jaxpr(params["body_jaxpr"], bc + carry, lines, inner,
                          carries=[(nb + k, k) for k in range(len(carry))])
        self.own_copies(self.owned, nb, lines, starts)
        self.assign(carry, outs, lines, inner)
        return carry

    @staticmethod
    def own_copies(owned: set[int], first: int, lines: list[str], starts: int) -> None:
        """A carry the body updates in place starts as a copy of its initial value (the
        loop's own array: the caller's stays untouched)."""
        for pos in owned:
            k = starts + pos - first
            lines[k] = f"{lines[k]}.copy()"

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


# ---------------------------------------------------------------------------
# the loop function and its Python entry

IN_PLACE_UPDATES = ("scatter", "scatter-add", "scatter-sub", "dynamic_update_slice")


def _updated_in_place(j, carries, in_place: dict) -> set[int]:
    """Input positions of the array carries that ``j`` may update in place, adding their
    updating equations to ``in_place``. A carry qualifies when its only reader is a
    scatter or dynamic_update_slice of it whose result is read by nothing but the carry's
    own output slot: then no view of the array outlives the write, and the updated array
    is the next iteration's carry (``x.at[i].set(v)`` in a ``fori_loop`` costs one element,
    not a copy of ``x``)."""
    uses: dict = {}
    for e in j.eqns:
        for x in e.inputs:
            if not isinstance(x, Literal):
                uses.setdefault(x, []).append(e)
    outs = list(j.outvars)
    owned = set()
    for pos, out_pos in carries:
        v, new = j.invars[pos], outs[out_pos]
        readers = uses.get(v, [])
        if (not v.aval.shape or len(readers) != 1 or v in outs or isinstance(new, Literal)
                or new in uses or outs.count(new) != 1):
            continue
        e = readers[0]
        if (e.primitive.name in IN_PLACE_UPDATES and e.inputs[0] is v
                and e.outvars[0] is new and sum(x is v for x in e.inputs) == 1):
            in_place[id(e)] = e
            owned.add(pos)
    return owned




def _loop_source(eqn, em: Emitter, params: list[str], lines: list[str], outs: list[Val]):
    imports = [f"from {mod} import {fn} as {alias}" for (mod, fn), alias in em.imports.items()]
    ret = ", ".join(o.expr for o in outs) + ("," if len(outs) == 1 else "")
    return "\n".join([
        f"# {eqn.primitive.name}: a native loop, one Numba function "
        f"(backends/numba_cpu/native_loop.py); helpers {HELPERS_DIGEST}",
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


def _is_numba_error(err: Exception) -> bool:
    """Whether ``err`` is Numba failing to type or lower a function (checked by name:
    importing Numba's errors here would import Numba with functrace)."""
    return any(c.__name__ == "NumbaError" and c.__module__.startswith("numba")
               for c in type(err).__mro__)


def lower_native(eqn, fallback):
    """``(run, source)`` for a ``scan`` or ``while`` equation compiled into one Numba
    function; raises ``Unsupported`` (with the reason) when a step has no Numba entry
    point, so the caller keeps the Python-orchestrated loop. Should Numba still fail to
    compile the function (on the first call), that call and every later one run
    ``fallback()``'s loop instead, with a ``FunctraceWarning`` naming the error."""
    em = Emitter()
    in_avals = [x.aval for x in eqn.inputs]
    args = []
    for k, a in enumerate(in_avals):
        check_dtype(a.dtype, "an operand")
        args.append(Val(f"a{k}", tuple(a.shape), np.dtype(a.dtype)))
    lines: list[str] = []
    loop = em.scan if eqn.primitive is scan_p else em.while_
    outs = loop(eqn.params, args, lines, "")
    params = [a.expr for a in args] + [name for name, _ in em.extras]
    source = _loop_source(eqn, em, params, lines, outs)
    fn = load_kernel_module(source, prefix="ft_loop").loop
    extras = [v[()] if v.shape == () else np.ascontiguousarray(v) for _, v in em.extras]
    out_avals = [v.aval for v in eqn.outvars]
    state: dict = {}

    def run(*vals):
        if "python" in state:
            return state["python"](*vals)
        try:
            res = fn(*[_argument(x, a) for x, a in zip(vals, in_avals, strict=True)], *extras)
        except Exception as err:
            if not _is_numba_error(err):
                raise
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""
            warnings.warn(f"functrace: the native {eqn.primitive.name} loop did not compile "
                          f"({type(err).__name__}: {first}); it runs as a Python-"
                          "orchestrated loop instead. Please report it.", FunctraceWarning,
                          stacklevel=2)
            state["python"] = fallback()
            return state["python"](*vals)
        return [np.asarray(r, a.dtype) if a.shape == () else r
                for r, a in zip(res, out_avals, strict=True)]

    return run, source
