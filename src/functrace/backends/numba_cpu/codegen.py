"""Generates one Numba loop per fused elementwise cluster.

The source of each kernel goes through ``compiler/kernel_cache.py`` (a file in
``$FUNCTRACE_CACHE_DIR``, default ``~/.cache/functrace/kernels``), so Numba's
``cache=True`` keeps the machine code on disk: a second process pays no
compile time. Kernels are
generic over shape: a new shape reuses the compiled loop.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...compiler.kernel_cache import load_kernel_module
from ...compiler.scalar_expr import cast, literal, scalar_expr
from ...core.jaxpr import Literal
from ...lax.reductions import reduce_max_p, reduce_min_p
from ...lax.shape_ops import broadcast_in_dim_p, reduce_sum_p
from .scratch import empty

# Fused loops run on one thread unless they are huge: they are memory-bound, and
# right after a BLAS call (whose threads spin for a while) a parallel loop fights
# OpenBLAS for the cores and slowed the small CNN step down (docs/performance.md).
PARALLEL_MIN_SIZE = 1 << 24

# the reductions a loop can end in (fusion absorbs those marked ``fusible_reduction``)
ACCUMULATED = (reduce_sum_p, reduce_max_p, reduce_min_p)

# where the CPU loops differ from the primitives' own expressions (compiler/scalar_expr.py):
# NumPy's functions, as in the reference impls (np.floor stays a float where math.floor
# makes an int), a vectorisable erf, a branch-free select, and the integer helpers
_FUNCTIONS = {"floor": "np.floor({0})", "ceil": "np.ceil({0})", "exp": "np.exp({0})",
              "log": "np.log({0})", "log1p": "np.log1p({0})", "expm1": "np.expm1({0})",
              "sqrt": "np.sqrt({0})", "rsqrt": "(1.0 / np.sqrt({0}))", "tanh": "_s.tanh({0})",
              "sin": "np.sin({0})", "cos": "np.cos({0})", "erf": "_s.erf({0})",
              "is_finite": "np.isfinite({0})", "idiv": "_s.idiv({0}, {1})",
              "irem": "_s.irem({0}, {1})", "fmod": "np.fmod({0}, {1})",
              "select": "_s.select({0}, {1}, {2})",
              "float_to_int": "_s.float_to_int({0}, {1}, {2}, {3}, {4})",
              "float_to_uint64": "_s.float_to_uint64({0})"}
FUNCTIONS = _FUNCTIONS  # the native loops (native_loop.py) spell scalar code the same way


def _helpers_digest() -> str:
    """A digest of the helper modules the generated kernels link in. Numba's cache checks
    only the kernel's own file, so a changed helper must change the kernel's text (and
    its name). Read as files: importing them would import Numba with functrace."""
    here = Path(__file__).parent
    names = ("scalar.py", "loop_helpers.py", "../../lax/_special_scalar.py")
    text = b"".join((here / name).read_bytes() for name in names)
    return hashlib.sha1(text).hexdigest()[:16]


HELPERS_DIGEST = _helpers_digest()


def kernel_source(step, input_loads, indices, out_indices, rank) -> str:
    """Python source of the cluster's kernel ``kernel_{par,seq}(shape, *ins, *outs)``,
    looping over ``shape``.

    ``indices[k]`` indexes input ``k`` in its own shape: loop variables for the
    axes it spans, ``0`` where it broadcasts a size-1 axis (no stride-0 views: they
    make an array non-contiguous and stop LLVM from vectorising). An input read
    with no loop variable (a scalar) is read once, before the loops. Outputs are
    indexed by ``out_indices``; a trailing reduction's output is an accumulator
    that the caller initialised (``0`` on the axes it reduces)."""
    names: dict = {}
    params = [f"in{k}" for k in range(len(input_loads))]
    outs = [f"out{k}" for k in range(len(step.outputs))]
    for k, v in enumerate(input_loads):
        names[v] = f"x{k}"

    def atom(x):
        return literal(x) if isinstance(x, Literal) else names[x]

    hoisted, body = [], []
    for k, index in enumerate(indices):
        at = ", ".join(index) if index else "()"
        looped = any(i.startswith("i") for i in index)
        (body if looped else hoisted).append(f"x{k} = in{k}[{at}]")
    reduction = step.reduction
    for n, eqn in enumerate(step.eqns):
        out = eqn.outvars[0]
        if eqn is reduction:
            continue
        if out in names:  # a broadcast load already bound to an input
            continue
        if eqn.primitive is broadcast_in_dim_p:  # of a literal: the literal itself
            names[out] = atom(eqn.inputs[0])
            continue
        names[out] = f"v{n}"
        expr = scalar_expr(eqn, [atom(x) for x in eqn.inputs], _FUNCTIONS)
        body.append(f"v{n} = {cast(out.aval.dtype, expr)}")
    pre, post = [], []  # around the innermost loop
    for k, (v, index) in enumerate(zip(step.outputs, out_indices, strict=True)):
        at = ", ".join(index)
        if reduction is None or v is not reduction.outvars[0]:
            body.append(f"out{k}[{at}] = {names[v]}")
            continue
        x = atom(reduction.inputs[0])
        if index[-1] == "0":  # the innermost loop reduces: accumulate in a register
            pre.append(f"r{k} = out{k}[{at}]")
            post.append(f"out{k}[{at}] = r{k}")
            acc = f"r{k}"
        else:
            acc = f"out{k}[{at}]"
        if reduction.primitive is reduce_sum_p:
            body.append(f"{acc} += {x}")
        else:  # NaN propagates, as np.max/np.min
            op = ">" if reduction.primitive is reduce_max_p else "<"
            body += [f"a{k} = {acc}",
                     f"{acc} = _s.select(({x} {op} a{k}) | ({x} != {x}), {x}, a{k})"]
    # a sum may be reassociated so that LLVM vectorises it (accumulators are float64)
    fastmath = '{"reassoc"}' if reduction is not None else "False"
    # a primitive's own expression may call math (every one functrace ships is overridden)
    lines = [f"# a fused loop (backends/numba_cpu/codegen.py); helpers {HELPERS_DIGEST}"]
    lines += ["import math"] * any("math." in b for b in body) + [
        "import numpy as np", "from numba import njit, prange",
        "from functrace.backends.numba_cpu import scalar as _s", ""]
    for variant, rng in (("par", "prange"), ("seq", "range")):
        parallel = "True" if variant == "par" else "False"
        # error_model="numpy": x / 0 gives inf or nan, as NumPy and JAX, not ZeroDivisionError
        lines.append(f"@njit(parallel={parallel}, cache=True, fastmath={fastmath}, "
                     "error_model='numpy')")
        lines.append(f"def kernel_{variant}({', '.join(['shape'] + params + outs)}):")
        ind = "    "
        lines += [ind + h for h in hoisted]
        for d in range(rank):
            loop = rng if d == 0 else "range"
            if d == rank - 1:
                lines += [ind + b for b in pre]
            lines.append(f"{ind}for i{d} in {loop}(shape[{d}]):")
            ind += "    "
        lines += [ind + b for b in body]
        lines += [ind[4:] + b for b in post]
        lines.append("")
    return "\n".join(lines), rank


def _collapse(run_shape, full) -> list[list[int]]:
    """Groups adjacent axes that every input either spans or broadcasts alike, so a
    (64, 32, 28, 28) loop with a per-channel bias runs as (64, 32, 784): long
    contiguous inner loops are what LLVM vectorises."""
    groups, kinds = [], None
    for d, n in enumerate(run_shape):
        kind = None if n == 1 else [f[d] == n for f in full]  # size-1 axes join anything
        if groups and (kind is None or kinds is None or kind == kinds):
            groups[-1].append(d)
            kinds = kinds if kind is None else kind
        else:
            groups.append([d])
            kinds = kind
    return groups


def _accumulator(reduction) -> tuple[np.dtype, object]:
    """The accumulator dtype and initial value of a fused reduction: sums of floats
    accumulate in float64 (a serial float32 sum over 50k terms would lose digits
    that NumPy's pairwise sum keeps), of integers in int64."""
    dtype = np.dtype(reduction.outvars[0].aval.dtype)
    prim = reduction.primitive
    floating = dtype.kind == "f"
    if prim is reduce_sum_p:
        return np.dtype(np.float64 if floating else np.int64), 0
    if floating:
        return dtype, -np.inf if prim is reduce_max_p else np.inf
    info = np.iinfo(dtype)
    return dtype, info.min if prim is reduce_max_p else info.max


@dataclass(frozen=True)
class FusedLoop:
    """A fused step's generated loop and how its operands are laid out for it: ``feeds``
    are ``(input index, grouped shape)``, ``outputs`` ``(grouped shape, accumulator dtype
    or None, initial value)``, ``finals`` each output's ``(shape, dtype)``. Native loops
    (``native_loop.py``) call ``module.<kernel_name>`` from their own machine code."""

    module: object
    kernel_name: str
    loop_shape: tuple
    feeds: list
    outputs: list
    finals: list
    source: str

    @property
    def kernel(self):
        return getattr(self.module, self.kernel_name)


def plan_fused(step) -> FusedLoop:
    """Generates (or loads) the loop of a fused step and the layout of its operands."""
    # each external input is loaded either directly or through its broadcast_in_dim
    loads, preps = [], []
    direct = {x for e in step.eqns if e.primitive is not broadcast_in_dim_p for x in e.inputs}
    for k, v in enumerate(step.inputs):
        if v in direct:
            loads.append(v)
            preps.append((k, None))
    for eqn in step.eqns:
        if eqn.primitive is broadcast_in_dim_p and eqn.inputs[0] in step.inputs:
            loads.append(eqn.outvars[0])
            preps.append((step.inputs.index(eqn.inputs[0]), eqn.params))
    run_shape = step.shape if step.shape else (1,)
    # each input in the full rank: its size on every axis (1 where it broadcasts)
    full = []
    for k, params in preps:
        in_shape = step.inputs[k].aval.shape
        dims = (range(len(run_shape) - len(in_shape), len(run_shape)) if params is None
                else params["broadcast_dimensions"])  # NumPy-style: trailing axes line up
        sizes = [1] * len(run_shape)
        for n, d in zip(in_shape, dims, strict=True):
            sizes[d] = n
        full.append(sizes)
    reduction = step.reduction
    reduced = set(reduction.params["axes"]) if reduction is not None else set()
    red_full = [1 if d in reduced else n for d, n in enumerate(run_shape)]
    groups = _collapse(run_shape, full + ([red_full] if reduction is not None else []))
    loop_shape = tuple(int(np.prod([run_shape[d] for d in g])) for g in groups)

    def grouped(sizes):
        return tuple(int(np.prod([sizes[d] for d in g])) for g in groups)

    def index(shape):
        return tuple(f"i{g}" if n == loop_shape[g] and n != 1 else "0"
                     for g, n in enumerate(shape))

    in_shapes = [grouped(f) for f in full]
    red_shape = grouped(red_full)
    outputs = []  # (grouped shape, accumulator dtype or None, initial value)
    for v in step.outputs:
        if reduction is not None and v is reduction.outvars[0]:
            outputs.append((red_shape, *_accumulator(reduction)))
        else:
            outputs.append((loop_shape, None, None))
    source, _ = kernel_source(step, loads, [index(s) for s in in_shapes],
                              [index(s) for s, _, _ in outputs], len(loop_shape))
    module = load_kernel_module(source)
    size = int(np.prod(run_shape))
    # a reduction accumulates across iterations of the outer loop: serial only
    name = "kernel_par" if size >= PARALLEL_MIN_SIZE and reduction is None else "kernel_seq"
    feeds = [(k, in_shapes[n]) for n, (k, _) in enumerate(preps)]
    finals = [(v.aval.shape, v.aval.dtype) for v in step.outputs]
    return FusedLoop(module, name, loop_shape, feeds, outputs, finals, source)


def build_fused(step):
    """Returns ``(run, source)``; ``run(*input_values) -> list of outputs``."""
    fused = plan_fused(step)
    kernel, loop_shape, feeds = fused.kernel, fused.loop_shape, fused.feeds
    outputs, finals = fused.outputs, fused.finals

    def run(*vals):
        ins = [np.reshape(vals[k], s) for k, s in feeds]
        outs = [empty(s, dt) if acc is None else np.full(s, init, acc)
                for (s, acc, init), dt in zip(outputs, (d for _, d in finals), strict=True)]
        kernel(loop_shape, *ins, *outs)
        return [o.reshape(s) if o.dtype == dt else o.reshape(s).astype(dt)
                for o, (s, dt) in zip(outs, finals, strict=True)]

    return run, fused.source
