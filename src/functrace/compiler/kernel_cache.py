"""Generated kernel source on disk, shared by the backends' code generators.

Each generated kernel's source is written to the kernel cache directory
(``$FUNCTRACE_CACHE_DIR``, default ``~/.cache/functrace/kernels``) under a name
derived from its text and imported from there, so Numba's ``cache=True`` finds
the file again in the next process and loads the machine code instead of
compiling it.

When that directory cannot be written (a read-only home in a container, a
cluster node without one), the process compiles into a private temporary
directory instead, with one ``KernelCacheWarning``: the results are the same,
only the next process compiles again.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

from ..errors import FunctraceError, KernelCacheWarning

_modules: dict[str, object] = {}
_resolved: dict[tuple[str, str], Path] = {}  # (configured root, sub) -> directory in use
_fallback_root: list[Path] = []  # the process's temporary cache, made on first need
_warned: list[bool] = []


def writable_error(path: str | os.PathLike) -> OSError | None:
    """``None`` when ``path`` exists (it is made if needed) and a file can be created in
    it; otherwise the error that stopped it. Tries a real write, because permission
    bits say nothing when running as root or on a read-only mount."""
    try:
        os.makedirs(path, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as err:
        return err
    return None


def fallback_cache_dir(sub: str, failed: str | os.PathLike, error: OSError) -> Path:
    """A writable directory ``sub`` in this process's temporary cache (removed at exit),
    used instead of ``failed``; warns once per process, whichever cache fails first."""
    if not _fallback_root:
        try:
            root = Path(tempfile.mkdtemp(prefix="functrace-cache-"))
        except OSError as err:
            raise FunctraceError(
                f"functrace cannot write its kernel cache {str(failed)!r} ({error}) nor a "
                f"temporary directory ({err}). Set FUNCTRACE_CACHE_DIR (and TMPDIR) to a "
                "writable directory.") from err
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        _fallback_root.append(root)
    path = _fallback_root[0] / sub
    path.mkdir(exist_ok=True)
    if not _warned:
        _warned.append(True)
        warnings.warn(
            f"functrace: the kernel cache directory {str(failed)!r} is not writable "
            f"({type(error).__name__}: {error}); this process compiles its kernels in the "
            f"temporary directory {str(_fallback_root[0])!r} instead, so the next process "
            "compiles them again. Set FUNCTRACE_CACHE_DIR (and NUMBA_CACHE_DIR, for "
            "Numba's own cache) to a writable directory to keep them.",
            KernelCacheWarning, stacklevel=3)
    return path


def cache_dir(sub: str = "kernels") -> Path:
    """The directory generated kernels of kind ``sub`` are written to: the configured
    cache when it (and the ``__pycache__`` Numba writes beside the source) is
    writable, else the process's temporary one."""
    root = os.environ.get("FUNCTRACE_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "functrace")
    key = (root, sub)
    if key not in _resolved:
        path = Path(root) / sub
        error = writable_error(path / "__pycache__")
        _resolved[key] = path if error is None else fallback_cache_dir(sub, path, error)
    return _resolved[key]


def _write(path: Path, source: str) -> None:
    if not path.exists() or path.read_text() != source:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(source)
        os.replace(tmp, path)  # atomic: processes writing the same kernel at once agree


def load_kernel_module(source: str, prefix: str = "ft_fused", sub: str = "kernels"):
    """Imports ``source`` as a module from the kernel cache directory (written
    atomically, once per text); the same text gives the same module."""
    digest = hashlib.sha1(source.encode()).hexdigest()[:16]
    name = f"{prefix}_{digest}"
    if name in _modules:
        return _modules[name]
    path = cache_dir(sub) / f"{name}.py"
    try:
        _write(path, source)
    except OSError as error:  # e.g. the disk filled or the directory changed under us
        path = fallback_cache_dir(sub, path.parent, error) / f"{name}.py"
        _write(path, source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    _modules[name] = module
    return module
