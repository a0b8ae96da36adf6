"""Elementwise functions: arithmetic, transcendental functions, comparisons, logic,
``where`` and ``clip``. NumPy broadcasting, JAX type promotion.
"""

from __future__ import annotations

import math as _pymath

import numpy as np

from .. import lax
from ..core.avals import default_int_dtype, is_inexact, is_python_scalar
from ..core.trace import Tracer, get_aval
from ..errors import DTypeError, FunctraceError
from . import _array_ops
from ._promote import as_array, as_operand, broadcast_shapes, broadcast_to_shape, promote_args
from ._renamed import DEPRECATED as _DEPRECATED
from ._renamed import renamed as _renamed


def _dtype(x) -> np.dtype:
    return get_aval(x).dtype


def _binary(name: str, lax_fn, *, inexact: bool = False, doc: str = "", xy: bool = False):
    fast = _array_ops.eager_binary(name, inexact)  # concrete operands: NumPy's ufunc

    def fn(x1, x2, /):
        if fast is not None:
            out = fast(x1, x2)
            if out is not None:
                return out
        a, b = promote_args(name, x1, x2, inexact=inexact)
        return lax_fn(a, b)

    if xy:  # JAX names the comparisons' operands (x, y, /)
        impl = fn

        def fn(x, y, /):
            return impl(x, y)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc or f"Elementwise ``numpy.{name}`` with NumPy broadcasting."
    return fn


def _unary(name: str, lax_fn, *, inexact: bool = True, doc: str = ""):
    fast = _array_ops.eager_unary(name) if inexact else None

    def fn(x, /):
        if fast is not None:
            out = fast(x)
            if out is not None:
                return out
        (a,) = promote_args(name, x, inexact=inexact)
        return lax_fn(a)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc or f"Elementwise ``numpy.{name}``" + (
        " (integer inputs become float)." if inexact else ".")
    return fn


# ---------------------------------------------------------------------------
# arithmetic

add = _binary("add", lax.add, doc="""``x1 + x2`` elementwise, with NumPy broadcasting.

    Example:
        >>> add(np.ones(2, np.float32), 2.0)
        array([3., 3.], dtype=float32)
    """)
subtract = _binary("subtract", lax.sub)
multiply = _binary("multiply", lax.mul)
true_divide = _binary("true_divide", lax.div, inexact=True,
                      doc="``x1 / x2``; integer operands give a float result.")
divide = true_divide
maximum = _binary("maximum", lax.max)
minimum = _binary("minimum", lax.min)


def floor_divide(x1, x2, /):
    """``x1 // x2``: the quotient rounded towards minus infinity (NumPy semantics)."""
    a, b = promote_args("floor_divide", x1, x2)
    if _dtype(a).kind == "f" or _dtype(a).name == "bfloat16":
        return _float_divmod(a, b)[0]
    if is_inexact(_dtype(a)):
        return lax.floor(lax.div(a, b))
    if _dtype(a) == np.bool_:
        raise DTypeError("floor_divide: boolean operands are not supported")
    quotient = lax.div(a, b)  # truncates towards zero
    rem = lax.rem(a, b)
    signs_differ = lax.ne(lax.lt(rem, _zero(rem)), lax.lt(b, _zero(b)))
    fix = lax.bitwise_and(lax.ne(rem, _zero(rem)), signs_differ)
    return lax.select(_bcast_pred(fix, quotient), lax.sub(quotient, _one_like(quotient)),
                      quotient)


def _float_divmod(a, b):
    """JAX's (and CPython's) float divmod: ``(floor(a / b), a mod b)``, exact at the edges
    (``1.5 // -inf`` is -1, ``inf // x`` is NaN)."""
    mod = lax.rem(a, b)
    zero = _zero(mod)
    corrected = lax.select(_bcast_pred(lax.eq(b, _zero(b)), mod), _full(a, mod),
                           lax.sub(a, mod))
    div = lax.div(corrected, b)
    ind = lax.bitwise_and(lax.ne(mod, zero), lax.ne(lax.sign(_full(b, mod)), lax.sign(mod)))
    mod = lax.select(ind, lax.add(mod, b), mod)
    div = lax.select(ind, lax.sub(div, _one_like(div)), div)
    return lax.round(div, lax.RoundingMethod.TO_NEAREST_EVEN), mod


