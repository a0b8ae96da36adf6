"""``jit``: trace once per signature, optimise the jaxpr, lower it to kernels, cache.

The cache key is the pytree structure of the arguments, each leaf's shape,
dtype and weak type, the static arguments and the backend. With
``config.update("log_compiles", True)`` every compilation is logged with its
reason (which part of the key changed) and its timings.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
import weakref

import numpy as np

from ..config import config
from ..core import trace as core
from ..core.array import Array
from ..core.avals import DEVICE_ARRAY_TYPES, ShapedArray, canonicalize_value
from ..core.jaxpr import ClosedJaxpr, Jaxpr, pp_jaxpr
from ..core.trace import Tracer, check_finite, get_aval, trace_to_jaxpr
from ..devices import ALIASES
from ..errors import TransformError
from ..lax.parallel import AxisPrimitive, axis_binding_rules
from ..transforms.api_util import StaticArgs, check_callable, flatten_fun, fun_name, with_statics
from ..tree_util import tree_flatten, tree_unflatten
from . import fusion, nested, passes, profiling
from .call import jit_p, memo
from .dispatch import fast_key, leaf_signature, unflattener
from .registry import get_backend
from .stages import Lowered, Traced, safe_to_warm_up, stand_ins

logger = logging.getLogger("functrace.jit")
_all_jitted: weakref.WeakSet = weakref.WeakSet()  # for clear_all_caches


def clear_all_caches() -> None:
    """Every ``jit`` function forgets its programs (``functrace.clear_caches``)."""
    for jitted in list(_all_jitted):
        jitted.clear_cache()


class Compiled:
    """An executable for one signature; call it with the same kind of arguments."""

    def __init__(self, name, closed: ClosedJaxpr, out_tree, backend, timings):
        self.name = name
        self.jaxpr = closed
        self.out_tree = out_tree
        self.unflatten = unflattener(out_tree)
        self.timings = timings
        self.backend = backend
        self.in_tree = None  # the dynamic arguments' structure, set by jit
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

    def __call__(self, *args, **kwargs):
        """Runs the executable on arguments of the signature it was compiled for: the
        dynamic arguments only (static ones were fixed when lowering), as in JAX."""
        leaves, in_tree = tree_flatten((args, kwargs))
        if self.in_tree is not None and in_tree != self.in_tree:
            raise TypeError(
                f"jit({self.name}) was compiled for arguments structured as {self.in_tree} "
                f"and called with {in_tree}; static arguments are not passed to a "
                "compiled executable")
        leaves = [x if type(x) in DEVICE_ARRAY_TYPES else canonicalize_value(x)
                  for x in leaves]
        bad = [f"argument leaf {k} compiled with {v.aval.str_short()} and called with "
               f"{ShapedArray(x.shape, x.dtype).str_short()}"
               for k, (v, x) in enumerate(zip(self.jaxpr.jaxpr.invars, leaves, strict=True))
               if x.shape != v.aval.shape or x.dtype != v.aval.dtype]
        if bad:
            raise TypeError(f"jit({self.name}): argument types differ from the types for "
                            "which this computation was compiled; lower and compile again "
                            "for the new types. The mismatches are:\n" + "\n".join(bad))
        return self.unflatten(self.call_flat(leaves))

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

    def profile(self, *args, repeat: int = 5, as_dict: bool = False):
        """Runs the program ``repeat`` times and tables, per step (slowest first), its
        median time, FLOPs and bytes, GFLOP/s and GB/s, FLOPs per byte, and its share of the
        machine's measured ceiling (BLAS sgemm GFLOP/s, memory GB/s: measured once,
        cached on disk). ``as_dict=True`` returns the same as a dict whose ``"rows"``
        hold one dict per step in program order and ``"text"`` the table
        (``compiler/profiling.py``).

        Example:
            >>> import functrace as ft, functrace.numpy as fnp
            >>> a, b = fnp.ones((64, 32)), fnp.ones((32, 16))
            >>> c = ft.jit(lambda a, b: a @ b).lower(a, b).compile()
            >>> c.profile(a, b, as_dict=True)["rows"][0]["flops"]  # 2 * 64 * 16 * 32
            65536
        """
        leaves = [x if type(x) in DEVICE_ARRAY_TYPES else canonicalize_value(x)
                  for x in tree_flatten((args, {}))[0]]
        result = profiling.profile_program(self.name, self.steps, self._run, leaves, repeat,
                                           self.backend, self.counters)
        return result.as_dict() if as_dict else str(result)

    def warm_up(self):
        """Runs once on zeros so every Numba kernel is compiled (or loaded from disk);
        nothing to do once the program has run."""
        if self._warm:
            return self
        self._warm = True
        if not safe_to_warm_up(self.jaxpr.jaxpr):
            return self
        t0 = time.perf_counter()
        zeros = [np.zeros(v.aval.shape, v.aval.dtype) for v in self.jaxpr.jaxpr.invars]
        with np.errstate(all="ignore"):
            self._run(*zeros)
        self.timings["kernel_compile_s"] = time.perf_counter() - t0
        return self


class Jitted:
    """A function compiled on first call for each new argument signature."""

    def __init__(self, fun, static_argnums, static_argnames, donate_argnums, backend,
                 donate_argnames=None, inline=False):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.__name__ = fun_name(fun)
        self._static = StaticArgs(fun, static_argnums, static_argnames,
                                  label=f"jit({self.__name__})")
        self.static_argnums = self._static.argnums
        self.static_argnames = self._static.argnames
        # buffers of these arguments may become outputs' (on a device; a no-op on the CPU)
        self.donate_argnums, self.donate_argnames = _donation(fun, donate_argnums,
                                                              donate_argnames)
        self.inline = bool(inline)  # under a trace: the body's equations, no jit equation
        self.backend_name = backend
        self._cache: dict = {}
        # the fast path's cache, dispatch.fast_key -> Compiled: calls without statics whose
        # leaves are host arrays and scalars in tuples, lists, dicts and None
        self._fast: dict = {}
        self._last_key = None
        self.compile_count = 0
        # traced programs, one per signature (shared by compilation and by the jit
        # equations bound under transformations); _handoff passes a program that closes
        # over an outer tracer (not cached) from _compile to _call_traced
        self._traced: dict = {}
        self._handoff = None
        _all_jitted.add(self)

    def clear_cache(self) -> None:
        """Forgets this function's traced programs and executables."""
        self._cache.clear()
        self._fast.clear()
        self._traced.clear()
        self._last_key = None

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
            return ("config changed (threefry_partitionable, numpy_dtype_promotion, "
                    f"numpy_rank_promotion): {old_context} -> {context}")
        for k, (a, b) in enumerate(zip(old_sig, sig, strict=True)):
            if a != b:
                fmt = lambda s: ShapedArray(s[0], s[1], s[2]).str_short()  # noqa: E731
                return f"leaf {k} changed from {fmt(a)} to {fmt(b)} (a new shape or dtype)"
        return "signature seen before but evicted"

    def _trace(self, in_tree, statics, avals):
        """``(closed jaxpr, out_tree, cache key)`` of ``fun`` for these argument types,
        traced once per signature; a program closing over an outer transformation's
        tracer is traced each time (its constants belong to that trace)."""
        key = (in_tree, tuple((a.shape, a.dtype, a.weak_type) for a in avals), statics,
               (config.enable_x64, config.trace_context))
        hit = self._traced.get(key)
        if hit is not None:
            return hit
        handoff, self._handoff = self._handoff, None
        if handoff is not None and handoff[2] == key:
            return handoff
        names = [f"leaf {k}" for k in range(len(avals))]
        flat_fun, store = flatten_fun(with_statics(self.fun, statics), in_tree,
                                      with_kwargs=True, check_outputs=False)
        closed = trace_to_jaxpr(flat_fun, avals, names, transform="jit",
                                fun_name=self.__name__)
        entry = (closed, store["out_tree"], key)
        if not any(isinstance(c, Tracer) for c in closed.consts):
            self._traced[key] = entry
        return entry

    def _compile(self, key, in_tree, statics, leaves) -> Compiled:
        t0 = time.perf_counter()
        avals = [ShapedArray(*sig) for sig in key[1]]
        entry = self._trace(in_tree, statics, avals)
        closed, out_tree, _ = entry
        t1 = time.perf_counter()
        if any(isinstance(c, Tracer) for c in closed.consts):
            # closes over an outer transformation's tracer: bind a jit equation instead
            self._handoff = entry
            return None
        closed = passes.optimize(nested.inline_calls(closed))
        timings = {"trace_s": t1 - t0, "optimize_s": time.perf_counter() - t1}
        compiled = Compiled(self.__name__, closed, out_tree, get_backend(key[3]), timings)
        compiled.in_tree = in_tree
        self.compile_count += 1
        if config.log_compiles:
            logger.warning("jit(%s): compiling because %s; trace %.3fs, optimise %.3fs, "
                           "lower %.3fs", self.__name__, self._explain_miss(key),
                           timings["trace_s"], timings["optimize_s"], timings["lower_s"])
        return compiled

    def _lookup(self, args, kwargs):
        """``(compiled, canonical leaves)``; under another transformation (a tracer among
        the leaves, or one closed over) ``(None, (leaves, in_tree, statics))``."""
        if self._static.none:
            fast = fast_key(args, kwargs)
            if fast is not None:  # host arrays, scalars and plain containers of them
                key, leaves = fast
                compiled = self._fast.get(key)
                if compiled is None:
                    compiled, general = self._lookup_general(args, kwargs)
                    if compiled is None:
                        return None, general
                    self._fast[key] = compiled
                return compiled, leaves
        return self._lookup_general(args, kwargs)

    def _lookup_general(self, args, kwargs):
        dyn_args, dyn_kwargs, statics = self._static.split(args, kwargs)
        leaves, in_tree = tree_flatten((dyn_args, dyn_kwargs))
        if any(isinstance(x, Tracer) for x in leaves):
            return None, (leaves, in_tree, statics)
        # config flags that change what tracing produces (JAX's trace context)
        context = config.trace_context
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
                return None, (leaves, in_tree, statics)
            self._cache[key] = compiled
            self._last_key = key
        return compiled, leaves

    def __call__(self, *args, **kwargs):
        if config.disable_jit:
            return self.fun(*args, **kwargs)
        # a hit of _lookup's fast path, inlined: this line is the per-call cost
        fast = fast_key(args, kwargs) if self._static.none else None
        compiled = None if fast is None else self._fast.get(fast[0])
        if compiled is None:
            # (no fast key: tracers or statics among the arguments, the general path)
            compiled, leaves = (self._lookup_general(args, kwargs) if fast is None
                                else self._lookup(args, kwargs))
        else:
            leaves = fast[1]
        if compiled is None:  # inside another transformation: one jit equation
            return self._call_traced(args, kwargs, *leaves)
        if core.dynamic_trace is not None:  # staging (make_jaxpr, an outer jit): stage it
            dyn_args, dyn_kwargs, statics = self._static.split(args, kwargs)
            leaves, in_tree = tree_flatten((dyn_args, dyn_kwargs))
            return self._call_traced(args, kwargs, leaves, in_tree, statics)
        donated = ()
        if self.donate_argnums and getattr(compiled.backend, "supports_donation", False):
            donated = self._donated_leaves(args, kwargs)
        out = compiled.call_flat(leaves, donated)
        if config.debug_checks:
            self._debug_check(out, args, kwargs)
        return compiled.unflatten(out)

    def _debug_check(self, outs, args, kwargs) -> None:
        """``debug_nans``/``debug_infs``: a non-finite result re-runs the function op by op,
        which names the primitive that made it (as JAX does)."""
        try:
            check_finite(f"jit({self.__name__})", outs)
        except FloatingPointError as err:
            prev = config.disable_jit
            config.disable_jit = True
            try:
                self.fun(*args, **kwargs)
            finally:
                config.disable_jit = prev
            raise err

    def _call_traced(self, args, kwargs, leaves, in_tree, statics):
        """Applies the traced program to traced arguments as one ``jit`` equation;
        tracers the function closes over become leading operands (as JAX hoists them)."""
        staging = core.dynamic_trace
        if self.inline:
            return self.fun(*args, **kwargs)
        if staging is not None and getattr(staging.global_data, "transform", "") == "checkpoint":
            # checkpoint's partial evaluation decides per equation what to save: it sees
            # the body's equations (JAX applies the policy inside a nested jit too)
            return self.fun(*args, **kwargs)
        closed, out_tree, _ = self._trace(in_tree, statics, [get_aval(x) for x in leaves])
        if memo(closed, "collectives", lambda: _has_collectives(closed.jaxpr)):
            # a collective over an axis bound outside the program: run it inline, where
            # the axis's trace sees it
            return self.fun(*args, **kwargs)
        closed, hoisted = _hoist_tracers(closed)
        outs = jit_p.bind(*hoisted, *leaves, jaxpr=closed, name=self.__name__)
        return tree_unflatten(out_tree, outs)

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
        dyn_kwargs = self._static.split((), kwargs)[1]
        for name in sorted(dyn_kwargs):  # the order tree_flatten gives a dict's leaves
            n = len(tree_flatten(dyn_kwargs[name])[0])
            if name in self.donate_argnames:
                out.extend(range(at, at + n))
            at += n
        return tuple(out)

    def trace(self, *args, **kwargs) -> Traced:
        """The traced program for these arguments (``.jaxpr``, ``.out_info``, ``.lower()``);
        arguments may be ``ShapeDtypeStruct``s."""
        return Traced(self, args, kwargs)

    def lower(self, *args, **kwargs) -> Lowered:
        """The optimised program for these arguments (``.as_text()``, ``.compile()``);
        arguments may be ``ShapeDtypeStruct``s."""
        leaves, tree = tree_flatten((args, kwargs))
        args, kwargs = tree_unflatten(tree, stand_ins(leaves))
        compiled, _ = self._lookup(args, kwargs)
        if compiled is None:
            raise TransformError(f"jit({self.__name__}).lower: call it with concrete "
                                 "arrays, not tracers")
        return Lowered(compiled)


