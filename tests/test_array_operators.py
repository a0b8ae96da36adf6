"""Operators on concrete functrace Arrays follow JAX's dtype rules (x64 off): from JAX's
type-promotion documentation, ``int32 / 2`` is float32, ``int32 * 1.5`` float32,
``int32 + np.int64`` int32, ``bool + 1`` int32; and ``x += 1`` makes a new array."""

import operator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import functrace as ft
import functrace.numpy as fnp


@pytest.mark.parametrize("expr, dtype", [
    (lambda: fnp.arange(3) / 2, np.float32),
    (lambda: fnp.arange(3) * 1.5, np.float32),
    (lambda: fnp.arange(3) + np.int64(1), np.int32),
    (lambda: fnp.ones(3, bool) + 1, np.int32),
    (lambda: fnp.ones(3, np.float16) + np.float32(1), np.float32),
    (lambda: fnp.ones(3, np.float16) * 2.0, np.float16),
    (lambda: np.ones(3) + fnp.ones(3), np.float32),  # a float64 ndarray joins as float32
    (lambda: 2 - fnp.arange(3), np.int32),
    (lambda: fnp.ones(3, np.uint8) + fnp.ones(3, np.int8), np.int16),
    (lambda: fnp.ones(3, np.int32) + 1j, np.complex64),
])
def test_result_dtypes_are_jaxs(expr, dtype):
    out = expr()
    assert isinstance(out, ft.Array) and out.dtype == dtype


OPS = [operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv,
       operator.mod, operator.pow, operator.and_, operator.or_, operator.xor, operator.lt,
       operator.le, operator.gt, operator.ge, operator.eq, operator.ne]
FNP = {operator.add: fnp.add, operator.sub: fnp.subtract, operator.mul: fnp.multiply,
       operator.truediv: fnp.true_divide, operator.floordiv: fnp.floor_divide,
       operator.mod: fnp.remainder, operator.pow: fnp.power, operator.and_: fnp.bitwise_and,
       operator.or_: fnp.bitwise_or, operator.xor: fnp.bitwise_xor, operator.lt: fnp.less,
       operator.le: fnp.less_equal, operator.gt: fnp.greater, operator.ge: fnp.greater_equal,
       operator.eq: fnp.equal, operator.ne: fnp.not_equal}
DTYPES = [np.bool_, np.int8, np.uint8, np.int32, np.float16, np.float32]


@settings(max_examples=120, deadline=None)
@given(op=st.sampled_from(OPS), dt=st.sampled_from(DTYPES),
       other=st.sampled_from(["int", "float", "array_i32", "array_f32", "np_f64", "np_i64"]),
       reflected=st.booleans(), seed=st.integers(0, 999))
def test_operators_agree_with_functrace_numpy(op, dt, other, reflected, seed):
    rng = np.random.default_rng(seed)
    a = fnp.asarray((rng.integers(1, 5, 4)).astype(dt))
    b = {"int": 2, "float": 1.5, "array_i32": fnp.asarray(np.int32([1, 2, 3, 1])),
         "array_f32": fnp.asarray(np.float32([0.5, 2, 3, 1])), "np_f64": np.float64(2.0),
         "np_i64": np.int64(3)}[other]
    if reflected and isinstance(b, np.generic):
        # a NumPy scalar on the left runs NumPy's own operator before ours (NumPy never
        # defers to an ndarray subclass); documented in numpy/_array_ops.py
        reflected = False
    x, y = (b, a) if reflected else (a, b)
    try:
        want = FNP[op](x, y)
    except Exception as e:  # noqa: BLE001 - the operator must fail alike
        with pytest.raises(type(e)):
            op(x, y)
        return
    got = op(x, y)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64),
                               rtol=1e-3 if want.dtype == np.float16 else 1e-6)


def test_in_place_operators_rebind_and_leave_the_buffer():
    x = fnp.ones(3)
    alias = x
    x += 1
    assert x.dtype == np.float32 and np.array_equal(x, [2, 2, 2])
    assert np.array_equal(alias, [1, 1, 1])
    i = fnp.arange(3)
    i *= 1.5  # NumPy would refuse to cast float64 into int32 in place; JAX makes a float
    assert i.dtype == np.float32 and np.allclose(i, [0, 1.5, 3])


