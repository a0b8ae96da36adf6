"""The steps of a native loop that are not fused loops (``native_loop.py``): for each
primitive, a rule ``rule(emitter, eqn, env, lines, indent)`` that writes the lines
computing ``eqn``'s results into the generated loop function, or raises ``Unsupported``.

Values are ``Val``s: rank-0 values are Numba scalars, the others C-contiguous arrays.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass

import numpy as np

from ...compiler.fusion import Step
from ...compiler.scalar_expr import cast
from ...core.jaxpr import Literal
from ...lax._gather_scatter_impl import GatherScatterMode
from ...lax.bits import bitcast_convert_type_p, shift_left_p, shift_right_logical_p
from ...lax.control_flow import cond_p, scan_p, while_p
from ...lax.creation import full_p, iota_p
from ...lax.dots import dot_general_p
from ...lax.dynamic_slicing import dynamic_slice_p, dynamic_update_slice_p
from ...lax.gather_scatter import gather_p, scatter_add_p, scatter_p, scatter_sub_p
from ...lax.reductions import reduce_and_p, reduce_max_p, reduce_min_p, reduce_or_p
from ...lax.shape_ops import (
    broadcast_in_dim_p,
    expand_dims_p,
    reduce_sum_p,
    reshape_p,
    squeeze_p,
    transpose_p,
)
from ...lax.slicing import concatenate_p, rev_p, slice_p
from ...lax.threefry import threefry2x32_p
from ...transforms.checkpoint import checkpoint_p
from ...transforms.custom import custom_jvp_call_p, custom_vjp_call_p

# dtypes a native loop keeps in Numba locals and arrays (complex, float16 and bfloat16
# bodies stay on the Python-orchestrated path)
NATIVE_DTYPES = frozenset(np.dtype(t) for t in (
    np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
    np.uint64, np.float32, np.float64))
BLAS_DTYPES = frozenset((np.dtype(np.float32), np.dtype(np.float64)))


class Unsupported(Exception):  # noqa: N818 - a decision, not an error the user sees
    """This loop cannot be one Numba function; the message says why."""


@dataclass(frozen=True)
class Val:
    """A value in the generated function: a local's name (or a literal's expression);
    rank-0 values are Numba scalars, the others C-contiguous arrays."""

    expr: str
    shape: tuple
    dtype: np.dtype

    @property
    def scalar(self) -> bool:
        return self.shape == ()

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def shape_str(t) -> str:
    return repr(tuple(int(n) for n in t))


def number(x) -> str:
    x = x.item() if isinstance(x, np.generic) else x
    if isinstance(x, float) and not math.isfinite(x):
        return "np.nan" if x != x else ("np.inf" if x > 0 else "-np.inf")
    return repr(x)


def check_dtype(dtype, what: str) -> None:
    if np.dtype(dtype) not in NATIVE_DTYPES:
        raise Unsupported(f"{what} has dtype {np.dtype(dtype).name}")


def reshaped(x: Val, shape) -> str:
    return x.expr if tuple(x.shape) == tuple(shape) else f"{x.expr}.reshape({shape_str(shape)})"


# ---------------------------------------------------------------------------
# steps that are not fused loops: rule(emitter, eqn, env, lines, ind)

def _dot_operand(x: Val, perm: tuple, shape: tuple) -> str:
    """``x`` with its dims permuted to ``perm`` and reshaped to ``shape`` (2-D or 3-D). A
    2-D transpose stays a view: Numba's BLAS call reads Fortran-ordered operands."""
    if perm == tuple(range(len(perm))):
        return reshaped(x, shape)
    if len(perm) == 2 and tuple(shape) == (x.shape[1], x.shape[0]):
        return f"{x.expr}.T"
    moved = Val(f"np.ascontiguousarray(np.transpose({x.expr}, {perm!r}))",
                tuple(x.shape[d] for d in perm), x.dtype)
    return reshaped(moved, shape)


# Numba's np.dot reaches BLAS through SciPy's bindings: without SciPy the loop stays
# on the Python-orchestrated path, where dot_general is NumPy's matmul
_HAS_SCIPY = importlib.util.find_spec("scipy") is not None


