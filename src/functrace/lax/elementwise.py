"""Elementwise primitives: arithmetic, transcendental functions, comparisons,
``select`` and ``stop_gradient``.

Binary operands must have the same dtype and the same shape, or one of them is rank 0,
as in ``jax.lax``. A Python scalar has its default dtype (int32, float32, bool) when the
user calls an op, as in JAX 0.10; inside functrace it adopts the other operand's dtype.
``functrace.numpy`` adds NumPy broadcasting and type promotion on top.
"""

from __future__ import annotations

import builtins
import math
import operator
import os
import sys

import numpy as np

from ..core.avals import ShapedArray, dtype_kind, is_inexact, is_python_scalar
from ..core.trace import Primitive, Tracer, abstract_eval_rules, get_aval, impl_rules
from ..errors import DTypeError, ShapeError, no_sharding
from ..transforms.ad import (
    Zero,
    defjvp,
    defjvp2,
    defjvp_zero,
    deflinear,
    is_undefined_primal,
    jvp_rules,
    tangent_aval,
    transpose_rules,
)
from ..transforms.batching import defbroadcasting, defvectorized
from ..tree_util import tree_map
from .shape_ops import broadcast_in_dim, convert_element_type, reduce_sum

# bool < int < float < complex: a weak scalar may only adopt a dtype of its kind or higher
_KIND_RANK = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


__all__ = [
    "abs", "abs_p", "add", "add_p", "and_p", "bitwise_and", "bitwise_not", "bitwise_or",
    "bitwise_xor", "ceil", "ceil_p", "complex", "complex_p", "conj", "conj_p", "cos", "cos_p",
    "div", "div_p", "eq", "eq_p", "erf", "erf_p", "exp", "exp_p", "expm1", "expm1_p", "floor",
    "floor_p", "ge", "ge_p", "gt", "gt_p", "imag", "imag_p", "integer_pow", "integer_pow_p",
    "is_finite", "is_finite_p", "le", "le_p", "log", "log1p", "log1p_p", "log_p", "logistic",
    "logistic_p", "lt", "lt_p", "max", "max_p", "min", "min_p", "mul", "mul_p", "ne", "ne_p",
    "neg", "neg_p", "not_p", "or_p", "pow", "pow_p", "real", "real_p", "rem", "rem_p", "rsqrt",
    "rsqrt_p", "select", "select_p", "sign", "sign_p", "sin", "sin_p", "sqrt", "sqrt_p",
    "stop_gradient", "stop_gradient_p", "sub", "sub_p", "tanh", "tanh_p", "xor_p",
]


def _as_operand(x, like_dtype, op: str):
    """Python scalars become arrays of the other operand's dtype (they are weakly typed)."""
    if not is_python_scalar(x):
        return x
    like_dtype = np.dtype(like_dtype)
    # NOTE: without this check lax.add(int32_array, 2.5) would silently compute with 2
    if _KIND_RANK[np.asarray(x).dtype.kind] > _KIND_RANK.get(dtype_kind(like_dtype), 3):
        raise DTypeError(
            f"lax.{op}: the Python scalar {x!r} cannot take the dtype {like_dtype.name} of the "
            f"other operand without losing its value; cast the array first "
            f"(lax.convert_element_type) or use functrace.numpy, which promotes types.")
    try:
        arr = np.asarray(x, like_dtype)
    except OverflowError:
        raise DTypeError(f"lax.{op}: the Python scalar {x!r} is out of range for "
                         f"{like_dtype.name}; cast the array to a wider dtype first.") from None
    # a scalar that already has the dtype stays weakly typed: weak op weak is weak
    return x if get_aval(x).dtype == like_dtype else arr


def _match_operands(op: str, *args):
    strong = [get_aval(a).dtype for a in args if not is_python_scalar(a)]
    if not strong:
        return args
    for a in args:
        if is_python_scalar(a) and get_aval(a).dtype != strong[0] and _called_by_user(2):
            # JAX 0.10: a Python scalar is an array of its default dtype (int32, float32,
            # complex64, bool; 64-bit with x64) and lax ops take no promotion, so
            # lax.add(f32_array, 2) raises while lax.add(f32_array, 2.0) works
            raise DTypeError(
                f"lax.{op} requires arguments to have the same dtypes, got "
                f"{', '.join(get_aval(b).dtype.name for b in args)} (a Python scalar has its "
                f"default dtype, as in JAX). Pass a scalar of the array's kind (2.0, not 2), "
                f"cast with lax.convert_element_type, or use functrace.numpy, which promotes.")
    return tuple(_as_operand(a, strong[0], op) for a in args)


