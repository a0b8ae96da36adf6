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

import warnings

from numba import config as numba_config
from numba import cuda

from ...compiler.executor import Alias, Op, assemble, step_label
from ...compiler.fusion import Step
from ...compiler.registry import register_backend
from ...devices import register_platform
from ...errors import FunctraceError
from . import conv, epilogue, ops, pool, schedule  # noqa: F401 - conv, ops, pool register
from .array import Array, CudaDevice, local_cuda_devices, put
from .codegen import build_fused, build_group, build_reduction, direct_inputs
from .executor import CudaExecutor, CudaRuntime
from .table import has_lowering, host_lowering, lowerings

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


def lower_step(step: Step):
    """Returns ``(run, source or None)`` for one step of the plan."""
    if getattr(step, "epilogue", None) is not None:
        return epilogue.lower(step)
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
        """Builds the executable (``executor.CudaExecutor``: the shared executor with
        this backend's ``executor.CudaRuntime``, replaying its launches after its second
        call) and the generated sources."""
        check_available()
        # plan step of each scheduled step (folding a broadcast rebuilds its readers)
        index = {id(s): k for k, s in enumerate(steps)}
        writer = {v: k for k, s in enumerate(steps) for v in s.outputs}
        program_ops, sources, inplace = [], [], []
        folded = schedule.fold_broadcasts(steps, jaxpr.outvars)
        for grp in schedule.group(schedule.epilogues(folded, jaxpr.outvars)):
            step = grp[0]
            k = index[id(step)] if id(step) in index else writer[step.outputs[0]]
            alias = schedule.alias_of(step) if len(grp) == 1 else None
            if alias is not None:  # a copy: a second name for the same buffer
                program_ops.append(Alias(*alias))
                continue
            label = step_label(k, step) + (f" and {len(grp) - 1} more" if len(grp) > 1 else "")
            if getattr(step, "epilogue", None) is not None:
                label += f" with the epilogue {step_label(k, step.epilogue)}"
            try:
                kernel, source = build_group(grp) if len(grp) > 1 else lower_step(step)
            except FunctraceError:
                raise
            except Exception as e:
                raise FunctraceError(f"cuda backend: lowering {label} failed: "
                                     f"{type(e).__name__}: {e}") from e
            if source is not None:
                sources.append(source)
            if step.fused or getattr(step, "epilogue", None) is not None:
                reads = [v for s in grp for v in s.inputs]
                outs = [v for s in grp for v in s.outputs]
            else:
                reads, outs = step.eqns[0].inputs, step.eqns[0].outvars
            program_ops.append(Op(kernel, tuple(reads), tuple(outs), label, k))
            inplace.append({(x, o) for s in grp if s.fused and s.reduction is None
                            for x in direct_inputs(s) for o in s.outputs
                            if o.aval.shape == s.shape})
        program = assemble(jaxpr, program_ops, len(steps))
        runtime = CudaRuntime(program, jaxpr, inplace)
        return CudaExecutor(program, consts, runtime), sources


register_backend("cuda", NumbaCudaBackend())
register_platform("cuda", local_cuda_devices, -1 if SIMULATOR else 10, put)
