"""Tests of conv_general_dilated, conv_grad_input and conv_grad_filter.

The oracle is a slow loop over output positions, kernel positions and channels
that implements the definition (padding, strides, lhs/rhs dilation, feature and
batch groups) directly; it lives here only, independent of the NumPy kernels.
"""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import functrace as ft
from functrace import lax
from functrace.core.jaxpr import typecheck
from functrace.errors import DTypeError, ShapeError
from functrace.test_util import check_grads

# float32 inputs: JAX's default step (1e-4) is below float32's finite-difference noise
F32_FD = dict(eps=1e-2, atol=2e-2, rtol=2e-2)

# ---------------------------------------------------------------------------
# the oracle (canonical layouts: lhs N,C,*S; rhs O,I,*K; out N,O,*P)


def dil(d, r):
    return 0 if d == 0 else 1 + r * (d - 1)


def oracle_pads(in_spatial, k_spatial, strides, rhs_dil, padding):
    """JAX's padtype_to_pads, from the undilated input and the rhs-dilated window."""
    if not isinstance(padding, str):
        return [tuple(p) for p in padding]
    pads = []
    for s, k, st_ in zip(in_spatial, k_spatial, strides, strict=True):
        window = dil(k, rhs_dil[len(pads)])
        out = -(-s // st_)
        total = max((out - 1) * st_ + window - s, 0) if padding != "VALID" else 0
        small, big = total // 2, total - total // 2
        pads.append((small, big) if padding in ("SAME", "VALID") else (big, small))
    return pads


def oracle_terms(x_shape, w_shape, strides, pads, lhs_dil, rhs_dil, groups=1, bgroups=1):
    """Yields (out index, lhs index, rhs index) of every product lhs[i] * rhs[j] that the
    definition of the convolution adds into out[k]."""
    n_in, _, *spatial = x_shape
    o_count, i_count, *kernel = w_shape
    nb, og, ob = n_in // bgroups, o_count // groups, o_count // bgroups
    out_sp = [(dil(s, ld) + lo + hi - dil(k, rd)) // st_ + 1 for s, k, st_, (lo, hi), ld, rd
              in zip(spatial, kernel, strides, pads, lhs_dil, rhs_dil, strict=True)]
    for n, o in itertools.product(range(nb), range(o_count)):
        g, b = o // og, o // ob
        for p in itertools.product(*map(range, out_sp)):
            for k in itertools.product(*map(range, kernel)):
                src = []
                for d in range(len(spatial)):
                    # position in the lhs-dilated, padded input, then in the input itself
                    pos = p[d] * strides[d] + k[d] * rhs_dil[d] - pads[d][0]
                    if pos % lhs_dil[d] or not 0 <= pos // lhs_dil[d] < spatial[d]:
                        break
                    src.append(pos // lhs_dil[d])
                else:
                    for i in range(i_count):
                        yield (n, o, *p), (b * nb + n, g * i_count + i, *src), (o, i, *k)


def oracle_out_shape(x_shape, w_shape, strides, pads, lhs_dil, rhs_dil, bgroups=1):
    sp = [(dil(s, ld) + lo + hi - dil(k, rd)) // st_ + 1 for s, k, st_, (lo, hi), ld, rd
          in zip(x_shape[2:], w_shape[2:], strides, pads, lhs_dil, rhs_dil, strict=True)]
    return (x_shape[0] // bgroups, w_shape[0], *sp)


def oracle_conv(x, w, strides, pads, lhs_dil, rhs_dil, groups=1, bgroups=1):
    out = np.zeros(oracle_out_shape(x.shape, w.shape, strides, pads, lhs_dil, rhs_dil,
                                    bgroups))
    for oi, xi, wi in oracle_terms(x.shape, w.shape, strides, pads, lhs_dil, rhs_dil, groups,
                                   bgroups):
        out[oi] += float(x[xi]) * float(w[wi])
    return out


def oracle_grads(x, w, ct, strides, pads, lhs_dil, rhs_dil, groups=1, bgroups=1):
    """Gradients of sum(conv(x, w) * ct) w.r.t. x and w."""
    dx, dw = np.zeros(x.shape), np.zeros(w.shape)
    for oi, xi, wi in oracle_terms(x.shape, w.shape, strides, pads, lhs_dil, rhs_dil, groups,
                                   bgroups):
        dx[xi] += float(ct[oi]) * float(w[wi])
        dw[wi] += float(ct[oi]) * float(x[xi])
    return dx, dw


# ---------------------------------------------------------------------------
# problems

LAYOUTS = {1: [None, ("NHC", "HIO", "NHC")], 2: [None, ("NHWC", "HWIO", "NHWC")],
           3: [None, ("NDHWC", "DHWIO", "NDHWC")]}


def to_layout(canonical, spec):
    return np.ascontiguousarray(np.transpose(canonical, np.argsort(spec)))


def from_layout(arr, spec):
    return np.transpose(arr, spec)


@st.composite
def conv_problems(draw, nd=2, max_k=3):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    bgroups = draw(st.sampled_from([1, 1, 2])) if groups == 1 else 1
    n = draw(st.integers(1, 2)) * bgroups
    ig, og = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    c, o = groups * ig, groups * og * bgroups
    mode = draw(st.sampled_from(["VALID", "SAME", "SAME_LOWER", "explicit"]))
    spatial, kernel, strides, lhs_dil, rhs_dil, pads = [], [], [], [], [], []
    for _ in range(nd):
        k = draw(st.integers(1, max_k))
        st_, ld, rd = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
        lo, hi = draw(st.integers(-1, 2)), draw(st.integers(-1, 2))
        # the smallest input the window fits in, plus a little
        s = 1
        while dil(s, ld) + (lo + hi if mode == "explicit" else 0) < dil(k, rd):
            s += 1
        s += draw(st.integers(0, 2))
        for lst, v in zip((spatial, kernel, strides, lhs_dil, rhs_dil, pads),
                          (s, k, st_, ld, rd, (lo, hi)), strict=True):
            lst.append(v)
    padding = pads if mode == "explicit" else mode
    layout = draw(st.sampled_from(LAYOUTS[nd]))
    return dict(x_shape=(n, c, *spatial), w_shape=(o, ig, *kernel), strides=tuple(strides),
                padding=padding, lhs_dil=tuple(lhs_dil), rhs_dil=tuple(rhs_dil),
                groups=groups, bgroups=bgroups, layout=layout)


def make_case(problem, dtype, seed=0):
    """Canonical arrays, their laid-out versions, and f(x, w) in that layout."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(problem["x_shape"]).astype(dtype)
    w = rng.standard_normal(problem["w_shape"]).astype(dtype)
    dn = lax.conv_dimension_numbers(x.shape, w.shape, problem["layout"])

    def f(a, b):
        return lax.conv_general_dilated(
            a, b, problem["strides"], problem["padding"], problem["lhs_dil"],
            problem["rhs_dil"], problem["layout"], problem["groups"], problem["bgroups"])

    pads = oracle_pads(x.shape[2:], w.shape[2:], problem["strides"], problem["rhs_dil"],
                       problem["padding"])
    return x, w, dn, f, pads


def oracle_args(problem, pads):
    return (problem["strides"], pads, problem["lhs_dil"], problem["rhs_dil"],
            problem["groups"], problem["bgroups"])


def check_against_oracle(problem, dtype, tol):
    x, w, dn, f, pads = make_case(problem, dtype)
    xl, wl = to_layout(x, dn.lhs_spec), to_layout(w, dn.rhs_spec)
    out = f(xl, wl)
    assert out.dtype == dtype
    expected = oracle_conv(x, w, *oracle_args(problem, pads))
    np.testing.assert_allclose(from_layout(out, dn.out_spec), expected, rtol=tol, atol=tol)
    ct = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
    _, f_vjp = ft.vjp(f, xl, wl)
    dx, dw = f_vjp(ct)
    ex_dx, ex_dw = oracle_grads(x, w, from_layout(ct, dn.out_spec), *oracle_args(problem, pads))
    np.testing.assert_allclose(from_layout(dx, dn.lhs_spec), ex_dx, rtol=tol, atol=tol)
    np.testing.assert_allclose(from_layout(dw, dn.rhs_spec), ex_dw, rtol=tol, atol=tol)


# ---------------------------------------------------------------------------
# the lesson


def test_lesson_shapes():
    rng = np.random.default_rng(0)
    img_batch = rng.standard_normal((5, 3, 50, 50)).astype(np.float32)
    filters = rng.standard_normal((7, 3, 3, 3)).astype(np.float32)
    assert lax.conv(img_batch, filters, (1, 1), "VALID").shape == (5, 7, 48, 48)
    assert lax.conv(img_batch, filters, (1, 1), ((1, 1), (1, 1))).shape == (5, 7, 50, 50)
    assert lax.conv(img_batch, filters, (1, 1), "SAME").shape == (5, 7, 50, 50)


@pytest.mark.parametrize("padding", [((0, 0), (0, 0)), ((1, 1), (1, 1))])
def test_lesson_values_and_grads_match_oracle(padding):
    # the lesson's 5 images x 3 channels, 7 filters 3x3; 9x9 images keep the loops quick
    problem = dict(x_shape=(5, 3, 9, 9), w_shape=(7, 3, 3, 3), strides=(1, 1),
                   padding=padding, lhs_dil=(1, 1), rhs_dil=(1, 1), groups=1, bgroups=1,
                   layout=None)
    check_against_oracle(problem, np.float32, 1e-4)


def test_sobel_edges():
    img = np.zeros((12, 12), np.float32)
    img[3:9, 4:10] = 1.0  # a bright rectangle
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32)
    sobel_y = sobel_x.T.copy()
    out = lax.conv(img[None, None], np.stack([sobel_x, sobel_y])[:, None], (1, 1), "VALID")
    # cross-correlation written with explicit slicing: out[i, j] = sum k[a, b] img[i+a, j+b]
    def correlate(k):
        return sum(k[a, b] * img[a:a + 10, b:b + 10] for a in range(3) for b in range(3))

    gx = (img[0:10, 2:12] - img[0:10, 0:10]) + 2 * (img[1:11, 2:12] - img[1:11, 0:10]) \
        + (img[2:12, 2:12] - img[2:12, 0:10])
    gy = (img[2:12, 0:10] - img[0:10, 0:10]) + 2 * (img[2:12, 1:11] - img[0:10, 1:11]) \
        + (img[2:12, 2:12] - img[0:10, 2:12])
    np.testing.assert_array_equal(out[0, 0], gx)
    np.testing.assert_array_equal(out[0, 1], gy)
    np.testing.assert_array_equal(out[0, 0], correlate(sobel_x))
    # the first filter responds at the left/right edges (columns 4 and 9) only, the second
    # at the top/bottom edges (rows 3 and 8) only
    assert np.nonzero(np.abs(out[0, 0]).sum(axis=0))[0].tolist() == [2, 3, 8, 9]
    assert np.nonzero(np.abs(out[0, 1]).sum(axis=1))[0].tolist() == [1, 2, 7, 8]
    assert not out[0, 0, :, 5].any() and not out[0, 1, 4, :].any()


# ---------------------------------------------------------------------------
# sweeps against the oracle


@settings(max_examples=60)
@given(problem=conv_problems(nd=2))
def test_matches_oracle_float32(problem):
    check_against_oracle(problem, np.float32, 1e-4)


@settings(max_examples=30)
@given(problem=conv_problems(nd=2))
def test_matches_oracle_float64(x64, problem):
    check_against_oracle(problem, np.float64, 1e-10)


@settings(max_examples=30)
@given(problem=st.sampled_from([1, 3]).flatmap(lambda nd: conv_problems(nd=nd, max_k=2)))
def test_matches_oracle_1d_3d(problem):
    check_against_oracle(problem, np.float32, 1e-4)


@settings(max_examples=25)
@given(problem=conv_problems(nd=2, max_k=2))
def test_check_grads_order2_float64(x64, problem):
    x, w, dn, f, _ = make_case(problem, np.float64)
    check_grads(f, (to_layout(x, dn.lhs_spec), to_layout(w, dn.rhs_spec)), order=2,
                modes=("fwd", "rev"))


@settings(max_examples=12)
@given(problem=st.sampled_from([1, 3]).flatmap(lambda nd: conv_problems(nd=nd, max_k=2)))
def test_check_grads_order2_1d_3d(x64, problem):
    x, w, dn, f, _ = make_case(problem, np.float64)
    check_grads(f, (to_layout(x, dn.lhs_spec), to_layout(w, dn.rhs_spec)), order=2,
                modes=("fwd", "rev"))


@settings(max_examples=10)
@given(problem=conv_problems(nd=2, max_k=2))
def test_check_grads_order2_float32(problem):
    x, w, dn, f, _ = make_case(problem, np.float32)
    check_grads(f, (to_layout(x, dn.lhs_spec), to_layout(w, dn.rhs_spec)), order=2,
                modes=("fwd", "rev"), **F32_FD)


def test_uneven_stride_leaves_unread_rows_with_zero_gradient():
    # 7 rows, window 2, stride 3: windows start at rows 0 and 3; rows 2, 5 and 6 are unread
    problem = dict(x_shape=(1, 2, 7, 7), w_shape=(3, 2, 2, 2), strides=(3, 3),
                   padding="VALID", lhs_dil=(1, 1), rhs_dil=(1, 1), groups=1, bgroups=1,
                   layout=None)
    check_against_oracle(problem, np.float32, 1e-4)
    x, w, _, f, _ = make_case(problem, np.float32)
    dx = ft.grad(lambda a: lax.reduce_sum(f(a, w), (0, 1, 2, 3)))(x)
    assert not dx[:, :, [2, 5, 6], :].any() and not dx[:, :, :, [2, 5, 6]].any()
    assert dx[:, :, [0, 1, 3, 4]][:, :, :, [0, 1, 3, 4]].all()


def test_negative_padding_that_crops_the_whole_input():
    # out[i] = padded[i] = x[i + 5]: every read is out of range, so all zeros
    problem = dict(x_shape=(1, 1, 3), w_shape=(1, 1, 1), strides=(1,), padding=((-5, 5),),
                   lhs_dil=(1,), rhs_dil=(1,), groups=1, bgroups=1, layout=None)
    check_against_oracle(problem, np.float32, 0)
    x, w, _, f, _ = make_case(problem, np.float32)
    assert f(x, w).shape == (1, 1, 3) and not f(x, w).any()


def test_conv_with_general_padding_matches_oracle():
    problem = dict(x_shape=(2, 2, 4, 5), w_shape=(3, 2, 2, 3), strides=(2, 1),
                   padding=((1, -1), (2, 0)), lhs_dil=(2, 3), rhs_dil=(2, 1), groups=1,
                   bgroups=1, layout=None)
    x, w, _, _, pads = make_case(problem, np.float32)
    out = lax.conv_with_general_padding(x, w, (2, 1), ((1, -1), (2, 0)), (2, 3), (2, 1))
    np.testing.assert_allclose(out, oracle_conv(x, w, *oracle_args(problem, pads)),
                               rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------
# dimension numbers, padding resolution, jaxprs


def test_conv_dimension_numbers():
    dn = lax.conv_dimension_numbers((1, 5, 5, 3), (3, 3, 3, 8), ("NHWC", "HWIO", "NHWC"))
    assert dn == lax.ConvDimensionNumbers((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))
    assert lax.conv_dimension_numbers((1, 2, 3), (1, 2, 3), None) == \
        lax.ConvDimensionNumbers((0, 1, 2), (0, 1, 2), (0, 1, 2))
    # spatial dims follow the order of the rhs spec
    dn = lax.conv_dimension_numbers((1, 2, 3, 4), (1, 2, 3, 4), ("NCHW", "OIWH", "NWHC"))
    assert dn == lax.ConvDimensionNumbers((0, 1, 3, 2), (0, 1, 2, 3), (0, 3, 1, 2))
    given_dn = lax.ConvDimensionNumbers([0, 2, 1], [2, 1, 0], [0, 2, 1])
    canon = lax.conv_dimension_numbers((1, 2, 3), (1, 2, 3), given_dn)
    assert canon == ((0, 2, 1), (2, 1, 0), (0, 2, 1)) and isinstance(canon.lhs_spec, tuple)


@pytest.mark.parametrize("mode,stride,rhs_dil,expected", [
    ("SAME", 2, 1, (1, 1)),        # in 5, window 3: out 3, 2 pad
    ("SAME_LOWER", 2, 1, (1, 1)),
    ("SAME", 1, 2, (2, 2)),        # window 3 dilated to 5
    ("VALID", 2, 2, (0, 0)),
])
def test_padding_names_resolve_to_pairs_in_the_jaxpr(mode, stride, rhs_dil, expected):
    x, w = np.ones((1, 1, 5, 6), np.float32), np.ones((1, 1, 3, 3), np.float32)
    jaxpr = ft.make_jaxpr(lambda a, b: lax.conv_general_dilated(
        a, b, (stride, stride), mode, rhs_dilation=(rhs_dil, rhs_dil)))(x, w)
    params = jaxpr.jaxpr.eqns[0].params
    in6 = {"SAME": {2: (0, 1), 1: (2, 2)}, "SAME_LOWER": {2: (1, 0)}, "VALID": {2: (0, 0)}}
    assert params["padding"] == (expected, in6[mode][stride])
    assert f"padding=({expected}, {in6[mode][stride]})" in str(jaxpr)
    assert lax.padtype_to_pads((5, 6), (dil(3, rhs_dil),) * 2, (stride,) * 2, mode) \
        == params["padding"]


def test_string_padding_with_lhs_dilation_uses_the_undilated_input_like_jax():
    x, w = np.ones((1, 1, 5), np.float32), np.ones((1, 1, 3), np.float32)
    jaxpr = ft.make_jaxpr(lambda a, b: lax.conv_general_dilated(a, b, (1,), "SAME", (2,)))(x, w)
    assert jaxpr.jaxpr.eqns[0].params["padding"] == ((1, 1),)
    assert jaxpr.out_avals[0].shape == (1, 1, 9)


def test_jaxprs_show_the_three_primitives():
    x = np.ones((2, 5, 5, 3), np.float32)
    w = np.ones((3, 3, 3, 4), np.float32)

    def loss(a, b):
        out = lax.conv_general_dilated(a, b, (2, 2), "SAME",
                                       dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return lax.reduce_sum(lax.mul(out, out), (0, 1, 2, 3))

    text = str(ft.make_jaxpr(loss)(x, w))
    assert "conv_general_dilated[" in text and "padding=((1, 1), (1, 1))" in text
    assert "ConvDimensionNumbers(lhs_spec=(0, 3, 1, 2), rhs_spec=(3, 2, 0, 1)" in text
    grad_jaxpr = ft.make_jaxpr(ft.grad(loss, argnums=(0, 1)))(x, w)
    text = str(grad_jaxpr)
    assert "conv_grad_input[" in text and "conv_grad_filter[" in text
    assert "lhs_shape=(2, 5, 5, 3)" in text and "rhs_shape=(3, 3, 3, 4)" in text
    assert text.count("conv_general_dilated[") == 1  # no generic conv in the backward pass
    typecheck(grad_jaxpr)
    # second order: the grad primitives' own jvp/transpose rules bind the three primitives
    hvp = ft.make_jaxpr(ft.grad(lambda a, b: lax.reduce_sum(ft.grad(loss)(a, b), (0, 1, 2, 3)),
                                argnums=(0, 1)))(x, w)
    typecheck(hvp)
    assert "conv_grad_input[" in str(hvp) and "conv_grad_filter[" in str(hvp)


def test_grad_primitives_transpose_to_each_other():
    # conv_grad_input is linear in ct: its vjp w.r.t. ct is a convolution, w.r.t. rhs
    # a conv_grad_filter, and both agree with the oracle's definition
    x, w = np.ones((1, 2, 6, 6), np.float32), np.ones((3, 2, 3, 3), np.float32)
    params = ft.make_jaxpr(lambda a, b: lax.conv_general_dilated(
        a, b, (2, 2), "SAME"))(x, w).jaxpr.eqns[0].params
    common = {k: v for k, v in params.items() if k != "preferred_element_type"}
    rng = np.random.default_rng(0)
    ct = rng.standard_normal((1, 3, 3, 3)).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    _, f_vjp = ft.vjp(lambda c, b: lax.conv_grad_input(c, b, x.shape, **common), ct, w)
    d_ct, d_w = f_vjp(g)
    np.testing.assert_allclose(d_ct, lax.conv_general_dilated(g, w, (2, 2), "SAME"), rtol=1e-5)
    np.testing.assert_allclose(d_w, lax.conv_grad_filter(g, ct, w.shape, **common), rtol=1e-5)
    text = str(ft.make_jaxpr(lambda c, b: ft.vjp(
        lambda c, b: lax.conv_grad_filter(x, c, w.shape, **common), c, b)[1](w))(ct, w))
    assert "conv_general_dilated[" in text


# ---------------------------------------------------------------------------
# conv_transpose, dtypes, groups


@pytest.mark.parametrize("padding,size", [("SAME", 8), ("VALID", 9)])
def test_conv_transpose_shapes(padding, size):
    x, w = np.ones((1, 4, 4, 3), np.float32), np.ones((3, 3, 3, 5), np.float32)
    assert lax.conv_transpose(x, w, (2, 2), padding).shape == (1, size, size, 5)


def test_conv_transpose_with_transposed_kernel_is_the_input_gradient():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 7, 7, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    dn = ("NHWC", "HWIO", "NHWC")
    out, f_vjp = ft.vjp(lambda a: lax.conv_general_dilated(a, w, (2, 2), "VALID",
                                                           dimension_numbers=dn), x)
    ct = rng.standard_normal(out.shape).astype(np.float32)
    expected = lax.conv_transpose(ct, w, (2, 2), "VALID", dimension_numbers=dn,
                                  transpose_kernel=True)
    np.testing.assert_allclose(f_vjp(ct)[0], expected, rtol=1e-5, atol=1e-5)


def test_preferred_element_type(x64):
    x = np.full((1, 1, 4, 4), 100, np.int8)
    w = np.full((2, 1, 3, 3), 100, np.int8)
    out = lax.conv(x, w, (1, 1), "VALID", preferred_element_type=np.int32)
    assert out.dtype == np.int32 and (out == 90000).all()
    xf, wf = x.astype(np.float32) / 100, w.astype(np.float32) / 100
    gx, gw = ft.grad(lambda a, b: lax.reduce_sum(
        lax.conv(a, b, (1, 1), "SAME", preferred_element_type=np.float64), (0, 1, 2, 3)),
        argnums=(0, 1))(xf, wf)
    assert gx.dtype == np.float32 and gw.dtype == np.float32
    assert gx[0, 0, 1, 1] == 18 and gw[0, 0, 1, 1] == 16


def test_depthwise_and_batch_groups_match_oracle():
    depthwise = dict(x_shape=(2, 4, 5, 5), w_shape=(8, 1, 3, 3), strides=(1, 2),
                     padding="SAME", lhs_dil=(1, 1), rhs_dil=(1, 1), groups=4, bgroups=1,
                     layout=("NHWC", "HWIO", "NHWC"))
    check_against_oracle(depthwise, np.float32, 1e-4)
    batch_groups = dict(x_shape=(4, 3, 4, 4), w_shape=(4, 3, 2, 2), strides=(1, 1),
                        padding="VALID", lhs_dil=(1, 1), rhs_dil=(1, 1), groups=1, bgroups=2,
                        layout=None)
    check_against_oracle(batch_groups, np.float32, 1e-4)


# ---------------------------------------------------------------------------
# errors

F32 = np.float32


def _conv_call(x_shape, w_shape, **kwargs):
    args = dict(window_strides=(1,) * (len(x_shape) - 2), padding="VALID")
    args.update(kwargs)
    return lax.conv_general_dilated(np.ones(x_shape, F32), np.ones(w_shape, F32), **args)


@pytest.mark.parametrize("x_shape,w_shape,kwargs,match", [
    ((1, 3, 5, 5), (2, 4, 3, 3), {}, r"3 input features.*4 input features"),
    ((1, 4, 5, 5), (2, 3, 3, 3), {"feature_group_count": 2}, r"rhs in-features \* "
                                                             r"feature_group_count = 6"),
    ((1, 4, 5, 5), (3, 2, 3, 3), {"feature_group_count": 2},
     r"feature_group_count=2 must divide the output features \(3\)"),
    ((3, 2, 5, 5), (4, 2, 3, 3), {"batch_group_count": 2},
     r"batch_group_count=2 must divide the lhs batch size \(3\)"),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"padding": ((-3, -3), (0, 0))},
     r"negative padding \(-3, -3\) is larger than the input"),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"window_strides": (0, 1)}, r"window_strides must be positive"),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"lhs_dilation": (1, -1)}, r"lhs_dilation must be positive"),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"rhs_dilation": (0, 1)}, r"rhs_dilation must be positive"),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"window_strides": (1,)}, r"window_strides .* 2 spatial"),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"padding": ((1, 1),)}, r"padding .* 2 spatial dims"),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"padding": "FULL"}, r"unknown padding 'FULL'"),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"padding": (1, 1)}, r"padding must be"),
    ((1, 1, 5, 5), (1, 1, 3), {}, r"same rank"),
    ((1, 5, 5, 1), (3, 3, 1, 1), {"dimension_numbers": ("NHWX", "HWIO", "NHWC")},
     r"unknown dimension_numbers lhs spec 'NHWX'"),
    ((1, 5, 5, 1), (3, 3, 1, 1), {"dimension_numbers": ("NHWC", "HWIO", "NHC")},
     r"out spec 'NHC' has 3 characters"),
    ((1, 5, 5, 1), (3, 3, 1, 1), {"dimension_numbers": ("NHWC", "HXIO", "NHWC")},
     r"same spatial characters"),
    ((1, 5, 5, 1), (3, 3, 1, 1), {"dimension_numbers": "NHWC"}, r"dimension_numbers must be"),
    ((1, 5, 5, 1), (3, 3, 1, 1),
     {"dimension_numbers": lax.ConvDimensionNumbers((0, 3, 1, 1), (3, 2, 0, 1), (0, 3, 1, 2))},
     r"lhs_spec \(0, 3, 1, 1\) is not a permutation"),
    ((2, 4, 5, 5), (4, 2, 3, 3), {"feature_group_count": 2, "batch_group_count": 2},
     r"at most one of feature_group_count"),
])
def test_shape_errors(x_shape, w_shape, kwargs, match):
    with pytest.raises(ShapeError, match=match):
        _conv_call(x_shape, w_shape, **kwargs)


def test_dtype_mismatch_error():
    with pytest.raises(DTypeError, match=r"same dtype, got f32\[1,1,5,5\] and i32\[1,1,3,3\]"):
        lax.conv(np.ones((1, 1, 5, 5), F32), np.ones((1, 1, 3, 3), np.int32), (1, 1), "VALID")


def test_grad_primitive_rejects_a_wrong_cotangent():
    x, w = np.ones((1, 2, 6, 6), F32), np.ones((3, 2, 3, 3), F32)
    params = ft.make_jaxpr(lambda a, b: lax.conv(a, b, (1, 1), "VALID"))(x, w).jaxpr.eqns[0].params
    common = {k: v for k, v in params.items() if k != "preferred_element_type"}
    with pytest.raises(ShapeError, match=r"conv_grad_input: the cotangent f32\[1,3,3,3\] does "
                                         r"not match the output f32\[1,3,4,4\]"):
        lax.conv_grad_input(np.ones((1, 3, 3, 3), F32), w, x.shape, **common)
    with pytest.raises(ShapeError, match=r"conv_grad_filter: the cotangent"):
        lax.conv_grad_filter(x, np.ones((1, 3, 3, 3), F32), w.shape, **common)


# JAX's shape rule: out = max(0, (padded - dilated window) // stride + 1) per spatial dim, so
# an empty input, or a window that fits nowhere, gives an empty output and zero gradients
@pytest.mark.parametrize("x_shape,w_shape,kwargs,out_shape", [
    ((1, 1, 0, 4), (1, 1, 1, 1), {}, (1, 1, 0, 4)),
    ((2, 3, 0, 0), (5, 3, 3, 3), {"padding": "SAME"}, (2, 5, 0, 0)),
    ((0, 3, 4, 4), (5, 3, 3, 3), {}, (0, 5, 2, 2)),
    ((1, 1, 5, 5), (1, 1, 6, 3), {}, (1, 1, 0, 3)),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"rhs_dilation": (3, 1)}, (1, 1, 0, 3)),
])
@pytest.mark.parametrize("jitted", [False, True])
def test_empty_outputs(x_shape, w_shape, kwargs, out_shape, jitted):
    args = dict(window_strides=(1, 1), padding="VALID") | kwargs
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(F32)
    w = rng.standard_normal(w_shape).astype(F32)

    def f(x, w):
        return lax.conv_general_dilated(x, w, **args)

    g = ft.grad(lambda x, w: lax.reduce_sum(f(x, w), (0, 1, 2, 3)), argnums=(0, 1))
    if jitted:
        f, g = ft.jit(f), ft.jit(g)
    assert f(x, w).shape == out_shape
    gx, gw = g(x, w)
    assert gx.shape == x_shape and gw.shape == w_shape
    if 0 in out_shape:
        assert not np.any(gx) and not np.any(gw)
