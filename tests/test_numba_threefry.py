"""The CPU lowering of threefry2x32 is bit-identical to the NumPy reference impl."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import functrace as ft
from functrace import random
from functrace.backends.numba_cpu import lowerings, reference_lowering
from functrace.lax.threefry import threefry2x32_p


@given(st.lists(st.integers(0, 5), min_size=0, max_size=3), st.integers(0, 2**31),
       st.sampled_from([(), (0,), (1,), (0, 1)]))
def test_matches_reference_bit_for_bit(shape, seed, scalar_operands):
    rng = np.random.default_rng(seed)
    ops = [rng.integers(0, 2**32, () if i in scalar_operands else shape, dtype=np.uint64)
           .astype(np.uint32) for i in range(4)]
    eqn = ft.make_jaxpr(lambda *a: threefry2x32_p.bind(*a))(*ops).eqns[0]
    kernel = lowerings[threefry2x32_p](eqn)
    for got, want in zip(kernel(*ops), reference_lowering(eqn)(*ops), strict=True):
        assert got.dtype == np.uint32 and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_known_answer_and_jitted_normal():
    # the Random123 known-answer vector for zero key and counter (also the docstring's)
    eqn = ft.make_jaxpr(lambda *a: threefry2x32_p.bind(*a))(*np.zeros(4, np.uint32)).eqns[0]
    y = lowerings[threefry2x32_p](eqn)(*np.zeros(4, np.uint32))
    assert [int(v) for v in y] == [0x6B200159, 0x99BA4EFE]
    key = random.PRNGKey(3)
    np.testing.assert_array_equal(ft.jit(lambda k: random.normal(k, (7, 5)))(key),
                                  random.normal(key, (7, 5)))
