"""Generates one Numba loop per fused elementwise cluster.

The source of each kernel is written to the kernel cache directory
(``$FUNCTRACE_CACHE_DIR``, default ``~/.cache/functrace/kernels``) under a name
derived from its text and imported from there, so Numba's ``cache=True`` keeps
the machine code on disk: a second process pays no compile time. Kernels are
generic over shape: a new shape reuses the compiled loop.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path

import numpy as np

from ...compiler.scalar_expr import cast, literal, scalar_expr
from ...core.jaxpr import Literal

# Fused loops run on one thread unless they are huge: they are memory-bound, and
# right after a BLAS call (whose threads spin for a while) a parallel loop fights
# OpenBLAS for the cores -- measured 2x slower on the small CNN step (PERFORMANCE.md).
PARALLEL_MIN_SIZE = 1 << 24

# how the CPU loops spell the math functions (see compiler/scalar_expr.py)
_FUNCTIONS = {"max": "_s.maximum({0}, {1})", "min": "_s.minimum({0}, {1})",
              "sign": "_s.sign({0})", "floor": "np.floor({0})", "ceil": "np.ceil({0})",
              "exp": "np.exp({0})", "log": "np.log({0})", "log1p": "np.log1p({0})",
              "expm1": "np.expm1({0})", "sqrt": "np.sqrt({0})", "rsqrt": "(1.0 / np.sqrt({0}))",
              "tanh": "np.tanh({0})", "logistic": "_s.logistic({0})", "sin": "np.sin({0})",
              "cos": "np.cos({0})", "erf": "_s.erf({0})", "is_finite": "np.isfinite({0})",
              "idiv": "_s.idiv({0}, {1})", "irem": "_s.irem({0}, {1})",
              "fmod": "np.fmod({0}, {1})"}


def cache_dir() -> Path:
    root = os.environ.get("FUNCTRACE_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "functrace")
    path = Path(root) / "kernels"
    path.mkdir(parents=True, exist_ok=True)
    return path


def kernel_source(step, input_loads) -> tuple[str, int]:
    """Python source of the cluster's kernel; returns (source, rank)."""
    shape = step.shape
    rank = max(len(shape), 1)
    idx = ", ".join(f"i{d}" for d in range(rank))
    names: dict = {}
    params = [f"in{k}" for k in range(len(input_loads))]
    outs = [f"out{k}" for k in range(len(step.outputs))]
    for k, v in enumerate(input_loads):
        names[v] = f"x{k}"

    def atom(x):
        return literal(x) if isinstance(x, Literal) else names[x]

    body = [f"x{k} = in{k}[{idx}]" for k in range(len(input_loads))]
    for n, eqn in enumerate(step.eqns):
        out = eqn.outvars[0]
        if out in names:  # a broadcast load already bound to an input
            continue
        if eqn.primitive.name == "broadcast_in_dim":  # of a literal: the literal itself
            names[out] = atom(eqn.inputs[0])
            continue
        names[out] = f"v{n}"
        expr = scalar_expr(eqn, [atom(x) for x in eqn.inputs], _FUNCTIONS)
        body.append(f"v{n} = {cast(out.aval.dtype, expr)}")
    body += [f"out{k}[{idx}] = {names[v]}" for k, v in enumerate(step.outputs)]
    lines = ["import numpy as np", "from numba import njit, prange",
             "from functrace.backends.numba_cpu import scalar as _s", ""]
    for variant, rng in (("par", "prange"), ("seq", "range")):
        parallel = "True" if variant == "par" else "False"
        lines.append(f"@njit(parallel={parallel}, cache=True, fastmath=False)")
        lines.append(f"def kernel_{variant}({', '.join(params + outs)}):")
        ind = "    "
        for d in range(rank):
            loop = rng if d == 0 else "range"
            lines.append(f"{ind}for i{d} in {loop}(out0.shape[{d}]):")
            ind += "    "
        lines += [ind + b for b in body]
        lines.append("")
    return "\n".join(lines), rank


_modules: dict[str, object] = {}


def load_kernel_module(source: str):
    """Imports generated source from the on-disk cache (so Numba can cache it too)."""
    digest = hashlib.sha1(source.encode()).hexdigest()[:16]
    name = f"ft_fused_{digest}"
    if name in _modules:
        return _modules[name]
    path = cache_dir() / f"{name}.py"
    if not path.exists() or path.read_text() != source:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(source)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    _modules[name] = module
    return module


def build_fused(step):
    """Returns ``(run, source)``; ``run(*input_values) -> list of outputs``."""
    # each external input is loaded either directly or through a broadcast view
    loads, preps = [], []
    direct = {x for e in step.eqns if e.primitive.name != "broadcast_in_dim" for x in e.inputs}
    for k, v in enumerate(step.inputs):
        if v in direct:
            loads.append(v)
            preps.append((k, None))
    for eqn in step.eqns:
        if eqn.primitive.name == "broadcast_in_dim" and eqn.inputs[0] in step.inputs:
            loads.append(eqn.outvars[0])
            preps.append((step.inputs.index(eqn.inputs[0]), eqn.params))
    source, rank = kernel_source(step, loads)
    module = load_kernel_module(source)
    shape = step.shape
    run_shape = shape if shape else (1,)
    size = int(np.prod(run_shape))
    kernel = module.kernel_par if size >= PARALLEL_MIN_SIZE else module.kernel_seq
    out_dtypes = [v.aval.dtype for v in step.outputs]

    def view(x, params):
        if x.shape == run_shape:
            return x
        if params is None and x.ndim == 0:
            return np.broadcast_to(x, run_shape) if len(run_shape) > 1 or run_shape[0] > 1 \
                else x.reshape(1)
        if params is not None:
            expanded = [1] * len(params["shape"])
            for i, d in enumerate(params["broadcast_dimensions"]):
                expanded[d] = x.shape[i]
            x = x.reshape(expanded)
        if x.shape != run_shape:
            x = np.broadcast_to(x.reshape((1,) * (len(run_shape) - x.ndim) + x.shape)
                                if x.ndim < len(run_shape) else x, run_shape)
        return x

    def run(*vals):
        ins = [view(vals[k], params) for k, params in preps]
        outs = [np.empty(run_shape, dt) for dt in out_dtypes]
        kernel(*ins, *outs)
        return outs if shape else [o.reshape(()) for o in outs]

    return run, source