def _bool_to_int(*args):
    """JAX computes ``%``, ``**`` and ``square`` of booleans in the default integer type."""
    if _dtype(args[0]) != np.bool_:
        return args
    return tuple(lax.convert_element_type(a, default_int_dtype()) for a in args)


def remainder(x1, x2, /):
    """``x1 % x2`` with the sign of the divisor (NumPy's ``remainder``/``mod``)."""
    a, b = _bool_to_int(*promote_args("remainder", x1, x2))
    rem = lax.rem(a, b)
    zero = _zero(rem)
    fix = lax.bitwise_and(lax.ne(rem, zero), lax.ne(lax.lt(rem, zero), lax.lt(b, _zero(b))))
    return lax.select(_bcast_pred(fix, rem), lax.add(rem, b), rem)


mod = remainder


def _zero(x):
    return np.zeros((), _dtype(x))


def _one_like(x):
    return np.ones((), _dtype(x))


def _bcast_pred(pred, like):
    shape = get_aval(like).shape
    return pred if get_aval(pred).shape in ((), shape) else broadcast_to_shape(pred, shape)


def _full(x, like):
    """``x`` broadcast to ``like``'s shape (when it is rank 0 and ``like`` is not)."""
    shape = get_aval(like).shape
    return x if get_aval(x).shape == shape else broadcast_to_shape(x, shape)


def power(x1, x2, /):
    """``x1 ** x2``; a Python integer exponent becomes ``lax.integer_pow`` (exact, cheap).

    Example:
        >>> power(np.array([2.0, 3.0], np.float32), 2)
        array([4., 9.], dtype=float32)
    """
    if type(x2) is int:
        (a,) = _bool_to_int(promote_args("power", x1, x2)[0])
        if x2 < 0 and not is_inexact(_dtype(a)):
            raise DTypeError("power: integers to negative integer powers are not allowed")
        return lax.integer_pow(a, x2)
    a, b = _bool_to_int(*promote_args("power", x1, x2))
    if _dtype(a).kind in "iu":
        return _integer_power(a, b)
    return lax.pow(a, b)


def _integer_power(a, b):
    """JAX's integer ``a ** b``: binary exponentiation over the exponent's low 6 bits
    (more would overflow for any ``|a| > 1``); ``0 ** b`` is 0 for ``b != 0``, and a
    negative exponent gives what its two's-complement bits give (``2 ** -1`` is 0)."""
    shape = broadcast_shapes("power", get_aval(a).shape, get_aval(b).shape)
    a, b = broadcast_to_shape(a, shape, "power"), broadcast_to_shape(b, shape, "power")
    zero, one = _zero(b), _one_like(b)
    acc = lax.select(_bcast_pred(lax.bitwise_and(lax.eq(a, zero), lax.ne(b, zero)), a),
                     lax.full(shape, 0, _dtype(a)), lax.full(shape, 1, _dtype(a)))
    for _ in range(6):
        bit = lax.ne(lax.bitwise_and(b, one), zero)
        acc = lax.select(_bcast_pred(bit, acc), lax.mul(acc, a), acc)
        a = lax.mul(a, a)
        b = lax.shift_right_logical(b, one)
    return acc


def float_power(x, y, /):
    """``x ** y`` computed in floating point."""
    a, b = promote_args("float_power", x, y, inexact=True)
    return lax.pow(a, b)


def negative(x, /):
    """``-x`` elementwise."""
    (a,) = promote_args("negative", x)
    if _dtype(a) == np.bool_:
        raise DTypeError("negative: boolean operands are not supported; use logical_not")
    return lax.neg(a)


def positive(x, /):
    """``+x``: the input itself (as an array)."""
    return as_array(x)


def absolute(x, /):
    """``|x|`` elementwise (integers stay integers)."""
    (a,) = promote_args("absolute", x)
    if np.issubdtype(_dtype(a), np.unsignedinteger) or _dtype(a) == np.bool_:
        return a
    return lax.abs(a)


abs = absolute  # noqa: A001 - NumPy's name


