"""``jit``: trace once per signature, optimise the jaxpr, lower it to kernels, cache.

The cache key is the pytree structure of the arguments, each leaf's shape,
dtype and weak type, the static arguments and the backend. With
``config.update("log_compiles", True)`` every compilation is logged with its
reason (which part of the key changed) and its timings.
"""

from __future__ import annotations

import functools
import logging
import time

import numpy as np

from ..config import config
from ..core.array import Array
from ..core.avals import DEVICE_ARRAY_TYPES, ShapedArray, canonicalize_value
from ..core.jaxpr import ClosedJaxpr, pp_jaxpr
from ..core.trace import Tracer, trace_to_jaxpr
from ..devices import ALIASES
from ..errors import TransformError
from ..transforms.api_util import StaticArgs, check_callable, flatten_fun, fun_name, with_statics
from ..tree_util import tree_flatten
from . import fusion, nested, passes
from .dispatch import fast_key, leaf_signature, unflattener
from .registry import get_backend

logger = logging.getLogger("functrace.jit")


class Compiled:
    """An executable for one signature; call it with the same kind of arguments."""

    def __init__(self, name, closed: ClosedJaxpr, out_tree, backend, timings):
        self.name = name
        self.jaxpr = closed
        self.out_tree = out_tree
        self.unflatten = unflattener(out_tree)
        self.timings = timings
        self.backend = backend
        self._warm = False
        t0 = time.perf_counter()
        self.steps = fusion.plan(closed.jaxpr,
                                 reductions=getattr(backend, "fuses_reductions", False))
        self._run, self.sources = backend.compile(closed.jaxpr, closed.consts, self.steps)
        timings["lower_s"] = time.perf_counter() - t0

    def call_flat(self, leaves, donated=()):
        """Runs on canonical leaves (plain ndarrays: kernels dispatch fastest on the exact
        type, or device arrays); host results come back as Arrays (a view, no copy)."""
        self._warm = True
        outs = self._run(*leaves, donated=donated) if donated else self._run(*leaves)
        return [o.view(Array) if type(o) is np.ndarray else o for o in outs]

    def counters(self) -> dict | None:
        """What the last call did on the device: ``launches`` (kernels),
        ``allocations`` (device buffers allocated), ``h2d_bytes`` and ``d2h_bytes``
        (copied each way); None on backends without a device (the CPU)."""
        return getattr(self._run, "last_counters", None)

    def as_text(self) -> str:
        """The optimised jaxpr, the fusion plan and the generated kernel sources."""
        lines = [f"# jit({self.name}): optimised jaxpr", pp_jaxpr(self.jaxpr.jaxpr), "",
                 "# plan"]
        fallback = getattr(self._run, "fallback_steps", ())  # reference impls not chosen
        for k, s in enumerate(self.steps):
            kind = "fused" if s.fused else "kernel"
            lines.append(f"step {k}: {kind} " + ", ".join(e.primitive.name for e in s.eqns)
                         + (" (reference impl)" if k in fallback else ""))
        for k, src in enumerate(self.sources):
            lines += ["", f"# generated kernel {k}", src]
        return "\n".join(lines)

    def profile(self, *args, repeat: int = 5) -> str:
        """Runs the program ``repeat`` times and tables the time spent in each step."""
        leaves = [x if type(x) in DEVICE_ARRAY_TYPES else canonicalize_value(x)
                  for x in tree_flatten((args, {}))[0]]
        totals = [0.0] * len(self.steps)
        self._run(*leaves)
        for _ in range(repeat):
            self._run(*leaves, timings=totals)
        order = sorted(range(len(self.steps)), key=lambda k: -totals[k])
        total = sum(totals) or 1.0
        lines = [f"# jit({self.name}) profile: {total / repeat * 1e3:.3f} ms per call"]
        for k in order:
            s = self.steps[k]
            what = ", ".join(e.primitive.name for e in s.eqns)
            shape = s.eqns[-1].outvars[0].aval.str_short() if s.eqns[-1].outvars else ""
            lines.append(f"{totals[k] / repeat * 1e3:9.3f} ms {100 * totals[k] / total:5.1f}%  "
                         f"step {k} {'fused ' if s.fused else ''}{what[:60]} -> {shape}")
        c = self.counters()
        if c is not None:
            lines.insert(1, f"# per call: {c['launches']} kernel launches, {c['allocations']} "
                            f"device allocations, {c['h2d_bytes']} B host->device, "
                            f"{c['d2h_bytes']} B device->host")
        return "\n".join(lines)

    def warm_up(self):
        """Runs once on zeros so every Numba kernel is compiled (or loaded from disk);
        nothing to do once the program has run."""
        if self._warm:
            return self
        self._warm = True
        t0 = time.perf_counter()
        zeros = [np.zeros(v.aval.shape, v.aval.dtype) for v in self.jaxpr.jaxpr.invars]
        with np.errstate(all="ignore"):
            self._run(*zeros)
        self.timings["kernel_compile_s"] = time.perf_counter() - t0
        return self


