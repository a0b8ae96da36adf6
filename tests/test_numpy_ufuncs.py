"""functrace.numpy's ufuncs (jax.numpy.ufunc) against NumPy's own ufunc methods, and
JAX's documented differences: at() needs inplace=False, a user ufunc with an identity
folds from it, where= needs an identity or an initial value."""

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp

NAMES = ["add", "subtract", "multiply", "maximum", "minimum", "logaddexp", "logaddexp2",
         "bitwise_and", "bitwise_or", "bitwise_xor", "logical_and", "logical_or",
         "logical_xor"]


def _operand(name, shape=(3, 4)):
    rng = np.random.default_rng(0)
    if name.startswith("bitwise"):
        return rng.integers(0, 16, shape).astype(np.int32)
    if name.startswith("logical"):
        return rng.random(shape) < 0.5
    return (rng.random(shape) + 0.5).astype(np.float32)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("axis", [0, 1, None])
def test_reduce_matches_numpy(name, axis):
    a = _operand(name)
    if axis is None and name in ("subtract",):
        return  # NumPy refuses to reorder a non-reorderable reduction over several axes
    got = getattr(fnp, name).reduce(a, axis=axis)
    want = getattr(np, name).reduce(a, axis=axis)
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64),
                               rtol=1e-5)


@pytest.mark.parametrize("name", ["add", "subtract", "multiply", "maximum", "minimum",
                                  "logaddexp", "bitwise_xor"])
def test_accumulate_matches_numpy(name):
    a = _operand(name)
    for axis in (0, 1):
        got = getattr(fnp, name).accumulate(a, axis=axis)
        want = getattr(np, name).accumulate(a, axis=axis)
        np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64),
                                   rtol=1e-5)


@pytest.mark.parametrize("name", ["add", "subtract", "multiply", "maximum", "logaddexp"])
def test_outer_and_reduceat_match_numpy(name):
    a, b = _operand(name, (3,)), _operand(name, (2, 2))
    np.testing.assert_allclose(getattr(fnp, name).outer(a, b), getattr(np, name).outer(a, b),
                               rtol=1e-6)
    x = _operand(name, (8,))
    idx = np.array([0, 4, 1, 5])
    np.testing.assert_allclose(getattr(fnp, name).reduceat(x, idx),
                               getattr(np, name).reduceat(x, idx), rtol=1e-5)


@pytest.mark.parametrize("name", ["add", "subtract", "multiply", "maximum", "minimum",
                                  "logaddexp"])
def test_at_applies_duplicates_in_turn(name):
    x = _operand(name, (5,))
    idx = np.array([0, 0, 3, 1, 3])
    b = np.float32(0.75)
    want = x.copy()
    getattr(np, name).at(want, idx, b)
    got = getattr(fnp, name).at(x, idx, b, inplace=False)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    with pytest.raises(NotImplementedError, match="inplace=False"):
        getattr(fnp, name).at(x, idx, b)


def test_unary_at_and_attributes():
    x = fnp.arange(5.0)
    want = np.arange(5.0, dtype=np.float32)
    np.negative.at(want, np.array([1, 1, 2]))
    np.testing.assert_array_equal(fnp.negative.at(x, np.array([1, 1, 2]), inplace=False), want)
    assert (fnp.add.nin, fnp.add.nout, fnp.add.identity) == (2, 1, 0)
    assert fnp.multiply.identity == 1 and fnp.maximum.identity is None
    assert isinstance(fnp.add, fnp.ufunc) and fnp.add(2, 3) == 5


def test_where_and_initial():
    a = np.arange(4)
    m = np.array([True, False, True, True])
    assert int(fnp.add.reduce(a, where=m, initial=10)) == np.add.reduce(a, where=m, initial=10)
    assert float(fnp.subtract.reduce(a.astype(np.float32), where=m, initial=10.0)) == 5.0
    with pytest.raises(ValueError, match="identity or an initial"):
        fnp.subtract.reduce(a, where=m)
    with pytest.raises(ValueError, match="no identity"):
        fnp.maximum.reduce(np.zeros((0,), np.float32))


def test_frompyfunc_folds_from_its_identity():
    f = fnp.frompyfunc(lambda a, b: a * b + 1, 2, 1, identity=1)
    # JAX: f(f(f(1, 1), 2), 3) = 16
    assert float(f.reduce(np.arange(1.0, 4.0, dtype=np.float32))) == 16.0
    g = fnp.frompyfunc(lambda a, b: a * b + 1, 2, 1)  # no identity: from the first element
    assert float(g.reduce(np.arange(1.0, 4.0, dtype=np.float32))) == 10.0


def test_ufunc_methods_trace_and_differentiate():
    x = np.array([0.0, 1.0, 2.0], np.float32)
    np.testing.assert_allclose(ft.jit(fnp.logaddexp.accumulate)(x),
                               np.logaddexp.accumulate(x), rtol=1e-6)
    e = np.exp(x[:2])
    np.testing.assert_allclose(ft.grad(lambda v: fnp.logaddexp.reduce(v))(x[:2]), e / e.sum(),
                               rtol=1e-6)
    np.testing.assert_allclose(ft.vmap(fnp.subtract.reduce)(np.arange(6.0).reshape(2, 3)),
                               [-3.0, -6.0])
    np.testing.assert_allclose(ft.jit(lambda v: np.add.reduce(v))(x), 3.0)
