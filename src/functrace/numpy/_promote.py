"""Array coercion, JAX dtype promotion and NumPy broadcasting for ``functrace.numpy``.

Every public function of ``functrace.numpy`` starts here: its inputs become
tracers, NumPy arrays of a canonical dtype or (weakly typed) Python scalars;
``promote_args`` converts them to the common dtype of JAX's promotion rules and
broadcasts them like NumPy, with ``lax.convert_element_type`` and
``lax.broadcast_in_dim`` so the work stays traceable.
"""

from __future__ import annotations

import operator
import warnings
from collections.abc import Sequence

import numpy as np

from .. import lax
from ..config import config
from ..core.avals import (
    ShapedArray,
    canonicalize_dtype,
    canonicalize_value,
    default_float_dtype,
    is_inexact,
    is_python_scalar,
    result_type,
)
from ..core.trace import Tracer, get_aval
from ..errors import DTypeError, ShapeError, TypePromotionError


def has_tracer(x) -> bool:
    """Whether ``x`` is a tracer or a (nested) list/tuple holding one."""
    if isinstance(x, Tracer):
        return True
    return isinstance(x, list | tuple) and any(has_tracer(e) for e in x)


def stack_nested(x):
    """A (nested) list of tracers and scalars as one array (``fnp.array([t1, t2])``)."""
    if not isinstance(x, list | tuple):
        return as_array(x)
    if not x:
        return canonicalize_value(np.asarray(x, default_float_dtype()))
    parts = [stack_nested(e) for e in x]
    parts = promote_args("array", *parts, broadcast=False)
    shapes = {get_aval(p).shape for p in parts}
    if len(shapes) != 1:
        raise ShapeError(f"array: nested sequences have inhomogeneous shapes {sorted(shapes)}")
    shape = shapes.pop()
    dims = tuple(range(1, len(shape) + 1))
    parts = [lax.broadcast_in_dim(p, (1,) + shape, dims) for p in parts]
    return lax.concatenate(parts, 0) if len(parts) > 1 else parts[0]


def as_array(x):
    """A tracer, or ``x`` as a canonical NumPy array (Python scalars included)."""
    if isinstance(x, Tracer):
        return x
    if isinstance(x, list | tuple) and has_tracer(x):
        return stack_nested(x)
    if isinstance(x, list | tuple):
        x = np.asarray(x)
    return canonicalize_value(x)


def as_operand(x):
    """Like ``as_array`` but keeps Python scalars (they are weakly typed)."""
    if is_python_scalar(x) and not isinstance(x, Tracer):
        return x
    return as_array(x)


def aval(x) -> ShapedArray:
    return get_aval(x)


def shape_of(x) -> tuple[int, ...]:
    return get_aval(as_operand(x)).shape


def ndim_of(x) -> int:
    return len(shape_of(x))


def check_dtype(dtype, default=None) -> np.dtype:
    """``dtype`` (or ``default`` if it is None) as a canonical NumPy dtype (``float`` ->
    float32 unless x64)."""
    dtype = default if dtype is None else dtype
    if dtype is float:
        return default_float_dtype()
    try:
        return canonicalize_dtype(np.dtype(dtype))
    except TypeError:
        raise DTypeError(f"unknown dtype {dtype!r}; pass a NumPy dtype such as "
                         "functrace.numpy.float32") from None


def _cast_scalar(x, dtype: np.dtype):
    """A Python scalar of the Python type matching ``dtype``'s kind (keeps it weak)."""
    if dtype == np.bool_:
        return bool(x)
    if np.issubdtype(dtype, np.integer):
        return int(x)
    if np.issubdtype(dtype, np.floating):
        return float(x)
    return complex(x)


def _strong_scalar(x, dtype: np.dtype) -> np.ndarray:
    """A weak Python scalar in the strong ``dtype`` it joins; an int out of the range of a
    narrow integer dtype wraps around, as in JAX (``uint8_array + 300`` adds 44)."""
    if isinstance(x, int) and np.issubdtype(dtype, np.integer):
        return np.asarray(x).astype(dtype)
    return np.asarray(x, dtype)


