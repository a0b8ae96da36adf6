"""``functrace.scipy.integrate`` (``jax.scipy.integrate``): ``trapezoid``.

Example:
    >>> import numpy as np
    >>> from functrace.scipy import integrate
    >>> integrate.trapezoid(np.array([1., 2., 3.], np.float32), dx=2.0)
    array(8., dtype=float32)
"""

from __future__ import annotations

from .. import numpy as fnp

__all__ = ["trapezoid"]


def trapezoid(y, x=None, dx=1.0, axis: int = -1):
    """The integral of ``y`` along ``axis`` by the trapezoidal rule, at the sample points
    ``x`` (same length along ``axis``, or broadcastable) or with even spacing ``dx``
    (``functrace.numpy.trapezoid``).

    Example:
        >>> import numpy as np
        >>> y = np.array([1, 2, 3, 2, 3, 2, 1])
        >>> trapezoid(y, np.array([0, 2, 5, 7, 10, 15, 20]))
        array(43., dtype=float32)
    """
    return fnp.trapezoid(y, x, dx, axis)
