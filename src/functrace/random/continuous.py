"""Continuous distributions: ``uniform``, ``normal``, ``truncated_normal``, ``gumbel``, with
JAX's algorithms (``jax._src.random``).

``uniform`` on [0, 1) is exact bit manipulation, so it gives JAX's numbers bit for bit;
other bounds scale it with a multiply and an add, which XLA on CPU fuses into one FMA, so
there JAX's numbers can differ in the last bit. ``normal`` and ``truncated_normal`` go
through ``erf_inv`` and ``gumbel`` through ``log``: XLA's formulas, but NumPy's
``log1p``/``log``, so they too can differ from JAX's in the last bit (about 1e-7 relative
in float32).
"""

from __future__ import annotations

import numpy as np

from .. import lax
from .. import numpy as fnp
from ..core.avals import finfo
from ..core.trace import get_aval
from ..errors import DTypeError, no_sharding
from ..lax._special_scalar import ERF_INV_GE_16, ERF_INV_LT_6_25, ERF_INV_LT_16
from .prng import UINT_DTYPES, check_key, check_shape, float_dtype, random_bits, split

# XLA's erf_inv (xla/client/lib/math.cc, after M. Giles, "Approximating the erfinv
# function"): polynomials in w = -log1p(-x*x), highest degree first.
_ERF_INV_F32 = (
    # w < 5, evaluated at w - 2.5
    (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
     -0.00125372503, -0.00417768164, 0.246640727, 1.50140941),
    # w >= 5, evaluated at sqrt(w) - 3
    (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
     -0.0076224613, 0.00943887047, 1.00167406, 2.83297682),
)
# the float64 polynomials are the ones lax.erf_inv evaluates
_ERF_INV_F64_LT_6_25 = ERF_INV_LT_6_25
_ERF_INV_F64_LT_16 = ERF_INV_LT_16
_ERF_INV_F64_GE_16 = ERF_INV_GE_16


def _const(value, dtype):
    return np.array(value, dtype)


def _horner(coefs, w, dtype):
    p = lax.add(lax.mul(w, _const(coefs[0], dtype)), _const(coefs[1], dtype))
    for c in coefs[2:]:
        p = lax.add(lax.mul(p, w), _const(c, dtype))
    return p


def erf_inv(x):
    """The inverse error function on [-1, 1] (XLA's approximation; +/-inf at +/-1).

    XLA selects the coefficients per element inside one Horner loop; evaluating each
    polynomial and selecting at the end gives the same numbers with fewer operations.

    Example:
        >>> float(erf_inv(np.float32(0.5)))  # doctest: +ELLIPSIS
        0.4769362...
    """
    dtype = get_aval(x).dtype
    if dtype.itemsize < 4:  # as XLA: half precision is computed in float32
        return lax.convert_element_type(erf_inv(lax.convert_element_type(x, np.float32)), dtype)
    edge = lax.eq(lax.abs(x), _const(1.0, dtype))
    # the edges (replaced at the end) get x*x = 0, sparing NumPy's log1p(-1) warning
    xx = lax.select(edge, fnp.zeros_like(x), lax.mul(x, x))
    w = lax.neg(lax.log1p(lax.neg(xx)))
    if dtype == np.float32:
        lt = lax.lt(w, _const(5.0, dtype))
        w = lax.select(lt, lax.sub(w, _const(2.5, dtype)), lax.sub(lax.sqrt(w), _const(3.0, dtype)))
        p = lax.select(lt, _horner(_ERF_INV_F32[0], w, dtype), _horner(_ERF_INV_F32[1], w, dtype))
    else:
        lt_6_25 = lax.lt(w, _const(6.25, dtype))
        lt_16 = lax.lt(w, _const(16.0, dtype))
        far = lax.sub(lax.sqrt(w), lax.select(lt_16, fnp.full_like(w, 3.25), fnp.full_like(w, 5.0)))
        w = lax.select(lt_6_25, lax.sub(w, _const(3.125, dtype)), far)
        p = lax.select(lt_6_25, _horner(_ERF_INV_F64_LT_6_25, w, dtype),
                       lax.select(lt_16, _horner(_ERF_INV_F64_LT_16, w, dtype),
                                  _horner(_ERF_INV_F64_GE_16, w, dtype)))
    inf = fnp.where(lax.gt(x, _const(0.0, dtype)), _const(np.inf, dtype), _const(-np.inf, dtype))
    return lax.select(edge, inf, lax.mul(p, x))


