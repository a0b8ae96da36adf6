"""XLA-style ``gather`` and the ``scatter`` family, with JAX's signatures and semantics.

``gather`` reads one window of ``operand`` per index vector of ``start_indices``;
``scatter``/``scatter_add``/``scatter_sub``/``scatter_mul``/``scatter_min``/``scatter_max`` combine
one window of ``updates`` per index vector into ``operand``. The index vector is
always the last axis of the indices (JAX's implicit ``index_vector_dim``).
``GatherDimensionNumbers``/``ScatterDimensionNumbers`` say how the axes relate,
including JAX's ``operand_batching_dims``, which the batching rules use.

Out-of-bounds windows follow ``GatherScatterMode``: ``CLIP`` clamps the start so
the whole window is in bounds; ``FILL_OR_DROP`` fills a gathered window with
``fill_value`` and drops a scattered one; ``PROMISE_IN_BOUNDS`` (``lax.gather``'s
default) clamps gathers and drops scatters, as XLA does in practice. The scatters'
default (``mode=None``) is ``FILL_OR_DROP``, as in JAX.

The reference impls, shape rules and parameter types are in
``_gather_scatter_impl.py``; every transformation rule is here.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import numpy as np

from ..core.avals import ShapedArray, is_python_scalar
from ..core.trace import Primitive, abstract_eval_rules, concrete_or_none, get_aval, impl_rules
from ..errors import DTypeError, MissingRuleError, ShapeError
from ..transforms.ad import (
    Zero,
    add_tangents,
    instantiate_zeros,
    is_undefined_primal,
    jvp_rules,
    tangent_aval,
    transpose_rules,
)
from ..transforms.batching import axis_size, batching_rules, bdim_at_front, moveaxis, not_mapped
from ._gather_scatter_impl import (
    GatherDimensionNumbers,
    GatherScatterMode,
    ScatterDimensionNumbers,
    _default_fill,
    _gather_abstract,
    _gather_impl,
    _scatter_abstract,
    _scatter_impl,
    _scatter_positions,
    _tuples,
)
from .creation import broadcasted_iota, full
from .elementwise import add, div, eq, mul, neg, select
from .shape_ops import convert_element_type

__all__ = [
    "GatherDimensionNumbers", "GatherScatterMode", "ScatterDimensionNumbers", "gather",
    "gather_p", "scatter", "scatter_add", "scatter_add_p", "scatter_max", "scatter_max_p",
    "scatter_min", "scatter_min_p", "scatter_mul", "scatter_mul_p", "scatter_p",
    "scatter_sub", "scatter_sub_p",
]


# ---------------------------------------------------------------------------
# the dimension numbers of each one's transpose

def _scatter_dnums_of(dn: GatherDimensionNumbers) -> ScatterDimensionNumbers:
    return ScatterDimensionNumbers(dn.offset_dims, dn.collapsed_slice_dims, dn.start_index_map,
                                   dn.operand_batching_dims, dn.start_indices_batching_dims)


def _gather_dnums_of(dn: ScatterDimensionNumbers) -> GatherDimensionNumbers:
    return GatherDimensionNumbers(dn.update_window_dims, dn.inserted_window_dims,
                                  dn.scatter_dims_to_operand_dims, dn.operand_batching_dims,
                                  dn.scatter_indices_batching_dims)


def _window_sizes(x_shape, updates_shape, dn: ScatterDimensionNumbers) -> tuple[int, ...]:
    sizes = [1] * len(x_shape)
    window_dims = [d for d in range(len(x_shape)) if d not in dn.inserted_window_dims
                   and d not in dn.operand_batching_dims]
    for d, a in zip(window_dims, dn.update_window_dims, strict=True):
        sizes[d] = updates_shape[a]
    return tuple(sizes)


def _zeros(aval: ShapedArray):
    return full(aval.shape, 0, aval.dtype)


def _aval(x) -> ShapedArray:
    return x.aval if is_undefined_primal(x) else get_aval(x)


# ---------------------------------------------------------------------------
# gather

gather_p = Primitive("gather", impl_fallback=True)


def gather(operand, start_indices, dimension_numbers: GatherDimensionNumbers,
           slice_sizes: Sequence[int], *, unique_indices: bool = False,
           indices_are_sorted: bool = False, mode=None, fill_value=None):
    """XLA's gather (``lax.gather``): one ``slice_sizes`` window of ``operand`` per index
    vector (the last axis of ``start_indices``).

    ``mode=None`` means ``PROMISE_IN_BOUNDS`` here (out-of-bounds windows are clamped);
    with ``'fill'`` they read ``fill_value`` (default NaN, the most negative or largest
    integer, or True). NumPy-style indexing and ``x.at[idx].get()`` are built on it.

    Example:
        >>> x = np.array([10, 11, 12], np.int32)
        >>> dn = GatherDimensionNumbers(offset_dims=(), collapsed_slice_dims=(0,),
        ...                             start_index_map=(0,))
        >>> gather(x, np.array([[2], [0], [2]]), dn, (1,))
        array([12, 10, 12], dtype=int32)
    """
    mode = GatherScatterMode.PROMISE_IN_BOUNDS if mode is None else (
        GatherScatterMode.from_any(mode))
    if mode is GatherScatterMode.FILL_OR_DROP:
        if fill_value is None:
            fill_value = _default_fill(get_aval(operand).dtype)
        else:
            value = concrete_or_none(fill_value)
            if value is None or np.ndim(value):
                raise ShapeError("gather: fill_value must be a static scalar, not a traced or "
                                 "array value")
            fill_value = value.item()
    else:
        fill_value = None
    return gather_p.bind(operand, start_indices,
                         dimension_numbers=_tuples(dimension_numbers, GatherDimensionNumbers),
                         slice_sizes=tuple(int(k) for k in slice_sizes),
                         unique_indices=bool(unique_indices),
                         indices_are_sorted=bool(indices_are_sorted), mode=mode,
                         fill_value=fill_value)


def _gather_jvp(primals, tangents, **params):
    x, indices = primals
    out = gather_p.bind(x, indices, **params)
    if isinstance(tangents[0], Zero):
        return out, Zero(tangent_aval(get_aval(out)))
    tparams = dict(params, fill_value=0 if params["fill_value"] is not None else None)
    return out, gather_p.bind(tangents[0], indices, **tparams)


def _gather_transpose(ct, x, indices, *, dimension_numbers, slice_sizes, mode, fill_value,
                      unique_indices, indices_are_sorted):
    if is_undefined_primal(indices):
        raise DTypeError("gather: cannot transpose with respect to the integer indices")
    if isinstance(ct, Zero):
        return [None, None]
    out = scatter_add_p.bind(_zeros(x.aval), indices, ct,
                             dimension_numbers=_scatter_dnums_of(dimension_numbers),
                             mode=mode, unique_indices=unique_indices,
                             indices_are_sorted=indices_are_sorted)
    return [out, None]


def _gather_batch(args, dims, *, dimension_numbers, slice_sizes, **params):
    (x, indices), (xd, id_) = args, dims
    dn = dimension_numbers
    inc = lambda ds: tuple(d + 1 for d in ds)  # noqa: E731
    if id_ is not_mapped:  # the batch axis is one more (whole) window axis, first
        dn = GatherDimensionNumbers((0,) + inc(dn.offset_dims), inc(dn.collapsed_slice_dims),
                                    inc(dn.start_index_map), inc(dn.operand_batching_dims),
                                    dn.start_indices_batching_dims)
        x = moveaxis(x, xd, 0)
        sizes = (get_aval(x).shape[0],) + tuple(slice_sizes)
    elif xd is not_mapped:  # one more indices batch axis, first in the output
        dn = GatherDimensionNumbers(inc(dn.offset_dims), dn.collapsed_slice_dims,
                                    dn.start_index_map, dn.operand_batching_dims,
                                    inc(dn.start_indices_batching_dims))
        indices, sizes = moveaxis(indices, id_, 0), tuple(slice_sizes)
    else:  # example b reads operand b: a batching dim pair
        dn = GatherDimensionNumbers(inc(dn.offset_dims), inc(dn.collapsed_slice_dims),
                                    inc(dn.start_index_map),
                                    (0,) + inc(dn.operand_batching_dims),
                                    (0,) + inc(dn.start_indices_batching_dims))
        x, indices = moveaxis(x, xd, 0), moveaxis(indices, id_, 0)
        sizes = (1,) + tuple(slice_sizes)
    return gather_p.bind(x, indices, dimension_numbers=dn, slice_sizes=sizes, **params), 0


impl_rules[gather_p] = _gather_impl
abstract_eval_rules[gather_p] = _gather_abstract
jvp_rules[gather_p] = _gather_jvp
transpose_rules[gather_p] = _gather_transpose
batching_rules[gather_p] = _gather_batch


# ---------------------------------------------------------------------------
# the scatter family: one factory for the primitives, one block of rules each

def _scatter_bind(prim, operand, scatter_indices, updates, dimension_numbers, *,
                  indices_are_sorted=False, unique_indices=False, mode=None):
    if is_python_scalar(updates):  # weakly typed: takes the operand's dtype
        updates = np.asarray(updates, get_aval(operand).dtype)
    return prim.bind(operand, scatter_indices, updates,
                     dimension_numbers=_tuples(dimension_numbers, ScatterDimensionNumbers),
                     indices_are_sorted=bool(indices_are_sorted),
                     unique_indices=bool(unique_indices), mode=GatherScatterMode.from_any(mode))


def _make_scatter(name: str, doc: str):
    prim = Primitive(name, impl_fallback=True)
    impl_rules[prim] = partial(_scatter_impl, name)
    abstract_eval_rules[prim] = partial(_scatter_abstract, name)

    def bind(operand, scatter_indices, updates, dimension_numbers, *,
             indices_are_sorted=False, unique_indices=False, mode=None):
        return _scatter_bind(prim, operand, scatter_indices, updates, dimension_numbers,
                             indices_are_sorted=indices_are_sorted,
                             unique_indices=unique_indices, mode=mode)
    bind.__doc__ = doc
    bind.__name__ = bind.__qualname__ = name.replace("-", "_")
    return prim, bind


scatter_p, scatter = _make_scatter("scatter", """XLA's scatter with replacement
    (``lax.scatter``): ``operand`` with one window of ``updates`` written per index
    vector of ``scatter_indices``. Where windows overlap, the last update in index
    order wins (JAX leaves the order unspecified). ``mode=None`` drops
    out-of-bounds windows (``FILL_OR_DROP``).

    Example:
        >>> dn = ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
        ...                              scatter_dims_to_operand_dims=(0,))
        >>> scatter(np.zeros(4, np.float32), np.array([[1], [3], [7]]),
        ...         np.array([5., 6., 7.], np.float32), dn)
        array([0., 5., 0., 6.], dtype=float32)
    """)
scatter_add_p, scatter_add = _make_scatter("scatter-add", """XLA's scatter with addition
    (``lax.scatter_add``): duplicate indices accumulate. ``mode=None`` drops
    out-of-bounds windows.

    Example:
        >>> dn = ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
        ...                              scatter_dims_to_operand_dims=(0,))
        >>> scatter_add(np.zeros(3, np.float32), np.array([[1], [1], [2]]),
        ...             np.array([1., 2., 3.], np.float32), dn)
        array([0., 3., 3.], dtype=float32)
    """)
scatter_sub_p, scatter_sub = _make_scatter("scatter-sub", """XLA's scatter with
    subtraction (``lax.scatter_sub``): each update is subtracted from the operand at
    its index; duplicate indices each subtract. ``mode=None`` drops out-of-bounds
    windows. ``x.at[idx].subtract(y)`` is built on it.

    Example:
        >>> dn = ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
        ...                              scatter_dims_to_operand_dims=(0,))
        >>> scatter_sub(np.ones(3, np.float32), np.array([[1], [1], [2]]),
        ...             np.array([1., 2., 3.], np.float32), dn)
        array([ 1., -2., -2.], dtype=float32)
    """)
scatter_mul_p, scatter_mul = _make_scatter("scatter-mul", """XLA's scatter with
    multiplication (``lax.scatter_mul``). The derivative with respect to ``updates``
    needs indices known to be unique (``unique_indices=True``, or concrete indices
    that are), as in JAX.

    Example:
        >>> dn = ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
        ...                              scatter_dims_to_operand_dims=(0,))
        >>> scatter_mul(np.ones(3, np.float32), np.array([[0], [0]]),
        ...             np.array([2., 3.], np.float32), dn)
        array([6., 1., 1.], dtype=float32)
    """)
scatter_min_p, scatter_min = _make_scatter("scatter-min", """XLA's scatter with minimum
    (``lax.scatter_min``). Ties share the derivative equally, as in JAX.

    Example:
        >>> dn = ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
        ...                              scatter_dims_to_operand_dims=(0,))
        >>> scatter_min(np.full(3, 5., np.float32), np.array([[0], [0], [2]]),
        ...             np.array([7., 1., 9.], np.float32), dn)
        array([1., 5., 5.], dtype=float32)
    """)
scatter_max_p, scatter_max = _make_scatter("scatter-max", """XLA's scatter with maximum
    (``lax.scatter_max``). Ties share the derivative equally, as in JAX.

    Example:
        >>> dn = ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
        ...                              scatter_dims_to_operand_dims=(0,))
        >>> scatter_max(np.zeros(3, np.float32), np.array([[2], [2]]),
        ...             np.array([4., -1.], np.float32), dn)
        array([0., 0., 4.], dtype=float32)
    """)
SCATTER_PRIMITIVES = (scatter_p, scatter_add_p, scatter_sub_p, scatter_mul_p, scatter_min_p,
                      scatter_max_p)


def _gather_back(ct, indices, updates_aval, x_shape, params):
    """The updates-shaped windows of ``ct`` that a scatter with ``params`` wrote."""
    dn = params["dimension_numbers"]
    mode = params["mode"]
    return gather_p.bind(ct, indices, dimension_numbers=_gather_dnums_of(dn),
                         slice_sizes=_window_sizes(x_shape, updates_aval.shape, dn),
                         mode=mode,
                         fill_value=0 if mode is GatherScatterMode.FILL_OR_DROP else None,
                         unique_indices=params["unique_indices"],
                         indices_are_sorted=params["indices_are_sorted"])


def _no_index_ct(op: str, indices):
    if is_undefined_primal(indices):
        raise DTypeError(f"{op}: cannot transpose with respect to the integer indices")


# scatter-add and scatter-sub: linear in (operand, updates)

def _linear_scatter_rules(prim, name: str, negate: bool) -> None:
    """JVP and transpose of scatter-add / scatter-sub, linear in (operand, updates); the
    updates' cotangent is the gathered output cotangent (negated for scatter-sub)."""
    def jvp(primals, tangents, **params):
        x, indices, updates = primals
        out = prim.bind(x, indices, updates, **params)
        t_x, _, t_u = tangents
        if isinstance(t_x, Zero) and isinstance(t_u, Zero):
            return out, Zero(tangent_aval(get_aval(out)))
        return out, prim.bind(instantiate_zeros(t_x), indices, instantiate_zeros(t_u),
                              **params)

    def transpose(ct, x, indices, updates, **params):
        _no_index_ct(name, indices)
        if isinstance(ct, Zero):
            return [None, None, None]
        ct_x = ct if is_undefined_primal(x) else None
        ct_u = None
        if is_undefined_primal(updates):
            ct_u = _gather_back(ct, indices, updates.aval, _aval(x).shape, params)
            ct_u = neg(ct_u) if negate else ct_u
        return [ct_x, None, ct_u]

    jvp_rules[prim] = jvp
    transpose_rules[prim] = transpose


