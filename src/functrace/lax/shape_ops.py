"""Shape primitives: broadcast_in_dim, reduce_sum, reshape, transpose, squeeze,
expand_dims, convert_element_type. They live together because each one's
transpose is another one of them."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from functools import partial

import numpy as np

from ..core.avals import ShapedArray, canonicalize_dtype, canonicalize_value, is_inexact
from ..core.trace import Primitive, abstract_eval_rules, get_aval, impl_rules
from ..errors import DTypeError, ShapeError, no_sharding
from ..transforms import batching
from ..transforms.ad import Zero, deflinear, jvp_rules, tangent_aval, transpose_rules
from ..transforms.batching import batching_rules, bdim_at_front, defvectorized

__all__ = [
    "broadcast", "broadcast_in_dim", "broadcast_in_dim_p", "convert_element_type",
    "convert_element_type_p", "expand_dims", "expand_dims_p", "reduce_sum", "reduce_sum_p",
    "reshape", "reshape_p", "squeeze", "squeeze_p", "transpose", "transpose_p",
]


def _axes_tuple(axes, ndim: int, op: str) -> tuple[int, ...]:
    if axes is None:
        return tuple(range(ndim))
    if isinstance(axes, int | np.integer):
        axes = (axes,)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < ndim:
            raise ShapeError(f"{op}: axis {a} is out of bounds for an array of rank {ndim}")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: repeated axis in {tuple(axes)}")
    return tuple(out)


# ---------------------------------------------------------------------------
# broadcast_in_dim

broadcast_in_dim_p = Primitive("broadcast_in_dim", impl_fallback=True)


def broadcast_in_dim(operand, shape: Sequence[int], broadcast_dimensions: Sequence[int], *,
                     out_sharding=None):
    """Broadcasts ``operand`` to ``shape``; operand dim ``i`` maps to ``broadcast_dimensions[i]``.

    Example:
        >>> broadcast_in_dim(np.ones(3, np.float32), (2, 3), (1,)).shape
        (2, 3)
    """
    if out_sharding is not None:
        no_sharding("lax.broadcast_in_dim", out_sharding=out_sharding)
    shape = tuple(int(d) for d in shape)
    dims = tuple(int(d) for d in broadcast_dimensions)
    if get_aval(operand).shape == shape and dims == tuple(range(len(shape))):
        return operand
    return broadcast_in_dim_p.bind(operand, shape=shape, broadcast_dimensions=dims)


def _broadcast_in_dim_impl(x, *, shape, broadcast_dimensions):
    expanded = [1] * len(shape)
    for i, d in enumerate(broadcast_dimensions):
        expanded[d] = x.shape[i]
    return np.broadcast_to(x.reshape(expanded), shape)


def _broadcast_in_dim_abstract(x, *, shape, broadcast_dimensions):
    if any(d < 0 for d in shape):
        raise ShapeError(f"broadcast_in_dim: the target shape {shape} has a negative dimension")
    ok = len(broadcast_dimensions) == x.ndim and all(
        0 <= d < len(shape) and x.shape[i] in (1, shape[d])
        for i, d in enumerate(broadcast_dimensions)
    ) and list(broadcast_dimensions) == sorted(set(broadcast_dimensions))
    if not ok:
        raise ShapeError(
            f"broadcast_in_dim: cannot broadcast operand of shape {x.shape} to {shape} with "
            f"broadcast_dimensions={broadcast_dimensions}; each operand dim must be 1 or equal "
            "to the target dim it maps to, and the dims must be strictly increasing")
    return ShapedArray(shape, x.dtype, x.weak_type)


def _broadcast_in_dim_transpose(ct, x, *, shape, broadcast_dimensions):
    in_shape = x.aval.shape
    sum_dims = tuple(d for d in range(len(shape)) if d not in broadcast_dimensions)
    unit_dims = tuple(broadcast_dimensions[i] for i, n in enumerate(in_shape)
                      if n == 1 and shape[broadcast_dimensions[i]] != 1)
    ct = reduce_sum(ct, tuple(sorted(sum_dims + unit_dims)))
    return [reshape(ct, in_shape)]


impl_rules[broadcast_in_dim_p] = _broadcast_in_dim_impl
abstract_eval_rules[broadcast_in_dim_p] = _broadcast_in_dim_abstract
deflinear(broadcast_in_dim_p, _broadcast_in_dim_transpose)


def _broadcast_in_dim_batch(args, dims, *, shape, broadcast_dimensions):
    (x,), (d,) = args, dims
    x = bdim_at_front(x, d, 1)
    size = get_aval(x).shape[0]
    return broadcast_in_dim_p.bind(x, shape=(size, *shape), broadcast_dimensions=(
        0, *(b + 1 for b in broadcast_dimensions))), 0


batching_rules[broadcast_in_dim_p] = _broadcast_in_dim_batch


def broadcast(operand, sizes: Sequence[int], *, out_sharding=None):
    """Adds leading dimensions ``sizes`` (``lax.broadcast``)."""
    no_sharding("lax.broadcast", out_sharding=out_sharding)
    aval = get_aval(operand)
    sizes = tuple(sizes)
    dims = tuple(range(len(sizes), len(sizes) + aval.ndim))
    return broadcast_in_dim(operand, sizes + aval.shape, dims)


def broadcast_to_rank0(x, shape):
    """Broadcasts a rank-0 value to ``shape`` (used by the rank-0 rules of binary ops)."""
    return broadcast_in_dim(x, shape, ())


# ---------------------------------------------------------------------------
# reduce_sum

reduce_sum_p = Primitive("reduce_sum", fusible_reduction=True, impl_fallback=True)


def reduce_sum(operand, axes: Sequence[int], *, out_sharding=None):
    """Sums ``operand`` over ``axes`` (``lax.reduce_sum``)."""
    no_sharding("lax.reduce_sum", out_sharding=out_sharding)
    axes = _axes_tuple(axes, get_aval(operand).ndim, "reduce_sum")
    if not axes:
        return operand
    return reduce_sum_p.bind(operand, axes=tuple(sorted(axes)))


def _reduce_sum_abstract(x, *, axes):
    _axes_tuple(axes, x.ndim, "reduce_sum")
    shape = tuple(n for i, n in enumerate(x.shape) if i not in axes)
    return ShapedArray(shape, x.dtype, x.weak_type)


def _reduce_sum_transpose(ct, x, *, axes):
    shape = x.aval.shape
    kept = tuple(i for i in range(len(shape)) if i not in axes)
    return [broadcast_in_dim(ct, shape, kept)]


impl_rules[reduce_sum_p] = lambda x, *, axes: np.sum(x, axis=axes, dtype=x.dtype)
abstract_eval_rules[reduce_sum_p] = _reduce_sum_abstract
deflinear(reduce_sum_p, _reduce_sum_transpose)


def reducer_batcher(prim: Primitive, args, dims, *, axes, **params):
    """Rule of a primitive reducing ``axes`` (reduce_*, argmax/argmin): the axes of one
    example become axes of the batched operand; the batch dim moves past the removed ones."""
    (x,), (d,) = args, dims
    out = prim.bind(x, axes=tuple(a + (a >= d) for a in axes), **params)
    return out, d - sum(a < d for a in axes)


def defreducer(prim: Primitive):
    batching_rules[prim] = partial(reducer_batcher, prim)


defreducer(reduce_sum_p)


# ---------------------------------------------------------------------------
# reshape

reshape_p = Primitive("reshape", impl_fallback=True)


def reshape(operand, new_sizes: Sequence[int], dimensions=None, *, out_sharding=None):
    """Reshapes ``operand`` (row-major) to ``new_sizes`` (``lax.reshape``)."""
    if out_sharding is not None:
        no_sharding("lax.reshape", out_sharding=out_sharding)
    aval = get_aval(operand)
    try:  # operator.index: a float or a string is a mistake, not a size
        new_sizes = tuple(operator.index(d) for d in new_sizes)
    except TypeError:
        raise ShapeError(f"reshape: new_sizes must be a sequence of ints, got {new_sizes!r} "
                         f"(for an operand of shape {aval.shape})") from None
    if dimensions is not None and tuple(dimensions) != tuple(range(aval.ndim)):
        operand = transpose(operand, dimensions)
    # compare with the (possibly transposed) operand, not the original one
    if get_aval(operand).shape == new_sizes:
        return operand
    return reshape_p.bind(operand, new_sizes=new_sizes, dimensions=None)


def _reshape_abstract(x, *, new_sizes, dimensions):
    if any(d < 0 for d in new_sizes) or int(np.prod(new_sizes, dtype=np.int64)) != x.size:
        raise ShapeError(f"reshape: cannot reshape an array of shape {x.shape} (size {x.size}) "
                         f"into shape {new_sizes}")
    return ShapedArray(new_sizes, x.dtype, x.weak_type)


impl_rules[reshape_p] = lambda x, *, new_sizes, dimensions: np.reshape(x, new_sizes)
abstract_eval_rules[reshape_p] = _reshape_abstract
deflinear(reshape_p, lambda ct, x, **_: [reshape(ct, x.aval.shape)])


def _reshape_batch(args, dims, *, new_sizes, dimensions):
    (x,), (d,) = args, dims
    x = bdim_at_front(x, d, 1)
    return reshape_p.bind(x, new_sizes=(get_aval(x).shape[0], *new_sizes), dimensions=None), 0


batching_rules[reshape_p] = _reshape_batch


# ---------------------------------------------------------------------------
# transpose

transpose_p = Primitive("transpose", impl_fallback=True)


def transpose(operand, permutation: Sequence[int]):
    """Permutes the axes of ``operand`` (``lax.transpose``)."""
    permutation = tuple(int(p) for p in permutation)
    if permutation == tuple(range(len(permutation))) and len(permutation) == get_aval(
            operand).ndim:
        return operand
    return transpose_p.bind(operand, permutation=permutation)


def _transpose_abstract(x, *, permutation):
    if sorted(permutation) != list(range(x.ndim)):
        raise ShapeError(f"transpose: permutation {permutation} is not a permutation of the "
                         f"axes of an array of shape {x.shape}")
    return ShapedArray(tuple(x.shape[p] for p in permutation), x.dtype, x.weak_type)


impl_rules[transpose_p] = lambda x, *, permutation: np.transpose(x, permutation)
abstract_eval_rules[transpose_p] = _transpose_abstract
deflinear(transpose_p, lambda ct, x, *, permutation: [transpose(ct, np.argsort(permutation))])


def _transpose_batch(args, dims, *, permutation):
    (x,), (d,) = args, dims
    # keep the batch dim where it is: the others permute around it
    others = [p + (p >= d) for p in permutation]
    perm = others[:d] + [d] + others[d:]
    return transpose_p.bind(x, permutation=tuple(perm)), d


batching_rules[transpose_p] = _transpose_batch


# ---------------------------------------------------------------------------
# squeeze / expand_dims

squeeze_p = Primitive("squeeze", impl_fallback=True)


def squeeze(array, dimensions: Sequence[int]):
    """Removes the size-1 axes ``dimensions`` (``lax.squeeze``)."""
    dims = _axes_tuple(dimensions, get_aval(array).ndim, "squeeze")
    if not dims:
        return array
    return squeeze_p.bind(array, dimensions=tuple(sorted(dims)))


def _squeeze_abstract(x, *, dimensions):
    for d in dimensions:
        if x.shape[d] != 1:
            raise ShapeError(f"squeeze: axis {d} of shape {x.shape} has size {x.shape[d]}, "
                             "not 1")
    shape = tuple(n for i, n in enumerate(x.shape) if i not in dimensions)
    return ShapedArray(shape, x.dtype, x.weak_type)


impl_rules[squeeze_p] = lambda x, *, dimensions: np.squeeze(x, axis=dimensions)
abstract_eval_rules[squeeze_p] = _squeeze_abstract
deflinear(squeeze_p, lambda ct, x, **_: [reshape(ct, x.aval.shape)])


def _squeeze_batch(args, dims, *, dimensions):
    (x,), (d,) = args, dims
    x = bdim_at_front(x, d, 1)
    return squeeze_p.bind(x, dimensions=tuple(a + 1 for a in dimensions)), 0


batching_rules[squeeze_p] = _squeeze_batch

expand_dims_p = Primitive("expand_dims", impl_fallback=True)


def expand_dims(array, dimensions: Sequence[int]):
    """Inserts size-1 axes at ``dimensions`` of the result (``lax.expand_dims``)."""
    ndim = get_aval(array).ndim + len(tuple(dimensions))
    dims = _axes_tuple(dimensions, ndim, "expand_dims")
    if not dims:
        return array
    return expand_dims_p.bind(array, dimensions=tuple(sorted(dims)))


def _expand_dims_abstract(x, *, dimensions):
    shape = list(x.shape)
    for d in dimensions:
        shape.insert(d, 1)
    return ShapedArray(shape, x.dtype, x.weak_type)


impl_rules[expand_dims_p] = lambda x, *, dimensions: np.expand_dims(x, dimensions)
abstract_eval_rules[expand_dims_p] = _expand_dims_abstract
deflinear(expand_dims_p, lambda ct, x, *, dimensions: [reshape(ct, x.aval.shape)])


def _expand_dims_batch(args, dims, *, dimensions):
    (x,), (d,) = args, dims
    x = bdim_at_front(x, d, 1)
    return expand_dims_p.bind(x, dimensions=tuple(a + 1 for a in dimensions)), 0


batching_rules[expand_dims_p] = _expand_dims_batch


# ---------------------------------------------------------------------------
# convert_element_type

convert_element_type_p = Primitive("convert_element_type", elementwise=True)


def convert_element_type(operand, new_dtype):
    """Casts ``operand`` to ``new_dtype`` (canonicalised: float64 -> float32 without x64)."""
    try:
        new_dtype = canonicalize_dtype(new_dtype)
    except TypeError:
        raise DTypeError(f"convert_element_type: unknown dtype {new_dtype!r}; pass a NumPy "
                         "dtype such as np.float32") from None
    aval = get_aval(operand)
    if aval.dtype == new_dtype and not aval.weak_type:
        return operand
    if aval.dtype == new_dtype and not hasattr(operand, "_trace"):
        return canonicalize_value(operand)
    return convert_element_type_p.bind(operand, new_dtype=new_dtype, weak_type=False)


def _convert_abstract(x, *, new_dtype, weak_type):
    try:
        np.dtype(new_dtype)
    except TypeError:
        raise DTypeError(f"convert_element_type: unknown dtype {new_dtype!r}") from None
    return ShapedArray(x.shape, new_dtype, weak_type)


def _convert_jvp(primals, tangents, *, new_dtype, weak_type):
    (x,), (t,) = primals, tangents
    out = convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=weak_type)
    if isinstance(t, Zero) or not is_inexact(new_dtype) or not is_inexact(get_aval(x).dtype):
        return out, Zero(tangent_aval(get_aval(out)))
    return out, convert_element_type_p.bind(t, new_dtype=new_dtype, weak_type=weak_type)


def _convert_transpose(ct, x, *, new_dtype, weak_type):
    return [convert_element_type_p.bind(ct, new_dtype=x.aval.dtype, weak_type=False)]


def _float_to_int(x, dtype: np.dtype):
    """Float -> integer as XLA converts: toward zero, saturating at the type's bounds,
    NaN to 0 (NumPy's cast leaves those undefined: NaN became -2**31)."""
    info = np.iinfo(dtype)
    hi_f = 2.0 ** (info.bits - (1 if info.min < 0 else 0))  # exact: a power of two
    with np.errstate(invalid="ignore", over="ignore"):
        nan, hi, lo = np.isnan(x), x >= hi_f, x < float(info.min)
        out = np.where(nan | hi | lo, 0, x).astype(dtype)
    return np.where(hi, info.max, np.where(lo, info.min, out)).astype(dtype)


def _convert_impl(x, *, new_dtype, weak_type):
    if x.dtype.kind == "c" and np.dtype(new_dtype).kind != "c":
        x = x.real  # complex -> real keeps the real part (the transpose of real -> complex)
    new_dtype = np.dtype(new_dtype)
    if x.dtype.kind == "f" and new_dtype.kind in "iu":
        return _float_to_int(x, new_dtype)
    return x.astype(new_dtype)


impl_rules[convert_element_type_p] = _convert_impl
abstract_eval_rules[convert_element_type_p] = _convert_abstract
jvp_rules[convert_element_type_p] = _convert_jvp
transpose_rules[convert_element_type_p] = _convert_transpose
defvectorized(convert_element_type_p)

# the batching helpers (moveaxis, broadcast, ...) are written with these primitives
batching.shape_ops.update(transpose=transpose, broadcast_in_dim=broadcast_in_dim,
                          reduce_sum=reduce_sum, squeeze=squeeze, reshape=reshape)