_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_THIN_WRAPPERS: set = set()  # code of public functions that only forward (mul, pow)


def _called_by_user(depth: int) -> bool:
    """Whether the lax function ``depth`` frames above this function's caller (past thin
    wrappers) was called from outside functrace: its caller's frame decides. Only user
    calls get JAX's strict rules (Python scalars, booleans): functrace's own code
    (derivative rules, random, numpy) relies on a scalar adopting the other operand's
    dtype (``mul(g, 0.5)`` for a float16 ``g``)."""
    frame = sys._getframe(depth + 1)
    while frame is not None and frame.f_code in _THIN_WRAPPERS:
        frame = frame.f_back
    return frame is None or not frame.f_code.co_filename.startswith(_PKG_DIR + os.sep)


def _expand_unit_dims(*args):
    """Operands of equal rank whose shapes differ only where one has size 1 are broadcast
    to the common shape first, as JAX's lax binary ops accept (``(1, 3) + (2, 1)``).
    Anything else is left for the shape rule to judge."""
    shapes = [get_aval(a).shape for a in args]
    ndims = {len(s) for s in shapes}
    if len(ndims) != 1 or len(set(shapes)) == 1 or not shapes[0]:
        return args
    target = []
    for dims in zip(*shapes, strict=True):
        sizes = {d for d in dims if d != 1}
        if len(sizes) > 1:
            return args
        target.append(sizes.pop() if sizes else 1)
    target = tuple(target)
    every = tuple(range(len(target)))
    return tuple(a if get_aval(a).shape == target else broadcast_in_dim(a, target, every)
                 for a in args)


# operand kinds a primitive accepts: (predicate on the dtype, description for errors)
_KINDS = {
    "any": (lambda d: True, "any"),
    "number": (lambda d: d != np.bool_, "a numeric (non-boolean)"),
    "float": (is_inexact, "a floating-point"),
    "integral": (lambda d: d == np.bool_ or np.issubdtype(d, np.integer),
                 "a boolean or integer"),
    # JAX's abs: floating, complex or signed integer (not bool or unsigned)
    "signed": (lambda d: is_inexact(d) or np.issubdtype(d, np.signedinteger),
               "a signed (floating, complex or signed integer)"),
    "real_float": (lambda d: is_inexact(d) and np.dtype(d).kind != "c",
                   "a real floating-point"),
}


def _check_kind(op: str, kinds: str, *avals: ShapedArray):
    ok, what = _KINDS[kinds]
    for a in avals:
        if not ok(a.dtype):
            raise DTypeError(f"lax.{op} requires {what} operand, got {a.str_short()}; cast it "
                             "first with lax.convert_element_type.")


def _binary_abstract(op: str, out_dtype=None, kinds: str = "any"):
    def rule(x: ShapedArray, y: ShapedArray) -> ShapedArray:
        if x.dtype != y.dtype:
            raise DTypeError(
                f"lax.{op} requires arguments to have the same dtype, got {x.str_short()} and "
                f"{y.str_short()}. Cast one with lax.convert_element_type, or use "
                f"functrace.numpy, which promotes types.")
        if x.shape != y.shape and x.shape and y.shape:
            raise ShapeError(
                f"lax.{op} got incompatible shapes {x.shape} and {y.shape}; lax needs equal "
                f"shapes (or a rank-0 operand). functrace.numpy broadcasts like NumPy.")
        _check_kind(op, kinds, x)
        shape = x.shape or y.shape
        return ShapedArray(shape, out_dtype or x.dtype, x.weak_type and y.weak_type)
    return rule


def _unary_abstract(op: str, kinds: str):
    def rule(x: ShapedArray) -> ShapedArray:
        _check_kind(op, kinds, x)
        return ShapedArray(x.shape, x.dtype, x.weak_type)
    return rule


def _unbroadcast(ct, aval: ShapedArray):
    """Sums a cotangent down to a rank-0 operand that was broadcast."""
    if get_aval(ct).shape == aval.shape:
        return ct
    return reduce_sum(ct, tuple(range(get_aval(ct).ndim)))


def _bcast(t, shape):
    if get_aval(t).shape == tuple(shape):
        return t
    return broadcast_in_dim(t, shape, ())


