"""Shape primitives (broadcast_in_dim, broadcast, reduce_sum, reshape, transpose, squeeze,
expand_dims, convert_element_type): reference impls against loops and NumPy, derivatives
with ``check_grads``, shape errors and printing."""

import math

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

# the x64 fixture only flips a global flag, so hypothesis examples can share it
with_fixture = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])

shapes = st.lists(st.integers(1, 3), max_size=3).map(tuple)
seeds = st.integers(0, 2**16)


def normal(shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------------------
# hypothesis strategies: an operand shape with valid parameters for each primitive

@st.composite
def broadcast_cases(draw):
    """(operand shape, target shape, broadcast_dimensions); operand dims are 1 or equal."""
    shape = draw(st.lists(st.integers(1, 3), max_size=3).map(tuple))
    dims = tuple(sorted(draw(st.sets(st.sampled_from(range(len(shape))))))) if shape else ()
    operand = tuple(1 if draw(st.booleans()) else shape[d] for d in dims)
    return operand, shape, dims


@st.composite
def shape_and_axes(draw):
    shape = draw(shapes)
    if not shape:
        return shape, ()
    axes = draw(st.lists(st.integers(-len(shape), len(shape) - 1), max_size=len(shape),
                         unique_by=lambda a: a % len(shape)))
    return shape, tuple(axes)


@st.composite
def reshape_cases(draw):
    """(shape, new_sizes, dimensions or None)."""
    shape = draw(shapes)
    n = math.prod(shape)
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    d = draw(st.sampled_from(divisors))
    new_sizes = draw(st.sampled_from([shape, shape[::-1], (n,), (n, 1), (d, n // d),
                                      (n // d, 1, d)]))
    dims = draw(st.none() | st.permutations(range(len(shape))).map(tuple))
    return shape, new_sizes, dims


@st.composite
def transpose_cases(draw):
    shape = draw(shapes)
    return shape, tuple(draw(st.permutations(range(len(shape)))))


@st.composite
def squeeze_cases(draw):
    """(shape, dimensions): some of the size-1 axes, possibly negative."""
    shape = tuple(draw(st.lists(st.integers(1, 2), max_size=4)))
    ones = [i for i, n in enumerate(shape) if n == 1]
    picked = draw(st.lists(st.sampled_from(ones), unique=True)) if ones else []
    dims = tuple(i - len(shape) if draw(st.booleans()) else i for i in picked)
    return shape, dims


@st.composite
def expand_dims_cases(draw):
    shape = draw(shapes)
    out_rank = len(shape) + draw(st.integers(0, 2))
    dims = draw(st.lists(st.integers(0, out_rank - 1), min_size=out_rank - len(shape),
                         max_size=out_rank - len(shape), unique=True)) if out_rank else []
    dims = tuple(d - out_rank if draw(st.booleans()) else d for d in dims)
    return shape, dims


# ---------------------------------------------------------------------------
# reference impls vs loops / NumPy

def broadcast_by_loop(x, shape, dims):
    out = np.empty(shape, x.dtype)
    for idx in np.ndindex(*shape):
        out[idx] = x[tuple(0 if x.shape[i] == 1 else idx[d] for i, d in enumerate(dims))]
    return out


def _check_against(out, expected, fn, *args):
    """Values, shape and dtype; and the shape rule (make_jaxpr) predicts the impl's aval."""
    assert out.shape == np.shape(expected) and out.dtype == np.asarray(expected).dtype
    np.testing.assert_array_equal(out, expected)
    (aval,) = ft.make_jaxpr(fn)(*args).out_avals
    assert (aval.shape, aval.dtype) == (out.shape, out.dtype)


@given(case=broadcast_cases(), seed=seeds)
def test_broadcast_in_dim_matches_a_loop(case, seed):
    operand, shape, dims = case
    x = normal(operand, np.float32, seed)
    out = lax.broadcast_in_dim(x, shape, dims)
    _check_against(out, broadcast_by_loop(x, shape, dims),
                   lambda v: lax.broadcast_in_dim(v, shape, dims), x)
    # NumPy's broadcast_to after inserting the missing axes agrees too
    expanded = [1] * len(shape)
    for i, d in enumerate(dims):
        expanded[d] = operand[i]
    np.testing.assert_array_equal(out, np.broadcast_to(x.reshape(expanded), shape))


@given(shape=shapes, sizes=st.lists(st.integers(1, 3), max_size=2).map(tuple), seed=seeds)
def test_broadcast_adds_leading_axes(shape, sizes, seed):
    x = normal(shape, np.int32, seed)
    out = lax.broadcast(x, sizes)
    _check_against(out, np.broadcast_to(x, sizes + shape), lambda v: lax.broadcast(v, sizes), x)


def sum_by_loop(x, axes):
    """Sums groups of elements with math.fsum (exact), in float64."""
    axes = {a % x.ndim for a in axes}
    groups: dict = {}
    for idx in np.ndindex(*x.shape):
        key = tuple(i for k, i in enumerate(idx) if k not in axes)
        groups.setdefault(key, []).append(float(x[idx]))
    out_shape = tuple(n for k, n in enumerate(x.shape) if k not in axes)
    out = np.zeros(out_shape, np.float64)
    for key, vals in groups.items():
        out[key] = math.fsum(vals)
    return out


@given(sa=shape_and_axes(), seed=seeds)
def test_reduce_sum_matches_a_loop(sa, seed):
    shape, axes = sa
    x = normal(shape, np.float32, seed)
    out = lax.reduce_sum(x, axes)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, sum_by_loop(x, axes), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out, np.add.reduce(x.astype(np.float64), axis=axes),
                               rtol=1e-5, atol=1e-6)
    (aval,) = ft.make_jaxpr(lambda v: lax.reduce_sum(v, axes))(x).out_avals
    assert (aval.shape, aval.dtype) == (out.shape, out.dtype)
    xi = np.asarray(np.random.default_rng(seed).integers(-9, 10, shape), np.int32)
    out_i = lax.reduce_sum(xi, axes)
    assert out_i.dtype == np.int32
    np.testing.assert_array_equal(out_i, sum_by_loop(xi, axes))


@with_fixture
@given(sa=shape_and_axes(), seed=seeds)
def test_reduce_sum_float64(x64, sa, seed):
    shape, axes = sa
    x = normal(shape, np.float64, seed)
    out = lax.reduce_sum(x, axes)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, sum_by_loop(x, axes), rtol=1e-13, atol=1e-14)


@given(case=reshape_cases(), seed=seeds)
def test_reshape_matches_numpy(case, seed):
    shape, new_sizes, dims = case
    x = normal(shape, np.float32, seed)
    out = lax.reshape(x, new_sizes, dims)
    src = x if dims is None else np.transpose(x, dims)
    _check_against(out, np.reshape(src, new_sizes), lambda v: lax.reshape(v, new_sizes, dims),
                   x)


def test_reshape_with_dimensions_to_the_original_shape():
    # the shape equals the input's, but the transposed operand must still be reshaped
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = lax.reshape(x, (2, 3), dimensions=(1, 0))
    np.testing.assert_array_equal(out, np.reshape(x.T, (2, 3)))


@given(case=transpose_cases(), seed=seeds)
def test_transpose_matches_numpy(case, seed):
    shape, perm = case
    x = normal(shape, np.float32, seed)
    out = lax.transpose(x, perm)
    _check_against(out, np.transpose(x, perm), lambda v: lax.transpose(v, perm), x)
    for idx in np.ndindex(*shape):  # out[idx permuted] == x[idx]
        assert out[tuple(idx[p] for p in perm)] == x[idx]


@given(case=squeeze_cases(), seed=seeds)
def test_squeeze_matches_numpy(case, seed):
    shape, dims = case
    x = normal(shape, np.float32, seed)
    out = lax.squeeze(x, dims)
    _check_against(out, np.squeeze(x, axis=dims), lambda v: lax.squeeze(v, dims), x)


@given(case=expand_dims_cases(), seed=seeds)
def test_expand_dims_matches_numpy(case, seed):
    shape, dims = case
    x = normal(shape, np.float32, seed)
    out = lax.expand_dims(x, dims)
    _check_against(out, np.expand_dims(x, dims), lambda v: lax.expand_dims(v, dims), x)


CONVERSIONS = [
    # (from, to, Python formula on one element)
    (np.float32, np.int32, lambda v: int(v)),  # int() truncates toward zero
    (np.float32, np.bool_, lambda v: v != 0),
    (np.int32, np.float32, float),
    (np.bool_, np.float32, float),
    (np.bool_, np.int32, int),
    (np.int32, np.bool_, lambda v: v != 0),
]


@pytest.mark.parametrize("src,dst,formula", CONVERSIONS,
                         ids=[f"{np.dtype(a).name}-{np.dtype(b).name}" for a, b, _ in CONVERSIONS])
@given(shape=shapes, seed=seeds)
def test_convert_element_type_matches_python(src, dst, formula, shape, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 4).round(1) * rng.integers(0, 2, shape)
    x = np.asarray(x > 0 if src == np.bool_ else x, src)
    out = lax.convert_element_type(x, dst)
    expected = np.array([formula(v) for v in x.ravel().tolist()], dst).reshape(shape)
    _check_against(out, expected, lambda v: lax.convert_element_type(v, dst), x)


def test_convert_element_type_canonicalizes_64_bit_types(request):
    x = np.array([1.5, -2.5], np.float32)
    assert lax.convert_element_type(x, np.float64).dtype == np.float32
    assert lax.convert_element_type(x, np.int64).dtype == np.int32
    request.getfixturevalue("x64")
    out = lax.convert_element_type(x, np.float64)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [1.5, -2.5])
    assert lax.convert_element_type(x, np.int64).dtype == np.int64


# ---------------------------------------------------------------------------
# derivatives

SHAPE_OP_CASES = {
    # name: strategy of (operand shape, function of the operand)
    "broadcast_in_dim": broadcast_cases().map(
        lambda c: (c[0], lambda v: lax.broadcast_in_dim(v, c[1], c[2]))),
    "broadcast": shapes.map(lambda shape: (shape, lambda v: lax.broadcast(v, (2,)))),
    "reduce_sum": shape_and_axes().map(lambda c: (c[0], lambda v: lax.reduce_sum(v, c[1]))),
    "reshape": reshape_cases().map(lambda c: (c[0], lambda v: lax.reshape(v, c[1], c[2]))),
    "transpose": transpose_cases().map(lambda c: (c[0], lambda v: lax.transpose(v, c[1]))),
    "squeeze": squeeze_cases().map(lambda c: (c[0], lambda v: lax.squeeze(v, c[1]))),
    "expand_dims": expand_dims_cases().map(
        lambda c: (c[0], lambda v: lax.expand_dims(v, c[1]))),
}


@pytest.mark.parametrize("op", sorted(SHAPE_OP_CASES))
@with_fixture
@given(data=st.data(), seed=seeds)
def test_shape_op_grads_float64(x64, op, data, seed):
    shape, fn = data.draw(SHAPE_OP_CASES[op])
    x = normal(shape, np.float64, seed)
    check_grads(fn, (x,), order=2, modes=("fwd", "rev"))
    # inside a nonlinear function the transposes route non-constant cotangents
    check_grads(lambda v: lax.sin(fn(lax.mul(v, v))), (x,), order=2, modes=("fwd", "rev"))


FLOAT32_CASES = {
    "broadcast_in_dim": ((3, 1), lambda v: lax.broadcast_in_dim(v, (2, 3, 4), (1, 2))),
    "broadcast": ((2, 3), lambda v: lax.broadcast(v, (2,))),
    "reduce_sum": ((2, 3, 2), lambda v: lax.reduce_sum(v, (0, 2))),
    "reshape": ((2, 3), lambda v: lax.reshape(v, (3, 2), (1, 0))),
    "transpose": ((2, 3, 4), lambda v: lax.transpose(v, (2, 0, 1))),
    "squeeze": ((1, 3, 1), lambda v: lax.squeeze(v, (0, -1))),
    "expand_dims": ((2, 3), lambda v: lax.expand_dims(v, (0, -1))),
}


@pytest.mark.parametrize("name", sorted(FLOAT32_CASES))
def test_shape_op_grads_float32(name):
    shape, fn = FLOAT32_CASES[name]
    x = normal(shape, np.float32)
    check_grads(fn, (x,), order=2, modes=("fwd", "rev"), **F32_FD)
    check_grads(lambda v: lax.sin(fn(lax.mul(v, v))), (x,), order=2, modes=("fwd", "rev"),
                **F32_FD)


@pytest.mark.parametrize("name", sorted(FLOAT32_CASES))
def test_shape_op_grad_programs_typecheck(name):
    shape, fn = FLOAT32_CASES[name]
    closed = ft.make_jaxpr(ft.grad(lambda v: lax.reduce_sum(lax.sin(fn(v)), None)))(
        normal(shape, np.float32))
    assert [a.str_short() for a in typecheck(closed)] == [f"f32[{','.join(map(str, shape))}]"]


@with_fixture
@given(shape=shapes, seed=seeds)
def test_convert_float32_to_float64_grads(x64, shape, seed):
    x = normal(shape, np.float32, seed)
    check_grads(lambda v: lax.convert_element_type(v, np.float64), (x,), order=2, **F32_FD)
    check_grads(lambda v: lax.exp(lax.convert_element_type(v, np.float64)), (x,), order=2,
                **F32_FD)


def test_convert_float64_to_float32_grads(x64):
    x = normal((2, 3), np.float64)
    # the float32 output limits finite differences to about 1e-7 / eps: loosen the tolerance
    check_grads(lambda v: lax.sin(lax.convert_element_type(v, np.float32)), (x,), order=2,
                atol=1e-3, rtol=1e-3, eps=1e-3)


def test_convert_cotangent_has_the_input_dtype(x64):
    x = normal((3,), np.float32)

    def f(v):
        return lax.reduce_sum(lax.sin(lax.convert_element_type(v, np.float64)), None)

    g = ft.grad(f)(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, np.cos(x.astype(np.float64)), rtol=1e-6)
    assert [a.str_short() for a in typecheck(ft.make_jaxpr(ft.grad(f))(x))] == ["f32[3]"]


def test_convert_to_int_has_zero_gradient():
    x = np.array([0.4, 1.6, -2.3], np.float32)

    def f(v):
        as_int = lax.convert_element_type(v, np.int32)
        return lax.reduce_sum(lax.convert_element_type(as_int, np.float32), None)

    np.testing.assert_array_equal(ft.grad(f)(x), np.zeros(3))
    _, t = ft.jvp(lambda v: lax.convert_element_type(v, np.int32), (x,), (np.ones(3),))
    assert not np.any(t)


def test_broadcast_in_dim_transpose_sums_broadcast_and_unit_axes():
    # operand (3, 1) -> (2, 3, 4): cotangent summed over axis 0 (new) and axis 2 (unit)
    x = normal((3, 1), np.float32)
    ct = normal((2, 3, 4), np.float32, seed=1)
    _, vjp_fun = ft.vjp(lambda v: lax.broadcast_in_dim(v, (2, 3, 4), (1, 2)), x)
    (g,) = vjp_fun(ct)
    assert g.shape == (3, 1)
    np.testing.assert_allclose(g, ct.astype(np.float64).sum(axis=(0, 2))[:, None], rtol=1e-6)


# ---------------------------------------------------------------------------
# errors

@pytest.mark.parametrize("operand,shape,dims,fragment", [
    ((3,), (2, 4), (1,), "operand of shape (3,) to (2, 4) with broadcast_dimensions=(1,)"),
    ((2, 3), (3, 2), (1, 0), "strictly increasing"),
    ((3,), (2, 3), (), "broadcast_dimensions=()"),
    ((3,), (3,), (1,), "broadcast_dimensions=(1,)"),
    ((), (-1,), (), "negative dimension"),
], ids=["size", "order", "count", "range", "negative"])
def test_broadcast_in_dim_rejects_bad_dims(operand, shape, dims, fragment):
    with pytest.raises(ShapeError) as e:
        lax.broadcast_in_dim(np.ones(operand, np.float32), shape, dims)
    assert fragment in str(e.value)


def test_reshape_size_mismatch():
    with pytest.raises(ShapeError) as e:
        lax.reshape(np.ones((2, 3), np.float32), (4, 2))
    msg = str(e.value)
    assert "(2, 3)" in msg and "size 6" in msg and "(4, 2)" in msg
    with pytest.raises(ShapeError, match=r"\(-1, 6\)"):
        lax.reshape(np.ones((2, 3), np.float32), (-1, 6))


@pytest.mark.parametrize("perm", [(0, 0), (0,), (0, 2), (1, 0, 2)])
def test_transpose_bad_permutation(perm):
    with pytest.raises(ShapeError) as e:
        lax.transpose(np.ones((2, 3), np.float32), perm)
    assert f"permutation {perm}" in str(e.value) and "(2, 3)" in str(e.value)


def test_squeeze_of_a_non_unit_axis():
    with pytest.raises(ShapeError) as e:
        lax.squeeze(np.ones((2, 1), np.float32), (0,))
    assert "axis 0 of shape (2, 1) has size 2, not 1" in str(e.value)


@pytest.mark.parametrize("call,fragment", [
    (lambda x: lax.squeeze(x, (2,)), "squeeze: axis 2 is out of bounds for an array of rank 2"),
    (lambda x: lax.reduce_sum(x, (-3,)), "reduce_sum: axis -3 is out of bounds"),
    (lambda x: lax.reduce_sum(x, (0, -2)), "repeated axis in (0, -2)"),
    (lambda x: lax.expand_dims(x, (4,)), "expand_dims: axis 4 is out of bounds"),
    (lambda x: lax.expand_dims(x, (0, 0)), "repeated axis in (0, 0)"),
], ids=["squeeze", "reduce_sum", "reduce_sum-repeated", "expand_dims", "expand_dims-repeated"])
def test_axis_errors(call, fragment):
    with pytest.raises(ShapeError) as e:
        call(np.ones((1, 3), np.float32))
    assert fragment in str(e.value)


def test_convert_element_type_unknown_dtype():
    with pytest.raises(DTypeError, match="unknown dtype 'no-such-type'"):
        lax.convert_element_type(np.ones(2, np.float32), "no-such-type")


# ---------------------------------------------------------------------------
# printing, no-op shortcuts and weak types

X23 = np.ones((2, 3), np.float32)


def test_convert_element_type_prints_its_params():
    text = str(ft.make_jaxpr(lambda x: lax.convert_element_type(x, np.int32))(X23))
    assert "b:i32[2,3] = convert_element_type[new_dtype=int32 weak_type=False] a" in text


@pytest.mark.parametrize("fn,eqn", [
    (lambda x: lax.broadcast_in_dim(x, (4, 2, 3), (1, 2)),
     "b:f32[4,2,3] = broadcast_in_dim[broadcast_dimensions=(1, 2)] a"),
    (lambda x: lax.reshape(x, (3, 2)),
     "b:f32[3,2] = reshape[dimensions=None new_sizes=(3, 2) sharding=None] a"),
    (lambda x: lax.transpose(x, (1, 0)), "b:f32[3,2] = transpose[permutation=(1, 0)] a"),
    (lambda x: lax.reduce_sum(x, (-1,)), "b:f32[2] = reduce_sum[axes=(1,) out_sharding=None] a"),
    (lambda x: lax.expand_dims(x, (-1,)), "b:f32[2,3,1] = expand_dims[dimensions=(2,)] a"),
], ids=["broadcast_in_dim", "reshape", "transpose", "reduce_sum", "expand_dims"])
def test_shape_ops_print_normalized_params(fn, eqn):
    assert eqn in str(ft.make_jaxpr(fn)(X23))


@pytest.mark.parametrize("fn", [
    lambda x: lax.broadcast_in_dim(x, (2, 3), (0, 1)),
    lambda x: lax.reshape(x, (2, 3)),
    lambda x: lax.transpose(x, (0, 1)),
    lambda x: lax.reduce_sum(x, ()),
    lambda x: lax.squeeze(x, ()),
    lambda x: lax.expand_dims(x, ()),
    lambda x: lax.convert_element_type(x, np.float32),
], ids=["broadcast_in_dim", "reshape", "transpose", "reduce_sum", "squeeze", "expand_dims",
        "convert_element_type"])
def test_identity_shape_ops_stage_no_equation(fn):
    assert ft.make_jaxpr(fn)(X23).eqns == []


def test_convert_element_type_makes_weak_values_strong():
    closed = ft.make_jaxpr(lambda x: lax.convert_element_type(x, np.float32))(1.0)
    assert closed.in_avals[0].weak_type
    assert "convert_element_type[new_dtype=float32 weak_type=False]" in str(closed)
    assert not closed.out_avals[0].weak_type
    out = lax.convert_element_type(2.0, np.float32)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32


def test_shape_ops_keep_weak_types():
    closed = ft.make_jaxpr(lambda x: lax.reduce_sum(lax.broadcast_in_dim(x, (2, 3), ()),
                                                    (0,)))(1.0)
    assert [a.weak_type for a in closed.out_avals] == [True]
