"""Scalar helpers called from generated fused loops (NumPy semantics on scalars)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def maximum(a, b):
    if a != a or b != b:  # NaN propagates, as np.maximum
        return a + b
    return a if a >= b else b


@njit(cache=True, inline="always")
def minimum(a, b):
    if a != a or b != b:
        return a + b
    return a if a <= b else b


@njit(cache=True, inline="always")
def sign(a):
    if a > 0:
        return 1
    if a < 0:
        return -1
    return a  # 0, -0.0 or NaN


@njit(cache=True, inline="always")
def logistic(x):
    if x >= 0:
        return 1.0 / (1.0 + np.exp(-x))
    e = np.exp(x)
    return e / (1.0 + e)


@njit(cache=True, inline="always")
def idiv(a, b):
    q = abs(a) // abs(b)  # C-style truncation, as lax.div on integers
    return q if (a >= 0) == (b >= 0) else -q


@njit(cache=True, inline="always")
def irem(a, b):
    return a - idiv(a, b) * b


@njit(cache=True, inline="always")
def erf(x):
    return math.erf(x)
