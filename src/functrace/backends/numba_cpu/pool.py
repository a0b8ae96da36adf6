"""Max/min/sum pooling forward (``reduce_window_*``) and max/min-pool backward
(``select_and_scatter_add``) as generated Numba loops.

Fast path: a float array pooled over two adjacent axes, NCHW-like (window
``(1, 1, kh, kw)``) or NHWC-like (``(1, kh, kw, 1)``) in any rank (the other axes are
folded by reshapes: ``_Fold``; vmap's rank-5 pools run the rank-4 kernels), without padding or
dilation, any strides, windows of at most ``MAX_WINDOW`` elements. Each window
size gets its own loop with the window unrolled into registers and every choice
made with ``scalar.select`` (no branches: on random data the branchy loop paid
a misprediction per element and lost to NumPy; docs/performance.md). Other geometries use
the reference impl.

Selection follows the reference exactly: scan the window in row-major order,
select an element when it is strictly better than the running extreme, and keep
the running extreme with ``fmax``/``fmin`` semantics (a NaN is replaced by the
next number but never selected over it). The forward max/min propagates NaN
like ``np.maximum``. Big pools run chunks of their leading axis on Numba's threads
(``_Loop``, ``PARALLEL_MIN``); small ones stay on one.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ...compiler.kernel_cache import load_kernel_module
from ...core.jaxpr import Var
from ...lax.windowed import (
    reduce_window_max_p,
    reduce_window_min_p,
    reduce_window_sum_p,
    select_and_scatter_add_p,
)
from ...transforms import tape_vjp
from . import threads
from .scratch import empty
from .table import lowerings, program_rewrites, reference_lowering

MAX_WINDOW = 64  # unrolled window elements; larger windows use the reference impl


class _Fold(NamedTuple):
    """How an operand is pooled: over axes ``(axis, axis + 1)``, every axis before them
    folded into one leading axis and every axis after into one trailing axis (reshapes of
    a contiguous array: no copy). ``kind`` is 'nchw' (nothing after: the kernels see
    ``(lead, H, W)``) or 'nhwc' (``(lead, H, W, trail)``). So a vmapped pool (rank 5,
    its batch axis a window of 1) runs the same kernels as a rank-4 one."""
    kind: str
    axis: int


def _layout(shape, dtype, params) -> _Fold | None:
    """The ``_Fold`` of a pool on the fast path, else None."""
    dims, strides = params["window_dimensions"], params["window_strides"]
    if (len(shape) < 2 or not np.issubdtype(dtype, np.floating)
            or any(p != (0, 0) for p in params["padding"])
            or any(d != 1 for d in params["base_dilation"] + params["window_dilation"])
            or int(np.prod(dims)) > MAX_WINDOW):
        return None
    pooled = [a for a, (d, s) in enumerate(zip(dims, strides, strict=True)) if (d, s) != (1, 1)]
    if pooled and pooled[-1] - pooled[0] > 1:
        return None
    # one pooled axis: pair it with a neighbour; none (a 1x1 window): the last two
    axis = min(pooled[0], len(shape) - 2) if pooled else len(shape) - 2
    return _Fold("nchw" if axis == len(shape) - 2 else "nhwc", axis)


def _spatial(layout, params):
    axes = (layout.axis, layout.axis + 1)
    return ([params["window_dimensions"][a] for a in axes],
            [params["window_strides"][a] for a in axes])


def _source(op: str, layout: str, kind: str, window, strides, dtype, tiled: bool,
            exact: bool = True, parallel: bool = False) -> str:
    """Python source of one pooling loop; ``op`` is 'fwd' (``x -> y``), 'bwd'
    (``src, x -> out``), 'fwd_idx' (``x -> y, idx``: the forward that also records
    each window's selected offset) or 'bwd_idx' (``src, idx -> out``: the backward
    from those offsets). Rows of the window are hoisted out of the inner loop(s).
    ``exact=False`` drops the NaN bookkeeping of the selection and counts the NaNs it
    reads instead (returned: the caller reruns the exact loop if there were any).
    ``parallel``: the leading axis is cut into ``nch`` chunks over Numba's threads."""
    kh, kw = window
    offsets = [(i, j) for i in range(kh) for j in range(kw)]
    outer = ["for p in range(y.shape[0]):", "for a in range(y.shape[1]):"]
    if parallel:
        outer = ["for ch in prange(nch):",
                 "for p in range(y.shape[0] * ch // nch, y.shape[0] * (ch + 1) // nch):",
                 "for a in range(y.shape[1]):"]
    counts = not exact and op in ("fwd_idx", "bwd")
    inner = ["for b in range(y.shape[2]):"]
    at, at_y = "[b * SW + {j}]", "[b]"
    if layout == "nhwc":
        inner.append("for c in range(y.shape[3]):")
        at, at_y = "[b * SW + {j}, c]", "[b, c]"
    hoist = [f"x{i} = x[p, a * SH + {i}]" for i in range(kh)] + ["yr = y[p, a]"]
    body = [f"v{k} = x{i}{at.format(j=j)}" for k, (i, j) in enumerate(offsets)]
    better = ">" if kind == "max" else "<"
    if op == "bwd_idx":
        body = [f"g = yr{at_y}", f"k = ir{at_y}"]
        hoist += ["ir = idx[p, a]"] + [f"o{i} = out[p, a * SH + {i}]" for i in range(kh)]
        hoist = [h for h in hoist if not h.startswith("x")]
        assign = "=" if tiled else "+="
        for k, (i, j) in enumerate(offsets):
            body.append(f"o{i}{at.format(j=j)} {assign} _s.select(k == {k}, g, ZERO)")
        args = "y, idx, out"
    elif op == "fwd_idx":
        hoist.append("ir = idx[p, a]")
        body += ["m = v0", "s = v0", "k = np.int8(0)"]
        for k in range(1, len(offsets)):
            body += [f"t = v{k} {better} s", f"k = _s.select(t, np.int8({k}), k)"]
            if exact:  # selection skips NaNs (fmax); the pooled value propagates them
                body += [f"s = _s.select(t | (s != s), v{k}, s)",
                         f"m = _s.select((v{k} {better} m) | (v{k} != v{k}), v{k}, m)"]
            else:
                body.append(f"s = _s.select(t, v{k}, s)")
        body += [f"yr{at_y} = {'m' if exact else 's'}", f"ir{at_y} = k"]
        args = "x, y, idx"
    elif op == "fwd":
        body.append("m = v0")
        for k in range(1, len(offsets)):
            if kind == "sum":
                body.append(f"m = m + v{k}")
            else:  # np.maximum/np.minimum: NaN propagates
                body.append(f"m = _s.select((v{k} {better} m) | (v{k} != v{k}), v{k}, m)")
        body.append(f"yr{at_y} = m")
        args = "x, y"
    else:
        hoist += [f"o{i} = out[p, a * SH + {i}]" for i in range(kh)]
        body += ["m = v0", "k = np.int32(0)"]
        for k in range(1, len(offsets)):
            body += [f"t = v{k} {better} m", f"k = _s.select(t, np.int32({k}), k)"]
            if k < len(offsets) - 1:  # np.fmax/np.fmin: a NaN is replaced, never chosen
                body.append(f"m = _s.select(t | (m != m), v{k}, m)" if exact
                            else f"m = _s.select(t, v{k}, m)")
        body.append(f"g = yr{at_y}")
        assign = "=" if tiled else "+="
        for k, (i, j) in enumerate(offsets):
            body.append(f"o{i}{at.format(j=j)} {assign} _s.select(k == {k}, g, ZERO)")
        args = "y, x, out"
    if counts:  # a NaN compares unequal to itself
        body += [f"nans += (v{k} != v{k})" for k in range(len(offsets))]
    deco = "@njit(cache=True, nogil=True, fastmath=False" + (", parallel=True)" if parallel
                                                             else ")")
    lines = ["import numpy as np", "from numba import njit, prange",
             "from functrace.backends.numba_cpu import scalar as _s", "",
             f"SH, SW = {strides[0]}, {strides[1]}", f"ZERO = np.{np.dtype(dtype).name}(0)", "",
             deco, f"def kernel({args}{', nch' if parallel else ''}):"]
    ind = "    "
    if parallel:  # a count per chunk (a reduction variable in these nested loops is not
        #           one Numba's parfors accept)
        lines += [ind + "counts = np.zeros(nch, np.int64)", ind + outer[0]]
        ind += "    "
        lines.append(ind + "nans = 0")
        outer = outer[1:]
    else:
        lines.append(ind + "nans = 0")
    chunk_ind = ind
    for level, block in enumerate((outer, inner)):
        for h in block:
            lines.append(ind + h)
            ind += "    "
        if level == 0:
            lines += [ind + h for h in hoist]
    lines += [ind + b for b in body]
    if parallel:
        lines += [chunk_ind + "counts[ch] = nans", "    return counts.sum()"]
    else:
        lines.append("    return nans")
    return "\n".join(lines) + "\n"


