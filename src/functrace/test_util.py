"""Gradient checking: finite differences vs ``jvp`` vs ``vjp``, as ``jax.test_util``.

The defaults are JAX's: a central difference with step ``EPS = 1e-4`` taken in
each input's own dtype, and tolerances looked up by the dtype of the values
being compared (float32 results get float32 tolerances even when the inputs
were Python floats or float64 arrays narrowed by x64 being off), scaled by the
number of elements. Complex inputs get complex random directions, and the VJP
check conjugates as JAX does, so holomorphic and real-valued complex functions
are both checked.

Example:
    >>> import functrace.lax as lax
    >>> check_grads(lambda x: lax.sin(lax.mul(x, x)), (np.float32(0.3),), order=2)
"""

from __future__ import annotations

import numpy as np

from .core.avals import canonicalize_dtype, dtype_kind, is_inexact
from .transforms.api import jvp, vjp
from .tree_util import tree_flatten, tree_map

EPS = 1e-4

_DEFAULT_TOL = {"bool": 0, "int8": 0, "int16": 0, "int32": 0, "int64": 0, "uint8": 0,
                "uint16": 0, "uint32": 0, "uint64": 0, "float16": 1e-3, "bfloat16": 1e-2,
                "float32": 1e-6, "float64": 1e-15, "complex64": 1e-6, "complex128": 1e-15}
_GRAD_TOL = {"float16": 1e-2, "bfloat16": 1e-1, "float32": 2e-3, "float64": 1e-5,
             "complex64": 1e-3, "complex128": 1e-5}


def _dtype(x) -> np.dtype:
    """A value's dtype before canonicalisation (a Python float is float64, as in JAX)."""
    return np.asarray(x).dtype


def tolerance(dtype, tol=None) -> float:
    """``tol`` if it is a number, else its entry (or the default) for ``dtype``."""
    if tol is not None and not isinstance(tol, dict):
        return tol
    name = canonicalize_dtype(dtype).name
    table = {_key(k): v for k, v in (tol or {}).items()}
    return table.get(name, _DEFAULT_TOL.get(name, 0))


def _merge(tol, default: dict):
    if tol is None:
        return dict(default)
    if not isinstance(tol, dict):
        return tol
    return {**default, **{_key(k): v for k, v in tol.items()}}


def _key(dtype) -> str:
    return dtype if isinstance(dtype, str) else np.dtype(dtype).name


def _assert_close(a, b, atol, rtol, err_msg):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise AssertionError(f"{err_msg}: shapes differ: {a.shape} vs {b.shape}")
    at = max(tolerance(a.dtype, atol), tolerance(b.dtype, atol))
    rt = max(tolerance(a.dtype, rtol), tolerance(b.dtype, rtol))
    wide = np.complex128 if np.iscomplexobj(a) or np.iscomplexobj(b) else np.float64
    np.testing.assert_allclose(a.astype(wide), b.astype(wide), atol=at * max(a.size, 1),
                               rtol=rt * max(b.size, 1), err_msg=err_msg)


def check_close(xs, ys, atol=None, rtol=None, err_msg=""):
    """Asserts two pytrees of arrays are elementwise close (per-dtype tolerances, as JAX)."""
    lx, tx = tree_flatten(xs)
    ly, ty = tree_flatten(ys)
    if tx != ty:
        raise AssertionError(f"{err_msg}: tree structures differ: {tx} vs {ty}")
    for a, b in zip(lx, ly, strict=True):
        _assert_close(a, b, atol, rtol, err_msg)


def rand_like(rng, x):
    """A standard-normal value shaped and typed like ``x`` (complex for complex ``x``)."""
    shape, dtype = np.shape(x), _dtype(x)
    if not is_inexact(dtype):
        return np.zeros(shape, dtype)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    return np.asarray(rng.standard_normal(shape)).astype(dtype)


def _step(x, t, eps):
    """``x + eps * t`` in ``x``'s own dtype; integer and boolean inputs stay put."""
    dtype = _dtype(x)
    if not is_inexact(dtype):
        return x
    wide = np.complex128 if dtype.kind == "c" else np.float64
    return (np.asarray(x, wide) + eps * np.asarray(t, wide)).astype(dtype)


def _safe_sub(x, y):
    """``x - y`` with equal values (infinities included) giving 0."""
    x, y = np.asarray(x), np.asarray(y)
    with np.errstate(invalid="ignore"):
        return np.where(x == y, np.zeros((), x.dtype), x - y)


