"""stax: init_fun's predicted shapes equal apply_fun's, layers against independent
NumPy oracles, the documented extensions of JAX (Dropout's test mode, BatchNorm's
running statistics), composition, initializer statistics, gradients, shape errors
and a JAX stax script run with only its imports changed."""

import importlib
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import functrace as ft
import functrace.numpy as fnp
from functrace import random, stax
from functrace.errors import FunctraceError, ShapeError
from functrace.stax import initializers
from functrace.tree_util import tree_leaves, tree_map

KEY = random.PRNGKey(0)


# ---------------------------------------------------------------------------
# the generic checker: the shape init_fun predicts is the shape apply_fun produces

def _shapes_of(x):
    if isinstance(x, list | tuple) and x and not isinstance(x[0], int | np.integer):
        return [_shapes_of(a) for a in x]
    return tuple(int(d) for d in x)


def _random_inputs(shape, rng):
    if isinstance(shape, list | tuple) and shape and not isinstance(shape[0], int):
        return [_random_inputs(s, rng) for s in shape]
    return rng.standard_normal(shape).astype(np.float32)


def check_shape_agreement(layer, input_shape, rng, **apply_kwargs):
    init_fun, apply_fun = layer
    out_shape, params = init_fun(KEY, input_shape)
    out = apply_fun(params, _random_inputs(input_shape, rng), **apply_kwargs)
    produced = [np.shape(o) for o in out] if isinstance(out, list) else np.shape(out)
    assert _shapes_of(produced) == _shapes_of(out_shape), (input_shape, out_shape, produced)
    return params, out


CONV_SPECS = [("NHWC", "HWIO", "NHWC"), ("NCHW", "OIHW", "NCHW"), ("NHWC", "OIHW", "NCHW"),
              ("CHWN", "IOWH", "NWHC")]
PADDINGS_2D = ["VALID", "SAME", "SAME_LOWER", ((1, 0), (2, 1))]


@st.composite
def conv_cases(draw, paddings=PADDINGS_2D):
    spec = draw(st.sampled_from(CONV_SPECS))
    filt = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(st.sampled_from(paddings))
    sizes = dict(N=draw(st.integers(1, 2)), C=draw(st.integers(1, 3)),
                 H=draw(st.integers(3, 7)), W=draw(st.integers(3, 7)))
    in_shape = tuple(sizes[c] for c in spec[0])
    return spec, draw(st.integers(1, 4)), filt, strides, padding, in_shape


@given(conv_cases())
def test_general_conv_shapes(case):
    spec, out_chan, filt, strides, padding, in_shape = case
    layer = stax.GeneralConv(spec, out_chan, filt, strides, padding)
    (W, b), _ = check_shape_agreement(layer, in_shape, np.random.default_rng(0))
    assert W.shape[spec[1].index("O")] == out_chan and b.size == out_chan


@given(conv_cases(paddings=["VALID", "SAME", ((1, 0), (2, 1))]))
def test_general_conv_transpose_shapes(case):
    spec, out_chan, filt, strides, padding, in_shape = case
    layer = stax.GeneralConvTranspose(spec, out_chan, filt, strides, padding)
    check_shape_agreement(layer, in_shape, np.random.default_rng(0))


@pytest.mark.parametrize("layer, in_shape", [
    (stax.Conv(3, (2, 2), strides=(2, 1), padding="SAME"), (2, 5, 6, 2)),
    (stax.Conv1D(4, (3,), padding="SAME"), (2, 7, 3)),
    (stax.ConvTranspose(4, (3, 3), strides=(2, 2), padding="SAME"), (1, 4, 5, 2)),
    (stax.ConvTranspose(4, (3, 3), strides=(2, 2), padding="VALID"), (1, 4, 5, 2)),
    (stax.Conv1DTranspose(2, (4,), strides=(3,), padding="VALID"), (2, 5, 3)),
])
def test_conv_alias_shapes(layer, in_shape):
    check_shape_agreement(layer, in_shape, np.random.default_rng(1))


@given(st.lists(st.integers(1, 5), min_size=1, max_size=3), st.integers(1, 6))
def test_dense_shapes(lead, out_dim):
    check_shape_agreement(stax.Dense(out_dim), (*lead, 4), np.random.default_rng(0))


