"""More special functions of ``jax.lax``: the regularised incomplete gamma functions
(``igamma``, ``igammac``, ``igamma_grad_a``, ``random_gamma_grad``), the regularised
incomplete beta (``betainc``, primitive ``regularized_incomplete_beta``), the
exponentially scaled Bessel functions ``bessel_i0e``/``bessel_i1e``, and ``erf_inv``.

Every one is an elementwise primitive that fuses under ``jit``: its scalar algorithm
(``lax/_special_scalar.py``, XLA's algorithms as JAX ports them) is compiled by each
backend into the generated loop, and the same function, vectorised, is the reference
impl. Operands are real floats of one dtype (Python scalars take the other operand's
dtype), of equal shapes or rank 0, as JAX's.

Derivatives are JAX's: ``d igamma/dx = x**(a-1) e**-x / Gamma(a)`` and ``d igamma/da =
igamma_grad_a``; ``igammac``'s are their negatives; ``igamma_grad_a`` and
``random_gamma_grad`` have none (JAX raises for the first and builds the second from
``while_loop``s, which reverse mode cannot differentiate); ``betainc`` differentiates in
``x`` only (``x**(a-1) (1-x)**(b-1) / B(a, b)``) and raises for ``a`` and ``b``, as JAX;
``bessel_i0e' = i1e - sign(x) i0e``, ``bessel_i1e' = i0e - i1e (sign(x) + 1/x)`` (0.5
at 0); ``erf_inv' = sqrt(pi)/2 exp(erf_inv(x)**2)``.

Example:
    >>> import numpy as np
    >>> from functrace import lax
    >>> round(float(lax.igamma(np.float32(1.0), np.float32(2.0))), 6)  # 1 - e**-2
    0.864665
"""

from __future__ import annotations

import math

import numpy as np

from ..core.trace import Primitive, abstract_eval_rules, get_aval, impl_rules
from ..errors import MissingRuleError
from ..transforms.ad import defjvp, defjvp2
from ..transforms.batching import defbroadcasting, defvectorized
from . import _special_scalar as scalar
from .creation import full_like
from .elementwise import (
    _match_operands,
    abs,
    add,
    div,
    exp,
    gt,
    log,
    log1p,
    mul,
    neg,
    select,
    sign,
    sub,
)
from .special import _float_abstract, lgamma

__all__ = [
    "bessel_i0e", "bessel_i0e_p", "bessel_i1e", "bessel_i1e_p", "betainc", "erf_inv",
    "erf_inv_p", "igamma", "igamma_grad_a", "igamma_grad_a_p", "igamma_p", "igammac",
    "igammac_p", "random_gamma_grad", "regularized_incomplete_beta_p",
]


def _vectorized(fn, *consts):
    """The reference impl: ``fn`` on every element (float64), cast to the operands'
    dtype. The algorithms are iterative with per-element stopping, which NumPy cannot
    vectorise without running every element to the slowest one's count."""
    vec = np.vectorize(lambda *xs: fn(*xs, *consts), otypes=[np.float64])

    def impl(*args):
        args = [np.asarray(a) for a in args]
        dtype = np.result_type(*args)
        with np.errstate(all="ignore"):  # nan where JAX gives nan, without warnings
            return np.asarray(vec(*args)).astype(dtype)
    return impl


def _elementwise(name: str, helper: str, nargs: int, *consts) -> Primitive:
    """An elementwise primitive computed by ``_special_scalar.<helper>`` (the backends'
    ``scalar`` modules compile that function under the same name, ``_s.<helper>``)."""
    fn = getattr(scalar, helper)
    # operands go in as float64: inside a compiled function ``float(x)`` of a float32
    # keeps float32 precision
    args = [f"np.float64({{{k}}})" for k in range(nargs)] + [repr(c) for c in consts]
    prim = Primitive(name, elementwise=True, scalar=f"_s.{helper}({', '.join(args)})")
    impl_rules[prim] = _vectorized(fn, *consts)
    abstract_eval_rules[prim] = _float_abstract(name)
    if nargs == 1:
        defvectorized(prim)
    else:
        defbroadcasting(prim)
    return prim


igamma_p = _elementwise("igamma", "igamma_family", 2, scalar.IGAMMA)
igammac_p = _elementwise("igammac", "igamma_family", 2, scalar.IGAMMAC)
igamma_grad_a_p = _elementwise("igamma_grad_a", "igamma_family", 2, scalar.IGAMMA_GRAD_A)
random_gamma_grad_p = _elementwise("random_gamma_grad", "igamma_family", 2,
                                   scalar.RANDOM_GAMMA_GRAD)
regularized_incomplete_beta_p = _elementwise("regularized_incomplete_beta", "betainc", 3)
bessel_i0e_p = _elementwise("bessel_i0e", "bessel_ie", 1, 0)
bessel_i1e_p = _elementwise("bessel_i1e", "bessel_ie", 1, 1)
erf_inv_p = _elementwise("erf_inv", "erf_inv", 1)


