"""``functrace.numpy.ufunc`` and ``frompyfunc`` (``jax.numpy.ufunc``): elementwise
functions with NumPy's ufunc methods ``reduce``, ``accumulate``, ``outer``, ``at`` and
``reduceat``.

``add``, ``multiply``, ``maximum``, ``minimum``, ``logical_and``/``or`` reduce and
accumulate through the fast reductions (``sum``, ``cumsum``...); any other binary
ufunc folds with ``lax.scan`` along the axis, starting from its ``identity`` when it
has one and from the first element otherwise (JAX's order: ``frompyfunc(f, 2, 1,
identity=1).reduce`` computes ``f(f(f(1, a0), a1), a2)``). ``at`` needs
``inplace=False``, as JAX arrays are immutable; duplicate indices apply one after the
other.
"""

from __future__ import annotations

import numpy as np

from .. import lax
from ..core.array import wrap as as_array_type
from ..core.trace import Tracer
from ..errors import UnsupportedArgumentError
from ._promote import as_array, broadcast_to_shape, canonical_axis

__all__ = ["frompyfunc", "ufunc"]


class ufunc:  # noqa: N801 - NumPy's and JAX's name
    """An elementwise function with ufunc methods (``jax.numpy.ufunc``).

    Example:
        >>> import functrace.numpy as fnp
        >>> fnp.add.reduce(fnp.arange(4.0)), fnp.multiply.outer(fnp.arange(2), fnp.arange(3))
        (array(6., dtype=float32), array([[0, 0, 0],
               [0, 1, 2]], dtype=int32))
    """

    def __init__(self, func, /, nin: int, nout: int, *, name: str | None = None,
                 nargs: int | None = None, identity=None, reduce=None, accumulate=None,
                 at=None):
        self._func = func
        self.nin, self.nout = int(nin), int(nout)
        self.nargs = self.nin if nargs is None else int(nargs)
        self.identity = identity
        self.__name__ = name or getattr(func, "__name__", "ufunc")
        self.__doc__ = getattr(func, "__doc__", None)
        self._reduce, self._accumulate, self._at = reduce, accumulate, at

    def __repr__(self) -> str:
        return f"<fnp.ufunc '{self.__name__}'>"

    def __call__(self, *args, out=None, where=None):
        # as JAX's ufuncs: out= and where= exist for NumPy's signature, only as None
        if out is not None:
            raise UnsupportedArgumentError(f"{self.__name__}: the out argument is not "
                                           "supported (arrays are immutable); use the result")
        if where is not None:
            raise UnsupportedArgumentError(
                f"{self.__name__}: the where argument of a ufunc call is not supported; use "
                f"fnp.where(mask, fnp.{self.__name__}(...), fallback)")
        return self._func(*args)

    def _binary(self, method: str) -> None:
        if self.nin != 2 or self.nout != 1:
            raise ValueError(f"{method} only supported for binary ufuncs with one output; "
                             f"{self.__name__} has nin={self.nin}, nout={self.nout}")

    # -- reduce ------------------------------------------------------------------------
    def reduce(self, a, axis=0, dtype=None, out=None, keepdims: bool = False, initial=None,
               where=None):
        """Folds ``a`` along ``axis`` (an int, a tuple, or None for all axes)."""
        self._binary("reduce")
        _no_out("reduce", out)
        a = as_array(a)
        if dtype is not None:
            a = a.astype(dtype)
        if self._reduce is not None and initial is None and where is None:
            return self._reduce(a, axis=axis, keepdims=keepdims)
        axes = tuple(range(a.ndim)) if axis is None else (
            (axis,) if isinstance(axis, int | np.integer) else tuple(axis))
        axes = tuple(sorted(canonical_axis(x, a.ndim, f"{self.__name__}.reduce")
                            for x in axes))
        start = initial if initial is not None else self.identity
        mask = None
        if where is not None:
            if start is None:
                raise ValueError(f"{self.__name__}.reduce: where= needs an identity or an "
                                 "initial value")
            mask = broadcast_to_shape(as_array(where), a.shape, f"{self.__name__}.reduce")
        rest = [d for d in range(a.ndim) if d not in axes]
        order = axes + tuple(rest)
        shape = (-1, *[a.shape[d] for d in rest])
        moved = a.transpose(order).reshape(shape)
        if moved.shape[0] == 0 and start is None:
            raise ValueError(f"zero-size array to reduction operation {self.__name__} which "
                             "has no identity")
        if start is None:
            carry, xs = moved[0], moved[1:]
        else:
            carry, xs = lax.full_like(moved[0], start), moved
        if mask is None:
            def step(c, x):
                return self._func(c, x).astype(c.dtype), None
        else:  # masked elements leave the running value as it is
            xs = (xs, mask.transpose(order).reshape(shape))

            def step(c, xm):
                x, m = xm
                return lax.select(m, self._func(c, x).astype(c.dtype), c), None
        result, _ = lax.scan(step, carry, xs)
        if keepdims:
            result = result.reshape([1 if d in axes else n for d, n in enumerate(a.shape)])
        return result

    def accumulate(self, a, axis: int = 0, dtype=None, out=None):
        """The running fold of ``a`` along ``axis``: ``out[i] = f(out[i-1], a[i])``."""
        self._binary("accumulate")
        _no_out("accumulate", out)
        a = as_array(a)
        if dtype is not None:
            a = a.astype(dtype)
        if self._accumulate is not None:
            return self._accumulate(a, axis=axis)
        axis = canonical_axis(axis, a.ndim, f"{self.__name__}.accumulate")
        moved = lax.expand_dims(a, ()) if a.ndim == 0 else a.swapaxes(0, axis)
        if moved.shape[0] == 0:
            return a

        def step(c, x):
            c = self._func(c, x).astype(c.dtype)
            return c, c

        _, rest = lax.scan(step, moved[0], moved[1:])
        out = lax.concatenate([moved[:1], rest], 0)
        return out.swapaxes(0, axis)

    def outer(self, A, B, /):
        """``f(A[i, j, ...], B[k, ...])`` for every pair: shape ``A.shape + B.shape``."""
        self._binary("outer")
        A, B = as_array(A), as_array(B)
        return self._func(A.reshape(A.shape + (1,) * B.ndim), B)

    def at(self, a, indices, b=None, /, *, inplace: bool = True):
        """``a`` with ``f(a[indices], b)`` (or ``f(a[indices])`` for a unary ufunc) at
        ``indices``; ``inplace=False`` is required, as in JAX."""
        if inplace:
            raise NotImplementedError(
                "functrace arrays are immutable, as JAX's, so ufunc.at() cannot operate in "
                "place like np.ufunc.at(); pass inplace=False and use the result: "
                "arr = fnp.add.at(arr, ind, val, inplace=False)")
        a = as_array(a)
        if self._at is not None and b is not None:
            return self._at(a, indices, b)
        if (b is None) != (self.nin == 1):
            raise ValueError(f"{self.__name__}.at: pass b for a binary ufunc and not for a "
                             "unary one")
        idx = as_array(indices)
        if idx.ndim == 0:
            idx = idx.reshape(1)
        if idx.ndim != 1 or idx.dtype.kind not in "iu":
            raise ValueError(f"{self.__name__}.at: indices must be integers in a 1-D array "
                             f"or a scalar for this ufunc, got {idx.dtype}{list(idx.shape)}")
        vals = None if b is None else broadcast_to_shape(
            as_array(b).astype(a.dtype), (idx.shape[0], *a.shape[1:]), f"{self.__name__}.at")

        idx = as_array_type(idx)  # indexed by the loop's traced counter
        vals = None if vals is None else as_array_type(vals)

        def body(k, x):  # duplicates apply one after the other
            i = idx[k]
            new = self._func(x[i]) if vals is None else self._func(x[i], vals[k])
            return x.at[i].set(new.astype(x.dtype))

        return lax.fori_loop(0, idx.shape[0], body, a)

    def reduceat(self, a, indices, axis: int = 0, dtype=None, out=None):
        """Reductions over the slices ``a[indices[i]:indices[i+1]]`` along ``axis`` (a
        lone ``a[indices[i]]`` where the next index is not larger), as NumPy's."""
        self._binary("reduceat")
        _no_out("reduceat", out)
        if isinstance(indices, Tracer):
            raise ValueError(f"{self.__name__}.reduceat: indices must be concrete")
        a = as_array(a)
        idx = [int(i) for i in np.asarray(indices).reshape(-1)]
        axis = canonical_axis(axis, a.ndim, f"{self.__name__}.reduceat")
        n = a.shape[axis]
        parts = []
        for k, i in enumerate(idx):
            stop = idx[k + 1] if k + 1 < len(idx) else n
            piece = lax.slice_in_dim(a, i, stop if stop > i else i + 1, axis=axis)
            parts.append(lax.expand_dims(self.reduce(piece, axis=axis, dtype=dtype), (axis,)))
        return lax.concatenate(parts, axis)