@st.composite
def pool_cases(draw):
    spec = draw(st.sampled_from([None, "NHWC", "NCHW", "HWCN"]))
    window = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    strides = draw(st.sampled_from([None, (1, 1), (2, 2), (2, 3)]))
    padding = draw(st.sampled_from(["VALID", "SAME", "SAME_LOWER", ((1, 1), (0, 2))]))
    sizes = dict(N=draw(st.integers(1, 2)), C=draw(st.integers(1, 3)),
                 H=draw(st.integers(3, 7)), W=draw(st.integers(3, 7)))
    in_shape = tuple(sizes[c] for c in (spec or "NHWC"))
    return window, strides, padding, spec, in_shape


@pytest.mark.filterwarnings("ignore:invalid value")  # AvgPool of an all-padding window: 0/0
@pytest.mark.parametrize("pool", [stax.MaxPool, stax.SumPool, stax.AvgPool])
@given(case=pool_cases())
def test_pooling_shapes(pool, case):
    window, strides, padding, spec, in_shape = case
    check_shape_agreement(pool(window, strides, padding, spec), in_shape,
                          np.random.default_rng(0))


def test_pooling_strides_default_to_one_and_padding_to_valid():
    out_shape, _ = stax.MaxPool((2, 2))[0](KEY, (1, 5, 5, 3))
    assert out_shape == (1, 4, 4, 3)  # JAX's default: stride 1, not the window


@given(st.lists(st.integers(1, 4), min_size=2, max_size=4))
def test_parameterless_layer_shapes(shape):
    rng = np.random.default_rng(0)
    layers = [stax.Flatten, stax.Identity, stax.Tanh, stax.Relu, stax.Exp, stax.LogSoftmax,
              stax.Softmax, stax.Softplus, stax.Sigmoid, stax.Elu, stax.LeakyRelu, stax.Selu,
              stax.Gelu, stax.Dropout(0.5, mode="test"), stax.elementwise(fnp.clip, a_min=0,
                                                                          a_max=1)]
    for layer in layers:
        check_shape_agreement(layer, tuple(shape), rng)
    check_shape_agreement(stax.BatchNorm(axis=(0,)), tuple(shape), rng)
    check_shape_agreement(stax.FanOut(3), tuple(shape), rng)
    check_shape_agreement(stax.FanInSum, [tuple(shape)] * 2, rng)
    other = tuple(shape[:-1]) + (2,)
    check_shape_agreement(stax.FanInConcat(), [tuple(shape), other], rng)
    check_shape_agreement(stax.FanInConcat(axis=0), [tuple(shape)] * 2, rng)


