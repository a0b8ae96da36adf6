"""Scalar algorithms of the incomplete gamma and beta functions, the scaled Bessel
functions and ``erf_inv``, in plain Python on floats (``math`` only).

Written once and used three ways: ``lax/special_more.py`` vectorises them as the
reference impls (``np.vectorize``), and each backend compiles the very same functions
for its fused loops (``njit`` on the CPU, ``cuda.jit(device=True)`` on CUDA; see their
``scalar`` modules). So each function is self-contained: it calls only ``math`` (a
compiled function could not call a plain Python helper), and it never raises.

They compute in float64 whatever the operand dtype (the generated loop casts the
result), following XLA's algorithms as JAX 0.10.2 ports them
(``jax/_src/lax/special.py``): Cephes' power series / continued fraction for the
incomplete gamma family, the Lentz continued fraction (DLMF 8.17.22) for the
incomplete beta, Cephes' Chebyshev expansions for ``i0e``/``i1e`` and M. Giles'
polynomials for ``erf_inv``. Where JAX defines a value at an edge (``igamma(0, 0.5)
= nan``, ``igammac(0, x) = 0``...) the branches below return JAX's value.
"""

from __future__ import annotations

import math

import numpy as np

_EPS = 2.220446049250313e-16
_NAN = math.nan

# modes of igamma_family
IGAMMA, IGAMMAC, IGAMMA_GRAD_A, RANDOM_GAMMA_GRAD = 0, 1, 2, 3


def igamma_family(a, x, mode):
    """``P(a, x)`` (mode 0), ``Q(a, x) = 1 - P`` (1), ``dP/da`` (2) or the derivative of
    a Gamma(a, 1) sample ``x`` in ``a``, ``-(dP/da) / p(x)`` (3)."""
    a = float(a)
    x = float(x)
    if a != a or x != x or x < 0.0 or a < 0.0:
        return _NAN
    if mode >= IGAMMA_GRAD_A:
        if a == 0.0 or x == math.inf:
            return _NAN
        if x == 0.0:
            return 0.0
        use_cf = x > 1.0 and x > a
    else:
        if a == 0.0 and x == 0.0:
            return _NAN
        if x == 0.0:
            return 0.0 if mode == IGAMMA else 1.0
        if x == math.inf:
            return 1.0 if mode == IGAMMA else 0.0
        use_cf = x >= 1.0 and x > a
        if a == 0.0:  # the factor x**a e**-x / Gamma(a) is 0: JAX's series gives 0/0
            if mode == IGAMMAC:
                return 0.0
            return 1.0 if use_cf else _NAN
    ax = math.exp(a * math.log(x) - x - math.lgamma(a))
    grad = mode >= IGAMMA_GRAD_A
    if not use_cf:  # P from its power series
        r, c, ans, dc_da, dans_da = a, 1.0, 1.0, 0.0, 0.0
        for _ in range(100000):
            r += 1.0
            dc_da = dc_da * (x / r) - (c * x) / (r * r)
            dans_da += dc_da
            c *= x / r
            ans += c
            if grad:
                if not abs(dc_da / dans_da) > _EPS:
                    break
            elif not c / ans > _EPS:
                break
        if mode == IGAMMA:
            return ans * ax / a
        if mode == IGAMMAC:
            return 1.0 - ans * ax / a
        y = a + 1.0  # digamma(a + 1)
    else:  # Q from its continued fraction
        y = 1.0 - a
        z = x + y + 1.0
        c = 0.0
        pkm2, qkm2, pkm1 = 1.0, x, x + 1.0
        qkm1 = z * x
        ans = pkm1 / qkm1
        dpkm2, dqkm2, dpkm1, dqkm1 = 0.0, 0.0, 0.0, -x
        dans = (dpkm1 - ans * dqkm1) / qkm1
        while c < 2000.0:
            c += 1.0
            y += 1.0
            z += 2.0
            yc = y * c
            pk = pkm1 * z - pkm2 * yc
            qk = qkm1 * z - qkm2 * yc
            dpk = dpkm1 * z - pkm1 - dpkm2 * yc + pkm2 * c
            dqk = dqkm1 * z - qkm1 - dqkm2 * yc + qkm2 * c
            if qk != 0.0:
                r = pk / qk
                t = abs((ans - r) / r)
                ans = r
                dans_new = (dpk - ans * dqk) / qk
                t_grad = abs(dans_new - dans)
                dans = dans_new
            else:
                t = 1.0
                t_grad = 1.0
            pkm2, pkm1, qkm2, qkm1 = pkm1, pk, qkm1, qk
            dpkm2, dpkm1, dqkm2, dqkm1 = dpkm1, dpk, dqkm1, dqk
            if abs(pk) > 1.0 / _EPS:
                pkm2 *= _EPS
                pkm1 *= _EPS
                qkm2 *= _EPS
                qkm1 *= _EPS
                dpkm2 *= _EPS
                dpkm1 *= _EPS
                dqkm2 *= _EPS
                dqkm1 *= _EPS
            if not (t_grad if grad else t) > _EPS:
                break
        if mode == IGAMMA:
            return 1.0 - ans * ax
        if mode == IGAMMAC:
            return ans * ax
        dans_da = dans
        y = a  # digamma(a)
    # digamma(y), y > 0: the recurrence up to y >= 8, then the asymptotic series
    psi = 0.0
    while y < 8.0:
        psi -= 1.0 / y
        y += 1.0
    inv2 = 1.0 / (y * y)
    psi += math.log(y) - 0.5 / y - inv2 * (1.0 / 12 - inv2 * (1.0 / 120 - inv2 * (
        1.0 / 252 - inv2 * (1.0 / 240 - inv2 / 132))))
    dlogax = math.log(x) - psi
    if not use_cf:
        if mode == IGAMMA_GRAD_A:
            return ax * (ans * dlogax + dans_da) / a
        return -(dans_da + ans * dlogax) * x / a
    if mode == IGAMMA_GRAD_A:
        return -ax * (ans * dlogax + dans_da)
    return (dans_da + ans * dlogax) * x


