import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import functrace as ft
from functrace import lax
from functrace.core.jaxpr import typecheck
from functrace.errors import DTypeError, ShapeError
from functrace.test_util import check_grads

# float32 inputs: JAX's default step (1e-4) is below float32's finite-difference noise
F32_FD = dict(eps=1e-2, atol=2e-2, rtol=2e-2)

# the x64 fixture is reused across hypothesis examples on purpose: it only sets a flag
fixture_ok = settings(suppress_health_check=[HealthCheck.function_scoped_fixture,
                                             HealthCheck.too_slow])

dims = st.integers(0, 3)
shapes = st.lists(dims, min_size=1, max_size=3).map(tuple)
seeds = st.integers(0, 2**16)


def _rand(seed, shape, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _nonlinear(f):
    """Wraps a linear op so second derivatives are not trivially zero."""
    return lambda *xs: lax.sin(f(*[lax.mul(x, x) for x in xs]))


def _prims(fun, *args):
    return [e.primitive.name for e in ft.make_jaxpr(fun)(*args).eqns]


# ---------------------------------------------------------------------------
# independent NumPy references

def ref_pad(x, value, config):
    for axis, (lo, hi, interior) in enumerate(config):
        n = x.shape[axis]
        if n > 1 and interior:
            gap_shape = list(x.shape)
            gap_shape[axis] = interior
            parts = []
            for i in range(n):
                parts.append(np.take(x, [i], axis))
                if i < n - 1:
                    parts.append(np.full(gap_shape, value, x.dtype))
            x = np.concatenate(parts, axis)
        width = [(0, 0)] * x.ndim
        width[axis] = (max(lo, 0), max(hi, 0))
        x = np.pad(x, width, constant_values=value)
        x = np.take(x, np.arange(max(-lo, 0), x.shape[axis] - max(-hi, 0)), axis)
    return x


def ref_gather(x, idx):
    k = idx.shape[-1]
    batch = idx.shape[:-1]
    out = np.zeros(batch + x.shape[k:], x.dtype)
    for b in np.ndindex(*batch):
        pos = tuple(min(max(int(i), 0), n - 1) for i, n in zip(idx[b], x.shape))
        out[b] = x[pos]
    return out


def ref_scatter_add(x, idx, updates):
    out = np.array(x, copy=True)
    for b in np.ndindex(*idx.shape[:-1]):
        pos = tuple(min(max(int(i), 0), n - 1) for i, n in zip(idx[b], x.shape))
        out[pos] += updates[b]
    return out


@st.composite
def pad_cases(draw):
    shape = draw(shapes)
    config = []
    for n in shape:
        interior = draw(st.integers(0, 2))
        core = n + max(n - 1, 0) * interior
        lo = draw(st.integers(-core, 2))
        hi = draw(st.integers(-(core + lo), 2))  # keeps the result size >= 0
        config.append((lo, hi, interior))
    return shape, tuple(config), draw(seeds)


@st.composite
def slice_cases(draw):
    shape = draw(shapes)
    start, limit, strides = [], [], []
    for n in shape:
        s = draw(st.integers(0, n))
        start.append(s)
        limit.append(draw(st.integers(s, n)))
        strides.append(draw(st.integers(1, 3)))
    return shape, tuple(start), tuple(limit), tuple(strides), draw(seeds)


@st.composite
def gather_cases(draw):
    shape = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple))
    k = draw(st.integers(0, len(shape)))
    batch = draw(st.lists(st.integers(0, 3), max_size=2).map(tuple))
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    hi = np.asarray(shape[:k] or (1,))
    # out-of-range values exercise clamping; duplicates are likely at these sizes
    idx = rng.integers(-2, hi + 2, size=batch + (k,)).astype(np.int32)
    return shape, idx, seed


# ---------------------------------------------------------------------------
# concatenate

@given(shape=shapes, sizes=st.lists(dims, min_size=2, max_size=3), seed=seeds,
       data=st.data())
