"""``functrace.nn``: activation functions and friends, with ``jax.nn``'s names."""

from . import initializers
from .functions import (
    celu,
    elu,
    gelu,
    glu,
    hard_tanh,
    leaky_relu,
    log_sigmoid,
    log_softmax,
    logsumexp,
    one_hot,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    soft_sign,
    softmax,
    softplus,
    standardize,
    swish,
    tanh,
)
from .more import (
    dot_product_attention,
    hard_sigmoid,
    hard_silu,
    hard_swish,
    identity,
    log1mexp,
    logmeanexp,
    mish,
    sparse_plus,
    sparse_sigmoid,
    squareplus,
)