# ---------------------------------------------------------------------------
# uniform

def uniform(key, shape=(), dtype=float, minval=0.0, maxval=1.0, *, out_sharding=None):
    """Uniform random floats in ``[minval, maxval)`` (``jax.random.uniform``).

    Args:
        key: a PRNG key.
        shape: the result shape (``minval``/``maxval`` must broadcast to it).
        dtype: a float dtype; float32 by default (float64 with x64).
        minval, maxval: the bounds, scalars or arrays.
    Returns:
        An array of ``shape`` and ``dtype``.

    Example:
        >>> from functrace.random import PRNGKey
        >>> x = uniform(PRNGKey(0), (3,), minval=-1.0, maxval=1.0)
        >>> x.shape, x.dtype
        ((3,), dtype('float32'))
    """
    no_sharding("random.uniform", out_sharding=out_sharding)
    key = check_key("uniform", key)
    dtype = float_dtype("uniform", dtype)
    shape = check_shape("uniform", shape, get_aval(minval).shape, get_aval(maxval).shape)
    minval = lax.convert_element_type(minval, dtype)
    maxval = lax.convert_element_type(maxval, dtype)
    info = finfo(dtype)
    nbits, nmant = info.bits, info.nmant
    uint_dtype = UINT_DTYPES[nbits]
    rng_bits = 8 if nmant < 8 else nbits  # bfloat16 (7 mantissa bits) draws bytes, as JAX
    bits = random_bits(key, rng_bits, shape)
    if rng_bits != nbits:
        bits = lax.convert_element_type(bits, uint_dtype)
    # random mantissa bits under the exponent of 1.0 give a float in [1, 2); minus 1 -> [0, 1)
    float_bits = lax.bitwise_or(lax.shift_right_logical(bits, _const(rng_bits - nmant, uint_dtype)),
                                _const(1.0, dtype).view(uint_dtype))
    floats = lax.sub(lax.bitcast_convert_type(float_bits, dtype), _const(1.0, dtype))
    scaled = fnp.add(fnp.multiply(floats, fnp.subtract(maxval, minval)), minval)
    return fnp.maximum(minval, scaled)


# ---------------------------------------------------------------------------
# normal

def normal(key, shape=(), dtype=float, *, out_sharding=None):
    """Standard normal random floats (``jax.random.normal``): ``sqrt(2) * erf_inv(u)`` for
    ``u`` uniform in (-1, 1). For a complex dtype, ``(re + 1j * im) / sqrt(2)`` with ``re``
    and ``im`` drawn with the two keys of ``split(key)``, as JAX (so ``E|z|^2 = 1``).

    Args:
        key: a PRNG key.
        shape: the result shape.
        dtype: a float or complex dtype; float32 by default (float64 with x64).
    Returns:
        An array of ``shape`` and ``dtype``.

    Example:
        >>> from functrace.random import PRNGKey
        >>> normal(PRNGKey(0), (2, 3)).shape
        (2, 3)
    """
    no_sharding("random.normal", out_sharding=out_sharding)
    key = check_key("normal", key)
    if np.dtype(dtype).kind == "c":
        real = float_dtype("normal", np.finfo(np.dtype(dtype)).dtype)
        keys = split(key)
        re, im = normal(keys[0], shape, real), normal(keys[1], shape, real)
        root2 = _const(np.sqrt(2), real)
        return lax.complex(lax.div(re, root2), lax.div(im, root2))
    dtype = float_dtype("normal", dtype)
    shape = check_shape("normal", shape)
    lo = np.nextafter(_const(-1.0, dtype), _const(0.0, dtype), dtype=dtype)
    u = uniform(key, shape, dtype, lo, _const(1.0, dtype))
    return lax.mul(_const(np.sqrt(2), dtype), erf_inv(u))


