"""Multi-process pmap over MPI: ``mpiexec -n 2`` from the environment's bin/ (the ``mpi``
extra, part of ``dev``) runs tests/mpi/dp_step.py."""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import functrace as ft
from functrace import distributed

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "mpi" / "dp_step.py"
MPIEXEC = Path(sys.executable).parent / "mpiexec"

sys.path.insert(0, str(HERE / "mpi"))
sys.path.insert(0, str(HERE))
import dp_step  # noqa: E402

from test_parallel_groups import (  # noqa: E402
    ref_all_gather,
    ref_all_to_all,
    ref_psum_scatter,
    ref_reduce,
)


def launch(*args, timeout=90):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent / "src"), env.get("PYTHONPATH", "")])
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[var] = "1"  # two ranks on two cores: one thread each
    return subprocess.run([str(MPIEXEC), "-n", "2", sys.executable, str(SCRIPT), *map(str, args)],
                          env=env, capture_output=True, text=True, timeout=timeout)


def single_process_reference():
    params, x, y = dp_step.data()
    for _ in range(dp_step.STEPS):
        params = dp_step.sgd(params, ft.grad(dp_step.loss)(params, x, y))
    return params


def test_mpiexec_is_installed():
    assert MPIEXEC.exists(), "install the mpi extra: pip install 'functrace[mpi]'"


def test_two_processes_step_like_one_process_on_the_global_batch(tmp_path):
    out = tmp_path / "run"
    proc = launch(out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ranks = [np.load(f"{out}.rank{r}.npz") for r in range(2)]
    ranks = [[f[f"arr_{i}"] for i in range(len(f.files))] for f in ranks]
    for a, b in zip(*ranks, strict=True):
        np.testing.assert_array_equal(a, b)  # bit-identical on every rank
    for a, b in zip(ranks[0], single_process_reference(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    check_grouped_collectives(out)
    # the mismatched collective: both ranks got an error naming it and each rank's operand
    for r in range(2):
        msg = (tmp_path / f"run.rank{r}.txt").read_text()
        assert "lax.psum over axis 'batch'" in msg and "does not match" in msg, msg
        assert "rank 0:" in msg and "float32[3]" in msg, msg
        assert "rank 1:" in msg and "float32[4]" in msg, msg


def check_grouped_collectives(out):
    """axis_index_groups across processes: 2 ranks x 2 virtual devices, groups that pair
    lanes of different ranks; each rank holds its own lanes' rows of the reference."""
    X = dp_step.lanes()
    W = np.arange(X.size, dtype=np.float32).reshape(X.shape)  # every lane's w, as dp_step
    for key, g in dp_step.GROUPS.items():
        refs = {
            "psum": ref_reduce(X, g, np.sum), "pmax": ref_reduce(X, g, np.max),
            "all_gather": ref_all_gather(X, g, 0, False),
            "psum_scatter": ref_psum_scatter(X, g, 0, False),
            "all_to_all": ref_all_to_all(X, g, 0, 1, False),
            "grad_psum": ref_reduce(W, g, np.sum),  # d/dx_l sum_m psum_g(x)_m w_m
        }
        for r in range(2):
            got = np.load(f"{out}.rank{r}.groups.npz")
            for name, ref in refs.items():
                np.testing.assert_allclose(got[f"{key}/{name}"], ref[2 * r:2 * r + 2],
                                           rtol=1e-6, atol=1e-6, err_msg=f"{key} {name} {r}")


def test_a_rank_that_never_arrives_times_out_instead_of_hanging(tmp_path):
    t0 = time.monotonic()
    proc = launch(tmp_path / "hang", "hang", timeout=60)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text
    assert "lax.psum over axis 'i'" in text and "waited 3 s for rank(s) [1]" in text, text
    assert time.monotonic() - t0 < 40  # the sleeping rank (60 s) was aborted


def test_initialize_is_a_no_op_for_one_process():
    was = distributed.is_initialized()
    if not was:
        distributed.initialize()
    assert distributed.is_initialized() and ft.process_count() == 1
    with pytest.raises(ft.FunctraceError, match="only be called once"):
        distributed.initialize()
    if not was:
        distributed.shutdown()


def test_train_cnn_dp_matches_train_cnn(tmp_path):
    """examples/train_cnn_dp.py on 2 processes reaches train_cnn.py's accuracy (2 epochs)."""
    examples = HERE.parent / "examples"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent / "src"), env.get("PYTHONPATH", "")])
    common = ["--epochs", "2", "--quiet"]
    dp = subprocess.run([str(MPIEXEC), "-n", "2", sys.executable,
                         str(examples / "train_cnn_dp.py"), *common, "--checkpoint",
                         str(tmp_path / "dp.npz")], env=env, capture_output=True, text=True,
                        timeout=120)
    single = subprocess.run([sys.executable, str(examples / "train_cnn.py"), *common,
                             "--checkpoint", str(tmp_path / "one.npz")], env=env,
                            capture_output=True, text=True, timeout=120)
    assert dp.returncode == 0 and single.returncode == 0, dp.stderr + single.stderr
    assert dp.stdout.count("final test accuracy") == 1  # rank 0 alone prints
    assert "parameters identical on all 2 process(es): True" in dp.stdout, dp.stdout
    acc = [float(s.stdout.split("final test accuracy: ")[1].split()[0]) for s in (dp, single)]
    assert abs(acc[0] - acc[1]) <= 2 / 359, acc  # at most two of the 359 test digits differ
    assert (tmp_path / "dp.npz").exists()


def test_spmd_example_two_processes_equal_two_virtual_devices():
    """The JAX-style SPMD example (replicated params, psum of gradients): 2 processes x 1
    device and 1 process x 2 devices compute the same global gradients, so they print the
    same accuracies, and it learns the digits."""
    script = str(HERE.parent / "examples" / "spmd_mnist_fromscratch.py")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent / "src"), env.get("PYTHONPATH", "")])
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    args = ["--epochs", "6"]
    mpi = subprocess.run([str(MPIEXEC), "-n", "2", sys.executable, script, *args], env=env,
                         capture_output=True, text=True, timeout=120)
    one = subprocess.run([sys.executable, script, *args],
                         env=dict(env, FUNCTRACE_NUM_CPU_DEVICES="2"), capture_output=True,
                         text=True, timeout=120)
    assert mpi.returncode == 0 and one.returncode == 0, mpi.stderr + one.stderr

    def accuracies(out):
        return [line.split(": ", 1)[1] for line in out.splitlines() if "accuracy" in line]

    assert len(accuracies(mpi.stdout)) == 6  # rank 0 alone prints
    assert accuracies(mpi.stdout) == accuracies(one.stdout)
    assert float(accuracies(one.stdout)[-1].split()[-1]) > 0.8
