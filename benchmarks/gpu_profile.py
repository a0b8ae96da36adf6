"""Where the CUDA backend's time goes: the small CNN step's per-step profile on the
GPU, the steps that fall back to the host, and the fixed costs every step pays
(a kernel launch, a device allocation, a host round trip).

Run on a GPU machine from the repo root: ``PYTHONPATH=src:. python3 -m
benchmarks.gpu_profile``. A dry run without a GPU: ``NUMBA_ENABLE_CUDASIM=1
python -m benchmarks.gpu_profile --sim`` (tiny shapes).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from numba import cuda


@cuda.jit
def _one(a):
    i = cuda.grid(1)
    if i < a.size:
        a[i] += 1.0


@cuda.jit
def _ten(a, b, c, d, e, f, g, h, k, m):
    i = cuda.grid(1)
    if i < a.size:
        a[i] += b[i] + c[i] + d[i] + e[i] + f[i] + g[i] + h[i] + k + m


def _per_call(fn, n):
    fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def fixed_costs(n):
    one, ten = _one, _ten
    a = cuda.device_array(256, np.float32)
    a[:] = 0
    args = [cuda.device_array(256, np.float32) for _ in range(7)]
    for x in args:
        x[:] = 0
    one[1, 256](a)
    ten[1, 256](a, *args, np.int64(1), np.float32(2.0))
    cuda.synchronize()
    rows = [("launch, 1 array arg", _per_call(lambda: one[1, 256](a), n)),
            ("launch, 8 arrays + 2 scalars", _per_call(
                lambda: ten[1, 256](a, *args, np.int64(1), np.float32(2.0)), n)),
            ("device_array 1 MiB", _per_call(lambda: cuda.device_array(1 << 18, np.float32), n)),
            ("device_array 8 MiB", _per_call(lambda: cuda.device_array(1 << 21, np.float32), n)),
            ("to_device 4 KiB", _per_call(lambda: cuda.to_device(np.ones(1024, np.float32)), n)),
            ("copy_to_host 4 KiB", _per_call(lambda: a.copy_to_host(), n))]
    cuda.synchronize()
    for name, s in rows:
        print(f"  {name:32s} {s * 1e6:8.1f} us")


def cnn_profile(sim):
    from benchmarks import models  # noqa: PLC0415
    from functrace.backends.numba_cuda.table import lowerings  # noqa: PLC0415

    cfg = dict(models.SMALL_CNN, batch=1, shape=(1, 4, 4)) if sim else models.SMALL_CNN
    rng = np.random.default_rng(0)
    params = models.init_params(cfg, rng)
    x = rng.standard_normal((cfg["batch"], *cfg["shape"])).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, cfg["batch"])]
    step = models.functrace_step(cfg, backend="cuda")
    compiled = step.lower(params, x, y).compile()
    step(params, x, y)
    host = [e.primitive.name for s in compiled.steps if not s.fused for e in s.eqns
            if e.primitive not in lowerings]
    print(f"steps: {len(compiled.steps)}; host fallbacks: {host or 'none'}")
    t = _per_call(lambda: step(params, x, y), 3 if sim else 20)
    print(f"CNN step per call (NumPy in/out): {t * 1e3:.2f} ms")
    import functrace as ft  # noqa: PLC0415

    dev = ft.device_put((params, x, y), ft.devices("cuda")[0])
    t = _per_call(lambda: step(*dev)[0].block_until_ready(), 3 if sim else 20)
    print(f"CNN step per call (device-resident): {t * 1e3:.2f} ms")
    print(compiled.profile(*dev))


def _device_cnn_step(cfg):
    """The jitted CUDA SGD step of ``cfg`` and its parameters and batch on the device."""
    import functrace as ft  # noqa: PLC0415
    from benchmarks import models  # noqa: PLC0415

    rng = np.random.default_rng(0)
    params = models.init_params(cfg, rng)
    x = rng.standard_normal((cfg["batch"], *cfg["shape"])).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, cfg["batch"])]
    step = models.functrace_step(cfg, backend="cuda")
    return step, ft.device_put((params, x, y), ft.devices("cuda")[0])


def host_cost(sim, repeat):
    """Host time per kernel of the small CNN step with the launches themselves stubbed out
    (issue 11's target: <= 10 us). What it times: the call's dispatch (``jit``'s cache
    lookup), moving the device inputs in, the outputs' blocks from the pool, per launch
    its argument tuple with this call's buffers patched in (views under the simulator,
    pointers on a GPU), and the output ``Array``s. What it leaves out: the launch call
    itself -- on a GPU ``cuda.core.launch`` of the prepared parameters (their packing and
    ``cuLaunchKernelEx``), about 3 us by issue 11's measure, or numba-cuda's whole launch
    path for a kernel ``replay.prepare`` declines -- and the kernels' own time."""
    from benchmarks import models  # noqa: PLC0415
    from functrace.backends.numba_cuda import memory  # noqa: PLC0415

    step, dev = _device_cnn_step(models.SMALL_CNN)
    memory.STUB_LAUNCHES = True
    try:
        step(*dev)  # the first call records the memory plan, the second the launches
        step(*dev)
        t = _per_call(lambda: step(*dev), repeat)
        n = step.lower(*dev).compile().counters()["launches"]
    finally:
        memory.STUB_LAUNCHES = False
    print(f"host time per CNN step with launches stubbed: {t * 1e6:.0f} us for {n} kernels "
          f"= {t / n * 1e6:.1f} us per kernel")


def step_time(sim, repeat):
    """The small CNN step per call, device-resident, real launches (compare across
    ``FUNCTRACE_CUDA_REPLAY=1``, ``views`` and ``0``: replay and prepared launches)."""
    from benchmarks import models  # noqa: PLC0415
    from functrace.backends.numba_cuda import replay  # noqa: PLC0415

    cfg = (dict(models.SMALL_CNN, batch=1, shape=(1, 4, 4), convs=[2, 2], dense=[4]) if sim
           else models.SMALL_CNN)  # the simulator runs a Python thread per CUDA thread
    step, dev = _device_cnn_step(cfg)
    for _ in range(2):  # records the memory plan, then the launches
        step(*dev)[0].block_until_ready()
    t = _per_call(lambda: step(*dev)[0].block_until_ready(), repeat)
    c = step.lower(*dev).compile().counters()
    print(f"FUNCTRACE_CUDA_REPLAY={replay.MODE}: CNN step {t * 1e3:.3f} ms per call "
          f"({c['launches']} launches, {c['allocations']} allocations)")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sim", action="store_true", help="Numba's CUDA simulator, tiny shapes")
    p.add_argument("--host", action="store_true", help="only the host cost per kernel (works "
                   "in the simulator too: kernels are not run)")
    p.add_argument("--step", action="store_true", help="only the device-resident CNN step")
    args = p.parse_args(argv)
    if args.host:
        host_cost(args.sim, 20 if args.sim else 200)
        return
    if args.step:
        step_time(args.sim, 1 if args.sim else 100)
        return
    print("## fixed costs per call")
    fixed_costs(5 if args.sim else 2000)
    print("## small CNN step on the GPU")
    cnn_profile(args.sim)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