def test_zero_dim_results_stay_arrays_and_tracers_still_trace():
    out = fnp.asarray(2.0) * 3
    assert isinstance(out, ft.Array) and isinstance(out, np.ndarray) and out.shape == ()
    c = fnp.arange(3.0)
    assert "mul" in str(ft.make_jaxpr(lambda x: c * x)(1.0))
    np.testing.assert_allclose(ft.grad(lambda x: (c * x).sum())(1.0), 3.0)


def test_strict_promotion_is_still_enforced():
    with ft.numpy_dtype_promotion("strict"), pytest.raises(ft.FunctraceError):
        fnp.ones(2, np.float32) + fnp.ones(2, np.int32)


EAGER_BINARY = ["add", "subtract", "multiply", "maximum", "minimum", "equal", "not_equal",
                "less", "less_equal", "greater", "greater_equal"]
EAGER_UNARY = ["exp", "log", "log1p", "expm1", "sqrt", "tanh", "sin", "cos", "tan", "sinh",
               "cosh", "arctanh", "exp2"]


@settings(max_examples=80, deadline=None)
@given(name=st.sampled_from(EAGER_BINARY + EAGER_UNARY), dt=st.sampled_from(DTYPES),
       other=st.sampled_from(["int", "float", "array_i32", "array_f32", "np_f64", "row"]),
       seed=st.integers(0, 999))
def test_eager_shortcuts_give_the_general_paths_bits(name, dt, other, seed):
    # fnp's elementwise functions take a NumPy shortcut on concrete arrays; the general
    # path (forced by a non-default rank-promotion setting that changes nothing here)
    # must give the same dtype and bits
    rng = np.random.default_rng(seed)
    a = fnp.asarray(((rng.random((3, 4)) - 0.3) * 4).astype(dt))
    b = {"int": 2, "float": 0.75, "array_i32": np.int32([[1, 2, 3, 4]] * 3),
         "array_f32": rng.random((3, 4)).astype(np.float32), "np_f64": np.float64(1.5),
         "row": rng.random(4).astype(np.float32)}[other]
    fn = getattr(fnp, name)
    args = (a, b) if name in EAGER_BINARY else (a,)
    with np.errstate(all="ignore"):
        fast = fn(*args)
        with ft.numpy_rank_promotion("warn"):
            slow = fn(*args)
    assert fast.dtype == slow.dtype and fast.shape == slow.shape
    assert np.array_equal(np.asarray(fast), np.asarray(slow), equal_nan=True)


def test_operations_on_constants_are_staged_under_make_jaxpr():
    # JAX records an operation on closed-over constants as an equation of the program;
    # the eager NumPy shortcuts must not fold it into a constant while tracing
    c = np.arange(4.0, dtype=np.float32)
    ca = fnp.asarray(c)
    for f, prim in ((lambda x: x + fnp.exp(c), "exp"), (lambda x: x + ca * ca, "mul"),
                    (lambda x: x + fnp.multiply(c, 2.0), "mul"),
                    (lambda x: x + (ca > 1.0), "gt")):
        jaxpr = ft.make_jaxpr(f)(np.float32(1.0)).jaxpr
        assert prim in [e.primitive.name for e in jaxpr.eqns], jaxpr
    # eagerly, the same expressions still give NumPy's values
    np.testing.assert_array_equal(fnp.exp(c), np.exp(c))
    np.testing.assert_array_equal(ca * ca, c * c)


def test_sort_argsort_take_methods_follow_jax():
    # NumPy's ndarray.sort sorts in place and returns None; jax.Array.sort returns a sorted
    # copy and leaves the (immutable) array alone. argsort is stable; take fills out of range
    x = fnp.asarray(np.array([3.0, 1.0, 2.0, 1.0], np.float32))
    before = np.array(x)
    y = x.sort()
    np.testing.assert_array_equal(y, np.sort(before))
    np.testing.assert_array_equal(x, before)
    np.testing.assert_array_equal(x.argsort(), np.argsort(before, kind="stable"))
    got = x.take(np.array([0, 5]))
    assert got[0] == 3.0 and np.isnan(got[1])


def test_index_and_trace_methods_have_jax_dtypes():
    # jax.Array's index results are int32 (without x64) and so is the trace of an int32
    x = fnp.asarray(np.arange(9, dtype=np.int32).reshape(3, 3))
    assert x.trace().dtype == np.int32 and int(x.trace()) == 12
    rows, cols = x.nonzero()
    assert rows.dtype == np.int32
    np.testing.assert_array_equal(rows, np.nonzero(np.arange(9).reshape(3, 3))[0])
    assert x.ravel().searchsorted(4).dtype == np.int32


