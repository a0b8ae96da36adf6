"""Compiles every CUDA kernel of the numba_cuda backend to PTX with the real compiler.

The simulator runs kernels as Python and type-checks nothing; ``cuda.compile_ptx``
needs no GPU (only NVVM, e.g. ``pip install nvidia-nvvm nvidia-cuda-nvrtc``) and
catches what a real GPU's compiler would reject. Run without
``NUMBA_ENABLE_CUDASIM``: ``python tests/cuda_ptx.py``; prints ``OK <n>``,
``SKIP <why>`` or the failures (exit status 1). ``tests/test_cuda.py`` runs it.
"""

from __future__ import annotations

import os
import sys
import traceback

import numpy as np

os.environ.pop("NUMBA_ENABLE_CUDASIM", None)

from numba import cuda, from_dtype, typeof, types  # noqa: E402

import functrace as ft  # noqa: E402
import functrace.numpy as fnp  # noqa: E402
from functrace import lax, nn  # noqa: E402
from functrace.backends.numba_cuda import codegen, conv, epilogue, kernels, pool, schedule  # noqa: E402
from functrace.compiler import fusion, passes  # noqa: E402

CC = (9, 0)
I64 = types.int64
GEO = typeof(pool.WindowGeometry.of((2, 3, 4, 4), (2, 3, 2, 2), dict(
    window_dimensions=(1, 1, 2, 2), window_strides=(1, 1, 2, 2), padding=((0, 0),) * 4,
    base_dilation=(1,) * 4, window_dilation=(1,) * 4)))


def arr(dtype=np.float32):
    return types.Array(from_dtype(np.dtype(dtype)), 1, "C")


def tup(n):
    return types.UniTuple(I64, n)


def cases():
    """(name, python function, argument types) for every kernel and dtype in use."""
    out = []
    for rank in (1, 2, 4):
        out.append((f"gather{rank}", kernels._gather_kernel, (arr(), arr(), I64, tup(rank),
                                                              tup(rank))))
    for dt in (np.float32, np.float64, np.int32):
        nb = from_dtype(np.dtype(dt))
        out.append((f"fill {dt.__name__}", kernels._fill_kernel, (arr(dt), nb)))
        for kind in ("sum", "max", "min"):
            out.append((f"reduce {kind} {dt.__name__}", kernels._reduce_kernel(kind,
                        np.dtype(dt))[0], (arr(dt), arr(dt), I64, I64)))
            out.append((f"reduce_short {kind} {dt.__name__}", kernels._reduce_short_kernel(
                kind, np.dtype(dt)), (arr(dt), arr(dt), I64, I64)))
            if dt != np.int32 or kind != "sum":
                out.append((f"reduce_window {kind} {dt.__name__}", pool._reduce_window_kernel(
                    kind, np.dtype(dt)), (arr(dt), arr(dt), GEO)))
    for dt in (np.float32, np.float64):
        nb = from_dtype(np.dtype(dt))
        for two_level in (False, True):
            out.append((f"matmul {dt.__name__} two_level={two_level}",
                        kernels._matmul_kernel(np.dtype(dt), two_level),
                        (arr(dt), arr(dt), arr(dt), I64, I64, I64, tup(3), tup(3), tup(3),
                         tup(3), I64, I64, I64)))
        out.append((f"sum_parts {dt.__name__}", kernels._sum_parts_kernel,
                    (arr(dt), arr(dt), I64, I64, I64, tup(2), I64)))
        out.append((f"im2col {dt.__name__}", conv._im2col_kernel,
                    (arr(dt), arr(dt), tup(4), tup(15), I64, I64, nb)))
        out.append((f"col2im {dt.__name__}", conv._col2im_kernel,
                    (arr(dt), arr(dt), tup(4), tup(15), I64, I64, nb)))
        for select in (True, False):
            out.append((f"select_and_scatter_add {select} {dt.__name__}",
                        pool._scatter_kernel(select), (arr(dt), arr(dt), arr(dt), GEO, nb)))
    return out + fused_cases()


