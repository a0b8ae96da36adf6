"""``functrace.dtypes`` (``jax.dtypes``): ``float0``, the dtype of an integer input's
gradient under ``grad(..., allow_int=True)``, and dtype helpers.

Example:
    >>> import functrace as ft
    >>> ft.grad(lambda x, n: x * n, argnums=(0, 1), allow_int=True)(2.0, 3)[1].dtype
    dtype([('float0', 'V')])
"""

import numpy as np

from .core.avals import canonicalize_dtype, finfo, float0
from .errors import TypePromotionError

__all__ = ["TypePromotionError", "canonicalize_dtype", "finfo", "float0", "issubdtype",
           "prng_key"]


class prng_key:  # noqa: N801 - JAX's name
    """The abstract dtype of typed PRNG keys (``jax.dtypes.prng_key``): the dtype
    ``key<fry>`` of ``random.key(0)`` is a sub-dtype of it."""


def issubdtype(arg1, arg2) -> bool:
    """``numpy.issubdtype`` that also knows key dtypes (``jax.dtypes.issubdtype``).

    Example:
        >>> from functrace import random
        >>> issubdtype(random.key(0).dtype, prng_key), issubdtype(np.float32, prng_key)
        (True, False)
    """
    key1 = arg1 is prng_key or getattr(arg1, "is_prng_key", False)
    key2 = arg2 is prng_key or getattr(arg2, "is_prng_key", False)
    if key1 or key2:
        return bool(key1 and (arg2 is prng_key or arg1 == arg2))
    return bool(np.issubdtype(arg1, arg2))
