"""Replaying an executable's launches with prebuilt arguments (issue 11's host cost).

After its first call an executable's memory plan is fixed (``executor.py``): every
internal buffer is the same arena view on every call, so a later call launches the
same kernels with the same arguments, except those over an input's buffer or an
output's block. The first replayed call records its launches (``memory.launch``
notes each one while ``memory._log`` is a list); ``build`` sorts each array argument
by address -- inside an input, inside an escaping request's block (an output), or
fixed (the arena, a constant, a literal) -- and keeps each launch's whole argument
tuple with the positions to patch. Later calls skip the executor loop, the lowerings,
the allocator and the argument building: they take the outputs' blocks from the pool
(or a donated input), patch those positions and launch.

On a real GPU each launch is *prepared* when numba-cuda allows it (``prepare``): the
kernel parameters numba-cuda would flatten from the arguments on every launch (5 +
2 * ndim integers per array, ctypes scalars) are built once, and a launch is one
``cuda.core.launch(stream, config, kernel, *params)`` with the array pointers patched
in; under the simulator (and for any kernel ``prepare`` declines) the replayed launch
is the usual ``kernel[grid, block](*args)`` with fresh views over the per-call
buffers.

A program is replayed only when its steps launch kernels and nothing else: one that
copies between host and device inside a step (a host fallback) keeps the executor
loop, and so does a call whose donations differ from the recorded call's.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from ...errors import FunctraceError
from . import memory

# FUNCTRACE_CUDA_REPLAY: "1" (default) replays prepared launches where it can, "views"
# replays through numba's launch only, "0" never replays (for A/B timings on a GPU)
MODE = os.environ.get("FUNCTRACE_CUDA_REPLAY", "1")


def _nop(*args) -> None:
    return None


class _Sources:
    """The recording call's per-call buffers: inputs, then escaping requests' blocks
    (except those a donated input gave: a call donating as this one did writes them at
    that input's address)."""

    def __init__(self, inputs, escaping, leases, donated):
        self.ranges = []  # (start, end, source index)
        for s, a in enumerate(inputs):
            if a.size:
                p = memory.data_pointer(a)
                self.ranges.append((p, p + a.size * a.dtype.itemsize, s))
        for e, q in enumerate(escaping):
            if q in donated:  # the block of a donated input: found as that input
                continue
            held = leases[q]
            p = memory.data_pointer(held.block)
            self.ranges.append((p, p + held.size, len(inputs) + e))

    def find(self, p: int, n: int):
        """(source, byte offset) holding ``[p, p + n)``; ``None`` if none does; ``False``
        if two different buffers do (an argument passed twice: not replayable)."""
        hits = [(s, p - lo) for lo, hi, s in self.ranges if lo <= p and p + n <= hi]
        if len(hits) > 1:
            return False
        return hits[0] if hits else None


def _within(p: int, n: int, fixed) -> bool:
    return any(lo <= p and p + n <= hi for lo, hi in fixed)


def _span(a) -> tuple[int, int]:
    p = memory.data_pointer(a)
    return p, p + a.size * a.dtype.itemsize


class Replay:
    """The launches of one executable's later calls (``run``), built by ``build``."""

    def __init__(self, n_inputs, escaping, entries, specs, outs, donor_sig, labels):
        self.n_inputs = n_inputs
        self.escaping = escaping  # [(request, nbytes)], in request order
        self.entries = entries    # [(launch fn, args, ((position, spec index), ...))]
        self.specs = specs        # per-call values: (kind, source, offset, nbytes, dtype)
        self.outs = outs          # per output: ("fixed", value) or ("src", s, off, shape, dtype)
        self.donor_sig = donor_sig
        self.labels = labels      # per launch: the step that made it
        self.n_launches = len(entries)

    def run(self, inputs, donors) -> tuple[list, dict]:
        """Launches everything for ``inputs`` (device arrays); returns the output values
        and the leases of the escaping requests' blocks."""
        leases = {}
        srcs = list(inputs)
        for q, n in self.escaping:
            held = donors.get(q) or memory.lease(n)
            leases[q] = held
            srcs.append(held.block)
        vals = [memory.data_pointer(srcs[s]) + off if kind == "ptr"
                else memory.byte_view(srcs[s], off, n, dt) for kind, s, off, n, dt in self.specs]
        memory.COUNTS["launches"] += self.n_launches
        k = 0
        try:
            for k, (fn, args, patches) in enumerate(self.entries):  # noqa: B007
                if patches:
                    args = list(args)
                    for pos, v in patches:
                        args[pos] = vals[v]
                fn(*args)
        except FunctraceError:
            raise
        except Exception as e:
            raise FunctraceError(f"cuda backend: {self.labels[k]} failed (replayed launch "
                                 f"{k}): {type(e).__name__}: {e}") from e
        outs = []
        for spec in self.outs:
            if spec[0] == "fixed":
                outs.append(spec[1])
                continue
            _, s, off, shape, dtype = spec
            src = srcs[s]
            if s < self.n_inputs and off == 0 and src.shape == shape and src.dtype == dtype:
                outs.append(src)
            elif s < self.n_inputs:
                n = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
                outs.append(memory.byte_view(src, off, n, dtype).reshape(shape))
            else:
                outs.append(memory.typed_view(src, shape, dtype, off))
        return outs, leases


def build(log, bounds, labels, inputs, escaping, leases, outs, fixed_arrays, arena,
          donor_sig) -> Replay | None:
    """The replay of the call that recorded ``log`` (``[(configured, args)]``; launch
    ``bounds[k]`` is the first of step ``k``, named ``labels[k]``), or None when an
    argument cannot be placed (a buffer made outside the plan, one passed twice)."""
    sources = _Sources(inputs, escaping, leases, dict(donor_sig))
    fixed = [_span(a) for a in fixed_arrays if a.size]
    if arena is not None:
        fixed.append(_span(arena))
    if any(lo < f_hi and f_lo < hi for lo, hi, _ in sources.ranges for f_lo, f_hi in fixed):
        return None  # an input over a constant or literal (a literal output fed back)
    specs: list = []
    spec_index: dict = {}

    def spec(key) -> int:
        if key not in spec_index:
            spec_index[key] = len(specs)
            specs.append(key)
        return spec_index[key]

    def place(a):
        """(source, offset) for a per-call array, None for a fixed one; False: give up."""
        if not a.size:
            return None
        p, end = _span(a)
        where = sources.find(p, end - p)
        if where is None:
            return None if _within(p, end - p, fixed) else False
        return where

    entries = []
    step_of = []
    k = 0
    for j, (configured, args) in enumerate(log):
        while k + 1 < len(bounds) and bounds[k + 1] <= j:
            k += 1
        step_of.append(labels[k] if labels else "?")
        kernel, grid, block = memory.launch_spec(configured)
        placed = {}
        for pos, a in enumerate(args):
            if memory.is_device_array(a):
                where = place(a)
                if where is False:
                    return None
                if where is not None:
                    placed[pos] = (where, a)
        prepared = prepare(kernel, grid, block, args)
        if prepared is not None:  # pragma: no cover - needs a GPU
            fn, params, ptr_at = prepared
            fn = _nop if memory.STUB_LAUNCHES else fn
            patches = tuple((ptr_at[pos], spec(("ptr", s, off, 0, None)))
                            for pos, ((s, off), _) in placed.items())
            entries.append((fn, tuple(params), patches))
            continue
        patches = tuple((pos, spec(("view", s, off, a.size * a.dtype.itemsize,
                                    np.dtype(a.dtype))))
                        for pos, ((s, off), a) in placed.items()
                        if a.ndim == 1)
        if len(patches) != len(placed):
            return None  # kernels take flat views; anything else is not replayed
        fn = _nop if memory.STUB_LAUNCHES else memory.configure(kernel, grid, block)
        entries.append((fn, tuple(args), patches))
    out_specs = []
    for v in outs:
        where = place(v) if memory.is_device_array(v) else None
        if where is False or (where is None and arena is not None and v.size
                              and _within(_span(v)[0], 1, [_span(arena)])):
            return None  # an output in the arena would be overwritten by the next call
        if where is None:
            out_specs.append(("fixed", v))
        else:
            out_specs.append(("src", where[0], where[1], tuple(v.shape), np.dtype(v.dtype)))
    return Replay(len(inputs), [(q, leases[q].size) for q in escaping], entries, specs,
                  out_specs, donor_sig, step_of)


# ---------------------------------------------------------------------------
# prepared launches on a real GPU (numba-cuda 0.30: ``_Kernel.launch`` ends in
# ``cuda.core.launch(stream, LaunchConfig, cufunc.kernel, *kernelargs)``)

@functools.cache
def _core():  # pragma: no cover - needs a GPU
    from cuda.core import LaunchConfig, launch  # noqa: PLC0415
    from numba.cuda import types  # noqa: PLC0415
    from numba.cuda._compat import CUDA_CORE_GE_1_0  # noqa: PLC0415
    return launch, LaunchConfig, CUDA_CORE_GE_1_0, types


def prepare(kernel, grid, block, args):
    """``(launch fn, kernel parameters, {argument position: index of its pointer})`` for
    launching numba-cuda ``kernel`` on ``args`` without numba's per-launch typing and
    flattening, or None (the simulator; a kernel numba-cuda would treat specially)."""
    if memory.SIMULATOR or MODE == "views":
        return None
    try:  # pragma: no cover - needs a GPU
        return _prepare(kernel, grid, block, args)
    except Exception:  # pragma: no cover - an internal API changed: launch as usual
        return None


def _prepare(kernel, grid, block, args):  # pragma: no cover - needs a GPU
    launch, config_type, ge_1_0, types = _core()
    lc = kernel[grid, block]
    if (lc.pre_launch_callbacks or kernel.extensions
            or getattr(kernel, "_launch_config_sensitive", False)):
        return None
    if kernel.specialized:
        compiled = next(iter(kernel.overloads.values()))
    else:
        compiled = kernel.overloads.get(tuple(kernel.typeof_pyval(a) for a in args))
    if compiled is None or compiled.debug or getattr(compiled, "extensions", None):
        return None
    params, retr, ptr_at = [], [], {}
    for pos, (ty, a) in enumerate(zip(compiled.argument_types, args, strict=True)):
        start = len(params)
        compiled._prepare_args(ty, a, lc.stream, retr, params)
        if isinstance(ty, types.Array):
            ptr_at[pos] = start + 4  # meminfo, parent, size, itemsize, *pointer*, ...
    if retr:
        return None
    coop = {"is_cooperative" if ge_1_0 else "cooperative_launch": compiled.cooperative}
    config = config_type(grid=lc.griddim, block=lc.blockdim, shmem_size=lc.sharedmem, **coop)
    cufunc = compiled._codelibrary.get_cufunc().kernel
    return functools.partial(launch, lc.stream, config, cufunc), params, ptr_at
