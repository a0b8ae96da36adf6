"""Distributions that transform uniform or normal draws, with JAX's algorithms
(``jax._src.random``): ``exponential``, ``laplace``, ``logistic``, ``cauchy``, ``pareto``,
``rademacher``, ``maxwell``, ``double_sided_maxwell``, ``weibull_min``, ``geometric``,
``lognormal``, ``rayleigh``, ``wald`` and ``triangular``.

Each consumes its key as JAX's does, so the draws are JAX's up to the last bit of
``log``/``log1p``/``exp``/``pow`` (NumPy's rather than XLA's) and, for ``cauchy``, of
``tan``, computed here as ``sin / cos``. Integer results (``rademacher``, and
``geometric`` away from a rounding tie) are JAX's exactly.
"""

from __future__ import annotations

import numpy as np

from .. import lax
from .. import numpy as fnp
from ..core.avals import canonicalize_dtype, default_int_dtype, is_int
from ..core.trace import get_aval
from ..errors import DTypeError, no_sharding
from .continuous import normal, uniform
from .discrete import bernoulli
from .prng import check_key, check_shape, float_dtype, split

__all__ = [
    "cauchy", "double_sided_maxwell", "exponential", "geometric", "laplace", "logistic",
    "lognormal", "maxwell", "pareto", "rademacher", "rayleigh", "triangular", "wald",
    "weibull_min",
]


def _c(value, dtype):
    return np.array(value, dtype)


def param_shape(name: str, shape, *params) -> tuple[int, ...]:
    """``shape``, checked against the parameters' shapes; their broadcast shape if None
    (JAX's ``_check_broadcast_shapes``)."""
    shapes = [get_aval(p).shape for p in params]
    if shape is None:
        return tuple(np.broadcast_shapes(*shapes))
    return check_shape(name, shape, *shapes)


def _param(x, dtype, shape=None):
    x = lax.convert_element_type(x, dtype)
    return x if shape is None else fnp.broadcast_to(x, shape)


def exponential(key, shape=(), dtype=None, *, out_sharding=None):
    """Standard exponential random floats, ``-log1p(-u)`` (``jax.random.exponential``).

    Example:
        >>> from functrace.random import PRNGKey
        >>> exponential(PRNGKey(0), (3,)).shape
        (3,)
    """
    no_sharding("random.exponential", out_sharding=out_sharding)
    key = check_key("exponential", key)
    dtype = float_dtype("exponential", dtype)
    u = uniform(key, check_shape("exponential", shape), dtype)
    return lax.neg(lax.log1p(lax.neg(u)))


def laplace(key, shape=(), dtype=None, *, out_sharding=None):
    """Standard Laplace random floats (``jax.random.laplace``).

    Example:
        >>> from functrace.random import PRNGKey
        >>> laplace(PRNGKey(0), (3,)).dtype
        dtype('float32')
    """
    no_sharding("random.laplace", out_sharding=out_sharding)
    key = check_key("laplace", key)
    dtype = float_dtype("laplace", dtype)
    finfo = np.finfo(dtype)
    u = uniform(key, check_shape("laplace", shape), dtype,
                minval=_c(-1.0 + finfo.epsneg, dtype), maxval=_c(1.0, dtype))
    return lax.mul(lax.sign(u), lax.log1p(lax.neg(lax.abs(u))))


def logistic(key, shape=(), dtype=None, *, out_sharding=None):
    """Standard logistic random floats, ``log(u) - log1p(-u)`` (``jax.random.logistic``).

    Example:
        >>> from functrace.random import PRNGKey
        >>> logistic(PRNGKey(0), (2, 2)).shape
        (2, 2)
    """
    no_sharding("random.logistic", out_sharding=out_sharding)
    key = check_key("logistic", key)
    dtype = float_dtype("logistic", dtype)
    x = uniform(key, check_shape("logistic", shape), dtype,
                minval=_c(np.finfo(dtype).tiny, dtype), maxval=_c(1.0, dtype))
    return lax.sub(lax.log(x), lax.log1p(lax.neg(x)))


def cauchy(key, shape=(), dtype=None, *, out_sharding=None):
    """Standard Cauchy random floats, ``tan(pi * (u - 1/2))`` (``jax.random.cauchy``).

    Example:
        >>> from functrace.random import PRNGKey
        >>> cauchy(PRNGKey(0), (3,)).shape
        (3,)
    """
    no_sharding("random.cauchy", out_sharding=out_sharding)
    key = check_key("cauchy", key)
    dtype = float_dtype("cauchy", dtype)
    u = uniform(key, check_shape("cauchy", shape), dtype,
                minval=_c(np.finfo(dtype).eps, dtype), maxval=_c(1.0, dtype))
    angle = lax.mul(_c(np.pi, dtype), lax.sub(u, _c(0.5, dtype)))
    return lax.div(lax.sin(angle), lax.cos(angle))


