"""Windowed reductions (pooling): reduce_window_sum, reduce_window_max,
reduce_window_min, and the two selection primitives that differentiate max/min
pooling, select_and_gather_add and select_and_scatter_add. They live together
because each one's derivative is another one of them.

Every primitive takes the same hashable geometry parameters, one entry per axis
of the operand: ``window_dimensions``, ``window_strides``, ``padding`` (resolved
``(lo, hi)`` pairs), ``base_dilation`` and ``window_dilation``. As in XLA, the
operand is first dilated (``base_dilation - 1`` holes between neighbours), then
padded; windows of ``window_dimensions`` elements spaced ``window_dilation``
apart slide over it with ``window_strides``. Holes and padding hold the
reduction's identity, so they never change a result.

Max/min pooling routes each cotangent to exactly one element of its window: the
first maximum (minimum) in row-major window order, never a padding position.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence

import numpy as np

from ..core.avals import ShapedArray, is_inexact
from ..core.trace import Primitive, abstract_eval_rules, concrete_or_none, get_aval, impl_rules
from ..errors import DTypeError, ShapeError, TransformError
from ..transforms.ad import defjvp, deflinear, is_undefined_primal, transpose_rules
from ..transforms.batching import axis_size, batching_rules, bdim_at_front
from ._geometry import (
    dilate_and_pad,
    dilate_dim,
    int_tuple,
    out_sizes,
    pad_frame,
    padtype_to_pads,
)
from .creation import full
from .elementwise import add, add_p, max, max_p, min, min_p  # noqa: A004 - lax's names
from .slicing import pad

__all__ = [
    "reduce_window", "reduce_window_max", "reduce_window_max_p", "reduce_window_min",
    "reduce_window_min_p", "reduce_window_sum", "reduce_window_sum_p", "select_and_gather_add",
    "select_and_gather_add_p", "select_and_scatter_add", "select_and_scatter_add_p",
]

_GEOMETRY = ("window_dimensions", "window_strides", "padding", "base_dilation",
             "window_dilation")


# ---------------------------------------------------------------------------
# window geometry, shared by every primitive of the family

def _geometry(op: str, operand, window_dimensions, window_strides, padding,
              base_dilation, window_dilation) -> dict:
    """Normalises the user's geometry arguments into primitive params (tuples)."""
    shape = get_aval(operand).shape
    ndim = len(shape)
    window = int_tuple(window_dimensions, op, "window_dimensions")
    ones = (1,) * len(window)
    strides = int_tuple(window_strides, op, "window_strides")
    base = ones if base_dilation is None else int_tuple(base_dilation, op, "base_dilation")
    wdil = ones if window_dilation is None else int_tuple(window_dilation, op, "window_dilation")
    params = dict(window_dimensions=window, window_strides=strides, padding=((0, 0),) * ndim,
                  base_dilation=base, window_dilation=wdil)
    if isinstance(padding, str):
        _check_counts_and_signs(op, shape, params)  # the resolution below needs valid sizes
        # resolved on the dilated sizes, so 'SAME' keeps ceil(n / stride) under dilation too
        padding = padtype_to_pads([dilate_dim(n, d) for n, d in zip(shape, base, strict=True)],
                                  [dilate_dim(w, d) for w, d in zip(window, wdil, strict=True)],
                                  strides, padding, op=op, per="axis")
    try:
        params["padding"] = tuple((int(lo), int(hi)) for lo, hi in padding)
    except (TypeError, ValueError):
        raise ShapeError(f"{op}: padding must be 'VALID', 'SAME' or a sequence of (low, high) "
                         f"pairs of ints, one per axis; got {padding!r}") from None
    return params


def _check_counts_and_signs(op: str, shape, params) -> None:
    for name in _GEOMETRY:
        if len(params[name]) != len(shape):
            what = "(low, high) pairs" if name == "padding" else "entries"
            raise ShapeError(
                f"{op}: {name} {params[name]} has {len(params[name])} {what} but the operand of "
                f"shape {shape} has rank {len(shape)}; pass one per axis (window size 1, stride "
                "1, padding (0, 0) for the axes that are not pooled, e.g. (1, 1, 2, 2) for NCHW)")
        if name != "padding" and any(v < 1 for v in params[name]):
            raise ShapeError(f"{op}: {name} must all be positive, got {params[name]} for an "
                             f"operand of shape {shape}")


