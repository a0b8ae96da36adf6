"""Gradient checking: finite differences vs ``jvp`` vs ``vjp``, like ``jax.test_util``.

Example:
    >>> import functrace.lax as lax
    >>> check_grads(lambda x: lax.sin(lax.mul(x, x)), (np.float32(0.3),), order=2)
"""

from __future__ import annotations

import numpy as np

from .core.avals import canonicalize_value, is_inexact
from .transforms.api import jvp, vjp
from .tree_util import tree_flatten, tree_map

_DEFAULT_TOL = {np.dtype(np.float32): 2e-2, np.dtype(np.float64): 1e-5}
_DEFAULT_EPS = {np.dtype(np.float32): 1e-2, np.dtype(np.float64): 1e-4}


def _leaf_dtype(tree) -> np.dtype:
    dtypes = [np.asarray(x).dtype for x in tree_flatten(tree)[0]]
    inexact = [d for d in dtypes if is_inexact(d)]
    return max(inexact, key=lambda d: d.itemsize) if inexact else np.dtype(np.float32)


def _tol(tree, tol):
    return tol if tol is not None else _DEFAULT_TOL.get(_leaf_dtype(tree), 2e-2)


def _rand_like(rng, tree):
    def one(x):
        x = canonicalize_value(x)
        if not is_inexact(x.dtype):
            return np.zeros(x.shape, x.dtype)
        return rng.standard_normal(x.shape).astype(x.dtype)
    return tree_map(one, tree)


def _add_scaled(tree, tangent, eps):
    def one(x, t):
        x = canonicalize_value(x)
        if not is_inexact(x.dtype):
            return x
        return (x.astype(np.float64) + eps * t.astype(np.float64)).astype(x.dtype)
    return tree_map(one, tree, tangent)


def _vdot(a, b) -> float:
    la, lb = tree_flatten(a)[0], tree_flatten(b)[0]
    return float(sum(np.vdot(np.asarray(x, np.float64), np.asarray(y, np.float64))
                     for x, y in zip(la, lb, strict=True)))


def check_close(x, y, atol, rtol, err_msg=""):
    """Asserts two pytrees of arrays are elementwise close."""
    lx, tx = tree_flatten(x)
    ly, ty = tree_flatten(y)
    if tx != ty:
        raise AssertionError(f"{err_msg}: tree structures differ: {tx} vs {ty}")
    for a, b in zip(lx, ly, strict=True):
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                                   atol=atol, rtol=rtol, err_msg=err_msg)


def numerical_jvp(f, primals, tangents, eps):
    """Fourth-order central finite differences of ``f`` at ``primals`` along ``tangents``."""
    def at(k):
        return tree_map(lambda v: np.asarray(v, np.float64),
                        f(*_add_scaled(primals, tangents, k * eps)))

    p1, n1, p2, n2 = at(1), at(-1), at(2), at(-2)
    return tree_map(lambda a, b, c, d: (8 * (a - b) - (c - d)) / (12 * eps), p1, n1, p2, n2)


def check_jvp(f, f_jvp, args, atol=None, rtol=None, eps=None, err_msg="", rng=None):
    """``f_jvp(args, tangents)`` (e.g. ``partial(jvp, f)``) against finite differences."""
    rng = rng or np.random.default_rng(0)
    atol, rtol = _tol(args, atol), _tol(args, rtol)
    eps = eps or _DEFAULT_EPS.get(_leaf_dtype(args), 1e-2)
    tangents = _rand_like(rng, args)
    v_out, t_out = f_jvp(args, tangents)
    check_close(v_out, f(*args), atol, rtol, f"{err_msg} primal output")
    t_num = numerical_jvp(f, args, tangents, eps)
    check_close(t_out, t_num, atol, rtol, f"{err_msg} tangent vs finite differences")


def check_vjp(f, f_vjp, args, atol=None, rtol=None, eps=None, err_msg="", rng=None):
    """``f_vjp(*args)`` (e.g. ``partial(vjp, f)``): <ct, J t> must equal <J^T ct, t>."""
    rng = rng or np.random.default_rng(1)
    atol, rtol = _tol(args, atol), _tol(args, rtol)
    eps = eps or _DEFAULT_EPS.get(_leaf_dtype(args), 1e-2)
    v_out, vjp_fun = f_vjp(*args)
    check_close(v_out, f(*args), atol, rtol, f"{err_msg} primal output")
    tangents = _rand_like(rng, args)
    t_num = numerical_jvp(f, args, tangents, eps)
    ct = _rand_like(rng, v_out)
    ct_in = vjp_fun(ct)
    ip_fd = _vdot(t_num, ct)
    ip_vjp = _vdot(tangents, ct_in)
    scale = max(1.0, abs(ip_fd), abs(ip_vjp))
    if abs(ip_fd - ip_vjp) > atol + rtol * scale:
        raise AssertionError(f"{err_msg} vjp mismatch: <ct, J t> = {ip_fd} by finite "
                             f"differences but <J^T ct, t> = {ip_vjp}")


def check_grads(f, args, order: int, modes=("fwd", "rev"), atol=None, rtol=None, eps=None):
    """Checks derivatives of ``f`` up to ``order`` in forward and/or reverse mode.

    Args:
        f: a function of the positional ``args``.
        args: a tuple of arrays (or pytrees of arrays).
        order: 1 checks first derivatives; 2 also checks derivatives of the derivatives.
        modes: any of ``"fwd"`` and ``"rev"``.
    Raises:
        AssertionError naming the mode and order that disagreed.
    """
    args = tuple(args)

    def _check(f, args, order, msg):
        if "fwd" in modes:
            fwd_msg = f"{msg} JVP (order {order})"
            check_jvp(f, lambda a, t: jvp(f, a, t), args, atol, rtol, eps, fwd_msg)
            if order > 1:
                _check(lambda p, t: jvp(f, p, t), (args, _rand_like(np.random.default_rng(2),
                                                                    args)), order - 1, fwd_msg)
        if "rev" in modes:
            rev_msg = f"{msg} VJP (order {order})"
            check_vjp(f, lambda *a: vjp(f, *a), args, atol, rtol, eps, rev_msg)
            if order > 1:
                def f_vjp(*a):
                    out, vjp_fun = vjp(f, *a)
                    return vjp_fun(out)  # the output itself as cotangent, as JAX does

                _check(f_vjp, args, order - 1, rev_msg)

    _check(f, args, order, "check_grads:")

