"""Global configuration flags.

``functrace.config.update("enable_x64", True)`` turns on float64 (JAX spells
the flag ``jax_enable_x64``; both spellings are accepted). ``"log_compiles"``
logs every jit (re)trace and why. ``"cpu_keep_memory"`` (default on) lets the
CPU backend ask glibc's malloc to keep freed memory for reuse instead of
returning it to the OS (see ``backends/numba_cpu``); turn it off before the
first ``jit`` call to keep the process's default allocator settings.
``"cpu_native_loops"`` (default on) compiles a ``scan``/``while`` whose body has Numba
entry points into one Numba function on the CPU; off, every loop is stepped from Python
(it applies to programs compiled afterwards).
``"threefry_partitionable"`` (default on, as in JAX >= 0.5; alias
``"jax_threefry_partitionable"``) picks how ``functrace.random`` derives keys and bits
from a key; off gives the streams of JAX before 0.5.
``"num_cpu_devices"`` (default 1, or ``$FUNCTRACE_NUM_CPU_DEVICES``) is the number of
virtual CPU devices of this process, which ``pmap`` maps over (XLA's host-platform device
count). ``"collective_timeout"`` (seconds, default 300, or ``$FUNCTRACE_COLLECTIVE_TIMEOUT``)
bounds how long a cross-process collective waits for the other processes.

Three flags change what ``functrace.numpy`` traces, as JAX's do (``jit`` caches a program
per setting); each is also a context manager of the same name in ``functrace``:

- ``"numpy_dtype_promotion"`` (alias ``"jax_numpy_dtype_promotion"``): ``"standard"`` (the
  default) or ``"strict"``, where mixing two different dtypes in one operation raises
  ``TypePromotionError`` (a weak Python scalar may still join an array of its kind or a
  higher one: ``int`` with any number, ``float`` with floats and complex numbers);
- ``"numpy_rank_promotion"`` (alias ``"jax_numpy_rank_promotion"``): ``"allow"`` (default),
  ``"warn"`` or ``"raise"`` when a binary operation broadcasts operands of different
  ranks (rank-0 operands excepted);
- ``"default_matmul_precision"`` (alias ``"jax_default_matmul_precision"``): ``None`` or one
  of JAX's names (``"default"``, ``"high"``, ``"highest"``, ``"float32"``, ...). It is
  accepted and recorded only: functrace's CPU kernels compute float32 products in float32
  at every precision (XLA's CPU backend does the same), so it changes no result.

Example:
    >>> from functrace import config
    >>> config.update("enable_x64", False)
    >>> config.enable_x64
    False
"""

from __future__ import annotations

import contextlib
import os

from .errors import FunctraceError

_ALIASES = {"jax_enable_x64": "enable_x64", "jax_log_compiles": "log_compiles",
            "jax_threefry_partitionable": "threefry_partitionable",
            "jax_num_cpu_devices": "num_cpu_devices",
            "jax_numpy_dtype_promotion": "numpy_dtype_promotion",
            "jax_numpy_rank_promotion": "numpy_rank_promotion",
            "jax_default_matmul_precision": "default_matmul_precision",
            "jax_disable_jit": "disable_jit", "jax_debug_nans": "debug_nans",
            "jax_debug_infs": "debug_infs"}
_BOOL_FLAGS = ("enable_x64", "log_compiles", "cpu_keep_memory", "threefry_partitionable",
               "cpu_native_loops", "disable_jit", "debug_nans", "debug_infs")
_ENUM_FLAGS = {
    "numpy_dtype_promotion": ("standard", "strict"),
    "numpy_rank_promotion": ("allow", "warn", "raise"),
    # JAX's names; all compute float32 matmuls in float32 on the CPU
    "default_matmul_precision": (
        None, "default", "high", "highest", "bfloat16", "tensorfloat32", "float32",
        "bfloat16_3x", "fastest", "ANY_F8_ANY_F8_F32", "ANY_F8_ANY_F8_F32_FAST_ACCUM",
        "ANY_F8_ANY_F8_ANY", "ANY_F8_ANY_F8_ANY_FAST_ACCUM", "F16_F16_F16", "F16_F16_F32",
        "BF16_BF16_BF16", "BF16_BF16_F32", "BF16_BF16_F32_X3", "BF16_BF16_F32_X6",
        "BF16_BF16_F32_X9", "TF32_TF32_F32", "TF32_TF32_F32_X3", "F32_F32_F32", "F64_F64_F64"),
}


def _positive(name: str, value, kind):
    try:
        out = kind(value)
    except (TypeError, ValueError):
        out = None
    if out is None or out <= 0 or isinstance(value, bool):
        raise FunctraceError(f"config.update({name!r}, {value!r}): expected a positive "
                             f"{kind.__name__}")
    return out


