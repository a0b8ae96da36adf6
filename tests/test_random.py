"""functrace.random: the Threefry known answers, JAX's numbers for the same seeds,
determinism, key derivation, statistical sanity, shapes and dtypes, tracing,
differentiation and errors."""

import math

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import random
from functrace.core.jaxpr import typecheck
from functrace.errors import ConcretizationError, DTypeError, ShapeError
from functrace.random.continuous import _next_float, erf_inv

N = 100_000  # samples for the statistical checks: 5 sigma of a mean of uniforms is 0.0046


@pytest.fixture
def key():
    return random.PRNGKey(0)


def test_threefry_known_answers_through_the_api():
    # Random123's KAT: key (0x13198a2e, 0x03707344), counter (0x243f6a88, 0x85a308d3)
    out = random.threefry_2x32(np.uint32([0x13198A2E, 0x03707344]),
                               np.uint32([0x243F6A88, 0x85A308D3]))
    assert out.tolist() == [0xC4923A9C, 0x483DF7A0]
    out = random.threefry_2x32(np.uint32([0, 0]), np.uint32([0, 0]))
    assert out.tolist() == [0x6B200159, 0x99BA4EFE]
    m = 0xFFFFFFFF
    assert random.threefry_2x32(np.uint32([m, m]), np.uint32([m, m])).tolist() == [
        0x1CB996FC, 0xBB002BE7]
    # an odd count is padded with a 0 counter and the last output dropped
    odd = random.threefry_2x32(np.uint32([1, 2]), np.uint32([5, 6, 7]))
    even = random.threefry_2x32(np.uint32([1, 2]), np.uint32([5, 6, 7, 0]))
    assert odd.tolist() == even[:3].tolist()


# ---------------------------------------------------------------------------
# JAX's numbers under the original scheme. Values computed with jax 0.10.2 and
# jax.config.update("jax_threefry_partitionable", False) (JAX's default before 0.5); the
# first three also appear in JAX's own documentation. Both schemes, under jit and vmap
# too: tests/test_random_jax_values.py.

@pytest.fixture
def original_scheme():
    prev = ft.config.threefry_partitionable
    ft.config.update("jax_threefry_partitionable", False)
    try:
        yield
    finally:
        ft.config.update("threefry_partitionable", prev)


def test_matches_jax_documented_values(original_scheme, key):
    assert random.split(key).tolist() == [[4146024105, 967050713], [2718843009, 1272950319]]
    assert random.uniform(key) == np.float32(0.41845703)
    np.testing.assert_allclose(random.normal(key, (10,)), [
        -0.3721109, 0.26423115, -0.18252768, -0.7368197, -0.44030377, -0.1521442,
        -0.67135346, -0.5908641, 0.73168886, 0.5673026], rtol=2e-6)


def test_matches_jax_bit_for_bit(original_scheme):
    k = random.PRNGKey(42)
    assert random.fold_in(random.PRNGKey(0), 1).tolist() == [928981903, 3453687069]
    assert random.split(k, 3).tolist() == [[3134548294, 3733159049], [3746501087, 894150801],
                                           [801545058, 2363201431]]
    assert random.bits(k, (4,)).tolist() == [2465931498, 3679230171, 255383827, 267815257]
    assert random.bits(k, (5,), np.uint8).tolist() == [45, 179, 215, 3, 244]
    assert random.uniform(k, (4,)).view(np.uint32).tolist() == [
        1058208544, 1062947992, 1030983040, 1031760000]
    assert random.randint(k, (8,), 0, 10).tolist() == [5, 0, 6, 5, 5, 3, 3, 7]
    assert random.randint(k, (6,), -5, 5, np.int8).tolist() == [-3, -2, 4, 4, -1, 1]
    assert random.permutation(k, 10).tolist() == [9, 0, 2, 6, 1, 4, 5, 8, 3, 7]
    assert random.bernoulli(k, 0.5, (8,)).tolist() == [0, 0, 1, 1, 0, 1, 1, 1]
    assert random.choice(k, 10, (4,), replace=False).tolist() == [9, 0, 2, 6]
    p = np.float32([0.1, 0.2, 0.3, 0.4])
    assert random.choice(k, 4, (6,), p=p).tolist() == [1, 1, 1, 3, 3, 2]
    assert random.categorical(k, np.log(p), shape=(6,)).tolist() == [2, 3, 3, 3, 1, 2]
    np.testing.assert_allclose(random.normal(k, (4,)),
                               [0.18693547, 1.0653335, -1.5593132, -1.5352962], rtol=2e-6)
    assert random.PRNGKey(np.int32(-1)).tolist() == [0, 0xFFFFFFFF]


