"""Jacobians and Hessians: ``jacfwd``, ``jacrev``, ``hessian``.

``jacfwd`` linearizes once and pushes the basis tangents of each input through
the linear program in one ``vmap``-batched evaluation; ``jacrev`` runs the
forward pass once and pulls the basis cotangents of each output back, batched
the same way. The results are rearranged with ``lax`` primitives (``transpose``,
``reshape``, reached through ``batching.shape_op`` as this layer sits below
``lax``), so the functions nest: ``hessian = jacfwd(jacrev(f))``.
"""

from __future__ import annotations

import functools

import numpy as np

from ..core.trace import get_aval
from ..errors import TransformError
from ..tree_util import tree_flatten, tree_unflatten
from .ad import is_differentiable
from .api import linearize, vjp
from .api_util import argnums_partial, argnums_tuple, check_callable, fun_name
from .batching import moveaxis, shape_op
from .vmap import vmap

__all__ = ["hessian", "jacfwd", "jacrev"]


def _basis(aval):
    """The standard basis of ``aval``'s space, stacked: shape ``(size, *shape)``."""
    return np.eye(aval.size, dtype=aval.dtype).reshape(aval.size, *aval.shape)


def _last_to_front(block, out_shape, in_shape):
    """``block`` of shape ``(in.size, *out_shape)`` -> ``out_shape + in_shape``."""
    moved = moveaxis(block, 0, len(out_shape))
    return shape_op("reshape")(moved, (*out_shape, *in_shape))


def _one_hot_axes(tree, j: int):
    """An axes prefix of ``tree`` mapping its leaf ``j`` over axis 0, the others unmapped."""
    return tree_unflatten(tree, [0 if k == j else None for k in range(tree.num_leaves)])


def _check_dtypes(who, fun, what, avals, holomorphic, complex_ok):
    """JAX's rules: holomorphic=True needs complex values; otherwise real floats (complex
    too where ``complex_ok``: jacrev's inputs)."""
    for i, aval in avals:
        kind = aval.dtype.kind
        if holomorphic and kind != "c":
            raise TransformError(
                f"{who} with holomorphic=True requires {what}s with complex dtype, but "
                f"{what} {i} of {fun_name(fun)} has dtype {aval.dtype}.")
        if not holomorphic and (not is_differentiable(aval) or (kind == "c" and not complex_ok)):
            raise TransformError(
                f"{who} requires real-valued {what}s (a floating-point dtype), but {what} {i} "
                f"of {fun_name(fun)} has dtype {aval.dtype}. For holomorphic "
                "differentiation, pass holomorphic=True"
                + ("" if kind != "c" else "; for non-holomorphic functions with complex "
                   "values, use jvp/vjp directly") + ".")


def _linearized(transform, fun, argnums, has_aux, args, who, holomorphic=False):
    """``transform`` (``linearize`` or ``vjp``) of ``fun`` w.r.t. the arguments at
    ``argnums``: the linear function, aux (or None), the input and output trees and the
    leaves' avals."""
    nums = argnums_tuple(fun, argnums, len(args), who)
    reverse = transform is vjp
    _check_dtypes(who, fun, "input", [(i, get_aval(leaf)) for i in nums
                                     for leaf in tree_flatten(args[i])[0]],
                  holomorphic, complex_ok=reverse)
    f_partial, dyn = argnums_partial(fun, nums, args)
    y, f_lin, *aux = transform(f_partial, *dyn, has_aux=has_aux)
    in_leaves, in_tree = tree_flatten(dyn)
    out_leaves, out_tree = tree_flatten(y)
    _check_dtypes(who, fun, "output", list(enumerate(get_aval(o) for o in out_leaves)),
                  holomorphic, complex_ok=not reverse)
    return (f_lin, aux[0] if aux else None, in_tree, out_tree,
            [get_aval(x) for x in in_leaves], [get_aval(o) for o in out_leaves])


