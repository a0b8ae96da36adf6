"""Gauss's hypergeometric function and the spherical harmonics for
``functrace.scipy.special`` (``jax.scipy.special.hyp2f1``, ``sph_harm_y``).

``hyp2f1`` sums its power series in a ``lax.while_loop`` until the terms fall below an
ulp of the sum, after a transformation that keeps the series argument in ``[0, 1)``:
Euler's ``(1 - x)**(c - a - b) 2F1(c - a, c - b; c; x)`` when ``c - a - b < 0`` (so the
terms decay), Pfaff's ``(1 - x)**-a 2F1(a, c - b; c; x / (x - 1))`` for ``x < 0``. The
loop also accumulates the derivatives in ``a``, ``b`` and ``c``, so the whole function
differentiates through a ``custom_jvp`` without reverse mode entering the loop.

``sph_harm_y`` runs the standard stable recurrences for the fully normalised associated
Legendre functions (first along the diagonal ``P_m^m``, then up in degree) in a
``lax.fori_loop`` of ``n_max`` steps, so it differentiates in ``theta`` and ``phi`` by
ordinary autodiff. Its complex result is joined from real parts with ``lax.complex``.
"""

from __future__ import annotations

import math

import numpy as np

from .. import lax
from .. import numpy as fnp
from ..errors import ConcretizationError, FunctraceError
from ..numpy._promote import promote_args
from ..transforms.custom import custom_jvp

_MAX_TERMS = 5000


def _float(*xs):
    return promote_args("scipy.special", *xs, inexact=True)


def _npint(v):
    """``v`` is a non-positive integer (a pole of Gamma, a terminating Pochhammer)."""
    return (v <= 0) & (v == fnp.floor(v))


# ---------------------------------------------------------------------------
# hyp2f1

def _series(a, b, c, z, with_grads: bool):
    """``sum_k t_k``, ``t_k = (a)_k (b)_k z**k / ((c)_k k!)``, for ``0 <= z < 1``, and its
    partial derivatives in ``a``, ``b``, ``c`` (``d t_k / da = t_k sum_{j<k} 1 / (a + j)``,
    the same for ``b``, and ``-t_k sum_{j<k} 1 / (c + j)`` for ``c``; zeros unless
    ``with_grads``, which keeps the loop, and its compile time, small for the primal).
    Summed while a term exceeds an ulp of the sum or the terms still grow."""
    eps = float(np.finfo(z.dtype).eps)
    zero, one = fnp.zeros_like(z), fnp.ones_like(z)

    def inv(v):
        return fnp.where(v == 0, zero, 1.0 / fnp.where(v == 0, one, v))

    def ratio(k, kf):
        a_k, b_k, c_k = a + kf, b + kf, c + kf
        # (c)_k has a zero factor only past a terminated numerator (poles are masked)
        return a_k * b_k / fnp.where(c_k == 0, one, c_k) * z / (kf + 1.0)

    def cond(carry):
        k, t, s = carry[0], carry[1], carry[2]
        kf = lax.convert_element_type(k, z.dtype)
        active = (fnp.abs(t) > eps * fnp.abs(s)) | (fnp.abs(ratio(k, kf)) >= 1.0)
        return (k < _MAX_TERMS) & fnp.any(active & (t != 0) & fnp.isfinite(t))

    def body(carry):
        k, t, s = carry[:3]
        kf = lax.convert_element_type(k, z.dtype)
        t = t * ratio(k, kf)
        if not with_grads:
            return k + 1, t, s + t
        ha, hb, hc, sa, sb, sc = carry[3:]
        ha, hb, hc = ha + inv(a + kf), hb + inv(b + kf), hc + inv(c + kf)
        return k + 1, t, s + t, ha, hb, hc, sa + t * ha, sb + t * hb, sc - t * hc

    k0 = np.zeros((), np.int32)
    init = (k0, one, one) + ((zero,) * 6 if with_grads else ())
    out = lax.while_loop(cond, body, init)
    if not with_grads:
        return out[2], zero, zero, zero
    return out[2], out[6], out[7], out[8]


