"""``functrace.dtypes`` (``jax.dtypes``): ``float0``, the dtype of an integer input's
gradient under ``grad(..., allow_int=True)``, and dtype helpers.

Example:
    >>> import functrace as ft
    >>> ft.grad(lambda x, n: x * n, argnums=(0, 1), allow_int=True)(2.0, 3)[1].dtype
    dtype([('float0', 'V')])
"""

from .core.avals import canonicalize_dtype, finfo, float0
from .errors import TypePromotionError

__all__ = ["TypePromotionError", "canonicalize_dtype", "finfo", "float0"]
