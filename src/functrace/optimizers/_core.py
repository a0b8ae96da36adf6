"""The optimizers, schedules and state utilities of ``functrace.optimizers`` (JAX's
``jax.example_libraries.optimizers``); the package's docstring has the overview."""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import Callable
from typing import Any

from .. import numpy as fnp
from ..errors import FunctraceError, ShapeError
from ..tree_util import (
    register_pytree_node,
    tree_flatten,
    tree_map,
    tree_unflatten,
)

__all__ = [
    "OptimizerState", "Optimizer", "optimizer", "OptimizerError",
    "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "rmsprop_momentum", "adam",
    "adamax", "sm3",
    "constant", "exponential_decay", "inverse_time_decay", "polynomial_decay",
    "piecewise_constant", "make_schedule",
    "l2_norm", "clip_grads", "JoinPoint", "unpack_optimizer_state", "pack_optimizer_state",
]

Step = int
Schedule = Callable[[Step], float]
Params = Any
State = Any
Updates = Params

OptimizerState = namedtuple("OptimizerState", ["packed_state", "tree_def", "subtree_defs"])
OptimizerState.__doc__ = """State of an optimizer over a pytree of parameters.

``packed_state`` holds, per parameter leaf, the flat leaves of that leaf's state;
``tree_def`` is the parameter tree's structure and ``subtree_defs`` the structure of each
leaf's state. It is a pytree whose only child is ``packed_state``.
"""
register_pytree_node(
    OptimizerState,
    lambda xs: ((xs.packed_state,), (xs.tree_def, xs.subtree_defs)),
    lambda data, xs: OptimizerState(xs[0], data[0], data[1]),
)

InitFn = Callable[[Params], OptimizerState]
UpdateFn = Callable[[Step, Updates, OptimizerState], OptimizerState]
ParamsFn = Callable[[OptimizerState], Params]

Optimizer = namedtuple("Optimizer", ["init_fn", "update_fn", "params_fn"])
Optimizer.__doc__ = "The ``(init_fn, update_fn, params_fn)`` triple that optimizers return."


class OptimizerError(FunctraceError, TypeError):
    """An optimizer received a gradient or state of the wrong structure."""


def _check_state(opt_state, who: str) -> OptimizerState:
    if not isinstance(opt_state, OptimizerState):
        raise OptimizerError(
            f"optimizer {who}: expected the OptimizerState returned by init_fun or update_fun, "
            f"got {type(opt_state).__name__} ({opt_state!r:.60}); keep the state and pass "
            "params through get_params.")
    return opt_state


def _check_step(i) -> None:
    """The step count ``i`` is an integer (a traced one under jit is fine)."""
    if i is None or isinstance(i, str | bytes | tuple | list | dict) or (
            tuple(getattr(i, "shape", ())) != ()):
        raise OptimizerError(f"optimizer update: the step i must be an integer, got "
                             f"{type(i).__name__} ({i!r:.60})")


def _unzip2(pairs) -> tuple[tuple, tuple]:
    xs, ys = [], []
    for x, y in pairs:
        xs.append(x)
        ys.append(y)
    return tuple(xs), tuple(ys)


