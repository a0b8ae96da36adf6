"""lax's convolution helpers and small ops against loop references and JAX's documented
formulas: patches are the windows a convolution sees (feature c * P + p), a local
convolution has one filter per output position, reduce_precision rounds as a narrower
float format does, mulhi is the high half of the double-width product."""

import numpy as np
import pytest

import functrace as ft
from functrace import lax

RNG = np.random.default_rng(0)
LHS = RNG.standard_normal((2, 3, 7, 6)).astype(np.float32)


def _windows(x, fh, fw, sh, sw):
    n, c, h, w = x.shape
    oh, ow = (h - fh) // sh + 1, (w - fw) // sw + 1
    out = np.zeros((n, c * fh * fw, oh, ow), x.dtype)
    for i in range(oh):
        for j in range(ow):
            win = x[:, :, i * sh:i * sh + fh, j * sw:j * sw + fw]  # (n, c, fh, fw)
            out[:, :, i, j] = win.reshape(n, -1)
    return out


def test_patches_are_the_windows_channel_major():
    got = lax.conv_general_dilated_patches(LHS, (2, 3), (1, 2), "VALID")
    np.testing.assert_array_equal(got, _windows(LHS, 2, 3, 1, 2))
    padded = np.pad(LHS, ((0, 0), (0, 0), (1, 0), (0, 2)))
    got = lax.conv_general_dilated_patches(LHS, (2, 2), (1, 1), ((1, 0), (0, 2)))
    np.testing.assert_array_equal(got, _windows(padded, 2, 2, 1, 1))


def test_patches_in_nhwc_match_nchw():
    nhwc = np.transpose(LHS, (0, 2, 3, 1))
    got = lax.conv_general_dilated_patches(nhwc, (2, 3), (1, 1), "VALID",
                                           dimension_numbers=("NHWC", "HWIO", "NHWC"))
    want = np.transpose(_windows(LHS, 2, 3, 1, 1), (0, 2, 3, 1))
    np.testing.assert_array_equal(got, want)


def test_local_convolution_has_a_filter_per_position():
    patches = _windows(LHS, 2, 3, 1, 1)  # (n, k, oh, ow)
    rhs = RNG.standard_normal((4, patches.shape[1], *patches.shape[2:])).astype(np.float32)
    want = np.einsum("nkhw,okhw->nohw", patches.astype(np.float64), rhs)
    got = lax.conv_general_dilated_local(LHS, rhs, (1, 1), "VALID", (2, 3))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    g = ft.grad(lambda r: lax.conv_general_dilated_local(LHS, r, (1, 1), "VALID",
                                                         (2, 3)).sum())(rhs)
    np.testing.assert_allclose(g, np.broadcast_to(patches.sum(0), rhs.shape), rtol=1e-5)


@pytest.mark.parametrize("strides, padding", [((1, 1), "VALID"), ((2, 2), "SAME"),
                                              ((2, 1), ((1, 2), (0, 1)))])
def test_shape_tuples_match_the_convolutions(strides, padding):
    rhs = np.ones((5, 3, 3, 2), np.float32)
    out = lax.conv_general_dilated(LHS, rhs, strides, padding)
    assert lax.conv_shape_tuple(LHS.shape, rhs.shape, strides, padding) == out.shape
    dn = ("NHWC", "HWIO", "NHWC")
    lhs_t, rhs_t = np.transpose(LHS, (0, 2, 3, 1)), np.transpose(rhs, (2, 3, 1, 0))
    out_t = lax.conv_general_dilated(lhs_t, rhs_t, strides, padding, dimension_numbers=dn)
    assert lax.conv_general_shape_tuple(lhs_t.shape, rhs_t.shape, strides, padding,
                                        dn) == out_t.shape
    assert lax.conv_general_permutations(dn) == ((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))


@pytest.mark.parametrize("padding", ["SAME", "VALID", ((1, 2), (0, 1))])
def test_transpose_shape_tuple_matches_conv_transpose(padding):
    dn = ("NHWC", "HWIO", "NHWC")
    lhs, rhs = np.ones((2, 5, 4, 3), np.float32), np.ones((3, 2, 3, 6), np.float32)
    out = lax.conv_transpose(lhs, rhs, (2, 3), padding, dimension_numbers=dn)
    assert lax.conv_transpose_shape_tuple(lhs.shape, rhs.shape, (2, 3), padding,
                                          dn) == out.shape


