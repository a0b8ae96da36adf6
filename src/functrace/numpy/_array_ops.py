"""Arithmetic operators of concrete ``Array``s with JAX's dtype rules, at NumPy's speed.

``Array`` is an ``np.ndarray``, so without this its ``+`` would follow NumPy's
promotion: ``fnp.arange(3) / 2`` would be float64 and ``int32 + np.int64(1)`` int64,
where JAX gives float32 and int32 (x64 off). Routing every operator through
``functrace.numpy`` (as tracers are) costs 15-40 us an operation; instead the result
dtype is looked up once per (dtype, operand kind) with JAX's ``result_type`` and the
NumPy ufunc runs with ``dtype=`` that type. Anything unusual (tracers, lists,
``numpy_dtype_promotion('strict')``, rank promotion checks, ``debug_nans``, a value
NumPy refuses to cast, a staging trace: ``jit`` records an operation on constants as an
equation, as JAX does) takes the ``functrace.numpy`` path, which is exact; so do ``//``
and ``%`` always (JAX's divmod conventions at the edges).

One case stays NumPy's: a NumPy scalar on the left (``np.float64(2) * x``) runs
NumPy's scalar operator, which never defers to an ndarray subclass; the float64
result becomes float32 again at the next functrace operation.

In-place operators (``x += 1``) return a new array and leave ``x``'s buffer alone, as
JAX arrays are immutable. Comparisons compare in the promoted dtype (a bool result).
Unary operators and methods (``x.sum()``) go through ``functrace.numpy``
(``core/array.py``).
"""

from __future__ import annotations

import numpy as np

from ..config import config
from ..core import trace as _trace
from ..core.array import Array, as_base
from ..core.avals import ShapedArray, canonicalize_dtype, result_type
from ..core.trace import impl_rules, primitives
from ._promote import inexact_dtype

_PY_SCALARS = {bool: np.dtype(bool), int: np.dtype(np.int64), float: np.dtype(np.float64),
               complex: np.dtype(np.complex128)}
_cache: dict = {}
_BOOL = np.dtype(bool)


def _result_dtype(dtype: np.dtype, other):
    """JAX's result dtype of ``array(dtype) op other``, or None when ``other`` is not a
    plain array or scalar."""
    t = type(other)
    if t in _PY_SCALARS:
        key = (dtype, t, config.enable_x64)
        weak = True
    elif t is Array or t is np.ndarray or isinstance(other, np.generic):
        key = (dtype, other.dtype, config.enable_x64)
        weak = False
    else:
        return None
    hit = _cache.get(key)
    if hit is None:
        odt = _PY_SCALARS[t] if weak else other.dtype
        avals = [ShapedArray((), canonicalize_dtype(dtype)),
                 ShapedArray((), canonicalize_dtype(odt), weak)]
        hit = _cache[key] = result_type(*avals)[0]
    return hit


def _binary(ufunc, name: str, slow_name: str, reflected: bool = False,
            inexact: bool = False, float_only: bool = False, compare: bool = False):
    def op(self, other):
        slow = _slow.get(slow_name)
        dt = _result_dtype(self.dtype, other)
        if (dt is None or config.debug_checks or config.numpy_dtype_promotion != "standard"
                or config.numpy_rank_promotion != "allow" or _trace.dynamic_trace is not None
                or (float_only and dt.kind not in "fc")):
            return slow(self, other)
        if inexact and dt.kind in "biu":
            dt = inexact_dtype(dt)
        a = self.view(np.ndarray)
        b = other.view(np.ndarray) if type(other) is Array else other
        try:
            if compare:  # computed in the promoted dtype, as JAX; the result is bool
                sig = (dt, dt, _BOOL)
                out = ufunc(b, a, signature=sig) if reflected else ufunc(a, b, signature=sig)
            else:
                out = ufunc(b, a, dtype=dt) if reflected else ufunc(a, b, dtype=dt)
        except (TypeError, ValueError, OverflowError):  # e.g. a Python int out of range
            return slow(self, other)
        return out.view(Array) if type(out) is np.ndarray else np.asarray(out).view(Array)

    op.__name__ = name
    return op


_slow: dict = {}
_COMPARISONS = {"lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
                "eq": np.equal, "ne": np.not_equal}


def _slow_only(name: str):
    def op(self, other):
        return _slow[name](self, other)

    op.__name__ = name
    return op
_OPS = {  # name: (ufunc, true division, only when the result is inexact)
    "add": (np.add, False, False), "sub": (np.subtract, False, False),
    "mul": (np.multiply, False, False), "truediv": (np.true_divide, True, False),
    "matmul": (np.matmul, False, False), "and": (np.bitwise_and, False, False),
    "or": (np.bitwise_or, False, False), "xor": (np.bitwise_xor, False, False),
    # integer powers keep JAX's own edge cases (negative exponents): functrace.numpy
    # computes those
    "pow": (np.power, False, True),
}


