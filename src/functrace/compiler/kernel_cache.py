"""Generated kernel source on disk, shared by the backends' code generators.

Each generated kernel's source is written to the kernel cache directory
(``$FUNCTRACE_CACHE_DIR``, default ``~/.cache/functrace/kernels``) under a name
derived from its text and imported from there, so Numba's ``cache=True`` finds
the file again in the next process and loads the machine code instead of
compiling it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path

_modules: dict[str, object] = {}


def cache_dir(sub: str = "kernels") -> Path:
    root = os.environ.get("FUNCTRACE_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "functrace")
    path = Path(root) / sub
    path.mkdir(parents=True, exist_ok=True)
    return path


def load_kernel_module(source: str, prefix: str = "ft_fused", sub: str = "kernels"):
    """Imports ``source`` as a module from the kernel cache directory (written
    atomically, once per text); the same text gives the same module."""
    digest = hashlib.sha1(source.encode()).hexdigest()[:16]
    name = f"{prefix}_{digest}"
    if name in _modules:
        return _modules[name]
    path = cache_dir(sub) / f"{name}.py"
    if not path.exists() or path.read_text() != source:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(source)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    _modules[name] = module
    return module
