"""``lax.custom_linear_solve`` and ``lax.custom_root``: solvers differentiated implicitly.

A solver (an iterative method, a factorisation, a hand-written Newton loop) is often
not differentiable, or differentiating through its iterations is wasteful. Both
functions run the user's solver forward and define the derivative from the problem
it solves, as JAX does:

- ``x = custom_linear_solve(matvec, b, solve)`` solves ``A x = b`` with ``A = matvec``.
  It is the ``custom_linear_solve`` primitive, holding the jaxprs of ``matvec``,
  ``vecmat`` (the transpose of ``matvec``), ``solve`` and ``transpose_solve``, each
  taking its constants (closed-over values) first. Its JVP solves again,
  ``x' = A^-1 (b' - A' x)``; that second solve is linear in its right-hand side, and
  the transpose rule solves with ``A^T`` (``transpose_solve``), so ``grad`` works.
- ``x = custom_root(f, x0, solve, tangent_solve)`` finds ``f(x) = 0``. It is a
  ``custom_jvp`` function: the implicit function theorem gives
  ``x' = -(df/dx)^-1 (df/dtheta) theta'``, with ``tangent_solve(g, y)`` solving the
  linear system ``g(t) = y``.
"""

from __future__ import annotations

from typing import NamedTuple

from ...core.avals import dtype_kind
from ...core.trace import Primitive, abstract_eval_rules, get_aval, impl_rules
from ...errors import TransformError
from ...transforms.ad import (
    Zero,
    instantiate_zeros,
    is_undefined_primal,
    jvp_rules,
    tangent_aval,
    transpose_rules,
)
from ...transforms.api import jvp
from ...transforms.batching import batching_rules, broadcast, moveaxis, not_mapped
from ...transforms.custom import custom_jvp
from ...transforms.higher_order import (
    batch_jaxpr,
    eval_jaxpr_impl,
    jaxpr_as_fun,
    jvp_jaxpr,
    transpose_jaxpr,
)
from ...tree_util import tree_flatten, tree_unflatten
from .common import loop_avals, trace_fun, types_str

__all__ = ["custom_linear_solve", "custom_linear_solve_p", "custom_root"]


class _LinearSolveTuple(NamedTuple):
    matvec: object
    vecmat: object
    solve: object
    transpose_solve: object


# a backend runs its impl (the solve jaxpr, interpreted) unless it lowers it
custom_linear_solve_p = Primitive("custom_linear_solve", multiple_results=True,
                                  impl_fallback=True)


def _check_tree(who: str, what: str, tree, avals, want_tree, want_avals):
    if tree != want_tree or [a.shape for a in avals] != [a.shape for a in want_avals] or [
            a.dtype for a in avals] != [a.dtype for a in want_avals]:
        raise TransformError(
            f"{who}: {what} must return the structure and types of b, {want_tree} "
            f"{types_str(want_avals)}; it returned {tree} {types_str(avals)}")


