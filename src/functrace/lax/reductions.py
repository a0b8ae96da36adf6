"""Reductions: reduce_max, reduce_min, reduce_prod, reduce_and, reduce_or, argmax,
argmin and cumsum (``reduce_sum`` lives in ``shape_ops``, beside its transpose).

The reduce_* primitives take ``axes``, a sorted tuple of distinct axis indices;
the user functions accept negative axes and any order, as ``jax.lax`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import numpy as np

from ..core.avals import ShapedArray, canonicalize_dtype, is_int
from ..core.trace import Primitive, abstract_eval_rules, get_aval, impl_rules
from ..errors import DTypeError, ShapeError
from ..transforms.ad import defjvp2, defjvp_zero, deflinear
from ..transforms.batching import batching_rules
from .creation import full
from .elementwise import add, div, eq, mul
from .shape_ops import (
    _axes_tuple,
    broadcast_in_dim,
    convert_element_type,
    defreducer,
    reduce_sum,
    reshape,
    transpose,
)
from .slicing import concatenate
from .slicing import slice as lax_slice

__all__ = [
    "reduce_max", "reduce_max_p", "reduce_min", "reduce_min_p", "reduce_prod", "reduce_prod_p",
    "reduce_and", "reduce_and_p", "reduce_or", "reduce_or_p", "argmax", "argmax_p", "argmin",
    "argmin_p", "cumsum", "cumsum_p",
]


# ---------------------------------------------------------------------------
# shared by the reduce_* family

def _check_dtype(op: str, x: ShapedArray, kinds: str) -> None:
    dt = x.dtype
    if kinds == "numeric" and dt == np.bool_:
        raise DTypeError(f"lax.{op} does not accept a boolean operand ({x.str_short()}); cast it "
                         "to an integer or float dtype with lax.convert_element_type first.")
    if kinds == "logical" and not (dt == np.bool_ or is_int(dt)):
        raise DTypeError(f"lax.{op} requires a boolean or integer operand, got "
                         f"{x.str_short()}; compare first (e.g. lax.ne(x, 0.0)) to get booleans.")


def _check_axes(op: str, x: ShapedArray, axes) -> None:
    checked = _axes_tuple(axes, x.ndim, op)
    if checked != tuple(axes) or list(axes) != sorted(axes):
        raise ShapeError(f"{op}: the axes parameter must be a sorted tuple of distinct "
                         f"non-negative axes, got {axes} for an operand of shape {x.shape}; "
                         f"call lax.{op}, which normalises them.")


def _check_nonempty(op: str, x: ShapedArray, axes) -> None:
    empty = tuple(a for a in axes if x.shape[a] == 0)
    if empty:
        raise ShapeError(
            f"{op}: cannot reduce over axes {empty} of size 0 of an operand of shape "
            f"{x.shape}: the {op.removeprefix('reduce_')} of an empty set is undefined. Check "
            "the shape upstream, or append an identity entry (e.g. -inf for a max) first.")


def _reduce_abstract(op: str, kinds: str, nonempty: bool, x: ShapedArray, *, axes):
    _check_dtype(op, x, kinds)
    _check_axes(op, x, axes)
    if nonempty:
        _check_nonempty(op, x, axes)
    shape = tuple(n for i, n in enumerate(x.shape) if i not in axes)
    return ShapedArray(shape, x.dtype, x.weak_type)


def _reduction_primitive(name: str, impl, kinds: str = "any", nonempty: bool = False,
                         fusible: bool = False) -> Primitive:
    prim = Primitive(name, fusible_reduction=fusible, impl_fallback=True)
    impl_rules[prim] = impl
    abstract_eval_rules[prim] = partial(_reduce_abstract, name, kinds, nonempty)
    defreducer(prim)
    return prim


def _extreme_value(dtype: np.dtype, largest: bool):
    """The identity of a min (``largest``) or max reduction over an empty set, as in JAX."""
    if dtype == np.bool_:
        return largest
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return info.max if largest else info.min
    return np.inf if largest else -np.inf


def _bind_reduction(prim: Primitive, operand, axes: Sequence[int], empty_largest=None):
    aval = get_aval(operand)
    axes = _axes_tuple(axes, aval.ndim, prim.name)
    if not axes:
        return operand
    if empty_largest is not None and any(aval.shape[a] == 0 for a in axes):
        # JAX reduces an empty set to the identity (-inf for a max); the kernels never see it
        shape = tuple(n for i, n in enumerate(aval.shape) if i not in axes)
        fill = np.full(shape, _extreme_value(aval.dtype, empty_largest), aval.dtype)
        return broadcast_in_dim(fill, shape, tuple(range(len(shape))))
    return prim.bind(operand, axes=tuple(sorted(axes)))


def _kept_dims(ndim: int, axes) -> tuple[int, ...]:
    return tuple(i for i in range(ndim) if i not in axes)


def _unreduce(ans, x, axes):
    """Broadcasts the reduced ``ans`` back to the shape of ``x``."""
    shape = get_aval(x).shape
    return broadcast_in_dim(ans, shape, _kept_dims(len(shape), axes))


def _chooser_jvp(g, ans, x, *, axes):
    # JAX's convention: the tangent flows to the location(s) of the extremum and
    # ties share it evenly, so the rule stays a linear, traceable function of g.
    location = convert_element_type(eq(x, _unreduce(ans, x, axes)), get_aval(g).dtype)
    counts = reduce_sum(location, axes)
    return div(reduce_sum(mul(g, location), axes), counts)


# ---------------------------------------------------------------------------
# reduce_max

reduce_max_p = _reduction_primitive(
    "reduce_max", lambda x, *, axes: np.max(x, axis=axes), nonempty=True, fusible=True)


def reduce_max(operand, axes: Sequence[int]):
    """The maximum of ``operand`` over ``axes`` (``lax.reduce_max``).

    Its derivative goes to the maximal element; tied maxima share it evenly.

    Args:
        operand: an array.
        axes: the axes to reduce (negative values count from the end).
    Returns:
        ``operand`` without the ``axes`` dimensions.

    Example:
        >>> reduce_max(np.array([[1., 5.], [3., 2.]], np.float32), (1,))
        array([5., 3.], dtype=float32)
    """
    return _bind_reduction(reduce_max_p, operand, axes, empty_largest=False)


defjvp2(reduce_max_p, _chooser_jvp)


# ---------------------------------------------------------------------------
# reduce_min

reduce_min_p = _reduction_primitive(
    "reduce_min", lambda x, *, axes: np.min(x, axis=axes), nonempty=True, fusible=True)


def reduce_min(operand, axes: Sequence[int]):
    """The minimum of ``operand`` over ``axes`` (``lax.reduce_min``).

    Its derivative goes to the minimal element; tied minima share it evenly.

    Example:
        >>> reduce_min(np.array([[1., 5.], [3., 2.]], np.float32), (0,))
        array([1., 2.], dtype=float32)
    """
    return _bind_reduction(reduce_min_p, operand, axes, empty_largest=True)


defjvp2(reduce_min_p, _chooser_jvp)


# ---------------------------------------------------------------------------
# reduce_prod

reduce_prod_p = _reduction_primitive(
    "reduce_prod", lambda x, *, axes: np.prod(x, axis=axes, dtype=x.dtype), kinds="numeric")


def reduce_prod(operand, axes: Sequence[int]):
    """The product of ``operand`` over ``axes`` (``lax.reduce_prod``).

    Its derivative is exact also where elements are zero (``_reduce_prod_jvp``).

    Example:
        >>> reduce_prod(np.array([[1., 5.], [3., 2.]], np.float32), (0, 1))
        array(30., dtype=float32)
    """
    return _bind_reduction(reduce_prod_p, operand, axes)


def _reduce_prod_jvp(g, ans, x, *, axes):
    # NOTE: not sum(g * prod / x), which is NaN where an element is 0 (grad of
    # prod([2, 0, 3]) is [0, 6, 0]). As JAX's rule: the product as a tree of pairwise
    # products, each differentiated by the product rule; only mul/add, so derivatives of
    # any order stay exact.
    shape = get_aval(x).shape
    kept = tuple(d for d in range(len(shape)) if d not in axes)
    kept_shape = tuple(shape[d] for d in kept)
    n = int(np.prod([shape[a] for a in axes], dtype=np.int64))
    dtype = get_aval(x).dtype
    if n == 0:  # the empty product is the constant 1
        return full(kept_shape, 0, dtype)
    g = broadcast_in_dim(g, shape, ()) if get_aval(g).shape != shape else g
    flat = (*kept_shape, n)
    xs, ts = (reshape(transpose(v, kept + tuple(axes)), flat) for v in (x, g))
    while n > 1:
        if n % 2:  # pad with a factor 1 (tangent 0)
            xs = concatenate([xs, full((*kept_shape, 1), 1, dtype)], len(kept))
            ts = concatenate([ts, full((*kept_shape, 1), 0, dtype)], len(kept))
            n += 1
        a, ta = (_every_other(v, 0, n) for v in (xs, ts))
        b, tb = (_every_other(v, 1, n) for v in (xs, ts))
        xs, ts = mul(a, b), add(mul(ta, b), mul(a, tb))
        n //= 2
    return reshape(ts, kept_shape)


def _every_other(v, start: int, n: int):
    # the entries start, start + 2, ... of the last axis (of size n)
    lead = get_aval(v).shape[:-1]
    return lax_slice(v, (0,) * len(lead) + (start,), (*lead, n),
                     (1,) * len(lead) + (2,))


defjvp2(reduce_prod_p, _reduce_prod_jvp)


# ---------------------------------------------------------------------------
# reduce_and / reduce_or (bitwise for integers, logical for booleans)

reduce_and_p = _reduction_primitive(
    "reduce_and", lambda x, *, axes: np.bitwise_and.reduce(x, axis=axes), kinds="logical")


def reduce_and(operand, axes: Sequence[int]):
    """Logical (booleans) or bitwise (integers) AND over ``axes`` (``lax.reduce_and``).

    Example:
        >>> reduce_and(np.array([[True, False], [True, True]]), (1,))
        array([False,  True])
    """
    return _bind_reduction(reduce_and_p, operand, axes)


defjvp_zero(reduce_and_p)

reduce_or_p = _reduction_primitive(
    "reduce_or", lambda x, *, axes: np.bitwise_or.reduce(x, axis=axes), kinds="logical")


def reduce_or(operand, axes: Sequence[int]):
    """Logical (booleans) or bitwise (integers) OR over ``axes`` (``lax.reduce_or``).

    Example:
        >>> reduce_or(np.array([[True, False], [False, False]]), (1,))
        array([ True, False])
    """
    return _bind_reduction(reduce_or_p, operand, axes)


defjvp_zero(reduce_or_p)


# ---------------------------------------------------------------------------
# argmax / argmin

def _arg_abstract(op: str, x: ShapedArray, *, axes, index_dtype):
    if len(axes) != 1:
        raise ShapeError(f"{op}: expects exactly one axis, got axes={axes}")
    _check_axes(op, x, axes)
    _check_nonempty(op, x, axes)
    if not is_int(index_dtype):
        raise DTypeError(f"lax.{op}: index_dtype must be an integer dtype, got {index_dtype}; "
                         "pass e.g. np.int32.")
    shape = tuple(n for i, n in enumerate(x.shape) if i != axes[0])
    return ShapedArray(shape, index_dtype)


def _arg_primitive(name: str, np_fn) -> Primitive:
    prim = Primitive(name, impl_fallback=True)
    impl_rules[prim] = lambda x, *, axes, index_dtype: np_fn(x, axis=axes[0]).astype(index_dtype)
    abstract_eval_rules[prim] = partial(_arg_abstract, name)
    defjvp_zero(prim)
    defreducer(prim)
    return prim


def _bind_arg(prim: Primitive, operand, axis: int, index_dtype):
    (axis,) = _axes_tuple((axis,), get_aval(operand).ndim, prim.name)
    return prim.bind(operand, axes=(axis,), index_dtype=canonicalize_dtype(index_dtype))


argmax_p = _arg_primitive("argmax", np.argmax)


def argmax(operand, axis: int, index_dtype):
    """The index of the maximum along ``axis`` (``lax.argmax``); the first one on ties.

    Args:
        operand: an array with a nonempty ``axis``.
        axis: the axis to search.
        index_dtype: the integer dtype of the result.

    Example:
        >>> argmax(np.array([[1., 5.], [3., 2.]], np.float32), 1, np.int32)
        array([1, 0], dtype=int32)
    """
    return _bind_arg(argmax_p, operand, axis, index_dtype)


argmin_p = _arg_primitive("argmin", np.argmin)


def argmin(operand, axis: int, index_dtype):
    """The index of the minimum along ``axis`` (``lax.argmin``); the first one on ties.

    Example:
        >>> argmin(np.array([[1., 5.], [3., 2.]], np.float32), 0, np.int32)
        array([0, 1], dtype=int32)
    """
    return _bind_arg(argmin_p, operand, axis, index_dtype)


# ---------------------------------------------------------------------------
# cumsum

cumsum_p = Primitive("cumsum", impl_fallback=True)


def cumsum(operand, axis: int = 0, reverse: bool = False):
    """Inclusive cumulative sum along ``axis`` (``lax.cumsum``); from the end if ``reverse``.

    Example:
        >>> cumsum(np.array([1., 2., 3.], np.float32), reverse=True)
        array([6., 5., 3.], dtype=float32)
    """
    (axis,) = _axes_tuple((axis,), get_aval(operand).ndim, "cumsum")
    return cumsum_p.bind(operand, axis=axis, reverse=bool(reverse))


def _cumsum_impl(x, *, axis, reverse):
    if reverse:
        return np.flip(np.cumsum(np.flip(x, axis), axis=axis, dtype=x.dtype), axis)
    return np.cumsum(x, axis=axis, dtype=x.dtype)


def _cumsum_abstract(x, *, axis, reverse):
    if not 0 <= axis < x.ndim:
        raise ShapeError(f"cumsum: axis {axis} is out of bounds for an operand of shape "
                         f"{x.shape}; pass an axis in [-{x.ndim}, {x.ndim}).")
    _check_dtype("cumsum", x, "numeric")
    return ShapedArray(x.shape, x.dtype, x.weak_type)


def _cumsum_transpose(ct, x, *, axis, reverse):
    # each input feeds the outputs at and after it, so it collects their
    # cotangents: a cumulative sum running the other way.
    return [cumsum_p.bind(ct, axis=axis, reverse=not reverse)]


impl_rules[cumsum_p] = _cumsum_impl
abstract_eval_rules[cumsum_p] = _cumsum_abstract
deflinear(cumsum_p, _cumsum_transpose)


def _cumsum_batch(args, dims, *, axis, reverse):
    (x,), (d,) = args, dims
    return cumsum_p.bind(x, axis=axis + (axis >= d), reverse=reverse), d


batching_rules[cumsum_p] = _cumsum_batch
