"""Gamma-family samplers with JAX's algorithm and key use (``jax._src.random``):
``gamma``, ``loggamma``, ``beta``, ``dirichlet``, ``chisquare``, ``t``, ``f`` and
``generalized_normal``.

JAX draws each element of ``gamma(key, a, shape)`` from its own key
(``split(key, size)``) by Marsaglia and Tsang's rejection method, in a ``while_loop``:
each round splits the element's key into the next round's key, a key for the normal
draw (itself a loop that redraws until ``v = 1 + c x > 0``) and a key for the uniform.
Here the rounds are unrolled (written before ``lax.while_loop`` existed; a loop would
now do): ``_ROUNDS`` outer rounds
of ``_TRIES`` normal draws each, keeping the first accepted one. The keys of each round
do not depend on earlier rounds, so this gives JAX's sample exactly unless an element
needs more rounds than that: probability below 1e-11 per element (the worst acceptance
rate, at ``a = 1``, is 95.2%), in which case the last candidate is returned. Eagerly,
the unrolling stops once every element is accepted.

``gamma`` is reparameterised as JAX's: its derivative in ``a`` is ``-(dF/da) / f`` at
the sample (F the gamma CDF, f its density), with ``dF/da`` from the series or
continued fraction of the regularised incomplete gamma function.
"""

from __future__ import annotations

import math

import numpy as np

from .. import lax
from .. import numpy as fnp
from ..core.trace import Tracer, get_aval
from ..errors import ShapeError, no_sharding
from ..transforms.custom import custom_jvp
from ..transforms.vmap import vmap
from .continuous import normal, uniform
from .distributions import param_shape, rademacher
from .prng import check_key, float_dtype, split
from .special import gamma_sample_grad

__all__ = ["beta", "chisquare", "dirichlet", "f", "gamma", "generalized_normal", "loggamma",
           "t"]

_ROUNDS = 8  # outer rejection rounds: fail with probability 0.048**8 < 3e-11
_TRIES = 4  # normal draws per round until v > 0: fail with probability 0.0072**4 < 3e-9


def _c(value, dtype):
    return np.array(value, dtype)


def _concrete_all(x) -> bool:
    return not isinstance(x, Tracer) and bool(np.all(np.asarray(x)))


def _vsplit(keys, num):
    """``split(k, num)`` of each key of ``keys`` (``(n, 2)``): ``num`` arrays ``(n, 2)``."""
    out = vmap(lambda k: split(k, num))(keys)
    n = get_aval(keys).shape[0]
    return [lax.reshape(lax.slice(out, (0, i, 0), (n, i + 1, 2)), (n, 2)) for i in range(num)]


def _gamma_flat(keys, alpha, log_space: bool):
    """One gamma draw per (key, alpha) pair: ``keys`` ``(n, 2)``, ``alpha`` ``(n,)``."""
    dtype = get_aval(alpha).dtype
    one = _c(1.0, dtype)
    boost_mask = lax.ge(alpha, one)
    alpha_orig = alpha
    alpha = lax.select(boost_mask, alpha, lax.add(alpha, one))
    d = lax.sub(alpha, _c(1.0 / 3.0, dtype))
    c = lax.div(_c(1.0 / 3.0, dtype), lax.sqrt(d))
    draw_normal = vmap(lambda k: normal(k, (), dtype))
    draw_uniform = vmap(lambda k: uniform(k, (), dtype))

    key, subkey = _vsplit(keys, 2)
    accepted = fnp.zeros(get_aval(alpha).shape, np.bool_)
    v_out = fnp.ones_like(alpha)
    for _ in range(_ROUNDS):
        key, x_key, u_key = _vsplit(key, 3)
        found = fnp.zeros(get_aval(alpha).shape, np.bool_)
        x_sel, v_sel = fnp.zeros_like(alpha), fnp.ones_like(alpha)
        for _ in range(_TRIES):
            x_key, sub = _vsplit(x_key, 2)
            x = draw_normal(sub)
            v = lax.add(one, lax.mul(x, c))
            take = fnp.logical_and(fnp.logical_not(found), lax.gt(v, _c(0.0, dtype)))
            x_sel, v_sel = lax.select(take, x, x_sel), lax.select(take, v, v_sel)
            found = fnp.logical_or(found, take)
            if _concrete_all(found):
                break
        big_x = lax.mul(x_sel, x_sel)
        big_v = lax.mul(lax.mul(v_sel, v_sel), v_sel)
        u = draw_uniform(u_key)
        reject = fnp.logical_and(
            lax.ge(u, lax.sub(one, lax.mul(_c(0.0331, dtype), lax.mul(big_x, big_x)))),
            lax.ge(lax.log(u), lax.add(lax.mul(big_x, _c(0.5, dtype)),
                                       lax.mul(d, lax.add(lax.sub(one, big_v),
                                                          lax.log(big_v))))))
        ok = fnp.logical_and(found, fnp.logical_not(reject))
        take = fnp.logical_and(fnp.logical_not(accepted), ok)
        v_out = lax.select(take, big_v, v_out)
        last = fnp.logical_and(fnp.logical_not(accepted), found)  # a fallback, see the module
        v_out = lax.select(fnp.logical_and(last, fnp.logical_not(ok)), big_v, v_out)
        accepted = fnp.logical_or(accepted, ok)
        if _concrete_all(accepted):
            break
    if log_space:
        e = vmap(lambda k: lax.neg(lax.log1p(lax.neg(uniform(k, (), dtype)))))(subkey)
        log_samples = lax.neg(e)
        no_boost = fnp.logical_or(boost_mask, lax.eq(log_samples, _c(0.0, dtype)))
        log_boost = lax.select(no_boost, fnp.zeros_like(alpha),
                               lax.mul(log_samples, lax.div(one, alpha_orig)))
        return lax.add(lax.add(lax.log(d), lax.log(v_out)), log_boost)
    samples = lax.sub(one, draw_uniform(subkey))
    boost = lax.select(boost_mask, fnp.ones_like(alpha),
                       lax.pow(samples, lax.div(one, alpha_orig)))
    return lax.mul(lax.mul(d, v_out), boost)