def custom_linear_solve(matvec, b, solve, transpose_solve=None, symmetric: bool = False,
                        has_aux: bool = False):
    """Solves ``matvec(x) = b`` with ``solve(matvec, b)``, differentiated implicitly
    (``jax.lax.custom_linear_solve``).

    Args:
        matvec: the linear map ``x -> A x`` (pytrees shaped like ``b``).
        b: the right-hand side.
        solve: ``solve(matvec, b) -> x``; never differentiated.
        transpose_solve: ``transpose_solve(vecmat, b) -> x`` for ``A^T x = b``; needed
            for reverse mode unless ``symmetric``.
        symmetric: ``A`` is symmetric: ``solve`` serves as ``transpose_solve``.
        has_aux: ``solve`` (and ``transpose_solve``) return ``(x, aux)``; aux is
            returned beside ``x`` and has no derivative.

    Example:
        >>> import numpy as np, functrace as ft
        >>> a = np.array([[2., 1.], [1., 3.]], np.float32)
        >>> f = lambda b: custom_linear_solve(lambda x: a @ x, b,
        ...                                   lambda mv, r: ft.numpy.linalg.solve(a, r),
        ...                                   symmetric=True)
        >>> f(np.array([3., 5.], np.float32))
        array([0.8, 1.4], dtype=float32)
        >>> ft.grad(lambda b: f(b).sum())(np.array([3., 5.], np.float32))
        array([0.4, 0.2], dtype=float32)
    """
    who = "lax.custom_linear_solve"
    leaves, tree = tree_flatten(b)
    args_tree = tree_flatten((b,))[1]  # trace_fun calls fun(*args)
    avals = loop_avals(leaves)
    nb = len(leaves)

    mv, mv_consts, mv_tree = trace_fun(matvec, args_tree, avals, f"{who} matvec")
    _check_tree(who, "matvec", mv_tree, mv.out_avals, tree, avals)

    def matvec_of(jaxpr, consts):
        def fn(x):
            return tree_unflatten(tree, jaxpr_as_fun(jaxpr)(*consts, *tree_flatten(x)[0]))
        return fn

    def traced_solve(fun, linear_map, what):
        jaxpr, consts, out_tree = trace_fun(lambda x: fun(linear_map, x), args_tree, avals,
                                            f"{who} {what}")
        x_tree = out_tree
        if has_aux:
            kids = out_tree.children() if out_tree.num_leaves else []
            if out_tree.num_nodes == 1 or len(kids) != 2:
                raise TransformError(f"{who}: with has_aux=True, {what} must return a pair "
                                     f"(x, aux); it returned {out_tree}")
            x_tree = kids[0]
        _check_tree(who, what, x_tree, jaxpr.out_avals[:nb], tree, avals)
        return jaxpr, consts, out_tree

    s, s_consts, out_tree = traced_solve(solve, matvec, "solve")
    vm = ts = None
    vm_consts: list = []
    ts_consts: list = []
    if symmetric:
        vm, vm_consts, ts, ts_consts = mv, mv_consts, s, s_consts
    elif transpose_solve is not None:
        nc = len(mv_consts)
        vm = transpose_jaxpr(mv, [False] * nc + [True] * nb)  # [*consts, *y] -> A^T y
        vm_consts = mv_consts
        ts, ts_consts, _ = traced_solve(transpose_solve, matvec_of(vm, vm_consts),
                                        "transpose_solve")
    jaxprs = _LinearSolveTuple(mv, vm, s, ts)
    lengths = _LinearSolveTuple(len(mv_consts), len(vm_consts), len(s_consts),
                                len(ts_consts))
    outs = custom_linear_solve_p.bind(*mv_consts, *vm_consts, *s_consts, *ts_consts, *leaves,
                                      const_lengths=lengths, jaxprs=jaxprs)
    return tree_unflatten(out_tree, outs)


def _split(args, lengths: _LinearSolveTuple):
    out, at = [], 0
    for n in lengths:
        out.append(list(args[at:at + n]))
        at += n
    return _LinearSolveTuple(*out), list(args[at:])


def _solve_impl(*args, const_lengths, jaxprs):
    consts, b = _split(args, const_lengths)
    return eval_jaxpr_impl(jaxprs.solve, *consts.solve, *b)


def _solve_abstract(*avals, const_lengths, jaxprs):
    return list(jaxprs.solve.out_avals)


impl_rules[custom_linear_solve_p] = _solve_impl
abstract_eval_rules[custom_linear_solve_p] = _solve_abstract


