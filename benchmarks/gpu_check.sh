#!/usr/bin/env bash
# The GPU check, run once on a GPU machine from the repo root:
#
#     bash benchmarks/gpu_check.sh          (bash benchmarks/gpu_check.sh --sim: a dry run
#                                            in Numba's CUDA simulator, without a GPU)
#
# Prints the GPU and versions, runs tests/test_cuda.py and tests/test_cuda_arrays.py
# on the real GPU (no simulator), measures the host cost per kernel with launches
# stubbed (benchmarks/gpu_profile.py --host), then times functrace's CUDA backend
# against PyTorch and JAX (benchmarks/gpu.py; its table has the per-call kernel
# launches, allocations and transfers of each device-resident program). Before the
# benchmarks: the generated kernels compiled to PTX, and the host cost and CNN step
# with FUNCTRACE_CUDA_REPLAY=1, views and 0 (replay.py). Everything goes to stdout
# and, if $OUT is set, to $OUT/gpu_check.md. Each stage has its own timeout (15 + 40
# + 45 + 130 + 40 + 3 * (25 + 30) + 150 s): the whole run stays under 10 minutes even
# when every stage hangs; ~4-6 min normally. Needs python3 with numpy, numba,
# numba-cuda, pytest, hypothesis (torch and jax optional); the repo is used in
# place (PYTHONPATH), not installed. numba 0.68 does not support numpy 2.5 (every
# CUDA compile fails with "module 'numpy' has no attribute 'row_stack'"): on an
# image with numpy 2.5, put a numpy 2.4 wheel first on PYTHONPATH (pip install
# --target DIR numpy==2.4.6; export PYTHONPATH=DIR), as the 2026-11-27 run did.
set -u
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"
REPORT=/dev/null
if [ -n "${OUT:-}" ]; then
    mkdir -p "$OUT"
    REPORT="$OUT/gpu_check.md"
fi
export PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}"
export FUNCTRACE_CACHE_DIR="${TMPDIR:-/tmp}/functrace-gpu-check"
export XLA_PYTHON_CLIENT_PREALLOCATE=false   # JAX must not take the GPU's memory
export PYTHONUNBUFFERED=1
BENCH_ARGS="--budget 130"
if [ "${1:-}" = "--sim" ]; then
    # a dry run of this script without a GPU: Numba's simulator, tiny shapes
    export NUMBA_ENABLE_CUDASIM=1
    BENCH_ARGS="--quick --budget 130"
    SIM_FLAG="--sim"
else
    unset NUMBA_ENABLE_CUDASIM
fi

{
echo "# functrace GPU check"
echo
echo '```'
date -u
git log -1 --format='commit %h %s' 2>/dev/null || true
timeout 15 nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader \
    2>&1 || echo "nvidia-smi failed"
"$PY" --version
timeout -k 5 40 "$PY" - <<'PYEOF' 2>&1
import importlib
for name in ("numpy", "numba", "numba_cuda", "torch", "jax", "pytest", "hypothesis"):
    try:
        print(f"{name} {importlib.import_module(name).__version__}")
    except Exception as e:
        print(f"{name}: not importable ({type(e).__name__}: {e})")
PYEOF
echo '```'
echo
echo "## smoke: one kernel compiled and run on the GPU"
echo '```'
timeout -k 5 45 "$PY" - <<'PYEOF' 2>&1
import time
import numpy as np
from numba import cuda
print("numba.cuda:", cuda.__file__, "available:", cuda.is_available())
dev = cuda.get_current_device()
print("device:", getattr(dev, "name", "(simulator)"), "cc", dev.compute_capability)
import functrace as ft
t0 = time.perf_counter()
out = ft.jit(lambda x: x * 2.0 + 1.0, backend="cuda")(np.arange(4, dtype=np.float32))
print("functrace cuda:", out, f"first call {time.perf_counter() - t0:.2f} s")
assert np.allclose(out, [1, 3, 5, 7])
gpu = ft.devices("cuda")[0]
x = ft.device_put(np.arange(4, dtype=np.float32), gpu)
f = ft.jit(lambda x: x * 2.0 + 1.0)
with ft.transfer_guard("disallow"):
    y = f(f(x))
    print("device-resident:", type(y).__name__, y.devices(), f.lower(y).compile().counters())
print("value", ft.device_get(y))
assert np.allclose(ft.device_get(y), [3, 7, 11, 15])
PYEOF
echo "smoke exit status: $?"
echo '```'
echo
echo "## tests/test_cuda.py and tests/test_cuda_arrays.py on the GPU"
echo '```'
t0=$(date +%s)
timeout -k 5 130 "$PY" -m pytest tests/test_cuda.py tests/test_cuda_arrays.py -o addopts="" -q \
    -rfEs -p no:cacheprovider --durations=5 2>&1 | tail -60
echo "pytest exit status: ${PIPESTATUS[0]} ($(( $(date +%s) - t0 )) s; 124 = timed out)"
echo '```'
echo
echo "## generated kernels compile to PTX (tests/cuda_ptx.py)"
echo '```'
timeout -k 5 40 env -u NUMBA_ENABLE_CUDASIM "$PY" tests/cuda_ptx.py 2>&1 | tail -8
echo '```'
echo
echo "## host cost per kernel (launches stubbed; target <= 10 us), and the CNN step"
echo "## with the replay of prepared launches (1), of numba launches (views), none (0)"
echo '```'
for mode in 1 views 0; do
    FUNCTRACE_CUDA_REPLAY=$mode timeout -k 5 25 "$PY" -m benchmarks.gpu_profile --host \
        ${SIM_FLAG:-} 2>&1 | tail -2 | sed "s/^/FUNCTRACE_CUDA_REPLAY=$mode: /"
    FUNCTRACE_CUDA_REPLAY=$mode timeout -k 5 30 "$PY" -m benchmarks.gpu_profile --step \
        ${SIM_FLAG:-} 2>&1 | tail -2
done
echo '```'
echo
t0=$(date +%s)
timeout -k 5 150 "$PY" -m benchmarks.gpu $BENCH_ARGS 2>&1
echo
echo "benchmarks exit status: $? ($(( $(date +%s) - t0 )) s; 124 = timed out)"
} 2>&1 | tee "$REPORT"
