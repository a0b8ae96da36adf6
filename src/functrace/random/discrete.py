"""Discrete distributions: ``bernoulli``, ``randint``, ``permutation``, ``choice``,
``categorical``, with JAX's algorithms (``jax._src.random``).

Sorting by random keys uses ``lax.stable_argsort`` where JAX uses the stable
``lax.sort_key_val``: the same permutation.
"""

from __future__ import annotations

import math

import numpy as np

from .. import lax
from .. import numpy as fnp
from ..core.avals import canonicalize_dtype, default_float_dtype, default_int_dtype, is_int
from ..core.trace import get_aval
from ..errors import DTypeError, ShapeError, no_sharding
from .continuous import gumbel, uniform
from .prng import UINT_DTYPES, canonical_shape, check_key, check_shape, random_bits, split


def bernoulli(key, p=0.5, shape=None, mode: str = "low", *, out_sharding=None):
    """Random booleans, True with probability ``p`` (``jax.random.bernoulli``).

    Args:
        key: a PRNG key.
        p: the probability of True, a float scalar or array (a Python float gives
            float32 draws, float64 with x64).
        shape: the result shape; by default ``p``'s shape.
        mode: ``"low"`` (one uniform per draw: in float32, ``p`` below about 1e-7 is
            sampled with bias) or ``"high"`` (two uniforms, ``u2 * 2**-nmant < p - u1``:
            unbiased down to about 1e-14, twice the cost), JAX's algorithms.
        out_sharding: must be None.
    Returns:
        A boolean array.

    Example:
        >>> from functrace.random import PRNGKey
        >>> bernoulli(PRNGKey(0), 0.3, (4,)).dtype
        dtype('bool')
    """
    if mode not in ("high", "low"):
        raise ValueError(f"random.bernoulli: got mode={mode!r}, expected 'high' or 'low'")
    no_sharding("random.bernoulli", out_sharding=out_sharding)
    key = check_key("bernoulli", key)
    dtype = canonicalize_dtype(get_aval(p).dtype)
    if not np.issubdtype(dtype, np.floating):
        raise DTypeError(f"random.bernoulli: the probability p must have a floating dtype, got "
                         f"{dtype.name}")
    p = lax.convert_element_type(p, dtype)
    p_shape = get_aval(p).shape
    shape = p_shape if shape is None else check_shape("bernoulli", shape, p_shape)
    if mode == "high":
        both = uniform(key, (2, *shape), dtype)
        u1, u2 = both[0], both[1]
        u2 = fnp.multiply(u2, np.asarray(2.0 ** -np.finfo(dtype).nmant, dtype))
        return fnp.less(u2, fnp.subtract(p, u1))
    return fnp.less(uniform(key, shape, dtype), p)


# ---------------------------------------------------------------------------
# randint

def _as_int_array(x):
    x = fnp.asarray(x)
    return x if is_int(get_aval(x).dtype) else fnp.astype(x, default_int_dtype())


def _convert_and_clip(x, dtype):
    """``x`` (integers) converted to ``dtype``, clipped to its range instead of wrapping."""
    src, dst = np.iinfo(get_aval(x).dtype), np.iinfo(dtype)
    lo, hi = max(src.min, dst.min), min(src.max, dst.max)
    src_dtype = get_aval(x).dtype
    clipped = fnp.clip(x, np.array(lo, src_dtype), np.array(hi, src_dtype))
    return lax.convert_element_type(clipped, dtype)


