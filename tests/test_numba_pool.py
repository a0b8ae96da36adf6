"""The Numba pooling loops (forward max/min/sum, max/min backward) match the reference
impls bit for bit: ties, NaN, both layouts, strides, ragged edges."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import functrace as ft
from functrace import lax
from functrace.backends.numba_cpu import lowerings, reference_lowering
from functrace.backends.numba_cpu.pool import lower_select_and_scatter_add, pair_argmax
from functrace.lax.windowed import (
    reduce_window_max_p,
    reduce_window_min_p,
    reduce_window_sum_p,
    select_and_scatter_add_p,
)

FORWARD = {lax.max: reduce_window_max_p, lax.min: reduce_window_min_p,
           lax.add: reduce_window_sum_p}
INIT = {lax.max: -np.inf, lax.min: np.inf, lax.add: 0.0}


def _eqns(x, window, strides, prim):
    """The forward and (for max/min) backward equations of pooling ``x``."""
    def pool(v):
        return lax.reduce_window(v, INIT[prim], prim, window, strides, "VALID")

    ct = np.ones(pool(x).shape, x.dtype)
    closed = ft.make_jaxpr(lambda v, c: ft.vjp(pool, v)[1](c))(x, ct)
    fwd = next(e for e in closed.eqns if e.primitive is FORWARD[prim])
    bwd = next((e for e in closed.eqns if e.primitive is select_and_scatter_add_p), None)
    return fwd, bwd, ct


@given(st.sampled_from(["NCHW", "NHWC"]), st.integers(1, 3), st.integers(1, 3),
       st.sampled_from(["tiled", "overlap", "ragged"]),
       st.sampled_from(["random", "ties", "nan", "inf"]),
       st.sampled_from([lax.max, lax.min, lax.add]),
       st.sampled_from([np.float32, np.float64]))
def test_matches_reference(layout, kh, kw, geometry, values, prim, dtype):
    rng = np.random.default_rng(kh * 7 + kw)
    sh, sw = {"tiled": (kh, kw), "overlap": (1, max(kw - 1, 1)), "ragged": (kh, kw)}[geometry]
    extra = 1 if geometry == "ragged" else 0
    h, w = 2 * kh + 1 + extra, 3 * kw + extra
    shape = (2, 3, h, w) if layout == "NCHW" else (2, h, w, 3)
    x = {"random": rng.standard_normal(shape), "ties": rng.integers(0, 2, shape),
         "nan": np.where(rng.random(shape) < 0.2, np.nan, rng.standard_normal(shape)),
         "inf": np.where(rng.random(shape) < 0.2, np.inf, -rng.standard_exponential(shape))
         }[values].astype(dtype)
    window = (1, 1, kh, kw) if layout == "NCHW" else (1, kh, kw, 1)
    strides = (1, 1, sh, sw) if layout == "NCHW" else (1, sh, sw, 1)
    fwd, bwd, ct = _eqns(x, window, strides, prim)
    x = x.astype(fwd.inputs[0].aval.dtype)  # float32 unless x64 is enabled
    lowered = lowerings[fwd.primitive](fwd)
    assert not lowered.__qualname__.startswith("reference_lowering")
    np.testing.assert_array_equal(lowered(x)[0], reference_lowering(fwd)(x)[0])
    if bwd is not None:
        src = rng.standard_normal(ct.shape).astype(x.dtype)
        fast = lower_select_and_scatter_add(bwd)
        assert fast.__qualname__.startswith("lower_select_and_scatter_add")
        np.testing.assert_array_equal(fast(src, x)[0], reference_lowering(bwd)(src, x)[0])


@pytest.mark.parametrize("window, shape", [
    ((1, 2, 2), (3, 5, 4)),                 # rank 3
    ((1, 1, 1, 3, 2), (2, 3, 1, 7, 5)),     # vmapped NCHW: rank 5
    ((1, 1, 2, 2, 1), (3, 1, 6, 5, 4)),     # vmapped NHWC: rank 5
    ((2, 2, 1, 1, 1), (5, 4, 2, 3, 2)),     # pooled axes first
    ((1, 3, 1), (2, 7, 3)),                 # one pooled axis
])
@pytest.mark.parametrize("prim", [lax.max, lax.add])
def test_other_ranks_fold_into_the_kernels(window, shape, prim):
    # axes around the two pooled ones are folded by reshapes into the rank-4 kernels
    rng = np.random.default_rng(len(shape))
    x = rng.standard_normal(shape).astype(np.float32)
    fwd, bwd, ct = _eqns(x, window, window, prim)
    lowered = lowerings[fwd.primitive](fwd)
    assert not lowered.__qualname__.startswith("reference_lowering")
    np.testing.assert_array_equal(lowered(x)[0], reference_lowering(fwd)(x)[0])
    if bwd is not None:
        src = rng.standard_normal(ct.shape).astype(np.float32)
        fast = lowerings[select_and_scatter_add_p](bwd)
        assert not fast.__qualname__.startswith("reference_lowering")
        np.testing.assert_array_equal(fast(src, x)[0], reference_lowering(bwd)(src, x)[0])


def test_other_geometries_fall_back_to_reference():
    x = np.ones((1, 4, 4, 2), np.float32)  # pooled axes not adjacent
    fwd, bwd, _ = _eqns(x, (1, 2, 1, 2), (1, 2, 1, 2), lax.max)
    assert lowerings[select_and_scatter_add_p](bwd).__qualname__.startswith(
        "reference_lowering")
    assert lowerings[reduce_window_max_p](fwd).__qualname__.startswith("reference_lowering")
    x = np.ones((1, 1, 4, 4), np.float32)

    def pool(v):
        return lax.reduce_window(v, -np.inf, lax.max, (1, 1, 2, 2), (1, 1, 1, 1), "SAME")

    closed = ft.make_jaxpr(lambda v: ft.grad(lambda u: pool(u).sum())(v))(x)
    eqn = next(e for e in closed.eqns if e.primitive is select_and_scatter_add_p)
    assert lowerings[select_and_scatter_add_p](eqn).__qualname__.startswith(
        "reference_lowering")


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_lesson_gradient_under_jit(layout):
    x = np.arange(16, dtype=np.float32).reshape(4, 4)
    x = x[None, None] if layout == "NCHW" else x[None, :, :, None]
    window = (1, 1, 2, 2) if layout == "NCHW" else (1, 2, 2, 1)
    g = ft.jit(ft.grad(lambda v: lax.reduce_window(v, -np.inf, lax.max, window, window,
                                                   "VALID").sum()))(x)
    expected = np.zeros((4, 4), np.float32)
    expected[[1, 1, 3, 3], [1, 3, 1, 3]] = 1
    np.testing.assert_array_equal(np.asarray(g).reshape(4, 4), expected)


@given(st.sampled_from(["NCHW", "NHWC"]), st.integers(1, 3), st.integers(1, 3),
       st.sampled_from(["tiled", "overlap", "ragged"]),
       st.sampled_from(["random", "ties", "nan"]), st.sampled_from([lax.max, lax.min]))
def test_backward_from_the_forwards_argmax_matches_eager(layout, kh, kw, geometry, values,
                                                          prim):
    """Under jit, a pool's forward records its argmax and the backward scatters by it
    (pool.pair_argmax); values and gradients equal the eager reference bit for bit."""
    rng = np.random.default_rng(kh * 5 + kw)
    sh, sw = {"tiled": (kh, kw), "overlap": (1, max(kw - 1, 1)), "ragged": (kh, kw)}[geometry]
    extra = 1 if geometry == "ragged" else 0
    h, w = 2 * kh + extra, 2 * kw + 1 + extra
    shape = (2, 3, h, w) if layout == "NCHW" else (2, h, w, 3)
    x = {"random": rng.standard_normal(shape), "ties": rng.integers(0, 2, shape),
         "nan": np.where(rng.random(shape) < 0.2, np.nan, rng.standard_normal(shape))
         }[values].astype(np.float32)
    window = (1, 1, kh, kw) if layout == "NCHW" else (1, kh, kw, 1)
    strides = (1, 1, sh, sw) if layout == "NCHW" else (1, sh, sw, 1)

    def f(x, ct):
        y, vjp = ft.vjp(lambda v: lax.reduce_window(v, INIT[prim], prim, window, strides,
                                                    "VALID"), x)
        return y, vjp(ct)[0]

    y0 = lax.reduce_window(x, INIT[prim], prim, window, strides, "VALID")
    ct = rng.standard_normal(y0.shape).astype(np.float32)
    jitted = ft.jit(f)
    assert len(pair_argmax(jitted.lower(x, ct).compile().steps)) == 2
    for got, want in zip(jitted(x, ct), f(x, ct)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("values", ["random", "nan"])
def test_parallel_loops_match_the_reference(monkeypatch, layout, values):
    # big pools run chunks of the leading axis on Numba's threads (pool.PARALLEL_MIN);
    # forced here on small arrays: the same values bit for bit, NaNs included (the fast
    # loops count the NaNs they read and hand over to the exact ones)
    from functrace.backends.numba_cpu import pool  # noqa: PLC0415

    monkeypatch.setattr(pool, "PARALLEL_MIN", 0)
    rng = np.random.default_rng(3)
    shape = (5, 3, 8, 9) if layout == "NCHW" else (5, 8, 9, 3)
    x = rng.standard_normal(shape)
    if values == "nan":
        x = np.where(rng.random(shape) < 0.1, np.nan, x)
    x = x.astype(np.float32)
    window = (1, 1, 2, 2) if layout == "NCHW" else (1, 2, 2, 1)
    for prim in (lax.max, lax.add):
        fwd, bwd, ct = _eqns(x, window, window, prim)
        np.testing.assert_array_equal(lowerings[fwd.primitive](fwd)(x)[0],
                                      reference_lowering(fwd)(x)[0])
        if bwd is not None:
            src = rng.standard_normal(ct.shape).astype(np.float32)
            np.testing.assert_array_equal(lower_select_and_scatter_add(bwd)(src, x)[0],
                                          reference_lowering(bwd)(src, x)[0])

    def f(x, ct):
        y, vjp = ft.vjp(lambda v: lax.reduce_window(v, -np.inf, lax.max, window, window,
                                                    "VALID"), x)
        return y, vjp(ct)[0]

    ct = rng.standard_normal(f(x, x[..., :4, :4] if layout == "NCHW" else x[:, :4, :4])[0]
                             .shape).astype(np.float32)
    jitted = ft.jit(f)
    assert len(pair_argmax(jitted.lower(x, ct).compile().steps)) == 2
    for got, want in zip(jitted(x, ct), f(x, ct)):
        np.testing.assert_array_equal(got, want)
