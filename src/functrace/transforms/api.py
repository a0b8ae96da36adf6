"""User-facing differentiation: ``jvp``, ``linearize``, ``vjp``, ``grad``, ``value_and_grad``.

Reverse mode is JVP + partial evaluation + transposition: the forward pass is
evaluated (once) while the linear tangent program is recorded; ``vjp_fun``
transposes that program. Under ``make_jaxpr`` both halves are staged, so
``make_jaxpr(grad(f))`` prints the forward equations followed by the backward ones.
"""

from __future__ import annotations

import functools

import numpy as np

from ..core import trace as core_trace
from ..core.avals import canonicalize_value, float0
from ..core.trace import Tracer, eval_jaxpr, get_aval
from ..errors import TransformError
from ..tree_util import tree_flatten, tree_unflatten
from . import tape
from .ad import (
    UndefPrimal,
    Zero,
    backward_pass,
    instantiate_zeros,
    is_differentiable,
    jvp_flat,
    tangent_aval,
    zeros_like_aval,
)
from .api_util import (
    argnums_partial,
    argnums_tuple,
    check_array_leaf,
    check_callable,
    flatten_fun,
    fun_name,
)
from .partial_eval import PartialVal, partial_eval_flat

# ---------------------------------------------------------------------------
# forward mode

def jvp(fun, primals, tangents, has_aux: bool = False):
    """Forward-mode derivative: returns ``(fun(*primals), J @ tangents)``.

    Example:
        >>> jvp(lambda x: x * x, (3.0,), (1.0,))
        (array(9., dtype=float32), array(6., dtype=float32))
    """
    check_callable(fun, "jvp")
    if not isinstance(primals, tuple | list) or not isinstance(tangents, tuple | list):
        raise TransformError("jvp: primals and tangents must be tuples or lists of arguments, "
                             f"got {type(primals).__name__} and {type(tangents).__name__}")
    p_leaves, p_tree = tree_flatten(tuple(primals))
    t_leaves, t_tree = tree_flatten(tuple(tangents))
    if p_tree != t_tree:
        raise TransformError(f"jvp: primal and tangent arguments must have the same tree "
                             f"structure; got {p_tree} and {t_tree}")
    t_leaves = [_check_tangent(p, t, i) for i, (p, t) in enumerate(zip(p_leaves, t_leaves))]
    flat_fun, store = flatten_fun(fun, p_tree, has_aux)
    outs, t_outs = jvp_flat(flat_fun, p_leaves, t_leaves)
    n = store["n_out"]
    out = tree_unflatten(store["out_tree"], outs[:n])
    t_out = tree_unflatten(store["out_tree"], [_int_zeros(o) if not is_differentiable(
        get_aval(o)) else instantiate_zeros(t) for o, t in zip(outs[:n], t_outs[:n], strict=True)])
    if has_aux:
        return out, t_out, tree_unflatten(store["aux_tree"], outs[n:])
    return out, t_out


def _int_zeros(x):
    """The tangent or cotangent of an integer or boolean value ``x``: zeros of JAX's
    ``float0`` dtype. Traced (under jit, vmap...) functrace has no float0 values, so it
    is zeros of ``x``'s own dtype there."""
    aval = get_aval(x)
    if isinstance(x, Tracer) or core_trace.dynamic_trace is not None:
        return zeros_like_aval(aval)
    return np.zeros(aval.shape, float0)


def _is_float0(t) -> bool:
    return getattr(t, "dtype", None) == float0


def _check_tangent(p, t, i, who: str = "jvp"):
    pa = get_aval(p)
    if _is_float0(t):  # JAX's tangent of an integer or boolean primal
        if is_differentiable(pa) or np.shape(t) != pa.shape:
            raise TransformError(f"{who}: tangent leaf {i} is float0 {np.shape(t)}, which only "
                                 f"an integer or boolean primal of that shape takes; the "
                                 f"primal is {pa.str_short()}")
        return Zero(tangent_aval(pa))
    ta = get_aval(t)
    if pa.shape != ta.shape:
        raise TransformError(f"{who}: primal and tangent leaf {i} must have the same shape, got "
                             f"{pa.str_short()} and {ta.str_short()}")
    if not is_differentiable(pa):
        return Zero(tangent_aval(pa))
    if isinstance(t, Tracer):
        if ta.dtype != pa.dtype:
            raise TransformError(f"{who}: tangent leaf {i} has dtype {ta.dtype}, primal has "
                                 f"{pa.dtype}; they must match")
        return t
    return _cast_exact(t, ta, pa.dtype, f"{who}: tangent leaf {i}", "primal")