def betainc(a, b, x):
    """The regularised incomplete beta function ``I_x(a, b)``."""
    a = float(a)
    b = float(b)
    x = float(x)
    a_zero = a == 0.0 or b == math.inf
    b_zero = b == 0.0 or a == math.inf
    if (a != a or b != b or x != x or a < 0.0 or b < 0.0 or x < 0.0 or x > 1.0
            or (a_zero and b_zero)):
        return _NAN
    if (b_zero and x != 1.0) or (a_zero and x == 0.0):
        return 0.0
    if (a_zero and x != 0.0) or (b_zero and x == 1.0):
        return 1.0
    if x == 0.0:
        return 0.0
    if x == 1.0:
        return 1.0
    direct = x < (a + 1.0) / (a + b + 2.0)
    if not direct:  # I_x(a, b) = 1 - I_{1-x}(b, a)
        a, b, x = b, a, 1.0 - x
    small = _EPS / 2
    h = small  # the first partial denominator is 0
    c, d = h, 0.0
    for n in range(1, 600):
        if n == 1:
            num = 1.0
        else:
            m = (n - 1) // 2
            if n % 2 == 0:
                if m == 0:
                    num = -(a + b) * x / (a + 1.0)
                else:
                    num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1.0))
            else:
                num = m * (b - m) * x / ((a + 2 * m - 1.0) * (a + 2 * m))
        c = 1.0 + num / c
        if abs(c) < small:
            c = small
        d = 1.0 + num * d
        if abs(d) < small:
            d = small
        d = 1.0 / d
        delta = c * d
        h *= delta
        if not abs(delta - 1.0) >= small:
            break
    lbeta = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    out = h * math.exp(math.log(x) * a + math.log1p(-x) * b - lbeta) / a
    return out if direct else 1.0 - out


# Cephes' Chebyshev coefficients (i0e.c, i1e.c), for |x| <= 8 in x/2 - 2 and for
# |x| > 8 in 32/x - 2
I0E_A = (
    -4.41534164647933937950e-18, 3.33079451882223809783e-17, -2.43127984654795469359e-16,
    1.71539128555513303061e-15, -1.16853328779934516808e-14, 7.67618549860493561688e-14,
    -4.85644678311192946090e-13, 2.95505266312963983461e-12, -1.72682629144155570723e-11,
    9.67580903537323691224e-11, -5.18979560163526290666e-10, 2.65982372468238665035e-9,
    -1.30002500998624804212e-8, 6.04699502254191894932e-8, -2.67079385394061173391e-7,
    1.11738753912010371815e-6, -4.41673835845875056359e-6, 1.64484480707288970893e-5,
    -5.75419501008210370398e-5, 1.88502885095841655729e-4, -5.76375574538582365885e-4,
    1.63947561694133579842e-3, -4.32430999505057594430e-3, 1.05464603945949983183e-2,
    -2.37374148058994688156e-2, 4.93052842396707084878e-2, -9.49010970480476444210e-2,
    1.71620901522208775349e-1, -3.04682672343198398683e-1, 6.76795274409476084995e-1)