def _out_shape(*xs):
    return builtins.max((get_aval(x).shape for x in xs), key=len)


def _make_unary(name: str, impl, kinds: str = "float", scalar: str | None = None,
                accuracy: bool = False):
    prim = Primitive(name, elementwise=True, scalar=scalar)
    impl_rules[prim] = impl
    abstract_eval_rules[prim] = _unary_abstract(name, kinds)
    defvectorized(prim)

    if accuracy:  # JAX's transcendental functions take accuracy= (None only here)
        def fn(x, *, accuracy=None):
            if accuracy is not None:
                no_accuracy(name, accuracy)
            return prim.bind(x)
    else:
        def fn(x):
            return prim.bind(x)

    fn.__name__ = name
    fn.__doc__ = f"Elementwise ``{name}`` (``lax.{name}``)."
    return prim, fn


def no_accuracy(name: str, accuracy) -> None:
    """Raises for ``accuracy=`` other than None: functrace's kernels have one accuracy
    (NumPy's / the C library's)."""
    no_sharding(f"lax.{name}", accuracy=accuracy)


def _make_binary(name: str, impl, out_dtype=None, kinds: str = "any",
                 scalar: str | None = None):
    prim = Primitive(name, elementwise=True, scalar=scalar)
    impl_rules[prim] = impl
    abstract_eval_rules[prim] = _binary_abstract(name, out_dtype, kinds)
    defbroadcasting(prim)

    def fn(x, y):
        if name in _NO_BOOL_FROM_USER and any(
                get_aval(v).dtype == np.bool_ for v in (x, y)) and _called_by_user(1):
            raise DTypeError(f"lax.{name} does not accept boolean operands (as in JAX); use "
                             f"lax.bitwise_{'or' if name == 'add' else 'and'} for logic.")
        x, y = _expand_unit_dims(*_match_operands(name, x, y))
        return prim.bind(x, y)

    fn.__name__ = name
    fn.__doc__ = (f"Elementwise ``{name}`` (``lax.{name}``); shapes equal, or one rank 0, or "
                  "equal ranks whose differing dims are 1 in one operand (broadcast).")
    return prim, fn


# ---------------------------------------------------------------------------
# arithmetic
#
# ``scalar`` is what a fused loop computes per element (Primitive's docstring); ``_s`` is
# the backend's helper module (backends/*/scalar.py): NumPy's NaN propagation for max/min.
# div, rem, not, integer_pow, select and convert_element_type are spelled per dtype or
# param by compiler/scalar_expr.py.

# JAX rejects boolean add/mul; functrace.numpy uses them as logical or/and, so only calls
# from outside functrace are refused (_called_by_user)
_NO_BOOL_FROM_USER = ("add", "mul")
add_p, add = _make_binary("add", np.add, scalar="({0} + {1})")
# sub, neg and sign of booleans have no NumPy meaning, so they are rejected at trace time
sub_p, sub = _make_binary("sub", np.subtract, kinds="number", scalar="({0} - {1})")
mul_p, _mul = _make_binary("mul", np.multiply, scalar="({0} * {1})")


def mul(x, y, *, out_dtype=None):
    """Elementwise ``x * y`` (``lax.mul``); with ``out_dtype`` both operands are cast to
    it first, so the product is computed and returned in that dtype.

    Example:
        >>> mul(np.int8(100), np.int8(3), out_dtype=np.int32)
        array(300, dtype=int32)
    """
    if out_dtype is not None:
        x, y = convert_element_type(x, out_dtype), convert_element_type(y, out_dtype)
    return _mul(x, y)


def _div_impl(x, y):
    # x is a Python scalar where a compiled program inlines a weakly typed literal
    if np.issubdtype(np.result_type(x), np.integer):
        # C-style truncation, as lax.div. Integer arithmetic only: going through float64
        # (trunc(x / y)) is wrong for int64 values above 2**53.
        q = np.floor_divide(x, y)
        return q + ((np.remainder(x, y) != 0) & ((x < 0) != (y < 0))).astype(x.dtype)
    return np.true_divide(x, y)


div_p, div = _make_binary("div", _div_impl)
rem_p, rem = _make_binary("rem", np.fmod)
pow_p, _pow_same_dtype = _make_binary("pow", np.power, scalar="({0} ** {1})")


