"""User-defined derivatives: ``custom_jvp`` and ``custom_vjp``.

The function body runs as ordinary Python (so it may call NumPy or a
``@numba.njit`` kernel on concrete arrays outside ``jit``); the custom rule is
applied when the innermost transformation of the arguments is forward-mode
differentiation (which ``grad`` also uses). A ``custom_vjp`` under ``jvp``
becomes a ``custom_lin`` equation whose transpose calls the user's ``bwd``.

When the innermost transformation is ``vmap``, the call is batched as JAX's
``custom_jvp_call``/``custom_vjp_call`` are: the body, the jvp rule and
fwd/bwd are each wrapped in ``vmap``, and the resulting custom function is
applied to the unbatched values, so a differentiation below the ``vmap``
(``grad(lambda x: vmap(f)(x).sum())``) still uses the user's rule.
"""

from __future__ import annotations

import functools

from ..core.trace import Primitive, abstract_eval_rules, find_top_trace, get_aval, impl_rules
from ..errors import TransformError
from ..tree_util import tree_flatten, tree_unflatten
from .ad import (
    JVPTrace,
    JVPTracer,
    Zero,
    instantiate_zeros,
    tangent_aval,
    transpose_rules,
)
from .batching import (
    BatchTrace,
    BatchTracer,
    axis_size,
    batching_rules,
    bdim_at_front,
    moveaxis,
    not_mapped,
    sum_batch_axis,
    vmap,
)


def _split_nondiff(args, nondiff_argnums):
    nondiff = tuple(args[i] for i in nondiff_argnums)
    diff = tuple(a for i, a in enumerate(args) if i not in nondiff_argnums)
    return nondiff, diff


def _merge(nondiff, diff, nondiff_argnums, n):
    it_n, it_d = iter(nondiff), iter(diff)
    return [next(it_n) if i in nondiff_argnums else next(it_d) for i in range(n)]


def _jvp_parts(trace, leaves):
    """Primals and tangents of ``leaves`` as seen by the JVP ``trace``."""
    primals, tangents = [], []
    for x in leaves:
        if isinstance(x, JVPTracer) and x._trace.main is trace.main:
            primals.append(x.primal)
            tangents.append(x.tangent)
        else:
            primals.append(x)
            tangents.append(Zero(tangent_aval(get_aval(x))))
    return primals, tangents


def _jvp_call(args, nondiff_argnums):
    """Splits a custom function's arguments as seen by the innermost trace.

    Returns ``None`` when that trace is not a JVP (the body just runs), else
    ``(trace, in_tree, nondiff, primals, tangents)``.
    """
    nondiff, diff = _split_nondiff(args, nondiff_argnums)
    leaves, in_tree = tree_flatten(diff)
    trace = find_top_trace(leaves)
    if not isinstance(trace, JVPTrace):
        return None
    primals, tangents = _jvp_parts(trace, leaves)
    return trace, in_tree, nondiff, primals, tangents


# ---------------------------------------------------------------------------
# custom functions under vmap

class _BatchedCall:
    """A custom function's arguments as seen by a batch trace: the unbatched values (batch
    dim first where mapped) and, per argument, the ``in_axes`` of the batched function."""

    def __init__(self, trace, args, nondiff_argnums, name):
        self.trace = trace
        nondiff, diff = _split_nondiff(args, nondiff_argnums)
        for leaf in tree_flatten(nondiff)[0]:
            if isinstance(leaf, BatchTracer) and leaf._trace.main is trace.main:
                raise TransformError(f"vmap of custom function {name}: an argument in "
                                     "nondiff_argnums is batched; pass it as a differentiable "
                                     "argument instead.")
        self.nondiff = nondiff
        leaves, self.in_tree = tree_flatten(diff)
        vals, axes = [], []
        for x in leaves:
            if isinstance(x, BatchTracer) and x._trace.main is trace.main:
                if x.batch_dim is not_mapped:
                    vals.append(x.val)
                    axes.append(None)
                else:
                    vals.append(moveaxis(x.val, x.batch_dim, 0))
                    axes.append(0)
            else:
                vals.append(x)
                axes.append(None)
        self.vals, self.leaf_axes = vals, axes
        self.in_axes = tuple(tree_unflatten(self.in_tree, axes))
        self.args = tuple(tree_unflatten(self.in_tree, vals))

    def wrap(self, out):
        """Outputs of the batched function (batched at 0) as tracers of the batch trace."""
        leaves, tree = tree_flatten(out)
        return tree_unflatten(tree, [BatchTracer(self.trace, x, 0) for x in leaves])


