import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import functrace as ft
from functrace import lax
from functrace.core.jaxpr import typecheck
from functrace.errors import DTypeError, ShapeError, TransformError
from functrace.test_util import check_grads

# the x64 fixture is reused across hypothesis examples on purpose: it only sets a flag
fixture_ok = settings(suppress_health_check=[HealthCheck.function_scoped_fixture,
                                             HealthCheck.too_slow])

POOLS = {"max": lax.reduce_window_max, "sum": lax.reduce_window_sum,
         "min": lax.reduce_window_min}


def _prims(fun, *args):
    return [e.primitive.name for e in ft.make_jaxpr(fun)(*args).eqns]


# ---------------------------------------------------------------------------
# a slow loop-based oracle: every output position, every window offset

def ref_pads(shape, window, strides, padding, base, wdil):
    """Explicit (lo, hi) pairs; 'SAME' keeps ceil(dilated size / stride) outputs."""
    if not isinstance(padding, str):
        return [tuple(p) for p in padding]
    if padding == "VALID":
        return [(0, 0)] * len(shape)
    pads = []
    for n, w, s, b, d in zip(shape, window, strides, base, wdil):
        size, span = (n - 1) * b + 1, (w - 1) * d + 1
        total = max((-(-size // s) - 1) * s + span - size, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def ref_windows(shape, window, strides, pads, base, wdil):
    """Output shape and, per output position, the operand index of each window element
    in row-major window order (None for padding and dilation holes); None if the
    window does not fit."""
    sizes = [(n - 1) * b + 1 if n else 0 for n, b in zip(shape, base)]
    spans = [(w - 1) * d + 1 for w, d in zip(window, wdil)]
    if any(lo + hi + n < e for n, e, (lo, hi) in zip(sizes, spans, pads)):
        return None, None
    out_shape = tuple((lo + hi + n - e) // s + 1
                      for n, e, s, (lo, hi) in zip(sizes, spans, strides, pads))
    windows = {}
    for o in np.ndindex(*out_shape):
        elems = []
        for k in np.ndindex(*window):
            c = [o_ * s + k_ * d - lo for o_, k_, s, d, (lo, _) in zip(o, k, strides, wdil, pads)]
            inside = all(0 <= c_ < n and c_ % b == 0 for c_, n, b in zip(c, sizes, base))
            elems.append(tuple(c_ // b for c_, b in zip(c, base)) if inside else None)
        windows[o] = elems
    return out_shape, windows


def ref_pool(x, kind, out_shape, windows):
    """Pooled values, and per output the selected operand index (first max/min)."""
    out = np.empty(out_shape, np.float64)
    picks = {}
    for o, elems in windows.items():
        real = [e for e in elems if e is not None]
        if kind == "sum":
            out[o] = sum(float(x[e]) for e in real)
            continue
        best = None
        for e in real:
            if best is None or (x[e] > x[best] if kind == "max" else x[e] < x[best]):
                best = e
        picks[o] = best
        out[o] = x[best] if best is not None else (-np.inf if kind == "max" else np.inf)
    return out.astype(x.dtype), picks


def ref_vjp(x, kind, ct, windows, picks):
    g = np.zeros(x.shape, np.float64)
    for o, elems in windows.items():
        targets = [e for e in elems if e is not None] if kind == "sum" else [picks[o]]
        for e in targets:
            if e is not None:
                g[e] += ct[o]
    return g


def ref_jvp(t, kind, out_shape, windows, picks):
    out = np.zeros(out_shape, np.float64)
    for o, elems in windows.items():
        sources = [e for e in elems if e is not None] if kind == "sum" else [picks[o]]
        out[o] = sum(float(t[e]) for e in sources if e is not None)
    return out


@st.composite
def pool_cases(draw):
    """Pooling over the spatial axes of NCHW / NHWC, or over every axis of a 3-D array."""
    layout = draw(st.sampled_from(["NCHW", "NHWC", "all"]))
    if layout == "all":
        shape = tuple(draw(st.lists(st.integers(1, 5), min_size=3, max_size=3)))
        axes = (0, 1, 2)
    else:
        n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
        h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
        shape = (n, c, h, w) if layout == "NCHW" else (n, h, w, c)
        axes = (2, 3) if layout == "NCHW" else (1, 2)
    ndim = len(shape)

    def per_axis(lo, hi):
        return tuple(draw(st.integers(lo, hi)) if a in axes else 1 for a in range(ndim))

    window, strides = per_axis(1, 3), per_axis(1, 3)
    dilated = draw(st.booleans())
    base = per_axis(1, 2) if dilated else None
    wdil = per_axis(1, 2) if dilated else None
    mode = draw(st.sampled_from(["VALID", "SAME", "explicit"]))
    if mode == "explicit":
        padding = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) if a in axes
                        else (0, 0) for a in range(ndim))
    else:
        padding = mode
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2**16))
    return shape, window, strides, padding, base, wdil, dtype, seed


def _geometry_args(case):
    shape, window, strides, padding, base, wdil, _, _ = case
    ones = (1,) * len(shape)
    return shape, window, strides, padding, base or ones, wdil or ones


# ---------------------------------------------------------------------------
# the lesson's example

LESSON = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)