def pow(x, y):  # noqa: A001 - JAX's name
    """Elementwise ``x ** y`` (``lax.pow``); as in JAX, an integer exponent may go with a
    floating or complex base (it is converted to the base's dtype).

    Example:
        >>> pow(np.array([2., 3.], np.float32), np.array([3, -1], np.int32))
        array([8.        , 0.33333334], dtype=float32)
    """
    xd, yd = get_aval(x).dtype, get_aval(y).dtype
    if xd.kind in "fc" and yd.kind in "iu":
        y = float(y) if is_python_scalar(y) else convert_element_type(y, xd)
    return _pow_same_dtype(x, y)


_THIN_WRAPPERS.update((mul.__code__, pow.__code__))
max_p, max = _make_binary("max", np.maximum, scalar="_s.maximum({0}, {1})")  # noqa: A001
min_p, min = _make_binary("min", np.minimum, scalar="_s.minimum({0}, {1})")  # noqa: A001
neg_p, neg = _make_unary("neg", np.negative, "number", scalar="(-{0})")
sign_p, sign = _make_unary("sign", np.sign, "number", scalar="_s.sign({0})")
abs_p, abs = _make_unary("abs", np.abs, "signed", scalar="abs({0})")  # noqa: A001


def _abs_abstract(x):
    _check_kind("abs", "signed", x)
    # |z| of a complex z is real, as in JAX (NumPy agrees)
    return ShapedArray(x.shape, _real_dtype(x.dtype), x.weak_type)


abstract_eval_rules[abs_p] = _abs_abstract
floor_p, floor = _make_unary("floor", np.floor, scalar="math.floor({0})")
ceil_p, ceil = _make_unary("ceil", np.ceil, scalar="math.ceil({0})")


def _add_transpose(ct, x, y):
    return [_unbroadcast(ct, x.aval) if is_undefined_primal(x) else None,
            _unbroadcast(ct, y.aval) if is_undefined_primal(y) else None]


def _sub_transpose(ct, x, y):
    return [_unbroadcast(ct, x.aval) if is_undefined_primal(x) else None,
            _unbroadcast(neg(ct), y.aval) if is_undefined_primal(y) else None]


def _mul_transpose(ct, x, y):
    if is_undefined_primal(x) and is_undefined_primal(y):
        raise TypeError("mul: transpose of a product of two linear values (not linear)")
    if is_undefined_primal(x):
        return [_unbroadcast(mul(ct, y), x.aval), None]
    return [None, _unbroadcast(mul(x, ct), y.aval)]


def _div_transpose(ct, x, y):
    if is_undefined_primal(y):
        raise TypeError("div: transpose w.r.t. the divisor (not linear)")
    return [_unbroadcast(div(ct, y), x.aval), None]


defjvp(add_p, lambda g, x, y: _bcast(g, _out_shape(x, y)),
       lambda g, x, y: _bcast(g, _out_shape(x, y)))
transpose_rules[add_p] = _add_transpose
defjvp(sub_p, lambda g, x, y: _bcast(g, _out_shape(x, y)),
       lambda g, x, y: _bcast(neg(g), _out_shape(x, y)))
transpose_rules[sub_p] = _sub_transpose
defjvp(mul_p, lambda g, x, y: mul(g, y), lambda g, x, y: mul(x, g))
transpose_rules[mul_p] = _mul_transpose
defjvp2(div_p, lambda g, ans, x, y: div(_bcast(g, get_aval(ans).shape), y),
        lambda g, ans, x, y: mul(neg(g), div(ans, y)))
transpose_rules[div_p] = _div_transpose
defjvp(rem_p, lambda g, x, y: _bcast(g, _out_shape(x, y)),
       lambda g, x, y: mul(neg(g), mul(sign(div(x, y)), floor(abs(div(x, y))))))
defjvp(neg_p, lambda g, x: neg(g))
transpose_rules[neg_p] = lambda ct, x: [neg(ct)]


def _abs_jvp(g, ans, x):
    if get_aval(x).dtype.kind != "c":
        # NOTE: JAX's rule is select(x >= 0, g, -g), so d|x|/dx at 0 (and -0) is 1, not
        # sign(0) = 0; grad(abs)(0.) == 1 in JAX
        return select(ge(x, _full_like(x, 0)), _bcast(g, get_aval(x).shape),
                      neg(_bcast(g, get_aval(x).shape)))
    # d|z| = Re(conj(z) dz) / |z|, with |z| = 0 replaced by 1 (JAX's choice at the kink)
    safe = convert_to(select(eq(ans, 0.0), _full_like(ans, 1.0), ans), get_aval(x).dtype)
    return real(mul(_bcast(g, get_aval(x).shape), div(conj(x), safe)))