def optimizer(opt_maker: Callable[..., tuple[Callable, Callable, Callable]]
              ) -> Callable[..., Optimizer]:
    """Decorator lifting an optimizer defined on single arrays to one on pytrees.

    ``opt_maker(*args, **kwargs)`` returns ``(init, update, get_params)`` acting on one
    array: ``init(x0) -> state``, ``update(i, g, state) -> state`` and
    ``get_params(state) -> x``, where ``state`` may be any pytree. The decorated function
    returns an ``Optimizer`` whose functions take pytrees of arrays.

    Example:
        >>> @optimizer
        ... def halve(step_size):
        ...     return (lambda x0: x0), (lambda i, g, x: x - step_size * g), (lambda x: x)
        >>> init, update, get = halve(0.5)
        >>> get(update(0, {"a": 2.0}, init({"a": 1.0})))
        {'a': 0.0}
    """

    @functools.wraps(opt_maker)
    def tree_opt_maker(*args, **kwargs) -> Optimizer:
        init, update, get_params = opt_maker(*args, **kwargs)

        @functools.wraps(init)
        def tree_init(x0_tree: Params) -> OptimizerState:
            x0_flat, tree = tree_flatten(x0_tree)
            initial_states = [init(x0) for x0 in x0_flat]
            states_flat, subtrees = _unzip2(map(tree_flatten, initial_states))
            return OptimizerState(states_flat, tree, subtrees)

        @functools.wraps(update)
        def tree_update(i: Step, grad_tree: Updates, opt_state: OptimizerState
                        ) -> OptimizerState:
            states_flat, tree, subtrees = _check_state(opt_state, "update")
            _check_step(i)
            grad_flat, tree2 = tree_flatten(grad_tree)
            if tree2 != tree:
                raise OptimizerError(
                    "optimizer update function was passed a gradient tree that did not match "
                    f"the parameter tree structure with which it was initialized: parameter "
                    f"tree {tree} and grad tree {tree2}. Pass grads with the params' structure.")
            states = [tree_unflatten(s, f) for s, f in zip(subtrees, states_flat, strict=True)]
            new_states = [update(i, g, s) for g, s in zip(grad_flat, states, strict=True)]
            new_states_flat, subtrees2 = _unzip2(map(tree_flatten, new_states))
            for subtree, subtree2 in zip(subtrees, subtrees2, strict=True):
                if subtree2 != subtree:
                    raise OptimizerError(
                        "optimizer update function produced an output structure that did not "
                        f"match its input structure: input {subtree} and output {subtree2}.")
            return OptimizerState(new_states_flat, tree, subtrees)

        @functools.wraps(get_params)
        def tree_get_params(opt_state: OptimizerState) -> Params:
            states_flat, tree, subtrees = _check_state(opt_state, "get_params")
            states = [tree_unflatten(s, f) for s, f in zip(subtrees, states_flat, strict=True)]
            return tree_unflatten(tree, [get_params(s) for s in states])

        return Optimizer(tree_init, tree_update, tree_get_params)

    return tree_opt_maker


# --- optimizers -----------------------------------------------------------------------
# Each takes ``step_size``: a positive scalar, or a schedule mapping the step index to one,
# and returns an ``Optimizer`` (init_fun, update_fun, get_params).


@optimizer
def sgd(step_size: float | Schedule):
    """Stochastic gradient descent: ``x <- x - step_size(i) * g``.

    Example:
        >>> init, update, get = sgd(0.1)
        >>> get(update(0, [1.0], init([2.0])))
        [array(1.9, dtype=float32)]
    """
    step_size = make_schedule(step_size)

    def init(x0):
        return x0

    def update(i, g, x):
        return fnp.subtract(x, fnp.multiply(step_size(i), g))

    def get_params(x):
        return x

    return Optimizer(init, update, get_params)


@optimizer
def momentum(step_size: float | Schedule, mass: float):
    """Heavy-ball momentum: ``v <- mass * v + g``; ``x <- x - step_size(i) * v``."""
    step_size = make_schedule(step_size)

    def init(x0):
        return x0, fnp.zeros_like(x0)

    def update(i, g, state):
        x, velocity = state
        velocity = fnp.add(fnp.multiply(mass, velocity), g)
        x = fnp.subtract(x, fnp.multiply(step_size(i), velocity))
        return x, velocity

    def get_params(state):
        return state[0]

    return init, update, get_params


@optimizer
def nesterov(step_size: float | Schedule, mass: float):
    """Nesterov momentum: ``v <- mass * v + g``; ``x <- x - step_size(i) * (mass * v + g)``."""
    step_size = make_schedule(step_size)

    def init(x0):
        return x0, fnp.zeros_like(x0)

    def update(i, g, state):
        x, velocity = state
        velocity = fnp.add(fnp.multiply(mass, velocity), g)
        x = fnp.subtract(x, fnp.multiply(step_size(i), fnp.add(fnp.multiply(mass, velocity), g)))
        return x, velocity

    def get_params(state):
        return state[0]

    return init, update, get_params


def _inv_sqrt_or_zero(a):
    """``where(a > 0, 1 / sqrt(a), 0)``; the inner ``where`` keeps 1/0 (and its warning and
    its NaN gradient) out of the branch that is not taken."""
    positive = fnp.greater(a, 0)
    return fnp.where(positive, fnp.divide(1.0, fnp.sqrt(fnp.where(positive, a, 1.0))), 0.0)