def _batch_call(args, nondiff_argnums, name):
    leaves = tree_flatten(_split_nondiff(args, nondiff_argnums)[1])[0]
    trace = find_top_trace(leaves)
    if not isinstance(trace, BatchTrace):
        return None
    return _BatchedCall(trace, args, nondiff_argnums, name)


def _body(fun, nondiff, nondiff_argnums):
    """``fun`` as a function of its differentiable arguments."""
    def body(*diff):
        return fun(*_merge(nondiff, diff, nondiff_argnums, len(diff) + len(nondiff)))
    return body


class custom_jvp:
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

    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.jvp = None

    def defjvp(self, jvp):
        """Registers ``jvp(primals, tangents) -> (primal_out, tangent_out)``."""
        self.jvp = jvp
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

    def __call__(self, *args):
        if self.jvp is None:
            raise TransformError(f"No JVP defined for custom_jvp function {self.__name__}; "
                                 "register one with @f.defjvp.")
        batched = _batch_call(args, self.nondiff_argnums, self.__name__)
        if batched is not None:
            return self._call_batched(batched)
        call = _jvp_call(args, self.nondiff_argnums)
        if call is None:
            return self.fun(*args)
        trace, in_tree, nondiff, primals, tangents = call
        if all(isinstance(t, Zero) for t in tangents):
            return self.fun(*_merge(nondiff, tree_unflatten(in_tree, primals),
                                    self.nondiff_argnums, len(args)))
        p_tree = tree_unflatten(in_tree, primals)
        t_tree = tree_unflatten(in_tree, [instantiate_zeros(t) for t in tangents])
        out, t_out = self.jvp(*nondiff, tuple(p_tree), tuple(t_tree))
        out_leaves, out_tree = tree_flatten(out)
        t_leaves, t_out_tree = tree_flatten(t_out)
        if out_tree != t_out_tree:
            raise TransformError(
                f"custom_jvp rule of {self.__name__} returned primal and tangent outputs of "
                f"different structures: {out_tree} and {t_out_tree}")
        return tree_unflatten(out_tree, [JVPTracer(trace, p, t)
                                         for p, t in zip(out_leaves, t_leaves, strict=True)])

    def _call_batched(self, b: _BatchedCall):
        nondiff, axes = b.nondiff, b.in_axes
        body = _body(self.fun, nondiff, self.nondiff_argnums)
        batched = custom_jvp(vmap(body, in_axes=axes))
        batched.__name__ = self.__name__

        def jvp(primals, tangents):
            rule = lambda p, t: self.jvp(*nondiff, p, t)  # noqa: E731
            return vmap(rule, in_axes=(axes, axes))(primals, tangents)

        batched.defjvp(jvp)
        return b.wrap(batched(*b.args))


# ---------------------------------------------------------------------------
# custom_vjp

custom_lin_p = Primitive("custom_lin", multiple_results=True)


def _custom_lin_impl(*args, **params):
    raise TransformError("can't apply forward-mode differentiation (jvp, jacfwd, linearize) "
                         "to a custom_vjp function; use vjp/grad/jacrev, or custom_jvp.")


def _custom_lin_abstract(*avals, num_res, bwd, out_avals, res_tree, fun_name):
    return list(out_avals)


def _custom_lin_transpose(cts, *args, num_res, bwd, out_avals, res_tree, fun_name):
    res = tree_unflatten(res_tree, args[:num_res])
    cts = [instantiate_zeros(c) for c in cts]
    cts_in = bwd(res, cts)
    cts_in = list(cts_in)
    linear = args[num_res:]
    if len(cts_in) != len(linear):
        raise TransformError(f"custom_vjp bwd of {fun_name} returned {len(cts_in)} cotangent "
                             f"leaves, expected {len(linear)}")
    return [None] * num_res + cts_in


def _custom_lin_batch(args, dims, *, num_res, bwd, out_avals, res_tree, fun_name):
    # the linear inputs are all batched at 0, so bwd, mapped over the cotangents (and the
    # mapped residuals), returns a batched cotangent for every one of them
    size = axis_size(args, dims)
    res = [x if d is not_mapped else moveaxis(x, d, 0)
           for x, d in zip(args[:num_res], dims[:num_res], strict=True)]
    res_axes = tree_unflatten(res_tree, [None if d is not_mapped else 0
                                         for d in dims[:num_res]])
    linear = [bdim_at_front(x, d, size)
              for x, d in zip(args[num_res:], dims[num_res:], strict=True)]

    def batched_bwd(res, cts):
        return vmap(bwd, in_axes=(res_axes, 0))(res, cts)

    avals = tuple(a.update(shape=(size, *a.shape)) for a in out_avals)
    outs = custom_lin_p.bind(*res, *linear, num_res=num_res, bwd=batched_bwd,
                             out_avals=avals, res_tree=res_tree, fun_name=fun_name)
    return outs, [0] * len(outs)


