"""The on-disk kernel cache (compiler/kernel_cache.py, backends/numba_cpu/numba_cache.py):
an unwritable cache falls back to a temporary directory with exactly one warning and
the same results; several processes can fill one fresh cache at the same moment."""

import hashlib
import os
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from functrace.compiler import kernel_cache
from functrace.errors import KernelCacheWarning

SRC = Path(__file__).resolve().parents[1] / "src"

# Fused elementwise (generated kernel), a max-pool (generated kernel that imports
# the hand-written scalar helpers) and a reduction; every result against NumPy.
SCRIPT = """
import sys, time, warnings
import numpy as np
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import functrace as ft, functrace.numpy as fnp
    from functrace import lax
    from functrace.errors import KernelCacheWarning
    if len(sys.argv) > 1:  # start together with the other processes
        time.sleep(max(0.0, float(sys.argv[1]) - time.time()))
    x = np.linspace(-3, 3, 600, dtype=np.float32).reshape(20, 30)
    got = ft.jit(lambda x: fnp.sin(x) * 2 + fnp.exp(-x))(x)
    np.testing.assert_allclose(got, np.sin(x) * 2 + np.exp(-x), rtol=1e-5, atol=1e-6)
    pool = ft.jit(lambda x: lax.reduce_window(x, -np.inf, lax.max, (1, 2, 2, 1),
                                              (1, 2, 2, 1), "VALID"))
    y = x.reshape(1, 20, 30, 1)
    want = y.reshape(1, 10, 2, 15, 2, 1).max(axis=(2, 4))
    np.testing.assert_array_equal(pool(y), want)
    np.testing.assert_allclose(ft.jit(lambda x: fnp.sum(x * x, axis=1))(x),
                               (x * x).sum(axis=1), rtol=1e-5)
n = sum(issubclass(w.category, KernelCacheWarning) for w in caught)
print("CACHE_WARNINGS", n)
for w in caught:
    if issubclass(w.category, KernelCacheWarning):
        print("MESSAGE", w.message)
"""


def _run(env_updates, *args, pythonpath=SRC, timeout=600):
    env = {k: v for k, v in os.environ.items()
           if k not in ("FUNCTRACE_CACHE_DIR", "NUMBA_CACHE_DIR")}
    env.update(env_updates, PYTHONPATH=str(pythonpath))
    return subprocess.Popen([sys.executable, "-c", SCRIPT, *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _check(proc, warnings_expected):
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    assert f"CACHE_WARNINGS {warnings_expected}" in out, out + err[-2000:]
    return out


def _not_a_directory(tmp_path):
    """A path under a regular file: mkdir raises NotADirectoryError, even for root
    (for whom chmod does not stop writes)."""
    (tmp_path / "a_file").write_text("")
    return tmp_path / "a_file" / "cache"


def _read_only_dir(tmp_path):
    path = tmp_path / "ro"
    path.mkdir()
    path.chmod(0o500)
    if kernel_cache.writable_error(path) is None:  # root ignores the mode bits: then the
        path.chmod(0o700)                          # kernels dir is a file, mkdir fails
        (path / "kernels").write_text("")
        path.chmod(0o500)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("make", [_not_a_directory, _read_only_dir])
def test_unwritable_cache_dir_falls_back_with_one_warning(tmp_path, make):
    bad = make(tmp_path)
    out = _check(_run({"FUNCTRACE_CACHE_DIR": str(bad)}), 1)
    assert "FUNCTRACE_CACHE_DIR" in out and str(bad) in out  # says what failed and what to do
    temporary = out.split("temporary directory '")[1].split("'")[0]
    assert not os.path.exists(temporary)  # the temporary cache is removed at exit


@pytest.mark.slow
def test_unwritable_home_and_install_fall_back_with_one_warning(tmp_path):
    """A read-only home (default cache ~/.cache/functrace, Numba's ~/.cache/numba) and
    a read-only install (Numba's __pycache__ beside the kernels): Numba alone would
    raise 'no locator available' when the hand-written kernels are imported."""
    src = tmp_path / "src"
    shutil.copytree(SRC / "functrace", src / "functrace",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for d in [src, *(p for p in src.rglob("*") if p.is_dir())]:
        (d / "__pycache__").write_text("")  # no bytecode or Numba cache can go there
    home = _not_a_directory(tmp_path)
    env = {"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}
    _check(_run(env, pythonpath=src), 1)
    # the same install with a writable functrace cache: Numba's cache still falls back
    _check(_run({**env, "FUNCTRACE_CACHE_DIR": str(tmp_path / "ok")}, pythonpath=src), 1)


@pytest.mark.slow
def test_processes_filling_one_fresh_cache_at_the_same_moment(tmp_path):
    cache = tmp_path / "fresh"
    start = time.time() + 8  # after every process has imported functrace
    procs = [_run({"FUNCTRACE_CACHE_DIR": str(cache)}, str(start)) for _ in range(3)]
    for proc in procs:
        _check(proc, 0)
    sources = list((cache / "kernels").glob("ft_*.py"))
    assert len(sources) >= 3 and not list((cache / "kernels").glob("*.tmp"))
    assert list((cache / "kernels" / "__pycache__").glob("*.nbi"))  # Numba cached them
    _check(_run({"FUNCTRACE_CACHE_DIR": str(cache)}), 0)  # and a later process loads them


def test_load_kernel_module_falls_back_in_process(tmp_path, monkeypatch):
    monkeypatch.setattr(kernel_cache, "_resolved", {})
    monkeypatch.setattr(kernel_cache, "_warned", [])
    monkeypatch.setattr(kernel_cache, "_fallback_root", [])
    monkeypatch.setenv("FUNCTRACE_CACHE_DIR", str(_not_a_directory(tmp_path)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mods = [kernel_cache.load_kernel_module(f"def f(x):\n    return x * {k}\n",
                                                "ft_test") for k in (2, 3)]
    assert [m.f(np.float32(5)) for m in mods] == [10, 15]
    assert [w.category for w in caught] == [KernelCacheWarning]
    root = kernel_cache._fallback_root[0]
    assert all(Path(m.__file__).parent == root / "kernels" for m in mods)
    shutil.rmtree(root)


def test_writable_error_reports_the_failure(tmp_path):
    assert kernel_cache.writable_error(tmp_path / "new" / "dir") is None
    assert isinstance(kernel_cache.writable_error(_not_a_directory(tmp_path)), OSError)


def test_a_fused_kernel_names_the_helpers_it_was_built_against():
    # Numba's cache checks only the kernel file's own stamp: a kernel must change its
    # text when the scalar helpers it calls change, or a stale machine-code cache loads
    import functrace as ft
    import functrace.backends.numba_cpu as cpu_pkg

    here = Path(cpu_pkg.__file__).parent
    names = ("scalar.py", "loop_helpers.py", "../../lax/_special_scalar.py")
    digest = hashlib.sha1(b"".join((here / n).read_bytes() for n in names)).hexdigest()
    x = np.linspace(0.0, 1.0, 1000, dtype=np.float32)
    text = ft.jit(lambda x: ft.numpy.tanh(x) * 2 + 1).lower(x).compile().as_text()
    assert f"helpers {digest[:16]}" in text
