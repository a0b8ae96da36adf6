"""``jax.lax``'s shape and reduction conveniences, composed from the primitives:
``reduce`` (any reducer, several operands), ``cumprod``/``cummax``/``cummin``/
``cumlogsumexp``, ``split``, ``slice_in_dim``/``index_in_dim`` and their
``dynamic_*`` forms.

Being compositions, they get ``jit``, ``vmap`` and derivatives from their parts:

- ``reduce`` with a monoid (``lax.add``, ``mul``, ``max``, ``min``, ``bitwise_and``/``or``,
  also recognised from a traced reducer of one such equation) becomes that reduction
  primitive; any other reducer becomes a ``scan`` over the reduced elements (sequential,
  JAX leaves the order unspecified), vectorised over the kept ones.
- The cumulative ops are log-depth prefix scans (Hillis-Steele: ``log2(n)`` shifted
  combinations), as JAX's ``associative_scan``.

Example:
    >>> reduce(np.arange(6, dtype=np.float32).reshape(2, 3), np.float32(0), add, (1,))
    array([ 3., 12.], dtype=float32)
"""

from __future__ import annotations

import builtins
import operator
from collections.abc import Sequence

import numpy as np

from ..core.avals import default_int_dtype, is_inexact
from ..core.trace import get_aval
from ..errors import FunctraceError, ShapeError, no_sharding
from ..transforms.make_jaxpr import make_jaxpr
from ..transforms.vmap import vmap
from ..tree_util import tree_flatten, tree_unflatten
from .control_flow import scan
from .creation import full
from .dynamic_slicing import dynamic_slice, dynamic_update_slice
from .elementwise import (
    add,
    bitwise_and,
    bitwise_or,
    eq,
    exp,
    ge,
    log1p,
    lt,
    mul,
    select,
    sub,
)
from .elementwise import max as lax_max
from .elementwise import min as lax_min
from .reductions import reduce_and, reduce_max, reduce_min, reduce_or, reduce_prod
from .shape_ops import broadcast_in_dim, expand_dims, reduce_sum, reshape, transpose
from .slicing import concatenate, rev
from .slicing import slice as lax_slice

__all__ = [
    "cumlogsumexp", "cummax", "cummin", "cumprod", "dynamic_index_in_dim",
    "dynamic_slice_in_dim", "dynamic_update_index_in_dim", "dynamic_update_slice_in_dim",
    "index_in_dim", "reduce", "slice_in_dim", "split",
]


def _shape(x) -> tuple[int, ...]:
    return get_aval(x).shape


def _axis(axis: int, ndim: int, op: str) -> int:
    try:
        axis = operator.index(axis)
    except TypeError:
        raise ShapeError(f"lax.{op}: axis must be an int, got {axis!r}") from None
    if not -ndim <= axis < ndim:
        raise ShapeError(f"lax.{op}: axis {axis} is out of range for an operand of rank {ndim}")
    return axis % ndim


# ---------------------------------------------------------------------------
# reduce

_MONOIDS = {  # reducer -> (reduction over axes, name of the binary op in a jaxpr)
    add: (reduce_sum, "add"), mul: (reduce_prod, "mul"), lax_max: (reduce_max, "max"),
    lax_min: (reduce_min, "min"), bitwise_and: (reduce_and, "and"),
    bitwise_or: (reduce_or, "or"),
}
_BY_NAME = {name: (red, fn) for fn, (red, name) in _MONOIDS.items()}


def _as_monoid(computation, operand, init):
    """(reduction, binary op) if ``computation`` is one monoid op on its two arguments."""
    if computation in _MONOIDS:
        return _MONOIDS[computation][0], computation
    dtype = get_aval(operand).dtype
    try:
        closed = make_jaxpr(computation)(np.zeros((), dtype), np.zeros((), dtype))
    except Exception:  # noqa: BLE001 - not traceable on scalars: use the general path
        return None
    jaxpr = closed.jaxpr
    if len(jaxpr.eqns) != 1 or closed.consts or len(jaxpr.outvars) != 1:
        return None
    eqn = jaxpr.eqns[0]
    found = _BY_NAME.get(eqn.primitive.name)
    if (found is None or list(eqn.inputs) != list(jaxpr.invars)
            or eqn.outvars[0] is not jaxpr.outvars[0]):
        return None
    return found


