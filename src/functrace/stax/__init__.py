"""``functrace.stax``: the complete ``jax.example_libraries.stax`` API.

A layer is a pair of functions ``(init_fun, apply_fun)``:

- ``init_fun(rng, input_shape) -> (output_shape, params)``; ``input_shape`` may
  have ``-1`` for the batch size;
- ``apply_fun(params, inputs, **kwargs) -> outputs``; ``rng=key`` feeds the
  random layers (Dropout), and ``serial``/``parallel`` split it among their layers.

Layouts default to JAX's: NHWC inputs and HWIO filters (``Conv``), channels-last
pooling; ``GeneralConv``/``GeneralConvTranspose`` take any ``dimension_numbers``
strings and the pooling layers a ``spec``. Layers with params raise a
``ShapeError`` naming the layer and both shapes when the inputs do not fit them.

Two extensions of JAX's API (see the layers' docstrings):

- ``Dropout(rate)``: ``rate`` is the probability to KEEP an element, as in JAX
  (``Dropout(0.9)`` drops 10%); an apply-time ``mode='test'`` keyword turns
  dropout off and then needs no ``rng``.
- ``BatchNorm(..., momentum=0.9, track_running_stats=False)``: the defaults are
  JAX's (batch statistics in every mode); ``track_running_stats=True`` keeps
  running mean/variance in params, used by ``apply_fun(..., mode='test')`` and
  updated through ``apply_fun(..., return_stats=True) -> WithStats(outputs,
  new_params)``.

Example:
    >>> import numpy as np
    >>> from functrace import random, stax
    >>> init_fun, predict = stax.serial(
    ...     stax.Conv(8, (3, 3), padding='SAME'), stax.Relu,
    ...     stax.MaxPool((2, 2), strides=(2, 2)), stax.Flatten, stax.Dense(10),
    ...     stax.LogSoftmax)
    >>> out_shape, params = init_fun(random.PRNGKey(0), (-1, 8, 8, 1))
    >>> out_shape, predict(params, np.zeros((2, 8, 8, 1), np.float32)).shape
    ((-1, 10), (2, 10))
"""

from ..nn import (
    elu,
    gelu,
    leaky_relu,
    log_softmax,
    relu,
    selu,
    sigmoid,
    softmax,
    softplus,
    standardize,
)
from ._util import StaxError
from .combinators import FanInConcat, FanInSum, FanOut, parallel, serial, shape_dependent
from .initializers import glorot_normal, normal, ones, zeros
from .layers import (
    BatchNorm,
    Conv,
    Conv1D,
    Conv1DTranspose,
    ConvTranspose,
    Dense,
    Dropout,
    Elu,
    Exp,
    Flatten,
    Gelu,
    GeneralConv,
    GeneralConvTranspose,
    Identity,
    LeakyRelu,
    LogSoftmax,
    Relu,
    Selu,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
    WithStats,
    elementwise,
)
from .pooling import AvgPool, MaxPool, SumPool
