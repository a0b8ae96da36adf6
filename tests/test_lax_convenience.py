"""lax.reduce with user reducers, the cumulative ops, split, clamp, the *_in_dim slices,
pad with negative/interior padding and size-1 broadcasting of binary ops: values against
NumPy, gradients against finite differences, jit and vmap against eager."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import functrace as ft
from functrace import lax
from functrace.errors import ShapeError
from functrace.test_util import check_grads

_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5)


def test_reduce_with_a_monoid_is_the_reduction_primitive():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    for fn, prim, want in ((lax.add, "reduce_sum", x.sum(1)), (lax.max, "reduce_max", x.max(1)),
                           (lambda a, b: lax.mul(a, b), "reduce_prod", x.prod(1))):
        init = np.float32({"reduce_sum": 0, "reduce_max": -np.inf, "reduce_prod": 1}[prim])
        np.testing.assert_array_equal(lax.reduce(x, init, fn, (1,)), want)
        names = [e.primitive.name for e in ft.make_jaxpr(
            lambda x, fn=fn, init=init: lax.reduce(x, init, fn, (1,)))(x).jaxpr.eqns]
        assert names == [prim]
    # a non-identity init is folded in once
    np.testing.assert_array_equal(lax.reduce(x, np.float32(10), lax.add, (0, 1)), 25.0)


@settings(deadline=None)
@given(x=hnp.arrays(np.float64, _shapes, elements=st.floats(-2, 2, width=32)), data=st.data())
def test_reduce_with_any_reducer_matches_a_loop(x, data):
    dims = data.draw(st.sets(st.integers(0, x.ndim - 1)))

    def comp(a, b):
        return a * 0.5 + b  # not associative: the reference folds in the same order

    got = lax.reduce(x.astype(np.float32), np.float32(1.0), comp, tuple(dims))
    kept = [d for d in range(x.ndim) if d not in dims]
    moved = np.transpose(x, sorted(dims) + kept).reshape(
        (-1,) + tuple(x.shape[d] for d in kept)).astype(np.float32)
    acc = np.ones(moved.shape[1:], np.float32)
    for row in moved:
        acc = acc * np.float32(0.5) + row
    np.testing.assert_allclose(got, acc, rtol=1e-5, atol=1e-5)


def test_reduce_several_operands_argmax_style():
    x = np.array([[1.0, 7.0, 7.0, 2.0], [5.0, 0.0, 3.0, 5.0]], np.float32)
    idx = np.broadcast_to(np.arange(4, dtype=np.int32), x.shape)

    def pick(a, b):  # (value, index): larger value, then smaller index
        take_b = lax.bitwise_or(lax.gt(b[0], a[0]),
                                lax.bitwise_and(lax.eq(b[0], a[0]), lax.lt(b[1], a[1])))
        return lax.select(take_b, b[0], a[0]), lax.select(take_b, b[1], a[1])

    vals, where = lax.reduce((x, idx), (np.float32(-np.inf), np.int32(99)), pick, (1,))
    np.testing.assert_array_equal(vals, [7.0, 5.0])
    np.testing.assert_array_equal(where, np.argmax(x, 1))
    jv, jw = ft.jit(lambda x: lax.reduce((x, idx), (np.float32(-np.inf), np.int32(99)), pick,
                                         (1,)))(x)
    np.testing.assert_array_equal(jw, where)


_CUM = {
    "cumsum": (lax.cumsum, lambda x, a: np.cumsum(x, a)),
    "cumprod": (lax.cumprod, lambda x, a: np.cumprod(x, a)),
    "cummax": (lax.cummax, lambda x, a: np.maximum.accumulate(x, a)),
    "cummin": (lax.cummin, lambda x, a: np.minimum.accumulate(x, a)),
    "cumlogsumexp": (lax.cumlogsumexp, lambda x, a: np.logaddexp.accumulate(x, a)),
}


@pytest.mark.parametrize("name", sorted(_CUM))
@settings(deadline=None)
@given(x=hnp.arrays(np.float64, _shapes, elements=st.floats(-2, 2)), data=st.data())
def test_cumulative_ops_match_numpy(name, x, data):
    fn, ref = _CUM[name]
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    with _x64():
        np.testing.assert_allclose(fn(x, axis), ref(x, axis), rtol=1e-12, atol=1e-12)
        want_rev = np.flip(ref(np.flip(x, axis), axis), axis)
        np.testing.assert_allclose(fn(x, axis, reverse=True), want_rev, rtol=1e-12, atol=1e-12)


class _x64:
    def __enter__(self):
        self.prev = ft.config.enable_x64
        ft.config.update("enable_x64", True)

    def __exit__(self, *exc):
        ft.config.update("enable_x64", self.prev)


def test_cumulative_integer_and_infinite_inputs():
    x = np.array([3, -1, 4, 1, -5], np.int32)
    np.testing.assert_array_equal(lax.cummax(x), np.maximum.accumulate(x))
    np.testing.assert_array_equal(lax.cummin(x, reverse=True),
                                  np.flip(np.minimum.accumulate(np.flip(x))))
    np.testing.assert_array_equal(lax.cumprod(x), np.cumprod(x))
    y = np.array([-np.inf, -np.inf, 0.0, -np.inf], np.float32)
    np.testing.assert_array_equal(lax.cumlogsumexp(y), [-np.inf, -np.inf, 0.0, 0.0])


def test_cumulative_gradients(rng, x64):
    x = rng.standard_normal((3, 5))
    distinct = rng.permutation(15).reshape(3, 5) * 0.3
    check_grads(lambda x: lax.cumprod(x, 1), (x,), order=2)
    check_grads(lambda x: lax.cumlogsumexp(x, 1, reverse=True), (x,), order=2)
    check_grads(lambda x: lax.cummax(x, 0), (distinct,), order=2)
    check_grads(lambda x: lax.cummin(x, 1, reverse=True), (distinct,), order=2)
    # d/dx of the running log-sum-exp's last entry is softmax(x)
    g = ft.grad(lambda x: lax.cumlogsumexp(x)[-1])(x[0])
    np.testing.assert_allclose(g, np.exp(x[0]) / np.exp(x[0]).sum())


def test_split_and_slices_in_dim():
    x = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    parts = lax.split(x, (1, 3), axis=2)
    for got, want in zip(parts, np.split(x, [1], axis=2), strict=True):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ShapeError, match="add up"):
        lax.split(x, (1, 2), axis=2)
    np.testing.assert_array_equal(lax.slice_in_dim(x, 1, None, 2, axis=2), x[:, :, 1::2])
    np.testing.assert_array_equal(lax.slice_in_dim(x, -2, -1, axis=1), x[:, -2:-1])
    np.testing.assert_array_equal(lax.index_in_dim(x, -1, 1), x[:, -1:])
    np.testing.assert_array_equal(lax.index_in_dim(x, 2, 2, keepdims=False), x[:, :, 2])
    np.testing.assert_array_equal(lax.dynamic_slice_in_dim(x, np.int32(-3), 2, axis=2),
                                  x[:, :, 1:3])
    # the start is clamped so the slice stays inside (dynamic_slice's rule)
    np.testing.assert_array_equal(lax.dynamic_slice_in_dim(x, 3, 2, axis=1), x[:, 1:3])
    np.testing.assert_array_equal(lax.dynamic_index_in_dim(x, 1, 0, keepdims=False), x[1])
    upd = -np.ones((2, 3, 2), np.int32)
    want = x.copy()
    want[:, :, 2:4] = upd
    np.testing.assert_array_equal(lax.dynamic_update_slice_in_dim(x, upd, -2, axis=2), want)
    want = x.copy()
    want[:, 1] = -7
    np.testing.assert_array_equal(
        lax.dynamic_update_index_in_dim(x, np.full((2, 4), -7, np.int32), 1, 1), want)
    f = ft.jit(lambda x, i: lax.dynamic_index_in_dim(x, i, 2, keepdims=False))
    for i in (-4, -1, 0, 3):
        np.testing.assert_array_equal(f(x, np.int32(i)), x[:, :, i])


def test_clamp_values_and_jax_gradient_rule():
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.0], np.float32)
    np.testing.assert_array_equal(lax.clamp(np.float32(0), x, np.float32(1)),
                                  np.clip(x, 0, 1))
    gx = ft.grad(lambda x: lax.clamp(np.float32(0), x, np.float32(1)).sum())(x)
    np.testing.assert_array_equal(gx, [0, 0, 1, 0, 0])  # strictly inside only, as JAX
    glo = ft.grad(lambda lo: lax.clamp(lo, x, np.float32(1)).sum())(np.float32(0))
    assert glo == 1.0  # only x = -1 is strictly below
    ghi = ft.grad(lambda hi: lax.clamp(np.float32(0), x, hi).sum())(np.float32(1))
    assert ghi == 1.0  # only x = 2 is strictly above
    with pytest.raises(ShapeError, match="clamp"):
        lax.clamp(np.zeros(2, np.float32), x, np.float32(1))


def _pad_reference(x, value, config):
    out = x
    for axis, (lo, hi, interior) in enumerate(config):
        n = out.shape[axis]
        size = n + max(n - 1, 0) * interior
        shape = list(out.shape)
        shape[axis] = size
        spread = np.full(shape, value, x.dtype)
        idx = [slice(None)] * out.ndim
        idx[axis] = slice(0, size, interior + 1)
        spread[tuple(idx)] = out
        if lo >= 0:
            pad_shape = list(shape)
            pad_shape[axis] = lo
            spread = np.concatenate([np.full(pad_shape, value, x.dtype), spread], axis)
        else:
            spread = np.take(spread, range(-lo, spread.shape[axis]), axis)
        if hi >= 0:
            pad_shape = list(spread.shape)
            pad_shape[axis] = hi
            spread = np.concatenate([spread, np.full(pad_shape, value, x.dtype)], axis)
        else:
            spread = np.take(spread, range(0, spread.shape[axis] + hi), axis)
        out = spread
    return out


@settings(deadline=None)
@given(x=hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=2, min_side=1,
                                                   max_side=4), elements=st.floats(-3, 3,
                                                                                   width=32)),
       data=st.data())
def test_pad_negative_and_interior_matches_reference(x, data):
    config = []
    for n in x.shape:
        interior = data.draw(st.integers(0, 2))
        size = n + (n - 1) * interior
        lo = data.draw(st.integers(-size // 2, 2))
        hi = data.draw(st.integers(-(size + min(lo, 0)) // 2, 2))
        config.append((lo, hi, interior))
    np.testing.assert_array_equal(lax.pad(x, np.float32(-9), config),
                                  _pad_reference(x, np.float32(-9), config))


def test_binary_ops_broadcast_size_one_dims_at_equal_rank(rng, x64):
    a, b = rng.standard_normal((1, 3)), rng.standard_normal((2, 1))
    for fn, ref in ((lax.add, np.add), (lax.mul, np.multiply), (lax.max, np.maximum),
                    (lax.lt, np.less), (lax.sub, np.subtract)):
        np.testing.assert_array_equal(fn(a, b), ref(a, b))
        np.testing.assert_array_equal(ft.jit(fn)(a, b), ref(a, b))
    check_grads(lax.mul, (a, b), order=2)
    with pytest.raises(ShapeError, match="incompatible shapes"):
        lax.add(np.ones(3), np.ones((2, 3)))  # ranks differ: still an error, as in JAX
    with pytest.raises(ShapeError, match="incompatible shapes"):
        lax.add(np.ones((2, 3)), np.ones((3, 3)))


def test_jit_and_vmap_match_eager(rng):
    x = rng.standard_normal((4, 5, 3)).astype(np.float32)
    fns = {
        "reduce_general": lambda r: lax.reduce(r, np.float32(0), lambda a, b: a * 0.5 + b, (0,)),
        "cumprod": lambda r: lax.cumprod(r, 1, reverse=True),
        "cumlogsumexp": lambda r: lax.cumlogsumexp(r, 0),
        "cummax": lambda r: lax.cummax(r, 1),
        "clamp": lambda r: lax.clamp(np.float32(-0.5), r, np.float32(0.5)),
        "split": lambda r: lax.split(r, (2, 3), 0),
        "dyn": lambda r: lax.dynamic_slice_in_dim(r, np.int32(-2), 2, 0),
        "grad_cumlogsumexp": ft.grad(lambda r: lax.cumlogsumexp(r, 1).sum()),
    }
    for name, f in fns.items():
        eager = ft.tree_util.tree_map(lambda *xs: np.stack(xs), *[f(r) for r in x])
        for got in (ft.vmap(f)(x), ft.jit(ft.vmap(f))(x)):
            ft.tree_util.tree_map(lambda g, w, name=name: np.testing.assert_allclose(
                g, w, rtol=1e-5, atol=1e-6, err_msg=name), got, eager)
