"""``custom_gradient``: TensorFlow-style custom gradients (``jax.custom_gradient``).

``fun`` returns ``(value, vjp_fn)``; reverse-mode differentiation uses ``vjp_fn`` instead
of differentiating ``fun``. Built on ``custom_vjp``: the forward rule runs ``fun`` and
traces ``vjp_fn`` to a jaxpr, whose constants (the values ``vjp_fn`` closes over) are the
residuals; the backward rule evaluates that jaxpr on the cotangent. As in JAX, ``vjp_fn``
may close over intermediate values but may not branch on them (it is traced), and
forward-mode differentiation of the result is an error.
"""

from __future__ import annotations

import functools

from ..core.trace import eval_jaxpr, get_aval, trace_to_jaxpr
from ..errors import TransformError
from ..tree_util import tree_flatten, tree_unflatten
from .ad import instantiate_zeros, tangent_aval
from .api_util import fun_name
from .custom import custom_vjp
from .higher_order import closure_convert

__all__ = ["custom_gradient"]


def custom_gradient(fun):
    """Defines a function's gradient with the function itself (``jax.custom_gradient``).

    Args:
        fun: ``fun(*args) -> (value, vjp_fn)``, where ``vjp_fn(cotangent)`` returns a
            tuple with one cotangent per positional argument (a single value is taken
            as the tuple of one).
    Returns:
        A function returning ``value``, whose VJP is ``vjp_fn``.

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> @custom_gradient
        ... def f(x):
        ...     return x ** 2, lambda g: (g * x,)
        >>> float(f(3.0)), float(ft.grad(f)(3.0))  # the gradient is x, not 2x
        (9.0, 3.0)
    """
    name = fun_name(fun)

    @functools.wraps(fun)
    def wrapped(*args, **kwargs):
        store: dict = {}

        def primal(*a):
            out, _ = _call(fun, name, a, kwargs)
            return out

        def fwd(*a):
            out, vjp_fn = _call(fun, name, a, kwargs)
            out_leaves, out_tree = tree_flatten(out)
            ct_avals = [tangent_aval(get_aval(x)) for x in out_leaves]

            def flat_rule(*cts):
                ins = vjp_fn(tree_unflatten(out_tree, list(cts)))
                leaves, store["in_tree"] = tree_flatten(ins)
                return leaves

            flat_rule.__name__ = fun_name(vjp_fn)
            closed = trace_to_jaxpr(flat_rule, ct_avals, transform="custom_gradient",
                                    fun_name=flat_rule.__name__)
            store["rule"], consts = closure_convert(closed)
            store["out_tree"] = out_tree
            return out, consts

        def bwd(consts, ct):
            cts, tree = tree_flatten(ct)
            if tree != store["out_tree"]:
                raise TransformError(f"custom_gradient of {name}: the cotangent's structure "
                                     f"{tree} does not match the output's {store['out_tree']}")
            rule = store["rule"]
            outs = eval_jaxpr(rule.jaxpr, rule.consts, *consts,
                              *[instantiate_zeros(c) for c in cts])
            ins = tree_unflatten(store["in_tree"], outs)
            return ins if isinstance(ins, tuple) else (ins,)

        primal.__name__ = name
        f = custom_vjp(primal)
        f.defvjp(fwd, bwd)
        return f(*args)

    return wrapped


def _call(fun, name, args, kwargs):
    pair = fun(*args, **kwargs)
    if not (isinstance(pair, tuple | list) and len(pair) == 2 and callable(pair[1])):
        raise TransformError(f"custom_gradient: {name} must return a pair (value, vjp_fn) "
                             f"with vjp_fn a function of the output's cotangent, got "
                             f"{type(pair).__name__}")
    return pair
