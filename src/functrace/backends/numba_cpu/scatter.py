"""CPU lowering of the scatter family: Numba loops, in place when the operand is dead.

``lower_scatter`` (the lowering of every scatter primitive) copies the operand and
combines the updates into the copy with one loop of ``_scatter_kernels.py``; the
NumPy reference (``np.add.at`` on positions computed for every window element)
took ~10x longer for a row scatter and allocated index arrays per call.

``inplace_scatters`` is a program rewrite (``table.program_rewrites``): a scatter
whose operand buffer is dead afterwards writes into it instead of a copy, so a
program of ``x.at[i].add(v)`` updates costs per update what the update touches, not
the whole array (what JAX does when XLA reuses the buffer). The operand is dead when
it, and every value that may share its memory, is

* made by a step of this program (never a program input or constant: the caller
  still holds those),
* not a program output, and
* read by no later step (and by this step only as the operand).

"May share its memory" is a plan-level alias analysis: a step's outputs alias its
inputs unless the step is known to allocate (generated loops larger than the tiny
size, gathers, ``dot_general``, ``full``); shape ops such as ``reshape`` return
views. At run time the in-place kernel still copies an operand that is not a
writable C-contiguous array (a broadcast ``zeros`` is a read-only view).
``counts`` records how each run went (tests read it).

Dtypes without a Numba loop (bool, float16, bfloat16; complex for min/max) run the
NumPy reference, in place as well when the operand is dead.
"""

from __future__ import annotations

import importlib

import numpy as np

from ...compiler.fusion import Step
from ...core.jaxpr import Var
from ...lax._gather_scatter_impl import GatherScatterMode, scatter_into
from ...lax.creation import full_p
from ...lax.dots import dot_general_p
from ...lax.gather_scatter import SCATTER_PRIMITIVES, gather_p
from .table import lowerings, program_rewrites

_KERNEL_NAMES = {"scatter": "scatter_set", "scatter-add": "scatter_add",
                 "scatter-sub": "scatter_sub", "scatter-mul": "scatter_mul",
                 "scatter-min": "scatter_min", "scatter-max": "scatter_max"}
FRESH_PRIMITIVES = frozenset({gather_p, dot_general_p, full_p})  # outputs never alias
TINY_FUSED = 16  # fused steps at most this size run reference impls (executor.TINY_SIZE)

counts = {"inplace": 0, "copy": 0}  # scatter runs that wrote into the operand / a copy


def _kernels():
    return importlib.import_module("._scatter_kernels", __package__)


def _has_loop(name: str, dtype: np.dtype) -> bool:
    if dtype.kind in "iu" or dtype in (np.float32, np.float64):
        return True
    return dtype.kind == "c" and name not in ("scatter-min", "scatter-max")


class _Geometry:
    """What a scatter's loop needs that depends only on shapes and parameters."""

    def __init__(self, eqn):
        x = eqn.inputs[0].aval
        idx, upd = eqn.inputs[1].aval, eqn.inputs[2].aval
        dn = eqn.params["dimension_numbers"]
        shape = x.shape
        strides = [1] * len(shape)
        for d in reversed(range(len(shape) - 1)):
            strides[d] = strides[d + 1] * shape[d + 1]
        window = [d for d in range(len(shape)) if d not in dn.inserted_window_dims
                  and d not in dn.operand_batching_dims]
        sizes = [1] * len(shape)
        for d, a in zip(window, dn.update_window_dims, strict=True):
            sizes[d] = upd.shape[a]
        start_map = dn.scatter_dims_to_operand_dims
        self.strides = np.array([strides[d] for d in start_map], np.int64)
        self.limits = np.array([shape[d] - sizes[d] for d in start_map], np.int64)
        woff = np.zeros([sizes[d] for d in window] or [1], np.int64)
        for w, d in enumerate(window):
            woff = woff + (np.arange(sizes[d]) * strides[d]).reshape(
                [-1 if v == w else 1 for v in range(len(window))])
        self.woff = np.ascontiguousarray(woff.reshape(-1))
        self.contig = bool(np.array_equal(self.woff, np.arange(self.woff.size)))
        batch = idx.shape[:-1]
        self.n = int(np.prod(batch, dtype=np.int64))
        bbase = np.zeros(batch, np.int64)
        for od, ia in zip(dn.operand_batching_dims, dn.scatter_indices_batching_dims,
                          strict=True):
            bbase = bbase + (np.arange(batch[ia]) * strides[od]).reshape(
                [-1 if a == ia else 1 for a in range(len(batch))])
        self.bbase = np.ascontiguousarray(bbase.reshape(-1))
        self.k = idx.shape[-1]
        scatter_axes = [a for a in range(upd.ndim) if a not in dn.update_window_dims]
        perm = scatter_axes + list(dn.update_window_dims)
        self.perm = None if perm == list(range(upd.ndim)) else tuple(perm)
        self.clamp = eqn.params["mode"] is GatherScatterMode.CLIP
        self.empty = x.size == 0 or upd.size == 0