def real(val, /):
    """The real part (a real array is returned as is).

    Example:
        >>> import functrace.numpy as fnp
        >>> fnp.real(fnp.asarray([1 + 2j]))
        array([1.], dtype=float32)
    """
    (a,) = promote_args("real", val)
    return lax.real(a) if _dtype(a).kind == "c" else as_array(a)


def imag(val, /):
    """The imaginary part (zeros for a real array)."""
    (a,) = promote_args("imag", val)
    return lax.imag(a) if _dtype(a).kind == "c" else lax.full_like(a, 0)


def conjugate(x, /):
    """The complex conjugate (a real array is returned as is)."""
    (a,) = promote_args("conjugate", x)
    return lax.conj(a) if _dtype(a).kind == "c" else as_array(a)


conj = conjugate


def sign(x, /):
    """-1, 0 or 1 according to the sign of ``x``."""
    (a,) = promote_args("sign", x)
    return lax.sign(a)


def _int_identity(name: str, lax_fn):
    def fn(x, /):
        (a,) = promote_args(name, x)
        return as_array(a) if not is_inexact(_dtype(a)) else lax_fn(a)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise ``numpy.{name}`` (integers are returned unchanged)."
    return fn


floor = _int_identity("floor", lax.floor)
ceil = _int_identity("ceil", lax.ceil)


def trunc(x):
    """Rounds towards zero."""
    (a,) = promote_args("trunc", x)
    if not is_inexact(_dtype(a)):
        return as_array(a)
    return lax.select(lax.lt(a, _zero(a)), lax.ceil(a), lax.floor(a))


fix = trunc

def round(a, decimals: int = 0, out=None):  # noqa: A001 - NumPy's name
    """Rounds to ``decimals`` decimal places, halves to even (as NumPy).

    Example:
        >>> round(np.array([0.5, 1.5, 2.5, -0.5], np.float32))
        array([ 0.,  2.,  2., -0.], dtype=float32)
    """
    if out is not None:
        raise DTypeError("round: out= is not supported (arrays are immutable)")
    (x,) = promote_args("round", a)
    if not is_inexact(_dtype(x)):
        return as_array(x)
    if _dtype(x).kind == "c":  # JAX rounds the real and imaginary parts separately
        return lax.complex(round(lax.real(x), decimals), round(lax.imag(x), decimals))
    if decimals:
        x = lax.mul(x, float(10.0 ** decimals))
    r = lax.floor(x)
    frac = lax.sub(x, r)  # exact: x and floor(x) are close in magnitude
    odd = lax.eq(lax.sub(r, lax.mul(lax.floor(lax.mul(r, 0.5)), 2.0)), 1.0)
    up = lax.bitwise_or(lax.gt(frac, 0.5), lax.bitwise_and(lax.eq(frac, 0.5), odd))
    out_ = lax.select(up, lax.add(r, 1.0), r)
    out_ = lax.select(lax.eq(out_, 0.0), lax.mul(x, 0.0), out_)  # keeps -0.0, as NumPy
    return lax.div(out_, float(10.0 ** decimals)) if decimals else out_


around = round


def rint(x, /):
    """Rounds to the nearest integer, halves to even; integer inputs become float, as JAX."""
    (a,) = promote_args("rint", x, inexact=True)
    return round(a)


exp = _unary("exp", lax.exp)
log = _unary("log", lax.log)
log1p = _unary("log1p", lax.log1p)
expm1 = _unary("expm1", lax.expm1)
sqrt = _unary("sqrt", lax.sqrt)
tanh = _unary("tanh", lax.tanh)
sin = _unary("sin", lax.sin)
cos = _unary("cos", lax.cos)
tan = _unary("tan", lax.tan)
log2 = _unary("log2", lambda x: lax.div(lax.log(x), _pymath.log(2.0)))
log10 = _unary("log10", lambda x: lax.div(lax.log(x), _pymath.log(10.0)))
exp2 = _unary("exp2", lax.exp2)
sinh = _unary("sinh", lax.sinh)
cosh = _unary("cosh", lax.cosh)
arctanh = _unary("arctanh", lax.atanh)
reciprocal = _unary("reciprocal", lambda x: lax.integer_pow(x, -1))
square = _unary("square", lambda x: lax.square(*_bool_to_int(x)), inexact=False)
cbrt = _unary("cbrt", lax.cbrt)