def _solve_jvp(primals, tangents, *, const_lengths, jaxprs):
    consts, b = _split(primals, const_lengths)
    dconsts, db = _split(tangents, const_lengths)
    outs = custom_linear_solve_p.bind(*primals, const_lengths=const_lengths, jaxprs=jaxprs)
    nb = len(b)
    x = outs[:nb]
    # b' - A' x: the tangent of matvec(x) w.r.t. its constants, at the solution
    nz = [not isinstance(t, Zero) for t in dconsts.matvec]
    rhs = list(db)
    if any(nz):
        jaxpr, out_nz = jvp_jaxpr(jaxprs.matvec, nz + [False] * nb, True)
        dmv = jaxpr_as_fun(jaxpr)(*consts.matvec, *x,
                                  *[t for t in dconsts.matvec if not isinstance(t, Zero)])[nb:]
        rhs = [-t if isinstance(r, Zero) else r - t for r, t in zip(rhs, dmv, strict=True)]
    zero_aux = [Zero(tangent_aval(a)) for a in jaxprs.solve.out_avals[nb:]]
    if all(isinstance(r, Zero) for r in rhs):
        return outs, [Zero(tangent_aval(a)) for a in jaxprs.solve.out_avals[:nb]] + zero_aux
    rhs = [instantiate_zeros(r) for r in rhs]
    flat_consts = [c for group in consts for c in group]
    dx = custom_linear_solve_p.bind(*flat_consts, *rhs, const_lengths=const_lengths,
                                    jaxprs=jaxprs)[:nb]
    return outs, list(dx) + zero_aux


jvp_rules[custom_linear_solve_p] = _solve_jvp


def _solve_transpose(cts, *args, const_lengths, jaxprs):
    consts, b = _split(args, const_lengths)
    if any(is_undefined_primal(c) for group in consts for c in group):
        raise TransformError("lax.custom_linear_solve: cannot transpose with respect to "
                             "the constants of matvec or solve (the solution is linear in b "
                             "only)")
    if jaxprs.transpose_solve is None:
        raise TransformError(
            "lax.custom_linear_solve: reverse-mode differentiation (grad, vjp) needs "
            "transpose_solve, the solver of the transposed system; pass transpose_solve=, "
            "or symmetric=True if matvec is symmetric")
    nb = len(b)
    ct_x = [instantiate_zeros(c) for c in cts[:nb]]
    swapped = _LinearSolveTuple(jaxprs.vecmat, jaxprs.matvec, jaxprs.transpose_solve,
                                jaxprs.solve)
    lengths = _LinearSolveTuple(const_lengths.vecmat, const_lengths.matvec,
                                const_lengths.transpose_solve, const_lengths.solve)
    ct_b = custom_linear_solve_p.bind(*consts.vecmat, *consts.matvec, *consts.transpose_solve,
                                      *consts.solve, *ct_x, const_lengths=lengths,
                                      jaxprs=swapped)[:nb]
    return [None] * (len(args) - nb) + list(ct_b)


transpose_rules[custom_linear_solve_p] = _solve_transpose


def _solve_batch(args, dims, *, const_lengths, jaxprs):
    size = next(a.shape[d] for a, d in zip(args, dims, strict=True) if d is not not_mapped)
    args = [a if d is not_mapped else moveaxis(a, d, 0) for a, d in zip(args, dims,
                                                                        strict=True)]
    consts, b = _split(args, const_lengths)
    cdims, bdims = _split(dims, const_lengths)
    # every system is solved per example: b is batched whenever anything is
    b = [x if d is not not_mapped else broadcast(x, size, 0)
         for x, d in zip(b, bdims, strict=True)]
    nb = len(b)

    def batched(jaxpr, flags):
        if jaxpr is None:
            return None
        in_b = [d is not not_mapped for d in flags] + [True] * nb
        return batch_jaxpr(jaxpr, size, in_b, True)[0]

    new = _LinearSolveTuple(*(batched(j, f) for j, f in zip(jaxprs, cdims, strict=True)))
    flat_consts = [c for group in consts for c in group]
    outs = custom_linear_solve_p.bind(*flat_consts, *b, const_lengths=const_lengths,
                                      jaxprs=new)
    return outs, [0] * len(outs)


batching_rules[custom_linear_solve_p] = _solve_batch


# ---------------------------------------------------------------------------
# custom_root