@fixture_ok
def test_concatenate(x64, shape, sizes, seed, data):
    dim = data.draw(st.integers(0, len(shape) - 1))
    xs = []
    for i, n in enumerate(sizes):
        s = list(shape)
        s[dim] = n
        xs.append(_rand(seed + i, s))
    np.testing.assert_array_equal(lax.concatenate(xs, dim), np.concatenate(xs, dim))
    check_grads(_nonlinear(lambda *a: lax.concatenate(a, dim)), xs, order=2,
                modes=("fwd", "rev"))


def test_concatenate_jaxpr_and_negative_dim():
    x = np.ones((2, 3), np.float32)
    assert _prims(lambda a, b: lax.concatenate([a, b], -1), x, x) == ["concatenate"]
    assert lax.concatenate([x, x], -1).shape == (2, 6)


def test_concatenate_errors():
    with pytest.raises(ShapeError) as e:
        lax.concatenate([np.ones((2, 3)), np.ones((3, 4))], 0)
    assert "(2, 3)" in str(e.value) and "(3, 4)" in str(e.value)
    assert "concatenate" in str(e.value)
    with pytest.raises(DTypeError, match="same dtype"):
        lax.concatenate([np.ones(2, np.float32), np.ones(2, np.int32)], 0)
    with pytest.raises(ShapeError, match="out of range"):
        lax.concatenate([np.ones(2), np.ones(2)], 1)


# ---------------------------------------------------------------------------
# pad

@given(case=pad_cases())
@fixture_ok
def test_pad(x64, case):
    shape, config, seed = case
    x = _rand(seed, shape)
    np.testing.assert_array_equal(lax.pad(x, 1.5, config), ref_pad(x, 1.5, config))
    v = np.float64(0.7)
    check_grads(_nonlinear(lambda a, b: lax.pad(a, b, config)), (x, v), order=2,
                modes=("fwd", "rev"))


def test_pad_float32_grads():
    x = np.random.default_rng(0).standard_normal((3, 2)).astype(np.float32)
    config = ((2, -1, 1), (-1, 2, 0))
    check_grads(_nonlinear(lambda a, b: lax.pad(a, b, config)), (x, np.float32(0.3)),
                order=2, modes=("fwd", "rev"))


def test_pad_jaxpr():
    x = np.ones((2,), np.float32)
    assert _prims(lambda a: lax.pad(a, 0.0, [(1, 1, 1)]), x) == ["pad"]
    jaxpr = ft.make_jaxpr(ft.grad(lambda a, v: lax.reduce_sum(
        lax.pad(a, v, [(1, -1, 2)]), (0,)), argnums=(0, 1)))(x, np.float32(0))
    typecheck(jaxpr)


def test_pad_errors():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ShapeError) as e:
        lax.pad(x, 0.0, [(1, 1, 0)])
    assert "one (low, high, interior) triple per axis" in str(e.value)
    assert "(2, 3)" in str(e.value)
    with pytest.raises(ShapeError, match="interior padding must be >= 0"):
        lax.pad(x, 0.0, [(0, 0, -1), (0, 0, 0)])
    with pytest.raises(ShapeError, match="removes more elements"):
        lax.pad(x, 0.0, [(-2, -1, 0), (0, 0, 0)])
    with pytest.raises(DTypeError, match="padding_value"):
        lax.pad(x, np.int32(0), [(1, 0, 0), (0, 0, 0)])


# ---------------------------------------------------------------------------
# slice

@given(case=slice_cases())
@fixture_ok
def test_slice(x64, case):
    shape, start, limit, strides, seed = case
    x = _rand(seed, shape)
    expected = x[tuple(slice(s, l, st) for s, l, st in zip(start, limit, strides))]
    np.testing.assert_array_equal(lax.slice(x, start, limit, strides), expected)
    check_grads(_nonlinear(lambda a: lax.slice(a, start, limit, strides)), (x,), order=2,
                modes=("fwd", "rev"))


def test_slice_float32_grads_and_jaxpr():
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    check_grads(_nonlinear(lambda a: lax.slice(a, (1, 0), (5, 3), (2, 2))), (x,), order=2)
    assert _prims(lambda a: lax.slice(a, (1, 0), (5, 3), (2, 2)), x) == ["slice"]
    grad_prims = _prims(ft.grad(lambda a: lax.reduce_sum(lax.slice(a, (1, 0), (5, 3)),
                                                         (0, 1))), x)
    assert "pad" in grad_prims