def test_matches_jax_bit_for_bit_x64(original_scheme, x64):
    k = random.PRNGKey(42)
    assert random.PRNGKey(-1).tolist() == [0xFFFFFFFF, 0xFFFFFFFF]
    assert random.PRNGKey(2**40 + 5).tolist() == [256, 5]
    assert random.bits(k, (2,)).tolist() == [10591095138341673235, 15802173259169302873]
    assert random.uniform(k, (3,)).view(np.uint64).tolist() == [
        4604748843769571700, 4606004221511596242, 4606032201794034546]
    assert random.randint(k, (4,), 0, 2**40).tolist() == [
        746255981085, 732978123909, 25819702167, 91723740707]


# ---------------------------------------------------------------------------
# keys

def test_prng_key_from_seeds():
    assert random.PRNGKey(0).tolist() == [0, 0]
    assert random.PRNGKey(42).dtype == np.uint32 and random.PRNGKey(42).shape == (2,)
    # as JAX without x64: a Python int wraps to int32 first
    assert random.PRNGKey(-1).tolist() == [0, 0xFFFFFFFF]
    assert random.PRNGKey(2**32 + 7).tolist() == [0, 7]
    assert random.PRNGKey(-(2**63)).tolist() == [0, 0]
    assert random.key_data(random.key(3)).tolist() == random.PRNGKey(3).tolist()


def test_prng_key_from_seeds_x64(x64):
    # the seed as a 64-bit integer: high word, low word
    assert random.PRNGKey(-1).tolist() == [0xFFFFFFFF, 0xFFFFFFFF]
    assert random.PRNGKey(2**32 + 7).tolist() == [1, 7]
    assert random.PRNGKey(-(2**63)).tolist() == [0x80000000, 0]
    assert random.key_data(random.key(3)) is not None
    keys = {s: tuple(random.PRNGKey(s).tolist()) for s in [0, 1, -1, 2**32, 2**32 + 1, 2**40]}
    assert len(set(keys.values())) == len(keys)


def test_split_and_fold_in_give_distinct_keys(key):
    children = random.split(key, 8)
    assert children.shape == (8, 2) and children.dtype == np.uint32
    derived = [tuple(c) for c in children.tolist()]
    folded = [tuple(random.fold_in(key, d).tolist()) for d in [0, 1, 2, 2**31, np.int32(-1)]]
    # JAX's partitionable split is "fold-like": key i of split(key, n) is fold_in(key, i)
    assert folded[:3] == derived[:3]
    derived += folded[3:] + [tuple(key.tolist())]
    assert len(set(derived)) == len(derived)
    assert random.split(key, (2, 3)).shape == (2, 3, 2)
    assert random.split(key, (2, 3)).reshape(6, 2).tolist() == random.split(key, 6).tolist()
    # fold_in takes a Python int in [0, 2**32) (JAX raises OverflowError outside), or an
    # integer array, which wraps modulo 2**32
    assert random.fold_in(key, np.int32(-1)).tolist() == random.fold_in(key, 2**32 - 1).tolist()
    assert random.fold_in(key, np.int32(5)).tolist() == random.fold_in(key, 5).tolist()


def test_determinism(key):
    for draw in (lambda k: random.normal(k, (50,)), lambda k: random.uniform(k, (7, 3)),
                 lambda k: random.randint(k, (20,), -3, 100), lambda k: random.permutation(k, 30)):
        np.testing.assert_array_equal(draw(key), draw(random.PRNGKey(0)))
        a, b = random.split(key)
        assert not np.array_equal(draw(a), draw(b))
        assert not np.array_equal(draw(key), draw(random.PRNGKey(1)))