defjvp2(abs_p, _abs_jvp)
defjvp_zero(sign_p)
defjvp_zero(floor_p)
defjvp_zero(ceil_p)


def _safe_log_base(x):
    return select(eq(x, 0.0), _full_like(x, 1.0), x)


defjvp2(pow_p,
        lambda g, ans, x, y: mul(g, mul(y, pow(x, sub(y, 1.0)))),
        lambda g, ans, x, y: mul(g, mul(log(_safe_log_base(x)), ans)))


def _balanced(x, y, strict_cmp):
    """1 where ``strict_cmp(x, y)``, 0.5 where equal (ties split the gradient, as in JAX)."""
    one = convert_to(strict_cmp(x, y), get_aval(x).dtype)
    half = mul(convert_to(eq(x, y), get_aval(x).dtype), 0.5)
    return add(one, half)


defjvp(max_p, lambda g, x, y: mul(g, _balanced(x, y, gt)),
       lambda g, x, y: mul(g, _balanced(y, x, gt)))
defjvp(min_p, lambda g, x, y: mul(g, _balanced(x, y, lt)),
       lambda g, x, y: mul(g, _balanced(y, x, lt)))


# ---------------------------------------------------------------------------
# transcendental

exp_p, exp = _make_unary("exp", np.exp, scalar="math.exp({0})", accuracy=True)
log_p, log = _make_unary("log", np.log, scalar="math.log({0})", accuracy=True)
log1p_p, log1p = _make_unary("log1p", np.log1p, scalar="math.log1p({0})", accuracy=True)
expm1_p, expm1 = _make_unary("expm1", np.expm1, scalar="math.expm1({0})", accuracy=True)
sqrt_p, sqrt = _make_unary("sqrt", np.sqrt, scalar="math.sqrt({0})", accuracy=True)
rsqrt_p, rsqrt = _make_unary("rsqrt", lambda x: 1 / np.sqrt(x),
                             scalar="(1.0 / math.sqrt({0}))", accuracy=True)
tanh_p, tanh = _make_unary("tanh", np.tanh, scalar="math.tanh({0})", accuracy=True)


def _logistic_impl(x):
    if x.dtype.kind == "c":  # no tails to protect; the ordering below needs reals
        return (1 / (1 + np.exp(-x))).astype(x.dtype)
    # 1 / (1 + exp(-x)) without overflow; 0.5 * (tanh(x / 2) + 1) would cancel to 0 (or lose
    # all relative precision) in the left tail, e.g. logistic(-40.) in float64.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)


logistic_p, logistic = _make_unary("logistic", _logistic_impl, scalar="_s.logistic({0})",
                                   accuracy=True)
sin_p, sin = _make_unary("sin", np.sin, scalar="math.sin({0})", accuracy=True)
cos_p, cos = _make_unary("cos", np.cos, scalar="math.cos({0})", accuracy=True)

erf_p, erf = _make_unary("erf", lambda x: _np_erf(x).astype(x.dtype), scalar="math.erf({0})")


def _np_erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x) if x.size else x.astype(np.float64)


defjvp2(exp_p, lambda g, ans, x: mul(g, ans))
# a Python float (weakly typed): an np.float64 constant would be a float64 operand under x64
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
defjvp(erf_p, lambda g, x: mul(g, mul(exp(neg(mul(x, x))), _TWO_OVER_SQRT_PI)))
defjvp(log_p, lambda g, x: div(g, x))
defjvp(log1p_p, lambda g, x: div(g, add(x, 1.0)))
defjvp2(expm1_p, lambda g, ans, x: mul(g, add(ans, 1.0)))
defjvp2(sqrt_p, lambda g, ans, x: div(g, mul(ans, 2.0)))
defjvp2(rsqrt_p, lambda g, ans, x: mul(g, mul(div(ans, x), -0.5)))
defjvp2(tanh_p, lambda g, ans, x: mul(g, sub(1.0, mul(ans, ans))))
defjvp2(logistic_p, lambda g, ans, x: mul(g, mul(ans, sub(1.0, ans))))
defjvp(sin_p, lambda g, x: mul(g, cos(x)))
defjvp(cos_p, lambda g, x: neg(mul(g, sin(x))))