def logaddexp(x1, x2, /):
    """``log(exp(x1) + exp(x2))`` computed stably."""
    a, b = promote_args("logaddexp", x1, x2, inexact=True)
    amax = lax.max(a, b)
    delta = lax.sub(a, b)
    # where both are the same infinity, delta is nan: the answer is amax itself
    safe = lax.select(lax.eq(delta, delta), lax.neg(lax.abs(delta)), _full(
        np.asarray(-np.inf, _dtype(delta)), delta))
    return lax.add(amax, lax.log1p(lax.exp(safe)))


# ---------------------------------------------------------------------------
# comparisons and logic

equal = _binary("equal", lax.eq, xy=True)
not_equal = _binary("not_equal", lax.ne, xy=True)
less = _binary("less", lax.lt, xy=True)
less_equal = _binary("less_equal", lax.le, xy=True)
greater = _binary("greater", lax.gt, xy=True)
greater_equal = _binary("greater_equal", lax.ge, xy=True)


def _to_bool(x):
    x = as_operand(x)
    if is_python_scalar(x) and not isinstance(x, Tracer):
        return np.asarray(bool(x))
    if _dtype(x) == np.bool_:
        return x
    return lax.ne(x, np.zeros((), _dtype(x)))


def _logical(name: str, lax_fn):
    def fn(x1, x2, /):
        a, b = promote_args(name, _to_bool(x1), _to_bool(x2))
        return lax_fn(a, b)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise ``numpy.{name}`` (nonzero counts as True)."
    return fn


logical_and = _logical("logical_and", lax.bitwise_and)
logical_or = _logical("logical_or", lax.bitwise_or)
logical_xor = _logical("logical_xor", lax.bitwise_xor)


def logical_not(x, /):
    """Elementwise ``not x`` (nonzero counts as True)."""
    return lax.bitwise_not(_to_bool(x))


def _bitwise(name: str, lax_fn):
    def fn(x1, x2, /):
        a, b = promote_args(name, x1, x2)
        if is_inexact(_dtype(a)):
            raise DTypeError(f"{name}: only integer and boolean operands are supported, got "
                             f"{_dtype(a).name}")
        return lax_fn(a, b)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise ``numpy.{name}`` on integers and booleans."
    return fn


bitwise_and = _bitwise("bitwise_and", lax.bitwise_and)
bitwise_or = _bitwise("bitwise_or", lax.bitwise_or)
bitwise_xor = _bitwise("bitwise_xor", lax.bitwise_xor)


def invert(x, /):
    """Bitwise NOT (logical NOT for booleans)."""
    (a,) = promote_args("invert", x)
    if is_inexact(_dtype(a)):
        raise DTypeError(f"invert: only integer and boolean operands are supported, got "
                         f"{_dtype(a).name}")
    return lax.bitwise_not(a)


bitwise_not = invert


def isfinite(x, /):
    """True where ``x`` is neither infinite nor NaN."""
    a = as_array(x)
    if not is_inexact(_dtype(a)):
        return lax.full(get_aval(a).shape, True, np.bool_)
    return lax.is_finite(a)


def isnan(x, /):
    """True where ``x`` is NaN."""
    a = as_array(x)
    if not is_inexact(_dtype(a)):
        return lax.full(get_aval(a).shape, False, np.bool_)
    return lax.ne(a, a)


def isinf(x, /):
    """True where ``x`` is plus or minus infinity."""
    a = as_array(x)
    if not is_inexact(_dtype(a)):
        return lax.full(get_aval(a).shape, False, np.bool_)
    if _dtype(a).kind == "c":  # either part infinite, as JAX and NumPy
        return lax.bitwise_or(isinf(lax.real(a)), isinf(lax.imag(a)))
    return lax.eq(lax.abs(a), np.asarray(np.inf, _dtype(a)))