def _no_out(method: str, out) -> None:
    if out is not None:
        raise NotImplementedError(f"ufunc.{method}: out= is not supported (arrays are "
                                  "immutable); use the returned array")


def frompyfunc(func, /, nin: int, nout: int, *, identity=None):
    """A ``ufunc`` from a Python function of arrays (``jax.numpy.frompyfunc``); the
    function must be traceable, i.e. built from functrace operations.

    Example:
        >>> import functrace.numpy as fnp
        >>> f = fnp.frompyfunc(lambda a, b: a * b + 1, 2, 1, identity=1)
        >>> f.reduce(fnp.arange(1.0, 4.0))  # f(f(f(1, 1), 2), 3)
        array(16., dtype=float32)
    """
    return ufunc(func, nin, nout, identity=identity)


def install(namespace: dict) -> None:
    """Turns JAX's ufuncs among ``namespace``'s functions into ``ufunc`` objects, with the
    fast reductions, scans and scatters where one exists."""
    helper = namespace["_IndexUpdateHelper"]  # x.at[...]

    def fast_sum(a, axis, keepdims):
        return namespace["sum"](a, axis=axis, keepdims=keepdims)

    table = {  # name: (nin, identity, reduce, accumulate, at)
        "add": (2, 0, fast_sum, lambda a, axis: namespace["cumsum"](a, axis=axis),
                lambda a, i, b: helper(a)[i].add(b)),
        "multiply": (2, 1, lambda a, axis, keepdims: namespace["prod"](
            a, axis=axis, keepdims=keepdims), lambda a, axis: namespace["cumprod"](a, axis=axis),
            lambda a, i, b: helper(a)[i].multiply(b)),
        "maximum": (2, None, lambda a, axis, keepdims: namespace["max"](
            a, axis=axis, keepdims=keepdims), lambda a, axis: lax.cummax(a, axis=axis),
            lambda a, i, b: helper(a)[i].max(b)),
        "minimum": (2, None, lambda a, axis, keepdims: namespace["min"](
            a, axis=axis, keepdims=keepdims), lambda a, axis: lax.cummin(a, axis=axis),
            lambda a, i, b: helper(a)[i].min(b)),
        "logical_and": (2, True, lambda a, axis, keepdims: namespace["all"](
            a, axis=axis, keepdims=keepdims), None, None),
        "logical_or": (2, False, lambda a, axis, keepdims: namespace["any"](
            a, axis=axis, keepdims=keepdims), None, None),
        "subtract": (2, None, None, None, None), "logical_xor": (2, False, None, None, None),
        "bitwise_and": (2, -1, None, None, None), "bitwise_or": (2, 0, None, None, None),
        "bitwise_xor": (2, 0, None, None, None),
        "logaddexp": (2, -np.inf, None, None, None),
        "logaddexp2": (2, -np.inf, None, None, None), "negative": (1, None, None, None, None),
    }
    for name, (nin, identity, red, acc, at) in table.items():
        fn = namespace[name]
        if not isinstance(fn, ufunc):
            namespace[name] = ufunc(fn, nin, 1, name=name, identity=identity, reduce=red,
                                    accumulate=acc, at=at)
