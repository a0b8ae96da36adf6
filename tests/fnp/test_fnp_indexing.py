"""NumPy indexing (basic, advanced, boolean masks) against NumPy itself."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import functrace as ft
import functrace.numpy as fnp
from functrace.core.trace import eval_closed_jaxpr
from functrace.errors import ConcretizationError
from functrace.test_util import check_grads

SHAPES = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4)


def _x(shape):
    return np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)


def same(got, want):
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_array_equal(got, want)


@given(shape=SHAPES, data=st.data())
def test_basic_indices(shape, data):
    idx = data.draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    x = _x(shape)
    same(fnp.getitem(x, idx), x[idx])


@st.composite
def mixed_index(draw, shape):
    arr_shape = draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3))
    steps = st.none() | st.sampled_from([-3, -2, -1, 1, 2, 3])
    entries = []
    for n in shape:
        kind = draw(st.sampled_from(["slice", "int", "array", "array", "full"]))
        if kind == "int":
            entries.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            bound = st.none() | st.integers(-n - 1, n + 1)
            entries.append(slice(draw(bound), draw(bound), draw(steps)))
        elif kind == "array":
            sub = arr_shape[draw(st.integers(0, len(arr_shape))):]
            entries.append(draw(hnp.arrays(np.int64, sub, elements=st.integers(-n, n - 1))))
        else:
            entries.append(slice(None))
        if draw(st.integers(0, 4)) == 0:
            entries.append(None)
    if draw(st.booleans()):  # an Ellipsis stands for a run of entries
        a = draw(st.integers(0, len(entries)))
        b = draw(st.integers(a, len(entries)))
        entries[a:b] = [Ellipsis]
    else:  # trailing dims may be left out
        entries = entries[:draw(st.integers(0, len(entries)))]
    return tuple(entries)


@given(shape=SHAPES, data=st.data())
def test_mixed_advanced_indices(shape, data):
    idx = data.draw(mixed_index(shape))
    x = _x(shape)
    same(fnp.getitem(x, idx), x[idx])


ADVANCED = [
    ([0, 1], slice(None), [1, 2]), (slice(None), [0, 2], [1, 3]),
    (slice(None), [[0], [2]], [1, 3]), ([1, 0], Ellipsis, [0, -1]), (1, slice(None), [0, 2]),
    (np.array(1), slice(None), slice(None), [0, 1]), ([[0, 1], [1, 0]],),
    (slice(None), None, [0, 1], None), ([],), ([0, 1], None, [0, 1]),
    (slice(None, None, -1), [2, 0, 1]), ([-1, -2], slice(3, None, -2)),
    (Ellipsis, [[-1]], slice(None), [0, -5]),
]


@pytest.mark.parametrize("idx", ADVANCED, ids=repr)
def test_advanced_cases(idx):
    x = _x((2, 3, 4, 5))
    same(fnp.getitem(x, idx), x[idx])


@pytest.mark.parametrize("make_mask", [
    lambda x: x > 30, lambda x: (x[..., 0] % 2) == 0, lambda x: x[:, :, 0, 0] > 4,
])
def test_concrete_boolean_masks(make_mask):
    x = _x((2, 3, 4, 5))
    mask = make_mask(x)
    same(fnp.getitem(x, mask), x[mask])
    last = mask.reshape(-1)[:5]
    same(fnp.getitem(x, (Ellipsis, last)), x[..., last])


def test_empty_ellipsis_separates_advanced_indices():
    # NumPy quirk: an Ellipsis standing for no axes still makes the advanced indices
    # non-adjacent, so their axes go first
    x = _x((3, 4, 5))
    for idx in [(slice(None), [0, 0], Ellipsis, 0), (slice(None), [0, 0], 0),
                (slice(None), [0, 1], None, 0), ([0, 2], Ellipsis, [1, 1], slice(None))]:
        same(fnp.getitem(x, idx), x[idx])


def test_mask_in_middle_and_with_arrays():
    x = _x((2, 3, 4))
    m = np.array([True, False, True])
    same(fnp.getitem(x, (slice(None), m)), x[:, m])
    same(fnp.getitem(x, (slice(None), m, [0, 3])), x[:, m, [0, 3]])


def test_traced_index_arrays_are_normalised():
    x = _x((3, 4))

    def f(x, i, j):
        return x[i, :][:, j], x[i], x[:, j], x[i, j]

    i, j = np.array([-1, 0, 2], np.int32), np.array([[-4], [3]], np.int32)
    closed = ft.make_jaxpr(f)(x, i, j)
    for got, want in zip(eval_closed_jaxpr(closed, x, i, j), f(x, i, j), strict=True):
        same(got, want)
    assert "gather" in str(closed) and "select" in str(closed)


def test_traced_scalar_index():
    x = _x((3, 4))
    closed = ft.make_jaxpr(lambda x, i: x[i] * 2.0)(x, np.int32(0))
    same(eval_closed_jaxpr(closed, x, np.int32(-1))[0], x[-1] * 2.0)


def test_boolean_mask_needs_concrete_value():
    x = _x((2, 3))
    with pytest.raises(ConcretizationError, match="fnp.where|numpy.where"):
        ft.make_jaxpr(lambda x: x[x > 2.0])(x)
    # outside jit/make_jaxpr the mask is concrete, so grad works
    g = ft.grad(lambda x: fnp.sum(x[x > 2.0] ** 2))(x)
    np.testing.assert_allclose(g, np.where(x > 2.0, 2 * x, 0.0))


def test_index_errors():
    x = _x((2, 3))
    # out-of-range gathers clamp, as JAX's ("out-of-bound indices are clamped")
    same(fnp.getitem(x, (0, 3)), x[0, 2])
    same(fnp.getitem(x, [5]), x[[1]])
    with pytest.raises(IndexError, match="too many indices"):
        fnp.getitem(x, (0, 0, 0))
    with pytest.raises(IndexError, match="broadcast"):
        fnp.getitem(x, ([0, 1], [0, 1, 2]))
    with pytest.raises(IndexError, match="boolean index"):
        fnp.getitem(x, np.array([True, False, True]))
    with pytest.raises(IndexError, match="integers"):
        fnp.getitem(x, np.array([0.5]))
    with pytest.raises(IndexError, match="single ellipsis"):
        fnp.getitem(x, (Ellipsis, Ellipsis))


def test_negative_step_prints_rev():
    text = str(ft.make_jaxpr(lambda x: x[::-2, 1:])(_x((5, 3))))
    assert "rev" in text and "slice" in text


def test_grads_through_indexing(x64):
    x = np.random.default_rng(0).standard_normal((3, 4, 5))
    # repeated indices must accumulate their cotangents
    check_grads(lambda x: x[[0, 0, 2], ::-2, [1, 1, -1]] ** 2, (x,), order=2)
    check_grads(lambda x: x[1:, None, ..., 3], (x,), order=1)
    order = np.argsort(x, axis=-1)
    check_grads(lambda x: fnp.take_along_axis(x, order, axis=-1), (x,), order=1)
