"""``binomial`` and ``multinomial`` with JAX's algorithms and key use.

``binomial`` draws by inversion (counting geometric waiting times) where
``n * min(p, 1 - p) <= 10`` and by Hörmann's BTRS transformed rejection
elsewhere; as in JAX, both samplers run over the whole array and ``select``
picks per element, on ``min(p, 1 - p)`` with the count flipped back for
``p > 1/2``. ``multinomial`` is a ``scan`` of binomials over the categories,
each drawing from the remaining count with the conditional probability.
"""

from __future__ import annotations

import numpy as np

from .. import lax
from .. import numpy as fnp
from ..core.avals import canonicalize_dtype, default_float_dtype, is_inexact
from ..core.trace import get_aval
from ..errors import DTypeError
from .continuous import uniform
from .prng import check_key, split

__all__ = ["binomial", "multinomial"]

# log(k!) - (Stirling's series without its tail) for k = 0..9; beyond, the series
_STIRLING_TAIL = (0.0810614667953272, 0.0413406959554092, 0.0276779256849983,
                  0.02079067210376509, 0.0166446911898211, 0.0138761288230707,
                  0.0118967099458917, 0.0104112652619720, 0.00925546218271273,
                  0.00833056343336287)


def _stirling_tail(k):
    dt = get_aval(k).dtype
    small = lax.le(k, np.array(9, dt))
    kc = fnp.clip(k, np.array(0, dt), np.array(9, dt))
    kp1sq = (kc + 1) * (kc + 1)
    approx = (1.0 / 12 - (1.0 / 360 - 1.0 / 1260 / kp1sq) / kp1sq) / (kc + 1)
    table = np.array(_STIRLING_TAIL, dt)
    idx = fnp.clip(lax.convert_element_type(fnp.floor(kc), np.int32), 0, 9)  # NaN casts wild
    return lax.select(small, fnp.take(table, idx), approx)


def _inversion(key, count, prob, shape):
    dt = get_aval(prob).dtype
    log1mp = fnp.log1p(-prob)

    def body(carry):
        i, num, total, rng = carry
        keys = split(rng)
        sub, rng = keys[0], keys[1]
        num = lax.select(lax.le(total, count), num + 1, num)
        geom = fnp.ceil(fnp.log(uniform(sub, shape, dt)) / log1mp)
        return i + 1, num, total + geom, rng

    def cond(carry):
        return fnp.any(lax.le(carry[2], count))

    init = (np.int32(0), fnp.zeros(shape, dt), fnp.zeros(shape, dt), key)
    return lax.while_loop(cond, body, init)[1] - 1


def _btrs(key, count, prob, shape):
    dt = get_aval(prob).dtype
    stddev = fnp.sqrt(count * prob * (1 - prob))
    b = 1.15 + 2.53 * stddev
    a = -0.0873 + 0.0248 * b + 0.01 * prob
    c = count * prob + 0.5
    v_r = 0.92 - 4.2 / b
    r = prob / (1 - prob)
    alpha = (2.83 + 5.1 / b) * stddev
    m = fnp.floor((count + 1) * prob)
    # the part of the acceptance bound that does not depend on the candidate k
    base = ((m + 0.5) * fnp.log((m + 1) / (r * (count - m + 1)))
            + _stirling_tail(m) + _stirling_tail(count - m))

    def body(carry):
        i, k_out, accepted, rng = carry
        keys = split(rng, 3)
        rng, k0, k1 = keys[0], keys[1], keys[2]
        u = uniform(k0, shape, dt) - 0.5
        v = uniform(k1, shape, dt)
        us = 0.5 - fnp.abs(u)
        accept1 = (us >= 0.07) & (v <= v_r)
        k = fnp.floor((2 * a / us + b) * u + c)
        reject = (k < 0) | (k > count)
        v = fnp.log(v * alpha / (a / (us * us) + b))
        ub = (base + (count + 1) * fnp.log((count - m + 1) / (count - k + 1))
              + (k + 0.5) * fnp.log(r * (count - k + 1) / (k + 1))
              - _stirling_tail(k) - _stirling_tail(count - k))
        accept = accept1 | (~reject & (v <= ub))
        return i + 1, lax.select(accept, k, k_out), accepted | accept, rng

    def cond(carry):
        return fnp.any(~carry[2])

    init = (np.int32(0), fnp.full(shape, -1, dt), fnp.zeros(shape, bool), key)
    return lax.while_loop(cond, body, init)[1]


def _float_dtype(name, dtype):
    dtype = canonicalize_dtype(default_float_dtype() if dtype is None else np.dtype(dtype))
    if not is_inexact(dtype) or dtype.kind == "c":
        raise DTypeError(f"{name}: dtype must be a float dtype, got {dtype.name}")
    return dtype


