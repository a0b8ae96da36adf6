"""``make_jaxpr``: the program a function becomes, in JAX's printed format."""

from __future__ import annotations

import functools
import inspect

import numpy as np

from ..errors import TransformError
from ..tree_util import tree_flatten, tree_unflatten
from .avals import ShapedArray
from .jaxpr import ClosedJaxpr
from .trace import get_aval, trace_to_jaxpr


def _arg_names(fun, args) -> list[str]:
    try:
        params = list(inspect.signature(fun).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    out = []
    for i, a in enumerate(args):
        base = names[i] if i < len(names) else f"args[{i}]"
        leaves = tree_flatten(a)[0]
        out += [base] if len(leaves) == 1 else [f"{base}[leaf {j}]" for j in range(len(leaves))]
    return out


def static_args_split(fun, args, static_argnums, who: str):
    """Splits ``args`` into dynamic ones and a hashable tuple of (index, value) statics."""
    nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    nargs = len(args)
    for n in nums:
        if not -nargs <= n < nargs:
            raise TransformError(f"{who}: static_argnums={static_argnums!r} is out of range for "
                                 f"{nargs} positional argument(s)")
    nums = tuple(sorted(n % nargs for n in nums))
    statics = tuple((i, args[i]) for i in nums)
    dyn = tuple(a for i, a in enumerate(args) if i not in nums)
    return dyn, statics


def make_jaxpr(fun, static_argnums=(), return_shape: bool = False):
    """Returns a function that traces ``fun`` abstractly and returns its ``ClosedJaxpr``.

    Example:
        >>> import functrace.lax as lax
        >>> print(make_jaxpr(lambda x, y: lax.mul(lax.add(x, y), y))(1., 2.))
        { lambda ; a:f32[] b:f32[]. let c:f32[] = add a b; d:f32[] = mul c b in (d,) }
    """
    @functools.wraps(fun)
    def make_jaxpr_f(*args, **kwargs):
        dyn, statics = static_args_split(fun, args, static_argnums, "make_jaxpr")
        leaves, in_tree = tree_flatten(dyn)
        in_avals = [_abstractify(x) for x in leaves]
        store = {}

        def flat_fun(*flat):
            full = list(tree_unflatten(in_tree, flat))
            for i, v in statics:
                full.insert(i, v)
            out = fun(*full, **kwargs)
            out_leaves, store["tree"] = tree_flatten(out)
            return out_leaves

        names = _arg_names(fun, dyn)
        closed: ClosedJaxpr = trace_to_jaxpr(flat_fun, in_avals, names,
                                             fun_name=getattr(fun, "__name__", "fun"))
        if return_shape:
            shapes = [ShapeDtypeStruct(a.shape, a.dtype) for a in closed.out_avals]
            return closed, tree_unflatten(store["tree"], shapes)
        return closed

    return make_jaxpr_f


class ShapeDtypeStruct:
    """A shape and dtype standing in for an array (``jax.ShapeDtypeStruct``)."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)

    def __repr__(self) -> str:
        return f"ShapeDtypeStruct(shape={self.shape}, dtype={self.dtype.name})"

    def __eq__(self, other):
        return (isinstance(other, ShapeDtypeStruct) and self.shape == other.shape
                and self.dtype == other.dtype)

    def __hash__(self) -> int:  # immutable, so usable as a dict key or a static argument
        return hash((self.shape, self.dtype))

    def __setattr__(self, name, value):
        if hasattr(self, "dtype"):
            raise AttributeError("ShapeDtypeStruct is immutable")
        object.__setattr__(self, name, value)


def _abstractify(x) -> ShapedArray:
    if isinstance(x, ShapeDtypeStruct):
        return ShapedArray(x.shape, x.dtype)
    return get_aval(x)
