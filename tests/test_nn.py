"""functrace.nn against NumPy formulas, plus gradients."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import functrace as ft
import functrace.numpy as fnp
from functrace import nn
from functrace.test_util import check_grads

X = np.array([-3.0, -1.5, -0.2, 0.3, 1.0, 2.5], np.float64)

REFERENCE = {
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.minimum(np.maximum(x, 0), 6),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "softplus": lambda x: np.log1p(np.exp(x)),
    "log_sigmoid": lambda x: -np.log1p(np.exp(-x)),
    "silu": lambda x: x / (1 + np.exp(-x)),
    "elu": lambda x: np.where(x > 0, x, np.exp(x) - 1),
    "selu": lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772
                                                     * (np.exp(x) - 1)),
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.01 * x),
    "gelu": lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))),
    "soft_sign": lambda x: x / (np.abs(x) + 1),
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_activation_matches_formula(name, x64):
    np.testing.assert_allclose(getattr(nn, name)(X), REFERENCE[name](X), rtol=1e-12)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_activation_grads(name, x64):
    check_grads(getattr(nn, name), (X,), order=2)


def test_exact_gelu_uses_erf(x64):
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in X])
    np.testing.assert_allclose(nn.gelu(X, approximate=False), exact, rtol=1e-12)


def test_relu_derivative_at_zero_is_zero():
    assert float(ft.grad(nn.relu)(0.0)) == 0.0
    assert float(ft.grad(nn.relu)(2.0)) == 1.0


@given(st.integers(1, 4), st.integers(1, 5), st.sampled_from([0, 1, -1]))
def test_softmax_and_log_softmax(n, m, axis):
    x = np.random.default_rng(n * 10 + m).standard_normal((n, m)).astype(np.float32) * 5
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    ref = e / e.sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(nn.softmax(x, axis=axis), ref, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(nn.log_softmax(x, axis=axis), np.log(ref), rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_allclose(nn.logsumexp(x, axis=axis),
                               np.log(np.exp(x.astype(np.float64)).sum(axis=axis)), rtol=1e-5)


def test_logsumexp_is_stable_and_differentiable(x64):
    x = np.array([1000.0, 1000.0])
    assert np.isclose(float(nn.logsumexp(x)), 1000 + math.log(2))
    check_grads(lambda v: nn.logsumexp(v, axis=0), (np.array([0.1, -0.3, 2.0]),), order=2)
    check_grads(lambda v: nn.log_softmax(v), (np.array([[0.1, -0.3, 2.0]]),), order=2)
    np.testing.assert_allclose(ft.grad(lambda v: nn.logsumexp(v))(X),
                               np.exp(X) / np.exp(X).sum(), rtol=1e-12)


def test_one_hot():
    out = nn.one_hot(np.array([0, 2, 1]), 3)
    np.testing.assert_array_equal(out, np.eye(3, dtype=np.float32)[[0, 2, 1]])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(nn.one_hot(np.array([1, 0]), 2, axis=0), [[0, 1], [1, 0]])
    assert not nn.one_hot(np.array([5]), 3).any()  # out of range -> all zeros, as in JAX


def test_standardize(x64):
    x = np.random.default_rng(0).standard_normal((4, 6))
    ref = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(nn.standardize(x), ref, rtol=1e-10)


def test_cross_entropy_gradient_is_softmax_minus_labels(x64):
    logits = np.random.default_rng(1).standard_normal((3, 4))
    labels = nn.one_hot(np.array([0, 3, 1]), 4, dtype=fnp.float64)

    def loss(z):
        return -fnp.sum(nn.log_softmax(z) * labels)

    e = np.exp(logits)
    np.testing.assert_allclose(ft.grad(loss)(logits), e / e.sum(-1, keepdims=True) - labels,
                               rtol=1e-10)
