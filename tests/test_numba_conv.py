"""The Numba CPU lowerings of the three convolution primitives (backends/numba_cpu/conv.py)
against their NumPy reference impls, which tests/test_lax_conv.py checks against a
loop oracle."""

import subprocess
import sys
import threading

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import functrace as ft
from functrace import lax
from functrace.backends.numba_cpu import blas, conv_direct, reference_lowering
from functrace.backends.numba_cpu import conv as nconv
from functrace.core.jaxpr import Eqn, Var
from functrace.core.trace import abstract_eval_rules, impl_rules
from functrace.errors import ShapeError
from functrace.lax.convolution import (
    conv_general_dilated_p,
    conv_grad_filter_p,
    conv_grad_input_p,
)

SPECS = {  # name -> (lhs, rhs, out) dimension-number strings, 2-D
    "NCHW": ("NCHW", "OIHW", "NCHW"),
    "NHWC": ("NHWC", "HWIO", "NHWC"),
    "mixed": ("NHWC", "OIHW", "NCHW"),
    "odd": ("CNWH", "IOHW", "HNCW"),
}


@pytest.fixture(autouse=True)
def _restore_knobs():
    names = ("LAYOUT", "CHUNK_BYTES", "GRAD_FILTER_CHUNK_BYTES", "GEMM", "IM2COL_MAX_DEPTH",
             "IM2COL_MAX_CHANNELS", "GRAD_FILTER_IM2COL", "GRAD_FILTER_NT_MAX_DEPTH",
             "GRAD_FILTER_NT_MIN_OUT")
    saved = {k: getattr(nconv, k) for k in names}
    saved_direct = conv_direct.MODE
    conv_direct.MODE = "off"  # the GEMM kernels are under test here; the direct kernels
    #                           have test_conv_direct.py
    yield
    for k, v in saved.items():
        setattr(nconv, k, v)
    conv_direct.MODE = saved_direct


def _set_knobs(layout=None, chunk=None, im2col=None, nt=None):
    nconv.LAYOUT = layout
    if nt is not None:  # force the grad-filter's channels-first (NT) cotangent on or off
        nconv.GRAD_FILTER_NT_MAX_DEPTH = (1 << 30) if nt else 0
        nconv.GRAD_FILTER_NT_MIN_OUT = 0
    if chunk is not None:
        nconv.CHUNK_BYTES = nconv.GRAD_FILTER_CHUNK_BYTES = chunk
    if im2col is not None:  # force the tap-gathering variant on or off
        nconv.IM2COL_MAX_DEPTH = nconv.IM2COL_MAX_CHANNELS = (1 << 30) if im2col else 0
        nconv.GRAD_FILTER_IM2COL = im2col


def _eqn(prim, avals, **params):
    out = abstract_eval_rules[prim](*avals, **params)
    return Eqn(prim, [Var(a) for a in avals], params, [Var(out)])


def _aval(x):
    return ft.core.avals.ShapedArray(x.shape, x.dtype)


def _shape(spec, n, c, spatial):
    """The shape of an operand given by its spec string: ``n`` for N/O, ``c`` for C/I,
    ``spatial`` for H, W."""
    sizes = {"N": n, "O": n, "C": c, "I": c, "H": spatial[0], "W": spatial[-1]}
    return tuple(sizes[ch] for ch in spec)


def _close(got, want, dtype, bound=None):
    """Equal up to float rounding: relative to the output's scale or, where given, to
    ``bound`` (the same sums over absolute values, which a result that cancels to
    near zero still carries rounding errors of)."""
    tol = 2e-5 if dtype == np.float32 else 1e-12
    scale = max(float(np.abs(want if bound is None else bound).max()), 1e-30)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=0, atol=tol * scale)