def _hoist_tracers(closed: ClosedJaxpr):
    """``closed`` taking its tracer constants as leading inputs, and those tracers."""
    consts = closed.consts
    if not any(isinstance(c, Tracer) for c in consts):
        return closed, []
    j = closed.jaxpr
    is_tracer = [isinstance(c, Tracer) for c in consts]
    hoisted_vars = [v for v, t in zip(j.constvars, is_tracer, strict=True) if t]
    kept_vars = [v for v, t in zip(j.constvars, is_tracer, strict=True) if not t]
    jaxpr = Jaxpr(kept_vars, hoisted_vars + j.invars, j.eqns, j.outvars)
    return (ClosedJaxpr(jaxpr, [c for c, t in zip(consts, is_tracer, strict=True) if not t]),
            [c for c, t in zip(consts, is_tracer, strict=True) if t])


def _has_collectives(jaxpr: Jaxpr, bound: frozenset = frozenset()) -> bool:
    """Whether ``jaxpr`` holds a collective over an axis it does not bind itself."""
    for eqn in jaxpr.eqns:
        if isinstance(eqn.primitive, AxisPrimitive) and not set(eqn.params["axes"]) <= bound:
            return True
        binds = axis_binding_rules.get(eqn.primitive)
        inner = bound | binds(eqn.params) if binds is not None else bound
        for v in eqn.params.values():
            for sub in v if isinstance(v, tuple) else (v,):
                if isinstance(sub, ClosedJaxpr | Jaxpr) and _has_collectives(
                        sub.jaxpr if isinstance(sub, ClosedJaxpr) else sub, inner):
                    return True
    return False


