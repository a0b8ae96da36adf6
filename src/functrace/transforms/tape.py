"""Eager reverse mode: a tape recorded while the NumPy impls run once.

When ``grad``/``vjp``/``value_and_grad`` are called with concrete arguments and no other
transformation is active (no ``jit``, ``vmap``, ``make_jaxpr`` or outer ``jvp``/``grad``),
building the linear jaxpr and transposing it (``api._linearize_flat`` + ``backward_pass``)
costs far more than the arithmetic. The tape takes a short path to the same numbers:

- the arguments become ``TapeTracer``s; every primitive applied to one is evaluated at
  once and appended to the tape as a *node* (its inputs' slots, its outputs' slots and the
  forward values its backward needs);
- the backward walks the nodes in reverse and accumulates cotangents slot by slot.

Each node's VJP is *derived* (``tape_vjp.py``) from the primitive's own rules, once per
signature (primitive, params, input avals, which inputs are differentiated): the JVP rule
is run on staging tracers under partial evaluation and the linear part transposed with
``backward_pass``, exactly what the jaxpr path does for the whole program. The staged
program is split into a forward part (the output and the residuals) and a backward part
(the transposed linear program), each a list of reference-impl calls run without
``bind``. The numbers are therefore those of the jaxpr path: the same impls on the same
values, with cotangents summed in the same (reverse) order. (Large convolutions and
pooling run the CPU backend's kernels instead, which agree to rounding; large exact
elementwise work runs as loops compiled by the jit's compiler, per node (``tape_fuse``) or
across the nodes that wait to run together (``tape_lazy``), with the impls' bits.)

Anything the derivation cannot stage (a rule that needs concrete values, a primitive that
holds a jaxpr such as ``cond`` or ``scan``, ``custom_vjp`` functions and ``custom_jvp``
functions other than functrace's own (``tape_custom``), params that are not hashable)
gets a per-node fallback: that one application is linearized
eagerly with the jaxpr machinery and its linear jaxpr transposed in the backward pass.
"""

from __future__ import annotations

