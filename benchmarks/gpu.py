"""GPU benchmarks: functrace's CUDA backend vs PyTorch (CUDA) vs JAX (jit), side by side.

Usage (from the repo root; ``benchmarks/gpu_check.sh`` wraps it)::

    PYTHONPATH=src:. python -m benchmarks.gpu [--quick] [--budget SECONDS] [--out FILE]

``--quick`` uses tiny shapes and few repeats: that is how the script's logic is
checked without a GPU (``NUMBA_ENABLE_CUDASIM=1``; PyTorch and JAX then run on the
CPU and are labelled so). Every section is wrapped: a failure prints its error
and the run goes on; a section that runs past its time limit is abandoned, and
sections are skipped once the overall budget is spent. The report (a Markdown
table) goes to stdout and, with ``--out``, to a file.

Columns: ``functrace`` is a whole ``jit`` call (NumPy in, NumPy out: one copy to
the device and one back); ``ft device`` calls the same jitted function on arrays
put on the device with ``functrace.device_put``, whose results stay there (what
PyTorch and JAX are timed doing); ratios are functrace / torch. ``launches``,
``allocs`` and ``h2d/d2h B`` are the compiled program's own counters for one
device-resident call (``jit(f).lower(*args).compile().counters()``).
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import sys
import time
import traceback
import warnings

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # leave memory to the others

import numpy as np  # noqa: E402

import functrace as ft  # noqa: E402
import functrace.numpy as fnp  # noqa: E402
from functrace import lax, nn  # noqa: E402

from . import models  # noqa: E402

warnings.filterwarnings("ignore", message=".*(under-utilization|will incur copy overhead).*")

LINES: list[str] = []
ROWS: list[tuple] = []


def say(text: str = "") -> None:
    print(text, flush=True)
    LINES.append(text)


# ---------------------------------------------------------------------------
# the contenders


class Env:
    """What is available: numba.cuda (real or simulated), torch, jax."""

    def __init__(self, quick: bool):
        self.quick = quick
        from numba import cuda  # noqa: PLC0415 - after the environment is set up

        self.cuda = cuda
        get_backend = ft.compiler.registry.get_backend
        self.ft_backend = get_backend("cuda")
        self.sim = bool(__import__("functrace.backends.numba_cuda",
                                   fromlist=["_"]).SIMULATOR)
        try:
            import torch  # noqa: PLC0415
        except ImportError:
            torch = None
        self.torch = torch
        self.torch_dev = None
        if torch is not None and torch.cuda.is_available():
            self.torch_dev = "cuda"
        elif torch is not None and quick:
            self.torch_dev = "cpu"  # only to exercise the code path
        try:
            import jax  # noqa: PLC0415
        except ImportError:
            jax = None
        self.jax = jax
        self.jax_ok = jax is not None and (jax.default_backend() == "gpu" or quick)

    def torch_sync(self):
        if self.torch_dev == "cuda":
            self.torch.cuda.synchronize()

    def header(self) -> list[str]:
        out = [f"python {platform.python_version()}, numpy {np.__version__}"]
        import numba  # noqa: PLC0415

        out.append(f"numba {numba.__version__}, numba.cuda at {self.cuda.__file__}")
        if self.sim:
            out.append("numba.cuda: SIMULATOR (NUMBA_ENABLE_CUDASIM=1): timings are meaningless")
        else:
            dev = self.cuda.get_current_device()
            out.append(f"numba.cuda device: {dev.name} cc {dev.compute_capability}")
        if self.torch is not None:
            out.append(f"torch {self.torch.__version__}, device {self.torch_dev}")
            if self.torch_dev == "cuda":  # TF32 makes f32 matmul/conv faster and less exact
                be = self.torch.backends
                out.append(f"torch TF32: matmul {be.cuda.matmul.allow_tf32}, cudnn "
                           f"{be.cudnn.allow_tf32} (functrace computes in full f32)")
        if self.jax is not None:
            out.append(f"jax {self.jax.__version__}, backend {self.jax.default_backend()}"
                       + ("" if self.jax_ok else " (skipped: not a GPU)")
                       + "; jax's default f32 matmul/conv precision on GPUs may use TF32")
        return out


WARMUP = 2


def _median_time(fn, sync, repeat: int) -> float:
    for _ in range(WARMUP):
        fn()
    sync()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync()
        samples.append(time.perf_counter() - t0)
    return float(np.median(samples))


def time_functrace(env: Env, jitted, args, repeat: int) -> dict:
    """First call (trace + lower + kernel compile), end-to-end and device-resident times."""
    t0 = time.perf_counter()
    jitted(*args)
    first = time.perf_counter() - t0
    compiled = jitted.lower(*args).compile()
    dev_args = ft.device_put(args, ft.devices("cuda")[0])
    sync = env.cuda.synchronize
    out = {"first call": first,
           "functrace": _median_time(lambda: jitted(*args), sync, repeat),
           "ft device": _median_time(lambda: jitted(*dev_args), sync, repeat),
           "steps": len(compiled.steps)}
    out["counters"] = jitted.lower(*dev_args).compile().counters() or {}
    return out


def time_torch(env: Env, make, repeat: int):
    """``make(torch, device) -> zero-argument callable``; None when torch is absent."""
    if env.torch_dev is None:
        return None
    fn = make(env.torch, env.torch_dev)
    return _median_time(fn, env.torch_sync, repeat)


def time_jax(env: Env, make, repeat: int):
    if not env.jax_ok:
        return None
    fn = make(env.jax)
    return _median_time(lambda: env.jax.block_until_ready(fn()), lambda: None, repeat)


def record(name: str, ft_times: dict, torch_t, jax_t) -> None:
    ROWS.append((name, ft_times, torch_t, jax_t))
    ms = lambda t: "-" if t is None else f"{t * 1e3:.3f}"  # noqa: E731
    ratio = ("-" if torch_t is None else f"{ft_times['ft device'] / torch_t:.2f}")
    say(f"{name}: functrace {ms(ft_times['functrace'])} ms, device "
        f"{ms(ft_times['ft device'])} ms, torch {ms(torch_t)} ms, jax {ms(jax_t)} ms, "
        f"ft device / torch {ratio}, first call {ft_times['first call']:.2f} s, "
        f"{ft_times['steps']} steps, per device call {ft_times.get('counters')}")


# ---------------------------------------------------------------------------
# workloads


def bench_matmul(env: Env, n: int, repeat: int):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    f = ft.jit(lambda a, b: a @ b, backend="cuda")
    got = f(a, b)
    np.testing.assert_allclose(got[:4, :4], (a[:4] @ b[:, :4]), rtol=1e-3, atol=1e-3 * n ** .5)
    fts = time_functrace(env, f, (a, b), repeat)

    def torch_make(torch, dev):
        ta, tb = torch.tensor(a, device=dev), torch.tensor(b, device=dev)
        return lambda: ta @ tb

    def jax_make(jax):
        ja, jb = jax.device_put(a), jax.device_put(b)
        g = jax.jit(lambda a, b: a @ b)
        return lambda: g(ja, jb)

    record(f"matmul {n}x{n} f32", fts, time_torch(env, torch_make, repeat),
           time_jax(env, jax_make, repeat))


def bench_fused(env: Env, rows: int, cols: int, repeat: int):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, cols)).astype(np.float32)
    a = rng.standard_normal(cols).astype(np.float32)
    b = rng.standard_normal(cols).astype(np.float32)
    fn = lambda x, a, b: nn.relu(x * a + b)  # noqa: E731
    f = ft.jit(fn, backend="cuda")
    # the GPU contracts x * a + b into one FMA (one rounding instead of two)
    np.testing.assert_allclose(f(x, a, b)[:8], np.maximum(x[:8] * a + b, 0), rtol=1e-5)
    fts = time_functrace(env, f, (x, a, b), repeat)

    def torch_make(torch, dev):
        tx, ta, tb = (torch.tensor(v, device=dev) for v in (x, a, b))
        return lambda: torch.relu(tx * ta + tb)

    def jax_make(jax):
        jx, ja, jb = (jax.device_put(v) for v in (x, a, b))
        g = jax.jit(lambda x, a, b: jax.nn.relu(x * a + b))
        return lambda: g(jx, ja, jb)

    record(f"fused relu(x*a+b) {rows * cols / 1e6:.1f}M", fts,
           time_torch(env, torch_make, repeat), time_jax(env, jax_make, repeat))


def bench_conv(env: Env, n, cin, hw, cout, repeat: int, backward: bool):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, cin, hw, hw)).astype(np.float32)
    w = (rng.standard_normal((cout, cin, 3, 3)) / np.sqrt(9 * cin)).astype(np.float32)
    g = rng.standard_normal((n, cout, hw, hw)).astype(np.float32)

    def loss(x, w, g):
        return fnp.sum(lax.conv(x, w, (1, 1), "SAME") * g)

    if backward:
        fn = ft.value_and_grad(loss, argnums=(0, 1))
    else:
        def fn(x, w, g):
            return lax.conv(x, w, (1, 1), "SAME")
    f = ft.jit(fn, backend="cuda")
    fts = time_functrace(env, f, (x, w, g), repeat)

    def torch_make(torch, dev):
        F = torch.nn.functional  # noqa: N806
        tx = torch.tensor(x, device=dev, requires_grad=backward)
        tw = torch.tensor(w, device=dev, requires_grad=backward)
        tg = torch.tensor(g, device=dev)
        if not backward:
            return lambda: F.conv2d(tx, tw, padding=1)

        def step():
            tx.grad = tw.grad = None
            y = F.conv2d(tx, tw, padding=1)
            y.backward(tg)
            return tx.grad, tw.grad
        return step

    def jax_make(jax):
        jx, jw, jg = (jax.device_put(v) for v in (x, w, g))

        def jloss(x, w, g):
            return (jax.lax.conv(x, w, (1, 1), "SAME") * g).sum()
        if backward:
            h = jax.jit(jax.value_and_grad(jloss, argnums=(0, 1)))
        else:
            h = jax.jit(lambda x, w, g: jax.lax.conv(x, w, (1, 1), "SAME"))
        return lambda: h(jx, jw, jg)

    what = "fwd+bwd" if backward else "fwd"
    record(f"conv {what} N{n} C{cin} {hw}x{hw} O{cout} 3x3", fts,
           time_torch(env, torch_make, repeat), time_jax(env, jax_make, repeat))


def bench_pool(env: Env, shape, repeat: int):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    g = rng.standard_normal((*shape[:2], shape[2] // 2, shape[3] // 2)).astype(np.float32)

    def loss(x, g):
        p = lax.reduce_window(x, -np.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        return fnp.sum(p * g)

    f = ft.jit(ft.value_and_grad(loss), backend="cuda")
    fts = time_functrace(env, f, (x, g), repeat)

    def torch_make(torch, dev):
        tx = torch.tensor(x, device=dev, requires_grad=True)
        tg = torch.tensor(g, device=dev)

        def step():
            tx.grad = None
            torch.nn.functional.max_pool2d(tx, 2).backward(tg)
            return tx.grad
        return step

    def jax_make(jax):
        jx, jg = jax.device_put(x), jax.device_put(g)

        def jloss(x, g):
            p = jax.lax.reduce_window(x, -np.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2),
                                      "VALID")
            return (p * g).sum()
        h = jax.jit(jax.value_and_grad(jloss))
        return lambda: h(jx, jg)

    record(f"max-pool 2x2 fwd+bwd {shape}", fts, time_torch(env, torch_make, repeat),
           time_jax(env, jax_make, repeat))


def bench_cnn(env: Env, batch: int, repeat: int, quick: bool = False):
    cfg = dict(models.SMALL_CNN, batch=batch)
    if quick:  # the simulator: the same layers, a smaller image and fewer channels
        cfg.update(shape=(1, 8, 8), convs=[4, 8], dense=[16])
    rng = np.random.default_rng(0)
    params = models.init_params(cfg, rng)
    x = rng.standard_normal((batch, *cfg["shape"])).astype(np.float32)
    y = np.eye(cfg["classes"], dtype=np.float32)[rng.integers(0, cfg["classes"], batch)]
    f = models.functrace_step(cfg, backend="cuda")
    fts = time_functrace(env, f, (params, x, y), repeat)
    value = float(f(params, x, y)[0])  # the same params every call: the same loss
    kernels = count_cuda_kernels(env)
    if kernels is not None:
        say(f"CUDA kernels compiled in this process so far: {kernels}")

    def torch_make(torch, dev):
        step = models.torch_step(cfg, params, device=dev)
        tx, ty = torch.tensor(x, device=dev), torch.tensor(y, device=dev)
        want = float(step(tx, ty))  # the loss at the initial params, as functrace's
        ok = abs(value - want) <= 1e-3 * max(1.0, abs(want))
        say(f"CNN loss check: functrace {value:.6f}, torch {want:.6f}: "
            f"{'OK' if ok else 'MISMATCH'}")
        return lambda: step(tx, ty)

    def jax_make(jax):
        step = models.jax_step(cfg)
        jp = [jax.device_put(p) for p in params]
        jx, jy = jax.device_put(x), jax.device_put(y)
        t0 = time.perf_counter()
        jax.block_until_ready(step(jp, jx, jy))
        say(f"jax first call (compile) of the CNN step: {time.perf_counter() - t0:.2f} s")
        return lambda: step(jp, jx, jy)

    record(f"small CNN train step, batch {batch}", fts, time_torch(env, torch_make, repeat),
           time_jax(env, jax_make, repeat))


def count_cuda_kernels(env: Env):
    """Compiled kernel specialisations so far (None in the simulator)."""
    from functrace.backends.numba_cuda import kernels  # noqa: PLC0415

    return kernels.compiled_kernel_count()


# ---------------------------------------------------------------------------
# driver


class SectionTimeout(BaseException):
    """Not an Exception: the backend's error wrapping must let it through."""


