"""Typed key arrays (issue 15 item 4): ``random.key``, ``key_data``, ``wrap_key_data``,
``key_impl``, ``clone``, and every sampler accepting them.

``JAX_0_10_2`` was printed once by jax 0.10.2 (CPU, from PyPI) under both settings of
``jax_threefry_partitionable``: the ``uint32`` data of typed keys from ``split``/``fold_in``
(also under ``vmap``), and integer draws from typed keys. Key and integer outputs must
match exactly. The behaviour checked besides (shapes, dtype ``key<fry>``, printing,
errors) is JAX's, as documented for ``jax.random.key``.
"""

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import random
from functrace.errors import DTypeError, FunctraceError, ShapeError

JAX_0_10_2 = {
    True: {
        'split3':
            [[1797259609, 2579123966], [928981903, 3453687069], [4146024105, 2718843009]],
        'fold_in3':
            [2467461003, 3840466878],
        'split23':
            [[[2724472204, 3573582090], [202567368, 3886822060], [3594430910, 1784718894]],
             [[2939540675, 3076691462], [898128576, 3750995185], [972824557, 2491659272]]],
        'vmap_split':
            [[[4165894930, 804218099], [1353695780, 2116000888]],
             [[346279018, 360566543], [3968330031, 3923691647]],
             [[2799984767, 1105366846], [3777617834, 145086855]]],
        'vmap_bits':
            [[3617712097, 783310428], [31327077, 89727312], [3875991361, 3918267949]],
        'randint':
            [44, 14, 71, 69, 9, 19],
    },
    False: {
        'split3':
            [[2467461003, 428148500], [3186719485, 3840466878], [2562233961, 1946702221]],
        'fold_in3':
            [2467461003, 3840466878],
        'split23':
            [[[272393893, 4285639839], [2225935900, 3620263243], [2191768906, 1655023024]],
             [[343137780, 4006842700], [2448652379, 1428318854], [421711747, 3855915829]]],
        'vmap_split':
            [[[3574170082, 2412527398], [1704566554, 3503162380]],
             [[1530262840, 2749925033], [2167097895, 1933864296]],
             [[2338022071, 1108999154], [1694077080, 732156480]]],
        'vmap_bits':
            [[1985056621, 1992012105], [3851849748, 2075022713], [2515327004, 1284931425]],
        'randint':
            [12, 43, 69, 29, 84, 26],
    },
}


@pytest.fixture
def scheme(threefry_partitionable):
    """JAX's values for the key scheme the test runs under (see conftest.py)."""
    return JAX_0_10_2[threefry_partitionable]


def _data(keys):
    return np.asarray(random.key_data(keys))


def test_typed_key_streams_match_jax(scheme):
    k = random.key(0)
    keys = random.split(k, 3)
    assert isinstance(keys, random.PRNGKeyArray) and keys.shape == (3,)
    np.testing.assert_array_equal(_data(keys), scheme["split3"])
    np.testing.assert_array_equal(_data(random.fold_in(k, 3)), scheme["fold_in3"])
    np.testing.assert_array_equal(_data(random.split(random.key(5), (2, 3))), scheme["split23"])
    np.testing.assert_array_equal(_data(ft.vmap(random.split)(keys)), scheme["vmap_split"])
    np.testing.assert_array_equal(ft.vmap(lambda kk: random.bits(kk, (2,)))(keys),
                                  scheme["vmap_bits"])
    np.testing.assert_array_equal(random.randint(random.key(42), (6,), 0, 100),
                                  scheme["randint"])
    # under jit, typed keys go in and come out
    out = ft.jit(lambda kk: random.split(kk, 3))(k)
    assert isinstance(out, random.PRNGKeyArray)
    np.testing.assert_array_equal(_data(out), scheme["split3"])


