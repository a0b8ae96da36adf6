"""Parameter initializers with ``jax.nn.initializers``' names and semantics.

An initializer is a function ``init(key, shape, dtype=float) -> array``; the
factories (``normal(stddev)``, ``glorot_normal(in_axis, out_axis)``...) return one.
The default dtype is float32 (float64 under ``enable_x64``), JAX's ``jnp.float_``.

The variance-scaling family draws with variance ``scale / n``, where ``n`` is the
fan-in, the fan-out or their average, computed by ``_compute_fans`` from the
``in_axis``/``out_axis`` sizes times the receptive field (the product of every
other axis), so a conv filter in HWIO layout gets ``fan_in = H * W * I``.

``orthogonal`` draws through ``random.orthogonal`` (QR of a normal matrix, as JAX);
``delta_orthogonal`` puts one at the centre tap of a 3-D, 4-D or 5-D conv filter.

Example:
    >>> from functrace import random
    >>> w = glorot_normal()(random.PRNGKey(0), (784, 10))
    >>> w.shape, w.dtype
    ((784, 10), dtype('float32'))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from .. import numpy as fnp
from .. import random
from ..core.avals import canonicalize_dtype
from ..errors import FunctraceError, ShapeError


class InitializerError(FunctraceError, ValueError):
    """An initializer was built or called with invalid arguments (a ValueError, as JAX)."""


__all__ = [
    "Initializer", "constant", "delta_orthogonal", "orthogonal", "glorot_normal",
    "glorot_uniform", "he_normal", "he_uniform", "kaiming_normal",
    "kaiming_uniform", "lecun_normal", "lecun_uniform", "normal", "ones", "truncated_normal",
    "uniform", "variance_scaling", "xavier_normal", "xavier_uniform", "zeros",
]

# JAX's ``jnp.float_``: canonicalised to float32 unless enable_x64 is on
_FLOAT = np.float64

# the standard deviation of a standard normal truncated to (-2, 2)
_TRUNCATED_STDDEV = 0.87962566103423978


def _shape(shape) -> tuple[int, ...]:
    return (int(shape),) if np.ndim(shape) == 0 else tuple(int(d) for d in shape)


def zeros(key, shape, dtype=_FLOAT):
    """An initializer of zeros (``key`` is unused).

    Example:
        >>> zeros(None, (2,))
        array([0., 0.], dtype=float32)
    """
    return fnp.zeros(_shape(shape), canonicalize_dtype(dtype))


def ones(key, shape, dtype=_FLOAT):
    """An initializer of ones (``key`` is unused)."""
    return fnp.ones(_shape(shape), canonicalize_dtype(dtype))


def constant(value, dtype=_FLOAT):
    """An initializer filling its result with ``value``.

    Example:
        >>> constant(-7.0)(None, (2,))
        array([-7., -7.], dtype=float32)
    """
    def init(key, shape, dtype=dtype):
        return fnp.full(_shape(shape), value, canonicalize_dtype(dtype))
    return init


def uniform(scale=1e-2, dtype=_FLOAT):
    """An initializer drawing uniformly from ``[0, scale)``."""
    def init(key, shape, dtype=dtype):
        return random.uniform(key, _shape(shape), canonicalize_dtype(dtype)) * scale
    return init


def normal(stddev=1e-2, dtype=_FLOAT):
    """An initializer drawing from ``N(0, stddev**2)`` (stax's default bias init)."""
    def init(key, shape, dtype=dtype):
        return random.normal(key, _shape(shape), canonicalize_dtype(dtype)) * stddev
    return init


def truncated_normal(stddev=1e-2, dtype=_FLOAT, lower=-2.0, upper=2.0):
    """An initializer drawing ``stddev * z``, ``z`` a standard normal truncated to
    ``(lower, upper)`` (note: ``stddev`` scales ``z``; the result's standard deviation
    is smaller, as in JAX)."""
    def init(key, shape, dtype=dtype):
        dtype = canonicalize_dtype(dtype)
        return random.truncated_normal(key, lower, upper, _shape(shape), dtype) * stddev
    return init


def _axis_size(shape, axes, what: str) -> int:
    axes = (axes,) if isinstance(axes, int | np.integer) else tuple(axes)
    try:
        return math.prod(shape[a] for a in axes)
    except IndexError:
        raise ShapeError(f"variance_scaling: {what} {axes} is out of range for a parameter of "
                         f"shape {shape}") from None


def _compute_fans(shape: tuple[int, ...], in_axis=-2, out_axis=-1,
                  batch_axis: int | Sequence[int] = ()) -> tuple[float, float]:
    """``(fan_in, fan_out)`` of a parameter of ``shape`` (``jax.nn.initializers``)."""
    if len(shape) <= 1:
        raise ShapeError(
            f"variance_scaling: can't compute input and output sizes of a {len(shape)}-D "
            f"parameter of shape {shape}; it needs at least 2 dims (use normal() or zeros "
            "for a bias).")
    in_size = _axis_size(shape, in_axis, "in_axis")
    out_size = _axis_size(shape, out_axis, "out_axis")
    batch_size = _axis_size(shape, batch_axis, "batch_axis")
    receptive_field = math.prod(shape) / in_size / out_size / batch_size
    return in_size * receptive_field, out_size * receptive_field


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "normal", "uniform")