def numerical_jvp(f, primals, tangents, eps=EPS):
    """Central finite differences of ``f`` at ``primals`` along ``tangents``; each output
    keeps ``f``'s output dtype."""
    f_pos = f(*tree_map(lambda x, t: _step(x, t, eps), primals, tangents))
    f_neg = f(*tree_map(lambda x, t: _step(x, t, -eps), primals, tangents))

    def diff(a, b):
        d = _safe_sub(a, b)
        return (d * (0.5 / eps)).astype(d.dtype) if is_inexact(d.dtype) else d
    return tree_map(diff, f_pos, f_neg)


def _inner(xs, ys) -> float:
    def contract(x, y):
        x, y = np.asarray(x), np.asarray(y)
        if dtype_kind(x.dtype) not in "fc":
            return 0.0
        wide = np.complex128 if np.iscomplexobj(x) or np.iscomplexobj(y) else np.float64
        return np.real(np.dot(np.conj(x.astype(wide)).ravel(), y.astype(wide).ravel()))
    lx, ly = tree_flatten(xs)[0], tree_flatten(ys)[0]
    return float(sum(contract(x, y) for x, y in zip(lx, ly, strict=True)))


def check_jvp(f, f_jvp, args, atol=None, rtol=None, eps=EPS, err_msg=""):
    """``f_jvp(args, tangents)`` (e.g. ``partial(jvp, f)``) against finite differences."""
    atol, rtol = _merge(atol, _GRAD_TOL), _merge(rtol, _GRAD_TOL)
    rng = np.random.default_rng(0)
    tangents = tree_map(lambda x: rand_like(rng, x), args)
    v_out, t_out = f_jvp(args, tangents)
    check_close(v_out, f(*args), atol, rtol, f"{err_msg} primal output")
    t_num = numerical_jvp(f, args, tangents, eps)
    check_close(t_out, t_num, atol, rtol, f"{err_msg} tangent vs finite differences")


def check_vjp(f, f_vjp, args, atol=None, rtol=None, eps=EPS, err_msg=""):
    """``f_vjp(*args)`` (e.g. ``partial(vjp, f)``): ``<ct, J t>`` must equal ``<J^T ct, t>``
    with ``J t`` from finite differences."""
    atol, rtol = _merge(atol, _GRAD_TOL), _merge(rtol, _GRAD_TOL)
    rng = np.random.default_rng(1)
    v_out, vjp_fun = f_vjp(*args)
    check_close(v_out, f(*args), atol, rtol, f"{err_msg} primal output")
    tangents = tree_map(lambda x: rand_like(rng, x), args)
    t_num = numerical_jvp(f, args, tangents, eps)
    ct = tree_map(lambda x: rand_like(rng, x), v_out)
    ct_in = tree_map(np.conj, vjp_fun(tree_map(np.conj, ct)))
    check_close(_inner(tangents, ct_in), _inner(t_num, ct), atol, rtol,
                f"{err_msg} <J^T ct, t> vs <ct, J t> by finite differences")


def check_grads(f, args, order: int, modes=("fwd", "rev"), atol=None, rtol=None, eps=None):
    """Checks derivatives of ``f`` up to ``order`` in forward and/or reverse mode.

    Args:
        f: a function of the positional ``args``.
        args: a tuple of arrays (or pytrees of arrays).
        order: 1 checks first derivatives; 2 also checks derivatives of the derivatives.
        modes: any of ``"fwd"`` and ``"rev"``.
        atol, rtol: a number, or a dict from dtype to tolerance (JAX's defaults fill in).
        eps: the finite-difference step (default ``EPS = 1e-4``, as JAX).
    Raises:
        AssertionError naming the mode and order that disagreed.
    """
    args = tuple(args)
    eps = eps or EPS

    def _check(f, args, order, msg):
        if "fwd" in modes:
            fwd_msg = f"JVP of {msg}" if msg else "JVP"
            check_jvp(f, lambda a, t: jvp(f, a, t), args, atol, rtol, eps, fwd_msg)
            if order > 1:
                _check(lambda p, t: jvp(f, p, t), (args, args), order - 1, fwd_msg)
        if "rev" in modes:
            rev_msg = f"VJP of {msg}" if msg else "VJP"
            check_vjp(f, lambda *a: vjp(f, *a), args, atol, rtol, eps, rev_msg)
            if order > 1:
                def f_vjp(*a):
                    out, vjp_fun = vjp(f, *a)
                    return vjp_fun(out)  # the output itself as cotangent, as JAX does

                _check(f_vjp, args, order - 1, rev_msg)

    _check(f, args, order, "")