def convert(x, dtype):
    """``x`` converted to ``dtype`` (a no-op when it already has it)."""
    dtype = np.dtype(dtype)
    if is_python_scalar(x) and not isinstance(x, Tracer):
        return np.asarray(x, canonicalize_dtype(dtype))
    return lax.convert_element_type(x, dtype)


_PY_TYPE_NAMES = {"b": "<class 'bool'>", "i": "<class 'int'>", "u": "<class 'int'>",
                  "f": "<class 'float'>", "c": "<class 'complex'>"}
_STRICT_KIND = {"b": 0, "i": 1, "u": 1, "f": 2, "c": 3}


def check_strict_promotion(avals, op: str | None = None) -> None:
    """Raises JAX's strict-mode error unless ``avals`` need no implicit promotion: one
    strong dtype at most, and weak operands only of a kind it can hold (a weak int joins
    any number, a weak float floats and complex numbers, a weak complex complex numbers;
    a Python bool is a strong bool, as in JAX)."""
    strong = {a.dtype for a in avals if not a.weak_type or a.dtype == np.bool_}
    weak = {a.dtype for a in avals if a.weak_type and a.dtype != np.bool_}
    ok = len(strong) <= 1
    if ok and strong and weak:
        (s,) = strong
        ok = s != np.bool_ and all(_STRICT_KIND[w.kind] <= _STRICT_KIND[s.kind] for w in weak)
    if not ok:
        names = sorted({d.name for d in strong} | {_PY_TYPE_NAMES[w.kind] for w in weak})
        where = f"{op}: input" if op else "Input"
        raise TypePromotionError(
            f"{where} dtypes {tuple(names)} have no available implicit dtype promotion path "
            "when numpy_dtype_promotion='strict'. Cast the inputs explicitly "
            "(x.astype(dtype)) to the type you want, or use "
            "functrace.numpy_dtype_promotion('standard').")


def promote_dtypes(*args, op: str | None = None):
    """Converts the operands to their common dtype (JAX rules: Python scalars are weak)."""
    args = [as_operand(a) for a in args]
    avals = [get_aval(a) for a in args]
    if config.numpy_dtype_promotion == "strict":
        check_strict_promotion(avals, op)
    dtype, weak = result_type(*avals)
    out = []
    for a in args:
        if is_python_scalar(a) and not isinstance(a, Tracer):
            # a weak scalar adopts the result dtype: a Python scalar of that kind stays weak
            out.append(_cast_scalar(a, dtype) if weak else _strong_scalar(a, dtype))
        elif get_aval(a).dtype == dtype:
            out.append(a)  # weak and strong operands of one dtype mix without a cast, as in JAX
        else:
            out.append(lax.convert_element_type(a, dtype))
    return out


def inexact_dtype(dtype) -> np.dtype:
    """JAX's ``to_inexact_dtype``: booleans and integers of up to 32 bits become float32,
    64-bit integers float64 (float32 unless x64); inexact dtypes stay."""
    dtype = np.dtype(dtype)
    if is_inexact(dtype):
        return dtype
    if dtype.itemsize <= 4:
        return np.dtype(np.float32)
    return default_float_dtype()


def promote_inexact(*args, op: str | None = None):
    """Like ``promote_dtypes`` but integer/bool results become floats (``inexact_dtype``)."""
    args = promote_dtypes(*args, op=op)
    if args and not is_inexact(get_aval(args[0]).dtype):
        dtype = inexact_dtype(get_aval(args[0]).dtype)
        args = [float(a) if is_python_scalar(a) and not isinstance(a, Tracer)
                else lax.convert_element_type(a, dtype) for a in args]
    return args


