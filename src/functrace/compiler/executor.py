"""The program executor shared by every backend: slots, literals, freeing, timings, errors.

A backend lowers each step of a jit plan to a kernel and hands the executor a list of
``Op``s (a kernel with the variables it reads and writes) and ``Alias``es (a second
name for a value, no kernel). ``assemble`` numbers the values into slots -- constants,
then inputs, then literals, then each op's results -- and computes where each
intermediate is last read, so that a call drops it right after (a training step holds
only the activations still needed). ``Executor`` runs the program:

- on a backend whose ``Runtime`` allows it (the CPU), a call without timings is one
  generated straight-line Python function (``straight_line``) that calls the kernels in
  order on local variables: for a small program, a loop over an environment list was
  most of a jitted call (docs/performance.md);
- otherwise (timings, or a backend that moves values: CUDA) the loop ``Executor.__call__``,
  which asks the runtime to move the inputs in (``Runtime.begin``), runs the steps inside
  the runtime's per-call context, and moves the outputs out (``Call.finish``).

Either way an exception raised by a kernel is tagged with the step that raised it
(``Runtime.step_error``), and ``timings[k]`` accumulates the time of plan step ``k``.
The bodies and branches of ``cond``/``while``/``scan`` are programs of their own,
compiled by the same pipeline (``compiler/nested.py``) and run by this executor.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..core.jaxpr import Literal


@dataclass(frozen=True)
class Op:
    """One lowered step as a backend hands it over: ``kernel(*values) -> [values]``
    reads ``reads`` (variables, literals or a backend's private tokens) and writes
    ``writes``; ``step`` is the plan step whose timing row its time goes to."""

    kernel: Callable
    reads: tuple
    writes: tuple
    label: str
    step: int


@dataclass(frozen=True)
class Alias:
    """``name`` is another name for the value of ``of`` (a copy that needs no kernel)."""

    name: object
    of: object


@dataclass(frozen=True)
class Instr:
    """One step of an assembled program, over slot numbers; ``frees`` are the slots
    dropped after it (intermediates it read last, or wrote and nobody reads)."""

    kernel: Callable
    reads: tuple[int, ...]
    writes: tuple[int, ...]
    frees: tuple[int, ...]
    label: str
    step: int


def step_label(k: int, step) -> str:
    """``step 3 (fused mul, add)``: how errors and texts name plan step ``k``."""
    names = ", ".join(e.primitive.name for e in step.eqns)
    return f"step {k} ({'fused ' if step.fused else ''}{names[:80]})"


class Program:
    """An assembled program: ``instrs`` over slots ``[constants | inputs | literals |
    intermediates]``, the slot of each variable (``slots``), the slots of the outputs
    (``out_reads``) and, per slot, the last instruction that reads it (``last_read``,
    -1 if none)."""

    def __init__(self, instrs, slots, n_consts, n_inputs, literals, n_slots, out_reads,
                 n_steps):
        self.instrs: list[Instr] = instrs
        self.slots: dict = slots
        self.n_consts = n_consts
        self.n_inputs = n_inputs
        self.literals: list[Literal] = literals
        self.n_fixed = n_consts + n_inputs + len(literals)
        self.n_slots = n_slots
        self.out_reads: list[int] = out_reads
        self.n_steps = n_steps
        self.last_read = [-1] * n_slots
        for k, ins in enumerate(instrs):
            for r in ins.reads:
                self.last_read[r] = k

    def literal_at(self, slot: int) -> Literal | None:
        """The literal held by ``slot``, or None."""
        first = self.n_consts + self.n_inputs
        return self.literals[slot - first] if first <= slot < self.n_fixed else None

    def input_index(self, slot: int) -> int | None:
        """Which argument ``slot`` holds, or None."""
        i = slot - self.n_consts
        return i if 0 <= i < self.n_inputs else None


def assemble(jaxpr, ops: Sequence[Op | Alias], n_steps: int) -> Program:
    """Numbers the values of ``ops`` into slots and plans when each is dropped."""
    slots: dict = {}
    for k, v in enumerate(jaxpr.constvars + jaxpr.invars):
        slots[v] = k
    n_consts, n_inputs = len(jaxpr.constvars), len(jaxpr.invars)
    literals: list[Literal] = []
    lit_slots: dict[int, int] = {}  # id(literal) -> its slot (the op keeps it alive)
    first_lit = n_consts + n_inputs
    all_reads = [x for op in ops if isinstance(op, Op) for x in op.reads] + list(jaxpr.outvars)
    for x in all_reads:
        if isinstance(x, Literal) and id(x) not in lit_slots:
            lit_slots[id(x)] = first_lit + len(literals)
            literals.append(x)
    n = first_lit + len(literals)

    def read(x) -> int:
        return lit_slots[id(x)] if isinstance(x, Literal) else slots[x]

    staged = []
    for op in ops:
        if isinstance(op, Alias):
            slots[op.name] = slots[op.of]
            continue
        reads = tuple(read(x) for x in op.reads)
        writes = []
        for v in op.writes:
            slots[v] = n
            writes.append(n)
            n += 1
        staged.append((op, reads, tuple(writes)))
    out_reads = [read(x) for x in jaxpr.outvars]
    n_fixed = first_lit + len(literals)
    last_use: dict[int, int] = {}
    for k, (_, reads, writes) in enumerate(staged):
        for w in writes:  # a value nobody reads goes right after it is made
            last_use[w] = k
        for r in reads:
            if r >= n_fixed:
                last_use[r] = k
    keep = set(out_reads)
    frees: list[list[int]] = [[] for _ in staged]
    for r, k in last_use.items():
        if r not in keep:
            frees[k].append(r)
    instrs = [Instr(op.kernel, reads, writes, tuple(free), op.label, op.step)
              for (op, reads, writes), free in zip(staged, frees, strict=True)]
    return Program(instrs, slots, n_consts, n_inputs, literals, n, out_reads, n_steps)


# ---------------------------------------------------------------------------
# what a backend supplies

class Call:
    """One call on the loop path. The default is the host's: the arguments are the
    input values and the outputs are returned as they are."""

    observer = None  # an object with ``before(k)`` and ``wrote(slots, values)``, or None

    def __init__(self, inputs):
        self.inputs = inputs

    def enter(self) -> None:
        """Before the first step (a backend's per-call state, e.g. an allocator)."""

    def leave(self) -> None:
        """After the last step, also when a step raised."""

    def finish(self, outs: list) -> list:
        """The call's results from the output values (moving them where they belong)."""
        return outs


def reject_options(options: dict) -> None:
    """A call's keyword arguments that the runtime did not take are an error."""
    if options:
        raise TypeError(f"a compiled program got unexpected keyword arguments "
                        f"{sorted(options)}; it takes the arguments and timings=")


class Runtime:
    """How one backend's values move and how its calls are wrapped; the defaults are the
    host's (values are NumPy arrays, nothing to move). One instance per executable."""

    straight_line = True          # calls without timings may run as one generated function
    copy_literal_outputs = True   # a literal output is a fresh array on each call

    def constant(self, value):
        """The value a program constant is stored as (once, when compiling)."""
        return value

    def literal(self, lit: Literal):
        """The value a literal read by a kernel (or returned) is stored as (once)."""
        return np.asarray(lit.val, lit.aval.dtype)

    def context(self, program: Program) -> tuple[Callable, Callable] | None:
        """``(enter() -> token, leave(token))`` around every call of ``program``, or None."""
        return None

    def begin(self, executor: Executor, args, options: dict) -> Call:
        """Moves the arguments in for one call on the loop path."""
        reject_options(options)
        return Call(args)

    def synchronize(self) -> None:
        """Waits for queued work, so that a step's timing is its own."""

    def step_error(self, instr: Instr, exc: Exception) -> BaseException:
        """The exception to raise for ``exc``, raised by ``instr``'s kernel (``exc``
        itself re-raises it unchanged, with a note naming the step)."""
        exc.add_note(f"(raised by {instr.label} of a functrace compiled program)")
        return exc


# ---------------------------------------------------------------------------
# running

def executable(program: Program, consts, runtime: Runtime):
    """What a backend returns as the executable, ``run(*args, timings=None, **options) ->
    list``: the generated straight-line function where the runtime allows it, else the
    ``Executor``. (The executor does not hold the function: no reference cycle keeps a
    dropped program's constants alive until the garbage collector runs.)"""
    executor = Executor(program, consts, runtime)
    return straight_line(executor) if runtime.straight_line else executor


class Executor:
    """Runs an assembled program on the loop path: ``executor(*args, timings=None,
    **options) -> list``."""

    def __init__(self, program: Program, consts, runtime: Runtime):
        self.program = program
        self.runtime = runtime
        self.consts = [runtime.constant(c) for c in consts]
        self.literals = [runtime.literal(x) for x in program.literals]
        self.blank = [None] * (program.n_slots - program.n_fixed)
        self.context = runtime.context(program)
        self.last_counters: dict | None = None  # set by runtimes that count device work
        # steps that run a reference impl although they are no impl_fallback primitive
        self.fallback_steps = frozenset(ins.step for ins in program.instrs
                                        if getattr(ins.kernel, "reference_fallback", False))

    def __call__(self, *args, timings=None, **options):
        if len(args) != self.program.n_inputs:
            raise TypeError(f"a compiled program takes {self.program.n_inputs} arguments, "
                            f"got {len(args)}")
        call = self.runtime.begin(self, args, options)
        env = [*self.consts, *call.inputs, *self.literals, *self.blank]
        ctx = self.context
        call.enter()
        try:
            token = ctx[0]() if ctx is not None else None
            try:
                self._steps(env, timings, call.observer)
            finally:
                if ctx is not None:
                    ctx[1](token)
        finally:
            call.leave()
        return call.finish(self.outputs(env))

    def outputs(self, env: list) -> list:
        program = self.program
        outs = [env[r] for r in program.out_reads]
        if self.runtime.copy_literal_outputs and program.literals:
            outs = [o.copy() if program.literal_at(r) is not None else o
                    for r, o in zip(program.out_reads, outs, strict=True)]
        return outs

    def _steps(self, env: list, timings, observer) -> None:
        if timings is not None and len(timings) != self.program.n_steps:
            raise ValueError(f"timings has {len(timings)} entries; the program has "
                             f"{self.program.n_steps} plan steps (one entry each)")
        sync = self.runtime.synchronize
        for k, ins in enumerate(self.program.instrs):
            if observer is not None:
                observer.before(k)
            if timings is not None:
                sync()
                t0 = time.perf_counter()
            try:
                outs = ins.kernel(*[env[r] for r in ins.reads])
            except Exception as e:
                err = self.runtime.step_error(ins, e)
                if err is e:
                    raise
                raise err from e
            for w, o in zip(ins.writes, outs, strict=False):
                env[w] = o
            if observer is not None:
                observer.wrote(ins.writes, outs)
            for r in ins.frees:
                env[r] = None
            if timings is not None:
                sync()
                timings[ins.step] += time.perf_counter() - t0

    def error_at_line(self, lines: list[int], exc: Exception) -> BaseException:
        """``step_error`` for an exception of the straight-line function: its traceback's
        line in that function names the instruction (``lines[line] -> instr``)."""
        tb = exc.__traceback__
        k = lines[tb.tb_lineno] if tb is not None and tb.tb_lineno < len(lines) else -1
        return exc if k < 0 else self.runtime.step_error(self.program.instrs[k], exc)


def straight_line(executor: Executor):
    """``executor`` without its loop: one generated Python function that calls the
    kernels in order on local variables (a kernel with an ``equations`` attribute, the
    CPU's tiny interpreter, is inlined equation by equation) and drops each value where
    the loop would. With ``timings=`` it runs the loop instead."""
    program = executor.program
    g: dict = {"_np": np, "_loop": executor, "_fail": executor.error_at_line}
    names: dict[int, str] = {}
    for k, value in enumerate(executor.consts):
        names[k] = f"_c{k}"
        g[f"_c{k}"] = value
    first_lit = program.n_consts + program.n_inputs
    for j, value in enumerate(executor.literals):
        names[first_lit + j] = f"_c{first_lit + j}"
        g[f"_c{first_lit + j}"] = value
    params = [f"s{k}" for k in range(program.n_consts, first_lit)]
    names.update({k: f"s{k}" for k in range(program.n_consts, first_lit)})
    body: list[tuple[str, int]] = []  # (line, instruction index or -1)

    def glob(value) -> str:
        name = f"_g{len(g)}"
        g[name] = value
        return name

    for k, ins in enumerate(program.instrs):
        equations = getattr(ins.kernel, "equations", None)
        if equations is None:
            body.append((f"_o = {glob(ins.kernel)}({', '.join(names[r] for r in ins.reads)})",
                         k))
            results = [f"_o[{j}]" for j in range(len(ins.writes))]
        else:
            inputs, calls, outputs = equations
            local = {v: names[r] for v, r in zip(inputs, ins.reads, strict=True)}
            scalars = set()  # a bare ufunc of 0-d arrays gives a NumPy scalar
            for j, (fn, ins_vars, out, dtype) in enumerate(calls):
                args = ", ".join(glob(np.asarray(x.val, x.aval.dtype)) if isinstance(x, Literal)
                                 else local[x] for x in ins_vars)  # typed, as Runtime.literal
                local[out] = f"_t{k}_{j}"
                if dtype is None:
                    call = f"{glob(fn)}({args})[0]"
                else:
                    call = f"{glob(fn)}({args}, dtype={glob(dtype)})"
                    scalars.add(out)
                body.append((f"{local[out]} = {call}", k))
            results = [f"_np.asarray({local[v]})" if v in scalars else local[v]
                       for v in outputs]
        for w, res in zip(ins.writes, results, strict=True):
            names[w] = f"s{w}"
            body.append((f"s{w} = {res}", k))
        body += [(f"{names[r]} = None", k) for r in ins.frees]
    outs = []
    for r in program.out_reads:
        copy = executor.runtime.copy_literal_outputs and program.literal_at(r) is not None
        outs.append(f"{names[r]}.copy()" if copy else names[r])
    ind = "        "
    head = [f"def run({', '.join([*params, 'timings=None'])}):",
            "    if timings is not None:",
            f"        return _loop({', '.join(params)}{', ' if params else ''}timings=timings)"]
    ctx = executor.context
    if ctx is not None:
        g["_enter"], g["_leave"] = ctx
        head.append("    _token = _enter()")
    head.append("    try:")
    tail = [f"{ind}return [{', '.join(outs)}]",
            "    except Exception as _e:",
            "        _x = _fail(_lines, _e)",
            "        if _x is _e:",
            "            raise",
            "        raise _x from _e"]
    if ctx is not None:
        tail += ["    finally:", "        _leave(_token)"]
    # line numbers (1-based) -> instruction, for naming the step that raised
    lines = [-1] * (len(head) + 1) + [k for _, k in body] + [-1] * len(tail)
    g["_lines"] = lines
    src = "\n".join(head + [ind + line for line, _ in body] + tail) + "\n"
    exec(compile(src, "<functrace compiled program>", "exec"), g)  # noqa: S102
    run = g.pop("run")  # not left in its own globals: a cycle only the collector frees
    run.executor = executor
    run.fallback_steps = executor.fallback_steps
    return run
