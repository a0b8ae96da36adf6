"""Scalar helpers called from generated fused loops (NumPy semantics on scalars)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numba.core import types
from numba.extending import intrinsic

from ...lax import _special_scalar
from .numba_cache import ensure_numba_can_cache

ensure_numba_can_cache(__file__)  # before the first cache=True kernel


@intrinsic
def select(typingctx, cond, a, b):
    """``a if cond else b`` as one LLVM ``select``: no branch, so loops over random
    data don't pay mispredictions (docs/performance.md, "Pooling kernels") and
    can vectorise. Both operands are evaluated."""
    out = typingctx.unify_types(a, b)
    if out is None or not isinstance(out, (types.Number, types.Boolean)):
        return None

    def codegen(context, builder, signature, args):
        c, x, y = args
        c = context.cast(builder, c, signature.args[0], types.boolean)
        x = context.cast(builder, x, signature.args[1], out)
        y = context.cast(builder, y, signature.args[2], out)
        return builder.select(c, x, y)

    return out(cond, a, b), codegen


@njit(cache=True, inline="always")
def maximum(a, b):
    return select((a >= b) | (a != a), a, b)  # a NaN on either side propagates


@njit(cache=True, inline="always")
def minimum(a, b):
    return select((a <= b) | (a != a), a, b)


@njit(cache=True, inline="always")
def sign(a):
    if a > 0:
        return 1
    if a < 0:
        return -1
    return a  # 0, -0.0 or NaN


@njit(cache=True, inline="always")
def logistic(x):
    e = np.exp(-abs(x))  # never overflows; both branches are cheap, so no jump
    return select(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


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


@njit(cache=True, inline="always")
def round_method(x, method):
    """``lax.round``: halves away from zero (method 0) or to even (1); exact, as
    ``x - trunc(x)`` is (no ``floor(x + 0.5)``, which rounds 0.49999997 up)."""
    if method == 0:
        r = np.trunc(x)
        return r + np.sign(x) if abs(x - r) >= 0.5 else r
    return np.rint(x)


# lax's special functions whose scalar algorithm is written once in plain Python
# (lax/_special_scalar.py); the primitives' expressions call them as ``_s.<name>``
ensure_numba_can_cache(_special_scalar.__file__)
igamma_family = njit(cache=True)(_special_scalar.igamma_family)
betainc = njit(cache=True)(_special_scalar.betainc)
bessel_ie = njit(cache=True)(_special_scalar.bessel_ie)
erf_inv = njit(cache=True)(_special_scalar.erf_inv)
