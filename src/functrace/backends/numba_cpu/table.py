"""The CPU lowering table and the reference-impl fallback.

``lowerings[prim](eqn) -> kernel`` where ``kernel(*arrays) -> [arrays]``; the
modules beside this one (``conv.py``, ``pool.py``, ``control_flow.py``) fill it,
and ``__init__`` assembles the backend. A primitive without a kernel runs its
vectorised NumPy reference impl (``reference_lowering``): that is deliberate for
the primitives marked ``impl_fallback`` (BLAS-backed ``dot_general``, memory-bound
shape ops, index and bit manipulations) and for elementwise ones outside a fused
loop.
"""

from __future__ import annotations

import numpy as np

from ...compiler.registry import lowers
from ...core.trace import impl_rules

lowerings: dict = {}
# whole-program rewrites: fn(steps, program outvars) -> {step index: (kernel, read keys,
# write keys)}. Keys
# are Vars, or private tokens that connect the steps one rewrite changes (pool.py: a max
# pool's forward also writes its argmax, which its backward reads instead of the operand).
program_rewrites: list = []


def has_lowering(prim) -> bool:
    """Whether the CPU backend lowers ``prim`` (``compiler.registry.lowers``)."""
    return lowers(prim, lowerings)


def reference_lowering(eqn):
    """Runs the primitive's NumPy reference impl (cast to the declared dtypes)."""
    impl = impl_rules[eqn.primitive]
    params = eqn.params
    multiple = eqn.primitive.multiple_results
    dtypes = [v.aval.dtype for v in eqn.outvars]

    if multiple:
        def run(*vals):
            outs = impl(*vals, **params)
            return [np.asarray(o, d) for o, d in zip(outs, dtypes, strict=True)]
    else:
        dtype = dtypes[0]

        def run(*vals):
            out = np.asarray(impl(*vals, **params))
            return [out if out.dtype == dtype else out.astype(dtype)]
    # not a deliberate choice (``impl_fallback``): ``as_text`` marks the step
    run.reference_fallback = not eqn.primitive.impl_fallback
    return run