integer_pow_p = Primitive("integer_pow", elementwise=True)


def integer_pow(x, y: int):
    """``x ** y`` for a static Python integer ``y`` (``lax.integer_pow``)."""
    try:
        y = operator.index(y)
    except TypeError:
        raise DTypeError(f"lax.integer_pow: the power y must be a Python int, got {y!r}; "
                         "use lax.pow for a non-integer power.") from None
    return integer_pow_p.bind(x, y=y)


def _integer_pow_impl(x, *, y):
    if y < 0 and not np.issubdtype(x.dtype, np.inexact):
        raise ValueError("integer_pow: negative powers of integers")
    return np.power(x, y) if y >= 0 else 1 / np.power(x, -y)


impl_rules[integer_pow_p] = _integer_pow_impl


def _integer_pow_abstract(x, *, y):
    if y < 0 and not is_inexact(x.dtype):
        raise DTypeError(f"lax.integer_pow: negative power y={y} of an integer operand "
                         f"{x.str_short()}; cast it to a float first.")
    return ShapedArray(x.shape, x.dtype, x.weak_type)


abstract_eval_rules[integer_pow_p] = _integer_pow_abstract
defjvp(integer_pow_p, lambda g, x, *, y: g if y == 1 else mul(g, _ipow_deriv(x, y)))
defvectorized(integer_pow_p)


def _ipow_deriv(x, y):
    return mul(integer_pow(x, y - 1), float(y)) if y != 0 else _full_like(x, 0.0)


# ---------------------------------------------------------------------------
# comparisons and logic

eq_p, eq = _make_binary("eq", np.equal, np.bool_, scalar="({0} == {1})")
ne_p, ne = _make_binary("ne", np.not_equal, np.bool_, scalar="({0} != {1})")
lt_p, lt = _make_binary("lt", np.less, np.bool_, scalar="({0} < {1})")
le_p, le = _make_binary("le", np.less_equal, np.bool_, scalar="({0} <= {1})")
gt_p, gt = _make_binary("gt", np.greater, np.bool_, scalar="({0} > {1})")
ge_p, ge = _make_binary("ge", np.greater_equal, np.bool_, scalar="({0} >= {1})")
and_p, bitwise_and = _make_binary("and", np.bitwise_and, kinds="integral",
                                   scalar="({0} & {1})")
or_p, bitwise_or = _make_binary("or", np.bitwise_or, kinds="integral", scalar="({0} | {1})")
xor_p, bitwise_xor = _make_binary("xor", np.bitwise_xor, kinds="integral",
                                   scalar="({0} ^ {1})")
not_p, bitwise_not = _make_unary("not", np.invert, "integral")
is_finite_p = Primitive("is_finite", elementwise=True, scalar="math.isfinite({0})")
impl_rules[is_finite_p] = np.isfinite


def _is_finite_abstract(x):
    _check_kind("is_finite", "real_float", x)  # as JAX: integers are rejected
    return ShapedArray(x.shape, np.bool_)


abstract_eval_rules[is_finite_p] = _is_finite_abstract
defvectorized(is_finite_p)


def is_finite(x):
    """True where ``x`` is neither infinite nor NaN."""
    return is_finite_p.bind(x)


for _p in (eq_p, ne_p, lt_p, le_p, gt_p, ge_p, and_p, or_p, xor_p, not_p, is_finite_p):
    defjvp_zero(_p)


# ---------------------------------------------------------------------------
# select

select_p = Primitive("select", elementwise=True)


def select(pred, on_true, on_false):
    """``on_true`` where ``pred`` else ``on_false`` (``lax.select``); shapes must match
    (``pred`` may be rank 0). As in JAX an integer ``pred`` is accepted too: it is
    ``select_n``'s selector, 0 picking ``on_false`` and 1 ``on_true``.

    Example:
        >>> select(np.array([True, False]), np.zeros(2, np.float32), np.ones(2, np.float32))
        array([0., 1.], dtype=float32)
    """
    on_true, on_false = _match_operands("select", on_true, on_false)
    pred_aval = get_aval(pred)
    if np.issubdtype(pred_aval.dtype, np.integer):
        # XLA's select_n of two cases takes case 0 where which < 1 (out of range is
        # undefined in JAX's docs; this keeps its CPU result)
        pred = ge(pred, np.ones((), pred_aval.dtype))
    return select_p.bind(pred, on_true, on_false)


