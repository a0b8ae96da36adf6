"""``custom_vmap``: a function with its own batching rule (``jax.custom_batching``).

Calling a ``custom_vmap`` function binds one ``custom_vmap_call`` equation that holds the
function's jaxpr (``call``) and the user's rule. Its rules:

- evaluation (and ``jit``, through the reference impl) runs ``call``;
- ``vmap`` calls the rule ``rule(axis_size, in_batched, *args) -> (out, out_batched)`` with
  the batched arguments (batch axis first) instead of batching ``call``;
- ``jvp`` binds another ``custom_vmap_call`` whose ``call`` is the JVP of ``call`` and whose
  rule is the JVP of the user's rule (every argument batched, as the rule sees them), so
  ``vmap(jvp(f))`` still uses the rule. As the linear part of ``call``'s JVP stays a
  ``custom_vmap_call``, reverse mode is refused, as in JAX: combine with ``custom_vjp``
  (outside) to differentiate in reverse.
"""

from __future__ import annotations

import functools
import inspect

from ..core.trace import Primitive, abstract_eval_rules, get_aval, impl_rules, trace_to_jaxpr
from ..errors import TransformError
from ..tree_util import tree_flatten, tree_structure, tree_unflatten
from .ad import Zero, instantiate_zeros, jvp_flat, jvp_rules, tangent_aval, transpose_rules
from .api_util import fun_name
from .batching import batching_rules, broadcast, moveaxis, not_mapped
from .higher_order import closure_convert, dce_jaxpr, eval_jaxpr_impl, jvp_jaxpr

__all__ = ["custom_vmap", "custom_vmap_p"]

custom_vmap_p = Primitive("custom_vmap_call", multiple_results=True, impl_fallback=True)


def _impl(*args, call, rule, num_consts, name):
    return eval_jaxpr_impl(call, *args)


def _abstract(*avals, call, rule, num_consts, name):
    return [a.strip_weak_type() for a in call.out_avals]


def _batch(args, dims, *, call, rule, num_consts, name):
    if any(d is not not_mapped for d in dims[:num_consts]):
        raise TransformError(f"custom_vmap function {name} closes over a value that vmap "
                             "batches; pass it as an argument instead")
    sizes = {get_aval(x).shape[d] for x, d in zip(args, dims, strict=True)
             if d is not not_mapped}
    size = sizes.pop()
    args = [x if d is not_mapped else moveaxis(x, d, 0)
            for x, d in zip(args[num_consts:], dims[num_consts:], strict=True)]
    outs, out_batched = rule(size, [d is not not_mapped for d in dims[num_consts:]], *args)
    return list(outs), [0 if b else not_mapped for b in out_batched]


def _broadcast(x, size: int):
    return broadcast(x, size, 0)


def _jvp(primals, tangents, *, call, rule, num_consts, name):
    # two equations: the primal one (so reverse mode finds the primal outputs known and
    # stops at the tangent one, which has no transpose), and one for the tangents whose
    # call is the tangent part of call's JVP and whose rule is the JVP of the rule
    tangents = [instantiate_zeros(t) for t in tangents]
    n, m = len(primals), len(call.out_avals)
    jcall, out_nz = jvp_jaxpr(call, [True] * n, True)
    tcall = dce_jaxpr(jcall, [False] * m + [True] * sum(out_nz))

    def jvp_rule(size, in_batched, *args):
        # the user's rule sees every argument batched (constants never are: _batch
        # refuses them, and their tangents take no part)
        args = [a if b else _broadcast(a, size) for a, b in zip(args, in_batched, strict=True)]
        # _batch drops the leading constants: args are the other primals, then every
        # tangent (the constants' first)
        m = n - num_consts
        ps, ts = args[:m], args[m + num_consts:]

        def on_batch(*xs):
            outs, out_b = rule(size, [True] * len(xs), *xs)
            return [o if b else _broadcast(o, size) for o, b in zip(outs, out_b, strict=True)]

        _, t_out = jvp_flat(on_batch, ps, ts)
        # as jcall: integer outputs have no tangent output
        outs = [instantiate_zeros(t) for t, nz in zip(t_out, out_nz, strict=True) if nz]
        return outs, [True] * len(outs)

    p_out = custom_vmap_p.bind(*primals, call=call, rule=rule, num_consts=num_consts,
                               name=name)
    t_out = iter(custom_vmap_p.bind(*primals, *tangents, call=tcall, rule=jvp_rule,
                                    num_consts=num_consts, name=f"jvp({name})"))
    return p_out, [next(t_out) if nz else Zero(tangent_aval(a))
                   for nz, a in zip(out_nz, call.out_avals, strict=True)]


