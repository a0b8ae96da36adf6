"""Runs every benchmark and prints times and ratios (functrace / PyTorch, functrace / JAX).

Usage: ``python -m benchmarks [--quick] [--only conv,pool,...]`` (sections: overhead,
dispatch, fused, pool, conv, convpass, cnn, vgg, cnn_stax, vgg_stax, eager, compile,
memory, distributed, control, perexample, load). For numbers comparable to users'
machines, unset OPENBLAS_CORETYPE (see docs/performance.md):
``env -u OPENBLAS_CORETYPE python -m benchmarks``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

import functrace as ft
from functrace import lax

from . import distributed, eager, load, models
from .control import bench_control
from .conv import bench_conv_passes
from .dispatch import bench_dispatch
from .harness import environment, time_alternating, time_per_call
from .memory import peak_memory
from .perexample import bench_perexample

CONV_SHAPES = [(32, 3, 32, 64), (32, 64, 32, 64), (32, 128, 16, 128), (32, 256, 8, 256),
               (8, 64, 56, 64)]

try:
    import torch
    import torch.nn.functional as F  # noqa: N812
except ImportError:  # pragma: no cover - optional
    torch = None
try:
    import jax
    import jax.numpy as jnp
except ImportError:  # pragma: no cover - optional
    jax = None

ROWS: list[tuple] = []


def record(name, times: dict):
    ROWS.append((name, times.get("functrace"), times.get("torch"), times.get("torch_cl"),
                 times.get("jax")))
    ft_t = times.get("functrace")
    parts = [f"{name:38s} ft {ft_t * 1e3:9.3f} ms"]
    for key, label in (("torch", "torch"), ("torch_cl", "torch-cl"), ("jax", "jax")):
        if times.get(key):
            parts.append(f"{label} {times[key] * 1e3:8.3f} ms (x{ft_t / times[key]:.2f})")
    print("  ".join(parts), flush=True)


def _ready(x):
    return jax.block_until_ready(x) if jax is not None else x


def bench_conv(repeat):
    for shape in CONV_SHAPES:
        bench_conv_shape(*shape, repeat)


def bench_conv_shape(n, cin, hw, cout, repeat):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, cin, hw, hw)).astype(np.float32)
    w = rng.standard_normal((cout, cin, 3, 3)).astype(np.float32) * 0.1
    ct = rng.standard_normal((n, cout, hw, hw)).astype(np.float32)

    def conv(x, w):
        return lax.conv(x, w, (1, 1), "SAME")

    fwd = ft.jit(conv)
    def conv_fwd_bwd(x, w, ct):  # returns the primal too, so the forward pass is timed
        y, f_vjp = ft.vjp(conv, x, w)
        return y, f_vjp(ct)

    fwdbwd = ft.jit(conv_fwd_bwd)
    fns_f = {"functrace": lambda: fwd(x, w)}
    fns_b = {"functrace": lambda: fwdbwd(x, w, ct)}
    if torch is not None:
        tx, tw, tct = map(torch.from_numpy, (x, w, ct))
        txr, twr = tx.clone().requires_grad_(), tw.clone().requires_grad_()

        def t_fb():
            txr.grad = twr.grad = None
            F.conv2d(txr, twr, padding=1).backward(tct)

        fns_f["torch"] = lambda: F.conv2d(tx, tw, padding=1)
        fns_b["torch"] = t_fb
    if jax is not None:
        jf = jax.jit(lambda x, w: jax.lax.conv(x, w, (1, 1), "SAME"))
        def jax_fwd_bwd(x, w, ct):
            y, f_vjp = jax.vjp(lambda a, b: jax.lax.conv(a, b, (1, 1), "SAME"), x, w)
            return y, f_vjp(ct)

        jb = jax.jit(jax_fwd_bwd)
        jx, jw, jct = map(jnp.asarray, (x, w, ct))
        fns_f["jax"] = lambda: _ready(jf(jx, jw))
        fns_b["jax"] = lambda: _ready(jb(jx, jw, jct))
    record(f"conv fwd {n}x{cin}x{hw}x{hw}->{cout}", time_alternating(fns_f, repeat))
    record(f"conv fwd+bwd {n}x{cin}x{hw}x{hw}->{cout}", time_alternating(fns_b, repeat))


def bench_pool(repeat):
    x = np.random.default_rng(0).standard_normal((32, 64, 32, 32)).astype(np.float32)
    ct = np.ones((32, 64, 16, 16), np.float32)

    def pool(x):
        return lax.reduce_window(x, -np.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    def pool_fwd_bwd(x, ct):
        y, f_vjp = ft.vjp(pool, x)
        return y, f_vjp(ct)

    f = ft.jit(pool_fwd_bwd)
    fns = {"functrace": lambda: f(x, ct)}
    if torch is not None:
        tx = torch.from_numpy(x).clone().requires_grad_()
        tcl = torch.from_numpy(x).clone().to(memory_format=torch.channels_last).requires_grad_()
        tct = torch.from_numpy(ct)
        tct_cl = tct.contiguous(memory_format=torch.channels_last)

        def t(xr, c):
            xr.grad = None
            F.max_pool2d(xr, 2).backward(c)

        fns["torch"] = lambda: t(tx, tct)
        fns["torch_cl"] = lambda: t(tcl, tct_cl)
    if jax is not None:
        def jax_pool(x, ct):
            y, f_vjp = jax.vjp(lambda a: jax.lax.reduce_window(
                a, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID"), x)
            return y, f_vjp(ct)

        jp = jax.jit(jax_pool)
        jx, jct = jnp.asarray(x), jnp.asarray(ct)
        fns["jax"] = lambda: _ready(jp(jx, jct))
    record("maxpool 2x2 fwd+bwd 32x64x32x32", time_alternating(fns, repeat))


def bench_fused(repeat):
    x = np.random.default_rng(0).standard_normal((32, 64, 32, 32)).astype(np.float32)
    f = ft.jit(lambda x, a, b: ft.nn.relu(x * a + b))
    fns = {"functrace": lambda: f(x, 1.5, 0.5)}
    if torch is not None:
        tx = torch.from_numpy(x)
        fns["torch"] = lambda: torch.relu(tx * 1.5 + 0.5)
    if jax is not None:
        jfn = jax.jit(lambda x, a, b: jax.nn.relu(x * a + b))
        jx = jnp.asarray(x)
        fns["jax"] = lambda: _ready(jfn(jx, 1.5, 0.5))
    record("fused relu(x*a+b) 2M", time_alternating(fns, repeat))


def bench_step(name, cfg, repeat):
    rng = np.random.default_rng(0)
    params = models.init_params(cfg, rng)
    x = rng.standard_normal((cfg["batch"], *cfg["shape"])).astype(np.float32)
    y = np.eye(cfg["classes"], dtype=np.float32)[rng.integers(0, cfg["classes"], cfg["batch"])]
    step = models.functrace_step(cfg)
    fns = {"functrace": lambda: step(params, x, y)}
    if torch is not None:
        ts = models.torch_step(cfg, params)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        fns["torch"] = lambda: ts(tx, ty)
    if jax is not None:
        js = models.jax_step(cfg)
        jparams = [jnp.asarray(p) for p in params]
        jx, jy = jnp.asarray(x), jnp.asarray(y)
        fns["jax"] = lambda: _ready(js(jparams, jx, jy))
    record(name, time_alternating(fns, repeat))


def bench_stax_step(name, cfg, repeat):
    """The stax (NHWC) version of a step; PyTorch runs its usual eager NCHW step."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((cfg["batch"], *cfg["shape"])).astype(np.float32)
    y = np.eye(cfg["classes"], dtype=np.float32)[rng.integers(0, cfg["classes"], cfg["batch"])]
    xl = models.nhwc_input(cfg, x)
    params, step = models.functrace_stax_step(cfg)
    fns = {"functrace": lambda: step(params, xl, y)}
    if torch is not None:
        ts = models.torch_step(cfg, models.init_params(cfg, rng))
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        fns["torch"] = lambda: ts(tx, ty)
    if jax is not None:
        jparams, js = models.jax_stax_step(cfg)
        jx, jy = jnp.asarray(xl), jnp.asarray(y)
        fns["jax"] = lambda: _ready(js(jparams, jx, jy))
    record(name, time_alternating(fns, repeat))


