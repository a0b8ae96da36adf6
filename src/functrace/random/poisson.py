"""``poisson`` with JAX's algorithm and key use.

Rates below 10 use Knuth's method: multiply uniforms until the product drops
below ``exp(-lam)``, one ``split`` of the key per round, every element drawing
from the same round key. Rates of 10 and more use Hörmann's transformed
rejection (PTRS), one ``split(key, 3)`` per round. As in JAX, both samplers run
over the whole array (each with the other's elements parked at a harmless rate)
and ``select`` picks per element, so the streams match JAX's draw for draw.

PTRS compares against ``lgamma(k + 1)``, computed here with the Lanczos
approximation XLA uses (g = 7); it only decides acceptance, so a last-bit
difference from XLA's value could flip a decision only at an exact tie.
"""

from __future__ import annotations

import math

import numpy as np

from .. import lax
from .. import numpy as fnp
from ..core.avals import canonicalize_dtype, default_int_dtype, is_int
from ..errors import DTypeError, no_sharding
from .continuous import uniform
from .distributions import param_shape
from .prng import check_key, split

__all__ = ["poisson"]

_LANCZOS_G = 7.0
_LANCZOS_BASE = 0.99999999999980993227684700473478
_LANCZOS = (676.520368121885098567009190444019, -1259.13921672240287047156078755283,
            771.3234287776530788486528258894, -176.61502916214059906584551354,
            12.507343278686904814458936853, -0.13857109526572011689554707,
            9.984369578019570859563e-6, 1.50563273514931155834e-7)


def _f32(v):
    return np.float32(v)


def _lgamma(x):
    """log|Gamma(x)| for x >= 0.5 by XLA's Lanczos sum (float32); others give 0."""
    ok = lax.ge(x, _f32(0.5))
    z = lax.sub(lax.select(ok, x, fnp.ones_like(x)), _f32(1.0))
    acc = fnp.full_like(x, _f32(_LANCZOS_BASE))
    for i, c in enumerate(_LANCZOS):
        acc = lax.add(acc, lax.div(_f32(c), lax.add(z, _f32(i + 1))))
    t = lax.add(z, _f32(_LANCZOS_G + 0.5))
    log_t = lax.add(_f32(math.log(_LANCZOS_G + 0.5)),
                    lax.log1p(lax.div(z, _f32(_LANCZOS_G + 0.5))))
    log_y = lax.add(lax.add(_f32(math.log(math.sqrt(2 * math.pi))),
                            lax.mul(lax.sub(lax.add(z, _f32(0.5)), lax.div(t, log_t)), log_t)),
                    lax.log(acc))
    return lax.select(ok, log_y, fnp.zeros_like(x))


def _knuth(key, lam, shape, dtype, max_iters):
    def cond(carry):
        i, _, _, log_prod = carry
        return fnp.any(lax.gt(log_prod, lax.neg(lam))) & (i < max_iters)

    def body(carry):
        i, k, rng, log_prod = carry
        rng, sub = split(rng)
        k = lax.select(lax.gt(log_prod, lax.neg(lam)), lax.add(k, np.array(1, dtype)), k)
        u = uniform(sub, shape, np.float32)
        return i + 1, k, rng, lax.add(log_prod, lax.log(u))

    init = (np.int32(0), fnp.zeros(shape, dtype), key, fnp.zeros(shape, np.float32))
    k = lax.while_loop(cond, body, init)[1]
    return lax.sub(k, np.array(1, dtype))


def _rejection(key, lam, shape, dtype, max_iters):
    log_lam = lax.log(lam)
    b = lax.add(_f32(0.931), lax.mul(_f32(2.53), lax.sqrt(lam)))
    a = lax.add(_f32(-0.059), lax.mul(_f32(0.02483), b))
    inv_alpha = lax.add(_f32(1.1239), lax.div(_f32(1.1328), lax.sub(b, _f32(3.4))))
    v_r = lax.sub(_f32(0.9277), lax.div(_f32(3.6224), lax.sub(b, _f32(2.0))))

    def cond(carry):
        i, _, accepted, _ = carry
        return fnp.any(lax.bitwise_not(accepted)) & (i < max_iters)

    def body(carry):
        i, k_out, accepted, rng = carry
        keys = split(rng, 3)
        rng, k0, k1 = keys[0], keys[1], keys[2]
        u = lax.sub(uniform(k0, shape, np.float32), _f32(0.5))
        v = uniform(k1, shape, np.float32)
        us = lax.sub(_f32(0.5), lax.abs(u))
        k = lax.floor(lax.add(lax.add(lax.mul(lax.add(lax.div(lax.mul(_f32(2.0), a), us), b), u),
                                      lam), _f32(0.43)))
        s = lax.log(lax.div(lax.mul(v, inv_alpha), lax.add(lax.div(a, lax.mul(us, us)), b)))
        t = lax.sub(lax.add(lax.neg(lam), lax.mul(k, log_lam)),
                    _lgamma(lax.add(k, _f32(1.0))))
        accept1 = lax.ge(us, _f32(0.07)) & lax.le(v, v_r)
        reject = lax.lt(k, _f32(0.0)) | (lax.lt(us, _f32(0.013)) & lax.gt(v, us))
        accept = accept1 | (lax.bitwise_not(reject) & lax.le(s, t))
        return i + 1, lax.select(accept, k, k_out), accepted | accept, rng

    init = (np.int32(0), fnp.full(shape, -1.0, np.float32), fnp.zeros(shape, bool), key)
    k = lax.while_loop(cond, body, init)[1]
    return lax.convert_element_type(k, dtype)


def poisson(key, lam, shape=None, dtype=None, *, out_sharding=None):
    """Poisson random integers with rate ``lam`` (``jax.random.poisson``).

    Args:
        key: a PRNG key.
        lam: the rate (mean), >= 0; a scalar or an array broadcastable to ``shape``.
        shape: the result shape; by default ``lam``'s shape.
        dtype: an integer dtype (default int32, int64 with x64).

    Returns:
        An integer array of ``shape``; 0 where ``lam == 0``.

    Example:
        >>> from functrace.random import PRNGKey
        >>> x = poisson(PRNGKey(0), 3.0, (2000,))
        >>> bool(abs(float(x.mean()) - 3.0) < 0.15), x.dtype
        (True, dtype('int32'))
    """
    no_sharding("random.poisson", out_sharding=out_sharding)
    key = check_key("poisson", key)
    dtype = canonicalize_dtype(default_int_dtype() if dtype is None else np.dtype(dtype))
    if not is_int(dtype):
        raise DTypeError(f"poisson: dtype must be an integer dtype, got {dtype.name}")
    shape = param_shape("poisson", shape, lam)
    lam = fnp.broadcast_to(lax.convert_element_type(fnp.asarray(lam), np.float32), shape)
    max_iters = np.int32(np.iinfo(np.int32).max)
    use_knuth = lax.ne(lam, lam) | lax.lt(lam, _f32(10.0))
    lam_knuth = lax.select(use_knuth, lam, fnp.zeros_like(lam))
    lam_rej = lax.select(use_knuth, fnp.full_like(lam, _f32(1e5)), lam)
    out = lax.select(use_knuth, _knuth(key, lam_knuth, shape, dtype, max_iters),
                     _rejection(key, lam_rej, shape, dtype, max_iters))
    return lax.select(lax.eq(lam, _f32(0.0)), fnp.zeros_like(out), out)
