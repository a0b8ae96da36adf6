"""``functrace.numpy`` (``import functrace.numpy as fnp``): a NumPy-like API whose every
function is a composition of ``functrace.lax`` primitives, so it works on NumPy arrays
(eagerly, returning NumPy arrays) and on traced values alike.

Dtypes follow ``jax.numpy``: float32/int32 by default (64-bit with ``enable_x64``),
Python scalars are weakly typed (``f32_array * 2.0`` stays float32).

Importing this module also gives tracers their operators and methods (``x + y``,
``x[1:]``, ``x.sum()``, ``x.T``...), by filling ``functrace.core.trace.array_methods``.

Example:
    >>> import functrace.numpy as fnp
    >>> fnp.sum(fnp.ones((2, 3)), axis=0)
    array([2., 2., 2.], dtype=float32)
"""

from __future__ import annotations

import numpy as _np

from .. import lax as _lax
from ..core.avals import finfo
from ..core.avals import is_python_scalar as _is_python_scalar
from ..core.trace import Tracer as _Tracer
from ..core.trace import array_methods as _array_methods
from ..dtypes import issubdtype  # NumPy's, knowing key dtypes
from ..errors import FunctraceError as _FunctraceError
from ..transforms import tape as _tape
from . import _array_ops, fft, linalg
from . import ufuncs as _ufuncs
from .arrange import (
    array_split,
    column_stack,
    concatenate,
    dstack,
    flip,
    fliplr,
    flipud,
    hsplit,
    hstack,
    pad,
    repeat,
    roll,
    row_stack,
    split,
    stack,
    tile,
    tril,
    triu,
    vsplit,
    vstack,
)
from .creation import (
    arange,
    array,
    asarray,
    empty,
    empty_like,
    eye,
    full,
    full_like,
    identity,
    linspace,
    ones,
    ones_like,
    tri,
    zeros,
    zeros_like,
)
from .grids import (
    bartlett,
    blackman,
    c_,
    cross,
    diag_indices,
    diag_indices_from,
    fromfunction,
    geomspace,
    hamming,
    hanning,
    index_exp,
    indices,
    ix_,
    kaiser,
    kron,
    logspace,
    mask_indices,
    matvec,
    mgrid,
    ogrid,
    r_,
    ravel_multi_index,
    s_,
    tril_indices,
    tril_indices_from,
    triu_indices,
    triu_indices_from,
    unravel_index,
    vander,
    vecdot,
    vecmat,
)
from .indexed_update import IndexUpdateHelper as _IndexUpdateHelper
from .indexing import IndexingError, diag, diagonal, getitem, take, take_along_axis
from .manip import (
    astype,
    atleast_1d,
    atleast_2d,
    atleast_3d,
    broadcast_arrays,
    broadcast_shapes,
    broadcast_to,
    copy,
    expand_dims,
    meshgrid,
    moveaxis,
    ndim,
    promote_types,
    ravel,
    reshape,
    result_type,
    shape,
    size,
    squeeze,
    swapaxes,
    transpose,
)
from .math import (
    abs,
    absolute,
    add,
    arctanh,
    around,
    bitwise_and,
    bitwise_not,
    bitwise_or,
    bitwise_xor,
    cbrt,
    ceil,
    clip,
    conj,
    conjugate,
    cos,
    cosh,
    divide,
    equal,
    exp,
    exp2,
    expm1,
    fix,
    float_power,
    floor,
    floor_divide,
    greater,
    greater_equal,
    imag,
    invert,
    isclose,
    isfinite,
    isinf,
    isnan,
    less,
    less_equal,
    log,
    log1p,
    log2,
    log10,
    logaddexp,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    maximum,
    minimum,
    mod,
    multiply,
    nan_to_num,
    negative,
    not_equal,
    positive,
    power,
    real,
    reciprocal,
    remainder,
    rint,
    round,
    sign,
    signbit,
    sin,
    sinh,
    sqrt,
    square,
    subtract,
    tan,
    tanh,
    true_divide,
    trunc,
)
from .mathx import (
    acos,
    acosh,
    angle,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    bitwise_count,
    bitwise_invert,
    bitwise_left_shift,
    bitwise_right_shift,
    copysign,
    deg2rad,
    degrees,
    divmod,
    fabs,
    fmax,
    fmin,
    fmod,
    frexp,
    gcd,
    heaviside,
    hypot,
    i0,
    iscomplex,
    iscomplexobj,
    isneginf,
    isposinf,
    isreal,
    isrealobj,
    isscalar,
    iterable,
    lcm,
    ldexp,
    left_shift,
    logaddexp2,
    modf,
    nextafter,
    rad2deg,
    radians,
    right_shift,
    sinc,
    spacing,
)
from .misc import (
    ComplexWarning,
    array_repr,
    array_str,
    can_cast,
    cdouble,
    character,
    complex_,
    csingle,
    double,
    einsum_path,
    flexible,
    float_,
    frombuffer,
    fromfile,
    fromiter,
    fromstring,
    get_printoptions,
    histogram2d,
    histogramdd,
    int_,
    isdtype,
    load,
    object_,
    packbits,
    printoptions,
    save,
    savez,
    set_printoptions,
    single,
    uint,
    unpackbits,
)
from .numerics import (
    convolve,
    correlate,
    gradient,
    histogram,
    histogram_bin_edges,
    interp,
    trapezoid,
)
from .polynomial import (
    poly,
    polyadd,
    polyder,
    polydiv,
    polyfit,
    polyint,
    polymul,
    polysub,
    polyval,
    roots,
)
from .products import dot, einsum, inner, matmul, outer, tensordot, trace, vdot
from .reductions import (
    all,
    allclose,
    amax,
    amin,
    any,
    argmax,
    argmin,
    array_equal,
    average,
    count_nonzero,
    cumsum,
    max,
    mean,
    min,
    prod,
    ptp,
    std,
    sum,
    var,
)
from .selection import (
    apply_along_axis,
    apply_over_axes,
    array_equiv,
    choose,
    piecewise,
    place,
    put,
    put_along_axis,
    select,
    sort_complex,
    unwrap,
    vectorize,
)
from .setops import (
    argwhere,
    compress,
    extract,
    flatnonzero,
    in1d,
    intersect1d,
    isin,
    nonzero,
    setdiff1d,
    setxor1d,
    union1d,
    where,
)
from .shaping import (
    append,
    block,
    concat,
    delete,
    diagflat,
    dsplit,
    fill_diagonal,
    insert,
    matrix_transpose,
    permute_dims,
    resize,
    rollaxis,
    rot90,
    trim_zeros,
    unstack,
)
from .sorting import (
    argpartition,
    argsort,
    bincount,
    digitize,
    lexsort,
    partition,
    searchsorted,
    sort,
    unique,
    unique_all,
    unique_counts,
    unique_inverse,
    unique_values,
)
from .statistics import (
    corrcoef,
    cov,
    cumprod,
    cumulative_prod,
    cumulative_sum,
    diff,
    ediff1d,
    median,
    nanargmax,
    nanargmin,
    nancumprod,
    nancumsum,
    nanmax,
    nanmean,
    nanmedian,
    nanmin,
    nanpercentile,
    nanprod,
    nanquantile,
    nanstd,
    nansum,
    nanvar,
    percentile,
    quantile,
)
from .ufuncs import frompyfunc, ufunc