def reduce(operands, init_values, computation, dimensions: Sequence[int], out_sharding=None):  # noqa: A001
    """Reduces ``operands`` (an array or a pytree of arrays of one shape) over
    ``dimensions`` with ``computation(acc, x) -> acc`` starting from ``init_values``.

    Example:
        >>> from functrace import lax
        >>> x = np.array([[1., 5., 2.], [4., 0., 3.]], np.float32)
        >>> lax.reduce(x, np.float32(-np.inf), lax.max, (1,))
        array([5., 4.], dtype=float32)
    """
    no_sharding("lax.reduce", out_sharding=out_sharding)
    ops, tree = tree_flatten(operands)
    inits, init_tree = tree_flatten(init_values)
    if tree != init_tree or not ops:
        raise ShapeError("lax.reduce: operands and init_values must have the same structure "
                         f"(got {tree} and {init_tree})")
    shape = _shape(ops[0])
    if any(_shape(x) != shape for x in ops):
        raise ShapeError(f"lax.reduce: all operands must have the same shape, got "
                         f"{[_shape(x) for x in ops]}")
    dims = tuple(sorted({_axis(d, len(shape), "reduce") for d in dimensions}))
    if len(ops) == 1:
        monoid = _as_monoid(computation, ops[0], inits[0])
        if monoid is not None:
            reduction, op = monoid
            out = reduction(ops[0], dims)
            init = inits[0]
            return tree_unflatten(tree, [op(out, init) if not _is_identity(op, init) else out])
    return tree_unflatten(tree, _reduce_by_scan(ops, inits, tree, computation, dims, shape))


def _is_identity(op, init) -> bool:
    if isinstance(init, np.ndarray | np.generic | int | float | bool):
        v = np.asarray(init)
        ident = {add: 0, mul: 1, lax_max: -np.inf, lax_min: np.inf, bitwise_or: 0}.get(op)
        if op is bitwise_and:
            return bool(np.all(v == np.asarray(-1).astype(v.dtype)) or v.dtype == np.bool_ and v)
        if op in (lax_max, lax_min) and v.dtype.kind in "iub":
            info = np.iinfo(v.dtype) if v.dtype.kind != "b" else None
            if info is None:
                return bool(v) == (op is lax_min)
            return int(v) == (info.min if op is lax_max else info.max)
        return ident is not None and bool(v == ident)
    return False


def _reduce_by_scan(ops, inits, tree, computation, dims, shape):
    kept = tuple(d for d in range(len(shape)) if d not in dims)
    n_red = int(np.prod([shape[d] for d in dims], dtype=np.int64))
    kept_shape = tuple(shape[d] for d in kept)
    n_kept = int(np.prod(kept_shape, dtype=np.int64))
    flat = [reshape(transpose(x, dims + kept), (n_red, n_kept)) for x in ops]
    carry0 = [broadcast_in_dim(i, (n_kept,), ()) for i in inits]

    def combine(acc, x):
        out = computation(tree_unflatten(tree, acc), tree_unflatten(tree, x))
        return tree_flatten(out)[0]

    vec = vmap(combine)

    def body(acc, x):
        return vec(acc, x), None

    final, _ = scan(body, carry0, flat)
    return [reshape(c, kept_shape) for c in final]


# ---------------------------------------------------------------------------
# cumulative ops: log-depth prefix scans

def _shifted(x, shift: int, axis: int, fill):
    """``x`` moved ``shift`` places along ``axis`` (towards the end), ``fill`` in front."""
    shape = _shape(x)
    n = shape[axis]
    if shift >= n:
        return full(shape, fill, get_aval(x).dtype)
    lead = list(shape)
    lead[axis] = shift
    limit = list(shape)
    limit[axis] = n - shift
    body = lax_slice(x, (0,) * len(shape), tuple(limit))
    return concatenate([full(tuple(lead), fill, get_aval(x).dtype), body], axis)


def _prefix_scan(op, identity, operand, axis: int, reverse: bool, name: str):
    ndim = len(_shape(operand))
    if ndim == 0:
        raise ShapeError(f"lax.{name}: the operand must have at least one dimension")
    axis = _axis(axis, ndim, name)
    x = rev(operand, (axis,)) if reverse else operand
    n = _shape(x)[axis]
    shift = 1
    while shift < n:
        x = op(x, _shifted(x, shift, axis, identity))
        shift *= 2
    return rev(x, (axis,)) if reverse else x


def _lowest(dtype):
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return False
    return -np.inf if is_inexact(dtype) else np.iinfo(dtype).min


def _highest(dtype):
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return True
    return np.inf if is_inexact(dtype) else np.iinfo(dtype).max


def cumprod(operand, axis: int = 0, reverse: bool = False):
    """Inclusive cumulative product along ``axis`` (from the end if ``reverse``).

    Example:
        >>> cumprod(np.array([1., 2., 3.], np.float32))
        array([1., 2., 6.], dtype=float32)
    """
    return _prefix_scan(mul, 1, operand, axis, reverse, "cumprod")