@optimizer
def adagrad(step_size: float | Schedule, momentum: float = 0.9):
    """Adagrad with momentum (Duchi et al. 2011).

    ``G <- G + g**2``; ``m <- (1 - momentum) * g / sqrt(G) + momentum * m``;
    ``x <- x - step_size(i) * m`` (``1/sqrt(G)`` is 0 where ``G == 0``).
    """
    step_size = make_schedule(step_size)

    def init(x0):
        return x0, fnp.zeros_like(x0), fnp.zeros_like(x0)

    def update(i, g, state):
        x, g_sq, m = state
        g_sq = fnp.add(g_sq, fnp.square(g))
        scaled = fnp.multiply(g, _inv_sqrt_or_zero(g_sq))
        m = fnp.add(fnp.multiply(1.0 - momentum, scaled), fnp.multiply(momentum, m))
        x = fnp.subtract(x, fnp.multiply(step_size(i), m))
        return x, g_sq, m

    def get_params(state):
        return state[0]

    return init, update, get_params


@optimizer
def rmsprop(step_size: float | Schedule, gamma: float = 0.9, eps: float = 1e-8):
    """RMSProp: ``a <- gamma * a + (1 - gamma) * g**2``; ``x <- x - step * g / sqrt(a + eps)``."""
    step_size = make_schedule(step_size)

    def init(x0):
        return x0, fnp.zeros_like(x0)

    def update(i, g, state):
        x, avg_sq_grad = state
        avg_sq_grad = fnp.add(fnp.multiply(avg_sq_grad, gamma),
                              fnp.multiply(fnp.square(g), 1.0 - gamma))
        step = fnp.divide(fnp.multiply(step_size(i), g), fnp.sqrt(fnp.add(avg_sq_grad, eps)))
        return fnp.subtract(x, step), avg_sq_grad

    def get_params(state):
        return state[0]

    return init, update, get_params


@optimizer
def rmsprop_momentum(step_size: float | Schedule, gamma: float = 0.9, eps: float = 1e-8,
                     momentum: float = 0.9):
    """RMSProp with momentum: as ``rmsprop``, but the step accumulates
    ``mom <- momentum * mom + step * g / sqrt(a + eps)`` and ``x <- x - mom``."""
    step_size = make_schedule(step_size)

    def init(x0):
        return x0, fnp.zeros_like(x0), fnp.zeros_like(x0)

    def update(i, g, state):
        x, avg_sq_grad, mom = state
        avg_sq_grad = fnp.add(fnp.multiply(avg_sq_grad, gamma),
                              fnp.multiply(fnp.square(g), 1.0 - gamma))
        step = fnp.divide(fnp.multiply(step_size(i), g), fnp.sqrt(fnp.add(avg_sq_grad, eps)))
        mom = fnp.add(fnp.multiply(momentum, mom), step)
        return fnp.subtract(x, mom), avg_sq_grad, mom

    def get_params(state):
        return state[0]

    return init, update, get_params


def _bias_correction(b, i, like):
    """``1 - b ** (i + 1)`` in ``like``'s dtype (``i`` may be traced)."""
    return fnp.subtract(1.0, fnp.power(fnp.asarray(b, like.dtype), i + 1))


@optimizer
def adam(step_size: float | Schedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8):
    """Adam (Kingma and Ba 2014), with bias-corrected moment estimates.

    Args:
        step_size: positive scalar, or a schedule mapping the step index to one.
        b1: decay rate of the first moment estimate.
        b2: decay rate of the second moment estimate.
        eps: added to ``sqrt(vhat)`` for numerical stability.

    Returns:
        An ``Optimizer`` ``(init_fun, update_fun, get_params)``.

    Example:
        >>> init, update, get = adam(0.1)
        >>> x, = get(update(0, (3.0,), init((1.0,))))  # first step: x - 0.1 * sign(g)
        >>> round(float(x), 4)
        0.9
    """
    step_size = make_schedule(step_size)

    def init(x0):
        return x0, fnp.zeros_like(x0), fnp.zeros_like(x0)

    def update(i, g, state):
        x, m, v = state
        m = fnp.add(fnp.multiply(1 - b1, g), fnp.multiply(b1, m))  # first moment
        v = fnp.add(fnp.multiply(1 - b2, fnp.square(g)), fnp.multiply(b2, v))  # second moment
        mhat = fnp.divide(m, _bias_correction(b1, i, m))
        vhat = fnp.divide(v, _bias_correction(b2, i, m))
        step = fnp.divide(fnp.multiply(step_size(i), mhat), fnp.add(fnp.sqrt(vhat), eps))
        return fnp.subtract(x, step), m, v

    def get_params(state):
        return state[0]

    return init, update, get_params