def _next_float(x, up: bool):
    """The next representable float after ``x`` towards +inf (``up``) or -inf, like
    ``np.nextafter`` (infinities in the direction of travel and NaNs stay)."""
    dtype = get_aval(x).dtype
    udt = UINT_DTYPES[dtype.itemsize * 8]
    one = _const(1, udt)
    b = lax.bitcast_convert_type(x, udt)
    away, towards = lax.add(b, one), lax.sub(b, one)  # magnitude up / down
    zero = lax.eq(x, _const(0.0, dtype))
    moved = fnp.where(lax.gt(x, _const(0.0, dtype)) if up else lax.lt(x, _const(0.0, dtype)),
                      away, towards)
    sign = 0 if up else np.iinfo(udt).max ^ (np.iinfo(udt).max >> 1)
    moved = fnp.where(zero, _const(sign | 1, udt), moved)  # the smallest subnormal
    stay = fnp.logical_or(fnp.isnan(x), lax.eq(x, _const(np.inf if up else -np.inf, dtype)))
    return lax.bitcast_convert_type(fnp.where(stay, b, moved), dtype)


def truncated_normal(key, lower, upper, shape=None, dtype=float, *, out_sharding=None):
    """Normal random floats conditioned on ``lower < x < upper``
    (``jax.random.truncated_normal``).

    Args:
        key: a PRNG key.
        lower, upper: the bounds, scalars or arrays (may be infinite).
        shape: the result shape; by default the broadcast shape of the bounds.
        dtype: a float dtype; float32 by default (float64 with x64).
    Returns:
        An array of ``shape`` and ``dtype`` in the open interval (lower, upper).

    Example:
        >>> from functrace.random import PRNGKey
        >>> x = truncated_normal(PRNGKey(0), -1.0, 1.0, (100,))
        >>> bool((x > -1).all() and (x < 1).all())
        True
    """
    no_sharding("random.truncated_normal", out_sharding=out_sharding)
    key = check_key("truncated_normal", key)
    dtype = float_dtype("truncated_normal", dtype)
    bound_shapes = (get_aval(lower).shape, get_aval(upper).shape)
    if shape is None:
        shape = np.broadcast_shapes(*bound_shapes)
    shape = check_shape("truncated_normal", shape, *bound_shapes)
    sqrt2 = _const(np.sqrt(2), dtype)
    lower = lax.convert_element_type(lower, dtype)
    upper = lax.convert_element_type(upper, dtype)
    a = lax.erf(lax.div(lower, sqrt2))
    b = lax.erf(lax.div(upper, sqrt2))
    u = uniform(key, shape, dtype, minval=a, maxval=b)
    out = lax.mul(sqrt2, erf_inv(u))
    # clamp into the open interval: rounding (or u == a) could land on a bound
    return fnp.clip(out, _next_float(lax.stop_gradient(lower), up=True),
                    _next_float(lax.stop_gradient(upper), up=False))


# ---------------------------------------------------------------------------
# gumbel

