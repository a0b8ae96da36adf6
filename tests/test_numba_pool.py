"""The Numba max/min-pool backward matches the reference impl (ties, NaN, layouts)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import functrace as ft
from functrace import lax
from functrace.backends.numba_cpu import lowerings, reference_lowering
from functrace.backends.numba_cpu.pool import lower_select_and_scatter_add
from functrace.lax.windowed import select_and_scatter_add_p


def _eqn(x, window, prim):
    def pool(v):
        return lax.reduce_window(v, -np.inf if prim is lax.max else np.inf, prim, window,
                                 window, "VALID")

    ct = np.ones(pool(x).shape, x.dtype)
    closed = ft.make_jaxpr(lambda v, c: ft.vjp(pool, v)[1](c))(x, ct)
    return next(e for e in closed.eqns if e.primitive is select_and_scatter_add_p), ct


@given(st.sampled_from(["NHWC"]), st.integers(1, 3), st.integers(1, 3),
       st.sampled_from(["random", "ties", "nan"]), st.sampled_from([lax.max, lax.min]),
       st.sampled_from([np.float32, np.float64]))
def test_matches_reference(layout, kh, kw, values, prim, dtype):
    rng = np.random.default_rng(kh * 7 + kw)
    shape = (2, 3, 2 * kh + 1, 3 * kw) if layout == "NCHW" else (2, 2 * kh + 1, 3 * kw, 3)
    x = {"random": rng.standard_normal(shape), "ties": rng.integers(0, 2, shape),
         "nan": np.where(rng.random(shape) < 0.2, np.nan, rng.standard_normal(shape))}[values]
    x = x.astype(dtype)
    window = (1, 1, kh, kw) if layout == "NCHW" else (1, kh, kw, 1)
    eqn, ct = _eqn(x, window, prim)
    src = rng.standard_normal(ct.shape).astype(dtype)
    fast = lower_select_and_scatter_add(eqn)
    assert fast.__qualname__.startswith("lower_select_and_scatter_add")
    np.testing.assert_array_equal(fast(src, x)[0], reference_lowering(eqn)(src, x)[0])


def test_other_geometries_fall_back_to_reference():
    x = np.ones((1, 1, 4, 4), np.float32)
    nchw, _ = _eqn(x, (1, 1, 2, 2), lax.max)
    assert lowerings[select_and_scatter_add_p](nchw).__qualname__.startswith(
        "reference_lowering")

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
