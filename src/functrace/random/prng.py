"""Keys and raw random bits: JAX's Threefry PRNG (``jax._src.prng``, the default
non-partitionable implementation), written with lax primitives so it traces.

A key is a ``uint32[2]`` array, JAX's raw ``PRNGKey`` format. Every function here and in
the sibling modules is a composition of ``functrace.lax`` primitives, the hash itself
being the ``threefry2x32`` primitive.
"""

from __future__ import annotations

import math
import operator

import numpy as np

from .. import lax
from ..config import config
from ..core.avals import canonicalize_dtype, is_int, is_python_scalar
from ..core.trace import get_aval
from ..errors import DTypeError, ShapeError

UINT_DTYPES = {8: np.dtype(np.uint8), 16: np.dtype(np.uint16), 32: np.dtype(np.uint32),
               64: np.dtype(np.uint64)}
_UINT32_MAX = int(np.iinfo(np.uint32).max)


# ---------------------------------------------------------------------------
# argument checks shared by the samplers

def check_key(name: str, key):
    """``key`` if it is a PRNG key (``uint32[2]``); otherwise an error naming what it is."""
    if is_python_scalar(key) or isinstance(key, list | tuple):
        raise DTypeError(f"random.{name}: expected a PRNG key (a uint32 array of shape (2,) from "
                         f"random.PRNGKey(seed) or random.split), got {type(key).__name__} "
                         f"{key!r:.40}; make one with random.PRNGKey(seed).")
    aval = get_aval(key)
    if aval.dtype != np.uint32:
        raise DTypeError(f"random.{name}: expected a PRNG key, a uint32 array of shape (2,), "
                         f"got {aval.str_short()} (dtype {aval.dtype.name}); make keys with "
                         "random.PRNGKey(seed) and random.split(key).")
    if aval.shape != (2,):
        hint = (f" This looks like a batch of {aval.shape[0]} keys from random.split: pass "
                "one of them (keys[i])." if aval.ndim == 2 and aval.shape[1] == 2 else "")
        raise ShapeError(f"random.{name}: expected a PRNG key of shape (2,), got shape "
                         f"{aval.shape} ({aval.str_short()}).{hint}")
    return key


def canonical_shape(shape, name: str) -> tuple[int, ...]:
    """``shape`` as a tuple of non-negative Python ints (an int means a 1-d shape)."""
    if isinstance(shape, int | np.integer):
        shape = (shape,)
    try:
        dims = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise ShapeError(f"random.{name}: shape must be a tuple of ints, got {shape!r}") from None
    if any(d < 0 for d in dims):
        raise ShapeError(f"random.{name}: shape {dims} has a negative dimension")
    return dims


def check_shape(name: str, shape, *param_shapes) -> tuple[int, ...]:
    """Checks that the parameters' shapes broadcast to ``shape`` (as JAX's ``_check_shape``)."""
    shape = canonical_shape(shape, name)
    if param_shapes:
        try:
            joined = np.broadcast_shapes(shape, *param_shapes)
        except ValueError:
            joined = None
        if joined != shape:
            raise ShapeError(
                f"random.{name}: the parameter shapes {list(param_shapes)} must broadcast to the "
                f"shape argument {shape}; pass shape=None to use their broadcast shape.")
    return shape


def float_dtype(name: str, dtype) -> np.dtype:
    dtype = canonicalize_dtype(np.dtype(dtype))
    if not np.issubdtype(dtype, np.floating):
        raise DTypeError(f"random.{name} only accepts floating-point dtypes, got {dtype.name}")
    return dtype


# ---------------------------------------------------------------------------
# keys

