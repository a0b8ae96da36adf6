"""Keys and raw random bits: JAX's Threefry PRNG (``jax._src.prng``), written with lax
primitives so it traces.

A raw key is a ``uint32[2]`` array, JAX's ``PRNGKey`` format; a typed key
(``random.key``, see ``keys.py``) wraps one. Every function here and in the sibling
modules is a composition of ``functrace.lax`` primitives, the hash itself being the
``threefry2x32`` primitive.

Two schemes derive keys and bits from a key, chosen by ``config.threefry_partitionable``
(JAX's ``jax_threefry_partitionable``) when a function is traced or run:

* partitionable (the default, as in JAX >= 0.5): element ``i`` of ``split(key, shape)``
  or ``bits(key, shape)`` (in row-major order) hashes the 64-bit counter ``i`` as the
  pair ``(i >> 32, i & 0xffffffff)``; ``split`` keeps both output words as the new key,
  32-bit ``bits`` XOR them, 64-bit ones concatenate them, 8- and 16-bit ones keep the
  low bits of the XOR.
* original (JAX's default before 0.5): ``threefry_2x32(key, iota(n))`` hashes the first
  half of the counters against the second half, and the outputs are cut into keys or
  values in order.

``fold_in`` is the same in both.
"""

from __future__ import annotations

import math
import operator

import numpy as np

from .. import lax
from ..config import config
from ..core.avals import canonicalize_dtype, is_float, is_int, is_python_scalar
from ..core.trace import get_aval
from ..errors import DTypeError, ShapeError, no_sharding
from .keys import KeyDType, PRNGKeyArray, is_typed_key, wrap

UINT_DTYPES = {8: np.dtype(np.uint8), 16: np.dtype(np.uint16), 32: np.dtype(np.uint32),
               64: np.dtype(np.uint64)}
_UINT32_MAX = int(np.iinfo(np.uint32).max)


# ---------------------------------------------------------------------------
# argument checks shared by the samplers

def check_key(name: str, key):
    """The raw ``uint32[2]`` data of the PRNG key ``key`` (raw or typed); otherwise an
    error naming what it is."""
    if is_typed_key(key):
        if key.shape != ():
            raise ShapeError(f"random.{name} accepts a single key, but was given a key array "
                             f"of shape {key.shape} != (); use vmap for batching (or index "
                             "one key).")
        key = key.data
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
    if not is_float(dtype):
        raise DTypeError(f"random.{name} only accepts floating-point dtypes, got {dtype.name}")
    return dtype


# ---------------------------------------------------------------------------
# keys

_IMPLS = ("threefry2x32", "threefry")


def check_impl(name: str, impl) -> None:
    """Only JAX's default implementation, Threefry-2x32, is built."""
    if impl is not None and not (isinstance(impl, str) and impl in _IMPLS):
        raise DTypeError(f"random.{name}: impl={impl!r} is not available; functrace builds only "
                         "the 'threefry2x32' PRNG (JAX's default). Leave impl out.")


def PRNGKey(seed, *, impl=None) -> np.ndarray:  # noqa: N802 - JAX's name
    """A PRNG key (``uint32[2]``) made from an integer seed, as ``jax.random.PRNGKey``.

    The key is ``[seed >> 32, seed & 0xFFFFFFFF]`` of the seed at its own width: an
    integer array of 32 bits or fewer gets ``[0, seed]`` (a negative one sign-extended to
    32 bits, so ``PRNGKey(np.int32(-1))`` is ``[0, 0xffffffff]``). A Python int is taken as
    int64 with x64 enabled, and otherwise wraps to int32 first, as in JAX: without x64,
    ``PRNGKey(-1)`` is ``[0, 0xffffffff]`` eagerly and under ``jit`` alike.

    Args:
        seed: a Python int in the int64 range, or a scalar integer array.
        impl: ``None`` or ``"threefry2x32"`` (the only implementation built).
    Returns:
        A ``uint32[2]`` key.

    Example:
        >>> PRNGKey(42)
        array([ 0, 42], dtype=uint32)
        >>> PRNGKey(-1)
        array([         0, 4294967295], dtype=uint32)
    """
    check_impl("PRNGKey", impl)
    if isinstance(seed, bool | np.bool_):
        raise DTypeError(f"random.PRNGKey: the seed must be an integer, got {seed!r}")
    if isinstance(seed, int):
        if not -2**63 <= seed < 2**63:
            raise DTypeError(f"random.PRNGKey: the seed {seed} does not fit in 64 bits; "
                             "pass a seed in [-2**63, 2**63)")
        # JAX converts a Python int to int64, which is narrowed to int32 without x64
        s = seed % 2**64 if config.enable_x64 else seed % 2**32
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


