"""Winograd F(2x2, 3x3) (functrace.experimental.winograd) against the NumPy reference
impls, which tests/test_lax_conv.py checks against a loop oracle; and its switch."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import functrace as ft
from functrace import lax
from functrace.backends.numba_cpu import conv_direct, lowerings, reference_lowering
from functrace.core.jaxpr import Eqn, Var
from functrace.core.trace import abstract_eval_rules
from functrace.experimental import winograd
from functrace.lax.convolution import conv_general_dilated_p, conv_grad_input_p

SPECS = {"NCHW": ("NCHW", "OIHW", "NCHW"), "NHWC": ("NHWC", "HWIO", "NHWC")}


def _eqn(prim, avals, **params):
    out = abstract_eval_rules[prim](*avals, **params)
    return Eqn(prim, [Var(a) for a in avals], params, [Var(out)])


def _aval(x):
    return ft.core.avals.ShapedArray(x.shape, x.dtype)


def _shape(spec, n, c, spatial):
    sizes = {"N": n, "O": n, "C": c, "I": c, "H": spatial[0], "W": spatial[-1]}
    return tuple(sizes[ch] for ch in spec)


@given(st.sampled_from(["NCHW", "NHWC"]), st.integers(1, 3), st.integers(16, 20),
       st.integers(16, 19), st.integers(3, 9), st.integers(3, 8),
       st.sampled_from([(1, 1), (0, 0), (2, 2), (0, 2), (1, 0)]),
       st.sampled_from([(1, 1), (0, 1), (2, 0)]), st.sampled_from([np.float32, np.float64]))
def test_winograd_matches_reference(x64, spec, n, c, o, h, w, pad_h, pad_w, dtype):
    """3x3 stride-1 convolutions and their input gradients through Winograd F(2x2, 3x3):
    odd and even sizes (partial tiles), every padding it takes, both layouts."""
    lhs_spec, rhs_spec, out_spec = SPECS[spec]
    rng = np.random.default_rng(n * 100 + h * 10 + w)
    x = rng.standard_normal(_shape(lhs_spec, n, c, (h, w))).astype(dtype)
    k = rng.standard_normal(_shape(rhs_spec, o, c, (3, 3))).astype(dtype)
    params = dict(window_strides=(1, 1), padding=(pad_h, pad_w), lhs_dilation=(1, 1),
                  rhs_dilation=(1, 1), dimension_numbers=lax.conv_dimension_numbers(
                      x.shape, k.shape, SPECS[spec]), feature_group_count=1,
                  batch_group_count=1, precision=None, preferred_element_type=None)
    fwd = _eqn(conv_general_dilated_p, [_aval(x), _aval(k)], **params)
    lowered = winograd.lower_conv_general_dilated(fwd)
    assert lowered.__module__.endswith("winograd")
    y = lowered(x, k)[0]
    want = reference_lowering(fwd)(x, k)[0]
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y, want, atol=tol * np.abs(want).max(), rtol=0)
    ct = rng.standard_normal(y.shape).astype(dtype)
    del params["preferred_element_type"]
    bwd = _eqn(conv_grad_input_p, [_aval(ct), _aval(k)], lhs_shape=x.shape, **params)
    lowered = winograd.lower_conv_grad_input(bwd)
    assert lowered.__module__.endswith("winograd")
    got, want = lowered(ct, k)[0], reference_lowering(bwd)(ct, k)[0]
    np.testing.assert_allclose(got, want, atol=tol * np.abs(want).max(), rtol=0)


def test_winograd_is_not_used_where_it_does_not_apply():
    small, big = (2, 16, 8, 8), (512, 16, 32, 32)
    for x_shape, k_shape, strides, padding in (
            (small, (16, 16, 3, 3), (2, 2), (1, 1)),  # stride 2
            (small, (16, 16, 5, 5), (1, 1), (2, 2)),  # 5x5
            (small, (8, 16, 3, 3), (1, 1), (1, 1)),   # too few outputs
            (small, (16, 16, 3, 3), (1, 1), (3, 3)),  # padding > 2
            (big, (16, 16, 3, 3), (1, 1), (1, 1))):   # transformed tiles too big
        x, k = np.ones(x_shape, np.float32), np.ones(k_shape, np.float32)
        params = dict(window_strides=strides, padding=(padding, padding),
                      lhs_dilation=(1, 1), rhs_dilation=(1, 1),
                      dimension_numbers=lax.conv_dimension_numbers(x.shape, k.shape,
                                                                   SPECS["NCHW"]),
                      feature_group_count=1, batch_group_count=1, precision=None,
                      preferred_element_type=None)
        eqn = _eqn(conv_general_dilated_p, [_aval(x), _aval(k)], **params)
        assert not winograd.lower_conv_general_dilated(eqn).__module__.endswith("winograd")


def test_enable_routes_jitted_convolutions_and_disable_restores():
    defaults = {p: lowerings[p] for p in (conv_general_dilated_p, conv_grad_input_p)}
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 16, 9, 7)).astype(np.float32)
    k = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)

    def loss(x, k):
        return (lax.conv(x, k, (1, 1), "SAME") ** 2).sum()

    want = ft.grad(loss)(x, k)  # eager: the NumPy reference impls
    saved = conv_direct.MODE
    conv_direct.MODE = "off"
    winograd.enable()
    try:
        assert lowerings[conv_general_dilated_p] is not defaults[conv_general_dilated_p]
        fn = ft.jit(ft.grad(loss))
        got = fn(x, k)
        text = fn.lower(x, k).as_text()
    finally:
        winograd.enable(False)
        conv_direct.MODE = saved
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * np.abs(want).max())
    assert "conv_grad_input" in text
    assert {p: lowerings[p] for p in defaults} == defaults