_linear_scatter_rules(scatter_add_p, "scatter-add", negate=False)
_linear_scatter_rules(scatter_sub_p, "scatter-sub", negate=True)


# scatter (replace): linear in (operand, updates) for one choice of winners


def _update_ids(updates_aval, dn):
    """1, 2, ... per scatter position of the updates, broadcast over the window axes."""
    scatter_axes = [a for a in range(updates_aval.ndim) if a not in dn.update_window_dims]
    ids = None
    for a in scatter_axes:  # a row-major counter over the scatter axes
        n = updates_aval.shape[a]
        term = broadcasted_iota(np.int32, updates_aval.shape, a)
        ids = term if ids is None else add(mul(ids, np.int32(n)), term)
    if ids is None:
        ids = full(updates_aval.shape, 0, np.int32)
    return add(ids, np.int32(1))


def _scatter_jvp(primals, tangents, **params):
    x, indices, updates = primals
    out = scatter_p.bind(x, indices, updates, **params)
    t_x, _, t_u = tangents
    if isinstance(t_x, Zero) and isinstance(t_u, Zero):
        return out, Zero(tangent_aval(get_aval(out)))
    t_x, t_u = instantiate_zeros(t_x), instantiate_zeros(t_u)
    if params["unique_indices"]:
        return out, scatter_p.bind(t_x, indices, t_u, **params)
    # with duplicates, find which update won each position (the same scatter decides),
    # then the tangent is a selection and a scatter-add, both transposable
    u_aval, dn = get_aval(updates), params["dimension_numbers"]
    ids = _update_ids(u_aval, dn)
    won = scatter_p.bind(full(get_aval(x).shape, 0, np.int32), indices, ids, **params)
    winner = _gather_back(won, indices, ShapedArray(u_aval.shape, np.int32),
                          get_aval(x).shape, params)
    kept_x = select(eq(won, np.int32(0)), t_x, _zeros(get_aval(t_x)))
    kept_u = select(eq(winner, ids), t_u, _zeros(get_aval(t_u)))
    return out, scatter_add_p.bind(kept_x, indices, kept_u, **params)