def _as_canonical(layout, x):
    """The kernels' view of a contiguous ``x``: ``(lead, H, W)`` or ``(lead, H, W, trail)``."""
    a = layout.axis
    lead = (int(np.prod(x.shape[:a])), *x.shape[a:a + 2])
    return x.reshape(lead if layout.kind == "nchw" else (*lead, int(np.prod(x.shape[a + 2:]))))


PARALLEL_MIN = 1 << 17  # operand elements from which a loop runs on Numba's threads (a
#                         parallel region costs ~10 us; below, one thread)


class _Loop:
    """One pooling loop: ``exact(*arrays)`` and, where the op has one, ``fast(*arrays)``
    (no NaN bookkeeping; returns how many NaNs it read). Operands of ``PARALLEL_MIN``
    elements or more run chunks of the leading axis on Numba's threads (``threads.py``
    picks the count); windows never cross the leading axis, so results are the same."""

    def __init__(self, op, layout, kind, window, strides, operand, tiled):
        self.parallel = math.prod(operand.shape) >= PARALLEL_MIN
        ops = {"fwd_idx": (False, True), "bwd": (False, True)}.get(op, (True,))
        kernels = [load_kernel_module(_source(op, layout.kind, kind, window, strides,
                                              operand.dtype, tiled, e, self.parallel)).kernel
                   for e in ops]
        self._exact, self._fast = kernels[-1], kernels[0]
        self.gov = threads.Governor() if self.parallel else None

    def _call(self, kernel, args):
        if not self.parallel:
            return kernel(*args)
        nch = threads.chunk_count(args[0].shape[0] if args[0].ndim else 1,
                                  threads._numba().get_num_threads())
        return self.gov.run(kernel, *args, nch)

    def exact(self, *args):
        return self._call(self._exact, args)

    def fast(self, *args):
        return self._call(self._fast, args)