def _out_shape(shape, window_dimensions, window_strides, padding, base_dilation,
               window_dilation) -> tuple[int, ...]:
    return out_sizes(shape, window_dimensions, window_strides, padding, base_dilation,
                     window_dilation)


def _check_window(op: str, shape, params) -> tuple[int, ...]:
    """Validates the geometry params against ``shape``; returns the output shape."""
    _check_counts_and_signs(op, shape, params)
    for axis, (n, w, (lo, hi), b, d) in enumerate(zip(
            shape, params["window_dimensions"], params["padding"], params["base_dilation"],
            params["window_dilation"], strict=True)):
        padded, effective = lo + hi + dilate_dim(n, b), dilate_dim(w, d)
        if padded < effective:
            raise ShapeError(
                f"{op}: on axis {axis} the window spans {effective} elements (window_dimensions "
                f"{params['window_dimensions']}, window_dilation {params['window_dilation']}) but "
                f"the operand of shape {shape} is only {padded} long after base_dilation "
                f"{params['base_dilation']} and padding {params['padding']}; use a smaller window "
                "or 'SAME' padding")
    return _out_shape(shape, **params)


def _is_plain(padding, base_dilation) -> bool:
    return all(p == (0, 0) for p in padding) and all(b == 1 for b in base_dilation)


def _padded(x: np.ndarray, fill, padding, base_dilation) -> np.ndarray:
    """``x`` dilated and padded with ``fill`` (``x`` itself when that changes nothing)."""
    if _is_plain(padding, base_dilation):
        return x
    return dilate_and_pad(x, fill, padding, base_dilation)


def _window_slices(out_shape, window_dimensions, window_strides, window_dilation,
                   **_) -> Iterator[tuple]:
    """For each window offset in row-major order, the index of that element of every window.

    Each index is a tuple of basic slices of the padded input: a view shaped like
    the output, so a window reduction is one vectorised NumPy call per offset.
    """
    for offset in np.ndindex(*window_dimensions):
        yield tuple(slice(k * d, k * d + (o - 1) * s + 1, s) for k, d, s, o in zip(
            offset, window_dilation, window_strides, out_shape, strict=True))


def _identity(kind: str, dtype: np.dtype):
    dtype = np.dtype(dtype)
    if kind == "sum":
        return np.zeros((), dtype)
    if dtype == np.bool_:
        return np.asarray(kind == "min")
    if is_inexact(dtype):
        return np.asarray(-np.inf if kind == "max" else np.inf, dtype)
    info = np.iinfo(dtype)
    return np.asarray(info.min if kind == "max" else info.max, dtype)


def _abstract_aval(x) -> ShapedArray:
    return x.aval if is_undefined_primal(x) else get_aval(x)


def _window_batcher(prim: Primitive, args, dims, *, window_dimensions, window_strides, padding,
                    base_dilation, window_dilation, **params):
    """Rule of every primitive of the family: the batch axis goes first and becomes one
    more axis of the geometry, with a window of 1 (each example pooled on its own)."""
    size = axis_size(args, dims)
    xs = [bdim_at_front(x, d, size) for x, d in zip(args, dims, strict=True)]
    return prim.bind(*xs, window_dimensions=(1, *window_dimensions),
                     window_strides=(1, *window_strides), padding=((0, 0), *padding),
                     base_dilation=(1, *base_dilation), window_dilation=(1, *window_dilation),
                     **params), 0


def defwindowed_batching(prim: Primitive):
    batching_rules[prim] = functools.partial(_window_batcher, prim)


# ---------------------------------------------------------------------------
# select_and_gather_add / select_and_scatter_add: the derivatives of max/min pooling