def _select_abstract(pred, x, y):
    if pred.dtype != np.bool_:
        raise DTypeError(f"lax.select: the predicate must be boolean or an integer, got "
                         f"{pred.str_short()}")
    if x.dtype != y.dtype:
        raise DTypeError(f"lax.select: on_true and on_false must have the same dtype, got "
                         f"{x.str_short()} and {y.str_short()}; cast one first.")
    if x.shape != y.shape:
        raise ShapeError(f"lax.select: on_true and on_false must have the same shape, got "
                         f"{x.str_short()} and {y.str_short()}")
    if pred.shape and pred.shape != x.shape:
        raise ShapeError(f"lax.select: predicate shape {pred.shape} must be () or equal the "
                         f"operand shape {x.shape}")
    return ShapedArray(x.shape, x.dtype, x.weak_type and y.weak_type)


def _select_jvp(primals, tangents):
    pred, x, y = primals
    _, tx, ty = tangents
    out = select_p.bind(pred, x, y)
    if isinstance(tx, Zero) and isinstance(ty, Zero):
        return out, Zero(tangent_aval(get_aval(out)))
    tx = _full_like(x, 0.0) if isinstance(tx, Zero) else tx
    ty = _full_like(y, 0.0) if isinstance(ty, Zero) else ty
    return out, select_p.bind(pred, tx, ty)


def _select_transpose(ct, pred, x, y):
    if is_undefined_primal(pred):
        raise TypeError("select: transpose w.r.t. the predicate")
    zeros = _full_like(ct, 0.0)
    return [None,
            select_p.bind(pred, ct, zeros) if is_undefined_primal(x) else None,
            select_p.bind(pred, zeros, ct) if is_undefined_primal(y) else None]


_BIT_SELECT_MIN = 1 << 14  # below this np.where's per-call cost is lower
_INT_OF_SIZE = {1: np.int8, 2: np.int16, 4: np.int32, 8: np.int64}


def _select_impl(pred, on_true, on_false):
    """``np.where``, but on large arrays as a bitwise blend: np.where branches on every
    element, and on a random predicate (relu's derivative) it ran 4-5x slower than this
    (docs/performance.md, "Eager select"). Exact: bits are copied, never computed."""
    x, y = np.asarray(on_true), np.asarray(on_false)
    it = _INT_OF_SIZE.get(x.dtype.itemsize)
    if (x.size < _BIT_SELECT_MIN or np.ndim(pred) == 0 or it is None
            or x.dtype.kind not in "fiu" or x.dtype != y.dtype):
        return np.where(pred, x, y)
    mask = np.asarray(pred).astype(it)
    np.negative(mask, out=mask)  # all ones where pred, all zeros elsewhere
    out = np.bitwise_and(x.view(it), mask)  # a same-size view works on any strides
    if y.strides == (0,) * y.ndim and not np.asarray(y[(0,) * y.ndim]).view(it):
        return out.view(x.dtype)  # a broadcast zero (relu's derivative): nothing to add
    np.bitwise_and(y.view(it), np.invert(mask, out=mask), out=mask)
    np.bitwise_or(out, mask, out=out)
    return out.view(x.dtype)


impl_rules[select_p] = _select_impl
abstract_eval_rules[select_p] = _select_abstract
jvp_rules[select_p] = _select_jvp
transpose_rules[select_p] = _select_transpose
# on_true and on_false must keep equal shapes, so an unmapped rank-0 one is broadcast too
defbroadcasting(select_p, keep_scalars=False)


# ---------------------------------------------------------------------------
# stop_gradient

stop_gradient_p = Primitive("stop_gradient", elementwise=True, scalar="{0}")
impl_rules[stop_gradient_p] = lambda x: x
abstract_eval_rules[stop_gradient_p] = lambda x: ShapedArray(x.shape, x.dtype, x.weak_type)
defjvp_zero(stop_gradient_p)
defvectorized(stop_gradient_p)


def stop_gradient(x):
    """The identity whose derivative is zero (``lax.stop_gradient``).

    ``x`` may be any pytree: every floating-point leaf is cut from the gradient,
    as in JAX (target networks pass whole parameter trees).

    Example:
        >>> import functrace as ft
        >>> ft.grad(lambda x: x * stop_gradient(x))(3.0)
        array(3., dtype=float32)
        >>> ft.grad(lambda x: stop_gradient({"a": x})["a"] + x)(3.0)
        array(1., dtype=float32)
    """
    return tree_map(_stop_leaf, x)