def _scatter_transpose(ct, x, indices, updates, **params):
    _no_index_ct("scatter", indices)
    if not params["unique_indices"]:
        raise MissingRuleError("scatter: the transpose is only defined for unique indices "
                               "(unique_indices=True); differentiate through the JVP instead")
    if isinstance(ct, Zero):
        return [None, None, None]
    u_aval = _aval(updates)
    ct_x = ct_u = None
    if is_undefined_primal(x):
        ct_x = scatter_p.bind(ct, indices, _zeros(u_aval), **params)
    if is_undefined_primal(updates):
        ct_u = _gather_back(ct, indices, u_aval, _aval(x).shape, params)
    return [ct_x, None, ct_u]


jvp_rules[scatter_p] = _scatter_jvp
transpose_rules[scatter_p] = _scatter_transpose


# scatter-mul: linear in the operand; in the updates only with unique indices


def _known_unique(x_shape, indices, updates_aval, params) -> bool:
    if params["unique_indices"]:
        return True
    idx = concrete_or_none(indices)
    if idx is None:
        return False
    flat, _ = _scatter_positions(x_shape, idx, np.zeros(updates_aval.shape, np.int8),
                                 params["dimension_numbers"], params["mode"])
    return len(np.unique(flat)) == len(flat)


def _scatter_mul_jvp(primals, tangents, **params):
    x, indices, updates = primals
    out = scatter_mul_p.bind(x, indices, updates, **params)
    t_x, _, t_u = tangents
    t_out = Zero(tangent_aval(get_aval(out)))
    if not isinstance(t_x, Zero):
        t_out = scatter_mul_p.bind(t_x, indices, updates, **params)
    if not isinstance(t_u, Zero):
        u_aval = get_aval(updates)
        if not _known_unique(get_aval(x).shape, indices, u_aval, params):
            raise MissingRuleError(
                "scatter_mul: the derivative with respect to the updates is only implemented "
                "for unique indices, as in JAX; pass unique_indices=True if they are unique")
        placed = scatter_p.bind(_zeros(get_aval(x)), indices, t_u,
                                **dict(params, unique_indices=True))
        t_out = add_tangents(t_out, mul(x, placed))
    return out, t_out