def _dot_general(em, eqn, env, lines, ind) -> None:
    if not _HAS_SCIPY:
        raise Unsupported("dot_general needs SciPy in a native loop (Numba's np.dot calls "
                          "BLAS through it); pip install scipy")
    x, y = (em.read(env, a) for a in eqn.inputs)
    out = eqn.outvars[0]
    dtype = np.dtype(out.aval.dtype)
    if x.scalar or y.scalar or x.dtype not in BLAS_DTYPES or y.dtype != x.dtype or (
            dtype != x.dtype):
        raise Unsupported(f"dot_general of {x.dtype.name}{list(x.shape)} and "
                          f"{y.dtype.name}{list(y.shape)} -> {dtype.name} has no BLAS call")
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    lf = tuple(d for d in range(len(x.shape)) if d not in lc and d not in lb)
    rf = tuple(d for d in range(len(y.shape)) if d not in rc and d not in rb)
    b = math.prod(x.shape[d] for d in lb)
    m = math.prod(x.shape[d] for d in lf)
    k = math.prod(x.shape[d] for d in lc)
    n = math.prod(y.shape[d] for d in rf)
    shape = tuple(out.aval.shape)
    if b * m * n == 0 or k == 0:  # nothing to multiply: zeros (or an empty result)
        em.bind(env, out, f"np.zeros({shape_str(shape)}, np.{dtype.name})", lines, ind)
        return
    if not lb:
        a = _dot_operand(x, tuple(lf + lc), (m, k))
        c = _dot_operand(y, tuple(rc + rf), (k, n))
        prod = Val(f"np.dot({a}, {c})", (m, n), dtype)
        expr = (f"{prod.expr}[0, 0]" if shape == () else reshaped(prod, shape))
        em.bind(env, out, expr, lines, ind)
        return
    a = _dot_operand(x, tuple(lb + lf + lc), (b, m, k))
    c = _dot_operand(y, tuple(rb + rc + rf), (b, k, n))
    an, cn, o, q = em.fresh("lhs"), em.fresh("rhs"), em.fresh("o"), em.fresh("q")
    lines += [f"{ind}{an} = {a}", f"{ind}{cn} = {c}",
              f"{ind}{o} = np.empty({shape_str((b, m, n))}, np.{dtype.name})",
              f"{ind}for {q} in range({b}):",
              f"{ind}    np.dot({an}[{q}], {cn}[{q}], {o}[{q}])"]
    em.bind(env, out, reshaped(Val(o, (b, m, n), dtype), shape), lines, ind)


def _transpose(em, eqn, env, lines, ind) -> None:
    x = em.read(env, eqn.inputs[0])
    perm = tuple(eqn.params["permutation"])
    if perm == tuple(range(len(perm))):
        env[eqn.outvars[0]] = x
    elif len(perm) == 2:
        em.bind(env, eqn.outvars[0], f"np.ascontiguousarray({x.expr}.T)", lines, ind)
    else:
        em.bind(env, eqn.outvars[0],
                f"np.ascontiguousarray(np.transpose({x.expr}, {perm!r}))", lines, ind)


def _reshape(em, eqn, env, lines, ind) -> None:
    """reshape, squeeze and expand_dims: the same elements in a new shape."""
    if eqn.primitive is reshape_p and eqn.params["dimensions"] is not None:
        raise Unsupported("reshape with dimensions")
    x = em.read(env, eqn.inputs[0])
    out = eqn.outvars[0]
    shape = tuple(out.aval.shape)
    if shape == ():
        expr = x.expr if x.scalar else f"{x.expr}.reshape((1,))[0]"
    elif x.scalar:
        expr = f"np.full({shape_str(shape)}, {x.expr})"
    else:
        expr = reshaped(x, shape)
    em.bind(env, out, expr, lines, ind)


