"""The small runtime API around the transformations, under JAX's top-level names:
``Array`` (for ``isinstance`` and annotations), ``typeof``, ``block_until_ready``,
``disable_jit``, ``ensure_compile_time_eval``, ``clear_caches``, ``default_backend``,
``enable_x64``, ``log_compiles``, ``named_scope``, ``effects_barrier``,
``process_indices`` and ``print_environment_info``."""

from __future__ import annotations

import contextlib
import importlib.metadata
import platform
import sys

import numpy as np

from .compiler import jit as _jit_mod
from .config import _flag_context
from .core import trace as _core
from .core.array import Array as _HostArray
from .core.avals import DEVICE_ARRAY_TYPES
from .core.trace import Tracer, get_aval
from .devices import devices as _all_devices
from .devices import process_count as _process_count
from .devices import process_index as _process_index
from .tree_util import tree_map

__all__ = ["Array", "block_until_ready", "clear_caches", "copy_to_host_async",
           "debug_infs", "debug_nans", "default_backend", "disable_jit", "effects_barrier",
           "enable_x64",
           "ensure_compile_time_eval", "log_compiles", "named_scope", "print_environment_info",
           "process_count", "process_index", "process_indices", "typeof"]


class _ArrayMeta(type):
    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, (_HostArray, Tracer, *DEVICE_ARRAY_TYPES))

    def __subclasscheck__(cls, sub) -> bool:
        return issubclass(sub, (_HostArray, Tracer, *DEVICE_ARRAY_TYPES))


class Array(metaclass=_ArrayMeta):
    """The type of functrace's arrays (``jax.Array``): ``isinstance(x, ft.Array)`` holds for
    results of functrace operations (host ``Array``s, device arrays) and for tracers
    inside transformed functions, as in JAX; a plain ``np.ndarray`` is not one.

    Example:
        >>> import numpy as np, functrace as ft, functrace.numpy as fnp
        >>> isinstance(fnp.ones(3), ft.Array), isinstance(np.ones(3), ft.Array)
        (True, False)
    """

    def __init__(self, *args, **kwargs):
        raise TypeError("functrace.Array cannot be instantiated; use functrace.numpy.array")


def typeof(x):
    """The abstract value (shape, dtype, weak type) of ``x`` (``jax.typeof``).

    Example:
        >>> import functrace as ft
        >>> ft.typeof(1.0)
        ShapedArray(float32[], weak_type=True)
    """
    return get_aval(x)


def block_until_ready(x):
    """Waits for every array in the pytree ``x`` to be computed; returns ``x``. Host
    results are ready when returned; device arrays wait for their stream.

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> ft.block_until_ready({"w": fnp.ones(2)})["w"]
        array([1., 1.], dtype=float32)
    """
    return _call_on_leaves(x, "block_until_ready")


def copy_to_host_async(x):
    """Starts copying every device array of the pytree ``x`` to the host; returns ``x``."""
    return _call_on_leaves(x, "copy_to_host_async")


def _call_on_leaves(x, method: str):
    """Calls ``leaf.<method>()`` on every leaf of ``x`` that has it (device arrays); ``x``."""
    def call(leaf):
        fn = getattr(leaf, method, None)
        if fn is not None:
            fn()
        return leaf

    tree_map(call, x)
    return x


@contextlib.contextmanager
def disable_jit(disable: bool = True):
    """Inside the block, ``jit``-decorated functions run eagerly, op by op, so ``print``
    and a debugger see concrete values (``jax.disable_jit``).

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> f = ft.jit(lambda x: print(x) or x * 2)
        >>> with ft.disable_jit():
        ...     y = f(fnp.arange(3.0))  # the Python function runs, on concrete values
        [0. 1. 2.]
    """
    with _flag_context("disable_jit", bool(disable)):
        yield


