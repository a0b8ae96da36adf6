"""``make_jaxpr``: the program a function becomes, in JAX's printed format."""

from __future__ import annotations

import contextlib
import functools

import numpy as np

from ..core.avals import ShapedArray
from ..core.jaxpr import ClosedJaxpr
from ..core.trace import get_aval, new_main, trace_to_jaxpr
from ..tree_util import tree_flatten, tree_unflatten
from .api_util import StaticArgs, flatten_fun, fun_name, signature_names, with_statics
from .batching import AxisData, BatchTrace


def make_jaxpr(fun, static_argnums=(), axis_env=None, return_shape: bool = False):
    """Returns a function that traces ``fun`` abstractly and returns its ``ClosedJaxpr``.

    ``axis_env`` binds named axes while tracing, as ``[(name, size), ...]``, so that
    collectives over them (``lax.psum(x, 'i')``) appear as equations.

    Example:
        >>> import functrace.lax as lax
        >>> print(make_jaxpr(lambda x, y: lax.mul(lax.add(x, y), y))(1., 2.))
        { lambda ; a:f32[] b:f32[]. let c:f32[] = add a b; d:f32[] = mul c b in (d,) }
    """
    static = StaticArgs(fun, static_argnums, label="make_jaxpr", by_keyword=False)

    @functools.wraps(fun)
    def make_jaxpr_f(*args, **kwargs):
        dyn, _, statics = static.split(args, {})
        leaves, in_tree = tree_flatten(dyn)
        # keyword arguments are closed over, as Python values
        fun_dyn = with_statics(fun, statics + tuple(sorted(kwargs.items())))
        flat_fun, store = flatten_fun(fun_dyn, in_tree, check_outputs=False)
        names = _arg_names(fun, args, statics)
        with contextlib.ExitStack() as frames:
            for axis_name, size in axis_env or ():
                # a batch frame below the staging trace: collectives over the name find
                # its size, and the staging trace (above it) records them as equations
                frames.enter_context(new_main(BatchTrace, AxisData(int(size), axis_name)))
            closed: ClosedJaxpr = trace_to_jaxpr(flat_fun, [_abstractify(x) for x in leaves],
                                                 names, fun_name=fun_name(fun))
        if return_shape:
            shapes = [ShapeDtypeStruct(a.shape, a.dtype, weak_type=a.weak_type)
                      for a in closed.out_avals]
            return closed, tree_unflatten(store["out_tree"], shapes)
        return closed

    return make_jaxpr_f


class ShapeDtypeStruct:
    """A shape and dtype standing in for an array (``jax.ShapeDtypeStruct``): an
    argument of ``eval_shape``, ``make_jaxpr`` and ``jit(f).lower``/``.trace``.

    Example:
        >>> import numpy as np
        >>> ShapeDtypeStruct((2, 3), np.float32)
        ShapeDtypeStruct(shape=(2, 3), dtype=float32)
    """

    __slots__ = ("shape", "dtype", "weak_type", "sharding")

    def __init__(self, shape, dtype, *, sharding=None, weak_type: bool = False):
        self.shape = tuple(int(n) for n in shape)
        self.dtype = np.dtype(dtype)
        self.sharding = sharding  # accepted for JAX's signature; one device here
        self.weak_type = bool(weak_type)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __repr__(self) -> str:
        weak = ", weak_type=True" if self.weak_type else ""
        return f"ShapeDtypeStruct(shape={self.shape}, dtype={self.dtype.name}{weak})"

    def __eq__(self, other):
        return (isinstance(other, ShapeDtypeStruct) and self.shape == other.shape
                and self.dtype == other.dtype and self.weak_type == other.weak_type)

    def __hash__(self) -> int:  # immutable, so usable as a dict key or a static argument
        return hash((self.shape, self.dtype, self.weak_type))

    def __setattr__(self, name, value):
        if hasattr(self, "weak_type"):
            raise AttributeError("ShapeDtypeStruct is immutable")
        object.__setattr__(self, name, value)


def _arg_names(fun, args, statics) -> list[str]:
    """One name per leaf of the dynamic arguments: the parameter's, with ``[leaf j]`` for
    a pytree argument."""
    static_at = {where for where, _ in statics}
    out = []
    for i, (base, a) in enumerate(zip(signature_names(fun, len(args)), args, strict=True)):
        if i in static_at:
            continue
        n = len(tree_flatten(a)[0])
        out += [base] if n == 1 else [f"{base}[leaf {j}]" for j in range(n)]
    return out


def _abstractify(x) -> ShapedArray:
    if isinstance(x, ShapeDtypeStruct):
        return ShapedArray(x.shape, x.dtype, x.weak_type)
    return get_aval(x)
