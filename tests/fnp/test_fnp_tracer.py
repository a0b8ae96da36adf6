"""Tracer operators and methods (filled in by functrace.numpy), NumPy's dispatch
protocols on tracers, and the errors for what is not supported."""

import operator

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace.core.trace import eval_closed_jaxpr
from functrace.errors import FunctraceError
from functrace.test_util import check_grads

RNG = np.random.default_rng(0)
X = RNG.uniform(0.5, 2.0, (2, 3)).astype(np.float32)
Y = RNG.uniform(0.5, 2.0, (3,)).astype(np.float32)
I = np.array([[1, -2, 3], [4, 5, -6]], np.int32)
J = np.array([3, 1, 2], np.int32)


def run_traced(f, *args):
    """Stages ``f`` with make_jaxpr and evaluates the jaxpr (so the tracer methods run)."""
    return eval_closed_jaxpr(ft.make_jaxpr(f)(*args), *args)


OPS = [operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv,
       operator.mod, operator.pow, operator.lt, operator.le, operator.gt, operator.ge,
       operator.eq, operator.ne]


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.__name__)
def test_binary_operators(op):
    got = run_traced(lambda x, y: [op(x, y), op(y, x), op(x, 2.0), op(2.0, x)], X, Y)
    want = [op(X, Y), op(Y, X), op(X, np.float32(2.0)), op(np.float32(2.0), X)]
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-5)


@pytest.mark.parametrize("op", [operator.and_, operator.or_, operator.xor, operator.floordiv,
                                operator.mod, operator.add], ids=lambda op: op.__name__)
def test_integer_operators(op):
    got = run_traced(lambda i, j: [op(i, j), op(j, i), op(i, 3), op(3, i)], I, J)
    want = [op(I, J), op(J, I), op(I, np.int32(3)), op(np.int32(3), I)]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
        assert g.dtype == np.int32


def test_unary_operators_and_matmul():
    got = run_traced(lambda x, i: [-x, +x, abs(-x), ~i, ~(i > 0), x @ x.T, x.T @ x[:, 0],
                                   np.ones((3, 2), np.float32) @ x], X, I)
    want = [-X, +X, abs(-X), ~I, ~(I > 0), X @ X.T, X.T @ X[:, 0], np.ones((3, 2)) @ X]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-5)


METHODS = [
    lambda x: x.reshape(3, 2), lambda x: x.reshape((3, 2)), lambda x: x.reshape(-1),
    lambda x: x.T, lambda x: x.transpose(), lambda x: x.transpose(1, 0),
    lambda x: x.transpose((1, 0)), lambda x: x.astype(np.int32), lambda x: x.sum(),
    lambda x: x.sum(axis=0), lambda x: x.mean(1, keepdims=True), lambda x: x.max(),
    lambda x: x.min(axis=-1), lambda x: x.prod(0), lambda x: x.var(), lambda x: x.std(1),
    lambda x: x.argmax(), lambda x: x.argmin(axis=1), lambda x: (x > 1).all(),
    lambda x: (x > 1).any(axis=0), lambda x: x[None].squeeze(), lambda x: x.flatten(),
    lambda x: x.ravel(), lambda x: x.clip(0.8, 1.5), lambda x: x.dot(x[0]),
    lambda x: x.swapaxes(0, 1), lambda x: x.cumsum(axis=1), lambda x: x[1, ::-1],
    lambda x: len(x) * x, lambda x: [row * 2.0 for row in x][1], lambda x: x.shape[0] * x,
]


@pytest.mark.parametrize("k", range(len(METHODS)))
def test_methods(k):
    f = METHODS[k]
    (got,) = run_traced(lambda x: f(x), X)
    want = np.asarray(f(X))
    assert got.shape == want.shape
    assert got.dtype == (np.int32 if want.dtype == np.int64 else want.dtype)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_jaxpr_prints_weak_scalars_inline():
    text = str(ft.make_jaxpr(lambda x: x * 2.0)(X))
    assert "mul a 2.0:f32[]" in text and "broadcast_in_dim" not in text
    text = str(ft.make_jaxpr(lambda i: i * 2.5)(I))
    assert "convert_element_type" in text and "f32[2,3] = mul" in text
    assert ft.make_jaxpr(lambda i: i * 2)(I).out_avals[0].dtype == np.int32


def test_jaxpr_of_a_small_function():
    def f(x, y):
        return fnp.sum(fnp.tanh(x @ y[:, None]) ** 2, axis=0).mean()
    text = str(ft.make_jaxpr(f)(X, Y))
    for word in ("dot_general", "tanh", "integer_pow[y=2]", "reduce_sum", "div"):
        assert word in text, text