@contextlib.contextmanager
def ensure_compile_time_eval():
    """Inside the block, operations on concrete values run now instead of being staged
    into the program being traced (``jax.ensure_compile_time_eval``): under ``jit`` they
    give concrete arrays, usable as Python values; operations on traced values are
    staged as always.

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> @ft.jit
        ... def f(x):
        ...     with ft.ensure_compile_time_eval():
        ...         n = int(fnp.arange(4).sum())  # a Python int while tracing
        ...     return x * n
        >>> f(1.0)
        array(6., dtype=float32)
    """
    prev = _core.dynamic_trace
    _core.dynamic_trace = None
    try:
        yield
    finally:
        _core.dynamic_trace = prev


def clear_caches() -> None:
    """Forgets every compiled program and traced signature (``jax.clear_caches``): the
    next call of each ``jit`` function traces and compiles again. The on-disk kernel
    cache stays (it is keyed by kernel source, so it cannot go stale)."""
    _jit_mod.clear_all_caches()


def default_backend() -> str:
    """The platform ``jit`` compiles for by default: ``"cpu"`` (``backend="cuda"`` or a
    device ``Array`` argument selects the GPU)."""
    return "cpu"


def enable_x64(new_val: bool = True):
    """A context manager for ``config.enable_x64`` (``jax.enable_x64``).

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> with ft.enable_x64():
        ...     fnp.ones(2).dtype
        dtype('float64')
    """
    return _flag_context("enable_x64", bool(new_val))


def debug_nans(new_val: bool = True):
    """A context manager for ``config.debug_nans`` (``jax.debug_nans``): an operation that
    produces a NaN raises ``FloatingPointError`` naming it. Eager operations (``grad``'s
    forward pass included) are checked one by one; a ``jit`` function's results are
    checked, and a NaN re-runs it op by op to name the primitive.

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> with ft.debug_nans():
        ...     fnp.log(fnp.array(-1.0))
        Traceback (most recent call last):
        FloatingPointError: invalid value (nan) encountered in log
    """
    return _flag_context("debug_nans", bool(new_val))


def debug_infs(new_val: bool = True):
    """Like ``debug_nans``, for infinities (``jax.debug_infs``)."""
    return _flag_context("debug_infs", bool(new_val))


def log_compiles(new_val: bool = True):
    """A context manager for ``config.log_compiles`` (``jax.log_compiles``): each
    compilation is logged with its reason and timings."""
    return _flag_context("log_compiles", bool(new_val))


@contextlib.contextmanager
def named_scope(name: str):
    """Names a region of a traced program (``jax.named_scope``). JAX attaches the name
    to the operations' metadata for profilers; functrace checks the name and runs the
    block unchanged (its jaxprs carry no per-equation metadata)."""
    if not isinstance(name, str):
        raise TypeError(f"named_scope: the name must be a string, got {type(name).__name__}")
    yield


def effects_barrier() -> None:
    """Waits until every side effect (host callbacks, ``debug.print``) issued so far has
    run (``jax.effects_barrier``). functrace runs them in program order as the program
    runs, so there is nothing to wait for."""


def process_count(backend: str | None = None) -> int:
    """The number of processes (1 without ``distributed.initialize``), as
    ``jax.process_count``; ``backend`` (a platform name) is checked and, as in JAX, does
    not change the answer.

    Example:
        >>> import functrace as ft
        >>> ft.process_count("cpu")
        1
    """
    if backend is not None:
        _all_devices(backend)  # raises for an unknown platform
    return _process_count()


def process_index(backend: str | None = None) -> int:
    """This process's index among all processes (``jax.process_index``); ``backend`` as in
    ``process_count``."""
    if backend is not None:
        _all_devices(backend)
    return _process_index()


def process_indices(backend: str | None = None) -> list[int]:
    """The indices of every process taking part (``jax.process_indices``)."""
    return list(range(process_count(backend)))


def print_environment_info(return_string: bool = False):
    """Prints (or returns) the versions a bug report needs."""
    import numba  # noqa: PLC0415 - only here: importing functrace imports no Numba

    try:
        version = importlib.metadata.version("functrace")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree
        version = "unknown"
    lines = [f"functrace: {version}", f"numpy:     {np.__version__}",
             f"numba:     {numba.__version__}", f"python:    {sys.version.split()[0]}",
             f"platform:  {platform.platform()}", f"processes: {process_count()}"]
    text = "\n".join(lines)
    if return_string:
        return text
    print(text)
    return None