def _fmt(shape) -> str:
    return "(" + ",".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def broadcast_shapes(op: str, *shapes: Sequence[int]) -> tuple[int, ...]:
    """NumPy's broadcast of ``shapes``; a ShapeError naming ``op`` if they do not fit."""
    shapes = [tuple(s) for s in shapes]
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(ndim):
        sizes = {s[len(s) - ndim + i] for s in shapes if len(s) - ndim + i >= 0}
        sizes.discard(1)
        if len(sizes) > 1:
            raise ShapeError(f"{op}: operands could not be broadcast together with shapes "
                             + " ".join(_fmt(s) for s in shapes))
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def broadcast_to_shape(x, shape: Sequence[int], op: str = "broadcast_to"):
    """Broadcasts ``x`` to ``shape`` with NumPy's (right-aligned) rules."""
    x = as_operand(x)
    shape = tuple(int(d) for d in shape)
    xshape = get_aval(x).shape
    if xshape == shape and not is_python_scalar(x):
        return x
    if len(xshape) > len(shape) or broadcast_shapes(op, xshape, shape) != shape:
        raise ShapeError(f"{op}: cannot broadcast an array of shape {_fmt(xshape)} to shape "
                         f"{_fmt(shape)}")
    if is_python_scalar(x) and not isinstance(x, Tracer):
        x = canonicalize_value(x)
    dims = tuple(range(len(shape) - len(xshape), len(shape)))
    return lax.broadcast_in_dim(x, shape, dims)


def check_rank_promotion(op: str, shapes) -> None:
    """JAX's ``numpy_rank_promotion`` check: operands of two or more different non-zero
    ranks warn (``'warn'``) or raise (``'raise'``); rank-0 operands never count."""
    if len({len(s) for s in shapes if s}) < 2:
        return
    listed = " ".join(str(tuple(s)) for s in shapes)
    if config.numpy_rank_promotion == "warn":
        warnings.warn(f"Following NumPy automatic rank promotion for {op} on shapes {listed}. "
                      "Set the numpy_rank_promotion config option to 'allow' to disable this "
                      "warning, or add the leading axes explicitly (x[None], "
                      "fnp.expand_dims).", UserWarning, stacklevel=4)
        return
    raise ShapeError(f"Operands could not be broadcast together for {op} on shapes {listed} "
                     "and with the config option numpy_rank_promotion='raise'. Add the "
                     "leading axes explicitly (x[None], fnp.expand_dims), or use "
                     "functrace.numpy_rank_promotion('allow').")


def promote_args(op: str, *args, broadcast: bool = True, inexact: bool = False):
    """Promotes ``args`` to a common dtype and broadcasts them to a common shape.

    Rank-0 operands (and Python scalars) are not broadcast: lax's binary
    operations accept them as they are, so ``x * 2.0`` stays one ``mul``.
    """
    args = promote_inexact(*args, op=op) if inexact else promote_dtypes(*args, op=op)
    if not broadcast:
        return args
    shapes = [get_aval(a).shape for a in args]
    if config.numpy_rank_promotion != "allow":
        check_rank_promotion(op, shapes)
    shape = broadcast_shapes(op, *shapes)
    return [a if s == shape or s == () else broadcast_to_shape(a, shape, op)
            for a, s in zip(args, shapes, strict=True)]


def canonical_axis(axis, ndim: int, op: str) -> int:
    """``axis`` in ``[0, ndim)``; negative axes count from the end."""
    try:
        axis = operator.index(axis)
    except TypeError:
        raise ShapeError(f"{op}: axis must be an integer, got {axis!r}") from None
    if not -ndim <= axis < ndim:
        raise ShapeError(f"{op}: axis {axis} is out of bounds for an array of rank {ndim}")
    return axis % ndim


def canonical_axes(axis, ndim: int, op: str) -> tuple[int, ...]:
    """``axis`` (None, an int or a sequence of ints) as a sorted tuple of axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, Sequence):
        axes = tuple(canonical_axis(a, ndim, op) for a in axis)
    else:
        axes = (canonical_axis(axis, ndim, op),)
    if len(set(axes)) != len(axes):
        raise ShapeError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(axes))
