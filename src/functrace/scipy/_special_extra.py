"""The Faddeeva function and its relatives for ``functrace.scipy.special``
(``jax.scipy.special.wofz``, ``dawsn``, ``fresnel``) and Owen's T function
(``owens_t``).

``w(z) = exp(-z**2) erfc(-i z)`` is Weideman's rational approximation in the upper
half-plane (J. A. C. Weideman, SIAM J. Numer. Anal. 31 (1994) 1497): with
``Z = (L + i z) / (L - i z)``, ``w(z) = 2 p(Z) / (L - i z)**2 + 1 / (sqrt(pi) (L - i z))``
for a polynomial ``p`` of degree ``N - 1`` whose coefficients are an FFT of a host
function, computed once at import. ``N = 40`` is within ~2e-14 of ``|w|`` everywhere in
``Im z >= 0``; the lower half-plane is ``2 exp(-z**2) - w(-z)``. Complex arithmetic is
carried as real/imaginary pairs in real lax ops, and joined with ``lax.complex`` only at
the end, so every transformation sees real arrays. Dawson's integral is
``sqrt(pi) / 2 Im w(x)`` and the Fresnel integrals are
``C + i S = (1 + i) / 2 (1 - exp(i pi x**2 / 2) w((1 + i) sqrt(pi) / 2 x))``, each with a
short Taylor series near 0 (where those identities cancel). Derivatives are closed
forms in ``custom_jvp``.
"""

from __future__ import annotations

import math

import numpy as np

from .. import lax
from .. import numpy as fnp
from ..numpy._promote import promote_args
from ..transforms.custom import custom_jvp

_SQRT_PI = math.sqrt(math.pi)
_W_TERMS = 40


def _weideman_coefficients(n: int):
    m = 2 * n
    k = np.arange(-m + 1, m)
    scale = math.sqrt(n / math.sqrt(2.0))
    t = scale * np.tan(k * np.pi / (2 * m))
    f = np.concatenate([[0.0], np.exp(-t * t) * (scale * scale + t * t)])
    a = np.real(np.fft.fft(np.fft.fftshift(f))) / (2 * m)
    return scale, tuple(float(v) for v in a[1:n + 1][::-1])   # highest degree first


_W_L, _W_COEFS = _weideman_coefficients(_W_TERMS)
# Taylor coefficients: D(x) = x sum_n (-2 x**2)**n / (2n+1)!!   (|x| < 1/2)
_DAWSN_SWITCH = 0.5
_DAWSN_TAYLOR = tuple((-2.0) ** n / math.prod(range(1, 2 * n + 2, 2)) for n in range(15))
# C(x) = x sum_n c_n x**(4n), S(x) = x**3 sum_n s_n x**(4n)   (|x| <= 1)
_FRESNEL_SWITCH = 1.0
_FRESNEL_C = tuple((-1.0) ** n * (math.pi / 2) ** (2 * n) / (math.factorial(2 * n) * (4 * n + 1))
                   for n in range(14))
_FRESNEL_S = tuple((-1.0) ** n * (math.pi / 2) ** (2 * n + 1)
                   / (math.factorial(2 * n + 1) * (4 * n + 3)) for n in range(14))


def _float(*xs):
    return promote_args("scipy.special", *xs, inexact=True)


def _horner(coefs, t):
    acc = fnp.full_like(t, coefs[-1])
    for c in coefs[-2::-1]:
        acc = acc * t + c
    return acc


# ---------------------------------------------------------------------------
# complex arithmetic on (real, imag) pairs

def _cmul(ar, ai, br, bi):
    return ar * br - ai * bi, ar * bi + ai * br


def _cdiv(ar, ai, br, bi):
    # Smith's algorithm: no overflow of br**2 + bi**2 for huge |b|
    wide = fnp.abs(br) >= fnp.abs(bi)
    one = fnp.ones_like(br)
    r = fnp.where(wide, bi / fnp.where(wide, br, one), br / fnp.where(wide, one, bi))
    d = fnp.where(wide, br + bi * r, bi + br * r)
    re = fnp.where(wide, ar + ai * r, ar * r + ai) / d
    im = fnp.where(wide, ai - ar * r, ai * r - ar) / d
    return re, im