def _scatter_mul_transpose(ct, x, indices, updates, **params):
    _no_index_ct("scatter-mul", indices)
    if is_undefined_primal(updates):
        raise MissingRuleError("scatter_mul: not linear in the updates; transpose with respect "
                               "to the operand only")
    if isinstance(ct, Zero):
        return [None, None, None]
    return [scatter_mul_p.bind(ct, indices, updates, **params), None, None]


jvp_rules[scatter_mul_p] = _scatter_mul_jvp
transpose_rules[scatter_mul_p] = _scatter_mul_transpose


# scatter-min / scatter-max: the tangent of each output is the mean tangent of the
# sources (operand and updates) that attain it


def _scatter_extremum_jvp(prim, primals, tangents, **params):
    x, indices, updates = primals
    out = prim.bind(x, indices, updates, **params)
    t_x, _, t_u = tangents
    if isinstance(t_x, Zero) and isinstance(t_u, Zero):
        return out, Zero(tangent_aval(get_aval(out)))
    t_x, t_u = instantiate_zeros(t_x), instantiate_zeros(t_u)
    x_aval, u_aval = get_aval(x), get_aval(updates)
    dtype = x_aval.dtype
    seen = _gather_back(out, indices, u_aval, x_aval.shape, params)
    u_wins = convert_element_type(eq(updates, seen), dtype)
    x_wins = convert_element_type(eq(x, out), dtype)
    count = scatter_add_p.bind(x_wins, indices, u_wins, **params)
    total = scatter_add_p.bind(mul(x_wins, t_x), indices, mul(u_wins, t_u), **params)
    return out, div(total, count)