def bench_overhead():
    def f(x, y, z):
        return (x + y) * z

    g = ft.jit(ft.grad(f, argnums=(0, 1, 2)))
    eager = ft.grad(f, argnums=(0, 1, 2))
    times = {"functrace": time_per_call(lambda: g(-2.0, 5.0, -4.0))}
    if jax is not None:
        jg = jax.jit(jax.grad(f, argnums=(0, 1, 2)))
        times["jax"] = time_per_call(lambda: _ready(jg(-2.0, 5.0, -4.0)))
    if torch is not None:
        def tg():
            x, y, z = (torch.tensor(v, requires_grad=True) for v in (-2.0, 5.0, -4.0))
            return torch.autograd.grad(f(x, y, z), (x, y, z))
        times["torch"] = time_per_call(tg)
    record("jit(grad(f)) lesson scalars, per call", times)
    times = {"functrace": time_per_call(lambda: eager(-2.0, 5.0, -4.0), 500)}
    if jax is not None:
        je = jax.grad(f, argnums=(0, 1, 2))
        times["jax"] = time_per_call(lambda: je(-2.0, 5.0, -4.0), 100)
    record("grad(f) un-jitted lesson scalars, per call", times)


FIRST_CALL = """
import time, numpy as np
t0 = time.perf_counter()
import functrace
from benchmarks import models
cfg = models.SMALL_CNN
rng = np.random.default_rng(0)
params = models.init_params(cfg, rng)
x = rng.standard_normal((cfg["batch"], *cfg["shape"])).astype(np.float32)
y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, cfg["batch"])]
step = models.functrace_step(cfg)
t1 = time.perf_counter()
step(params, x, y)
print(f"{time.perf_counter() - t1:.3f} {t1 - t0:.3f}")
"""