@optimizer
def adamax(step_size: float | Schedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8):
    """AdaMax, Adam's infinity-norm variant: ``u <- max(b2 * u, |g|)``;
    ``x <- x - step / (1 - b1**(i+1)) * m / (u + eps)``."""
    step_size = make_schedule(step_size)

    def init(x0):
        return x0, fnp.zeros_like(x0), fnp.zeros_like(x0)

    def update(i, g, state):
        x, m, u = state
        m = fnp.add(fnp.multiply(1 - b1, g), fnp.multiply(b1, m))
        u = fnp.maximum(fnp.multiply(b2, u), fnp.abs(g))
        rate = fnp.divide(step_size(i), _bias_correction(b1, i, m))
        x = fnp.subtract(x, fnp.divide(fnp.multiply(rate, m), fnp.add(u, eps)))
        return x, m, u

    def get_params(state):
        return state[0]

    return init, update, get_params


def _splice(seq, i, x):
    lst = list(seq)
    lst[i:i + 1] = x
    return lst


@optimizer
def sm3(step_size: float | Schedule, momentum: float = 0.9):
    """SM3 (Anil et al. 2019): Adagrad whose accumulator is kept as one vector per axis.

    The state of an ``x`` of shape ``(n, k)`` is ``(x, m, [v0 (n,), v1 (k,)], x.shape)``;
    ``accum = min_j(v_j broadcast) + g**2``, ``m <- (1 - momentum) * g / sqrt(accum) +
    momentum * m``, ``x <- x - step * m`` and ``v_j <- accum.max(other axes)``.
    """
    step_size = make_schedule(step_size)

    def broadcast_into(ndim, x, axis):
        idx = _splice([None] * ndim, axis, [slice(None)])
        return x[tuple(idx)]

    def init(x0):
        x_shape = fnp.shape(x0)
        x0 = fnp.atleast_1d(x0)
        vs = [fnp.zeros(sz, dtype=x0.dtype) for sz in x0.shape]
        return x0, fnp.zeros_like(x0), vs, x_shape

    def update(i, g, state):
        x, m, vs, x_shape = state
        vs = [broadcast_into(fnp.ndim(g), v, axis) for axis, v in enumerate(vs)]
        accum = fnp.add(functools.reduce(fnp.minimum, vs), fnp.square(g))
        scaled = fnp.multiply(g, _inv_sqrt_or_zero(accum))
        m = fnp.add(fnp.multiply(1.0 - momentum, scaled), fnp.multiply(momentum, m))
        x = fnp.subtract(x, fnp.multiply(step_size(i), m))
        vs = [fnp.max(accum, axis=tuple(_splice(range(x.ndim), j, [])))
              for j in range(x.ndim)]
        return x, m, vs, x_shape

    def get_params(state):
        x, _, _, x_shape = state
        return fnp.reshape(x, x_shape)

    return init, update, get_params


# --- schedules ------------------------------------------------------------------------


def constant(step_size: float) -> Schedule:
    """The schedule ``i -> step_size``."""
    def schedule(i):
        return step_size
    return schedule


def exponential_decay(step_size: float, decay_steps: float, decay_rate: float) -> Schedule:
    """The schedule ``i -> step_size * decay_rate ** (i / decay_steps)``.

    Example:
        >>> float(exponential_decay(1.0, 2, 0.5)(4))
        0.25
    """
    def schedule(i):
        return step_size * decay_rate ** (i / decay_steps)
    return schedule


def inverse_time_decay(step_size: float, decay_steps: float, decay_rate: float,
                       staircase: bool = False) -> Schedule:
    """The schedule ``i -> step_size / (1 + decay_rate * i / decay_steps)``; with
    ``staircase`` the ratio ``i / decay_steps`` is floored."""
    if staircase:
        def schedule(i):
            return step_size / (1 + decay_rate * fnp.floor(i / decay_steps))
    else:
        def schedule(i):
            return step_size / (1 + decay_rate * i / decay_steps)
    return schedule


def polynomial_decay(step_size: float, decay_steps: int, final_step_size: float,
                     power: float = 1.0) -> Schedule:
    """The schedule going from ``step_size`` to ``final_step_size`` in ``decay_steps`` steps:
    ``(1 - min(i, decay_steps) / decay_steps) ** power * (step_size - final) + final``."""
    def schedule(step_num):
        step_num = fnp.minimum(step_num, decay_steps)
        step_mult = fnp.power(fnp.subtract(1, fnp.divide(step_num, decay_steps)), power)
        return fnp.add(fnp.multiply(step_mult, step_size - final_step_size), final_step_size)
    return schedule