def lower_reduce_window(kind):
    def lower(eqn):
        x = eqn.inputs[0].aval
        layout = _layout(x.shape, x.dtype, eqn.params)
        if layout is None:
            return reference_lowering(eqn)
        window, strides = _spatial(layout, eqn.params)
        loop = _Loop("fwd", layout, kind, window, strides, x, True)
        out_shape, dtype = eqn.outvars[0].aval.shape, x.dtype

        def run(x):
            out = empty(out_shape, dtype)
            loop.exact(_as_canonical(layout, np.ascontiguousarray(x, dtype)),
                       _as_canonical(layout, out))
            return [out]

        run.__qualname__ = f"lower_reduce_window_{kind}.run"
        return run

    return lower


def _backward_geometry(eqn, layout):
    """(window, strides, tiled, allocator of the output) of a ``select_and_scatter_add``."""
    operand = eqn.inputs[1].aval
    window, strides = _spatial(layout, eqn.params)
    tiled = window == strides
    source_shape = eqn.inputs[0].aval.shape
    spatial = (layout.axis, layout.axis + 1)
    # positions no window covers (a ragged edge) must still be zero
    covered = all((source_shape[a] - 1) * s + w == operand.shape[a]
                  for a, s, w in zip(spatial, strides, window, strict=True))
    return window, strides, tiled, np.empty if tiled and covered else np.zeros


def lower_select_and_scatter_add(eqn):
    operand = eqn.inputs[1].aval
    layout = _layout(operand.shape, operand.dtype, eqn.params)
    if layout is None:
        return reference_lowering(eqn)
    window, strides, tiled, alloc = _backward_geometry(eqn, layout)
    kind, dtype = eqn.params["select_prim"], eqn.outvars[0].aval.dtype
    loop = _Loop("bwd", layout, kind, window, strides, operand, tiled)

    def run(source, x):
        x = _as_canonical(layout, np.ascontiguousarray(x))
        src = _as_canonical(layout, np.ascontiguousarray(source, dtype))
        out = alloc(operand.shape, dtype)
        # the NaN bookkeeping halves the loop's speed: the fast loop counts the NaNs it
        # reads, and only then the exact one runs, on a fresh output (the loops add)
        if loop.fast(src, x, _as_canonical(layout, out)):
            out = alloc(operand.shape, dtype)
            loop.exact(src, x, _as_canonical(layout, out))
        return [out]

    return run


