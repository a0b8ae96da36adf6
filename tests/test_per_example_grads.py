"""Per-example gradients of a stax CNN under ``jit(vmap(grad))`` (issue 12 item 5).

The oracle is independent of vmap and of the batched kernels: a Python loop of
``grad`` over single examples, un-jitted. Under ``jit`` the batched pools (rank 5)
and the per-example filter gradients (grouped convolutions) must run kernels, not the
reference impl; ``as_text()`` marks any step that falls back to it.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import functrace as ft
import functrace.numpy as fnp
from functrace import lax, random, stax
from functrace.backends.numba_cpu import conv_grouped, lowerings, reference_lowering
from functrace.compiler.passes import swap_transposed_dots
from functrace.core.trace import eval_jaxpr
from functrace.lax.convolution import conv_general_dilated_p, conv_grad_filter_p
from functrace.lax.shape_ops import transpose_p

LAYOUTS = {"NHWC": ("NHWC", "HWIO", "NHWC"), "NCHW": ("NCHW", "OIHW", "NCHW")}


def _cnn(layout, pool, window, strides, padding, channels=(4, 8)):
    spec = layout if layout == "NCHW" else None
    pool_layer = {"max": stax.MaxPool, "avg": stax.AvgPool}[pool]
    # the second conv is SAME with stride 1, so that small images never shrink to nothing
    return stax.serial(
        stax.GeneralConv(LAYOUTS[layout], channels[0], (3, 3), strides, padding), stax.Relu,
        pool_layer(window, (1, 1), spec=spec),
        stax.GeneralConv(LAYOUTS[layout], channels[1], (3, 3), (1, 1), "SAME"), stax.Relu,
        pool_layer(window, window, spec=spec), stax.Flatten, stax.Dense(3))


def _check(layout, pool, window, strides, padding, batch=3, hw=10, seed=0):
    init, predict = _cnn(layout, pool, window, strides, padding)
    in_shape = (-1, hw, hw, 2) if layout == "NHWC" else (-1, 2, hw, hw)
    _, params = init(random.PRNGKey(seed), in_shape)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, *in_shape[1:])).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, batch)]

    def loss(params, batch):
        inputs, targets = batch
        return -fnp.mean(fnp.sum(stax.logsoftmax(predict(params, inputs)) * targets, 1))

    per_example = ft.jit(ft.vmap(ft.grad(loss), in_axes=(None, 0)))
    batched = (x[:, None], y[:, None])  # each example a batch of one, as in JAX's DP-SGD
    got = per_example(params, batched)
    for i in range(batch):
        want = ft.grad(loss)(params, (x[i:i + 1], y[i:i + 1]))
        for g, w in zip(ft.tree_util.tree_leaves(got), ft.tree_util.tree_leaves(want),
                        strict=True):
            np.testing.assert_allclose(np.asarray(g)[i], np.asarray(w), rtol=2e-4, atol=2e-5)
    lowered = per_example.lower(params, batched)
    # HWIO: the filter gradients are written in vmap's unfolded layout (no strided copy
    # after); OIHW's output features are outermost, so unfolding them is a plain reshape
    steps = lowered._compiled.steps
    rewritten = conv_grouped.unfold_filter_gradients(steps)
    assert len(rewritten) == (3 * 2 if layout == "NHWC" and batch > 1 else 0)
    return lowered.as_text()


def _plan(text):
    return [line for line in text.split("\n") if line.startswith("step ")]


@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
@pytest.mark.parametrize("pool", ["max", "avg"])
def test_per_example_grads_equal_a_loop_and_run_kernels(layout, pool):
    plan = _plan(_check(layout, pool, (2, 2), (2, 1), "SAME"))
    fallback = [s for s in plan if "(reference impl)" in s]
    assert not fallback, fallback
    # the per-example filter gradients and the rank-5 pools are in the plan, as kernels
    assert sum("conv_grad_filter" in s for s in plan) == 2
    pools = [s for s in plan if "reduce_window" in s or "select_and_scatter_add" in s]
    assert pools


@settings(max_examples=12)
@given(st.sampled_from(["NHWC", "NCHW"]), st.sampled_from(["max", "avg"]),
       st.sampled_from([(2, 2), (3, 2), (2, 1)]), st.sampled_from([(1, 1), (2, 1), (2, 2)]),
       st.sampled_from(["SAME", "VALID"]), st.integers(1, 3))
def test_per_example_grads_hypothesis(layout, pool, window, strides, padding, batch):
    _check(layout, pool, window, strides, padding, batch=batch, hw=12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", [
    # (lhs shape, rhs shape, strides, padding, rhs dilation, dimension numbers, groups)
    ((2, 6, 9, 7), (6, 3, 3, 2), (1, 2), [(1, -1), (2, 1)], (2, 1), None, 2),
    ((2, 6, 9), (6, 2, 3), (2,), [(1, 2)], (1,), None, 3),
    ((1, 7, 8, 6), (3, 3, 2, 9), (2, 2), [(1, 1), (0, 2)], (1, 1), ("NHWC", "HWIO", "NHWC"), 3),
    ((3, 5, 5, 4), (2, 2, 1, 8), (1, 1), [(0, 0), (0, 0)], (1, 2), ("NHWC", "HWIO", "NHWC"), 4),
])
def test_grouped_kernels_match_reference(case, dtype, monkeypatch):
    monkeypatch.setattr(conv_grouped, "MIN_GROUP_OUT", 1)  # small groups take the kernel too
    xs, ws, strides, padding, dil, dn, groups = case
    rng = np.random.default_rng(len(xs) + groups)
    x, w = rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype)

    def f(x, w):
        return lax.conv_general_dilated(x, w, strides, padding, rhs_dilation=dil,
                                        dimension_numbers=dn, feature_group_count=groups)

    ct = rng.standard_normal(np.shape(f(x, w))).astype(dtype)
    closed = ft.make_jaxpr(lambda x, w, c: ft.vjp(f, x, w)[1](c))(x, w, ct)
    seen = set()
    for e in closed.eqns:
        if e.primitive not in (conv_general_dilated_p, conv_grad_filter_p):
            continue
        args = (x, w) if e.primitive is conv_general_dilated_p else (x, ct)
        kernel = lowerings[e.primitive](e)
        assert not kernel.__qualname__.startswith("reference_lowering")
        got, want = kernel(*args)[0], reference_lowering(e)(*args)[0]
        assert got.dtype == want.dtype and got.shape == want.shape
        tol = 1e-5 if want.dtype == np.float32 else 1e-12  # float32 unless x64 is on
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())
        seen.add(e.primitive)
    assert seen == {conv_general_dilated_p, conv_grad_filter_p}


def test_depthwise_stays_on_the_reference():
    # one output channel a group: a GEMV per group, measured slower than the reference
    x, w = np.ones((1, 4, 6, 6), np.float32), np.ones((4, 1, 3, 3), np.float32)
    closed = ft.make_jaxpr(lambda x, w: lax.conv_general_dilated(
        x, w, (1, 1), "SAME", feature_group_count=4))(x, w)
    assert lowerings[conv_general_dilated_p](closed.eqns[0]).__qualname__.startswith(
        "reference_lowering")


def test_batched_weight_gradient_comes_out_untransposed():
    # vmap of a dense layer's weight gradient: dot_general with a batch dim, then a
    # transpose of its free blocks; the pass swaps the operands instead
    def wgrad(x, g):
        return ft.vjp(lambda w: x @ w, np.zeros((5, 3), np.float32))[1](g)[0]

    x = np.random.default_rng(0).standard_normal((4, 2, 5)).astype(np.float32)
    g = np.random.default_rng(1).standard_normal((4, 2, 3)).astype(np.float32)
    closed = ft.make_jaxpr(ft.vmap(wgrad))(x, g)
    assert any(e.primitive is transpose_p for e in closed.jaxpr.eqns)
    swapped = swap_transposed_dots(closed.jaxpr)
    assert not any(e.primitive is transpose_p for e in swapped.eqns)
    want = np.einsum("bnk,bno->bko", x, g)
    np.testing.assert_allclose(ft.jit(ft.vmap(wgrad))(x, g), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(eval_jaxpr(swapped, closed.consts, x, g)[0], want,
                               rtol=1e-5, atol=1e-6)
