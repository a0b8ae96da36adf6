"""Abstract values (avals) and the dtype rules.

``ShapedArray(shape, dtype, weak_type)`` is the type of every jaxpr variable.
Dtype rules follow JAX: float32 is the default float, int32 the default int
(float64/int64 only with ``enable_x64``), and Python scalars are *weakly typed*:
``f32_array * 2.0`` stays float32.
"""

from __future__ import annotations

import functools
import numbers
import sys

import numpy as np

from ..config import config
from ..errors import DTypeError
from .array import Array

_SHORT = {
    "float16": "f16", "float32": "f32", "float64": "f64", "bfloat16": "bf16",
    "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
    "uint8": "u8", "uint16": "u16", "uint32": "u32", "uint64": "u64",
    "bool": "bool", "complex64": "c64", "complex128": "c128",
}


class ShapedArray:
    """The abstract value of an array: a shape, a dtype and a weak-type flag.

    Example:
        >>> ShapedArray((2, 3), np.float32)
        ShapedArray(float32[2,3])
    """

    __slots__ = ("shape", "dtype", "weak_type")
    array_abstraction_level = 1

    def __init__(self, shape, dtype, weak_type: bool = False):
        self.shape = shape if type(shape) is tuple and all(
            type(d) is int for d in shape) else tuple(int(d) for d in shape)
        self.dtype = dtype if isinstance(dtype, np.dtype) else np.dtype(dtype)
        self.weak_type = bool(weak_type)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def update(self, shape=None, dtype=None, weak_type=None) -> ShapedArray:
        return ShapedArray(
            self.shape if shape is None else shape,
            self.dtype if dtype is None else dtype,
            self.weak_type if weak_type is None else weak_type,
        )

    def strip_weak_type(self) -> ShapedArray:
        return ShapedArray(self.shape, self.dtype) if self.weak_type else self

    def str_short(self) -> str:
        return f"{_SHORT.get(self.dtype.name, self.dtype.name)}[{','.join(map(str, self.shape))}]"

    def __eq__(self, other) -> bool:
        return (type(other) is ShapedArray and self.shape == other.shape
                and self.dtype == other.dtype and self.weak_type == other.weak_type)

    def __hash__(self) -> int:
        return hash((self.shape, self.dtype, self.weak_type))

    def _long(self) -> str:
        return f"{self.dtype.name}[{','.join(map(str, self.shape))}]"

    def __repr__(self) -> str:  # as JAX: ShapedArray(float32[2,3], weak_type=True)
        weak = ", weak_type=True" if self.weak_type else ""
        return f"ShapedArray({self._long()}{weak})"

    def __str__(self) -> str:  # as JAX: ~float32[] for a weakly typed value
        return ("~" if self.weak_type else "") + self._long()


# ---------------------------------------------------------------------------
# dtypes

def default_float_dtype() -> np.dtype:
    return np.dtype(np.float64 if config.enable_x64 else np.float32)


def default_int_dtype() -> np.dtype:
    return np.dtype(np.int64 if config.enable_x64 else np.int32)


def canonicalize_dtype(dtype) -> np.dtype:
    """Maps 64-bit dtypes to 32-bit ones unless ``enable_x64`` is on; rejects dtypes that
    are not numbers (strings, objects, dates), which no primitive can compute with."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "biufc" and dtype.name not in _SHORT:
        raise DTypeError(
            f"functrace arrays hold booleans, integers, floats or complex numbers; got dtype "
            f"{dtype} ({_KIND_NAMES.get(dtype.kind, 'not a number')}). Convert the value to a "
            "numeric array first, or keep it out of the traced arguments (close over it, or "
            "mark it static with jit's static_argnums).")
    if config.enable_x64:
        return dtype
    return _NARROW.get(dtype, dtype)


_KIND_NAMES = {"U": "strings", "S": "bytes", "O": "Python objects", "M": "dates",
               "m": "time deltas", "V": "raw or structured records"}

_NARROW = {
    np.dtype(np.float64): np.dtype(np.float32),
    np.dtype(np.int64): np.dtype(np.int32),
    np.dtype(np.uint64): np.dtype(np.uint32),
    np.dtype(np.complex128): np.dtype(np.complex64),
}


def dtype_kind(dtype) -> str:
    """NumPy's kind character, with ``"f"`` for the ml_dtypes floats (bfloat16, float8_*),
    which NumPy files under ``"V"`` (void)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "V" and dtype.type.__module__ == "ml_dtypes" and "float" in dtype.name:
        return "f"
    return dtype.kind


# the dtype of the gradient of an integer input under grad(allow_int=True), as JAX's
# ``jax.dtypes.float0``: zero bytes per element
float0 = np.dtype([("float0", np.void, 0)])


