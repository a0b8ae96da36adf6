"""The CUDA side of the executor: device values, with no allocation per call.

The shared executor (``compiler/executor.py``) numbers the values into slots, drops
each intermediate after its last reader and runs the steps; ``CudaRuntime`` moves
values in and out and wraps each call in the memory plan. The
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

import numpy as np
from numba import cuda

from ...compiler.executor import Call, Executor, Runtime, reject_options
from ...devices import check_transfer
from ...errors import FunctraceError
from . import memory, replay
from .array import Array

REPLAY_TRIES = 3  # calls that may try to record a replay (an argument passed twice fails)


class CudaRuntime(Runtime):
    """The CUDA side of one executable (``compiler.executor.Executor``): device copies of
    constants and literals, inputs moved in (``transfer_guard``), the first call recorded
    and later ones replayed (``memory.Recorder``/``Replayer``), donation, outputs moved
    out, the device counters of each call, and kernel errors naming their step."""

    straight_line = False        # every call moves values and runs an allocator
    copy_literal_outputs = False  # a literal output is a read-only Array over one copy

    def __init__(self, program, jaxpr, inplace):
        self.program = program
        self.n_consts = program.n_consts
        self.n_fixed = program.n_consts + program.n_inputs  # constants and inputs
        self.out_reads = program.out_reads
        self.last_read = program.last_read
        self.in_avals = [v.aval for v in jaxpr.invars]
        self.out_avals = [v.aval for v in jaxpr.outvars]
        self.plan = None                # filled after the first call (``_make_plan``)
        # per instruction: {(input slot, output slot)} it may write in place (fused
        # kernels read each element before writing it); ``inplace`` gives variables
        self.inplace = [{(program.slots[x], program.slots[o]) for x, o in pairs}
                        for pairs in inplace]
        self.replay: replay.Replay | None = None  # later calls' launches (``replay.py``)
        never = replay.MODE == "0" or any(getattr(ins.kernel, "host_fallback", False)
                                           for ins in program.instrs)
        self.replay_tries = REPLAY_TRIES if never else 0

    def constant(self, value):
        return memory.to_device(np.asarray(value))

    def literal(self, lit):
        return memory.to_device(np.asarray(lit.val, lit.aval.dtype))

    def synchronize(self) -> None:
        cuda.synchronize()

    def step_error(self, instr, exc):
        if isinstance(exc, FunctraceError):
            return super().step_error(instr, exc)
        return FunctraceError(f"cuda backend: {instr.label} failed: "
                              f"{type(exc).__name__}: {exc}")

    def begin(self, executor, args, options):
        donated = options.pop("donated", ())
        reject_options(options)
        return CudaCall(self, executor, args, donated)

    def _outputs(self, values, device, owned, in_leases):
        if device is None:  # host inputs only: host outputs, as the CPU backend
            outs = []
            for r, value in zip(self.out_reads, values, strict=True):
                lit = self.program.literal_at(r)
                if lit is not None:
                    outs.append(np.asarray(lit.val, lit.aval.dtype))
                    continue
                check_transfer("device-to-host", f"an output ({value.shape}) of a program "
                               "whose inputs are all on the host")
                outs.append(memory.to_host(value))
            return outs
        outs = []
        for j, value in enumerate(values):
            kind, src = self.out_source[j]
            lease = owned.get(src) if kind == "req" else (
                in_leases.get(src) if kind == "in" else None)
            outs.append(Array(value, lease, device))
        return outs

    # -- the plan -----------------------------------------------------------------------
    def _make_plan(self, rec, addresses) -> None:
        """Lifetimes of the first call's requests -> the arena layout and output sources."""
        out_slots = set(self.out_reads)
        by_address = {a: q for q, (n, _, a) in enumerate(rec.requests) if n}
        lives = [[step, step] for _, step, _ in rec.requests]
        escapes = set()
        slot_request = {}
        for k, ins in enumerate(self.program.instrs):
            for w in ins.writes:
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
            if r in slot_request:
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

    def _donor_choice(self, args, donated) -> tuple[tuple[int, int], ...]:
        """``(escaping request, donated input)`` pairs: whose block each output takes."""
        taken: dict = {}
        for i in donated:
            a = args[i]
            if type(a) is not Array or a._lease is None:
                continue
            for q in self.donor_targets.get(i, ()):
                if q not in taken:
                    taken[q] = i
                    break
        return tuple(taken.items())

    def _donors(self, args, choice) -> tuple[dict, list]:
        """Escaping request -> the lease of a donated input it takes over; the inputs given."""
        return ({q: args[i]._lease.transfer() for q, i in choice}, [i for _, i in choice])

    def move_in(self, args) -> tuple[list, object, dict]:
        """The inputs as device arrays (host values copied in, ``transfer_guard``), the
        device of the device inputs (None: host inputs only), their leases."""
        inputs = [None] * len(args)
        device, leases = None, {}
        for i, a in enumerate(args):
            if type(a) is Array:
                inputs[i] = a.buffer()
                device = a.device
                leases[i] = a._lease
            elif hasattr(a, "copy_to_host"):  # a bare numba device array
                inputs[i] = a
        for i, a in enumerate(args):
            if inputs[i] is None:
                aval = self.in_avals[i]
                check_transfer("host-to-device",
                               f"argument {i} ({aval.str_short()}) is a host value")
                inputs[i] = memory.to_device(np.asarray(a, dtype=aval.dtype))
        return inputs, device, leases

    def replayed(self, executor, args, options):
        """A later call: the recorded launches with this call's buffers (``replay.py``);
        None when this call's donations differ from the recorded call's."""
        donated = options.pop("donated", ())
        reject_options(options)
        choice = self._donor_choice(args, donated)
        if choice != self.replay.donor_sig:
            return None
        counts0 = memory.snapshot()
        inputs, device, in_leases = self.move_in(args)
        donors, given = self._donors(args, choice)
        values, owned = self.replay.run(inputs, donors)
        for i in given:  # their blocks now belong to outputs
            args[i].delete()
        results = self._outputs(values, device, owned, in_leases)
        executor.last_counters = memory.since(counts0)
        return results


