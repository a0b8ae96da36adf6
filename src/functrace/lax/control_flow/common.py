"""What the control-flow primitives share: tracing a user function into a closed
jaxpr whose constants become operands, type checks that name both sides, and the
runtime helpers of the reference impls."""

from __future__ import annotations

import numpy as np

from ...core.avals import ShapedArray
from ...core.jaxpr import ClosedJaxpr
from ...core.trace import get_aval, trace_to_jaxpr
from ...errors import TransformError
from ...transforms.higher_order import closure_convert
from ...tree_util import tree_flatten, tree_unflatten


def abstractify(x) -> ShapedArray:
    return get_aval(x)


def trace_fun(fun, in_tree, in_avals, who: str, store_extra=None):
    """Traces ``fun`` (pytree arguments rebuilt from ``in_tree``) at ``in_avals``.

    Returns ``(jaxpr, consts, out_tree)``: the jaxpr takes ``[*consts, *leaves]``, so what
    ``fun`` closes over (tracers of enclosing transformations included) is an operand.
    """
    store: dict = {}

    def flat(*leaves):
        out = fun(*tree_unflatten(in_tree, leaves))
        out_leaves, store["tree"] = tree_flatten(out)
        for leaf in out_leaves:
            check_leaf(leaf, f"output of {who}")
        return out_leaves

    name = getattr(fun, "__name__", who)
    closed = trace_to_jaxpr(flat, list(in_avals), transform=who, fun_name=name)
    jaxpr, consts = closure_convert(closed)
    return jaxpr, consts, store["tree"]


def check_leaf(x, where: str):
    try:
        get_aval(x)
    except Exception:  # noqa: BLE001 - any value without an aval is the user's error
        raise TransformError(f"{where}: expected arrays or scalars as pytree leaves, got "
                             f"{type(x).__name__} ({x!r:.60})") from None


def types_str(avals) -> str:
    return "(" + ", ".join(a.str_short() for a in avals) + ")"


def same_types(a, b) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and x.dtype == y.dtype
                                    for x, y in zip(a, b, strict=True))


def check_carry(who: str, in_tree, in_avals, out_tree, out_avals, what: str = "carry"):
    """The body's output ``what`` must have the structure and types of its input."""
    if in_tree != out_tree:
        raise TransformError(
            f"{who}: the body function's {what} output must have the same pytree structure "
            f"as its {what} input; input is {in_tree}, output is {out_tree}.")
    if not same_types(in_avals, out_avals):
        diffs = [f"leaf {i}: input {a.str_short()}, output {b.str_short()}"
                 for i, (a, b) in enumerate(zip(in_avals, out_avals, strict=True))
                 if a.shape != b.shape or a.dtype != b.dtype]
        raise TransformError(
            f"{who}: the body function's {what} output must have the same types as its {what} "
            f"input: {'; '.join(diffs)}. Cast the initial value (e.g. 0.0 instead of 0, or "
            ".astype(...)) so that the types agree.")


def loop_avals(leaves) -> list[ShapedArray]:
    """Avals of loop-carried values: weak Python scalars become their canonical dtype."""
    return [abstractify(x).strip_weak_type() for x in leaves]


def jaxpr_in_avals(closed: ClosedJaxpr) -> list[ShapedArray]:
    return closed.in_avals


def check_operands(who: str, closed: ClosedJaxpr, avals, offset: int = 0):
    """Typechecks the operands of a bound primitive against its jaxpr's inputs."""
    want = closed.in_avals[offset:offset + len(avals)]
    if not same_types(want, avals):
        raise TransformError(f"{who}: operand types {types_str(avals)} do not match the "
                             f"jaxpr inputs {types_str(want)}")


def stack(rows, aval: ShapedArray, length: int) -> np.ndarray:
    out = np.empty((length, *aval.shape), aval.dtype)
    for i, r in enumerate(rows):
        out[i] = r
    return out


def carry_fixpoint(carry: list, carry_out) -> list:
    """The least flags of a loop's carry (nonzero tangent, batched, unknown) that one
    trip through the body keeps: ``carry_out(carry)`` gives the flags of the body's carry
    outputs, and a carry is flagged if its input or its output is. Flags only turn on,
    so ``len(carry) + 1`` trips suffice."""
    for _ in range(len(carry) + 1):
        new = [a or b for a, b in zip(carry, carry_out(carry), strict=True)]
        if new == carry:
            break
        carry = new
    return carry
