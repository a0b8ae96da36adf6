"""Array creation: ``array``, ``zeros``, ``ones``, ``full``, ``arange``, ``linspace``, ``eye``...

Constant arrays are built with ``lax.full`` / ``lax.iota``, so under ``make_jaxpr``
they appear as equations rather than as large captured constants.
"""

from __future__ import annotations

import operator

import numpy as np

from .. import lax
from ..core.array import wrap
from ..core.avals import canonicalize_dtype, default_float_dtype, default_int_dtype
from ..core.trace import Tracer, concrete_or_none, get_aval
from ..errors import ConcretizationError, ShapeError, check_device, no_sharding
from ._promote import (
    as_array,
    broadcast_to_shape,
    check_dtype,
    convert,
    has_tracer,
    promote_dtypes,
    promote_inexact,
    stack_nested,
)


def _shape(shape) -> tuple[int, ...]:
    if isinstance(shape, int | np.integer) or (isinstance(shape, np.ndarray)
                                               and shape.ndim == 0):
        return (operator.index(shape),)
    try:  # operator.index: 2.5 or "2" is a mistake, not 2
        return tuple(operator.index(d) for d in shape)
    except TypeError:
        raise ShapeError(f"shape must be an int or a sequence of ints, got {shape!r}") from None


def array(object, dtype=None, copy: bool = True, order: str | None = "K", ndmin: int = 0, *,
          device=None, out_sharding=None):  # noqa: A002 - NumPy's name
    """An array from a scalar, a (nested) sequence, a NumPy array or a traced value.

    64-bit inputs become 32-bit unless x64 is enabled, as in ``jax.numpy``.

    Example:
        >>> array([1.0, 2.0])
        array([1., 2.], dtype=float32)
    """
    _placement("array", device, out_sharding)
    del order  # arrays are immutable: the memory order is not observable
    if has_tracer(object):
        out = stack_nested(object)
    else:
        try:
            raw = np.array(object) if copy else np.asarray(object)
        except ValueError:  # NumPy 2 refuses ragged nested sequences
            raw = np.empty((), "O")  # (`object` is the argument here)
        if raw.dtype.kind == "O":
            raise ShapeError("array: the input is a ragged or non-numeric sequence")
        if not isinstance(object, np.ndarray | np.generic):
            _check_python_ints(raw, dtype)
        if dtype is not None:  # cast before narrowing: int64 -> int32 -> float would wrap
            raw = raw.astype(check_dtype(dtype))
        out = as_array(raw)
    if dtype is not None:
        out = convert(out, check_dtype(dtype))
    nd = get_aval(out).ndim
    if ndmin > nd:
        out = lax.reshape(out, (1,) * (ndmin - nd) + get_aval(out).shape)
    return wrap(out)



def _check_python_ints(raw: np.ndarray, dtype) -> None:
    """Python ints that the canonical integer dtype cannot hold raise, as in JAX (NumPy
    would wrap them silently when int64 narrows to int32)."""
    if raw.dtype.kind not in "iu" or raw.size == 0:
        return
    target = canonicalize_dtype(raw.dtype if dtype is None else dtype)
    if target.kind not in "iu" or target == raw.dtype:
        return
    info = np.iinfo(target)
    lo, hi = raw.min(), raw.max()
    if lo < info.min or hi > info.max:
        bad = int(hi if hi > info.max else lo)
        raise OverflowError(f"Python int {bad} too large to convert to {target.name}; "
                            "enable 64-bit types (config.update('enable_x64', True)) or pass "
                            "a float.")


def asarray(a, dtype=None, order=None, *, copy=None, device=None, out_sharding=None):
    """Like ``array`` but never copies a NumPy input that already has the right dtype
    (and, as in JAX, returns a typed PRNG key array as it is)."""
    _placement("asarray", device, out_sharding)
    del order, copy
    if dtype is None and getattr(type(a), "is_key_array", False):
        return a
    return array(a, dtype=dtype, copy=False if isinstance(a, np.ndarray) else True)


def full(shape, fill_value, dtype=None, *, device=None, out_sharding=None):
    """An array of ``shape`` filled with ``fill_value`` (a scalar or a broadcastable array).

    Example:
        >>> full((2,), 3)
        array([3, 3], dtype=int32)
    """
    _placement("full", device, out_sharding)
    shape = _shape(shape)
    dtype = None if dtype is None else check_dtype(dtype)
    if isinstance(fill_value, Tracer) or np.ndim(fill_value) != 0:
        fill = as_array(fill_value)
        fill = fill if dtype is None else convert(fill, dtype)
        return broadcast_to_shape(fill, shape, "full")
    if dtype is None:
        dtype = get_aval(as_array(fill_value)).dtype
    return lax.full(shape, fill_value, dtype)