def _square_parts(x):
    """``x * x == p + r`` exactly (Dekker's split; no fused multiply-add needed)."""
    split = 4097.0 if x.dtype == np.float32 else 134217729.0
    c = split * x
    hi = c - (c - x)
    lo = x - hi
    p = x * x
    return p, ((hi * hi - p) + 2.0 * hi * lo) + lo * lo


def _w_upper(x, y):
    """``w(x + i y)`` for finite ``y >= 0``, as a (real, imag) pair."""
    dr, di = _W_L + y, -x                          # L - i z
    zr, zi = _cdiv(_W_L - y, x, dr, di)            # Z = (L + i z) / (L - i z)

    def step(p, coef):
        pr, pi = _cmul(p[0], p[1], zr, zi)
        return (pr + coef, pi), None

    coefs = np.asarray(_W_COEFS, x.dtype)
    (pr, pi), _ = lax.scan(step, (fnp.zeros_like(x), fnp.zeros_like(x)), coefs)
    qr, qi = _cdiv(fnp.ones_like(x), fnp.zeros_like(x), dr, di)    # 1 / (L - i z)
    tr, ti = _cmul(pr, pi, qr, qi)
    return _cmul(qr, qi, 2.0 * tr + 1.0 / _SQRT_PI, 2.0 * ti)


# ---------------------------------------------------------------------------
# wofz

def _wofz_core(x, y):
    finite = fnp.isfinite(x) & fnp.isfinite(y)
    zero = fnp.zeros_like(x)
    upper = y >= 0
    xs = fnp.where(finite, fnp.where(upper, x, -x), zero)
    ys = fnp.where(finite, fnp.abs(y), zero)
    wr, wi = _w_upper(xs, ys)
    # lower half-plane: w(z) = 2 exp(-z**2) - w(-z)
    mag = fnp.exp((ys - xs) * (ys + xs))
    er, ei = 2.0 * mag * fnp.cos(2.0 * xs * ys), -2.0 * mag * fnp.sin(2.0 * xs * ys)
    wr = fnp.where(upper, wr, er - wr)
    wi = fnp.where(upper, wi, ei - wi)
    # on the real axis Re w(x) = exp(-x**2), to full relative precision
    p, r = _square_parts(xs)
    wr = fnp.where(y == 0, fnp.exp(-p) * fnp.exp(-r), wr)
    # w -> 0 as |z| -> inf in the closed upper half-plane
    inf_up = ~finite & upper & ~fnp.isnan(x) & ~fnp.isnan(y)
    nan = fnp.full_like(x, np.nan)
    wr = fnp.where(finite, wr, fnp.where(inf_up, zero, nan))
    wi = fnp.where(finite, wi, fnp.where(inf_up, zero, nan))
    return wr, wi


@custom_jvp
def _wofz_parts(x, y):
    return _wofz_core(x, y)


@_wofz_parts.defjvp
def _wofz_parts_jvp(primals, tangents):
    (x, y), (dx, dy) = primals, tangents
    wr, wi = _wofz_parts(x, y)
    # w'(z) = -2 z w(z) + 2 i / sqrt(pi); dw = w'(z) (dx + i dy)
    gr, gi = _cmul(x, y, wr, wi)
    gr, gi = -2.0 * gr, -2.0 * gi + 2.0 / _SQRT_PI
    return (wr, wi), _cmul(gr, gi, dx, dy)


def wofz(z):
    """The Faddeeva function ``w(z) = exp(-z**2) erfc(-i z)`` of a real or complex
    argument; the result is complex (``complex64`` for ``float32`` / ``complex64``
    input). Within ~2e-14 (float64) of ``|w(z)|``; on the real axis
    ``Re w(x) = exp(-x**2)`` to full relative precision. ``w(z) -> 0`` as ``|z| -> inf``
    in the upper half-plane; it overflows in the lower one, as SciPy's does.

    Example:
        >>> import numpy as np
        >>> w = wofz(np.float32(1.0))
        >>> round(float(w.real), 5), round(float(w.imag), 5)
        (0.36788, 0.60716)
    """
    z = fnp.asarray(z)
    if fnp.iscomplexobj(z):
        x, y = lax.real(z), lax.imag(z)
    else:
        x = fnp.asarray(_float(z)[0])
        y = fnp.zeros_like(x)
    wr, wi = _wofz_parts(x, y)
    return lax.complex(wr, wi)


# ---------------------------------------------------------------------------
# dawsn

