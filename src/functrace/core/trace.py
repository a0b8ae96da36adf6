"""Primitives, tracers and the trace stack; staging Python into jaxprs.

Every operation on arrays ends in ``Primitive.bind``. ``bind`` finds the
innermost active transformation among its arguments (the *top trace*), lifts
the other arguments into it and lets it process the primitive:

- the eval trace (level 0) runs the NumPy reference impl;
- transformation traces (jvp, partial evaluation, ...) apply their rules, which
  call primitives again and so reach the traces below them;
- the staging trace records an equation into a jaxpr (``make_jaxpr``, ``jit``).
"""

from __future__ import annotations

import inspect
import os
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..config import config
from ..errors import ConcretizationError, FunctraceError, MissingRuleError, UnexpectedTracerError
from .array import Array, array_methods
from .avals import ShapedArray, aval_of_value, canonicalize_value
from .jaxpr import ClosedJaxpr, Eqn, Jaxpr, Literal, Var

# ---------------------------------------------------------------------------
# primitives

impl_rules: dict[Primitive, Any] = {}
abstract_eval_rules: dict[Primitive, Any] = {}
_registry: dict[Primitive, None] = {}  # every primitive, in construction order


def primitives() -> tuple[Primitive, ...]:
    """Every primitive constructed so far: all of functrace's once it is imported. The
    one list of primitives; the completeness tests iterate it."""
    return tuple(_registry)


class Primitive:
    """A named operation; its rules live in tables keyed by the primitive object.

    Metadata read by the compiler and the backends (docs/architecture.md,
    "Primitive registry"):

    - ``elementwise``: fusion may put it in a generated loop, which computes it with
      ``scalar``: a format string of the operands' expressions (``"({0} + {1})"``) in
      scalar Python that Numba compiles on every backend (``compiler/scalar_expr.py``).
    - ``fusible_reduction``: fusion may end a loop with it (the loop accumulates it).
    - ``impl_fallback``: a backend without a kernel for it runs its NumPy reference
      impl, on purpose: the operation is fast enough there or rare in a training step.
    - ``effectful``: it does something besides computing its outputs (a host callback
      such as ``debug.print``): dead-code elimination keeps it even when nothing
      reads its outputs.
    """

    def __init__(self, name: str, *, multiple_results: bool = False,
                 elementwise: bool = False, fusible_reduction: bool = False,
                 impl_fallback: bool = False, scalar: str | None = None,
                 effectful: bool = False):
        self.name = name
        self.multiple_results = multiple_results
        self.elementwise = elementwise
        self.fusible_reduction = fusible_reduction
        self.impl_fallback = impl_fallback
        self.scalar = scalar
        self.effectful = effectful
        _registry[self] = None

    def __repr__(self) -> str:
        return self.name

    def bind(self, *args, **params):
        return bind(self, *args, **params)

    def bind_with_trace(self, trace, tracers, params):
        """How ``trace`` processes this primitive (primitives that carry functions, such
        as ``custom_jvp_call``, route to a dedicated method of the trace instead)."""
        return trace.process_primitive(self, tracers, params)

    def impl(self, *args, **params):
        rule = impl_rules.get(self)
        if rule is None:
            raise MissingRuleError(f"primitive '{self.name}' has no reference implementation")
        return rule(*args, **params)

    def find_top_trace(self, args, params) -> Trace:
        """The trace that processes this application (collectives also look at their axis)."""
        return find_top_trace(args)

    def abstract_eval(self, *avals, **params):
        rule = abstract_eval_rules.get(self)
        if rule is None:
            raise MissingRuleError(f"primitive '{self.name}' has no shape rule")
        return rule(*avals, **params)


def bind(prim: Primitive, *args, **params):
    """Applies ``prim`` to ``args`` under the innermost active transformation."""
    top = prim.find_top_trace(args, params)
    tracers = [full_raise(top, a) for a in args]
    outs = prim.bind_with_trace(top, tracers, params)
    if prim.multiple_results:
        return [full_lower(o) for o in outs]
    return full_lower(outs)


# ---------------------------------------------------------------------------
# the trace stack

class MainTrace:
    __slots__ = ("level", "trace_type", "global_data", "active")

    def __init__(self, level: int, trace_type, global_data=None):
        self.level = level
        self.trace_type = trace_type
        self.global_data = global_data
        self.active = True

    def __repr__(self) -> str:
        return f"MainTrace({self.level}, {self.trace_type.__name__})"


trace_stack: list[MainTrace] = []
dynamic_trace: MainTrace | None = None