# ---------------------------------------------------------------------------
# dtypes and constants (NumPy's own objects)

float16, float32, float64 = _np.float16, _np.float32, _np.float64
pow = power  # noqa: A001 - the array API's name
int8, int16, int32, int64 = _np.int8, _np.int16, _np.int32, _np.int64
uint8, uint16, uint32, uint64 = _np.uint8, _np.uint16, _np.uint32, _np.uint64
complex64, complex128 = _np.complex64, _np.complex128
bool_ = _np.bool_
dtype = _np.dtype
generic, number, inexact, floating = _np.generic, _np.number, _np.inexact, _np.floating
integer, signedinteger, unsignedinteger = _np.integer, _np.signedinteger, _np.unsignedinteger
complexfloating = _np.complexfloating
ndarray = _np.ndarray
iinfo = _np.iinfo
newaxis = None
pi, e, inf, nan, euler_gamma = _np.pi, _np.e, _np.inf, _np.nan, _np.euler_gamma


# ---------------------------------------------------------------------------
# unknown names, and NumPy's dispatch protocols on tracers

def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(f"module 'functrace.numpy' has no attribute {name!r}")
    if name == "bfloat16":  # JAX's bfloat16 is ml_dtypes'; imported when first asked for
        try:
            from ml_dtypes import bfloat16
        except ImportError:
            raise AttributeError("functrace.numpy.bfloat16 is ml_dtypes.bfloat16, as in "
                                 "JAX: pip install ml_dtypes") from None
        globals()["bfloat16"] = bfloat16
        return bfloat16
    if hasattr(_np, name):
        raise AttributeError(f"functrace.numpy has no function {name!r} (NumPy's numpy.{name} "
                             "is not implemented yet); build it from the functrace.numpy "
                             "functions that exist, or from functrace.lax")
    raise AttributeError(f"functrace.numpy has no function {name!r} (NumPy has no "
                         f"numpy.{name} either)")