@custom_jvp
def _dawsn(x):
    ax = fnp.abs(x)
    small = ax < _DAWSN_SWITCH
    xs = fnp.where(small, x, fnp.zeros_like(x))
    taylor = xs * _horner(_DAWSN_TAYLOR, xs * xs)
    xl = fnp.where(small | ~fnp.isfinite(ax), fnp.ones_like(x), ax)
    _, wi = _w_upper(xl, fnp.zeros_like(x))
    large = 0.5 * _SQRT_PI * wi
    large = fnp.where(ax == np.inf, fnp.zeros_like(x), large)
    large = fnp.where(x < 0, -large, large)
    out = fnp.where(small, taylor, large)
    return fnp.where(fnp.isnan(x), x, out)


@_dawsn.defjvp
def _dawsn_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    d = _dawsn(x)
    return d, (1.0 - 2.0 * x * d) * dx


def dawsn(x):
    """Dawson's integral ``D(x) = exp(-x**2) integral_0^x exp(t**2) dt`` (real ``x``):
    odd, ``~ 1 / (2 x)`` for large ``|x|``, 0 at ``+-inf``; ``D'(x) = 1 - 2 x D(x)``.

    Example:
        >>> import numpy as np
        >>> round(float(dawsn(np.float32(1.0))), 5)
        0.53808
    """
    (x,) = _float(x)
    return _dawsn(fnp.asarray(x))


# ---------------------------------------------------------------------------
# fresnel

def _half_pi_square_phase(x):
    """``pi x**2 / 2`` reduced modulo ``2 pi`` without the rounding of ``x**2``."""
    p, r = _square_parts(x)
    return 0.5 * np.pi * (fnp.remainder(p, 4.0) + r)


@custom_jvp
def _fresnel(x):
    dt = x.dtype
    ax = fnp.abs(x)
    small = ax <= _FRESNEL_SWITCH
    xs = fnp.where(small, ax, fnp.zeros_like(x))
    t = (xs * xs) * (xs * xs)
    c_small = xs * _horner(_FRESNEL_C, t)
    s_small = xs * xs * xs * _horner(_FRESNEL_S, t)
    # beyond 1 / (pi eps) the oscillating part is below half an ulp of 1/2
    huge = ax > 1.0 / (np.pi * float(np.finfo(dt).eps))
    xl = fnp.where(small | huge | fnp.isnan(ax), fnp.full_like(x, 2.0), ax)
    s = 0.5 * _SQRT_PI * xl
    wr, wi = _w_upper(s, s)
    ph = _half_pi_square_phase(xl)
    er, ei = _cmul(fnp.cos(ph), fnp.sin(ph), wr, wi)
    re, im = 1.0 - er, -ei                       # C + i S = (1 + i) / 2 (re + i im)
    c_large, s_large = 0.5 * (re - im), 0.5 * (re + im)
    half = fnp.full_like(x, 0.5)
    c = fnp.where(small, c_small, fnp.where(huge, half, c_large))
    s = fnp.where(small, s_small, fnp.where(huge, half, s_large))
    neg = x < 0
    c, s = fnp.where(neg, -c, c), fnp.where(neg, -s, s)
    nan = fnp.isnan(x)
    return fnp.where(nan, x, s), fnp.where(nan, x, c)


@_fresnel.defjvp
def _fresnel_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    ph = _half_pi_square_phase(fnp.abs(x))
    return _fresnel(x), (fnp.sin(ph) * dx, fnp.cos(ph) * dx)


def fresnel(x):
    """The Fresnel integrals ``(S(x), C(x))``, ``S(x) = integral_0^x sin(pi t**2 / 2) dt``
    and ``C(x) = integral_0^x cos(pi t**2 / 2) dt`` (real ``x``; SciPy's order, S
    first). Both are odd and tend to ``+-1/2``; derivatives ``sin(pi x**2 / 2)`` and
    ``cos(pi x**2 / 2)``. Unlike JAX's (accurate on [-10, 10] only) the phase
    ``pi x**2 / 2`` is reduced exactly, so large arguments keep their accuracy.

    Example:
        >>> import numpy as np
        >>> [round(float(v), 5) for v in fresnel(np.float32(1.0))]
        [0.43826, 0.77989]
    """
    (x,) = _float(x)
    return _fresnel(fnp.asarray(x))


# ---------------------------------------------------------------------------
# owens_t

_GL_NODES, _GL_WEIGHTS = (tuple(float(v) for v in arr)
                          for arr in np.polynomial.legendre.leggauss(20))