@contextmanager
def new_main(trace_type, global_data=None):
    main = MainTrace(len(trace_stack), trace_type, global_data)
    trace_stack.append(main)
    try:
        yield main
    finally:
        trace_stack.pop()
        main.active = False


@contextmanager
def new_dynamic_main(trace_type, global_data=None):
    """A main trace that also captures operations on plain constants (staging)."""
    global dynamic_trace
    prev = dynamic_trace
    with new_main(trace_type, global_data) as main:
        dynamic_trace = main
        try:
            yield main
        finally:
            dynamic_trace = prev


class Trace:
    def __init__(self, main: MainTrace):
        self.main = main

    def pure(self, val):
        raise NotImplementedError

    lift = pure

    def process_primitive(self, primitive, tracers, params):
        raise NotImplementedError

    # Functions with user-defined derivatives. ``fun`` and the rules are Python
    # callables on flat lists of arrays; by default (evaluation, partial evaluation)
    # the body just runs, as in JAX. Differentiation applies the rule, vmap batches
    # the body and the rules, and staging records a ``custom_jvp_call`` /
    # ``custom_vjp_call`` equation that keeps them.
    def process_custom_jvp_call(self, prim, fun, jvp, tracers, *, symbolic_zeros):
        return fun(*tracers)

    def process_custom_vjp_call(self, prim, fun, fwd, bwd, tracers, *, out_trees,
                                symbolic_zeros):
        return fun(*tracers)


def bind_custom_jvp_call(prim, fun, jvp, args, *, symbolic_zeros=False) -> list:
    """Applies the custom-JVP function ``fun`` (rule ``jvp``) under the innermost trace."""
    top = find_top_trace(args)
    tracers = [full_raise(top, a) for a in args]
    outs = top.process_custom_jvp_call(prim, fun, jvp, tracers, symbolic_zeros=symbolic_zeros)
    return [full_lower(o) for o in outs]


def bind_custom_vjp_call(prim, fun, fwd, bwd, args, *, out_trees, symbolic_zeros=False):
    """Applies the custom-VJP function ``fun`` (rules ``fwd``/``bwd``) under the innermost
    trace."""
    top = find_top_trace(args)
    tracers = [full_raise(top, a) for a in args]
    outs = top.process_custom_vjp_call(prim, fun, fwd, bwd, tracers, out_trees=out_trees,
                                       symbolic_zeros=symbolic_zeros)
    return [full_lower(o) for o in outs]


def _leak_error(x: Tracer) -> UnexpectedTracerError:
    kind = x._trace.main.trace_type.__name__
    return UnexpectedTracerError(
        f"A {kind} tracer of type {x.aval.str_short()} was used after the transformation that "
        "created it returned (it leaked out, e.g. stored in a global or a closure). Return "
        "values from the transformed function instead of stashing them."
    )


def find_top_trace(xs) -> Trace:
    top = trace_stack[0]
    for x in xs:
        if isinstance(x, Tracer):
            main = x._trace.main
            if not main.active:
                raise _leak_error(x)
            if main.level > top.level:
                top = main
    if dynamic_trace is not None and dynamic_trace.level > top.level:
        top = dynamic_trace
    return top.trace_type(top)


def full_raise(trace: Trace, val):
    if not isinstance(val, Tracer):
        return trace.pure(val)
    main = val._trace.main
    if main is trace.main:
        return val
    if main.level < trace.main.level:
        return trace.lift(val)
    raise UnexpectedTracerError(
        f"a tracer from {main} reached {trace.main}: a tracer leaked between transformations")


def full_lower(val):
    return val.full_lower() if isinstance(val, Tracer) else val


# ---------------------------------------------------------------------------
# tracers

# Operator overloads of tracers (and of concrete Arrays) are provided by functrace.numpy
# (the layer that owns array semantics), which fills ``array_methods`` when it is imported.


def _forward(name):
    def method(self, *args, **kwargs):
        fn = array_methods.get(name)
        if fn is None:
            raise FunctraceError(f"array method {name} is unavailable: import functrace.numpy")
        return fn(self, *args, **kwargs)
    method.__name__ = name
    return method


_OPERATORS = [
    "__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
    "__rtruediv__", "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "__pow__",
    "__rpow__", "__matmul__", "__rmatmul__", "__neg__", "__pos__", "__abs__", "__lt__",
    "__le__", "__gt__", "__ge__", "__eq__", "__ne__", "__getitem__", "__invert__", "__and__",
    "__rand__", "__or__", "__ror__", "__xor__", "__rxor__",
    "reshape", "astype", "sum", "mean", "max", "min", "prod", "var", "std", "argmax",
    "argmin", "all", "any", "transpose", "squeeze", "flatten", "ravel", "clip", "dot",
    "swapaxes", "cumsum", "cumprod", "sort", "argsort", "conj", "conjugate", "round",
    "diagonal", "trace", "take", "repeat", "nonzero", "searchsorted", "ptp", "compress",
    "choose", "argpartition", "copy", "view",
]