def _select_positions(select_prim: str, operand: np.ndarray, out_shape, params) -> np.ndarray:
    """For each window, the row-major offset of its selected element (a small-int array).

    The selected element is the first maximum (minimum) of the window. Padding and
    dilation holes are never selected, even when operand values equal the identity;
    a window made only of padding selects a padding position, which callers drop.
    NaNs are skipped unless they come first (the forward pass still propagates them).
    """
    padding, base = params["padding"], params["base_dilation"]
    values = _padded(operand, _identity(select_prim, operand.dtype), padding, base)
    valid = None if _is_plain(padding, base) else _padded(
        np.ones(operand.shape, bool), False, padding, base)
    better = np.greater if select_prim == "max" else np.less
    keep = {"max": np.fmax, "min": np.fmin}[select_prim]
    size = int(np.prod(params["window_dimensions"]))
    index_dtype = np.int8 if size < 2**7 else np.int16 if size < 2**15 else np.int32
    best = chosen = found = None
    # plain arithmetic: masked NumPy calls (copyto(where=...)) were far slower here
    # (docs/performance.md, "Reference impls")
    for k, idx in enumerate(_window_slices(out_shape, **params)):
        v = values[idx]
        if best is None:
            best, chosen = v.copy(), np.zeros(out_shape, index_dtype)
            found = None if valid is None else valid[idx].copy()
            continue
        take = better(v, best)  # strict: the first of equal values stays selected
        if valid is not None:
            # a real element displaces a padding one holding the same (identity) value
            take |= valid[idx] & ~found
            found |= valid[idx]
        keep(best, v, out=best)
        # offsets only grow, so the latest offset that took the lead is the maximum
        np.maximum(chosen, take * index_dtype(k), out=chosen)
    return chosen


def _selected_index(chosen: np.ndarray, frame_shape, crop, params) -> np.ndarray:
    """The flat index, in the ``pad_frame`` of the operand, of each window's selected element."""
    elem_strides, step = [], 1
    for n in reversed(frame_shape):
        elem_strides.insert(0, step)
        step *= n
    starts = [np.arange(o) * s + c.start for o, s, c in zip(
        chosen.shape, params["window_strides"], crop, strict=True)]
    offsets = [np.arange(w) * d for w, d in zip(
        params["window_dimensions"], params["window_dilation"], strict=True)]
    base = functools.reduce(np.add.outer, [v * e for v, e in zip(
        starts, elem_strides, strict=True)], np.intp(0))
    table = functools.reduce(np.add.outer, [v * e for v, e in zip(
        offsets, elem_strides, strict=True)], np.intp(0))
    return base + np.ravel(table).take(chosen)


def _check_select(op: str, select_prim, x: ShapedArray, operand: ShapedArray,
                  what: str) -> None:
    if select_prim not in ("max", "min"):
        raise ShapeError(f"{op}: select_prim must be 'max' or 'min', got {select_prim!r}")
    if x.dtype != operand.dtype:
        raise DTypeError(f"{op}: {what} {x.str_short()} and operand {operand.str_short()} must "
                         "have the same dtype")


select_and_gather_add_p = Primitive("select_and_gather_add", impl_fallback=True)


def select_and_gather_add(tangent, operand, select_prim: str, window_dimensions,
                          window_strides, padding, base_dilation=None, window_dilation=None):
    """Each window's ``tangent`` value at the element that max (min) pooling selects.

    This is the JVP of ``reduce_window_max`` (``select_prim='max'``) and of
    ``reduce_window_min`` (``'min'``): the selected element is the window's first
    maximum (minimum) in row-major order; padding is never selected and gathers 0.

    Args:
        tangent: an array shaped like ``operand``.
        operand: the pooled array, which decides the selection.
        select_prim: ``'max'`` or ``'min'``.
        window_dimensions, window_strides, padding, base_dilation, window_dilation:
            as in ``reduce_window``.
    Returns:
        An array shaped like the pooled output.

    Example:
        >>> x = np.array([1., 3., 3., 0.], np.float32)
        >>> select_and_gather_add(np.arange(4, dtype=np.float32), x, 'max', (2,), (2,), 'VALID')
        array([1., 2.], dtype=float32)
    """
    params = _geometry("select_and_gather_add", operand, window_dimensions, window_strides,
                       padding, base_dilation, window_dilation)
    return select_and_gather_add_p.bind(tangent, operand, select_prim=select_prim, **params)


def _select_and_gather_add_impl(tangent, operand, *, select_prim, **params):
    out_shape = _out_shape(operand.shape, **params)
    chosen = _select_positions(select_prim, operand, out_shape, params)
    frame_shape, place, crop = pad_frame(operand.shape, params["padding"], params["base_dilation"])
    frame = tangent
    if not _is_plain(params["padding"], params["base_dilation"]):
        frame = np.zeros(frame_shape, tangent.dtype)  # all-padding windows gather 0
        frame[place] = tangent
    index = _selected_index(chosen, frame_shape, crop, params)
    return np.ravel(frame).take(index)