def _run_all(x, w, strides, padding, rhs_dil, dn, lhs_dil=None, groups=1, bgroups=1,
             expect_fast=True):
    """Lowers the three primitives for these operands and compares with the reference."""
    dnums = lax.conv_dimension_numbers(x.shape, w.shape, dn)
    nd = x.ndim - 2
    params = dict(window_strides=tuple(strides), padding=tuple(map(tuple, padding)),
                  lhs_dilation=tuple(lhs_dil or (1,) * nd), rhs_dilation=tuple(rhs_dil),
                  dimension_numbers=dnums, feature_group_count=groups,
                  batch_group_count=bgroups, precision=None)
    fwd = _eqn(conv_general_dilated_p, [_aval(x), _aval(w)], preferred_element_type=None,
               **params)
    y_aval = fwd.outvars[0].aval
    rng = np.random.default_rng(7)
    ct = rng.standard_normal(y_aval.shape).astype(x.dtype)
    cases = [
        (fwd, (x, w)),
        (_eqn(conv_grad_filter_p, [_aval(x), y_aval], rhs_shape=w.shape, **params), (x, ct)),
        (_eqn(conv_grad_input_p, [y_aval, _aval(w)], lhs_shape=x.shape, **params), (ct, w)),
    ]
    for eqn, args in cases:
        kernel = nconv.lowerings[eqn.primitive](eqn)
        fast = not kernel.__qualname__.startswith("reference_lowering")
        # expect_fast: a bool, or the primitives expected to take a kernel
        want_fast = expect_fast if isinstance(expect_fast, bool) else eqn.primitive in expect_fast
        assert fast == want_fast, (eqn.primitive, kernel.__qualname__)
        want = impl_rules[eqn.primitive](*args, **eqn.params)
        bound = impl_rules[eqn.primitive](*map(np.abs, args), **eqn.params)
        for _ in range(2):  # the second call reuses the kernel's scratch buffers
            (got,) = kernel(*args)
            _close(got, np.asarray(want), x.dtype, np.asarray(bound))


@st.composite
def conv_cases(draw):
    nd = draw(st.sampled_from([2, 2, 2, 1]))
    n, c, o = (draw(st.integers(1, 3)) for _ in range(3))
    spatial = [draw(st.integers(1, 9)) for _ in range(nd)]
    window = [draw(st.integers(1, 3)) for _ in range(nd)]
    strides = [draw(st.integers(1, 3)) for _ in range(nd)]
    rhs_dil = [draw(st.integers(1, 2)) for _ in range(nd)]
    padding = [(draw(st.integers(-2, 3)), draw(st.integers(-2, 3))) for _ in range(nd)]
    for s, k, r, (lo, hi) in zip(spatial, window, rhs_dil, padding, strict=True):
        assume(s + lo + hi >= (k - 1) * r + 1)
    layout = draw(st.sampled_from(sorted(SPECS))) if nd == 2 else None
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    force = draw(st.sampled_from([None, "cf", "cl"]))
    chunk = draw(st.sampled_from([1 << 20, 64]))  # 64 bytes: one wide row per chunk
    im2col = draw(st.sampled_from([None, True, False]))
    nt = draw(st.sampled_from([None, True, False]))
    return (nd, n, c, o, spatial, window, strides, rhs_dil, padding, layout, dtype, force, chunk,
            im2col, nt)


@settings(max_examples=60, deadline=None)
@given(conv_cases())
def test_fast_path_matches_reference(case):
    (nd, n, c, o, spatial, window, strides, rhs_dil, padding, layout, dtype, force, chunk,
     im2col, nt) = case
    _set_knobs(force, chunk, im2col, nt)
    rng = np.random.default_rng(0)
    if layout is None:
        dn, xs, ws = None, (n, c, *spatial), (o, c, *window)
    else:
        dn = SPECS[layout]
        xs, ws = _shape(dn[0], n, c, spatial), _shape(dn[1], o, c, window)
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    # negative padding may crop the whole input away: the reference handles that
    kept = all(s - max(0, -lo) - max(0, -hi) > 0 for s, (lo, hi) in zip(spatial, padding,
                                                                        strict=True))
    _run_all(x, w, strides, padding, rhs_dil, dn, expect_fast=kept)