def bench_first_call():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, FUNCTRACE_CACHE_DIR=tmp, NUMBA_CACHE_DIR=os.path.join(tmp, "nb"),
                   PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
        for label in ("cold cache", "warm cache"):
            out = subprocess.run([sys.executable, "-c", FIRST_CALL], env=env, cwd=root,
                                 capture_output=True, text=True, check=True).stdout.split()
            print(f"small CNN step first call, {label}: {float(out[0]):.2f} s "
                  f"(import + setup {float(out[1]):.2f} s)", flush=True)
            ROWS.append((f"first call ({label})", float(out[0]), None, None, None))


def bench_memory():
    frameworks = ["functrace"] + (["torch"] if torch else []) + (["jax"] if jax else [])
    for label, name in (("small CNN", "SMALL_CNN"), ("VGG-style", "VGG_STYLE")):
        mib = peak_memory(name, frameworks)
        if "functrace" not in mib:
            print(f"peak memory of a {label} step: not measured")
            continue
        parts = [f"{'peak memory, ' + label + ' step':38s} ft {mib['functrace']:9.1f} MiB"]
        for fw in ("torch", "jax"):
            if fw in mib:
                ratio = mib["functrace"] / max(mib[fw], 1e-9)
                parts.append(f"{fw} {mib[fw]:8.1f} MiB (x{ratio:.2f})")
        print("  ".join(parts), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    parser.add_argument("--only", default="", help="comma list: conv,convpass,pool,fused,cnn,"
                        "vgg,cnn_stax,vgg_stax,overhead,dispatch,eager,compile,memory,"
                        "distributed,control,perexample,load")
    args = parser.parse_args(argv)
    repeat = 5 if args.quick else 15
    only = set(filter(None, args.only.split(",")))
    print("environment:", environment())
    print("torch:", torch.__version__ if torch else "not installed", "threads",
          torch.get_num_threads() if torch else "-", "| jax:",
          jax.__version__ if jax else "not installed", flush=True)
    todo = [("overhead", bench_overhead), ("dispatch", lambda: bench_dispatch(repeat)),
            ("fused", lambda: bench_fused(repeat)),
            ("pool", lambda: bench_pool(repeat)), ("conv", lambda: bench_conv(repeat)),
            ("convpass", lambda: bench_conv_passes(repeat)),
            ("cnn", lambda: bench_step("small CNN train step (b64 1x28x28)", models.SMALL_CNN,
                                       repeat)),
            ("vgg", lambda: bench_step("VGG-style train step (b32 3x32x32)", models.VGG_STYLE,
                                       max(3, repeat // 3))),
            ("cnn_stax", lambda: bench_stax_step("small CNN stax step (NHWC)", models.SMALL_CNN,
                                                 repeat)),
            ("vgg_stax", lambda: bench_stax_step("VGG-style stax step (NHWC)", models.VGG_STYLE,
                                                 max(3, repeat // 3))),
            ("eager", lambda: (eager.bench_eager_grad(), eager.bench_eager_stax())),
            ("compile", bench_first_call), ("memory", bench_memory),
            ("distributed", lambda: ROWS.extend(
                (name, t, None, None, None) for name, t, _ in distributed.run())),
            ("control", lambda: bench_control(repeat, torch, jax)),
            ("perexample", lambda: bench_perexample(repeat, record)),
            ("load", lambda: load.bench_load(max(4, repeat // 2), ROWS))]
    for key, fn in todo:
        if not only or key in only:
            fn()


if __name__ == "__main__":
    main()
