"""The CUDA lowering table and the host fallback.

``lowerings[prim](eqn) -> run`` where ``run(*device_arrays) -> [device arrays]``.
Primitives without a device kernel run on the host: their inputs are copied to
the host, the primitive's NumPy reference impl runs, and the result is copied
back (``host_lowering``). That is deliberate for the primitives marked
``impl_fallback`` (index/random/sort/bit manipulations, rare in a training step and
cheap to round-trip at small sizes; collectives, which run MPI on host buffers;
higher-order primitives, whose impl interprets their jaxpr) and for elementwise ones
outside a fused kernel (complex dtypes); ``has_lowering`` says so.
A lowering may also fall back to the host for parameters its kernel does not
cover (integer matmuls, 3-D convolutions, ``batch_group_count > 1``, ...).
"""

from __future__ import annotations

import numpy as np

from ...compiler.registry import lowers
from ...core.trace import impl_rules
from . import memory

lowerings: dict = {}


def has_lowering(prim) -> bool:
    """Whether the CUDA backend lowers ``prim`` (``compiler.registry.lowers``)."""
    return lowers(prim, lowerings)


def to_host(x) -> np.ndarray:
    return x.copy_to_host()


def to_device(x: np.ndarray):
    return memory.to_device(x)


def host_lowering(eqn):
    """Runs the primitive's NumPy reference impl on host copies of the inputs."""
    impl = impl_rules[eqn.primitive]
    params = eqn.params
    dtypes = [v.aval.dtype for v in eqn.outvars]
    multiple = eqn.primitive.multiple_results

    def run(*vals):
        host = [to_host(v) for v in vals]
        outs = impl(*host, **params)
        if not multiple:
            outs = [outs]
        return [to_device(np.asarray(o, d)) for o, d in zip(outs, dtypes, strict=True)]

    run.host_fallback = True
    return run
