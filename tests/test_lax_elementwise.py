"""Elementwise lax primitives: reference impls against independent formulas, derivatives
with ``check_grads``, zero gradients of the non-differentiable ones, errors, printing and
the weak-type rule."""

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


@st.composite
def binary_shapes(draw):
    """Operand shapes lax binary ops accept: equal, or one of them rank 0."""
    shape = draw(shapes)
    kind = draw(st.sampled_from(["equal", "x_rank0", "y_rank0"]))
    return {"equal": (shape, shape), "x_rank0": ((), shape), "y_rank0": (shape, ())}[kind]


seeds = st.integers(0, 2**16)


# ---------------------------------------------------------------------------
# input domains (float64 values; callers cast). Each keeps its function smooth under the
# finite-difference perturbations of check_grads (about 1e-2 in float32).

def normal(rng, shape):
    return rng.standard_normal(shape)


def positive(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


def away_from_zero(rng, shape):
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.5, 1.5, shape)


def unit_interval(rng, shape):
    return rng.uniform(-0.9, 0.9, shape)


def _full(sx, sy):
    return sx or sy


def pair_no_ties(rng, sx, sy):
    """x and y at least 0.3 apart everywhere (max/min are smooth there)."""
    gap = 0.6 * away_from_zero(rng, _full(sx, sy))  # |gap| in [0.3, 0.9]
    if sx == ():
        x = normal(rng, ())
        return x, x + gap
    y = normal(rng, sy)
    return y + gap, y


def pair_fmod(rng, sx, sy):
    """x / y has a fractional part in [0.3, 0.7] (fmod is smooth there)."""
    q = rng.choice([-1.0, 1.0], size=_full(sx, sy)) * (rng.integers(0, 2, _full(sx, sy))
                                                       + rng.uniform(0.3, 0.7, _full(sx, sy)))
    if sx == () and sy != ():
        x = rng.choice([-1.0, 1.0]) * rng.uniform(1.0, 2.0)
        return np.asarray(x), x / q
    y = away_from_zero(rng, sy)
    return y * q, y


def independent(gx, gy):
    return lambda rng, sx, sy: (gx(rng, sx), gy(rng, sy))


# ---------------------------------------------------------------------------
# reference impls vs formulas computed element by element with Python's math

def elementwise_ref(fn, *arrays, dtype):
    """Applies the Python-scalar function ``fn`` to every element (NumPy-broadcast)."""
    bs = np.broadcast_arrays(*[np.asarray(a) for a in arrays])
    flat = [b.ravel().tolist() for b in bs]
    out = [fn(*vals) for vals in zip(*flat, strict=True)]
    return np.array(out, dtype=dtype).reshape(bs[0].shape)


UNARY_FLOAT = {
    # name: (python formula, domain)
    "neg": (lambda x: -x, normal),
    "abs": (math.fabs, normal),
    "sign": (lambda x: float((x > 0) - (x < 0)), normal),
    "floor": (math.floor, lambda r, s: 3 * normal(r, s)),
    "ceil": (math.ceil, lambda r, s: 3 * normal(r, s)),
    "exp": (math.exp, normal),
    "log": (math.log, positive),
    "log1p": (math.log1p, lambda r, s: r.uniform(-0.9, 2.0, s)),
    "expm1": (math.expm1, normal),
    "sqrt": (math.sqrt, positive),
    "rsqrt": (lambda x: 1 / math.sqrt(x), positive),
    "tanh": (math.tanh, lambda r, s: 3 * normal(r, s)),
    "logistic": (lambda x: 1 / (1 + math.exp(-x)), lambda r, s: 5 * normal(r, s)),
    "sin": (math.sin, lambda r, s: 3 * normal(r, s)),
    "cos": (math.cos, lambda r, s: 3 * normal(r, s)),
    "erf": (math.erf, lambda r, s: 2 * normal(r, s)),
}

# (rtol, atol) of a primitive's output against the float64 formula, by dtype
REF_TOL = {np.float32: (2e-6, 1e-6), np.float64: (1e-13, 1e-15)}