def _alarm(signum, frame):
    raise SectionTimeout()


def run_section(name: str, fn, limit: float, deadline: float) -> None:
    left = deadline - time.perf_counter()
    if left < 5:
        say(f"[{name}] SKIPPED: the overall time budget is spent")
        return
    limit = int(max(5, min(limit, left)))
    say(f"[{name}] (limit {limit} s)")
    t0 = time.perf_counter()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(limit)
    try:
        fn()
    except SectionTimeout:
        say(f"[{name}] TIMEOUT after {limit} s")
    except Exception as e:  # one failure must not stop the others
        say(f"[{name}] FAILED: {type(e).__name__}: {str(e)[:500]}")
        say("    " + traceback.format_exc(limit=6).replace("\n", "\n    ")[-3000:])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    say(f"[{name}] {time.perf_counter() - t0:.1f} s")


def table() -> list[str]:
    ms = lambda t: "-" if t is None else f"{t * 1e3:.3f}"  # noqa: E731
    out = ["| workload | functrace (NumPy in/out) ms | ft device-resident ms | torch ms | "
           "jax ms | ft device / torch | ft / torch | first call s | steps | launches | "
           "allocs | h2d/d2h B |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, f, t, j in ROWS:
        r_dev = "-" if t is None else f"{f['ft device'] / t:.2f}"
        r_all = "-" if t is None else f"{f['functrace'] / t:.2f}"
        c = f.get("counters") or {}
        out.append(f"| {name} | {ms(f['functrace'])} | {ms(f['ft device'])} | {ms(t)} | "
                   f"{ms(j)} | {r_dev} | {r_all} | {f['first call']:.2f} | {f['steps']} | "
                   f"{c.get('launches', '-')} | {c.get('allocations', '-')} | "
                   f"{c.get('h2d_bytes', '-')}/{c.get('d2h_bytes', '-')} |")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny shapes (simulator check)")
    ap.add_argument("--budget", type=float, default=200.0, help="overall seconds")
    ap.add_argument("--out", default=None, help="also write the report to this file")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    deadline = t_start + args.budget
    q = args.quick
    say("## functrace CUDA backend vs PyTorch vs JAX")
    say()
    try:
        env = Env(q)
    except Exception as e:
        say(f"cannot set up the CUDA backend: {type(e).__name__}: {e}")
        _write(args.out)
        return 1
    for line in env.header():
        say(f"- {line}")
    say()
    global WARMUP
    WARMUP = 1 if q else 2
    rep = 1 if q else 20
    sections = [  # the most telling first: the budget may cut the tail
        ("matmul 1024", lambda: bench_matmul(env, 20 if q else 1024, rep), 40),
        ("fused 16M", lambda: bench_fused(env, 8 if q else 4096, 16 if q else 4096, rep), 30),
        ("conv fwd 64ch", lambda: bench_conv(env, *((1, 2, 4, 3) if q else (32, 64, 32, 64)),
                                             rep, False), 40),
        ("conv fwd+bwd 64ch", lambda: bench_conv(env, *((1, 2, 4, 3) if q else
                                                       (32, 64, 32, 64)), rep, True), 50),
        ("max-pool fwd+bwd", lambda: bench_pool(env, (1, 2, 4, 4) if q else (32, 64, 32, 32),
                                                rep), 30),
        ("small CNN step", lambda: bench_cnn(env, 2 if q else 64, rep, q), 90),
        ("conv fwd 3ch", lambda: bench_conv(env, *((1, 3, 4, 2) if q else (32, 3, 32, 64)),
                                            rep, False), 30),
        ("conv fwd+bwd 3ch", lambda: bench_conv(env, *((1, 3, 4, 2) if q else
                                                      (32, 3, 32, 64)), rep, True), 40),
        ("matmul 4096", lambda: bench_matmul(env, 33 if q else 4096, 1 if q else 10), 60),
    ]
    for name, fn, limit in sections:
        run_section(name, fn, limit * (4 if q else 1), deadline)
    say()
    say("### Summary (medians; ratios < 1 mean functrace is faster)")
    say()
    for line in table():
        say(line)
    say()
    say(f"total {time.perf_counter() - t_start:.1f} s")
    _write(args.out)
    return 0


def _write(path) -> None:
    if path:
        with open(path, "w") as fh:
            fh.write("\n".join(LINES) + "\n")


if __name__ == "__main__":
    sys.exit(main())
