"""Small transformations JAX programs reach for: ``eval_shape``, ``linear_transpose``,
``closure_convert`` and ``named_call``."""

from __future__ import annotations

import functools

from ..core.avals import dtype_kind
from ..core.make_jaxpr import make_jaxpr
from ..core.trace import Tracer, eval_jaxpr, get_aval
from ..errors import ShapeError, TransformError
from ..tree_util import tree_flatten, tree_structure, tree_unflatten
from .ad import UndefPrimal, backward_pass, instantiate_zeros

__all__ = ["closure_convert", "eval_shape", "linear_transpose", "named_call"]


def eval_shape(fun, *args, **kwargs):
    """The shapes and dtypes ``fun(*args, **kwargs)`` would return, without computing it.

    Arguments may be arrays or anything with ``shape`` and ``dtype`` (such as
    ``ShapeDtypeStruct``); nothing is evaluated, so it is free for large inputs.

    Example:
        >>> import numpy as np, functrace as ft
        >>> ft.eval_shape(lambda a: a @ a.T, ft.ShapeDtypeStruct((2, 3), np.float32))
        ShapeDtypeStruct(shape=(2, 2), dtype=float32)
    """
    if not callable(fun):
        raise TransformError(f"eval_shape: expected a function, got {type(fun).__name__}")
    return make_jaxpr(lambda *a: fun(*a, **kwargs), return_shape=True)(*args)[1]


def linear_transpose(fun, *primals, reduce_axes=()):
    """The transpose of the linear function ``fun``, at inputs shaped like ``primals``.

    Returns ``transpose_fun(out_cotangent) -> tuple of input cotangents``. Only the
    shapes and dtypes of ``primals`` matter. ``fun`` must be linear in all its inputs:
    a non-linear operation raises an error naming it.

    Example:
        >>> import numpy as np, functrace as ft
        >>> t = ft.linear_transpose(lambda x: 2.0 * x[::-1], np.zeros(3, np.float32))
        >>> t(np.array([1., 2., 3.], np.float32))
        (array([6., 4., 2.], dtype=float32),)
    """
    if reduce_axes:
        raise TransformError("linear_transpose: reduce_axes is not supported (as in current JAX)")
    leaves, in_tree = tree_flatten(primals)
    for x in leaves:
        if dtype_kind(get_aval(x).dtype) not in "fc":
            raise TransformError(
                f"linear_transpose: primals must be floating or complex, got "
                f"{get_aval(x).str_short()}; a linear function of integers has no transpose")
    closed, out_shape = make_jaxpr(lambda *a: fun(*a), return_shape=True)(*primals)
    out_leaves_shape, out_tree = tree_flatten(out_shape)

    def transpose_fun(out_cotangent):
        cts, tree = tree_flatten(out_cotangent)
        if tree != out_tree:
            raise TransformError(f"linear_transpose: the cotangent's structure {tree} does not "
                                 f"match the output's {out_tree}")
        for ct, want in zip(cts, out_leaves_shape, strict=True):
            aval = get_aval(ct)
            if aval.shape != want.shape or aval.dtype != want.dtype:
                raise ShapeError(
                    f"linear_transpose: cotangent {aval.str_short()} does not match the "
                    f"output {want.dtype.name}{list(want.shape)}; pass one of the output's type")
        ins = [UndefPrimal(a) for a in closed.in_avals]
        out = backward_pass(closed.jaxpr, closed.consts, ins, cts)
        return tree_unflatten(in_tree, [instantiate_zeros(c) for c in out])

    return transpose_fun


def closure_convert(fun, *example_args):
    """``fun`` with the values it closes over hoisted out as explicit arguments.

    Returns ``(converted, consts)`` with ``converted(*args, *consts) == fun(*args)``.
    ``custom_vjp`` rules use it to differentiate with respect to closed-over
    values. As in JAX, only floating-point tracers (values of an enclosing
    transformation) are hoisted; concrete constants stay inside.

    Example:
        >>> import numpy as np, functrace as ft
        >>> def loss(w):
        ...     f, consts = ft.closure_convert(lambda x: x * w, np.float32(2.0))
        ...     return f(np.float32(2.0), *consts)  # w arrives as an explicit argument
        >>> ft.grad(loss)(np.float32(3.0))
        array(2., dtype=float32)
    """
    closed, out_shape = make_jaxpr(lambda *a: fun(*a), return_shape=True)(*example_args)
    out_tree = tree_structure(out_shape)
    in_tree = tree_structure(example_args)
    hoist = [isinstance(c, Tracer) and dtype_kind(get_aval(c).dtype) in "fc"
             for c in closed.consts]
    consts = [c for c, h in zip(closed.consts, hoist, strict=True) if h]
    nargs = len(closed.in_avals)

    def converted(*args_and_consts):
        args, hoisted = args_and_consts[:len(args_and_consts) - len(consts)], \
            args_and_consts[len(args_and_consts) - len(consts):]
        flat, tree = tree_flatten(args)
        if tree != in_tree or len(flat) != nargs:
            raise TransformError(f"closure_convert: called with arguments of structure {tree}; "
                                 f"the example arguments had {in_tree}")
        it = iter(hoisted)
        all_consts = [next(it) if h else c for c, h in zip(closed.consts, hoist, strict=True)]
        out = eval_jaxpr(closed.jaxpr, all_consts, *flat)
        return tree_unflatten(out_tree, out)

    return converted, consts


def named_call(fun, *, name: str | None = None):
    """``fun`` under a name (``jax.named_call``): the same function, renamed.

    Example:
        >>> import functrace as ft
        >>> ft.named_call(lambda x: x + 1, name="inc").__name__
        'inc'
    """
    @functools.wraps(fun)
    def named(*args, **kwargs):
        return fun(*args, **kwargs)

    if name is not None:
        named.__name__ = named.__qualname__ = name
    return named
