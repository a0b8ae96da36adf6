"""``vmap``: the front end of the batch trace (``batching.py`` is the interpreter).

It reads ``in_axes`` / ``out_axes`` (pytree prefixes of the arguments and the
output, with paths for error messages), finds the mapped size, runs the flat
function under ``batching.batch_flat`` and moves each output's batch dim to its
``out_axes``. ``spmd_map`` is the same with an axis that may span processes
(what ``pmap`` runs).
"""

from __future__ import annotations

import collections
import functools

import numpy as np

from ..core.trace import get_aval
from ..errors import FunctraceError, ShapeError, TransformError
from ..tree_util import tree_flatten, tree_unflatten
from .api_util import check_array_leaf, check_callable, flatten_fun, is_array_leaf, signature_names
from .batching import batch_flat, matchaxis, not_mapped, shape_op, unbatched_shape

__all__ = ["flat_out_axes", "spmd_map", "vmap"]

# ---------------------------------------------------------------------------
# in_axes / out_axes: pytree prefixes, with paths for error messages

def _children(x):
    """The immediate children of a pytree node and their path suffixes (None if a leaf)."""
    kids, td = tree_flatten(x, is_leaf=lambda y: y is not x)
    if td.node_type is None:
        return None, td
    if isinstance(x, dict):
        keys = [f"[{k!r}]" for k in sorted(x)] if td.node_type is dict else [
            f"[{k!r}]" for k in x]
    elif isinstance(x, tuple) and len(getattr(type(x), "_fields", ())) == len(kids) > 0:
        keys = [f".{f}" for f in type(x)._fields]
    else:
        keys = [f"[{i}]" for i in range(len(kids))]
    return list(zip(keys, kids, strict=True)), td


def _leaves_with_paths(x, path: str, out: list):
    children, _ = _children(x)
    if children is None:
        out.append((path, x))
        return
    for key, kid in children:
        _leaves_with_paths(kid, path + key, out)


def _is_axis_spec(a) -> bool:
    return a is None or (isinstance(a, int | np.integer) and not isinstance(a, bool))


def _flatten_axes(what: str, spec, tree, path: str, out: list):
    """Broadcasts the prefix ``spec`` over ``tree``: appends ``(path, leaf, axis)``."""
    if _is_axis_spec(spec):
        leaves: list = []
        _leaves_with_paths(tree, path, leaves)
        out.extend((p, leaf, None if spec is None else int(spec)) for p, leaf in leaves)
        return
    spec_kids, spec_td = _children(spec)
    tree_kids, tree_td = _children(tree)
    if spec_kids is None or tree_kids is None or spec_td != tree_td:
        raise ShapeError(
            f"vmap {what} specification must be a tree prefix of the corresponding value, got "
            f"specification {spec!r} for value tree {tree_flatten(tree)[1]} at {path or 'the top'}"
            ". Give one int/None per leaf, or one for a whole subtree.")
    for (key, s), (_, t) in zip(spec_kids, tree_kids, strict=True):
        _flatten_axes(what, s, t, path + key, out)


def _check_spec_types(what: str, spec):
    leaves = tree_flatten(spec)[0]
    if not all(_is_axis_spec(a) for a in leaves):
        raise TransformError(f"vmap {what} must be an int, None, or (nested) container with "
                             f"those types as leaves, but got {spec!r}.")


def _type_str(x) -> str:
    try:
        return get_aval(x).str_short()
    except Exception:  # noqa: BLE001 - only used to describe the argument
        return type(x).__name__


def _mapped_size(entries, axis_size_arg) -> int:
    """The common length of the mapped axes; JAX's messages where they disagree."""
    sizes = [(get_aval(leaf).shape[ax], path, ax, leaf) for path, leaf, ax in entries
             if ax is not None]
    distinct = {s for s, *_ in sizes}
    if axis_size_arg is not None:
        bad = [e for e in sizes if e[0] != axis_size_arg]
        if bad:
            s, path, ax, leaf = bad[0]
            raise ShapeError(f"vmap got axis_size={axis_size_arg} but axis {ax} of {path} of "
                             f"type {_type_str(leaf)} has size {s}; the mapped axes must have "
                             "length axis_size.")
        return int(axis_size_arg)
    if not sizes:
        raise ShapeError("vmap must have at least one non-None value in in_axes (or pass "
                         "axis_size=n to map over n copies of unmapped arguments)")
    if len(distinct) == 1:
        return sizes[0][0]
    counts = collections.Counter(s for s, *_ in sizes).most_common()
    lines = ["vmap got inconsistent sizes for array axes to be mapped:"]
    for k, (size, n) in enumerate(counts):
        _, path, ax, leaf = next(e for e in sizes if e[0] == size)
        where = f"axis {ax} of {path} of type {_type_str(leaf)}"
        if n == 1:
            lines.append(f"  * one axis had size {size}: {where};")
        else:
            kind = "most" if k == 0 else "some"
            lines.append(f"  * {kind} axes ({n} of them) had size {size}, e.g. {where};")
    raise ShapeError("\n".join(lines)[:-1])