def _donation(fun, donate_argnums, donate_argnames) -> tuple[tuple, frozenset]:
    """JAX's rule: either of ``donate_argnums``/``donate_argnames`` implies the other
    through the signature; positions of parameters named, names of positions given."""
    nums = ((donate_argnums,) if isinstance(donate_argnums, int)
            else tuple(donate_argnums or ()))
    names = ((donate_argnames,) if isinstance(donate_argnames, str)
             else tuple(donate_argnames or ()))
    if not nums and not names:
        return (), frozenset()
    try:
        params = list(inspect.signature(fun).parameters.values())
    except (TypeError, ValueError):  # a builtin or a callable without a signature
        return nums, frozenset(names)
    positional = [p.name for p in params
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    by_name = {p.name for p in params}
    for name in names:
        if name not in by_name and not any(p.kind == p.VAR_KEYWORD for p in params):
            raise TypeError(f"jit: donate_argnames={names!r} names {name!r}, which is not "
                            f"a parameter of {fun_name(fun)}")
    nums = tuple(sorted(set(nums) | {positional.index(n) for n in names if n in positional}))
    names = frozenset(names) | {positional[n] for n in nums if 0 <= n < len(positional)}
    return nums, names


def jit(fun=None, /, *, in_shardings=None, out_shardings=None, static_argnums=None,
        static_argnames=None, donate_argnums=None, donate_argnames=None,
        keep_unused: bool = False, device=None, backend=None, inline: bool = False,
        compiler_options=None):
    """Compiles ``fun`` to Numba kernels, once per argument signature.

    JAX's signature. ``inline=True`` puts the body's equations into an enclosing trace
    instead of one ``jit`` equation. ``donate_argnums``/``donate_argnames`` let a
    device program reuse the donated inputs' buffers (a no-op on the CPU, where JAX
    ignores donation too). ``keep_unused`` changes nothing: unused arguments are
    never copied. ``device`` picks the backend of that device; shardings other
    than ``None`` (one device) and ``compiler_options`` are not supported.

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> f = ft.jit(lambda x, y: fnp.maximum(x * y + 1.0, 0.0))
        >>> f(fnp.ones(3), 2.0)
        array([3., 3., 3.], dtype=float32)
        >>> print(f.lower(fnp.ones(3), 2.0).as_text().splitlines()[0])
        # jit(<lambda>): optimised jaxpr
    """
    options = dict(in_shardings=in_shardings, out_shardings=out_shardings,
                   static_argnums=static_argnums, static_argnames=static_argnames,
                   donate_argnums=donate_argnums, donate_argnames=donate_argnames,
                   keep_unused=keep_unused, device=device, backend=backend, inline=inline,
                   compiler_options=compiler_options)
    if fun is None:
        return functools.partial(jit, **options)
    check_callable(fun, "jit")
    for name in ("in_shardings", "out_shardings", "compiler_options"):
        if options[name] is not None:
            raise NotImplementedError(
                f"jit: {name} is not supported (functrace runs a program on one device; "
                "pmap maps over several); leave it None")
    if device is not None:
        platform = getattr(device, "platform", None)
        if platform is None:
            raise TypeError(f"jit: device={device!r} is not a device; use "
                            "functrace.devices()[k]")
        platform = ALIASES.get(platform, platform)
        if backend is not None and ALIASES.get(backend, backend) != platform:
            raise ValueError(f"jit: device={device} and backend={backend!r} disagree; "
                             "give one of them")
        backend = platform
    return Jitted(fun, static_argnums, static_argnames, donate_argnums, backend,
                  donate_argnames=donate_argnames, inline=inline)