class CudaCall(Call):
    """One call: inputs on the device, the allocator of this call (recording the first
    call's requests and the address each slot gets, replaying them later), outputs."""

    def __init__(self, rt: CudaRuntime, executor, args, donated):
        self.rt, self.executor, self.args = rt, executor, args
        self.counts0 = memory.snapshot()
        self.inputs, self.device, self.leases = rt.move_in(args)
        self.recording = rt.plan is None
        # the first call with the plan records its launches for later calls to replay
        self.logging = not self.recording and rt.replay is None and rt.replay_tries < REPLAY_TRIES
        self.bounds: list[int] = []  # per step, its first launch in the log
        self.log = None
        if self.recording:
            self.alloc = memory.Recorder()
            self.addresses: dict = {}
        else:
            self.choice = rt._donor_choice(args, donated)
            donors, self.given = rt._donors(args, self.choice)
            self.alloc = memory.Replayer(rt.arena, rt.plan, donors, rt.views)

    @property
    def observer(self):
        """Itself on the recording calls (it notes each step and the slots' addresses, or
        where each step's launches start). A property, not an attribute: a call referring
        to itself would be a cycle that keeps the recorder's blocks out of the pool until
        the garbage collector runs."""
        return self if self.recording or self.logging else None

    def before(self, k: int) -> None:  # the observer's hooks
        if self.recording:
            self.alloc.step = k
        else:
            self.bounds.append(len(memory._log))

    def wrote(self, slots, values) -> None:
        if not self.recording:
            return
        for w, o in zip(slots, values, strict=False):
            if o.size:
                self.addresses[w] = memory.data_pointer(o)

    def enter(self) -> None:
        memory._active = self.alloc
        if self.logging:
            self.moved = memory.COUNTS["h2d_bytes"], memory.COUNTS["d2h_bytes"]
            memory._log = []

    def leave(self) -> None:
        memory._active = None
        if self.logging:
            self.log, memory._log = memory._log, None
            if self.moved != (memory.COUNTS["h2d_bytes"], memory.COUNTS["d2h_bytes"]):
                self.log = None  # a step copied between host and device: never replayed
                self.rt.replay_tries = REPLAY_TRIES

    def _record_replay(self, outs) -> None:
        rt = self.rt
        rt.replay_tries += 1
        ex = self.executor
        labels = [ins.label for ins in rt.program.instrs]
        rt.replay = replay.build(self.log, self.bounds, labels, self.inputs,
                                 sorted(self.alloc.leases), self.alloc.leases, outs,
                                 [*ex.consts, *ex.literals], rt.arena, self.choice)

    def finish(self, outs):
        rt = self.rt
        if self.recording:
            rt._make_plan(self.alloc, self.addresses)
            owned = {r: self.alloc.leases[r] for r in rt.escapes}
        else:
            owned = self.alloc.leases
            if self.log is not None:
                self._record_replay(outs)
            for i in self.given:  # their blocks now belong to outputs
                self.args[i].delete()
        results = rt._outputs(outs, self.device, owned, self.leases)
        self.executor.last_counters = memory.since(self.counts0)
        return results


class CudaExecutor(Executor):
    """The shared executor, whose calls after the second replay the recorded launches
    (``replay.py``) when no timings are asked for."""

    def __call__(self, *args, timings=None, **options):
        rt = self.runtime
        if rt.replay is not None and timings is None and len(args) == rt.replay.n_inputs:
            out = rt.replayed(self, args, dict(options))
            if out is not None:
                return out
        return super().__call__(*args, timings=timings, **options)
