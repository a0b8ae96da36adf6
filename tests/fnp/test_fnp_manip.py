"""Shape manipulation and creation functions against NumPy."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import functrace as ft
import functrace.numpy as fnp
from functrace.errors import FunctraceError, ShapeError
from functrace.test_util import check_grads

X = np.arange(24, dtype=np.float32).reshape(2, 3, 4)


def same(got, want):
    want = np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("call", [
    lambda m: m.reshape(X, (4, -1)), lambda m: m.reshape(X, -1), lambda m: m.ravel(X),
    lambda m: m.transpose(X), lambda m: m.transpose(X, (1, -1, 0)),
    lambda m: m.swapaxes(X, 0, -1), lambda m: m.moveaxis(X, 0, -1),
    lambda m: m.moveaxis(X, (0, 1), (2, 0)), lambda m: m.squeeze(X[:, :1, :1]),
    lambda m: m.squeeze(X[:1], axis=0), lambda m: m.expand_dims(X, (0, -1)),
    lambda m: m.expand_dims(X, 1), lambda m: m.broadcast_to(X[0, 0], (2, 3, 4)),
    lambda m: m.concatenate([X, X[:1]]), lambda m: m.concatenate([X, X], axis=-1),
    lambda m: m.concatenate([X, X[0]], axis=None), lambda m: m.stack([X, X], axis=-1),
    lambda m: m.stack([X[0], X[1]], 1), lambda m: m.hstack([X, X]),
    lambda m: m.hstack([X[0, 0], X[1, 1]]), lambda m: m.vstack([X[0, 0], X[1, 1]]),
    lambda m: m.dstack([X[0], X[1]]), lambda m: m.column_stack([X[0, 0], X[1, 1]]),
    lambda m: m.flip(X), lambda m: m.flip(X, (0, 2)), lambda m: m.fliplr(X),
    lambda m: m.flipud(X), lambda m: m.tile(X[0, 0], (2, 2)), lambda m: m.tile(X, 2),
    lambda m: m.tile(X[0], (2, 1, 1)), lambda m: m.repeat(X, 2),
    lambda m: m.repeat(X, 2, axis=1), lambda m: m.repeat(X, np.array([1, 0, 2]), axis=1),
    lambda m: m.roll(X, 1), lambda m: m.roll(X, -2, axis=2), lambda m: m.roll(X, (1, 2), (0, 1)),
    lambda m: m.tril(X), lambda m: m.triu(X, 1), lambda m: m.tril(X[0], -1),
    lambda m: m.atleast_2d(X[0, 0]), lambda m: m.atleast_3d(X[0, 0]),
    lambda m: m.atleast_1d(np.float32(2.0)), lambda m: m.pad(X, 1),
    lambda m: m.pad(X, (1, 2)), lambda m: m.pad(X, ((0, 1), (2, 0), (1, 1)), constant_values=-1),
    lambda m: m.pad(X, [(1, 1)], constant_values=((1, 2), (3, 4), (5, 6))),
    lambda m: m.pad(X[0], ((1, 2),), constant_values=(7, 8)),
    lambda m: m.take(X, [0, 2, -1], axis=1), lambda m: m.take(X, [[5, 7]]),
    lambda m: m.take_along_axis(X, np.argsort(X, axis=2)[..., ::-1], axis=2),
    lambda m: m.take_along_axis(X, np.array([[[0], [1], [2]]]), axis=2),
    lambda m: m.diagonal(X), lambda m: m.diagonal(X, 1, 2, 1), lambda m: m.diagonal(X, -1, -1, 0),
    lambda m: m.diag(X[0]), lambda m: m.diag(X[0], 2), lambda m: m.diag(X[0, 0], -1),
    lambda m: m.diag(X[0, 0], 1), lambda m: m.meshgrid(X[0, 0], X[0, :, 0])[0],
    lambda m: m.meshgrid(X[0, 0], X[0, :, 0], X[:, 0, 0], indexing="ij")[2],
    lambda m: m.meshgrid(X[0, 0], X[0, :, 0], sparse=True)[1],
])
def test_matches_numpy(call):
    same(call(fnp), call(np))


@pytest.mark.parametrize("sections", [3, [1, 2], [2, 10], [-2], [3, 1], 1])
def test_split_variants(sections):
    x = np.arange(18, dtype=np.float32).reshape(6, 3)
    try:
        want = np.split(x, sections)
    except ValueError:
        with pytest.raises(ShapeError):
            fnp.split(x, sections)
        return
    got = fnp.split(x, sections)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        same(g, w)
    for g, w in zip(fnp.array_split(x, 4), np.array_split(x, 4), strict=True):
        same(g, w)
    for g, w in zip(fnp.hsplit(x, 3), np.hsplit(x, 3), strict=True):
        same(g, w)


def test_split_error():
    with pytest.raises(ShapeError, match="equal division"):
        fnp.split(np.ones(5), 2)


@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3))
def test_broadcast_arrays_and_shapes(shapes):
    xs = [np.ones(s, np.float32) for s in shapes.input_shapes]
    for g, w in zip(fnp.broadcast_arrays(*xs), np.broadcast_arrays(*xs), strict=True):
        same(g, w)
    assert fnp.broadcast_shapes(*shapes.input_shapes) == shapes.result_shape


@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=3), data=st.data())
def test_transpose_and_reshape_random(shape, data):
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    perm = data.draw(st.permutations(range(len(shape))))
    same(fnp.transpose(x, perm), np.transpose(x, perm))
    new = data.draw(st.sampled_from([(-1,), (1, -1), tuple(reversed(shape)), shape + (1,)]))
    same(fnp.reshape(x, new), np.reshape(x, new))


def test_shape_queries_and_dtypes():
    assert fnp.shape(X) == (2, 3, 4) and fnp.ndim(X) == 3 and fnp.size(X) == 24
    assert fnp.size(X, 1) == 3 and fnp.shape(2.0) == ()
    assert fnp.astype(X, np.int32).dtype == np.int32
    assert fnp.astype(X, np.float64).dtype == np.float32  # canonicalised without x64
    assert fnp.promote_types(np.int32, np.float32) == np.float32
    assert fnp.promote_types(np.int8, np.uint8) == np.int16
    assert fnp.result_type(np.float32, 2.0) == np.float32
    assert fnp.result_type(np.int32, float) == np.float32
    assert fnp.issubdtype(fnp.float32, fnp.floating)
    assert fnp.finfo(fnp.float32).eps == np.finfo(np.float32).eps
    assert fnp.ndarray is np.ndarray


def test_errors():
    with pytest.raises(ShapeError, match="cannot reshape"):
        fnp.reshape(X, (5, -1))
    with pytest.raises(ShapeError, match="must match exactly"):
        fnp.concatenate([X, X[:, :1, :1]])
    with pytest.raises(ShapeError, match="same shape"):
        fnp.stack([X, X[0]])
    with pytest.raises(ShapeError, match="size not equal to one"):
        fnp.squeeze(X, 0)
    with pytest.raises(ShapeError, match="cannot broadcast"):
        fnp.broadcast_to(X, (3, 4))
    with pytest.raises(FunctraceError, match="mode"):
        fnp.pad(X, 1, mode="no-such-mode")
    with pytest.raises(FunctraceError, match="order"):
        fnp.reshape(X, -1, order="A")


# ---------------------------------------------------------------------------
# creation

@pytest.mark.parametrize("call", [
    lambda m: m.zeros((2, 3)), lambda m: m.ones(3, dtype=m.int32), lambda m: m.full((2,), 7),
    lambda m: m.full((2, 2), 1.5, dtype=m.float32), lambda m: m.zeros_like(X),
    lambda m: m.ones_like(X, dtype=m.int32), lambda m: m.full_like(X, 3),
    lambda m: m.eye(3), lambda m: m.eye(2, 4, k=1), lambda m: m.eye(4, 2, k=-1),
    lambda m: m.identity(2), lambda m: m.arange(5), lambda m: m.arange(1, 7, 2),
    lambda m: m.arange(0.0, 1.0, 0.25), lambda m: m.arange(5, 0, -1),
    lambda m: m.linspace(0.0, 1.0, 5), lambda m: m.linspace(0, 1, 4, endpoint=False),
    lambda m: m.array([[1, 2], [3, 4]]), lambda m: m.array([1.0, 2.0]),
    lambda m: m.asarray(3.0), lambda m: m.array([1, 2], dtype=m.float32),
    lambda m: m.array(True), lambda m: m.tri(3, 4, 1), lambda m: m.full((2, 3), [1, 2, 3]),
    lambda m: m.array([1, 2], ndmin=3),
])
def test_creation_matches_numpy(call):
    got, want = call(fnp), call(np)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert got.shape == np.shape(want)
    want_dtype = {np.dtype(np.float64): np.float32, np.dtype(np.int64): np.int32}.get(
        np.asarray(want).dtype, np.asarray(want).dtype)
    assert got.dtype == want_dtype


def test_creation_dtypes_follow_jax():
    assert fnp.array([1.0, 2.0]).dtype == np.float32
    assert fnp.asarray(np.ones(2)).dtype == np.float32
    assert fnp.array(2).dtype == np.int32
    assert fnp.zeros(2).dtype == np.float32
    assert fnp.arange(3).dtype == np.int32


def test_creation_under_x64(x64):
    assert fnp.asarray(np.ones(2)).dtype == np.float64
    assert fnp.zeros(2).dtype == np.float64
    assert fnp.arange(3).dtype == np.int64


def test_array_of_tracers_and_traced_linspace():
    f = lambda a, b: fnp.array([a, b, 2.0 * a])  # noqa: E731
    np.testing.assert_allclose(ft.grad(lambda a: fnp.sum(f(a, 1.0) ** 2))(3.0), 6 + 24)
    closed = ft.make_jaxpr(lambda a: fnp.linspace(0.0, a, 3))(1.0)
    assert "iota" in str(closed)
    g = ft.grad(lambda a: fnp.sum(fnp.linspace(0.0, a, 3)))(2.0)
    np.testing.assert_allclose(g, 1.5)


def test_creation_is_recorded_not_captured():
    text = str(ft.make_jaxpr(lambda x: x + fnp.zeros(3))(np.ones(3, np.float32)))
    assert "full" in text


def test_grads_through_shape_ops(x64):
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    check_grads(lambda x: fnp.sum(fnp.pad(fnp.flip(x, 1), 1) * fnp.roll(fnp.pad(x, 1), 1)),
                (x,), order=2)
    check_grads(lambda x: fnp.concatenate(fnp.split(x, [1, 3], axis=2)[::-1], axis=2), (x,),
                order=1)
    check_grads(lambda x: fnp.tile(fnp.repeat(x, 2, axis=1), (2, 1, 1)), (x,), order=1)
    check_grads(lambda x: fnp.var(fnp.moveaxis(x, 0, -1), axis=(0, 2)), (x,), order=2)
