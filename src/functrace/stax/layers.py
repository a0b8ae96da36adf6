"""stax's parametrised and elementwise layers: Dense, the convolutions, BatchNorm,
Dropout, Flatten, Identity and the activations (``jax.example_libraries.stax``).

Every layer is a pair ``(init_fun, apply_fun)``: ``init_fun(rng, input_shape) ->
(output_shape, params)`` and ``apply_fun(params, inputs, **kwargs) -> outputs``.
Layers with parameters check, cheaply, that ``inputs`` fits them and raise a
``ShapeError`` naming the layer and both shapes otherwise.
"""

from __future__ import annotations

import functools
import operator
from typing import NamedTuple

import numpy as np

from .. import lax, nn, random
from .. import numpy as fnp
from ..errors import ShapeError
from ._util import StaxError, check_params, check_shape, layer_name, shape_str
from .initializers import glorot_normal, normal, ones, zeros

__all__ = [
    "BatchNorm", "Conv", "Conv1D", "Conv1DTranspose", "ConvTranspose", "Dense", "Dropout",
    "Elu", "Exp", "Flatten", "Gelu", "GeneralConv", "GeneralConvTranspose", "Identity",
    "LeakyRelu", "LogSoftmax", "Relu", "Selu", "Sigmoid", "Softmax", "Softplus", "Tanh",
    "WithStats", "elementwise",
]


class WithStats(NamedTuple):
    """What ``apply_fun(..., return_stats=True)`` returns: the outputs and the params
    with every ``BatchNorm(track_running_stats=True)``'s running statistics updated
    (see ``BatchNorm``). Unpack it: ``outputs, new_params = apply_fun(...)``."""
    outputs: object
    params: object


_MODES = ("train", "test")


def _check_mode(mode, who: str) -> str:
    if mode not in _MODES:
        raise StaxError(f"{who}: mode must be 'train' or 'test', got {mode!r}")
    return mode


# ---------------------------------------------------------------------------
# Dense

def Dense(out_dim, W_init=glorot_normal(), b_init=normal()):
    """A fully-connected layer: ``inputs @ W + b``.

    Args:
        out_dim: the number of output features.
        W_init, b_init: initializers of ``W`` (``(in_dim, out_dim)``) and ``b``
            (``(out_dim,)``).
    Returns:
        ``(init_fun, apply_fun)``; params are ``(W, b)``.

    Example:
        >>> from functrace import random
        >>> init_fun, apply_fun = Dense(10)
        >>> out_shape, (W, b) = init_fun(random.PRNGKey(0), (-1, 784))
        >>> out_shape, W.shape, b.shape
        ((-1, 10), (784, 10), (10,))
    """
    name = layer_name("Dense", out_dim)
    if not isinstance(out_dim, int | np.integer) or out_dim < 0:
        raise StaxError(f"{name}: out_dim must be a non-negative int, got {out_dim!r}")

    def init_fun(rng, input_shape):
        input_shape = check_shape(input_shape, name, 1)
        output_shape = tuple(input_shape[:-1]) + (out_dim,)
        k1, k2 = random.split(rng)
        W, b = W_init(k1, (input_shape[-1], out_dim)), b_init(k2, (out_dim,))
        return output_shape, (W, b)

    def apply_fun(params, inputs, **kwargs):
        W, b = check_params(params, 2, name, "the pair (W, b)")
        if fnp.ndim(inputs) < 1 or fnp.shape(inputs)[-1] != fnp.shape(W)[0]:
            raise ShapeError(f"{name}: expected inputs with last dimension {fnp.shape(W)[0]}, "
                             f"got shape {shape_str(fnp.shape(inputs))}")
        return fnp.dot(inputs, W) + b

    return init_fun, apply_fun


# ---------------------------------------------------------------------------
# convolutions

_CONV_ALIASES = {("NHWC", "HWIO", "NHWC"): "Conv", ("NWC", "WIO", "NWC"): "Conv1D"}
_CONV_TRANSPOSE_ALIASES = {("NHWC", "HWIO", "NHWC"): "ConvTranspose",
                           ("NHC", "HIO", "NHC"): "Conv1DTranspose"}


def _conv_name(general: str, aliases, dimension_numbers, out_chan, filter_shape) -> str:
    alias = aliases.get(tuple(dimension_numbers))
    if alias:
        return layer_name(alias, out_chan, tuple(filter_shape))
    return layer_name(general, tuple(dimension_numbers), out_chan, tuple(filter_shape))


