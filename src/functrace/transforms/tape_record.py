"""Recording the eager tape (``tape.py``): its tracers, the trace and the nodes.

``TapeTracer`` is a value computed under the tape; ``TapeTrace`` records every primitive
applied to one as a node (a derived entry's forward program run on the values, or a
per-node linearization), and ``functrace.numpy``'s fast operators skip straight to
``_record``. A node may also wait to run with others (``tape_lazy``): ``_defer`` records
it, ``_force``/``_concrete`` run the waiting nodes when a value is needed.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from ..config import config
from ..core import trace as core
from ..core.array import Array
from ..core.avals import ShapedArray, aval_of_value, canonicalize_value
from ..core.trace import (
    Trace,
    Tracer,
    bind_custom_jvp_call,
    bind_custom_vjp_call,
    check_finite,
)
from . import tape_custom, tape_fuse, tape_lazy, tape_vjp
from .partial_eval import partial_eval_rules
from .tape_lazy import Pending
from .tape_vjp import (
    GENERIC,
    ZERO_TANGENT,
    Derived,
    derive,
    holds_program,
    intern,
    linearize_node,
    run_steps,
)

# per primitive: how the tape records an application, in place of the per-node
# linearization: ``rule(vals, mask, **params) -> (outs, zero, backward)``, the protocol
# of ``tape_vjp.linearize_node`` (the compiler's ``jit`` primitive runs its compiled
# forward and backward programs)
node_rules: dict = {}


# ---------------------------------------------------------------------------
# tracers and the trace

class TapeTracer(Tracer):
    """A value computed under the tape: its NumPy value (None while its node waits to run
    with others, ``tape_lazy``), aval and cotangent slot."""

    __slots__ = ("val", "aval", "slot", "__weakref__")

    def __init__(self, trace, val, aval: ShapedArray, slot: int):
        self._trace = trace
        self.val = val
        self.aval = aval
        self.slot = slot

    def concrete_value(self, op: str):
        if self.val is None:
            _force(self._trace.main.global_data)
        return self.val


# operator name -> primitive, filled by functrace.numpy (which owns operator semantics): for
# operands of one floating dtype and one shape, NumPy's promotion and broadcasting change
# nothing, so the operator is that primitive alone and the tape records it directly
fast_operators: dict[str, Any] = {}


def _fast_binary(name: str, reflected: bool):
    generic = getattr(Tracer, name)

    def method(self, other):
        prim = fast_operators.get(name)
        if prim is not None and type(other) is TapeTracer and core.dynamic_trace is None:
            a, b = self.aval, other.aval
            main = self._trace.main
            if (a.dtype == b.dtype and a.shape == b.shape and a.dtype.kind in "fc"
                    and main.active and other._trace.main is main):
                x, y = (other, self) if reflected else (self, other)
                key = (prim, id(x.aval), id(y.aval), x.slot >= 0, y.slot >= 0,
                       config.enable_x64)
                return _record(main.global_data, prim, [x.val, y.val], [x.aval, y.aval],
                               [x.slot, y.slot], _NO_PARAMS, key)
        elif (prim is not None and type(other) in (float, int) and core.dynamic_trace is None
              and self.aval.dtype.kind == "f" and self._trace.main.active):
            # NumPy's promotion of a weak Python scalar against a float array: the scalar
            # takes the array's dtype, and stays weak when the array is weak too
            a = self.aval
            val = np.asarray(other, a.dtype)
            sa = a if a.weak_type else intern(aval_of_value(val))
            if reflected:
                vals, avals, slots = [val, self.val], [sa, a], [-1, self.slot]
                key = (prim, id(sa), id(a), False, True, config.enable_x64)
            else:
                vals, avals, slots = [self.val, val], [a, sa], [self.slot, -1]
                key = (prim, id(a), id(sa), True, False, config.enable_x64)
            return _record(self._trace.main.global_data, prim, vals, avals, slots,
                           _NO_PARAMS, key)
        return generic(self, other)

    method.__name__ = name
    return method


def _fast_unary(name: str):
    generic = getattr(Tracer, name)

    def method(self):
        prim = fast_operators.get(name)
        main = self._trace.main
        if (prim is not None and self.aval.dtype.kind in "fc" and core.dynamic_trace is None
                and main.active):
            key = (prim, id(self.aval), config.enable_x64)
            return _record(main.global_data, prim, [self.val], [self.aval], [self.slot],
                           _NO_PARAMS, key)
        return generic(self)

    method.__name__ = name
    return method


for _name in ("add", "sub", "mul", "truediv"):
    setattr(TapeTracer, f"__{_name}__", _fast_binary(f"__{_name}__", False))
    setattr(TapeTracer, f"__r{_name}__", _fast_binary(f"__r{_name}__", True))
TapeTracer.__neg__ = _fast_unary("__neg__")
del _name


class _Tape:
    __slots__ = ("nodes", "nslots", "trace", "one_blas", "blas_prev", "lazy", "pending",
                 "where")

    def __init__(self):
        self.nodes: list = []
        self.nslots = 0
        self.trace = None
        # nodes may wait to run together (tape_lazy): ``pending`` in recording order,
        # ``where[slot]`` the ``(node, output)`` of a value not computed yet
        self.lazy = (tape_fuse.eager_compile is not None and not config.debug_checks
                     and tape_lazy.state["enabled"])
        self.pending: list = []
        self.where: dict = {}
        self.one_blas = False  # it ran a kernel that wants BLAS on one thread
        self.blas_prev = None  # BLAS's thread count to restore, while it is set to one

    def one_blas_thread(self):
        """BLAS on one thread until ``restore_blas`` (see ``tape_vjp.blas_threads``)."""
        self.one_blas = True
        if self.blas_prev is None and tape_vjp.blas_threads is not None:
            self.blas_prev = tape_vjp.blas_threads(1)

    def restore_blas(self):
        if self.blas_prev is not None:
            tape_vjp.blas_threads(self.blas_prev)
            self.blas_prev = None


class TapeTrace(Trace):
    def pure(self, val):
        return val

    lift = pure

    def process_primitive(self, primitive, tracers, params):
        rule = node_rules.get(primitive)
        if rule is not None:
            vals = [t.val if type(t) is TapeTracer else canonicalize_value(t) for t in tracers]
            slots = [t.slot if type(t) is TapeTracer else -1 for t in tracers]
            vals = _concrete(self.main.global_data, vals, slots)
            return _record_generic(self.main.global_data, None, vals, slots,
                                   primitive.multiple_results,
                                   lambda v, m: rule(v, m, **params))
        vals, slots, avals = [], [], []
        for t in tracers:
            if type(t) is TapeTracer:
                vals.append(t.val)
                slots.append(t.slot)
                avals.append(t.aval)
            else:
                avals.append(intern(aval_of_value(t)))
                vals.append(canonicalize_value(t))
                slots.append(-1)
        key = None  # not cached: programs in params (a fresh jaxpr per call would pile up)
        if primitive not in partial_eval_rules and not holds_program(params):
            try:
                key = (primitive, tuple(params.items()), tuple(map(id, avals)),
                       tuple(s >= 0 for s in slots), config.enable_x64)
                hash(key)
            except TypeError:  # params that cannot be hashed
                key = None
        return _record(self.main.global_data, primitive, vals, avals, slots, params, key)

    def process_custom_jvp_call(self, prim, fun, jvp, tracers, *, symbolic_zeros):
        def apply(*xs):
            return bind_custom_jvp_call(prim, fun, jvp, xs, symbolic_zeros=symbolic_zeros)
        info = tape_custom.info_of(fun)
        if info is not None:  # functrace's own function (nn.relu): a cached VJP program
            vals, slots, avals = [], [], []
            for t in tracers:
                if type(t) is TapeTracer:
                    vals.append(t.val)
                    slots.append(t.slot)
                    avals.append(t.aval)
                else:
                    vals.append(canonicalize_value(t))
                    avals.append(intern(aval_of_value(vals[-1])))
                    slots.append(-1)
            key = (info[0], info[1], tuple(map(id, avals)), tuple(s >= 0 for s in slots),
                   config.enable_x64)
            hit = _cache.get(key)
            if hit is None:
                entry, out_tree = tape_custom.derive(apply, avals, [s >= 0 for s in slots],
                                                     info[2])
                if len(_cache) >= _CACHE_LIMIT:
                    _cache.clear()
                _cache[key] = (entry, tuple(avals), out_tree)
            else:
                entry, out_tree = hit[0], hit[2]
            if entry.__class__ is Derived:
                info[2]["out_tree"] = out_tree  # what running ``fun`` would have stored
                return _run_entry(self.main.global_data, entry, "custom_jvp_call", vals,
                                  slots, True)
            if entry is ZERO_TANGENT:
                return apply(*_concrete(self.main.global_data, vals, slots))
        return self._generic(apply, tracers, True)

    def process_custom_vjp_call(self, prim, fun, fwd, bwd, tracers, *, out_trees,
                                symbolic_zeros):
        def apply(*xs):
            return bind_custom_vjp_call(prim, fun, fwd, bwd, xs, out_trees=out_trees,
                                        symbolic_zeros=symbolic_zeros)
        return self._generic(apply, tracers, True)

    def _generic(self, apply, tracers, multiple):
        vals = [t.val if type(t) is TapeTracer else t for t in tracers]
        slots = [t.slot if type(t) is TapeTracer else -1 for t in tracers]
        vals = _concrete(self.main.global_data, vals, slots)
        return _record_generic(self.main.global_data, apply, vals, slots, multiple)


# ---------------------------------------------------------------------------
# recording

_cache: dict = {}
_CACHE_LIMIT = 8192


_NO_PARAMS: dict = {}


def _record(tape: _Tape, prim, vals, avals, slots, params, key):
    """Evaluates ``prim`` on ``vals`` and appends a node to the tape.

    ``avals`` are interned; ``key`` identifies the signature (``None``: not cacheable).
    """
    if key is None:
        entry = GENERIC
    else:
        hit = _cache.get(key)
        if hit is None:
            entry = derive(prim, params, avals, [s >= 0 for s in slots])
            if len(_cache) >= _CACHE_LIMIT:
                _cache.clear()
            # the entry keeps its avals alive: no other aval can take their ids while the
            # key (which holds ids) is in the cache
            _cache[key] = (entry, tuple(avals))
        else:
            entry = hit[0]
    if entry is ZERO_TANGENT:
        return prim.bind(*_concrete(tape, vals, slots), **params)
    if entry is GENERIC:
        return _record_generic(tape, lambda *xs: prim.bind(*xs, **params),
                               _concrete(tape, vals, slots), slots, prim.multiple_results)
    return _run_entry(tape, entry, prim.name, vals, slots, prim.multiple_results)


def _run_entry(tape: _Tape, entry, name: str, vals, slots, multiple: bool):
    """Runs a derived entry's forward program on ``vals`` and appends the node."""
    if entry.one_blas_thread and tape.blas_prev is None:
        tape.one_blas_thread()
    if entry.lazy is not None and tape.lazy:
        return _defer(tape, entry, vals, slots, multiple)
    if tape.pending:
        vals = _concrete(tape, vals, slots)
    env = entry.template.copy()
    env[:len(vals)] = vals
    run_steps(entry.fwd, env)
    if config.debug_checks:
        check_finite(name, [env[i] for i in entry.out_idx])
    trace = tape.trace
    outs = []
    out_slots = []
    for i, aval in zip(entry.out_idx, entry.out_avals, strict=True):
        if aval is None:  # no tangent: a constant to the tape
            outs.append(env[i].view(Array))
            out_slots.append(-1)
        else:
            s = tape.nslots
            tape.nslots = s + 1
            outs.append(TapeTracer(trace, env[i], aval, s))
            out_slots.append(s)
    for i in entry.drop:
        env[i] = None
    tape.nodes.append((entry, env, slots, out_slots))
    return outs if multiple else outs[0]