def test_slice_errors():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ShapeError) as e:
        lax.slice(x, (0, 1), (2, 4))
    assert "out of bounds" in str(e.value) and "(2, 3)" in str(e.value)
    with pytest.raises(ShapeError, match="one entry per axis"):
        lax.slice(x, (0,), (2,))
    with pytest.raises(ShapeError, match="strides"):
        lax.slice(x, (0, 0), (2, 3), (1, 0))


# ---------------------------------------------------------------------------
# dynamic_slice / dynamic_update_slice

@st.composite
def dynamic_cases(draw):
    shape = draw(shapes)
    sizes = tuple(draw(st.integers(0, n)) for n in shape)
    starts = tuple(draw(st.integers(-2, n + 2)) for n in shape)  # clamped
    return shape, sizes, starts, draw(seeds)


def _clamp(starts, shape, sizes):
    # JAX: a negative start counts from the end of its axis, then starts are clamped
    return [min(max(s + n if s < 0 else s, 0), n - k) for s, n, k in zip(starts, shape, sizes)]


@given(case=dynamic_cases())
@fixture_ok
def test_dynamic_slice(x64, case):
    shape, sizes, starts, seed = case
    x = _rand(seed, shape)
    c = _clamp(starts, shape, sizes)
    expected = x[tuple(slice(s, s + k) for s, k in zip(c, sizes))]
    np.testing.assert_array_equal(lax.dynamic_slice(x, starts, sizes), expected)
    check_grads(_nonlinear(lambda a: lax.dynamic_slice(a, starts, sizes)), (x,), order=2,
                modes=("fwd", "rev"))


@given(case=dynamic_cases())
@fixture_ok
def test_dynamic_update_slice(x64, case):
    shape, sizes, starts, seed = case
    x, u = _rand(seed, shape), _rand(seed + 1, sizes)
    c = _clamp(starts, shape, sizes)
    expected = x.copy()
    expected[tuple(slice(s, s + k) for s, k in zip(c, sizes))] = u
    np.testing.assert_array_equal(lax.dynamic_update_slice(x, u, starts), expected)
    check_grads(_nonlinear(lambda a, b: lax.dynamic_update_slice(a, b, starts)), (x, u),
                order=2, modes=("fwd", "rev"))


def test_dynamic_slice_traced_start():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    jaxpr = ft.make_jaxpr(lambda a, i: lax.dynamic_slice(
        a, [i, 1], (2, 2), allow_negative_indices=False))(x, np.int32(2))
    assert [e.primitive.name for e in jaxpr.eqns] == ["dynamic_slice"]
    # by default a traced start is wrapped first (start < 0 -> start + size), as in JAX
    jaxpr = ft.make_jaxpr(lambda a, i: lax.dynamic_slice(a, [i, 1], (2, 2)))(x, np.int32(2))
    assert [e.primitive.name for e in jaxpr.eqns][-1] == "dynamic_slice"
    f = ft.jit(lambda a, i: lax.dynamic_slice(a, [i, 1], (2, 2)))
    np.testing.assert_array_equal(f(x, np.int32(-2)), x[1:3, 1:3])
    # a start passed as a 1-D array is split into scalars
    np.testing.assert_array_equal(lax.dynamic_slice(x, np.array([2, 1]), (2, 2)), x[1:3, 1:3])
    g = ft.grad(lambda a, i: lax.reduce_sum(lax.dynamic_slice(a, [i, 1], (2, 2)), (0, 1)))(
        x, np.int32(0))
    expected = np.zeros_like(x)
    expected[0:2, 1:3] = 1
    np.testing.assert_array_equal(g, expected)
    check_grads(_nonlinear(lambda a: lax.dynamic_update_slice(
        a, np.ones((1, 2), np.float32), [1, 1])), (x / 10,), order=2)


def test_dynamic_slice_errors():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ShapeError, match="slice_sizes"):
        lax.dynamic_slice(x, [0, 0], (3, 1))
    with pytest.raises(ShapeError, match="one per axis"):
        lax.dynamic_slice(x, [0], (1, 1))
    with pytest.raises(DTypeError, match="scalar integers"):
        lax.dynamic_slice(x, [np.float32(0), 0], (1, 1))
    with pytest.raises(ShapeError, match="does not fit"):
        lax.dynamic_update_slice(x, np.ones((3, 1), np.float32), [0, 0])


