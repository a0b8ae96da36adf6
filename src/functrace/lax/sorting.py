"""Sorting: the ``sort`` primitive (several operands sorted together by the first
``num_keys``) and its compositions ``sort_key_val`` and ``top_k``.

Order, as JAX's: lexicographic over the keys; floats in NumPy's order (NaNs last, ``-0.0``
and ``0.0`` equal); the sort is always stable (``is_stable=False`` is accepted and gives a
stable result too). The reference impl is ``numpy.lexsort``.

Derivatives: a tangent is permuted like its operand, by sorting it as one more non-key
operand behind the same keys. That application is linear in the tangent; its transpose
sorts the cotangent back by the permutation (``sort`` of ``(perm, ct)``), so reverse mode
works without a gather.

Example:
    >>> sort_key_val(np.array([3, 1, 2], np.int32), np.array([10., 20., 30.], np.float32))
    (array([1, 2, 3], dtype=int32), array([20., 30., 10.], dtype=float32))
"""

from __future__ import annotations

import numpy as np

from ..core.avals import ShapedArray, is_int
from ..core.trace import Primitive, abstract_eval_rules, get_aval, impl_rules
from ..errors import DTypeError, ShapeError
from ..transforms.ad import Zero, is_undefined_primal, jvp_rules, tangent_aval, transpose_rules
from ..transforms.batching import batching_rules, bdim_at_front, not_mapped
from .bits import bitcast_convert_type
from .creation import broadcasted_iota
from .elementwise import bitwise_not, eq, lt, neg
from .shape_ops import convert_element_type
from .slicing import slice as lax_slice

__all__ = ["sort", "sort_key_val", "sort_p", "top_k"]

sort_p = Primitive("sort", multiple_results=True, impl_fallback=True)


def _canonical_dim(dimension: int, ndim: int, op: str) -> int:
    if not -ndim <= dimension < ndim:
        raise ShapeError(f"lax.{op}: dimension {dimension} is out of range for operands of "
                         f"rank {ndim}")
    return int(dimension) % ndim


def sort(operand, dimension: int = -1, is_stable: bool = True, num_keys: int = 1):
    """Sorts ``operand`` along ``dimension``; given a sequence of arrays (same shape), sorts
    them all by the first ``num_keys`` (lexicographically) and returns a tuple.

    Example:
        >>> sort(np.array([3., 1., 2.], np.float32))
        array([1., 2., 3.], dtype=float32)
        >>> k0, k1 = np.array([1, 0, 1], np.int32), np.array([0, 5, 1], np.int32)
        >>> sort((k0, k1, np.array([7., 8., 9.], np.float32)), num_keys=2)
        (array([0, 1, 1], dtype=int32), array([5, 0, 1], dtype=int32),
         array([8., 7., 9.], dtype=float32))
    """
    single = not isinstance(operand, tuple | list)
    operands = (operand,) if single else tuple(operand)
    if not operands:
        raise ShapeError("lax.sort: pass at least one operand")
    ndim = get_aval(operands[0]).ndim
    dimension = _canonical_dim(dimension, ndim, "sort")
    outs = sort_p.bind(*operands, dimension=dimension, is_stable=bool(is_stable),
                       num_keys=int(num_keys))
    return outs[0] if single else tuple(outs)


def _permutation(keys, dimension: int) -> np.ndarray:
    # np.lexsort sorts by its LAST key first, and is stable
    keys = [np.asarray(k) for k in keys]
    if len(keys) == 1:
        return np.argsort(keys[0], axis=dimension, kind="stable")
    return np.lexsort(tuple(reversed(keys)), axis=dimension)


def _sort_impl(*operands, dimension, is_stable, num_keys):
    perm = _permutation(operands[:num_keys], dimension)
    return [np.take_along_axis(np.asarray(x), perm, axis=dimension) for x in operands]


def _sort_abstract(*operands, dimension, is_stable, num_keys):
    shape = operands[0].shape
    if any(x.shape != shape for x in operands):
        raise ShapeError("lax.sort: all operands must have the same shape, got "
                         f"{[x.str_short() for x in operands]}")
    if not 1 <= num_keys <= len(operands):
        raise ShapeError(f"lax.sort: num_keys={num_keys} must be between 1 and the number of "
                         f"operands ({len(operands)})")
    if not 0 <= dimension < max(len(shape), 1):
        raise ShapeError(f"lax.sort: dimension {dimension} is out of range for "
                         f"{operands[0].str_short()}")
    for k in operands[:num_keys]:
        if k.dtype.kind not in "biufc":
            raise DTypeError(f"lax.sort: keys must be numeric or bool, got {k.str_short()}")
    return [ShapedArray(x.shape, x.dtype, x.weak_type) for x in operands]


