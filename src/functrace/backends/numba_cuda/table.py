"""The CUDA lowering table and the host fallback.

``lowerings[prim](eqn) -> run`` where ``run(*device_arrays) -> [device arrays]``.
Primitives without a device kernel run on the host: their inputs are copied to
the host, the primitive's NumPy reference impl runs, and the result is copied
back (``host_lowering``). They are listed in ``HOST_LOWERED`` so that the "every
primitive has a lowering on every backend" test sees the choice is deliberate.
A lowering may also fall back to the host for parameters its kernel does not
cover (integer matmuls, 3-D convolutions, ``batch_group_count > 1``, ...).
"""

from __future__ import annotations

import numpy as np

from ...core.trace import impl_rules
from . import memory

lowerings: dict = {}

# primitives run on the host on purpose: index/random/sort/bit manipulations
# that are rare in a training step and cheap to round-trip at small sizes.
HOST_LOWERED = {
    "reduce_prod", "reduce_and", "reduce_or", "argmax", "argmin", "cumsum", "concatenate",
    "pad", "dynamic_slice", "dynamic_update_slice", "gather", "scatter", "scatter-add",
    "scatter-mul", "scatter-min", "scatter-max", "iota", "full",
    "select_and_gather_add", "custom_lin", "threefry2x32", "shift_left",
    "shift_right_logical", "shift_right_arithmetic", "bitcast_convert_type",
    "population_count", "stable_argsort", "real", "imag", "complex", "conj",
    # lax.linalg: LAPACK through numpy.linalg
    "cholesky", "triangular_solve", "eigh", "qr", "svd", "lu",
    "sort",  # lax.sorting: numpy.lexsort
    "atan2",  # lax.trig (not yet in the fused loops)
    "fft",  # lax.fft: numpy.fft
    # cross-process collectives: MPI on host buffers; the axis collectives (psum...) are
    # rewritten by pmap/vmap and reach a program only outside their axis (their impl says so)
    "process_allreduce", "process_allgather", "psum", "pmax", "pmin", "all_gather",
    "psum_scatter", "ppermute", "all_to_all", "axis_index",
    # higher-order primitives run their reference impl (a jaxpr interpreter) on the host
    "cond", "while", "scan", "remat2",
    # jit inlines these before lowering (compiler.nested.inline_calls)
    "custom_jvp_call", "custom_vjp_call",
}


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