def test_reduce_window_shape_tuple_matches_reduce_window():
    x = np.ones((4, 6), np.float32)
    args = ((2, 3), (2, 1), ((0, 1), (1, 1)))
    out = lax.reduce_window(x, 0.0, lax.add, *args, base_dilation=(1, 2),
                            window_dilation=(2, 1))
    assert lax.reduce_window_shape_tuple(x.shape, *args, (1, 2), (2, 1)) == out.shape


def test_reduce_precision_rounds_as_the_narrow_format():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    x = (RNG.standard_normal(2000) * 10.0 ** RNG.integers(-30, 30, 2000)).astype(np.float32)
    x[:4] = [np.inf, -np.inf, 0.0, -0.0]
    # bfloat16 keeps float32's exponent: 8 exponent bits, 7 mantissa bits
    want = x.astype(ml_dtypes.bfloat16).astype(np.float32)
    np.testing.assert_array_equal(lax.reduce_precision(x, 8, 7), want)
    # float16's format, in float16's normal range (XLA flushes what would be subnormal)
    y = (RNG.standard_normal(2000) * 100).astype(np.float32)
    y = y[np.abs(y) > 1e-4]
    np.testing.assert_array_equal(lax.reduce_precision(y, 5, 10),
                                  y.astype(np.float16).astype(np.float32))
    assert np.isnan(lax.reduce_precision(np.float32(np.nan), 5, 2))
    assert lax.reduce_precision(np.float32(1e6), 5, 10) == np.inf  # overflows float16
    # linear, as JAX: the tangent is rounded the same way
    t = ft.jvp(lambda v: lax.reduce_precision(v, 8, 7), (np.float32(1.0),),
               (np.float32(1 + 2 ** -9),))[1]
    assert t == 1.0


def test_approx_top_k_is_exact():
    a = RNG.standard_normal((4, 9)).astype(np.float32)
    for dim in (0, 1):
        vals, idx = lax.approx_max_k(a, 3, reduction_dimension=dim)
        order = np.argsort(-a, axis=dim, kind="stable").take(range(3), axis=dim)
        np.testing.assert_array_equal(idx, order)
        np.testing.assert_array_equal(vals, np.take_along_axis(a, order, axis=dim))
        vals, idx = lax.approx_min_k(a, 2, reduction_dimension=dim)
        order = np.argsort(a, axis=dim, kind="stable").take(range(2), axis=dim)
        np.testing.assert_array_equal(vals, np.take_along_axis(a, order, axis=dim))
    with pytest.raises(ValueError, match="floating"):
        lax.approx_max_k(np.arange(5), 2)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.uint16, np.int32,
                                   np.uint32, np.int64, np.uint64])
def test_mulhi_is_the_high_half_of_the_product(dtype):
    info = np.iinfo(dtype)
    x = RNG.integers(info.min, info.max, 40, endpoint=True, dtype=dtype)
    y = RNG.integers(info.min, info.max, 40, endpoint=True, dtype=dtype)
    bits = info.bits
    want = [((int(a) * int(b)) >> bits) % (1 << bits) for a, b in zip(x, y)]
    with ft.enable_x64(bits == 64):  # 64-bit integers need x64, as in JAX
        got = lax.mulhi(x, y)
    assert got.dtype == dtype
    assert [int(v) % (1 << bits) for v in got] == want


def test_ragged_dot_multiplies_each_group_by_its_matrix():
    from functrace.test_util import check_grads
    lhs = RNG.standard_normal((7, 3)).astype(np.float32)
    rhs = RNG.standard_normal((3, 3, 4)).astype(np.float32)
    sizes = np.array([2, 0, 3], np.int32)  # an empty group, and 2 rows past the end
    want = np.zeros((7, 4), np.float32)
    start = 0
    for g, size in enumerate(sizes):
        want[start:start + size] = lhs[start:start + size] @ rhs[g]
        start += size
    np.testing.assert_allclose(lax.ragged_dot(lhs, rhs, sizes), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ft.jit(lax.ragged_dot)(lhs, rhs, sizes), want, rtol=1e-5,
                               atol=1e-6)
    with ft.enable_x64():
        check_grads(lambda a, b: lax.ragged_dot(a, b, sizes),
                    (lhs.astype(np.float64), rhs.astype(np.float64)), order=1,
                    modes=("fwd", "rev"))
    with pytest.raises(ft.ShapeError, match="ragged_dot"):
        lax.ragged_dot(lhs, rhs[:, :2], sizes)
