"""Programs inside programs: the bodies and branches of higher-order primitives.

A backend lowers ``cond``/``while``/``scan`` by compiling the jaxprs they hold with
the same pipeline as the outer program (passes, fusion plan, its own ``compile``)
and calling the resulting executables from the step's kernel.
"""

from __future__ import annotations

from ..core.jaxpr import ClosedJaxpr
from . import fusion, passes


def compile_program(closed: ClosedJaxpr, backend):
    """Optimises and lowers ``closed`` with ``backend``; returns ``run(*args) -> list``."""
    closed = passes.optimize(closed)
    steps = fusion.plan(closed.jaxpr, reductions=getattr(backend, "fuses_reductions", False))
    run, _ = backend.compile(closed.jaxpr, closed.consts, steps)
    return run
