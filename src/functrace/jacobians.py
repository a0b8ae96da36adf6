"""Jacobians and Hessians: ``jacfwd``, ``jacrev``, ``hessian``.

``jacfwd`` linearizes once and pushes one basis tangent per input element
through the linear program; ``jacrev`` runs the forward pass once and pulls one
basis cotangent per output element back. (With ``vmap`` these loops become one
batched evaluation.) The results are stacked with ``lax`` primitives, so the
functions nest: ``hessian = jacfwd(jacrev(f))``.
"""

from __future__ import annotations

import functools

import numpy as np

from . import lax
from .core.trace import get_aval
from .errors import TransformError
from .transforms.ad import is_differentiable
from .transforms.api import _argnums_tuple, _name, linearize, vjp
from .tree_util import tree_flatten, tree_unflatten


def _basis(aval):
    n = aval.size
    for i in range(n):
        e = np.zeros(n, aval.dtype)
        e[i] = 1
        yield e.reshape(aval.shape)


def _stack_last(blocks, out_shape, in_shape):
    """blocks[k] has shape out_shape (one per input element k) -> out_shape + in_shape."""
    flat = [lax.reshape(b, (*out_shape, 1)) for b in blocks]
    cat = lax.concatenate(flat, len(out_shape)) if len(flat) > 1 else flat[0]
    return lax.reshape(cat, (*out_shape, *in_shape))


def _stack_first(blocks, out_shape, in_shape):
    """blocks[k] has shape in_shape (one per output element k) -> out_shape + in_shape."""
    flat = [lax.reshape(b, (1, *in_shape)) for b in blocks]
    cat = lax.concatenate(flat, 0) if len(flat) > 1 else flat[0]
    return lax.reshape(cat, (*out_shape, *in_shape))


def _diff_args(fun, argnums, args, who):
    nums = _argnums_tuple(fun, argnums, len(args), who)
    for i in nums:
        for leaf in tree_flatten(args[i])[0]:
            if not is_differentiable(get_aval(leaf)):
                raise TransformError(f"{who} requires float inputs, but argument {i} of "
                                     f"{_name(fun)} has dtype {get_aval(leaf).dtype}")

    def f_partial(*dyn):
        full = list(args)
        for i, d in zip(nums, dyn, strict=True):
            full[i] = d
        return fun(*full)

    return nums, f_partial, tuple(args[i] for i in nums)


def jacfwd(fun, argnums=0, has_aux: bool = False, holomorphic: bool = False):
    """Jacobian of ``fun`` by forward mode; shape ``out.shape + in.shape`` per leaf pair.

    Example:
        >>> import functrace.numpy as fnp
        >>> jacfwd(lambda x: x * x)(fnp.array([1., 2.]))
        array([[2., 0.],
               [0., 4.]], dtype=float32)
    """
    @functools.wraps(fun)
    def jacfun(*args):
        nums, f_partial, dyn = _diff_args(fun, argnums, args, "jacfwd")
        if has_aux:
            aux_box = []

            def f_main(*d):
                out, aux = f_partial(*d)
                aux_box.append(aux)
                return out
        else:
            f_main = f_partial
        y, f_jvp = linearize(f_main, *dyn)
        in_leaves, in_tree = tree_flatten(dyn)
        out_leaves, out_tree = tree_flatten(y)
        in_avals = [get_aval(x) for x in in_leaves]
        per_in = []  # per input leaf: list (over out leaves) of jacobian blocks
        for j, aval in enumerate(in_avals):
            cols = []
            for e in _basis(aval):
                tangents = [e if k == j else np.zeros(a.shape, a.dtype)
                            for k, a in enumerate(in_avals)]
                cols.append(tree_flatten(f_jvp(*tree_unflatten(in_tree, tangents)))[0])
            per_in.append([_stack_last([c[o] for c in cols], get_aval(out_leaves[o]).shape,
                                       aval.shape) if cols else
                           np.zeros(get_aval(out_leaves[o]).shape + aval.shape,
                                    get_aval(out_leaves[o]).dtype)
                           for o in range(len(out_leaves))])
        jac = _assemble(per_in, in_tree, out_tree, argnums)
        return (jac, aux_box[0]) if has_aux else jac

    return jacfun


def jacrev(fun, argnums=0, has_aux: bool = False, holomorphic: bool = False,
           allow_int: bool = False):
    """Jacobian of ``fun`` by reverse mode; shape ``out.shape + in.shape`` per leaf pair.

    Example:
        >>> import functrace.numpy as fnp
        >>> jacrev(lambda x: fnp.sum(x * x))(fnp.array([1., 2.]))
        array([2., 4.], dtype=float32)
    """
    @functools.wraps(fun)
    def jacfun(*args):
        nums, f_partial, dyn = _diff_args(fun, argnums, args, "jacrev")
        if has_aux:
            y, f_vjp, aux = vjp(f_partial, *dyn, has_aux=True)
        else:
            y, f_vjp = vjp(f_partial, *dyn)
        in_leaves, in_tree = tree_flatten(dyn)
        out_leaves, out_tree = tree_flatten(y)
        out_avals = [get_aval(o) for o in out_leaves]
        per_out = []  # per output leaf: list (over input leaves) of blocks
        for o, aval in enumerate(out_avals):
            rows = []
            for e in _basis(aval):
                cts = [e if k == o else np.zeros(a.shape, a.dtype)
                       for k, a in enumerate(out_avals)]
                rows.append(tree_flatten(f_vjp(tree_unflatten(out_tree, cts)))[0])
            per_out.append([_stack_first([r[j] for r in rows], aval.shape,
                                         get_aval(in_leaves[j]).shape) if rows else
                            np.zeros(aval.shape + get_aval(in_leaves[j]).shape, aval.dtype)
                            for j in range(len(in_leaves))])
        per_in = [[per_out[o][j] for o in range(len(out_avals))] for j in range(len(in_leaves))]
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
    return jacfwd(jacrev(fun, argnums, has_aux=has_aux), argnums, has_aux=has_aux)
