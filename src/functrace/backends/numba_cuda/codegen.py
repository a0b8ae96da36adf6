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
from numba import from_dtype, typeof, types

from ...compiler.fusion import Step
from ...compiler.kernel_cache import load_kernel_module
from ...compiler.scalar_expr import cast, literal, scalar_expr
from ...core.jaxpr import Literal
from . import kernels, memory
from .kernels import DISPATCHERS, THREADS, blocks, contiguous_strides, flat, registered

# where CUDA kernels differ from the primitives' own expressions (compiler/scalar_expr.py),
# and the integer helpers
_FUNCTIONS = {"is_finite": "_s.is_finite({0})", "idiv": "_s.idiv({0}, {1})",
              "irem": "_s.irem({0}, {1})", "fmod": "_s.fmod({0}, {1})",
              "float_to_int": "_s.float_to_int({0}, {1}, {2}, {3}, {4})",
              "float_to_uint64": "_s.float_to_uint64({0})"}





def _body(step, loads: list, strided: list[bool], rank: int,
          result=None, given=None) -> tuple[list[str], list[str]]:
    """(parameters, body) of one cluster's code: element ``i`` of ``size``; with
    ``result`` (a var), no bounds check and the body returns that value; ``given`` maps
    vars to names the caller binds (an epilogue's accumulator, ``epilogue.py``)."""
    names: dict = dict(given or {})
    n_strided = sum(strided)
    params = (["size", "shape"] + [f"st{k}" for k in range(n_strided)]
              + [f"in{k}" for k in range(len(loads))]
              + [f"out{k}" for k in range(len(step.outputs))])
    body = [] if result is not None else ["if i >= size:", "    return"]
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
    if result is not None:
        body.append(f"return {names[result]}")
    return params, body


_HEADER = ["import math", "", "import numpy as np", "from numba import cuda", "",
           "from functrace.backends.numba_cuda import scalar as _s", "", ""]


def kernel_source(step, loads: list, strided: list[bool], rank: int) -> str:
    """Python source of the cluster's kernel ``kernel(size, shape, *strides, *ins, *outs)``."""
    params, body = _body(step, loads, strided, rank)
    lines = _HEADER + ["@cuda.jit", f"def kernel({', '.join(params)}):",
                       "    i = cuda.grid(1)"]
    lines += ["    " + b for b in body]
    return "\n".join(lines) + "\n"


def group_source(parts) -> str:
    """One kernel running several clusters, each over its own range of thread indices:
    ``kernel(bound0, bound1, ..., *params of part 0, *params of part 1, ...)`` where
    part ``c`` runs for ``bound[c-1] <= i < bound[c]``. Each part is a device function,
    so its locals stay its own."""
    lines = list(_HEADER)
    call_params, bounds = [], []
    for c, (step, loads, strided, rank) in enumerate(parts):
        params, body = _body(step, loads, strided, rank)
        lines += ["@cuda.jit(device=True, inline=True)", f"def part{c}(i, {', '.join(params)}):"]
        lines += ["    " + b for b in body] + ["", ""]
        call_params.append([f"p{c}_{q}" for q in params])
        bounds.append(f"bound{c}")
    flat_params = bounds + [q for ps in call_params for q in ps]
    lines += ["@cuda.jit", f"def kernel({', '.join(flat_params)}):", "    i = cuda.grid(1)"]
    for c, ps in enumerate(call_params):
        cond = "if" if c == 0 else "elif"
        lo = "" if c == 0 else f" - bound{c - 1}"
        lines += [f"    {cond} i < bound{c}:", f"        part{c}(i{lo}, {', '.join(ps)})"]
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
    direct.add(getattr(step, "result", None))  # a reduction of an input itself
    for k, v in enumerate(step.inputs):
        if v in direct:
            loads.append((v, k, None))
    for eqn in step.eqns:
        if eqn.primitive.name == "broadcast_in_dim" and eqn.inputs[0] in step.inputs:
            loads.append((eqn.outvars[0], step.inputs.index(eqn.inputs[0]), eqn.params))
    return loads