def _select_and_gather_add_abstract(tangent, operand, *, select_prim, **params):
    op = "select_and_gather_add"
    _check_select(op, select_prim, tangent, operand, "tangent")
    if tangent.shape != operand.shape:
        raise ShapeError(f"{op}: tangent of shape {tangent.shape} must have the shape of the "
                         f"operand, {operand.shape}")
    return ShapedArray(_check_window(op, operand.shape, params), tangent.dtype,
                       tangent.weak_type)


def _selection_transpose(name: str, linear_arg: str, other):
    """Transpose of a selection primitive: the other selection primitive, w.r.t. the
    linear argument; the operand (which decides the selection) is not linear."""
    def rule(ct, values, operand, *, select_prim, **params):
        if is_undefined_primal(operand):
            raise TransformError(f"{name} is not linear in its operand (the selection); it can "
                                 f"only be transposed with respect to the {linear_arg}")
        return [other().bind(ct, operand, select_prim=select_prim, **params), None]
    return rule


def _def_selection_rules(prim: Primitive, impl, abstract, linear_arg: str, other) -> None:
    impl_rules[prim] = impl
    abstract_eval_rules[prim] = abstract
    # the selection is piecewise constant in the operand: no derivative flows through it
    defjvp(prim, lambda g, values, operand, **params: prim.bind(g, operand, **params), None)
    transpose_rules[prim] = _selection_transpose(prim.name, linear_arg, other)
    defwindowed_batching(prim)


_def_selection_rules(select_and_gather_add_p, _select_and_gather_add_impl,
                     _select_and_gather_add_abstract, "tangent",
                     lambda: select_and_scatter_add_p)

select_and_scatter_add_p = Primitive("select_and_scatter_add")


def select_and_scatter_add(source, operand, select_prim: str, window_dimensions,
                           window_strides, padding, base_dilation=None, window_dilation=None):
    """Adds each window's ``source`` value onto the element of ``operand`` it selects.

    The transpose of ``select_and_gather_add``: the gradient of max (min) pooling.
    Where windows overlap, contributions accumulate; a window made only of padding
    contributes nothing.

    Args:
        source: an array shaped like the pooled output (the cotangent).
        operand: the pooled array, which decides the selection.
        select_prim: ``'max'`` or ``'min'``.
        window_dimensions, window_strides, padding, base_dilation, window_dilation:
            as in ``reduce_window``.
    Returns:
        An array shaped like ``operand``.

    Example:
        >>> x = np.array([1., 3., 3., 0.], np.float32)
        >>> select_and_scatter_add(np.ones(3, np.float32), x, 'max', (2,), (1,), 'VALID')
        array([0., 2., 1., 0.], dtype=float32)
    """
    params = _geometry("select_and_scatter_add", operand, window_dimensions, window_strides,
                       padding, base_dilation, window_dilation)
    return select_and_scatter_add_p.bind(source, operand, select_prim=select_prim, **params)


def _select_and_scatter_add_impl(source, operand, *, select_prim, **params):
    chosen = _select_positions(select_prim, operand, source.shape, params)
    frame_shape, place, crop = pad_frame(operand.shape, params["padding"], params["base_dilation"])
    index = _selected_index(chosen, frame_shape, crop, params)
    frame = np.zeros(frame_shape, source.dtype)
    # overlapping windows accumulate; what lands on padding (all-padding windows) is dropped
    disjoint = all(st >= wd for st, wd in zip(params["window_strides"],
                                               params["window_dimensions"], strict=True)) \
        and all(d == 1 for d in params["window_dilation"])
    # each element is selected at most once: plain fancy indexing, far faster than add.at
    if disjoint:
        frame.reshape(-1)[index.reshape(-1)] = source.reshape(-1)
    else:
        np.add.at(frame.reshape(-1), index.reshape(-1), source.reshape(-1))
    return frame if _is_plain(params["padding"], params["base_dilation"]) else frame[place].copy()


