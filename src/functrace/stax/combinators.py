"""stax's combinators (serial, parallel, shape_dependent) and fan layers (FanOut,
FanInSum, FanInConcat), as in ``jax.example_libraries.stax``.

``serial`` and ``parallel`` split the ``rng`` keyword into one key per layer and
pass every other keyword (``mode``, ``return_stats``...) to each layer. With
``return_stats=True`` a layer may answer ``WithStats(outputs, new_params)``
(``BatchNorm(track_running_stats=True)`` does); the combinators then collect the
new params of all their layers and answer ``WithStats`` themselves.
"""

from __future__ import annotations

import builtins
import functools

from .. import numpy as fnp
from .. import random
from ._util import StaxError, check_layers, check_params
from .layers import WithStats

__all__ = ["FanInConcat", "FanInSum", "FanOut", "parallel", "serial", "shape_dependent"]


def FanOut(num):
    """A layer copying its input ``num`` times (a list), to feed a ``parallel``."""
    def init_fun(rng, input_shape):
        return [input_shape] * num, ()

    def apply_fun(params, inputs, **kwargs):
        return [inputs] * num

    return init_fun, apply_fun


def _fan_in_sum():
    def init_fun(rng, input_shape):
        return input_shape[0], ()

    def apply_fun(params, inputs, **kwargs):
        return functools.reduce(fnp.add, inputs)  # a ShapeError (not NumPy's) on a mismatch

    return init_fun, apply_fun


FanInSum = _fan_in_sum()
"""A layer summing a list of inputs (e.g. a residual connection after ``parallel``)."""


def FanInConcat(axis=-1):
    """A layer concatenating a list of inputs along ``axis``.

    Example:
        >>> init_fun, _ = FanInConcat()
        >>> init_fun(None, [(2, 3), (2, 5)])
        ((2, 8), ())
    """
    def init_fun(rng, input_shape):
        ax = axis % len(input_shape[0])
        concat_size = builtins.sum(shape[ax] for shape in input_shape)
        out_shape = tuple(input_shape[0][:ax]) + (concat_size,) + tuple(input_shape[0][ax + 1:])
        return out_shape, ()

    def apply_fun(params, inputs, **kwargs):
        return fnp.concatenate(inputs, axis)

    return init_fun, apply_fun


def _layer_rngs(kwargs: dict, n: int):
    rng = kwargs.pop("rng", None)
    return random.split(rng, n) if rng is not None else (None,) * n


def _unpack(out, param):
    """A layer's outputs and (possibly updated) params."""
    return (out.outputs, out.params) if isinstance(out, WithStats) else (out, param)


def _same_container(params, new):
    return list(new) if isinstance(params, list) else tuple(new)


def _check_count(seq, n: int, who: str, what: str) -> None:
    if not isinstance(seq, tuple | list) or len(seq) != n:
        got = f"{len(seq)}" if isinstance(seq, tuple | list) else f"a {type(seq).__name__}"
        raise StaxError(f"{who}: {what} must be a list or tuple with one entry per layer "
                        f"({n}), got {got}")


def serial(*layers):
    """Composes layers in sequence.

    Args:
        *layers: ``(init_fun, apply_fun)`` pairs.
    Returns:
        ``(init_fun, apply_fun)``: ``init_fun`` threads the shape through every layer
        and returns the list of their params; ``apply_fun(params, inputs, rng=None,
        **kwargs)`` applies them in order, each with its own key split from ``rng``
        and with ``kwargs``.

    Example:
        >>> from functrace import random, stax
        >>> init_fun, apply_fun = stax.serial(stax.Dense(32), stax.Relu, stax.Dense(10),
        ...                                   stax.LogSoftmax)
        >>> out_shape, params = init_fun(random.PRNGKey(0), (-1, 784))
        >>> out_shape, apply_fun(params, fnp.ones((2, 784))).shape
        ((-1, 10), (2, 10))
    """
    nlayers = len(layers)
    check_layers(layers, "serial")
    init_funs, apply_funs = zip(*layers, strict=True) if layers else ((), ())

    def init_fun(rng, input_shape):
        params = []
        for init in init_funs:
            rng, layer_rng = random.split(rng)
            input_shape, param = init(layer_rng, input_shape)
            params.append(param)
        return input_shape, params

    def apply_fun(params, inputs, **kwargs):
        check_params(params, nlayers, f"serial of {nlayers} layers",
                     "a list with one entry per layer")
        rngs = _layer_rngs(kwargs, nlayers)
        new_params = []
        for fun, param, rng in zip(apply_funs, params, rngs, strict=True):
            inputs, param = _unpack(fun(param, inputs, rng=rng, **kwargs), param)
            new_params.append(param)
        if kwargs.get("return_stats", False):
            return WithStats(inputs, _same_container(params, new_params))
        return inputs

    return init_fun, apply_fun


def parallel(*layers):
    """Applies layers side by side: the i-th layer to the i-th of a list of inputs.

    Typically used as ``serial(FanOut(2), parallel(Dense(8), Identity), FanInSum)``.

    Args:
        *layers: ``(init_fun, apply_fun)`` pairs, one per input.
    Returns:
        ``(init_fun, apply_fun)``: ``init_fun(rng, input_shapes)`` returns the tuple of
        output shapes and the tuple of params; ``apply_fun(params, inputs, rng=None,
        **kwargs)`` returns the list of outputs.
    """
    nlayers = len(layers)
    check_layers(layers, "parallel")
    init_funs, apply_funs = zip(*layers, strict=True) if layers else ((), ())
    who = f"parallel of {nlayers} layers"

    def init_fun(rng, input_shape):
        _check_count(input_shape, nlayers, who, "input_shape")
        rngs = random.split(rng, nlayers)
        results = [init(r, shape) for init, r, shape
                   in zip(init_funs, rngs, input_shape, strict=True)]
        return tuple(s for s, _ in results), tuple(p for _, p in results)

    def apply_fun(params, inputs, **kwargs):
        check_params(params, nlayers, who, "a tuple with one entry per layer")
        _check_count(inputs, nlayers, who, "inputs")
        rngs = _layer_rngs(kwargs, nlayers)
        outs = [_unpack(f(p, x, rng=r, **kwargs), p) for f, p, x, r
                in zip(apply_funs, params, inputs, rngs, strict=True)]
        outputs = [o for o, _ in outs]
        if kwargs.get("return_stats", False):
            return WithStats(outputs, _same_container(params, [p for _, p in outs]))
        return outputs

    return init_fun, apply_fun


def shape_dependent(make_layer):
    """A layer built from the shape of its input: ``make_layer(input_shape) ->
    (init_fun, apply_fun)`` is called at init time and at every application.

    Example:
        >>> from functrace import random, stax
        >>> init_fun, apply_fun = stax.shape_dependent(lambda shape: stax.Dense(shape[-1]))
        >>> init_fun(random.PRNGKey(0), (2, 5))[0]
        (2, 5)
    """
    def init_fun(rng, input_shape):
        return make_layer(input_shape)[0](rng, input_shape)

    def apply_fun(params, inputs, **kwargs):
        return make_layer(fnp.shape(inputs))[1](params, inputs, **kwargs)

    return init_fun, apply_fun