def variance_scaling(scale, mode: str, distribution: str, in_axis=-2, out_axis=-1,
                     batch_axis=(), dtype=_FLOAT):
    """An initializer whose samples have variance ``scale / n`` (``jax.nn.initializers``).

    Args:
        scale: the variance numerator (1 for Glorot/LeCun, 2 for He).
        mode: ``'fan_in'``, ``'fan_out'`` or ``'fan_avg'``: what ``n`` is.
        distribution: ``'truncated_normal'`` (within 2 standard deviations, rescaled
            to the target variance), ``'normal'`` or ``'uniform'``.
        in_axis, out_axis: the axis (or axes) of the input and output features; the
            remaining non-batch axes form the receptive field (e.g. ``in_axis=2,
            out_axis=3`` for an HWIO filter, the default -2/-1 being exactly that).
        batch_axis: axes left out of both fans.
        dtype: the default dtype of the result.
    Returns:
        ``init(key, shape, dtype=dtype)``.

    Example:
        >>> from functrace import random
        >>> w = variance_scaling(2.0, 'fan_in', 'normal')(random.PRNGKey(0), (1000, 500))
        >>> abs(float(w.var()) - 2.0 / 1000) < 1e-4
        True
    """
    if mode not in _MODES:
        raise InitializerError(f"variance_scaling: invalid mode {mode!r}; use one of {_MODES}")
    if distribution not in _DISTRIBUTIONS:
        raise InitializerError(f"variance_scaling: invalid distribution {distribution!r}; use one "
                         f"of {_DISTRIBUTIONS}")

    def init(key, shape, dtype=dtype):
        shape, dtype = _shape(shape), canonicalize_dtype(dtype)
        fan_in, fan_out = _compute_fans(shape, in_axis, out_axis, batch_axis)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
        std = math.sqrt(scale / n)
        if distribution == "truncated_normal":
            return random.truncated_normal(key, -2, 2, shape, dtype) * (std / _TRUNCATED_STDDEV)
        if distribution == "normal":
            return random.normal(key, shape, dtype) * std
        return random.uniform(key, shape, dtype, -1, 1) * (math.sqrt(3) * std)
    return init


def _variance_scaling_family(name: str, scale: float, mode: str, distribution: str, who: str):
    def init_factory(in_axis=-2, out_axis=-1, batch_axis=(), dtype=_FLOAT):
        return variance_scaling(scale, mode, distribution, in_axis, out_axis, batch_axis, dtype)

    init_factory.__name__ = init_factory.__qualname__ = name
    init_factory.__doc__ = (
        f"""{who} initializer: ``variance_scaling({scale}, {mode!r}, {distribution!r},
        in_axis, out_axis, batch_axis, dtype)``.

        Example:
            >>> from functrace import random
            >>> {name}()(random.PRNGKey(0), (3, 3, 8, 16)).shape  # an HWIO filter
            (3, 3, 8, 16)
        """)
    return init_factory


