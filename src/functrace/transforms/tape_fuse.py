"""Fused loops for the eager tape: a node's elementwise program compiled as ``jit`` would.

A derived node (``tape_vjp``) runs its forward and backward programs one reference impl
at a time, each a NumPy pass with a temporary. For a ReLU on a CNN's activations that is
``max`` then ``gt`` forward and a ``select`` (three bitwise passes) backward, where a
jitted step runs one loop each. When a part of a node (its forward or its backward) is
made of exact elementwise work (arithmetic, comparisons, selects: no transcendentals, no
reductions) on arrays of at least ``tape_vjp.EAGER_KERNEL_MIN_SIZE`` elements and would
take two or more passes, the tape hands it to ``eager_compile`` (the ``jit`` compiler,
set by ``compiler/call.py``): the same fused loop a jitted program runs, compiled once
per signature and cached on disk with the others. Such a loop computes what the impls
compute, bit for bit.
"""

from __future__ import annotations

from ..core.jaxpr import ClosedJaxpr, Eqn, Jaxpr, Var

# ``compile(closed_jaxpr) -> run(*arrays) -> list``, or returning None where it declines
# (a default device other than the CPU); None: no fusion
eager_compile = None

_VIEWS = frozenset(("broadcast_in_dim", "reshape", "squeeze", "expand_dims"))
# correctly rounded (or exact) in IEEE arithmetic, so a Numba loop and NumPy's ufunc give
# the same bits; transcendentals (NumPy's own SIMD exp, log, tanh...) and reductions (their
# own order of sums) stay with the impls, which keeps the tape equal to the jaxpr path.
# max/min: on a tie (signed zeros) NumPy returns the second operand and the generated
# loop (``scalar.maximum``) the first, so the fused program gets them with the operands
# swapped (a NaN on either side propagates in both), or relu(-0.0) would change sign
_SWAPPED = frozenset(("max", "min"))
_EXACT = frozenset(("add", "add_any", "sub", "mul", "div", "neg", "abs", "sign", "sqrt",
                    "select", "convert_element_type", "eq", "ne", "lt", "le", "gt", "ge",
                    "and", "or", "not", "stop_gradient", *_SWAPPED))
_PASSES = {"select": 2}  # the impl's bitwise blend: a mask conversion, then two passes


def passes(eqns, size: int):
    """NumPy passes over ``size``-element (or larger) arrays that ``eqns`` would take, or
    None when they are not all exact elementwise operations and views."""
    n, big = 0, False
    for e in eqns:
        name = e.primitive.name
        if e.primitive.multiple_results:
            return None
        if name in _VIEWS:
            big = big or any(v.aval.size >= size for v in e.outvars)
            continue
        if name not in _EXACT:
            return None
        n += _PASSES.get(name, 1)
        big = big or any(isinstance(a, Var) and a.aval.size >= size for a in e.inputs)
    return n if big else 0


def worth_fusing(eqns, size: int) -> bool:
    """Whether ``eqns`` (one part of a node, no backend kernels among them) should run as
    one compiled program: exact elementwise operations and views only, at least ``size``
    elements, two or more NumPy passes."""
    if eager_compile is None or not eqns:
        return False
    n = passes(eqns, size)
    return n is not None and n >= 2


def swapped(e):
    """``e`` as the fused program gets it (max/min with their operands swapped)."""
    return Eqn(e.primitive, e.inputs[::-1], e.params, e.outvars) \
        if e.primitive.name in _SWAPPED else e


def fused_step(eqns, needed_after, slot: dict, template: list):
    """One step running ``eqns`` as a compiled program, or None when it cannot be built.

    It reads the variables the equations read from outside (already in ``slot``) and
    writes those of their results in ``needed_after`` (to their slots if they have one,
    else to new ones), in the step format of ``tape_vjp.run_steps``."""
    ext, seen, made = [], set(), set()
    for e in eqns:
        for a in e.inputs:
            if isinstance(a, Var) and a not in made and a not in seen:
                seen.add(a)
                ext.append(a)
        made.update(e.outvars)
    outs = [v for e in eqns for v in e.outvars if v in needed_after]
    if not outs or any(a not in slot for a in ext):
        return None
    eqns = [swapped(e) for e in eqns]
    try:
        run = eager_compile(ClosedJaxpr(Jaxpr([], ext, eqns, outs), []))
    except Exception:  # noqa: BLE001 - the impls one by one, as without a compiler
        return None
    if run is None:
        return None
    for v in outs:
        if v not in slot:
            slot[v] = len(template)
            template.append(None)

    def impl(*vals, **_):
        return run(*vals)

    return (impl, tuple(slot[a] for a in ext), {}, tuple((slot[v], v.aval.dtype) for v in outs),
            True, None)