def test_grad_through_operators(x64):
    x = RNG.uniform(0.5, 2.0, (2, 3))
    y = RNG.uniform(0.5, 2.0, (3,))

    def f(x, y):
        z = (x * y - 1.0) / (2.0 + y) + x ** 3 - 1.0 / x + x @ fnp.outer(y, y)[:, :1]
        return (fnp.sin(z) * fnp.exp(-z)).sum() + fnp.maximum(x, 1.0).mean() + x[:, ::-1].std()

    check_grads(f, (x, y), order=2)
    g = ft.grad(lambda x: (x ** 2).sum())(x)
    np.testing.assert_allclose(g, 2 * x)


def test_numpy_ufuncs_dispatch_to_fnp():
    got = run_traced(lambda x: [np.add(x, 1.0), np.exp(x), np.ones(3, np.float32) * x,
                                np.maximum(x, 1.0), np.float32(2.0) * x, np.sqrt(x)], X)
    want = [X + 1, np.exp(X), np.ones(3) * X, np.maximum(X, 1.0), 2 * X, np.sqrt(X)]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-5)
        assert g.dtype == np.float32


def test_numpy_functions_dispatch_to_fnp():
    got = run_traced(lambda x: [np.sum(x, axis=0), np.mean(x), np.reshape(x, (3, 2)),
                                np.concatenate([x, x]), np.where(x > 1, x, 0.0),
                                np.transpose(x)], X)
    want = [X.sum(0), X.mean(), X.reshape(3, 2), np.concatenate([X, X]), np.where(X > 1, X, 0),
            X.T]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-5)
    np.testing.assert_allclose(ft.grad(lambda x: np.sum(np.sin(x)))(X), np.cos(X), rtol=1e-5)


def test_numpy_linalg_and_statistics_dispatch_to_fnp():
    got = run_traced(lambda x: [np.median(x), np.linalg.norm(x), np.fft.rfft(x[0])], X)
    np.testing.assert_allclose(got[0], np.median(X), rtol=1e-6)
    np.testing.assert_allclose(got[1], np.linalg.norm(X), rtol=1e-6)
    np.testing.assert_allclose(got[2], np.fft.rfft(X[0]), rtol=1e-5, atol=1e-6)


def test_unsupported_numpy_function_on_tracer():
    with pytest.raises(FunctraceError, match="numpy.real_if_close is not supported on traced "
                                             "values; functrace.numpy has no 'real_if_close'"):
        ft.make_jaxpr(lambda x: np.real_if_close(x))(X[0])
    # NumPy's linalg functions on tracers run functrace.numpy.linalg's
    assert "eig[" in str(ft.make_jaxpr(lambda x: np.linalg.eigvals(x))(X[:, :2]))
    # NumPy's ufunc methods run functrace.numpy's (fnp.add.reduce), except the in-place at
    assert "reduce_sum" in str(ft.make_jaxpr(lambda x: np.add.reduce(x))(X))
    with pytest.raises(FunctraceError, match=r"numpy\.add\.at.*functrace\.numpy"):
        ft.make_jaxpr(lambda x: np.add.at(x, 0, 1.0))(X)
    with pytest.raises(FunctraceError, match="NumPy array"):
        ft.make_jaxpr(lambda x: np.asarray(x))(X)


def test_unknown_fnp_attribute():
    with pytest.raises(AttributeError, match="functrace.numpy has no function "
                                             r"'real_if_close' \(NumPy's numpy.real_if_close "
                                             "is not implemented yet\\)"):
        fnp.real_if_close  # noqa: B018
    with pytest.raises(AttributeError, match="has no function 'foo'"):
        fnp.foo  # noqa: B018
    assert not hasattr(fnp, "frobnicate")


def test_eager_results_are_numpy_arrays():
    for out in (fnp.add(X, 1.0), fnp.sum(X), fnp.matmul(X[0], fnp.ones(3)), fnp.exp(1.0)):
        assert isinstance(out, np.ndarray)


def test_operators_with_unrelated_types_return_notimplemented():
    results = run_traced(lambda x: [x == "a", x != None], X)  # noqa: E711
    assert results == [False, True]


def test_unsupported_ufunc_on_tracer():
    # every other NumPy ufunc has an fnp function now; isnat (datetimes) has none
    with pytest.raises(FunctraceError, match="numpy.isnat is not supported on traced values; "
                                             "functrace.numpy has no 'isnat'"):
        ft.make_jaxpr(lambda x: np.isnat(x))(X)
    np.testing.assert_allclose(run_traced(lambda x: np.arctan2(x, x + 1.0), X)[0],
                               np.arctan2(X, X + 1.0), rtol=1e-6)
    with pytest.raises(FunctraceError, match="out"):
        ft.make_jaxpr(lambda x: np.add(x, x, out=np.empty_like(X)))(X)