def _impl_or_dtype(name: str, impl, dtype):
    """JAX's ``dtype=`` (a key dtype or an implementation's name) in place of ``impl=``."""
    if dtype is None:
        return impl
    if impl is not None:
        raise ValueError(f"random.{name}: pass impl= or dtype=, not both")
    if isinstance(dtype, KeyDType) or dtype in ("key<fry>", "threefry2x32"):
        return "threefry2x32"
    raise DTypeError(f"random.{name}: dtype={dtype!r} is not a PRNG key dtype functrace builds; "
                     "use random.key(0).dtype (key<fry>, Threefry-2x32) or leave dtype out")


def key(seed, *, impl=None, dtype=None) -> PRNGKeyArray:
    """A typed PRNG key (dtype ``key<fry>``, shape ``()``) from an integer seed
    (``jax.random.key``); its data is ``PRNGKey(seed)``. ``dtype`` (a key dtype, e.g.
    ``key(0).dtype``, or ``"threefry2x32"``) is JAX's newer spelling of ``impl``.

    Example:
        >>> key(0)
        Array((), dtype=key<fry>) overlaying:
        [0 0]
    """
    return PRNGKeyArray(PRNGKey(seed, impl=_impl_or_dtype("key", impl, dtype)))


def key_impl(keys) -> str:
    """The name of the PRNG implementation of ``keys``, raw or typed
    (``jax.random.key_impl``): always ``"threefry2x32"``.

    Example:
        >>> key_impl(key(0))
        'threefry2x32'
    """
    key_data(keys)
    return "threefry2x32"


def key_data(keys):
    """The ``uint32[..., 2]`` data of ``keys``: of a typed key array, its data; of raw
    keys, the keys themselves (``jax.random.key_data``).

    Example:
        >>> key_data(key(1))
        array([0, 1], dtype=uint32)
    """
    if is_typed_key(keys):
        return keys.data
    aval = get_aval(keys)
    if aval.dtype != np.uint32 or not aval.shape or aval.shape[-1] != 2:
        raise DTypeError(f"random.key_data: expected keys of shape (..., 2) and dtype uint32, "
                         f"got {aval.str_short()}")
    return keys


def wrap_key_data(key_bits_array, *, impl=None, dtype=None) -> PRNGKeyArray:
    """Typed keys from their ``uint32[..., 2]`` data (``jax.random.wrap_key_data``);
    ``dtype`` as in ``key``.

    Example:
        >>> wrap_key_data(np.uint32([[0, 1], [0, 2]])).shape
        (2,)
    """
    check_impl("wrap_key_data", _impl_or_dtype("wrap_key_data", impl, dtype))
    if is_typed_key(key_bits_array):
        raise DTypeError("random.wrap_key_data: the argument is already a typed key array; "
                         "pass its uint32 data (random.key_data(keys)) or use it as it is.")
    return wrap(key_bits_array)


def clone(key):
    """A copy of ``key`` (``jax.random.clone``); keys are immutable, so the key itself.

    Example:
        >>> clone(key(0)).shape
        ()
    """
    key_data(key)
    return key


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


def iota_2x32_shape(shape: tuple[int, ...]):
    """The row-major index of each element of ``shape`` as a 64-bit count in two uint32
    words ``(hi, lo)`` (JAX's ``prng.iota_2x32_shape``). ``hi`` is a rank-0 zero (the
    ``threefry2x32`` primitive broadcasts it): sizes above 2**32 are refused."""
    size = math.prod(shape)
    if size > _UINT32_MAX + 1:
        raise ShapeError(f"random: {size} values in one draw is more than functrace's limit "
                         f"of 2**32 per key; draw them in chunks with split keys.")
    zero = np.zeros((), np.uint32)
    if not shape:
        return zero, zero
    return zero, lax.reshape(lax.iota(np.uint32, size), shape)


def _hash_counts(key, shape: tuple[int, ...]):
    """The two output words of hashing each counter of ``iota_2x32_shape(shape)``."""
    hi, lo = iota_2x32_shape(shape)
    return lax.threefry2x32(*_key_words(key), hi, lo)