def _lesson_pool(x):
    return lax.reduce_window(x, -np.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")


def test_lesson_max_pool_values_and_gradient():
    np.testing.assert_array_equal(_lesson_pool(LESSON)[0, 0], [[5, 7], [13, 15]])
    g = ft.grad(lambda x: _lesson_pool(x).sum())(LESSON)
    expected = np.zeros((4, 4), np.float32)
    expected[[1, 1, 3, 3], [1, 3, 1, 3]] = 1  # where 5, 7, 13 and 15 are
    np.testing.assert_array_equal(g[0, 0], expected)


def test_lesson_grad_program_shows_select_and_scatter_add():
    jaxpr = ft.make_jaxpr(ft.grad(lambda x: _lesson_pool(x).sum()))(LESSON)
    typecheck(jaxpr)
    names = [e.primitive.name for e in jaxpr.eqns]
    assert "reduce_window_max" in names and "select_and_scatter_add" in names
    assert "select_and_gather_add" in _prims(
        lambda x, t: ft.jvp(_lesson_pool, (x,), (t,))[1], LESSON, LESSON)


# ---------------------------------------------------------------------------
# ties and overlapping windows

@pytest.mark.parametrize("kind", ["max", "min"])
def test_tied_window_routes_to_first_element_only(kind):
    x = np.ones((1, 1, 4, 4), np.float32)
    pool = POOLS[kind]
    g = ft.grad(lambda x: pool(x, (1, 1, 2, 2), (1, 1, 2, 2), "VALID").sum())(x)
    expected = np.zeros((4, 4), np.float32)
    expected[::2, ::2] = 1
    np.testing.assert_array_equal(g[0, 0], expected)
    assert g.sum() == 4  # one per window: ties never double-count


def test_overlapping_windows_accumulate():
    x = np.zeros((3, 3), np.float32)
    x[1, 1] = 1.0  # the max of all four 2x2 windows
    g = ft.grad(lambda x: lax.reduce_window_max(x, (2, 2), (1, 1), "VALID").sum())(x)
    np.testing.assert_array_equal(g, np.where(x == 1, 4, 0))
    flat = np.zeros((3, 3), np.float32)  # all tied: each window picks its top-left corner
    g = ft.grad(lambda x: lax.reduce_window_max(x, (2, 2), (1, 1), "VALID").sum())(flat)
    np.testing.assert_array_equal(g, [[1, 1, 0], [1, 1, 0], [0, 0, 0]])


def test_padding_is_never_selected():
    # operand values equal to the identity must still win over the padding before them
    geometry = ((1, 1, 2, 2), (1, 1, 1, 1), ((0, 0), (0, 0), (1, 1), (1, 1)))
    for kind, fill in [("max", -np.inf), ("min", np.inf)]:
        x = np.full((1, 1, 3, 3), fill, np.float32)
        out, vjp_fun = ft.vjp(lambda x, kind=kind: POOLS[kind](x, *geometry), x)
        (g,) = vjp_fun(np.ones_like(out))
        assert g.sum() == out.size == 16
        np.testing.assert_array_equal(g[0, 0], [[4, 2, 2], [2, 1, 1], [2, 1, 1]])


def test_all_padding_windows_get_identity_and_drop_their_cotangent():
    x = np.arange(3, dtype=np.float32).reshape(1, 3)
    pads = ((0, 0), (3, 0))  # the first window (size 2) lies wholly in the padding
    f = lambda x: lax.reduce_window_max(x, (1, 2), (1, 1), pads)  # noqa: E731
    out, vjp_fun = ft.vjp(f, x)
    np.testing.assert_array_equal(out, [[-np.inf, -np.inf, 0, 1, 2]])
    np.testing.assert_array_equal(vjp_fun(np.ones_like(out))[0], [[1, 1, 1]])
    _, t = ft.jvp(f, (x,), (np.ones_like(x),))
    np.testing.assert_array_equal(t, [[0, 0, 1, 1, 1]])


def test_negative_padding_crops():
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    window, strides, pads = (2, 2), (1, 2), ((-1, 1), (1, -2))
    out_shape, windows = ref_windows(x.shape, window, strides, pads, (1, 1), (1, 1))
    for kind, pool in POOLS.items():
        out, vjp_fun = ft.vjp(lambda x, pool=pool: pool(x, window, strides, pads), x)
        ref, picks = ref_pool(x, kind, out_shape, windows)
        np.testing.assert_allclose(out, ref, rtol=1e-6)
        ct = np.random.default_rng(1).standard_normal(out_shape).astype(np.float32)
        np.testing.assert_allclose(vjp_fun(ct)[0], ref_vjp(x, kind, ct, windows, picks),
                                   rtol=1e-5, atol=1e-6)


def test_max_pooling_is_translation_invariant_within_a_window():
    x = np.zeros((1, 1, 4, 4), np.float32)
    shifted = x.copy()
    x[0, 0, 0, 0] = shifted[0, 0, 1, 1] = 9.0  # the feature moves inside one window
    np.testing.assert_array_equal(_lesson_pool(x), _lesson_pool(shifted))


# ---------------------------------------------------------------------------
# hypothesis sweeps against the oracle

@given(case=pool_cases(), values=st.sampled_from(["normal", "ties", "extremes"]))
@fixture_ok
def test_pooling_matches_oracle(x64, case, values):
    shape, window, strides, padding, base, wdil = _geometry_args(case)
    dtype, seed = case[6], case[7]
    rng = np.random.default_rng(seed)
    # small integers make ties common, so the first-max routing is exercised; infinities
    # equal the identities that fill the padding, which must still never be selected
    if values == "normal":
        x = rng.standard_normal(shape).astype(dtype)
    else:
        choices = [0.0, 1.0, 2.0] if values == "ties" else [-np.inf, 0.0, np.inf]
        x = rng.choice(np.asarray(choices, dtype), shape)
    pads = ref_pads(shape, window, strides, padding, base, wdil)
    out_shape, windows = ref_windows(shape, window, strides, pads, base, wdil)
    args = (window, strides, padding, case[4], case[5])
    if out_shape is None:
        with pytest.raises(ShapeError, match="window spans"):
            lax.reduce_window_max(x, *args)
        return
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    ct = rng.standard_normal(out_shape).astype(dtype)
    t = rng.standard_normal(shape).astype(dtype)
    with np.errstate(invalid="ignore"):  # inf + -inf in the "extremes" sums
        for kind, pool in POOLS.items():
            f = lambda x, pool=pool: pool(x, *args)  # noqa: E731
            out, vjp_fun = ft.vjp(f, x)
            ref, picks = ref_pool(x, kind, out_shape, windows)
            assert out.dtype == dtype and out.shape == out_shape
            np.testing.assert_allclose(out, ref, **tol, err_msg=kind)
            (g,) = vjp_fun(ct)
            assert g.dtype == dtype
            np.testing.assert_allclose(g, ref_vjp(x, kind, ct, windows, picks), **tol,
                                       err_msg=f"{kind} vjp")
            _, t_out = ft.jvp(f, (x,), (t,))
            np.testing.assert_allclose(t_out, ref_jvp(t, kind, out_shape, windows, picks), **tol,
                                       err_msg=f"{kind} jvp")


@given(case=pool_cases())
@fixture_ok
def test_check_grads_without_ties(x64, case):
    shape, window, strides, padding, base, wdil = _geometry_args(case)
    pads = ref_pads(shape, window, strides, padding, base, wdil)
    out_shape, windows = ref_windows(shape, window, strides, pads, base, wdil)
    if out_shape is None:
        return
    # a window made only of padding pools to -inf, where sin has no derivative
    pools = [lax.reduce_window_sum]
    if all(any(e is not None for e in elems) for elems in windows.values()):
        pools.append(lax.reduce_window_max)
    size = int(np.prod(shape))
    # distinct positive values 0.1 apart, far more than the finite-difference step 1e-4
    x = (0.5 + 0.1 * np.random.default_rng(case[7]).permutation(size)).reshape(shape)
    args = (window, strides, padding, case[4], case[5])
    for pool in pools:
        # x * x (monotone for x > 0) and sin make the second derivatives non-trivial
        # central differences of sin(x^2) at x up to 2.5 carry ~1e-5 truncation error
        check_grads(lambda x, pool=pool: lax.sin(pool(lax.mul(x, x), *args)), (x,), order=2,
                    modes=("fwd", "rev"), atol=1e-4, rtol=1e-4)


def test_second_order_program(x64):
    x = np.random.default_rng(0).permutation(16).reshape(4, 4).astype(np.float64)
    f = lambda x: lax.sin(lax.reduce_window_max(x, (2, 2), (1, 1), "SAME")).sum()  # noqa: E731
    jaxpr = ft.make_jaxpr(ft.grad(lambda x: ft.grad(f)(x).sum()))(x)
    typecheck(jaxpr)
    names = [e.primitive.name for e in jaxpr.eqns]
    assert "select_and_gather_add" in names and "select_and_scatter_add" in names
    check_grads(f, (x,), order=2)


# ---------------------------------------------------------------------------
# reduce_window's computations, init values, and average pooling

def test_reduce_window_maps_computations_to_primitives():
    x = LESSON
    geometry = ((1, 1, 2, 2), (1, 1, 2, 2), "VALID")
    for comp, init, name in [(lax.max, -np.inf, "reduce_window_max"),
                             (lax.add, 0.0, "reduce_window_sum"),
                             (lax.min, np.inf, "reduce_window_min")]:
        assert _prims(lambda x, c=comp, i=init: lax.reduce_window(x, i, c, *geometry), x) == [
            name]
    ints = np.arange(16, dtype=np.int32).reshape(1, 1, 4, 4)
    i32 = np.iinfo(np.int32)
    out = lax.reduce_window(ints, i32.min, lax.max, *geometry)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out[0, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(lax.reduce_window(ints, i32.max, lax.min, *geometry)[0, 0],
                                  [[0, 2], [8, 10]])


def test_reduce_window_rejects_other_computations_and_init_values():
    geometry = ((1, 1, 2, 2), (1, 1, 2, 2), "VALID")
    with pytest.raises(TransformError, match=r"computation mul .*lax.add, lax.max or lax.min"):
        lax.reduce_window(LESSON, 1.0, lax.mul, *geometry)
    with pytest.raises(TransformError, match=r"init_value 0.0 is not the identity of max.*-inf"):
        lax.reduce_window(LESSON, 0.0, lax.max, *geometry)
    with pytest.raises(TransformError, match="init_value"):
        lax.reduce_window(np.arange(4, dtype=np.int32), -np.inf, lax.max, (2,), (2,), "VALID")
    with pytest.raises(TransformError, match="init_value"):
        ft.make_jaxpr(lambda x, i: lax.reduce_window(x, i, lax.add, *geometry))(
            LESSON, np.float32(0))


def test_padding_aware_average_pool_as_in_stax():
    # stax's AvgPool: window sums divided by the number of real (non-padding) elements
    x = np.random.default_rng(0).standard_normal((2, 5, 4, 3)).astype(np.float32)
    window, strides = (1, 3, 3, 1), (1, 2, 1, 1)
    sums = lax.reduce_window(x, 0.0, lax.add, window, strides, "SAME")
    counts = lax.reduce_window(np.ones((5, 4), np.float32), 0.0, lax.add, window[1:3],
                               strides[1:3], "SAME")
    avg = sums / counts[None, :, :, None]
    pads = ref_pads(x.shape, window, strides, "SAME", (1,) * 4, (1,) * 4)
    out_shape, windows = ref_windows(x.shape, window, strides, pads, (1,) * 4, (1,) * 4)
    ref = np.empty(out_shape)
    for o, elems in windows.items():
        ref[o] = np.mean([x[e] for e in elems if e is not None])
    np.testing.assert_allclose(avg, ref, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------
# errors

X = np.zeros((1, 1, 4, 4), np.float32)


@pytest.mark.parametrize("args, kwargs, match", [
    (((2, 2), (2, 2), "VALID"), {},
     r"window_dimensions \(2, 2\) has 2 entries but the operand of shape \(1, 1, 4, 4\) has "
     "rank 4"),
    (((1, 1, 2, 2), (1, 1, 2), "VALID"), {}, r"window_strides \(1, 1, 2\) has 3 entries"),
    (((1, 1, 0, 2), (1, 1, 2, 2), "VALID"), {}, "window_dimensions must all be positive"),
    (((1, 1, 2, 2), (1, 1, 0, 2), "SAME"), {}, "window_strides must all be positive"),
    (((1, 1, 2, 2), (1, 1, 2, 2), "VALID"), {"window_dilation": (1, 1, 0, 1)},
     "window_dilation must all be positive"),
    (((1, 1, 2, 2), (1, 1, 2, 2), "VALID"), {"base_dilation": (1, 1, 1, -1)},
     "base_dilation must all be positive"),
    (((1, 1, 2, 2), (1, 1, 2, 2), ((0, 0), (1, 1))), {}, r"padding .* has 2 \(low, high\) "
     "pairs but the operand of shape"),
    (((1, 1, 2, 2), (1, 1, 2, 2), ((0, 0),) * 3 + ((1, 2, 3),)), {}, "sequence of \\(low, "
     "high\\) pairs"),
    (((1, 1, 5, 2), (1, 1, 1, 1), "VALID"), {}, r"on axis 2 the window spans 5 elements .* "
     r"only 4 long"),
    (((1, 1, 3, 2), (1, 1, 1, 1), "VALID"), {"window_dilation": (1, 1, 2, 1)},
     "on axis 2 the window spans 5 elements"),
    (((1, 1, 2, 2), (1, 1, 2, 2), "FULL"), {}, "unknown padding 'FULL'; use 'VALID', 'SAME'"),
])
def test_bad_geometry_errors(args, kwargs, match):
    for pool in POOLS.values():
        with pytest.raises(ShapeError, match=match):
            pool(X, *args, **kwargs)


def test_selection_primitive_errors():
    geometry = ((1, 1, 2, 2), (1, 1, 2, 2), "VALID")
    with pytest.raises(ShapeError, match="select_prim must be 'max' or 'min', got 'ge'"):
        lax.select_and_gather_add(X, X, "ge", *geometry)
    with pytest.raises(ShapeError, match=r"source of shape \(1, 1, 4, 4\) must have the pooled "
                       r"shape \(1, 1, 2, 2\)"):
        lax.select_and_scatter_add(X, X, "max", *geometry)
    with pytest.raises(ShapeError, match=r"tangent of shape \(1, 1, 2, 2\) must have the shape"):
        lax.select_and_gather_add(X[..., :2, :2], X, "max", *geometry)
    with pytest.raises(DTypeError, match="must have the same dtype"):
        lax.select_and_gather_add(X.astype(np.int32), X, "max", *geometry)
    with pytest.raises(DTypeError, match="cannot sum booleans"):
        lax.reduce_window_sum(X > 0, *geometry)
