"""Generates one CUDA kernel per fused elementwise cluster.

One thread computes one output element. Inputs of the cluster's full shape are
read at the thread's flat index; broadcast inputs (rank-0 values, the operands of
``broadcast_in_dim`` loads, lower-rank operands) are read through element strides
(0 along broadcast dims) from the thread's multi-index. Shapes and strides are
kernel arguments, so a kernel is reused for every shape of the same rank and
broadcast pattern. The scalar expressions are ``compiler.scalar_expr``'s, spelled
with ``math`` and the device functions of ``scalar.py``.

The source is written to the kernel cache directory and imported from there
(as the CPU backend does), so tracebacks and ``Compiled.as_text()`` show it.
"""

from __future__ import annotations

import math

import numpy as np

from ...compiler.kernel_cache import load_kernel_module
from ...compiler.scalar_expr import cast, literal, scalar_expr
from ...core.jaxpr import Literal
from . import memory
from .kernels import DISPATCHERS, THREADS, blocks, contiguous_strides, flat, registered

# where CUDA kernels differ from the primitives' own expressions (compiler/scalar_expr.py),
# and the integer helpers
_FUNCTIONS = {"is_finite": "_s.is_finite({0})", "idiv": "_s.idiv({0}, {1})",
              "irem": "_s.irem({0}, {1})", "fmod": "_s.fmod({0}, {1})"}





def kernel_source(step, loads: list, strided: list[bool], rank: int) -> str:
    """Python source of the cluster's kernel ``kernel(size, shape, *strides, *ins, *outs)``."""
    names: dict = {}
    n_strided = sum(strided)
    params = (["size", "shape"] + [f"st{k}" for k in range(n_strided)]
              + [f"in{k}" for k in range(len(loads))]
              + [f"out{k}" for k in range(len(step.outputs))])
    body = ["i = cuda.grid(1)", "if i >= size:", "    return"]
    if n_strided:
        body.append("rem = i")
        for d in range(rank - 1, -1, -1):
            body += [f"i{d} = rem % shape[{d}]", f"rem //= shape[{d}]"]
    s = 0
    for k, (v, is_strided) in enumerate(zip(loads, strided, strict=True)):
        names[v] = f"x{k}"
        if is_strided:
            index = " + ".join(f"i{d} * st{s}[{d}]" for d in range(rank))
            body.append(f"x{k} = in{k}[{index}]")
            s += 1
        else:
            body.append(f"x{k} = in{k}[i]")

    def atom(x):
        return literal(x) if isinstance(x, Literal) else names[x]

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
    body += [f"out{k}[i] = {names[v]}" for k, v in enumerate(step.outputs)]
    lines = ["import math", "", "import numpy as np", "from numba import cuda", "",
             "from functrace.backends.numba_cuda import scalar as _s", "", "",
             "@cuda.jit", f"def kernel({', '.join(params)}):"]
    lines += ["    " + b for b in body]
    return "\n".join(lines) + "\n"


def _load_strides(in_shape, run_shape, params) -> tuple[int, ...]:
    """Element strides that read an input of ``in_shape`` at each index of ``run_shape``:
    through ``broadcast_in_dim`` params if given, else NumPy's right-aligned broadcasting."""
    src = contiguous_strides(in_shape)
    rank = len(run_shape)
    strides = [0] * rank
    if params is not None:
        dims = params["broadcast_dimensions"]
    else:
        dims = tuple(range(rank - len(in_shape), rank))
    for i, d in enumerate(dims):
        if in_shape[i] == run_shape[d] and in_shape[i] != 1:
            strides[d] = src[i]
    return tuple(strides)


def plan_loads(step):
    """The values the kernel loads: ``[(load var, input position, broadcast params)]``."""
    loads = []
    direct = {x for e in step.eqns if e.primitive.name != "broadcast_in_dim" for x in e.inputs}
    for k, v in enumerate(step.inputs):
        if v in direct:
            loads.append((v, k, None))
    for eqn in step.eqns:
        if eqn.primitive.name == "broadcast_in_dim" and eqn.inputs[0] in step.inputs:
            loads.append((eqn.outvars[0], step.inputs.index(eqn.inputs[0]), eqn.params))
    return loads


def build_fused(step):
    """Returns ``(run, source)``; ``run(*device_inputs) -> list of device outputs``."""
    shape = step.shape
    run_shape = shape if shape else (1,)
    rank = len(run_shape)
    size = math.prod(run_shape)
    loads = plan_loads(step)
    preps, strided = [], []
    for _, k, params in loads:
        in_shape = step.inputs[k].aval.shape
        full = params is None and in_shape == shape
        strided.append(not full)
        preps.append((k, None if full else tuple(
            np.int64(s) for s in _load_strides(in_shape, run_shape, params))))
    source = kernel_source(step, [v for v, _, _ in loads], strided, rank)
    module = load_kernel_module(source, "ft_cuda_fused", "cuda_kernels")
    kernel = module.kernel
    if kernel not in DISPATCHERS:
        registered(kernel)
    out_dtypes = [v.aval.dtype for v in step.outputs]
    shape_arg = tuple(np.int64(n) for n in run_shape)
    stride_args = [st for _, st in preps if st is not None]
    grid = blocks(size)

    def run(*vals):
        outs = [memory.device_array(shape, dt) for dt in out_dtypes]
        if size:
            ins = [flat(vals[k]) for k, _ in preps]
            kernel[grid, THREADS](np.int64(size), shape_arg, *stride_args, *ins,
                                  *[flat(o) for o in outs])
        return outs

    return run, source
