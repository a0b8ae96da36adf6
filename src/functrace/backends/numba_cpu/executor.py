"""The CPU backend's part of the executor: how a step of a jit plan is lowered.

Slots, freeing after last use, literals, timings and the generated straight-line run
function are the shared executor's (``compiler/executor.py``); this module supplies the
kernel of each step and the BLAS thread count around a call (``CpuRuntime``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

import numpy as np

from ...compiler.executor import Op, Runtime, assemble, executable, step_label
from ...compiler.fusion import Step
from ...config import config
from ...core.jaxpr import Literal
from ...core.trace import impl_rules
from ...transforms import tape_vjp
from . import conv
from .ceilings import machine_ceilings
from .codegen import build_fused
from .table import lowerings, program_rewrites, reference_lowering

TINY_SIZE = 16  # fused steps this small run as NumPy calls: cheaper than a Numba dispatch
TINY_EQNS = 8   # ... unless they are long: ~1.5 us a NumPy call against one ~5 us dispatch
#                 (random.normal's 50-equation erf_inv ran 70 us interpreted on 10 values)


def _ufunc_call(eqn):
    """``(ufunc, dtype)`` when the equation is its primitive's NumPy ufunc applied to
    operands of the result's dtype (``ufunc(*args, dtype=dtype)`` is then exactly the
    reference kernel's value, without its wrapper: ~0.3 us saved per equation), else
    None."""
    impl = impl_rules.get(eqn.primitive)
    if not isinstance(impl, np.ufunc) or eqn.primitive.multiple_results or eqn.params:
        return None
    dtype = eqn.outvars[0].aval.dtype
    if impl.nout != 1 or any(v.aval.dtype != dtype for v in eqn.inputs):
        return None
    return impl, dtype


def tiny_interpreter(step: Step):
    """Runs a small fused step equation by equation with the reference impls (NumPy
    ufuncs called directly where that is the impl). The values may be NumPy scalars
    inside the step; its outputs are arrays."""
    kernels = []
    for e in step.eqns:
        direct = _ufunc_call(e)
        if direct is None:
            kernels.append((reference_lowering(e), e.inputs, e.outvars[0], None))
        else:
            kernels.append((direct[0], e.inputs, e.outvars[0], direct[1]))
    inputs, outputs = step.inputs, step.outputs

    def run(*vals):
        env = dict(zip(inputs, vals, strict=True))
        for kernel, ins, out, dtype in kernels:
            args = [np.asarray(x.val, x.aval.dtype) if isinstance(x, Literal) else env[x]
                    for x in ins]
            env[out] = kernel(*args)[0] if dtype is None else kernel(*args, dtype=dtype)
        return [np.asarray(env[v]) for v in outputs]

    run.equations = (inputs, kernels, outputs)  # compiler.executor.straight_line inlines them
    return run


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


class CpuRuntime(Runtime):
    """Host values; a program holding kernels that parallelise with prange (direct
    convolutions) runs with BLAS on one thread, so its spinning threads leave the cores."""

    def context(self, program):
        if not any(getattr(ins.kernel, "one_blas_thread", False) for ins in program.instrs):
            return None

        def leave(prev):
            if prev is not None:
                conv.blas_threads(prev)
        return (lambda: conv.blas_threads(1)), leave


class NumbaCpuBackend:
    name = "cpu"
    fuses_reductions = True  # generated loops can end in reduce_sum/max/min
    ceilings = staticmethod(machine_ceilings)  # sgemm and memory ceilings for profile()

    def compile(self, jaxpr, consts, steps):
        """Builds the executable (``compiler.executor``: ``run(*args, timings=None) ->
        list of outputs``, a generated straight-line function) and the kernel sources."""
        keep_freed_memory()
        outvars = frozenset(v for v in jaxpr.outvars if not isinstance(v, Literal))
        rewritten: dict = {}
        for rewrite in program_rewrites:
            rewritten.update(rewrite(steps, outvars))
        ops, sources = [], []
        for k, step in enumerate(steps):
            if k in rewritten:
                kernel, reads, outs = rewritten[k]
            else:
                kernel, source = lower_step(step)
                if source is not None:
                    sources.append(source)
                reads, outs = ((step.inputs, step.outputs) if step.fused
                               else (step.eqns[0].inputs, step.eqns[0].outvars))
            ops.append(Op(kernel, tuple(reads), tuple(outs), step_label(k, step), k))
        program = assemble(jaxpr, ops, len(steps))
        return executable(program, consts, CpuRuntime()), sources