def pareto(key, b, shape=None, dtype=None, *, out_sharding=None):
    """Pareto random floats with shape parameter ``b``, ``exp(e / b)`` for a standard
    exponential ``e`` (``jax.random.pareto``).

    Example:
        >>> from functrace.random import PRNGKey
        >>> bool((pareto(PRNGKey(0), 3.0, (100,)) >= 1).all())
        True
    """
    no_sharding("random.pareto", out_sharding=out_sharding)
    key = check_key("pareto", key)
    dtype = float_dtype("pareto", dtype)
    shape = param_shape("pareto", shape, b)
    e = exponential(key, shape, dtype)
    return lax.exp(fnp.divide(e, _param(b, dtype)))


def rademacher(key, shape=(), dtype=None, *, out_sharding=None):
    """Random -1 or +1 with equal probability (``jax.random.rademacher``); integers by
    default.

    Example:
        >>> from functrace.random import PRNGKey
        >>> sorted(set(rademacher(PRNGKey(0), (50,)).tolist()))
        [-1, 1]
    """
    no_sharding("random.rademacher", out_sharding=out_sharding)
    key = check_key("rademacher", key)
    dtype = canonicalize_dtype(np.dtype(default_int_dtype() if dtype is None else dtype))
    b = lax.convert_element_type(bernoulli(key, 0.5, check_shape("rademacher", shape)), dtype)
    return lax.sub(lax.mul(_c(2, dtype), b), _c(1, dtype))


def maxwell(key, shape=(), dtype=None, *, out_sharding=None):
    """Maxwell random floats: the norm of three standard normals (``jax.random.maxwell``).

    Example:
        >>> from functrace.random import PRNGKey
        >>> maxwell(PRNGKey(0), (2,)).shape
        (2,)
    """
    no_sharding("random.maxwell", out_sharding=out_sharding)
    key = check_key("maxwell", key)
    dtype = float_dtype("maxwell", dtype)
    shape = check_shape("maxwell", shape)
    x = normal(key, (*shape, 3), dtype)
    return lax.sqrt(lax.reduce_sum(lax.mul(x, x), (len(shape),)))


def double_sided_maxwell(key, loc, scale, shape=(), dtype=None):
    """Maxwell draws with a random sign, times ``scale`` plus ``loc``
    (``jax.random.double_sided_maxwell``).

    As in JAX, the parameters' broadcast shape is appended to ``shape`` (it is the
    whole shape when ``shape`` is ``()``).

    Example:
        >>> from functrace.random import PRNGKey
        >>> double_sided_maxwell(PRNGKey(0), 0.0, 1.0, (3,)).shape
        (3,)
    """
    key = check_key("double_sided_maxwell", key)
    dtype = float_dtype("double_sided_maxwell", dtype)
    params = tuple(np.broadcast_shapes(get_aval(loc).shape, get_aval(scale).shape))
    shape = check_shape("double_sided_maxwell", shape)
    shape = (shape or params) + params
    maxwell_key, sign_key = split(key)
    rvs = maxwell(maxwell_key, shape, dtype)
    sign = rademacher(sign_key, shape, dtype)
    return fnp.add(fnp.multiply(lax.mul(sign, rvs), _param(scale, dtype)), _param(loc, dtype))


def weibull_min(key, scale, concentration, shape=(), dtype=None):
    """Weibull random floats (``jax.random.weibull_min``), by the inverse CDF
    ``(-log1p(-u)) ** (1 / concentration) * scale``.

    Example:
        >>> from functrace.random import PRNGKey
        >>> weibull_min(PRNGKey(0), 1.0, 2.0, (3,)).shape
        (3,)
    """
    key = check_key("weibull_min", key)
    dtype = float_dtype("weibull_min", dtype)
    u = uniform(key, check_shape("weibull_min", shape), dtype)
    e = lax.neg(lax.log1p(lax.neg(u)))
    power = fnp.divide(_c(1.0, dtype), _param(concentration, dtype))
    return fnp.multiply(fnp.power(e, power), _param(scale, dtype))