def randint(key, shape, minval, maxval, dtype=int, *, out_sharding=None):
    """Random integers in ``[minval, maxval)`` (``jax.random.randint``).

    As in JAX, where ``maxval <= minval`` the result is ``minval``, bounds outside the
    dtype's range are clipped to it, 8- and 16-bit results are drawn as int32 and cast,
    and a range that is not a power of two is very slightly non-uniform (two words of
    random bits are reduced modulo the range).

    Args:
        key: a PRNG key.
        shape: the result shape (the bounds must broadcast to it).
        minval, maxval: integer bounds, scalars or arrays.
        dtype: an integer dtype; int32 by default (int64 with x64).
    Returns:
        An array of ``shape`` and ``dtype``.

    Example:
        >>> from functrace.random import PRNGKey
        >>> x = randint(PRNGKey(0), (1000,), 0, 6)
        >>> int(x.min()), int(x.max())
        (0, 5)
    """
    no_sharding("random.randint", out_sharding=out_sharding)
    key = check_key("randint", key)
    dtype = canonicalize_dtype(np.dtype(dtype))
    if not is_int(dtype):
        raise DTypeError(f"random.randint only accepts integer dtypes, got {dtype.name}")
    minval, maxval = _as_int_array(minval), _as_int_array(maxval)
    shape = check_shape("randint", shape, get_aval(minval).shape, get_aval(maxval).shape)
    info = np.iinfo(dtype)
    if info.bits >= 32:
        return _randint(key, shape, minval, maxval, dtype)
    # narrow dtypes are sampled in 32 bits, which makes the modulo bias negligible
    minval = fnp.clip(fnp.astype(minval, np.int32), int(info.min), int(info.max))
    maxval = fnp.clip(fnp.astype(maxval, np.int32), int(info.min), int(info.max) + 1)
    return fnp.astype(_randint(key, shape, minval, maxval, np.dtype(np.int32)), dtype)