def _public(name: str):
    obj = globals().get(name)
    return obj if callable(obj) and not name.startswith("_") else None


def _ufunc(np_ufunc, method, *inputs, **kwargs):
    """NumPy ufuncs called on tracers (``np.add(x, y)``) run the fnp function of that name."""
    name = np_ufunc.__name__
    fn = _public(name)
    if fn is None:
        raise _FunctraceError(
            f"numpy.{name} is not supported on traced values; functrace.numpy has no {name!r} "
            "— NumPy cannot see inside a trace, so use functrace.numpy / functrace.lax "
            "functions inside transformed functions.")
    if method in ("reduce", "accumulate", "outer", "reduceat") and isinstance(fn, ufunc):
        return getattr(fn, method)(*inputs, **kwargs)
    if method != "__call__":
        raise _FunctraceError(
            f"numpy.{name}.{method} is not supported on traced values: NumPy cannot see inside "
            f"a trace. Use functrace.numpy (import functrace.numpy as fnp) instead, e.g. the "
            f"reductions fnp.sum/fnp.prod/fnp.max or fnp.cumsum.")
    if kwargs.get("out") is not None or set(kwargs) - {"out"}:
        raise _FunctraceError(f"numpy.{name} on traced values: keyword arguments "
                              f"{sorted(kwargs)} are not supported; call fnp.{name}")
    return fn(*inputs)


def _function(func, types, args, kwargs):
    """NumPy functions called on tracers (``np.sum(x)``) run the fnp function of that name."""
    name = getattr(func, "__name__", repr(func))
    module = getattr(func, "__module__", "numpy") or "numpy"
    fn = _public(name) if module == "numpy" else None
    if module in ("numpy.linalg", "numpy.fft"):  # np.linalg.norm(x) -> fnp.linalg.norm
        sub = linalg if module == "numpy.linalg" else fft
        fn = getattr(sub, name, None) if not name.startswith("_") else None
    if fn is None:
        qual = f"{module}.{name}" if module.startswith("numpy") else f"numpy.{name}"
        missing = qual.removeprefix("numpy.")
        raise _FunctraceError(
            f"{qual} is not supported on traced values; functrace.numpy has no {missing!r} — "
            "NumPy cannot see inside a trace, so use functrace.numpy / functrace.lax functions "
            "inside transformed functions.")
    return fn(*args, **kwargs)


# ---------------------------------------------------------------------------
# tracer operators and methods

_ARRAY_TYPES = (_Tracer, _np.ndarray, _np.generic, list, tuple)


def _binop(fn, reflected: bool = False):
    def method(self, other):
        if not (isinstance(other, _ARRAY_TYPES) or _is_python_scalar(other)):
            return NotImplemented
        return fn(other, self) if reflected else fn(self, other)
    return method