def geometric(key, p, shape=None, dtype=None, *, out_sharding=None):
    """Geometric random integers >= 1: the number of Bernoulli(``p``) trials up to the
    first success (``jax.random.geometric``).

    Example:
        >>> from functrace.random import PRNGKey
        >>> bool((geometric(PRNGKey(0), 0.5, (100,)) >= 1).all())
        True
    """
    no_sharding("random.geometric", out_sharding=out_sharding)
    key = check_key("geometric", key)
    dtype = canonicalize_dtype(np.dtype(default_int_dtype() if dtype is None else dtype))
    if not is_int(dtype):
        raise DTypeError(f"random.geometric: dtype must be an integer dtype, got {dtype.name}")
    p = fnp.asarray(p)
    if not np.issubdtype(get_aval(p).dtype, np.inexact):
        p = fnp.astype(p, float_dtype("geometric", None))
    pdtype = get_aval(p).dtype
    shape = param_shape("geometric", shape, p)
    u = uniform(key, shape, pdtype)
    u = fnp.where(lax.eq(u, _c(0.0, pdtype)), _c(1.0, pdtype), u)
    log_one_minus_p = fnp.broadcast_to(lax.log1p(lax.neg(p)), shape)
    g = lax.add(lax.floor(lax.div(lax.log(u), log_one_minus_p)), _c(1.0, pdtype))
    return lax.convert_element_type(g, dtype)


def lognormal(key, sigma=np.float32(1), shape=None, dtype=None, *, out_sharding=None):
    """Log-normal random floats, ``exp(sigma * normal)`` (``jax.random.lognormal``).

    Example:
        >>> from functrace.random import PRNGKey
        >>> bool((lognormal(PRNGKey(0), 0.5, (10,)) > 0).all())
        True
    """
    no_sharding("random.lognormal", out_sharding=out_sharding)
    key = check_key("lognormal", key)
    dtype = float_dtype("lognormal", dtype)
    shape = param_shape("lognormal", shape, sigma)
    return lax.exp(fnp.multiply(normal(key, shape, dtype), _param(sigma, dtype)))


def rayleigh(key, scale, shape=None, dtype=None, *, out_sharding=None):
    """Rayleigh random floats, ``scale * sqrt(-2 log u)`` (``jax.random.rayleigh``).

    Example:
        >>> from functrace.random import PRNGKey
        >>> rayleigh(PRNGKey(0), 2.0, (3,)).shape
        (3,)
    """
    no_sharding("random.rayleigh", out_sharding=out_sharding)
    key = check_key("rayleigh", key)
    dtype = float_dtype("rayleigh", dtype)
    shape = param_shape("rayleigh", shape, scale)
    u = uniform(key, shape, dtype)
    scale = _param(scale, dtype, shape)
    return lax.mul(scale, lax.sqrt(lax.mul(lax.log(u), _c(-2.0, dtype))))


def wald(key, mean, shape=None, dtype=None, *, out_sharding=None):
    """Wald (inverse Gaussian) random floats with the given ``mean`` and unit shape
    (``jax.random.wald``).

    Example:
        >>> from functrace.random import PRNGKey
        >>> bool((wald(PRNGKey(0), 1.0, (10,)) > 0).all())
        True
    """
    no_sharding("random.wald", out_sharding=out_sharding)
    key = check_key("wald", key)
    dtype = float_dtype("wald", dtype)
    shape = param_shape("wald", shape, mean)
    k1, k2 = split(key)
    mean = _param(mean, dtype, shape)
    v = normal(k1, shape, dtype)
    z = uniform(k2, shape, dtype)
    y = lax.mul(v, v)
    mean_sq = lax.mul(mean, mean)
    sqrt_term = lax.sqrt(lax.add(lax.mul(lax.mul(_c(4.0, dtype), mean), y),
                                 lax.mul(mean_sq, lax.mul(y, y))))
    x = lax.sub(lax.add(mean, lax.div(lax.mul(mean_sq, y), _c(2.0, dtype))),
                lax.mul(lax.div(mean, _c(2.0, dtype)), sqrt_term))
    return lax.select(lax.le(z, lax.div(mean, lax.add(mean, x))), x, lax.div(mean_sq, x))


def triangular(key, left, mode, right, shape=None, dtype=None, *, out_sharding=None):
    """Triangular random floats on ``[left, right]`` peaking at ``mode``
    (``jax.random.triangular``), by the inverse CDF.

    Example:
        >>> from functrace.random import PRNGKey
        >>> x = triangular(PRNGKey(0), 0.0, 0.5, 1.0, (100,))
        >>> bool(((x >= 0) & (x <= 1)).all())
        True
    """
    no_sharding("random.triangular", out_sharding=out_sharding)
    key = check_key("triangular", key)
    dtype = float_dtype("triangular", dtype)
    shape = param_shape("triangular", shape, left, mode, right)
    left, mode, right = (_param(v, dtype, shape) for v in (left, mode, right))
    width = lax.sub(right, left)
    fc = lax.div(lax.sub(mode, left), width)
    u = uniform(key, shape, dtype)
    out1 = lax.add(left, lax.sqrt(lax.mul(lax.mul(u, width), lax.sub(mode, left))))
    out2 = lax.sub(right, lax.sqrt(lax.mul(lax.mul(lax.sub(_c(1.0, dtype), u), width),
                                           lax.sub(right, mode))))
    return lax.select(lax.lt(u, fc), out1, out2)