def _stop_leaf(x):
    # integer and boolean leaves have no gradient to stop; concrete leaves carry none
    if isinstance(x, Tracer) and is_inexact(x.aval.dtype):
        return stop_gradient_p.bind(x)
    return x


# ---------------------------------------------------------------------------
# complex numbers: real, imag, complex, conj (JAX's linear rules and conventions:
# cotangents are not conjugated, so imag's transpose carries a minus sign)

def _real_dtype(dtype: np.dtype) -> np.dtype:
    return np.finfo(dtype).dtype if np.dtype(dtype).kind == "c" else np.dtype(dtype)


def _complex_dtype(dtype: np.dtype) -> np.dtype:
    return np.result_type(dtype, np.complex64)


def _complex_part_abstract(op: str):
    def rule(x):
        if x.dtype.kind != "c":
            raise DTypeError(f"lax.{op} requires a complex operand, got {x.str_short()}; "
                             f"functrace.numpy.{op} also accepts real arrays.")
        return ShapedArray(x.shape, _real_dtype(x.dtype), x.weak_type)
    return rule


# complex values never enter fused loops (compiler/fusion.py): the complex-part primitives
# are not `elementwise` for the compiler, and backends run their impl
real_p = Primitive("real", impl_fallback=True)
impl_rules[real_p] = np.real
abstract_eval_rules[real_p] = _complex_part_abstract("real")
defvectorized(real_p)
imag_p = Primitive("imag", impl_fallback=True)
impl_rules[imag_p] = np.imag
abstract_eval_rules[imag_p] = _complex_part_abstract("imag")
defvectorized(imag_p)


def real(x):
    """The real part of a complex array (``lax.real``)."""
    return real_p.bind(x)


def imag(x):
    """The imaginary part of a complex array (``lax.imag``)."""
    return imag_p.bind(x)


complex_p = Primitive("complex", impl_fallback=True)
impl_rules[complex_p] = lambda x, y: (x + 1j * y).astype(_complex_dtype(x.dtype))


def _complex_abstract(x, y):
    out = _binary_abstract("complex", kinds="float")(x, y)
    if x.dtype.kind != "f":
        raise DTypeError(f"lax.complex requires real floating-point operands, got "
                         f"{x.str_short()} and {y.str_short()}")
    return out.update(dtype=_complex_dtype(x.dtype))


abstract_eval_rules[complex_p] = _complex_abstract
defbroadcasting(complex_p)


def complex(x, y):  # noqa: A001 - JAX's name
    """``x + 1j * y`` from real arrays of one dtype (``lax.complex``)."""
    x, y = _match_operands("complex", x, y)
    return complex_p.bind(x, y)


conj_p = Primitive("conj", impl_fallback=True)
impl_rules[conj_p] = lambda x, *, input_dtype: np.conj(x).astype(_complex_dtype(x.dtype))


def _conj_abstract(x, *, input_dtype):
    _check_kind("conj", "float", x)  # as JAX: float or complex operands only
    return ShapedArray(x.shape, _complex_dtype(x.dtype), x.weak_type)


abstract_eval_rules[conj_p] = _conj_abstract
defvectorized(conj_p)


def conj(x):
    """The complex conjugate (``lax.conj``); a real operand gives a complex result."""
    return conj_p.bind(x, input_dtype=get_aval(x).dtype)


def _conj_transpose(ct, x, *, input_dtype):
    return [conj(ct) if np.dtype(input_dtype).kind == "c" else real(ct)]


deflinear(real_p, lambda ct, x: [complex(ct, _full_like(ct, 0.0))])
deflinear(imag_p, lambda ct, x: [complex(_full_like(ct, 0.0), neg(ct))])
deflinear(complex_p, lambda ct, x, y: [real(ct), imag(neg(ct))])
deflinear(conj_p, _conj_transpose)


# ---------------------------------------------------------------------------
# helpers shared with other lax families

def convert_to(x, dtype):
    return convert_element_type(x, dtype)


def _full_like(x, value):
    aval = get_aval(x)
    return broadcast_in_dim(np.asarray(value, aval.dtype), aval.shape, ())


full_like = _full_like
