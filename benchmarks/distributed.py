"""The ``distributed`` section: MPI collectives and data-parallel throughput on one host.

- ``Allreduce`` of the small CNN's and the VGG-style net's gradients, 2 ranks: functrace's
  checked, bit-identical sum (``MPIGroup.allreduce``: agreement message + reduce-scatter
  + all-gather) beside MPI's plain ``Allreduce``;
- a size sweep of both, fitted to ``alpha + beta * bytes`` (docs/scaling.md's model);
- the small CNN train step's throughput (global batch 64): 2 processes x 1 thread, each
  running ``pmap`` on 32 examples with ``lax.pmean`` of the gradients, against 1 process
  x 2 threads running the plain ``jit`` step on 64 (runs alternate, medians).

Usage: ``python -m benchmarks --only distributed`` or ``python -m benchmarks.distributed``
(needs the ``mpi`` extra: mpiexec in the environment's bin/). Each measurement is a
fresh ``mpiexec``/``python`` launch of this module with ``--worker``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MPIEXEC = Path(sys.executable).parent / "mpiexec"
SIZES = [4, 1 << 10, 1 << 14, 1 << 17, 1 << 20, 1 << 22, 1 << 23]  # bytes


def _env(threads: int) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}  # docs/performance.md
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT),
                                         env.get("PYTHONPATH", "")])
    for var in ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        env[var] = str(threads)
    return env


def _launch(nproc: int, threads: int, *args) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.distributed", "--worker", *map(str, args)]
    if nproc > 1:
        cmd = [str(MPIEXEC), "-n", str(nproc)] + cmd
    out = subprocess.run(cmd, env=_env(threads), cwd=ROOT, capture_output=True, text=True,
                         timeout=900)
    if out.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}")
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    return json.loads(lines[-1])


# ---------------------------------------------------------------------------
# workers (run inside the launched processes)

def _gradient_arrays(name):
    from . import models  # noqa: PLC0415 - only the workers import functrace

    cfg = getattr(models, name)
    return models.init_params(cfg, np.random.default_rng(0))


def _time(fn, reps: int) -> float:
    for _ in range(3):
        fn()
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return float(np.median(samples))


def worker_allreduce():
    from mpi4py import MPI  # noqa: PLC0415

    from functrace import distributed  # noqa: PLC0415
    from functrace.devices import process_group  # noqa: PLC0415

    distributed.initialize()
    group = process_group()
    comm = group.comm
    result = {"grads": {}, "sweep": []}
    for name in ("SMALL_CNN", "VGG_STYLE"):
        grads = _gradient_arrays(name)
        nbytes = sum(g.nbytes for g in grads)
        flat = np.concatenate([g.ravel() for g in grads])
        out = np.empty_like(flat)
        comm.Barrier()
        raw = _time(lambda flat=flat, out=out: comm.Allreduce(flat, out, op=MPI.SUM), 30)
        comm.Barrier()
        ours = _time(lambda grads=grads: group.allreduce(grads, "sum", collective="psum",
                                                         axis_name="bench"), 30)
        result["grads"][name] = {"bytes": nbytes, "arrays": len(grads), "mpi_s": raw,
                                 "functrace_s": ours}
    for nbytes in SIZES:
        x = np.ones(max(nbytes // 4, 1), np.float32)
        out = np.empty_like(x)
        reps = 200 if nbytes < (1 << 20) else 30
        comm.Barrier()
        raw = _time(lambda x=x, out=out: comm.Allreduce(x, out, op=MPI.SUM), reps)
        comm.Barrier()
        ours = _time(lambda x=x: group.allreduce([x], "sum", collective="psum",
                                                 axis_name="bench"), reps)
        result["sweep"].append({"bytes": x.nbytes, "mpi_s": raw, "functrace_s": ours})
    if group.rank == 0:
        print(json.dumps(result))


def worker_step(steps: int):
    import functrace as ft  # noqa: PLC0415
    from functrace import distributed, lax  # noqa: PLC0415
    from functrace.devices import process_group  # noqa: PLC0415

    from . import models  # noqa: PLC0415

    distributed.initialize()
    cfg = models.SMALL_CNN
    nproc, rank = ft.process_count(), ft.process_index()
    rng = np.random.default_rng(0)
    params = models.init_params(cfg, rng)
    global_batch = cfg["batch"]
    x = rng.standard_normal((global_batch, *cfg["shape"])).astype(np.float32)
    y = np.eye(cfg["classes"], dtype=np.float32)[rng.integers(0, 10, global_batch)]
    if nproc == 1:
        step = models.functrace_step(cfg)

        def run():
            return step(params, x, y)
    else:
        loss = models.functrace_loss(cfg)

        def dp(params, x, y):
            value, grads = ft.value_and_grad(loss)(params, x, y)
            grads = lax.pmean(grads, "batch")
            return lax.pmean(value, "batch"), [p - 0.01 * g for p, g in zip(params, grads)]

        pstep = ft.pmap(dp, axis_name="batch", in_axes=(None, 0, 0), out_axes=None)
        share = global_batch // nproc
        xs = x[rank * share:(rank + 1) * share][None]
        ys = y[rank * share:(rank + 1) * share][None]

        def run():
            return pstep(params, xs, ys)
    spent = _time_collectives(process_group()) if nproc > 1 else None
    for _ in range(3):
        run()
    samples = []
    if spent is not None:
        spent.update(allreduce=0.0, agree=0.0)
    for _ in range(steps):
        t0 = time.perf_counter()
        run()
        samples.append(time.perf_counter() - t0)
    result = {"step_s": float(np.median(samples)), "nproc": nproc}
    if spent is not None:  # every rank's split of a step: compute, allreduce, arrival wait
        mine = {k: v / steps for k, v in spent.items()}
        mine["step_mean_s"] = float(np.mean(samples))
        result["ranks"] = process_group().comm.gather(mine, root=0)
    if rank == 0:
        print(json.dumps(result))


def _time_collectives(group) -> dict:
    """Wraps the process group's ``allreduce`` and its agreement step (the wait for every
    rank to arrive) with timers; returns the running totals in seconds."""
    spent = {"allreduce": 0.0, "agree": 0.0}

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - t0
        return wrapper

    group.allreduce = timed("allreduce", group.allreduce)
    group._agree = timed("agree", group._agree)
    return spent


# ---------------------------------------------------------------------------
# the section

def fit_alpha_beta(sweep, key):
    """Least-squares ``t = alpha + beta * bytes`` over the sweep."""
    b = np.array([s["bytes"] for s in sweep], float)
    t = np.array([s[key] for s in sweep], float)
    beta, alpha = np.polyfit(b, t, 1, w=1 / t)  # relative errors: small sizes count too
    return float(alpha), float(beta)


def run(rounds: int = 3, steps: int = 20) -> list[tuple]:
    """Runs the section; prints and returns its rows ``(name, seconds, note)``."""
    rows = []
    if not MPIEXEC.exists():
        print("distributed: mpiexec not found next to Python; pip install 'functrace[mpi]'")
        return rows
    ar = _launch(2, 1, "allreduce")
    for name, label in (("SMALL_CNN", "small CNN"), ("VGG_STYLE", "VGG-style")):
        g = ar["grads"][name]
        print(f"allreduce of the {label} gradients ({g['bytes'] / 2**20:.2f} MiB, "
              f"{g['arrays']} arrays), 2 ranks: functrace {g['functrace_s'] * 1e3:.3f} ms, "
              f"MPI_Allreduce {g['mpi_s'] * 1e3:.3f} ms", flush=True)
        rows.append((f"allreduce {label} grads", g["functrace_s"], g["mpi_s"]))
    for key, label in (("mpi_s", "MPI_Allreduce"), ("functrace_s", "functrace psum")):
        alpha, beta = fit_alpha_beta(ar["sweep"], key)
        print(f"{label}: alpha {alpha * 1e6:.1f} us, beta {beta * 1e9:.3f} ns/byte "
              f"({1 / beta / 1e9:.2f} GB/s)", flush=True)
    print("sweep (bytes, MPI_Allreduce us, functrace us): " + ", ".join(
        f"({s['bytes']}, {s['mpi_s'] * 1e6:.1f}, {s['functrace_s'] * 1e6:.1f})"
        for s in ar["sweep"]), flush=True)
    one, two, profiles = [], [], []
    for _ in range(rounds):  # alternate the two set-ups: a noisy period hits both
        one.append(_launch(1, 2, "step", steps)["step_s"])
        res = _launch(2, 1, "step", steps)
        two.append(res["step_s"])
        profiles.append(res["ranks"])
    t1, t2 = float(np.median(one)), float(np.median(two))
    print("per round, 1 x 2 threads / 2 x 1 thread (ms): " + ", ".join(
        f"{a * 1e3:.1f}/{b * 1e3:.1f}" for a, b in zip(one, two, strict=True)), flush=True)
    for k, ranks in enumerate(profiles):
        print(f"round {k}, 2 processes, mean per step: " + "; ".join(
            f"rank {r}: step {p['step_mean_s'] * 1e3:.1f} ms = compute "
            f"{(p['step_mean_s'] - p['allreduce']) * 1e3:.1f} + allreduce "
            f"{p['allreduce'] * 1e3:.2f} (arrival wait + check {p['agree'] * 1e3:.2f})"
            for r, p in enumerate(ranks)), flush=True)
    print(f"small CNN step, global batch 64: 1 process x 2 threads {t1 * 1e3:.1f} ms "
          f"({64 / t1:.0f} ex/s); 2 processes x 1 thread {t2 * 1e3:.1f} ms ({64 / t2:.0f} "
          f"ex/s); throughput ratio {t1 / t2:.2f} (target >= 0.9)", flush=True)
    rows.append(("small CNN step 1 proc x 2 threads", t1, None))
    rows.append(("small CNN step 2 procs x 1 thread", t2, None))
    return rows


def ring_allreduce_s(n: int, nbytes: float, alpha: float, link_gbit: float) -> float:
    """Ring allreduce time on ``n`` machines: 2(n-1) steps, each a latency ``alpha`` and
    a 1/n share of the buffer over the link (reduce-scatter, then all-gather)."""
    if n <= 1:
        return 0.0
    beta = 8 / (link_gbit * 1e9)  # seconds per byte
    return 2 * (n - 1) * alpha + 2 * (n - 1) / n * nbytes * beta


def predict(step_s: float, nbytes: float, alpha: float,
            machines=(8, 64, 512), links=(10, 100)) -> list[tuple]:
    """Weak-scaling efficiency (per-machine batch fixed, no overlap): compute / (compute +
    allreduce), for each number of machines and link speed in Gb/s."""
    return [(n, g, ring_allreduce_s(n, nbytes, alpha, g),
             step_s / (step_s + ring_allreduce_s(n, nbytes, alpha, g)))
            for n in machines for g in links]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--predict", nargs=3, type=float, metavar=("STEP_S", "BYTES", "ALPHA"),
                        help="print docs/scaling.md's table for these figures and exit")
    args = parser.parse_args(argv)
    if args.predict:
        for n, g, t, eff in predict(*args.predict):
            print(f"{n:4d} machines {g:4.0f} Gb/s: allreduce {t * 1e3:7.2f} ms, "
                  f"efficiency {eff:.3f}")
        return
    if args.worker:
        if args.worker[0] == "allreduce":
            worker_allreduce()
        else:
            worker_step(int(args.worker[1]))
        return
    run(args.rounds)


if __name__ == "__main__":
    main()
