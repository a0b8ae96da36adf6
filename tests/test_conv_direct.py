"""The direct convolution kernels (backends/numba_cpu/conv_direct.py) against the NumPy
reference impls of the three convolution primitives, which tests/test_lax_conv.py checks
against a loop oracle. The kernels are forced on (they are correct without AVX-512, only
slower), with every channel count allowed so that the vector tails are exercised."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numba import njit, types

import functrace as ft
from functrace import lax
from functrace.backends.numba_cpu import conv as nconv
from functrace.backends.numba_cpu import conv_direct as cd
from functrace.backends.numba_cpu._simd import _tile_type
from functrace.core.jaxpr import Eqn, Var
from functrace.core.trace import abstract_eval_rules, impl_rules
from functrace.lax.convolution import (
    conv_general_dilated_p,
    conv_grad_filter_p,
    conv_grad_input_p,
)

SPECS = {"NCHW": ("NCHW", "OIHW", "NCHW"), "NHWC": ("NHWC", "HWIO", "NHWC"),
         "odd": ("CNWH", "IOHW", "HNCW")}


@pytest.fixture(autouse=True)
def _direct_on():
    saved = cd.MODE, cd.MIN_OUT
    cd.MODE, cd.MIN_OUT = "on", 1
    yield
    cd.MODE, cd.MIN_OUT = saved


def _aval(x):
    return ft.core.avals.ShapedArray(x.shape, x.dtype)


def _eqn(prim, avals, **params):
    out = abstract_eval_rules[prim](*avals, **params)
    return Eqn(prim, [Var(a) for a in avals], params, [Var(out)])


def _shape(spec, n, c, spatial):
    sizes = {"N": n, "O": n, "C": c, "I": c, "H": spatial[0], "W": spatial[-1]}
    return tuple(sizes[ch] for ch in spec)


def _is_direct(kernel):
    return kernel.__module__ == cd.__name__


def _check(x, w, strides, padding, dil, dn, want_direct):
    """Lowers the three primitives; each must pick the direct kernel where
    ``want_direct[prim name]`` says so and agree with the reference impl."""
    dnums = lax.conv_dimension_numbers(x.shape, w.shape, dn)
    nd = x.ndim - 2
    params = dict(window_strides=tuple(strides), padding=tuple(map(tuple, padding)),
                  lhs_dilation=(1,) * nd, rhs_dilation=tuple(dil), dimension_numbers=dnums,
                  feature_group_count=1, batch_group_count=1, precision=None)
    fwd = _eqn(conv_general_dilated_p, [_aval(x), _aval(w)], preferred_element_type=None,
               **params)
    y = fwd.outvars[0].aval
    ct = np.random.default_rng(7).standard_normal(y.shape).astype(np.float32)
    cases = [(fwd, (x, w)),
             (_eqn(conv_grad_filter_p, [_aval(x), y], rhs_shape=w.shape, **params), (x, ct)),
             (_eqn(conv_grad_input_p, [y, _aval(w)], lhs_shape=x.shape, **params), (ct, w))]
    for eqn, args in cases:
        kernel = nconv.lowerings[eqn.primitive](eqn)
        if want_direct[eqn.primitive.name] is not None:  # None: either path
            assert _is_direct(kernel) == want_direct[eqn.primitive.name], eqn.primitive
        want = np.asarray(impl_rules[eqn.primitive](*args, **eqn.params))
        # rounding scale: the same sums over absolute values
        bound = np.asarray(impl_rules[eqn.primitive](*map(np.abs, args), **eqn.params))
        for _ in range(2):  # the second call reuses the scratch buffers
            (got,) = kernel(*args)
            assert got.shape == want.shape and got.dtype == want.dtype
            np.testing.assert_allclose(got, want, rtol=0,
                                       atol=2e-6 * max(float(bound.max()), 1e-30))


@st.composite
def cases(draw):
    nd = draw(st.sampled_from([2, 2, 2, 1]))
    n = draw(st.integers(1, 3))
    c = draw(st.sampled_from([1, 2, 3, 5, 16, 17, 33]))
    o = draw(st.sampled_from([1, 7, 16, 19, 48, 64, 70, 130]))
    spatial = [draw(st.integers(1, 11)) for _ in range(nd)]
    window = [draw(st.integers(1, 3)) for _ in range(nd)]
    strides = [draw(st.integers(1, 2)) for _ in range(nd)]
    dil = [draw(st.integers(1, 2)) for _ in range(nd)]
    padding = [(draw(st.integers(-1, 3)), draw(st.integers(-1, 3))) for _ in range(nd)]
    for s, k, r, (lo, hi) in zip(spatial, window, dil, padding, strict=True):
        assume(s - max(0, -lo) - max(0, -hi) > 0 and s + lo + hi >= (k - 1) * r + 1)
    layout = draw(st.sampled_from(sorted(SPECS))) if nd == 2 else None
    return nd, n, c, o, spatial, window, strides, dil, padding, layout


@settings(max_examples=40, deadline=None)
@given(cases())
def test_direct_kernels_match_reference(case):
    nd, n, c, o, spatial, window, strides, dil, padding, layout = case
    rng = np.random.default_rng(0)
    if layout is None:
        dn, xs, ws = None, (n, c, *spatial), (o, c, *window)
    else:
        dn = SPECS[layout]
        xs, ws = _shape(dn[0], n, c, spatial), _shape(dn[1], o, c, window)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    out_w = (spatial[-1] + sum(padding[-1]) - (window[-1] - 1) * dil[-1] - 1) // strides[-1] + 1
    kept_w = spatial[-1] - max(0, -padding[-1][0]) - max(0, -padding[-1][1])
    strided = any(s > 1 for s in strides)
    # a strided input gradient runs per stride phase where every phase's rows are 3+
    # pixels wide (and there is no rhs dilation): either path, the values must agree
    want = {"conv_general_dilated": out_w >= 3, "conv_grad_filter": True,
            "conv_grad_input": None if strided else kept_w >= 3}
    _check(x, w, strides, padding, dil, dn, want)


@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
@pytest.mark.parametrize("shape", [(2, 16, 9, 64), (1, 24, 8, 40), (3, 32, 7, 128),
                                   (2, 20, 18, 35), (1, 16, 33, 16), (2, 32, 8, 100),
                                   (1, 16, 7, 50)])
def test_layer_shapes(layout, shape):
    # 3x3 SAME layers as networks use them: several tile widths, blocks and rows; rows of
    # 16+ pixels and 16+ channels copy NCHW <-> NHWC by 16 x 16 register blocks (with
    # row and column remainders)
    n, c, hw, o = shape
    rng = np.random.default_rng(1)
    dn = SPECS[layout]
    x = rng.standard_normal(_shape(dn[0], n, c, (hw, hw))).astype(np.float32)
    w = rng.standard_normal(_shape(dn[1], o, c, (3, 3))).astype(np.float32)
    want = dict.fromkeys(("conv_general_dilated", "conv_grad_filter", "conv_grad_input"), True)
    _check(x, w, (1, 1), [(1, 1), (1, 1)], (1, 1), dn, want)


def test_jit_grad_matches_eager_reference():
    # jit(grad) runs the direct kernels; un-jitted grad runs the NumPy reference impls
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 10, 9, 17)).astype(np.float32)
    w = (rng.standard_normal((3, 3, 17, 70)) * 0.1).astype(np.float32)
    r = rng.standard_normal((2, 5, 7, 70)).astype(np.float32)

    def f(x, w):
        y = lax.conv_general_dilated(x, w, (2, 1), ((1, 1), (2, 0)), rhs_dilation=(1, 2),
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return (ft.nn.relu(y) * r).sum()

    def g(x, w):  # stride 1, so the input gradient is direct too
        return (lax.conv(x.transpose(0, 3, 1, 2), w.transpose(3, 2, 0, 1), (1, 1), "SAME")
                ** 2).sum()

    for fn in (f, g):
        got = ft.jit(ft.grad(fn, argnums=(0, 1)))(x, w)
        want = ft.grad(fn, argnums=(0, 1))(x, w)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-4,
                                       atol=2e-4 * float(np.abs(np.asarray(b)).max()))


def test_float64_and_narrow_rows_use_the_gemm_path():
    x = np.ones((1, 2, 5, 5))
    w = np.ones((8, 2, 3, 3))
    off = dict.fromkeys(("conv_general_dilated", "conv_grad_filter", "conv_grad_input"), False)
    _check(x, w, (1, 1), [(1, 1), (1, 1)], (1, 1), None, off)  # float64: never direct
    x32, w32 = x.astype(np.float32), w.astype(np.float32)
    # 2-pixel output rows: forward on the GEMM path, the other two direct
    _check(x32[..., :2], w32, (1, 1), [(1, 1), (1, 1)], (1, 1), None,
           {**off, "conv_grad_filter": True})


def test_no_avx512_falls_back(monkeypatch):
    monkeypatch.setattr(cd, "MODE", "auto")
    monkeypatch.setattr(cd, "_host", [False])
    x = np.ones((1, 16, 6, 6), np.float32)
    w = np.ones((16, 16, 3, 3), np.float32)
    off = dict.fromkeys(("conv_general_dilated", "conv_grad_filter", "conv_grad_input"), False)
    _check(x, w, (1, 1), [(1, 1), (1, 1)], (1, 1), None, off)


@pytest.mark.parametrize("width", range(3, 80))
def test_row_tiles_cover_rows(width):
    starts, widths = cd.row_tiles(width)
    assert widths.min() >= 3 and widths.max() <= 6 and widths.sum() == width
    np.testing.assert_array_equal(starts, np.concatenate([[0], np.cumsum(widths)[:-1]]))


def test_tiles_stay_in_zmm_registers():
    if not cd.host_ok():
        pytest.skip("host without AVX-512: the kernel is not used by default here")
    x = np.ones((1, 8, 8, 8), np.float32)
    w = np.ones((64, 8, 3, 3), np.float32)
    _check(x, w, (1, 1), [(1, 1), (1, 1)], (1, 1), None,
           dict.fromkeys(("conv_general_dilated", "conv_grad_filter", "conv_grad_input"),
                         True))
    # compiled afresh: code loaded from Numba's cache cannot be inspected
    kern = cd._kernels()
    f32, i64, idx = types.float32[::1], types.int64, types.int64[::1]
    for fn, p, v, rest in [
            (kern._fwd_tile, 6, 4, (f32, i64, i64, f32, i64, i64, i64, idx, idx, i64, i64, f32,
                                    i64, i64)),
            (kern._fwd_tile, 4, 4, (f32, i64, i64, f32, i64, i64, i64, idx, idx, i64, i64, f32,
                                    i64, i64)),
            (kern._gf_tile, 6, 4, (f32, i64, i64, f32, i64, i64, i64, i64, i64,
                                   types.UniTuple(i64, 8), i64, f32, i64, i64, types.boolean))]:
        sig = (_tile_type(p, v), *rest)
        fresh = njit(nogil=True)(fn.py_func)
        fresh.compile(sig)
        asm = fresh.inspect_asm(sig)
        fmas = [ln for ln in asm.splitlines() if "vfmadd" in ln]
        assert len(fmas) >= p * v and all("zmm" in ln for ln in fmas), (fn, p, v)
        # the accumulators are never spilled to the stack inside the loop
        assert not [ln for ln in fmas if "(%rsp)" in ln], (fn, p, v)


@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
@pytest.mark.parametrize("xs, window, strides, padding", [
    ((4, 16, 13, 13), (4, 4), (2, 2), ((0, 0), (0, 0))),     # DP-SGD's second conv
    ((2, 8, 11, 12), (3, 3), (2, 2), ((1, 1), (1, 1))),      # a downsampling 3x3
    ((2, 9, 12, 11), (3, 5), (2, 3), ((0, 2), (1, 0))),      # uneven strides and padding
    ((2, 8, 15, 15), (3, 3), (3, 3), ((2, -1), (1, 1))),     # a crop
    ((1, 16, 14, 14), (1, 1), (2, 2), ((0, 0), (0, 0))),     # phases without taps
])
def test_strided_input_gradients_run_per_phase(layout, xs, window, strides, padding):
    n, c, h, w_ = xs
    rng = np.random.default_rng(3)
    dn = SPECS[layout]
    x = rng.standard_normal(_shape(dn[0], n, c, (h, w_))).astype(np.float32)
    w = rng.standard_normal(_shape(dn[1], 16, c, window)).astype(np.float32)
    want = {"conv_general_dilated": None, "conv_grad_filter": None, "conv_grad_input": True}
    _check(x, w, strides, padding, (1, 1), dn, want)