def _broadcast_in_dim(em, eqn, env, lines, ind) -> None:
    x = em.read(env, eqn.inputs[0])
    out = eqn.outvars[0]
    shape = tuple(out.aval.shape)
    dtype = np.dtype(out.aval.dtype)
    if shape == ():
        em.bind(env, out, cast(dtype, x.expr), lines, ind)
    elif x.scalar:
        em.bind(env, out, f"np.full({shape_str(shape)}, {cast(dtype, x.expr)})", lines, ind)
    else:
        expanded = [1] * len(shape)
        for n, d in zip(x.shape, eqn.params["broadcast_dimensions"], strict=True):
            expanded[d] = n
        em.bind(env, out, f"np.broadcast_to({reshaped(x, expanded)}, "
                          f"{shape_str(shape)}).copy()", lines, ind)


def _reduce_fused(em, eqn, env, lines, ind) -> None:
    """A reduction no fused step ends: a fused step of its own."""
    x = eqn.inputs[0]
    if isinstance(x, Literal) or not x.aval.shape:
        em.bind(env, eqn.outvars[0], cast(np.dtype(eqn.outvars[0].aval.dtype),
                                          em.read(env, x).expr), lines, ind)
        return
    em.fused(Step([eqn], inputs=[x], outputs=list(eqn.outvars), fused=True), env, lines,
             ind)


def _reduce_bool(fn: str):
    def rule(em, eqn, env, lines, ind) -> None:
        x = em.read(env, eqn.inputs[0])
        if x.scalar:
            em.bind(env, eqn.outvars[0], cast(np.dtype(np.bool_), x.expr), lines, ind)
        elif len(eqn.params["axes"]) == len(x.shape):
            em.bind(env, eqn.outvars[0], f"bool(np.{fn}({x.expr}))", lines, ind)
        else:
            raise Unsupported(f"{eqn.primitive.name} over some axes only")
    return rule


def _cond(em, eqn, env, lines, ind) -> None:
    """``if``/``elif`` on the (clamped) index; every branch assigns the same locals."""
    index, *ops = (em.read(env, a) for a in eqn.inputs)
    branches = eqn.params["branches"]
    outs = []
    for v in eqn.outvars:
        check_dtype(v.aval.dtype, "a cond result")
        outs.append(Val(em.fresh("r"), tuple(v.aval.shape), np.dtype(v.aval.dtype)))
    last = len(branches) - 1
    for k, branch in enumerate(branches):
        if k == last:
            head = "else:" if last else "if True:"
        elif k == 0:
            head = f"if {index.expr} <= 0:"
        else:
            head = f"elif {index.expr} == {k}:"
        lines.append(f"{ind}{head}")
        vals = em.jaxpr(branch, list(ops), lines, ind + "    ")
        for o, val in zip(outs, vals, strict=True):
            lines.append(f"{ind}    {o.expr} = {cast(o.dtype, val.expr) if o.scalar else val.expr}")
    env.update(zip(eqn.outvars, outs, strict=True))


def _slice(em, eqn, env, lines, ind) -> None:
    x = em.read(env, eqn.inputs[0])
    p = eqn.params
    strides = p["strides"] or (1,) * len(x.shape)
    at = ", ".join(f"{a}:{b}:{s}" for a, b, s in zip(p["start_indices"], p["limit_indices"],
                                                     strides, strict=True))
    em.bind(env, eqn.outvars[0], f"np.ascontiguousarray({x.expr}[{at}])", lines, ind)


def _rev(em, eqn, env, lines, ind) -> None:
    x = em.read(env, eqn.inputs[0])
    dims = set(eqn.params["dimensions"])
    at = ", ".join("::-1" if d in dims else ":" for d in range(len(x.shape)))
    em.bind(env, eqn.outvars[0], f"np.ascontiguousarray({x.expr}[{at}])", lines, ind)


def _concatenate(em, eqn, env, lines, ind) -> None:
    xs = [em.read(env, a).expr for a in eqn.inputs]
    em.bind(env, eqn.outvars[0], f"np.concatenate(({', '.join(xs)},), "
                                 f"axis={eqn.params['dimension']})", lines, ind)


