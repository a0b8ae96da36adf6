"""``jax.scipy.special``'s Box-Cox transforms, ``comb`` and real ``loggamma``: short
compositions of lax / functrace.numpy ops (differentiable through the parts)."""

from __future__ import annotations

import numpy as np

from .. import lax
from .. import numpy as fnp
from ..numpy._promote import promote_args

_SMALL_U = 1e-4     # |lmbda * log x| below this: 4 terms of expm1(u) / u are exact


def _boxcox_from_log(log_x, lmbda):
    # (exp(lmbda L) - 1) / lmbda, as L (1 + u/2 + u**2/6 + u**3/24) for small u = lmbda L
    # (continuous and differentiable through lmbda = 0), log x itself at lmbda = 0
    zero_lam_inf = (lmbda == 0) & fnp.isinf(log_x)
    u = lmbda * fnp.where(zero_lam_inf, fnp.ones_like(log_x), log_x)
    small = fnp.abs(u) < _SMALL_U
    u_s = fnp.where(small, u, fnp.zeros_like(u))
    poly = log_x * (1.0 + u_s * (0.5 + u_s * (1.0 / 6.0 + u_s * (1.0 / 24.0))))
    lam_l = fnp.where(small, fnp.ones_like(lmbda), lmbda)
    u_l = fnp.where(small, fnp.ones_like(u), u)
    out = fnp.where(small, poly, fnp.expm1(u_l) / lam_l)
    # lmbda = 0 with log x = -inf or inf (x = 0, inf): log x itself (u would be nan)
    return fnp.where(zero_lam_inf, log_x, out)


def boxcox(x, lmbda):
    """The Box-Cox transform ``(x**lmbda - 1) / lmbda``, ``log(x)`` at ``lmbda = 0``
    (``nan`` for ``x < 0``), computed as ``expm1(lmbda log x) / lmbda`` so that it is
    accurate for small ``lmbda``.

    Example:
        >>> import numpy as np
        >>> float(boxcox(np.float32(4.0), np.float32(0.5)))  # (2 - 1) / 0.5
        2.0
    """
    x, lmbda = _float(x, lmbda)
    return _boxcox_from_log(fnp.log(x), lmbda)


def boxcox1p(x, lmbda):
    """The Box-Cox transform of ``1 + x``: ``((1 + x)**lmbda - 1) / lmbda``,
    ``log1p(x)`` at ``lmbda = 0``; accurate for small ``x`` and small ``lmbda``.

    Example:
        >>> import numpy as np
        >>> float(boxcox1p(np.float32(3.0), np.float32(0.5)))
        2.0
    """
    x, lmbda = _float(x, lmbda)
    return _boxcox_from_log(fnp.log1p(x), lmbda)


def comb(N, k, *, repetition: bool = False):
    """The number of combinations ``N! / (k! (N - k)!)`` as a float, through ``gammaln``
    (so non-integer arguments are allowed); 0 unless ``0 <= k <= N``. With
    ``repetition=True`` it is ``comb(N + k - 1, k)`` (and 1 for ``N = k = 0``). SciPy's
    ``exact`` is not offered (as in JAX).

    Example:
        >>> import numpy as np
        >>> round(float(comb(np.float32(5.0), np.float32(2.0))), 3)
        10.0
    """
    N, k = _float(N, k)
    # comb(0, 0, repetition=True) = 1 although N + k - 1 = -1
    empty = (k == 0) & (N == 0) & repetition
    if repetition:
        N = N + k - 1.0
    valid = (k >= 0) & (k <= N) & (N >= 0) & ~empty
    one = fnp.ones_like(N)
    n_s, k_s = fnp.where(valid, N, one), fnp.where(valid, k, one)
    value = fnp.exp(lax.lgamma(n_s + 1.0) - lax.lgamma(k_s + 1.0)
                    - lax.lgamma(n_s - k_s + 1.0))
    return fnp.where(valid, value, fnp.where(empty, one, fnp.zeros_like(value)))


def loggamma(x):
    """The principal branch of ``log Gamma(x)`` for real ``x``: ``gammaln(x)`` for
    ``x >= 0`` (``inf`` at 0), ``nan`` for ``x < 0`` (where it would be complex), as
    ``scipy.special.loggamma`` on real input.

    Example:
        >>> import numpy as np
        >>> round(float(loggamma(np.float32(0.5))), 5)  # log(sqrt(pi))
        0.57236
    """
    (x,) = _float(x)
    x_safe = fnp.where(x < 0, fnp.ones_like(x), x)
    return fnp.where(x < 0, fnp.full_like(x, np.nan), lax.lgamma(x_safe))


def _float(*xs):
    return promote_args("scipy.special", *xs, inexact=True)
