"""fnp's index/set functions (size=), building and rearranging functions, grids, products,
windows and functional helpers: values against NumPy; jit/vmap where shapes are static."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import functrace as ft
import functrace.numpy as fnp
from functrace.errors import ConcretizationError, FunctraceError

_ints = hnp.arrays(np.int32, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
                   elements=st.integers(-2, 2))


@settings(deadline=None)
@given(x=_ints)
def test_nonzero_family_matches_numpy(x):
    for got, want in zip(fnp.nonzero(x), np.nonzero(x), strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(fnp.argwhere(x), np.argwhere(x))
    np.testing.assert_array_equal(fnp.flatnonzero(x), np.flatnonzero(x))
    n = np.count_nonzero(x)
    padded = fnp.flatnonzero(x, size=n + 2, fill_value=-1)
    np.testing.assert_array_equal(padded, np.concatenate([np.flatnonzero(x), [-1, -1]]))
    jitted = ft.jit(lambda v: fnp.nonzero(v, size=n))(x)
    for got, want in zip(jitted, np.nonzero(x), strict=True):
        np.testing.assert_array_equal(got, want)
    cond = x.ravel() > 0
    np.testing.assert_array_equal(fnp.extract(cond, x), np.extract(cond, x))
    np.testing.assert_array_equal(fnp.compress(cond[:x.shape[0]], x, axis=0),
                                  np.compress(cond[:x.shape[0]], x, axis=0))


def test_nonzero_traced_needs_size():
    with pytest.raises(ConcretizationError, match="size="):
        ft.jit(fnp.nonzero)(np.ones(3))


@settings(deadline=None)
@given(a=hnp.arrays(np.int32, st.integers(0, 8), elements=st.integers(0, 6)),
       b=hnp.arrays(np.int32, st.integers(1, 8), elements=st.integers(0, 6)))
def test_set_operations_match_numpy(a, b):
    np.testing.assert_array_equal(fnp.isin(a, b), np.isin(a, b))
    np.testing.assert_array_equal(fnp.isin(a, b, invert=True), np.isin(a, b, invert=True))
    for name in ("intersect1d", "setdiff1d", "union1d", "setxor1d"):
        want = getattr(np, name)(a, b)
        np.testing.assert_array_equal(getattr(fnp, name)(a, b), want, err_msg=name)
        size = want.size + 2
        got = getattr(fnp, name)(a, b, size=size, fill_value=-7)
        np.testing.assert_array_equal(got, np.concatenate([want, [-7, -7]]), err_msg=name)
        got = ft.jit(lambda u, v, name=name, size=size: getattr(fnp, name)(
            u, v, size=size, fill_value=-7))(a, b)
        np.testing.assert_array_equal(got, np.concatenate([want, [-7, -7]]), err_msg=name)


def test_append_insert_delete_match_numpy():
    x = np.arange(12, dtype=np.int32).reshape(3, 4)
    np.testing.assert_array_equal(fnp.append(x, [[9, 9, 9, 9]], axis=0),
                                  np.append(x, [[9, 9, 9, 9]], axis=0))
    np.testing.assert_array_equal(fnp.append(x, 5), np.append(x, 5))
    for obj, axis in ((1, 0), ([0, 2], 1), (slice(0, 4, 2), 1), (-1, None), (2, 1)):
        np.testing.assert_array_equal(fnp.delete(x, obj, axis), np.delete(x, obj, axis))
    for obj, values, axis in ((1, 7, 0), (1, [7, 8, 9, 10], 0), ([0, 2], [5, 6], None),
                              (2, [[1], [2], [3]], 1), (4, 0, 1), ([1, 1], 9, 1)):
        np.testing.assert_array_equal(fnp.insert(x, obj, values, axis),
                                      np.insert(x, obj, values, axis),
                                      err_msg=str((obj, values, axis)))


def test_block_grids_and_index_helpers():
    a, b = np.zeros((2, 2), np.int32), np.ones((2, 1), np.int32)
    c = np.full((1, 3), 2, np.int32)
    np.testing.assert_array_equal(fnp.block([[a, b], [c]]), np.block([[a, b], [c]]))
    np.testing.assert_array_equal(fnp.block([1, 2, np.array([3, 4])]),
                                  np.block([1, 2, np.array([3, 4])]))
    np.testing.assert_array_equal(fnp.mgrid[0:3, 1:5:2], np.mgrid[0:3, 1:5:2])
    np.testing.assert_allclose(fnp.mgrid[0:1:5j], np.mgrid[0:1:5j], rtol=1e-6)
    for got, want in zip(fnp.ogrid[0:2, 0:3], np.ogrid[0:2, 0:3], strict=True):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(fnp.ix_([0, 1], [2, 0, 1]), np.ix_([0, 1], [2, 0, 1]), strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(fnp.indices((2, 3)), np.indices((2, 3)))
    np.testing.assert_array_equal(fnp.r_[np.array([1, 2]), 0, 3:5], np.r_[np.array([1, 2]),
                                                                           0, 3:5])
    np.testing.assert_array_equal(fnp.c_[np.array([1, 2]), np.array([3, 4])],
                                  np.c_[np.array([1, 2]), np.array([3, 4])])
    for name, args in (("tril_indices", (3, 1, 4)), ("triu_indices", (3, -1)),
                       ("diag_indices", (3, 3))):
        for got, want in zip(getattr(fnp, name)(*args), getattr(np, name)(*args), strict=True):
            np.testing.assert_array_equal(got, want, err_msg=name)
    idx = np.array([0, 5, 11, -1], np.int32)
    for got, want in zip(fnp.unravel_index(idx, (3, 4)), np.unravel_index(idx % 12, (3, 4)),
                         strict=True):
        np.testing.assert_array_equal(got, want)
    coords = (np.array([0, 2]), np.array([3, 1]))
    np.testing.assert_array_equal(fnp.ravel_multi_index(coords, (3, 4)),
                                  np.ravel_multi_index(coords, (3, 4)))
    np.testing.assert_array_equal(fnp.fromfunction(lambda i, j: i * 10 + j, (2, 3)),
                                  np.fromfunction(lambda i, j: i * 10 + j, (2, 3)))


def test_rearranging_matches_numpy(rng):
    x = rng.integers(0, 9, (2, 3, 4)).astype(np.int32)
    for k in range(-1, 5):
        np.testing.assert_array_equal(fnp.rot90(x, k, axes=(1, 2)), np.rot90(x, k, axes=(1, 2)))
    np.testing.assert_array_equal(fnp.rollaxis(x, 2), np.rollaxis(x, 2))
    np.testing.assert_array_equal(fnp.rollaxis(x, 0, 3), np.rollaxis(x, 0, 3))
    np.testing.assert_array_equal(fnp.resize(x, (5, 7)), np.resize(x, (5, 7)))
    np.testing.assert_array_equal(fnp.diagflat([1, 2], -1), np.diagflat([1, 2], -1))
    np.testing.assert_array_equal(fnp.matrix_transpose(x), np.matrix_transpose(x))
    np.testing.assert_array_equal(fnp.permute_dims(x, (2, 0, 1)), np.permute_dims(x, (2, 0, 1)))
    for got, want in zip(fnp.unstack(x, axis=1), np.unstack(x, axis=1), strict=True):
        np.testing.assert_array_equal(got, want)
    y = np.zeros((5, 3), np.int32)
    want = y.copy()
    np.fill_diagonal(want, 4, wrap=True)
    np.testing.assert_array_equal(fnp.fill_diagonal(y, 4, wrap=True, inplace=False), want)
    np.testing.assert_array_equal(fnp.trim_zeros(np.array([0, 0, 3, 0, 2, 0]), "f"),
                                  np.trim_zeros(np.array([0, 0, 3, 0, 2, 0]), "f"))
    with pytest.raises(FunctraceError, match="inplace=False"):
        fnp.fill_diagonal(y, 1)


def test_selection_and_writes_match_numpy(rng):
    x = np.arange(6, dtype=np.int32)
    np.testing.assert_array_equal(fnp.select([x < 2, x > 3], [x, -x], 9),
                                  np.select([x < 2, x > 3], [x, -x], 9))
    ch = [np.arange(4), np.arange(4) * 10, np.arange(4) * 100]
    sel = np.array([2, 0, 1, 5])
    np.testing.assert_array_equal(fnp.choose(sel, ch, mode="clip"), np.choose(sel, ch,
                                                                              mode="clip"))
    np.testing.assert_array_equal(fnp.choose(sel, ch, mode="wrap"), np.choose(sel, ch,
                                                                              mode="wrap"))
    v = np.linspace(-2, 2, 5)
    np.testing.assert_allclose(fnp.piecewise(v, [v < 0, v > 1], [lambda t: -t, 7.0, 0.5]),
                               np.piecewise(v, [v < 0, v > 1], [lambda t: -t, 7.0, 0.5]))
    a = np.zeros(6, np.int32)
    want = a.copy()
    np.put(want, [0, 4], [3, 5])
    np.testing.assert_array_equal(fnp.put(a, [0, 4], [3, 5], inplace=False), want)
    m = np.arange(6).reshape(2, 3) % 2 == 0
    want = np.arange(6).reshape(2, 3)
    np.place(want, m, [10, 20])
    np.testing.assert_array_equal(fnp.place(np.arange(6).reshape(2, 3), m, [10, 20],
                                            inplace=False), want)
    arr = np.zeros((2, 3), np.int32)
    idx = np.array([[2], [0]])
    want = arr.copy()
    np.put_along_axis(want, idx, 7, axis=1)
    np.testing.assert_array_equal(fnp.put_along_axis(arr, idx, 7, axis=1, inplace=False), want)


@pytest.mark.filterwarnings("ignore:Arrays of 2-dimensional vectors")
def test_products_spaces_windows_match_numpy(rng):
    a, b = rng.integers(0, 5, (2, 3)), rng.integers(0, 5, (3, 2, 2))
    np.testing.assert_array_equal(fnp.kron(a, b), np.kron(a, b))
    u, w = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    np.testing.assert_allclose(fnp.cross(u, w), np.cross(u, w), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fnp.cross(u[:, :2], w), np.cross(u[:, :2], w), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(fnp.cross(u[:, :2], w[:, :2]), np.cross(u[:, :2], w[:, :2]),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fnp.vecdot(u, w), np.vecdot(u, w), rtol=1e-5)
    m = rng.standard_normal((4, 2, 3))
    np.testing.assert_allclose(fnp.matvec(m, u), np.matvec(m, u), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fnp.vecmat(u[:, :2], m), np.vecmat(u[:, :2], m), rtol=1e-5,
                               atol=1e-6)
    for inc in (False, True):
        np.testing.assert_array_equal(fnp.vander(np.arange(1, 4), 4, inc),
                                      np.vander(np.arange(1, 4), 4, inc))
    np.testing.assert_allclose(fnp.logspace(0, 3, 4, base=2.0), np.logspace(0, 3, 4, base=2.0),
                               rtol=1e-6)
    np.testing.assert_allclose(fnp.geomspace(2.0, 32.0, 5), np.geomspace(2.0, 32.0, 5),
                               rtol=1e-6)
    for name in ("hanning", "hamming", "blackman", "bartlett"):
        for n in (0, 1, 6, 7):
            np.testing.assert_allclose(getattr(fnp, name)(n), getattr(np, name)(n), atol=1e-6,
                                       err_msg=name)


def test_functional_helpers_and_misc(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    for axis in (0, 1, 2):
        np.testing.assert_allclose(fnp.apply_along_axis(lambda v: v.max() - v.min(), axis, x),
                                   np.apply_along_axis(lambda v: v.max() - v.min(), axis, x))
        np.testing.assert_allclose(fnp.apply_along_axis(lambda v: v * 2, axis, x),
                                   np.apply_along_axis(lambda v: v * 2, axis, x))
    np.testing.assert_allclose(fnp.apply_over_axes(fnp.sum, x, [0, 2]),
                               np.apply_over_axes(np.sum, x, [0, 2]), rtol=1e-5)
    f = fnp.vectorize(lambda a, b: fnp.where(a > b, a, b) * 2)
    np.testing.assert_allclose(f(x, 0.5), np.where(x > 0.5, x, 0.5) * 2)
    assert fnp.array_equiv([1, 2], [[1, 2], [1, 2]]) and not fnp.array_equiv([1, 2], [1, 3])
    z = np.array([2 + 1j, 1 + 3j, 1 + 1j])
    np.testing.assert_array_equal(fnp.sort_complex(z), np.sort_complex(z))
    p = np.cumsum(rng.uniform(-3, 3, 12))
    np.testing.assert_allclose(fnp.unwrap(p), np.unwrap(p), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fnp.unwrap(p, period=4.0), np.unwrap(p, period=4.0),
                               rtol=1e-5, atol=1e-5)