def _numpy_hook(name):
    fn = array_methods.get(name)
    if fn is None:
        raise FunctraceError("NumPy functions cannot be applied to traced values: use "
                             "functrace.numpy (import functrace.numpy as fnp) instead")
    return fn


class Tracer:
    """A value being traced; ``aval`` gives its type, subclasses carry the rest."""

    __slots__ = ("_trace",)
    __array_priority__ = 1000
    __hash__ = None  # like JAX arrays: tracers are not hashable

    aval: ShapedArray

    def full_lower(self):
        return self

    # traced values are immutable: a copy is the value itself (copy.deepcopy inside jit)
    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    @property
    def shape(self) -> tuple[int, ...]:
        return self.aval.shape

    @property
    def dtype(self) -> np.dtype:
        return self.aval.dtype

    @property
    def ndim(self) -> int:
        return self.aval.ndim

    @property
    def size(self) -> int:
        return self.aval.size

    @property
    def itemsize(self) -> int:
        return self.aval.dtype.itemsize

    @property
    def nbytes(self) -> int:
        return self.aval.size * self.aval.dtype.itemsize

    @property
    def T(self):
        return array_methods["transpose"](self)

    @property
    def mT(self):  # noqa: N802 - jax.Array's name
        return array_methods["matrix_transpose"](self)

    @property
    def real(self):
        return array_methods["real"](self)

    @property
    def imag(self):
        return array_methods["imag"](self)

    @property
    def at(self):
        """JAX's functional indexed updates: ``x.at[idx].set(y)``, ``.add(y)``, ``.get()``..."""
        return _forward("at")(self)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of unsized object (a 0-d traced array)")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d traced array")
        return (self[i] for i in range(self.shape[0]))

    def concrete_value(self, op: str):
        """The NumPy value, when the trace knows it; otherwise a ConcretizationError."""
        raise ConcretizationError(
            f"{op}() needs a concrete value, but this {self.aval.str_short()} value is abstract "
            f"(traced by {type(self._trace).__name__}).")

    def __bool__(self) -> bool:
        return bool(self.concrete_value("bool"))

    def __float__(self) -> float:
        return float(self.concrete_value("float"))

    def __int__(self) -> int:
        return int(self.concrete_value("int"))

    def __complex__(self) -> complex:
        return complex(self.concrete_value("complex"))

    def __index__(self) -> int:
        val = self.concrete_value("index")
        if not np.issubdtype(val.dtype, np.integer):
            raise TypeError(f"only integer arrays can be used as an index, got {self.dtype}")
        return int(val)

    def item(self):
        return self.concrete_value("item").item()

    def __array__(self, dtype=None, copy=None):
        raise FunctraceError(
            f"Cannot convert a traced {self.aval.str_short()} value to a NumPy array: NumPy would "
            "drop it from the trace and the transformation would be silently wrong. Use "
            "functrace.numpy (import functrace.numpy as fnp) instead of numpy inside "
            "transformed functions.")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _numpy_hook("__ufunc__")(ufunc, method, *inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return _numpy_hook("__function__")(func, types, args, kwargs)

    def __repr__(self) -> str:
        return f"Traced<{self.aval.str_short()}>with<{type(self._trace).__name__}>"


for _name in _OPERATORS:
    setattr(Tracer, _name, _forward(_name))


# ---------------------------------------------------------------------------
# the eval trace: run reference impls on NumPy values

class EvalTrace(Trace):
    def pure(self, x):
        return x

    lift = pure

    def process_primitive(self, primitive, tracers, params):
        avals = [aval_of_value(x) for x in tracers]
        out_avals = primitive.abstract_eval(*avals, **params)
        vals = [canonicalize_value(x) for x in tracers]
        outs = primitive.impl(*vals, **params)
        if primitive.multiple_results:
            outs = [_as_array(o, a) for o, a in zip(outs, out_avals, strict=True)]
            if config.debug_checks:
                check_finite(primitive.name, outs)
            return outs
        out = _as_array(outs, out_avals)
        if config.debug_checks:
            check_finite(primitive.name, [out])
        return out


def check_finite(where: str, values) -> None:
    """With ``config.debug_nans`` / ``debug_infs``: raises JAX's ``FloatingPointError`` if
    a floating-point value among ``values`` holds a NaN / an infinity."""
    for v in values:
        if not isinstance(v, np.ndarray) or v.dtype.kind not in "fc":
            continue
        if config.debug_nans and np.isnan(v).any():
            raise FloatingPointError(f"invalid value (nan) encountered in {where}")
        if config.debug_infs and np.isinf(v).any():
            raise FloatingPointError(f"invalid value (inf) encountered in {where}")


def _as_array(x, aval: ShapedArray) -> Array:
    x = np.asarray(x)
    if x.dtype != aval.dtype:
        x = x.astype(aval.dtype)
    if x.shape != aval.shape:
        raise FunctraceError(f"internal error: impl gave shape {x.shape}, rule {aval.shape}")
    return x.view(Array)


trace_stack.append(MainTrace(0, EvalTrace))


def get_aval(x) -> ShapedArray:
    return x.aval if isinstance(x, Tracer) else aval_of_value(x)


def concrete_or_none(x):
    """The NumPy value of ``x`` if it is known now, else ``None``."""
    if isinstance(x, Tracer):
        try:
            return x.concrete_value("concrete_or_none")
        except ConcretizationError:
            return None
    return canonicalize_value(x)


# ---------------------------------------------------------------------------
# the staging trace: record equations into a jaxpr

class JaxprTracer(Tracer):
    __slots__ = ("aval", "atom")

    def __init__(self, trace, aval: ShapedArray, atom):
        self._trace = trace
        self.aval = aval
        self.atom = atom

    def concrete_value(self, op: str):
        builder: JaxprBuilder = self._trace.main.global_data
        raise ConcretizationError(builder.concretization_message(self, op))


class JaxprBuilder:
    """Collects the equations, constants and inputs of one staged jaxpr."""

    def __init__(self, transform: str, fun_name: str):
        self.transform = transform
        self.fun_name = fun_name
        self.eqns: list[Eqn] = []
        self.invars: list[Var] = []
        self.arg_names: dict[Var, str] = {}
        self.consts: dict[int, tuple[Var, Any, Any]] = {}

    def add_const(self, val, key_obj=None) -> Var:
        """A constvar for ``val``, shared by every use of the same object ``key_obj``.

        The key object is kept alive with the entry so its ``id`` cannot be reused.
        """
        key_obj = val if key_obj is None else key_obj
        key = id(key_obj)
        if key not in self.consts:
            self.consts[key] = (Var(get_aval(val).strip_weak_type()), val, key_obj)
        return self.consts[key][0]

    def build(self, outs: list[JaxprTracer]) -> ClosedJaxpr:
        constvars = [v for v, _, _ in self.consts.values()]
        consts = [c for _, c, _ in self.consts.values()]
        jaxpr = Jaxpr(constvars, self.invars, self.eqns, [t.atom for t in outs])
        return ClosedJaxpr(jaxpr, consts)

    def concretization_message(self, tracer: JaxprTracer, op: str) -> str:
        deps = self._depends_on(tracer.atom)
        names = ", ".join(repr(self.arg_names[v]) for v in self.invars if v in deps) or "none"
        frame = _user_frame()
        where = f" at {frame}" if frame else ""
        return (
            f"{op}() was called on an abstract {tracer.aval.str_short()} value while tracing "
            f"'{self.fun_name}' for {self.transform}{where}. Its value is not known at trace "
            f"time because it depends on argument(s) {names}. Fixes: stage the control flow "
            "with functrace.lax.cond(pred, true_fun, false_fun, *operands) (or lax.switch) "
            "for an if, lax.while_loop / lax.fori_loop / lax.scan for a loop; use "
            "functrace.numpy.where(cond, x, y) for an elementwise choice; or mark those "
            "arguments static (static_argnums=... / static_argnames=...).")

    def _depends_on(self, atom) -> set:
        producers = {v: e for e in self.eqns for v in e.outvars}
        seen, stack = set(), [atom]
        while stack:
            a = stack.pop()
            if isinstance(a, Literal) or a in seen:
                continue
            seen.add(a)
            if a in producers:
                stack.extend(producers[a].inputs)
        return seen


_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _user_frame() -> str | None:
    for info in inspect.stack(context=0):
        if not os.path.abspath(info.filename).startswith(_PKG_DIR):
            return f"{info.filename}:{info.lineno} ({info.function})"
    return None


class JaxprTrace(Trace):
    @property
    def builder(self) -> JaxprBuilder:
        return self.main.global_data

    def new_arg(self, aval: ShapedArray, name: str) -> JaxprTracer:
        var = Var(aval)
        self.builder.invars.append(var)
        self.builder.arg_names[var] = name
        return JaxprTracer(self, aval, var)

    def pure(self, val) -> JaxprTracer:
        if isinstance(val, Tracer):
            return self.lift(val)
        aval = aval_of_value(val)
        if aval.shape == ():
            return JaxprTracer(self, aval, Literal(val if aval.weak_type else
                                                   canonicalize_value(val), aval))
        return JaxprTracer(self, aval, self.builder.add_const(canonicalize_value(val), val))

    def lift(self, tracer: Tracer) -> JaxprTracer:
        var = self.builder.add_const(tracer)
        return JaxprTracer(self, var.aval, var)

    def process_primitive(self, primitive, tracers, params):
        out_avals = primitive.abstract_eval(*[t.aval for t in tracers], **params)
        multiple = primitive.multiple_results
        outs = [JaxprTracer(self, a, Var(a)) for a in (out_avals if multiple else [out_avals])]
        self.builder.eqns.append(
            Eqn(primitive, [t.atom for t in tracers], params, [o.atom for o in outs]))
        return outs if multiple else outs[0]

    def _stage_call(self, fun, tracers, name: str):
        """Traces ``fun`` into a jaxpr whose constants become leading operands."""
        closed = trace_to_jaxpr(fun, [t.aval for t in tracers], transform=self.builder.transform,
                                fun_name=name)
        j = closed.jaxpr
        call = ClosedJaxpr(Jaxpr([], j.constvars + j.invars, j.eqns, j.outvars), [])
        consts = [full_raise(self, c) for c in closed.consts]
        return call, consts

    def process_custom_jvp_call(self, prim, fun, jvp, tracers, *, symbolic_zeros):
        name = getattr(fun, "__name__", "fun")
        call, consts = self._stage_call(fun, tracers, name)
        return self.process_primitive(prim, consts + list(tracers), dict(
            name=name, call_jaxpr=call, jvp_jaxpr_fun=jvp, num_consts=len(consts),
            symbolic_zeros=symbolic_zeros))

    def process_custom_vjp_call(self, prim, fun, fwd, bwd, tracers, *, out_trees,
                                symbolic_zeros):
        name = getattr(fun, "__name__", "fun")
        call, consts = self._stage_call(fun, tracers, name)
        return self.process_primitive(prim, consts + list(tracers), dict(
            name=name, call_jaxpr=call, fwd_jaxpr_thunk=fwd, bwd=bwd,
            num_consts=len(consts), out_trees=out_trees, symbolic_zeros=symbolic_zeros))


def trace_to_jaxpr(fun, in_avals: list[ShapedArray], arg_names=None, *,
                   transform: str = "make_jaxpr", fun_name: str | None = None) -> ClosedJaxpr:
    """Stages ``fun`` (flat arrays in, flat list of arrays out) into a ClosedJaxpr.

    Constants of the result may be tracers of an enclosing transformation
    (closures); evaluating the jaxpr at that level binds them.
    """
    fun_name = fun_name or getattr(fun, "__name__", "fun")
    arg_names = arg_names or [f"arg{i}" for i in range(len(in_avals))]
    builder = JaxprBuilder(transform, fun_name)
    with new_dynamic_main(JaxprTrace, builder) as main:
        trace = JaxprTrace(main)
        args = [trace.new_arg(a, n) for a, n in zip(in_avals, arg_names, strict=True)]
        outs = fun(*args)
        out_tracers = [full_raise(trace, o) for o in outs]
        return builder.build(out_tracers)


def eval_jaxpr(jaxpr: Jaxpr, consts, *args) -> list:
    """Evaluates ``jaxpr`` by binding each equation's primitive (so it is traceable)."""
    env: dict[Var, Any] = {}

    def read(a):
        return a.val if isinstance(a, Literal) else env[a]

    for v, x in zip(jaxpr.constvars, consts, strict=True):
        env[v] = x
    if len(args) != len(jaxpr.invars):
        raise FunctraceError(
            f"eval_jaxpr: the jaxpr takes {len(jaxpr.invars)} inputs, got {len(args)}")
    for v, x in zip(jaxpr.invars, args, strict=True):
        env[v] = x
    for eqn in jaxpr.eqns:
        outs = bind(eqn.primitive, *[read(a) for a in eqn.inputs], **eqn.params)
        if not eqn.primitive.multiple_results:
            outs = [outs]
        for v, o in zip(eqn.outvars, outs, strict=True):
            env[v] = o
    return [read(a) for a in jaxpr.outvars]


def eval_closed_jaxpr(closed: ClosedJaxpr, *args) -> list:
    return eval_jaxpr(closed.jaxpr, closed.consts, *args)