# every sampler, with the raw key and the typed key of the same data: the same draws
LOGP = np.log(np.float32([0.1, 0.2, 0.3, 0.4]))
SAMPLERS = {
    "bits": lambda k: random.bits(k, (3,)),
    "uniform": lambda k: random.uniform(k, (3,)),
    "normal": lambda k: random.normal(k, (3,)),
    "truncated_normal": lambda k: random.truncated_normal(k, -1.0, 1.0, (3,)),
    "gumbel": lambda k: random.gumbel(k, (3,)),
    "bernoulli": lambda k: random.bernoulli(k, 0.3, (5,)),
    "randint": lambda k: random.randint(k, (4,), 0, 10),
    "permutation": lambda k: random.permutation(k, 6),
    "choice": lambda k: random.choice(k, 5, (3,)),
    "categorical": lambda k: random.categorical(k, LOGP, shape=(3,)),
    "exponential": lambda k: random.exponential(k, (3,)),
    "laplace": lambda k: random.laplace(k, (3,)),
    "logistic": lambda k: random.logistic(k, (3,)),
    "cauchy": lambda k: random.cauchy(k, (3,)),
    "pareto": lambda k: random.pareto(k, 3.0, (3,)),
    "rademacher": lambda k: random.rademacher(k, (3,)),
    "maxwell": lambda k: random.maxwell(k, (3,)),
    "double_sided_maxwell": lambda k: random.double_sided_maxwell(k, 0.0, 1.0, (3,)),
    "weibull_min": lambda k: random.weibull_min(k, 1.0, 2.0, (3,)),
    "geometric": lambda k: random.geometric(k, 0.3, (3,)),
    "lognormal": lambda k: random.lognormal(k, 0.5, (3,)),
    "rayleigh": lambda k: random.rayleigh(k, np.float32(1.0), (3,)),
    "wald": lambda k: random.wald(k, np.float32(1.0), (3,)),
    "triangular": lambda k: random.triangular(k, 0.0, 0.3, 1.0, (3,)),
    "gamma": lambda k: random.gamma(k, 2.0, (3,)),
    "loggamma": lambda k: random.loggamma(k, 2.0, (3,)),
    "beta": lambda k: random.beta(k, 2.0, 3.0, (3,)),
    "dirichlet": lambda k: random.dirichlet(k, np.float32([1.0, 2.0])),
    "chisquare": lambda k: random.chisquare(k, 3.0, (3,)),
    "f": lambda k: random.f(k, 2.0, 5.0, (3,)),
    "t": lambda k: random.t(k, 5.0, (3,)),
    "generalized_normal": lambda k: random.generalized_normal(k, 1.5, (3,)),
    "poisson": lambda k: random.poisson(k, 3.0, (3,)),
    "binomial": lambda k: random.binomial(k, 10, 0.3, (3,)),
    "multinomial": lambda k: random.multinomial(k, 10, np.float32([0.2, 0.8])),
    "multivariate_normal": lambda k: random.multivariate_normal(k, np.zeros(2), np.eye(2)),
    "orthogonal": lambda k: random.orthogonal(k, 2),
    "ball": lambda k: random.ball(k, 2),
}


def test_every_sampler_is_listed():
    not_samplers = {"KeyDType", "PRNGKey", "PRNGKeyArray", "clone", "fold_in", "key",
                    "key_data", "key_impl", "split", "threefry_2x32", "wrap_key_data"}
    assert set(random.__all__) - not_samplers == set(SAMPLERS)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_samplers_take_typed_keys(name):
    draw = SAMPLERS[name]
    raw, typed = random.PRNGKey(7), random.key(7)
    want = np.asarray(draw(raw))
    np.testing.assert_array_equal(draw(typed), want)
    # under jit, the typed key draws exactly what the raw key draws under jit (compiled
    # loops may round differently from NumPy's eager impls, by an ulp)
    np.testing.assert_array_equal(ft.jit(draw)(typed), ft.jit(draw)(raw))
    np.testing.assert_allclose(ft.jit(draw)(typed), want, rtol=1e-6, atol=1e-7)
    # vmap over a batch of typed keys draws what each key draws
    keys = random.split(typed, 2)
    got = np.asarray(ft.vmap(draw)(keys))
    np.testing.assert_array_equal(got, np.asarray(ft.vmap(draw)(random.split(raw, 2))))
    np.testing.assert_allclose(got[1], np.asarray(draw(random.split(raw, 2)[1])),
                               rtol=1e-6, atol=1e-7)


def test_key_array_attributes_and_printing():
    k = random.key(0)
    assert k.shape == () and k.ndim == 0 and k.size == 1
    assert str(k.dtype) == "key<fry>" and k.dtype == random.KeyDType()
    assert random.key_impl(k) == "threefry2x32" == random.key_impl(random.PRNGKey(0))
    assert repr(k) == "Array((), dtype=key<fry>) overlaying:\n[0 0]"
    keys = random.split(random.key(0), 6).reshape(2, 3)
    assert keys.shape == (2, 3) and keys.T.shape == (3, 2) and keys[None].shape == (1, 2, 3)
    np.testing.assert_array_equal(_data(keys[1, 2]), _data(keys.T[2, 1]))
    np.testing.assert_array_equal(_data(keys[..., 0]), _data(keys)[:, 0])
    assert len(keys) == 2 and [kk.shape for kk in keys] == [(3,), (3,)]
    assert bool(k == random.key(0)) and not bool(k != random.key(0))
    np.testing.assert_array_equal(keys == keys, np.ones((2, 3), bool))
    assert random.clone(k) is k
    assert fnp.asarray(k) is k  # as jnp.asarray