def _hyp2f1_parts(a, b, c, x, with_grads: bool):
    """``2F1(a, b; c; x)`` and its derivatives in ``a``, ``b``, ``c``."""
    one, zero = fnp.ones_like(x), fnp.zeros_like(x)
    # symmetric in a, b: put a terminating (non-positive integer) parameter first
    swap = _npint(b) & ~_npint(a)
    a, b = fnp.where(swap, b, a), fnp.where(swap, a, b)
    neg = x < 0
    inside = (x < 1) & fnp.isfinite(x)
    d = c - a - b
    euler = ~neg & (d < 0) & ~_npint(a)
    xs = fnp.where(inside, x, zero)
    log1m = fnp.log1p(-xs)
    z = fnp.where(neg, xs / (xs - 1.0), xs)
    p = fnp.where(euler, c - a, a)
    q = fnp.where(neg | euler, c - b, b)
    s, sp, sq, sr = _series(p, q, c, z, with_grads)
    # Pfaff: (1 - x)**-a S(a, c - b, c);  Euler: (1 - x)**d S(c - a, c - b, c)
    pref = fnp.exp(fnp.where(neg, -a, fnp.where(euler, d, zero)) * log1m)
    value = pref * s
    d_a = fnp.where(neg, -log1m * value + pref * sp,
                    fnp.where(euler, -log1m * value - pref * sp, pref * sp))
    d_b = fnp.where(neg, -pref * sq, fnp.where(euler, -log1m * value - pref * sq, pref * sq))
    d_c = fnp.where(neg, pref * (sq + sr),
                    fnp.where(euler, log1m * value + pref * (sp + sq + sr), pref * sr))
    d_a, d_b = fnp.where(swap, d_b, d_a), fnp.where(swap, d_a, d_b)
    a, b = fnp.where(swap, b, a), fnp.where(swap, a, b)
    # x == 1: Gauss's sum Gamma(c) Gamma(d) / (Gamma(c - a) Gamma(c - b)) for d > 0
    gauss = _gamma_quotient(c, d, c - a, c - b)
    value = fnp.where(x == 1, fnp.where(d > 0, gauss, fnp.full_like(x, np.inf)), value)
    value = fnp.where(x > 1, fnp.full_like(x, np.inf), value)
    # poles of (c)_k, unless a terminating numerator stops the series first
    stops = (_npint(a) & (a > c)) | (_npint(b) & (b > c))
    value = fnp.where(_npint(c) & ~stops, fnp.full_like(x, np.inf), value)
    value = fnp.where((x == 0) | (((a == 0) | (b == 0)) & ~_npint(c)), one, value)
    bad = fnp.isnan(a) | fnp.isnan(b) | fnp.isnan(c) | fnp.isnan(x) | (x == -np.inf)
    return fnp.where(bad, fnp.full_like(x, np.nan), value), d_a, d_b, d_c


def _gamma_sign(v):
    return fnp.where((v < 0) & (fnp.remainder(fnp.floor(v), 2.0) != 0), -1.0, 1.0)


def _gamma_quotient(p, q, r, s):
    """``Gamma(p) Gamma(q) / (Gamma(r) Gamma(s))`` for ``p, q`` off the poles; 0 where
    ``r`` or ``s`` is a pole."""
    logs = lax.lgamma(p) + lax.lgamma(q) - lax.lgamma(r) - lax.lgamma(s)
    sign = _gamma_sign(p) * _gamma_sign(q) * _gamma_sign(r) * _gamma_sign(s)
    return fnp.where(_npint(r) | _npint(s), fnp.zeros_like(p), sign * fnp.exp(logs))


@custom_jvp
def _hyp2f1(a, b, c, x):
    return _hyp2f1_parts(a, b, c, x, False)[0]


@_hyp2f1.defjvp
def _hyp2f1_jvp(primals, tangents):
    (a, b, c, x), (da, db, dc, dx) = primals, tangents
    value, d_a, d_b, d_c = _hyp2f1_parts(a, b, c, x, True)
    d_x = a * b / c * _hyp2f1(a + 1.0, b + 1.0, c + 1.0, x)
    return value, d_a * da + d_b * db + d_c * dc + d_x * dx


def hyp2f1(a, b, c, x):
    """Gauss's hypergeometric function ``2F1(a, b; c; x) = sum_k (a)_k (b)_k x**k /
    ((c)_k k!)`` for real arguments and ``x <= 1`` (``inf`` for ``x > 1``, at ``x = 1``
    when ``c - a - b <= 0``, and where ``c`` is a non-positive integer that no
    terminating ``a`` or ``b`` cuts off, as in SciPy and JAX). Differentiable in all four
    arguments (``d/dx = a b / c 2F1(a + 1, b + 1; c + 1; x)``; the parameter derivatives
    are the series', for ``x < 1``). The series converges slowly as ``x -> 1`` or
    ``x -> -inf``: it stops after 5000 terms, which is full float64 precision up to
    ``x = 0.99`` and down to ``x = -100`` but only ~1e-4 at ``x = 0.999`` or ``-1000``
    (no ``1 - x`` or ``1 / x`` transformations, as in JAX); large values lose precision
    in float32, as JAX warns.

    Example:
        >>> import numpy as np
        >>> round(float(hyp2f1(1.0, 1.0, 2.0, np.float32(0.5))), 5)  # -log(1 - x) / x
        1.38629
    """
    a, b, c, x = _float(a, b, c, x)
    a, b, c, x = fnp.broadcast_arrays(a, b, c, x)
    return _hyp2f1(a, b, c, x)


