"""functrace.random under vmap: a batch of keys draws exactly what each key draws alone.

The oracle stacks the per-key draws; the comparison is exact (bit for bit) for
integer, boolean and key draws, and for floats too: the batched program applies the
same elementwise operations to the same bits.
"""

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import random

KEYS = random.split(random.PRNGKey(42), 4)

DRAWS = {
    "normal": lambda k: random.normal(k, (3,)),
    "normal_2d_f64": lambda k: random.normal(k, (2, 3), np.float32),
    "uniform": lambda k: random.uniform(k, (5,)),
    "uniform_bounds": lambda k: random.uniform(k, (2, 2), minval=-3.0, maxval=np.float32(
        [1.0, 2.0])),
    "bernoulli": lambda k: random.bernoulli(k, 0.3, (6,)),
    "bernoulli_p_array": lambda k: random.bernoulli(k, np.float32([0.1, 0.5, 0.9])),
    "randint": lambda k: random.randint(k, (7,), 0, 10),
    "randint_int8_bounds": lambda k: random.randint(k, (3,), np.int32([-5, 0, 100]), 120,
                                                    np.int8),
    "bits_u32": lambda k: random.bits(k, (4,), np.uint32),
    "bits_u8": lambda k: random.bits(k, (5,), np.uint8),
    "bits_u16": lambda k: random.bits(k, (3,), np.uint16),
    "permutation_int": lambda k: random.permutation(k, 6),
    "permutation_array": lambda k: random.permutation(k, np.arange(12.0).reshape(4, 3)),
    "permutation_independent": lambda k: random.permutation(
        k, np.arange(12).reshape(3, 4), axis=1, independent=True),
    "choice_replace": lambda k: random.choice(k, 10, (4,)),
    "choice_no_replace": lambda k: random.choice(k, np.arange(8.0), (3,), replace=False),
    "choice_p": lambda k: random.choice(k, 4, (5,), p=np.float32([0.1, 0.2, 0.3, 0.4])),
    "choice_p_no_replace": lambda k: random.choice(k, 4, (2,), replace=False,
                                                   p=np.float32([0.1, 0.2, 0.3, 0.4])),
    "truncated_normal": lambda k: random.truncated_normal(k, -1.0, 2.0, (4,)),
    "gumbel": lambda k: random.gumbel(k, (3,)),
    "categorical": lambda k: random.categorical(k, np.log(np.float32([0.2, 0.3, 0.5])),
                                                shape=(4,)),
    "split": lambda k: random.split(k, 3),
    "fold_in": lambda k: random.fold_in(k, 7),
    "split_then_draw": lambda k: random.normal(random.split(k)[1], (2,)),
}


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_batch_of_keys_draws_what_each_key_draws(name):
    draw = DRAWS[name]
    got = np.asarray(ft.vmap(draw)(KEYS))
    want = np.stack([np.asarray(draw(k)) for k in KEYS])
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_keys_mapped_at_another_axis_and_out_axes():
    keys_t = np.ascontiguousarray(KEYS.T)  # (2, 4): the key words along axis 0
    got = ft.vmap(lambda k: random.randint(k, (3,), 0, 100), in_axes=1, out_axes=1)(keys_t)
    want = np.stack([random.randint(k, (3,), 0, 100) for k in KEYS], axis=1)
    np.testing.assert_array_equal(got, want)


def test_fold_in_with_batched_data_and_seeds():
    key = random.PRNGKey(0)
    steps = np.arange(5, dtype=np.int32)
    got = ft.vmap(random.fold_in, in_axes=(None, 0))(key, steps)
    np.testing.assert_array_equal(got, np.stack([random.fold_in(key, int(s)) for s in steps]))
    seeds = np.int32([0, 1, 2**31 - 1])
    np.testing.assert_array_equal(ft.vmap(random.PRNGKey)(seeds),
                                  np.stack([random.PRNGKey(int(s)) for s in seeds]))


def test_batched_distribution_parameters():
    key = random.PRNGKey(3)
    lo = np.float32([-2.0, 0.0, 1.0])
    got = ft.vmap(lambda a: random.uniform(key, (2,), minval=a, maxval=a + 1.0))(lo)
    want = np.stack([random.uniform(key, (2,), minval=a, maxval=a + 1.0) for a in lo])
    np.testing.assert_array_equal(got, want)
    got = ft.vmap(lambda k, p: random.bernoulli(k, p, (4,)))(KEYS[:3], np.float32([.2, .5, .8]))
    want = np.stack([random.bernoulli(k, p, (4,)) for k, p in zip(KEYS[:3], [.2, .5, .8])])
    np.testing.assert_array_equal(got, want)


def test_vmap_random_under_jit_and_in_a_training_step():
    draws = ft.jit(ft.vmap(lambda k: random.normal(k, (3,))))(KEYS)
    np.testing.assert_array_equal(draws, np.stack([random.normal(k, (3,)) for k in KEYS]))

    def noisy_loss(w, k):  # dropout-like noise, per example key
        mask = random.bernoulli(k, 0.5, (3,))
        return fnp.sum(fnp.where(mask, w, 0.0) ** 2)

    w = np.float32([1.0, 2.0, 3.0])
    got = ft.vmap(ft.grad(noisy_loss), in_axes=(None, 0))(w, KEYS)
    np.testing.assert_array_equal(got, np.stack([ft.grad(noisy_loss)(w, k) for k in KEYS]))