def signbit(x, /):
    """True where the sign bit of ``x`` is set: also for ``-0.0`` and a negative NaN,
    as in JAX and NumPy.

    Example:
        >>> [bool(v) for v in signbit(np.array([-0.0, 0.0, -1.0], np.float32))]
        [True, False, True]
    """
    (a,) = promote_args("signbit", x)
    dt = np.dtype(get_aval(a).dtype)
    if dt.kind == "f" or dt.name == "bfloat16":
        bits = lax.bitcast_convert_type(a, np.dtype(f"int{8 * dt.itemsize}"))
        return lax.lt(bits, np.zeros((), bits.dtype))
    return lax.lt(a, _zero(a))


def isclose(a, b, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False):
    """True where ``|a - b| <= atol + rtol * |b|`` (infinities must match exactly)."""
    x, y = promote_args("isclose", a, b, inexact=True)
    close = less_equal(absolute(subtract(x, y)), add(atol, multiply(rtol, absolute(y))))
    close = logical_or(logical_and(close, logical_and(isfinite(x), isfinite(y))), equal(x, y))
    if equal_nan:
        close = logical_or(close, logical_and(isnan(x), isnan(y)))
    return close


# ---------------------------------------------------------------------------
# selection

def where(condition, x=None, y=None, /):
    """``x`` where ``condition`` holds, else ``y`` (all three broadcast together).

    The one-argument form (``nonzero``) has a data-dependent shape and is not supported.

    Example:
        >>> where(np.array([True, False]), 1.0, np.zeros(2, np.float32))
        array([1., 0.], dtype=float32)
    """
    if x is None or y is None:
        raise FunctraceError(
            "where: only the three-argument form where(condition, x, y) is supported; the "
            "one-argument form has a shape that depends on the data.")
    pred = _to_bool(condition)
    a, b = promote_args("where", x, y, broadcast=False)
    shape = broadcast_shapes("where", *(get_aval(v).shape for v in (pred, a, b)))
    a, b = broadcast_to_shape(a, shape, "where"), broadcast_to_shape(b, shape, "where")
    if get_aval(pred).shape not in ((), shape):
        pred = broadcast_to_shape(pred, shape, "where")
    return lax.select(pred, a, b)


def clip(arr=None, /, min=None, max=None, *, a=_DEPRECATED, a_min=_DEPRECATED,  # noqa: A002
         a_max=_DEPRECATED):
    """Limits ``arr`` to ``[min, max]`` (either bound may be None), JAX's ``clip``.

    ``a``, ``a_min`` and ``a_max`` are the deprecated keyword names of ``arr``, ``min``
    and ``max`` (JAX 0.4.27's deprecation): they still work, with a
    ``DeprecationWarning``; passing both spellings of one argument is an error.

    Example:
        >>> clip(np.array([-1.0, 0.5, 2.0], np.float32), 0.0, 1.0)
        array([0. , 0.5, 1. ], dtype=float32)
        >>> clip(np.array([-1.0, 0.5, 2.0], np.float32), max=0.0)
        array([-1.,  0.,  0.], dtype=float32)
    """
    arr = _renamed("clip", "a", a, "arr", arr)
    min = _renamed("clip", "a_min", a_min, "min", min)  # noqa: A001
    max = _renamed("clip", "a_max", a_max, "max", max)  # noqa: A001
    if arr is None:
        raise ValueError("clip: no input was provided; call clip(arr, min, max)")
    if any(v is not None and _dtype(as_operand(v)).kind == "c" for v in (arr, min, max)):
        raise DTypeError("clip: complex values have no ordering and cannot be clipped; "
                         "clip the real or imaginary part (fnp.real/fnp.imag) instead")
    out = as_array(arr)
    if min is not None:
        out = maximum(min, out)
    if max is not None:
        out = minimum(max, out)
    return out


def nan_to_num(x, copy: bool = True, nan: float = 0.0, posinf=None, neginf=None):
    """Replaces NaN with ``nan`` and infinities with the largest finite values."""
    del copy
    a = as_array(x)
    dt = _dtype(a)
    if not is_inexact(dt):
        return a
    info = np.finfo(dt)
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    out = where(isnan(a), nan, a)
    out = where(lax.eq(out, np.asarray(np.inf, dt)), posinf, out)
    return where(lax.eq(out, np.asarray(-np.inf, dt)), neginf, out)

