"""Selection, writes and functional helpers of ``jax.numpy``: ``choose``/``select``/
``piecewise``, ``place``/``put``/``put_along_axis`` (``inplace=False``, as JAX requires),
``apply_along_axis``/``apply_over_axes``/``vectorize`` (through ``vmap``), ``array_equiv``,
``sort_complex`` and ``unwrap``.
"""

from __future__ import annotations

import builtins

import numpy as np

from .. import lax
from ..core.trace import Tracer, get_aval
from ..errors import FunctraceError, ShapeError
from ..transforms.vmap import vmap
from ._promote import (
    as_array,
    as_operand,
    broadcast_to_shape,
    canonical_axis,
    convert,
    promote_args,
)
from .creation import array
from .indexed_update import IndexUpdateHelper
from .manip import broadcast_arrays, ravel, reshape
from .math import where
from .shaping import resize

__all__ = [
    "apply_along_axis",
    "apply_over_axes",
    "array_equiv",
    "choose",
    "piecewise",
    "place",
    "put",
    "put_along_axis",
    "select",
    "sort_complex",
    "unwrap",
    "vectorize",
]


def _shape(x) -> tuple[int, ...]:
    return get_aval(x).shape


def _dtype(x) -> np.dtype:
    return get_aval(x).dtype


# ---------------------------------------------------------------------------
# selection and writes

def choose(a, choices, out=None, mode: str = "raise"):
    """``choices[a[i]][i]`` elementwise (``mode='clip'`` or ``'wrap'`` for out-of-range
    selectors; ``'raise'`` checks concrete ones).

    Example:
        >>> choose(np.array([0, 1, 0]), [np.array([1, 2, 3]), np.array([10, 20, 30])])
        array([ 1, 20,  3], dtype=int32)
    """
    idx = as_array(a)
    cs = list(choices) if not isinstance(choices, np.ndarray | Tracer) else [
        choices[i] for i in range(_shape(as_array(choices))[0])]
    n = len(cs)
    if mode == "clip":
        idx = lax.clamp(np.asarray(0, _dtype(idx)), idx, np.asarray(n - 1, _dtype(idx)))
    elif mode == "wrap":
        d = np.asarray(n, _dtype(idx))
        idx = lax.rem(lax.add(lax.rem(idx, d), d), d)
    elif not isinstance(idx, Tracer) and (np.any(np.asarray(idx) < 0) or np.any(
            np.asarray(idx) >= n)):
        raise ShapeError("choose: invalid entry in choice array")
    arrays = broadcast_arrays(idx, *promote_args("choose", *cs, broadcast=False))
    idx, cs = convert(arrays[0], np.int32), arrays[1:]
    return lax.select_n(idx, *cs)


def select(condlist, choicelist, default=0):
    """The entry of the first true condition's choice, else ``default``.

    Example:
        >>> x = np.arange(4, dtype=np.int32)
        >>> select([x < 1, x > 2], [x, x * 10], default=-1)
        array([ 0, -1, -1, 30], dtype=int32)
    """
    if len(condlist) != len(choicelist):
        raise ShapeError("select: condlist and choicelist must have the same length")
    if not condlist:
        raise ShapeError("select: condlist must not be empty")
    out = as_operand(default)  # a Python scalar default stays weakly typed, as in JAX
    for cond, choice in reversed(list(zip(condlist, choicelist, strict=True))):
        out = where(cond, choice, out)
    return out


def piecewise(x, condlist, funclist, *args, **kw):
    """``funclist[i](x)`` where ``condlist[i]`` (the last one wins), with an extra function
    (or constant) for where none holds; each function runs on the whole array.

    Example:
        >>> piecewise(np.array([-1., 2.], np.float32), [np.array([True, False])],
        ...           [lambda v: -v, lambda v: v * 10])
        array([ 1., 20.], dtype=float32)
    """
    v = as_array(x)
    conds = [as_array(c) for c in (condlist if isinstance(condlist, list | tuple) else
                                    [condlist])]
    funcs = list(funclist)
    if len(funcs) == len(conds) + 1:
        otherwise = funcs.pop()
        none = lax.bitwise_not(_any_of(conds, v))
        conds.append(none)
        funcs.append(otherwise)
    if len(funcs) != len(conds):
        raise ShapeError("piecewise: funclist must have len(condlist) or len(condlist) + 1 "
                         "entries")
    out = lax.full_like(v, 0)
    for c, f in zip(conds, funcs, strict=True):
        val = f(v, *args, **kw) if callable(f) else f
        out = where(c, convert(as_array(val), _dtype(v)), out)
    return out