@pytest.mark.parametrize("im2col, nt", [(True, False), (True, True), (False, None)])
@pytest.mark.parametrize("force", [None, "cf", "cl"])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_multi_chunk_and_numpy_gemm(layout, force, im2col, nt):
    # several chunks of rows per image and the np.matmul fallback of the CBLAS binding
    _set_knobs(force, 2048, im2col, nt)
    rng = np.random.default_rng(1)
    dn = SPECS[layout]
    x = rng.standard_normal(_shape(dn[0], 3, 5, (13, 11))).astype(np.float32)
    w = rng.standard_normal(_shape(dn[1], 6, 5, (3, 3))).astype(np.float32)
    for gemm in ("auto", "numpy"):
        nconv.GEMM = gemm
        _run_all(x, w, (1, 1), [(1, 1), (1, 1)], (1, 1), dn)
        _run_all(x, w, (2, 1), [(0, 2), (-1, 1)], (1, 2), dn)


def test_cblas_binding_found():
    # NumPy wheels ship OpenBLAS; the binding checks itself on a small product
    if blas.find_cblas() is None:
        pytest.skip("no CBLAS found next to NumPy; the np.matmul fallback is used")


@pytest.mark.parametrize("what", ["groups", "batch_groups", "lhs_dilation", "3d"])
def test_fallback_cases_still_correct(what):
    rng = np.random.default_rng(2)
    if what == "3d":
        x = rng.standard_normal((2, 2, 4, 5, 3)).astype(np.float32)
        w = rng.standard_normal((3, 2, 2, 2, 2)).astype(np.float32)
        _run_all(x, w, (1, 1, 1), [(1, 0)] * 3, (1, 1, 1), None, expect_fast=False)
        return
    c, groups, bgroups, lhs_dil = 4, 1, 1, None
    n, o = 2, 4
    if what == "groups":
        groups = 2
    elif what == "batch_groups":
        bgroups, n = 2, 4
    else:
        lhs_dil = (2, 1)
    x = rng.standard_normal((n, c, 6, 5)).astype(np.float32)
    w = rng.standard_normal((o, c // groups, 3, 2)).astype(np.float32)
    # feature groups: forward and filter gradient run conv_grouped.py's kernel
    fast = {conv_general_dilated_p, conv_grad_filter_p} if what == "groups" else False
    _run_all(x, w, (1, 2), [(1, 1), (0, 1)], (1, 1), None, lhs_dil, groups, bgroups,
             expect_fast=fast)


def test_other_dtypes_and_preferred_type_fall_back():
    x = np.arange(2 * 3 * 5 * 5, dtype=np.int32).reshape(2, 3, 5, 5) % 7
    w = np.ones((4, 3, 3, 3), np.int32)
    dnums = lax.conv_dimension_numbers(x.shape, w.shape, None)
    params = dict(window_strides=(1, 1), padding=((1, 1), (1, 1)), lhs_dilation=(1, 1),
                  rhs_dilation=(1, 1), dimension_numbers=dnums, feature_group_count=1,
                  batch_group_count=1, precision=None, preferred_element_type=None)
    eqn = _eqn(conv_general_dilated_p, [_aval(x), _aval(w)], **params)
    kernel = nconv.lowerings[conv_general_dilated_p](eqn)
    np.testing.assert_array_equal(kernel(x, w)[0], impl_rules[conv_general_dilated_p](
        x, w, **params))
    xf, wf = x.astype(np.float32), w.astype(np.float32)
    params["preferred_element_type"] = np.dtype(np.float64)
    eqn = _eqn(conv_general_dilated_p, [_aval(xf), _aval(wf)], **params)
    kernel = nconv.lowerings[conv_general_dilated_p](eqn)
    assert kernel.__qualname__ == reference_lowering(eqn).__qualname__
    got = kernel(xf, wf)[0]
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, impl_rules[conv_general_dilated_p](xf, wf, **params))


def test_overlapping_calls_get_their_own_scratch():
    # two threads running one compiled kernel at once must not share scratch buffers
    rng = np.random.default_rng(5)
    xs = [rng.standard_normal((4, 6, 20, 20)).astype(np.float32) for _ in range(2)]
    w = rng.standard_normal((8, 6, 3, 3)).astype(np.float32)
    f = ft.jit(lambda x, w: lax.conv(x, w, (1, 1), "SAME"))
    want = [impl_rules[conv_general_dilated_p](
        x, w, window_strides=(1, 1), padding=((1, 1), (1, 1)), lhs_dilation=(1, 1),
        rhs_dilation=(1, 1), dimension_numbers=lax.conv_dimension_numbers(x.shape, w.shape, None),
        feature_group_count=1, batch_group_count=1, precision=None,
        preferred_element_type=None) for x in xs]
    errors = []

    def work(k):
        for _ in range(20):
            got = f(xs[k], w)
            if not np.allclose(got, want[k], atol=1e-4):
                errors.append(k)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_non_contiguous_inputs():
    # values in a compiled program may be strided views (e.g. a reference impl's transpose)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((9, 3, 2, 10)).astype(np.float32).transpose(2, 1, 0, 3)[..., ::2]
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float32).transpose(3, 2, 0, 1)[:, :, ::-1]
    assert not x.flags.c_contiguous and not w.flags.c_contiguous
    _run_all(x, w, (1, 2), [(1, 1), (2, 0)], (2, 1), None)