def igamma(a, x):
    """The regularised lower incomplete gamma function ``P(a, x)``, elementwise.

    Example:
        >>> round(float(igamma(np.float32(0.5), np.float32(2.0))), 5)  # erf(sqrt(2))
        0.9545
    """
    return igamma_p.bind(*_match_operands("igamma", a, x))


def igammac(a, x):
    """The regularised upper incomplete gamma function ``Q(a, x) = 1 - P(a, x)``.

    Example:
        >>> round(float(igammac(np.float32(1.0), np.float32(3.0))), 6)  # e**-3
        0.049787
    """
    return igammac_p.bind(*_match_operands("igammac", a, x))


def igamma_grad_a(a, x):
    """``dP(a, x)/da``, the derivative of ``igamma`` in ``a`` (not differentiable itself,
    as in JAX).

    Example:
        >>> round(float(igamma_grad_a(np.float32(2.0), np.float32(3.0))), 5)
        -0.19743
    """
    return igamma_grad_a_p.bind(*_match_operands("igamma_grad_a", a, x))


def random_gamma_grad(a, x):
    """The derivative in ``a`` of a sample ``x`` of Gamma(``a``, 1), ``-(dP/da) / p(x)``
    (the reparameterisation gradient of ``random.gamma``).

    Example:
        >>> round(float(random_gamma_grad(np.float32(1.0), np.float32(1.0))), 5)
        1.17356
    """
    return random_gamma_grad_p.bind(*_match_operands("random_gamma_grad", a, x))


def betainc(a, b, x):
    """The regularised incomplete beta function ``I_x(a, b)``, elementwise; it
    differentiates in ``x`` only, as in JAX.

    Example:
        >>> round(float(betainc(np.float32(2.0), np.float32(3.0), np.float32(0.3))), 4)
        0.3483
    """
    return regularized_incomplete_beta_p.bind(*_match_operands("betainc", a, b, x))


def bessel_i0e(x):
    """The exponentially scaled modified Bessel function ``exp(-|x|) I0(x)``.

    Example:
        >>> round(float(bessel_i0e(np.float32(1.0))), 6)
        0.46576
    """
    return bessel_i0e_p.bind(x)


def bessel_i1e(x):
    """The exponentially scaled modified Bessel function ``exp(-|x|) I1(x)`` (odd).

    Example:
        >>> round(float(bessel_i1e(np.float32(1.0))), 6)
        0.20791
    """
    return bessel_i1e_p.bind(x)


def erf_inv(x):
    """The inverse error function on [-1, 1] (``+-inf`` at ``+-1``, nan outside).

    Example:
        >>> round(float(erf_inv(np.float32(0.5))), 6)
        0.476936
    """
    return erf_inv_p.bind(x)


def _c(x, value):
    return full_like(x, value)


def _igamma_dx(g, a, x):
    # the Gamma(a, 1) density, x**(a-1) e**-x / Gamma(a)
    return mul(g, exp(sub(mul(sub(a, _c(a, 1)), log(x)), add(x, lgamma(a)))))


defjvp(igamma_p, lambda g, a, x: mul(g, igamma_grad_a(a, x)), _igamma_dx)
defjvp(igammac_p, lambda g, a, x: neg(mul(g, igamma_grad_a(a, x))),
       lambda g, a, x: neg(_igamma_dx(g, a, x)))


def _betainc_no_ab(g, a, b, x):
    raise MissingRuleError("betainc gradient with respect to a and b is not supported (as "
                           "in JAX); only x is differentiable. Wrap a and b in "
                           "lax.stop_gradient to differentiate in x alone.")


def _betainc_dx(g, a, b, x):
    lbeta = sub(add(lgamma(a), lgamma(b)), lgamma(add(a, b)))
    one = _c(a, 1)
    logp = sub(add(mul(sub(b, one), log1p(neg(x))), mul(sub(a, one), log(x))), lbeta)
    return mul(g, exp(logp))


defjvp(regularized_incomplete_beta_p, _betainc_no_ab, _betainc_no_ab, _betainc_dx)
defjvp2(bessel_i0e_p, lambda g, y, x: mul(g, sub(bessel_i1e(x), mul(sign(x), y))))


def _bessel_i1e_jvp(g, y, x):
    eps = float(np.finfo(get_aval(x).dtype).eps)
    not_tiny = gt(abs(x), _c(x, eps))
    safe = select(not_tiny, x, _c(x, eps))
    dy = sub(bessel_i0e(safe), mul(y, add(sign(safe), div(_c(x, 1), safe))))
    return mul(g, select(not_tiny, dy, _c(x, 0.5)))


defjvp2(bessel_i1e_p, _bessel_i1e_jvp)
defjvp2(erf_inv_p, lambda g, y, x: mul(g, mul(exp(mul(y, y)), _c(x, math.sqrt(math.pi) / 2))))
