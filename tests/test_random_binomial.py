"""random.binomial and random.multinomial: JAX 0.10.2's streams (values printed by
JAX, labelled), moments and a chi-square fit against the binomial pmf for both
samplers (inversion for n*min(p,1-p) <= 10, BTRS above), JAX's NaN/inf rules, jit."""

import math

import numpy as np
import pytest

import functrace as ft
from functrace import random
from functrace.errors import DTypeError

# jax.random.binomial(jax.random.PRNGKey(seed), n, p, shape)[:6] printed by JAX 0.10.2
JAX_STREAMS = [
    (0, 20, 0.3, (7,), [6, 4, 6, 5, 3, 8]),
    (1, 5, 0.9, (5,), [4, 5, 4, 5, 5]),
    (42, 1000, 0.4, (6,), [411, 414, 384, 389, 378, 385]),
    (0, 200.0, 0.97, (4,), [194, 197, 194, 196]),
]


@pytest.mark.parametrize("seed,n,p,shape,first", JAX_STREAMS)
def test_matches_jax_streams(seed, n, p, shape, first):
    got = random.binomial(random.PRNGKey(seed), n, p, shape)
    assert got.dtype == np.float32 and got.shape == shape
    np.testing.assert_array_equal(np.asarray(got)[:len(first)], first)


def test_nan_and_inf_parameters_follow_jax():
    n = np.array([0., 3., 50., 1e4, -1., np.inf], np.float32)
    p = np.array([.5, .2, .5, .01, .5, .3], np.float32)
    got = random.binomial(random.PRNGKey(0), n, p)
    np.testing.assert_array_equal(got, [0, 0, 30, 110, np.nan, np.inf])  # JAX 0.10.2
    assert np.isnan(random.binomial(random.PRNGKey(0), 10, np.nan, (2,))).all()


@pytest.mark.parametrize("n,p", [(12, 0.25), (40, 0.8), (300, 0.3)])
def test_goodness_of_fit(n, p):
    draws = 4000
    x = np.asarray(random.binomial(random.PRNGKey(11), n, p, (draws,)))
    assert ((x >= 0) & (x <= n) & (x == np.floor(x))).all()
    mean, var = n * p, n * p * (1 - p)
    assert abs(x.mean() - mean) < 5 * math.sqrt(var / draws)
    ks = np.arange(n + 1)
    logpmf = np.array([math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                       + k * math.log(p) + (n - k) * math.log1p(-p) for k in ks])
    expected = np.exp(logpmf) * draws
    keep = expected >= 20
    obs = np.array([(x == k).sum() for k in ks])[keep]
    exp = expected[keep]
    obs, exp = np.append(obs, draws - obs.sum()), np.append(exp, draws - exp.sum())
    chi2 = ((obs - exp) ** 2 / np.maximum(exp, 1e-9)).sum()
    dof = len(obs) - 1
    assert chi2 < dof + 5 * math.sqrt(2 * dof)


def test_multinomial_matches_jax_and_conserves_the_count():
    p = np.array([0.2, 0.3, 0.5], np.float32)
    np.testing.assert_array_equal(random.multinomial(random.PRNGKey(0), 10., p), [1, 1, 8])
    got = random.multinomial(random.PRNGKey(5), np.array([5., 100.]), p, shape=(2, 3))
    np.testing.assert_array_equal(got, [[1, 2, 2], [21, 35, 44]])  # JAX 0.10.2
    big = np.asarray(random.multinomial(random.PRNGKey(1), 1000., p, shape=(200, 3)))
    np.testing.assert_array_equal(big.sum(-1), 1000)
    np.testing.assert_allclose(big.mean(0) / 1000, p, atol=0.01)


def test_jit_matches_eager_and_dtype_errors():
    key = random.PRNGKey(3)
    eager = random.binomial(key, 30, 0.6, (5,))
    np.testing.assert_array_equal(ft.jit(lambda k: random.binomial(k, 30, 0.6, (5,)))(key), eager)
    with pytest.raises(DTypeError, match="binomial"):
        random.binomial(key, 3, 0.5, (2,), dtype=np.int32)