def _starts(em, starts, shape, sizes, lines, ind) -> list[str]:
    """Start indices clamped so the window fits, as ``lax.dynamic_slice`` does."""
    names = []
    for s, n, k in zip(starts, shape, sizes, strict=True):
        name = em.fresh("s")
        lines.append(f"{ind}{name} = min(max(np.int64({s.expr}), 0), {n - k})")
        names.append(name)
    return names


def _dynamic_slice(em, eqn, env, lines, ind) -> None:
    x, *starts = (em.read(env, a) for a in eqn.inputs)
    sizes = eqn.params["slice_sizes"]
    if x.scalar:
        env[eqn.outvars[0]] = x
        return
    names = _starts(em, starts, x.shape, sizes, lines, ind)
    at = ", ".join(f"{s}:{s} + {k}" for s, k in zip(names, sizes, strict=True))
    em.bind(env, eqn.outvars[0], f"np.ascontiguousarray({x.expr}[{at}])", lines, ind)


def _updated(em, eqn, x: Val) -> str:
    """The array an update writes into: ``x`` itself when the loop owns it and nothing
    else reads it (``native_loop._updated_in_place``), else a copy."""
    return x.expr if em.in_place.get(id(eqn)) is eqn else f"{x.expr}.copy()"


def _dynamic_update_slice(em, eqn, env, lines, ind) -> None:
    x, update, *starts = (em.read(env, a) for a in eqn.inputs)
    if x.scalar:
        env[eqn.outvars[0]] = update
        return
    names = _starts(em, starts, x.shape, update.shape, lines, ind)
    at = ", ".join(f"{s}:{s} + {k}" for s, k in zip(names, update.shape, strict=True))
    out = em.bind(env, eqn.outvars[0], _updated(em, eqn, x), lines, ind)
    lines.append(f"{ind}{out.expr}[{at}] = {update.expr}")


def _window_starts(em, idx, start_map, shape, sizes, clamp: bool, lines, ind):
    """Start of the one window of a gather/scatter whose indices are a single index
    vector; with ``clamp`` the window is moved into bounds, otherwise the returned flag
    says whether it lies wholly inside (FILL_OR_DROP fills or drops it)."""
    starts, ok = [], []
    for d, (n, k) in enumerate(zip(shape, sizes, strict=True)):
        if d not in start_map:
            starts.append("0")
            continue
        name = em.fresh("s")
        at = start_map.index(d)
        raw = f"np.int64({idx.expr})" if idx.scalar else f"np.int64({idx.expr}[{at}])"
        if clamp:
            lines.append(f"{ind}{name} = min(max({raw}, 0), {n - k})")
        else:
            lines.append(f"{ind}{name} = {raw}")
            ok.append(f"(0 <= {name} <= {n - k})")
        starts.append(name)
    return starts, " and ".join(ok) or "True"


def _single_window(what: str, indices: Val, start_map, batching) -> None:
    if batching or tuple(indices.shape) not in ((len(start_map),), ()) or (
            indices.scalar and len(start_map) != 1):
        raise Unsupported(f"{what} with a batch of index vectors")


def _gather(em, eqn, env, lines, ind) -> None:
    """``x[i]``-style gathers: one index vector, one window."""
    x, idx = (em.read(env, a) for a in eqn.inputs)
    p = eqn.params
    dn = p["dimension_numbers"]
    out = eqn.outvars[0]
    shape = tuple(out.aval.shape)
    _single_window("gather", idx, dn.start_index_map, dn.operand_batching_dims)
    if x.scalar or tuple(dn.offset_dims) != tuple(range(len(shape))):
        raise Unsupported("gather with these dimension numbers")
    mode = p["mode"]
    if mode is GatherScatterMode.ONE_HOT:
        raise Unsupported("gather in ONE_HOT mode")
    sizes = p["slice_sizes"]
    fill = mode is GatherScatterMode.FILL_OR_DROP
    starts, ok = _window_starts(em, idx, tuple(dn.start_index_map), x.shape, sizes,
                                not fill, lines, ind)
    if shape == ():
        read = f"{x.expr}[{', '.join(starts)}]"
    else:
        at = ", ".join(f"{s}:{s} + {k}" for s, k in zip(starts, sizes, strict=True))
        read = f"np.ascontiguousarray({x.expr}[{at}]).reshape({shape_str(shape)})"
    if fill:
        value = number(p["fill_value"])
        dtype = np.dtype(out.aval.dtype)
        other = cast(dtype, value) if shape == () else (
            f"np.full({shape_str(shape)}, {cast(dtype, value)})")
        read = f"{read} if {ok} else {other}"
    em.bind(env, out, read, lines, ind)