def jacfwd(fun, argnums=0, has_aux: bool = False, holomorphic: bool = False):
    """Jacobian of ``fun`` by forward mode; shape ``out.shape + in.shape`` per leaf pair.

    Example:
        >>> import functrace.numpy as fnp
        >>> jacfwd(lambda x: x * x)(fnp.array([1., 2.]))
        array([[2., 0.],
               [0., 4.]], dtype=float32)
    """
    check_callable(fun, "jacfwd")

    @functools.wraps(fun)
    def jacfun(*args):
        f_jvp, aux, in_tree, out_tree, in_avals, out_avals = _linearized(
            linearize, fun, argnums, has_aux, args, "jacfwd", holomorphic)
        per_in = []  # per input leaf: list (over out leaves) of jacobian blocks
        for j, aval in enumerate(in_avals):
            if aval.size == 0:
                per_in.append([np.zeros(a.shape + aval.shape, a.dtype) for a in out_avals])
                continue
            tangents = [_basis(aval) if k == j else np.zeros(a.shape, a.dtype)
                        for k, a in enumerate(in_avals)]
            cols = vmap(f_jvp, in_axes=tuple(_one_hot_axes(in_tree, j)))(
                *tree_unflatten(in_tree, tangents))
            per_in.append([_last_to_front(c, a.shape, aval.shape)
                           for c, a in zip(tree_flatten(cols)[0], out_avals, strict=True)])
        jac = _assemble(per_in, in_tree, out_tree, argnums)
        return (jac, aux) if has_aux else jac

    return jacfun


def jacrev(fun, argnums=0, has_aux: bool = False, holomorphic: bool = False,
           allow_int: bool = False):
    """Jacobian of ``fun`` by reverse mode; shape ``out.shape + in.shape`` per leaf pair.

    Example:
        >>> import functrace.numpy as fnp
        >>> jacrev(lambda x: fnp.sum(x * x))(fnp.array([1., 2.]))
        array([2., 4.], dtype=float32)
    """
    check_callable(fun, "jacrev")

    @functools.wraps(fun)
    def jacfun(*args):
        f_vjp, aux, in_tree, out_tree, in_avals, out_avals = _linearized(
            vjp, fun, argnums, has_aux, args, "jacrev", holomorphic)
        # jacfwd's loop transposed: one vmap per output leaf (not per input leaf)
        per_out = []  # per output leaf: list (over input leaves) of blocks
        for o, aval in enumerate(out_avals):
            if aval.size == 0:
                per_out.append([np.zeros(aval.shape + a.shape, aval.dtype) for a in in_avals])
                continue
            cts = [_basis(aval) if k == o else np.zeros(a.shape, a.dtype)
                   for k, a in enumerate(out_avals)]
            rows = vmap(f_vjp, in_axes=(_one_hot_axes(out_tree, o),))(
                tree_unflatten(out_tree, cts))
            per_out.append([shape_op("reshape")(r, (*aval.shape, *a.shape))
                            for r, a in zip(tree_flatten(rows)[0], in_avals, strict=True)])
        per_in = [[per_out[o][j] for o in range(len(out_avals))] for j in range(len(in_avals))]
        jac = _assemble(per_in, in_tree, out_tree, argnums)
        return (jac, aux) if has_aux else jac

    return jacfun


def _assemble(per_in, in_tree, out_tree, argnums):
    """per_in[j][o] is d out_o / d in_j -> pytree: out structure of (in structure) blocks."""
    n_out = len(per_in[0]) if per_in else out_tree.num_leaves
    blocks_per_out = []
    for o in range(n_out):
        in_blocks = tree_unflatten(in_tree, [per_in[j][o] for j in range(len(per_in))])
        blocks_per_out.append(in_blocks[0] if isinstance(argnums, int) else in_blocks)
    return tree_unflatten(out_tree, blocks_per_out)


def hessian(fun, argnums=0, has_aux: bool = False, holomorphic: bool = False):
    """Hessian of scalar ``fun``: ``jacfwd(jacrev(fun))``.

    Example:
        >>> import functrace.numpy as fnp
        >>> hessian(lambda x: fnp.sum(x ** 3))(fnp.array([1., 2.]))
        array([[ 6.,  0.],
               [ 0., 12.]], dtype=float32)
    """
    check_callable(fun, "hessian")
    return jacfwd(jacrev(fun, argnums, has_aux=has_aux, holomorphic=holomorphic), argnums,
                  has_aux=has_aux, holomorphic=holomorphic)
