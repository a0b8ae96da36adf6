"""Conv and matmul kernels that end in an elementwise cluster (``schedule.epilogues``).

A training step's ``conv(x, w) + b`` then ReLU is a conv kernel and a fused
elementwise kernel that reads the conv's output back. When the cluster reads that
output only at its own element and everything else through broadcasts (the bias,
literals), the tiled matmul that computes the conv (or the ``dot_general``) evaluates
the cluster where it would store a product: each output element's accumulator is the
cluster's value of the product, and the kernel writes the cluster's outputs (the
activation, the ReLU mask...). One launch fewer per layer, and the product itself is
never written.

The kernel is generated (``source``): the matmul of ``kernels._matmul_kernel`` (one
level, no split-K), whose store calls the cluster's body as an inline device function
``epi(i, acc, ...)`` with ``i`` the product's flat index, which is the cluster's flat
index since the product is laid out as the output. Where the geometry needs more
(split-K, grouped or strided-output convolutions, a grid taller than 65535), the
step runs as two launches: the usual lowering, then the cluster's kernel.
"""

from __future__ import annotations

import numpy as np

from ...compiler.kernel_cache import load_kernel_module
from . import kernels, memory
from .codegen import _HEADER, _body, _Cluster, _signature, build_fused
from .kernels import DISPATCHERS, flat, registered
from .table import lowerings

_MATMUL = '''
@cuda.jit
def kernel(a, b, m_size, n_size, k_size, a_strides, b_strides, c_strides, offsets, {params}):
    a_tile = cuda.shared.array((TILE_K, TILE_M), NB)
    b_tile = cuda.shared.array((TILE_K, TILE_N), NB)
    acc = cuda.local.array((PER, PER), NB)
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    tid = ty * TPB + tx
    row0 = cuda.blockIdx.y * TILE_M
    col0 = cuda.blockIdx.x * TILE_N
    bat = cuda.blockIdx.z
    a_base = offsets[0] + bat * a_strides[0]
    b_base = offsets[1] + bat * b_strides[0]
    for i in range(PER):
        for j in range(PER):
            acc[i, j] = ZERO
    for k0 in range(0, k_size, TILE_K):
        for l in range(TILE_M * TILE_K // (TPB * TPB)):
            e = tid + l * TPB * TPB
            r = e // TILE_K
            kk = e % TILE_K
            gr = row0 + r
            gk = k0 + kk
            if gr < m_size and gk < k_size:
                a_tile[kk, r] = a[a_base + gr * a_strides[1] + gk * a_strides[2]]
            else:
                a_tile[kk, r] = ZERO
            kk = e // TILE_N
            cc = e % TILE_N
            gk = k0 + kk
            gc = col0 + cc
            if gk < k_size and gc < n_size:
                b_tile[kk, cc] = b[b_base + gk * b_strides[1] + gc * b_strides[2]]
            else:
                b_tile[kk, cc] = ZERO
        cuda.syncthreads()
        for kk in range(TILE_K):
            for i in range(PER):
                av = a_tile[kk, ty + i * TPB]
                for j in range(PER):
                    acc[i, j] += av * b_tile[kk, tx + j * TPB]
        cuda.syncthreads()
    c_base = offsets[2] + bat * c_strides[0]
    for i in range(PER):
        r = row0 + ty + i * TPB
        for j in range(PER):
            cc = col0 + tx + j * TPB
            if r < m_size and cc < n_size:
                epi(c_base + r * c_strides[1] + cc * c_strides[2], acc[i, j], {params})
'''


def source(cluster: _Cluster, y, dtype) -> tuple[str, list[int]]:
    """The kernel's source and the cluster's load positions it takes (all but ``y``'s)."""
    keep = [j for j, (v, _, _) in enumerate(cluster.loads) if v is not y]
    loads = [cluster.loads[j][0] for j in keep]
    strided = [cluster.strided[j] for j in keep]
    params, body = _body(cluster.step, loads, strided, cluster.rank, given={y: "acc"})
    dtype = np.dtype(dtype)
    lines = _HEADER + [
        "from numba import from_dtype",
        f"NB = from_dtype(np.dtype('{dtype.name}'))",
        f"ZERO = np.dtype('{dtype.name}').type(0)",
        f"TILE_M, TILE_N, TILE_K = {kernels.TILE_M}, {kernels.TILE_N}, {kernels.TILE_K}",
        f"TPB, PER = {kernels._TPB}, {kernels._PER}", "", "",
        "@cuda.jit(device=True, inline=True)", f"def epi(i, acc, {', '.join(params)}):"]
    lines += ["    " + b for b in body] + [""]
    src = "\n".join(lines) + _MATMUL.format(params=", ".join(params))
    return src, [cluster.positions[j] for j in keep]


def lower(step):
    """``(run, source)`` for a conv/matmul step with ``step.epilogue`` (a fused step):
    ``run(*producer inputs, *the cluster's other inputs) -> the cluster's outputs``."""
    eqn, f = step.eqns[0], step.epilogue
    y = eqn.outvars[0]
    n_own = len(eqn.inputs)
    others = [x for x in f.inputs if x is not y]
    plan = _matmul_plans[eqn.primitive.name](eqn)
    cluster = _Cluster(f)
    if plan is not None:
        batch, m, n, k = plan[1:5]
        if kernels._split_k_parts(batch, m, n, k) != 1 or batch > kernels._MAX_GRID_Z:
            plan = None
    if plan is None:  # two launches: the producer, then the cluster
        produce = lowerings[eqn.primitive](eqn)
        fused, src = build_fused(f)
        order = [None if x is y else n_own + others.index(x) for x in f.inputs]

        def run(*vals):
            out = produce(*vals[:n_own])[0]
            return fused(*[out if j is None else vals[j] for j in order])
        return run, src
    prep, batch, m, n, k, a_strides, b_strides, c_strides, offsets = plan
    dtype = np.dtype(y.aval.dtype)
    src, positions = source(cluster, y, dtype)
    kernel = load_kernel_module(src, "ft_cuda_epilogue", "cuda_kernels").kernel
    if kernel not in DISPATCHERS:
        registered(kernel)
    grid = (-(-n // kernels.TILE_N), -(-m // kernels.TILE_M), batch)
    configured = memory.configure(kernel, grid, (kernels._TPB, kernels._TPB))
    i64 = lambda t: tuple(np.int64(v) for v in t)  # noqa: E731
    geometry = (np.int64(m), np.int64(n), np.int64(k), i64(a_strides), i64(b_strides),
                i64(c_strides), i64(offsets))
    where = {x: n_own + j for j, x in enumerate(others)}
    load_at = [where[f.inputs[p]] for p in positions]
    shape = f.shape

    def run(*vals):
        outs = [memory.device_array(shape, dt) for dt in cluster.out_dtypes]
        a, b = prep(*vals[:n_own])
        memory.launch(configured, flat(a), flat(b), *geometry, *cluster.head,
                      *[flat(vals[j]) for j in load_at], *[flat(o) for o in outs])
        return outs

    in_dtypes = [f.inputs[p].aval.dtype for p in positions]
    run.ptx_check = (kernel, (*_signature((), [((), (dtype, dtype), ())]), *_signature(
        geometry, [(cluster.head, in_dtypes, cluster.out_dtypes)])))
    return run, src


_matmul_plans: dict = {}  # primitive name -> plan(eqn) (conv.py, ops.py register theirs)
