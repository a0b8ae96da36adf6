"""Activations, softmax/logsumexp, one_hot and standardize (``jax.nn`` semantics)."""

from __future__ import annotations

import numpy as np

from .. import lax
from .. import numpy as fnp
from ..core.avals import is_inexact
from ..core.trace import get_aval
from ..errors import DTypeError
from ..numpy._promote import promote_inexact
from ..transforms.custom import custom_jvp


@custom_jvp
def relu(x):
    """Rectified linear unit ``max(x, 0)``; its derivative at 0 is 0, as in JAX.

    Example:
        >>> relu(fnp.array([-1., 0., 2.]))
        array([0., 0., 2.], dtype=float32)
    """
    return fnp.maximum(x, 0)


@relu.defjvp
def _relu_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return relu(x), fnp.where(x > 0, t, 0)  # a broadcast zero, never materialised eagerly


@custom_jvp
def relu6(x):
    """``min(max(x, 0), 6)``; as in JAX its derivative is 1 strictly inside ``(0, 6)`` and 0
    elsewhere (also at the kinks 0 and 6)."""
    return fnp.minimum(fnp.maximum(x, 0), 6.0)


def _relu6_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    inside = fnp.logical_and(x > 0, x < 6.0)
    return relu6(x), fnp.where(inside, t, fnp.zeros_like(t))


relu6.defjvp(_relu6_jvp)