def zeros(shape, dtype=None, *, device=None, out_sharding=None):
    """An array of zeros (float32 unless ``dtype`` says otherwise); ``device`` may be None
    or a CPU device, ``out_sharding`` None.

    Example:
        >>> zeros(2, np.int32)
        array([0, 0], dtype=int32)
    """
    _placement("zeros", device, out_sharding)
    return lax.full(_shape(shape), 0, check_dtype(dtype, default_float_dtype()))


def ones(shape, dtype=None, *, device=None, out_sharding=None):
    """An array of ones (float32 unless ``dtype`` says otherwise).

    Example:
        >>> ones(2)
        array([1., 1.], dtype=float32)
    """
    _placement("ones", device, out_sharding)
    return lax.full(_shape(shape), 1, check_dtype(dtype, default_float_dtype()))


def empty(shape, dtype=None, *, device=None, out_sharding=None):
    """An array of ``shape``: zeros, as in JAX (arrays are never uninitialised).

    Example:
        >>> empty((1, 2))
        array([[0., 0.]], dtype=float32)
    """
    return zeros(shape, dtype, device=device, out_sharding=out_sharding)


def full_like(a, fill_value, dtype=None, shape=None, *, device=None, out_sharding=None):
    """An array of ``a``'s shape and dtype (unless given) filled with ``fill_value``.

    Example:
        >>> full_like(np.zeros(2, np.int32), 7)
        array([7, 7], dtype=int32)
    """
    _placement("full_like", device, out_sharding)
    av = get_aval(as_array(a))
    return full(av.shape if shape is None else shape, fill_value,
                av.dtype if dtype is None else dtype)


def zeros_like(a, dtype=None, shape=None, *, device=None, out_sharding=None):
    """Zeros of ``a``'s shape and dtype (unless given)."""
    return full_like(a, 0, dtype, shape, device=device, out_sharding=out_sharding)


def ones_like(a, dtype=None, shape=None, *, device=None, out_sharding=None):
    """Ones of ``a``'s shape and dtype (unless given)."""
    return full_like(a, 1, dtype, shape, device=device, out_sharding=out_sharding)


def empty_like(prototype, dtype=None, shape=None, *, device=None):
    """An array of ``prototype``'s shape and dtype (unless given): zeros, as in JAX.

    Example:
        >>> empty_like(np.ones(2, np.int32))
        array([0, 0], dtype=int32)
    """
    return full_like(prototype, 0, dtype, shape, device=device)


def _placement(op: str, device, out_sharding) -> None:
    check_device(op, device)
    no_sharding(op, out_sharding=out_sharding)


def _static(x, op: str, what: str):
    if x is None:
        return None
    val = concrete_or_none(x)
    if val is None:
        raise ConcretizationError(
            f"{op}: {what} must be a concrete value (it decides the shape of the result), "
            "but it is traced; pass a Python number or mark the argument static.")
    return val.item() if np.ndim(val) == 0 else val


def arange(start, stop=None, step=None, dtype=None, *, device=None, out_sharding=None):
    """Evenly spaced values in ``[start, stop)``; the bounds must be concrete.

    Example:
        >>> arange(3)
        array([0, 1, 2], dtype=int32)
    """
    _placement("arange", device, out_sharding)
    if dtype is None:  # JAX: result_type of the bounds (Python numbers are weak)
        given = [v for v in (start, stop, step) if v is not None]
        given = [as_array(v) if isinstance(v, list | tuple) else v for v in given]
        dtype = get_aval(promote_dtypes(*given, op="arange")[0]).dtype
    dtype = check_dtype(dtype)
    start, stop, step = (_static(v, "arange", n) for v, n in
                         ((start, "start"), (stop, "stop"), (step, "step")))
    if stop is None:
        start, stop = 0, start
    step = 1 if step is None else step
    if step == 0:
        raise ShapeError(f"arange: step must not be zero (start={start}, stop={stop})")
    n = max(int(np.ceil((stop - start) / step)), 0)
    if start == 0 and step == 1 and np.issubdtype(dtype, np.number) and n > 0:
        return lax.iota(dtype, n)
    # NumPy's arange in dtype, as JAX's for concrete bounds (so an integer dtype with a
    # float step counts in integer steps: arange(0, 5, 1.5, dtype=int) is [0, 1, 2, 3])
    return as_array(np.arange(start, stop, step, dtype=dtype))


