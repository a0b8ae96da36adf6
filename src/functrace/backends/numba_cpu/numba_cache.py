"""Keeps Numba's ``cache=True`` working when none of its cache locations is writable.

Numba picks a cache directory for a ``cache=True`` function when it is decorated:
``$NUMBA_CACHE_DIR``, else the ``__pycache__`` beside the source file, else the
user-wide cache (``~/.cache/numba``). When none of them can be written (a
read-only install and a read-only home, as in many containers) it raises
``RuntimeError: cannot cache function ...: no locator available`` at import
time, so every kernel module would fail to import. Before their kernels are
decorated, the kernel modules call ``ensure_numba_can_cache(__file__)``, which
then points ``numba.config.CACHE_DIR`` at functrace's per-process temporary
cache, with the one ``KernelCacheWarning`` of ``compiler/kernel_cache.py``.
"""

from __future__ import annotations

import os

from numba import config as numba_config
from numba.misc.appdirs import AppDirs

from ...compiler.kernel_cache import fallback_cache_dir, writable_error

_checked: set[str] = set()


def ensure_numba_can_cache(py_file: str) -> None:
    """Makes sure Numba finds a writable cache for ``cache=True`` functions defined in
    ``py_file``; once per directory."""
    directory = os.path.dirname(os.path.abspath(py_file))
    if directory in _checked:
        return
    _checked.add(directory)
    candidates = [os.path.join(directory, "__pycache__"),
                  AppDirs(appname="numba", appauthor=False).user_cache_dir]
    if numba_config.CACHE_DIR:
        candidates.insert(0, numba_config.CACHE_DIR)
    errors = []
    for path in candidates:  # Numba's own order; the first writable one is used
        errors.append(writable_error(path))
        if errors[-1] is None:
            return
    numba_config.CACHE_DIR = str(fallback_cache_dir("numba", candidates[0], errors[0]))