def _gamma_impl(key, a, log_space: bool):
    shape = get_aval(a).shape
    n = math.prod(shape)
    keys = lax.reshape(split(key, n), (n, 2))
    return lax.reshape(_gamma_flat(keys, lax.reshape(a, (n,)), log_space), shape)


def _make_gamma(log_space: bool):
    @custom_jvp
    def draw(key, a):
        return _gamma_impl(key, a, log_space)

    @draw.defjvp
    def _jvp(primals, tangents):
        key, a = primals
        _, a_dot = tangents
        ans = draw(key, a)
        sample = lax.stop_gradient(ans)
        a = lax.stop_gradient(a)
        if log_space:  # d log(x) = dx / x, with exp(log x) = 0 replaced by the tiniest float
            x = lax.exp(sample)
            tiny = fnp.full_like(x, np.finfo(get_aval(x).dtype).tiny)
            x = lax.select(lax.eq(x, fnp.zeros_like(x)), tiny, x)
            grad = lax.div(gamma_sample_grad(a, x), x)
        else:
            grad = gamma_sample_grad(a, sample)
        return ans, lax.mul(a_dot, grad)

    return draw


_gamma_draw = _make_gamma(False)
_loggamma_draw = _make_gamma(True)


def _gamma(name, key, a, shape, dtype, log_space):
    key = check_key(name, key)
    dtype = float_dtype(name, dtype)
    shape = param_shape(name, shape, a)
    a = fnp.broadcast_to(lax.convert_element_type(a, dtype), shape)
    return (_loggamma_draw if log_space else _gamma_draw)(key, a)


def gamma(key, a, shape=None, dtype=None, *, out_sharding=None):
    """Gamma random floats with shape parameter ``a`` and unit scale
    (``jax.random.gamma``), differentiable in ``a`` (implicit reparameterisation).

    Args:
        key: a PRNG key.
        a: the shape parameter (> 0), a scalar or array.
        shape: the result shape; by default ``a``'s shape.
        dtype: a float dtype.
    Returns:
        An array of ``shape``.

    Example:
        >>> from functrace.random import PRNGKey
        >>> x = gamma(PRNGKey(0), 2.0, (1000,))
        >>> bool(abs(float(x.mean()) - 2.0) < 0.2)
        True
    """
    no_sharding("random.gamma", out_sharding=out_sharding)
    return _gamma("gamma", key, a, shape, dtype, False)


def loggamma(key, a, shape=None, dtype=None, *, out_sharding=None):
    """The log of gamma random floats, accurate for small ``a`` (``jax.random.loggamma``).

    Example:
        >>> from functrace.random import PRNGKey
        >>> loggamma(PRNGKey(0), 0.01, (3,)).shape
        (3,)
    """
    no_sharding("random.loggamma", out_sharding=out_sharding)
    return _gamma("loggamma", key, a, shape, dtype, True)


def beta(key, a, b, shape=None, dtype=None, *, out_sharding=None):
    """Beta random floats (``jax.random.beta``), from two log-gamma draws.

    Example:
        >>> from functrace.random import PRNGKey
        >>> x = beta(PRNGKey(0), 2.0, 3.0, (5,))
        >>> bool(((x > 0) & (x < 1)).all())
        True
    """
    no_sharding("random.beta", out_sharding=out_sharding)
    key = check_key("beta", key)
    dtype = float_dtype("beta", dtype)
    shape = param_shape("beta", shape, a, b)
    key_a, key_b = split(key)
    log_a = loggamma(key_a, fnp.broadcast_to(lax.convert_element_type(a, dtype), shape),
                     shape, dtype)
    log_b = loggamma(key_b, fnp.broadcast_to(lax.convert_element_type(b, dtype), shape),
                     shape, dtype)
    log_max = lax.max(log_a, log_b)
    ga, gb = lax.exp(lax.sub(log_a, log_max)), lax.exp(lax.sub(log_b, log_max))
    return lax.div(ga, lax.add(ga, gb))