def _defer(tape: _Tape, entry, vals, slots, multiple: bool):
    """Appends a node whose forward waits to run with others (``tape_lazy``); its outputs
    are tracers without a value until then."""
    env = entry.template.copy()
    ins = []
    where = tape.where
    for i, v in enumerate(vals):
        if v is None:
            ins.append(where[slots[i]])
        else:
            env[i] = v
            ins.append(None)
    k = len(tape.pending)
    trace = tape.trace
    outs, out_slots, refs = [], [], []
    for j, aval in enumerate(entry.out_avals):
        s = tape.nslots
        tape.nslots = s + 1
        t = TapeTracer(trace, None, aval, s)
        outs.append(t)
        out_slots.append(s)
        refs.append(weakref.ref(t))
        where[s] = (k, j)
    tape.pending.append(Pending(entry, env, tuple(ins), refs))
    tape.nodes.append((entry, env, slots, out_slots))
    return outs if multiple else outs[0]


def _force(tape: _Tape) -> dict:
    """Runs the waiting nodes; ``{slot: value}`` of their outputs still referenced."""
    pending = tape.pending
    tape.pending, tape.where = [], {}
    return tape_lazy.force(pending) if pending else {}


def _concrete(tape: _Tape, vals, slots):
    """``vals`` with the values of waiting nodes computed."""
    if tape.pending and any(v is None for v in vals):
        forced = _force(tape)
        vals = [forced[s] if v is None else v for v, s in zip(vals, slots, strict=True)]
    return vals


def _record_generic(tape: _Tape, apply, vals, slots, multiple, linearize=None):
    mask = [s >= 0 for s in slots]
    if linearize is None:
        outs, zero, backward = linearize_node(apply, vals, mask, multiple)
    else:
        outs, zero, backward = linearize(vals, mask)
    trace = tape.trace
    res, out_slots = [], []
    for o, z in zip(outs, zero, strict=True):
        if z:
            res.append(o)
            out_slots.append(-1)
        else:
            s = tape.nslots
            tape.nslots = s + 1
            val = canonicalize_value(o)
            res.append(TapeTracer(trace, val, intern(aval_of_value(val)), s))
            out_slots.append(s)
    tape.nodes.append((None, backward, slots, out_slots))
    return res if multiple else res[0]