def test_shape_errors_are_not_swallowed():
    # the shape rule still runs before lowering: a bad conv never reaches a kernel
    x, w = np.ones((1, 2, 3, 3), np.float32), np.ones((1, 3, 2, 2), np.float32)  # 2 vs 3 in
    with pytest.raises(ShapeError):
        ft.jit(lambda x, w: lax.conv(x, w, (1, 1), "VALID"))(x, w)


def _small_net(params, x, y):
    w1, w2, wd = params
    h = ft.nn.relu(lax.conv_general_dilated(x, w1, (1, 1), "SAME",
                                            dimension_numbers=("NHWC", "HWIO", "NHWC")))
    h = lax.conv_general_dilated(h, w2, (2, 2), ((1, 0), (0, 1)), rhs_dilation=(1, 2),
                                 dimension_numbers=("NHWC", "HWIO", "NCHW"))
    h = ft.nn.relu(h).reshape(h.shape[0], -1)
    return ft.numpy.mean((h @ wd - y) ** 2)


def test_jit_grad_of_small_conv_net_matches_eager():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 9, 8, 3)).astype(np.float32)
    # second conv: (4, 9, 8, 5) NHWC -> (4, 6, 5, 3) NCHW, flattened to 90 features
    params = [rng.standard_normal((3, 3, 3, 5)).astype(np.float32) * 0.3,
              rng.standard_normal((2, 3, 5, 6)).astype(np.float32) * 0.3,
              rng.standard_normal((90, 2)).astype(np.float32) * 0.1]
    y = rng.standard_normal((4, 2)).astype(np.float32)
    eager = ft.value_and_grad(_small_net)(params, x, y)
    jitted = ft.jit(ft.value_and_grad(_small_net))
    for _ in range(2):
        got = jitted(params, x, y)
        np.testing.assert_allclose(got[0], eager[0], rtol=1e-5)
        for g, e in zip(got[1], eager[1], strict=True):
            _close(np.asarray(g), np.asarray(e), np.float32)
    text = jitted.lower(params, x, y).as_text()
    assert "conv_grad_filter" in text and "conv_grad_input" in text


def test_import_functrace_does_not_import_numba():
    code = "import sys, functrace; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