def _kernel_shape(dimension_numbers, out_chan, filter_shape, input_shape, who: str):
    lhs_spec, rhs_spec, _ = dimension_numbers
    if len(input_shape) != len(lhs_spec):
        raise ShapeError(f"{who}: input_shape {shape_str(input_shape)} has rank "
                         f"{len(input_shape)} but the layout {lhs_spec!r} has rank "
                         f"{len(lhs_spec)}")
    filter_iter = iter(filter_shape)
    return tuple(out_chan if c == "O" else input_shape[lhs_spec.index("C")] if c == "I"
                 else next(filter_iter) for c in rhs_spec)


def _permuted(shape, spec):
    return [shape[d] for d in spec]


def _conv_general_shape(input_shape, kernel_shape, strides, padding, dimension_numbers):
    """The output shape of a convolution (``jax.lax.conv_general_shape_tuple``); a
    ``-1`` batch size passes through."""
    dn = lax.conv_dimension_numbers(input_shape, kernel_shape, dimension_numbers)
    lhs, rhs = _permuted(input_shape, dn.lhs_spec), _permuted(kernel_shape, dn.rhs_spec)
    if isinstance(padding, str):
        padding = lax.padtype_to_pads(lhs[2:], rhs[2:], strides, padding)
    spatial = [max(0, (n + lo + hi - k) // s + 1) for n, k, s, (lo, hi)
               in zip(lhs[2:], rhs[2:], strides, padding, strict=True)]
    return _unpermuted([lhs[0], rhs[0], *spatial], dn.out_spec)


def _unpermuted(values, spec):
    out = [0] * len(spec)
    for d, v in zip(spec, values, strict=True):
        out[d] = v
    return tuple(out)


def _conv_transpose_shape(input_shape, kernel_shape, strides, padding, dimension_numbers):
    """The output shape of ``lax.conv_transpose`` (``jax.lax.conv_transpose_shape_tuple``)."""
    dn = lax.conv_dimension_numbers(input_shape, kernel_shape, dimension_numbers)
    lhs, rhs = _permuted(input_shape, dn.lhs_spec), _permuted(kernel_shape, dn.rhs_spec)
    if isinstance(padding, str):
        mode = padding.upper()
        if mode not in ("SAME", "VALID"):
            raise StaxError(f"conv_transpose: padding must be 'SAME', 'VALID' or (low, high) "
                            f"pairs, got {padding!r}")
        pad_sums = [k + s - 2 + (max(k - s, 0) if mode == "VALID" else 0)
                    for k, s in zip(rhs[2:], strides, strict=True)]
    else:
        pad_sums = [lo + hi for lo, hi in padding]
    spatial = [(n - 1) * s - k + 2 + p for n, k, s, p
               in zip(lhs[2:], rhs[2:], strides, pad_sums, strict=True)]
    return _unpermuted([lhs[0], rhs[0], *spatial], dn.out_spec)


def _check_conv_input(inputs, W, dimension_numbers, who: str) -> None:
    lhs_spec, rhs_spec, _ = dimension_numbers
    shape, in_chan = fnp.shape(inputs), fnp.shape(W)[rhs_spec.index("I")]
    c = lhs_spec.index("C")
    if len(shape) != len(lhs_spec) or shape[c] != in_chan:
        raise ShapeError(f"{who}: expected inputs of rank {len(lhs_spec)} (layout "
                         f"{lhs_spec!r}) with {in_chan} channels on dim {c}, got shape "
                         f"{shape_str(shape)}")


def _general_conv_layer(transpose: bool):
    general = "GeneralConvTranspose" if transpose else "GeneralConv"
    aliases = _CONV_TRANSPOSE_ALIASES if transpose else _CONV_ALIASES
    out_shape_fn = _conv_transpose_shape if transpose else _conv_general_shape

    def layer(dimension_numbers, out_chan, filter_shape, strides=None, padding="VALID",
              W_init=None, b_init=normal(1e-6)):
        dimension_numbers = tuple(dimension_numbers)
        lhs_spec, rhs_spec, out_spec = dimension_numbers
        filter_shape = tuple(filter_shape)
        one = (1,) * len(filter_shape)
        strides = tuple(strides) if strides else one
        W_init = W_init or glorot_normal(rhs_spec.index("I"), rhs_spec.index("O"))
        name = _conv_name(general, aliases, dimension_numbers, out_chan, filter_shape)
        if len(filter_shape) != len(lhs_spec) - 2 or len(strides) != len(filter_shape):
            raise StaxError(f"{name}: filter_shape {filter_shape} and strides {strides} need "
                            f"one entry per spatial dim of the layout {lhs_spec!r} "
                            f"({len(lhs_spec) - 2})")
        if any(s < 1 for s in strides):
            raise StaxError(f"{name}: strides must be positive, got {strides}")

        def init_fun(rng, input_shape):
            input_shape = check_shape(input_shape, name)
            kernel_shape = _kernel_shape(dimension_numbers, out_chan, filter_shape,
                                         input_shape, name)
            output_shape = out_shape_fn(input_shape, kernel_shape, strides, padding,
                                        dimension_numbers)
            bias_shape = tuple(out_chan if c == "C" else 1 for c in out_spec)
            k1, k2 = random.split(rng)
            W, b = W_init(k1, kernel_shape), b_init(k2, bias_shape)
            return output_shape, (W, b)

        def apply_fun(params, inputs, **kwargs):
            W, b = check_params(params, 2, name, "the pair (W, b)")
            _check_conv_input(inputs, W, dimension_numbers, name)
            if transpose:
                out = lax.conv_transpose(inputs, W, strides, padding,
                                         dimension_numbers=dimension_numbers)
            else:
                out = lax.conv_general_dilated(inputs, W, strides, padding, one, one,
                                               dimension_numbers=dimension_numbers)
            return out + b

        return init_fun, apply_fun

    layer.__name__ = layer.__qualname__ = general
    return layer


GeneralConv = _general_conv_layer(transpose=False)
GeneralConv.__doc__ = """A convolution layer in any layout (``jax.example_libraries.stax``).

    Args:
        dimension_numbers: ``(lhs_spec, rhs_spec, out_spec)`` strings such as
            ``('NHWC', 'HWIO', 'NHWC')`` (the layout of the inputs, filter and outputs).
        out_chan: the number of output channels.
        filter_shape: the spatial window, e.g. ``(3, 3)``.
        strides: one per spatial dim (default all 1).
        padding: ``'VALID'`` (default), ``'SAME'``, ``'SAME_LOWER'`` or ``(low, high)``
            pairs, one per spatial dim.
        W_init: the filter initializer (default ``glorot_normal`` over the filter's I/O
            axes); b_init: the bias initializer (default ``normal(1e-6)``).
    Returns:
        ``(init_fun, apply_fun)``; params are ``(W, b)``, ``W`` in ``rhs_spec`` layout,
        ``b`` broadcastable to the outputs (size ``out_chan`` on the ``C`` dim).

    Example:
        >>> from functrace import random
        >>> init_fun, apply_fun = GeneralConv(('NCHW', 'OIHW', 'NCHW'), 8, (3, 3))
        >>> out_shape, (W, b) = init_fun(random.PRNGKey(0), (2, 3, 10, 10))
        >>> out_shape, W.shape, b.shape
        ((2, 8, 8, 8), (8, 3, 3, 3), (1, 8, 1, 1))
    """
GeneralConvTranspose = _general_conv_layer(transpose=True)
GeneralConvTranspose.__doc__ = """A transposed-convolution layer in any layout
    (``lax.conv_transpose``; same arguments and params as ``GeneralConv``).

    ``padding='SAME'`` makes the output ``in * stride`` long; ``'VALID'`` makes it
    ``in * stride + max(k - stride, 0)``.

    Example:
        >>> from functrace import random
        >>> init_fun, apply_fun = ConvTranspose(4, (3, 3), strides=(2, 2), padding='SAME')
        >>> init_fun(random.PRNGKey(0), (1, 5, 5, 2))[0]
        (1, 10, 10, 4)
    """
Conv = functools.partial(GeneralConv, ("NHWC", "HWIO", "NHWC"))
Conv1D = functools.partial(GeneralConv, ("NWC", "WIO", "NWC"))
ConvTranspose = functools.partial(GeneralConvTranspose, ("NHWC", "HWIO", "NHWC"))
Conv1DTranspose = functools.partial(GeneralConvTranspose, ("NHC", "HIO", "NHC"))


# ---------------------------------------------------------------------------
# BatchNorm

def _normalize_axes(axis, ndim: int) -> tuple[int, ...]:
    axes = (axis,) if np.isscalar(axis) else tuple(axis)
    return tuple(operator.index(a) % ndim for a in axes)


def BatchNorm(axis=(0, 1, 2), epsilon=1e-5, center=True, scale=True, beta_init=zeros,
              gamma_init=ones, momentum=0.9, track_running_stats=False):
    """Batch normalization: standardises over ``axis``, then scales and shifts.

    With the defaults this is exactly JAX's stax ``BatchNorm``: params are ``(beta,
    gamma)`` (each ``()`` when ``center``/``scale`` is off), shaped like the input
    without the ``axis`` dims, and the batch's own statistics are used in every mode.

    Difference from JAX: ``track_running_stats=True`` adds running statistics. Then
    params are ``(beta, gamma, running_mean, running_var)`` (initially zeros and ones)
    and:

    - ``apply_fun(params, x, mode='test')`` normalises with the running statistics
      (no gradient flows into them);
    - ``apply_fun(params, x)`` (``mode='train'``, the default) normalises with the
      batch statistics; add ``return_stats=True`` to also get the updated params,
      ``running = momentum * running + (1 - momentum) * batch`` (``var`` is the biased
      batch variance used for normalising), as ``WithStats(outputs, new_params)``.
      (``return_stats=True`` gives a ``WithStats`` in every mode and configuration,
      with unchanged params where nothing is tracked or in ``mode='test'``).
      ``serial``/``parallel`` pass ``return_stats`` down and return the whole updated
      params tree, so a training step reads::

          def loss(params, x, y):
              logits, new_params = predict(params, x, return_stats=True)
              return -fnp.mean(fnp.sum(logits * y, axis=1)), new_params
          grads, new_params = grad(loss, has_aux=True)(params, x, y)
          params = tree_map(lambda p, g: p - lr * g, new_params, grads)

      (the running statistics get zero gradients, so the step keeps their update).

    Args:
        axis: the dims to normalise over (the batch and spatial dims of NHWC by default).
        epsilon: added to the variance.
        center, scale: learn a shift ``beta`` / a scale ``gamma``.
        beta_init, gamma_init: their initializers.
        momentum: the decay of the running statistics.
        track_running_stats: keep running statistics (see above).
    Returns:
        ``(init_fun, apply_fun)``.

    Example:
        >>> from functrace import random
        >>> init_fun, apply_fun = BatchNorm(axis=0, track_running_stats=True)
        >>> _, params = init_fun(random.PRNGKey(0), (8, 3))
        >>> [p.shape for p in params]
        [(3,), (3,), (3,), (3,)]
    """
    extra = {"track_running_stats": True} if track_running_stats else {}
    name = layer_name("BatchNorm", axis=axis, **extra)
    if not 0.0 <= momentum <= 1.0:
        raise StaxError(f"{name}: momentum must be in [0, 1], got {momentum!r}")

    def init_fun(rng, input_shape):
        axes = _normalize_axes(axis, len(input_shape))
        shape = tuple(d for i, d in enumerate(input_shape) if i not in axes)
        k1, k2 = random.split(rng)
        beta = beta_init(k1, shape) if center else ()
        gamma = gamma_init(k2, shape) if scale else ()
        if not track_running_stats:
            return tuple(input_shape), (beta, gamma)
        return tuple(input_shape), (beta, gamma, zeros(None, shape), ones(None, shape))

    def apply_fun(params, x, **kwargs):
        mode = _check_mode(kwargs.get("mode", "train"), name)
        axes = _normalize_axes(axis, fnp.ndim(x))
        _check_batchnorm_input(params, x, axes, name)
        beta, gamma = params[0], params[1]
        new_params = params
        if not track_running_stats:
            out = nn.standardize(x, axes, epsilon=epsilon)
        elif mode == "test":
            mean, var = (fnp.expand_dims(lax.stop_gradient(s), axes) for s in params[2:])
            out = nn.standardize(x, axes, mean, var, epsilon)
        else:
            mean = fnp.mean(x, axes, keepdims=True)
            var = fnp.mean(fnp.square(x), axes, keepdims=True) - fnp.square(mean)
            out = nn.standardize(x, axes, mean, var, epsilon)
            if kwargs.get("return_stats", False):
                def update(running, batch):
                    batch = lax.stop_gradient(fnp.squeeze(batch, axes))
                    return momentum * running + (1 - momentum) * batch
                new_params = (beta, gamma, update(params[2], mean), update(params[3], var))
        out = _scale_shift(out, beta, gamma, axes)
        return WithStats(out, new_params) if kwargs.get("return_stats", False) else out

    return init_fun, apply_fun


def _check_batchnorm_input(params, x, axes, who: str) -> None:
    expected = next((fnp.shape(p) for p in params if _is_param(p)), None)
    kept = tuple(d for i, d in enumerate(fnp.shape(x)) if i not in axes)
    if expected is not None and kept != tuple(expected):
        raise ShapeError(f"{who}: expected inputs whose dims outside axis {axes} are "
                         f"{shape_str(expected)} (the params' shape), got shape "
                         f"{shape_str(fnp.shape(x))}")


def _is_param(p) -> bool:
    """False for the ``()`` standing for a disabled beta/gamma (or ``[]`` after a
    round trip through a pytree library that lists tuples)."""
    return not (isinstance(p, tuple | list) and len(p) == 0)


def _scale_shift(z, beta, gamma, axes):
    if _is_param(gamma):
        z = fnp.expand_dims(gamma, axes) * z
    if _is_param(beta):
        z = z + fnp.expand_dims(beta, axes)
    return z


# ---------------------------------------------------------------------------
# elementwise layers

def elementwise(fun, **fun_kwargs):
    """A parameterless layer applying ``fun(inputs, **fun_kwargs)``.

    Example:
        >>> init_fun, apply_fun = elementwise(fnp.exp)
        >>> apply_fun((), fnp.zeros(2))
        array([1., 1.], dtype=float32)
    """
    def init_fun(rng, input_shape):
        return input_shape, ()

    def apply_fun(params, inputs, **kwargs):
        return fun(inputs, **fun_kwargs)

    return init_fun, apply_fun


Tanh = elementwise(fnp.tanh)
Relu = elementwise(nn.relu)
Exp = elementwise(fnp.exp)
LogSoftmax = elementwise(nn.log_softmax, axis=-1)
Softmax = elementwise(nn.softmax, axis=-1)
Softplus = elementwise(nn.softplus)
Sigmoid = elementwise(nn.sigmoid)
Elu = elementwise(nn.elu)
LeakyRelu = elementwise(nn.leaky_relu)
Selu = elementwise(nn.selu)
Gelu = elementwise(nn.gelu)


# ---------------------------------------------------------------------------
# shape layers and dropout

def _flatten():
    def init_fun(rng, input_shape):
        input_shape = check_shape(input_shape, "Flatten", 1)
        return (input_shape[0], functools.reduce(operator.mul, input_shape[1:], 1)), ()

    def apply_fun(params, inputs, **kwargs):
        shape = fnp.shape(inputs)  # the size, not -1: an empty batch has no size to infer
        return fnp.reshape(inputs, (shape[0], functools.reduce(operator.mul, shape[1:], 1)))

    return init_fun, apply_fun


Flatten = _flatten()
"""Flattens all but the leading (batch) dim: ``(N, ...) -> (N, prod(...))``."""


def _identity():
    def init_fun(rng, input_shape):
        return input_shape, ()

    def apply_fun(params, inputs, **kwargs):
        return inputs

    return init_fun, apply_fun


Identity = _identity()
"""The identity layer."""


def Dropout(rate, mode="train"):
    """Dropout as JAX's stax has it: ``rate`` is the probability to KEEP each input;
    survivors are scaled by ``1 / rate`` so the expectation is unchanged.

    So ``Dropout(0.9)`` keeps 90% of the inputs (PyTorch's ``Dropout(p=0.1)``), and
    ``rate=1.0`` is the identity. An apply-time ``mode`` keyword
    (``apply_fun(params, x, mode='test')``, passed down by ``serial``) overrides
    the constructor's; ``mode='test'`` needs no ``rng`` (JAX asks for one anyway).

    Args:
        rate: the keep probability, in ``(0, 1]``.
        mode: ``'train'`` (drop; ``apply_fun`` needs ``rng=key``) or ``'test'``
            (the identity).
    Returns:
        ``(init_fun, apply_fun)``; no params.

    Example:
        >>> from functrace import random
        >>> init_fun, apply_fun = Dropout(0.5)
        >>> y = apply_fun((), fnp.ones(1000), rng=random.PRNGKey(0))
        >>> sorted(set(y.tolist()))
        [0.0, 2.0]
    """
    name = layer_name("Dropout", rate=rate)
    if not 0.0 < rate <= 1.0:
        raise StaxError(f"{name}: rate is the probability to keep an input (as in JAX's stax) "
                        f"and must be in (0, 1], got {rate!r}; to drop a fraction p, pass "
                        "rate=1 - p")
    _check_mode(mode, name)

    def init_fun(rng, input_shape):
        return input_shape, ()

    def apply_fun(params, inputs, **kwargs):
        layer_mode = _check_mode(kwargs.get("mode", mode), name)
        if layer_mode != "train" or rate == 1.0:
            return inputs
        rng = kwargs.get("rng")
        if rng is None:
            raise StaxError(f"{name} in mode 'train' needs rng=..., e.g. apply_fun(params, x, "
                            "rng=key); pass mode='test' for evaluation")
        keep = random.bernoulli(rng, rate, fnp.shape(inputs))
        return fnp.where(keep, inputs / rate, 0)

    return init_fun, apply_fun