def _cast_exact(x, aval, dtype, what: str, of: str):
    """``x`` as ``dtype``; refuses a cast that drops the imaginary part (complex -> real)."""
    if aval.dtype.kind == "c" and np.dtype(dtype).kind != "c":
        raise TransformError(
            f"{what} is complex ({aval.str_short()}) but the {of} is real ({np.dtype(dtype)}); "
            "casting would drop the imaginary part. Pass a real value of the "
            f"{of}'s dtype, or make the function complex-valued.")
    return np.asarray(canonicalize_value(x), dtype)


def linearize(fun, *primals, has_aux: bool = False):
    """Returns ``(fun(*primals), f_jvp)`` where ``f_jvp(*tangents)`` is the JVP at ``primals``
    (with ``has_aux=True``, ``fun`` returns ``(output, aux)`` and so does this, plus ``aux``).

    The forward pass runs once; ``f_jvp`` evaluates only the recorded linear program.

    Example:
        >>> y, f_jvp = linearize(lambda x: x * x, 3.0)
        >>> f_jvp(1.0)
        array(6., dtype=float32)
    """
    check_callable(fun, "linearize")
    p_leaves, in_tree = tree_flatten(primals)
    for i, p in enumerate(p_leaves):
        check_array_leaf(p, f"linearize: argument leaf {i}")
    flat_fun, store = flatten_fun(fun, in_tree, has_aux)
    lin = _linearize_flat(flat_fun, p_leaves)
    n = store["n_out"]
    out = tree_unflatten(store["out_tree"], lin.primals_out[:n])

    def f_jvp(*tangents):
        t_leaves, t_tree = tree_flatten(tangents)
        if t_tree != in_tree:
            raise TransformError(f"linearize: f_jvp expects tangents with structure {in_tree}, "
                                 f"got {t_tree}")
        ts = [_check_tangent(p, t, i, "linearize: f_jvp")
              for i, (p, t) in enumerate(zip(p_leaves, t_leaves, strict=True))]
        ts = [t for t, d in zip(ts, lin.diff, strict=True) if d]
        t_nz = iter(eval_jaxpr(lin.jaxpr, lin.residuals, *ts))
        outs = [(_int_zeros(p) if not is_differentiable(a) else zeros_like_aval(a)) if z
                else next(t_nz) for p, a, z in zip(lin.primals_out, lin.out_tangent_avals,
                                                  lin.zero_mask, strict=True)]
        return tree_unflatten(store["out_tree"], outs[:n])

    if has_aux:
        return out, f_jvp, tree_unflatten(store["aux_tree"], lin.primals_out[n:])
    return out, f_jvp


class _Linearized:
    __slots__ = ("jaxpr", "residuals", "primals_out", "zero_mask", "diff", "out_tangent_avals")


def _linearize_flat(flat_fun, primals) -> _Linearized:
    diff = [is_differentiable(get_aval(p)) for p in primals]
    n_in = len(primals)
    lin = _Linearized()
    lin.diff = diff

    def f_jvp(*args):
        ps, t_iter = args[:n_in], iter(args[n_in:])
        ts = [next(t_iter) if d else Zero(tangent_aval(get_aval(p)))
              for p, d in zip(primals, diff, strict=True)]
        p_out, t_out = jvp_flat(flat_fun, ps, ts)
        lin.zero_mask = [isinstance(t, Zero) for t in t_out]
        lin.out_tangent_avals = [tangent_aval(get_aval(p)) for p in p_out]
        return [*p_out, *[t for t in t_out if not isinstance(t, Zero)]]

    pvals = ([PartialVal.known(p) for p in primals]
             + [PartialVal.unknown(tangent_aval(get_aval(p)))
                for p, d in zip(primals, diff, strict=True) if d])
    n_out = [0]

    def instantiate(k):
        n_out[0] = len(lin.zero_mask)
        return [i >= n_out[0] for i in range(k)]

    jaxpr, residuals, pvals_out = partial_eval_flat(f_jvp, pvals, instantiate)
    lin.jaxpr, lin.residuals = jaxpr, residuals
    lin.primals_out = [pv.const for pv in pvals_out[:n_out[0]]]
    return lin