class _Cluster:
    """One fused step's launch arguments: loads, strides and output dtypes."""

    def __init__(self, step, shape=None):
        self.step = step
        shape = step.shape if shape is None else shape
        self.shape = shape
        run_shape = shape if shape else (1,)
        self.rank = len(run_shape)
        self.size = math.prod(run_shape)
        self.loads = plan_loads(step)
        preps, self.strided = [], []
        for _, k, params in self.loads:
            in_shape = step.inputs[k].aval.shape
            full = params is None and in_shape == shape
            self.strided.append(not full)
            preps.append((k, None if full else tuple(
                np.int64(s) for s in _load_strides(in_shape, run_shape, params))))
        self.positions = [k for k, _ in preps]
        self.head = (np.int64(self.size), tuple(np.int64(n) for n in run_shape),
                     *[st for _, st in preps if st is not None])
        self.out_dtypes = [v.aval.dtype for v in step.outputs]

    def part(self):
        return self.step, [v for v, _, _ in self.loads], self.strided, self.rank



def direct_inputs(step) -> set:
    """The fused step's inputs read only at the thread's own index: its kernel may write
    an output over one of them (donation)."""
    strided = {step.inputs[k] for _, k, p in plan_loads(step)
               if p is not None or step.inputs[k].aval.shape != step.shape}
    direct = {step.inputs[k] for _, k, p in plan_loads(step)
              if p is None and step.inputs[k].aval.shape == step.shape}
    return direct - strided


def _array_type(dtype):
    return types.Array(from_dtype(np.dtype(dtype)), 1, "C")


def _signature(scalars, clusters_args) -> tuple:
    """Numba argument types of a launch (for tests/cuda_ptx.py's compile check):
    ``scalars`` are passed as they are, ``clusters_args`` as (head, input dtypes,
    output dtypes) per cluster."""
    sig = [typeof(a) for a in scalars]
    for head, ins, outs in clusters_args:
        sig += [typeof(h) for h in head] + [_array_type(d) for d in (*ins, *outs)]
    return tuple(sig)


def _load(source: str):
    kernel = load_kernel_module(source, "ft_cuda_fused", "cuda_kernels").kernel
    if kernel not in DISPATCHERS:
        registered(kernel)
    return kernel


def build_fused(step):
    """Returns ``(run, source)``; ``run(*device_inputs) -> list of device outputs``."""
    return build_group([step])


def build_group(steps):
    """One launch for fused steps that do not read each other's outputs: ``(run, source)``
    where ``run(*inputs of every step in order) -> outputs of every step in order``."""
    clusters = [_Cluster(s) for s in steps]
    if len(clusters) == 1:
        c = clusters[0]
        source = kernel_source(*c.part())
        head_args = c.head
    else:
        source = group_source([c.part() for c in clusters])
        bounds = np.cumsum([c.size for c in clusters])
        head_args = tuple(np.int64(b) for b in bounds)
    kernel = _load(source)
    total = sum(c.size for c in clusters)
    configured = memory.configure(kernel, blocks(total), THREADS)
    offsets = np.cumsum([0] + [len(s.inputs) for s in steps]).tolist()
    shapes = [c.shape for c in clusters]
    per = [(c.head, [c.step.inputs[k].aval.dtype for k in c.positions], c.out_dtypes)
           for c in clusters]
    signature = (_signature((), per) if len(clusters) == 1
                 else _signature(head_args, per))

    def run(*vals):
        outs, args = [], list(head_args)
        for c, lo, shape in zip(clusters, offsets, shapes, strict=False):
            mine = [memory.device_array(shape, dt) for dt in c.out_dtypes]
            outs += mine
            if len(clusters) > 1:
                args += c.head
            args += [flat(vals[lo + k]) for k in c.positions] + [flat(o) for o in mine]
        if total:
            memory.launch(configured, *args)
        return outs

    run.ptx_check = (kernel, signature)
    return run, source


# ---------------------------------------------------------------------------
# a cluster ending in a reduction: one block per output element (a "row"), whose
# threads walk the reduced elements through strides, evaluate the cluster there
# (writing its other outputs) and combine the values in shared memory


def _literal_of(value) -> str:
    v = value.item()
    if isinstance(v, float) and not np.isfinite(v):
        return f"float('{v}')"
    return repr(v)