def _runner(eqn, inplace: bool):
    """``run(operand, indices, updates) -> [out]`` for one scatter equation."""
    name = eqn.primitive.name
    dtype = np.dtype(eqn.outvars[0].aval.dtype)
    g = _Geometry(eqn)
    params = eqn.params

    def target(x):
        if inplace and type(x) is np.ndarray and x.flags.writeable and (
                x.flags.c_contiguous) and x.dtype == dtype:
            counts["inplace"] += 1
            return x
        counts["copy"] += 1
        return np.array(x, dtype, order="C")

    if g.empty:
        return lambda x, indices, updates: [target(x)]

    if not _has_loop(name, dtype):
        def run_reference(x, indices, updates):
            out = target(x)
            scatter_into(name, out, np.asarray(indices), np.asarray(updates, dtype),
                         dimension_numbers=params["dimension_numbers"], mode=params["mode"])
            return [out]
        return run_reference

    if (g.n == 1 and g.k == 1 and g.woff.size == 1 and name in _SCALAR_UPDATES
            and dtype.kind in "fc"):
        return _one_element(name, g, target)
    kernel = getattr(_kernels(), _KERNEL_NAMES[name])
    n, k, perm, woff = g.n, g.k, g.perm, g.woff
    bbase, strides, limits, clamp, contig = g.bbase, g.strides, g.limits, g.clamp, g.contig
    w = woff.size

    def run(x, indices, updates):
        out = target(x)
        upd = np.asarray(updates, dtype)
        if perm is not None:
            upd = upd.transpose(perm)
        kernel(out.reshape(-1), np.asarray(indices).reshape(n, k), upd.reshape(n, w), bbase,
               strides, limits, woff, clamp, contig)
        return [out]

    return run


_SCALAR_UPDATES = {"scatter": lambda a, u: u, "scatter-add": lambda a, u: a + u,
                   "scatter-sub": lambda a, u: a - u, "scatter-mul": lambda a, u: a * u}


def _one_element(name, g, target):
    """``x.at[i].op(v)`` with one index and a one-element window, for inexact dtypes:
    NumPy scalar indexing (~0.3 µs) costs less than a Numba call's argument unboxing
    (~0.7 µs). (Integers take the loop: NumPy scalars warn where they wrap.)"""
    combine = _SCALAR_UPDATES[name]
    stride, lim = int(g.strides[0]), int(g.limits[0])
    base0, clamp = int(g.bbase[0] + g.woff[0]), g.clamp

    def run(x, indices, updates):
        out = target(x)
        s = indices.item()
        if s < 0 or s > lim:
            if not clamp:
                return [out]
            s = 0 if s < 0 else lim
        flat = out.reshape(-1)
        p = base0 + s * stride
        flat[p] = combine(flat[p], updates.item())  # a Python scalar is weakly typed
        return [out]

    return run


def lower_scatter(eqn):
    """The scatter into a fresh copy of the operand (the operand may still be live)."""
    return _runner(eqn, inplace=False)


# ---------------------------------------------------------------------------
# the plan-level analysis: which scatters may write into their operand

def _step_io(step: Step):
    if step.fused:
        return step.inputs, step.outputs
    eqn = step.eqns[0]
    return eqn.inputs, eqn.outvars


def _fresh(step: Step) -> bool:
    """Whether the step's outputs are new buffers (never views of its inputs)."""
    if step.fused:
        return int(np.prod(step.shape)) > TINY_FUSED
    return step.eqns[0].primitive in FRESH_PRIMITIVES


class _Aliases:
    """Union-find over vars that may share one buffer, with each class's members."""

    def __init__(self):
        self.parent: dict = {}
        self.members: dict = {}

    def find(self, v):
        self.parent.setdefault(v, v)
        self.members.setdefault(v, [v])
        while self.parent[v] is not v:
            self.parent[v] = self.parent[self.parent[v]]
            v = self.parent[v]
        return v

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra is not rb:
            self.parent[rb] = ra
            self.members[ra] += self.members.pop(rb)


def inplace_scatters(steps, outvars=frozenset()) -> dict:
    """A program rewrite: the scatters whose operand is dead afterwards (module
    docstring) run in place."""
    made: set = set()
    last_read: dict = {}
    for k, step in enumerate(steps):
        ins, outs = _step_io(step)
        made.update(outs)
        for x in ins:
            if isinstance(x, Var):
                last_read[x] = k
    aliases, out = _Aliases(), {}
    for k, step in enumerate(steps):
        ins, outs = _step_io(step)
        eqn = step.eqns[0]
        if not step.fused and eqn.primitive in SCATTER_PRIMITIVES and isinstance(
                eqn.inputs[0], Var):
            operand = eqn.inputs[0]
            group = aliases.members[aliases.find(operand)]
            others = {x for x in eqn.inputs[1:] if isinstance(x, Var)}
            if all(m in made and m not in outvars and last_read.get(m, -1) <= k
                   and m not in others for m in group):
                out[k] = (_runner(eqn, inplace=True), list(eqn.inputs), list(eqn.outvars))
                aliases.union(operand, eqn.outvars[0])  # the result is the operand's buffer
            continue
        if not _fresh(step):
            vars_in = [x for x in ins if isinstance(x, Var)]
            for a in (*vars_in, *outs)[1:]:
                aliases.union((*vars_in, *outs)[0], a)
    return out


for _prim in SCATTER_PRIMITIVES:
    lowerings[_prim] = lower_scatter
del _prim
program_rewrites.append(inplace_scatters)