def _reshape_method(self, *new_shape, order: str = "C"):
    if len(new_shape) == 1 and not isinstance(new_shape[0], int | _np.integer):
        new_shape = new_shape[0]
    return reshape(self, new_shape, order)


def _view_as(a, dtype):
    """``a.view(dtype)`` of a traced array: its bits as ``dtype`` (same item size)."""
    dt = _np.dtype(dtype)
    if dt.itemsize != _np.dtype(a.dtype).itemsize:
        raise NotImplementedError(f"view of a traced {a.dtype} array as {dt}: only dtypes of "
                                  "the same size are supported; use lax.bitcast_convert_type")
    return _lax.bitcast_convert_type(a, dt)


def _transpose_method(self, *axes):
    if len(axes) == 1 and (axes[0] is None or not isinstance(axes[0], int | _np.integer)):
        axes = axes[0]
    return transpose(self, axes or None)


_BINARY = {
    "add": add, "sub": subtract, "mul": multiply, "truediv": true_divide,
    "floordiv": floor_divide, "mod": remainder, "pow": power, "matmul": matmul,
    "and": bitwise_and, "or": bitwise_or, "xor": bitwise_xor,
}

_methods = {}
for _name, _fn in _BINARY.items():
    _methods[f"__{_name}__"] = _binop(_fn)
    _methods[f"__r{_name}__"] = _binop(_fn, reflected=True)
for _name, _fn in {"lt": less, "le": less_equal, "gt": greater, "ge": greater_equal,
                   "eq": equal, "ne": not_equal}.items():
    _methods[f"__{_name}__"] = _binop(_fn)
_methods.update({
    "__neg__": negative, "__pos__": positive, "__abs__": absolute, "__invert__": invert,
    "__getitem__": getitem, "reshape": _reshape_method, "transpose": _transpose_method,
    "astype": astype, "sum": sum, "mean": mean, "max": max, "min": min, "prod": prod,
    "var": var, "std": std, "argmax": argmax, "argmin": argmin, "all": all, "any": any,
    "squeeze": squeeze, "flatten": ravel, "ravel": ravel, "clip": clip, "dot": dot,
    "swapaxes": swapaxes, "cumsum": cumsum, "sort": sort, "argsort": argsort,
    "cumprod": cumprod, "conj": conjugate, "conjugate": conjugate, "round": round,
    "real": real, "imag": imag, "trace": trace, "take": take, "repeat": repeat,
    "nonzero": nonzero, "searchsorted": searchsorted, "ptp": ptp,
    "compress": lambda a, condition, axis=None, **kw: compress(condition, a, axis, **kw),
    "choose": lambda a, choices, mode="raise": choose(a, choices, mode=mode),
    "argpartition": lambda a, kth, axis=-1: argpartition(a, kth, axis),
    "copy": lambda a: copy(a), "matrix_transpose": matrix_transpose,
    "view": lambda a, dtype=None: a if dtype is None else _view_as(a, dtype),
    "diagonal": lambda a, offset=0, axis1=0, axis2=1: diagonal(a, offset, axis1, axis2),
    "__ufunc__": _ufunc, "__function__": _function,
    "at": _IndexUpdateHelper,
})
_array_methods.update(_methods)
_array_ops.install(_methods)  # concrete Arrays' operators: JAX's dtypes at NumPy's speed
_ufuncs.install(globals())  # add, multiply, ... become ufuncs (add.reduce, add.at...)
# operators that are one primitive when both operands have one float dtype and one shape
_tape.fast_operators.update({
    "__add__": _lax.add_p, "__radd__": _lax.add_p, "__sub__": _lax.sub_p,
    "__rsub__": _lax.sub_p, "__mul__": _lax.mul_p, "__rmul__": _lax.mul_p,
    "__truediv__": _lax.div_p, "__rtruediv__": _lax.div_p, "__neg__": _lax.neg_p})
del _name, _fn

bool = _np.bool_  # noqa: A001 - jax.numpy's name; defined last, after the code above
