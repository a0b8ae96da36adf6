"""The Numba CUDA backend: ``jit(f, backend="cuda")``.

Imported lazily on the first ``get_backend("cuda")`` (``import functrace`` never
imports CUDA). A compiled program copies its inputs to the device once, runs
every step on device arrays (fused elementwise clusters as generated kernels,
``codegen.py``; matmul, convolutions, pooling and reductions as hand-written
kernels, ``kernels.py``, ``conv.py``, ``pool.py``, ``ops.py``), and copies its
outputs back: it returns NumPy arrays.

NOTE: JAX returns device arrays and keeps them there between calls; here every
call pays one host-to-device copy of its inputs and one device-to-host copy of
its outputs. That keeps the API identical to the CPU backend's (results are
plain NumPy arrays) at the price of the transfers, which dominate tiny programs.

Primitives without a device kernel run on the host (``table.host_lowering``).
Without a GPU, ``NUMBA_ENABLE_CUDASIM=1`` (set before Numba is imported) runs
the same kernels in Numba's simulator: slowly, for tests with small shapes.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from numba import config as numba_config
from numba import cuda

from ...compiler.fusion import Step
from ...compiler.registry import register_backend
from ...core.jaxpr import Literal
from ...errors import FunctraceError
from . import conv, ops, pool  # noqa: F401 - they register their lowerings
from .codegen import build_fused
from .table import has_lowering, host_lowering, lowerings, to_device

SIMULATOR = bool(getattr(numba_config, "ENABLE_CUDASIM", False))

# small programs launch small grids on purpose; Numba warns about each one
warnings.filterwarnings("ignore", message=r"Grid size \d+ will likely result in GPU "
                        "under-utilization")

__all__ = ["SIMULATOR", "NumbaCudaBackend", "has_lowering", "lowerings"]


def check_available() -> None:
    """Raises a FunctraceError saying what to do when no CUDA device can run kernels."""
    try:
        ok = cuda.is_available()
    except Exception as e:  # a broken driver/toolkit install reports here
        ok, why = False, f"{type(e).__name__}: {e}"
    else:
        why = "numba.cuda.is_available() is False"
    if not ok:
        raise FunctraceError(
            f"jit(backend='cuda'): no usable CUDA GPU ({why}). Install numba-cuda "
            "(pip install 'functrace[cuda]') on a machine with an NVIDIA GPU and driver, or "
            "set NUMBA_ENABLE_CUDASIM=1 before numba is first imported to run the kernels in "
            "Numba's (slow) CUDA simulator; backend='cpu' runs everywhere.")


def _step_label(k: int, step: Step) -> str:
    names = ", ".join(e.primitive.name for e in step.eqns)
    return f"step {k} ({'fused ' if step.fused else ''}{names[:80]})"


def lower_step(step: Step):
    """Returns ``(run, source or None)`` for one step of the plan."""
    if step.fused:
        return build_fused(step)
    eqn = step.eqns[0]
    lowering = lowerings.get(eqn.primitive, host_lowering)
    return lowering(eqn), None


class NumbaCudaBackend:
    """Lowers a jit plan to CUDA kernels (see the module docstring)."""

    name = "cuda"

    def compile(self, jaxpr, consts, steps):
        """Builds the executable: ``run(*args) -> list of NumPy outputs``."""
        check_available()
        slot: dict = {}
        for k, v in enumerate(jaxpr.constvars + jaxpr.invars):
            slot[v] = k
        n_fixed = len(slot)
        literals: list = []  # device copies of literals read by non-fused steps

        def literal_slot(lit: Literal) -> int:
            literals.append(to_device(np.asarray(lit.val, lit.aval.dtype)))
            return -len(literals)

        program, sources = [], []
        for k, step in enumerate(steps):
            try:
                kernel, source = lower_step(step)
            except FunctraceError:
                raise
            except Exception as e:
                raise FunctraceError(f"cuda backend: lowering {_step_label(k, step)} failed: "
                                     f"{type(e).__name__}: {e}") from e
            if source is not None:
                sources.append(source)
            if step.fused:
                reads = [slot[v] for v in step.inputs]
                outs = step.outputs
            else:
                reads = [literal_slot(x) if isinstance(x, Literal) else slot[x]
                         for x in step.eqns[0].inputs]
                outs = step.eqns[0].outvars
            writes = []
            for v in outs:
                slot[v] = len(slot)
                writes.append(slot[v])
            program.append((kernel, reads, writes, _step_label(k, step)))
        n_slots = len(slot)
        out_reads = [x if isinstance(x, Literal) else slot[x] for x in jaxpr.outvars]
        device_consts = [to_device(np.asarray(c)) for c in consts]
        in_dtypes = [v.aval.dtype for v in jaxpr.invars]

        def run(*args, timings=None, device_outputs=False):
            # device arrays are taken as they are; with device_outputs the results stay
            # on the device (what benchmarks/gpu.py times as "device-resident")
            env = [None] * n_slots
            env[:n_fixed] = device_consts + [
                a if hasattr(a, "copy_to_host") else to_device(np.asarray(a, dtype=d))
                for a, d in zip(args, in_dtypes, strict=True)]
            for k, (kernel, reads, writes, label) in enumerate(program):
                if timings is not None:
                    cuda.synchronize()
                    t0 = time.perf_counter()
                try:
                    outs = kernel(*[env[r] if r >= 0 else literals[-r - 1] for r in reads])
                except FunctraceError:
                    raise
                except Exception as e:
                    raise FunctraceError(f"cuda backend: {label} failed: "
                                         f"{type(e).__name__}: {e}") from e
                for w, o in zip(writes, outs, strict=False):
                    env[w] = o
                if timings is not None:
                    cuda.synchronize()
                    timings[k] += time.perf_counter() - t0
            if device_outputs:
                return [env[r] if type(r) is int else to_device(np.asarray(r.val, r.aval.dtype))
                        for r in out_reads]
            return [env[r].copy_to_host() if type(r) is int else np.asarray(r.val, r.aval.dtype)
                    for r in out_reads]

        return run, sources


register_backend("cuda", NumbaCudaBackend())