def binomial(key, n, p, shape=None, dtype=None):
    """Binomial random counts of ``n`` trials with success probability ``p``
    (``jax.random.binomial``), returned as floats as in JAX.

    Args:
        key: a PRNG key.
        n: the number of trials (a float count is floored; NaN or negative gives NaN,
            +inf gives inf).
        p: the success probability (NaN or negative gives NaN).
        shape: the result shape, broadcast-compatible with ``n`` and ``p``; by
            default their broadcast shape.
        dtype: a float dtype (default float32, float64 with x64).

    Example:
        >>> from functrace.random import PRNGKey
        >>> x = binomial(PRNGKey(0), 20, 0.3, (3000,))
        >>> bool(abs(float(x.mean()) - 6.0) < 0.2)
        True
    """
    key = check_key("binomial", key)
    dtype = _float_dtype("binomial", dtype)
    with np.errstate(invalid="ignore", divide="ignore"):  # NaN/inf parameters are defined
        return _binomial(key, n, p, shape, dtype)


def _binomial(key, n, p, shape, dtype):
    n, p = fnp.asarray(n), fnp.asarray(p)
    bshape = np.broadcast_shapes(get_aval(n).shape, get_aval(p).shape)
    shape = bshape if shape is None else tuple(shape)
    if np.broadcast_shapes(shape, bshape) != shape:
        raise DTypeError(f"binomial: shape {shape} is not broadcast-compatible with n "
                         f"{get_aval(n).shape} and p {get_aval(p).shape}")
    pdt = get_aval(p).dtype if is_inexact(get_aval(p).dtype) else default_float_dtype()
    prob = fnp.broadcast_to(p.astype(pdt), shape)
    count = fnp.broadcast_to(n.astype(pdt), shape)
    p_lt_half = prob < 0.5
    q = lax.select(p_lt_half, prob, 1.0 - prob)
    bad_count = fnp.isnan(count) | (count < 0)
    inf_count = fnp.isinf(count)
    q_nan, q_neg = fnp.isnan(q), q < 0
    q = lax.select(q_nan | q_neg, fnp.full_like(q, 0.01), q)
    use_inversion = bad_count | (count * q <= 10.0)
    count = fnp.floor(count)
    count_inv = lax.select(use_inversion, count, fnp.zeros_like(count))
    count_btrs = lax.select(use_inversion, fnp.full_like(count, 1e4), count)
    q_btrs = lax.select(use_inversion, fnp.full_like(q, 0.5), q)
    samples = lax.select(use_inversion, _inversion(key, count_inv, q, shape),
                         _btrs(key, count_btrs, q_btrs, shape)).astype(dtype)
    invalid = q_neg | q_nan | bad_count
    samples = lax.select(invalid, fnp.full_like(samples, np.nan), samples)
    samples = lax.select(inf_count & ~invalid, fnp.full_like(samples, np.inf), samples)
    keep = p_lt_half | bad_count | q_nan | inf_count
    return lax.select(keep, samples, count.astype(dtype) - samples)


def multinomial(key, n, p, *, shape=None, dtype=None, unroll=1):
    """Multinomial counts of ``n`` trials over the categories on ``p``'s last axis
    (``jax.random.multinomial``), as floats.

    Example:
        >>> import numpy as np
        >>> from functrace.random import PRNGKey
        >>> x = multinomial(PRNGKey(0), 10.0, np.array([0.2, 0.3, 0.5], np.float32))
        >>> x.shape, float(x.sum())
        ((3,), 10.0)
    """
    key = check_key("multinomial", key)
    dtype = _float_dtype("multinomial", dtype)
    with np.errstate(invalid="ignore", divide="ignore"):  # p = 0 categories are defined
        return _multinomial(key, n, p, shape, dtype, unroll)


def _multinomial(key, n, p, shape, dtype, unroll):
    n, p = fnp.asarray(n), fnp.asarray(p)
    fdt = np.result_type(get_aval(n).dtype, get_aval(p).dtype)
    fdt = fdt if is_inexact(fdt) else default_float_dtype()
    n, p = n.astype(fdt), p.astype(fdt)
    shape = get_aval(p).shape if shape is None else tuple(shape)
    n = fnp.broadcast_to(n, shape[:-1])
    p = fnp.moveaxis(fnp.broadcast_to(p, shape), -1, 0)
    remaining = lax.cumsum(p, 0, reverse=True)
    ratios = p / fnp.where(remaining == 0, 1, remaining)
    keys = split(key, get_aval(ratios).shape[0])

    def step(left, ratio_key):
        ratio, k = ratio_key
        count = binomial(k, left, fnp.clip(ratio, 0, 1), dtype=get_aval(left).dtype)
        return left - count, count

    _, counts = lax.scan(step, n, (ratios, keys), unroll=unroll)
    return fnp.moveaxis(counts, 0, -1).astype(dtype)