def linspace(start, stop, num: int = 50, endpoint: bool = True, retstep: bool = False,
             dtype=None, axis: int = 0, *, device=None):
    """``num`` evenly spaced values from ``start`` to ``stop`` (traced bounds allowed).

    Array bounds broadcast together and the samples run along ``axis``. Without
    ``dtype`` the result has the inexact dtype of ``start`` and ``stop`` (JAX's
    ``result_type``: Python scalars are weak, so float32 by default, float16 for float16
    bounds).

    Example:
        >>> linspace(0.0, 1.0, 3)
        array([0. , 0.5, 1. ], dtype=float32)
    """
    check_device("linspace", device)
    if not isinstance(num, int | np.integer) or num < 0:
        raise ShapeError(f"linspace: num must be a non-negative int, got {num!r}")
    start_v, stop_v = promote_inexact(start, stop, op="linspace")
    bounds_dtype = get_aval(start_v).dtype
    out_dtype = check_dtype(dtype) if dtype is not None else bounds_dtype
    if not any(isinstance(v, Tracer) for v in (start_v, stop_v)):
        wide = np.complex128 if bounds_dtype.kind == "c" else np.float64
        vals, step = np.linspace(np.asarray(start_v, wide), np.asarray(stop_v, wide), num,
                                 endpoint=endpoint, retstep=True, axis=axis)
        if out_dtype.kind in "iu" and vals.dtype.kind == "f":
            vals = np.floor(vals)  # JAX floors into an integer dtype
        out = as_array(vals.astype(out_dtype))
        return (out, as_array(np.asarray(step).astype(out_dtype))) if retstep else out
    return _linspace_traced(as_array(start_v), as_array(stop_v), num, endpoint, retstep,
                            out_dtype, axis)


def _linspace_traced(start_v, stop_v, num, endpoint, retstep, out_dtype, axis):
    """``start + i * step`` written with lax, so it stays differentiable; the last sample
    is ``stop`` itself when ``endpoint``."""
    shape = np.broadcast_shapes(get_aval(start_v).shape, get_aval(stop_v).shape)
    start_v = broadcast_to_shape(start_v, shape, "linspace")
    stop_v = broadcast_to_shape(stop_v, shape, "linspace")
    fdt = get_aval(start_v).dtype
    step = lax.div(lax.sub(stop_v, start_v),
                   np.asarray(max((num - 1) if endpoint else num, 1), fdt))
    full = (num,) + shape
    dims = tuple(range(1, len(full)))
    idx = lax.convert_element_type(lax.broadcasted_iota(default_int_dtype(), full, 0), fdt)
    out = lax.add(lax.broadcast_in_dim(start_v, full, dims),
                  lax.mul(idx, lax.broadcast_in_dim(step, full, dims)))
    if endpoint and num > 1:
        last = lax.broadcast_in_dim(stop_v, (1,) + shape, dims)
        out = lax.concatenate([lax.slice_in_dim(out, 0, num - 1, axis=0), last], 0)
    ax = axis % len(full)
    out = lax.transpose(out, tuple(range(1, ax + 1)) + (0,) + tuple(range(ax + 1, len(full))))
    if out_dtype.kind in "iu" and fdt.kind == "f":
        out = lax.floor(out)
    out = convert(out, out_dtype)
    return (out, convert(step, out_dtype)) if retstep else out


def eye(N: int, M: int | None = None, k: int = 0, dtype=None, *, device=None):
    """The ``N x M`` matrix with ones on the ``k``-th diagonal.

    Example:
        >>> eye(2)
        array([[1., 0.],
               [0., 1.]], dtype=float32)
    """
    check_device("eye", device)
    M = N if M is None else M
    dtype = check_dtype(dtype, default_float_dtype())
    rows = lax.broadcasted_iota(np.int32, (N, M), 0)
    cols = lax.broadcasted_iota(np.int32, (N, M), 1)
    return lax.convert_element_type(lax.eq(lax.add(rows, np.int32(k)), cols), dtype)


def identity(n: int, dtype=None):
    """The ``n x n`` identity matrix."""
    return eye(n, dtype=dtype)


def tri_mask(n: int, m: int, k: int):
    """Boolean ``(n, m)`` mask of the entries on or below the ``k``-th diagonal."""
    rows = lax.broadcasted_iota(np.int32, (n, m), 0)
    cols = lax.broadcasted_iota(np.int32, (n, m), 1)
    return lax.ge(lax.add(rows, np.int32(k)), cols)


def tri(N: int, M: int | None = None, k: int = 0, dtype=None):
    """Ones on and below the ``k``-th diagonal of an ``N x M`` matrix."""
    M = N if M is None else M
    return lax.convert_element_type(tri_mask(N, M, k),
                                    check_dtype(dtype, default_float_dtype()))


__all__ = ["array", "asarray", "zeros", "ones", "full", "empty", "zeros_like", "ones_like",
           "full_like", "empty_like", "arange", "linspace", "eye", "identity", "tri"]