def _normalize_in_axis(path: str, leaf, ax):
    if ax is None:
        return None
    shape = get_aval(leaf).shape
    if not -len(shape) <= ax < len(shape):
        min_rank = ax + 1 if ax >= 0 else -ax
        raise ShapeError(
            f"vmap was requested to map its argument along axis {ax}, which implies that its "
            f"rank should be at least {min_rank}, but is only {len(shape)} (its shape is "
            f"{shape}); the argument is {path}.")
    return ax % len(shape)


def _to_out_axis(val, bdim, ax, size: int, path: str, axis_name):
    if ax is None:
        if bdim is not not_mapped:
            raise ShapeError(f"vmap has mapped output (axis_name={axis_name}) but out_axes is "
                             f"None for {path}: this output varies along the mapped axis. Give "
                             "it an int out_axes.")
        return val
    ndim = len(unbatched_shape(val, bdim)) + 1
    if not -ndim <= ax < ndim:
        raise ShapeError(f"vmap out_axes={ax} is out of bounds for {path}, an output of rank "
                         f"{ndim} (with the mapped axis); use -{ndim} <= out_axes < {ndim}.")
    return matchaxis(bdim, ax % ndim, size, val)


# ---------------------------------------------------------------------------
# vmap

def vmap(fun, in_axes=0, out_axes=0, axis_name=None, axis_size=None, spmd_axis_name=None):
    """Vectorising map: ``fun`` mapped over an axis of its arguments (``jax.vmap``).

    Args:
        fun: the function to map; it sees one example (the mapped axis removed).
        in_axes: an int, None, or a tuple with one entry per positional argument, each
            a pytree prefix of that argument with int (the axis to map; negative counts
            from the end) or None (not mapped) leaves. Lists are read as tuples.
            Keyword arguments are always mapped over their axis 0.
        out_axes: like ``in_axes``, a prefix of the output: where the mapped axis goes
            in each output (None for outputs that do not depend on it).
        axis_name: a name for the mapped axis, so that collectives (``lax.psum``,
            ``lax.all_gather``, ``lax.axis_index``...) inside ``fun`` can act over it.
        axis_size: the length of the mapped axis; needed only when no argument is
            mapped (then unmapped outputs are broadcast to it).
        spmd_axis_name: accepted and ignored: in JAX it only shards the mapped axis over
            a device mesh, which does not change the values (functrace has no sharding).
    Returns:
        The batched function.

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> ft.vmap(lambda x, y: fnp.dot(x, y), in_axes=(0, None))(
        ...     fnp.ones((3, 2)), fnp.array([1., 2.]))
        array([3., 3., 3.], dtype=float32)
    """
    check_callable(fun, "vmap")
    del spmd_axis_name  # a sharding hint only; the values are the same without it
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)
    if not (in_axes is None or type(in_axes) in (int, tuple) or _is_axis_spec(in_axes)):
        raise TransformError(
            "vmap in_axes must be an int, None, or a tuple of entries corresponding to the "
            f"positional arguments passed to the function, but got {in_axes!r}.")
    _check_spec_types("in_axes", in_axes)
    _check_spec_types("out_axes", out_axes)
    if axis_size is not None and (not isinstance(axis_size, int | np.integer) or axis_size < 0):
        raise TransformError(f"vmap: axis_size must be a non-negative int, got {axis_size!r}")
    return spmd_map(fun, in_axes, out_axes, axis_name, axis_size)