_OWENS_CUT = 8.5   # exp(-_OWENS_CUT**2 / 2) ~ 2e-16: the integrand is negligible beyond


def _owens_t_small_a(h, a):
    """``T(h, a)`` for ``h >= 0``, ``0 <= a <= 1``: 20-point Gauss-Legendre on
    ``[0, b]``, ``b = min(a, 8.5 / h)`` (the Gaussian factor has died out past ``b``)."""
    reach = fnp.where(h > 0, _OWENS_CUT / fnp.where(h > 0, h, fnp.ones_like(h)),
                      fnp.full_like(h, np.inf))
    b = fnp.minimum(a, reach)
    nodes = np.asarray(_GL_NODES, h.dtype)
    weights = np.asarray(_GL_WEIGHTS, h.dtype)
    t = fnp.expand_dims(0.5 * b, -1) * (nodes + 1.0)
    t2 = 1.0 + t * t
    hh = fnp.expand_dims(h * h, -1)
    f = fnp.exp(-0.5 * hh * t2) / t2
    return 0.5 * b * fnp.sum(f * weights, axis=-1) / (2.0 * np.pi)


def _upper_normal_tail(x):
    return 0.5 * lax.erfc(x / math.sqrt(2.0))


@custom_jvp
def _owens_t(h, a):
    ah, aa = fnp.abs(h), fnp.abs(a)
    big = aa > 1.0
    # T(h, a) = Q(h)/2 + Q(a h)/2 - Q(h) Q(a h) - T(a h, 1/a)  for h >= 0, a > 1
    one = fnp.ones_like(h)
    inv = 1.0 / fnp.where(big, aa, one)
    hk = fnp.where(big, ah * fnp.where(fnp.isfinite(aa), aa, one), ah)
    hk = fnp.where(fnp.isfinite(hk), hk, fnp.zeros_like(h))
    t = _owens_t_small_a(hk, fnp.where(big, inv, aa))
    qh, qah = _upper_normal_tail(ah), _upper_normal_tail(ah * aa)
    reflected = 0.5 * qh + 0.5 * qah - qh * qah - t
    out = fnp.where(big, reflected, t)
    out = fnp.where(aa == np.inf, 0.5 * qh, out)
    out = fnp.where(ah == 0, lax.atan(aa) / (2.0 * np.pi), out)
    out = fnp.where(ah == np.inf, fnp.zeros_like(h), out)
    out = fnp.where(a < 0, -out, out)          # odd in a, even in h
    return fnp.where(fnp.isnan(h) | fnp.isnan(a), fnp.full_like(h, np.nan), out)


@_owens_t.defjvp
def _owens_t_jvp(primals, tangents):
    (h, a), (dh, da) = primals, tangents
    # dT/dh = -phi(h) erf(a h / sqrt 2) / 2,  dT/da = exp(-h**2 (1 + a**2) / 2) / (2 pi (1 + a**2))
    e = fnp.exp(-0.5 * h * h)
    d_h = -e / math.sqrt(2.0 * np.pi) * 0.5 * lax.erf(a * h / math.sqrt(2.0))
    s = 1.0 + a * a
    d_a = e * fnp.exp(-0.5 * (h * a) * (h * a)) / (2.0 * np.pi * s)
    return _owens_t(h, a), d_h * dh + d_a * da


def owens_t(h, a):
    """Owen's T function ``T(h, a) = 1 / (2 pi) integral_0^a exp(-h**2 (1 + x**2) / 2) /
    (1 + x**2) dx`` (real arguments): even in ``h``, odd in ``a``; ``atan(a) / (2 pi)`` at
    ``h = 0``, ``Q(|h|) / 2`` at ``a = +-inf`` (``Q`` the upper normal tail), 0 at
    ``h = +-inf``. Gauss-Legendre quadrature for ``|a| <= 1`` and the reflection
    ``T(h, a) = (Q(h) + Q(a h)) / 2 - Q(h) Q(a h) - T(a h, 1/a)`` above; differentiable in
    both arguments (closed forms).

    Example:
        >>> import numpy as np
        >>> round(float(owens_t(np.float32(0.5), np.float32(1.0))), 5)
        0.10667
    """
    h, a = _float(h, a)
    h, a = fnp.broadcast_arrays(h, a)
    return _owens_t(h, a)
