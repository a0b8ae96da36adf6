"""The small CNN train step on a quiet machine and beside a CPU-bound process.

Issue 12, item 2: a training step should not fall apart when another process holds a
core. One busy-loop process (``while True: pass``) is started once and switched on and
off with ``SIGCONT``/``SIGSTOP``; the rounds alternate quiet and loaded, and inside
each round the contenders alternate sample by sample (``harness``), so a slow period of
the shared machine hits every one alike. Contenders: functrace's jitted step in both
layouts (``lax.conv`` NCHW and stax NHWC, ``benchmarks/models.py``) and PyTorch's
eager NCHW step. Each one's slowdown is its median loaded time over its median quiet
time.

Run from the repo root: ``python -m benchmarks --only load`` or
``python -m benchmarks.load [--repeat N]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time

import numpy as np

from . import models

BUSY = "while True: pass"


class BusyProcess:
    """One CPU-bound child process, stopped until ``on()``; ``close()`` ends it."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", BUSY])
        self.off()

    def on(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def off(self):
        os.kill(self.proc.pid, signal.SIGSTOP)

    def close(self):
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.kill()
        self.proc.wait()


def time_quiet_loaded(fns: dict, repeat: int = 8, warmup: int = 2, pause: float = 0.15):
    """``{name: (quiet samples, loaded samples)}`` in seconds; rounds alternate quiet and
    loaded, contenders alternate inside each round (one untimed call before each timed
    one, as ``harness.time_alternating_samples``)."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    busy = BusyProcess()
    out = {k: ([], []) for k in fns}
    try:
        for _ in range(repeat):
            for state in (0, 1):
                (busy.on if state else busy.off)()
                for name, fn in fns.items():
                    time.sleep(pause)
                    fn()
                    t0 = time.perf_counter()
                    fn()
                    out[name][state].append(time.perf_counter() - t0)
    finally:
        busy.close()
    return out


def _policy(fn, mode, chunks_per_thread):
    """``fn`` run with the thread policy forced (``threads.MODE``, chunks per thread)."""
    from functrace.backends.numba_cpu import threads  # noqa: PLC0415

    def run():
        saved = threads.MODE, threads.CHUNKS_PER_THREAD
        threads.MODE, threads.CHUNKS_PER_THREAD = mode, chunks_per_thread
        try:
            return fn()
        finally:
            threads.MODE, threads.CHUNKS_PER_THREAD = saved

    return run


def small_cnn_contenders(cfg=models.SMALL_CNN, torch_too: bool = True, static: bool = False):
    """``{name: zero-argument callable}``: functrace's lax and stax steps, PyTorch's; with
    ``static``, also functrace's steps as they ran before the thread policy (every Numba
    thread, one chunk of rows each)."""
    rng = np.random.default_rng(0)
    params = models.init_params(cfg, rng)
    x = rng.standard_normal((cfg["batch"], *cfg["shape"])).astype(np.float32)
    y = np.eye(cfg["classes"], dtype=np.float32)[rng.integers(0, cfg["classes"], cfg["batch"])]
    step = models.functrace_step(cfg)
    xl = models.nhwc_input(cfg, x)
    sparams, sstep = models.functrace_stax_step(cfg)
    fns = {"functrace lax NCHW": lambda: step(params, x, y),
           "functrace stax NHWC": lambda: sstep(sparams, xl, y)}
    if static:
        fns["ft lax, static split"] = _policy(fns["functrace lax NCHW"], "all", 1)
        fns["ft stax, static split"] = _policy(fns["functrace stax NHWC"], "all", 1)
    if torch_too:
        try:
            import torch  # noqa: PLC0415
        except ImportError:  # pragma: no cover - optional
            return fns
        ts = models.torch_step(cfg, params)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        fns["torch eager NCHW"] = lambda: ts(tx, ty)
    return fns


def report(samples: dict, record=None):
    """Prints one line per contender (quiet, loaded, slowdown) and, when PyTorch ran, each
    one's time over PyTorch's in both states. Returns ``{name: (quiet, loaded)}``."""
    med = {k: (float(np.median(q)), float(np.median(ld))) for k, (q, ld) in samples.items()}
    ref = med.get("torch eager NCHW")
    for name, (q, ld) in med.items():
        line = f"{name:22s} quiet {q * 1e3:7.2f} ms  loaded {ld * 1e3:7.2f} ms  x{ld / q:.2f}"
        if ref is not None and name != "torch eager NCHW":
            line += f"   / torch: quiet {q / ref[0]:.2f}, loaded {ld / ref[1]:.2f}"
        print(line, flush=True)
        if record is not None:
            record.append((f"small CNN {name}, quiet", q, None, None, None))
            record.append((f"small CNN {name}, 1 busy process", ld, None, None, None))
    return med


def bench_load(repeat: int = 8, record=None, static: bool = False):
    print(f"small CNN step (b64 1x28x28), quiet and beside one busy-loop process "
          f"({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}), "
          f"medians of {repeat}:", flush=True)
    out = report(time_quiet_loaded(small_cnn_contenders(static=static), repeat), record)
    print(f"(load average after: {os.getloadavg()[0]:.1f})", flush=True)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=8)
    parser.add_argument("--static", action="store_true",
                        help="also run functrace with the old static split on all threads")
    args = parser.parse_args(argv)
    bench_load(args.repeat, static=args.static)


if __name__ == "__main__":
    main()