def PRNGKey(seed) -> np.ndarray:  # noqa: N802 - JAX's name
    """A PRNG key (``uint32[2]``) made from an integer seed, as ``jax.random.PRNGKey``.

    The key is ``[seed >> 32, seed & 0xFFFFFFFF]`` of the seed as a 64-bit integer, so
    negative seeds and seeds above 2**32 give distinct keys. (JAX does this with x64
    enabled; without it, JAX first truncates a Python int seed to 32 bits.) Integer
    arrays, traced ones included, are split the same way at their own width.

    Args:
        seed: a Python int in the int64 range, or a scalar integer array.
    Returns:
        A ``uint32[2]`` key.

    Example:
        >>> PRNGKey(42)
        array([ 0, 42], dtype=uint32)
    """
    if isinstance(seed, bool | np.bool_):
        raise DTypeError(f"random.PRNGKey: the seed must be an integer, got {seed!r}")
    if isinstance(seed, int):
        if not -2**63 <= seed < 2**63:
            raise DTypeError(f"random.PRNGKey: the seed {seed} does not fit in 64 bits; "
                             "pass a seed in [-2**63, 2**63)")
        s = seed % 2**64
        return np.array([s >> 32, s & _UINT32_MAX], np.uint32)
    aval = get_aval(seed)
    if aval.shape != ():
        raise ShapeError(f"random.PRNGKey: the seed must be a scalar, got {aval.str_short()}; "
                         "to make several keys use random.split(random.PRNGKey(seed), n)")
    if not is_int(aval.dtype):
        raise DTypeError(f"random.PRNGKey: the seed must be an integer, got {aval.str_short()}")
    # as JAX's threefry_seed: a shift by >= the seed's width gives 0, so narrow seeds get k1 = 0
    k1 = lax.convert_element_type(lax.shift_right_logical(seed, 32), np.uint32)
    k2 = lax.convert_element_type(seed, np.uint32)  # the low 32 bits (conversion wraps)
    return lax.concatenate([lax.reshape(k1, (1,)), lax.reshape(k2, (1,))], 0)


def key(seed) -> np.ndarray:
    """A PRNG key from an integer seed (``jax.random.key``).

    JAX returns a typed key array here; functrace has no key dtype, so this is the
    same raw ``uint32[2]`` key as ``PRNGKey(seed)``.

    Example:
        >>> key(0)
        array([0, 0], dtype=uint32)
    """
    return PRNGKey(seed)


def key_data(keys):
    """The ``uint32`` data of ``keys`` (the keys themselves: functrace keys are raw).

    Example:
        >>> key_data(PRNGKey(1))
        array([0, 1], dtype=uint32)
    """
    aval = get_aval(keys)
    if aval.dtype != np.uint32 or not aval.shape or aval.shape[-1] != 2:
        raise DTypeError(f"random.key_data: expected keys of shape (..., 2) and dtype uint32, "
                         f"got {aval.str_short()}")
    return keys


def wrap_key_data(key_bits_array):
    """Keys from their ``uint32`` data (the data itself: functrace keys are raw).

    Example:
        >>> wrap_key_data(np.uint32([0, 1]))
        array([0, 1], dtype=uint32)
    """
    return key_data(key_bits_array)


def _key_words(key):
    """The two scalar words of a key."""
    return (lax.reshape(lax.slice(key, (0,), (1,)), ()),
            lax.reshape(lax.slice(key, (1,), (2,)), ()))


def threefry_2x32(key, count):
    """Hashes the uint32 array ``count`` with ``key`` (``jax.random.threefry_2x32``).

    The flattened counts (padded with a 0 to an even length) are cut in two halves that
    form the counter pairs ``(first[i], second[i])``; the output has ``count``'s shape.

    Example:
        >>> out = threefry_2x32(np.uint32([0x13198a2e, 0x03707344]),
        ...                     np.uint32([0x243f6a88, 0x85a308d3]))
        >>> [hex(v) for v in out.tolist()]
        ['0xc4923a9c', '0x483df7a0']
    """
    key = check_key("threefry_2x32", key)
    aval = get_aval(count)
    if aval.dtype != np.uint32:
        raise DTypeError(f"random.threefry_2x32: count must be uint32, got {aval.str_short()}")
    size, odd = aval.size, aval.size % 2
    flat = lax.reshape(count, (size,))
    if odd:
        flat = lax.concatenate([flat, np.zeros(1, np.uint32)], 0)
    half = (size + odd) // 2
    x1 = lax.slice(flat, (0,), (half,))
    x2 = lax.slice(flat, (half,), (2 * half,))
    y1, y2 = lax.threefry2x32(*_key_words(key), x1, x2)
    out = lax.concatenate([y1, y2], 0)
    if odd:
        out = lax.slice(out, (0,), (size,))
    return lax.reshape(out, aval.shape)


