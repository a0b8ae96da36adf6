"""The Numba CPU backend: lowers a jit plan to kernels and runs them in order.

This module only assembles the backend. ``table.py`` holds the lowering table
(``lowerings[prim](eqn) -> kernel``), which ``conv.py``, ``pool.py`` and
``control_flow.py`` fill; fused elementwise clusters are generated code
(``codegen.py``); ``executor.py`` runs a compiled program. Primitives marked
``impl_fallback`` (BLAS-backed ``dot_general``, memory-bound shape ops...) run their
vectorised NumPy reference impl, already the fastest choice on the CPU.
"""

from __future__ import annotations

from ...compiler.registry import register_backend
from . import control_flow, conv, pool, scatter, threefry  # noqa: F401 - they fill the lowering table
from .executor import NumbaCpuBackend, keep_freed_memory
from .table import has_lowering, lowerings, program_rewrites, reference_lowering

__all__ = ["NumbaCpuBackend", "has_lowering", "keep_freed_memory", "lowerings",
           "program_rewrites", "reference_lowering"]

register_backend("cpu", NumbaCpuBackend())