def _scatter(em, eqn, env, lines, ind) -> None:
    """``x.at[i].set(v)`` / ``.add(v)`` / ``.subtract(v)``: a copy of ``x`` with one window
    written."""
    x, idx, upd = (em.read(env, a) for a in eqn.inputs)
    dn = eqn.params["dimension_numbers"]
    _single_window("scatter", idx, dn.scatter_dims_to_operand_dims, dn.operand_batching_dims)
    if x.scalar or tuple(dn.update_window_dims) != tuple(range(len(upd.shape))):
        raise Unsupported("scatter with these dimension numbers")
    mode = eqn.params["mode"]
    if mode is GatherScatterMode.ONE_HOT:
        raise Unsupported("scatter in ONE_HOT mode")
    it = iter(upd.shape)
    sizes = [1 if d in dn.inserted_window_dims else next(it) for d in range(len(x.shape))]
    starts, ok = _window_starts(em, idx, tuple(dn.scatter_dims_to_operand_dims), x.shape,
                                sizes, mode is GatherScatterMode.CLIP, lines, ind)
    out = em.bind(env, eqn.outvars[0], _updated(em, eqn, x), lines, ind)
    op = {scatter_add_p: "+=", scatter_sub_p: "-="}.get(eqn.primitive, "=")
    lines.append(f"{ind}if {ok}:")
    if upd.scalar:
        lines.append(f"{ind}    {out.expr}[{', '.join(starts)}] {op} {upd.expr}")
        return
    at = ", ".join(f"{s}:{s} + {k}" for s, k in zip(starts, sizes, strict=True))
    lines.append(f"{ind}    {out.expr}[{at}] {op} {reshaped(upd, tuple(sizes))}")


def _iota(em, eqn, env, lines, ind) -> None:
    p = eqn.params
    shape, d, dtype = tuple(p["shape"]), p["dimension"], np.dtype(p["dtype"])
    check_dtype(dtype, "iota")
    line = f"np.arange({shape[d]}).astype(np.{dtype.name})"
    if len(shape) == 1:
        em.bind(env, eqn.outvars[0], line, lines, ind)
        return
    expanded = [1] * len(shape)
    expanded[d] = shape[d]
    em.bind(env, eqn.outvars[0], f"np.broadcast_to({line}.reshape({shape_str(expanded)}), "
                                 f"{shape_str(shape)}).copy()", lines, ind)


def _full(em, eqn, env, lines, ind) -> None:
    p = eqn.params
    dtype = np.dtype(p["dtype"])
    check_dtype(dtype, "full")
    value = cast(dtype, number(np.asarray(p["fill_value"]).item()))
    shape = tuple(p["shape"])
    em.bind(env, eqn.outvars[0], value if shape == () else
            f"np.full({shape_str(shape)}, {value})", lines, ind)


def _flat(x: Val) -> str:
    """``x`` as a 1-D array (a scalar becomes one element) for the loop helpers."""
    return f"np.full(1, {x.expr})" if x.scalar else f"{x.expr}.reshape({x.size})"