def cummax(operand, axis: int = 0, reverse: bool = False):
    """Inclusive cumulative maximum along ``axis``.

    Example:
        >>> cummax(np.array([1, 3, 2], np.int32), reverse=True)
        array([3, 3, 2], dtype=int32)
    """
    return _prefix_scan(lax_max, _lowest(get_aval(operand).dtype), operand, axis, reverse,
                        "cummax")


def cummin(operand, axis: int = 0, reverse: bool = False):
    """Inclusive cumulative minimum along ``axis``.

    Example:
        >>> cummin(np.array([3, 1, 2], np.int32))
        array([3, 1, 1], dtype=int32)
    """
    return _prefix_scan(lax_min, _highest(get_aval(operand).dtype), operand, axis, reverse,
                        "cummin")


def _logaddexp(x, y):
    """``log(exp(x) + exp(y))`` as ``m + log1p(exp(-|x - y|))`` with ``m`` the larger one,
    picked by a select so that the gradient at a tie is split evenly (a ``max`` would give
    ``m`` half and the ``log1p`` term the wrong sign share); two ``-inf``s give ``-inf``
    and pass the gradient to ``x`` (the running value, not the shifted-in identity)."""
    x_first = ge(x, y)
    m = select(x_first, x, y)
    both_inf = eq(m, full(_shape(m), -np.inf, get_aval(m).dtype))
    zero = full(_shape(m), 0, get_aval(m).dtype)
    xs, ys = select(both_inf, zero, x), select(both_inf, zero, y)
    d = select(x_first, sub(ys, xs), sub(xs, ys))  # -|x - y|, finite
    return select(both_inf, x, add(m, log1p(exp(d))))


def cumlogsumexp(operand, axis: int = 0, reverse: bool = False):
    """Inclusive cumulative ``log(sum(exp(x)))`` along ``axis``, without overflow.

    Example:
        >>> cumlogsumexp(np.array([0., 0., 0.], np.float32))
        array([0.       , 0.6931472, 1.0986123], dtype=float32)
    """
    if not is_inexact(get_aval(operand).dtype):
        raise FunctraceError(f"lax.cumlogsumexp: the operand must be floating-point, got "
                             f"{get_aval(operand).str_short()}")
    return _prefix_scan(_logaddexp, -np.inf, operand, axis, reverse, "cumlogsumexp")


# ---------------------------------------------------------------------------
# split

def split(operand, sizes: Sequence[int], axis: int = 0):
    """Splits ``operand`` along ``axis`` into pieces of the given ``sizes`` (which must add
    up to the axis length).

    Example:
        >>> split(np.arange(6, dtype=np.int32), (2, 4))
        [array([0, 1], dtype=int32), array([2, 3, 4, 5], dtype=int32)]
    """
    shape = _shape(operand)
    axis = _axis(axis, len(shape), "split")
    sizes = [operator.index(s) for s in sizes]
    if any(s < 0 for s in sizes) or builtins.sum(sizes) != shape[axis]:
        raise ShapeError(f"lax.split: sizes {tuple(sizes)} must be non-negative and add up to "
                         f"the length {shape[axis]} of axis {axis} of shape {shape}")
    out, start = [], 0
    for s in sizes:
        out.append(slice_in_dim(operand, start, start + s, axis=axis))
        start += s
    return out


# ---------------------------------------------------------------------------
# slices along one axis

def slice_in_dim(operand, start_index, limit_index, stride: int = 1, axis: int = 0):
    """``operand[start:limit:stride]`` along ``axis`` (``None`` and negative indices as in
    Python).

    Example:
        >>> slice_in_dim(np.arange(6, dtype=np.int32), 1, -1, 2)
        array([1, 3], dtype=int32)
    """
    shape = _shape(operand)
    axis = _axis(axis, len(shape), "slice_in_dim")
    start, limit, step = builtins.slice(start_index, limit_index, stride).indices(shape[axis])
    if step <= 0:
        raise ShapeError(f"lax.slice_in_dim: stride must be positive, got {stride}")
    limit = builtins.max(limit, start)
    starts, limits, strides = [0] * len(shape), list(shape), [1] * len(shape)
    starts[axis], limits[axis], strides[axis] = start, limit, step
    return lax_slice(operand, tuple(starts), tuple(limits), tuple(strides))