def _window_key(params):
    return tuple(params[k] for k in ("window_dimensions", "window_strides", "padding",
                                     "base_dilation", "window_dilation"))


def _forward_with_index(eqn, layout):
    """``run(x) -> [y, idx]``: the pooled values and each window's selected offset."""
    x_aval = eqn.inputs[0].aval
    kind = "max" if eqn.primitive is reduce_window_max_p else "min"
    window, strides = _spatial(layout, eqn.params)
    loop = _Loop("fwd_idx", layout, kind, window, strides, x_aval, True)
    out_shape, dtype = eqn.outvars[0].aval.shape, x_aval.dtype

    def run(x):
        x = _as_canonical(layout, np.ascontiguousarray(x, dtype))
        y, idx = empty(out_shape, dtype), np.empty(out_shape, np.int8)
        args = (x, _as_canonical(layout, y), _as_canonical(layout, idx))
        if loop.fast(*args):  # NaNs read: the exact loop redoes it
            loop.exact(*args)
        return [y, idx]

    return run


def _scatter_by_index(eqn, layout):
    """``run(source, idx) -> [out]``: the pool's backward from recorded offsets."""
    operand = eqn.inputs[1].aval
    window, strides, tiled, alloc = _backward_geometry(eqn, layout)
    loop = _Loop("bwd_idx", layout, eqn.params["select_prim"], window, strides, operand,
                 tiled)
    shape, dtype = operand.shape, eqn.outvars[0].aval.dtype

    def run(source, idx):
        out = alloc(shape, dtype)
        loop.exact(_as_canonical(layout, np.ascontiguousarray(source, dtype)),
                   _as_canonical(layout, idx), _as_canonical(layout, out))
        return [out]

    return run


def pair_argmax(steps, outvars=frozenset()) -> dict:
    """A program rewrite: each max/min pool whose backward (``select_and_scatter_add``
    on the same operand and window) is in the same program records its argmax in
    the forward (an int8 per window), and the backward scatters by it instead of
    reading the operand and searching every window again."""
    forwards, out = {}, {}
    for k, step in enumerate(steps):
        if step.fused:
            continue
        eqn = step.eqns[0]
        if eqn.primitive in (reduce_window_max_p, reduce_window_min_p) and isinstance(
                eqn.inputs[0], Var):
            x = eqn.inputs[0].aval
            layout = _layout(x.shape, x.dtype, eqn.params)
            kind = "max" if eqn.primitive is reduce_window_max_p else "min"
            if layout is not None:
                forwards[(eqn.inputs[0], kind, _window_key(eqn.params))] = (k, eqn, layout)
        elif eqn.primitive is select_and_scatter_add_p and isinstance(eqn.inputs[1], Var):
            key = (eqn.inputs[1], eqn.params["select_prim"], _window_key(eqn.params))
            if key not in forwards:
                continue
            k1, fwd, layout = forwards[key]
            token = ("argmax", k1)
            if k1 not in out:
                out[k1] = (_forward_with_index(fwd, layout), [fwd.inputs[0]],
                           [fwd.outvars[0], token])
            out[k] = (_scatter_by_index(eqn, layout), [eqn.inputs[0], token], eqn.outvars)
    return out


program_rewrites.append(pair_argmax)
lowerings[select_and_scatter_add_p] = lower_select_and_scatter_add
lowerings[reduce_window_max_p] = lower_reduce_window("max")
lowerings[reduce_window_min_p] = lower_reduce_window("min")
lowerings[reduce_window_sum_p] = lower_reduce_window("sum")
# the eager tape (un-jitted grad) runs the same kernels
for _p in (select_and_scatter_add_p, reduce_window_max_p, reduce_window_min_p,
           reduce_window_sum_p):
    tape_vjp.eager_lowerings[_p] = lowerings[_p]
tape_vjp.eager_rewrites.append(pair_argmax)  # and pairs a max pool with its backward