I0E_B = (
    -7.23318048787475395456e-18, -4.83050448594418207126e-18, 4.46562142029675999901e-17,
    3.46122286769746109310e-17, -2.82762398051658348494e-16, -3.42548561967721913462e-16,
    1.77256013305652638360e-15, 3.81168066935262242075e-15, -9.55484669882830764870e-15,
    -4.15056934728722208663e-14, 1.54008621752140982691e-14, 3.85277838274214270114e-13,
    7.18012445138366623367e-13, -1.79417853150680611778e-12, -1.32158118404477131188e-11,
    -3.14991652796324136454e-11, 1.18891471078464383424e-11, 4.94060238822496958910e-10,
    3.39623202570838634515e-9, 2.26666899049817806459e-8, 2.04891858946906374183e-7,
    2.89137052083475648297e-6, 6.88975834691682398426e-5, 3.36911647825569408990e-3,
    8.04490411014108831608e-1)
I1E_A = (
    2.77791411276104639959e-18, -2.11142121435816608115e-17, 1.55363195773620046921e-16,
    -1.10559694773538630805e-15, 7.60068429473540693410e-15, -5.04218550472791168711e-14,
    3.22379336594557470981e-13, -1.98397439776494371520e-12, 1.17361862988909016308e-11,
    -6.66348972350202774223e-11, 3.62559028155211703701e-10, -1.88724975172282928790e-9,
    9.38153738649577178388e-9, -4.44505912879632808065e-8, 2.00329475355213526229e-7,
    -8.56872026469545474066e-7, 3.47025130813767847674e-6, -1.32731636560394358279e-5,
    4.78156510755005422638e-5, -1.61760815825896745588e-4, 5.12285956168575772895e-4,
    -1.51357245063125314899e-3, 4.15642294431288815669e-3, -1.05640848946261981558e-2,
    2.47264490306265168283e-2, -5.29459812080949914269e-2, 1.02643658689847095384e-1,
    -1.76416518357834055153e-1, 2.52587186443633654823e-1)
I1E_B = (
    7.51729631084210481353e-18, 4.41434832307170791151e-18, -4.65030536848935832153e-17,
    -3.20952592199342395980e-17, 2.96262899764595013876e-16, 3.30820231092092828324e-16,
    -1.88035477551078244854e-15, -3.81440307243700780478e-15, 1.04202769841288027642e-14,
    4.27244001671195135429e-14, -2.10154184277266431302e-14, -4.08355111109219731823e-13,
    -7.19855177624590851209e-13, 2.03562854414708950722e-12, 1.41258074366137813316e-11,
    3.25260358301548823856e-11, -1.89749581235054123450e-11, -5.58974346219658380687e-10,
    -3.83538038596423702205e-9, -2.63146884688951950684e-8, -2.51223623787020892529e-7,
    -3.88256480887769039346e-6, -1.10588938762623716291e-4, -9.76109749136146840777e-3,
    7.78576235018280120474e-1)


def bessel_ie(x, order):
    """``exp(-|x|) I_order(x)`` for ``order`` 0 or 1 (odd in ``x`` for order 1)."""
    x = float(x)
    if x != x:
        return _NAN
    z = abs(x)
    if z == math.inf:
        return 0.0
    # one loop per table: a compiled function cannot bind tuples of different lengths
    # to one name
    b0 = 0.0
    b1 = 0.0
    b2 = 0.0
    if z <= 8.0:
        t = 0.5 * z - 2.0
        if order == 0:
            for c in I0E_A:
                b2, b1 = b1, b0
                b0 = t * b1 - b2 + c
        else:
            for c in I1E_A:
                b2, b1 = b1, b0
                b0 = t * b1 - b2 + c
    else:
        t = 32.0 / z - 2.0
        if order == 0:
            for c in I0E_B:
                b2, b1 = b1, b0
                b0 = t * b1 - b2 + c
        else:
            for c in I1E_B:
                b2, b1 = b1, b0
                b0 = t * b1 - b2 + c
    out = 0.5 * (b0 - b2)
    if z > 8.0:
        out /= math.sqrt(z)
    elif order == 1:
        out *= z
    return -out if (order == 1 and x < 0.0) else out


