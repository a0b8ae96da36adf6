"""User-defined derivatives: ``custom_jvp`` and ``custom_vjp``.

Calling a custom function hands its body and its rules (flat Python callables) to
the innermost trace (``core.trace.bind_custom_jvp_call``); each trace decides, as
in JAX:

- evaluation and partial evaluation run the body as ordinary Python (so outside
  ``jit`` it may call NumPy or a ``@numba.njit`` kernel on concrete arrays);
- forward-mode differentiation (which ``grad`` also uses) applies the rule; a
  ``custom_vjp`` becomes a ``custom_lin`` equation whose transpose calls ``bwd``;
- ``vmap`` batches the body and the rules and keeps them attached;
- staging (``make_jaxpr``, ``jit``, the bodies of ``scan``/``cond``) records a
  ``custom_jvp_call`` / ``custom_vjp_call`` equation that holds the body's jaxpr
  and the rules, so a later ``grad`` or ``vmap`` of the staged program still uses
  them. ``jit`` inlines the body when it compiles.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np

from ..core.jaxpr import ClosedJaxpr, pp_params_rules
from ..core.trace import (
    Primitive,
    abstract_eval_rules,
    bind_custom_jvp_call,
    bind_custom_vjp_call,
    eval_jaxpr,
    get_aval,
    impl_rules,
)
from ..errors import TransformError
from ..tree_util import tree_flatten, tree_unflatten
from .ad import Zero, instantiate_zeros, transpose_rules, zeros_like_aval
from .api_util import fun_name
from .batching import axis_size, batching_rules, bdim_at_front, moveaxis, not_mapped
from .higher_order import eval_jaxpr_impl
from .symbolic_zeros import CustomVJPPrimal, SymbolicZero, to_symbolic
from .vmap import vmap

__all__ = ["custom_jvp", "custom_jvp_call_p", "custom_lin_p", "custom_vjp",
           "custom_vjp_call_p"]


def _call_jaxpr_fun(call: ClosedJaxpr, name: str):
    def fun(*args):
        return eval_jaxpr(call.jaxpr, call.consts, *args)
    fun.__name__ = name
    return fun


# ---------------------------------------------------------------------------
# the staged equations

class _CustomJVPCallPrimitive(Primitive):
    """``custom_jvp_call[name call_jaxpr jvp_jaxpr_fun num_consts symbolic_zeros]``:
    re-binding a staged equation hands its body and rule back to the trace."""

    def bind_with_trace(self, trace, tracers, params):
        nc, rule = params["num_consts"], params["jvp_jaxpr_fun"]

        def jvp(primals, tangents):  # the closed-over constants take no part in the rule
            return rule(primals[nc:], tangents[nc:])

        fun = _call_jaxpr_fun(params["call_jaxpr"], params["name"])
        return trace.process_custom_jvp_call(self, fun, jvp, tracers,
                                             symbolic_zeros=params["symbolic_zeros"])


class _CustomVJPCallPrimitive(Primitive):
    """``custom_vjp_call[name call_jaxpr fwd_jaxpr_thunk bwd num_consts out_trees
    symbolic_zeros]``."""

    def bind_with_trace(self, trace, tracers, params):
        nc, fwd_, bwd_ = params["num_consts"], params["fwd_jaxpr_thunk"], params["bwd"]
        const_avals = [t.aval for t in tracers[:nc]]

        def fwd(*args, **kw):  # kw: perturbed=, with symbolic_zeros
            if "perturbed" in kw:
                kw = {"perturbed": kw["perturbed"][nc:]}
            return fwd_(*args[nc:], **kw)

        def bwd(res, cts):  # closed-over constants get no cotangent
            return [zeros_like_aval(a) for a in const_avals] + list(bwd_(res, cts))
        bwd.symbolic_zeros = getattr(bwd_, "symbolic_zeros", False)

        fun = _call_jaxpr_fun(params["call_jaxpr"], params["name"])
        return trace.process_custom_vjp_call(self, fun, fwd, bwd, tracers,
                                             out_trees=params["out_trees"],
                                             symbolic_zeros=params["symbolic_zeros"])

    @staticmethod
    def linear_call(res, tangents, bwd, out_avals):
        """The tangent outputs: a ``custom_lin`` equation that transposes to ``bwd``."""
        return custom_lin_p.bind(*res, *tangents, num_res=len(res), bwd=bwd,
                                 out_avals=tuple(out_avals),
                                 fun_name=getattr(bwd, "__name__", "bwd"))


# jit inlines both before lowering (compiler/nested.py); elsewhere backends run the impl
custom_jvp_call_p = _CustomJVPCallPrimitive("custom_jvp_call", multiple_results=True,
                                            impl_fallback=True)
custom_vjp_call_p = _CustomVJPCallPrimitive("custom_vjp_call", multiple_results=True,
                                            impl_fallback=True)


def _printed(renames: dict, hidden: tuple):
    """The parameters JAX 0.10 prints for these equations (``make_jaxpr``): its names for
    the rules, without our bookkeeping."""
    def rule(eqn):
        return {renames.get(k, k): v for k, v in eqn.params.items() if k not in hidden}
    return rule


pp_params_rules[custom_jvp_call_p] = _printed({"jvp_jaxpr_fun": "jvp"}, ("num_consts",))
pp_params_rules[custom_vjp_call_p] = _printed({"fwd_jaxpr_thunk": "fwd"},
                                              ("num_consts", "out_trees"))


def _call_impl(*args, call_jaxpr, **_):
    return eval_jaxpr_impl(call_jaxpr, *args)


def _call_abstract(*avals, call_jaxpr, **_):
    return [a.strip_weak_type() for a in call_jaxpr.out_avals]


def _call_batch(prim, args, dims, **params):
    # a BatchTrace reaches BatchTrace.process_custom_*_call through bind_with_trace; this
    # rule (for direct use of the table) goes the same way through a fresh vmap
    size = axis_size(args, dims)
    outs = vmap(lambda *a: prim.bind(*a, **params), in_axes=tuple(dims), axis_size=size)(*args)
    return outs, [0] * len(outs)


for _p in (custom_jvp_call_p, custom_vjp_call_p):
    impl_rules[_p] = _call_impl
    abstract_eval_rules[_p] = _call_abstract
    batching_rules[_p] = functools.partial(_call_batch, _p)


# ---------------------------------------------------------------------------
# custom_lin: the linear part of a custom_vjp function under differentiation

# only in linear programs, which are transposed before anything runs them
custom_lin_p = Primitive("custom_lin", multiple_results=True, impl_fallback=True)


def _custom_lin_impl(*args, **params):
    raise TransformError("can't apply forward-mode differentiation (jvp, jacfwd, linearize) "
                         "to a custom_vjp function; use vjp/grad/jacrev, or custom_jvp.")


def _custom_lin_abstract(*avals, num_res, bwd, out_avals, fun_name):
    return list(out_avals)


def _custom_lin_transpose(cts, *args, num_res, bwd, out_avals, fun_name):
    # a bwd registered with symbolic_zeros=True sees the zero cotangents as such
    if not getattr(bwd, "symbolic_zeros", False):
        cts = [instantiate_zeros(c) for c in cts]
    cts_in = list(bwd(list(args[:num_res]), cts))
    linear = args[num_res:]
    if len(cts_in) != len(linear):
        raise TransformError(f"custom_vjp bwd of {fun_name} returned {len(cts_in)} cotangent "
                             f"leaves, expected {len(linear)}")
    return [None] * num_res + cts_in


def _custom_lin_batch(args, dims, *, num_res, bwd, out_avals, fun_name):
    # the linear inputs are all batched at 0, so bwd, mapped over the cotangents (and the
    # mapped residuals), returns a batched cotangent for every one of them
    size = axis_size(args, dims)
    res = [x if d is not_mapped else moveaxis(x, d, 0)
           for x, d in zip(args[:num_res], dims[:num_res], strict=True)]
    res_axes = tuple(None if d is not_mapped else 0 for d in dims[:num_res])
    linear = [bdim_at_front(x, d, size)
              for x, d in zip(args[num_res:], dims[num_res:], strict=True)]

    def batched_bwd(res, cts):
        return vmap(lambda r, c: list(bwd(list(r), list(c))), in_axes=(res_axes, 0))(
            tuple(res), tuple(cts))

    avals = tuple(a.update(shape=(size, *a.shape)) for a in out_avals)
    outs = custom_lin_p.bind(*res, *linear, num_res=num_res, bwd=batched_bwd,
                             out_avals=avals, fun_name=fun_name)
    return outs, [0] * len(outs)


impl_rules[custom_lin_p] = _custom_lin_impl
abstract_eval_rules[custom_lin_p] = _custom_lin_abstract
transpose_rules[custom_lin_p] = _custom_lin_transpose
batching_rules[custom_lin_p] = _custom_lin_batch


# ---------------------------------------------------------------------------
# argument handling shared by both decorators

class _CustomBase:
    def __init__(self, fun, nondiff_argnums=(), nondiff_argnames=()):
        try:
            functools.update_wrapper(self, fun)
        except AttributeError:  # functools.partial and other callables without a __name__
            pass
        self.__name__ = fun_name(fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.nondiff_argnames = tuple(nondiff_argnames)
        try:
            self._signature = inspect.signature(fun)
        except (TypeError, ValueError):
            self._signature = None

    def __getattr__(self, name):
        # as JAX: attributes of the wrapped function (say a custom_vmap's def_vmap) show
        # through, so the decorators stack
        if name == "fun" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.fun, name)

    def _resolve(self, args, kwargs):
        """Positional arguments (keywords bound by the signature) and the nondiff positions."""
        if kwargs or self.nondiff_argnames:
            if self._signature is None:
                raise TransformError(f"{self.__name__}: keyword arguments need a function "
                                     "with an inspectable signature")
            bound = self._signature.bind(*args, **kwargs)
            bound.apply_defaults()
            args = bound.args
            if bound.kwargs:
                raise TransformError(f"{self.__name__}: keyword-only arguments "
                                     f"{sorted(bound.kwargs)} are not supported by custom "
                                     "derivative functions; pass them positionally")
        nums = set(n % len(args) for n in self.nondiff_argnums) if args else set()
        if self.nondiff_argnames:
            names = list(self._signature.parameters)
            nums |= {names.index(n) for n in self.nondiff_argnames}
        return tuple(args), tuple(sorted(nums))

    @staticmethod
    def _split(args, nums):
        return (tuple(args[i] for i in nums),
                tuple(a for i, a in enumerate(args) if i not in nums))

    @staticmethod
    def _merge(nondiff, diff, nums):
        it_n, it_d = iter(nondiff), iter(diff)
        return [next(it_n) if i in nums else next(it_d)
                for i in range(len(nondiff) + len(diff))]


def _as_like(x, aval):
    """A rule's output leaf as an array of the primal's dtype (Python scalars allowed)."""
    if isinstance(x, Zero | SymbolicZero):
        return zeros_like_aval(x.aval)
    if isinstance(x, int | float | complex | np.generic | np.ndarray):
        return np.asarray(x, aval.dtype)
    return x


class custom_jvp(_CustomBase):
    """Wraps ``fun`` so that forward/reverse-mode differentiation uses a user rule.

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> @custom_jvp
        ... def log1pexp(x):
        ...     return fnp.log(1. + fnp.exp(x))
        >>> @log1pexp.defjvp
        ... def log1pexp_jvp(primals, tangents):
        ...     x, = primals; t, = tangents
        ...     return log1pexp(x), t * (1. - 1. / (1. + fnp.exp(x)))
        >>> float(ft.grad(log1pexp)(100.))
        1.0
    """

    def __init__(self, fun, nondiff_argnums=(), nondiff_argnames=()):
        super().__init__(fun, nondiff_argnums, nondiff_argnames)
        self.jvp = None
        self.symbolic_zeros = False

    def defjvp(self, jvp, symbolic_zeros: bool = False):
        """Registers ``jvp(primals, tangents) -> (primal_out, tangent_out)``.

        With ``symbolic_zeros=True`` the tangent of an input that takes no part in the
        differentiation arrives as a ``SymbolicZero`` (test with
        ``type(t) is SymbolicZero``) instead of an array of zeros. ``tangent_out`` may be
        a ``SymbolicZero`` either way.
        """
        self.jvp = jvp
        self.symbolic_zeros = bool(symbolic_zeros)
        return jvp

    def defjvps(self, *jvps):
        """Registers one ``jvp_i(g, ans, *primals)`` per argument (``None`` = zero)."""
        def jvp(primals, tangents):
            ans = self(*primals)
            out = None
            for fn, t in zip(jvps, tangents, strict=True):
                if fn is None or isinstance(t, Zero):
                    continue
                term = fn(t, ans, *primals)
                out = term if out is None else out + term
            return ans, (out if out is not None else 0.0 * ans)
        self.jvp = jvp
        return jvp

    def __call__(self, *args, **kwargs):
        if self.jvp is None:
            raise TransformError(f"No JVP defined for custom_jvp function {self.__name__}; "
                                 "register one with @f.defjvp.")
        args, nums = self._resolve(args, kwargs)
        nondiff, diff = self._split(args, nums)
        leaves, in_tree = tree_flatten(diff)
        store: dict = {}
        name = self.__name__

        def flat_fun(*xs):
            out = self.fun(*self._merge(nondiff, tree_unflatten(in_tree, xs), nums))
            out_leaves, store["out_tree"] = tree_flatten(out)
            return out_leaves

        def flat_jvp(primals, tangents):
            p = tuple(tree_unflatten(in_tree, primals))
            t = tuple(tree_unflatten(in_tree, [to_symbolic(x) for x in tangents]))
            pair = self.jvp(*nondiff, p, t)
            if not (isinstance(pair, tuple | list) and len(pair) == 2):
                raise TransformError(f"custom_jvp rule of {name} must return a pair "
                                     "(primal_out, tangent_out)")
            out, t_out = pair
            out_leaves, out_tree = tree_flatten(out)
            t_leaves, t_tree = tree_flatten(t_out)
            if out_tree != t_tree:
                raise TransformError(
                    f"custom_jvp rule of {name} returned primal and tangent outputs of "
                    f"different structures: {out_tree} and {t_tree}")
            store["out_tree"] = out_tree
            return out_leaves, [_as_like(tl, get_aval(o)) for tl, o in zip(t_leaves, out_leaves,
                                                                             strict=True)]

        flat_fun.__name__ = name
        flat_jvp.__name__ = fun_name(self.jvp)
        if not nums:  # the eager tape may cache this function's VJP (transforms/tape_custom)
            flat_fun.tape_info = (self, in_tree, store)
        outs = bind_custom_jvp_call(custom_jvp_call_p, flat_fun, flat_jvp, leaves,
                                    symbolic_zeros=self.symbolic_zeros)
        return tree_unflatten(store["out_tree"], outs)


class custom_vjp(_CustomBase):
    """Wraps ``fun`` so that reverse-mode differentiation uses ``fwd``/``bwd``.

    ``fwd(*args) -> (out, residuals)``, ``bwd(residuals, cotangent) -> tuple``
    with one cotangent per argument (``None`` or a ``SymbolicZero`` for zeros, also for
    a subtree). The body may call NumPy or a Numba kernel on concrete arrays (outside
    ``jit``).

    With ``defvjp(fwd, bwd, symbolic_zeros=True)``, as in JAX, ``fwd`` receives every
    input leaf as a ``CustomVJPPrimal(value, perturbed)`` (``perturbed`` is False for an
    input that takes no part in the differentiation) and ``bwd`` receives a
    ``SymbolicZero`` for the cotangent of every output that gets none.

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> @custom_vjp
        ... def clip_gradient(x):
        ...     return x
        >>> clip_gradient.defvjp(lambda x: (x, None),
        ...                      lambda _, g: (fnp.clip(g, -1.0, 1.0),))
        >>> float(ft.grad(lambda x: 5.0 * clip_gradient(x))(2.0))
        1.0
    """

    def __init__(self, fun, nondiff_argnums=(), nondiff_argnames=()):
        super().__init__(fun, nondiff_argnums, nondiff_argnames)
        self.fwd = self.bwd = None
        self.symbolic_zeros = False

    def defvjp(self, fwd, bwd, symbolic_zeros: bool = False):
        """Registers ``fwd(*args) -> (out, residuals)`` and
        ``bwd(residuals, cotangent) -> tuple of input cotangents``."""
        self.fwd, self.bwd = fwd, bwd
        self.symbolic_zeros = bool(symbolic_zeros)

    def __call__(self, *args, **kwargs):
        if self.fwd is None:
            raise TransformError(f"No VJP defined for custom_vjp function {self.__name__}; "
                                 "register one with f.defvjp(fwd, bwd).")
        args, nums = self._resolve(args, kwargs)
        nondiff, diff = self._split(args, nums)
        leaves, in_tree = tree_flatten(diff)
        in_avals = [get_aval(x) for x in leaves]
        store: dict = {}
        name = self.__name__

        def flat_fun(*xs):
            out = self.fun(*self._merge(nondiff, tree_unflatten(in_tree, xs), nums))
            out_leaves, store["out_tree"] = tree_flatten(out)
            return out_leaves

        def flat_fwd(*xs, perturbed=None):
            if self.symbolic_zeros:
                flags = [True] * len(xs) if perturbed is None else perturbed
                xs = [CustomVJPPrimal(x, bool(f)) for x, f in zip(xs, flags, strict=True)]
            pair = self.fwd(*self._merge(nondiff, tree_unflatten(in_tree, xs), nums))
            if not (isinstance(pair, tuple) and len(pair) == 2):
                raise TransformError(f"custom_vjp fwd of {name} must return a pair "
                                     "(output, residuals)")
            out, res = pair
            out_leaves, store["out_tree"] = tree_flatten(out)
            res_leaves, store["res_tree"] = tree_flatten(res)
            return out_leaves, res_leaves

        def flat_bwd(res, cts):
            r = tree_unflatten(store["res_tree"], res)
            cts = [to_symbolic(c) if self.symbolic_zeros else instantiate_zeros(c)
                   for c in cts]
            ct = tree_unflatten(store["out_tree"], cts)
            cts_in = self.bwd(*nondiff, r, ct)
            if not isinstance(cts_in, tuple | list):
                raise TransformError(f"custom_vjp bwd of {name} must return a tuple with one "
                                     f"cotangent per argument, got {type(cts_in).__name__}")
            if len(cts_in) != len(diff):
                raise TransformError(f"custom_vjp bwd of {name} returned {len(cts_in)} "
                                     f"cotangents, expected one per argument ({len(diff)})")
            flat = []
            for ct_arg, arg in zip(cts_in, diff, strict=True):
                flat += _flatten_cotangent(ct_arg, arg, name)
            return [_as_like(c, a) if c is not None else zeros_like_aval(a)
                    for c, a in zip(flat, in_avals, strict=True)]

        flat_fun.__name__ = name
        flat_fwd.__name__ = fun_name(self.fwd)
        flat_bwd.__name__ = fun_name(self.bwd)
        flat_bwd.symbolic_zeros = self.symbolic_zeros
        outs = bind_custom_vjp_call(custom_vjp_call_p, flat_fun, flat_fwd, flat_bwd, leaves,
                                    out_trees=lambda: store["out_tree"],
                                    symbolic_zeros=self.symbolic_zeros)
        return tree_unflatten(store["out_tree"], outs)


def _flatten_cotangent(ct, primal, name) -> list:
    """The leaves of ``ct`` matched to those of ``primal``; ``None`` (for the whole
    argument or any subtree of it) stands for zeros, as in JAX."""
    n = len(tree_flatten(primal)[0])
    if ct is None or isinstance(ct, SymbolicZero):
        return [None] * n
    leaves, tree = tree_flatten(ct)
    if tree == tree_flatten(primal)[1]:
        return leaves
    p_kids, p_tree = tree_flatten(primal, is_leaf=lambda y: y is not primal)
    c_kids, c_tree = tree_flatten(ct, is_leaf=lambda y: y is not ct)
    if p_tree.node_type is None or p_tree != c_tree:
        raise TransformError(f"custom_vjp bwd of {name} returned a cotangent of structure "
                             f"{tree_flatten(ct)[1]} for an argument of structure "
                             f"{tree_flatten(primal)[1]}")
    out = []
    for c, p in zip(c_kids, p_kids, strict=True):
        out += _flatten_cotangent(c, p, name)
    return out