def _sort_jvp(primals, tangents, *, dimension, is_stable, num_keys):
    outs = sort_p.bind(*primals, dimension=dimension, is_stable=is_stable, num_keys=num_keys)
    keys = primals[:num_keys]
    tangent_outs = []
    for x, t in zip(primals, tangents, strict=True):
        if isinstance(t, Zero):
            tangent_outs.append(Zero(tangent_aval(get_aval(x))))
        else:  # the tangent rides along behind the same keys: it is permuted like x
            tangent_outs.append(sort_p.bind(*keys, t, dimension=dimension, is_stable=is_stable,
                                            num_keys=num_keys)[-1])
    return outs, tangent_outs


def _sort_transpose(cts, *operands, dimension, is_stable, num_keys):
    if any(is_undefined_primal(k) for k in operands[:num_keys]):
        raise ShapeError("lax.sort is linear only in its non-key operands; its keys cannot be "
                         "transposed")
    keys = operands[:num_keys]
    shape = get_aval(keys[0]).shape
    iota = broadcasted_iota(np.int32, shape, dimension)
    perm = sort_p.bind(*keys, iota, dimension=dimension, is_stable=is_stable,
                       num_keys=num_keys)[-1]
    out = [None] * num_keys
    for x, ct in zip(operands[num_keys:], cts[num_keys:], strict=True):
        if not is_undefined_primal(x) or isinstance(ct, Zero):
            out.append(None if not is_undefined_primal(x) else Zero(tangent_aval(x.aval)))
        else:  # sorting by the permutation puts each entry back where it came from
            out.append(sort_p.bind(perm, ct, dimension=dimension, is_stable=True,
                                   num_keys=1)[1])
    return out


def _sort_batch(args, dims, *, dimension, is_stable, num_keys):
    size = next(get_aval(x).shape[d] for x, d in zip(args, dims, strict=True)
                if d is not not_mapped)
    args = [bdim_at_front(x, d, size) for x, d in zip(args, dims, strict=True)]
    outs = sort_p.bind(*args, dimension=dimension + 1, is_stable=is_stable, num_keys=num_keys)
    return outs, [0] * len(outs)


impl_rules[sort_p] = _sort_impl
abstract_eval_rules[sort_p] = _sort_abstract
jvp_rules[sort_p] = _sort_jvp
transpose_rules[sort_p] = _sort_transpose
batching_rules[sort_p] = _sort_batch


def sort_key_val(keys, values, dimension: int = -1, is_stable: bool = True):
    """Sorts ``keys`` along ``dimension`` and applies the same permutation to ``values``.

    Example:
        >>> sort_key_val(np.array([2., 1.], np.float32), np.array([0, 1], np.int32))
        (array([1., 2.], dtype=float32), array([1, 0], dtype=int32))
    """
    k, v = sort((keys, values), dimension=dimension, is_stable=is_stable, num_keys=1)
    return k, v


_SIGNED_OF_SIZE = {2: np.int16, 4: np.int32, 8: np.int64}


def _descending_key(x):
    """A key whose ascending order is ``x``'s descending order (ties keep index order)."""
    dtype = get_aval(x).dtype
    if dtype == np.bool_ or is_int(dtype):
        return bitwise_not(x)  # ~x reverses the order of signed and unsigned integers
    return neg(x)


def top_k(operand, k: int, *, axis: int = -1):
    """The ``k`` largest entries along ``axis`` (descending; equal values in index order)
    and their int32 indices.

    Example:
        >>> top_k(np.array([1., 3., 3., 2.], np.float32), 3)
        (array([3., 3., 2.], dtype=float32), array([1, 2, 3], dtype=int32))
    """
    aval = get_aval(operand)
    if aval.ndim == 0:
        raise ShapeError("lax.top_k: the operand must have at least one dimension")
    axis = _canonical_dim(axis, aval.ndim, "top_k")
    n = aval.shape[axis]
    if not isinstance(k, int | np.integer) or not 0 <= k <= n:
        raise ShapeError(f"lax.top_k: k must be an integer in [0, {n}] for {aval.str_short()} "
                         f"along axis {axis}, got {k!r}")
    iota = broadcasted_iota(np.int32, aval.shape, axis)
    if aval.dtype.kind == "f" or aval.dtype.name == "bfloat16":
        # NaN counts as the largest value, as in JAX: it sorts first, ahead of +inf
        not_nan = convert_element_type(eq(operand, operand), np.int8)
        # JAX's top_k orders floats totally (XLA's TopK): 0.0 ranks above -0.0, which
        # sort, and so -x, takes as equal; the sign bit breaks that tie
        bits = bitcast_convert_type(operand, _SIGNED_OF_SIZE[aval.dtype.itemsize])
        sign = convert_element_type(lt(bits, 0), np.int8)
        *_, values, indices = sort((not_nan, neg(operand), sign, operand, iota),
                                   dimension=axis, num_keys=3)
    else:
        _, values, indices = sort((_descending_key(operand), operand, iota), dimension=axis,
                                  num_keys=1)
    limit = list(aval.shape)
    limit[axis] = int(k)
    zeros = (0,) * aval.ndim
    return lax_slice(values, zeros, tuple(limit)), lax_slice(indices, zeros, tuple(limit))
