"""The CPU executor: lowers each step of a jit plan and runs the kernels in order.

A compiled program is a list of ``(kernel, reads, writes, frees)`` over a flat
environment of slots; each intermediate is dropped after its last reader.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import time

import numpy as np

from ...compiler.fusion import Step
from ...config import config
from ...core.jaxpr import Literal
from ...transforms import tape_vjp
from . import conv
from .ceilings import machine_ceilings
from .codegen import build_fused
from .table import lowerings, program_rewrites, reference_lowering

TINY_SIZE = 16  # fused steps this small run as NumPy calls: cheaper than a Numba dispatch
TINY_EQNS = 8   # ... unless they are long: ~1.5 us a NumPy call against one ~5 us dispatch
#                 (random.normal's 50-equation erf_inv ran 70 us interpreted on 10 values)


def tiny_interpreter(step: Step):
    """Runs a small fused step equation by equation with the reference impls."""
    kernels = [(reference_lowering(e), e.inputs, e.outvars[0]) for e in step.eqns]
    inputs, outputs = step.inputs, step.outputs

    def run(*vals):
        env = dict(zip(inputs, vals, strict=True))
        for kernel, ins, out in kernels:
            env[out] = kernel(*[x.val if isinstance(x, Literal) else env[x] for x in ins])[0]
        return [env[v] for v in outputs]

    run.equations = (inputs, kernels, outputs)  # straight_line inlines them
    return run


def straight_line(program, consts, n_fixed: int, out_reads):
    """``run_program`` without its loop: one generated Python function that calls the
    kernels in order on local variables (a tiny step's equations inline) and drops each
    value where ``run_program`` does. For a small program the loop over an environment
    list was most of a jitted call (docs/performance.md)."""
    g: dict = {"_np": np}
    names = {k: f"_c{k}" for k in range(len(consts))}
    g.update({f"_c{k}": c for k, c in enumerate(consts)})
    params = [f"s{k}" for k in range(len(consts), n_fixed)]
    names.update({k: f"s{k}" for k in range(len(consts), n_fixed)})
    lines: list[str] = []

    def glob(value) -> str:
        name = f"_g{len(g)}"
        g[name] = value
        return name

    def read(r) -> str:
        if type(r) is int:
            return names[r]
        return f"_np.asarray({glob(r.val)}, {glob(r.aval.dtype)})"

    for k, (kernel, reads, writes, free) in enumerate(program):
        equations = getattr(kernel, "equations", None)
        if equations is None:
            lines.append(f"_o = {glob(kernel)}({', '.join(read(r) for r in reads)})")
            results = [f"_o[{j}]" for j in range(len(writes))]
        else:
            inputs, calls, outputs = equations
            local = {v: names[r] for v, r in zip(inputs, reads, strict=True)}
            for j, (fn, ins, out) in enumerate(calls):
                args = ", ".join(glob(x.val) if isinstance(x, Literal) else local[x]
                                 for x in ins)
                local[out] = f"_t{k}_{j}"
                lines.append(f"{local[out]} = {glob(fn)}({args})[0]")
            results = [local[v] for v in outputs]
        for w, res in zip(writes, results, strict=True):
            names[w] = f"s{w}"
            lines.append(f"s{w} = {res}")
        lines += [f"{names[r]} = None" for r in free]
    body = "".join(f"    {line}\n" for line in lines)
    src = (f"def run({', '.join(params)}):\n{body}"
           f"    return [{', '.join(read(r) for r in out_reads)}]\n")
    exec(compile(src, "<functrace.backends.numba_cpu program>", "exec"), g)  # noqa: S102
    return g["run"]


def lower_step(step: Step):
    """Returns ``(kernel, source or None)`` for one step of the plan."""
    if step.fused and int(np.prod(step.shape)) <= TINY_SIZE and len(step.eqns) <= TINY_EQNS:
        return tiny_interpreter(step), None
    if step.fused:
        return build_fused(step)
    eqn = step.eqns[0]
    kernel = lowerings.get(eqn.primitive, reference_lowering)(eqn)
    return kernel, getattr(kernel, "source", None)  # a loop says how it was compiled


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
_malloc = {"tried": False, "applied": False}


def keep_freed_memory() -> bool:
    """Asks glibc's malloc to serve arrays up to 32 MB from its heap and to keep
    freed memory (up to 1 GB) for reuse, once per process. By default glibc maps
    large arrays fresh and unmaps them on free, so every call of a compiled
    program page-faults its activations back in (docs/performance.md, "Memory").
    A caching allocator is what PyTorch and JAX do. Skipped when
    ``config.cpu_keep_memory`` is off, when the user already tuned malloc through
    the environment, or off glibc. Returns whether the settings were applied."""
    if _malloc["tried"] or not config.cpu_keep_memory:
        return _malloc["applied"]
    _malloc["tried"] = True  # one attempt per process
    if any(k.startswith("MALLOC_") for k in os.environ) or "glibc.malloc" in os.environ.get(
            "GLIBC_TUNABLES", ""):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20) and libc.mallopt(_M_TRIM_THRESHOLD,
                                                                         1 << 30)
    except (OSError, AttributeError):  # not glibc
        return False
    _malloc["applied"] = bool(ok)
    return _malloc["applied"]


tape_vjp.before_first_kernel = keep_freed_memory  # un-jitted grad's kernels (the tape) too


class NumbaCpuBackend:
    name = "cpu"
    fuses_reductions = True  # generated loops can end in reduce_sum/max/min
    ceilings = staticmethod(machine_ceilings)  # sgemm and memory ceilings for profile()

    @staticmethod
    def _assign(slot: dict, keys) -> list[int]:
        """New env slots for the values a step writes."""
        for key in keys:
            slot[key] = len(slot)
        return [slot[key] for key in keys]

    def compile(self, jaxpr, consts, steps):
        """Builds the executable: ``run(*args) -> list of outputs``."""
        keep_freed_memory()
        slot: dict = {}
        for k, v in enumerate(jaxpr.constvars + jaxpr.invars):
            slot[v] = k
        n_fixed = len(slot)
        program, sources = [], []
        rewritten: dict = {}
        outvars = frozenset(v for v in jaxpr.outvars if not isinstance(v, Literal))
        for rewrite in program_rewrites:
            rewritten.update(rewrite(steps, outvars))
        for k, step in enumerate(steps):
            if k in rewritten:
                kernel, read_keys, outs = rewritten[k]
                reads = [x if isinstance(x, Literal) else slot[x] for x in read_keys]
                program.append((kernel, reads, self._assign(slot, outs)))
                continue
            kernel, source = lower_step(step)
            if source is not None:
                sources.append(source)
            if step.fused:
                reads = [slot[v] for v in step.inputs]
                outs = step.outputs
            else:
                reads = [x if isinstance(x, Literal) else slot[x] for x in step.eqns[0].inputs]
                outs = step.eqns[0].outvars
            program.append((kernel, reads, self._assign(slot, outs)))
        n_slots = len(slot)
        # steps that run a reference impl although they are no impl_fallback primitive
        fallback_steps = frozenset(k for k, (kernel, _, _) in enumerate(program)
                                   if getattr(kernel, "reference_fallback", False))
        out_reads = [x if isinstance(x, Literal) else slot[x] for x in jaxpr.outvars]
        consts = list(consts)
        # drop each intermediate after its last reader, so a training step holds only
        # live activations rather than every value it ever computed
        last_read: dict[int, int] = {}
        for k, (_, reads, writes) in enumerate(program):
            for w in writes:  # a value nobody reads goes right after it is made
                last_read[w] = k
            for r in reads:
                if type(r) is int and r >= n_fixed:
                    last_read[r] = k
        keep = {r for r in out_reads if type(r) is int}
        frees = [[] for _ in program]
        for r, k in last_read.items():
            if r not in keep:
                frees[k].append(r)
        program = [(kernel, reads, writes, tuple(free))
                   for (kernel, reads, writes), free in zip(program, frees, strict=True)]

        # direct convolutions parallelise with prange: BLAS must not spin its own threads
        one_blas_thread = any(getattr(p[0], "one_blas_thread", False) for p in program)

        fast = straight_line(program, consts, n_fixed, out_reads)

        def run(*args, timings=None):
            if one_blas_thread:
                prev = conv.blas_threads(1)
                try:
                    return run_program(args, timings)
                finally:
                    if prev is not None:
                        conv.blas_threads(prev)
            return fast(*args) if timings is None else run_program(args, timings)

        def run_program(args, timings):
            env = [None] * n_slots
            env[:n_fixed] = consts + list(args)
            for k, (kernel, reads, writes, free) in enumerate(program):
                if timings is not None:
                    t0 = time.perf_counter()
                outs = kernel(*[env[r] if type(r) is int else
                                np.asarray(r.val, r.aval.dtype) for r in reads])
                for w, o in zip(writes, outs, strict=False):
                    env[w] = o
                for r in free:
                    env[r] = None
                if timings is not None:
                    timings[k] += time.perf_counter() - t0
            return [env[r] if type(r) is int else np.asarray(r.val, r.aval.dtype)
                    for r in out_reads]

        run.fallback_steps = fallback_steps
        return run, sources
