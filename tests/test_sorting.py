"""lax.sort / sort_key_val / top_k and fnp's sort, argsort, lexsort, searchsorted, digitize,
unique and bincount: values against NumPy (and loop references), gradients against finite
differences, jit and vmap against eager."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace.errors import ConcretizationError, ShapeError
from functrace.test_util import check_grads

_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5)
_small_ints = st.integers(-3, 3)  # many ties, to exercise stability


@settings(deadline=None)
@given(x=hnp.arrays(np.int32, _shapes, elements=_small_ints), data=st.data())
def test_sort_and_argsort_match_numpy_stable(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    np.testing.assert_array_equal(fnp.sort(x, axis), np.sort(x, axis))
    np.testing.assert_array_equal(fnp.argsort(x, axis), np.argsort(x, axis, kind="stable"))
    np.testing.assert_array_equal(fnp.sort(x, None), np.sort(x, None))
    # descending, ties in index order: a stable sort of the negated keys
    np.testing.assert_array_equal(fnp.argsort(x, axis, descending=True),
                                  np.argsort(-x, axis, kind="stable"))
    np.testing.assert_array_equal(fnp.sort(x, axis, descending=True),
                                  np.flip(np.sort(x, axis), axis))


def test_float_order_nans_last():
    x = np.array([0.0, -0.0, np.nan, -1.0, np.inf, -np.inf], np.float32)
    out = fnp.sort(x)
    np.testing.assert_array_equal(out[:5], [-np.inf, -1.0, 0.0, 0.0, np.inf])
    assert np.isnan(out[5])
    # -0.0 and 0.0 are equal keys: a stable sort keeps their order
    assert not np.signbit(out[2]) and np.signbit(out[3])


@settings(deadline=None)
@given(keys=hnp.arrays(np.int32, st.tuples(st.integers(1, 3), st.integers(1, 8)),
                       elements=_small_ints))
def test_multi_operand_sort_and_lexsort(keys):
    k0, k1 = keys[0], keys[-1]
    vals = np.arange(k0.size, dtype=np.float32) * 1.5
    order = np.lexsort((k1, k0))  # primary k0, then k1
    s0, s1, sv = lax.sort((k0, k1, vals), num_keys=2)
    np.testing.assert_array_equal(s0, k0[order])
    np.testing.assert_array_equal(s1, k1[order])
    np.testing.assert_array_equal(sv, vals[order])
    np.testing.assert_array_equal(fnp.lexsort(keys), np.lexsort(keys))
    sk, sv = lax.sort_key_val(k0, vals)
    np.testing.assert_array_equal(sv, vals[np.argsort(k0, kind="stable")])


def _top_k_reference(x, k):
    idx = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    return np.take_along_axis(x, idx, -1), idx


@settings(deadline=None)
@given(x=hnp.arrays(np.int32, _shapes, elements=_small_ints), data=st.data())
def test_top_k_matches_reference(x, data):
    k = data.draw(st.integers(0, x.shape[-1]))
    vals, idx = lax.top_k(x, k)
    want_vals, want_idx = _top_k_reference(x, k)
    np.testing.assert_array_equal(vals, want_vals)
    np.testing.assert_array_equal(idx, want_idx)
    assert idx.dtype == np.int32
    u = x.astype(np.uint8) % 7  # unsigned keys reverse too
    np.testing.assert_array_equal(lax.top_k(u, k)[0], _top_k_reference(u.astype(int), k)[0])


@settings(deadline=None)
@given(a=hnp.arrays(np.float32, st.integers(1, 8), elements=st.integers(-4, 4)),
       v=hnp.arrays(np.float32, st.integers(0, 6), elements=st.sampled_from(
           [-5.0, -1.0, 0.0, 0.5, 2.0, 9.0, np.nan])),
       side=st.sampled_from(["left", "right"]))
def test_searchsorted_matches_numpy(a, v, side):
    a = np.sort(a)
    np.testing.assert_array_equal(fnp.searchsorted(a, v, side), np.searchsorted(a, v, side))
    perm = np.random.default_rng(0).permutation(a.size)
    shuffled = a[perm]
    np.testing.assert_array_equal(
        fnp.searchsorted(shuffled, v, side, sorter=np.argsort(shuffled, kind="stable")),
        np.searchsorted(a, v, side))


def test_digitize_matches_numpy():
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.5, 3.0, 7.0])
    for bins in (np.array([0.0, 1.0, 3.0]), np.array([3.0, 1.0, 0.0])):
        for right in (False, True):
            np.testing.assert_array_equal(fnp.digitize(x, bins, right),
                                          np.digitize(x, bins, right))


@settings(deadline=None)
@given(x=hnp.arrays(np.int32, _shapes, elements=_small_ints))
def test_unique_matches_numpy(x):
    vals, idx, inv, counts = fnp.unique(x, return_index=True, return_inverse=True,
                                        return_counts=True)
    w_vals, w_idx, w_inv, w_counts = np.unique(x, return_index=True, return_inverse=True,
                                               return_counts=True)
    np.testing.assert_array_equal(vals, w_vals)
    np.testing.assert_array_equal(idx, w_idx)
    np.testing.assert_array_equal(inv.ravel(), w_inv.ravel())
    assert inv.shape == x.shape
    np.testing.assert_array_equal(counts, w_counts)
    # size=: padded with the smallest value (index of its first occurrence, count 0)
    size = w_vals.size + 2
    v2, i2, c2 = fnp.unique(x, return_index=True, return_counts=True, size=size)
    np.testing.assert_array_equal(v2, np.concatenate([w_vals, [w_vals[0]] * 2]))
    np.testing.assert_array_equal(i2, np.concatenate([w_idx, [w_idx[0]] * 2]))
    np.testing.assert_array_equal(c2, np.concatenate([w_counts, [0, 0]]))
    np.testing.assert_array_equal(fnp.unique(x, size=1, fill_value=9), w_vals[:1])
    np.testing.assert_array_equal(ft.jit(lambda y: fnp.unique(y, size=size, fill_value=-9))(x),
                                  np.concatenate([w_vals, [-9, -9]]))


def test_unique_nan_and_traced_without_size():
    x = np.array([np.nan, 1.0, np.nan], np.float32)
    out = fnp.unique(x)
    assert out.shape == (2,) and out[0] == 1.0 and np.isnan(out[1])
    assert fnp.unique(x, equal_nan=False).shape == (3,)
    with pytest.raises(ConcretizationError, match="size="):
        ft.jit(fnp.unique)(x)


@settings(deadline=None)
@given(x=hnp.arrays(np.int32, st.integers(0, 10), elements=st.integers(0, 6)))
def test_bincount_matches_numpy(x):
    np.testing.assert_array_equal(fnp.bincount(x), np.bincount(x))
    np.testing.assert_array_equal(fnp.bincount(x, minlength=9), np.bincount(x, minlength=9))
    w = np.linspace(0, 1, x.size).astype(np.float32)
    np.testing.assert_allclose(fnp.bincount(x, w, length=8), np.bincount(x, w, minlength=8)[:8],
                               rtol=1e-6)


def test_bincount_clips_negative_and_drops_large():
    # JAX: negative values count in bin 0, values >= length are dropped
    np.testing.assert_array_equal(fnp.bincount(np.array([-1, 0, 2, 5]), length=4),
                                  [2, 0, 1, 0])
    with pytest.raises(ConcretizationError, match="length="):
        ft.jit(fnp.bincount)(np.array([1, 2]))


def test_errors():
    with pytest.raises(ShapeError, match="same shape"):
        lax.sort((np.ones(3), np.ones(4)))
    with pytest.raises(ShapeError, match="num_keys"):
        lax.sort((np.ones(3), np.ones(3)), num_keys=3)
    with pytest.raises(ShapeError, match="k must be"):
        lax.top_k(np.ones(3), 4)


# ---------------------------------------------------------------------------
# derivatives, jit, vmap

def test_gradients_against_finite_differences(rng, x64):
    x = rng.permutation(12).reshape(3, 4) * 0.5 + 0.1 * rng.random((3, 4))  # no ties
    check_grads(lambda x: fnp.sort(x, axis=0), (x,), order=2)
    check_grads(lambda x: lax.top_k(x, 2)[0], (x,), order=2)
    check_grads(lambda k, v: lax.sort_key_val(k, v)[1], (x, rng.standard_normal((3, 4))),
                order=2)
    keys = np.array([2, 0, 1, 0], np.int32)
    check_grads(lambda v: lax.sort((keys, v), num_keys=1)[1], (rng.standard_normal(4),),
                order=2)
    # the gradient of the largest entry is one-hot at its position
    g = ft.grad(lambda x: lax.top_k(x, 1)[0][0])(np.array([1.0, 5.0, 2.0]))
    np.testing.assert_array_equal(g, [0.0, 1.0, 0.0])


def test_jit_and_vmap_match_eager(rng):
    x = rng.integers(-3, 4, (5, 6)).astype(np.float32)
    fns = {
        "sort": lambda r: fnp.sort(r),
        "argsort": lambda r: fnp.argsort(r, descending=True),
        "top_k": lambda r: lax.top_k(r, 3),
        "searchsorted": lambda r: fnp.searchsorted(np.arange(-3, 4, dtype=np.float32), r),
        "unique": lambda r: fnp.unique(r, size=7, return_counts=True),
        "bincount": lambda r: fnp.bincount(r.astype(np.int32) + 3, length=7),
        "grad_sort": ft.grad(lambda r: (fnp.sort(r) * np.arange(6.0, dtype=np.float32)).sum()),
    }
    for name, f in fns.items():
        eager = ft.tree_util.tree_map(lambda *xs: np.stack(xs), *[f(r) for r in x])
        for got in (ft.vmap(f)(x), ft.jit(ft.vmap(f))(x)):
            ft.tree_util.tree_map(lambda g, w, name=name: np.testing.assert_array_equal(
                g, w, err_msg=name), got, eager)