def fused_cases():
    """The generated kernels of a few programs (the CNN step's clusters and more)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    a = rng.standard_normal(4).astype(np.float32)
    i = rng.integers(1, 5, (3, 4)).astype(np.int32)

    def many(x, a, i):
        y = fnp.where(x > a, fnp.log1p(fnp.abs(x)), fnp.sqrt(x * x + 1.0))
        z = fnp.tanh(y) * nn.sigmoid(a) + fnp.exp(-y) - fnp.floor(y) + fnp.sign(x) ** 3
        k = i // (i + 1) + i % 3 - (i > 2).astype(np.int32)
        return fnp.maximum(z, 0.0), fnp.minimum(z, a), k, fnp.isfinite(z), nn.relu(x) * 2.0

    def cnn_grad(w, x):
        def loss(w, x):
            h = nn.relu(lax.conv(x, w, (1, 1), "SAME"))
            return -fnp.mean(nn.log_softmax(h.reshape(x.shape[0], -1)))
        return ft.grad(loss)(w, x)

    def sgd(w, b, gw, gb):  # independent updates: one grouped launch
        return w - 0.1 * gw, b - 0.1 * gb, fnp.sum(nn.relu(w) * gw, axis=0)

    def layer(x, w, b, v, c):  # conv + bias + relu and dense + bias + relu: epilogues
        h = nn.relu(lax.conv(x, w, (1, 1), "SAME") + b[None, :, None, None])
        return nn.relu(h.reshape(x.shape[0], -1) @ v + c)

    programs = [(many, (x, a, i)), (sgd, (x, a, x, a)),
                (layer, (rng.standard_normal((2, 1, 4, 4)).astype(np.float32),
                         rng.standard_normal((3, 1, 3, 3)).astype(np.float32),
                         a[:3], rng.standard_normal((48, 5)).astype(np.float32), a[:1])),
                (cnn_grad, (rng.standard_normal((2, 1, 3, 3)).astype(np.float32),
                            rng.standard_normal((2, 1, 4, 4)).astype(np.float32)))]
    out = []
    for fn, args in programs:
        closed = passes.optimize(ft.make_jaxpr(fn)(*args))
        steps = fusion.plan(closed.jaxpr)  # plain clusters
        for step in steps:
            if step.fused:
                run, _ = codegen.build_fused(step)
                out.append((f"fused {fn.__name__}: {_names(step)}", *run.ptx_check))
        # what the backend runs: reductions in their clusters, broadcasts folded, groups
        steps = fusion.plan(closed.jaxpr, reductions=True)
        folded = schedule.fold_broadcasts(steps, closed.jaxpr.outvars)
        for grp in schedule.group(schedule.epilogues(folded, closed.jaxpr.outvars)):
            if getattr(grp[0], "epilogue", None) is not None:
                run, _ = epilogue.lower(grp[0])
                out.append((f"epilogue {fn.__name__}: {_names(grp[0].epilogue)}",
                            *run.ptx_check))
                continue
            if not grp[0].fused or (len(grp) == 1 and schedule.alias_of(grp[0])):
                continue
            if grp[0].reduction is not None:
                run, _ = codegen.build_reduction(grp[0])
            else:
                run, _ = codegen.build_group(grp)
            out.append((f"fused {fn.__name__}: {' | '.join(_names(s) for s in grp)}",
                        *run.ptx_check))
    return out


def _names(step) -> str:
    return ", ".join(e.primitive.name for e in step.eqns)


class _NoDevice:
    """Stands in for the current device: numba-cuda asks it for the compute capability
    when it compiles a device function taking a tuple, which needs no GPU otherwise."""

    compute_capability = CC


def main() -> int:
    from numba.cuda import dispatcher  # noqa: PLC0415 - only for this script's patch
    dispatcher.get_current_device = _NoDevice
    try:
        cuda.compile_ptx(lambda a: None, (arr(),), cc=CC)
    except Exception as e:  # no NVVM / NVRTC here
        print(f"SKIP {type(e).__name__}: {str(e)[:200]}")
        return 0
    failures, n = [], 0
    for name, kernel, argtypes in cases():
        n += 1
        try:
            cuda.compile_ptx(getattr(kernel, "py_func", kernel), argtypes, cc=CC)
        except Exception:
            failures.append(f"--- {name}\n{traceback.format_exc(limit=3)}")
    if failures:
        print("\n".join(failures))
        print(f"FAILED {len(failures)} of {n}")
        return 1
    print(f"OK {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