import weakref
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..config import config
from ..core import trace as core
from ..core.array import Array
from ..core.avals import ShapedArray, aval_of_value, canonicalize_value, is_inexact
from ..core.trace import (
    Trace,
    Tracer,
    bind_custom_jvp_call,
    bind_custom_vjp_call,
    check_finite,
    get_aval,
    new_main,
)
from ..tree_util import tree_map
from . import tape_custom, tape_fuse, tape_lazy, tape_vjp
from .ad import Zero, add_tangents, tangent_aval
from .partial_eval import partial_eval_rules
from .tape_lazy import Pending
from .tape_vjp import (
    GENERIC,
    ZERO_TANGENT,
    Derived,
    add_concrete,
    derive,
    derived_backward,
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

# ``enabled`` off sends every grad/vjp down the jaxpr path (tests compare the two)
_state = {"enabled": True}


@contextmanager
def disabled():
    """Within this block ``grad``/``vjp`` use the jaxpr path (linearize + transpose)."""
    prev = _state["enabled"]
    _state["enabled"] = False
    try:
        yield
    finally:
        _state["enabled"] = prev


def usable(leaves) -> bool:
    """Whether the tape may run: it is on, nothing is being traced, the leaves are concrete."""
    if not _state["enabled"] or len(core.trace_stack) != 1 or core.dynamic_trace is not None:
        return False
    for x in leaves:
        if isinstance(x, Tracer):
            return False
    return True


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


# ---------------------------------------------------------------------------
# the backward walk

def _backward(tape: _Tape, seeds: dict, traced: bool = False) -> list:
    """Cotangent per slot, from ``seeds`` (slot -> cotangent) by a reverse walk.

    ``traced``: some transformation is active (the cotangents may be its tracers), so every
    operation goes through ``bind``.
    """
    cts: list = [None] * tape.nslots
    for s, c in seeds.items():
        cts[s] = c
    add = add_tangents if traced else add_concrete
    for entry, data, in_slots, out_slots in reversed(tape.nodes):
        out_cts = []
        live = False
        for s in out_slots:
            if s >= 0:
                c = cts[s]
                cts[s] = None
                if c is not None:
                    live = True
                out_cts.append(c)
            else:
                out_cts.append(None)
        if not live:
            continue
        if entry is None:
            in_cts = data(out_cts)
        else:
            in_cts = derived_backward(entry, data, out_cts, traced)
        for s, c in zip(in_slots, in_cts, strict=True):
            if s >= 0 and c is not None:
                prev = cts[s]
                cts[s] = c if prev is None else add(prev, c)
    return cts


# ---------------------------------------------------------------------------
# entry point used by api.vjp

class TapeLinearized:
    """What ``api.vjp`` needs of a linearization, computed by the tape."""

    __slots__ = ("primals_out", "zero_mask", "diff", "out_tangent_avals", "_tape",
                 "_in_slots", "_out_slots", "_in_avals")

    def backward(self, cts_nz) -> list:
        """One cotangent per differentiable input (``Zero`` where none reaches it), from the
        cotangents of the outputs that are not symbolically zero."""
        traced = (len(core.trace_stack) != 1 or core.dynamic_trace is not None
                  or any(isinstance(c, Tracer) for c in cts_nz))
        add = add_tangents if traced else add_concrete
        seeds: dict = {}
        it = iter(cts_nz)
        for s, z in zip(self._out_slots, self.zero_mask, strict=True):
            if not z:
                c = next(it)
                if isinstance(c, Zero):  # the aux outputs of has_aux
                    continue
                if not traced:
                    c = canonicalize_value(c)
                seeds[s] = c if s not in seeds else add(seeds[s], c)
        tape = self._tape
        if tape.one_blas:
            tape.one_blas_thread()
        try:
            cts = _backward(tape, seeds, traced)
        finally:
            tape.restore_blas()
        res = []
        for s, a in zip(self._in_slots, self._in_avals, strict=True):
            if s >= 0:
                c = cts[s]
                if c is None:
                    res.append(Zero(tangent_aval(a)))
                elif type(c) is np.ndarray and all(c is not x for x in seeds.values()):
                    res.append(c.view(Array))  # computed: an Array, as the eval trace gives
                else:
                    res.append(c)  # a tracer, or a cotangent passed through as it came
        return res


@contextmanager
def _restoring_blas(tape: _Tape):
    try:
        yield
    finally:
        tape.restore_blas()


def linearize(flat_fun, primals) -> TapeLinearized:
    """Runs ``flat_fun`` once on ``primals`` under the tape (see the module docstring)."""
    tape = _Tape()
    with new_main(TapeTrace, tape) as main, _restoring_blas(tape):
        trace = TapeTrace(main)
        tape.trace = trace
        args, diff, in_slots, in_avals = [], [], [], []
        input_of: dict[int, Any] = {}
        for p in primals:
            aval = intern(get_aval(p))
            in_avals.append(aval)
            d = is_inexact(aval.dtype)
            diff.append(d)
            if d:
                s = tape.nslots
                tape.nslots = s + 1
                args.append(TapeTracer(trace, canonicalize_value(p), aval, s))
                in_slots.append(s)
                input_of[s] = p
            else:
                args.append(p)
                in_slots.append(-1)
        outs = flat_fun(*args)
        if tape.pending:
            _force(tape)
        lin = TapeLinearized()
        lin.primals_out, lin.zero_mask, lin.out_tangent_avals, out_slots = [], [], [], []
        for o in outs:
            if type(o) is TapeTracer and o._trace.main is main:
                # an input returned as it is stays the caller's object, as on the jaxpr path
                lin.primals_out.append(input_of[o.slot] if o.slot in input_of
                                       else o.val.view(Array))
                lin.zero_mask.append(False)
                out_slots.append(o.slot)
            else:
                lin.primals_out.append(o)
                lin.zero_mask.append(True)
                out_slots.append(-1)
            lin.out_tangent_avals.append(tangent_aval(get_aval(lin.primals_out[-1])))
    tape.trace = None  # the trace's main holds the tape: no cycle left for the GC to find
    lin.diff = diff
    lin._tape = tape
    lin._in_slots = in_slots
    lin._out_slots = out_slots
    lin._in_avals = in_avals
    return lin


# ---------------------------------------------------------------------------
# entry point used by api.value_and_grad: the common case without any pytree machinery

_LEAF_TYPES = (float, np.ndarray, Array, np.float32, np.float64, np.float16)


def value_and_grad(fun, argnums, has_aux: bool, args: tuple, kwargs: dict):
    """``value_and_grad(fun, argnums, has_aux)(*args, **kwargs)`` on the tape, or ``None``.

    ``None`` (before ``fun`` runs, or after it when the output is not a float scalar) sends
    the call down the general path, which also raises the errors of unusual calls. Only
    differentiated arguments that are single float arrays or scalars take this path.
    """
    if type(argnums) is not int and type(argnums) is not tuple:
        return None
    nums = _nums_cache.get((argnums, len(args)))
    if nums is None:
        nums = _normalize_argnums(argnums, len(args))
        if nums is None:
            return None
    if not _state["enabled"] or len(core.trace_stack) != 1 or core.dynamic_trace is not None:
        return None
    for i in nums:
        x = args[i]
        if type(x) not in _LEAF_TYPES or (type(x) is not float and x.dtype.kind != "f"):
            return None
    tape = _Tape()
    try:
        return _value_and_grad(tape, fun, argnums, nums, has_aux, args, kwargs)
    finally:
        tape.restore_blas()


def _value_and_grad(tape, fun, argnums, nums, has_aux, args, kwargs):
    main = core.MainTrace(1, TapeTrace, tape)
    trace = tape.trace = TapeTrace(main)
    full = list(args)
    slots = {}
    for i in nums:
        if i not in slots:
            x = args[i]
            s = slots[i] = tape.nslots
            tape.nslots = s + 1
            full[i] = TapeTracer(trace, canonicalize_value(x), intern(get_aval(x)), s)
    core.trace_stack.append(main)
    try:
        out = fun(*full, **kwargs)
        if tape.pending:
            _force(tape)
    finally:
        core.trace_stack.pop()
        main.active = False
        tape.trace = None  # tape -> trace -> main -> tape: a cycle only the GC would free
    if has_aux:
        if type(out) not in (tuple, list) or len(out) != 2:
            return None
        out, aux = out
        inputs = {s: args[i] for i, s in slots.items()}
        aux = tree_map(lambda x: _lower(x, inputs), aux)
    if type(out) is TapeTracer and out._trace.main is main:
        aval = out.aval
        if aval.shape != () or aval.dtype.kind != "f":
            return None
        seed = np.array(1, aval.dtype)
        cts = _backward(tape, {out.slot: seed})
        ans = out.val.view(Array)
        for i, s in slots.items():
            if s == out.slot:
                ans = args[i]  # the input itself, as the general path returns it
    else:
        if isinstance(out, Tracer) or type(out) not in _LEAF_TYPES + (int,):
            return None
        aval = get_aval(out)
        if aval.shape != () or aval.dtype.kind != "f":
            return None
        cts = [None] * tape.nslots
        ans, seed = out, None
    grads = []
    for i in nums:
        c = cts[slots[i]]
        if c is None:
            a = get_aval(args[i])
            grads.append(np.zeros(a.shape, a.dtype))
        else:
            grads.append(c if c is seed else c.view(Array))
    g = grads[0] if type(argnums) is int else tuple(grads)
    return ((ans, aux), g) if has_aux else (ans, g)


_nums_cache: dict = {}


def _normalize_argnums(argnums, nargs: int):
    """``argnums`` as a tuple of indices in ``[0, nargs)``; ``None`` for anything unusual
    (the general path raises the error)."""
    if type(argnums) is int:
        argnums = (argnums,)
        single = True
    else:
        single = False
    if type(argnums) is not tuple or not argnums:
        return None
    for a in argnums:
        if type(a) is not int or not -nargs <= a < nargs:
            return None
    nums = tuple(a % nargs for a in argnums)
    if len(set(nums)) != len(nums):  # a repeated argument: the general path's semantics
        return None
    if len(_nums_cache) < 256:
        _nums_cache[((argnums[0] if single else argnums), nargs)] = nums
    return nums


def _lower(x, inputs: dict):
    """An aux output as the general path returns it: a value, or the input itself."""
    if type(x) is TapeTracer:
        return inputs[x.slot] if x.slot in inputs else x.val.view(Array)
    return x