# ---------------------------------------------------------------------------
# reverse mode

def vjp(fun, *primals, has_aux: bool = False, reduce_axes=()):
    """Reverse-mode derivative: returns ``(fun(*primals), vjp_fun)`` (and ``aux``).

    ``vjp_fun(cotangent)`` returns a tuple with one cotangent per primal.
    ``reduce_axes`` (JAX's removed named-axis reduction) must stay empty.

    Example:
        >>> y, f_vjp = vjp(lambda x, y: x * y, 2.0, 3.0)
        >>> f_vjp(1.0)
        (array(3., dtype=float32), array(2., dtype=float32))
    """
    check_callable(fun, "vjp")
    if reduce_axes:
        raise TransformError("vjp: reduce_axes is no longer supported (as in JAX); apply "
                             "lax.psum to the cotangents instead")
    p_leaves, in_tree = tree_flatten(primals)
    for i, p in enumerate(p_leaves):
        check_array_leaf(p, f"vjp: argument leaf {i}")
    flat_fun, store = flatten_fun(fun, in_tree, has_aux)
    on_tape = tape.usable(p_leaves)  # eager: record a tape instead of a linear jaxpr
    lin = tape.linearize(flat_fun, p_leaves) if on_tape else _linearize_flat(flat_fun, p_leaves)
    n = store["n_out"]
    out_tree = store["out_tree"]
    out = tree_unflatten(out_tree, lin.primals_out[:n])

    def vjp_fun(ct):
        ct_leaves, ct_tree = tree_flatten(ct)
        if ct_tree != out_tree:
            raise TransformError(f"vjp: the cotangent must have the structure of the output, "
                                 f"{out_tree}; got {ct_tree}")
        cts = [_check_cotangent(c, a, i)
               for i, (c, a) in enumerate(zip(ct_leaves, lin.out_tangent_avals[:n], strict=True))]
        cts = cts + [Zero(a) for a in lin.out_tangent_avals[n:]]
        cts_nz = [c for c, z in zip(cts, lin.zero_mask, strict=True) if not z]
        if on_tape:
            cts_in = iter(lin.backward(cts_nz))
        else:
            undef = [UndefPrimal(tangent_aval(get_aval(p)))
                     for p, d in zip(p_leaves, lin.diff, strict=True) if d]
            cts_in = iter(backward_pass(lin.jaxpr, lin.residuals, undef, cts_nz))
        res = [instantiate_zeros(next(cts_in)) if d else _int_zeros(p)
               for p, d in zip(p_leaves, lin.diff, strict=True)]
        return tree_unflatten(in_tree, res)

    if has_aux:
        return out, vjp_fun, tree_unflatten(store["aux_tree"], lin.primals_out[n:])
    return out, vjp_fun


def _check_cotangent(c, aval, i):
    ca = get_aval(c)
    if ca.shape != aval.shape:
        raise TransformError(f"vjp: cotangent leaf {i} has shape {ca.shape} but the output "
                             f"has shape {aval.shape}")
    if isinstance(c, Tracer):
        return c
    return _cast_exact(c, ca, aval.dtype, f"vjp: cotangent leaf {i}", "output")


def _check_grad_inputs(fun, nums, diff_args, holomorphic: bool, allow_int: bool) -> None:
    for i, a in zip(nums, diff_args, strict=True):
        for leaf in tree_flatten(a)[0]:
            aval = get_aval(leaf)
            if holomorphic and aval.dtype.kind != "c":
                raise TransformError(
                    f"grad with holomorphic=True requires inputs with complex dtype, but "
                    f"argument {i} of {fun_name(fun)} has dtype {aval.dtype} "
                    f"({aval.str_short()}); pass a complex value, e.g. x.astype(complex).")
            if not is_differentiable(aval) and not allow_int:
                raise TransformError(
                    f"grad requires real- or complex-valued inputs (input dtype that is a "
                    f"sub-dtype of np.inexact), but argument {i} of {fun_name(fun)} has dtype "
                    f"{aval.dtype} ({aval.str_short()}). Pass a float value, e.g. "
                    "x.astype(float) or 1.0 instead of 1, or set allow_int=True.")


