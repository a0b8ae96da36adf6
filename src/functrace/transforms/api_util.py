"""The argument front end every transformation shares (JAX's ``api_util``).

``grad``, ``vjp``, ``jvp``, ``linearize``, ``vmap``, ``jit``, ``make_jaxpr``,
``checkpoint`` and the jacobians all take a user function of pytrees and run it
as a function of flat arrays. What they have in common lives here, once:

- names for messages: ``fun_name``, ``signature_names`` (parameter names, from
  the signature);
- checks: ``check_callable``, ``is_array_leaf`` / ``check_array_leaf``,
  ``argnums_tuple``;
- static arguments: ``StaticArgs`` splits a call into the dynamic arguments and a
  hashable tuple of statics; ``with_statics`` puts them back;
- ``argnums_partial``: ``fun`` as a function of the arguments at ``argnums`` only;
- ``flatten_fun``: ``fun`` as a function of flat leaves, which records the output
  tree (and the ``has_aux`` tree) when it runs.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np

from ..core.trace import Tracer
from ..errors import TransformError
from ..tree_util import tree_flatten, tree_unflatten

__all__ = [
    "StaticArgs", "argnums_partial", "argnums_tuple", "check_array_leaf", "check_callable",
    "flatten_fun", "fun_name", "is_array_leaf", "signature_names", "with_statics",
]


# ---------------------------------------------------------------------------
# names and checks

def fun_name(fun) -> str:
    """``fun``'s name for messages: a ``functools.partial`` is named after the function it
    wraps, a callable object without a name after its type."""
    name = getattr(fun, "__name__", None)
    if name is None and isinstance(fun, functools.partial):
        name = fun_name(fun.func)
    return name or type(fun).__name__


def check_callable(fun, who: str) -> None:
    """Raises the error JAX raises for ``grad(3)``: at transformation time, not at the call."""
    if not callable(fun):
        raise TransformError(f"{who}: expected a function, got {type(fun).__name__} "
                             f"({fun!r:.60}); pass the function itself, e.g. {who}(f)")


_LEAF_TYPES = (Tracer, np.ndarray, np.generic, float, int, bool, complex)


def is_array_leaf(x) -> bool:
    """Whether ``x`` can be a traced argument or result: an array, a tracer or a number."""
    return isinstance(x, _LEAF_TYPES)


def check_array_leaf(x, where: str) -> None:
    if not isinstance(x, _LEAF_TYPES):
        raise TransformError(f"{where}: expected arrays or scalars as pytree leaves, got "
                             f"{type(x).__name__} ({x!r:.60})")


def argnums_tuple(fun, argnums, nargs: int, who: str) -> tuple[int, ...]:
    """``argnums`` (an int or a tuple) as non-negative indices into ``nargs`` arguments."""
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums or not all(isinstance(a, int) for a in nums):
        raise TransformError(f"{who}: argnums must be an int or a non-empty tuple of ints, "
                             f"got {argnums!r}")
    for a in nums:
        if not -nargs <= a < nargs:
            raise TransformError(
                f"{who}: argnums={argnums!r} is out of range: {fun_name(fun)} was called with "
                f"{nargs} positional argument(s)")
    return tuple(a % nargs for a in nums)


def _parameters(fun) -> list:
    try:
        return list(inspect.signature(fun).parameters.values())
    except (TypeError, ValueError):  # builtins and some callables have no signature
        return []


def _positional(params) -> list[str]:
    return [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def signature_names(fun, n: int) -> list[str]:
    """Names of the first ``n`` positional parameters of ``fun`` (for error messages)."""
    params = _parameters(fun)
    names = _positional(params)
    var = next((p.name for p in params if p.kind == p.VAR_POSITIONAL), None)
    out = []
    for i in range(n):
        if i < len(names):
            out.append(names[i])
        else:
            out.append(f"{var}[{i - len(names)}]" if var else f"arg{i}")
    return out


# ---------------------------------------------------------------------------
# static arguments

class StaticArgs:
    """The static arguments of a transformed function (``static_argnums`` / ``argnames``).

    Built once per transformation. ``split(args, kwargs)`` returns ``(dyn_args,
    dyn_kwargs, statics)``; ``statics`` is a hashable tuple of ``(index, value)`` and
    ``(name, value)`` pairs, sorted, that ``with_statics`` puts back.

    With ``by_keyword`` (``jit``), as in JAX each of ``static_argnums`` and
    ``static_argnames`` also covers the other way of passing the same parameter (found
    through the signature), and an index past the positional arguments of a call means
    that parameter was passed by keyword or left to its default. Without it
    (``make_jaxpr``, ``checkpoint``) every index must name a positional argument of the
    call. ``label`` starts every error message (``"jit(f)"``, ``"make_jaxpr"``).
    """

    __slots__ = ("argnums", "argnames", "label", "by_keyword", "none", "_raw_argnums",
                 "_names", "_positions", "_n_max")

    def __init__(self, fun, static_argnums=(), static_argnames=(), *, label: str,
                 by_keyword: bool = True):
        static_argnums = () if static_argnums is None else static_argnums
        static_argnames = () if static_argnames is None else static_argnames
        self._raw_argnums = static_argnums
        self.argnums = ((static_argnums,) if isinstance(static_argnums, int)
                        else tuple(static_argnums))
        self.argnames = ((static_argnames,) if isinstance(static_argnames, str)
                         else tuple(static_argnames))
        self.label = label
        self.by_keyword = by_keyword
        self._names = frozenset(self.argnames)
        self._positions = frozenset()
        self._n_max = None
        if by_keyword and (self.argnums or self.argnames):
            params = _parameters(fun)
            positional = _positional(params)
            has_var = any(p.kind == p.VAR_POSITIONAL for p in params)
            self._n_max = None if has_var or not params else len(positional)
            names = set(self.argnames)
            names.update(positional[n] for n in self.argnums if 0 <= n < len(positional))
            self._names = frozenset(names)
            self._positions = frozenset(
                positional.index(n) for n in self.argnames if n in positional)
        # no static arguments at all: callers take a fast path
        self.none = not (self.argnums or self._names or self._positions)

    def _indices(self, nargs: int) -> set[int]:
        nums = {n for n in self._positions if n < nargs}
        for n in self.argnums:
            if -nargs <= n < nargs:
                nums.add(n % nargs)
            elif not self.by_keyword:
                raise TransformError(
                    f"{self.label}: static_argnums={self._raw_argnums!r} is out of range for "
                    f"{nargs} positional argument(s)")
            elif self._n_max is not None and not -self._n_max <= n < self._n_max:
                raise TransformError(
                    f"{self.label}: static_argnums={self.argnums} is out of range for a "
                    f"function of {self._n_max} positional parameter(s)")
            # otherwise that parameter was passed by keyword (or left to its default)
        return nums

    def split(self, args, kwargs) -> tuple[tuple, dict, tuple]:
        nums = self._indices(len(args))
        statics = tuple((i, args[i]) for i in sorted(nums))
        statics += tuple((k, kwargs[k]) for k in sorted(kwargs) if k in self._names)
        if self.by_keyword:  # they become cache keys
            for where, val in statics:
                _check_hashable(self.label, where, val)
        dyn_args = tuple(a for i, a in enumerate(args) if i not in nums)
        dyn_kwargs = {k: v for k, v in kwargs.items() if k not in self._names}
        return dyn_args, dyn_kwargs, statics


def _check_hashable(label: str, where, val) -> None:
    try:
        hash(val)
    except TypeError:
        what = f"argument {where}" if isinstance(where, int) else f"argument {where!r}"
        raise TransformError(
            f"{label}: static {what} has unhashable type {type(val).__name__}; static "
            "arguments are cache keys. Pass a tuple instead of a list, or make the argument "
            "non-static.") from None


def with_statics(fun, statics):
    """``fun`` taking only the dynamic arguments: puts ``statics`` (from ``StaticArgs``)
    back, positional ones at their indices and keyword ones by name."""
    if not statics:
        return fun

    def fun_dyn(*args, **kwargs):
        args = list(args)
        for where, val in statics:
            if isinstance(where, int):
                args.insert(where, val)
            else:
                kwargs[where] = val
        return fun(*args, **kwargs)

    fun_dyn.__name__ = fun_name(fun)
    return fun_dyn


def argnums_partial(fun, nums, args, kwargs=None):
    """``fun`` as a function of ``args[i] for i in nums`` (the others fixed), and those
    arguments: what ``grad`` and the jacobians differentiate."""
    kwargs = {} if kwargs is None else kwargs

    def f_partial(*dyn):
        full = list(args)
        for i, d in zip(nums, dyn, strict=True):
            full[i] = d
        return fun(*full, **kwargs)

    f_partial.__name__ = fun_name(fun)
    return f_partial, tuple(args[i] for i in nums)


# ---------------------------------------------------------------------------
# flattening

def flatten_fun(fun, in_tree, has_aux: bool = False, *, with_kwargs: bool = False,
                check_outputs: bool = True):
    """``fun`` (pytrees in and out) as a function of flat leaves, and a dict it fills.

    ``in_tree`` is the tree of the positional arguments, or with ``with_kwargs`` of
    ``(args, kwargs)``. When the flat function runs it stores ``out_tree``, ``n_out``
    (the number of output leaves), ``out`` (the output itself) and with ``has_aux``
    ``aux_tree``; it returns the output leaves followed by the aux leaves. With
    ``check_outputs`` each output leaf must be an array or a number.
    """
    store: dict = {}
    name = fun_name(fun)

    def flat_fun(*leaves):
        if with_kwargs:
            args, kwargs = tree_unflatten(in_tree, leaves)
            out = fun(*args, **kwargs)
        else:
            out = fun(*tree_unflatten(in_tree, leaves))
        if has_aux:
            if not (isinstance(out, tuple | list) and len(out) == 2):
                raise TransformError(
                    f"has_aux=True requires {name} to return a pair (output, aux), got "
                    f"{type(out).__name__}")
            out, aux = out
            aux_leaves, store["aux_tree"] = tree_flatten(aux)
        else:
            aux_leaves = []
        out_leaves, store["out_tree"] = tree_flatten(out)
        store["n_out"] = len(out_leaves)
        store["out"] = out
        if check_outputs:
            for leaf in out_leaves:
                check_array_leaf(leaf, f"output of {name}")
        return out_leaves + aux_leaves

    flat_fun.__name__ = name
    return flat_fun, store
