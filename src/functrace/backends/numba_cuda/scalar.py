"""Scalar device functions called from generated fused kernels (NumPy semantics)."""

from __future__ import annotations

import math

from numba import cuda

from ...lax import _special_scalar


@cuda.jit(device=True, inline=True)
def maximum(a, b):
    if a != a or b != b:  # NaN propagates, as np.maximum
        return a + b
    return a if a >= b else b


@cuda.jit(device=True, inline=True)
def minimum(a, b):
    if a != a or b != b:
        return a + b
    return a if a <= b else b


@cuda.jit(device=True, inline=True)
def sign(a):
    if a > 0:
        return a - a + 1
    if a < 0:
        return a - a - 1
    return a  # 0, -0.0 or NaN


@cuda.jit(device=True, inline=True)
def logistic(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@cuda.jit(device=True, inline=True)
def idiv(a, b):
    q = abs(a) // abs(b)  # C-style truncation, as lax.div on integers
    return q if (a >= 0) == (b >= 0) else -q


@cuda.jit(device=True, inline=True)
def irem(a, b):
    return a - idiv(a, b) * b


@cuda.jit(device=True, inline=True)
def fmod(a, b):
    return math.fmod(a, b)


@cuda.jit(device=True, inline=True)
def is_finite(a):
    return not (math.isinf(a) or math.isnan(a))


@cuda.jit(device=True, inline=True)
def round_method(x, method):
    """``lax.round``: halves away from zero (method 0) or to even (1), on ``|x|`` with the
    sign put back (so -0.2 rounds to -0.0, as NumPy and JAX)."""
    a = abs(x)
    if a != a or a >= 4503599627370496.0:  # nan, inf, or already integral (>= 2**52)
        return x
    r = math.floor(a)
    d = a - r
    if d > 0.5 or (d == 0.5 and (method == 0 or r % 2 == 1)):
        r += 1
    return math.copysign(r, x)


# lax's special functions, written once in plain Python (lax/_special_scalar.py) and
# compiled here as device functions; the primitives' expressions call them as ``_s.<name>``
igamma_family = cuda.jit(device=True)(_special_scalar.igamma_family)
betainc = cuda.jit(device=True)(_special_scalar.betainc)
bessel_ie = cuda.jit(device=True)(_special_scalar.bessel_ie)
erf_inv = cuda.jit(device=True)(_special_scalar.erf_inv)
float_to_int = cuda.jit(device=True)(_special_scalar.float_to_int)

float_to_uint64 = cuda.jit(device=True)(_special_scalar.float_to_uint64)
