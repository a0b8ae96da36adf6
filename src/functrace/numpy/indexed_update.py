"""``x.at[idx]``: JAX's functional indexed updates, on ``lax.gather`` and the scatters.

``x.at[idx].set(y)`` is the value ``x[idx] = y`` would leave, as a new array;
``add``/``subtract``/``multiply``/``divide``/``power``/``min``/``max`` likewise,
with every update applied where indices repeat (``np.add.at``, not ``x[idx] += y``);
``apply(f)`` applies an elementwise ``f`` once per reference; ``get()`` reads.

The index is any NumPy index (ints, slices, ``None``, ``...``, integer arrays
broadcast together with NumPy's placement of the result axes, concrete boolean
masks, mixtures). It becomes one index vector per selected element, except for
trailing whole axes, which stay windows. Negative indices count from the end;
then ``mode`` decides what out-of-bounds indices do, as in JAX: by default
updates drop them and ``get`` clamps them (``'promise_in_bounds'``); ``'clip'``
clamps; ``'drop'``/``'fill'`` drop updates and make ``get`` return
``fill_value``.

``.at`` exists on traced values (inside ``grad``/``jit``/``vmap``) and on the
arrays functrace.numpy returns; a plain NumPy array gets it through
``fnp.asarray(x)`` (see ``docs/architecture.md``).
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import lax
from ..core.avals import default_int_dtype, result_type
from ..core.trace import Tracer, concrete_or_none, get_aval
from ..errors import ShapeError
from ._promote import _fmt, as_array, as_operand, broadcast_shapes, broadcast_to_shape
from .indexing import _EMPTY_ELLIPSIS, IndexingError, _expand, _is_advanced
from .math import power, true_divide

__all__ = ["IndexUpdateHelper", "IndexUpdateRef"]


class _Plan:
    """What an index selects: ``indices`` (one vector per selected window, over the
    first ``ndim - nwin`` axes), the result shape, and whether positions are unique."""

    def __init__(self, indices, shape: tuple[int, ...], nwin: int, ndim: int, unique: bool):
        self.indices, self.shape, self.nwin, self.ndim, self.unique = (
            indices, shape, nwin, ndim, unique)

    @property
    def gather_dnums(self):
        nb, k = len(self.shape) - self.nwin, self.ndim - self.nwin
        return lax.GatherDimensionNumbers(offset_dims=tuple(range(nb, nb + self.nwin)),
                                          collapsed_slice_dims=tuple(range(k)),
                                          start_index_map=tuple(range(k)))

    @property
    def scatter_dnums(self):
        nb, k = len(self.shape) - self.nwin, self.ndim - self.nwin
        return lax.ScatterDimensionNumbers(update_window_dims=tuple(range(nb, nb + self.nwin)),
                                           inserted_window_dims=tuple(range(k)),
                                           scatter_dims_to_operand_dims=tuple(range(k)))


def _wrap_negative(a, n: int):
    """Python's negative indices (``-1`` is the last); others are left for ``mode``."""
    if not isinstance(a, Tracer):
        a = np.asarray(a, np.int64)
        return np.where(a < 0, a + n, a)
    a = lax.convert_element_type(a, default_int_dtype())
    n_ = np.asarray(n, default_int_dtype())
    return lax.select(lax.lt(a, np.zeros((), default_int_dtype())), lax.add(a, n_), a)


def _plan(shape: tuple[int, ...], idx) -> _Plan:
    entries = _expand(idx, shape)
    advanced = any(_is_advanced(e) for e in entries)
    if advanced:  # integers join the advanced indices (broadcast and placement)
        entries = [("array", np.asarray(e)) if isinstance(e, int) else e for e in entries]
    adv = [k for k, e in enumerate(entries) if _is_advanced(e)]
    contiguous = adv == list(range(adv[0], adv[0] + len(adv))) if adv else True
    entries = [e for e in entries if e is not _EMPTY_ELLIPSIS]
    # trailing whole axes stay windows
    nwin = 0
    for e in reversed(entries):
        if not (isinstance(e, slice) and e == slice(None)):
            break
        nwin += 1
    nwin = min(nwin, len(shape))
    arrays = [_wrap_negative(e[1], shape[d]) for d, e in
              enumerate(e for e in entries if e is not None) if _is_advanced(e)]
    try:
        adv_shape = broadcast_shapes("index", *[get_aval(as_array(a)).shape for a in arrays])
    except ShapeError:
        raise IndexingError("shape mismatch: indexing arrays could not be broadcast together "
                            "with shapes " + " ".join(_fmt(get_aval(as_array(a)).shape)
                                                      for a in arrays)) from None
    # the result axes: one per slice or None, the advanced block where NumPy puts it
    axes: list = []  # ("basic", entry) or ("adv",)
    for k, e in enumerate(entries):
        if _is_advanced(e):
            if not any(a[0] == "adv" for a in axes):
                axes.insert(len(axes) if contiguous else 0, ("adv",))
            continue
        if e is None or isinstance(e, slice):
            axes.append(("basic", k))
    result: list[int] = []
    where: dict[int, int] = {}  # entry number -> its result axis
    adv_at = 0
    for a in axes:
        if a[0] == "adv":
            adv_at = len(result)
            result += list(adv_shape)
        else:
            e = entries[a[1]]
            where[a[1]] = len(result)
            result.append(1 if e is None else len(range(*e.indices(shape[_dim_of(entries,
                                                                                a[1])]))))
    nb = len(result) - nwin
    batch = tuple(result[:nb])
    columns, arr = [], iter(arrays)
    for k, e in enumerate(entries):
        if e is None:
            continue
        d = _dim_of(entries, k)
        if d >= len(shape) - nwin:
            break
        if isinstance(e, int):
            columns.append(_wrap_negative(e, shape[d]).reshape(()))
        elif isinstance(e, slice):
            start, _, step = e.indices(shape[d])
            line = start + step * np.arange(result[where[k]], dtype=np.int64)
            columns.append(line.reshape([-1 if i == where[k] else 1 for i in range(nb)]))
        else:
            a = next(arr)
            a_shape = get_aval(as_array(a)).shape
            lead = len(adv_shape) - len(a_shape)
            dims = tuple(adv_at + lead + i for i in range(len(a_shape)))
            columns.append((a, dims))
    indices = _stack_columns(columns, batch)
    unique = not advanced
    return _Plan(indices, tuple(result), nwin, len(shape), unique)


