"""random.poisson (and bfloat16 draws): JAX 0.10.2's streams (values printed by JAX,
labelled), the distribution by a chi-square goodness-of-fit test against the Poisson pmf, both
samplers (Knuth below rate 10, transformed rejection above), jit and vmap."""

import math

import numpy as np
import pytest

import functrace as ft
from functrace import random
from functrace.errors import DTypeError

# jax.random.poisson(jax.random.PRNGKey(seed), lam, shape) printed by JAX 0.10.2
JAX_STREAMS = [
    (0, 3.0, (7,), [0, 0, 4, 4, 1, 2]),
    (42, 25.0, (9,), [28, 30, 20, 21, 18, 20]),
    (1, 1000.0, (4,), [991, 1004, 973, 967]),
]


@pytest.mark.parametrize("seed,lam,shape,first", JAX_STREAMS)
def test_matches_jax_streams(seed, lam, shape, first):
    got = random.poisson(random.PRNGKey(seed), lam, shape)
    assert got.dtype == np.int32 and got.shape == shape
    np.testing.assert_array_equal(np.asarray(got)[:len(first)], first)


def test_per_element_rates_pick_the_sampler_by_rate():
    lam = np.array([0., 1.5, 12., 40., 9.99, 10.], np.float32)
    got = random.poisson(random.PRNGKey(0), lam)
    np.testing.assert_array_equal(got, [0, 0, 7, 46, 10, 11])  # JAX 0.10.2's values


@pytest.mark.parametrize("lam", [0.7, 4.0, 15.0, 60.0])
def test_goodness_of_fit(lam):
    n = 4000
    x = np.asarray(random.poisson(random.PRNGKey(7), lam, (n,)))
    assert abs(x.mean() - lam) < 5 * math.sqrt(lam / n)
    assert abs(x.var() - lam) < 6 * lam * math.sqrt(2 / n) + 0.05
    # chi-square over bins with expected count >= 20, tails pooled
    ks = np.arange(0, int(lam + 10 * math.sqrt(lam) + 10))
    pmf = np.exp(ks * math.log(lam) - lam - np.array([math.lgamma(k + 1) for k in ks]))
    expected = pmf * n
    keep = expected >= 20
    observed = np.array([(x == k).sum() for k in ks])
    obs, exp = observed[keep], expected[keep]
    obs = np.append(obs, n - obs.sum())
    exp = np.append(exp, n - exp.sum())
    chi2 = ((obs - exp) ** 2 / np.maximum(exp, 1e-9)).sum()
    dof = len(obs) - 1
    assert chi2 < dof + 5 * math.sqrt(2 * dof)  # far beyond the 0.999 quantile


def test_jit_and_vmap_match_eager():
    key = random.PRNGKey(3)
    eager = random.poisson(key, 4.0, (6,))
    np.testing.assert_array_equal(ft.jit(lambda k: random.poisson(k, 4.0, (6,)))(key), eager)
    keys = random.split(key, 3)
    batched = ft.vmap(lambda k: random.poisson(k, 20.0, (5,)))(keys)
    for i in range(3):
        np.testing.assert_array_equal(batched[i], random.poisson(keys[i], 20.0, (5,)))


def test_dtype_and_errors():
    assert random.poisson(random.PRNGKey(0), 2.0, (3,), dtype=np.int16).dtype == np.int16
    with pytest.raises(DTypeError, match="poisson"):
        random.poisson(random.PRNGKey(0), 2.0, (3,), dtype=np.float32)


# bfloat16 draws: JAX draws 8 random bits per element for dtypes with < 8 mantissa bits
ml_dtypes = pytest.importorskip("ml_dtypes")


@pytest.mark.parametrize("name,first", [
    ("uniform", [0.6484375, 0.5703125, 0.15625]),     # JAX 0.10.2, PRNGKey(0), shape (6,)
    ("normal", [0.38671875, 0.18261719, -1.0]),
    ("exponential", [1.046875, 0.84375, 0.16992188]),
])
def test_bfloat16_draws_match_jax(name, first):
    x = getattr(random, name)(random.PRNGKey(0), (6,), dtype=ml_dtypes.bfloat16)
    assert x.dtype == ml_dtypes.bfloat16
    np.testing.assert_allclose(np.asarray(x, np.float32)[:3], first, rtol=1e-3)
