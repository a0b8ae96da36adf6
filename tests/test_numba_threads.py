"""The thread policy of the parallel CPU kernels (backends/numba_cpu/threads.py): chunks
tile the rows exactly once, the governor picks the faster thread count from measured
times and follows a change of load, the caller's thread count and chunk size come back
after every call, and the direct convolutions give the same bits whatever the thread
count or the number of chunks."""

import numba
import numpy as np
import pytest

from functrace import lax
from functrace.backends.numba_cpu import conv as nconv
from functrace.backends.numba_cpu import conv_direct as cd
from functrace.backends.numba_cpu import threads as th
from functrace.core.avals import ShapedArray
from functrace.core.jaxpr import Eqn, Var
from functrace.core.trace import abstract_eval_rules, impl_rules
from functrace.lax.convolution import (
    conv_general_dilated_p,
    conv_grad_filter_p,
    conv_grad_input_p,
)


@pytest.mark.parametrize("items", [1, 2, 3, 7, 13, 64, 97, 1000])
@pytest.mark.parametrize("threads", [1, 2, 3, 16])
def test_chunks_cover_each_row_once(items, threads):
    chunks = th.chunk_count(items, threads)
    assert 1 <= chunks <= items
    assert chunks == min(items, th.CHUNKS_PER_THREAD * threads)
    seen = np.zeros(items, np.int64)
    previous_hi = 0
    sizes = []
    for k in range(chunks):
        lo, hi = th.chunk_bounds(items, chunks, k)
        assert lo == previous_hi  # in order, no gap
        seen[lo:hi] += 1
        sizes.append(hi - lo)
        previous_hi = hi
    assert previous_hi == items
    assert (seen == 1).all()
    assert max(sizes) - min(sizes) <= 1


def test_slot_count_ignores_threads():
    assert [th.slot_count(r) for r in (1, 2, 5, 8, 9, 500)] == [1, 2, 5, 8, 8, 8]