def dirichlet(key, alpha, shape=None, dtype=None, *, out_sharding=None):
    """Dirichlet random vectors (``jax.random.dirichlet``): a softmax of log-gamma
    draws, categories along the last axis of ``alpha``.

    Example:
        >>> from functrace.random import PRNGKey
        >>> x = dirichlet(PRNGKey(0), np.float32([1.0, 2.0, 3.0]), (4,))
        >>> x.shape, bool(np.allclose(x.sum(-1), 1.0))
        ((4, 3), True)
    """
    no_sharding("random.dirichlet", out_sharding=out_sharding)
    key = check_key("dirichlet", key)
    dtype = float_dtype("dirichlet", dtype)
    ashape = get_aval(alpha).shape
    if len(ashape) < 1:
        raise ShapeError(f"random.dirichlet: alpha must have rank >= 1 (one concentration per "
                         f"category), got shape {ashape}")
    shape = param_shape("dirichlet", shape, np.zeros(ashape[:-1]))
    g = loggamma(key, fnp.broadcast_to(lax.convert_element_type(alpha, dtype),
                                       (*shape, ashape[-1])), None, dtype)
    # softmax along the last axis, as jax.nn.softmax: exp(x - max) / sum
    unnormalized = fnp.exp(fnp.subtract(g, fnp.max(g, axis=-1, keepdims=True)))
    return fnp.divide(unnormalized, fnp.sum(unnormalized, axis=-1, keepdims=True))


def chisquare(key, df, shape=None, dtype=None, *, out_sharding=None):
    """Chi-square random floats with ``df`` degrees of freedom
    (``jax.random.chisquare``): ``2 exp(loggamma(df / 2))``.

    Example:
        >>> from functrace.random import PRNGKey
        >>> chisquare(PRNGKey(0), 3.0, (2,)).shape
        (2,)
    """
    no_sharding("random.chisquare", out_sharding=out_sharding)
    key = check_key("chisquare", key)
    dtype = float_dtype("chisquare", dtype)
    shape = param_shape("chisquare", shape, df)
    half_df = lax.div(lax.convert_element_type(df, dtype), _c(2.0, dtype))
    return lax.mul(lax.exp(loggamma(key, half_df, shape, dtype)), _c(2.0, dtype))


def f(key, dfnum, dfden, shape=None, dtype=None, *, out_sharding=None):
    """F-distributed random floats (``jax.random.f``).

    Example:
        >>> from functrace.random import PRNGKey
        >>> f(PRNGKey(0), 2.0, 5.0, (3,)).shape
        (3,)
    """
    no_sharding("random.f", out_sharding=out_sharding)
    key = check_key("f", key)
    dtype = float_dtype("f", dtype)
    shape = param_shape("f", shape, dfnum, dfden)
    dfnum = lax.convert_element_type(dfnum, dtype)
    dfden = lax.convert_element_type(dfden, dtype)
    key_dfd, key_dfn = split(key)
    num = fnp.divide(chisquare(key_dfn, dfnum, shape, dtype), dfnum)
    den = fnp.divide(chisquare(key_dfd, dfden, shape, dtype), dfden)
    return lax.div(num, den)


def t(key, df, shape=None, dtype=None, *, out_sharding=None):
    """Student's t random floats with ``df`` degrees of freedom (``jax.random.t``).

    Example:
        >>> from functrace.random import PRNGKey
        >>> t(PRNGKey(0), 5.0, (3,)).shape
        (3,)
    """
    no_sharding("random.t", out_sharding=out_sharding)
    key = check_key("t", key)
    dtype = float_dtype("t", dtype)
    shape = param_shape("t", shape, df)
    df = lax.convert_element_type(df, dtype)
    key_n, key_g = split(key)
    n = normal(key_n, shape, dtype)
    half_df = lax.div(df, _c(2.0, dtype))
    g = gamma(key_g, half_df, shape, dtype)
    return fnp.multiply(n, fnp.sqrt(fnp.divide(half_df, g)))


def generalized_normal(key, p, shape=(), dtype=None, *, out_sharding=None):
    """Generalised normal random floats with exponent ``p``
    (``jax.random.generalized_normal``).

    Example:
        >>> from functrace.random import PRNGKey
        >>> generalized_normal(PRNGKey(0), 2.0, (3,)).shape
        (3,)
    """
    no_sharding("random.generalized_normal", out_sharding=out_sharding)
    key = check_key("generalized_normal", key)
    dtype = float_dtype("generalized_normal", dtype)
    shape = param_shape("generalized_normal", shape, p)
    keys = split(key)
    k0 = lax.reshape(lax.slice(keys, (0, 0), (1, 2)), (2,))
    k1 = lax.reshape(lax.slice(keys, (1, 0), (2, 2)), (2,))
    p = lax.convert_element_type(p, dtype)
    g = gamma(k0, lax.div(_c(1.0, dtype), p), shape, dtype)
    r = rademacher(k1, shape, dtype)
    return fnp.multiply(r, fnp.power(g, lax.div(_c(1.0, dtype), p)))
