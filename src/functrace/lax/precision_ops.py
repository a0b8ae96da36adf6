"""``lax.reduce_precision``, ``lax.approx_max_k``/``approx_min_k``, ``lax.mulhi`` and
``lax.broadcast_like``, under JAX's names and semantics.

- ``reduce_precision`` rounds to a float format with fewer exponent and mantissa bits
  (round to nearest even; overflow to infinity, underflow to signed zero; NaN stays
  NaN), as XLA's ReducePrecision. Its derivative rounds the tangent the same way.
- ``approx_max_k``/``approx_min_k`` may return approximate results on accelerators;
  here they are exact (an exact answer meets any recall target).
- ``mulhi`` is the high half of the double-width integer product.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ..core.avals import ShapedArray
from ..core.trace import Primitive, abstract_eval_rules, get_aval, impl_rules
from ..errors import DTypeError, ShapeError
from ..transforms.ad import defjvp_zero, deflinear, instantiate_zeros
from ..transforms.batching import batching_rules, broadcast_batcher, defvectorized
from .elementwise import neg
from .shape_ops import broadcast_in_dim, transpose
from .sorting import top_k

__all__ = ["approx_max_k", "approx_min_k", "broadcast_like", "mulhi", "mulhi_p",
           "reduce_precision"]

_FORMATS = {np.dtype(np.float16): (5, 10, np.uint16), np.dtype(np.float32): (8, 23, np.uint32),
            np.dtype(np.float64): (11, 52, np.uint64)}


def _round_bits(x: np.ndarray, exponent_bits: int, mantissa_bits: int) -> np.ndarray:
    src_exp, src_mant, uint = _FORMATS[x.dtype]
    one = uint(1)
    bits = x.view(uint).copy()
    if mantissa_bits < src_mant:
        shift = uint(src_mant - mantissa_bits)
        last = one << shift  # the lowest mantissa bit kept
        bias = (last >> one) - one + ((bits & last) >> shift)  # ties to even
        bits = (bits + bias) & ~(last - one)
    if exponent_bits < src_exp:
        exp_mask = ((one << uint(src_exp)) - one) << uint(src_mant)
        sign = bits & (one << uint(src_exp + src_mant))
        src_bias = (1 << (src_exp - 1)) - 1
        new_bias = (1 << (exponent_bits - 1)) - 1
        exponent = bits & exp_mask
        over = exponent > (uint(src_bias + new_bias) << uint(src_mant))
        under = exponent <= (uint(src_bias - new_bias) << uint(src_mant))
        bits = np.where(over, sign | exp_mask, np.where(under, sign, bits))
    out = bits.view(x.dtype)
    if mantissa_bits < src_mant:
        out = np.where(np.isnan(x), x, out)
    return out


# impl_fallback: backends run the NumPy impl (bit manipulation, not fusible scalar code)
reduce_precision_p = Primitive("reduce_precision", impl_fallback=True)


def _reduce_precision_impl(x, *, exponent_bits, mantissa_bits):
    x = np.asarray(x)
    return _round_bits(x.reshape(-1), exponent_bits, mantissa_bits).reshape(x.shape)


def _reduce_precision_abstract(x: ShapedArray, *, exponent_bits, mantissa_bits):
    if x.dtype not in _FORMATS:
        raise DTypeError(f"lax.reduce_precision: needs a float16/32/64 operand, got "
                         f"{x.str_short()}")
    return x


impl_rules[reduce_precision_p] = _reduce_precision_impl
abstract_eval_rules[reduce_precision_p] = _reduce_precision_abstract
# as JAX: linear, its tangent and cotangent rounded the same way
deflinear(reduce_precision_p, lambda ct, x, **params: [reduce_precision_p.bind(
    instantiate_zeros(ct), **params)])
defvectorized(reduce_precision_p)


def reduce_precision(operand, exponent_bits: int, mantissa_bits: int):
    """``operand`` rounded to a float with ``exponent_bits`` and ``mantissa_bits``.

    Example:
        >>> import numpy as np
        >>> reduce_precision(np.float32(1.0 + 2 ** -9), exponent_bits=8, mantissa_bits=7)
        array(1., dtype=float32)
    """
    e, m = int(exponent_bits), int(mantissa_bits)
    if e < 1 or m < 0:
        raise ShapeError(f"lax.reduce_precision: needs exponent_bits >= 1 and "
                         f"mantissa_bits >= 0, got {exponent_bits}, {mantissa_bits}")
    return reduce_precision_p.bind(operand, exponent_bits=e, mantissa_bits=m)


def _reverse_order(x):
    return neg(x)


def _top_k_along(operand, k: int, dim: int, largest: bool):
    x = operand
    if get_aval(x).dtype.kind not in "f" and get_aval(x).dtype.name != "bfloat16":
        raise ValueError(f"lax.approx_{'max' if largest else 'min'}_k: operand must be a "
                         f"floating type, got {get_aval(x).str_short()}")
    nd = len(get_aval(x).shape)
    dim = dim % nd
    perm = [d for d in range(nd) if d != dim] + [dim]
    if dim != nd - 1:
        x = transpose(x, perm)
    vals, idx = top_k(x if largest else _reverse_order(x), k)
    if not largest:
        vals = _reverse_order(vals)
    if dim != nd - 1:
        back = tuple(int(i) for i in np.argsort(perm))
        vals, idx = transpose(vals, back), transpose(idx, back)
    return vals, idx


def approx_max_k(operand, k: int, reduction_dimension: int = -1, recall_target: float = 0.95,
                 reduction_input_size_override: int = -1, aggregate_to_topk: bool = True):
    """The ``k`` largest values along ``reduction_dimension`` and their indices
    (``jax.lax.approx_max_k``); exact here.

    Example:
        >>> import numpy as np
        >>> approx_max_k(np.array([3., 1., 4., 1., 5.], np.float32), 2)
        (array([5., 4.], dtype=float32), array([4, 2], dtype=int32))
    """
    return _top_k_along(operand, int(k), int(reduction_dimension), True)


def approx_min_k(operand, k: int, reduction_dimension: int = -1, recall_target: float = 0.95,
                 reduction_input_size_override: int = -1, aggregate_to_topk: bool = True):
    """The ``k`` smallest values along ``reduction_dimension`` and their indices
    (``jax.lax.approx_min_k``); exact here."""
    return _top_k_along(operand, int(k), int(reduction_dimension), False)


mulhi_p = Primitive("mulhi", impl_fallback=True)
_WIDER = {np.dtype(t): np.dtype(w) for t, w in (
    (np.int8, np.int16), (np.int16, np.int32), (np.int32, np.int64), (np.uint8, np.uint16),
    (np.uint16, np.uint32), (np.uint32, np.uint64))}


def _mulhi_impl(x, y):
    x, y = np.asarray(x), np.asarray(y)
    dt = x.dtype
    bits = dt.itemsize * 8
    wide = _WIDER.get(dt)
    if wide is not None:
        return ((x.astype(wide) * y.astype(wide)) >> bits).astype(dt)
    # 64-bit: exact products through Python integers
    prod = np.frompyfunc(lambda a, b: (int(a) * int(b)) >> 64, 2, 1)(x, y)
    mask = (1 << 64) - 1
    return np.array([v & mask for v in np.ravel(prod)], np.uint64).view(dt).reshape(
        np.broadcast_shapes(x.shape, y.shape))


def _mulhi_abstract(x: ShapedArray, y: ShapedArray):
    if x.dtype != y.dtype or x.dtype.kind not in "iu" or x.shape != y.shape:
        raise DTypeError(f"lax.mulhi: needs two integer operands of one dtype and shape, got "
                         f"{x.str_short()} and {y.str_short()}")
    return x


impl_rules[mulhi_p] = _mulhi_impl
abstract_eval_rules[mulhi_p] = _mulhi_abstract
defjvp_zero(mulhi_p)
batching_rules[mulhi_p] = partial(broadcast_batcher, mulhi_p, False)


def mulhi(x, y, /):
    """The high half of the double-width product of two integers (``jax.lax.mulhi``).

    Example:
        >>> import numpy as np
        >>> mulhi(np.uint32(2 ** 31), np.uint32(6))
        array(3, dtype=uint32)
    """
    return mulhi_p.bind(x, y)


def broadcast_like(arr, like_arr):
    """``arr`` broadcast to ``like_arr``'s shape, trailing dims aligned
    (``jax.lax.broadcast_like``)."""
    shape = get_aval(like_arr).shape
    a = get_aval(arr)
    dims = tuple(range(len(shape) - len(a.shape), len(shape)))
    return broadcast_in_dim(arr, shape, dims)

