"""``functrace.debug``: look at values inside transformed and compiled code
(``jax.debug``), and ``pure_callback``: call NumPy/Python code from a traced program.

``debug.print`` under ``jit`` prints when the compiled program runs, with the
runtime values, not once while tracing as a Python ``print`` would. It is an
effect: the compiler keeps it although nothing reads its result.

Example:
    >>> import functrace as ft, numpy as np
    >>> @ft.jit
    ... def f(x):
    ...     ft.debug.print("x = {}", x)
    ...     return x * 2
    >>> _ = f(np.float32(3.0))
    x = 3.0
"""

from __future__ import annotations

import builtins
import functools
import string

import numpy as np

from .core.avals import ShapedArray, canonicalize_dtype
from .errors import FunctraceError, TransformError
from .lax.callbacks import VMAP_METHODS, debug_callback_p, pure_callback_p, wrap_callback
from .tree_util import tree_flatten, tree_unflatten

__all__ = ["callback", "print", "pure_callback"]


def callback(fn, *args, ordered: bool = False, **kwargs) -> None:
    """Calls ``fn(*args, **kwargs)`` with the runtime values, for its side effect
    (``jax.debug.callback``). Under ``vmap`` it is called once per batch member;
    under ``grad`` with the primal values.

    Example:
        >>> import functrace as ft, numpy as np
        >>> seen = []
        >>> _ = ft.jit(lambda x: (ft.debug.callback(seen.append, x), x)[1])(np.float32(1.))
        >>> seen
        [array(1., dtype=float32)]
    """
    if not callable(fn):
        raise TransformError(f"debug.callback: expected a function, got {type(fn).__name__}")
    leaves, tree = tree_flatten((args, kwargs))

    def flat_fn(*vals):
        a, kw = tree_unflatten(tree, list(vals))
        fn(*a, **kw)

    flat_fn.__name__ = getattr(fn, "__name__", "callback")
    debug_callback_p.bind(*leaves, callback=wrap_callback(flat_fn),
                          effect="OrderedDebug" if ordered else "Debug")


def _check_format(fmt: str, nargs: int, names) -> None:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(fmt) if f is not None]
    except ValueError as e:
        raise FunctraceError(f"debug.print: bad format string {fmt!r}: {e}") from None
    auto = [f for f in fields if f == ""]
    if auto and len(auto) > nargs:
        raise FunctraceError(f"debug.print: {fmt!r} has {len(auto)} '{{}}' fields but "
                             f"{nargs} positional argument(s)")
    for f in fields:
        key = f.split(".")[0].split("[")[0]
        if key and not key.isdigit() and key not in names:
            raise FunctraceError(f"debug.print: {fmt!r} names {{{key}}}, which is not a keyword "
                                 "argument")


def print(fmt: str, *args, ordered: bool = False, **kwargs) -> None:  # noqa: A001
    """Prints ``fmt.format(*args, **kwargs)`` with the runtime values
    (``jax.debug.print``); arrays format as NumPy arrays.

    Example:
        >>> import functrace as ft, numpy as np
        >>> _ = ft.vmap(lambda x: ft.debug.print("member {x}", x=x))(np.arange(2.0))
        member 0.0
        member 1.0
    """
    if not isinstance(fmt, str):
        raise TransformError(f"debug.print: the format must be a str, got {type(fmt).__name__}")
    _check_format(fmt, len(args), kwargs)

    def show(*a, **kw):
        builtins.print(fmt.format(*a, **kw))

    show.__name__ = "print"
    callback(show, *args, ordered=ordered, **kwargs)


def pure_callback(callback, result_shape_dtypes, *args, sharding=None, vmap_method=None,
                  **kwargs):
    """Calls a pure Python/NumPy function from traced code (``jax.pure_callback``).

    Args:
        callback: takes NumPy arrays, returns arrays matching ``result_shape_dtypes``.
        result_shape_dtypes: a pytree of objects with ``shape`` and ``dtype``
            (``ShapeDtypeStruct``) describing the result.
        *args, **kwargs: the arguments, passed to ``callback`` as NumPy arrays.
        vmap_method: how ``vmap`` calls it: ``"sequential"`` (once per batch member),
            ``"expand_dims"`` (unbatched arguments get a leading axis of size 1) or
            ``"broadcast_all"``; None makes ``vmap`` an error, as in JAX.

    The callback must be pure: the compiler may drop an unused call or merge two
    identical ones. It has no derivative (wrap it in ``custom_jvp``/``custom_vjp``).

    Example:
        >>> import functrace as ft, numpy as np
        >>> f = lambda x: ft.pure_callback(np.sin, ft.ShapeDtypeStruct(x.shape, x.dtype), x)
        >>> ft.jit(f)(np.zeros(2, np.float32))
        array([0., 0.], dtype=float32)
    """
    if not callable(callback):
        raise TransformError(f"pure_callback: expected a function, got "
                             f"{type(callback).__name__}")
    if vmap_method not in VMAP_METHODS:
        raise TransformError(f"pure_callback: vmap_method must be one of {VMAP_METHODS}, got "
                             f"{vmap_method!r}")
    if vmap_method == "legacy_vectorized":
        vmap_method = "expand_dims"
    del sharding  # one device per program
    shapes, out_tree = tree_flatten(result_shape_dtypes)
    avals = []
    for s in shapes:
        if not (hasattr(s, "shape") and hasattr(s, "dtype")):
            raise TransformError(f"pure_callback: result_shape_dtypes must hold objects with "
                                 f"shape and dtype (ShapeDtypeStruct), got {s!r}")
        avals.append(ShapedArray(tuple(s.shape), canonicalize_dtype(np.dtype(s.dtype))))
    leaves, in_tree = tree_flatten((args, kwargs))

    @functools.wraps(callback)
    def flat_fn(*vals):
        a, kw = tree_unflatten(in_tree, list(vals))
        out = callback(*a, **kw)
        flat, tree = tree_flatten(out)
        if tree != out_tree:
            raise TransformError(f"pure_callback: {getattr(callback, '__name__', 'callback')} "
                                 f"returned structure {tree}, but result_shape_dtypes has "
                                 f"{out_tree}")
        return flat

    outs = pure_callback_p.bind(*leaves, callback=wrap_callback(flat_fn),
                                result_avals=tuple(avals), vmap_method=vmap_method)
    return tree_unflatten(out_tree, list(outs))
