"""Scalar helpers called from generated fused loops (NumPy semantics on scalars)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numba.core import types
from numba.extending import intrinsic, overload

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
    # C-style truncation, as lax.div on integers; by zero 0, as the NumPy reference impl
    # (LLVM's division by zero is undefined and gave garbage)
    if b == 0:
        return a - a
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


@njit(cache=True, inline="always")
def irem(a, b):
    if b == 0:  # 0, as np.fmod (the reference impl)
        return a - a
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
float_to_int = njit(cache=True, inline="always")(_special_scalar.float_to_int)

float_to_uint64 = njit(cache=True, inline="always")(_special_scalar.float_to_uint64)


@njit(cache=True, inline="always")
def _tanh_f32(x):
    """tanh of a float32, computed in float64 with arithmetic only (no libm call), so a
    loop over it vectorises: several times faster than ``tanhf`` in a fused loop, and
    correctly rounded to float32 (libm's ``tanhf`` and NumPy's are within 1-2 ulp).

    tanh|x| = e / (e + 2) with e = expm1(2|x|); expm1(2|x| / 32) is its Taylor sum to the
    z^17 term (relative error < 1e-16 on [0, 0.625]), doubled five times with
    expm1(2z) = e (e + 2), which loses no relative precision (no cancellation anywhere).
    |x| is clamped at 20, where tanh is 1 in float64; NaN passes through the clamp.
    Written out, not as loops over a tuple: those kept LLVM from vectorising."""
    a = np.float64(abs(x))
    z = select(a > 20.0, 20.0, a) * (2.0 / 32.0)
    p = 1.0 / 355687428096000.0
    p = p * z + 1.0 / 20922789888000.0
    p = p * z + 1.0 / 1307674368000.0
    p = p * z + 1.0 / 87178291200.0
    p = p * z + 1.0 / 6227020800.0
    p = p * z + 1.0 / 479001600.0
    p = p * z + 1.0 / 39916800.0
    p = p * z + 1.0 / 3628800.0
    p = p * z + 1.0 / 362880.0
    p = p * z + 1.0 / 40320.0
    p = p * z + 1.0 / 5040.0
    p = p * z + 1.0 / 720.0
    p = p * z + 1.0 / 120.0
    p = p * z + 1.0 / 24.0
    p = p * z + 1.0 / 6.0
    p = p * z + 0.5
    p = p * z + 1.0
    e = p * z
    e = e * (e + 2.0)
    e = e * (e + 2.0)
    e = e * (e + 2.0)
    e = e * (e + 2.0)
    e = e * (e + 2.0)
    return math.copysign(e / (e + 2.0), np.float64(x))


def tanh(x):
    """``np.tanh`` for generated loops: float32 arguments take ``_tanh_f32``."""
    return np.tanh(x)


@overload(tanh, inline="always")
def _tanh_overload(x):
    if isinstance(x, types.Float) and x.bitwidth == 32:
        return lambda x: _tanh_f32(x)
    return lambda x: np.tanh(x)
