"""``functrace.random``: JAX's ``jax.random`` API with explicit keys.

A key is a typed key array (``key(seed)``, dtype ``key<fry>``) or a raw ``uint32[2]``
array (``PRNGKey(seed)``, JAX's legacy format): derive new ones with ``split`` and
``fold_in``, and never reuse a key for two draws you want independent. Keys can be
traced (``make_jaxpr``); every sampler is built from lax primitives,
the Threefry-2x32 hash being ``lax.threefry2x32``. Samples are constants to ``grad``:
derivatives w.r.t. keys are zero, and ``grad(lambda x: normal(key) * x)`` works.

The algorithms are JAX's Threefry ones, so for the same seed ``PRNGKey``, ``split``,
``fold_in``, ``bits``, ``uniform``, ``bernoulli``, ``randint``, ``permutation`` and
``choice`` without ``p`` give JAX's numbers bit for bit (checked against jax 0.10.2).
By default keys and bits are derived with JAX's partitionable scheme, JAX's default
since 0.5; ``config.update("threefry_partitionable", False)`` (alias
``"jax_threefry_partitionable"``) selects the scheme of JAX before 0.5, for streams made
with older JAX. The flag is read when a function is traced: ``jit`` caches a program per
setting. ``normal``, ``truncated_normal``, ``gumbel`` and ``uniform`` with bounds other
than [0, 1) can differ from JAX's in the last bit of a float (NumPy's ``log``/``log1p``
rather than XLA's; XLA's fused multiply-add), and so ``categorical`` and ``choice`` with
``p`` in a near-tie. Results are deterministic: integer and key operations are exact
everywhere; floats through ``log`` are as reproducible as NumPy's ``log`` on the machine.

The other samplers (``exponential``, ``laplace``, ``logistic``, ``cauchy``, ``pareto``,
``rademacher``, ``maxwell``, ``double_sided_maxwell``, ``weibull_min``, ``geometric``,
``lognormal``, ``rayleigh``, ``wald``, ``triangular``, ``gamma``/``loggamma`` (differentiable
in the shape parameter), ``beta``, ``dirichlet``, ``chisquare``, ``f``, ``t``,
``generalized_normal``; ``gumbel`` and ``categorical`` with ``mode=``/``replace=``) follow
JAX's algorithms and key use, so they draw JAX's numbers to float rounding; integer ones
exactly. ``gamma``'s rejection loop is unrolled (see ``random/gamma.py``).

A Python int seed is taken as int64 with x64 enabled and wrapped to int32 without it,
as in JAX (``PRNGKey(-1)`` is ``[0, 0xffffffff]`` by default, eagerly and under ``jit``).

Typed keys (``key(seed)``, ``wrap_key_data``; dtype ``key<fry>``, one element per key)
work everywhere a raw key does, and ``split``/``fold_in`` return the kind they are
given; ``key_data`` gives a typed key's ``uint32`` data. A typed key array is a pytree
node around its data, so transformations take and return it (see ``random/keys.py`` for
the differences from JAX's key dtype).

Example:
    >>> from functrace import random
    >>> key, subkey = random.split(random.PRNGKey(0))
    >>> random.normal(subkey, (2, 3)).shape
    (2, 3)
"""

from .binomial import binomial, multinomial
from .continuous import gumbel, normal, truncated_normal, uniform
from .discrete import bernoulli, categorical, choice, permutation, randint
from .distributions import (
    cauchy,
    double_sided_maxwell,
    exponential,
    geometric,
    laplace,
    logistic,
    lognormal,
    maxwell,
    pareto,
    rademacher,
    rayleigh,
    triangular,
    wald,
    weibull_min,
)
from .gamma import beta, chisquare, dirichlet, f, gamma, generalized_normal, loggamma, t
from .keys import KeyDType, PRNGKeyArray
from .multivariate import ball, multivariate_normal, orthogonal
from .poisson import poisson
from .prng import (
    PRNGKey,
    bits,
    clone,
    fold_in,
    key,
    key_data,
    key_impl,
    split,
    threefry_2x32,
    wrap_key_data,
)

__all__ = [
    "KeyDType", "PRNGKey", "PRNGKeyArray", "ball", "bernoulli", "beta", "binomial", "bits",
    "categorical", "cauchy", "chisquare", "choice", "clone", "dirichlet",
    "double_sided_maxwell", "exponential", "f", "fold_in", "gamma", "generalized_normal",
    "geometric", "gumbel", "key", "key_data", "key_impl", "laplace", "loggamma", "logistic",
    "lognormal", "maxwell", "multinomial", "multivariate_normal", "normal", "orthogonal",
    "pareto", "permutation", "poisson", "rademacher", "randint", "rayleigh", "split", "t",
    "threefry_2x32", "triangular", "truncated_normal", "uniform", "wald", "weibull_min",
    "wrap_key_data",
]