def sigmoid(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))``, computed stably.

    As in JAX (``lax.logistic``), integer and boolean inputs raise (a Python int too: it
    is an int32); ``silu`` and ``glu``, built on it, follow.

    Example:
        >>> sigmoid(0.0)
        array(0.5, dtype=float32)
    """
    aval = get_aval(x)
    if not is_inexact(aval.dtype):
        raise DTypeError(f"nn.sigmoid requires a floating-point input (it is lax.logistic), "
                         f"got {aval.str_short()}; cast it first, e.g. x.astype(float)")
    return lax.logistic(fnp.asarray(x))


def log_sigmoid(x):
    """``log(sigmoid(x))`` without overflow: ``-softplus(-x)``."""
    return -softplus(-x)


@custom_jvp
def softplus(x):
    """``log(1 + exp(x))``, stable for large ``|x|``; its derivative is ``sigmoid(x)``
    everywhere (0.5 at 0, as JAX's, whose softplus is ``logaddexp(x, 0)``).

    Example:
        >>> softplus(0.0)
        array(0.6931472, dtype=float32)
    """
    # NOTE: the rule below, not this formula, gives the derivative: through -abs(x) it
    # would be 0 at x = 0, as abs'(0) is 1 (JAX's convention)
    return fnp.log1p(fnp.exp(-fnp.abs(x))) + fnp.maximum(x, 0)


@softplus.defjvp
def _softplus_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return softplus(x), t * sigmoid(x)


def silu(x):
    """``x * sigmoid(x)`` (also called swish)."""
    return x * sigmoid(x)


swish = silu


def tanh(x):
    """Hyperbolic tangent."""
    return fnp.tanh(x)


def hard_tanh(x):
    """``x`` clipped to ``[-1, 1]``, as JAX's ``where(x > 1, 1, where(x < -1, -1, x))``
    (the derivative is 1 at the kinks and the dtype of ``x`` is kept)."""
    x = fnp.asarray(x)
    return fnp.where(x > 1, fnp.ones_like(x), fnp.where(x < -1, -fnp.ones_like(x), x))


def soft_sign(x):
    """``x / (|x| + 1)``."""
    return x / (fnp.abs(x) + 1.0)


def elu(x, alpha=1.0):
    """Exponential linear unit: ``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``."""
    safe = fnp.where(x > 0, fnp.zeros_like(x), x)  # keeps exp finite on the unused branch
    return fnp.where(x > 0, x, alpha * fnp.expm1(safe))


def celu(x, alpha=1.0):
    """Continuously-differentiable ELU."""
    safe = fnp.where(x > 0, fnp.zeros_like(x), x)
    return fnp.where(x > 0, x, alpha * fnp.expm1(safe / alpha))


def selu(x):
    """Scaled ELU with the self-normalising constants of Klambauer et al."""
    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946
    return scale * elu(x, alpha)


def leaky_relu(x, negative_slope=1e-2):
    """``x`` if ``x >= 0`` else ``negative_slope * x``."""
    return fnp.where(x >= 0, x, negative_slope * x)


def gelu(x, approximate: bool = True):
    """Gaussian error linear unit; the tanh approximation by default, as in JAX.

    ``approximate=False`` uses the exact ``x * Phi(x)`` with ``erf``.
    """
    if approximate:
        c = np.sqrt(2 / np.pi).astype(np.float64)
        return 0.5 * x * (1.0 + fnp.tanh(float(c) * (x + 0.044715 * (x * x * x))))
    return 0.5 * x * (1.0 + lax.erf(x / float(np.sqrt(2.0))))


def glu(x, axis=-1):
    """Gated linear unit: splits ``x`` in two along ``axis``: ``a * sigmoid(b)``."""
    a, b = fnp.split(x, 2, axis=axis)
    return a * sigmoid(b)


def logsumexp(a, axis=None, b=None, keepdims: bool = False, return_sign: bool = False,
              where=None):
    """``log(sum(b * exp(a)))`` over ``axis`` (of the entries where ``where`` holds),
    computed stably (max subtracted).

    With ``return_sign=True`` it returns ``(log|sum|, sign(sum))``, so weights ``b``
    may be negative; without it a negative sum gives NaN (as JAX).

    Example:
        >>> float(logsumexp(fnp.array([0., 0.])))  # log 2
        0.6931...
    """
    if b is not None:
        a, b = (fnp.asarray(v) for v in promote_inexact(a, b, op="logsumexp"))
        a = fnp.where(b != 0, a, -np.inf)  # a zero weight drops its term, even at a = inf
    else:
        a = fnp.asarray(a)
        if not fnp.issubdtype(a.dtype, fnp.inexact):
            a = a.astype(fnp.result_type(float))
    real = fnp.real(a) if fnp.iscomplexobj(a) else a
    amax = fnp.max(real, axis=axis, keepdims=True, where=where, initial=-np.inf)
    amax = lax.stop_gradient(fnp.where(fnp.isfinite(amax), amax, fnp.zeros_like(amax)))
    e = fnp.exp(a - amax.astype(a.dtype))
    if b is not None:
        e = e * b
    total = fnp.sum(e, axis=axis, keepdims=keepdims, where=where)
    sign = lax.stop_gradient(fnp.sign(total))
    if return_sign or not fnp.iscomplexobj(a):
        total = fnp.abs(total)
    if not keepdims:
        amax = fnp.squeeze(amax, axis=axis) if axis is not None else fnp.reshape(amax, ())
    out = fnp.log(total) + amax.astype(total.dtype)
    if return_sign:
        return out, sign
    if b is not None and not fnp.iscomplexobj(out):
        out = fnp.where(sign < 0, np.nan, out)
    return out


def log_softmax(x, axis=-1, where=None):
    """``x - logsumexp(x, axis, keepdims=True)``; entries outside ``where`` are ``-inf``."""
    x = fnp.asarray(x)
    x_max = fnp.max(x, axis, where=where, initial=-np.inf, keepdims=True)
    x_safe = x if where is None else fnp.where(where, x, -np.inf)
    shifted = x_safe - lax.stop_gradient(x_max)
    result = shifted - fnp.log(fnp.sum(fnp.exp(shifted), axis, where=where, keepdims=True))
    return result if where is None else fnp.where(where, result, -np.inf)


def softmax(x, axis=-1, where=None):
    """``exp(x) / sum(exp(x), axis)``, computed stably; entries outside ``where`` are 0.

    Example:
        >>> softmax(fnp.array([0., 0.]))
        array([0.5, 0.5], dtype=float32)
    """
    x = fnp.asarray(x)
    x_max = fnp.max(x, axis, where=where, initial=-np.inf, keepdims=True)
    x_safe = x if where is None else fnp.where(where, x, -np.inf)
    unnormalized = fnp.exp(x_safe - lax.stop_gradient(x_max))
    result = unnormalized / fnp.sum(unnormalized, axis, where=where, keepdims=True)
    return result if where is None else fnp.where(where, result, 0)


def standardize(x, axis=-1, mean=None, variance=None, epsilon=1e-5, where=None, *,
                algorithm: str = "fast"):
    """``(x - mean) / sqrt(variance + epsilon)`` over ``axis`` (statistics of the entries
    where ``where`` holds). The variance is ``mean(x**2) - mean**2`` clipped at 0 with
    ``algorithm='fast'`` (JAX's default), or the two-pass ``mean((x - mean)**2)`` with
    ``'stable'``.

    Example:
        >>> standardize(fnp.array([1.0, 3.0]), algorithm="stable", epsilon=0.0)
        array([-1.,  1.], dtype=float32)
    """
    if algorithm not in ("fast", "stable"):
        raise ValueError(f"standardize: unknown algorithm {algorithm!r}; use 'fast' or "
                         "'stable'")
    if mean is None:
        mean = fnp.mean(x, axis=axis, keepdims=True, where=where)
    if variance is None:
        if algorithm == "stable":
            variance = fnp.mean(fnp.square(fnp.subtract(x, mean)), axis=axis, keepdims=True,
                                where=where)
        else:  # may round below 0: clipped, as JAX, so that rsqrt stays finite
            variance = fnp.clip(fnp.mean(fnp.square(x), axis=axis, keepdims=True, where=where)
                                - fnp.square(mean), 0)
    return fnp.subtract(x, mean) * lax.rsqrt(fnp.asarray(variance) + epsilon)


def one_hot(x, num_classes: int, *, dtype=None, axis=-1):
    """One-hot encodes integer ``x`` into a new axis of size ``num_classes``.

    Example:
        >>> one_hot(fnp.array([0, 2]), 3)
        array([[1., 0., 0.],
               [0., 0., 1.]], dtype=float32)
    """
    if not isinstance(num_classes, int | np.integer):
        raise DTypeError(f"one_hot: num_classes must be a static int, got {num_classes!r}")
    dtype = dtype or fnp.float32
    x = fnp.asarray(x)
    out_axis = axis % (x.ndim + 1)
    classes = lax.broadcasted_iota(get_aval(x).dtype, (*x.shape[:out_axis], num_classes,
                                                       *x.shape[out_axis:]), out_axis)
    return (fnp.expand_dims(x, out_axis) == classes).astype(dtype)
