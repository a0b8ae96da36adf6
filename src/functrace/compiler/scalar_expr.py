"""Scalar expressions of fusible equations, shared by the backends' code generators.

A fused elementwise cluster becomes one generated loop (CPU) or kernel (CUDA);
the body of both is the same chain of scalar assignments. What differs between
backends is only the spelling of the math functions (``np.exp`` in a Numba CPU
loop, ``math.exp`` in a CUDA kernel) and of a few helpers (NaN-propagating
``maximum``, C-style integer division). Each backend passes its own
``functions`` table of format strings; the equation-to-expression logic lives
here once.
"""

from __future__ import annotations

import numpy as np

from ..core.jaxpr import Literal

# operators spelled the same in every backend
INFIX = {"add": "({0} + {1})", "add_any": "({0} + {1})", "sub": "({0} - {1})",
         "mul": "({0} * {1})", "eq": "({0} == {1})", "ne": "({0} != {1})",
         "lt": "({0} < {1})", "le": "({0} <= {1})", "gt": "({0} > {1})",
         "ge": "({0} >= {1})", "pow": "({0} ** {1})", "and": "({0} & {1})",
         "or": "({0} | {1})", "xor": "({0} ^ {1})", "neg": "(-{0})", "abs": "abs({0})",
         "stop_gradient": "{0}"}

# what a backend's ``functions`` table must spell (format strings of {0}, {1})
FUNCTION_NAMES = ("max", "min", "sign", "floor", "ceil", "exp", "log", "log1p", "expm1", "sqrt",
                  "rsqrt", "tanh", "logistic", "sin", "cos", "erf", "is_finite", "idiv", "irem",
                  "fmod")


# spelled by scalar_expr itself, depending on dtypes or params
SPECIAL = ("div", "rem", "not", "select", "integer_pow", "convert_element_type")


def spells(name: str, functions: dict[str, str]) -> bool:
    """Whether a backend with this ``functions`` table can generate primitive ``name``
    (a test checks every ``elementwise`` primitive on every backend)."""
    return name in INFIX or name in SPECIAL or name in functions


def literal(lit: Literal) -> str:
    """A literal as a typed NumPy scalar constructor (``np.float32(1.0)``)."""
    val = np.asarray(lit.val).item()
    if isinstance(val, float) and not np.isfinite(val):
        val = "np.nan" if np.isnan(val) else ("np.inf" if val > 0 else "-np.inf")
        return f"np.{lit.aval.dtype.name}({val})"
    return f"np.{lit.aval.dtype.name}({val!r})"


def scalar_expr(eqn, args: list[str], functions: dict[str, str]) -> str:
    """The expression computing ``eqn``'s output from the argument expressions ``args``."""
    name = eqn.primitive.name
    dtype = eqn.outvars[0].aval.dtype
    in_dtype = eqn.inputs[0].aval.dtype
    integer = np.issubdtype(in_dtype, np.integer)
    if name == "div":
        return functions["idiv"].format(*args) if integer else f"({args[0]} / {args[1]})"
    if name == "rem":
        return functions["irem" if integer else "fmod"].format(*args)
    if name == "not":
        return f"(not {args[0]})" if in_dtype == np.bool_ else f"(~{args[0]})"
    if name == "select":  # a backend may spell it branch-free
        return functions.get("select", "({1} if {0} else {2})").format(*args)
    if name == "integer_pow":
        y = eqn.params["y"]
        if 0 < y <= 4:
            return "(" + " * ".join([args[0]] * y) + ")"
        return f"({args[0]} ** {y})"
    if name == "convert_element_type":
        if dtype == np.bool_:
            return f"({args[0]} != 0)"
        return args[0]  # the assignment casts
    if name in INFIX:
        return INFIX[name].format(*args)
    return functions[name].format(*args)


def cast(dtype: np.dtype, expr: str) -> str:
    """``expr`` converted to ``dtype`` (the generated assignment's right-hand side)."""
    if dtype == np.bool_:
        return f"bool({expr})"
    return f"np.{dtype.name}({expr})"
