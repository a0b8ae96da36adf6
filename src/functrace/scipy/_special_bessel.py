"""``jax.scipy.special.bessel_jn``: Bessel functions of the first kind of integer orders
0 .. v, by Miller's backward recurrence normalised with ``J_0 + 2 sum_k J_2k = 1``."""

from __future__ import annotations

import math
import operator

import numpy as np

from .. import lax
from .. import numpy as fnp
from ..numpy._promote import promote_args
from ..transforms.custom import custom_jvp

_TINY_Z = 1e-4      # below this |z|, two terms of the power series are exact to 1e-17


def _index(name, value):
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"scipy.special.bessel_jn: {name} must be a Python int, got "
                        f"{type(value).__name__} {value!r}") from None


def _orders(z, top):
    return np.arange(top + 1, dtype=z.dtype).reshape((top + 1,) + (1,) * z.ndim)


def _jn_small(z, top):
    # (z/2)**n / n! (1 - (z/2)**2 / (n + 1)), |z| < _TINY_Z
    n = _orders(z, top)
    inv_fact = np.exp([-math.lgamma(k + 1.0) for k in range(top + 1)]).astype(z.dtype)
    inv_fact = inv_fact.reshape(n.shape)
    half = z * 0.5
    return fnp.power(half, n) * inv_fact * (1.0 - half * half / (n + 1.0))


def _jn_miller(z, top, start):
    # f_{k-1} = (2k / z) f_k - f_{k+1} from f_{start+1} = 0, f_start = 1, rescaled every
    # step (the values grow like 2k/z per step); J_n = f_n / (f_0 + 2 sum_k f_2k)
    n = _orders(z, top)

    def body(i, carry):
        f_k, f_kp1, norm, out = carry
        k = lax.convert_element_type(start - i, z.dtype)
        f_km1 = 2.0 * k / z * f_k - f_kp1
        km1 = k - 1.0
        out = fnp.where(n == km1, f_km1, out)
        even = fnp.remainder(km1, 2.0) == 0
        weight = fnp.where(km1 == 0, 1.0, 2.0)
        norm = norm + fnp.where(even, weight * f_km1, fnp.zeros_like(f_km1))
        scale = 1.0 / fnp.maximum(fnp.abs(f_km1), fnp.abs(f_k))
        return f_km1 * scale, f_k * scale, norm * scale, out * scale

    ones = fnp.ones_like(z)
    norm0 = ones * (2.0 if start % 2 == 0 else 0.0)
    out0 = fnp.zeros((top + 1,) + tuple(z.shape), z.dtype)
    _, _, norm, out = lax.fori_loop(0, start, body, (ones, fnp.zeros_like(z), norm0, out0))
    return out / norm


def _jn_orders(z, top, n_iter):
    start = max(n_iter, top + 2)
    small = fnp.abs(z) < _TINY_Z
    finite = fnp.isfinite(z)
    z_m = fnp.where(small | ~finite, fnp.ones_like(z), z)
    z_s = fnp.where(small, z, fnp.zeros_like(z))
    out = fnp.where(small, _jn_small(z_s, top), _jn_miller(z_m, top, start))
    # nan at +-inf, as scipy.special.jv and JAX
    return fnp.where(finite, out, fnp.full_like(out, np.nan))


def _bessel_jn_impl(z, v, n_iter):
    return _jn_orders(z, v, n_iter)


_bessel_jn = custom_jvp(_bessel_jn_impl, nondiff_argnums=(1, 2))


@_bessel_jn.defjvp
def _bessel_jn_jvp(v, n_iter, primals, tangents):
    (z,), (dz,) = primals, tangents
    j = _jn_orders(z, v + 1, n_iter)
    # J_n' = (J_{n-1} - J_{n+1}) / 2 with J_{-1} = -J_1 (so J_0' = -J_1)
    below = fnp.concatenate([-j[1:2], j[:v]], axis=0)
    deriv = (below - j[1:v + 2]) * 0.5
    return j[:v + 1], deriv * dz


def bessel_jn(z, *, v, n_iter=50):
    """Bessel functions of the first kind ``J_0(z) .. J_v(z)`` for real ``z``, stacked
    into shape ``(v + 1, *z.shape)`` in ``z``'s float dtype (integer ``z`` promotes).

    ``n_iter`` is the order the backward recurrence starts from (at least ``v + 2``):
    results are accurate while ``J_{n_iter}(z)`` is negligible, i.e. ``|z|`` well below
    ``n_iter`` (the default 50 serves ``|z| <= 20`` to float32 precision); raise it for
    larger ``|z|``. ``nan`` at ``+-inf`` (as ``scipy.special.jv``). Differentiable in ``z``
    (``J_n' = (J_{n-1} - J_{n+1}) / 2``).

    Example:
        >>> import numpy as np
        >>> [round(float(t), 5) for t in bessel_jn(np.float32(1.0), v=2)]
        [0.7652, 0.44005, 0.1149]
    """
    v = _index("v", v)
    n_iter = _index("n_iter", n_iter)
    if v < 0 or n_iter < 0:
        raise ValueError(f"scipy.special.bessel_jn: v and n_iter must be non-negative, got "
                         f"v={v}, n_iter={n_iter}")
    (z,) = promote_args("scipy.special.bessel_jn", z, inexact=True)
    return _bessel_jn(z, v, n_iter)