glorot_uniform = _variance_scaling_family("glorot_uniform", 1.0, "fan_avg", "uniform",
                                          "Glorot (Xavier) uniform")
glorot_normal = _variance_scaling_family("glorot_normal", 1.0, "fan_avg", "truncated_normal",
                                         "Glorot (Xavier) normal")
lecun_uniform = _variance_scaling_family("lecun_uniform", 1.0, "fan_in", "uniform",
                                         "LeCun uniform")
lecun_normal = _variance_scaling_family("lecun_normal", 1.0, "fan_in", "truncated_normal",
                                        "LeCun normal")
he_uniform = _variance_scaling_family("he_uniform", 2.0, "fan_in", "uniform",
                                      "He (Kaiming) uniform")
he_normal = _variance_scaling_family("he_normal", 2.0, "fan_in", "truncated_normal",
                                     "He (Kaiming) normal")
xavier_uniform, xavier_normal = glorot_uniform, glorot_normal
kaiming_uniform, kaiming_normal = he_uniform, he_normal


Initializer = Callable[..., object]  # ``init(key, shape, dtype) -> array``, as JAX's alias


def orthogonal(scale=1.0, column_axis: int = -1, dtype=None):
    """Uniformly distributed (Haar) orthogonal matrices, times ``scale``
    (``jax.nn.initializers.orthogonal``). A shape of more than two dims is treated as
    a matrix whose columns lie along ``column_axis``: they are orthonormal if there are
    fewer of them than rows, else the rows are.

    Example:
        >>> import numpy as np
        >>> from functrace import random
        >>> q = orthogonal()(random.PRNGKey(0), (4, 3))
        >>> bool(np.allclose(q.T @ q, np.eye(3), atol=1e-5))
        True
    """
    def init(key, shape, dtype=dtype):
        dtype = _FLOAT if dtype is None else dtype
        shape = tuple(int(n) for n in shape)
        if len(shape) < 2:
            raise InitializerError(f"orthogonal initializer requires at least a 2D shape, "
                                   f"got {shape}")
        if 0 in shape:
            return fnp.zeros(shape, dtype)
        n_cols = shape[column_axis]
        n_rows = math.prod(shape) // n_cols
        q = random.orthogonal(key, n_rows, (), dtype, n_cols)
        rest = tuple(np.delete(np.array(shape), column_axis))
        q = fnp.moveaxis(fnp.reshape(q, rest + (n_cols,)), -1, column_axis)
        return fnp.asarray(scale, dtype) * q
    return init


def delta_orthogonal(scale=1.0, column_axis: int = -1, dtype=None):
    """A conv filter that is zero except at its centre tap, which holds an orthogonal
    ``(in, out)`` matrix (Xiao et al. 2018; ``jax.nn.initializers.delta_orthogonal``).
    The shape must be 3-D, 4-D or 5-D with ``in <= out`` (the last two axes).

    Example:
        >>> from functrace import random
        >>> w = delta_orthogonal()(random.PRNGKey(0), (3, 3, 4, 4))
        >>> float(abs(w[0, 0]).max()), w[1, 1].shape
        (0.0, (4, 4))
    """
    def init(key, shape, dtype=dtype):
        dtype = _FLOAT if dtype is None else dtype
        shape = tuple(int(n) for n in shape)
        if len(shape) not in (3, 4, 5):
            raise InitializerError("delta orthogonal initializer requires a 3D, 4D or 5D "
                                   f"shape, got {shape}")
        if shape[-1] < shape[-2]:
            raise InitializerError(f"delta orthogonal initializer: fan_in ({shape[-2]}) must "
                                   f"be less than or equal to fan_out ({shape[-1]})")
        centre = orthogonal(scale, column_axis, dtype)(key, shape[-2:])
        taps = tuple((k - 1) // 2 for k in shape[:-2])
        return fnp.zeros(shape, dtype).at[taps].set(centre)
    return init