def test_key_data_and_wrap_key_data_round_trip():
    data = np.uint32([[0, 1], [2, 3]])
    keys = random.wrap_key_data(data)
    assert keys.shape == (2,) and keys.dtype == "key<fry>"
    np.testing.assert_array_equal(random.key_data(keys), data)
    # a raw key is its own data
    np.testing.assert_array_equal(random.key_data(random.PRNGKey(3)), [0, 3])
    np.testing.assert_array_equal(_data(random.key(3)), [0, 3])
    with pytest.raises(ShapeError, match=r"end with \(2,\)"):
        random.wrap_key_data(np.uint32([0, 1, 2]))
    with pytest.raises(DTypeError, match="uint32"):
        random.wrap_key_data(np.int32([0, 1]))
    with pytest.raises(DTypeError, match="already a typed key"):
        random.wrap_key_data(keys)
    with pytest.raises(FunctraceError, match="impl"):
        random.wrap_key_data(data, impl="rbg")


def test_typed_keys_through_transformations():
    k = random.key(1)
    keys = random.split(k, 4)
    # grad with a key argument, scan carrying a key, cond returning one
    g = ft.grad(lambda x, kk: x * random.normal(kk))(1.0, k)
    np.testing.assert_array_equal(g, random.normal(random.PRNGKey(1)))

    def step(c, _):
        c, sub = random.split(c)
        return c, random.normal(sub)

    carry, xs = ft.lax.scan(step, k, None, length=3)
    assert isinstance(carry, random.PRNGKeyArray)
    raw, want = random.PRNGKey(1), []
    for _ in range(3):
        raw, sub = random.split(raw)
        want.append(np.asarray(random.normal(sub)))
    np.testing.assert_array_equal(xs, want)
    np.testing.assert_array_equal(_data(carry), raw)
    out = ft.lax.cond(True, lambda: keys[0], lambda: keys[1])
    np.testing.assert_array_equal(_data(out), _data(keys)[0])
    # vmap returns typed keys, and a typed key closed over is broadcast
    folded = ft.vmap(lambda kk, i: random.fold_in(kk, i))(keys, np.arange(4, dtype=np.int32))
    assert isinstance(folded, random.PRNGKeyArray) and folded.shape == (4,)
    np.testing.assert_array_equal(_data(folded[2]), _data(random.fold_in(keys[2], 2)))
    per = ft.vmap(lambda i: random.normal(random.fold_in(k, i)))(np.arange(3, dtype=np.int32))
    np.testing.assert_array_equal(per[1], random.normal(random.fold_in(k, 1)))


def test_typed_and_raw_keys_do_not_mix():
    keys, raw = random.split(random.key(0), 2), random.split(random.PRNGKey(0), 2)
    with pytest.raises(DTypeError, match="key_data"):
        fnp.concatenate([keys, raw])
    with pytest.raises(DTypeError, match="key_data"):
        np.asarray(keys)
    with pytest.raises(DTypeError, match="does not accept dtypes key<fry>"):
        keys + 1
    with pytest.raises(DTypeError, match="key_data"):
        keys.astype(np.uint32)
    with pytest.raises(DTypeError, match="compare random.key_data"):
        keys == raw  # noqa: B015
    with pytest.raises(ShapeError, match=r"accepts a single key.*\(2,\)"):
        random.normal(keys)
    with pytest.raises(ShapeError, match="accepts a single key"):
        random.split(keys)


def test_key_dtype_is_a_prng_key_subdtype():
    from functrace import dtypes

    kd = random.key(0).dtype
    assert fnp.issubdtype(kd, dtypes.prng_key) and dtypes.issubdtype(kd, kd)
    assert not fnp.issubdtype(kd, np.integer) and not fnp.issubdtype(np.uint32, dtypes.prng_key)
    assert fnp.issubdtype(np.float32, np.floating) and not fnp.issubdtype(np.int8, np.floating)