def index_in_dim(operand, index: int, axis: int = 0, keepdims: bool = True):
    """The slice at static ``index`` (negative counts from the end) along ``axis``.

    Example:
        >>> index_in_dim(np.arange(6, dtype=np.int32).reshape(2, 3), -1, 0)
        array([[3, 4, 5]], dtype=int32)
    """
    shape = _shape(operand)
    axis = _axis(axis, len(shape), "index_in_dim")
    n = shape[axis]
    index = operator.index(index)
    if not -n <= index < n:
        raise ShapeError(f"lax.index_in_dim: index {index} is out of bounds for axis {axis} "
                         f"of size {n}")
    index %= n
    out = slice_in_dim(operand, index, index + 1, axis=axis)
    return out if keepdims else reshape(out, shape[:axis] + shape[axis + 1:])


def _start(index, size: int, allow_negative: bool):
    """A (possibly traced) start index; negative ones count from the end."""
    if isinstance(index, int | np.integer):
        return index + size if allow_negative and index < 0 else index
    idx = index
    if allow_negative:
        dtype = get_aval(idx).dtype
        zero = np.zeros((), dtype)
        idx = select(lt(idx, zero), add(idx, np.asarray(size, dtype)), idx)
    return idx


def _starts(shape, axis: int, start):
    dtype = get_aval(start).dtype if not isinstance(start, int | np.integer) \
        else default_int_dtype()
    zeros = [np.zeros((), dtype)] * len(shape)
    zeros[axis] = start if not isinstance(start, int | np.integer) else np.asarray(start, dtype)
    return zeros


def dynamic_slice_in_dim(operand, start_index, slice_size: int, axis: int = 0, *,
                         allow_negative_indices: bool = True):
    """``slice_size`` entries from the (traced) ``start_index`` along ``axis``; the start is
    clamped so the slice stays in bounds, as ``dynamic_slice``.

    Example:
        >>> dynamic_slice_in_dim(np.arange(6, dtype=np.int32), 4, 3)
        array([3, 4, 5], dtype=int32)
    """
    shape = _shape(operand)
    axis = _axis(axis, len(shape), "dynamic_slice_in_dim")
    start = _start(start_index, shape[axis], allow_negative_indices)
    sizes = list(shape)
    sizes[axis] = operator.index(slice_size)
    return dynamic_slice(operand, _starts(shape, axis, start), tuple(sizes),
                         allow_negative_indices=False)  # _start handled them


def dynamic_index_in_dim(operand, index, axis: int = 0, keepdims: bool = True, *,
                         allow_negative_indices: bool = True):
    """The slice at (traced) ``index`` along ``axis``.

    Example:
        >>> dynamic_index_in_dim(np.arange(6, dtype=np.int32).reshape(2, 3), 1, 1, False)
        array([1, 4], dtype=int32)
    """
    out = dynamic_slice_in_dim(operand, index, 1, axis,
                               allow_negative_indices=allow_negative_indices)
    if keepdims:
        return out
    shape = _shape(operand)
    axis = _axis(axis, len(shape), "dynamic_index_in_dim")
    return reshape(out, shape[:axis] + shape[axis + 1:])


def dynamic_update_slice_in_dim(operand, update, start_index, axis: int, *,
                                allow_negative_indices: bool = True):
    """``operand`` with ``update`` written from (traced) ``start_index`` along ``axis``.

    Example:
        >>> dynamic_update_slice_in_dim(np.zeros(4, np.float32), np.ones(2, np.float32), 1, 0)
        array([0., 1., 1., 0.], dtype=float32)
    """
    shape = _shape(operand)
    axis = _axis(axis, len(shape), "dynamic_update_slice_in_dim")
    start = _start(start_index, shape[axis], allow_negative_indices)
    return dynamic_update_slice(operand, update, _starts(shape, axis, start),
                                allow_negative_indices=False)  # _start handled them


def dynamic_update_index_in_dim(operand, update, index, axis: int, *,
                                allow_negative_indices: bool = True):
    """``operand`` with the slice at (traced) ``index`` along ``axis`` replaced by ``update``
    (which may omit that axis).

    Example:
        >>> dynamic_update_index_in_dim(np.zeros((2, 2), np.float32),
        ...                             np.ones(2, np.float32), 1, 0)
        array([[0., 0.],
               [1., 1.]], dtype=float32)
    """
    shape = _shape(operand)
    axis = _axis(axis, len(shape), "dynamic_update_index_in_dim")
    if len(_shape(update)) == len(shape) - 1:
        update = expand_dims(update, (axis,))
    return dynamic_update_slice_in_dim(operand, update, index, axis,
                                       allow_negative_indices=allow_negative_indices)
