"""The CUDA executable: runs a lowered plan on device arrays, with no allocation per call.

Values live in numbered slots (constants, inputs, then each step's outputs). The
first call records every allocation the kernels request (``memory.Recorder``) and
the address of every slot; from those it derives each request's lifetime (the last
step reading any slot over its bytes) and whether it escapes as a program output.
Later calls replay the same requests (``memory.Replayer``): internal ones are views of
one arena laid out from those lifetimes, escaping ones come from the caching pool or
from the block of a donated input of the same shape and dtype.

Inputs that are device ``Array``s are used in place; any host value is an implicit
host-to-device copy (``transfer_guard``). When any input is on the device, outputs
are ``Array``s on it; a call with host inputs only returns NumPy arrays, as the CPU
backend does (JAX would return device arrays; this keeps backend="cuda" a drop-in).
"""

from __future__ import annotations

import time

import numpy as np
from numba import cuda

from ...devices import check_transfer
from ...errors import FunctraceError
from . import memory
from .array import Array


class Executable:
    """``run(*args, timings=None, donated=()) -> list of outputs`` for one plan."""

    def __init__(self, jaxpr, program, inplace, n_slots, out_reads, consts, literals):
        self.program = program          # [(kernel, reads, writes, label)]
        self.n_fixed = len(consts) + len(jaxpr.invars)
        self.n_slots = n_slots
        self.out_reads = out_reads      # slot numbers, or Literals
        self.consts = consts            # device copies, owned by the executable
        self.literals = literals
        self.n_consts = len(consts)
        self.in_avals = [v.aval for v in jaxpr.invars]
        self.out_avals = [v.aval for v in jaxpr.outvars]
        self.out_literals = [None if type(r) is int else memory.to_device(
            np.asarray(r.val, r.aval.dtype)) for r in out_reads]
        self.plan = None                # filled after the first call (``_make_plan``)
        self.last_counters: dict | None = None
        self.last_read = [-1] * n_slots
        self.inplace = inplace          # per step: {(input slot, output slot)} it may
        # write in place (fused kernels read each element before writing it)
        for k, (_, reads, _, _) in enumerate(program):
            for r in reads:
                if r >= 0:
                    self.last_read[r] = k

    # -- one call ----------------------------------------------------------------------
    def __call__(self, *args, timings=None, donated=()):
        before = memory.snapshot()
        env = [None] * self.n_slots
        env[:self.n_consts] = self.consts
        device, leases = None, {}
        for i, a in enumerate(args):
            if type(a) is Array:
                env[self.n_consts + i] = a.buffer()
                device = a.device
                leases[i] = a._lease
            elif hasattr(a, "copy_to_host"):  # a bare numba device array
                env[self.n_consts + i] = a
        for i, a in enumerate(args):
            if env[self.n_consts + i] is None:
                aval = self.in_avals[i]
                check_transfer("host-to-device",
                               f"argument {i} ({aval.str_short()}) is a host value")
                env[self.n_consts + i] = memory.to_device(np.asarray(a, dtype=aval.dtype))
        recording = self.plan is None
        if recording:
            alloc = memory.Recorder()
            addresses = {}
        else:
            donors, given = self._donors(args, donated)
            alloc = memory.Replayer(self.arena, self.plan, donors, self.views)
        memory._active = alloc
        try:
            for k, (kernel, reads, writes, label) in enumerate(self.program):
                if recording:
                    alloc.step = k
                if timings is not None:
                    cuda.synchronize()
                    t0 = time.perf_counter()
                try:
                    outs = kernel(*[env[r] if r >= 0 else self.literals[-r - 1] for r in reads])
                except FunctraceError:
                    raise
                except Exception as e:
                    raise FunctraceError(f"cuda backend: {label} failed: "
                                         f"{type(e).__name__}: {e}") from e
                for w, o in zip(writes, outs, strict=False):
                    env[w] = o
                    if recording and o.size:
                        addresses[w] = memory.data_pointer(o)
                if timings is not None:
                    cuda.synchronize()
                    timings[k] += time.perf_counter() - t0
        finally:
            memory._active = None
        if recording:
            self._make_plan(alloc, addresses)
            owned = {r: alloc.leases[r] for r in self.escapes}
        else:
            owned = alloc.leases
            for i in given:  # their blocks now belong to outputs
                args[i].delete()
        outs = self._outputs(env, device, owned, leases)
        self.last_counters = memory.since(before)
        return outs

    def _outputs(self, env, device, owned, in_leases):
        if device is None:  # host inputs only: host outputs, as the CPU backend
            outs = []
            for r, lit in zip(self.out_reads, self.out_literals, strict=True):
                if lit is not None:
                    outs.append(np.asarray(r.val, r.aval.dtype))
                    continue
                check_transfer("device-to-host", f"an output ({env[r].shape}) of a program "
                               "whose inputs are all on the host")
                outs.append(memory.to_host(env[r]))
            return outs
        outs = []
        for j, r in enumerate(self.out_reads):
            if type(r) is not int:
                outs.append(Array(self.out_literals[j], None, device))
                continue
            kind, src = self.out_source[j]
            lease = owned.get(src) if kind == "req" else (
                in_leases.get(src) if kind == "in" else None)
            outs.append(Array(env[r], lease, device))
        return outs

    # -- the plan -----------------------------------------------------------------------
    def _make_plan(self, rec, addresses) -> None:
        """Lifetimes of the first call's requests -> the arena layout and output sources."""
        program, out_slots = self.program, {r for r in self.out_reads if type(r) is int}
        by_address = {a: q for q, (n, _, a) in enumerate(rec.requests) if n}
        lives = [[step, step] for _, step, _ in rec.requests]
        escapes = set()
        slot_request = {}
        for k, (_, _, writes, _) in enumerate(program):
            for w in writes:
                q = by_address.get(addresses.get(w))
                if q is None or rec.requests[q][1] > k:
                    continue
                slot_request[w] = q
                lives[q][1] = max(lives[q][1], self.last_read[w], k)
                if w in out_slots:
                    escapes.add(q)
        internal = [q for q in range(len(rec.requests)) if q not in escapes]
        offsets, total = memory.layout([rec.requests[q][0] for q in internal],
                                       [tuple(lives[q]) for q in internal])
        plan = [(n, None) for n, _, _ in rec.requests]
        for q, off in zip(internal, offsets, strict=True):
            plan[q] = (rec.requests[q][0], off)
            if rec.leases[q]._fin is not None:  # first-call temporaries: freed, not pooled
                rec.leases[q]._fin.detach()
        self.out_source = []
        for r in self.out_reads:
            if type(r) is not int:
                self.out_source.append(("none", None))
            elif r in slot_request:
                self.out_source.append(("req", slot_request[r]))
            elif self.n_consts <= r < self.n_fixed:
                self.out_source.append(("in", r - self.n_consts))
            else:
                self.out_source.append(("none", None))
        self.escapes = escapes
        self.donor_targets = self._donor_targets(rec, slot_request)
        self.arena = memory.raw_block(total)
        for q in escapes:  # one spare block per output: the next call's outputs, while
            if memory.POOL:  # this call's are still alive as that call's inputs
                size = memory._rounded(rec.requests[q][0])
                memory._free[size].append(memory.raw_block(size))
        self.arena_bytes = total
        self.views: dict = {}  # arena views, made on the second call and reused
        self.plan = plan

    def _donor_targets(self, rec, slot_request) -> dict[int, list[int]]:
        """input index -> escaping requests its block may become: an output of the same
        shape and dtype, written after the input's last read (or by the fused elementwise
        step that reads it last, which reads each element before writing it)."""
        aliased = {src for kind, src in self.out_source if kind == "in"}
        out_aval = {}
        for j, (kind, q) in enumerate(self.out_source):
            if kind == "req":
                out_aval.setdefault(q, self.out_avals[j])
        request_slot = {}
        for w, q in slot_request.items():
            request_slot.setdefault(q, w)
        targets: dict[int, list[int]] = {}
        for i, aval in enumerate(self.in_avals):
            if i in aliased:
                continue
            slot = self.n_consts + i
            last = self.last_read[slot]
            for q in sorted(self.escapes):
                step = rec.requests[q][1]
                o = out_aval.get(q)
                in_place = (slot, request_slot.get(q)) in self.inplace[step]
                if (o is not None and o.shape == aval.shape and o.dtype == aval.dtype
                        and (step > last or (step == last and in_place))):
                    targets.setdefault(i, []).append(q)
        return targets

    def _donors(self, args, donated) -> tuple[dict, list]:
        """Escaping request -> the lease of a donated input it takes over; the inputs given."""
        donors: dict = {}
        given = []
        for i in donated:
            a = args[i]
            if type(a) is not Array or a._lease is None:
                continue
            for q in self.donor_targets.get(i, ()):
                if q not in donors:
                    donors[q] = a._lease.transfer()
                    given.append(i)
                    break
        return donors, given