def _dim_of(entries, k: int) -> int:
    """The operand axis entry ``k`` indexes (``None`` entries index none)."""
    return sum(1 for e in entries[:k] if e is not None)


def _stack_columns(columns, batch):
    """The index vectors, ``batch + (len(columns),)``: NumPy when every column is
    known, else traced."""
    dtype = default_int_dtype()
    nb = len(batch)
    if not any(isinstance(c, tuple) and isinstance(c[0], Tracer) for c in columns):
        parts = []
        for c in columns:
            if isinstance(c, tuple):
                a, dims = c
                c = np.asarray(a).reshape([np.shape(a)[dims.index(i)] if i in dims else 1
                                           for i in range(nb)])
            parts.append(np.broadcast_to(c, batch)[..., None])
        if not parts:
            return np.zeros(batch + (0,), dtype)
        info = np.iinfo(dtype)  # indices beyond the dtype stay out of bounds when clipped
        return np.clip(np.concatenate(parts, axis=-1), info.min, info.max).astype(dtype)
    parts = []
    for c in columns:
        if isinstance(c, tuple):
            a, dims = c
            a = lax.convert_element_type(as_array(a), dtype)
        else:
            a, dims = np.broadcast_to(np.asarray(c, dtype), batch), tuple(range(nb))
        parts.append(lax.broadcast_in_dim(a, batch + (1,), dims))
    return lax.concatenate(parts, nb) if len(parts) > 1 else parts[0]


# ---------------------------------------------------------------------------
# the public helper objects

_SCATTERS = {"set": lax.scatter, "add": lax.scatter_add, "subtract": lax.scatter_sub,
             "multiply": lax.scatter_mul,
             "min": lax.scatter_min, "max": lax.scatter_max}


def _most_repeats(plan: _Plan, shape, hits, mode) -> int:
    """How often the most repeated position is hit: from the index values when they are
    known (NumPy index arrays are, even under jit), else the number of index vectors."""
    known = concrete_or_none(hits)
    if known is not None:
        return int(known.max())
    if isinstance(plan.indices, Tracer):
        return int(np.prod(plan.shape[:len(plan.shape) - plan.nwin]))
    rows = plan.indices.reshape(-1, plan.indices.shape[-1]).astype(np.int64)
    bounds = np.asarray(shape[:rows.shape[1]], np.int64)
    if lax.GatherScatterMode.from_any(mode) is lax.GatherScatterMode.CLIP:
        rows = np.clip(rows, 0, bounds - 1)
    else:
        rows = rows[((rows >= 0) & (rows < bounds)).all(axis=1)]
    if not len(rows):
        return 0
    return int(np.unique(rows, axis=0, return_counts=True)[1].max())


