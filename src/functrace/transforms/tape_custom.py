"""The eager tape's cached VJPs of ``custom_jvp`` functions (``nn.relu`` and its kin).

A ``custom_jvp`` function applied on the tape is linearized node by node by default
(``tape_vjp.linearize_node``): partial evaluation of its rule on every call, which for a
CNN's ReLU costs more than the arithmetic and leaves reference cycles for the GC. The
module-level functions functrace itself defines are pure (no state read at call time), so
their VJP can be derived once per signature like a primitive's
(``tape_vjp.derive_function``) and cached under ``(function, input tree, input avals,
which inputs are differentiated)``.
A user's ``custom_jvp`` function keeps the per-node path: it may read globals that change
between calls, which a cached program would not see.
"""

from __future__ import annotations

from .tape_vjp import derive_function


def trusted(cj) -> bool:
    """Whether the tape may cache the VJP of the ``custom_jvp`` object ``cj``: one of
    functrace's own module-level functions (not one made per call, such as
    ``custom_root``'s, whose closures a cache would pin), without symbolic zeros."""
    if cj.symbolic_zeros:
        return False
    for f in (cj.fun, cj.jvp):
        module = getattr(f, "__module__", None) or ""
        if not module.startswith("functrace.") or "<locals>" in getattr(f, "__qualname__",
                                                                          "<locals>"):
            return False
    return True


def info_of(fun):
    """``(custom_jvp object, input tree, out-tree store)`` for a cacheable call, or None."""
    info = getattr(fun, "tape_info", None)
    if info is None or not trusted(info[0]):
        return None
    return info


def derive(apply, avals, mask, store):
    """The cache entry of one call: ``(derived entry, out tree)``."""
    entry = derive_function(apply, avals, mask)
    return entry, store.get("out_tree")