def _check_grad_output(fun, ans, holomorphic: bool):
    aval = get_aval(ans) if not isinstance(ans, tuple | list | dict) else None
    if aval is None or aval.shape != ():
        shape = aval.str_short() if aval is not None else type(ans).__name__
        raise TransformError(
            f"grad requires a scalar output, but {fun_name(fun)} returned {shape}. Reduce it "
            "(e.g. .sum() or .mean()), or use vjp / jacrev for non-scalar outputs.")
    if holomorphic and aval.dtype.kind != "c":
        raise TransformError(
            f"grad with holomorphic=True requires outputs with complex dtype, but "
            f"{fun_name(fun)} returned {aval.str_short()}.")
    if not is_differentiable(aval):
        raise TransformError(
            f"grad requires a real floating-point output, but {fun_name(fun)} returned "
            f"{aval.str_short()}; cast it with .astype(float) before differentiating.")
    if not holomorphic and aval.dtype.kind == "c":
        raise TransformError(
            f"grad requires real-valued outputs (output dtype that is a sub-dtype of "
            f"np.floating), but {fun_name(fun)} returned {aval.str_short()}. For holomorphic "
            "differentiation, pass holomorphic=True; for non-holomorphic functions with "
            "complex outputs, use vjp directly.")
    return aval


def value_and_grad(fun, argnums=0, has_aux: bool = False, holomorphic: bool = False,
                   allow_int: bool = False, reduce_axes=()):
    """Returns a function computing ``(fun(*args), grad(fun)(*args))``.

    ``holomorphic=True`` differentiates a complex function of complex inputs (the
    gradient is ``f'(z)``, not conjugated); ``allow_int=True`` accepts integer inputs,
    whose gradient is an array of JAX's ``float0`` dtype (they are held constant).

    Example:
        >>> value_and_grad(lambda x: x * x)(3.0)
        (array(9., dtype=float32), array(6., dtype=float32))
    """
    check_callable(fun, "grad")

    @functools.wraps(fun)
    def value_and_grad_f(*args, **kwargs):
        if not holomorphic and not allow_int:  # eager: on a tape
            fast = tape.value_and_grad(fun, argnums, has_aux, args, kwargs)
            if fast is not None:
                return fast
        nums = argnums_tuple(fun, argnums, len(args), "grad")
        f_partial, diff_args = argnums_partial(fun, nums, args, kwargs)
        _check_grad_inputs(fun, nums, diff_args, holomorphic, allow_int)
        # integer leaves (allow_int) are held fixed; their gradient is float0 zeros
        leaves, tree = tree_flatten(diff_args)
        is_int = [not is_differentiable(get_aval(x)) for x in leaves]
        if any(is_int):
            def f_inexact(*flt):
                it = iter(flt)
                full = [x if i else next(it) for x, i in zip(leaves, is_int, strict=True)]
                return f_partial(*tree_unflatten(tree, full))
            f_diff = f_inexact
            primals = [x for x, i in zip(leaves, is_int, strict=True) if not i]
        else:
            f_diff, primals = f_partial, diff_args
        if has_aux:
            ans, f_vjp, aux = vjp(f_diff, *primals, has_aux=True)
        else:
            ans, f_vjp = vjp(f_diff, *primals)
        aval = _check_grad_output(fun, ans, holomorphic)
        g = f_vjp(np.ones((), aval.dtype))
        if any(is_int):
            it = iter(g)
            g = tree_unflatten(tree, [_int_zeros(x) if i else next(it)
                                      for x, i in zip(leaves, is_int, strict=True)])
        g = g[0] if isinstance(argnums, int) else tuple(g)
        return ((ans, aux), g) if has_aux else (ans, g)

    return value_and_grad_f


def grad(fun, argnums=0, has_aux: bool = False, holomorphic: bool = False,
         allow_int: bool = False, reduce_axes=()):
    """Returns a function computing the gradient of scalar ``fun`` w.r.t. ``argnums``.

    Example:
        >>> def f(x, y, z):
        ...     return (x + y) * z
        >>> grad(f, argnums=(0, 1, 2))(-2., 5., -4.)
        (array(-4., dtype=float32), array(-4., dtype=float32), array(3., dtype=float32))
    """
    vg = value_and_grad(fun, argnums, has_aux, holomorphic, allow_int, reduce_axes)

    @functools.wraps(fun)
    def grad_f(*args, **kwargs):
        if has_aux:
            (_, aux), g = vg(*args, **kwargs)
            return g, aux
        return vg(*args, **kwargs)[1]

    return grad_f