def piecewise_constant(boundaries: Any, values: Any) -> Schedule:
    """The schedule ``i -> values[number of boundaries that i exceeds]``.

    Example:
        >>> s = piecewise_constant([10, 20], [1.0, 0.5, 0.1])
        >>> [float(s(i)) for i in (0, 10, 11, 25)]
        [1.0, 1.0, 0.5, 0.10000000149011612]
    """
    boundaries = fnp.array(boundaries)
    values = fnp.array(values)
    if not boundaries.ndim == values.ndim == 1:
        raise ShapeError("piecewise_constant: boundaries and values must be 1-d sequences of "
                         f"numbers, got shapes {boundaries.shape} and {values.shape}")
    if not boundaries.shape[0] == values.shape[0] - 1:
        raise ShapeError("piecewise_constant: boundaries length must be one shorter than "
                         f"values length (got {boundaries.shape[0]} and {values.shape[0]})")

    def schedule(i):
        return values[fnp.sum(fnp.greater(i, boundaries))]
    return schedule


def make_schedule(scalar_or_schedule: float | Schedule) -> Schedule:
    """A callable stays as it is; a scalar becomes ``constant(scalar)``."""
    if callable(scalar_or_schedule):
        return scalar_or_schedule
    if fnp.ndim(scalar_or_schedule) == 0:
        return constant(scalar_or_schedule)
    raise TypeError(f"make_schedule: expected a scalar step size or a callable schedule, got "
                    f"{type(scalar_or_schedule).__name__} of shape "
                    f"{fnp.shape(scalar_or_schedule)}")


# --- utilities ------------------------------------------------------------------------


def l2_norm(tree: Any):
    """The l2 norm of a pytree of arrays (all leaves as one vector); useful for weight decay.

    Example:
        >>> float(l2_norm({"a": [3.0], "b": 4.0}))
        5.0
    """
    leaves, _ = tree_flatten(tree)
    return fnp.sqrt(functools.reduce(fnp.add, [fnp.vdot(x, x) for x in leaves], 0.0))


def clip_grads(grad_tree: Any, max_norm: float) -> Any:
    """Scale ``grad_tree`` so that its ``l2_norm`` is at most ``max_norm``.

    Example:
        >>> clip_grads([3.0, 4.0], 1.0)
        [array(0.6, dtype=float32), array(0.8, dtype=float32)]
    """
    norm = l2_norm(grad_tree)

    def normalize(g):
        return fnp.where(fnp.less(norm, max_norm), g,
                         fnp.multiply(g, fnp.divide(max_norm, norm)))

    return tree_map(normalize, grad_tree)


class JoinPoint:
    """Marks the boundary between two joined (nested) pytrees: a leaf of the outer
    (parameter) tree whose ``subtree`` is that leaf's optimizer state."""

    def __init__(self, subtree: Any) -> None:
        self.subtree = subtree

    # Since pytrees are containers of numpy arrays, look iterable.
    def __iter__(self):
        yield self.subtree

    def __repr__(self) -> str:
        return f"JoinPoint({self.subtree!r})"


def unpack_optimizer_state(opt_state: OptimizerState) -> Any:
    """Convert an ``OptimizerState`` to a marked pytree, for serialization.

    The result has the parameters' structure, with each leaf a ``JoinPoint`` holding that
    leaf's optimizer state.

    Example:
        >>> init, _, _ = momentum(0.1, 0.9)
        >>> unpack_optimizer_state(init({"w": 1.0}))
        {'w': JoinPoint((1.0, array(0., dtype=float32)))}
    """
    states_flat, tree_def, subtree_defs = _check_state(opt_state, "unpack_optimizer_state")
    subtrees = [tree_unflatten(s, f) for s, f in zip(subtree_defs, states_flat, strict=True)]
    return tree_unflatten(tree_def, [JoinPoint(subtree) for subtree in subtrees])


def pack_optimizer_state(marked_pytree: Any) -> OptimizerState:
    """Convert a marked pytree (from ``unpack_optimizer_state``) back to an
    ``OptimizerState``."""
    sentinels, tree_def = tree_flatten(marked_pytree)
    bad = [type(s).__name__ for s in sentinels if not isinstance(s, JoinPoint)]
    if bad:
        raise OptimizerError(
            f"pack_optimizer_state: every leaf of the marked pytree must be a JoinPoint, but "
            f"{len(bad)} are not (first: {bad[0]}); pass the output of unpack_optimizer_state.")
    states_flat, subtree_defs = _unzip2(tree_flatten(s.subtree) for s in sentinels)
    return OptimizerState(states_flat, tree_def, subtree_defs)
