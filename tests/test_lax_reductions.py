import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import functrace as ft
from functrace import lax
from functrace.errors import DTypeError, ShapeError
from functrace.test_util import check_grads

# float32 inputs: JAX's default step (1e-4) is below float32's finite-difference noise
F32_FD = dict(eps=1e-2, atol=2e-2, rtol=2e-2)

# the x64 fixture is function-scoped but only flips a global flag, so it is safe
# to share between hypothesis examples
with_fixture = settings(suppress_health_check=[HealthCheck.function_scoped_fixture,
                                               HealthCheck.too_slow])


@st.composite
def shape_and_axes(draw, max_rank=3, min_dim=1, max_dim=3):
    shape = tuple(draw(st.lists(st.integers(min_dim, max_dim), max_size=max_rank)))
    if not shape:
        return shape, ()
    axes = draw(st.lists(st.integers(-len(shape), len(shape) - 1), max_size=len(shape),
                         unique_by=lambda a: a % len(shape)))
    return shape, tuple(axes)


@st.composite
def shape_and_axis(draw, max_rank=3):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=max_rank)))
    return shape, draw(st.integers(-len(shape), len(shape) - 1))


def distinct(shape, dtype, seed=0, spacing=1.0):
    """Values with no ties (a shuffled arange), so max/min are differentiable."""
    n = int(np.prod(shape, dtype=np.int64))
    rng = np.random.default_rng(seed)
    return ((rng.permutation(n) - n / 2) * spacing).reshape(shape).astype(dtype)


def away_from_zero(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    sign = rng.choice([-1.0, 1.0], size=shape)
    return (sign * rng.uniform(0.5, 1.5, size=shape)).astype(dtype)


# ---------------------------------------------------------------------------
# reference impls vs independent NumPy formulas

NP_REDUCTIONS = [
    (lax.reduce_max, np.max),
    (lax.reduce_min, np.min),
    (lax.reduce_prod, np.prod),
]


@pytest.mark.parametrize("lax_fn,np_fn", NP_REDUCTIONS)
@given(sa=shape_and_axes(), seed=st.integers(0, 2**16))
def test_numeric_reductions_match_numpy(lax_fn, np_fn, sa, seed):
    shape, axes = sa
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    out = lax_fn(x, axes)
    expected = np_fn(x, axis=axes) if axes else x
    assert out.shape == np.shape(expected) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-6)


@given(sa=shape_and_axes(), seed=st.integers(0, 2**16))
def test_logical_reductions_match_numpy(sa, seed):
    shape, axes = sa
    rng = np.random.default_rng(seed)
    b = rng.random(shape) < 0.6
    np.testing.assert_array_equal(lax.reduce_and(b, axes), np.all(b, axis=axes))
    np.testing.assert_array_equal(lax.reduce_or(b, axes), np.any(b, axis=axes))
    i = rng.integers(0, 16, size=shape).astype(np.int32)
    and_ref, or_ref = i, i
    for a in sorted((a % len(shape) for a in axes), reverse=True):
        and_ref = np.bitwise_and.reduce(and_ref, axis=a)
        or_ref = np.bitwise_or.reduce(or_ref, axis=a)
    np.testing.assert_array_equal(lax.reduce_and(i, axes), and_ref)
    np.testing.assert_array_equal(lax.reduce_or(i, axes), or_ref)


def test_logical_reductions_of_empty_axes_give_identity():
    b = np.zeros((2, 0), bool)
    np.testing.assert_array_equal(lax.reduce_and(b, (1,)), [True, True])
    np.testing.assert_array_equal(lax.reduce_or(b, (1,)), [False, False])
    np.testing.assert_array_equal(lax.reduce_and(np.zeros((0,), np.uint8), (0,)), 255)


@pytest.mark.parametrize("lax_fn,np_fn", [(lax.argmax, np.argmax), (lax.argmin, np.argmin)])
@given(sa=shape_and_axis(), seed=st.integers(0, 2**16))
def test_arg_reductions_match_numpy(lax_fn, np_fn, sa, seed):
    shape, axis = sa
    # small integers make ties common: the first index wins, as in NumPy and JAX
    x = np.random.default_rng(seed).integers(0, 3, size=shape).astype(np.float32)
    out = lax_fn(x, axis, np.int32)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, np_fn(x, axis=axis))


def test_argmax_picks_first_nan_like_numpy():
    x = np.array([1.0, np.nan, 5.0, np.nan], np.float32)
    assert lax.argmax(x, 0, np.int32) == 1
    assert lax.argmin(x, 0, np.int32) == 1


