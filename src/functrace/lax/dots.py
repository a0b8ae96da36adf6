"""Contractions: ``dot_general`` and its conveniences ``dot`` and ``batch_matmul``.

``dimension_numbers = ((lhs_contracting, rhs_contracting), (lhs_batch, rhs_batch))``;
the output has the batch dims first, then the free dims of lhs, then those of
rhs, in their original order (JAX's convention).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ..core.avals import ShapedArray, canonicalize_dtype
from ..core.trace import Primitive, abstract_eval_rules, get_aval, impl_rules
from ..errors import DTypeError, FunctraceError, ShapeError, no_sharding
from ..transforms.ad import defbilinear, is_undefined_primal
from ..transforms.batching import batching_rules, moveaxis, not_mapped
from .shape_ops import convert_element_type, transpose

__all__ = ["dot_general", "dot_general_p", "dot", "batch_matmul"]

DimensionNumbers = tuple[tuple[tuple[int, ...], tuple[int, ...]],
                         tuple[tuple[int, ...], tuple[int, ...]]]

# jax.lax.Precision names; the NumPy reference impl always computes at full precision.
_PRECISIONS = ("default", "high", "highest", "fastest", "bfloat16", "tensorfloat32", "float32")


def _canonical_dimension_numbers(dimension_numbers) -> DimensionNumbers:
    try:
        (lc, rc), (lb, rb) = dimension_numbers
        return ((tuple(int(d) for d in lc), tuple(int(d) for d in rc)),
                (tuple(int(d) for d in lb), tuple(int(d) for d in rb)))
    except (TypeError, ValueError):
        raise ShapeError(
            "dot_general: dimension_numbers must be ((lhs_contracting, rhs_contracting), "
            f"(lhs_batch, rhs_batch)), each a sequence of ints, got {dimension_numbers!r}"
        ) from None


def canonical_precision(precision, op: str = "dot_general"):
    """None, or a (lhs, rhs) pair of lowercase precision names (hashable)."""
    if precision is None:
        return None
    pair = tuple(precision) if isinstance(precision, tuple | list) else (precision, precision)
    names = tuple(str(getattr(p, "name", p)).lower() for p in pair)
    if len(names) != 2 or any(n not in _PRECISIONS for n in names):
        raise FunctraceError(f"{op}: unknown precision {precision!r}; use None, one of "
                             f"{_PRECISIONS} or a pair of them.")
    return names


def _free_dims(ndim: int, contracting, batch) -> tuple[int, ...]:
    used = set(contracting) | set(batch)
    return tuple(d for d in range(ndim) if d not in used)


# ---------------------------------------------------------------------------
# dot_general

dot_general_p = Primitive("dot_general", impl_fallback=True)


def dot_general(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None, *,
                out_sharding=None):
    """A general tensor contraction (``lax.dot_general``).

    Args:
        lhs, rhs: arrays; of different dtypes, the one of lower precision is converted
            to the other's (XLA's rule, as in JAX: int32 with float32 gives float32).
        dimension_numbers: ``((lhs_contracting, rhs_contracting), (lhs_batch, rhs_batch))``;
            paired dims must have equal sizes.
        precision: ``None``, a ``jax.lax.Precision`` name or a pair of them; recorded
            in the jaxpr (the NumPy impl always uses full precision).
        preferred_element_type: the dtype of the result (default: the input dtype).
    Returns:
        An array with dims ``batch + lhs free + rhs free``.

    Example:
        >>> x, y = np.ones((5, 2, 3), np.float32), np.ones((5, 3, 4), np.float32)
        >>> dot_general(x, y, (((2,), (1,)), ((0,), (0,)))).shape
        (5, 2, 4)
    """
    no_sharding("lax.dot_general", out_sharding=out_sharding)
    if preferred_element_type is not None:
        preferred_element_type = canonicalize_dtype(preferred_element_type)
    lhs, rhs = _common_dtype(lhs, rhs)
    return dot_general_p.bind(
        lhs, rhs, dimension_numbers=_canonical_dimension_numbers(dimension_numbers),
        precision=canonical_precision(precision),
        preferred_element_type=preferred_element_type)


def _type_properties(dtype: np.dtype) -> tuple:
    # XLA's HigherPrecisionType (primitive_util.h), as JAX's dot_general dtype rule
    real = np.finfo(dtype).dtype if dtype.kind == "c" else dtype
    floating = real.kind == "f" or real.name == "bfloat16"
    bits = 1 if real == np.bool_ else real.itemsize * 8
    return (dtype.kind == "c", np.finfo(real).maxexp if floating else -1,
            np.finfo(real).nmant if floating else -1, bits, real.kind != "u")


def _common_dtype(lhs, rhs):
    """As JAX, operands of different dtypes are allowed: the product is computed in the
    one of higher precision (``lax.dot(int32, float32)`` is float32), so the other is
    converted to it first."""
    ld, rd = get_aval(lhs).dtype, get_aval(rhs).dtype
    if ld == rd:
        return lhs, rhs
    lp, rp = _type_properties(ld), _type_properties(rd)
    if lp == rp:
        raise DTypeError(f"lax.dot_general argument type error: {ld}, {rd}; cast one with "
                         "lax.convert_element_type")
    if lp > rp:
        return lhs, convert_element_type(rhs, ld)
    return convert_element_type(lhs, rd), rhs


def _dot_general_impl(lhs, rhs, *, dimension_numbers, precision, preferred_element_type):
    # Lay both operands out as (batch, free, contracting) / (batch, contracting, free)
    # so that a single np.matmul (BLAS for floats) does the work.
    (lc, rc), (lb, rb) = dimension_numbers
    lf, rf = _free_dims(lhs.ndim, lc, lb), _free_dims(rhs.ndim, rc, rb)
    out_dtype = lhs.dtype if preferred_element_type is None else preferred_element_type
    compute = np.promote_types(lhs.dtype, out_dtype)
    sizes = [[x.shape[d] for d in dims] for x, dims in ((lhs, lb), (lhs, lf), (rhs, rf))]
    b, m, n = (math.prod(s) for s in sizes)
    k = math.prod(lhs.shape[d] for d in lc)
    a = np.transpose(lhs, lb + lf + lc).astype(compute, copy=False).reshape(b, m, k)
    c = np.transpose(rhs, rb + rc + rf).astype(compute, copy=False).reshape(b, k, n)
    # nothing to sum (outer products: vmapped weight gradients of a batch of one): the
    # broadcast product is the same numbers, and np.matmul's K = 1 loop was ~2.5x slower
    out = a * c if k == 1 else np.matmul(a, c)
    return out.reshape(tuple(itertools.chain(*sizes))).astype(out_dtype, copy=False)


def _check_dims(side: str, kind: str, dims, x: ShapedArray) -> None:
    if any(not 0 <= d < x.ndim for d in dims):
        raise ShapeError(f"dot_general: {side} {kind} dims {dims} are out of bounds for {side} "
                         f"of shape {x.shape} (rank {x.ndim}); dims must be in [0, {x.ndim}).")


def _check_pairs(kind: str, ldims, rdims, lhs: ShapedArray, rhs: ShapedArray) -> None:
    if len(ldims) != len(rdims):
        raise ShapeError(
            f"dot_general: lhs has {len(ldims)} {kind} dims {ldims} but rhs has {len(rdims)} "
            f"{rdims}; they pair up one-to-one, so give the same number on both sides.")
    lsizes = tuple(lhs.shape[d] for d in ldims)
    rsizes = tuple(rhs.shape[d] for d in rdims)
    if lsizes != rsizes:
        raise ShapeError(
            f"dot_general: lhs {kind} dims {ldims} of shape {lhs.shape} have sizes {lsizes} "
            f"but rhs {kind} dims {rdims} of shape {rhs.shape} have sizes {rsizes}; paired "
            "dims must have equal sizes (check the dimension_numbers, or transpose an operand).")


def _dot_general_abstract(lhs, rhs, *, dimension_numbers, precision, preferred_element_type):
    if lhs.dtype != rhs.dtype:
        raise DTypeError(
            f"dot_general requires lhs and rhs of the same dtype, got {lhs.str_short()} and "
            f"{rhs.str_short()}; cast one with lax.convert_element_type (preferred_element_type "
            "chooses the output dtype).")
    (lc, rc), (lb, rb) = dimension_numbers
    for side, x, contracting, batch in (("lhs", lhs, lc, lb), ("rhs", rhs, rc, rb)):
        _check_dims(side, "contracting", contracting, x)
        _check_dims(side, "batch", batch, x)
        if len(set(contracting + batch)) != len(contracting + batch):
            raise ShapeError(
                f"dot_general: {side} contracting dims {contracting} and batch dims {batch} of "
                f"shape {x.shape} repeat a dim; each dim can be used at most once.")
    _check_pairs("batch", lb, rb, lhs, rhs)
    _check_pairs("contracting", lc, rc, lhs, rhs)
    shape = (tuple(lhs.shape[d] for d in lb)
             + tuple(lhs.shape[d] for d in _free_dims(lhs.ndim, lc, lb))
             + tuple(rhs.shape[d] for d in _free_dims(rhs.ndim, rc, rb)))
    if preferred_element_type is None:
        return ShapedArray(shape, lhs.dtype, lhs.weak_type and rhs.weak_type)
    return ShapedArray(shape, preferred_element_type)


def _ndim(x) -> int:
    return x.aval.ndim if is_undefined_primal(x) else get_aval(x).ndim


def _ranges_like(*xs):
    start = 0
    for x in xs:
        yield tuple(range(start, start + len(x)))
        start += len(x)


def _dot_general_transpose_lhs(g, x, y, *, dimension_numbers, precision,
                               preferred_element_type, swap_ans=False):
    # Port of JAX's rule: contract the cotangent with y over y's free dims (and
    # batch over the batch dims), then permute the result into x's dim order.
    (x_contract, y_contract), (x_batch, y_batch) = dimension_numbers
    x_kept = _free_dims(_ndim(x), x_contract, x_batch)
    y_kept = _free_dims(_ndim(y), y_contract, y_batch)
    if swap_ans:
        ans_batch, ans_y, _ = _ranges_like(x_batch, y_kept, x_kept)
    else:
        ans_batch, _, ans_y = _ranges_like(x_batch, x_kept, y_kept)
    dims = ((ans_y, y_kept), (ans_batch, y_batch))
    x_contract_sorted_by_y = tuple(x_contract[i] for i in np.argsort(y_contract))
    out_axes = tuple(int(i) for i in np.argsort(x_batch + x_kept + x_contract_sorted_by_y))
    g_dtype = get_aval(g).dtype
    # with preferred_element_type the cotangent may be wider than y: compute in its dtype
    x_bar = dot_general(g, convert_element_type(y, g_dtype), dims, precision)
    return convert_element_type(transpose(x_bar, out_axes), x.aval.dtype)


def _dot_general_transpose_rhs(g, x, y, *, dimension_numbers, precision,
                               preferred_element_type):
    (x_contract, y_contract), (x_batch, y_batch) = dimension_numbers
    swapped = ((y_contract, x_contract), (y_batch, x_batch))
    return _dot_general_transpose_lhs(
        g, y, x, dimension_numbers=swapped, precision=precision,
        preferred_element_type=preferred_element_type, swap_ans=True)


def _dot_general_transpose(ct, lhs, rhs, **params):
    if is_undefined_primal(lhs) and is_undefined_primal(rhs):
        raise FunctraceError("dot_general: transpose w.r.t. both operands (the product of two "
                             "linear values is not linear)")
    if is_undefined_primal(lhs):
        return [_dot_general_transpose_lhs(ct, lhs, rhs, **params), None]
    return [None, _dot_general_transpose_rhs(ct, lhs, rhs, **params)]


impl_rules[dot_general_p] = _dot_general_impl
abstract_eval_rules[dot_general_p] = _dot_general_abstract
defbilinear(dot_general_p, _dot_general_transpose)


def _dot_general_batch(args, dims, *, dimension_numbers, **params):
    # the batch dim goes first; with both operands batched it becomes a new leading batch
    # dimension of the contraction, otherwise the first free dim of its operand
    (lhs, rhs), (ld, rd) = args, dims
    (lc, rc), (lb, rb) = dimension_numbers
    shift = lambda ds, d: tuple(x + 1 for x in ds) if d is not not_mapped else ds  # noqa: E731
    lc, lb, rc, rb = shift(lc, ld), shift(lb, ld), shift(rc, rd), shift(rb, rd)
    if ld is not not_mapped:
        lhs = moveaxis(lhs, ld, 0)
    if rd is not not_mapped:
        rhs = moveaxis(rhs, rd, 0)
    if ld is not not_mapped and rd is not not_mapped:
        dn = ((lc, rc), ((0, *lb), (0, *rb)))
        out_dim = 0
    elif ld is not not_mapped:
        dn = ((lc, rc), (lb, rb))
        out_dim = len(lb)  # the first of lhs's free dims
    else:
        dn = ((lc, rc), (lb, rb))
        out_dim = len(lb) + len(_free_dims(get_aval(lhs).ndim, lc, lb))
    return dot_general_p.bind(lhs, rhs, dimension_numbers=dn, **params), out_dim


batching_rules[dot_general_p] = _dot_general_batch


# ---------------------------------------------------------------------------
# dot / batch_matmul: dot_general with fixed dimension numbers

def dot(lhs, rhs, precision=None, preferred_element_type=None, *, dimension_numbers=None,
        out_sharding=None):
    """Vector/matrix product (``lax.dot``): contracts the last dim of lhs with the first
    of rhs; both operands have rank 1 or 2. With ``dimension_numbers``
    (``((lhs_contracting, rhs_contracting), (lhs_batch, rhs_batch))``) it is
    ``dot_general`` with those dimensions, any ranks.

    Example:
        >>> dot(np.ones((2, 3), np.float32), np.ones(3, np.float32))
        array([3., 3.], dtype=float32)
    """
    no_sharding("lax.dot", out_sharding=out_sharding)
    if dimension_numbers is not None:
        return dot_general(lhs, rhs, dimension_numbers, precision, preferred_element_type)
    ls, rs = get_aval(lhs).shape, get_aval(rhs).shape
    if 1 <= len(ls) <= 2 and 1 <= len(rs) <= 2 and ls[-1] == rs[0]:
        dims = (((len(ls) - 1,), (0,)), ((), ()))
        return dot_general(lhs, rhs, dims, precision, preferred_element_type)
    raise ShapeError(f"lax.dot: incompatible shapes {ls} and {rs}; lax.dot takes vectors and "
                     "matrices with lhs.shape[-1] == rhs.shape[0]. Use lax.dot_general for "
                     "other ranks or contractions.")


def batch_matmul(lhs, rhs, precision=None):
    """Batched matrix product (``lax.batch_matmul``): ``(..., m, k) @ (..., k, n)``;
    both operands have the same rank (at least 2) and the same leading dims.

    Example:
        >>> batch_matmul(np.ones((4, 2, 3), np.float32), np.ones((4, 3, 5), np.float32)).shape
        (4, 2, 5)
    """
    lnd, rnd = get_aval(lhs).ndim, get_aval(rhs).ndim
    if min(lnd, rnd) < 2 or lnd != rnd:
        raise ShapeError(
            f"lax.batch_matmul: operands must have the same rank, at least 2, got shapes "
            f"{get_aval(lhs).shape} and {get_aval(rhs).shape}; add or broadcast batch dims "
            "first (lax.broadcast_in_dim).")
    batch = tuple(range(lnd - 2))
    return dot_general(lhs, rhs, (((lnd - 1,), (rnd - 2,)), (batch, batch)), precision)
