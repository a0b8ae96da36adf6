"""Deprecated keyword spellings that JAX renamed (``clip(a_min=)`` -> ``min``,
``reshape(newshape=)`` -> ``shape``): a sentinel default and one resolver, so that the
old name keeps working with a ``DeprecationWarning``, as it did in JAX while the
deprecation ran."""

from __future__ import annotations

import warnings


class _Deprecated:
    """Default of a deprecated keyword: tells "not passed" from an explicit None."""

    def __repr__(self) -> str:
        return "<deprecated>"


DEPRECATED = _Deprecated()


def renamed(op: str, old: str, old_value, new: str, new_value):
    """The value of ``new``, taken from ``old`` (with a warning) when only that was given."""
    if old_value is DEPRECATED:
        return new_value
    if new_value is not None:
        raise TypeError(f"{op}: got both {new}= and its deprecated spelling {old}=; "
                        f"pass only {new}=")
    warnings.warn(f"{op}: the {old}= argument is deprecated; use {new}= instead",
                  DeprecationWarning, stacklevel=3)
    return old_value