def reduction_source(part, kind: str, dtype) -> str:
    step, loads, strided, rank = part
    params, body = _body(step, loads, strided, rank, result=step.result)
    identity = kernels.reduce_identity(kind, dtype)
    lines = _HEADER + [
        "from numba import from_dtype",
        "from functrace.backends.numba_cuda.kernels import combine", "",
        f"NB = from_dtype(np.dtype('{dtype.name}'))",
        f"IDENTITY = np.dtype('{dtype.name}').type({_literal_of(identity)})",
        f"IS_SUM, IS_MAX = {kind == 'sum'}, {kind == 'max'}",
        f"THREADS = {kernels.REDUCE_THREADS}", "", "",
        "@cuda.jit(device=True, inline=True)", f"def elem(i, {', '.join(params)}):"]
    lines += ["    " + b for b in body] + ["", ""]
    lines += [
        "@cuda.jit",
        f"def kernel(length, kshape, kstride, rshape, rstride, red, {', '.join(params)}):",
        "    buf = cuda.shared.array(THREADS, NB)",
        "    row = cuda.blockIdx.x",
        "    t = cuda.threadIdx.x",
        "    base = 0",
        "    rem = row",
        "    for d in range(len(kshape) - 1, -1, -1):",
        "        base += (rem % kshape[d]) * kstride[d]",
        "        rem //= kshape[d]",
        "    acc = IDENTITY",
        "    j = t",
        "    while j < length:",
        "        rem = j",
        "        i = base",
        "        for d in range(len(rshape) - 1, -1, -1):",
        "            i += (rem % rshape[d]) * rstride[d]",
        "            rem //= rshape[d]",
        f"        acc = combine(acc, elem(i, {', '.join(params)}), IS_SUM, IS_MAX)",
        "        j += THREADS",
        "    buf[t] = acc",
        "    cuda.syncthreads()",
        "    step = THREADS // 2",
        "    while step > 0:",
        "        if t < step:",
        "            buf[t] = combine(buf[t], buf[t + step], IS_SUM, IS_MAX)",
        "        cuda.syncthreads()",
        "        step //= 2",
        "    if t == 0:",
        "        red[row] = buf[0]"]
    return "\n".join(lines) + "\n"


def _merged(shape, strides, dims):
    """(sizes, strides) of ``dims`` with neighbours that are contiguous in memory merged
    (fewer div/mod per element); ``((1,), (0,))`` for no dims."""
    sizes, out = [], []
    for d in dims:
        if shape[d] == 1:
            continue
        if out and out[-1] == strides[d] * shape[d]:
            sizes[-1] *= shape[d]
            out[-1] = strides[d]
        else:
            sizes.append(shape[d])
            out.append(strides[d])
    return (tuple(sizes), tuple(out)) if sizes else ((1,), (0,))


def build_reduction(step):
    """``(run, source)`` for a fused step whose last equation is a reduction."""
    red = step.reduction
    kind = red.primitive.name.split("_")[1]  # reduce_sum / reduce_max / reduce_min
    x, red_out = red.inputs[0], red.outvars[0]
    inner = Step(step.eqns[:-1], list(step.inputs),
                 [v for v in step.outputs if v is not red_out], fused=True)
    inner.result = x
    c = _Cluster(inner, x.aval.shape)
    dtype = np.dtype(red_out.aval.dtype)
    source = reduction_source(c.part(), kind, dtype)
    kernel = _load(source)
    shape = x.aval.shape
    axes = tuple(sorted(red.params["axes"]))
    strides = contiguous_strides(shape)
    kept = [d for d in range(len(shape)) if d not in axes]
    kshape, kstride = _merged(shape, strides, kept)
    rshape, rstride = _merged(shape, strides, axes)
    rows = math.prod(shape[d] for d in kept)
    length = math.prod(shape[d] for d in axes)
    geometry = (np.int64(length), tuple(np.int64(n) for n in kshape),
                tuple(np.int64(n) for n in kstride), tuple(np.int64(n) for n in rshape),
                tuple(np.int64(n) for n in rstride))
    configured = memory.configure(kernel, max(rows, 1), kernels.REDUCE_THREADS)
    out_shape = red_out.aval.shape
    want_red = red_out in step.outputs
    identity = kernels.reduce_identity(kind, dtype)

    def run(*vals):
        mine = [memory.device_array(c.shape, dt) for dt in c.out_dtypes]
        r = memory.device_array(out_shape, dtype)
        if rows and length:
            memory.launch(configured, *geometry, flat(r), *c.head,
                          *[flat(vals[k]) for k in c.positions], *[flat(o) for o in mine])
        elif rows:  # nothing to reduce: the identity (as the reference impl)
            kernels.fill(r, identity)
        return mine + [r] if want_red else mine

    run.ptx_check = (kernel, (*[typeof(g) for g in geometry], _array_type(dtype)) + _signature(
        (), [(c.head, [inner.inputs[k].aval.dtype for k in c.positions], c.out_dtypes)]))
    return run, source