@given(sa=shape_and_axis(), reverse=st.booleans(), seed=st.integers(0, 2**16))
def test_cumsum_matches_numpy(sa, reverse, seed):
    shape, axis = sa
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    expected = np.cumsum(x, axis=axis)
    if reverse:
        expected = np.flip(np.cumsum(np.flip(x, axis), axis=axis), axis)
    np.testing.assert_allclose(lax.cumsum(x, axis, reverse), expected, rtol=1e-5, atol=1e-5)


def test_cumsum_of_ints_keeps_dtype():
    x = np.arange(6, dtype=np.int32).reshape(2, 3)
    out = lax.cumsum(x, axis=1)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [[0, 1, 3], [3, 7, 12]])


# ---------------------------------------------------------------------------
# derivatives

@with_fixture
@pytest.mark.parametrize("lax_fn", [lax.reduce_max, lax.reduce_min])
@given(sa=shape_and_axes(), seed=st.integers(0, 2**16))
def test_chooser_grads_x64(x64, lax_fn, sa, seed):
    shape, axes = sa
    x = distinct(shape, np.float64, seed, spacing=0.1)
    check_grads(lambda x: lax_fn(x, axes), (x,), order=2, modes=("fwd", "rev"))


@with_fixture
@given(sa=shape_and_axes(), seed=st.integers(0, 2**16))
def test_reduce_prod_grads_x64(x64, sa, seed):
    shape, axes = sa
    x = away_from_zero(shape, np.float64, seed)
    check_grads(lambda x: lax.reduce_prod(x, axes), (x,), order=2, modes=("fwd", "rev"))


@with_fixture
@given(sa=shape_and_axis(), reverse=st.booleans(), seed=st.integers(0, 2**16))
def test_cumsum_grads_x64(x64, sa, reverse, seed):
    shape, axis = sa
    x = np.random.default_rng(seed).standard_normal(shape)
    check_grads(lambda x: lax.cumsum(x, axis, reverse), (x,), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("name", ["max", "min", "prod", "cumsum"])
def test_grads_float32(name):
    x = distinct((3, 4), np.float32, seed=1) if name in ("max", "min") else \
        away_from_zero((3, 4), np.float32, seed=1)
    f = {
        "max": lambda x: lax.reduce_max(x, (1,)),
        "min": lambda x: lax.reduce_min(x, (0, 1)),
        "prod": lambda x: lax.reduce_prod(x, (0,)),
        "cumsum": lambda x: lax.cumsum(x, 1, reverse=True),
    }[name]
    check_grads(f, (x,), order=2, modes=("fwd", "rev"), **F32_FD)


def test_reduce_max_ties_split_the_gradient_evenly():
    # JAX's convention: tied maxima share the cotangent
    x = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, -1.0]], np.float32)
    g = ft.grad(lambda x: lax.reduce_sum(lax.reduce_max(x, (1,)), (0,)))(x)
    np.testing.assert_allclose(g, [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])
    g = ft.grad(lambda x: lax.reduce_min(x, (0, 1)))(np.full((2, 2), 7.0, np.float32))
    np.testing.assert_allclose(g, np.full((2, 2), 0.25))


def test_reduce_prod_grad_is_product_of_the_others():
    x = np.array([2.0, 3.0, 5.0], np.float32)
    g = ft.grad(lambda x: lax.reduce_prod(x, (0,)))(x)
    np.testing.assert_allclose(g, [15.0, 10.0, 6.0])


@pytest.mark.parametrize("fn", [
    lambda x: lax.argmax(x, 1, np.int32),
    lambda x: lax.argmin(x, 0, np.int32),
    lambda x: lax.reduce_or(lax.gt(x, 0.0), (0,)),
    lambda x: lax.reduce_and(lax.gt(x, 0.0), (1,)),
])
def test_index_and_logical_reductions_have_zero_tangents(fn):
    x = distinct((3, 4), np.float32)
    out, t = ft.jvp(fn, (x,), (np.ones_like(x),))
    np.testing.assert_array_equal(out, fn(x))
    assert not np.any(t)


# ---------------------------------------------------------------------------
# staging