def test_keys_are_pytree_leaves(key):
    tree = {"params": random.split(key, 2), "rng": key}
    leaves, treedef = ft.tree_util.tree_flatten(tree)
    assert len(leaves) == 2 and all(leaf.dtype == np.uint32 for leaf in leaves)
    mapped = ft.tree_util.tree_map(lambda k: random.uniform(k.reshape(-1, 2)[0]), tree)
    assert mapped["rng"] == random.uniform(key)
    assert mapped["params"] == random.uniform(random.split(key, 2)[0])


# ---------------------------------------------------------------------------
# statistics (fixed seeds: these are deterministic checks of the distributions)

def test_uniform_statistics(key):
    x = random.uniform(key, (N,))
    assert x.dtype == np.float32 and 0 <= x.min() and x.max() < 1
    assert abs(x.mean() - 0.5) < 0.005 and abs(x.var() - 1 / 12) < 0.002
    y = random.uniform(key, (N,), minval=-2.0, maxval=6.0)
    assert -2 <= y.min() and y.max() < 6 and abs(y.mean() - 2.0) < 0.04
    counts = np.histogram(x, bins=10, range=(0, 1))[0]
    assert np.all(np.abs(counts - N / 10) < 0.05 * N / 10)


def test_normal_statistics(key):
    x = random.normal(key, (N,))
    assert x.dtype == np.float32 and np.isfinite(x).all()
    assert abs(x.mean()) < 0.02 and abs(x.var() - 1) < 0.03
    assert abs(np.mean(np.abs(x) < 1) - 0.6827) < 0.006  # the one-sigma mass
    assert abs(np.mean(x**3)) < 0.05 and abs(np.mean(x**4) - 3) < 0.15


def test_erf_inv_accuracy():
    x = np.linspace(-0.999, 0.999, 2001, dtype=np.float32)
    y = erf_inv(x)
    back = np.array([math.erf(v) for v in y.astype(np.float64)])
    np.testing.assert_allclose(back, x, atol=2e-7)
    assert erf_inv(np.float32([1.0, -1.0])).tolist() == [np.inf, -np.inf]


def test_erf_inv_accuracy_x64(x64):
    x = np.linspace(-0.999999, 0.999999, 2001)
    back = np.array([math.erf(v) for v in erf_inv(x)])
    np.testing.assert_allclose(back, x, atol=1e-15)