def gumbel(key, shape=(), dtype=float, mode=None, *, out_sharding=None):
    """Standard Gumbel random floats (``jax.random.gumbel``).

    Args:
        key: a PRNG key.
        shape: the result shape.
        dtype: a float dtype.
        mode: ``"low"`` (the default): ``-log(-log(u))``; ``"high"``: two uniforms
            combined so that events of probability down to about 1e-14 are sampled
            without bias; ``"highest"``: for float32, a 64-bit fixed-point uniform
            (``"high"`` for other dtypes). JAX's algorithms and key use for each.

    Example:
        >>> from functrace.random import PRNGKey
        >>> gumbel(PRNGKey(0), (4,)).shape
        (4,)
    """
    no_sharding("random.gumbel", out_sharding=out_sharding)
    key = check_key("gumbel", key)
    dtype = float_dtype("gumbel", dtype)
    shape = check_shape("gumbel", shape)
    mode = "low" if mode is None else mode
    if mode not in ("low", "high", "highest"):
        raise DTypeError(f"random.gumbel: mode must be 'low', 'high' or 'highest', got "
                         f"{mode!r}")
    finfo = np.finfo(dtype)
    if mode == "highest" and dtype == np.float32:
        return _gumbel_highest_f32(key, shape)
    if mode in ("high", "highest"):
        both = uniform(key, (2, *shape), dtype)
        high, low = (lax.reshape(lax.slice(both, (i, *(0,) * len(shape)), (i + 1, *shape)),
                                 shape) for i in (0, 1))
        fine = lax.add(lax.add(high, lax.mul(_const(2.0 ** -finfo.nmant, dtype), low)),
                       _const(finfo.tiny, dtype))
        x = lax.select(lax.ge(high, _const(0.5, dtype)), high, fine)
        return lax.neg(lax.log(lax.neg(lax.log1p(lax.neg(x)))))
    u = uniform(key, shape, dtype, minval=finfo.tiny, maxval=1.0)
    return lax.neg(lax.log(lax.neg(lax.log(u))))


def _clz32(x):
    """The number of leading zero bits of each uint32 (32 for 0)."""
    for s in (1, 2, 4, 8, 16):
        x = lax.bitwise_or(x, lax.shift_right_logical(x, np.uint32(s)))
    return lax.sub(np.uint32(32), lax.population_count(x))


def _gumbel_highest_f32(key, shape):
    # JAX's "highest" mode: 64 random bits as a fixed-point number in (0, 1), converted to
    # float32 with all the precision near 0; log1p below 1/2 and log above.
    u32 = np.uint32
    bits = random_bits(key, 32, (2, *shape))
    rows = lambda a: (lax.reshape(lax.slice(a, (i, *(0,) * len(shape)),  # noqa: E731
                                            (i + 1, *shape)), shape) for i in (0, 1))
    b_hi, b_lo = rows(bits)
    n_hi, n_lo = rows(lax.bitwise_not(bits))
    carry = lax.convert_element_type(lax.eq(n_lo, u32(0xFFFFFFFF)), np.uint32)
    n_hi, n_lo = lax.add(n_hi, carry), lax.add(n_lo, u32(1))  # 1 - bits, 64-bit
    flip = lax.lt(b_hi, u32(1 << 31))
    hi, lo = lax.select(flip, b_hi, n_hi), lax.select(flip, b_lo, n_lo)
    hiclz, loclz = _clz32(hi), _clz32(lo)
    hi_empty = lax.eq(hiclz, u32(32))
    mantissa = lax.bitwise_or(
        lax.shift_left(hi, hiclz),
        lax.select(hi_empty, lax.shift_left(lo, loclz),
                   lax.shift_right_logical(lo, lax.sub(u32(32), hiclz))))
    mantissa = lax.bitwise_and(lax.shift_right_logical(mantissa, u32(8)), u32((1 << 23) - 1))
    zeros = lax.select(hi_empty, lax.add(u32(32), loclz), hiclz)
    exp = lax.shift_left(lax.sub(u32(126), zeros), u32(23))
    exp = lax.bitwise_and(exp, u32((1 << 30) - (1 << 22)))
    x = lax.bitcast_convert_type(lax.bitwise_or(exp, mantissa), np.float32)
    return lax.select(flip, lax.neg(lax.log(lax.neg(lax.log1p(lax.neg(x))))),
                      lax.neg(lax.log(lax.neg(lax.log(x)))))
