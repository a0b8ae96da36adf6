"""More ``jax.nn`` activations (``mish``, ``hard_sigmoid``/``hard_silu``/``hard_swish``,
``log1mexp``, ``logmeanexp``, ``sparse_plus``/``sparse_sigmoid``, ``squareplus``,
``identity``) and ``dot_product_attention``, with JAX's formulas.
"""

from __future__ import annotations

import math

import numpy as np

from .. import numpy as fnp
from ..core.trace import get_aval
from ..errors import ShapeError
from .functions import logsumexp, relu6, softmax, softplus

__all__ = [
    "dot_product_attention", "hard_sigmoid", "hard_silu", "hard_swish", "identity",
    "log1mexp", "logmeanexp", "mish", "sparse_plus", "sparse_sigmoid", "squareplus",
]


def identity(x):
    """``x`` itself."""
    return fnp.asarray(x)


def mish(x):
    """``x * tanh(softplus(x))``.

    Example:
        >>> mish(fnp.array([0., 1.]))
        array([0.       , 0.8650984], dtype=float32)
    """
    return x * fnp.tanh(softplus(x))


def hard_sigmoid(x):
    """``relu6(x + 3) / 6``.

    Example:
        >>> hard_sigmoid(fnp.array([-4., 0., 4.]))
        array([0. , 0.5, 1. ], dtype=float32)
    """
    return relu6(fnp.asarray(x) + 3.0) / 6.0


def hard_silu(x):
    """``x * hard_sigmoid(x)`` (also ``hard_swish``).

    Example:
        >>> hard_silu(fnp.array([-4., 1., 4.]))
        array([-0.       ,  0.6666667,  4.       ], dtype=float32)
    """
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def log1mexp(x):
    """``log(1 - exp(-x))`` for ``x > 0``, accurate for small and large ``x`` (``log1p``
    above ``log 2``, ``log(-expm1)`` below, as JAX).

    Example:
        >>> log1mexp(fnp.array([1e-3, 10.]))
        array([-6.9082551e+00, -4.5400953e-05], dtype=float32)
    """
    x = fnp.asarray(x)
    big = x > math.log(2.0)
    return fnp.where(big, fnp.log1p(-fnp.exp(-fnp.where(big, x, 1.0))),
                     fnp.log(-fnp.expm1(-fnp.where(big, 1.0, x))))


def logmeanexp(x, axis=None, where=None, keepdims: bool = False):
    """``log(mean(exp(x)))`` over ``axis``, stably.

    Example:
        >>> logmeanexp(fnp.array([0., 0.]))
        array(0., dtype=float32)
    """
    x = fnp.asarray(x)
    if where is not None:
        count = fnp.sum(fnp.asarray(where, dtype=fnp.float32), axis=axis, keepdims=keepdims)
        masked = fnp.where(where, x, -np.inf)
        return logsumexp(masked, axis=axis, keepdims=keepdims) - fnp.log(count)
    n = fnp.size(x) if axis is None else int(np.prod([fnp.shape(x)[a] for a in (
        axis if isinstance(axis, tuple | list) else (axis,))]))
    return logsumexp(x, axis=axis, keepdims=keepdims) - math.log(n)


def sparse_plus(x):
    """0 below -1, ``x`` above 1, ``(x + 1)^2 / 4`` between (a smooth ReLU).

    Example:
        >>> sparse_plus(fnp.array([-2., 0., 2.]))
        array([0.  , 0.25, 2.  ], dtype=float32)
    """
    x = fnp.asarray(x)
    return fnp.where(x <= -1.0, 0.0, fnp.where(x >= 1.0, x, (x + 1.0) ** 2 / 4.0))


def sparse_sigmoid(x):
    """0 below -1, 1 above 1, ``(x + 1) / 2`` between (the derivative of ``sparse_plus``).

    Example:
        >>> sparse_sigmoid(fnp.array([-2., 0., 2.]))
        array([0. , 0.5, 1. ], dtype=float32)
    """
    x = fnp.asarray(x)
    return fnp.where(x <= -1.0, 0.0, fnp.where(x >= 1.0, 1.0, (x + 1.0) / 2.0))