@pytest.mark.parametrize("fn", [
    np.sort, np.unique, np.median, lambda a: np.percentile(a, 30.0),
    lambda a: np.partition(a, 2), np.argsort, np.nonzero, lambda a: np.take(a, [0, 2]),
    lambda a: np.isin(a, [1.0, 3.0]), lambda a: np.intersect1d(a, [1.0, 5.0]),
])
def test_numpy_functions_on_arrays_give_numpy_results(fn):
    # NumPy's functions call methods on their argument (np.sort copies, then calls .sort()
    # in place); on an Array they must still compute NumPy's answer and not mutate it
    plain = np.array([5.0, 1.0, 3.0, 1.0, 4.0], np.float32)
    x = fnp.asarray(plain.copy())
    got, want = fn(x), fn(plain)
    for g, w in zip(got if isinstance(got, tuple) else (got,),
                    want if isinstance(want, tuple) else (want,), strict=True):
        np.testing.assert_array_equal(np.asarray(g), w)
        assert np.asarray(g).dtype == np.asarray(w).dtype
    np.testing.assert_array_equal(x, plain)


def test_runtime_methods_of_jax_array():
    # jax.Array's runtime API on a host result: ready, on the first CPU device, one shard
    x = fnp.arange(6.0).reshape(2, 3)
    assert x.block_until_ready() is x and x.is_ready()
    cpu = ft.devices("cpu")[0]
    assert x.device == cpu and x.devices() == {cpu}
    s = x.sharding
    assert s.device_set == {cpu} and s.is_fully_replicated and s.is_fully_addressable
    assert s.shard_shape(x.shape) == (2, 3) and s.num_devices == 1
    assert x.aval.shape == (2, 3) and x.aval.dtype == np.float32 and not x.weak_type
    assert x.on_device_size_in_bytes() == 24
    c = x.clone()
    assert c is not x
    np.testing.assert_array_equal(c, x)
    # a sharding is a device_put target, as in JAX
    y = ft.device_put(np.ones(2, np.float32), s)
    np.testing.assert_array_equal(y, np.ones(2))
    with pytest.raises(ft.errors.FunctraceError, match="device_put"):
        ft.device_put(np.ones(2), "cpu")


def test_out_of_range_indices_clamp_as_in_jax():
    # JAX's sharp bits: "for retrieval operations out-of-bounds indices are clamped";
    # eager Arrays agree with jit (NumPy would raise IndexError)
    x = fnp.arange(5.0)
    m = fnp.arange(6.0).reshape(2, 3)
    assert float(x[7]) == 4.0 and float(x[-9]) == 0.0
    np.testing.assert_array_equal(x[np.array([0, 9])], [0.0, 4.0])
    np.testing.assert_array_equal(m[5], [3.0, 4.0, 5.0])
    assert float(m[1, -7]) == 3.0
    assert float(ft.jit(lambda v: v[7])(x)) == float(x[7])


def test_traced_values_have_the_array_methods_of_jax_array():
    # mT, copy, compress, choose, argpartition, view, itemsize, nbytes under jit, checked
    # against NumPy's methods on the same values
    a = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    keep = np.array([True, False])

    def f(x):
        assert x.itemsize == 4 and x.nbytes == 24  # static, from the aval
        return x.mT, x.copy(), x.compress(keep, axis=0), x.view(np.int32)

    for got, want in zip(ft.jit(f)(a), (a.T, a, a.compress(keep, axis=0), a.view(np.int32)),
                         strict=True):
        np.testing.assert_array_equal(got, want)
    part = ft.jit(lambda x: x.argpartition(1))(np.array([3.0, 1.0, 2.0], np.float32))
    assert int(part[1]) == 2  # the second smallest sits at position 1
    idx = np.array([0, 1, 0])
    choices = [np.arange(3.0, dtype=np.float32), np.arange(3.0, dtype=np.float32) + 10]
    np.testing.assert_array_equal(ft.jit(lambda i: i.choose(choices))(idx), idx.choose(choices))


def test_iteration_stops_at_the_end_despite_clamped_indexing():
    x = fnp.arange(3.0)
    assert [float(v) for v in x] == [0.0, 1.0, 2.0]
    assert [v.shape for v in fnp.ones((2, 3))] == [(3,), (3,)]
    with pytest.raises(TypeError):
        iter(fnp.asarray(1.0))