def custom_root(f, initial_guess, solve, tangent_solve, has_aux: bool = False):
    """A root of ``f`` found by ``solve(f, initial_guess)``, differentiated implicitly
    (``jax.lax.custom_root``): the derivative comes from ``f(x*) = 0``, not from
    ``solve``'s iterations.

    Args:
        f: the function whose root is sought; it may close over the values to
            differentiate with respect to.
        initial_guess: where ``solve`` starts (no derivative flows to it).
        solve: ``solve(f, initial_guess) -> root`` (or ``(root, aux)`` with ``has_aux``).
        tangent_solve: ``tangent_solve(g, y) -> x`` solving the linear system
            ``g(x) = y``; for a scalar ``lambda g, y: y / g(1.0)``.
        has_aux: ``solve`` returns ``(root, aux)``.

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> def sqrt(a):  # the root of x**2 - a, by Newton's method
        ...     def newton(f, x):
        ...         for _ in range(20):
        ...             x = x - f(x) / (2 * x)
        ...         return x
        ...     return custom_root(lambda x: x ** 2 - a, 1.0, newton,
        ...                        lambda g, y: y / g(1.0))
        >>> float(sqrt(2.0)), float(ft.grad(sqrt)(2.0))  # d sqrt(a)/da = 1 / (2 sqrt(a))
        (1.4142135381698608, 0.3535533845424652)
    """
    who = "lax.custom_root"
    leaves, tree = tree_flatten(initial_guess)
    args_tree = tree_flatten((initial_guess,))[1]  # trace_fun calls fun(*args)
    avals = loop_avals(leaves)
    nx = len(leaves)
    fj, f_consts, f_tree = trace_fun(f, args_tree, avals, f"{who} f")
    _check_tree(who, "f", f_tree, fj.out_avals, tree, avals)
    sj, s_consts, out_tree = trace_fun(lambda x: solve(f, x), args_tree, avals,
                                       f"{who} solve")
    x_tree = out_tree
    if has_aux:
        kids = out_tree.children()
        if len(kids) != 2:
            raise TransformError(f"{who}: with has_aux=True, solve must return a pair "
                                 f"(root, aux); it returned {out_tree}")
        x_tree = kids[0]
    _check_tree(who, "solve", x_tree, sj.out_avals[:nx], tree, avals)
    nf = len(f_consts)
    f_flat = jaxpr_as_fun(fj)

    @custom_jvp
    def _custom_root(*args):
        return tuple(jaxpr_as_fun(sj)(*args[nf:]))

    @_custom_root.defjvp
    def _root_jvp(primals, tangents):
        outs = _custom_root(*primals)
        root = list(outs[:nx])
        fc, dfc = list(primals[:nf]), list(tangents[:nf])
        # f(x*, c) = 0, so (df/dx) x' = -(df/dc) c'
        keep = [k for k, c in enumerate(fc) if _inexact(c)]
        if keep:
            def of_consts(*cs):
                full = list(fc)
                for k, c in zip(keep, cs, strict=True):
                    full[k] = c
                return tuple(f_flat(*full, *root))
            _, rhs = jvp(of_consts, tuple(fc[k] for k in keep), tuple(dfc[k] for k in keep))
            rhs = [-r for r in rhs]
        else:
            rhs = [0.0 * r for r in root]

        def linear(t):
            t_leaves = tree_flatten(t)[0]
            return tree_unflatten(tree, list(jvp(lambda *x: tuple(f_flat(*fc, *x)),
                                                 tuple(root), tuple(t_leaves))[1]))

        droot = tree_flatten(tangent_solve(linear, tree_unflatten(tree, rhs)))[0]
        daux = [_zero_tangent(a) for a in outs[nx:]]
        return outs, (*droot, *daux)

    outs = _custom_root(*f_consts, *s_consts, *leaves)
    return tree_unflatten(out_tree, list(outs))


def _inexact(x) -> bool:
    return dtype_kind(get_aval(x).dtype) in "fc"


def _zero_tangent(x):
    return instantiate_zeros(Zero(tangent_aval(get_aval(x))))
