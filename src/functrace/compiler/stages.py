"""The stages of ahead-of-time compilation, under JAX's names.

``jit(f).trace(*args)`` gives a ``Traced`` (the jaxpr and the output types),
``.lower()`` a ``Lowered`` (the optimised program and its fusion plan, ``as_text``),
``.compile()`` the ``Compiled`` executable (``compiler/jit.py``), which is callable
with the dynamic arguments of the signature it was lowered for. Arguments may be
``ShapeDtypeStruct``s: nothing is computed until the compiled program is called.
"""

from __future__ import annotations

import numpy as np

from ..core.avals import ShapedArray, canonicalize_value
from ..core.jaxpr import ClosedJaxpr, Jaxpr
from ..lax.control_flow.loops import while_p
from ..transforms.make_jaxpr import ShapeDtypeStruct
from ..tree_util import tree_flatten, tree_unflatten
from .dispatch import leaf_signature


def stand_ins(leaves) -> list:
    """Argument leaves with each ``ShapeDtypeStruct`` replaced by a value of its type, so
    the signature machinery sees arrays. Zeros from ``np.zeros`` are not touched (the
    pages are mapped lazily), so a large stand-in costs nothing."""
    out = []
    for x in leaves:
        if isinstance(x, ShapeDtypeStruct):
            if x.weak_type and not x.shape:  # a weakly typed scalar: a Python number
                x = {"b": False, "i": 0, "u": 0, "f": 0.0, "c": 0j}[x.dtype.kind]
            else:
                x = np.zeros(x.shape, x.dtype)
        out.append(x)
    return out


def abstract(x) -> ShapedArray:
    """The type of an argument leaf, as ``jit`` keys it."""
    if isinstance(x, ShapeDtypeStruct):
        return ShapedArray(x.shape, x.dtype, x.weak_type)
    return ShapedArray(*leaf_signature(canonicalize_value(x)))


def contains(jaxpr: Jaxpr, pred) -> bool:
    """Whether an equation of ``jaxpr`` or of a jaxpr it holds satisfies ``pred``."""
    for eqn in jaxpr.eqns:
        if pred(eqn):
            return True
        for v in eqn.params.values():
            for sub in v if isinstance(v, tuple) else (v,):
                if isinstance(sub, ClosedJaxpr | Jaxpr) and contains(
                        sub.jaxpr if isinstance(sub, ClosedJaxpr) else sub, pred):
                    return True
    return False


def safe_to_warm_up(jaxpr: Jaxpr) -> bool:
    """Whether running the program once on zeros (to compile its kernels ahead of time)
    is harmless: no host callbacks or prints (they would fire at compile time) and no
    ``while_loop`` (whose trip count on zeros may be infinite)."""
    return not contains(jaxpr, lambda e: e.primitive is while_p
                         or getattr(e.primitive, "effectful", False))


class Traced:
    """What ``jit(f).trace(*args)`` returns: the traced program, before optimisation.

    Attributes: ``jaxpr`` (a ``ClosedJaxpr``), ``in_tree``/``out_tree``, ``in_avals``
    (the flat argument types), ``out_avals``, ``out_info`` (a pytree of
    ``ShapeDtypeStruct``), ``fun_name``; ``lower()`` continues to a ``Lowered``.

    Example:
        >>> import numpy as np, functrace as ft
        >>> t = ft.jit(lambda x: x.sum()).trace(ft.ShapeDtypeStruct((3,), np.float32))
        >>> print(t.jaxpr)
        { lambda ; a:f32[3]. let b:f32[] = reduce_sum[axes=(0,) out_sharding=None] a in (b,) }
        >>> t.out_info
        ShapeDtypeStruct(shape=(), dtype=float32)
    """

    def __init__(self, jitted, args, kwargs):
        self._jitted, self._args, self._kwargs = jitted, args, kwargs
        dyn_args, dyn_kwargs, statics = jitted._static.split(args, kwargs)
        leaves, self.in_tree = tree_flatten((dyn_args, dyn_kwargs))
        self.in_avals = [abstract(x) for x in leaves]
        self.jaxpr, self.out_tree, _ = jitted._trace(self.in_tree, statics, self.in_avals)
        self.out_avals = list(self.jaxpr.out_avals)
        self.out_info = tree_unflatten(self.out_tree, [
            ShapeDtypeStruct(a.shape, a.dtype, weak_type=a.weak_type) for a in self.out_avals])
        self.fun_name = jitted.__name__

    def lower(self) -> Lowered:
        return self._jitted.lower(*self._args, **self._kwargs)


class Lowered:
    """What ``jit(f).lower(*args)`` returns: the optimised program, before its kernels
    are compiled. ``as_text()`` shows it; ``compile()`` gives the executable."""

    def __init__(self, compiled):
        self._compiled = compiled
        self.jaxpr = compiled.jaxpr
        self.in_tree = compiled.in_tree
        self.out_tree = compiled.out_tree

    def as_text(self) -> str:
        return self._compiled.as_text()

    def compile(self):
        """Compiles (or loads from the on-disk cache) every kernel now, by running the
        program once on zeros where that is harmless (``safe_to_warm_up``); otherwise the
        kernels compile on the first call. Returns the callable ``Compiled``."""
        return self._compiled.warm_up()
