"""Eager reverse mode: a tape recorded while the NumPy impls run once.

When ``grad``/``vjp``/``value_and_grad`` are called with concrete arguments and no other
transformation is active (no ``jit``, ``vmap``, ``make_jaxpr`` or outer ``jvp``/``grad``),
building the linear jaxpr and transposing it (``api._linearize_flat`` + ``backward_pass``)
costs far more than the arithmetic. The tape takes a short path to the same numbers:

- the arguments become ``TapeTracer``s; every primitive applied to one is evaluated at
  once and appended to the tape as a *node* (its inputs' slots, its outputs' slots and the
  forward values its backward needs);
- the backward walks the nodes in reverse and accumulates cotangents slot by slot.

This module holds the entry points (``linearize`` for ``api.vjp``, ``value_and_grad``)
and the backward walk; recording (the tracers, the trace, the nodes) is ``tape_record``.

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

from contextlib import contextmanager
from typing import Any

import numpy as np

from ..core import trace as core
from ..core.array import Array
from ..core.avals import canonicalize_value, is_inexact
from ..core.trace import (
    Tracer,
    get_aval,
    new_main,
)
from ..tree_util import tree_map
from .ad import Zero, add_tangents, tangent_aval
from .tape_record import (  # noqa: F401 - node_rules, fast_operators: registered by others
    TapeTrace,
    TapeTracer,
    _force,
    _Tape,
    fast_operators,
    node_rules,
)
from .tape_vjp import (
    add_concrete,
    derived_backward,
    intern,
)

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