@pytest.mark.parametrize("fn,text", [
    (lambda x: lax.reduce_max(x, (-1,)), "reduce_max[axes=(1,)]"),
    (lambda x: lax.reduce_min(x, (1, 0)), "reduce_min[axes=(0, 1)]"),
    (lambda x: lax.reduce_prod(x, (0,)), "reduce_prod[axes=(0,)]"),
    (lambda x: lax.reduce_and(lax.gt(x, 0.0), (0,)), "reduce_and[axes=(0,)]"),
    (lambda x: lax.reduce_or(lax.gt(x, 0.0), (1,)), "reduce_or[axes=(1,)]"),
    (lambda x: lax.argmax(x, -1, np.int32), "argmax[axes=(1,) index_dtype=int32]"),
    (lambda x: lax.argmin(x, 0, np.int64), "argmin[axes=(0,) index_dtype=int32]"),
    (lambda x: lax.cumsum(x, 1, True), "cumsum[axis=1 reverse=True]"),
])
def test_make_jaxpr_shows_the_primitive(fn, text):
    x = np.ones((2, 3), np.float32)
    jaxpr = ft.make_jaxpr(fn)(x)
    assert text in str(jaxpr)
    np.testing.assert_array_equal(ft.core.trace.eval_closed_jaxpr(jaxpr, x)[0], fn(x))


def test_make_jaxpr_of_grad_uses_the_transpose_rules():
    jaxpr = str(ft.make_jaxpr(ft.grad(
        lambda x: lax.reduce_sum(lax.cumsum(x, 0), (0,))))(np.ones(3, np.float32)))
    assert "cumsum[axis=0 reverse=False]" in jaxpr
    assert "cumsum[axis=0 reverse=True]" in jaxpr


def test_axes_for_empty_set_are_identity():
    x = np.ones((2, 3), np.float32)
    assert lax.reduce_max(x, ()) is x
    assert "reduce_max" not in str(ft.make_jaxpr(lambda x: lax.reduce_max(x, ()))(x))


# ---------------------------------------------------------------------------
# errors

@pytest.mark.parametrize("fn,op", [
    (lambda x: lax.argmax(x, 1, np.int32), "argmax"),
    (lambda x: lax.argmin(x, 1, np.int32), "argmin"),
])
def test_zero_size_axis_is_an_error(fn, op):
    with pytest.raises(ShapeError, match=rf"{op}: cannot reduce over axes \(1,\) of size 0") \
            as e:
        fn(np.ones((3, 0), np.float32))
    assert "(3, 0)" in str(e.value) and "empty" in str(e.value)


def test_zero_size_max_and_min_are_the_identity():
    # as in JAX: the max of an empty set is -inf (the lowest integer), the min +inf
    np.testing.assert_array_equal(lax.reduce_max(np.ones((3, 0), np.float32), (1,)),
                                  np.full(3, -np.inf, np.float32))
    out = lax.reduce_min(np.ones((3, 0), np.int8), (0, 1))
    assert out.dtype == np.int8 and int(out) == np.iinfo(np.int8).max
    f = ft.jit(lambda x: lax.reduce_max(x, (0,)))
    np.testing.assert_array_equal(f(np.ones((0, 2), np.float32)), [-np.inf, -np.inf])


def test_zero_size_prod_and_sum_are_fine():
    np.testing.assert_array_equal(lax.reduce_prod(np.ones((2, 0), np.float32), (1,)), [1, 1])


def test_axis_out_of_bounds():
    with pytest.raises(ShapeError, match="reduce_max: axis 2 is out of bounds .* rank 2"):
        lax.reduce_max(np.ones((2, 3)), (2,))
    with pytest.raises(ShapeError, match="cumsum: axis 1 is out of bounds .* rank 1"):
        lax.cumsum(np.ones(3), 1)
    with pytest.raises(ShapeError, match="argmax: axis -3 is out of bounds"):
        lax.argmax(np.ones((2, 3)), -3, np.int32)


def test_unnormalised_axes_param_is_an_error():
    with pytest.raises(ShapeError, match=r"sorted tuple .* got \(1, 0\) .* shape \(2, 3\)"):
        lax.reduce_max_p.bind(np.ones((2, 3), np.float32), axes=(1, 0))


def test_dtype_errors():
    with pytest.raises(DTypeError, match=r"reduce_and requires a boolean or integer .*f32\[3\]"):
        lax.reduce_and(np.ones(3, np.float32), (0,))
    with pytest.raises(DTypeError, match=r"reduce_prod does not accept a boolean .*bool\[3\]"):
        lax.reduce_prod(np.ones(3, bool), (0,))
    with pytest.raises(DTypeError, match="argmax: index_dtype must be an integer dtype, got "
                                         "float32"):
        lax.argmax(np.ones(3, np.float32), 0, np.float32)
    with pytest.raises(DTypeError, match="cumsum does not accept a boolean"):
        lax.cumsum(np.ones(3, bool))