class Lowered:
    """What ``jit(f).lower(*args)`` returns: the program before kernel compilation."""

    def __init__(self, compiled: Compiled):
        self._compiled = compiled
        self.jaxpr = compiled.jaxpr

    def as_text(self) -> str:
        return self._compiled.as_text()

    def compile(self) -> Compiled:
        """Compiles (or loads from the on-disk cache) every kernel now."""
        return self._compiled.warm_up()


class Jitted:
    """A function compiled on first call for each new argument signature."""

    def __init__(self, fun, static_argnums, static_argnames, donate_argnums, backend):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.__name__ = fun_name(fun)
        self._static = StaticArgs(fun, static_argnums, static_argnames,
                                  label=f"jit({self.__name__})")
        self.static_argnums = self._static.argnums
        self.static_argnames = self._static.argnames
        # buffers of these arguments may become outputs' (on a device; a no-op on the CPU)
        self.donate_argnums = ((donate_argnums,) if isinstance(donate_argnums, int)
                               else tuple(donate_argnums or ()))
        self.backend_name = backend
        self._cache: dict = {}
        # the fast path's cache, dispatch.fast_key -> Compiled: calls without statics whose
        # leaves are host arrays and scalars in tuples, lists, dicts and None
        self._fast: dict = {}
        self._last_key = None
        self.compile_count = 0

    def __get__(self, obj, objtype=None):
        """``@jit`` on a method: ``obj.method(x)`` calls the jitted function with ``obj``."""
        if obj is None:
            return self
        return functools.partial(self, obj)

    # -- compilation -------------------------------------------------------------
    def _explain_miss(self, key) -> str:
        if self._last_key is None:
            return "first call"
        old_tree, old_sig, old_static, old_backend, old_context = self._last_key
        tree, sig, static, backend, context = key
        if tree != old_tree:
            return f"argument structure changed: {old_tree} -> {tree}"
        if static != old_static:
            return f"static arguments changed: {old_static} -> {static}"
        if backend != old_backend:
            return f"backend changed: {old_backend} -> {backend}"
        if context != old_context:
            return (f"config.threefry_partitionable changed: {old_context[0]} -> "
                    f"{context[0]}")
        for k, (a, b) in enumerate(zip(old_sig, sig, strict=True)):
            if a != b:
                fmt = lambda s: ShapedArray(s[0], s[1], s[2]).str_short()  # noqa: E731
                return f"leaf {k} changed from {fmt(a)} to {fmt(b)} (a new shape or dtype)"
        return "signature seen before but evicted"

    def _compile(self, key, in_tree, statics, leaves) -> Compiled:
        t0 = time.perf_counter()
        avals = [ShapedArray(*sig) for sig in key[1]]
        names = [f"leaf {k}" for k in range(len(leaves))]
        flat_fun, store = flatten_fun(with_statics(self.fun, statics), in_tree,
                                      with_kwargs=True, check_outputs=False)
        closed = trace_to_jaxpr(flat_fun, avals, names, transform="jit",
                                fun_name=self.__name__)
        t1 = time.perf_counter()
        if any(isinstance(c, Tracer) for c in closed.consts):
            return None  # closes over an outer transformation's tracer: run inline
        closed = passes.optimize(nested.inline_calls(closed))
        timings = {"trace_s": t1 - t0, "optimize_s": time.perf_counter() - t1}
        compiled = Compiled(self.__name__, closed, store["out_tree"], get_backend(key[3]),
                            timings)
        self.compile_count += 1
        if config.log_compiles:
            logger.warning("jit(%s): compiling because %s; trace %.3fs, optimise %.3fs, "
                           "lower %.3fs", self.__name__, self._explain_miss(key),
                           timings["trace_s"], timings["optimize_s"], timings["lower_s"])
        return compiled

    def _lookup(self, args, kwargs):
        """``(compiled, canonical leaves)``; ``compiled`` is None under another
        transformation (a tracer among the leaves, or one closed over)."""
        if self._static.none:
            fast = fast_key(args, kwargs)
            if fast is not None:  # host arrays, scalars and plain containers of them
                key, leaves = fast
                compiled = self._fast.get(key)
                if compiled is None:
                    compiled, _ = self._lookup_general(args, kwargs)
                    if compiled is not None:
                        self._fast[key] = compiled
                return compiled, leaves
        return self._lookup_general(args, kwargs)

    def _lookup_general(self, args, kwargs):
        dyn_args, dyn_kwargs, statics = self._static.split(args, kwargs)
        leaves, in_tree = tree_flatten((dyn_args, dyn_kwargs))
        if any(isinstance(x, Tracer) for x in leaves):
            return None, leaves
        # config flags that change what tracing produces (JAX's trace context)
        context = (config.threefry_partitionable,)
        backend = self.backend_name
        on_device = next((x for x in leaves if type(x) in DEVICE_ARRAY_TYPES), None)
        if on_device is not None:  # a program whose inputs are on a device runs there
            platform = ALIASES.get(on_device.device.platform, on_device.device.platform)
            backend = backend or platform
        key = (in_tree, tuple(map(leaf_signature, leaves)), statics, backend, context)
        if on_device is not None and backend == platform:
            leaves = [x if type(x) in DEVICE_ARRAY_TYPES else canonicalize_value(x)
                      for x in leaves]
        else:
            leaves = [canonicalize_value(x) for x in leaves]
        compiled = self._cache.get(key)
        if compiled is None:
            compiled = self._compile(key, in_tree, statics, leaves)
            if compiled is None:
                return None, leaves
            self._cache[key] = compiled
            self._last_key = key
        return compiled, leaves

    def __call__(self, *args, **kwargs):
        # a hit of _lookup's fast path, inlined: this line is the per-call cost
        fast = fast_key(args, kwargs) if self._static.none else None
        compiled = None if fast is None else self._fast.get(fast[0])
        if compiled is None:
            compiled, leaves = self._lookup(args, kwargs)
        else:
            leaves = fast[1]
        if compiled is None:  # inside another transformation: trace through
            return self.fun(*args, **kwargs)
        donated = ()
        if self.donate_argnums and getattr(compiled.backend, "supports_donation", False):
            donated = self._donated_leaves(args, kwargs)
        return compiled.unflatten(compiled.call_flat(leaves, donated))

    def _donated_leaves(self, args, kwargs) -> tuple[int, ...]:
        """Positions, among the flat argument leaves, of the donated arguments' leaves."""
        static = {w for w, _ in self._static.split(args, kwargs)[2] if isinstance(w, int)}
        nargs = len(args)
        donate = {n % nargs for n in self.donate_argnums if -nargs <= n < nargs}
        out, at = [], 0
        for i, a in enumerate(args):
            if i in static:
                continue
            n = len(tree_flatten(a)[0])
            if i in donate:
                out.extend(range(at, at + n))
            at += n
        return tuple(out)

    def lower(self, *args, **kwargs) -> Lowered:
        """The optimised program for these arguments (``.as_text()``, ``.compile()``)."""
        compiled, _ = self._lookup(args, kwargs)
        if compiled is None:
            raise TransformError(f"jit({self.__name__}).lower: call it with concrete "
                                 "arrays, not tracers")
        return Lowered(compiled)


def jit(fun=None, *, static_argnums=(), static_argnames=(), donate_argnums=(), backend=None):
    """Compiles ``fun`` to Numba kernels, once per argument signature.

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> f = ft.jit(lambda x, y: fnp.maximum(x * y + 1.0, 0.0))
        >>> f(fnp.ones(3), 2.0)
        array([3., 3., 3.], dtype=float32)
        >>> print(f.lower(fnp.ones(3), 2.0).as_text().splitlines()[0])
        # jit(<lambda>): optimised jaxpr
    """
    if fun is None:
        return functools.partial(jit, static_argnums=static_argnums,
                                 static_argnames=static_argnames,
                                 donate_argnums=donate_argnums, backend=backend)
    check_callable(fun, "jit")
    return Jitted(fun, static_argnums, static_argnames, donate_argnums, backend)