def split(key, num=2):
    """``num`` new keys derived from ``key`` (``jax.random.split``).

    With ``config.threefry_partitionable`` (the default) key ``i`` is the pair of words
    that hashes counter ``i``; otherwise it is JAX's original scheme (see the module).

    Args:
        key: a PRNG key, raw or typed.
        num: the number of keys, or a shape (a tuple) of keys.
    Returns:
        Raw keys, a ``uint32`` array of shape ``(num, 2)`` (or ``(*num, 2)``), or typed
        keys of shape ``(num,)`` (or ``num``) for a typed ``key``.

    Example:
        >>> key, subkey = split(PRNGKey(0))
        >>> subkey
        array([ 928981903, 3453687069], dtype=uint32)
    """
    typed = is_typed_key(key)
    key = check_key("split", key)
    shape = canonical_shape(num, "split")
    if config.threefry_partitionable:
        y1, y2 = _hash_counts(key, shape)
        out = lax.concatenate([lax.broadcast_in_dim(y, (*shape, 1), tuple(range(len(shape))))
                               for y in (y1, y2)], len(shape))
    else:
        counts = lax.iota(np.uint32, 2 * math.prod(shape))
        out = lax.reshape(threefry_2x32(key, counts), (*shape, 2))
    return PRNGKeyArray(out) if typed else out


def fold_in(key, data):
    """A new key made from ``key`` and the integer ``data`` (``jax.random.fold_in``).

    Args:
        key: a PRNG key, raw or typed.
        data: a 32-bit integer, traced or not (a Python int must lie in [0, 2**32),
            as in JAX; a NumPy or traced signed integer wraps modulo 2**32).
    Returns:
        A PRNG key of the kind of ``key``.

    Example:
        >>> keys = [fold_in(PRNGKey(0), step) for step in range(3)]
    """
    typed = is_typed_key(key)
    key = check_key("fold_in", key)
    if isinstance(data, int) and not isinstance(data, bool):
        if not 0 <= data < 2**32:  # as JAX, which converts a Python int to uint32
            raise OverflowError(f"Python integer {data} out of bounds for uint32; "
                                "random.fold_in takes 0 <= data < 2**32 (a NumPy or traced "
                                "int32 wraps modulo 2**32)")
        word = np.uint32(data)
    else:
        aval = get_aval(data)
        if aval.shape != () or not is_int(aval.dtype):
            raise DTypeError(f"random.fold_in: data must be a scalar integer, got "
                             f"{aval.str_short()}")
        word = lax.convert_element_type(data, np.uint32)
    # JAX folds in threefry_2x32(key, threefry_seed(data)), with threefry_seed(data) = [0, data]
    count = lax.concatenate([np.zeros(1, np.uint32), lax.reshape(word, (1,))], 0)
    out = threefry_2x32(key, count)
    return PRNGKeyArray(out) if typed else out


# ---------------------------------------------------------------------------
# random bits

def random_bits(key, bit_width: int, shape: tuple[int, ...]):
    """Unsigned integers of ``bit_width`` bits (8, 16, 32 or 64) and ``shape``, as JAX's
    ``threefry_random_bits`` under the current ``config.threefry_partitionable``."""
    if bit_width not in UINT_DTYPES:
        raise DTypeError(f"random: bit width must be 8, 16, 32 or 64, got {bit_width}")
    if bit_width == 64 and not config.enable_x64:
        raise DTypeError("random: 64-bit random values need config.update('enable_x64', True)")
    if config.threefry_partitionable:
        return _random_bits_partitionable(key, bit_width, shape)
    return _random_bits_original(key, bit_width, shape)


def _random_bits_partitionable(key, bit_width: int, shape: tuple[int, ...]):
    # JAX's _threefry_random_bits_partitionable: one counter per value
    y1, y2 = _hash_counts(key, shape)
    dtype = UINT_DTYPES[bit_width]
    if bit_width == 64:
        hi = lax.convert_element_type(y1, dtype)
        lo = lax.convert_element_type(y2, dtype)
        return lax.bitwise_or(lax.shift_left(hi, np.array(32, dtype)), lo)
    mixed = lax.bitwise_xor(y1, y2)
    # 8 and 16 bits: the conversion keeps the low bits, as XLA's
    return mixed if bit_width == 32 else lax.convert_element_type(mixed, dtype)


def _random_bits_original(key, bit_width: int, shape: tuple[int, ...]):
    # JAX's _threefry_random_bits_original
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


def bits(key, shape=(), dtype=None, *, out_sharding=None):
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
    no_sharding("random.bits", out_sharding=out_sharding)
    key = check_key("bits", key)
    dtype = canonicalize_dtype(np.uint64 if dtype is None else np.dtype(dtype))
    if not np.issubdtype(dtype, np.unsignedinteger):
        raise DTypeError(f"random.bits: dtype must be an unsigned integer dtype, got "
                         f"{dtype.name}")
    return random_bits(key, dtype.itemsize * 8, canonical_shape(shape, "bits"))
