"""Deferred elementwise nodes on the eager tape, fused across nodes as ``jit`` fuses them.

A node fused on its own (``tape_fuse``) still writes its output for the next node to read:
a CNN layer's bias add and ReLU are two passes over the activations where a jitted step
runs one loop (``broadcast_in_dim, add, max, gt``). So a node whose forward is exact
elementwise work on a kernel-sized array (``Derived.lazy``) is not run when it is
recorded: its outputs are ``TapeTracer``s without a value, and the node waits on
``tape.pending``. The first operation that needs one of those values (a convolution, a
conversion to NumPy, the end of the recording) runs every waiting node as one program
compiled by ``tape_fuse.eager_compile``, keyed by the nodes' entries and wiring (compiled
once per signature), writing out only what is still needed: the residuals the nodes'
backward programs read and the outputs whose tracers are still alive (weak references
say which). A bias add whose only reader was the ReLU is never written. Values are the
impls' bits (exact operations only, as in ``tape_fuse``); without a compiler, or for a
single cheap node, the nodes' own programs run one after the other.
"""

from __future__ import annotations

from ..core.jaxpr import ClosedJaxpr, Eqn, Jaxpr, Var
from . import tape_fuse
from .tape_vjp import run_steps

# off: every node runs when it is recorded (tests and benchmarks compare the two)
state = {"enabled": True}


class Pending:
    """A recorded node whose forward has not run: its entry, its slot list (``env``, the
    inputs given so far), where each input comes from (None: already in ``env``; or
    ``(k, j)``: output ``j`` of the ``k``-th pending node) and a weak reference per
    output tracer."""

    __slots__ = ("entry", "env", "ins", "refs")

    def __init__(self, entry, env, ins, refs):
        self.entry = entry
        self.env = env
        self.ins = ins
        self.refs = refs


_plans: dict = {}
_PLANS_LIMIT = 512


def force(pending: list) -> dict:
    """Runs the ``pending`` nodes (in recording order); sets the value of every output
    tracer still alive and returns ``{slot: value}`` of those."""
    sig = tuple((p.entry, p.ins, tuple(j for j, r in enumerate(p.refs) if r() is not None))
                for p in pending)
    plan = _plans.get(sig)
    if plan is None:
        if len(_plans) >= _PLANS_LIMIT:
            _plans.clear()
        plan = _plans[sig] = _plan(sig)
    run, ext, outs = plan
    if run is not None:
        vals = [pending[k].env[i] if arg else pending[k].entry.template[i]
                for arg, k, i in ext]
        try:
            res = run(*vals)
        except Exception:  # noqa: BLE001 - a program that fails: the nodes one by one
            _plans[sig] = (None, None, None)
            run = None
        else:
            for (k, i), r in zip(outs, res, strict=True):
                pending[k].env[i] = r
    if run is None:
        for p in pending:
            for i, src in enumerate(p.ins):
                if src is not None:
                    q = pending[src[0]]
                    p.env[i] = q.env[q.entry.out_idx[src[1]]]
            run_steps(p.entry.fwd, p.env)
    forced = {}
    for p in pending:
        out_idx = p.entry.out_idx
        for j, r in enumerate(p.refs):
            t = r()
            if t is not None:
                t.val = forced[t.slot] = p.env[out_idx[j]]
    for p in pending:  # after every reader in the group has read
        env = p.env
        for i in p.entry.drop:
            env[i] = None
    return forced


def _plan(sig):
    """``(run, ext, outs)`` for a group: the compiled program, what it reads (``(True, k,
    i)``: slot ``i`` of node ``k``; ``(False, k, i)``: its entry's constant ``i``) and
    where its results go (``(k, i)``); ``(None, None, None)``: run the nodes one by one."""
    total = 0
    for entry, _, _ in sig:
        total += tape_fuse.passes(entry.lazy[1], 0) or 0
    if tape_fuse.eager_compile is None or total < 2:
        return None, None, None
    invars, ext, eqns, outvars, outs, subs = [], [], [], [], [], []
    for k, (entry, ins, alive) in enumerate(sig):
        in_vars, fwd_eqns, idx_var, consts, need = entry.lazy
        sub: dict = {}
        for i, (v, src) in enumerate(zip(in_vars, ins, strict=True)):
            if src is None:
                sub[v] = nv = Var(v.aval)
                invars.append(nv)
                ext.append((True, k, i))
            else:
                producer = sig[src[0]][0]
                sub[v] = subs[src[0]][producer.lazy[2][producer.out_idx[src[1]]]]
        for v, i in consts:
            sub[v] = nv = Var(v.aval)
            invars.append(nv)
            ext.append((False, k, i))
        for e in fwd_eqns:
            e = tape_fuse.swapped(e)
            new = [Var(v.aval) for v in e.outvars]
            eqns.append(Eqn(e.primitive, [sub.get(a, a) if isinstance(a, Var) else a
                                          for a in e.inputs], e.params, new))
            sub.update(zip(e.outvars, new, strict=True))
        subs.append(sub)
        wanted = [i for i in need if i >= len(in_vars) or ins[i] is not None]
        wanted += [entry.out_idx[j] for j in alive]
        for i in dict.fromkeys(wanted):
            outvars.append(sub[idx_var[i]])
            outs.append((k, i))
    if not outvars:
        return None, None, None
    try:
        run = tape_fuse.eager_compile(ClosedJaxpr(Jaxpr([], invars, eqns, outvars), []))
    except Exception:  # noqa: BLE001 - the nodes one by one, as without a compiler
        run = None
    return (run, ext, outs) if run is not None else (None, None, None)