# ---------------------------------------------------------------------------
# rev

@given(shape=shapes, seed=seeds, data=st.data())
@fixture_ok
def test_rev(x64, shape, seed, data):
    dims_ = tuple(data.draw(st.sets(st.integers(0, len(shape) - 1))))
    x = _rand(seed, shape)
    np.testing.assert_array_equal(lax.rev(x, dims_), np.flip(x, dims_))
    check_grads(_nonlinear(lambda a: lax.rev(a, dims_)), (x,), order=2, modes=("fwd", "rev"))


def test_rev_jaxpr_and_errors():
    x = np.ones((2, 3), np.float32)
    assert _prims(lambda a: lax.rev(a, (1,)), x) == ["rev"]
    with pytest.raises(ShapeError, match=r"rev: dimensions \(2,\)"):
        lax.rev(x, (2,))


# ---------------------------------------------------------------------------
# gather / scatter_add

@given(case=gather_cases())
@fixture_ok
def test_gather(x64, case):
    shape, idx, seed = case
    x = _rand(seed, shape)
    np.testing.assert_array_equal(lax.gather_leading(x, idx), ref_gather(x, idx))
    check_grads(_nonlinear(lambda a: lax.gather_leading(a, idx)), (x,), order=2,
                modes=("fwd", "rev"))


@given(case=gather_cases())
@fixture_ok
def test_scatter_add(x64, case):
    shape, idx, seed = case
    k = idx.shape[-1]
    x, u = _rand(seed, shape), _rand(seed + 1, idx.shape[:-1] + shape[k:])
    np.testing.assert_allclose(lax.scatter_add_leading(x, idx, u), ref_scatter_add(x, idx, u),
                               rtol=1e-12, atol=1e-12)
    check_grads(_nonlinear(lambda a, b: lax.scatter_add_leading(a, idx, b)), (x, u), order=2,
                modes=("fwd", "rev"))


def test_scatter_add_accumulates_duplicates():
    idx = np.array([[1], [1], [1], [0]], np.int32)
    out = lax.scatter_add_leading(np.zeros((3, 2), np.float32), idx,
                                  np.ones((4, 2), np.float32))
    np.testing.assert_array_equal(out, [[1, 1], [3, 3], [0, 0]])
    # so the gradient of a gather with repeated indices counts each use
    g = ft.grad(lambda a: lax.reduce_sum(lax.gather_leading(a, idx), (0, 1)))(
        np.ones((3, 2), np.float32))
    np.testing.assert_array_equal(g, [[1, 1], [3, 3], [0, 0]])


def test_gather_float32_grads_and_jaxpr():
    x = np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32)
    idx = np.array([[3], [0], [3]], np.int32)
    check_grads(_nonlinear(lambda a: lax.gather_leading(a, idx)), (x,), order=2, **F32_FD)
    assert _prims(lambda a: lax.gather_leading(a, idx), x) == ["gather"]
    grad_prims = _prims(ft.grad(lambda a: lax.reduce_sum(lax.gather_leading(a, idx), (0, 1))),
                        x)
    assert "scatter-add" in grad_prims  # JAX's name
    u = np.ones((3, 3), np.float32)
    assert _prims(lambda a, b: lax.scatter_add_leading(a, idx, b), x, u) == ["scatter-add"]


def test_gather_errors():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(DTypeError, match="indices must be integers"):
        lax.gather_leading(x, np.zeros((1, 1), np.float32))
    with pytest.raises(ShapeError, match="k <= 2"):
        lax.gather_leading(x, np.zeros((1, 3), np.int32))
    with pytest.raises(ShapeError, match=r"need \(4, 3\)"):
        lax.scatter_add_leading(x, np.zeros((4, 1), np.int32), np.ones((4, 2), np.float32))
    with pytest.raises(ShapeError, match="slice_sizes .* between 0 and the axis size"):
        lax.gather_leading(np.ones((0, 2), np.float32), np.zeros((1, 1), np.int32))