def _run_unary_ref(name, shape, seed, dtype):
    formula, domain = UNARY_FLOAT[name]
    x = domain(np.random.default_rng(seed), shape).astype(dtype)
    out = getattr(lax, name)(x)
    assert out.shape == shape and out.dtype == dtype
    expected = elementwise_ref(formula, x.astype(np.float64), dtype=np.float64)
    rtol, atol = REF_TOL[dtype]
    np.testing.assert_allclose(out, expected, rtol=rtol, atol=atol)
    # the shape rule predicts what the impl produces
    (aval,) = ft.make_jaxpr(getattr(lax, name))(x).out_avals
    assert (aval.shape, aval.dtype) == (out.shape, out.dtype)


@pytest.mark.parametrize("name", sorted(UNARY_FLOAT))
@given(shape=shapes, seed=seeds)
def test_unary_float32_matches_math(name, shape, seed):
    _run_unary_ref(name, shape, seed, np.float32)


@pytest.mark.parametrize("name", sorted(UNARY_FLOAT))
@with_fixture
@given(shape=shapes, seed=seeds)
def test_unary_float64_matches_math(x64, name, shape, seed):
    _run_unary_ref(name, shape, seed, np.float64)


@pytest.mark.parametrize("dtype,lo", [(np.float32, -80.0), (np.float64, -700.0)])
def test_logistic_is_accurate_in_both_tails(x64, dtype, lo):
    # 0.5 * (tanh(x / 2) + 1) loses all relative precision for x << 0; 1 / (1 + exp(-x)) not
    x = np.linspace(lo, -lo, 4001).astype(dtype)
    expected = elementwise_ref(lambda v: 1 / (1 + math.exp(-v)), x.astype(np.float64),
                               dtype=np.float64)
    out = lax.logistic(x)
    assert out.dtype == dtype and np.all(out > 0)
    np.testing.assert_allclose(out, expected, rtol=1e-5 if dtype == np.float32 else 1e-13)


BINARY_FLOAT = {
    "add": (lambda x, y: x + y, independent(normal, normal)),
    "sub": (lambda x, y: x - y, independent(normal, normal)),
    "mul": (lambda x, y: x * y, independent(normal, normal)),
    "div": (lambda x, y: x / y, independent(normal, away_from_zero)),
    "rem": (math.fmod, pair_fmod),
    "pow": (math.pow, independent(positive, lambda r, s: 1.5 * unit_interval(r, s))),
    "max": (max, pair_no_ties),
    "min": (min, pair_no_ties),
}