def _elementwise_helper(em, eqn, env, lines, ind, call) -> None:
    """Results of ``call(output names)`` (a ``loop_helpers`` function writing flattened
    outputs), reshaped (or read as scalars) to the equation's output types."""
    names = []
    for v in eqn.outvars:
        a = v.aval
        name = em.fresh("o")
        lines.append(f"{ind}{name} = np.empty({max(a.size, 1)}, np.{np.dtype(a.dtype).name})")
        names.append(name)
    lines.append(f"{ind}{call(names)}")
    for v, name in zip(eqn.outvars, names, strict=True):
        shape = tuple(v.aval.shape)
        em.bind(env, v, f"{name}[0]" if shape == () else f"{name}.reshape({shape_str(shape)})",
                lines, ind)


def _shift(em, eqn, env, lines, ind) -> None:
    x, y = (em.read(env, a) for a in eqn.inputs)
    if x.dtype.kind != "u":
        raise Unsupported(f"{eqn.primitive.name} of {x.dtype.name}")
    if x.scalar and not y.scalar:  # a broadcast operand
        raise Unsupported(f"{eqn.primitive.name} of a scalar by an array")
    left = eqn.primitive is shift_left_p
    bits = 8 * x.dtype.itemsize
    _elementwise_helper(em, eqn, env, lines, ind, lambda o: (
        f"_h.shift({left}, {_flat(x)}, {_flat(y)}, {bits}, {o[0]})"))


def _threefry(em, eqn, env, lines, ind) -> None:
    ins = [_flat(em.read(env, a)) for a in eqn.inputs]
    _elementwise_helper(em, eqn, env, lines, ind, lambda o: (
        f"_h.threefry2x32({', '.join(ins)}, {o[0]}, {o[1]})"))


def _bitcast(em, eqn, env, lines, ind) -> None:
    x = em.read(env, eqn.inputs[0])
    new = np.dtype(eqn.params["new_dtype"])
    check_dtype(new, "bitcast_convert_type")
    if new == x.dtype:
        env[eqn.outvars[0]] = x
        return
    expr = f"{_flat(x)}.view(np.{new.name})"
    em.bind(env, eqn.outvars[0], f"{expr}[0]" if x.scalar else
            f"{expr}.reshape({shape_str(x.shape)})", lines, ind)


def _inline_call(param: str):
    """A call-like equation whose body is written in place (its semantics are its
    body's; ``prevent_cse`` matters only to jit's CSE, which has already run)."""
    def rule(em, eqn, env, lines, ind) -> None:
        args = [em.read(env, a) for a in eqn.inputs]
        outs = em.jaxpr(eqn.params[param], args, lines, ind)
        env.update(zip(eqn.outvars, outs, strict=True))
    return rule


def _loop(method: str):
    def rule(em, eqn, env, lines, ind) -> None:
        args = [em.read(env, a) for a in eqn.inputs]
        outs = getattr(em, method)(eqn.params, args, lines, ind)
        env.update(zip(eqn.outvars, outs, strict=True))
    return rule


RULES = {
    dot_general_p: _dot_general,
    transpose_p: _transpose,
    reshape_p: _reshape,
    squeeze_p: _reshape,
    expand_dims_p: _reshape,
    broadcast_in_dim_p: _broadcast_in_dim,
    reduce_sum_p: _reduce_fused,
    reduce_max_p: _reduce_fused,
    reduce_min_p: _reduce_fused,
    reduce_or_p: _reduce_bool("any"),
    reduce_and_p: _reduce_bool("all"),
    slice_p: _slice,
    rev_p: _rev,
    concatenate_p: _concatenate,
    dynamic_slice_p: _dynamic_slice,
    dynamic_update_slice_p: _dynamic_update_slice,
    shift_left_p: _shift,
    shift_right_logical_p: _shift,
    threefry2x32_p: _threefry,
    bitcast_convert_type_p: _bitcast,
    iota_p: _iota,
    full_p: _full,
    gather_p: _gather,
    scatter_p: _scatter,
    scatter_add_p: _scatter,
    scatter_sub_p: _scatter,
    checkpoint_p: _inline_call("jaxpr"),
    custom_jvp_call_p: _inline_call("call_jaxpr"),
    custom_vjp_call_p: _inline_call("call_jaxpr"),
    cond_p: _cond,
    scan_p: _loop("scan"),
    while_p: _loop("while_"),
}