def flat_out_axes(out_axes, out) -> list:
    """``out_axes`` (a prefix of the output ``out``) as one int or None per output leaf,
    ints made non-negative (JAX's errors where it is not a prefix or out of range)."""
    entries: list = []
    _flatten_axes("out_axes", out_axes, out, "output", entries)
    axes = []
    for p, leaf, ax in entries:
        if ax is not None:
            ndim = get_aval(leaf).ndim + 1
            if not -ndim <= ax < ndim:
                raise ShapeError(f"vmap out_axes={ax} is out of bounds for {p}, an output of "
                                 f"rank {ndim} (with the mapped axis); use -{ndim} <= out_axes "
                                 f"< {ndim}.")
            ax %= ndim
        axes.append(ax)
    return axes


def spmd_map(fun, in_axes, out_axes, axis_name, axis_size=None, group=None, check_size=None,
             unmap_single_lane=False, stage=None):
    """``vmap`` whose axis may span the processes of ``group`` (what ``pmap`` runs).

    Arguments are checked by the caller (``vmap`` or ``pmap``); ``check_size(n)``, if
    given, is called with the length of the mapped axis before ``fun`` runs. With
    ``unmap_single_lane`` a mapped axis of length 1 is squeezed away and ``fun`` runs on
    unmapped values (only collectives see the axis): one lane per process, the usual
    multi-process case, then runs the plain program, with no batching rules in the way.

    ``stage(flat_fun, leaves, in_dims, size, store)``, if given, replaces the batching:
    it gets the flat function (it fills ``store["out"]``, the output), the dynamic leaves,
    their mapped axes (None: unmapped) and the mapped size, and returns the flat outputs
    (``pmap`` stages the per-device program as one ``shard_map`` equation).
    """

    @functools.wraps(fun)
    def vmap_f(*args, **kwargs):
        if isinstance(in_axes, tuple) and len(in_axes) != len(args):
            raise TransformError(
                "vmap in_axes must be an int, None, or a tuple of entries corresponding to the "
                f"positional arguments passed to the function, but got len(in_axes)="
                f"{len(in_axes)}, len(args)={len(args)}")
        names = signature_names(fun, len(args))
        entries: list = []
        for i, a in enumerate(args):
            spec = in_axes[i] if isinstance(in_axes, tuple) else in_axes
            _flatten_axes("in_axes", spec, a, f"argument {names[i]}", entries)
        for k in sorted(kwargs):
            _flatten_axes("in_axes", 0, kwargs[k], f"kwargs[{k!r}]", entries)
        # an unmapped leaf that is not an array (a function, a string...) passes through
        # untouched, as in JAX; a mapped one must be an array
        static = [ax is None and not is_array_leaf(leaf) for _, leaf, ax in entries]
        for (p, leaf, _), st in zip(entries, static, strict=True):
            if not st:
                check_array_leaf(leaf, f"vmap: {p}")
        entries = [(p, leaf, _normalize_in_axis(p, leaf, ax)) for p, leaf, ax in entries]
        size = _mapped_size(entries, axis_size)
        if check_size is not None:
            check_size(size)
        leaves, in_tree = tree_flatten((args, {k: kwargs[k] for k in sorted(kwargs)}))
        if len(leaves) != len(entries):
            raise FunctraceError("internal error: vmap flattened the arguments inconsistently")
        flat_fun, store = flatten_fun(fun, in_tree, with_kwargs=True)
        # the flat function takes the dynamic leaves only; static ones are put back
        def dyn_fun(*flat):
            it = iter(flat)
            return flat_fun(*[leaf if st else next(it)
                              for leaf, st in zip(leaves, static, strict=True)])

        in_dims = [ax for (_, _, ax), st in zip(entries, static, strict=True) if not st]
        dyn_leaves = [leaf for leaf, st in zip(leaves, static, strict=True) if not st]
        if stage is not None:
            outs = stage(dyn_fun, dyn_leaves, in_dims, size, store)
            return tree_unflatten(store["out_tree"], outs)
        if unmap_single_lane and size == 1:
            dyn_leaves = [x if d is None else shape_op("squeeze")(x, (d,))
                          for x, d in zip(dyn_leaves, in_dims, strict=True)]
            in_dims = [not_mapped] * len(dyn_leaves)
        out_vals, out_dims = batch_flat(dyn_fun, dyn_leaves, in_dims, size, axis_name, group)
        out_entries: list = []
        _flatten_axes("out_axes", out_axes, store["out"], "output", out_entries)
        outs = [_to_out_axis(v, d, ax, size, p, axis_name)
                for v, d, (p, _, ax) in zip(out_vals, out_dims, out_entries, strict=True)]
        return tree_unflatten(store["out_tree"], outs)

    return vmap_f