class IndexUpdateHelper:
    """``x.at``: index it (``x.at[idx]``) to get an ``IndexUpdateRef``."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __getitem__(self, index) -> IndexUpdateRef:
        return IndexUpdateRef(self.array, index)

    def __repr__(self) -> str:
        return f"_IndexUpdateHelper({self.array!r})"


class IndexUpdateRef:
    """``x.at[idx]``: the pure forms of ``x[idx] op= y`` (JAX's ``_IndexUpdateRef``).

    Example:
        >>> import functrace.numpy as fnp
        >>> x = fnp.zeros(5)
        >>> x.at[fnp.asarray([1, 1, 3])].add(1.0)
        array([0., 2., 0., 1., 0.], dtype=float32)
        >>> x.at[-1].set(7.0)
        array([0., 0., 0., 0., 7.], dtype=float32)
        >>> x.at[9].set(7.0)  # out of bounds: dropped
        array([0., 0., 0., 0., 0.], dtype=float32)
        >>> fnp.arange(4).at[9].get(mode="fill", fill_value=-1)
        array(-1, dtype=int32)
    """

    __slots__ = ("array", "index")

    def __init__(self, array, index):
        self.array, self.index = array, index

    def __repr__(self) -> str:
        return f"_IndexUpdateRef({self.array!r}, {self.index!r})"

    def get(self, *, indices_are_sorted=False, unique_indices=False, mode=None,
            fill_value=None):
        """``x[idx]``; out-of-bounds indices clamp (default) or read ``fill_value``."""
        x = as_array(self.array)
        plan = _plan(get_aval(x).shape, self.index)
        shape = get_aval(x).shape
        k = plan.ndim - plan.nwin
        return lax.gather(x, plan.indices, plan.gather_dnums, (1,) * k + shape[k:],
                          unique_indices=unique_indices or plan.unique,
                          indices_are_sorted=indices_are_sorted, mode=mode,
                          fill_value=fill_value)

    def _scatter(self, op: str, values, indices_are_sorted, unique_indices, mode, x=None):
        x = as_array(self.array if x is None else x)
        x_aval = get_aval(x)
        plan = _plan(x_aval.shape, self.index)
        if 0 in plan.shape:
            return x
        y = as_operand(values)
        dtype, _ = result_type(x_aval, get_aval(y))
        if dtype != x_aval.dtype:
            warnings.warn(f"scatter inputs have incompatible types: cannot safely cast value "
                          f"from dtype={get_aval(y).dtype} to dtype={x_aval.dtype}. In future "
                          "JAX releases this will result in an error.", FutureWarning,
                          stacklevel=3)
        xp = lax.convert_element_type(x, dtype) if dtype != x_aval.dtype else x
        y = broadcast_to_shape(lax.convert_element_type(as_array(y), dtype), plan.shape,
                               f"at[].{op}")
        out = _SCATTERS[op](xp, plan.indices, y, plan.scatter_dnums,
                            indices_are_sorted=indices_are_sorted,
                            unique_indices=unique_indices or plan.unique, mode=mode)
        return lax.convert_element_type(out, x_aval.dtype) if dtype != x_aval.dtype else out

    def set(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x[idx] = values``; out-of-bounds updates are dropped unless ``mode='clip'``."""
        return self._scatter("set", values, indices_are_sorted, unique_indices, mode)

    def add(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x[idx] += values``, every repeated index adding."""
        return self._scatter("add", values, indices_are_sorted, unique_indices, mode)

    def subtract(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x[idx] -= values``, every repeated index subtracting."""
        return self._scatter("subtract", values, indices_are_sorted, unique_indices, mode)

    def multiply(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x[idx] *= values``, every repeated index multiplying."""
        return self._scatter("multiply", values, indices_are_sorted, unique_indices, mode)

    mul = multiply

    def divide(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x[idx] /= values``: ``x`` divided by the scattered product of ``values``."""
        return true_divide(self.array, self._factor(values, indices_are_sorted,
                                                              unique_indices, mode))

    def power(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x[idx] **= values``: ``x`` raised to the scattered product of ``values``."""
        return power(self.array, self._factor(values, indices_are_sorted,
                                                        unique_indices, mode))

    def _factor(self, values, indices_are_sorted, unique_indices, mode):
        ones = lax.full_like(as_array(self.array), 1)
        return self._scatter("multiply", values, indices_are_sorted, unique_indices, mode,
                             x=ones)

    def min(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x[idx] = minimum(x[idx], values)``, over every repeated index."""
        return self._scatter("min", values, indices_are_sorted, unique_indices, mode)

    def max(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x[idx] = maximum(x[idx], values)``, over every repeated index."""
        return self._scatter("max", values, indices_are_sorted, unique_indices, mode)

    def apply(self, func, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``func`` applied at ``idx`` once per reference (``ufunc.at``); JAX's
        ``scatter_apply``. ``func`` must act elementwise: it is applied to the whole
        array and selected, once per repeat of the most repeated index (known from
        concrete indices; with traced indices, up to once per index)."""
        x = as_array(self.array)
        x_aval = get_aval(x)
        plan = _plan(x_aval.shape, self.index)
        if 0 in plan.shape:
            return x
        count_dtype = np.int32
        hits = lax.scatter_add(np.zeros(x_aval.shape, count_dtype), plan.indices,
                               np.ones(plan.shape, count_dtype), plan.scatter_dnums,
                               unique_indices=unique_indices or plan.unique, mode=mode)
        if unique_indices or plan.unique:
            rounds = 1
        else:  # repeated indices apply func repeatedly: as often as the most repeated one
            rounds = _most_repeats(plan, x_aval.shape, hits, mode)
        out = x
        for r in range(rounds):
            applied = lax.convert_element_type(as_array(func(out)), x_aval.dtype)
            out = lax.select(lax.gt(hits, np.asarray(r, count_dtype)), applied, out)
        return out