# M. Giles, "Approximating the erfinv function" (as XLA): polynomials in w = -log1p(-x^2)
ERF_INV_LT_6_25 = (
    -3.6444120640178196996e-21, -1.685059138182016589e-19, 1.2858480715256400167e-18,
    1.115787767802518096e-17, -1.333171662854620906e-16, 2.0972767875968561637e-17,
    6.6376381343583238325e-15, -4.0545662729752068639e-14, -8.1519341976054721522e-14,
    2.6335093153082322977e-12, -1.2975133253453532498e-11, -5.4154120542946279317e-11,
    1.051212273321532285e-09, -4.1126339803469836976e-09, -2.9070369957882005086e-08,
    4.2347877827932403518e-07, -1.3654692000834678645e-06, -1.3882523362786468719e-05,
    0.0001867342080340571352, -0.00074070253416626697512, -0.0060336708714301490533,
    0.24015818242558961693, 1.6536545626831027356)
ERF_INV_LT_16 = (
    2.2137376921775787049e-09, 9.0756561938885390979e-08, -2.7517406297064545428e-07,
    1.8239629214389227755e-08, 1.5027403968909827627e-06, -4.013867526981545969e-06,
    2.9234449089955446044e-06, 1.2475304481671778723e-05, -4.7318229009055733981e-05,
    6.8284851459573175448e-05, 2.4031110387097893999e-05, -0.0003550375203628474796,
    0.00095328937973738049703, -0.0016882755560235047313, 0.0024914420961078508066,
    -0.0037512085075692412107, 0.005370914553590063617, 1.0052589676941592334,
    3.0838856104922207635)
ERF_INV_GE_16 = (
    -2.7109920616438573243e-11, -2.5556418169965252055e-10, 1.5076572693500548083e-09,
    -3.7894654401267369937e-09, 7.6157012080783393804e-09, -1.4960026627149240478e-08,
    2.9147953450901080826e-08, -6.7711997758452339498e-08, 2.2900482228026654717e-07,
    -9.9298272942317002539e-07, 4.5260625972231537039e-06, -1.9681778105531670567e-05,
    7.5995277030017761139e-05, -0.00021503011930044477347, -0.00013871931833623122026,
    1.0103004648645343977, 4.8499064014085844221)


def erf_inv(x):
    """The inverse error function on [-1, 1] (``+-inf`` at ``+-1``, nan outside)."""
    x = float(x)
    if x != x or abs(x) > 1.0:
        return _NAN
    if abs(x) == 1.0:
        return math.copysign(math.inf, x)
    w = -math.log1p(-x * x)
    p = 0.0
    if w < 6.25:
        w -= 3.125
        for c in ERF_INV_LT_6_25:
            p = p * w + c
    elif w < 16.0:
        w = math.sqrt(w) - 3.25
        for c in ERF_INV_LT_16:
            p = p * w + c
    else:
        w = math.sqrt(w) - 5.0
        for c in ERF_INV_GE_16:
            p = p * w + c
    return p * x


def float_to_int(x, lo_f, hi_f, lo_i, hi_i):
    """A float converted to an integer type as JAX (XLA) does: toward zero, saturating
    (``x < lo_f`` gives ``lo_i``, ``x >= hi_f`` gives ``hi_i``) and NaN to 0. ``lo_f``
    and ``hi_f`` are the type's range as exact powers of two (``hi_f`` exclusive); the
    result is an int64 in range, which the caller's cast narrows exactly."""
    if x != x:
        return hi_i - hi_i
    if x >= hi_f:
        return hi_i
    if x < lo_f:
        return lo_i
    return int(x)


def float_to_uint64(x):
    """``float_to_int`` for uint64, whose range an int64 does not hold."""
    if x != x or x < 0.0:
        return np.uint64(0)
    if x >= 18446744073709551616.0:
        return np.uint64(18446744073709551615)
    return np.uint64(x)
