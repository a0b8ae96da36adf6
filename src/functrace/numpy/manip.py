"""Shape manipulation: reshape, transpose, squeeze, expand_dims, broadcasting, the
``atleast_*d`` family; and the shape/dtype queries (``shape``, ``result_type``...).
Joining, splitting, padding and tiling live in ``arrange.py``.
"""

from __future__ import annotations

import operator

import numpy as np

from .. import lax
from ..core.avals import ShapedArray, canonicalize_dtype
from ..core.avals import result_type as _rt
from ..core.trace import Tracer, get_aval
from ..errors import FunctraceError, ShapeError, check_device, no_sharding
from ._promote import (
    _fmt,
    as_array,
    as_operand,
    broadcast_to_shape,
    canonical_axes,
    canonical_axis,
    check_dtype,
    convert,
)
from ._promote import broadcast_shapes as _broadcast_shapes
from ._renamed import DEPRECATED, renamed


def _shape(x) -> tuple[int, ...]:
    return get_aval(x).shape


# ---------------------------------------------------------------------------
# shape and dtype queries

def shape(a) -> tuple[int, ...]:
    """The shape of ``a``."""
    return _shape(as_operand(a))


def ndim(a) -> int:
    """The number of dimensions of ``a``."""
    return len(shape(a))


def size(a, axis=None) -> int:
    """The number of elements of ``a`` (along ``axis``, an int or a tuple, if given)."""
    s = shape(a)
    if axis is not None:
        s = tuple(s[d] for d in canonical_axes(axis, len(s), "size"))
    n = 1
    for d in s:
        n *= d
    return n


def astype(x, dtype, /, *, copy: bool = False, device=None):
    """``x`` converted to ``dtype`` (canonicalised: float64 -> float32 unless x64);
    ``device`` may be None or a CPU device.

    Example:
        >>> astype(np.arange(2), np.float32)
        array([0., 1.], dtype=float32)
    """
    del copy
    check_device("astype", device)
    return convert(as_array(x), check_dtype(dtype))


_PY_TYPES = {bool: True, int: 0, float: 0.0, complex: 0j}


def _aval_for_result_type(x) -> ShapedArray:
    if x in _PY_TYPES if isinstance(x, type) else False:
        return get_aval(_PY_TYPES[x])  # Python types are weak, like Python scalars
    if isinstance(x, np.dtype | str) or (isinstance(x, type) and issubclass(x, np.generic)):
        return ShapedArray((), canonicalize_dtype(np.dtype(x)))
    return get_aval(as_operand(x))


def result_type(*arrays_and_dtypes) -> np.dtype:
    """The dtype of an operation on these arrays/dtypes, with JAX's promotion rules.

    Example:
        >>> result_type(np.float32, 2.0)
        dtype('float32')
    """
    return _rt(*[_aval_for_result_type(x) for x in arrays_and_dtypes])[0]


def promote_types(a, b) -> np.dtype:
    """The smallest dtype both ``a`` and ``b`` promote to (JAX rules).

    Example:
        >>> promote_types(np.int8, np.uint8)
        dtype('int16')
    """
    return _rt(ShapedArray((), canonicalize_dtype(a)),
               ShapedArray((), canonicalize_dtype(b)))[0]


# ---------------------------------------------------------------------------
# reshaping and axes

def _static_ints(values, op: str) -> tuple[int, ...]:
    if isinstance(values, int | np.integer | Tracer):
        values = (values,)
    try:
        return tuple(operator.index(v) for v in values)
    except TypeError:
        raise ShapeError(f"{op}: expected integers, got {values!r}") from None


