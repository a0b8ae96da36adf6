"""Peak memory of one training step, per framework, each in a fresh process.

The child builds the model and inputs, runs the step twice (compiles, warms
up), hands freed memory back to the OS (``malloc_trim``), resets the kernel's
peak-RSS counter (``/proc/self/clear_refs``), runs the step again and reports
``VmHWM - VmRSS`` sampled just before: the memory the step itself needs on top
of what stays resident (params, inputs, compiled code, and whatever an
allocator keeps cached). Linux/glibc only; elsewhere the benchmark skips.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

CHILD = """
import sys, numpy as np
from benchmarks import models
from benchmarks.memory import peak_of
framework, name = sys.argv[1], sys.argv[2]
cfg = getattr(models, name)
rng = np.random.default_rng(0)
params = models.init_params(cfg, rng)
x = rng.standard_normal((cfg["batch"], *cfg["shape"])).astype(np.float32)
y = np.eye(cfg["classes"], dtype=np.float32)[rng.integers(0, cfg["classes"], cfg["batch"])]
if framework == "functrace":
    step = models.functrace_step(cfg)
    run = lambda: step(params, x, y)
elif framework == "torch":
    import torch
    ts = models.torch_step(cfg, params)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    run = lambda: ts(tx, ty)
else:
    import jax, jax.numpy as jnp
    js = models.jax_step(cfg)
    jp = [jnp.asarray(p) for p in params]
    jx, jy = jnp.asarray(x), jnp.asarray(y)
    run = lambda: jax.block_until_ready(js(jp, jx, jy))
print(peak_of(run))
"""


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"{field} not in /proc/self/status")


def peak_of(run) -> float:
    """MiB of resident memory that ``run()`` adds at its peak (after two warm-up calls)."""
    run()
    run()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current RSS
    before = _status_kb("VmRSS")
    run()
    return (_status_kb("VmHWM") - before) / 1024


def peak_memory(name: str, frameworks) -> dict:
    """``{framework: MiB}`` for the model config ``name`` of ``benchmarks.models``."""
    if not os.path.exists("/proc/self/clear_refs"):
        return {}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = {}
    for fw in frameworks:
        proc = subprocess.run([sys.executable, "-c", CHILD, fw, name], env=env, cwd=root,
                              capture_output=True, text=True)
        if proc.returncode == 0:
            out[fw] = float(proc.stdout.split()[-1])
        else:
            print(f"  peak memory ({fw}) failed: {proc.stderr.strip().splitlines()[-1:]}")
    return out