def _any_of(conds, like):
    acc = lax.full(_shape(like), False, np.bool_)
    for c in conds:
        acc = lax.bitwise_or(acc, broadcast_to_shape(c, _shape(like), "piecewise"))
    return acc


def place(arr, mask, vals, *, inplace: bool = True):
    """``arr`` with the entries where ``mask`` is true replaced by ``vals`` in order
    (``vals`` repeats if short); JAX needs ``inplace=False``, and concrete ``mask``."""
    if inplace:
        raise FunctraceError("place: arrays are immutable; pass inplace=False")
    x = as_array(arr)
    m = np.asarray(mask).ravel().astype(bool)
    pos = np.flatnonzero(m)
    if pos.size == 0:
        return x
    v = resize(ravel(as_array(vals)), (pos.size,))
    return reshape(IndexUpdateHelper(ravel(x))[pos].set(v), _shape(x))


def put(a, ind, v, mode=None, *, inplace: bool = True):
    """``a`` with the flat positions ``ind`` set to ``v`` (repeated as needed); JAX needs
    ``inplace=False``.

    Example:
        >>> put(np.zeros(4, np.int32), np.array([0, 2]), np.int32(5), inplace=False)
        array([5, 0, 5, 0], dtype=int32)
    """
    if inplace:
        raise FunctraceError("put: arrays are immutable; pass inplace=False")
    x = as_array(a)
    idx = ravel(as_array(ind))
    n = _shape(idx)[0]
    vals = resize(ravel(convert(as_array(v), _dtype(x))), (n,))
    size = int(np.prod(_shape(x), dtype=np.int64))
    if mode == "wrap":
        d = np.asarray(size, _dtype(idx))
        idx = lax.rem(lax.add(lax.rem(idx, d), d), d)
    elif mode == "clip":
        idx = lax.clamp(np.asarray(0, _dtype(idx)), idx, np.asarray(size - 1, _dtype(idx)))
    return reshape(IndexUpdateHelper(ravel(x))[idx].set(vals), _shape(x))


def put_along_axis(arr, indices, values, axis: int | None, inplace: bool = True, *,
                   mode=None):
    """``arr`` with ``values`` written at ``indices`` along ``axis`` (the inverse of
    ``take_along_axis``); JAX needs ``inplace=False``.

    Example:
        >>> put_along_axis(np.zeros((2, 2), np.int32), np.array([[1], [0]]), 9, axis=1,
        ...                inplace=False)
        array([[0, 9],
               [9, 0]], dtype=int32)
    """
    if inplace:
        raise FunctraceError("put_along_axis: arrays are immutable; pass inplace=False")
    x = as_array(arr)
    if axis is None:
        x_flat = ravel(x)
        return reshape(put_along_axis(x_flat, ravel(as_array(indices)), values, 0,
                                      inplace=False, mode=mode), _shape(x))
    nd = len(_shape(x))
    axis = canonical_axis(axis, nd, "put_along_axis")
    idx = as_array(indices)
    shape = np.broadcast_shapes(_shape(idx), tuple(1 if d == axis else n
                                                   for d, n in enumerate(_shape(x))))
    idx = broadcast_to_shape(idx, shape, "put_along_axis")
    grids = []
    for d in range(nd):
        if d == axis:
            grids.append(idx)
        else:
            g = lax.broadcasted_iota(np.int32, shape, d)
            grids.append(g)
    vals = broadcast_to_shape(convert(as_array(values), _dtype(x)), shape, "put_along_axis")
    return IndexUpdateHelper(x)[tuple(grids)].set(vals, mode=mode)


# ---------------------------------------------------------------------------
# functional helpers

def apply_along_axis(func1d, axis: int, arr, *args, **kwargs):
    """``func1d`` applied to every 1-D slice along ``axis`` (a ``vmap`` over the other
    axes); its output dims replace ``axis``.

    Example:
        >>> apply_along_axis(lambda v: v[0] + v[-1], 1, np.arange(6, dtype=np.int32)
        ...                  .reshape(2, 3))
        array([2, 8], dtype=int32)
    """
    x = as_array(arr)
    nd = len(_shape(x))
    axis = canonical_axis(axis, nd, "apply_along_axis")

    def f(v):
        return func1d(v, *args, **kwargs)

    # JAX's nesting: the inner maps take the trailing axes (each time the next one, as the
    # previous maps have removed the ones before it), the outer maps the leading ones
    for i in range(1, nd - axis):
        f = vmap(f, in_axes=i, out_axes=-1)
    for _ in range(axis):
        f = vmap(f, in_axes=0, out_axes=0)
    return f(x)


