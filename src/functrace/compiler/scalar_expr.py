"""Scalar expressions of fusible equations, shared by the backends' code generators.

A fused elementwise cluster becomes one generated loop (CPU) or kernel (CUDA);
the body of both is the same chain of scalar assignments. Each elementwise
primitive carries its own expression (``Primitive.scalar``, written in ``lax``
beside the primitive), which every backend compiles: operators, ``math``
functions and the helpers that each backend's ``scalar`` module defines (``_s``).
A backend may spell a primitive its own way: its ``functions`` table, keyed by
primitive name, overrides the primitive's expression (the CPU loops call NumPy's
functions, as the reference impls do). The few primitives whose expression depends
on dtypes or params are spelled here, with the helpers in ``HELPERS``.
"""

from __future__ import annotations

import numpy as np

from ..core.jaxpr import Literal
from ..lax.elementwise import div_p, integer_pow_p, not_p, rem_p, select_p
from ..lax.shape_ops import convert_element_type_p

# spelled here, from their dtypes or params
SPECIAL = (div_p, rem_p, not_p, select_p, integer_pow_p, convert_element_type_p)

# what every backend's ``functions`` table must spell for SPECIAL (format strings)
HELPERS = ("idiv", "irem", "fmod", "float_to_int", "float_to_uint64")


def spells(prim, functions: dict[str, str]) -> bool:
    """Whether a backend with this ``functions`` table can generate ``prim`` (a test
    checks every ``elementwise`` primitive on every backend)."""
    if prim in SPECIAL:
        return all(h in functions for h in HELPERS)
    return prim.name in functions or prim.scalar is not None


def literal(lit: Literal) -> str:
    """A literal as a typed NumPy scalar constructor (``np.float32(1.0)``)."""
    val = np.asarray(lit.val).item()
    if isinstance(val, float) and not np.isfinite(val):
        val = "np.nan" if np.isnan(val) else ("np.inf" if val > 0 else "-np.inf")
        return f"np.{lit.aval.dtype.name}({val})"
    return f"np.{lit.aval.dtype.name}({val!r})"


def scalar_expr(eqn, args: list[str], functions: dict[str, str]) -> str:
    """The expression computing ``eqn``'s output from the argument expressions ``args``."""
    prim = eqn.primitive
    dtype = eqn.outvars[0].aval.dtype
    in_dtype = eqn.inputs[0].aval.dtype
    integer = np.issubdtype(in_dtype, np.integer)
    if prim is div_p:
        return functions["idiv"].format(*args) if integer else f"({args[0]} / {args[1]})"
    if prim is rem_p:
        return functions["irem" if integer else "fmod"].format(*args)
    if prim is not_p:
        return f"(not {args[0]})" if in_dtype == np.bool_ else f"(~{args[0]})"
    if prim is select_p:  # a backend may spell it branch-free
        return functions.get("select", "({1} if {0} else {2})").format(*args)
    if prim is integer_pow_p:
        y = eqn.params["y"]
        if 0 < y <= 4:
            return "(" + " * ".join([args[0]] * y) + ")"
        return f"({args[0]} ** {y})"
    if prim is convert_element_type_p:
        if dtype == np.bool_:
            return f"({args[0]} != 0)"
        if in_dtype.kind == "f" and dtype.kind in "iu":  # saturating, NaN -> 0 (as XLA)
            if dtype == np.uint64:
                return functions["float_to_uint64"].format(args[0])
            return functions["float_to_int"].format(args[0], *int_range(dtype))
        return args[0]  # the assignment casts
    # params by name: an expression may read them (``{rounding_method:d}``)
    return functions.get(prim.name, prim.scalar).format(*args, **eqn.params)


def int_range(dtype: np.dtype) -> tuple[str, str, str, str]:
    """``(lo_f, hi_f, lo_i, hi_i)`` of an integer type (not uint64) as code: the range as
    exact powers of two (``hi_f`` exclusive) and as int64 constants."""
    info = np.iinfo(dtype)
    hi_f = float(2 ** (info.bits - (1 if info.min < 0 else 0)))
    return (f"{float(info.min)!r}", f"{hi_f!r}", f"np.int64({int(info.min)})",
            f"np.int64({int(info.max)})")


def cast(dtype: np.dtype, expr: str) -> str:
    """``expr`` converted to ``dtype`` (the generated assignment's right-hand side)."""
    if dtype == np.bool_:
        return f"bool({expr})"
    return f"np.{dtype.name}({expr})"