# ---------------------------------------------------------------------------
# sph_harm_y

def _legendre_normalised(n, m, cos_t, sin_t, n_max: int):
    """``sqrt((2n+1)/(4 pi) (n-m)!/(n+m)!) P_n^m(cos theta)`` (Condon-Shortley phase) for
    ``0 <= m``; 0 where ``m > n``; degrees above ``n_max`` get degree ``n_max``."""
    dt = cos_t.dtype
    p0 = fnp.full_like(cos_t, 1.0 / math.sqrt(4.0 * math.pi))

    def body(j, carry):
        lo, hi, out = carry           # P at degrees max(j-1, m) - 1 and max(j-1, m)
        jf = lax.convert_element_type(j, dt)
        diag = -fnp.sqrt((2.0 * jf + 1.0) / (2.0 * jf)) * sin_t * hi
        # three-term recurrence in the degree jf, for jf > m
        den = fnp.where(jf > m, jf * jf - m * m, fnp.ones_like(m))
        a_j = fnp.sqrt((4.0 * jf * jf - 1.0) / den)
        den_prev = (jf - 1.0) * (jf - 1.0) - m * m
        ok = den_prev > 0                # no degree j - 2 when j - 1 == m (nor below)
        a_prev = fnp.sqrt(fnp.where(ok, (4.0 * (jf - 1.0) ** 2 - 1.0)
                                    / fnp.where(ok, den_prev, fnp.ones_like(m)),
                                    fnp.ones_like(m)))
        lo_term = fnp.where(ok, lo / a_prev, fnp.zeros_like(lo))
        up = a_j * (cos_t * hi - lo_term)
        on_diag = jf <= m
        new_lo = fnp.where(on_diag, fnp.zeros_like(lo), hi)
        new_hi = fnp.where(on_diag, diag, up)
        out = fnp.where(n == jf, new_hi, out)
        return new_lo, new_hi, out

    init = (fnp.zeros_like(cos_t), p0, fnp.where(n == 0, p0, fnp.zeros_like(p0)))
    _, last, out = lax.fori_loop(1, n_max + 1, body, init)
    out = fnp.where(n > n_max, last, out)
    return fnp.where(m > n, fnp.zeros_like(out), out)


def sph_harm_y(n, m, theta, phi, diff_n=None, n_max=None):
    """The spherical harmonics ``Y_n^m(theta, phi) = N_n^m P_n^m(cos theta) exp(i m
    phi)`` in SciPy's ``sph_harm_y`` convention (degree ``n >= 0``, order ``|m| <= n``,
    polar angle ``theta`` in [0, pi], azimuth ``phi`` in [0, 2 pi], Condon-Shortley
    phase, orthonormal on the sphere); complex (``complex64`` for float32 angles), 0
    where ``|m| > n``. As in JAX, ``n_max`` (a Python int) bounds the degrees; without it
    ``n`` must be concrete (pass ``n_max`` under ``jit``), and degrees above ``n_max``
    are clipped to it. ``diff_n`` is not supported (as in JAX). Differentiable in
    ``theta`` and ``phi``.

    Example:
        >>> import numpy as np
        >>> y = sph_harm_y(1, 0, np.float32(0.0), np.float32(0.0))
        >>> round(float(y.real), 5)  # sqrt(3 / (4 pi))
        0.4886
    """
    if diff_n is not None:
        raise NotImplementedError("sph_harm_y: diff_n is not supported (as in JAX); "
                                  "differentiate with grad/jvp instead")
    if n_max is None:
        try:
            n_max = int(np.max(np.asarray(n)))
        except (FunctraceError, TypeError) as err:
            raise ConcretizationError(
                "sph_harm_y: n is traced, so its maximum is unknown; pass n_max= (a "
                "Python int bounding n)") from err
    if not isinstance(n_max, (int, np.integer)) or isinstance(n_max, bool):
        raise TypeError(f"sph_harm_y: n_max must be a Python int, got {n_max!r}")
    n_max = max(int(n_max), 0)
    theta, phi = _float(theta, phi)
    dt = fnp.result_type(theta)
    n = lax.convert_element_type(fnp.asarray(n), dt)
    m = lax.convert_element_type(fnp.asarray(m), dt)
    n, m, theta, phi = fnp.broadcast_arrays(n, m, theta, phi)
    am = fnp.abs(m)
    p = _legendre_normalised(n, am, fnp.cos(theta), fnp.sin(theta), n_max)
    # Y_n^-m = (-1)**m conj(Y_n^m)
    odd = fnp.remainder(am, 2.0) != 0
    p = fnp.where((m < 0) & odd, -p, p)
    return lax.complex(p * fnp.cos(m * phi), p * fnp.sin(m * phi))