def reshape(a, shape=None, order: str = "C", *, newshape=DEPRECATED, copy=None,
            out_sharding=None):
    """``a`` with a new shape of the same size; one entry may be -1 (inferred).
    ``order="F"`` reads and writes the entries in column-major order.

    ``newshape`` is the deprecated spelling of ``shape`` (it works, with a
    ``DeprecationWarning``); ``copy`` is accepted and ignored (arrays are immutable);
    ``out_sharding`` must be None.

    Example:
        >>> reshape(np.arange(6, dtype=np.float32), (2, -1)).shape
        (2, 3)
    """
    if order not in ("C", "F"):
        raise FunctraceError(f"reshape: order must be 'C' or 'F' (as in JAX), got {order!r}")
    del copy
    no_sharding("reshape", out_sharding=out_sharding)
    shape = renamed("reshape", "newshape", newshape, "shape", shape)
    if shape is None:
        raise TypeError("reshape: missing the shape argument; call reshape(a, shape)")
    x = as_array(a)
    new = _static_ints(shape, "reshape")
    if order == "F":  # column-major: a C-order reshape of the reversed axes, reversed back
        return transpose(reshape(transpose(x), tuple(reversed(new))))
    total = get_aval(x).size
    if new.count(-1) > 1:
        raise ShapeError(f"reshape: can only specify one unknown dimension, got {new}")
    if -1 in new:
        known = 1
        for d in new:
            known *= d if d != -1 else 1
        if known == 0 or total % known:
            raise ShapeError(f"reshape: cannot reshape an array of size {total} into shape "
                             f"{_fmt(new)}")
        new = tuple(total // known if d == -1 else d for d in new)
    return lax.reshape(x, new)


def ravel(a, order: str = "C", *, out_sharding=None):
    """``a`` flattened to one dimension (row-major; column-major with ``order="F"``)."""
    no_sharding("ravel", out_sharding=out_sharding)
    return reshape(a, (-1,), order)


def transpose(a, axes=None):
    """``a`` with its axes permuted (reversed when ``axes`` is None).

    Example:
        >>> transpose(np.zeros((2, 3, 4), np.float32), (1, 0, 2)).shape
        (3, 2, 4)
    """
    x = as_array(a)
    nd = len(_shape(x))
    if axes is None:
        perm = tuple(reversed(range(nd)))
    else:
        perm = tuple(canonical_axis(p, nd, "transpose") for p in _static_ints(axes, "transpose"))
        if sorted(perm) != list(range(nd)):
            raise ShapeError(f"transpose: axes {tuple(axes)} are not a permutation of the axes "
                             f"of an array of shape {_fmt(_shape(x))}")
    return lax.transpose(x, perm)


def swapaxes(a, axis1: int, axis2: int):
    """``a`` with ``axis1`` and ``axis2`` exchanged."""
    x = as_array(a)
    nd = len(_shape(x))
    perm = list(range(nd))
    i, j = canonical_axis(axis1, nd, "swapaxes"), canonical_axis(axis2, nd, "swapaxes")
    perm[i], perm[j] = perm[j], perm[i]
    return lax.transpose(x, perm)


def moveaxis(a, source, destination):
    """``a`` with the axes ``source`` moved to positions ``destination``."""
    x = as_array(a)
    nd = len(_shape(x))
    src = [canonical_axis(s, nd, "moveaxis") for s in _static_ints(source, "moveaxis")]
    dst = [canonical_axis(d, nd, "moveaxis") for d in _static_ints(destination, "moveaxis")]
    if len(src) != len(dst):
        raise ShapeError("moveaxis: source and destination must have the same number of axes")
    perm = [n for n in range(nd) if n not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        perm.insert(d, s)
    return lax.transpose(x, perm)


def squeeze(a, axis=None):
    """``a`` without its size-1 axes (only those in ``axis`` if given)."""
    x = as_array(a)
    s = _shape(x)
    if axis is None:
        axes = tuple(i for i, d in enumerate(s) if d == 1)
    else:
        axes = canonical_axes(axis, len(s), "squeeze")
        bad = [i for i in axes if s[i] != 1]
        if bad:
            raise ShapeError(f"squeeze: cannot select an axis to squeeze out which has size not "
                             f"equal to one (axis {bad[0]} of shape {_fmt(s)})")
    return lax.squeeze(x, axes)


def expand_dims(a, axis):
    """``a`` with new size-1 axes at the positions ``axis`` of the result."""
    x = as_array(a)
    axis = _static_ints(axis, "expand_dims")
    out_nd = len(_shape(x)) + len(axis)
    return lax.expand_dims(x, canonical_axes(axis, out_nd, "expand_dims"))


def broadcast_to(array, shape, *, out_sharding=None):
    """``array`` broadcast to ``shape`` with NumPy's rules."""
    no_sharding("broadcast_to", out_sharding=out_sharding)
    return broadcast_to_shape(as_array(array), _static_ints(shape, "broadcast_to"))


def broadcast_arrays(*args):
    """The arguments broadcast against each other (a list of arrays)."""
    xs = [as_array(a) for a in args]
    target = _broadcast_shapes("broadcast_arrays", *[_shape(x) for x in xs])
    return [broadcast_to_shape(x, target, "broadcast_arrays") for x in xs]


def broadcast_shapes(*shapes):
    """The shape that ``shapes`` broadcast to."""
    return _broadcast_shapes("broadcast_shapes", *[_static_ints(s, "broadcast_shapes")
                                                  for s in shapes])


def atleast_1d(*arys):
    """Each input with at least one dimension."""
    out = [reshape(x, (1,)) if ndim(x) == 0 else as_array(x) for x in arys]
    return out[0] if len(out) == 1 else out


def atleast_2d(*arys):
    """Each input with at least two dimensions (1-D ``(n,)`` becomes ``(1, n)``)."""
    out = [reshape(x, (1,) * (2 - ndim(x)) + shape(x)) if ndim(x) < 2 else as_array(x)
           for x in arys]
    return out[0] if len(out) == 1 else out


def atleast_3d(*arys):
    """Each input with at least three dimensions (``(n,)`` -> ``(1, n, 1)``)."""
    def one(x):
        s = shape(x)
        if len(s) == 0:
            return reshape(x, (1, 1, 1))
        if len(s) == 1:
            return reshape(x, (1, s[0], 1))
        return reshape(x, s + (1,)) if len(s) == 2 else as_array(x)
    out = [one(x) for x in arys]
    return out[0] if len(out) == 1 else out


def copy(a, order=None):
    """A copy of ``a`` (arrays are immutable, so ``a`` itself as an array); ``order`` is
    accepted for NumPy compatibility and, as in JAX, has no effect.

    Example:
        >>> copy(np.arange(3, dtype=np.float32), order="K")
        array([0., 1., 2.], dtype=float32)
    """
    del order
    return as_array(a)


def meshgrid(*xi, copy: bool = True, sparse: bool = False, indexing: str = "xy"):
    """Coordinate arrays from 1-D coordinate vectors (``indexing='xy'`` or ``'ij'``).

    Example:
        >>> [g.shape for g in meshgrid(np.zeros(2), np.zeros(3))]
        [(3, 2), (3, 2)]
    """
    del copy
    if indexing not in ("xy", "ij"):
        raise FunctraceError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    xs = [ravel(x) for x in xi]
    dims = list(range(len(xs)))
    if indexing == "xy" and len(xs) >= 2:
        dims[0], dims[1] = 1, 0
    shape = [0] * len(xs)
    for x, d in zip(xs, dims, strict=True):
        shape[d] = _shape(x)[0]
    out = []
    for x, d in zip(xs, dims, strict=True):
        target = tuple(n if k == d else 1 for k, n in enumerate(shape)) if sparse else shape
        out.append(lax.broadcast_in_dim(x, tuple(target), (d,)))
    return out
