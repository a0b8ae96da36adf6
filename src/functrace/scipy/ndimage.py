"""``functrace.scipy.ndimage`` (``jax.scipy.ndimage``): ``map_coordinates`` with nearest
(``order=0``) or linear (``order=1``) interpolation, as JAX supports.

Each output value is a weighted sum of gathers at the ``2^N`` (linear) or one (nearest)
neighbouring grid points, so it differentiates in ``input``, ``cval`` and (linear) the
coordinates, and batches and compiles. As JAX (which follows SciPy's documentation, not its
old implementation): ``'constant'`` is SciPy's ``'grid-constant'`` (``cval`` outside the
grid, interpolated towards it at the edges) and ``'wrap'`` is SciPy's ``'grid-wrap'``;
``'nearest'``, ``'mirror'`` and ``'reflect'`` are SciPy's.

Example:
    >>> import numpy as np
    >>> from functrace.scipy import ndimage
    >>> img = np.arange(12., dtype=np.float32).reshape(3, 4)
    >>> ndimage.map_coordinates(img, [np.array([0.5, 1.5]), np.array([1.5, 2.5])], order=1)
    array([3.5, 8.5], dtype=float32)
"""

from __future__ import annotations

import functools
import itertools
import operator

import numpy as np

from .. import lax
from .. import numpy as fnp
from ..core.trace import get_aval
from ..errors import FunctraceError, ShapeError
from ..numpy._promote import as_array

__all__ = ["map_coordinates"]


def _mirror(index, size: int):
    # a triangular wave of half-period size - 1: ... 2 1 [0 1 2 .. s-1] s-2 ...
    s = size - 1
    if s == 0:
        return index * 0
    return fnp.abs((index + s) % (2 * s) - s)


def _reflect(index, size: int):
    # the edge sample repeats: ... 1 0 [0 1 .. s-1] s-1 s-2 ...
    return fnp.floor_divide(_mirror(2 * index + 1, 2 * size + 1) - 1, 2)


_FIXERS = {
    "constant": lambda index, size: fnp.clip(index, 0, size - 1),  # masked to cval after
    "nearest": lambda index, size: fnp.clip(index, 0, size - 1),
    "wrap": lambda index, size: index % size,
    "mirror": _mirror,
    "reflect": _reflect,
}


def _nodes(coordinate, order: int):
    """``[(index, weight), ...]`` of the 1-D interpolation at ``coordinate``."""
    if order == 0:
        index = coordinate if get_aval(coordinate).dtype.kind in "iu" else lax.round(coordinate)
        return [(lax.convert_element_type(index, np.int32), None)]
    lower = fnp.floor(coordinate)
    upper_weight = coordinate - lower
    index = lax.convert_element_type(lower, np.int32)
    return [(index, 1 - upper_weight), (index + 1, upper_weight)]


def map_coordinates(input, coordinates, order: int, mode: str = "constant",  # noqa: A002
                    cval=0.0):
    """Values of N-d ``input`` at the points ``coordinates`` (a length-N sequence of arrays
    of one shape, the output's), by nearest (``order=0``, halves round away from zero) or
    linear (``order=1``) interpolation. ``mode`` ('constant', 'nearest', 'wrap', 'mirror',
    'reflect') extends ``input`` beyond its edges; ``cval`` fills for 'constant'.

    Example:
        >>> map_coordinates(np.array([1., 2., 3.], np.float32), [np.array([-1., 0.5, 2.])],
        ...                 order=1, mode="nearest")
        array([1. , 1.5, 3. ], dtype=float32)
    """
    x = as_array(input)
    shape = get_aval(x).shape
    if not isinstance(coordinates, list | tuple):  # an (N, ...) array: one row per axis
        arr = as_array(coordinates)
        coordinates = [arr[i] for i in range(get_aval(arr).shape[0] if get_aval(arr).shape
                                             else 0)]
    coords = [as_array(c) for c in coordinates]
    if len(coords) != len(shape):
        raise ShapeError(f"scipy.ndimage.map_coordinates: coordinates must be a sequence of "
                         f"length input.ndim, but {len(coords)} != {len(shape)}")
    fixer = _FIXERS.get(mode)
    if fixer is None:
        raise FunctraceError(f"scipy.ndimage.map_coordinates: mode {mode!r} is not supported; "
                             f"use one of {sorted(_FIXERS)}")
    if order not in (0, 1):
        raise FunctraceError(f"scipy.ndimage.map_coordinates: order must be 0 or 1 (as JAX), "
                             f"got {order!r}")
    dt = get_aval(x).dtype
    cval = lax.convert_element_type(as_array(cval), dt)
    per_axis = []
    for coordinate, size in zip(coords, shape, strict=True):
        nodes = []
        for index, weight in _nodes(coordinate, order):
            valid = (index >= 0) & (index < size) if mode == "constant" else None
            nodes.append((fixer(index, size), valid, weight))
        per_axis.append(nodes)
    terms = []
    for items in itertools.product(*per_axis):
        indices = tuple(i for i, _, _ in items)
        value = x[indices] if indices else x
        valids = [v for _, v, _ in items if v is not None]
        if valids:
            value = fnp.where(functools.reduce(operator.and_, valids), value, cval)
        weights = [w for _, _, w in items if w is not None]
        terms.append(functools.reduce(operator.mul, weights) * value if weights else value)
    result = functools.reduce(operator.add, terms)
    if dt.kind in "iub":
        result = lax.round(result) if get_aval(result).dtype.kind == "f" else result
    return lax.convert_element_type(result, dt)