def test_truncated_normal_within_bounds(key):
    x = random.truncated_normal(key, -1.0, 2.0, (N,))
    assert x.dtype == np.float32 and x.min() > -1 and x.max() < 2
    # the mean of N(0,1) truncated to (a, b) is (phi(a) - phi(b)) / (Phi(b) - Phi(a))
    phi = lambda t: math.exp(-t * t / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda t: 0.5 * (1 + math.erf(t / math.sqrt(2)))  # noqa: E731
    assert abs(x.mean() - (phi(-1) - phi(2)) / (cdf(2) - cdf(-1))) < 0.01
    one_sided = random.truncated_normal(key, -np.inf, 0.0, (1000,))
    assert (one_sided < 0).all() and np.isfinite(one_sided).all()
    tight = random.truncated_normal(key, 0.5, 0.5 + 1e-3, (100,))
    assert (tight > 0.5).all() and (tight < 0.5 + 1e-3).all()
    per_row = random.truncated_normal(key, np.float32([[-1.0], [3.0]]), 4.0, (2, 50))
    assert (per_row[0] > -1).all() and (per_row[1] > 3).all()


def test_next_float_matches_numpy():
    v = np.float32([0.0, -0.0, 1.0, -1.0, 1e-45, -1e-45, np.inf, -np.inf, 3.4e38, -3.4e38])
    up, down = _next_float(v, up=True), _next_float(v, up=False)
    # nextafter towards the infinities, except that an infinity in the direction stays
    expected_up = np.nextafter(v, np.float32(np.inf))
    expected_down = np.nextafter(v, np.float32(-np.inf))
    np.testing.assert_array_equal(up, expected_up)
    np.testing.assert_array_equal(down, expected_down)
    assert np.isnan(_next_float(np.float32(np.nan), up=True))


def test_bernoulli_frequency(key):
    x = random.bernoulli(key, 0.3, (N,))
    assert x.dtype == np.bool_ and abs(x.mean() - 0.3) < 0.006
    assert random.bernoulli(key).shape == () and random.bernoulli(key).dtype == np.bool_
    p = np.float32([0.0, 1.0, 0.5])
    rows = random.bernoulli(key, p, (1000, 3))
    assert not rows[:, 0].any() and rows[:, 1].all() and abs(rows[:, 2].mean() - 0.5) < 0.06


def test_randint_range_and_histogram(key):
    x = random.randint(key, (N,), 3, 13)
    assert x.dtype == np.int32 and x.min() == 3 and x.max() == 12
    counts = np.bincount(x - 3, minlength=10)
    assert np.all(np.abs(counts - N / 10) < 0.05 * N / 10)
    neg = random.randint(key, (1000,), -(2**31), 2**31 - 1)
    assert neg.min() < -(2**30) and neg.max() > 2**30
    full = random.randint(key, (1000,), 0, 256, np.uint8)  # the whole uint8 range
    assert full.dtype == np.uint8 and full.max() > 250 and full.min() < 5
    per_column = random.randint(key, (100, 3), np.array([0, 10, 20]), np.array([5, 15, 25]))
    assert ((per_column >= [0, 10, 20]) & (per_column < [5, 15, 25])).all()


def test_randint_empty_range_returns_minval(key):
    # documented JAX behaviour: maxval <= minval gives minval
    assert (random.randint(key, (10,), 5, 5) == 5).all()
    assert (random.randint(key, (10,), 7, 2) == 7).all()


def test_permutation_is_a_permutation(key):
    for n in [1, 2, 17, 3000]:  # 3000 elements take two sorting rounds
        perm = random.permutation(key, n)
        assert perm.dtype == np.int32 and sorted(perm.tolist()) == list(range(n))
    assert random.permutation(key, 3000).tolist() != list(range(3000))
    x = np.arange(20).reshape(4, 5)
    rows = random.permutation(key, x)
    assert sorted(map(tuple, rows.tolist())) == sorted(map(tuple, x.tolist()))
    cols = random.permutation(key, x, axis=1)
    assert (np.sort(cols, axis=1) == x).all()
    assert len({tuple(np.argsort(np.asarray(r))) for r in cols}) == 1  # columns move together
    indep = random.permutation(key, np.tile(np.arange(30), (5, 1)), axis=1, independent=True)
    assert (np.sort(indep, axis=1) == np.arange(30)).all()
    assert len({tuple(r) for r in indep.tolist()}) == 5
    shuffled = random.permutation(key, np.float32([0.5, 1.5, 2.5]))
    assert shuffled.dtype == np.float32 and sorted(shuffled.tolist()) == [0.5, 1.5, 2.5]


def test_choice(key):
    x = random.choice(key, 50, (50,), replace=False)
    assert sorted(x.tolist()) == list(range(50))
    x = random.choice(key, 1000, (10, 20), replace=False)
    assert x.shape == (10, 20) and len(set(x.ravel().tolist())) == 200
    x = random.choice(key, 5, (N,))
    assert x.min() == 0 and x.max() == 4
    a = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    rows = random.choice(key, a, (2, 5))
    assert rows.shape == (2, 5, 4) and set(rows[..., 0].ravel().tolist()) <= {0.0, 4.0, 8.0}
    cols = random.choice(key, a, (2,), replace=False, axis=1)
    assert cols.shape == (3, 2) and cols[0, 0] != cols[0, 1]
    p = np.float32([0.1, 0.0, 0.6, 0.3])
    freq = np.bincount(random.choice(key, 4, (N,), p=p), minlength=4) / N
    np.testing.assert_allclose(freq, p, atol=0.01)
    no_rep = random.choice(key, 4, (3,), replace=False, p=p)
    assert sorted(no_rep.tolist()) == [0, 2, 3]  # the zero-probability entry never comes
    assert random.choice(key, 5, (0,)).shape == (0,)


def test_categorical_and_gumbel(key):
    g = random.gumbel(key, (N,))
    assert g.dtype == np.float32 and abs(g.mean() - np.euler_gamma) < 0.02
    p = np.float32([0.1, 0.2, 0.7])
    draws = random.categorical(key, np.log(p), shape=(N,))
    np.testing.assert_allclose(np.bincount(draws, minlength=3) / N, p, atol=0.01)
    logits = np.log(np.float32([[0.98, 0.01, 0.01], [0.01, 0.01, 0.98]]))
    assert random.categorical(key, logits).shape == (2,)
    batched = random.categorical(key, logits, shape=(500, 2))
    assert batched.shape == (500, 2)
    assert (batched[:, 0] == 0).mean() > 0.9 and (batched[:, 1] == 2).mean() > 0.9
    by_column = random.categorical(key, logits.T, axis=0)
    assert by_column.shape == (2,)


# ---------------------------------------------------------------------------
# shapes and dtypes

def test_shapes_and_default_dtypes(key):
    for fn in (random.uniform, random.normal, random.gumbel):
        assert fn(key).shape == () and fn(key).dtype == np.float32
        assert fn(key, (2, 3)).shape == (2, 3)
        assert fn(key, (2, 0)).shape == (2, 0)
    assert random.uniform(key, (3,), np.float16).dtype == np.float16
    assert random.normal(key, (3,), np.float64).dtype == np.float32  # narrowed without x64
    assert random.randint(key, (3,), 0, 5).dtype == np.int32
    assert random.bits(key, (3,)).dtype == np.uint32
    assert random.bits(key, (3,), np.uint16).dtype == np.uint16
    assert random.truncated_normal(key, np.zeros(4), 1.0).shape == (4,)


def test_float64_under_x64(x64, key):
    for fn in (random.uniform, random.normal, random.gumbel):
        assert fn(key, (3,)).dtype == np.float64
    x = random.normal(key, (N,))
    assert abs(x.mean()) < 0.02 and abs(x.var() - 1) < 0.03
    u = random.uniform(key, (N,))
    assert 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.005
    assert random.randint(key, (3,), 0, 5).dtype == np.int64
    assert random.bits(key, (3,)).dtype == np.uint64
    assert random.truncated_normal(key, -1.0, 1.0, (3,)).dtype == np.float64
    assert random.normal(key, (3,), np.float32).dtype == np.float32


# ---------------------------------------------------------------------------
# tracing and differentiation

def test_samplers_stage_under_make_jaxpr(key):
    def draw(key, x):
        k1, k2, k3 = random.split(key, 3)
        noise = random.normal(k1, (3,)) * x
        mask = random.bernoulli(k2, 0.5, (3,))
        return fnp.where(mask, noise, random.uniform(k3, (3,))), random.randint(k3, (2,), 0, 9)

    closed = ft.make_jaxpr(draw)(key, np.float32(2.0))
    assert "threefry2x32" in str(closed)
    assert [a.str_short() for a in typecheck(closed)] == ["f32[3]", "i32[2]"]
    staged = ft.eval_jaxpr(closed.jaxpr, closed.consts, key, np.float32(2.0))
    eager = draw(key, np.float32(2.0))
    for s, e in zip(staged, eager, strict=True):
        np.testing.assert_array_equal(s, e)


@pytest.mark.parametrize("sample", [
    lambda k: random.truncated_normal(k, -1.0, 1.0, (4,)),
    lambda k: random.permutation(k, 5),
    lambda k: random.choice(k, 6, (3,), replace=False),
    lambda k: random.choice(k, 4, (3,), p=np.float32([0.1, 0.2, 0.3, 0.4])),
    lambda k: random.categorical(k, np.zeros((2, 3), np.float32)),
    lambda k: random.fold_in(k, 3),
    lambda k: random.bits(k, (5,), np.uint8),
], ids=["truncated_normal", "permutation", "choice", "choice_p", "categorical", "fold_in",
        "bits_u8"])
def test_more_samplers_trace_and_replay(key, sample):
    closed = ft.make_jaxpr(sample)(key)
    typecheck(closed)
    (staged,) = ft.eval_jaxpr(closed.jaxpr, closed.consts, key)
    np.testing.assert_array_equal(staged, sample(key))


def test_traced_seed_and_fold_in_data():
    closed = ft.make_jaxpr(lambda s, d: random.fold_in(random.PRNGKey(s), d))(
        np.int32(7), np.int32(3))
    (out,) = ft.eval_jaxpr(closed.jaxpr, closed.consts, np.int32(7), np.int32(3))
    assert out.tolist() == random.fold_in(random.PRNGKey(7), 3).tolist()


def test_permutation_of_traced_int_needs_a_concrete_value(key):
    with pytest.raises(ConcretizationError):
        ft.make_jaxpr(lambda n: random.permutation(key, n))(np.int32(3))


def test_grad_through_samples(key):
    def loss(x):
        return fnp.sum(random.normal(key, (3,)) * x)

    assert np.allclose(ft.grad(loss)(np.float32(2.0)), random.normal(key, (3,)).sum())

    def loss_bounds(lo):  # uniform is differentiable in its bounds, as in JAX
        return fnp.sum(random.uniform(key, (4,), minval=lo, maxval=lo + 2.0))

    np.testing.assert_allclose(ft.grad(loss_bounds)(np.float32(1.0)), 4.0, rtol=1e-6)
    # the key's tangent is zero: jvp with a key among the primals
    _, t = ft.jvp(lambda k, x: random.normal(k) * x, (key, np.float32(1.0)),
                  (np.zeros(2, np.uint32), np.float32(1.0)))
    assert t == random.normal(key)


# ---------------------------------------------------------------------------
# errors

def test_bad_keys_name_the_shape_and_dtype(key):
    with pytest.raises(ShapeError, match=r"shape \(3,\)"):
        random.normal(np.zeros(3, np.uint32))
    with pytest.raises(ShapeError, match="batch of 4 keys"):
        random.uniform(random.split(key, 4))
    with pytest.raises(DTypeError, match="int32"):
        random.normal(np.zeros(2, np.int32))
    with pytest.raises(DTypeError, match="PRNGKey"):
        random.split(0)
    with pytest.raises(DTypeError, match="PRNGKey"):
        random.normal([0, 0])


def test_bad_arguments(key):
    with pytest.raises(ShapeError, match=r"larger sample \(size 6\) than the population "
                                         r"\(size 5\)"):
        random.choice(key, 5, (6,), replace=False)
    with pytest.raises(ShapeError, match="must be a tuple"):
        random.choice(key, 5, 3)
    with pytest.raises(ShapeError, match="p must be a 1-d array"):
        random.choice(key, 5, (2,), p=np.ones(4, np.float32))
    with pytest.raises(DTypeError, match="floating-point"):
        random.uniform(key, (2,), np.int32)
    with pytest.raises(DTypeError, match="integer dtypes"):
        random.randint(key, (2,), 0, 5, np.float32)
    with pytest.raises(DTypeError, match="floating dtype"):
        random.bernoulli(key, 1)
    with pytest.raises(ShapeError, match="broadcast"):
        random.uniform(key, (3,), minval=np.zeros(4, np.float32))
    with pytest.raises(ShapeError, match="negative"):
        random.normal(key, (-1,))
    with pytest.raises(DTypeError, match="integer"):
        random.PRNGKey(1.5)
    with pytest.raises(DTypeError, match="64 bits"):
        random.PRNGKey(2**64)
    with pytest.raises(ShapeError, match="scalar"):
        random.PRNGKey(np.arange(2))
    with pytest.raises(DTypeError, match="unsigned"):
        random.bits(key, (2,), np.int32)
    with pytest.raises(ShapeError, match="rank >= 1"):
        random.categorical(key, np.float32(1.0))
