"""``jax.scipy.special.hyp1f1``: Kummer's confluent hypergeometric function by its power
series, summed over ``|x|`` after Kummer's transformation for ``x < 0`` (so the terms do
not alternate for ``b > a > 0``), with derivatives in all three arguments."""

from __future__ import annotations

import numpy as np

from .. import lax
from .. import numpy as fnp
from ..numpy._promote import promote_args
from ..transforms.custom import custom_jvp

_MAX_TERMS = 5000


def _series(a, b, x):
    """``M(a, b, x)`` for ``x >= 0`` and its partial derivatives in ``a`` and ``b``:
    ``sum_k t_k`` with ``t_k = (a)_k x**k / ((b)_k k!)``, ``d t_k / da = t_k sum_{j<k}
    1 / (a + j)`` and ``d t_k / db = -t_k sum_{j<k} 1 / (b + j)``. Summed until the terms
    fall below an ulp of the sum, past the peak of the terms (``k > x``)."""
    eps = float(np.finfo(x.dtype).eps)
    zero, one = fnp.zeros_like(x), fnp.ones_like(x)

    def cond(carry):
        k, t, s = carry[0], carry[1], carry[2]
        active = (fnp.abs(t) > eps * fnp.abs(s)) | (lax.convert_element_type(k, x.dtype) <= x)
        return (k < _MAX_TERMS) & fnp.any(active)

    def body(carry):
        k, t, s, ha, hb, sa, sb = carry
        kf = lax.convert_element_type(k, x.dtype)
        a_k, b_k = a + kf, b + kf
        # (b)_k has a zero factor only past a terminating numerator (b <= a <= 0 integers)
        b_safe = fnp.where(b_k == 0, one, b_k)
        t = t * a_k / b_safe * x / (kf + 1.0)
        ha = ha + fnp.where(a_k == 0, zero, 1.0 / fnp.where(a_k == 0, one, a_k))
        hb = hb + 1.0 / b_safe
        return k + 1, t, s + t, ha, hb, sa + t * ha, sb - t * hb

    k0 = np.zeros((), np.int32)
    _, _, s, _, _, sa, sb = lax.while_loop(cond, body, (k0, one, one, zero, zero, zero, zero))
    return s, sa, sb


def _parts(a, b, x):
    neg = x < 0
    c = fnp.where(neg, b - a, a)                  # M(a, b, x) = e**x M(b - a, b, -x)
    m, dmc, dmb = _series(c, b, fnp.abs(x))
    pref = fnp.where(neg, fnp.exp(x), fnp.ones_like(x))
    value = pref * m
    d_a = fnp.where(neg, -pref * dmc, dmc)
    d_b = fnp.where(neg, pref * (dmc + dmb), dmb)
    # b a pole of the series (a non-positive integer) unless a terminates it first
    b_pole = (b <= 0) & (b == fnp.floor(b))
    a_stops = (a <= 0) & (a == fnp.floor(a)) & (a > b)
    value = fnp.where(b_pole & ~a_stops, fnp.full_like(x, np.inf), value)
    value = fnp.where((a == 0) & (b == 0), fnp.ones_like(x), value)    # JAX's convention
    bad = fnp.isnan(a) | fnp.isnan(b) | fnp.isnan(x)
    return fnp.where(bad, fnp.full_like(x, np.nan), value), d_a, d_b


@custom_jvp
def _hyp1f1(a, b, x):
    return _parts(a, b, x)[0]


@_hyp1f1.defjvp
def _hyp1f1_jvp(primals, tangents):
    (a, b, x), (da, db, dx) = primals, tangents
    value, d_a, d_b = _parts(a, b, x)
    d_x = a / b * _hyp1f1(a + 1.0, b + 1.0, x)   # M' = (a / b) M(a + 1, b + 1, x)
    return value, d_a * da + d_b * db + d_x * dx


def hyp1f1(a, b, x):
    """Kummer's confluent hypergeometric function ``1F1(a; b; x) = sum_k (a)_k x**k /
    ((b)_k k!)`` for real arguments (meant, as JAX's, for ``a, b > 0``), with
    ``hyp1f1(0, 0, x) = 1`` (JAX's convention; SciPy says ``inf``) and ``inf`` where
    ``b`` is a non-positive integer. Differentiable in ``a``, ``b`` and ``x``. Very large
    values (``x`` near the dtype's ``log(max)``) lose accuracy: use float64 there.

    Example:
        >>> import numpy as np
        >>> round(float(hyp1f1(np.float32(1.0), np.float32(1.0), np.float32(1.0))), 5)
        2.71828
    """
    a, b, x = promote_args("scipy.special.hyp1f1", a, b, x, inexact=True)
    a, b, x = fnp.broadcast_arrays(a, b, x)
    return _hyp1f1(a, b, x)