def _select_and_scatter_add_abstract(source, operand, *, select_prim, **params):
    op = "select_and_scatter_add"
    _check_select(op, select_prim, source, operand, "source")
    out_shape = _check_window(op, operand.shape, params)
    if source.shape != out_shape:
        raise ShapeError(f"{op}: source of shape {source.shape} must have the pooled shape "
                         f"{out_shape} of the operand of shape {operand.shape}")
    return ShapedArray(operand.shape, source.dtype, source.weak_type)


_def_selection_rules(select_and_scatter_add_p, _select_and_scatter_add_impl,
                     _select_and_scatter_add_abstract, "source", lambda: select_and_gather_add_p)


# ---------------------------------------------------------------------------
# reduce_window_sum / reduce_window_max / reduce_window_min

def _reduce_window_impl(kind: str, x, **params):
    out_shape = _out_shape(x.shape, **params)
    ufunc = {"sum": np.add, "max": np.maximum, "min": np.minimum}[kind]
    values = _padded(x, _identity(kind, x.dtype), params["padding"], params["base_dilation"])
    out = None
    for idx in _window_slices(out_shape, **params):
        out = values[idx].copy() if out is None else ufunc(out, values[idx], out=out)
    return out


def _reduce_window_abstract(kind: str, x, **params):
    op = f"reduce_window_{kind}"
    if kind == "sum" and x.dtype == np.bool_:
        raise DTypeError(f"{op}: cannot sum booleans ({x.str_short()}); cast to a number first")
    return ShapedArray(_check_window(op, x.shape, params), x.dtype, x.weak_type)


def _reduce_window_primitive(kind: str) -> Primitive:
    prim = Primitive(f"reduce_window_{kind}")
    impl_rules[prim] = lambda x, **params: _reduce_window_impl(kind, x, **params)
    abstract_eval_rules[prim] = lambda x, **params: _reduce_window_abstract(kind, x, **params)
    defwindowed_batching(prim)
    return prim


def _make_reduce_window(prim: Primitive, kind: str, example: str):
    def fn(operand, window_dimensions: Sequence[int], window_strides: Sequence[int],
           padding, base_dilation: Sequence[int] | None = None,
           window_dilation: Sequence[int] | None = None):
        params = _geometry(prim.name, operand, window_dimensions, window_strides, padding,
                           base_dilation, window_dilation)
        return prim.bind(operand, **params)

    fn.__name__ = fn.__qualname__ = prim.name
    fn.__doc__ = f"""The {kind} of each window of ``operand`` (max/sum/min pooling).

    ``reduce_window(operand, init, lax.{dict(sum='add').get(kind, kind)}, ...)`` with the
    identity as ``init`` binds this primitive.

    Args:
        operand: the array to pool.
        window_dimensions: the window size on every axis (1 for axes not pooled).
        window_strides: the step between windows on every axis.
        padding: ``'VALID'``, ``'SAME'``, ``'SAME_LOWER'`` or one ``(low, high)`` pair per
            axis; padding holds the identity, so it never wins or adds.
        base_dilation: holes inserted between operand elements (default all 1).
        window_dilation: spacing between window elements (default all 1).
    Returns:
        An array of the operand's dtype; per axis ``(padded - window_span) // stride + 1``.

    Example:
        >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
        >>> {prim.name}(x, (1, 1, 2, 2), (1, 1, 2, 2), 'VALID')[0, 0]
        {example}
    """
    return fn


reduce_window_sum_p = _reduce_window_primitive("sum")
reduce_window_sum = _make_reduce_window(
    reduce_window_sum_p, "sum", "array([[10., 18.],\n               [42., 50.]], dtype=float32)")


def _reduce_window_sum_transpose(ct, x, *, window_dimensions, window_strides, padding,
                                 base_dilation, window_dilation):
    # JAX's rule: spread the cotangent with (stride - 1) holes, pad it so every window
    # covering an operand position sees it, and sum windows with base_dilation as strides
    # (the window is all ones, so no flip is needed).
    aval = _abstract_aval(x)
    if 0 in aval.shape:
        return [full(aval.shape, 0, aval.dtype)]
    config = []
    for n, w, s, (lo, _), b, d, o in zip(aval.shape, window_dimensions, window_strides, padding,
                                         base_dilation, window_dilation, get_aval(ct).shape,
                                         strict=True):
        span = dilate_dim(w, d)
        before = span - lo - 1
        after = dilate_dim(n, b) + span - 1 - dilate_dim(o, s) - before
        config.append((before, after, s - 1))
    spread = pad(ct, np.zeros((), aval.dtype), config)
    ndim = len(aval.shape)
    return [reduce_window_sum(spread, window_dimensions, base_dilation, ((0, 0),) * ndim,
                              None, window_dilation)]