def install(methods: dict) -> None:
    """Puts the operators on ``Array``; ``methods`` holds functrace.numpy's versions (the
    exact path, also used for tracers)."""
    _slow.update(methods)
    for name in ("floordiv", "mod"):  # JAX's divmod conventions: functrace.numpy's always
        for fmt in ("__{}__", "__r{}__"):
            setattr(Array, fmt.format(name), _slow_only(fmt.format(name)))
        setattr(Array, f"__i{name}__", _slow_only(f"__{name}__"))
    for name, ufunc in _COMPARISONS.items():  # x < y is (y > x): no reflected forms
        setattr(Array, f"__{name}__", _binary(ufunc, f"__{name}__", f"__{name}__",
                                               compare=True))
    for name, (ufunc, inexact, float_only) in _OPS.items():
        fwd = _binary(ufunc, f"__{name}__", f"__{name}__", False, inexact, float_only)
        rev = _binary(ufunc, f"__r{name}__", f"__r{name}__", True, inexact, float_only)
        setattr(Array, f"__{name}__", fwd)
        setattr(Array, f"__r{name}__", rev)
        setattr(Array, f"__i{name}__", fwd)  # x += y rebinds x to a new array, as in JAX


# ---------------------------------------------------------------------------
# functrace.numpy's elementwise functions on concrete values: the same shortcut

# fnp name: (NumPy ufunc, the lax primitive whose impl it must be, compares)
_EAGER_BINARY = {
    "add": (np.add, "add", False), "subtract": (np.subtract, "sub", False),
    "multiply": (np.multiply, "mul", False), "maximum": (np.maximum, "max", False),
    "minimum": (np.minimum, "min", False), "equal": (np.equal, "eq", True),
    "not_equal": (np.not_equal, "ne", True), "less": (np.less, "lt", True),
    "less_equal": (np.less_equal, "le", True), "greater": (np.greater, "gt", True),
    "greater_equal": (np.greater_equal, "ge", True),
}
_EAGER_UNARY = {name: (getattr(np, ufunc), prim) for name, ufunc, prim in (
    ("exp", "exp", "exp"), ("log", "log", "log"), ("log1p", "log1p", "log1p"),
    ("expm1", "expm1", "expm1"), ("sqrt", "sqrt", "sqrt"), ("tanh", "tanh", "tanh"),
    ("sin", "sin", "sin"), ("cos", "cos", "cos"), ("tan", "tan", "tan"),
    ("sinh", "sinh", "sinh"), ("cosh", "cosh", "cosh"), ("arctanh", "arctanh", "atanh"),
    ("exp2", "exp2", "exp2"))}


def _impl_is(prim_name: str, ufunc) -> bool:
    """Whether the primitive's reference impl is exactly ``ufunc`` (then the shortcut
    computes what the primitive would, bit for bit)."""
    prim = next((p for p in primitives() if p.name == prim_name), None)
    return prim is not None and impl_rules.get(prim) is ufunc


def _standard() -> bool:
    """No flag asks for the general path, and nothing is being staged: under ``jit`` or
    ``make_jaxpr`` an operation on constants is an equation of the program, as in JAX,
    not a value computed while tracing."""
    return (not config.debug_checks and config.numpy_dtype_promotion == "standard"
            and config.numpy_rank_promotion == "allow" and _trace.dynamic_trace is None)


def _wrap(out):
    return out.view(Array) if type(out) is np.ndarray else np.asarray(out).view(Array)


def eager_binary(name: str, inexact: bool):
    """A shortcut for ``functrace.numpy.<name>(x1, x2)`` on concrete operands, or None:
    it returns the result, or None when the operands need the general path."""
    entry = _EAGER_BINARY.get(name)
    if entry is None or not _impl_is(entry[1], entry[0]):
        return None
    ufunc, _, compare = entry

    def fast(x1, x2):
        t1 = type(x1)
        if t1 in _PY_SCALARS or not (t1 is Array or t1 is np.ndarray
                                     or isinstance(x1, np.generic)) or not _standard():
            return None  # a Python scalar first: its weak type needs the general path
        dt = _result_dtype(x1.dtype, x2)
        if dt is None:
            return None
        if inexact and dt.kind in "biu":
            dt = inexact_dtype(dt)
        try:
            if compare:
                return _wrap(ufunc(as_base(x1), as_base(x2), signature=(dt, dt, _BOOL)))
            return _wrap(ufunc(as_base(x1), as_base(x2), dtype=dt))
        except (TypeError, ValueError, OverflowError):
            return None

    return fast


def eager_unary(name: str):
    """A shortcut for an inexact unary ``functrace.numpy.<name>(x)`` on a concrete
    array, or None."""
    entry = _EAGER_UNARY.get(name)
    if entry is None or not _impl_is(entry[1], entry[0]):
        return None
    ufunc = entry[0]

    def fast(x):
        t = type(x)
        if not (t is Array or t is np.ndarray) or not _standard():
            return None
        dt = canonicalize_dtype(x.dtype)
        if dt.kind not in "fc":
            if dt.kind not in "biu":
                return None
            dt = inexact_dtype(dt)  # JAX: ints of <= 32 bits -> float32, int64 -> float64
        try:
            return _wrap(ufunc(as_base(x), dtype=dt))
        except (TypeError, ValueError):
            return None

    return fast