def finfo(dtype):
    """``numpy.finfo``, also for the ml_dtypes floats (bfloat16, float8_*), whose own
    ``finfo`` lives in ml_dtypes (loaded already if such a dtype exists)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "V" and dtype_kind(dtype) == "f":
        return sys.modules[dtype.type.__module__].finfo(dtype)
    return np.finfo(dtype)


def is_float(dtype) -> bool:
    return dtype_kind(dtype) == "f"


def is_inexact(dtype) -> bool:
    return dtype_kind(dtype) in "fc"


def is_int(dtype) -> bool:
    return np.dtype(dtype).kind in "iu"


_KIND_OF_CHAR = {"b": 0, "i": 1, "u": 1, "f": 2, "c": 3}


def _kind(dtype) -> int:
    return _KIND_OF_CHAR.get(dtype_kind(dtype), 3)


_DEFAULTS = {  # enable_x64 -> default dtype per kind (bool, int, float, complex)
    False: (np.dtype(np.bool_), np.dtype(np.int32), np.dtype(np.float32),
            np.dtype(np.complex64)),
    True: (np.dtype(np.bool_), np.dtype(np.int64), np.dtype(np.float64),
           np.dtype(np.complex128)),
}


def _default_of_kind(kind: int) -> np.dtype:
    return _DEFAULTS[config.enable_x64][kind]


def python_scalar_signature(x):
    """``((), dtype, True)`` for a Python bool/int/float/complex, else ``None`` (fast path)."""
    kind = _PY_KIND.get(type(x))
    return None if kind is None else ((), _DEFAULTS[config.enable_x64][kind], True)


def result_type(*avals: ShapedArray) -> tuple[np.dtype, bool]:
    """JAX's promotion: returns (dtype, weak_type) for a binary/n-ary operation.

    Weak (Python scalar) operands adopt a strong operand's dtype when their kind
    (bool < int < float < complex) is not higher; otherwise they promote to the
    default dtype of their kind.
    """
    strong = [a.dtype for a in avals if not a.weak_type]
    weak = [a.dtype for a in avals if a.weak_type]
    if strong:
        dtype = strong[0]
        for d in strong[1:]:
            dtype = _promote_strong(dtype, d)
        if weak:
            wk = max(_kind(d) for d in weak)
            if wk > _kind(dtype):
                return _default_of_kind(wk), True
        return dtype, False
    kind = max(_kind(d) for d in weak)
    return _default_of_kind(kind), True


def _promote_strong(a: np.dtype, b: np.dtype) -> np.dtype:
    if a == b:
        return a
    ka, kb = _kind(a), _kind(b)
    if ka != kb:  # int with float: the float wins, as in JAX (not NumPy's widening)
        return a if ka > kb else b
    return canonicalize_dtype(np.promote_types(a, b))


# ---------------------------------------------------------------------------
# values

_SCALAR_TYPES = (bool, int, float, complex)
_PY_KIND = {bool: 0, int: 1, float: 2, complex: 3}


def is_python_scalar(x) -> bool:
    return type(x) in _SCALAR_TYPES or (
        isinstance(x, numbers.Number) and not isinstance(x, np.generic | np.ndarray))


# a concrete array's abstract value, as jax.Array.aval (core.array cannot import this module)
Array.aval = property(lambda self: ShapedArray(self.shape, self.dtype))

# exact types taken as NumPy arrays without a conversion: np.ndarray and core.array.Array
ARRAY_TYPES: set[type] = {np.ndarray, Array}
# device-resident array types (shape, dtype, a platform): a backend adds its own. Their
# avals need no transfer; turning one into a NumPy value is a (guarded) device-to-host copy.
DEVICE_ARRAY_TYPES: set[type] = set()


def canonicalize_value(x) -> np.ndarray:
    """Turns a Python scalar, NumPy scalar or array into a canonical NumPy array."""
    if type(x) in ARRAY_TYPES:
        if type(x) is not np.ndarray:  # kernels and impls get plain arrays
            x = x.view(np.ndarray)
        dt = canonicalize_dtype(x.dtype)
        return x if dt == x.dtype else x.astype(dt)
    kind = _PY_KIND.get(type(x))
    if kind is not None:
        return np.asarray(x, _default_of_kind(kind))
    if is_python_scalar(x):
        return np.asarray(x, _default_of_kind(_kind(np.asarray(x).dtype)))
    if isinstance(x, np.generic):
        return np.asarray(x, canonicalize_dtype(x.dtype))
    if isinstance(x, list | tuple):
        raise DTypeError(
            f"Expected an array or a scalar, got a {type(x).__name__}; wrap it with "
            "functrace.numpy.asarray(...) first (lists and tuples are pytrees, not arrays).")
    try:
        arr = np.asarray(x)
    except Exception as e:  # noqa: BLE001 - re-raised with context
        raise DTypeError(f"Cannot convert a {type(x).__name__} to an array: {e}") from None
    if arr.dtype == object:
        raise DTypeError(
            f"Cannot use a value of type {type(x).__name__} ({x!r:.60}) as an array; pass "
            "arrays or Python numbers, or keep it out of the traced arguments (close over it, "
            "or mark it static with jit's static_argnums).")
    return canonicalize_value(arr)


@functools.lru_cache(maxsize=4096)
def _array_aval(shape, dtype, x64) -> ShapedArray:
    return ShapedArray(shape, canonicalize_dtype(dtype))


@functools.lru_cache(maxsize=16)
def _scalar_aval(kind, x64) -> ShapedArray:
    return ShapedArray((), _DEFAULTS[x64][kind], weak_type=True)


def aval_of_value(x) -> ShapedArray:
    """The aval of a concrete value (weakly typed for Python scalars)."""
    if type(x) in ARRAY_TYPES or type(x) in DEVICE_ARRAY_TYPES:
        return _array_aval(x.shape, x.dtype, config.enable_x64)
    kind = _PY_KIND.get(type(x))
    if kind is not None:
        return _scalar_aval(kind, config.enable_x64)
    if is_python_scalar(x):
        return ShapedArray((), _default_of_kind(_kind(np.asarray(x).dtype)), weak_type=True)
    if isinstance(x, np.generic):
        return ShapedArray((), canonicalize_dtype(x.dtype))
    return aval_of_value(canonicalize_value(x))