def split(key, num=2):
    """``num`` new keys derived from ``key`` (``jax.random.split``).

    Args:
        key: a PRNG key.
        num: the number of keys, or a shape (a tuple) of keys.
    Returns:
        A ``uint32`` array of shape ``(num, 2)`` (or ``(*num, 2)``).

    Example:
        >>> key, subkey = split(PRNGKey(0))
        >>> subkey
        array([2718843009, 1272950319], dtype=uint32)
    """
    key = check_key("split", key)
    shape = canonical_shape(num, "split")
    counts = lax.iota(np.uint32, 2 * math.prod(shape))
    return lax.reshape(threefry_2x32(key, counts), (*shape, 2))


def fold_in(key, data):
    """A new key made from ``key`` and the integer ``data`` (``jax.random.fold_in``).

    Args:
        key: a PRNG key.
        data: a 32-bit integer (a Python int is taken modulo 2**32), traced or not.
    Returns:
        A PRNG key.

    Example:
        >>> keys = [fold_in(PRNGKey(0), step) for step in range(3)]
    """
    key = check_key("fold_in", key)
    if isinstance(data, int) and not isinstance(data, bool):
        word = np.uint32(data % 2**32)
    else:
        aval = get_aval(data)
        if aval.shape != () or not is_int(aval.dtype):
            raise DTypeError(f"random.fold_in: data must be a scalar integer, got "
                             f"{aval.str_short()}")
        word = lax.convert_element_type(data, np.uint32)
    # JAX folds in threefry_2x32(key, threefry_seed(data)), with threefry_seed(data) = [0, data]
    count = lax.concatenate([np.zeros(1, np.uint32), lax.reshape(word, (1,))], 0)
    return threefry_2x32(key, count)


# ---------------------------------------------------------------------------
# random bits

def random_bits(key, bit_width: int, shape: tuple[int, ...]):
    """Unsigned integers of ``bit_width`` bits (8, 16, 32 or 64) and ``shape``, as
    JAX's ``_threefry_random_bits_original``."""
    if bit_width not in UINT_DTYPES:
        raise DTypeError(f"random: bit width must be 8, 16, 32 or 64, got {bit_width}")
    if bit_width == 64 and not config.enable_x64:
        raise DTypeError("random: 64-bit random values need config.update('enable_x64', True)")
    size = math.prod(shape)
    max_count = -(-bit_width * size // 32)
    if max_count >= _UINT32_MAX:
        raise ShapeError(f"random: {size} values of {bit_width} bits need {max_count} 32-bit "
                         f"words, more than one key can give ({_UINT32_MAX - 1}); draw them in "
                         "chunks with split keys.")
    bits = threefry_2x32(key, lax.iota(np.uint32, max_count))
    dtype = UINT_DTYPES[bit_width]
    if bit_width == 64:
        hi = lax.convert_element_type(lax.slice(bits, (0,), (size,)), dtype)
        lo = lax.convert_element_type(lax.slice(bits, (size,), (2 * size,)), dtype)
        bits = lax.bitwise_or(lax.shift_left(hi, 32), lo)
    elif bit_width in (8, 16):
        # bits.view(dtype)[:size]: word i gives values k*i .. k*i + k-1, low bits first
        k = 32 // bit_width
        words = lax.broadcast_in_dim(bits, (k, max_count), (1,))
        shifts = lax.mul(lax.broadcasted_iota(np.uint32, (k, max_count), 0), np.uint32(bit_width))
        parts = lax.bitwise_and(lax.shift_right_logical(words, shifts),
                                np.uint32(np.iinfo(dtype).max))
        parts = lax.reshape(parts, (max_count * k,), (1, 0))
        bits = lax.slice(lax.convert_element_type(parts, dtype), (0,), (size,))
    return lax.reshape(bits, shape)


def bits(key, shape=(), dtype=None):
    """Uniformly random unsigned integers (``jax.random.bits``).

    Args:
        key: a PRNG key.
        shape: the result shape.
        dtype: an unsigned integer dtype; uint32 by default (uint64 with x64).
    Returns:
        An array of ``shape`` and ``dtype``.

    Example:
        >>> bits(PRNGKey(0), (2,)).dtype
        dtype('uint32')
    """
    key = check_key("bits", key)
    dtype = canonicalize_dtype(np.uint64 if dtype is None else np.dtype(dtype))
    if not np.issubdtype(dtype, np.unsignedinteger):
        raise DTypeError(f"random.bits: dtype must be an unsigned integer dtype, got "
                         f"{dtype.name}")
    return random_bits(key, dtype.itemsize * 8, canonical_shape(shape, "bits"))