def _run_binary_ref(name, sxy, seed, dtype):
    formula, domain = BINARY_FLOAT[name]
    sx, sy = sxy
    x, y = (a.astype(dtype) for a in domain(np.random.default_rng(seed), sx, sy))
    out = getattr(lax, name)(x, y)
    assert out.shape == _full(sx, sy) and out.dtype == dtype
    expected = elementwise_ref(formula, x.astype(np.float64), y.astype(np.float64),
                               dtype=np.float64)
    rtol, atol = REF_TOL[dtype]
    np.testing.assert_allclose(out, expected, rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", sorted(BINARY_FLOAT))
@given(sxy=binary_shapes(), seed=seeds)
def test_binary_float32_matches_math(name, sxy, seed):
    _run_binary_ref(name, sxy, seed, np.float32)


@pytest.mark.parametrize("name", sorted(BINARY_FLOAT))
@with_fixture
@given(sxy=binary_shapes(), seed=seeds)
def test_binary_float64_matches_math(x64, name, sxy, seed):
    _run_binary_ref(name, sxy, seed, np.float64)


def c_div(a: int, b: int) -> int:
    """C-style integer division: the quotient truncated toward zero."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def c_rem(a: int, b: int) -> int:
    """C-style remainder: the sign of the dividend (``a == b * c_div(a, b) + c_rem(a, b)``)."""
    return a - b * c_div(a, b)


def _nonzero_ints(rng, shape, bound, dtype):
    v = rng.integers(1, bound, shape) * rng.choice([-1, 1], size=shape)
    return np.asarray(v, dtype)


@given(sxy=binary_shapes(), seed=seeds)
def test_int32_div_rem_truncate_like_c(sxy, seed):
    rng = np.random.default_rng(seed)
    x = np.asarray(rng.integers(-50, 51, sxy[0]), np.int32)
    y = _nonzero_ints(rng, sxy[1], 8, np.int32)
    q, r = lax.div(x, y), lax.rem(x, y)
    assert q.dtype == r.dtype == np.int32
    np.testing.assert_array_equal(q, elementwise_ref(c_div, x, y, dtype=np.int64))
    np.testing.assert_array_equal(r, elementwise_ref(c_rem, x, y, dtype=np.int64))


@with_fixture
@given(seed=seeds)
def test_int64_div_rem_are_exact_beyond_2_pow_53(x64, seed):
    # float64 has 53 bits of mantissa: trunc(x / y) in floating point is off for these
    rng = np.random.default_rng(seed)
    x = np.asarray(rng.integers(2**60, 2**62, 8) * rng.choice([-1, 1], 8), np.int64)
    y = _nonzero_ints(rng, 8, 1000, np.int64)
    q, r = lax.div(x, y), lax.rem(x, y)
    assert q.dtype == r.dtype == np.int64
    assert q.tolist() == [c_div(a, b) for a, b in zip(x.tolist(), y.tolist(), strict=True)]
    assert r.tolist() == [c_rem(a, b) for a, b in zip(x.tolist(), y.tolist(), strict=True)]


def test_float_rem_is_fmod_not_python_mod():
    x = np.array([5.5, -5.5, 5.5, -5.5], np.float32)
    y = np.array([2.0, 2.0, -2.0, -2.0], np.float32)
    expected = [math.fmod(a, b) for a, b in zip(x.tolist(), y.tolist(), strict=True)]
    np.testing.assert_array_equal(lax.rem(x, y), expected)


@given(sxy=binary_shapes(), seed=seeds)
def test_int32_arithmetic_matches_python(sxy, seed):
    rng = np.random.default_rng(seed)
    x = np.asarray(rng.integers(-20, 21, sxy[0]), np.int32)
    y = np.asarray(rng.integers(-20, 21, sxy[1]), np.int32)
    e = np.asarray(rng.integers(0, 4, sxy[1]), np.int32)
    cases = [(lax.add, lambda a, b: a + b, y), (lax.sub, lambda a, b: a - b, y),
             (lax.mul, lambda a, b: a * b, y), (lax.max, max, y), (lax.min, min, y),
             (lax.pow, lambda a, b: a**b, e)]
    for fn, formula, rhs in cases:
        out = fn(x, rhs)
        assert out.dtype == np.int32, fn.__name__
        np.testing.assert_array_equal(out, elementwise_ref(formula, x, rhs, dtype=np.int64),
                                      err_msg=fn.__name__)
    for fn, formula in [(lax.neg, lambda a: -a), (lax.abs, abs),
                        (lax.sign, lambda a: (a > 0) - (a < 0))]:
        np.testing.assert_array_equal(fn(x), elementwise_ref(formula, x, dtype=np.int64))


@pytest.mark.parametrize("y", [-3, -2, -1, 0, 1, 2, 3, 5])
@given(shape=shapes, seed=seeds)
def test_integer_pow_matches_repeated_product(y, shape, seed):
    x = positive(np.random.default_rng(seed), shape).astype(np.float32)
    out = lax.integer_pow(x, y)
    assert out.shape == shape and out.dtype == np.float32
    expected = elementwise_ref(lambda v: v**y, x.astype(np.float64), dtype=np.float64)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    if y >= 0:
        xi = np.asarray(np.random.default_rng(seed).integers(-5, 6, shape), np.int32)
        np.testing.assert_array_equal(lax.integer_pow(xi, y),
                                      elementwise_ref(lambda v: v**y, xi, dtype=np.int64))


COMPARISONS = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
}


@pytest.mark.parametrize("name", sorted(COMPARISONS))
@pytest.mark.parametrize("dtype", [np.float32, np.int32])
@given(sxy=binary_shapes(), seed=seeds)
def test_comparisons_match_python_and_are_bool(name, dtype, sxy, seed):
    rng = np.random.default_rng(seed)
    # few distinct values, so ties (where eq/le/ge differ from lt/gt) are common
    x = np.asarray(rng.integers(-2, 3, sxy[0]), dtype)
    y = np.asarray(rng.integers(-2, 3, sxy[1]), dtype)
    out = getattr(lax, name)(x, y)
    assert out.dtype == np.bool_ and out.shape == _full(*sxy)
    np.testing.assert_array_equal(out, elementwise_ref(COMPARISONS[name], x, y, dtype=bool))
    (aval,) = ft.make_jaxpr(getattr(lax, name))(x, y).out_avals
    assert aval.dtype == np.bool_


LOGIC = {
    "bitwise_and": (lambda a, b: a & b, lambda a, b: a and b),
    "bitwise_or": (lambda a, b: a | b, lambda a, b: a or b),
    "bitwise_xor": (lambda a, b: a ^ b, lambda a, b: a != b),
}


@pytest.mark.parametrize("name", sorted(LOGIC))
@given(sxy=binary_shapes(), seed=seeds)
def test_bitwise_ops_match_python(name, sxy, seed):
    rng = np.random.default_rng(seed)
    int_formula, bool_formula = LOGIC[name]
    x = np.asarray(rng.integers(-16, 16, sxy[0]), np.int32)
    y = np.asarray(rng.integers(-16, 16, sxy[1]), np.int32)
    out = getattr(lax, name)(x, y)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, elementwise_ref(int_formula, x, y, dtype=np.int64))
    bx, by = x > 0, y > 0
    out = getattr(lax, name)(bx, by)
    assert out.dtype == np.bool_
    np.testing.assert_array_equal(out, elementwise_ref(bool_formula, bx, by, dtype=bool))


@given(shape=shapes, seed=seeds)
def test_bitwise_not_matches_python(shape, seed):
    x = np.asarray(np.random.default_rng(seed).integers(-16, 16, shape), np.int32)
    np.testing.assert_array_equal(lax.bitwise_not(x), elementwise_ref(lambda a: ~a, x,
                                                                      dtype=np.int64))
    b = x > 0
    out = lax.bitwise_not(b)
    assert out.dtype == np.bool_
    np.testing.assert_array_equal(out, elementwise_ref(lambda a: not a, b, dtype=bool))


def test_is_finite_matches_math():
    x = np.array([0.0, -1.5, np.inf, -np.inf, np.nan, 3e38], np.float32)
    out = lax.is_finite(x)
    assert out.dtype == np.bool_
    np.testing.assert_array_equal(out, [math.isfinite(v) for v in x.tolist()])


@given(sxy=binary_shapes(), seed=seeds)
def test_select_matches_a_loop(sxy, seed):
    rng = np.random.default_rng(seed)
    pred = rng.random(sxy[0]) < 0.5  # rank 0 or the operands' shape
    a = rng.standard_normal(_full(*sxy)).astype(np.float32)
    b = rng.standard_normal(_full(*sxy)).astype(np.float32)
    out = lax.select(pred, a, b)
    expected = elementwise_ref(lambda p, u, v: u if p else v, pred, a, b, dtype=np.float32)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, expected)


def test_stop_gradient_is_the_identity():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(lax.stop_gradient(x), x)
    (out,) = ft.eval_jaxpr(ft.make_jaxpr(lax.stop_gradient)(x).jaxpr, [], x)
    np.testing.assert_array_equal(out, x)


# ---------------------------------------------------------------------------
# derivatives: check_grads (finite differences, forward and reverse, order 2)

UNARY_DIFF = {
    "neg": normal, "abs": away_from_zero, "exp": normal, "log": positive,
    "log1p": positive, "expm1": normal, "sqrt": positive, "rsqrt": positive,
    "tanh": normal, "logistic": normal, "sin": normal, "cos": normal, "erf": normal,
}


@pytest.mark.parametrize("name", sorted(UNARY_DIFF))
@with_fixture
@given(shape=shapes, seed=seeds)
def test_unary_grads_float64(x64, name, shape, seed):
    x = UNARY_DIFF[name](np.random.default_rng(seed), shape)
    check_grads(getattr(lax, name), (x,), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("name", sorted(UNARY_DIFF))
def test_unary_grads_float32(name):
    x = UNARY_DIFF[name](np.random.default_rng(0), (2, 3)).astype(np.float32)
    check_grads(getattr(lax, name), (x,), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("name", sorted(UNARY_DIFF))
def test_unary_grads_under_x64_keep_float32(x64, name):
    # constants inside the rules must not turn float32 tangents into float64 ones
    x = UNARY_DIFF[name](np.random.default_rng(0), (3,)).astype(np.float32)
    check_grads(getattr(lax, name), (x,), order=2, modes=("fwd", "rev"), **F32_FD)
    g = ft.grad(lambda v: lax.reduce_sum(getattr(lax, name)(v), (0,)))(x)
    assert g.dtype == np.float32


INTEGER_POWERS = [-3, -1, 0, 1, 2, 3]


@pytest.mark.parametrize("y", INTEGER_POWERS)
@with_fixture
@given(shape=shapes, seed=seeds)
def test_integer_pow_grads_float64(x64, y, shape, seed):
    x = positive(np.random.default_rng(seed), shape)
    check_grads(lambda v: lax.integer_pow(v, y), (x,), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("y", INTEGER_POWERS)
def test_integer_pow_grads_float32(y):
    x = positive(np.random.default_rng(0), (2, 3)).astype(np.float32)
    check_grads(lambda v: lax.integer_pow(v, y), (x,), order=2, modes=("fwd", "rev"))


BINARY_DIFF = {
    "add": independent(normal, normal),
    "sub": independent(normal, normal),
    "mul": independent(normal, normal),
    "div": independent(normal, away_from_zero),
    "rem": pair_fmod,
    "pow": independent(positive, lambda r, s: 1.5 * unit_interval(r, s)),
    "max": pair_no_ties,
    "min": pair_no_ties,
}


@pytest.mark.parametrize("name", sorted(BINARY_DIFF))
@with_fixture
@given(sxy=binary_shapes(), seed=seeds)
def test_binary_grads_float64(x64, name, sxy, seed):
    x, y = BINARY_DIFF[name](np.random.default_rng(seed), *sxy)
    check_grads(getattr(lax, name), (x, y), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("name", sorted(BINARY_DIFF))
@pytest.mark.parametrize("sxy", [((2, 3), (2, 3)), ((), (2, 3)), ((2, 3), ())],
                         ids=["equal", "x_rank0", "y_rank0"])
def test_binary_grads_float32(name, sxy):
    x, y = BINARY_DIFF[name](np.random.default_rng(0), *sxy)
    check_grads(getattr(lax, name), (x.astype(np.float32), y.astype(np.float32)), order=2,
                modes=("fwd", "rev"))


@pytest.mark.parametrize("name", sorted(BINARY_DIFF))
def test_binary_grads_with_a_python_scalar_operand(name):
    x, y = BINARY_DIFF[name](np.random.default_rng(0), (3,), ())
    c = float(y)
    check_grads(lambda v: getattr(lax, name)(v, c), (x.astype(np.float32),), order=2)


@with_fixture
@given(sxy=binary_shapes(), seed=seeds)
def test_select_grads_float64(x64, sxy, seed):
    rng = np.random.default_rng(seed)
    pred_shape = sxy[0] if sxy[0] == () else _full(*sxy)
    pred = rng.random(pred_shape) < 0.5
    a, b = normal(rng, _full(*sxy)), normal(rng, _full(*sxy))
    check_grads(lambda u, v: lax.select(pred, lax.sin(u), lax.mul(v, v)), (a, b), order=2,
                modes=("fwd", "rev"))


def test_select_grads_float32():
    rng = np.random.default_rng(0)
    pred = rng.random((2, 3)) < 0.5
    a, b = (normal(rng, (2, 3)).astype(np.float32) for _ in range(2))
    check_grads(lambda u, v: lax.select(pred, u, v), (a, b), order=2, modes=("fwd", "rev"))
    check_grads(lambda u: lax.select(np.bool_(True), u, lax.neg(u)), (a,), order=2)


@pytest.mark.parametrize("fn", [lax.max, lax.min], ids=["max", "min"])
def test_max_min_split_the_gradient_at_ties(fn):
    # JAX's convention: where x == y each operand gets half of the cotangent
    gx, gy = ft.grad(fn, argnums=(0, 1))(np.float32(1.5), np.float32(1.5))
    assert (float(gx), float(gy)) == (0.5, 0.5)


# ---------------------------------------------------------------------------
# non-differentiable primitives: zero (co)tangents

def _sum(x):
    return lax.reduce_sum(x, None)


def _as_float(b):
    return lax.convert_element_type(b, np.float32)


NON_DIFF = {
    "sign": lambda x: lax.sign(x),
    "floor": lambda x: lax.floor(x),
    "ceil": lambda x: lax.ceil(x),
    "eq": lambda x: _as_float(lax.eq(x, lax.floor(x))),
    "ne": lambda x: _as_float(lax.ne(x, 0.25)),
    "lt": lambda x: _as_float(lax.lt(x, 0.25)),
    "le": lambda x: _as_float(lax.le(x, lax.mul(x, x))),
    "gt": lambda x: _as_float(lax.gt(x, 0.25)),
    "ge": lambda x: _as_float(lax.ge(lax.exp(x), 1.0)),
    "and": lambda x: _as_float(lax.bitwise_and(lax.gt(x, -1.0), lax.lt(x, 1.0))),
    "or": lambda x: _as_float(lax.bitwise_or(lax.gt(x, 1.0), lax.lt(x, -1.0))),
    "xor": lambda x: _as_float(lax.bitwise_xor(lax.gt(x, 0.0), lax.gt(x, 1.0))),
    "not": lambda x: _as_float(lax.bitwise_not(lax.gt(x, 0.0))),
    "is_finite": lambda x: _as_float(lax.is_finite(lax.div(1.0, x))),
    "stop_gradient": lambda x: lax.stop_gradient(lax.sin(x)),
}


@pytest.mark.parametrize("name", sorted(NON_DIFF))
def test_non_differentiable_ops_have_zero_gradients(name):
    f = NON_DIFF[name]
    x = away_from_zero(np.random.default_rng(0), (2, 3)).astype(np.float32)
    g = ft.grad(lambda v: _sum(f(v)))(x)
    assert g.shape == x.shape and g.dtype == np.float32
    np.testing.assert_array_equal(g, np.zeros_like(x))
    _, t = ft.jvp(f, (x,), (np.ones_like(x),))
    np.testing.assert_array_equal(t, np.zeros(x.shape))
    _, vjp_fun = ft.vjp(f, x)
    np.testing.assert_array_equal(vjp_fun(np.ones(x.shape, np.float32))[0], np.zeros_like(x))
    # the zero also survives differentiating twice
    gg = ft.grad(lambda v: _sum(ft.grad(lambda w: _sum(f(w)))(v)))(x)
    np.testing.assert_array_equal(gg, np.zeros_like(x))


@pytest.mark.parametrize("name", sorted(COMPARISONS))
def test_comparison_outputs_are_bool_under_jvp(name):
    x = np.array([1.0, 2.0, 3.0], np.float32)
    out, t = ft.jvp(lambda v: getattr(lax, name)(v, 2.0), (x,), (np.ones_like(x),))
    assert out.dtype == np.bool_
    assert not np.any(t)


def test_stop_gradient_blocks_one_path_only():
    # d/dx [x * stop_gradient(x)] = stop_gradient(x): the other factor's path is cut
    x = np.array([1.0, -2.0, 3.0], np.float32)
    g = ft.grad(lambda v: _sum(lax.mul(v, lax.stop_gradient(v))))(x)
    np.testing.assert_allclose(g, x)
    text = str(ft.make_jaxpr(lax.stop_gradient)(x))
    assert "stop_gradient a" in text


# ---------------------------------------------------------------------------
# shape and dtype errors

def test_add_of_float32_and_int32_is_a_dtype_error():
    with pytest.raises(DTypeError) as e:
        lax.add(np.ones(3, np.float32), np.ones(3, np.int32))
    assert "f32[3]" in str(e.value) and "i32[3]" in str(e.value)
    assert "convert_element_type" in str(e.value)


def test_add_of_mismatched_shapes_is_a_shape_error():
    with pytest.raises(ShapeError) as e:
        lax.add(np.ones(3, np.float32), np.ones(4, np.float32))
    assert "(3,)" in str(e.value) and "(4,)" in str(e.value)


@pytest.mark.parametrize("name", sorted(BINARY_FLOAT) + sorted(COMPARISONS))
def test_every_binary_op_checks_shapes_and_dtypes_when_staged(name):
    fn = getattr(lax, name)
    with pytest.raises(ShapeError, match=r"\(2, 3\).*\(3, 2\)"):
        ft.make_jaxpr(fn)(np.ones((2, 3), np.float32), np.ones((3, 2), np.float32))
    if name == "pow":  # JAX's lax.pow takes an integer exponent with a float base
        with pytest.raises(DTypeError, match="f32.*c64"):
            ft.make_jaxpr(fn)(np.ones(3, np.float32), np.ones(3, np.complex64))
        return
    with pytest.raises(DTypeError, match="f32.*i32"):
        ft.make_jaxpr(fn)(np.ones(3, np.float32), np.ones(3, np.int32))


@pytest.mark.parametrize("name", ["exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "tanh",
                                  "logistic", "sin", "cos", "erf", "floor", "ceil"])
def test_float_only_ops_reject_integers(name):
    with pytest.raises(DTypeError, match=r"floating-point.*i32\[3\]"):
        getattr(lax, name)(np.arange(3, dtype=np.int32))


@pytest.mark.parametrize("call", [
    lambda: lax.bitwise_and(np.ones(2, np.float32), np.ones(2, np.float32)),
    lambda: lax.bitwise_xor(np.ones(2, np.float32), 1.0),
    lambda: lax.bitwise_not(np.ones(2, np.float32)),
    lambda: ft.make_jaxpr(lambda v: lax.bitwise_or(v, v))(np.ones(2, np.float32)),
], ids=["and", "xor", "not", "or-staged"])
def test_bitwise_ops_reject_floats_at_trace_time(call):
    with pytest.raises(DTypeError, match=r"boolean or integer.*f32\[2\]"):
        call()


@pytest.mark.parametrize("fn", [lax.neg, lax.sign], ids=["neg", "sign"])
def test_neg_and_sign_reject_booleans(fn):
    with pytest.raises(DTypeError, match="bool"):
        fn(np.array([True, False]))


def test_integer_pow_rejects_negative_powers_of_integers_when_staged():
    with pytest.raises(DTypeError, match=r"y=-1.*i32\[2\]"):
        ft.make_jaxpr(lambda v: lax.integer_pow(v, -1))(np.ones(2, np.int32))


def test_select_errors_name_the_problem():
    a, b = np.ones(3, np.float32), np.zeros(3, np.float32)
    # an integer predicate is JAX's select_n selector (tests/test_lax_conformance2.py)
    with pytest.raises(DTypeError, match="predicate must be boolean or an integer"):
        lax.select(np.ones(3, np.float32), a, b)
    with pytest.raises(DTypeError, match=r"f32\[3\] and i32\[3\]"):
        lax.select(np.ones(3, bool), a, np.zeros(3, np.int32))
    with pytest.raises(ShapeError, match=r"f32\[3\] and f32\[2\]"):
        lax.select(np.ones(3, bool), a, np.zeros(2, np.float32))
    with pytest.raises(ShapeError, match=r"predicate shape \(2,\)"):
        lax.select(np.ones(2, bool), a, b)


def test_python_scalars_of_another_dtype_are_errors():
    # JAX 0.10: a Python scalar is an array of its default dtype (int32, float32, bool) and
    # lax does not promote: 3 < 2.5 must not become 3 < 2, and f32 + 2 raises too
    with pytest.raises(DTypeError, match=r"int32, float32"):
        lax.add(np.int32(3), 2.5)
    with pytest.raises(DTypeError, match=r"int32, float32"):
        lax.lt(np.arange(3, dtype=np.int32), 2.5)
    with pytest.raises(DTypeError):
        lax.mul(np.int32(1), 2**40)
    with pytest.raises(DTypeError, match="uint8, int32"):
        lax.add(np.uint8(3), -1)
    with pytest.raises(DTypeError, match="bool"):
        lax.add(np.int32(3), True)
    with pytest.raises(DTypeError, match="float32, int32"):
        lax.add(np.float32(3), 2)
    # a scalar of the array's default dtype is fine
    assert lax.add(np.int32(3), 2).dtype == np.int32
    assert lax.add(np.float32(3), 2.0).dtype == np.float32


# ---------------------------------------------------------------------------
# printing and the weak-type rule

def test_integer_pow_prints_its_exponent():
    text = str(ft.make_jaxpr(lambda x: lax.integer_pow(x, 3))(np.ones(3, np.float32)))
    assert "b:f32[3] = integer_pow[y=3] a" in text


def test_comparison_prints_a_bool_output():
    text = str(ft.make_jaxpr(lambda x, y: lax.lt(x, y))(np.ones(2, np.float32),
                                                      np.ones(2, np.float32)))
    assert "c:bool[2] = lt a b" in text


@pytest.mark.parametrize("name", sorted(UNARY_DIFF))
def test_grad_programs_typecheck(name):
    # every equation of the staged derivative re-derives to the type it was given
    closed = ft.make_jaxpr(ft.grad(lambda v: _sum(getattr(lax, name)(v))))(
        np.ones((2, 3), np.float32))
    assert [a.str_short() for a in typecheck(closed)] == ["f32[2,3]"]


@pytest.mark.parametrize("enable_x64", [False, True])
def test_python_float_is_weak_and_keeps_float32(enable_x64, request):
    if enable_x64:
        request.getfixturevalue("x64")
    x = np.ones(3, np.float32)
    if enable_x64:  # a Python float is float64 then: JAX's lax.mul(f32, 2.0) raises
        with pytest.raises(DTypeError, match="float32, float64"):
            lax.mul(x, 2.0)
        return
    out = lax.mul(x, 2.0)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [2.0, 2.0, 2.0])
    closed = ft.make_jaxpr(lambda v: lax.mul(v, 2.0))(x)
    assert "mul a 2.0:f32[]" in str(closed)
    assert closed.out_avals[0].dtype == np.float32 and not closed.out_avals[0].weak_type


def test_numpy_scalar_with_python_int():
    """As JAX 0.10: ``lax.add(np.float32(1), 2)`` raises (the Python int is an int32 and
    lax does not promote); ``lax.add(np.float32(1), 2.0)`` is a strong float32 ``3.0``.
    Two Python scalars of different kinds are not reconciled either (``lax.add(1.0, 2)``
    is a DTypeError); functrace.numpy promotes.
    """
    with pytest.raises(DTypeError, match="float32, int32"):
        lax.add(np.float32(1), 2)
    out = lax.add(np.float32(1), 2.0)
    assert out.dtype == np.float32 and out.shape == () and float(out) == 3.0
    (aval,) = ft.make_jaxpr(lambda: lax.add(np.float32(1), 2.0))().out_avals
    assert aval.dtype == np.float32 and not aval.weak_type
    with pytest.raises(DTypeError, match=r"f32\[\] and i32\[\]"):
        lax.add(1.0, 2)


def test_two_python_floats_give_a_weak_result():
    (aval,) = ft.make_jaxpr(lambda x: lax.add(x, 2.0))(1.0).out_avals
    assert aval.dtype == np.float32 and aval.weak_type


@settings(max_examples=30, deadline=None)
@given(dtype=st.sampled_from([np.float32, np.float64, np.float16, np.int8, np.int32,
                              np.uint16, np.int64]),
       shape=st.sampled_from([(130, 130), (20000,), (4, 64, 70)]),
       density=st.floats(0.0, 1.0), kind=st.sampled_from(["arrays", "zero", "scalar"]),
       seed=st.integers(0, 2**16))
def test_large_select_is_np_where_bit_for_bit(dtype, shape, density, kind, seed):
    # large selects take a bitwise-blend path: the same bits as np.where, NaN, -0.0 and
    # infinities included, whatever the operands' layouts
    from functrace.lax.elementwise import _select_impl
    rng = np.random.default_rng(seed)
    raw = rng.standard_normal(shape) * 100
    if np.dtype(dtype).kind == "f":
        raw.flat[::7] = np.nan
        raw.flat[1::7] = -0.0
        raw.flat[2::7] = np.inf
    x = raw.astype(dtype)
    y = {"arrays": (-raw[::-1]).astype(dtype),
         "zero": np.broadcast_to(np.zeros((), dtype), shape),
         "scalar": np.broadcast_to(np.asarray(3, dtype), shape)}[kind]
    pred = rng.random(shape) < density
    got, want = _select_impl(pred, x, y), np.where(pred, x, y)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got.view(np.uint8), want.view(np.uint8))
    if np.dtype(dtype).itemsize < 8:  # (x64 is off: 64-bit inputs become 32-bit)
        assert np.array_equal(lax.select(pred, x, y).view(np.uint8), want.view(np.uint8))