def test_activation_layers_apply_their_functions():
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    for layer, fun in [(stax.Tanh, np.tanh), (stax.Exp, np.exp),
                       (stax.Relu, lambda v: np.maximum(v, 0)),
                       (stax.Sigmoid, lambda v: 1 / (1 + np.exp(-v))),
                       (stax.Softplus, lambda v: np.log1p(np.exp(v))),
                       (stax.LogSoftmax, lambda v: v - np.log(np.exp(v).sum(-1, keepdims=True))),
                       (stax.Softmax, lambda v: np.exp(v) / np.exp(v).sum(-1, keepdims=True))]:
        np.testing.assert_allclose(layer[1]((), x), fun(x), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------
# Dense and Conv against NumPy loops

def test_dense_matches_numpy(rng):
    init_fun, apply_fun = stax.Dense(5)
    _, (W, b) = init_fun(KEY, (-1, 7))
    x = rng.standard_normal((3, 7)).astype(np.float32)
    np.testing.assert_allclose(apply_fun((W, b), x), x @ W + b, rtol=1e-5, atol=1e-6)


def _same_pads(n, k, s):
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _naive_conv_nhwc(x, W, b, strides, padding):
    """A loop over output positions of an NHWC/HWIO cross-correlation."""
    kh, kw = W.shape[:2]
    if padding == "SAME":
        (t, bo), (l, r) = _same_pads(x.shape[1], kh, strides[0]), _same_pads(x.shape[2], kw,
                                                                             strides[1])
    else:
        (t, bo), (l, r) = (0, 0), (0, 0)
    xp = np.pad(x, ((0, 0), (t, bo), (l, r), (0, 0)))
    oh = (xp.shape[1] - kh) // strides[0] + 1
    ow = (xp.shape[2] - kw) // strides[1] + 1
    out = np.zeros((x.shape[0], oh, ow, W.shape[3]))
    for i, j in itertools.product(range(oh), range(ow)):
        patch = xp[:, i * strides[0]:i * strides[0] + kh, j * strides[1]:j * strides[1] + kw]
        out[:, i, j] = np.einsum("nhwc,hwco->no", patch, W)
    return out + b


@pytest.mark.parametrize("strides, padding", [((1, 1), "SAME"), ((2, 1), "SAME"),
                                              ((2, 2), "VALID"), ((1, 3), "SAME")])
def test_conv_matches_loop(rng, strides, padding):
    init_fun, apply_fun = stax.Conv(4, (3, 2), strides, padding)
    _, (W, b) = init_fun(KEY, (2, 7, 6, 3))
    b = rng.standard_normal(b.shape).astype(np.float32)  # the default init is ~1e-6
    x = rng.standard_normal((2, 7, 6, 3)).astype(np.float32)
    np.testing.assert_allclose(apply_fun((W, b), x), _naive_conv_nhwc(x, W, b, strides, padding),
                               rtol=1e-4, atol=1e-5)


def test_general_conv_nchw_matches_loop(rng):
    init_fun, apply_fun = stax.GeneralConv(("NCHW", "OIHW", "NCHW"), 4, (3, 3), (1, 2), "SAME")
    _, (W, b) = init_fun(KEY, (2, 3, 6, 5))
    assert W.shape == (4, 3, 3, 3) and b.shape == (1, 4, 1, 1)
    x = rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
    expect = _naive_conv_nhwc(x.transpose(0, 2, 3, 1), W.transpose(2, 3, 1, 0),
                              b.reshape(4), (1, 2), "SAME").transpose(0, 3, 1, 2)
    np.testing.assert_allclose(apply_fun((W, b), x), expect, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("stride, k, padding", [(2, 3, "SAME"), (3, 2, "VALID"), (1, 3, "SAME"),
                                                (2, 4, "VALID")])
def test_conv1d_transpose_matches_scatter_loop(rng, stride, k, padding):
    init_fun, apply_fun = stax.Conv1DTranspose(2, (k,), (stride,), padding)
    out_shape, (W, b) = init_fun(KEY, (1, 5, 3))
    x = rng.standard_normal((1, 5, 3)).astype(np.float32)
    # JAX's conv_transpose: a conv of the stride-dilated input padded with (lo, hi)
    lo = (k - 1 if stride > k - 1 else -(-(k + stride - 2) // 2)) if padding == "SAME" else k - 1
    out = np.zeros(out_shape)
    for i, kk in itertools.product(range(5), range(k)):
        o = i * stride + lo - kk  # input i sits at lo + i * stride of the padded input
        if 0 <= o < out_shape[1]:
            out[:, o] += x[:, i] @ W[kk]
    np.testing.assert_allclose(apply_fun((W, b), x), out + b, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------
# pooling against independent window loops

def _window_loop(x, window, strides, padding, reduce):
    """Pools the spatial dims of NHWC ``x``; ``reduce(values)`` sees each window's
    valid (non-padding) elements, shape (N, k, C)."""
    n, h, w, c = x.shape
    if padding == "SAME":
        (t, _), (l, _) = _same_pads(h, window[0], strides[0]), _same_pads(w, window[1], strides[1])
        oh, ow = -(-h // strides[0]), -(-w // strides[1])
    else:
        t = l = 0
        oh, ow = (h - window[0]) // strides[0] + 1, (w - window[1]) // strides[1] + 1
    out = np.zeros((n, oh, ow, c))
    for i, j in itertools.product(range(oh), range(ow)):
        r0, c0 = i * strides[0] - t, j * strides[1] - l
        rows = range(max(r0, 0), min(r0 + window[0], h))
        cols = range(max(c0, 0), min(c0 + window[1], w))
        vals = x[:, rows][:, :, cols].reshape(n, -1, c)
        out[:, i, j] = reduce(vals)
    return out


@pytest.mark.parametrize("window, strides", [((3, 3), (1, 1)), ((2, 2), (2, 2)),
                                             ((3, 2), (2, 3)), ((4, 4), (3, 3))])
def test_avgpool_same_counts_only_valid_elements(rng, window, strides):
    x = rng.standard_normal((2, 7, 8, 3)).astype(np.float32)
    out = stax.AvgPool(window, strides, "SAME")[1]((), x)
    expect = _window_loop(x, window, strides, "SAME", lambda v: v.sum(1) / v.shape[1])
    np.testing.assert_allclose(out, expect, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_max_and_sum_pool_match_window_loops(rng, padding):
    x = rng.standard_normal((2, 7, 8, 3)).astype(np.float32)
    for layer, reduce in [(stax.MaxPool, lambda v: v.max(1)), (stax.SumPool, lambda v: v.sum(1))]:
        out = layer((3, 2), (2, 2), padding)[1]((), x)
        expect = _window_loop(x, (3, 2), (2, 2), padding, reduce)
        np.testing.assert_allclose(out, expect, rtol=1e-5, atol=1e-5)


def test_avgpool_with_spec_nchw_matches_nhwc(rng):
    x = rng.standard_normal((2, 6, 5, 3)).astype(np.float32)
    nhwc = stax.AvgPool((3, 3), (2, 2), "SAME")[1]((), x)
    nchw = stax.AvgPool((3, 3), (2, 2), "SAME", spec="NCHW")[1]((), x.transpose(0, 3, 1, 2))
    np.testing.assert_allclose(nchw.transpose(0, 2, 3, 1), nhwc, rtol=1e-6)


# ---------------------------------------------------------------------------
# Dropout: rate is the KEEP probability, as in JAX's stax

def test_dropout_keeps_a_fraction_rate_and_rescales():
    init_fun, apply_fun = stax.Dropout(0.7)
    x = np.ones((200, 500), np.float32)
    y = np.asarray(apply_fun((), x, rng=random.PRNGKey(1)))
    kept = np.mean(y != 0)
    assert abs(kept - 0.7) < 0.01
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)


def test_dropout_is_jax_stax_dropout_bit_for_bit():
    # JAX: keep = random.bernoulli(rng, rate, x.shape); where(keep, x / rate, 0)
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    key = random.PRNGKey(3)
    keep = np.asarray(random.bernoulli(key, 0.8, x.shape))
    y = stax.Dropout(0.8)[1]((), x, rng=key)
    np.testing.assert_allclose(y, np.where(keep, x / np.float32(0.8), 0), rtol=1e-6)


def test_dropout_missing_rng_error_names_the_layer():
    with pytest.raises(FunctraceError, match=r"Dropout\(rate=0.5\) in mode 'train' needs rng="):
        stax.Dropout(0.5)[1]((), np.ones(3, np.float32))
    with pytest.raises(ValueError, match="mode='test'"):  # also a ValueError, as in JAX
        stax.Dropout(0.5)[1]((), np.ones(3, np.float32))


def test_dropout_test_mode_and_rate_one_are_the_identity():
    x = np.arange(6, dtype=np.float32)
    np.testing.assert_array_equal(stax.Dropout(0.5, mode="test")[1]((), x), x)
    np.testing.assert_array_equal(stax.Dropout(0.5)[1]((), x, mode="test"), x)  # apply-time
    np.testing.assert_array_equal(stax.Dropout(1.0)[1]((), x), x)  # no rng needed
    with pytest.raises(FunctraceError, match="keep"):
        stax.Dropout(0.0)
    with pytest.raises(FunctraceError, match="'train' or 'test'"):
        stax.Dropout(0.5, mode="Train")


def test_serial_splits_rng_between_dropout_layers():
    _, apply_fun = stax.serial(stax.Dropout(0.5), stax.Dropout(0.5))
    x = np.ones(4000, np.float32)
    y = np.asarray(apply_fun([(), ()], x, rng=random.PRNGKey(3)))
    # two independent masks keep a quarter, scaled by 4 (identical masks would keep a half)
    assert abs(np.mean(y != 0) - 0.25) < 0.03
    np.testing.assert_allclose(y[y != 0], 4.0)


# ---------------------------------------------------------------------------
# BatchNorm

def test_batchnorm_normalizes_over_axes(rng):
    x = (3 + 2 * rng.standard_normal((8, 4, 5, 3))).astype(np.float32)
    out_shape, (beta, gamma) = stax.BatchNorm()[0](KEY, x.shape)
    assert out_shape == x.shape and beta.shape == gamma.shape == (3,)
    y = np.asarray(stax.BatchNorm()[1]((beta, gamma), x))
    np.testing.assert_allclose(y.mean((0, 1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(y.var((0, 1, 2)), 1, atol=1e-3)
    beta, gamma = np.full(3, 0.5, np.float32), np.array([1, 2, 3], np.float32)
    y = np.asarray(stax.BatchNorm()[1]((beta, gamma), x))
    np.testing.assert_allclose(y.mean((0, 1, 2)), beta, atol=1e-5)
    np.testing.assert_allclose(y.std((0, 1, 2)), gamma, rtol=1e-3)


def test_batchnorm_center_scale_flags_and_scalar_axis(rng):
    x = rng.standard_normal((16, 3)).astype(np.float32)
    init_fun, apply_fun = stax.BatchNorm(axis=0, center=False, scale=False)
    _, params = init_fun(KEY, x.shape)
    assert params == ((), ())
    z = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
    np.testing.assert_allclose(apply_fun(params, x), z, rtol=1e-4, atol=1e-5)


def test_batchnorm_running_stats(rng):
    init_fun, apply_fun = stax.BatchNorm(axis=(0,), momentum=0.8, track_running_stats=True)
    _, params = init_fun(KEY, (-1, 3))
    beta, gamma, mean, var = params
    np.testing.assert_array_equal(mean, 0)
    np.testing.assert_array_equal(var, 1)
    x = (5 + 3 * rng.standard_normal((64, 3))).astype(np.float32)
    plain = apply_fun(params, x)  # train mode, no stats requested: batch statistics
    y, new = apply_fun(params, x, return_stats=True)
    np.testing.assert_allclose(y, plain)
    np.testing.assert_allclose(new[2], 0.2 * x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(new[3], 0.8 + 0.2 * x.var(0), rtol=1e-4)
    # test mode normalises with the running statistics
    gamma2 = np.array([1., 2., 3.], np.float32)
    t = apply_fun((beta + 1, gamma2, new[2], new[3]), x, mode="test")
    expect = gamma2 * (x - new[2]) / np.sqrt(new[3] + 1e-5) + 1
    np.testing.assert_allclose(t, expect, rtol=1e-4, atol=1e-4)
    t2, same = apply_fun(new, x, mode="test", return_stats=True)
    assert same is new
    np.testing.assert_allclose(t2, apply_fun(new, x, mode="test"))
    # repeated updates converge to the batch statistics
    for _ in range(60):
        _, params = apply_fun(params, x, return_stats=True)
    np.testing.assert_allclose(params[2], x.mean(0), rtol=1e-3)
    np.testing.assert_allclose(params[3], x.var(0), rtol=1e-3)


def test_batchnorm_running_stats_through_serial_and_grad(rng):
    init_fun, apply_fun = stax.serial(
        stax.Dense(4), stax.BatchNorm(axis=(0,), track_running_stats=True), stax.Relu,
        stax.Dropout(0.1), stax.Dense(2))
    _, params = init_fun(KEY, (-1, 3))
    x = rng.standard_normal((16, 3)).astype(np.float32)

    def loss(p):
        out, new_p = apply_fun(p, x, rng=random.PRNGKey(2), return_stats=True)
        return fnp.sum(out ** 2), new_p

    grads, new_params = ft.grad(loss, has_aux=True)(params)
    assert isinstance(new_params, list) and len(new_params) == 5
    assert ft.tree_util.tree_structure(new_params) == ft.tree_util.tree_structure(params)
    np.testing.assert_array_equal(grads[1][2], 0)  # no gradient into the running stats
    np.testing.assert_array_equal(grads[1][3], 0)
    assert not np.allclose(new_params[1][2], params[1][2])
    stepped = tree_map(lambda p, g: p - 0.1 * g, new_params, grads)
    np.testing.assert_allclose(stepped[1][2], new_params[1][2])
    # evaluation: running stats, no dropout, no rng needed
    out = apply_fun(stepped, x, mode="test")
    assert out.shape == (16, 2)
    test_grads = ft.grad(lambda p: fnp.sum(apply_fun(p, x, mode="test")))(stepped)
    np.testing.assert_array_equal(test_grads[1][2], 0)


# ---------------------------------------------------------------------------
# composition

def test_serial_composes(rng):
    init_fun, apply_fun = stax.serial(stax.Dense(4), stax.Relu, stax.Dense(2))
    out_shape, params = init_fun(KEY, (-1, 3))
    assert out_shape == (-1, 2) and isinstance(params, list) and len(params) == 3
    x = rng.standard_normal((5, 3)).astype(np.float32)
    (W1, b1), (), (W2, b2) = params
    np.testing.assert_allclose(apply_fun(params, x), np.maximum(x @ W1 + b1, 0) @ W2 + b2,
                               rtol=1e-5, atol=1e-6)


def test_residual_block_with_fan_out_parallel_fan_in_sum(rng):
    block = stax.serial(stax.FanOut(2), stax.parallel(stax.Dense(3), stax.Identity),
                        stax.FanInSum)
    out_shape, params = block[0](KEY, (-1, 3))
    assert out_shape == (-1, 3)
    (W, b), () = params[1]
    x = rng.standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(block[1](params, x), x @ W + b + x, rtol=1e-5, atol=1e-6)


def test_parallel_and_fan_in_concat(rng):
    init_fun, apply_fun = stax.serial(stax.FanOut(2), stax.parallel(stax.Dense(2), stax.Dense(5)),
                                      stax.FanInConcat(axis=-1))
    out_shape, params = init_fun(KEY, (-1, 3))
    assert out_shape == (-1, 7)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    (Wa, ba), (Wb, bb) = params[1]
    expect = np.concatenate([x @ Wa + ba, x @ Wb + bb], axis=-1)
    np.testing.assert_allclose(apply_fun(params, x), expect, rtol=1e-5, atol=1e-6)
    shapes, pp = stax.parallel(stax.Dense(2), stax.Flatten)[0](KEY, [(1, 3), (1, 2, 2)])
    assert list(shapes) == [(1, 2), (1, 4)] and pp[1] == ()


def test_shape_dependent(rng):
    layer = stax.shape_dependent(lambda shape: stax.Dense(shape[-1] * 2))
    params, out = check_shape_agreement(layer, (3, 4), rng)
    assert params[0].shape == (4, 8) and out.shape == (3, 8)


# ---------------------------------------------------------------------------
# initializers

@pytest.mark.parametrize("make, expected_var", [
    (initializers.glorot_normal, lambda fi, fo: 2 / (fi + fo)),
    (initializers.glorot_uniform, lambda fi, fo: 2 / (fi + fo)),
    (initializers.he_normal, lambda fi, fo: 2 / fi),
    (initializers.he_uniform, lambda fi, fo: 2 / fi),
    (initializers.lecun_normal, lambda fi, fo: 1 / fi),
    (initializers.lecun_uniform, lambda fi, fo: 1 / fi),
])
def test_variance_scaling_statistics(make, expected_var):
    w = np.asarray(make()(random.PRNGKey(1), (400, 300)))
    assert w.dtype == np.float32 and w.shape == (400, 300)
    assert abs(w.mean()) < 3e-4
    np.testing.assert_allclose(w.var(), expected_var(400, 300), rtol=0.05)
    # an HWIO filter: the receptive field multiplies both fans
    w = np.asarray(make()(random.PRNGKey(2), (3, 3, 64, 48)))
    np.testing.assert_allclose(w.var(), expected_var(9 * 64, 9 * 48), rtol=0.05)


def test_variance_scaling_axes_and_shapes_of_distributions():
    # in_axis / out_axis pick the fans: an OIHW filter (in_axis=1, out_axis=0)
    w = np.asarray(initializers.he_normal(in_axis=1, out_axis=0)(KEY, (16, 200, 2, 2)))
    np.testing.assert_allclose(w.var(), 2 / (200 * 4), rtol=0.05)
    scale = np.sqrt(3 * 2 / (200 + 300))
    u = np.asarray(initializers.glorot_uniform()(KEY, (200, 300)))
    assert u.max() <= scale and u.min() >= -scale
    t = np.asarray(initializers.glorot_normal()(KEY, (200, 300)))
    assert np.abs(t).max() <= 2 * np.sqrt(2 / 500) / 0.87962566103423978 + 1e-6
    with pytest.raises(ShapeError, match="at least 2 dims"):
        initializers.glorot_normal()(KEY, (5,))
    with pytest.raises(FunctraceError, match="invalid mode"):
        initializers.variance_scaling(1.0, "fan_sum", "normal")


def test_simple_initializers(x64):
    np.testing.assert_array_equal(initializers.zeros(KEY, (2, 3)), np.zeros((2, 3)))
    assert initializers.ones(KEY, (2,)).dtype == np.float64  # x64: JAX's float_
    np.testing.assert_array_equal(initializers.constant(3.0)(KEY, (2,)), [3.0, 3.0])
    w = np.asarray(initializers.normal(0.5)(KEY, (100000,)))
    np.testing.assert_allclose(w.std(), 0.5, rtol=0.02)
    u = np.asarray(initializers.uniform(2.0)(KEY, (100000,)))
    assert u.min() >= 0 and u.max() < 2.0 and abs(u.mean() - 1) < 0.02
    tn = np.asarray(initializers.truncated_normal(1.0)(KEY, (100000,)))
    assert np.abs(tn).max() <= 2.0 and abs(tn.std() - 0.8796) < 0.02


# ---------------------------------------------------------------------------
# gradients through a small CNN, against finite differences (float64)

def test_gradients_flow_through_a_small_cnn(x64, rng):
    init_fun, predict = stax.serial(
        stax.Conv(3, (3, 3), padding="SAME"), stax.BatchNorm(), stax.Relu,
        stax.MaxPool((2, 2), strides=(2, 2)), stax.Conv(2, (2, 2)), stax.Tanh,
        stax.AvgPool((2, 2), padding="SAME"), stax.Flatten, stax.Dense(3), stax.LogSoftmax)
    _, params = init_fun(KEY, (-1, 6, 6, 2))
    params = tree_map(lambda p: p + 0.1 * rng.standard_normal(np.shape(p)), params)
    assert all(leaf.dtype == np.float64 for leaf in tree_leaves(params))
    x = rng.standard_normal((2, 6, 6, 2))
    y = np.eye(3)[[0, 2]]

    def loss(p):
        return -fnp.mean(fnp.sum(predict(p, x) * y, axis=1))

    grads = ft.grad(loss)(params)
    assert ft.tree_util.tree_structure(grads) == ft.tree_util.tree_structure(params)
    eps = 1e-6
    for path, index in [((0, 0), (1, 2, 1, 0)), ((0, 1), (0, 0, 0, 2)), ((1, 1), (1,)),
                        ((4, 0), (0, 1, 2, 1)), ((8, 0), (1, 2)), ((8, 1), (0,))]:
        def shifted(delta, path=path, index=index):
            p = tree_map(np.array, params)  # a copy; its leaves are changed in place
            p[path[0]][path[1]][index] += delta
            return float(loss(p))
        fd = (shifted(eps) - shifted(-eps)) / (2 * eps)
        np.testing.assert_allclose(grads[path[0]][path[1]][index], fd, rtol=1e-5, atol=1e-8)


# ---------------------------------------------------------------------------
# errors on inputs that do not fit the params

def test_dense_wrong_feature_count_error():
    init_fun, apply_fun = stax.Dense(10)
    _, params = init_fun(KEY, (-1, 784))
    msg = r"Dense\(10\): expected inputs with last dimension 784, got shape \(32, 100\)"
    with pytest.raises(ShapeError, match=msg):
        apply_fun(params, np.zeros((32, 100), np.float32))


def test_conv_wrong_channel_count_error():
    init_fun, apply_fun = stax.Conv(8, (3, 3))
    _, params = init_fun(KEY, (-1, 8, 8, 3))
    with pytest.raises(ShapeError, match=r"Conv\(8, \(3, 3\)\).*3 channels.*got shape "
                                         r"\(2, 8, 8, 1\)"):
        apply_fun(params, np.zeros((2, 8, 8, 1), np.float32))
    _, params = stax.GeneralConv(("NCHW", "OIHW", "NCHW"), 4, (3, 3))[0](KEY, (1, 2, 5, 5))
    with pytest.raises(ShapeError, match=r"GeneralConv\(\('NCHW'.*got shape \(1, 5, 5, 2\)"):
        stax.GeneralConv(("NCHW", "OIHW", "NCHW"), 4, (3, 3))[1](params, np.zeros((1, 5, 5, 2)))
    with pytest.raises(ShapeError, match="rank 4"):
        stax.Conv(8, (3, 3))[1](stax.Conv(8, (3, 3))[0](KEY, (1, 5, 5, 3))[1],
                                np.zeros((5, 5, 3)))


def test_other_shape_errors_inside_serial():
    init_fun, apply_fun = stax.serial(stax.Conv(4, (3, 3)), stax.BatchNorm(), stax.Flatten,
                                      stax.Dense(2))
    _, params = init_fun(KEY, (-1, 6, 6, 1))
    with pytest.raises(ShapeError, match=r"Conv\(4, \(3, 3\)\)"):
        apply_fun(params, np.zeros((2, 6, 6, 2), np.float32))
    with pytest.raises(ShapeError, match=r"Dense\(2\): expected inputs with last dimension 64"):
        apply_fun(params, np.zeros((2, 7, 7, 1), np.float32))
    bn_params = stax.BatchNorm()[0](KEY, (-1, 4, 4, 3))[1]
    with pytest.raises(ShapeError, match=r"BatchNorm\(axis=\(0, 1, 2\)\).*\(3,\).*\(2, 4, 4, 5\)"):
        stax.BatchNorm()[1](bn_params, np.zeros((2, 4, 4, 5), np.float32))
    with pytest.raises(ShapeError, match=r"MaxPool\(\(2, 2\)\): expected inputs of rank 4"):
        stax.MaxPool((2, 2))[1]((), np.zeros((4, 4, 3), np.float32))


# ---------------------------------------------------------------------------
# a canonical JAX stax script, with only its imports changed

def test_canonical_jax_script_runs_with_imports_changed():
    from functrace import grad, jit, random  # was: from jax import ...
    from functrace.example_libraries import optimizers, stax  # was: jax.example_libraries

    init_random_params, predict = stax.serial(
        stax.Conv(8, (3, 3), padding="SAME"), stax.Relu, stax.MaxPool((2, 2), strides=(2, 2)),
        stax.Flatten, stax.Dense(10), stax.LogSoftmax)
    _, params = init_random_params(random.PRNGKey(0), (-1, 8, 8, 1))

    def loss(params, batch):
        inputs, targets = batch
        preds = predict(params, inputs)
        return -fnp.mean(fnp.sum(preds * targets, axis=1))

    opt_init, opt_update, get_params = optimizers.momentum(0.1, mass=0.9)

    @jit
    def update(i, opt_state, batch):
        params = get_params(opt_state)
        return opt_update(i, grad(loss)(params, batch), opt_state)

    rng = np.random.default_rng(0)
    batch = (rng.standard_normal((16, 8, 8, 1)).astype(np.float32),
             np.eye(10, dtype=np.float32)[rng.integers(0, 10, 16)])
    opt_state = opt_init(params)
    first = float(loss(params, batch))
    for i in range(5):
        opt_state = update(i, opt_state, batch)
    assert float(loss(get_params(opt_state), batch)) < first
    assert stax is ft.stax
    assert importlib.import_module("functrace.example_libraries.stax") is ft.stax