deflinear(reduce_window_sum_p, _reduce_window_sum_transpose)

reduce_window_max_p = _reduce_window_primitive("max")
reduce_window_max = _make_reduce_window(
    reduce_window_max_p, "max", "array([[ 5.,  7.],\n               [13., 15.]], dtype=float32)")
defjvp(reduce_window_max_p,
       lambda g, x, **params: select_and_gather_add_p.bind(g, x, select_prim="max", **params))

reduce_window_min_p = _reduce_window_primitive("min")
reduce_window_min = _make_reduce_window(
    reduce_window_min_p, "min", "array([[ 0.,  2.],\n               [ 8., 10.]], dtype=float32)")
defjvp(reduce_window_min_p,
       lambda g, x, **params: select_and_gather_add_p.bind(g, x, select_prim="min", **params))


# ---------------------------------------------------------------------------
# reduce_window: JAX's entry point

_MONOIDS = {
    add: ("sum", reduce_window_sum), add_p: ("sum", reduce_window_sum),
    max: ("max", reduce_window_max), max_p: ("max", reduce_window_max),
    min: ("min", reduce_window_min), min_p: ("min", reduce_window_min),
}


def reduce_window(operand, init_value, computation, window_dimensions: Sequence[int],
                  window_strides: Sequence[int] | None = None, padding="VALID",
                  base_dilation: Sequence[int] | None = None,
                  window_dilation: Sequence[int] | None = None):
    """Reduces every window of ``operand`` with ``computation`` (``lax.reduce_window``).

    Only the monoid reductions are supported: ``computation`` is ``lax.add``,
    ``lax.max`` or ``lax.min`` and ``init_value`` its identity (0, -inf or +inf;
    the dtype's min/max for integers). They bind ``reduce_window_sum``,
    ``reduce_window_max`` and ``reduce_window_min``.

    Difference from JAX: string padding is resolved on the *dilated* operand and
    window, so ``'SAME'`` keeps ``ceil(n / stride)`` outputs under dilation too
    (JAX ignores the dilations there); without dilation the two agree.

    Args:
        operand: the array to pool.
        init_value: the identity of ``computation`` (a concrete scalar).
        computation: ``lax.add``, ``lax.max`` or ``lax.min``.
        window_dimensions, window_strides: one entry per axis of ``operand`` (strides
            default to 1).
        padding: ``'VALID'`` (the default), ``'SAME'``, ``'SAME_LOWER'`` or ``(low, high)``
            pairs.
        base_dilation, window_dilation: one entry per axis (default all 1).
    Returns:
        The pooled array, of the operand's dtype.

    Example:
        >>> from functrace import lax
        >>> x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)  # NHWC
        >>> lax.reduce_window(x, -np.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), 'VALID')[0, ..., 0]
        array([[ 5.,  7.],
               [13., 15.]], dtype=float32)
    """
    if window_strides is None:
        window_strides = (1,) * len(window_dimensions)
    try:
        kind, fn = _MONOIDS[computation]
    except (KeyError, TypeError):
        name = getattr(computation, "__name__", repr(computation))
        raise TransformError(
            f"reduce_window: computation {name} is not supported; pass lax.add, lax.max or "
            "lax.min (sum, max and min pooling) with its identity as init_value") from None
    dtype = get_aval(operand).dtype
    identity = _identity(kind, dtype)
    init = concrete_or_none(init_value)
    if init is None or np.shape(init) != () or not bool(np.asarray(init) == identity):
        raise TransformError(
            f"reduce_window: init_value {init_value!r} is not the identity of "
            f"{kind} for a {dtype.name} operand; pass {identity.item()!r} (only the identity "
            "is supported: pad explicitly to reduce with another starting value)")
    return fn(operand, window_dimensions, window_strides, padding, base_dilation,
              window_dilation)