impl_rules[custom_lin_p] = _custom_lin_impl
abstract_eval_rules[custom_lin_p] = _custom_lin_abstract
transpose_rules[custom_lin_p] = _custom_lin_transpose
batching_rules[custom_lin_p] = _custom_lin_batch


class custom_vjp:
    """Wraps ``fun`` so that reverse-mode differentiation uses ``fwd``/``bwd``.

    ``fwd(*args) -> (out, residuals)``, ``bwd(residuals, cotangent) -> tuple``
    with one cotangent per argument. The body may call NumPy or a Numba kernel
    on concrete arrays (outside ``jit``).

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

    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.fwd = self.bwd = None

    def defvjp(self, fwd, bwd):
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args):
        if self.fwd is None:
            raise TransformError(f"No VJP defined for custom_vjp function {self.__name__}; "
                                 "register one with f.defvjp(fwd, bwd).")
        batched = _batch_call(args, self.nondiff_argnums, self.__name__)
        if batched is not None:
            return self._call_batched(batched)
        call = _jvp_call(args, self.nondiff_argnums)
        if call is None:
            return self.fun(*args)
        trace, in_tree, nondiff, primals, tangents = call
        full = _merge(nondiff, tree_unflatten(in_tree, primals), self.nondiff_argnums,
                      len(args))
        if all(isinstance(t, Zero) for t in tangents):
            return self.fun(*full)
        fwd_out = self.fwd(*full)
        if not (isinstance(fwd_out, tuple) and len(fwd_out) == 2):
            raise TransformError(f"custom_vjp fwd of {self.__name__} must return a pair "
                                 "(output, residuals)")
        out, res = fwd_out
        out_leaves, out_tree = tree_flatten(out)
        res_leaves, res_tree = tree_flatten(res)
        bwd = _flat_bwd(self.bwd, nondiff, in_tree, out_tree, self.__name__)
        t_in = [instantiate_zeros(t) for t in tangents]
        out_avals = tuple(tangent_aval(get_aval(o)) for o in out_leaves)
        t_out = custom_lin_p.bind(*res_leaves, *t_in, num_res=len(res_leaves), bwd=bwd,
                                  out_avals=out_avals, res_tree=res_tree,
                                  fun_name=self.__name__)
        return tree_unflatten(out_tree, [JVPTracer(trace, p, t)
                                         for p, t in zip(out_leaves, t_out, strict=True)])

    def _call_batched(self, b: _BatchedCall):
        nondiff, axes, nums = b.nondiff, b.in_axes, self.nondiff_argnums
        batched = custom_vjp(vmap(_body(self.fun, nondiff, nums), in_axes=axes))
        batched.__name__ = self.__name__
        fwd = vmap(_body(self.fwd, nondiff, nums), in_axes=axes)
        arg_axes = []
        it = iter(b.leaf_axes)
        for sub in b.in_tree.children():
            arg_axes.append([next(it) for _ in range(sub.num_leaves)])

        def bwd(res, ct):
            cts = vmap(lambda r, c: tuple(self.bwd(*nondiff, r, c)))(res, ct)
            out = []
            for ct_arg, leaf_axes in zip(cts, arg_axes, strict=True):
                if ct_arg is None:
                    out.append(None)
                    continue
                leaves, tree = tree_flatten(ct_arg)
                # an argument shared by every example collects the cotangents of all of them
                out.append(tree_unflatten(tree, [
                    sum_batch_axis(c, 0) if ax is None else c
                    for c, ax in zip(leaves, leaf_axes, strict=True)]))
            return tuple(out)

        batched.defvjp(fwd, bwd)
        return b.wrap(batched(*b.args))


def _flat_bwd(bwd, nondiff, in_tree, out_tree, name):
    def flat_bwd(res, cts):
        ct_tree = tree_unflatten(out_tree, cts)
        cts_in = bwd(*nondiff, res, ct_tree)
        if not isinstance(cts_in, tuple | list):
            raise TransformError(f"custom_vjp bwd of {name} must return a tuple with one "
                                 f"cotangent per argument, got {type(cts_in).__name__}")
        flat = []
        for ct, sub in zip(cts_in, in_tree.children(), strict=True):
            if ct is None:
                flat += [None] * sub.num_leaves
            else:
                flat += tree_flatten(ct)[0]
        return flat
    return flat_bwd