for _prim in (scatter_min_p, scatter_max_p):
    jvp_rules[_prim] = partial(_scatter_extremum_jvp, _prim)


# batching: the batch axis becomes a window axis (indices unbatched) or a batching
# dim pair (indices batched); operand and updates are batched together


def _scatter_batch(prim, args, dims, *, dimension_numbers, **params):
    (x, indices, updates), (xd, id_, ud) = args, dims
    size = axis_size(args, dims)
    dn = dimension_numbers
    inc = lambda ds: tuple(d + 1 for d in ds)  # noqa: E731
    x, updates = bdim_at_front(x, xd, size), bdim_at_front(updates, ud, size)
    if id_ is not_mapped:
        dn = ScatterDimensionNumbers((0,) + inc(dn.update_window_dims),
                                     inc(dn.inserted_window_dims),
                                     inc(dn.scatter_dims_to_operand_dims),
                                     inc(dn.operand_batching_dims),
                                     dn.scatter_indices_batching_dims)
    else:
        indices = moveaxis(indices, id_, 0)
        dn = ScatterDimensionNumbers(inc(dn.update_window_dims), inc(dn.inserted_window_dims),
                                     inc(dn.scatter_dims_to_operand_dims),
                                     (0,) + inc(dn.operand_batching_dims),
                                     (0,) + inc(dn.scatter_indices_batching_dims))
    return prim.bind(x, indices, updates, dimension_numbers=dn, **params), 0


for _prim in SCATTER_PRIMITIVES:
    batching_rules[_prim] = partial(_scatter_batch, _prim)
del _prim

