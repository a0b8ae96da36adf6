"""``Array``: the concrete arrays functrace returns, NumPy arrays that know about tracers.

Eager results of primitives, of ``functrace.numpy`` and of compiled programs are
``Array``s: a subclass of ``numpy.ndarray`` that adds only what JAX code needs of a
``jax.Array`` and a plain NumPy array cannot do:

- indexing with a traced index (``t = fnp.arange(3.); jit(lambda i: t[i])(1)``):
  NumPy would try to turn the tracer into a NumPy array, so a traced index goes to
  ``functrace.numpy``'s indexing instead; so does an index NumPy finds out of range
  (JAX clamps it, as under ``jit``);
- ``x.at[idx].set(v)`` and the other functional updates, where ``functrace.numpy``
  provides them.

Methods and operators follow ``jax.Array`` (JAX's promotion, ``x.sort()`` returns a
sorted copy). NumPy's own functions see a plain ``ndarray``: ``__array_function__``
unwraps ``Array`` arguments, so ``np.sort(x)`` or ``np.median(x)`` never call the JAX
methods from inside NumPy (``np.sort`` copies, then sorts the copy in place with
``.sort()``), and they give NumPy's results, as on a ``jax.Array`` NumPy converts.
Everything else is NumPy's: ``isinstance(x, np.ndarray)`` holds and it prints as a
NumPy array. ``array_methods`` is filled by
``functrace.numpy`` (the layer that owns array semantics) for tracers and for this.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..devices import local_devices
from ..sharding import SingleDeviceSharding

# name -> function(array, *args): operators and methods that functrace.numpy provides
array_methods: dict[str, Any] = {}


def _has_tracer(idx) -> bool:
    if isinstance(idx, tuple | list):
        return any(_has_tracer(i) for i in idx)
    return hasattr(idx, "_trace")  # a Tracer (core.trace imports this module)


class Array(np.ndarray):
    """A NumPy array that can be indexed by traced values and updated with ``.at``.

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> t = fnp.arange(3.0)
        >>> ft.jit(lambda i: t[i])(1)
        array(1., dtype=float32)
    """

    def __getitem__(self, idx):
        if _has_tracer(idx):
            return array_methods["__getitem__"](self, idx)
        try:
            out = super().__getitem__(idx)
        except IndexError:
            # out of range: JAX clamps (a gather in "clip"-style mode), NumPy raises
            fn = array_methods.get("__getitem__")
            if fn is None:
                raise
            return fn(self, idx)
        # an element is a 0-d Array (as a jax.Array), not a NumPy scalar with NumPy's rules
        return np.asarray(out).view(Array) if isinstance(out, np.generic) else out

    def __iter__(self):
        # NumPy iterates a subclass through __getitem__ until an IndexError, which an
        # out-of-range index no longer raises (it clamps): iterate over the first axis
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return map(self.__getitem__, range(self.shape[0]))

    @property
    def at(self):
        """Functional updates: ``x.at[idx].set(v)``, ``.add(v)``... (as ``jax.Array.at``)."""
        fn = array_methods.get("at")
        if fn is None:
            raise AttributeError("Array.at is unavailable: import functrace.numpy")
        return fn(self)

    # Arithmetic, comparisons and reductions follow functrace.numpy (JAX's promotion: an
    # int32 array divided by 2 is float32, x.sum() of int32 stays int32), not NumPy's.
    # In-place operators rebind instead of mutating, as on an immutable jax.Array.
    for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and",
                  "or", "xor"):
        for _n in (f"__{_name}__", f"__r{_name}__"):
            locals()[_n] = (lambda n: lambda self, other: _delegate(self, n, other))(_n)
        locals()[f"__i{_name}__"] = (lambda n: lambda self, other: _delegate(self, n, other))(
            f"__{_name}__")
    for _n in ("__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__"):
        locals()[_n] = (lambda n: lambda self, other: _delegate(self, n, other))(_n)
    for _n in ("__neg__", "__pos__", "__abs__", "__invert__"):
        locals()[_n] = (lambda n: lambda self: _delegate(self, n))(_n)
    for _n in ("sum", "mean", "max", "min", "prod", "var", "std", "argmax", "argmin", "all",
               "any", "cumsum", "cumprod", "round", "clip", "dot", "ptp", "astype", "sort",
               "argsort", "take", "trace", "repeat", "nonzero", "searchsorted"):
        locals()[_n] = (lambda n: lambda self, *a, **k: _delegate(self, n, *a, **k))(_n)
    del _name, _n
    __hash__ = None

    # -- jax.Array's runtime API: a host array is computed, on the process's first CPU
    # device, whole (one shard), when it is returned
    def block_until_ready(self):
        """Returns the array: host results are ready when returned (``jax.Array``)."""
        return self

    def is_ready(self) -> bool:
        return True

    def copy_to_host_async(self) -> None:
        """Nothing to copy: the array is on the host."""

    @property
    def device(self):
        """The CPU device holding the array (``jax.Array.device``; NumPy's says "cpu")."""
        return _cpu_device()

    def devices(self) -> set:
        """The set of devices holding the array (one)."""
        return {_cpu_device()}

    @property
    def sharding(self):
        """A ``SingleDeviceSharding`` on the CPU device."""
        return SingleDeviceSharding(_cpu_device())

    is_fully_addressable = True
    is_fully_replicated = True
    committed = False   # placed by default, not by device_put(x, device)
    weak_type = False   # concrete results carry their dtype (Python scalars are weak)

    # ``aval`` (a ShapedArray) is set by ``core.avals``, which imports this module

    def on_device_size_in_bytes(self) -> int:
        return self.nbytes

    def unsafe_buffer_pointer(self) -> int:
        return self.ctypes.data

    def is_deleted(self) -> bool:
        return False

    def delete(self) -> None:
        """Host memory is freed with the last reference; nothing to do."""

    def clone(self):
        """A copy of the array (``jax.Array.clone``)."""
        return self.copy()

    def __array_function__(self, func, types, args, kwargs):
        if not all(issubclass(t, np.ndarray) for t in types):
            return NotImplemented  # as ndarray's: let the other type (a Tracer) answer
        return _rewrap(func._implementation(*_unwrap(args), **{k: _unwrap(v) for k, v in
                                                                 kwargs.items()}))

    def __repr__(self) -> str:
        return np.ndarray.__repr__(self.view(np.ndarray))

    def __str__(self) -> str:
        return np.ndarray.__str__(self.view(np.ndarray))

    def __reduce__(self):  # pickles (and np.save) as a plain NumPy array
        return np.ndarray.__reduce__(self.view(np.ndarray))


def _delegate(self, name: str, *args, **kwargs):
    fn = array_methods.get(name)
    if fn is None:  # functrace.numpy not imported: NumPy's own
        return getattr(np.ndarray, name)(self.view(np.ndarray), *args, **kwargs)
    return fn(self, *args, **kwargs)


def _cpu_device():
    return local_devices(backend="cpu")[0]


def _unwrap(x):
    t = type(x)
    if t is tuple or t is list:
        return t(_unwrap(i) for i in x)
    return as_base(x)


def _rewrap(x):
    t = type(x)
    if t is np.ndarray:
        return x.view(Array)
    if t is tuple or t is list:
        return t(_rewrap(i) for i in x)
    return x


def as_base(x):
    """``x`` as a plain ``np.ndarray`` view when it is an ``Array`` (Numba's dispatcher and
    NumPy's ufuncs are faster on the exact type)."""
    return x.view(np.ndarray) if type(x) is Array else x


def wrap(x):
    """A plain ``np.ndarray`` as an ``Array`` (a view, no copy); anything else unchanged."""
    return x.view(Array) if type(x) is np.ndarray else x
