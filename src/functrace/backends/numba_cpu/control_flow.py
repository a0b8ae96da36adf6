"""CPU lowerings of ``cond``, ``while`` and ``scan``.

A ``scan``/``while`` whose steps all have Numba entry points is compiled into one Numba
function (``native_loop.py``). Otherwise, and for ``cond``, the held jaxprs are compiled
with this backend (``compiler.nested``) and called from a Python loop; the reason is
part of the program's text (``jit(f).lower(...).as_text()``)."""

from __future__ import annotations

import numpy as np

from ...compiler.nested import compile_program
from ...compiler.registry import get_backend
from ...config import config
from ...lax.control_flow import cond_p, scan_p, while_p
from ...transforms.checkpoint import checkpoint_p
from ...transforms.custom import custom_jvp_call_p, custom_vjp_call_p
from .native_loop import Unsupported, lower_native
from .table import lowerings


def _program(closed):
    return compile_program(closed, get_backend("cpu"))


def _lower_cond(eqn):
    branches = [_program(b) for b in eqn.params["branches"]]
    last = len(branches) - 1

    def run(index, *ops):
        k = int(index)
        return branches[0 if k < 0 else (last if k > last else k)](*ops)

    return run


def _native_or_python(python_loop):
    """The lowering of a loop: native when it can be, else ``python_loop``'s; either way
    the kernel's ``source`` says which (``executor.lower_step`` shows it in the text)."""
    def lower(eqn):
        name = eqn.primitive.name
        if not config.cpu_native_loops:
            reason = "config.cpu_native_loops is off"
        else:
            try:
                run, source = lower_native(eqn, fallback=lambda: python_loop(eqn))
            except Unsupported as why:
                reason = str(why)
            else:
                run.source = source
                return run
        run = python_loop(eqn)
        run.source = (f"# {name}: a Python-orchestrated loop (its body is a compiled program "
                      f"called once per iteration), not a native loop: {reason}\n")
        return run
    return lower


def _lower_while(eqn):
    p = eqn.params
    cond, body = _program(p["cond_jaxpr"]), _program(p["body_jaxpr"])
    nc, nb = p["cond_nconsts"], p["body_nconsts"]

    def run(*vals):
        cc, bc, carry = vals[:nc], vals[nc:nc + nb], list(vals[nc + nb:])
        while bool(cond(*cc, *carry)[0]):
            carry = body(*bc, *carry)
        return carry

    return run


def _lower_scan(eqn):
    p = eqn.params
    body = _program(p["jaxpr"])
    nc, ncarry, length, reverse = p["num_consts"], p["num_carry"], p["length"], p["reverse"]
    y_avals = [a for a in p["jaxpr"].out_avals[ncarry:]]
    order = range(length - 1, -1, -1) if reverse else range(length)

    def run(*vals):
        consts, carry, xs = vals[:nc], list(vals[nc:nc + ncarry]), vals[nc + ncarry:]
        ys = [np.empty((length, *a.shape), a.dtype) for a in y_avals]
        for i in order:
            outs = body(*consts, *carry, *[x[i] for x in xs])
            carry = outs[:ncarry]
            for y, o in zip(ys, outs[ncarry:], strict=True):
                y[i] = o
        return [np.asarray(c) for c in carry] + ys

    return run


lowerings[cond_p] = _lower_cond
lowerings[while_p] = _native_or_python(_lower_while)
lowerings[scan_p] = _native_or_python(_lower_scan)


def _lower_call(eqn):
    # a checkpoint runs as a program of its own, so that jit's CSE cannot merge the
    # recomputation into the forward pass (JAX's prevent_cse)
    return _program(eqn.params["jaxpr"])


lowerings[checkpoint_p] = _lower_call


def _lower_custom_call(eqn):
    # normally inlined by jit (compiler.nested.inline_calls); kept for completeness
    return _program(eqn.params["call_jaxpr"])


lowerings[custom_jvp_call_p] = _lower_custom_call
lowerings[custom_vjp_call_p] = _lower_custom_call
