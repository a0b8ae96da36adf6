"""The Numba CUDA backend: ``jit(f, backend="cuda")``.

Imported lazily on the first ``get_backend("cuda")`` or ``devices("cuda")``
(``import functrace`` never imports CUDA). A compiled program runs every step on
device arrays (fused elementwise clusters as generated kernels, ``codegen.py``;
matmul, convolutions, pooling and reductions as hand-written kernels,
``kernels.py``, ``conv.py``, ``pool.py``, ``ops.py``) and allocates nothing after
its first call (``executor.py``, ``memory.py``). Inputs put on the device with
``functrace.device_put`` stay there and so do the outputs (``array.Array``); host
inputs are copied in and, when all inputs are on the host, outputs copied back.
The CUDA platform is the default one (``functrace.devices()``) on a real GPU only.

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
from ...devices import register_platform
from ...errors import FunctraceError
from . import conv, ops, pool, schedule  # noqa: F401 - conv, ops, pool register lowerings
from .array import Array, CudaDevice, local_cuda_devices, put
from .codegen import build_fused, build_group, build_reduction, direct_inputs
from .executor import Executable
from .table import has_lowering, host_lowering, lowerings, to_device

SIMULATOR = bool(getattr(numba_config, "ENABLE_CUDASIM", False))

# small programs launch small grids on purpose; Numba warns about each one
warnings.filterwarnings("ignore", message=r"Grid size \d+ will likely result in GPU "
                        "under-utilization")

__all__ = ["SIMULATOR", "Array", "CudaDevice", "NumbaCudaBackend", "has_lowering",
           "lowerings"]


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
        return build_reduction(step) if step.reduction is not None else build_fused(step)
    eqn = step.eqns[0]
    lowering = lowerings.get(eqn.primitive, host_lowering)
    return lowering(eqn), None


class NumbaCudaBackend:
    """Lowers a jit plan to CUDA kernels (see the module docstring)."""

    name = "cuda"
    supports_donation = True
    fuses_reductions = True  # a reduction ending a cluster is part of its kernel

    def compile(self, jaxpr, consts, steps):
        """Builds the executable (``executor.Executable``) and the generated sources."""
        check_available()
        slot: dict = {}
        for k, v in enumerate(jaxpr.constvars + jaxpr.invars):
            slot[v] = k
        literals: list = []  # device copies of literals read by non-fused steps

        def literal_slot(lit: Literal) -> int:
            literals.append(to_device(np.asarray(lit.val, lit.aval.dtype)))
            return -len(literals)

        program, sources, inplace = [], [], []
        for k, grp in enumerate(schedule.group(schedule.fold_broadcasts(steps, jaxpr.outvars))):
            step = grp[0]
            alias = schedule.alias_of(step) if len(grp) == 1 else None
            if alias is not None:  # a copy: a second name for the same buffer
                slot[alias[0]] = slot[alias[1]]
                continue
            label = _step_label(k, step) + (f" and {len(grp) - 1} more" if len(grp) > 1 else "")
            try:
                kernel, source = build_group(grp) if len(grp) > 1 else lower_step(step)
            except FunctraceError:
                raise
            except Exception as e:
                raise FunctraceError(f"cuda backend: lowering {label} failed: "
                                     f"{type(e).__name__}: {e}") from e
            if source is not None:
                sources.append(source)
            if step.fused:
                reads = [slot[v] for s in grp for v in s.inputs]
                outs = [v for s in grp for v in s.outputs]
            else:
                reads = [literal_slot(x) if isinstance(x, Literal) else slot[x]
                         for x in step.eqns[0].inputs]
                outs = step.eqns[0].outvars
            writes = []
            for v in outs:
                slot[v] = len(slot)
                writes.append(slot[v])
            program.append((kernel, reads, writes, label))
            inplace.append({(slot[x], slot[o]) for s in grp if s.fused and s.reduction is None
                            for x in direct_inputs(s) for o in s.outputs
                            if o.aval.shape == s.shape})
        executable = Executable(jaxpr, program, inplace, len(slot),
                                [x if isinstance(x, Literal) else slot[x]
                                 for x in jaxpr.outvars],
                                [to_device(np.asarray(c)) for c in consts], literals)
        return executable, sources


register_backend("cuda", NumbaCudaBackend())
register_platform("cuda", local_cuda_devices, -1 if SIMULATOR else 10, put)