class Config:
    """Process-wide settings; read them as attributes, change them with ``update``."""

    def __init__(self) -> None:
        self.enable_x64 = False
        self.log_compiles = False
        self.disable_jit = False  # jit runs the Python function (functrace.disable_jit)
        self.debug_nans = False  # a NaN result raises FloatingPointError (functrace.debug_nans)
        self.debug_infs = False  # likewise an infinity
        self.cpu_keep_memory = True
        self.cpu_native_loops = True
        self.threefry_partitionable = True
        self.num_cpu_devices = _positive(
            "FUNCTRACE_NUM_CPU_DEVICES", os.environ.get("FUNCTRACE_NUM_CPU_DEVICES", 1), int)
        self.collective_timeout = _positive(
            "FUNCTRACE_COLLECTIVE_TIMEOUT",
            os.environ.get("FUNCTRACE_COLLECTIVE_TIMEOUT", 300.0), float)
        self.numpy_dtype_promotion = "standard"
        self.numpy_rank_promotion = "allow"
        self.default_matmul_precision = None
        self._set_trace_context()

    def _set_trace_context(self) -> None:
        # the flags that change what tracing produces (JAX's trace context): jit keys its
        # cache on this tuple, kept as one attribute so the key costs one read
        self.trace_context = (self.threefry_partitionable, self.numpy_dtype_promotion,
                              self.numpy_rank_promotion)
        self.debug_checks = self.debug_nans or self.debug_infs  # one read on hot paths

    def update(self, name: str, value) -> None:
        """Set the flag ``name`` (``"enable_x64"``/``"jax_enable_x64"``, ``"log_compiles"``,
        ``"disable_jit"``, ``"debug_nans"``, ``"debug_infs"``,
        ``"cpu_keep_memory"``, ``"cpu_native_loops"``, ``"threefry_partitionable"``,
        ``"num_cpu_devices"``, ``"collective_timeout"``, ``"numpy_dtype_promotion"``,
        ``"numpy_rank_promotion"``, ``"default_matmul_precision"``; the ``jax_`` spellings
        of these are accepted)."""
        key = _ALIASES.get(name, name)
        if key in _ENUM_FLAGS:
            choices = _ENUM_FLAGS[key]
            if isinstance(value, str) and key == "default_matmul_precision":
                # JAX also takes Precision's names in any case and its own enum values
                lowered = {c.lower(): c for c in choices if c is not None}
                value = lowered.get(value.lower(), value)
            if value not in choices or (value is not None and not isinstance(value, str)):
                raise FunctraceError(
                    f"config.update({name!r}, {value!r}): the value must be one of "
                    f"{list(choices)}")
            setattr(self, key, value)
            self._set_trace_context()
            return
        if key == "num_cpu_devices":
            self.num_cpu_devices = _positive(name, value, int)
            return
        if key == "collective_timeout":
            self.collective_timeout = _positive(name, value, float)
            return
        if key not in _BOOL_FLAGS:
            raise FunctraceError(
                f"config.update: unknown flag {name!r}; known flags are "
                "'enable_x64' (alias 'jax_enable_x64'), 'log_compiles', 'disable_jit', "
                "'debug_nans', 'debug_infs', "
                "'cpu_keep_memory', "
                "'cpu_native_loops', "
                "'threefry_partitionable' (alias 'jax_threefry_partitionable'), "
                "'num_cpu_devices', 'collective_timeout', 'numpy_dtype_promotion', "
                "'numpy_rank_promotion' and 'default_matmul_precision' (each also with a "
                "'jax_' prefix)."
            )
        setattr(self, key, bool(value))
        self._set_trace_context()

    def read(self, name: str):
        return getattr(self, _ALIASES.get(name, name))

    def __getattr__(self, name: str):
        # JAX's spellings read as attributes too (config.jax_enable_x64)
        key = _ALIASES.get(name)
        if key is None:
            raise AttributeError(f"config has no flag {name!r}")
        return getattr(self, key)


config = Config()
update = config.update


@contextlib.contextmanager
def _flag_context(name: str, value):
    old = config.read(name)
    config.update(name, value)
    try:
        yield
    finally:
        config.update(name, old)


def numpy_dtype_promotion(new_val: str):
    """A context manager for ``config.numpy_dtype_promotion`` (``jax.numpy_dtype_promotion``):
    ``"standard"`` or ``"strict"``.

    Example:
        >>> import numpy as np, functrace as ft, functrace.numpy as fnp
        >>> with ft.numpy_dtype_promotion("strict"):
        ...     fnp.ones(2, np.float32) + 1  # a weak Python int still joins a float array
        array([2., 2.], dtype=float32)
    """
    return _flag_context("numpy_dtype_promotion", new_val)


def numpy_rank_promotion(new_val: str):
    """A context manager for ``config.numpy_rank_promotion`` (``jax.numpy_rank_promotion``):
    ``"allow"``, ``"warn"`` or ``"raise"``.

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> with ft.numpy_rank_promotion("raise"):
        ...     fnp.ones((2, 3)) + fnp.ones((1, 3))  # equal ranks: no rank promotion
        array([[2., 2., 2.],
               [2., 2., 2.]], dtype=float32)
    """
    return _flag_context("numpy_rank_promotion", new_val)


def default_matmul_precision(new_val):
    """A context manager for ``config.default_matmul_precision``
    (``jax.default_matmul_precision``). Accepted for JAX code; on functrace's CPU
    backend every precision computes float32 products in float32, so it changes nothing.

    Example:
        >>> import functrace as ft
        >>> with ft.default_matmul_precision("float32"):
        ...     ft.config.default_matmul_precision
        'float32'
    """
    return _flag_context("default_matmul_precision", new_val)
