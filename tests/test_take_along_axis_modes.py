"""``fnp.take_along_axis``'s ``mode=`` (JAX's ``GatherScatterMode`` values, ``one_hot``
included) against NumPy references: JAX's documented examples, out-of-bounds fill,
clip, and the one-hot contraction (0 for an out-of-bounds index, 0 * inf = NaN)."""

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import lax


def _ref(x, idx, axis, mode, fill=np.nan):
    """Loop reference: index each element along ``axis``, negative indices wrapped."""
    n = x.shape[axis]
    idx = np.where(idx < 0, idx + n, idx)
    shape = np.broadcast_shapes(idx.shape, x.shape[:axis] + (1,) + x.shape[axis + 1:])
    idx = np.broadcast_to(idx, shape)
    xb = np.broadcast_to(x, shape[:axis] + (n,) + shape[axis + 1:])
    out = np.empty(shape, np.result_type(x, np.float32) if mode == "fill" else x.dtype)
    for pos in np.ndindex(*shape):
        i = int(idx[pos])
        src = pos[:axis] + (min(max(i, 0), n - 1),) + pos[axis + 1:]
        inside = 0 <= i < n
        if mode == "clip" or inside:
            out[pos] = xb[src]
        elif mode == "fill":
            out[pos] = fill
        else:  # one_hot: a row of zeros contracts to 0 ...
            out[pos] = 0
        if mode == "one_hot":  # ... and 0 * inf anywhere along the axis is NaN
            line = xb[pos[:axis] + (slice(None),) + pos[axis + 1:]]
            others = np.delete(line, i) if inside else line
            if not np.all(np.isfinite(others)):
                out[pos] = np.nan
    return out


def test_jax_doc_examples():
    x = np.array([[1., 2., 3.], [4., 5., 6.]], np.float32)
    np.testing.assert_array_equal(fnp.take_along_axis(x, np.array([[0, 2], [1, 0]]), axis=1),
                                  [[1., 3.], [5., 4.]])
    np.testing.assert_array_equal(fnp.take_along_axis(x, np.array([[1, 0, 2]]), axis=0),
                                  [[4., 2., np.nan]])
    y = np.array([[5, 3, 4], [2, 7, 6]], np.int32)
    np.testing.assert_array_equal(fnp.take_along_axis(y, fnp.argsort(y, axis=1), axis=1),
                                  [[3, 4, 5], [2, 6, 7]])


@pytest.mark.parametrize("mode", ["fill", "clip", "one_hot"])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_modes_match_the_loop_reference(mode, axis):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    x[2, 1] = np.inf
    shape = [3, 4]
    shape[axis] = 5
    idx = rng.integers(-6, 7, shape)
    want = _ref(x, idx, axis % 2, mode)
    np.testing.assert_array_equal(fnp.take_along_axis(x, idx, axis=axis, mode=mode), want)
    jitted = ft.jit(lambda a, i: fnp.take_along_axis(a, i, axis=axis, mode=mode))(x, idx)
    np.testing.assert_array_equal(jitted, want)


def test_broadcasting_fill_value_and_enum_mode():
    x = np.arange(12, dtype=np.int32).reshape(3, 4)
    idx = np.array([[0, 3, 4]])  # broadcasts along axis 0
    got = fnp.take_along_axis(x, idx, axis=1, mode=lax.GatherScatterMode.FILL_OR_DROP,
                              fill_value=-7)
    np.testing.assert_array_equal(got, _ref(x, idx, 1, "fill", -7))


def test_one_hot_gradient_is_the_one_hot_transpose():
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    idx = np.array([[1, 1, 9], [-1, 0, 2]])
    g = ft.grad(lambda a: fnp.sum(fnp.take_along_axis(a, idx, axis=1, mode="one_hot")))(x)
    want = np.zeros_like(x)
    for r in range(2):
        for i in idx[r]:
            if -4 <= i < 4:
                want[r, i % 4] += 1
    np.testing.assert_array_equal(g, want)


def test_wrap_negative_indices_false():
    x = np.array([1., 2.], np.float32)
    got = fnp.take_along_axis(x, np.array([-1, 1]), axis=0, mode="one_hot",
                              wrap_negative_indices=False)
    np.testing.assert_array_equal(got, [0., 2.])


def test_errors():
    with pytest.raises(IndexError, match="integers"):
        fnp.take_along_axis(np.ones(3), np.array([0.5]), axis=0)
    with pytest.raises(IndexError, match="rank"):
        fnp.take_along_axis(np.ones((2, 3)), np.array([0]), axis=0)