def squareplus(x, b=4):
    """``(x + sqrt(x^2 + b)) / 2``.

    Example:
        >>> squareplus(fnp.array([0.]))
        array([1.], dtype=float32)
    """
    x = fnp.asarray(x)
    return (x + fnp.sqrt(x * x + b)) / 2.0


def _mask_value(dtype):
    return float(np.finfo(dtype).min) * 0.7 if np.dtype(dtype).kind == "f" else -1e9


def dot_product_attention(query, key, value, bias=None, mask=None, *, scale=None,
                          is_causal: bool = False, query_seq_lengths=None,
                          key_value_seq_lengths=None, local_window_size=None,
                          implementation=None, return_residual: bool = False):
    """Scaled dot-product attention, ``softmax(q k^T * scale + bias, masked) v``, with JAX's
    layout: ``query (B, T, N, H)``, ``key``/``value (B, S, K, H)`` with ``N`` a multiple of
    ``K`` (grouped-query attention); the batch dim may be absent. ``mask`` is boolean (True
    keeps); ``is_causal``, the sequence lengths and ``local_window_size`` add masks. The
    softmax runs in float32.

    Example:
        >>> q = k = v = fnp.ones((1, 2, 1, 4))
        >>> dot_product_attention(q, k, v).shape
        (1, 2, 1, 4)
    """
    if implementation not in (None, "xla"):
        raise ShapeError(f"dot_product_attention: implementation {implementation!r} is not "
                         "available; use None")
    if return_residual:
        raise ShapeError("dot_product_attention: return_residual=True is not supported")
    q, k, v = (fnp.asarray(t) for t in (query, key, value))
    unbatched = q.ndim == 3
    if unbatched:
        q, k, v = q[None], k[None], v[None]
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ShapeError("dot_product_attention: query, key and value must be (B, T, N, H) or "
                         f"(T, N, H), got shapes {get_aval(query).shape}, "
                         f"{get_aval(key).shape} and {get_aval(value).shape}")
    b, t, n, h = q.shape
    s, kh = k.shape[1], k.shape[2]
    if v.shape[:3] != k.shape[:3] or k.shape[0] != b or k.shape[3] != h or n % kh:
        raise ShapeError(f"dot_product_attention: incompatible shapes {q.shape}, {k.shape} "
                         f"and {v.shape}: key/value must share (B, S, K), H must match the "
                         "query's, and N must be a multiple of K")
    g = n // kh
    qg = q.reshape(b, t, kh, g, h)
    scale = 1.0 / math.sqrt(h) if scale is None else scale
    logits = fnp.einsum("btkgh,bskh->bkgts", qg, k) * scale  # (B, K, G, T, S)
    logits = logits.reshape(b, n, t, s).astype(fnp.float32)
    if bias is not None:
        bias = fnp.asarray(bias)
        bias = bias[None] if unbatched and bias.ndim == 3 else bias
        logits = logits + fnp.asarray(bias, dtype=fnp.float32)
    keep = fnp.ones((b, n, t, s), dtype=bool)
    if mask is not None:
        m = fnp.asarray(mask)
        m = m[None] if unbatched and m.ndim == 3 else m
        keep = keep & fnp.broadcast_to(m, (b, n, t, s))
    rows = fnp.arange(t)[:, None]
    cols = fnp.arange(s)[None, :]
    if is_causal:
        keep = keep & (cols <= rows)
    if local_window_size is not None:
        left, right = (local_window_size, local_window_size) if isinstance(
            local_window_size, int) else local_window_size
        keep = keep & (cols >= rows - left) & (cols <= rows + right)
    if query_seq_lengths is not None:
        ql = fnp.asarray(query_seq_lengths).reshape(b, 1, 1, 1)
        keep = keep & (fnp.arange(t).reshape(1, 1, t, 1) < ql)
    if key_value_seq_lengths is not None:
        kl = fnp.asarray(key_value_seq_lengths).reshape(b, 1, 1, 1)
        keep = keep & (fnp.arange(s).reshape(1, 1, 1, s) < kl)
    logits = fnp.where(keep, logits, _mask_value(np.float32))
    probs = softmax(logits, axis=-1).astype(q.dtype)
    probs = probs.reshape(b, kh, g, t, s)
    out = fnp.einsum("bkgts,bskh->btkgh", probs, v).reshape(b, t, n, h)
    return out[0] if unbatched else out
