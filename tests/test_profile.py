"""``Compiled.profile()``: FLOP and byte counts per step (compiler/cost.py) against
hand-derived formulas, the profile's rows (compiler/profiling.py), and the machine
ceilings' on-disk cache (backends/numba_cpu/ceilings.py). No timing is asserted."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import functrace as ft
import functrace.numpy as fnp
from functrace import lax, random, stax
from functrace.backends.numba_cpu import ceilings
from functrace.compiler import cost, profiling
from functrace.compiler.fusion import Step


def eqns_of(f, *args, prim: str | None = None):
    eqns = ft.make_jaxpr(f)(*args).jaxpr.eqns
    return [e for e in eqns if prim is None or e.primitive.name == prim]


def conv_out(n, k, s, pad):
    """Output size of a window ``k``, stride ``s`` over ``n``: 'SAME' is ceil(n / s)."""
    return -(-n // s) if pad == "SAME" else (n - k) // s + 1


# ---------------------------------------------------------------------------
# dot_general

@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 9), st.integers(0, 3))
def test_dot_general_flops_are_2mnk_per_batch(m, n, k, b):
    x = np.ones((b, m, k) if b else (m, k), np.float32)
    y = np.ones((b, k, n) if b else (k, n), np.float32)
    (eqn,) = eqns_of(lambda x, y: fnp.matmul(x, y), x, y, prim="dot_general")
    assert cost.eqn_flops(eqn) == 2 * max(b, 1) * m * n * k


def test_dot_general_contracting_several_axes():
    x, y = np.ones((3, 4, 5), np.float32), np.ones((4, 5, 6), np.float32)
    (eqn,) = eqns_of(lambda x, y: lax.dot_general(x, y, (((1, 2), (0, 1)), ((), ()))), x, y)
    assert cost.eqn_flops(eqn) == 2 * 3 * 6 * (4 * 5)


# ---------------------------------------------------------------------------
# convolution: forward and both gradients cost 2 * N * Ho * Wo * O * (C / groups) * kh * kw

@given(n=st.integers(1, 3), h=st.integers(3, 9), w=st.integers(3, 9), c=st.integers(1, 4),
       o=st.integers(1, 5), kh=st.integers(1, 3), kw=st.integers(1, 3),
       stride=st.integers(1, 2), pad=st.sampled_from(["SAME", "VALID"]))
def test_conv_forward_and_gradients_flops(n, h, w, c, o, kh, kw, stride, pad):
    x = np.ones((n, h, w, c), np.float32)
    k = np.ones((kh, kw, c, o), np.float32)
    dn = ("NHWC", "HWIO", "NHWC")

    def f(x, k):
        return lax.conv_general_dilated(x, k, (stride, stride), pad, dimension_numbers=dn)

    expected = 2 * n * conv_out(h, kh, stride, pad) * conv_out(w, kw, stride, pad) * o * c * kh * kw
    (fwd,) = eqns_of(f, x, k, prim="conv_general_dilated")
    assert cost.eqn_flops(fwd) == expected
    grads = eqns_of(ft.grad(lambda x, k: f(x, k).sum(), argnums=(0, 1)), x, k)
    by_name = {e.primitive.name: e for e in grads}
    assert cost.eqn_flops(by_name["conv_grad_input"]) == expected
    assert cost.eqn_flops(by_name["conv_grad_filter"]) == expected


def test_grouped_conv_counts_features_per_group():
    x, k = np.ones((2, 6, 10, 10), np.float32), np.ones((9, 2, 3, 3), np.float32)  # 3 groups
    (eqn,) = eqns_of(lambda x, k: lax.conv_general_dilated(
        x, k, (1, 1), "VALID", feature_group_count=3), x, k)
    assert cost.eqn_flops(eqn) == 2 * 2 * 8 * 8 * 9 * (6 // 3) * 3 * 3


# ---------------------------------------------------------------------------
# pooling, reductions, elementwise loops

@given(n=st.integers(1, 3), h=st.integers(2, 9), c=st.integers(1, 4), k=st.integers(1, 3),
       s=st.integers(1, 3))
def test_max_pool_and_its_gradient_flops(n, h, c, k, s):
    k = min(k, h)
    x = np.arange(n * h * h * c, dtype=np.float32).reshape(n, h, h, c)

    def pool(x):
        return lax.reduce_window(x, -np.inf, lax.max, (1, k, k, 1), (1, s, s, 1), "VALID")

    windows = n * conv_out(h, k, s, "VALID") ** 2 * c
    (fwd,) = eqns_of(pool, x, prim="reduce_window_max")
    assert cost.eqn_flops(fwd) == windows * (k * k - 1)  # k*k - 1 comparisons a window
    (bwd,) = eqns_of(ft.grad(lambda x: pool(x).sum()), x, prim="select_and_scatter_add")
    assert cost.eqn_flops(bwd) == windows * k * k  # select (k*k - 1) + one addition


def test_avg_pool_sums_each_window():
    x = np.ones((2, 8, 8, 3), np.float32)
    (eqn,) = eqns_of(lambda x: lax.reduce_window(x, 0.0, lax.add, (1, 2, 2, 1), (1, 2, 2, 1),
                                                 "VALID"), x)
    assert cost.eqn_flops(eqn) == 2 * 4 * 4 * 3 * 3


@given(st.integers(1, 7), st.integers(1, 7), st.sampled_from(["sum", "max", "argmax"]))
def test_reduction_flops_are_one_per_element_merged(m, n, kind):
    x = np.ones((m, n), np.float32)
    fn = {"sum": fnp.sum, "max": fnp.max, "argmax": fnp.argmax}[kind]
    eqns = [e for e in eqns_of(lambda x: fn(x, axis=1), x)
            if e.primitive.name.startswith(("reduce_", "arg"))]
    assert [cost.eqn_flops(e) for e in eqns] == [m * (n - 1)]


def fused_step(f, *args):
    compiled = ft.jit(f).lower(*args).compile()
    (step,) = [s for s in compiled.steps if s.fused]
    return step


def test_fused_loop_counts_elements_times_ops_and_its_io():
    x = np.ones((32, 64), np.float32)
    b = np.ones(64, np.float32)
    # mul, add (b broadcast in: a free load), exp, sub: 4 operations per element
    step = fused_step(lambda x, b: fnp.exp(x * 2.0 + b) - x, x, b)
    flops, moved = cost.step_cost(step)
    assert flops == 4 * 32 * 64
    assert moved == 4 * (32 * 64 + 64 + 32 * 64)  # read x and b once, write the result


def test_fused_loop_ending_in_a_reduction():
    x = np.ones((16, 50), np.float32)
    step = fused_step(lambda x: fnp.sum(fnp.tanh(x) * x, axis=1), x)
    flops, moved = cost.step_cost(step)
    assert flops == 2 * 16 * 50 + 16 * 49  # tanh, mul per element; 49 additions a row
    assert moved == 4 * (16 * 50 + 16)


def test_views_move_no_bytes_and_scan_multiplies_its_body():
    x = np.ones((6, 4), np.float32)
    (reshape,) = eqns_of(lambda x: x.reshape(24), x)
    step = profiling.step_row(0, _single(reshape), 1e-3, 1e-3, None)
    assert (step["flops"], step["bytes"]) == (0, 0)

    def body(carry, row):
        return carry * row + 1.0, None  # mul, add on 4 elements

    (scan,) = eqns_of(lambda x: lax.scan(body, fnp.zeros(4), x)[0], x, prim="scan")
    assert cost.eqn_flops(scan) == 6 * 2 * 4
    (loop,) = eqns_of(lambda x: lax.while_loop(lambda c: c.sum() < 10.0, lambda c: c + 1.0,
                                               x), x, prim="while")
    assert cost.eqn_flops(loop) is None


def _single(eqn):
    return Step([eqn], list(eqn.inputs), list(eqn.outvars))


def test_roofline_fields_follow_the_ceilings():
    fake = {"sgemm_gflops": 100.0, "bandwidth_gbs": 10.0, "path": "-"}  # ridge: 10 FLOP/B
    a, b = np.ones((256, 256), np.float32), np.ones((256, 256), np.float32)
    (dot,) = eqns_of(lambda a, b: a @ b, a, b)
    row = profiling.step_row(0, _single(dot), 2e-3, 4e-3, fake)
    flops, moved = 2 * 256 ** 3, 3 * 256 * 256 * 4
    assert (row["flops"], row["bytes"], row["share"]) == (flops, moved, 0.5)
    assert row["intensity"] == pytest.approx(flops / moved)  # 42.7 > 10: compute-bound
    assert row["bound"] == "compute" and row["roof_gflops"] == 100.0
    assert row["pct_roof"] == pytest.approx(100 * flops / 2e-3 / 1e9 / 100.0)
    (add,) = eqns_of(lambda a, b: a + b, a, b)
    row = profiling.step_row(1, _single(add), 1e-4, 4e-3, fake)
    assert row["bound"] == "memory"  # 1 FLOP per 12 bytes
    assert row["roof_gflops"] == pytest.approx(10.0 / 12)
    assert row["pct_roof"] == pytest.approx(row["pct_bandwidth"])


# ---------------------------------------------------------------------------
# the profile of a whole training step

@pytest.fixture(scope="module")
def cnn_step():
    init_fun, predict = stax.serial(
        stax.Conv(4, (3, 3), padding="SAME"), stax.Relu, stax.MaxPool((2, 2), strides=(2, 2)),
        stax.Flatten, stax.Dense(10), stax.LogSoftmax)
    _, params = init_fun(random.PRNGKey(0), (-1, 8, 8, 1))

    @ft.jit
    def step(params, x, y):
        loss = lambda p: -fnp.mean(fnp.sum(predict(p, x) * y, axis=-1))  # noqa: E731
        value, grads = ft.value_and_grad(loss)(params)
        return value, ft.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, grads)

    x = np.random.default_rng(0).random((8, 8, 8, 1), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[np.arange(8)]
    args = (params, x, y)
    return step.lower(*args).compile(), args


def test_profile_rows_cover_every_step(cnn_step):
    compiled, args = cnn_step
    prof = compiled.profile(*args, repeat=2, as_dict=True)
    rows = prof["rows"]
    assert [r["step"] for r in rows] == list(range(len(compiled.steps)))
    for row, step in zip(rows, compiled.steps, strict=True):
        assert row["what"].endswith(", ".join(e.primitive.name for e in step.eqns))
        assert (row["flops"], row["bytes"]) == cost.step_cost(step)
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)
    cats = {r["category"] for r in rows}
    assert {"conv", "pool", "matmul", "elementwise"} <= cats
    convs = [r for r in rows if r["category"] == "conv"]
    assert sorted(r["what"] for r in convs) == ["conv_general_dilated", "conv_grad_filter"]
    assert prof["flops"] == sum(r["flops"] for r in rows)
    assert prof["ceilings"]["sgemm_gflops"] > 0


def test_profile_text_lists_every_step(cnn_step):
    compiled, args = cnn_step
    text = compiled.profile(*args, repeat=1)
    assert "ms per call" in text and "ceilings: sgemm" in text
    for k in range(len(compiled.steps)):
        assert f"  step {k} " in text


# ---------------------------------------------------------------------------
# the ceilings: measured once, then read from the disk

def test_ceilings_are_positive_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("FUNCTRACE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(ceilings, "_memo", {})
    first = ceilings.machine_ceilings()
    assert not first["cached"]
    for k in ("sgemm_gflops", "copy_gbs", "triad_gbs", "bandwidth_gbs"):
        assert first[k] > 0 and math.isfinite(first[k])
    path = tmp_path / ceilings.CACHE_NAME
    assert first["path"] == str(path)
    assert json.loads(path.read_text())[ceilings.machine_key()]["sgemm_gflops"] == \
        first["sgemm_gflops"]

    def no_measuring():
        raise AssertionError("measured again instead of reading the cache")

    monkeypatch.setattr(ceilings, "measure", no_measuring)
    monkeypatch.setattr(ceilings, "_memo", {})  # a new process: only the disk remains
    second = ceilings.machine_ceilings()
    assert second["cached"]
    assert {k: second[k] for k in ceilings.FIGURES} == {k: first[k] for k in ceilings.FIGURES}


def test_refresh_keeps_the_better_figure(tmp_path, monkeypatch):
    monkeypatch.setenv("FUNCTRACE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(ceilings, "_memo", {})
    figures = iter([{"sgemm_gflops": 100.0, "copy_gbs": 20.0, "triad_gbs": 15.0},
                    {"sgemm_gflops": 40.0, "copy_gbs": 30.0, "triad_gbs": 5.0}])
    monkeypatch.setattr(ceilings, "measure", lambda: dict(next(figures)))
    ceilings.machine_ceilings()
    loaded = ceilings.machine_ceilings(refresh=True)  # measured on a busy machine
    assert (loaded["sgemm_gflops"], loaded["copy_gbs"], loaded["triad_gbs"]) == (100.0, 30.0,
                                                                                 15.0)


def test_ceilings_survive_an_unwritable_cache(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("FUNCTRACE_CACHE_DIR", str(blocker / "sub"))  # under a file
    monkeypatch.setattr(ceilings, "_memo", {})
    monkeypatch.setattr(ceilings, "measure",
                        lambda: {"sgemm_gflops": 1.0, "copy_gbs": 2.0, "triad_gbs": 3.0})
    assert ceilings.machine_ceilings()["bandwidth_gbs"] == 3.0


def test_compute_ceiling_is_the_better_of_all_threads_and_one_thread_times_count(monkeypatch):
    monkeypatch.setattr(ceilings, "_stream_best", lambda: (10.0, 9.0))
    monkeypatch.setattr(ceilings, "_sgemm_per_thread", lambda: (50.0, 40.0, 2))  # busy
    assert ceilings.measure()["sgemm_gflops"] == 80.0
    monkeypatch.setattr(ceilings, "_sgemm_per_thread", lambda: (95.0, 40.0, 2))  # quiet
    figures = ceilings.measure()
    assert (figures["sgemm_gflops"], figures["triad_gbs"]) == (95.0, 9.0)


def test_max_pool_jvp_gathers_one_value_per_window():
    x = np.arange(2 * 6 * 6 * 3, dtype=np.float32).reshape(2, 6, 6, 3)

    def pool(x):
        return lax.reduce_window(x, -np.inf, lax.max, (1, 3, 3, 1), (1, 3, 3, 1), "VALID")

    eqns = eqns_of(lambda x, t: ft.jvp(pool, (x,), (t,))[1], x, x,
                   prim="select_and_gather_add")
    assert [cost.eqn_flops(e) for e in eqns] == [2 * 2 * 2 * 3 * 9]