class _Clock:
    """A fake ``time`` module: a kernel advances it by its cost for the thread count
    it runs with."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now


def _fake_kernel(clock, cost):
    seen = []

    def kernel():
        n = numba.get_num_threads()
        seen.append(n)
        clock.now += cost[n]
        return n

    return kernel, seen


@pytest.fixture
def two_threads(monkeypatch):
    if numba.config.NUMBA_NUM_THREADS < 2:  # the policy only has one choice there
        pytest.skip("needs a Numba pool of at least 2 threads")
    saved = numba.get_num_threads()
    numba.set_num_threads(2)
    clock = _Clock()
    monkeypatch.setattr(th, "time", clock)
    yield clock
    numba.set_num_threads(saved)


def test_governor_follows_the_faster_count(two_threads):
    clock = two_threads
    cost = {2: 1.0, 1: 1.8}                     # a quiet machine: two threads win
    kernel, seen = _fake_kernel(clock, cost)
    gov = th.Governor()
    for _ in range(200):
        assert gov.run(kernel) in (1, 2)
        assert numba.get_num_threads() == 2     # the caller's count is back
    late = seen[-150:]
    assert late.count(2) > 140                  # trials of one thread are rare
    assert late.count(1) >= 1                   # ... but they happen
    cost[2] = 4.0                               # another process took a core
    for _ in range(40):
        gov.run(kernel)
    assert seen[-20:].count(1) >= 19
    cost[2] = 1.0                               # it stopped: two threads win again
    for _ in range(300):
        gov.run(kernel)
    assert seen[-50:].count(2) >= 45


def test_governor_cost_of_trials_is_small(two_threads):
    clock = two_threads
    cost = {2: 1.0, 1: 2.0}
    kernel, seen = _fake_kernel(clock, cost)
    gov = th.Governor()
    for _ in range(20):
        gov.run(kernel)
    start, calls = clock.now, 1000
    for _ in range(calls):
        gov.run(kernel)
    # the best count alone would take `calls`; trials may add at most a few percent
    assert clock.now - start <= calls * 1.05


def test_governor_restores_state_when_the_kernel_raises(two_threads):
    gov = th.Governor()
    chunk = numba.get_parallel_chunksize()

    def failing():
        raise ValueError("boom")

    for _ in range(12):  # each thread count gets its turn
        with pytest.raises(ValueError, match="boom"):
            gov.run(failing)
        assert numba.get_num_threads() == 2
        assert numba.get_parallel_chunksize() == chunk


def test_modes_force_the_count(two_threads, monkeypatch):
    clock = two_threads
    kernel, seen = _fake_kernel(clock, {2: 1.0, 1: 0.1})
    monkeypatch.setattr(th, "MODE", "all")
    gov = th.Governor()
    for _ in range(30):
        gov.run(kernel)
    assert set(seen) == {2}
    monkeypatch.setattr(th, "MODE", "one")
    seen.clear()
    for _ in range(5):
        gov.run(kernel)
    assert set(seen[1:]) == {1}  # the first call runs as the caller set it


def _eqns(x, w, padding):
    dnums = lax.conv_dimension_numbers(x.shape, w.shape, ("NHWC", "HWIO", "NHWC"))
    params = dict(window_strides=(1, 1), padding=padding, lhs_dilation=(1, 1),
                  rhs_dilation=(1, 1), dimension_numbers=dnums, feature_group_count=1,
                  batch_group_count=1, precision=None)
    ax, aw = ShapedArray(x.shape, x.dtype), ShapedArray(w.shape, w.dtype)
    y = abstract_eval_rules[conv_general_dilated_p](ax, aw, preferred_element_type=None,
                                                    **params)
    fwd = Eqn(conv_general_dilated_p, [Var(ax), Var(aw)],
              dict(params, preferred_element_type=None), [Var(y)])
    gf = Eqn(conv_grad_filter_p, [Var(ax), Var(y)], dict(params, rhs_shape=w.shape),
             [Var(aw)])
    gi = Eqn(conv_grad_input_p, [Var(y), Var(aw)], dict(params, lhs_shape=x.shape),
             [Var(ax)])
    return y, [(fwd, "x", "w"), (gf, "x", "ct"), (gi, "ct", "w")]


@pytest.mark.parametrize("per_thread", [1, 3, 7, 1000])
def test_direct_conv_bits_do_not_depend_on_threads_or_chunks(per_thread, monkeypatch):
    # awkward sizes: 5 images x 7 rows (35 rows, 37 padded), 19 output channels; the
    # filter gradient's 2 runs of rows per chunk split over its slots
    monkeypatch.setattr(cd, "MODE", "on")
    monkeypatch.setattr(cd, "RUN_PIXELS", 16)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 7, 9, 17)).astype(np.float32)
    w = rng.standard_normal((3, 3, 17, 19)).astype(np.float32)
    y, eqns = _eqns(x, w, ((1, 1), (1, 1)))
    vals = {"x": x, "w": w, "ct": rng.standard_normal(y.shape).astype(np.float32)}
    saved = numba.get_num_threads()
    for eqn, a, b in eqns:
        args = (vals[a], vals[b])
        want = np.asarray(impl_rules[eqn.primitive](*args, **eqn.params))
        bound = np.asarray(impl_rules[eqn.primitive](*map(np.abs, args), **eqn.params))
        kernel = nconv.lowerings[eqn.primitive](eqn)
        assert kernel.__module__ == cd.__name__
        results = []
        for mode in ("all", "one", "auto", "all"):
            monkeypatch.setattr(th, "MODE", mode)
            monkeypatch.setattr(th, "CHUNKS_PER_THREAD", per_thread)
            (got,) = kernel(*args)
            assert numba.get_num_threads() == saved
            results.append(got)
        np.testing.assert_allclose(results[0], want, rtol=0,
                                   atol=2e-6 * float(bound.max()))
        for got in results[1:]:
            np.testing.assert_array_equal(got, results[0])


def test_blas_governor_sets_and_restores_openblas_threads(monkeypatch):
    from functrace.backends.numba_cpu import blas

    if blas.get_blas_threads() is None:
        pytest.skip("NumPy's OpenBLAS thread functions were not found")
    saved = blas.blas_threads(2)
    if blas.get_blas_threads() != 2:  # a build limited to one thread
        blas.blas_threads(saved)
        pytest.skip("this OpenBLAS runs one thread only")
    clock = _Clock()
    monkeypatch.setattr(th, "time", clock)
    cost = {2: 3.0, 1: 1.0}  # BLAS's second thread is slower here (a busy core)
    seen = []

    def kernel():
        n = blas.get_blas_threads()
        seen.append(n)
        clock.now += cost[n]

    try:
        gov = th.BlasGovernor()
        for _ in range(60):
            gov.run(kernel)
            assert blas.get_blas_threads() == 2
        assert seen[-30:].count(1) >= 29
        blas.blas_threads(1)  # a program that already runs BLAS on one thread
        seen.clear()
        gov.run(kernel)
        assert seen == [1] and blas.get_blas_threads() == 1
    finally:
        blas.blas_threads(saved)


def test_big_dot_generals_choose_blas_threads():
    import functrace as ft
    from functrace.backends.numba_cpu.table import lowerings
    from functrace.lax.dots import dot_general_p

    rng = np.random.default_rng(0)
    big_a = rng.standard_normal((64, 300)).astype(np.float32)
    big_b = rng.standard_normal((300, 128)).astype(np.float32)  # 4.9 MFLOP
    small_a, small_b = big_a[:4, :8], big_b[:8, :5]
    for a, b, governed in ((big_a, big_b, True), (small_a, small_b, False)):
        jaxpr = ft.make_jaxpr(lambda x, y: x @ y)(a, b).jaxpr
        (eqn,) = [e for e in jaxpr.eqns if e.primitive is dot_general_p]
        kernel = lowerings[dot_general_p](eqn)
        assert isinstance(getattr(kernel, "governor", None), th.BlasGovernor) == governed
        for _ in range(4):
            (got,) = kernel(a, b)
            np.testing.assert_allclose(got, a @ b, rtol=1e-5, atol=1e-5)
    f = ft.jit(lambda x, y: ft.nn.relu(x @ y).sum())
    for _ in range(3):
        np.testing.assert_allclose(f(big_a, big_b), np.maximum(big_a @ big_b, 0).sum(),
                                   rtol=1e-4)


def test_governor_is_not_misled_by_one_slow_first_sample(two_threads):
    # a kernel's first timed call can be an outlier (page faults, threads waking up): a
    # single slow sample of the faster count must not keep the slower count chosen
    clock = two_threads
    cost = {2: 1.0, 1: 2.0}
    kernel, seen = _fake_kernel(clock, cost)
    gov = th.Governor()
    gov.run(kernel)                 # untimed first call
    cost[2] = 4.0                   # the next (first timed) two-thread call is slow once
    gov.run(kernel)
    cost[2] = 1.0
    for _ in range(12):
        gov.run(kernel)
    assert seen[-8:].count(2) == 8