def _randint(key, shape, minval, maxval, dtype):
    info = np.iinfo(dtype)
    # e.g. randint(key, shape, 0, 2**32, uint32) under x64: the span does not fit in uint32
    top = _convert_and_clip(np.array(info.max, dtype), get_aval(maxval).dtype)
    maxval_out_of_range = fnp.broadcast_to(fnp.greater(maxval, top), shape)
    minval = fnp.broadcast_to(_convert_and_clip(minval, dtype), shape)
    maxval = fnp.broadcast_to(_convert_and_clip(maxval, dtype), shape)

    nbits = info.bits
    k1, k2 = split(key)
    higher_bits, lower_bits = random_bits(k1, nbits, shape), random_bits(k2, nbits, shape)
    udt = UINT_DTYPES[nbits]
    span = lax.convert_element_type(lax.sub(maxval, minval), udt)
    empty = lax.le(maxval, minval)
    span = fnp.where(empty, np.array(1, udt), span)
    span = fnp.where(fnp.logical_and(maxval_out_of_range, fnp.logical_not(empty)),
                     lax.add(span, np.array(1, udt)), span)
    # A span of 2**nbits wrapped to 0: XLA's remainder by 0 leaves the dividend, so JAX
    # returns the lower bits unchanged there; NumPy's would give 0, hence the explicit case.
    full_range = lax.eq(span, np.array(0, udt))
    span = fnp.where(full_range, np.array(1, udt), span)
    # (higher * 2**nbits + lower) % span, without overflow: 2**nbits % span is
    # (2**(nbits/2) % span)**2 % span
    multiplier = lax.rem(np.array(2 ** (nbits // 2), udt), span)
    multiplier = lax.rem(lax.mul(multiplier, multiplier), span)
    offset = lax.add(lax.mul(lax.rem(higher_bits, span), multiplier),
                     lax.rem(lower_bits, span))
    offset = fnp.where(full_range, lower_bits, lax.rem(offset, span))
    return lax.add(minval, lax.convert_element_type(offset, dtype))


# ---------------------------------------------------------------------------
# permutation

def _shuffle(key, x, axis: int):
    """JAX's ``_shuffle``: stable sorts of ``x`` along ``axis`` by random 32-bit keys, in
    enough rounds (3 log(size) / log(2**32 - 1)) that ties are negligible."""
    aval = get_aval(x)
    uint32_max = np.iinfo(np.uint32).max
    num_rounds = int(np.ceil(3 * np.log(max(1, aval.size)) / np.log(uint32_max)))
    for _ in range(num_rounds):
        key, subkey = split(key)
        sort_keys = random_bits(subkey, 32, aval.shape)
        x = fnp.take_along_axis(x, lax.stable_argsort(sort_keys, axis), axis)
    return x


def permutation(key, x, axis: int = 0, independent: bool = False, *, out_sharding=None):
    """A random permutation of ``range(x)`` for an integer ``x``, else ``x`` shuffled along
    ``axis`` (``jax.random.permutation``).

    Args:
        key: a PRNG key.
        x: an integer, or an array of rank >= 1.
        axis: the axis to shuffle along.
        independent: shuffle each 1-d slice along ``axis`` independently (otherwise the
            slices along ``axis`` move together).
    Returns:
        The permutation (default int dtype) or the shuffled copy of ``x``.

    Example:
        >>> from functrace.random import PRNGKey
        >>> sorted(permutation(PRNGKey(0), 5).tolist())
        [0, 1, 2, 3, 4]
    """
    no_sharding("random.permutation", out_sharding=out_sharding)
    key = check_key("permutation", key)
    aval = get_aval(x)
    if not aval.shape:
        if not is_int(aval.dtype):
            raise DTypeError(f"random.permutation: x must be an integer or an array of rank "
                             f">= 1, got {aval.str_short()}")
        n = int(x)  # a traced x raises ConcretizationError: it sets the shape
        return _shuffle(key, fnp.arange(n, dtype=default_int_dtype()), 0)
    x = fnp.asarray(x)
    axis = _axis(axis, aval.ndim, "permutation")
    if independent or aval.ndim == 1:
        return _shuffle(key, x, axis)
    ind = _shuffle(key, fnp.arange(aval.shape[axis], dtype=default_int_dtype()), 0)
    return fnp.take(x, ind, axis)


def _axis(axis: int, ndim: int, name: str) -> int:
    if not -ndim <= axis < ndim:
        raise ShapeError(f"random.{name}: axis {axis} is out of bounds for an array of rank "
                         f"{ndim}")
    return axis % ndim


# ---------------------------------------------------------------------------
# choice

def _searchsorted_left(a, v):
    """For non-decreasing 1-d ``a``: the number of entries < ``v``, per element of ``v``."""
    below = fnp.less(a, fnp.expand_dims(v, -1))
    return fnp.sum(below, axis=-1, dtype=default_int_dtype())


def choice(key, a, shape=(), replace: bool = True, p=None, axis: int = 0, mode=None):
    """Random samples of ``a`` along ``axis`` (``jax.random.choice``).

    Args:
        key: a PRNG key.
        a: an integer ``n`` (sample from ``range(n)``) or an array.
        shape: the shape of the sample.
        replace: sample with replacement; without it, ``prod(shape)`` may not exceed the
            population.
        p: optional probabilities of the entries of ``a`` (of shape ``(n,)``).
        axis: the axis of ``a`` to sample along.
        mode: the ``gumbel`` mode (``"low"``, the default, or ``"high"``) of the Gumbel
            top-k draw used with ``p`` and ``replace=False``.
    Returns:
        The sample: shape ``shape`` for an integer ``a``, else ``a``'s shape with ``axis``
        replaced by ``shape``.

    Example:
        >>> from functrace.random import PRNGKey
        >>> x = choice(PRNGKey(0), 10, (5,), replace=False)
        >>> len(set(x.tolist()))
        5
    """
    key = check_key("choice", key)
    if not isinstance(shape, tuple | list):
        raise ShapeError(f"random.choice: shape must be a tuple, got {shape!r}; write ({shape},)")
    shape = canonical_shape(shape, "choice")
    arr = fnp.asarray(a)
    arr_aval = get_aval(arr)
    if arr_aval.ndim == 0:
        n_inputs = int(a)  # must be concrete: it sets the shape
    else:
        axis = _axis(axis, arr_aval.ndim, "choice")
        n_inputs = arr_aval.shape[axis]
    n_draws = math.prod(shape)
    if n_draws == 0:
        return fnp.zeros(shape, dtype=arr_aval.dtype)
    if n_inputs <= 0:
        raise ShapeError("random.choice: the population a must be non-empty unless no samples "
                         "are taken")
    if not replace and n_draws > n_inputs:
        raise ShapeError(
            f"random.choice: cannot take a larger sample (size {n_draws}) than the population "
            f"(size {n_inputs}) when replace=False; pass replace=True or a smaller shape.")
    if p is None:
        if replace:
            ind = randint(key, shape, 0, n_inputs)
            result = ind if arr_aval.ndim == 0 else fnp.take(arr, ind, axis)
        else:
            population = n_inputs if arr_aval.ndim == 0 else arr
            first = (slice(None),) * (0 if arr_aval.ndim == 0 else axis) + (slice(n_draws),)
            result = permutation(key, population, axis if arr_aval.ndim else 0)[first]
    else:
        p_arr = fnp.asarray(p)
        if not np.issubdtype(get_aval(p_arr).dtype, np.inexact):
            p_arr = fnp.astype(p_arr, default_float_dtype())
        if get_aval(p_arr).shape != (n_inputs,):
            raise ShapeError(f"random.choice: p must be a 1-d array of the population size "
                             f"({n_inputs},), got shape {get_aval(p_arr).shape}")
        if replace:
            p_cuml = fnp.cumsum(p_arr)
            u = uniform(key, shape, dtype=get_aval(p_cuml).dtype)
            r = fnp.multiply(p_cuml[-1], fnp.subtract(1, u))
            ind = _searchsorted_left(p_cuml, r)
        else:
            # the Gumbel top-k trick: the k largest of gumbel + log(p), in decreasing order
            # log(0) = -inf (never chosen), without NumPy's divide-by-zero warning
            positive = fnp.greater(p_arr, 0)
            log_p = fnp.where(positive, fnp.log(fnp.where(positive, p_arr, 1)), -np.inf)
            g = fnp.add(gumbel(key, (n_inputs,), dtype=get_aval(p_arr).dtype, mode=mode),
                        log_p)
            top = lax.slice(lax.stable_argsort(fnp.negative(g)), (0,), (n_draws,))
            ind = fnp.astype(top, default_int_dtype())
        result = ind if arr_aval.ndim == 0 else fnp.take(arr, ind, axis)
    out_shape = shape if arr_aval.ndim == 0 else (
        arr_aval.shape[:axis] + shape + arr_aval.shape[axis + 1:])
    return fnp.reshape(result, out_shape)


# ---------------------------------------------------------------------------
# categorical

def categorical(key, logits, axis: int = -1, shape=None, replace: bool = True, mode=None, *,
                out_sharding=None):
    """Random category indices with unnormalised log-probabilities ``logits``, by the
    Gumbel-max trick (``jax.random.categorical``).

    Args:
        key: a PRNG key.
        logits: float log-probabilities; categories along ``axis``.
        axis: the category axis.
        shape: the result shape; it must end with the batch shape (``logits``'s shape
            without ``axis``), which is the default.
        replace: draw with replacement; without it the leading dimensions of ``shape``
            (``prod`` of them at most the number of categories) hold distinct categories,
            the top-k of one Gumbel perturbation of the logits.
        mode: the ``gumbel`` mode (``"low"``, ``"high"``, ``"highest"``).
    Returns:
        Indices (default int dtype) of ``shape``.

    Example:
        >>> from functrace.random import PRNGKey
        >>> categorical(PRNGKey(0), np.log(np.float32([0.2, 0.8])), shape=(3,)).shape
        (3,)
    """
    no_sharding("random.categorical", out_sharding=out_sharding)
    key = check_key("categorical", key)
    logits = fnp.asarray(logits)
    lshape = get_aval(logits).shape
    ndim = len(lshape)
    if ndim == 0:
        raise ShapeError("random.categorical: logits must have rank >= 1 (one entry per "
                         "category)")
    axis = _axis(axis, ndim, "categorical") - ndim  # negative, as in JAX
    batch_shape = tuple(np.delete(lshape, axis))
    shape = batch_shape if shape is None else check_shape("categorical", shape, batch_shape)
    prefix = shape[:len(shape) - len(batch_shape)]
    dtype = get_aval(logits).dtype
    if not replace:
        k = math.prod(prefix)
        if k > lshape[axis]:
            raise ShapeError(f"random.categorical: the number of samples without replacement "
                             f"({k}) cannot exceed the number of categories ({lshape[axis]})")
        scores = fnp.moveaxis(fnp.add(logits, gumbel(key, lshape, dtype, mode=mode)), axis, -1)
        # top-k: the k largest in decreasing order, ties to the lower index
        order = lax.stable_argsort(fnp.negative(scores), -1)
        top = order[..., :k]
        nd = len(batch_shape) + 1
        top = lax.transpose(top, (nd - 1, *range(nd - 1)))
        return fnp.reshape(top, shape)  # int32, as JAX's top_k indices
    logits_shape = list(shape[len(shape) - len(batch_shape):])
    logits_shape.insert(axis % ndim, lshape[axis])
    noise = gumbel(key, (*prefix, *logits_shape), dtype, mode=mode)
    scores = fnp.add(noise, fnp.expand_dims(logits, tuple(range(len(prefix)))))
    return fnp.argmax(scores, axis=axis)
