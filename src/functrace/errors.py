"""Exception types raised by functrace.

Every error names the operation, the shapes/dtypes involved and what to do.
"""

from __future__ import annotations


class FunctraceError(Exception):
    """Base class of functrace's errors."""


class ShapeError(FunctraceError, ValueError):
    """An operation received operands whose shapes do not fit together."""


class DTypeError(FunctraceError, TypeError):
    """An operation received operands of an unsupported or mismatched dtype."""


class TypePromotionError(FunctraceError, ValueError):
    """Operands of different dtypes met under ``numpy_dtype_promotion('strict')``
    (``jax.dtypes.TypePromotionError``)."""


class ConcretizationError(FunctraceError, TypeError):
    """Python needed a concrete value (``bool``, ``float``, ``int``) of an abstract tracer."""


class UnexpectedTracerError(FunctraceError):
    """A tracer escaped the transformation that created it and was used afterwards."""


class TransformError(FunctraceError, TypeError):
    """A transformation was applied to a function or argument it cannot handle."""


class MissingRuleError(FunctraceError, NotImplementedError):
    """A primitive has no rule for the requested transformation."""


class FunctraceWarning(UserWarning):
    """Base class of functrace's warnings."""


class KernelCacheWarning(FunctraceWarning):
    """The on-disk kernel cache is not writable; kernels are compiled into a temporary
    directory instead (same results, compiled again by the next process)."""


class UnboundAxisError(FunctraceError, NameError):
    """A collective named an axis that no enclosing ``pmap``/``vmap(axis_name=)`` binds."""


class CollectiveError(FunctraceError, RuntimeError):
    """A cross-process collective failed: the processes disagreed, or one did not arrive."""


class TransferError(FunctraceError, RuntimeError):
    """An implicit host<->device transfer happened under ``transfer_guard("disallow")``."""


class UnsupportedArgumentError(FunctraceError, NotImplementedError, TypeError):
    """A JAX keyword argument that functrace accepts only at its default value (``out=``
    of NumPy-style functions, ``out_sharding=``, ``accuracy=``...)."""


_WHY = {"out": "arrays are immutable: use the returned array",
        "accuracy": "functrace's kernels have a single accuracy",
        "where": "mask the result with fnp.where instead"}


def no_sharding(op: str, **kwargs) -> None:
    """Raises ``UnsupportedArgumentError`` naming the first of ``kwargs`` (``out=``,
    ``out_sharding=``, ``sharding=``, ``accuracy=``...) that is not None: functrace keeps
    every array unsharded on its default device, computes at one accuracy, and arrays
    are immutable."""
    for name, value in kwargs.items():
        if value is not None:
            shown = repr(value) if len(repr(value)) < 60 else f"<{type(value).__name__}>"
            why = _WHY.get(name, "functrace keeps arrays unsharded on the default device")
            raise UnsupportedArgumentError(
                f"{op}: {name}={shown} is not supported ({why}); pass {name}=None or leave "
                "it out")


def check_device(op: str, device) -> None:
    """Accepts ``device=None`` or a CPU device (functrace creates arrays on the host);
    raises ``UnsupportedArgumentError`` naming ``device`` otherwise (use ``device_put``)."""
    if device is None or getattr(device, "platform", None) == "cpu":
        return
    raise UnsupportedArgumentError(
        f"{op}: device={device!r} is not supported; create the array on the default (CPU) "
        "device with device=None and move it with functrace.device_put")
