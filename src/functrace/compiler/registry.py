"""The backend registry: backends register themselves; ``jit`` looks them up by name.

The CPU backend is imported with ``functrace``. Optional backends are imported on
first use only (``import functrace`` must never import CUDA): ``LAZY_BACKENDS``
maps their name to the module that registers them, imported by name with
``importlib`` so that this layer does not import a higher one.
"""

from __future__ import annotations

import importlib

from ..errors import FunctraceError

backends: dict[str, object] = {}
DEFAULT_BACKEND = "cpu"

# name -> module registering it when imported (on the first get_backend(name))
LAZY_BACKENDS = {"cuda": "functrace.backends.numba_cuda"}


def register_backend(name: str, backend) -> None:
    backends[name] = backend


def lowers(prim, lowerings: dict) -> bool:
    """Whether a backend with this lowering table lowers ``prim``: with a kernel, in a
    fused loop (``elementwise``) or, on purpose, with its reference impl
    (``impl_fallback``). A test checks every primitive on every backend."""
    return prim in lowerings or prim.elementwise or prim.impl_fallback


def get_backend(name: str | None):
    """The backend registered as ``name`` (default ``'cpu'``), importing it if lazy."""
    name = name or DEFAULT_BACKEND
    if name not in backends and name in LAZY_BACKENDS:
        try:
            importlib.import_module(LAZY_BACKENDS[name])
        except ImportError as e:
            raise FunctraceError(
                f"jit: the {name!r} backend could not be imported ({e}); for 'cuda' install "
                "numba-cuda (pip install 'functrace[cuda]')") from e
    if name not in backends:
        raise FunctraceError(f"jit: unknown backend {name!r}; available: "
                             f"{sorted(set(backends) | set(LAZY_BACKENDS))}")
    return backends[name]