def apply_over_axes(func, a, axes):
    """``a`` reduced by ``func(a, axis)`` over each of ``axes`` in turn, keeping dims."""
    x = as_array(a)
    for ax in (axes if isinstance(axes, list | tuple) else [axes]):
        out = func(x, ax)
        if len(_shape(out)) == len(_shape(x)) - 1:
            out = lax.expand_dims(out, (canonical_axis(ax, len(_shape(x)), "apply_over_axes"),))
        x = out
    return x


class vectorize:  # noqa: N801 - NumPy's name
    """``pyfunc`` broadcast over its array arguments (elementwise; no ``signature``), by
    ``vmap`` over the flattened broadcast inputs; ``excluded`` names/positions pass through.

    Example:
        >>> f = vectorize(lambda a, b: a if a > b else b)
        >>> f(np.array([1, 5], np.int32), np.int32(3))  # doctest: +SKIP
    """

    def __init__(self, pyfunc, *, excluded=frozenset(), signature=None):
        if signature is not None:
            raise FunctraceError("vectorize: signature= is not supported yet")
        self.pyfunc = pyfunc
        self.excluded = set(excluded)

    def __call__(self, *args, **kwargs):
        pos = [i for i in range(len(args)) if i not in self.excluded]
        arrays = broadcast_arrays(*[as_array(args[i]) for i in pos]) if pos else []
        shape = _shape(arrays[0]) if arrays else ()
        flat = [ravel(a) for a in arrays]

        def one(*vals):
            full = list(args)
            for i, v in zip(pos, vals, strict=True):
                full[i] = v
            return self.pyfunc(*full, **kwargs)

        if not shape:
            return one(*arrays)
        out = vmap(one)(*flat)
        return lax.reshape(out, shape) if not isinstance(out, tuple) else tuple(
            lax.reshape(o, shape) for o in out)


# ---------------------------------------------------------------------------
# misc

def array_equiv(a1, a2) -> bool:
    """Whether the arrays broadcast to each other and are equal everywhere.

    Example:
        >>> bool(array_equiv(np.array([1, 2]), np.array([[1, 2], [1, 2]])))
        True
    """
    x, y = as_array(a1), as_array(a2)
    try:
        np.broadcast_shapes(_shape(x), _shape(y))
    except ValueError:
        return array(False)
    p, q = promote_args("array_equiv", x, y)
    eq = lax.eq(p, q)
    return lax.reduce_and(eq, tuple(range(len(_shape(eq))))) if _shape(eq) else eq


def sort_complex(a):
    """``a`` sorted by real part, then imaginary part, as a complex array.

    Example:
        >>> sort_complex(np.array([2, 1], np.int32))
        array([1.+0.j, 2.+0.j], dtype=complex64)
    """
    x = as_array(a)
    if _dtype(x).kind != "c":
        x = lax.complex(*promote_args("sort_complex", x, 0.0, inexact=True))
    return lax.sort(ravel(x) if len(_shape(x)) == 0 else x)


def unwrap(p, discont=None, axis: int = -1, period=2 * np.pi):
    """``p`` with jumps larger than ``max(discont, period/2)`` along ``axis`` removed by
    adding multiples of ``period``.

    Example:
        >>> unwrap(np.array([0., 3., 6.5], np.float32)).round(3)
        array([0.   , 3.   , 0.217], dtype=float32)
    """
    (x,) = promote_args("unwrap", p, inexact=True)
    ax = canonical_axis(axis, len(_shape(x)), "unwrap")
    n = _shape(x)[ax]
    if n < 2:
        return x
    dt = _dtype(x)
    per = np.asarray(period, dt)
    half = np.asarray(period / 2, dt)
    dd = lax.sub(lax.slice_in_dim(x, 1, n, axis=ax), lax.slice_in_dim(x, 0, n - 1, axis=ax))
    ddmod = lax.sub(lax.rem(lax.add(lax.rem(lax.add(dd, half), per), per), per), half)
    ddmod = where((ddmod == -half) & (dd > 0), half, ddmod)
    correction = lax.sub(ddmod, dd)
    disc = half if discont is None else np.asarray(builtins.max(discont, period / 2), dt)
    correction = where(lax.abs(dd) < disc, 0, correction)
    cum = lax.cumsum(correction, ax)
    head = lax.slice_in_dim(x, 0, 1, axis=ax)
    return lax.concatenate([head, lax.add(lax.slice_in_dim(x, 1, n, axis=ax), cum)], ax)
