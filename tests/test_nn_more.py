"""The added jax.nn functions against their formulas (NumPy, float64), gradients against
finite differences, and dot_product_attention against a loop reference with masks, GQA,
causal and local windows."""

import math

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import nn
from functrace.test_util import check_grads

X = np.linspace(-3, 3, 13)


def _softplus(x):
    return np.log1p(np.exp(-abs(x))) + np.maximum(x, 0)


REFERENCES = {
    "mish": lambda x: x * np.tanh(_softplus(x)),
    "hard_sigmoid": lambda x: np.clip(x + 3, 0, 6) / 6,
    "hard_silu": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "hard_swish": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "sparse_plus": lambda x: np.where(x <= -1, 0, np.where(x >= 1, x, (x + 1) ** 2 / 4)),
    "sparse_sigmoid": lambda x: np.where(x <= -1, 0, np.where(x >= 1, 1, (x + 1) / 2)),
    "squareplus": lambda x: (x + np.sqrt(x * x + 4)) / 2,
    "identity": lambda x: x,
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_activation_values(name, x64):
    np.testing.assert_allclose(getattr(nn, name)(X), REFERENCES[name](X), rtol=1e-12,
                               atol=1e-15)


def test_log1mexp_and_logmeanexp(x64):
    x = np.array([1e-8, 1e-3, 0.5, math.log(2.0), 3.0, 40.0])
    # log(1 - e^-x): log1p(-e^-x) above log 2, log(-expm1(-x)) below (both exact forms)
    want = np.array([math.log1p(-math.exp(-v)) if v > math.log(2.0) else
                     math.log(-math.expm1(-v)) for v in x])
    np.testing.assert_allclose(nn.log1mexp(x), want, rtol=1e-12)
    y = np.array([[0.0, 1.0, 2.0], [5.0, 5.0, 5.0]])
    np.testing.assert_allclose(nn.logmeanexp(y, axis=1), np.log(np.mean(np.exp(y), 1)))
    np.testing.assert_allclose(nn.logmeanexp(y), np.log(np.mean(np.exp(y))))
    w = np.array([[True, False, True], [True, True, True]])
    np.testing.assert_allclose(nn.logmeanexp(y, axis=1, where=w),
                               [np.log(np.mean(np.exp([0.0, 2.0]))), 5.0])


def test_gradients(x64):
    smooth = np.array([-2.5, -0.4, 0.3, 1.7])  # away from the kinks at -3, -1, 1, 3
    for name in ("mish", "hard_silu", "sparse_plus", "squareplus"):
        check_grads(getattr(nn, name), (smooth,), order=2)
    check_grads(nn.log1mexp, (np.array([0.3, 0.5, 2.0, 9.0]),), order=2)


def _attention_reference(q, k, v, bias=None, mask=None, scale=None, causal=False,
                         window=None):
    b, t, n, h = q.shape
    s, kh = k.shape[1], k.shape[2]
    scale = 1 / math.sqrt(h) if scale is None else scale
    out = np.zeros_like(q)
    for bi in range(b):
        for ni in range(n):
            kv = ni // (n // kh)
            logits = q[bi, :, ni] @ k[bi, :, kv].T * scale
            if bias is not None:
                logits = logits + bias[bi, ni]
            keep = np.ones((t, s), bool)
            if mask is not None:
                keep &= mask[bi, ni]
            if causal:
                keep &= np.tri(t, s, dtype=bool)
            if window is not None:
                i, j = np.indices((t, s))
                keep &= (j >= i - window[0]) & (j <= i + window[1])
            logits = np.where(keep, logits, -1e30)
            p = np.exp(logits - logits.max(-1, keepdims=True))
            p /= p.sum(-1, keepdims=True)
            out[bi, :, ni] = p @ v[bi, :, kv]
    return out


def test_dot_product_attention_matches_reference(rng):
    b, t, s, n, kh, h = 2, 4, 5, 4, 2, 3
    q = rng.standard_normal((b, t, n, h)).astype(np.float32)
    k = rng.standard_normal((b, s, kh, h)).astype(np.float32)
    v = rng.standard_normal((b, s, kh, h)).astype(np.float32)
    bias = rng.standard_normal((b, n, t, s)).astype(np.float32)
    mask = rng.random((b, n, t, s)) < 0.8
    mask[..., 0] = True  # no row fully masked
    tol = dict(rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(nn.dot_product_attention(q, k, v),
                               _attention_reference(q, k, v), **tol)
    np.testing.assert_allclose(nn.dot_product_attention(q, k, v, bias, mask, scale=0.3),
                               _attention_reference(q, k, v, bias, mask, 0.3), **tol)
    np.testing.assert_allclose(nn.dot_product_attention(q, k[:, :4], v[:, :4], is_causal=True),
                               _attention_reference(q, k[:, :4], v[:, :4], causal=True), **tol)
    np.testing.assert_allclose(
        nn.dot_product_attention(q, k, v, local_window_size=(1, 0)),
        _attention_reference(q, k, v, window=(1, 0)), **tol)
    lens = np.array([3, 5], np.int32)
    kv_mask = np.arange(s)[None, None, None, :] < lens[:, None, None, None]
    np.testing.assert_allclose(
        nn.dot_product_attention(q, k, v, key_value_seq_lengths=lens),
        _attention_reference(q, k, v, mask=np.broadcast_to(kv_mask, (b, n, t, s))), **tol)
    # unbatched inputs, jit and grads
    np.testing.assert_allclose(nn.dot_product_attention(q[0], k[0], v[0]),
                               _attention_reference(q, k, v)[0], **tol)
    jitted = ft.jit(lambda q, k, v: nn.dot_product_attention(q, k, v, is_causal=True))
    np.testing.assert_allclose(jitted(q, k[:, :4], v[:, :4]),
                               _attention_reference(q, k[:, :4], v[:, :4], causal=True), **tol)


def test_dot_product_attention_gradients(rng):
    # the softmax runs in float32 (as JAX's), so the check uses float32 tolerances
    q = rng.standard_normal((1, 3, 2, 2)).astype(np.float32)
    k = rng.standard_normal((1, 3, 1, 2)).astype(np.float32)
    v = rng.standard_normal((1, 3, 1, 2)).astype(np.float32)
    check_grads(lambda q, k, v: nn.dot_product_attention(q, k, v, is_causal=True), (q, k, v),
                order=1, atol=2e-2, rtol=2e-2)
    assert fnp.shape(nn.dot_product_attention(q, k, v)) == (1, 3, 2, 2)
