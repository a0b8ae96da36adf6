"""vmap: every lax family against a Python loop, pytree axes, composition, errors.

The oracle is always ``np.stack([f(x_i) for x_i in ...])``: the same function applied
to each example on its own.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace.core.jaxpr import typecheck
from functrace.errors import ConcretizationError, ShapeError, TransformError

SETTINGS = settings(max_examples=25, deadline=None)
FEW = settings(max_examples=8, deadline=None)  # for tests parametrized over many ops


# ---------------------------------------------------------------------------
# the oracle

def _take(a, i, ax):
    return a if ax is None else np.asarray(np.take(np.asarray(a), i, axis=ax))


def loop(f, args, in_axes, out_axes=0):
    """f applied to each example separately, the results stacked at ``out_axes``."""
    size = next(np.shape(a)[ax] for a, ax in zip(args, in_axes) if ax is not None)
    outs = [f(*[_take(a, i, ax) for a, ax in zip(args, in_axes)]) for i in range(size)]
    if isinstance(outs[0], tuple | list):
        axes = out_axes if isinstance(out_axes, tuple | list) else [out_axes] * len(outs[0])
        return tuple(np.stack([np.asarray(o[k]) for o in outs], axis=ax)
                     for k, ax in enumerate(axes))
    return np.stack([np.asarray(o) for o in outs], axis=out_axes)


def assert_same(got, want, rtol=1e-5, atol=1e-6):
    if isinstance(want, tuple):
        assert isinstance(got, tuple | list) and len(got) == len(want)
        for g, w in zip(got, want):
            assert_same(g, w, rtol, atol)
        return
    got = np.asarray(got)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    if np.issubdtype(want.dtype, np.inexact):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    else:
        np.testing.assert_array_equal(got, want)


def check(f, args, in_axes, out_axes=0, **tol):
    got = ft.vmap(f, in_axes=tuple(in_axes), out_axes=out_axes)(*args)
    assert_same(got, loop(f, args, in_axes, out_axes), **tol)


def batched(rng, shape, axis, size, dtype=np.float32):
    """An array whose examples have ``shape``, mapped at ``axis`` (None: one example)."""
    full = list(shape)
    if axis is not None:
        full.insert(axis, size)
    if np.issubdtype(dtype, np.integer):
        return rng.integers(-5, 6, full).astype(dtype)
    if dtype == np.bool_:
        return rng.random(full) > 0.5
    return rng.standard_normal(full).astype(dtype)


shapes = st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple)


@st.composite
def operand(draw, shape, allow_unmapped=True):
    """(axis or None) for an operand with examples of ``shape``."""
    options = [None] if allow_unmapped else []
    return draw(st.sampled_from(options + list(range(len(shape) + 1))))


# ---------------------------------------------------------------------------
# elementwise

UNARY = [lax.exp, lax.sin, lax.cos, lax.tanh, lax.neg, lax.abs, lax.floor, lax.ceil,
         lax.logistic, lax.sign, lax.erf, lambda x: lax.log1p(lax.abs(x)), lax.expm1, lax.is_finite,
         lambda x: lax.sqrt(lax.abs(x)), lambda x: lax.log(lax.abs(x) + 1.0),
         lambda x: lax.rsqrt(lax.abs(x) + 1.0), lambda x: lax.integer_pow(x, 3),
         lambda x: lax.convert_element_type(x, np.int32), lax.stop_gradient,
         lambda x: lax.bitcast_convert_type(x, np.uint32)]


@pytest.mark.parametrize("k", range(len(UNARY)))
@FEW
@given(shapes, st.data(), st.integers(1, 3))
def test_unary(k, shape, data, size):
    axis = data.draw(operand(shape, allow_unmapped=False))
    x = batched(np.random.default_rng(k), shape, axis, size)
    check(UNARY[k], [x], [axis])


BINARY = [lax.add, lax.sub, lax.mul, lax.div, lax.max, lax.min, lax.rem, lax.eq, lax.lt,
          lax.ge, lambda x, y: lax.pow(lax.abs(x), y),
          lambda x, y: lax.select(lax.gt(x, y), lax.add(x, lax.mul(y, 0.0)),
                                  lax.add(y, lax.mul(x, 0.0)))]
INT_BINARY = [lax.bitwise_and, lax.bitwise_or, lax.bitwise_xor, lax.shift_left,
              lax.shift_right_arithmetic, lax.shift_right_logical, lax.div, lax.rem]


@pytest.mark.parametrize("k", range(len(BINARY) + len(INT_BINARY)))
@FEW
@given(shapes, st.data(), st.integers(1, 3), st.booleans(), st.booleans())
def test_binary_broadcasting(k, shape, data, size, x_scalar, y_scalar):
    """Mapped at any axis or unmapped; either operand may be rank 0 per example."""
    xs, ys = (() if x_scalar else shape), (() if y_scalar or not shape else shape)
    xa, ya = data.draw(operand(xs)), data.draw(operand(ys))
    if xa is None and ya is None:
        xa = 0
    ints = k >= len(BINARY)
    f = INT_BINARY[k - len(BINARY)] if ints else BINARY[k]
    dtype = np.int32 if ints else np.float32
    rng = np.random.default_rng(k)
    x, y = batched(rng, xs, xa, size, dtype), batched(rng, ys, ya, size, dtype)
    if ints and f in (lax.div, lax.rem):
        y = np.where(y == 0, 3, y).astype(dtype)
    if ints and f is not lax.div and f is not lax.rem and k - len(BINARY) >= 3:
        y = np.abs(y).astype(dtype)
    check(f, [x, y], [xa, ya])


def test_select_with_scalar_predicate_and_add_any():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(4).astype(
        np.float32)
    for pred in (np.bool_(True), np.array([True, False, True])):
        pa = None if pred.ndim == 0 else 0
        check(lambda p, a, b: lax.select(p, a, b), [pred, x, y], [pa, 0, None])
    add_any = ft.transforms.ad.add_any_p.bind
    check(add_any, [x, y], [0, None])
    check(add_any, [x[:, 0], np.float32(2.0)], [0, None])


def test_threefry_with_a_batch_of_keys():
    rng = np.random.default_rng(0)
    k1, k2 = rng.integers(0, 2**32, (2, 4), dtype=np.uint64).astype(np.uint32)
    x = np.arange(5, dtype=np.uint32)
    check(lambda a, b, c, d: lax.threefry2x32(a, b, c, d), [k1, k2, x, x + 7],
          [0, 0, None, None])
    check(lambda a, b, c, d: lax.threefry2x32(a, b, c, d), [k1[0], k2, x, x],
          [None, 0, None, None])


# ---------------------------------------------------------------------------
# shape ops and reductions

SHAPE_OPS = [
    lambda x: lax.broadcast_in_dim(x, (2, *x.shape), tuple(range(1, x.ndim + 1))),
    lambda x: lax.reshape(x, (x.size,)),
    lambda x: lax.reshape(x, (1, x.size, 1)),
    lambda x: lax.transpose(x, tuple(reversed(range(x.ndim)))),
    lambda x: lax.expand_dims(x, (0, x.ndim + 1)),
    lambda x: lax.rev(x, tuple(range(0, x.ndim, 2))),
    lambda x: lax.reduce_sum(x, tuple(range(0, x.ndim, 2))),
    lambda x: lax.reduce_max(x, tuple(range(x.ndim))),
    lambda x: lax.reduce_min(x, tuple(range(1, x.ndim))),
    lambda x: lax.reduce_prod(x, (x.ndim - 1,) if x.ndim else ()),
    lambda x: lax.reduce_and(lax.gt(x, 0.0), tuple(range(x.ndim))),
    lambda x: lax.reduce_or(lax.gt(x, 0.0), (0,) if x.ndim else ()),
    lambda x: lax.argmax(x, x.ndim - 1, np.int32) if x.ndim else x,
    lambda x: lax.argmin(x, 0, np.int32) if x.ndim else x,
    lambda x: lax.cumsum(x, x.ndim - 1, reverse=True) if x.ndim else x,
    lambda x: lax.stable_argsort(x, 0) if x.ndim else x,
    lambda x: lax.slice(x, (0,) * x.ndim, x.shape, (2,) * x.ndim),
    lambda x: lax.pad(x, 1.5, [(1, -1 if n > 1 else 0, 1) for n in x.shape]),
    lambda x: lax.concatenate([x, lax.neg(x), fnp.ones_like(x)], 0) if x.ndim else x,
    lambda x: lax.squeeze(lax.expand_dims(x, (1,)), (1,)) if x.ndim else x,
]


@pytest.mark.parametrize("k", range(len(SHAPE_OPS)))
@FEW
@given(shapes, st.data(), st.integers(1, 3))
def test_shape_ops_and_reductions(k, shape, data, size):
    axis = data.draw(operand(shape, allow_unmapped=False))
    x = batched(np.random.default_rng(k), shape, axis, size)
    out_axis = data.draw(st.integers(-1, 0))
    check(SHAPE_OPS[k], [x], [axis], out_axes=out_axis)


def test_pad_with_a_batched_padding_value():
    rng = np.random.default_rng(0)
    x, v = rng.standard_normal((3, 2, 4)).astype(np.float32), np.float32([1, 2, 3])
    f = lambda a, b: lax.pad(a, b, [(1, 0, 1), (-1, 2, 0)])  # noqa: E731
    check(f, [x, v], [0, 0])
    check(f, [x[0], v], [None, 0])
    check(f, [x, v[0]], [2, None])


def test_concatenate_mixes_mapped_and_unmapped():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((2, 3, 4)).astype(np.float32), rng.standard_normal(
        (1, 4)).astype(np.float32)
    check(lambda a, b: lax.concatenate([a, b, a], 0), [x, y], [1, None])


DOT_CASES = [  # lhs shape, rhs shape, dimension numbers (per example)
    ((3, 4), (4, 5), (((1,), (0,)), ((), ()))),
    ((4,), (4, 2), (((0,), (0,)), ((), ()))),
    ((2, 3, 4), (2, 4, 5), (((2,), (1,)), ((0,), (0,)))),
    ((3, 2, 4), (4, 2, 5, 3), (((0, 2), (3, 0)), ((1,), (1,)))),
    ((2, 3), (3, 2), (((0, 1), (1, 0)), ((), ()))),
]


@pytest.mark.parametrize("k", range(len(DOT_CASES)))
@FEW
@given(st.data(), st.integers(1, 3))
def test_dot_general(k, data, size):
    ls, rs, dn = DOT_CASES[k]
    la, ra = data.draw(operand(ls)), data.draw(operand(rs))
    if la is None and ra is None:
        ra = 0
    rng = np.random.default_rng(k)
    x, y = batched(rng, ls, la, size), batched(rng, rs, ra, size)
    check(lambda a, b: lax.dot_general(a, b, dn), [x, y], [la, ra], rtol=1e-4, atol=1e-5)


def test_fnp_matmul_and_einsum_like_ops():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    check(lambda a, b: fnp.tanh(a @ b).sum(0), [x, w], [0, None], rtol=1e-4)
    check(lambda a, b: a @ b, [x, np.stack([w, w + 1])], [None, 0], rtol=1e-4)


# ---------------------------------------------------------------------------
# slicing: dynamic slices, gather, scatter

@SETTINGS
@given(st.data(), st.integers(1, 3))
def test_dynamic_slice_and_update(data, size):
    rng = np.random.default_rng(size)
    shape = (4, 5)
    xa = data.draw(operand(shape))
    sa = data.draw(st.sampled_from([None, 0]))
    ua = data.draw(operand((2, 3)))
    x = batched(rng, shape, xa if xa is not None or sa is not None else 0, size)
    if xa is None and sa is None:
        xa = 0
    starts = rng.integers(-2, 6, (size, 2)).astype(np.int32) if sa == 0 else np.int32([1, 3])
    upd = batched(rng, (2, 3), ua, size)

    def ds(a, s):
        return lax.dynamic_slice(a, [s[0], s[1]], (2, 3))

    check(ds, [x, starts], [xa, sa])

    def dus(a, u, s):
        return lax.dynamic_update_slice(a, u, [s[0], s[1]])

    check(dus, [x, upd, starts], [xa, ua, sa])


@SETTINGS
@given(st.data(), st.integers(1, 3), st.integers(1, 2))
def test_gather_and_scatter_add(data, size, k):
    rng = np.random.default_rng(size + 10 * k)
    shape = (3, 4, 2)
    ishape = (5, k)
    xa, ia = data.draw(operand(shape)), data.draw(operand(ishape))
    ua = data.draw(operand((5,) + shape[k:]))
    if xa is None and ia is None:
        xa = 0
    x = batched(rng, shape, xa, size)
    idx = batched(rng, ishape, ia, size, np.int32) % 3  # duplicates accumulate in scatter
    upd = batched(rng, (5,) + shape[k:], ua, size)
    check(lax.gather_leading, [x, idx], [xa, ia])
    check(lax.scatter_add_leading, [x, idx, upd], [xa, ia, ua])


def test_fancy_indexing_and_take_along_axis():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 4)).astype(np.float32)
    i = rng.integers(0, 5, (3, 2)).astype(np.int32)
    check(lambda a, j: a[j, 1:], [x, i], [0, 0])
    check(lambda a, j: a[:, j], [x, i[0]], [0, None])
    check(lambda a, j: fnp.take_along_axis(a, j[:, None], 0), [x, i], [0, 0])


# ---------------------------------------------------------------------------
# convolution: batched lhs folds into N, rhs into O, both into feature groups

CONV_CASES = [
    # lhs shape, rhs shape (per example), strides, padding, extra kwargs
    ((2, 3, 5, 5), (4, 3, 3, 3), (1, 1), "SAME", {}),
    ((2, 5, 6, 3), (3, 2, 3, 4), (2, 1), ((1, 0), (0, 1)),
     dict(dimension_numbers=("NHWC", "HWIO", "NHWC"), rhs_dilation=(1, 2))),
    ((2, 4, 5, 5), (6, 2, 2, 2), (1, 1), "VALID", dict(feature_group_count=2)),
    ((4, 2, 5, 5), (4, 2, 2, 2), (1, 1), "VALID", dict(batch_group_count=2)),
    ((1, 2, 4, 4), (3, 2, 3, 3), (1, 1), ((1, 1), (2, 0)), dict(lhs_dilation=(2, 1))),
    ((2, 7, 3), (3, 3, 2), (2,), "SAME", dict(dimension_numbers=("NWC", "WIO", "NWC"))),
]
AXES = [(0, None), (None, 0), (0, 0), (2, 1)]


@pytest.mark.parametrize("case", range(len(CONV_CASES)))
@pytest.mark.parametrize("axes", AXES)
def test_conv_batched_lhs_rhs_or_both(case, axes):
    ls, rs, strides, padding, kw = CONV_CASES[case]
    rng = np.random.default_rng(case)
    x, w = batched(rng, ls, axes[0], 3), batched(rng, rs, axes[1], 3)

    def conv(a, b):
        return lax.conv_general_dilated(a, b, strides, padding, **kw)

    check(conv, [x, w], list(axes), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_conv_gradient_primitives_batched(case):
    """vjp of a conv binds conv_grad_input(ct, rhs) and conv_grad_filter(lhs, ct); every
    combination of mapped x, w, ct exercises each fold of both primitives."""
    ls, rs, strides, padding, kw = CONV_CASES[case]
    rng = np.random.default_rng(case)

    def conv(a, b):
        return lax.conv_general_dilated(a, b, strides, padding, **kw)

    out_shape = np.shape(conv(np.zeros(ls, np.float32), np.zeros(rs, np.float32)))

    def pullback(a, b, ct):
        return ft.vjp(conv, a, b)[1](ct)

    for axes in [(0, None, 0), (None, 0, 0), (None, None, 0), (0, 0, None), (0, 0, 1)]:
        args = [batched(rng, s, ax, 2) for s, ax in zip((ls, rs, out_shape), axes)]
        check(pullback, args, list(axes), rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------------------
# windowed reductions and the selection primitives of max pooling

def _pool(kind):
    def f(x):
        fn = {"max": lax.reduce_window_max, "sum": lax.reduce_window_sum,
              "min": lax.reduce_window_min}[kind]
        return fn(x, (2, 2, 1), (1, 2, 1), ((1, 0), (0, 1), (0, 0)), (1, 1, 1), (2, 1, 1))
    return f


@pytest.mark.parametrize("kind", ["max", "sum", "min"])
@pytest.mark.parametrize("axis", [0, 2, 3])
def test_reduce_window(kind, axis):
    x = batched(np.random.default_rng(0), (4, 5, 2), axis, 3)
    check(_pool(kind), [x], [axis])


@pytest.mark.parametrize("axes", [(0, 0), (None, 0), (0, None), (1, 2)])
def test_select_and_gather_and_scatter(axes):
    """jvp of max pooling is select_and_gather_add, its vjp select_and_scatter_add."""
    rng = np.random.default_rng(1)
    pool = _pool("max")
    x = batched(rng, (4, 5, 2), axes[0], 3)
    x = np.round(x, 1)  # ties: the first maximum of each window takes the derivative
    t = batched(rng, (4, 5, 2), axes[1], 3)
    check(lambda a, b: ft.jvp(pool, (a,), (b,))[1], [x, t], list(axes))
    ct = batched(rng, np.shape(pool(np.zeros((4, 5, 2), np.float32))), axes[1], 3)
    check(lambda a, c: ft.vjp(pool, a)[1](c)[0], [x, ct], list(axes))


def test_stax_cnn_per_example_gradients():
    from functrace import random, stax
    init, apply = stax.serial(stax.Conv(3, (3, 3), padding="SAME"), stax.Relu,
                              stax.MaxPool((2, 2), strides=(2, 2)), stax.Flatten,
                              stax.Dense(2))
    _, params = init(random.PRNGKey(0), (1, 4, 4, 2))
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((3, 1, 4, 4, 2)).astype(np.float32)

    def loss(p, x):
        return fnp.sum(apply(p, x) ** 2)

    per_example = ft.vmap(ft.grad(loss), in_axes=(None, 0))(params, xs)
    for i in range(3):
        want = ft.grad(loss)(params, xs[i])
        for g, w in zip(ft.tree_util.tree_leaves(per_example), ft.tree_util.tree_leaves(want)):
            np.testing.assert_allclose(g[i], w, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------
# the API: pytrees, axes, kwargs, axis_size

def test_in_axes_pytrees_and_out_axes():
    rng = np.random.default_rng(0)
    params = {"w": rng.standard_normal((4, 3)).astype(np.float32),
              "b": rng.standard_normal((5, 3)).astype(np.float32)}
    xs = rng.standard_normal((4, 5)).astype(np.float32)

    def f(p, x):
        return {"y": x @ p["w"] + p["b"], "n": fnp.sum(x)}

    out = ft.vmap(f, in_axes=({"w": None, "b": 0}, 1), out_axes={"y": 1, "n": 0})(params, xs)
    for i in range(5):
        np.testing.assert_allclose(out["y"][:, i], xs[:, i] @ params["w"] + params["b"][i],
                                   rtol=1e-5)
        np.testing.assert_allclose(out["n"][i], xs[:, i].sum(), rtol=1e-5)


def test_lists_negative_axes_kwargs_and_unmapped_outputs():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    y = np.float32(2.0)
    out = ft.vmap(lambda a, b, scale: (a * b * scale, b), in_axes=[-1, None])(
        x, y, scale=np.float32([1, 2, 3, 4]))
    np.testing.assert_allclose(out[0], (x * 2.0 * np.float32([1, 2, 3, 4])).T)
    np.testing.assert_allclose(out[1], np.full(4, 2.0, np.float32))  # broadcast to out_axes 0
    same = ft.vmap(lambda a: (a, 7.0), out_axes=(0, None))(x)
    assert float(same[1]) == 7.0
    np.testing.assert_allclose(ft.vmap(lambda a: a, out_axes=-1)(x), x.T)


def test_axis_size_maps_unmapped_arguments():
    out = ft.vmap(lambda a: a + 1.0, in_axes=None, axis_size=3)(np.float32([1, 2]))
    np.testing.assert_allclose(out, np.tile(np.float32([2, 3]), (3, 1)))


def test_nested_vmap_is_an_outer_product():
    x, y = np.float32([1, 2, 3]), np.float32([10, 20])
    out = ft.vmap(ft.vmap(lambda a, b: a * b, in_axes=(None, 0)), in_axes=(0, None))(x, y)
    np.testing.assert_allclose(out, np.outer(x, y))
    m = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    nested = ft.vmap(ft.vmap(lambda r: fnp.sum(r * r), in_axes=1), in_axes=2)(m)
    np.testing.assert_allclose(nested, np.einsum("abc,abc->cb", m, m))


def test_make_jaxpr_of_vmap_typechecks():
    def f(x, w):
        return fnp.tanh(x @ w).sum()

    x, w = np.ones((5, 3), np.float32), np.ones((3, 2), np.float32)
    closed = ft.make_jaxpr(ft.vmap(f, in_axes=(0, None)))(x, w)
    typecheck(closed)
    assert "dot_general" in str(closed)


# ---------------------------------------------------------------------------
# composition with grad and jit

def lesson(x, y, z):
    return (x + y) * z


def test_lesson_gradients_over_a_batch_of_points():
    pts = np.float32([[-2, 5, -4], [1, 2, 3], [0.5, -1, 2]])
    g = ft.vmap(ft.grad(lesson, argnums=(0, 1, 2)))(pts[:, 0], pts[:, 1], pts[:, 2])
    np.testing.assert_allclose(np.stack(g, 1)[0], [-4, -4, 3])  # the textbook's numbers
    np.testing.assert_allclose(np.stack(g, 1), loop(
        lambda a, b, c: np.stack(ft.grad(lesson, argnums=(0, 1, 2))(a, b, c)),
        list(pts.T), [0, 0, 0]))


def test_grad_of_vmap_and_vmap_of_grad():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    w = rng.standard_normal(3).astype(np.float32)

    def f(a, v):
        return fnp.sum(fnp.sin(a * v) ** 2)

    g = ft.grad(lambda v: ft.vmap(f, in_axes=(0, None))(x, v).sum())(w)
    np.testing.assert_allclose(g, sum(ft.grad(f, argnums=1)(x[i], w) for i in range(4)),
                               rtol=1e-5)
    check(ft.grad(f), [x, w], [0, None])
    check(ft.grad(ft.grad(lambda a: fnp.sin(a) * a)), [x[:, 0]], [0])


def test_jit_of_vmap_and_vmap_of_jit():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    w = rng.standard_normal((3, 2)).astype(np.float32)

    def f(a, b):
        return fnp.maximum(a @ b, 0.0)

    want = loop(f, [x, w], [0, None])
    np.testing.assert_allclose(ft.jit(ft.vmap(f, in_axes=(0, None)))(x, w), want, rtol=1e-5)
    np.testing.assert_allclose(ft.vmap(ft.jit(f), in_axes=(0, None))(x, w), want, rtol=1e-5)
    step = ft.jit(ft.vmap(ft.grad(lambda a, b: fnp.sum(f(a, b))), in_axes=(0, None)))
    np.testing.assert_allclose(step(x, w), loop(ft.grad(lambda a, b: fnp.sum(f(a, b))),
                                                [x, w], [0, None]), rtol=1e-5)


def test_custom_rules_survive_vmap():
    @ft.custom_jvp
    def f(x):
        return fnp.sin(x)

    f.defjvp(lambda p, t: (f(p[0]), 10.0 * t[0]))  # deliberately not cos

    @ft.custom_vjp
    def g(x, y):
        return x * y

    g.defvjp(lambda x, y: (g(x, y), (x, y)), lambda r, ct: (ct * r[1] + 100.0, ct * r[0]))
    x = np.float32([0.1, 0.2, 0.3])
    np.testing.assert_allclose(ft.vmap(f)(x), np.sin(x), rtol=1e-6)
    np.testing.assert_allclose(ft.vmap(ft.grad(f))(x), [10.0] * 3)
    np.testing.assert_allclose(ft.grad(lambda v: ft.vmap(f)(v).sum())(x), [10.0] * 3)
    y = np.float32(2.0)
    gx, gy = ft.grad(lambda a, b: ft.vmap(g, in_axes=(0, None))(a, b).sum(),
                     argnums=(0, 1))(x, y)
    np.testing.assert_allclose(gx, [102.0] * 3)
    np.testing.assert_allclose(gy, x.sum(), rtol=1e-6)  # the unmapped y sums the examples
    np.testing.assert_allclose(ft.vmap(ft.grad(g), in_axes=(0, None))(x, y), [102.0] * 3)
    relu_grad = ft.grad(lambda v: ft.vmap(ft.nn.relu)(v).sum())(np.float32([-1, 0, 2]))
    np.testing.assert_allclose(relu_grad, [0, 0, 1])  # relu's rule: derivative 0 at 0


# ---------------------------------------------------------------------------
# errors

def test_inconsistent_sizes_name_the_arguments():
    def f(x, y):
        return x + y

    with pytest.raises(ValueError, match="vmap got inconsistent sizes") as e:
        ft.vmap(f)(np.ones(3, np.float32), np.ones(4, np.float32))
    msg = str(e.value)
    assert "one axis had size 3: axis 0 of argument x of type f32[3]" in msg
    assert "one axis had size 4: axis 0 of argument y of type f32[4]" in msg
    with pytest.raises(ValueError, match=r"most axes \(2 of them\) had size 2") as e:
        ft.vmap(lambda d: d["a"])({"a": np.ones(2), "b": np.ones(2), "c": np.ones(5)})
    assert "argument d['c']" in str(e.value)
    with pytest.raises(ValueError, match="axis_size=4 but axis 0 of argument x"):
        ft.vmap(f, axis_size=4)(np.ones(3), np.ones(3))


def test_axis_errors():
    with pytest.raises(ValueError, match="at least one non-None value in in_axes"):
        ft.vmap(lambda x: x, in_axes=None)(np.ones(3))
    with pytest.raises(ValueError, match=r"along axis 1, which implies that its rank should "
                                         r"be at least 2, but is only 1 \(its shape is \(3,\)"):
        ft.vmap(lambda x: x, in_axes=1)(np.ones(3))
    with pytest.raises(ValueError, match="tree prefix"):
        ft.vmap(lambda x: x, in_axes=((0, 0),))((np.ones(3),))
    with pytest.raises(TransformError, match=r"len\(in_axes\)=2, len\(args\)=1"):
        ft.vmap(lambda x: x, in_axes=(0, 0))(np.ones(3))
    with pytest.raises(TransformError, match="in_axes must be an int, None"):
        ft.vmap(lambda x: x, in_axes={"a": 0})
    with pytest.raises(TransformError, match="out_axes must be an int"):
        ft.vmap(lambda x: x, out_axes=1.5)
    with pytest.raises(ShapeError, match="mapped output .* out_axes is None"):
        ft.vmap(lambda x: x, out_axes=None)(np.ones(3))
    with pytest.raises(ShapeError, match="out_axes=2 is out of bounds"):
        ft.vmap(lambda x: x, out_axes=2)(np.ones(3))


def test_control_flow_on_a_batched_value_is_a_clear_error():
    with pytest.raises(ConcretizationError, match="batched by vmap.*where"):
        ft.vmap(lambda x: x if x > 0 else -x)(np.ones(3, np.float32))
    # unmapped values stay concrete: Python control flow on them works
    out = ft.vmap(lambda x, n: x * (2.0 if n > 0 else 3.0), in_axes=(0, None))(
        np.ones(2, np.float32), 1)
    np.testing.assert_allclose(out, [2.0, 2.0])


def test_per_example_shape_errors():
    with pytest.raises(ShapeError, match=r"incompatible shapes \(3,\) and \(2,\)"):
        ft.vmap(lax.add)(np.ones((4, 3), np.float32), np.ones((4, 2), np.float32))


def test_closures_over_an_outer_vmap_and_jit_of_batched_cnn_gradients():
    x, y = np.float32([1, 2, 3]), np.float32([10, 20])
    np.testing.assert_allclose(ft.vmap(lambda a: ft.vmap(lambda b: a * b)(y))(x),
                               np.outer(x, y))
    rng = np.random.default_rng(0)
    imgs = rng.standard_normal((3, 1, 6, 6, 2)).astype(np.float32)
    w = rng.standard_normal((3, 3, 2, 4)).astype(np.float32)

    def loss(w, img):
        out = lax.conv_general_dilated(img, w, (1, 1), "SAME",
                                       dimension_numbers=("NHWC", "HWIO", "NHWC"))
        pooled = lax.reduce_window_max(out, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
        return fnp.sum(fnp.tanh(pooled))

    per_example = ft.jit(ft.vmap(ft.grad(loss), in_axes=(None, 0)))(w, imgs)
    np.testing.assert_allclose(per_example, loop(ft.grad(loss), [w, imgs], [None, 0]),
                               rtol=1e-4, atol=1e-5)


def test_batched_custom_lin_transposes_with_a_batched_bwd():
    """A linearized custom_vjp function evaluated under vmap binds custom_lin on batched
    values; staged, its transpose calls the user's bwd on every example."""
    from functrace.transforms.ad import UndefPrimal, backward_pass

    @ft.custom_vjp
    def g(x):
        return fnp.sin(x)

    # fnp.sum(ct) is per example only if bwd is mapped over the batch
    g.defvjp(lambda x: (g(x), x), lambda x, ct: (ct * fnp.cos(x) + fnp.sum(ct),))
    x = np.float32([0.1, 0.2, 0.3])
    _, f_jvp = ft.linearize(g, x)
    rng = np.random.default_rng(0)
    ts, cts = rng.standard_normal((2, 4, 3)).astype(np.float32)
    closed = ft.make_jaxpr(ft.vmap(f_jvp))(ts)
    typecheck(closed)
    assert "custom_lin" in str(closed)
    (got,) = backward_pass(closed.jaxpr, closed.consts,
                           [UndefPrimal(closed.jaxpr.invars[0].aval)], [cts])
    np.testing.assert_allclose(got, cts * np.cos(x) + cts.sum(1, keepdims=True), rtol=1e-5)