def _transpose(cts, *args, call, rule, num_consts, name):
    raise TransformError(f"custom_vmap function {name} cannot be differentiated in reverse "
                         "mode (grad, vjp), as in JAX; wrap it in custom_vjp (outside "
                         "custom_vmap) to give it a VJP, or use jvp/jacfwd.")


impl_rules[custom_vmap_p] = _impl
abstract_eval_rules[custom_vmap_p] = _abstract
batching_rules[custom_vmap_p] = _batch
jvp_rules[custom_vmap_p] = _jvp
transpose_rules[custom_vmap_p] = _transpose


class custom_vmap:  # noqa: N801 - JAX's name
    """Customises how ``vmap`` batches ``fun`` (``jax.custom_batching.custom_vmap``).

    Register the rule with ``@f.def_vmap``: ``rule(axis_size, in_batched, *args) ->
    (out, out_batched)``, where ``in_batched`` is a list with one pytree of bools per
    argument (is the leaf batched), the batched leaves carry the batch axis first, and
    ``out_batched`` is a pytree of bools shaped like ``out``. Outside ``vmap`` the
    function itself runs.

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> @custom_vmap
        ... def f(x, y):
        ...     return x + y
        >>> @f.def_vmap
        ... def f_vmap_rule(axis_size, in_batched, xs, ys):
        ...     return xs * ys, True
        >>> ft.vmap(f)(fnp.arange(3.0), fnp.arange(1.0, 4.0))  # xs * ys, not xs + ys
        array([0., 2., 6.], dtype=float32)
    """

    def __init__(self, fun):
        try:
            functools.update_wrapper(self, fun)
        except AttributeError:
            pass
        self.fun = fun
        self.vmap_rule = None
        self.__name__ = fun_name(fun)

    def def_vmap(self, vmap_rule):
        """Registers ``vmap_rule`` and returns it unchanged."""
        self.vmap_rule = vmap_rule
        return vmap_rule

    def __call__(self, *args, **kwargs):
        name = self.__name__
        if self.vmap_rule is None:
            raise TransformError(f"No batching rule defined for custom_vmap function {name}; "
                                 "register one with @f.def_vmap.")
        if kwargs:
            try:
                bound = inspect.signature(self.fun).bind(*args, **kwargs)
            except (TypeError, ValueError) as e:
                raise TransformError(f"custom_vmap function {name}: the arguments could not "
                                     f"be bound to positional ones: {e}") from None
            bound.apply_defaults()
            args = bound.args
        leaves, in_tree = tree_flatten(args)
        store: dict = {}

        def flat_fun(*xs):
            out_leaves, store["out_tree"] = tree_flatten(self.fun(*tree_unflatten(in_tree, xs)))
            return out_leaves

        flat_fun.__name__ = name
        closed = trace_to_jaxpr(flat_fun, [get_aval(x) for x in leaves], transform="custom_vmap",
                                fun_name=name)
        call, consts = closure_convert(closed)
        out_tree = store["out_tree"]
        outs = custom_vmap_p.bind(*consts, *leaves, call=call,
                                  rule=_FlatRule(self.vmap_rule, in_tree, out_tree, name),
                                  num_consts=len(consts), name=name)
        return tree_unflatten(out_tree, outs)


class _FlatRule:
    """The user's rule on flat leaves (and flat batched flags)."""

    def __init__(self, rule, in_tree, out_tree, name: str):
        self.rule, self.in_tree, self.out_tree, self.name = rule, in_tree, out_tree, name
        self.__name__ = fun_name(rule)

    def __call__(self, size, in_batched, *leaves):
        args = tree_unflatten(self.in_tree, list(leaves))
        flags = tree_unflatten(self.in_tree, list(in_batched))
        pair = self.rule(size, list(flags), *args)
        if not (isinstance(pair, tuple | list) and len(pair) == 2):
            raise TransformError(f"custom_vmap rule {self.__name__} of {self.name} must return "
                                 "a pair (out, out_batched)")
        out, out_batched = pair
        out_leaves, tree = tree_flatten(out)
        if tree != self.out_tree:
            raise TransformError(
                f"custom_vmap rule {self.__name__} of {self.name} returned an output of "
                f"structure {tree}; the function's output has structure {self.out_tree}")
        flags_out, flags_tree = tree_flatten(out_batched)
        if flags_tree != tree_structure(out):
            raise TransformError(
                f"custom_vmap rule {self.__name__} of {self.name}: the structure of "
                f"out_batched {flags_tree} does not match that of the output {tree}")
        return out_leaves, [bool(b) for b in flags_out]

