"""The eager tape (transforms/tape.py) against the jaxpr path (linearize + transpose).

The tape must give the jaxpr path's numbers: the same reference impls run on the same
values, so results are compared bit for bit (``assert_array_equal``; NaNs compare equal).
Every differentiable primitive is covered through ``test_derivatives_fd.CASES``;
hypothesis draws random compositions. The lesson's values come from the lesson.
"""

import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace.core.trace import get_aval
from functrace.errors import UnexpectedTracerError
from functrace.lax.windowed import reduce_window_max_p
from functrace.transforms import tape, tape_record, tape_vjp
from functrace.tree_util import tree_leaves, tree_map
from test_derivatives_fd import CASES


def _vjp_both(fn, args, ct_seed=0):
    """``(out, cts)`` of ``vjp(fn, *args)`` on the tape and on the jaxpr path."""
    res = []
    for use_tape in (True, False):
        if use_tape:
            out, f_vjp = ft.vjp(fn, *args)
            ct = _cotangent(out, ct_seed)
            cts = f_vjp(ct)
        else:
            with tape.disabled():
                out, f_vjp = ft.vjp(fn, *args)
                cts = f_vjp(_cotangent(out, ct_seed))
        res.append((out, cts))
    return res


def _cotangent(out, seed):
    rng = np.random.default_rng(seed)

    def leaf(a):
        a = np.asarray(a)
        c = rng.standard_normal(a.shape)
        if a.dtype.kind == "c":
            c = c + 1j * rng.standard_normal(a.shape)
        return c.astype(a.dtype)

    return tree_map(leaf, out)


def _assert_same(a, b):
    la, lb = tree_leaves(a), tree_leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb, strict=True):
        assert type(x) is type(y), (type(x), type(y))
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(x, y)


def _narrow(a):
    a = np.asarray(a)
    return a.astype({"f": np.float32, "c": np.complex64}.get(a.dtype.kind, a.dtype))


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_primitive_matches_the_jaxpr_path(name):
    build, cplx, _ = CASES[name]
    fn, args = build(np.random.default_rng(1), np.complex128 if cplx == "only" else np.float64)
    args = tuple(_narrow(a) for a in args)
    (out_t, cts_t), (out_j, cts_j) = _vjp_both(fn, args)
    _assert_same(out_t, out_j)
    _assert_same(cts_t, cts_j)
    # each input alone (the others closed over): other masks, other derived programs
    for i in range(len(args)):
        def one(x, i=i):
            return fn(*args[:i], x, *args[i + 1:])
        (o_t, c_t), (o_j, c_j) = _vjp_both(one, (args[i],), ct_seed=i + 1)
        _assert_same(c_t, c_j)


@pytest.mark.parametrize("name", sorted(n for n, (_, c, _) in CASES.items() if c))
def test_complex_primitives_match_the_jaxpr_path(name, x64):
    fn, args = CASES[name][0](np.random.default_rng(2), np.complex128)
    (out_t, cts_t), (out_j, cts_j) = _vjp_both(fn, args)
    _assert_same(out_t, out_j)
    _assert_same(cts_t, cts_j)


def test_the_tape_is_what_runs():
    """The comparisons above compare two paths: the tape does run for them."""
    def f(x, y):
        return (x * y).sum()

    x = np.arange(3.0, dtype=np.float32)
    got = tape.value_and_grad(f, (0, 1), False, (x, x + 1), {})
    assert got is not None
    lin = tape.linearize(lambda a: [lax.sin(a)], [x])
    assert isinstance(lin, tape.TapeLinearized)
    with tape.disabled():
        assert tape.value_and_grad(f, 0, False, (x, x), {}) is None
        assert not tape.usable([x])


def test_lesson_values():
    def f(x, y, z):
        return (x + y) * z

    g = ft.grad(f, argnums=(0, 1, 2))(-2., 5., -4.)
    assert [float(v) for v in g] == [-4.0, -4.0, 3.0]
    assert all(np.asarray(v).dtype == np.float32 for v in g)
    v, gx = ft.value_and_grad(f)(-2., 5., -4.)
    assert float(v) == -12.0 and float(gx) == -4.0


def _count_calls(fn):
    n = [0]

    def prof(frame, event, arg):
        if event == "call":
            n[0] += 1

    sys.setprofile(prof)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return n[0]


def test_python_calls_per_eager_grad_are_bounded():
    """Pins the cost of the lesson's eager grad: Python function calls per call (the jaxpr
    path made ~1,000; the tape ~50). A regression that reroutes it shows up here."""
    def f(x, y, z):
        return (x + y) * z

    g = ft.grad(f, argnums=(0, 1, 2))
    g(-2., 5., -4.)  # derive and cache the two nodes' programs
    calls = _count_calls(lambda: g(-2., 5., -4.))
    assert calls <= 60, calls
    with tape.disabled():
        assert _count_calls(lambda: g(-2., 5., -4.)) > 5 * calls


# ---------------------------------------------------------------------------
# random compositions

_UNARY = [fnp.sin, fnp.cos, fnp.tanh, lambda a: a * a, lambda a: -a, lambda a: a * 0.5,
          lambda a: 2.0 - a, lambda a: fnp.exp(fnp.sin(a)), lambda a: fnp.maximum(a, 0.1),
          lambda a: fnp.sum(a, axis=-1, keepdims=True) if a.ndim else a,
          lambda a: a / (1.0 + a * a),
          lambda a: fnp.where(a > 0, a, 0.3 * a), lambda a: a[..., ::-1] if a.ndim else a,
          lambda a: fnp.mean(a) + a]
_BINARY = [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b,
           lambda a, b: a / (1.5 + b * b), fnp.maximum, lambda a, b: fnp.sin(a) * b]


@st.composite
def _programs(draw):
    shape = draw(st.sampled_from([(), (3,), (2, 3)]))
    n_in = draw(st.integers(1, 3))
    steps = draw(st.lists(st.tuples(st.integers(0, len(_UNARY) + len(_BINARY) - 1),
                                    st.integers(0, 100), st.integers(0, 100)),
                          min_size=1, max_size=8))
    seed = draw(st.integers(0, 2 ** 16))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    bshape = draw(st.sampled_from([shape, shape[1:]]))  # the last input may broadcast
    python_floats = shape == () and draw(st.booleans())  # weakly typed inputs
    return shape, bshape, n_in, steps, seed, dtype, python_floats


def _build(steps, n_in):
    def f(*xs):
        vals = list(xs)
        for op, i, j in steps:
            a, b = vals[i % len(vals)], vals[j % len(vals)]
            if op < len(_UNARY):
                vals.append(_UNARY[op](a))
            else:
                vals.append(_BINARY[op - len(_UNARY)](a, b))
        return fnp.sum(sum(vals[n_in:], vals[0]))  # every value reaches the output
    return f


@settings(deadline=None)
@given(_programs())
def test_random_compositions_match_the_jaxpr_path(program):
    shape, bshape, n_in, steps, seed, dtype, python_floats = program
    rng = np.random.default_rng(seed)
    f = _build(steps, n_in)
    prev = ft.config.enable_x64
    ft.config.update("enable_x64", dtype == np.float64)
    try:
        args = [rng.standard_normal(shape).astype(dtype) for _ in range(n_in - 1)]
        args.append(rng.standard_normal(bshape).astype(dtype))
        if python_floats:
            args = [float(a) for a in args]
        nums = tuple(range(n_in))
        got = ft.value_and_grad(f, argnums=nums)(*args)
        with tape.disabled():
            want = ft.value_and_grad(f, argnums=nums)(*args)
    finally:
        ft.config.update("enable_x64", prev)
    _assert_same(got, want)


# ---------------------------------------------------------------------------
# what the tape hands to the jaxpr machinery, and what it leaves to it

def _compare_grad(f, *args, **kw):
    got = ft.grad(f, **kw)(*args)
    with tape.disabled():
        want = ft.grad(f, **kw)(*args)
    _assert_same(got, want)
    return got


def test_control_flow_custom_rules_and_jit_inside_the_tape():
    x = np.linspace(-1.0, 1.0, 4).astype(np.float32)

    @ft.custom_jvp
    def softplus(a):
        return fnp.log1p(fnp.exp(a))

    softplus.defjvp(lambda p, t: (softplus(p[0]), t[0] * lax.logistic(p[0])))

    @ft.custom_vjp
    def clip_grad(a):
        return a

    clip_grad.defvjp(lambda a: (a, None), lambda _, g: (fnp.clip(g, -0.1, 0.1),))
    inner = ft.jit(lambda a: fnp.tanh(a) * a)

    def f(a):
        b = lax.cond(a[0] < 0, lambda v: v * 2.0, lambda v: fnp.sin(v), a)
        c = lax.scan(lambda carry, v: (carry * v, carry + v), 1.0, b)[1]
        return fnp.sum(softplus(c) + clip_grad(b) * 3.0 + inner(a))

    _compare_grad(f, x)


def test_python_control_flow_kwargs_aux_and_pytrees():
    def f(params, x, *, scale):
        w, b = params["w"], params["b"]
        y = fnp.tanh(x @ w + b)
        if float(y.sum()) > 0:  # concrete values on the tape, as on the jaxpr path
            y = y * scale
        return fnp.sum(y * y), {"y": y, "n": 3}

    rng = np.random.default_rng(0)
    params = {"w": rng.standard_normal((3, 2)).astype(np.float32),
              "b": np.zeros(2, np.float32)}
    x = rng.standard_normal((4, 3)).astype(np.float32)
    got = ft.value_and_grad(f, has_aux=True)(params, x, scale=2.0)
    with tape.disabled():
        want = ft.value_and_grad(f, has_aux=True)(params, x, scale=2.0)
    _assert_same(got, want)
    assert isinstance(got[0][1]["y"], np.ndarray)


def test_nested_and_outer_transformations_fall_back():
    def f(x):
        return fnp.sum(fnp.sin(x) * x)

    x = np.linspace(0.1, 1.0, 3).astype(np.float32)
    for t in (lambda: ft.grad(lambda a: fnp.sum(ft.grad(f)(a) ** 2))(x),  # tape outside
              lambda: ft.jit(ft.grad(f))(x), lambda: ft.vmap(ft.grad(f))(x[:, None]),
              lambda: ft.jvp(ft.grad(f), (x,), (x,))[1],
              lambda: ft.hessian(f)(x)):
        got = t()
        with tape.disabled():
            want = t()
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6)


def test_aux_holding_an_input_and_values():
    def f(x, y):
        return x * y, (x, x * 2.0, 3)

    for args in ((2.0, 3.0), (np.float32(2.0), np.ones(2, np.float32))):
        if np.ndim(args[1]):
            fn = lambda x, y: (fnp.sum(x * y), (x, x * 2.0, 3))  # noqa: E731
        else:
            fn = f
        got = ft.value_and_grad(fn, argnums=(0, 1), has_aux=True)(*args)
        with tape.disabled():
            want = ft.value_and_grad(fn, argnums=(0, 1), has_aux=True)(*args)
        _assert_same(got, want)


def test_an_input_returned_as_is_and_a_constant_output():
    assert ft.value_and_grad(lambda x: x)(3.0) == (3.0, 1.0)
    v, g = ft.value_and_grad(lambda x: 2.0)(3.0)
    assert float(v) == 2.0 and float(g) == 0.0
    x = np.float32(2.0)
    assert float(ft.grad(lambda a, b: a * b, argnums=1)(x, 3.0)) == 2.0


def test_errors_are_the_general_paths():
    with pytest.raises(Exception, match="scalar output"):
        ft.grad(lambda x: x * 2.0)(np.ones(3, np.float32))
    with pytest.raises(Exception, match="inexact"):
        ft.grad(lambda x: x * 2)(3)
    leaked = []

    def f(x):
        leaked.append(x)
        return x * x

    ft.grad(f)(1.0)
    with pytest.raises(UnexpectedTracerError):
        leaked[0] + 1.0


# ---------------------------------------------------------------------------
# compiled kernels on the tape: a CNN's convolutions and pooling

def test_large_convolutions_and_pooling_run_the_backends_kernels(monkeypatch):
    from functrace.example_libraries import stax

    used = []
    for prim, lower in list(tape_vjp.eager_lowerings.items()):
        def spy(eqn, lower=lower):
            used.append(eqn.primitive.name)
            return lower(eqn)
        monkeypatch.setitem(tape_vjp.eager_lowerings, prim, spy)
    rewrites = []
    for rewrite in tape_vjp.eager_rewrites:
        def spy_rewrite(steps, rewrite=rewrite):
            out = rewrite(steps)
            used.extend(steps[k].eqns[0].primitive.name for k in out)
            return out
        rewrites.append(spy_rewrite)
    monkeypatch.setattr(tape_vjp, "eager_rewrites", rewrites)
    monkeypatch.setattr(tape_record, "_cache", {})  # derive afresh, through the spies
    init, apply = stax.serial(stax.Conv(16, (3, 3), padding="SAME"), stax.Relu,
                              stax.MaxPool((2, 2), strides=(2, 2)), stax.Flatten,
                              stax.Dense(10), stax.LogSoftmax)
    _, params = init(ft.random.PRNGKey(0), (-1, 16, 16, 8))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 16, 16, 8)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 8)]

    def loss(params):
        return -fnp.mean(fnp.sum(apply(params, x) * y, axis=-1))

    got = ft.value_and_grad(loss)(params)
    with tape.disabled():
        want = ft.value_and_grad(loss)(params)
    assert {"conv_general_dilated", "conv_grad_filter", "reduce_window_max",
            "select_and_scatter_add"} <= set(used)
    for g, w in zip(tree_leaves(got), tree_leaves(want), strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=2e-5, atol=1e-6)


def test_a_tape_is_freed_without_the_garbage_collector():
    """A tape holds every residual of a step (tens of MB for a CNN): a reference cycle
    would keep each one alive until the cyclic GC ran, and the heap grew by a step's
    residuals per step, page-faulting fresh memory (what made eager steps 2x slower)."""
    import gc
    import weakref

    x = np.linspace(-1.0, 1.0, 64, dtype=np.float32)
    made = []
    real = tape._Tape

    class Spy(real):
        __slots__ = ("__weakref__",)

        def __init__(self):
            super().__init__()
            made.append(weakref.ref(self))

    tape._Tape = Spy
    was = gc.isenabled()
    gc.disable()
    try:
        g = ft.value_and_grad(lambda a: (fnp.tanh(a) * a).sum())(x)
        out, f_vjp = ft.vjp(lambda a: fnp.sin(a) * a, x)
        ct = f_vjp(np.ones_like(x))
        del f_vjp
        assert len(made) == 2
        assert [r() for r in made] == [None, None]
    finally:
        tape._Tape = real
        if was:
            gc.enable()
    assert np.allclose(np.asarray(g[1]), np.tanh(x) + x * (1 - np.tanh(x) ** 2), atol=1e-6)
    assert np.allclose(np.asarray(ct[0]), np.sin(x) + x * np.cos(x), atol=1e-6)


def test_functrace_custom_jvp_functions_get_a_cached_vjp(monkeypatch):
    """nn.relu (a custom_jvp function of functrace's own) runs a derived, cached program on
    the tape: the jaxpr path's values bit for bit, its derivative 0 at 0 as the rule says."""
    from functrace import nn

    monkeypatch.setattr(tape_record, "_cache", {})  # this test's entries only
    x = np.array([-2.0, -0.0, 0.0, 1e-30, 3.0, np.nan], np.float32)
    w = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], np.float32)

    def f(x):
        return (nn.relu(x) * w).sum() + (nn.relu6(x * 3.0) * w).sum()

    got = ft.value_and_grad(f)(x)
    with tape.disabled():
        want = ft.value_and_grad(f)(x)
    _assert_same(got, want)
    np.testing.assert_array_equal(np.asarray(got[1])[:5], [0.0, 0.0, 0.0, 4.0 + 3 * 4.0, 5.0])
    keys = [k for k in tape_record._cache if k[0] is nn.relu or k[0] is nn.relu6]
    assert len(keys) == 2
    assert all(type(tape_record._cache[k][0]) is tape_vjp.Derived for k in keys)
    from functrace.scipy.special import xlog1py, xlogy

    a = np.array([0.0, 0.5, 2.0, 3.0], np.float32)
    b = np.array([0.0, 0.25, 1.5, 0.0], np.float32)

    def h(a, b):
        return (xlogy(a, b) * 2.0 + xlog1py(b, a)).sum()

    with np.errstate(all="ignore"):  # d/db xlogy(0, 0) is 0/0 on both paths
        got = ft.value_and_grad(h, argnums=(0, 1))(a, b)
        with tape.disabled():
            want = ft.value_and_grad(h, argnums=(0, 1))(a, b)
    _assert_same(got, want)
    # the function's output tree comes back on a cache hit too
    out, f_vjp = ft.vjp(lambda a: nn.relu(a), x[:4])
    np.testing.assert_array_equal(np.asarray(out), np.maximum(x[:4], 0))
    np.testing.assert_array_equal(np.asarray(f_vjp(w[:4])[0]), [0.0, 0.0, 0.0, 4.0])


def test_a_users_custom_jvp_function_is_not_cached():
    """A user's custom_jvp function may read state that changes between calls: the tape
    linearizes it on every call, so the second call sees the new scale."""
    scale = [2.0]

    @ft.custom_jvp
    def f(x):
        return x * scale[0]

    @f.defjvp
    def f_jvp(primals, tangents):
        return f(primals[0]), tangents[0] * scale[0]

    x = np.ones(3, np.float32)
    assert float(ft.grad(lambda a: f(a).sum())(x)[0]) == 2.0
    scale[0] = 5.0
    assert float(ft.grad(lambda a: f(a).sum())(x)[0]) == 5.0
    assert not any(k[0] is f for k in tape_record._cache)


def test_a_pooled_node_with_traced_cotangents_binds_the_plain_backward():
    """A max pool large enough for the backend's kernels runs its argmax-recording pair on
    the tape; under jacrev (vmap of the backward) the backward binds the primitives."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 32, 32, 8)).astype(np.float32)

    def pool(a):
        return lax.reduce_window(a, -np.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

    ct = rng.standard_normal((4, 16, 16, 8)).astype(np.float32)
    out, f_vjp = ft.vjp(pool, x)
    entries = [v[0] for k, v in tape_record._cache.items() if k[0] is reduce_window_max_p
               and k[2][0] == id(tape_vjp.intern(get_aval(x)))]
    assert len(entries) == 1 and entries[0].fwd[0][5] is None  # the backend's pair ran
    got = np.asarray(f_vjp(ct)[0])
    with tape.disabled():
        want = np.asarray(ft.vjp(pool, x)[1](ct)[0])
    np.testing.assert_array_equal(got, want)
    # a loop-based reference: each window's cotangent lands on its first maximum
    ref = np.zeros_like(x)
    for n, i, j, c in np.ndindex(4, 16, 16, 8):
        win = x[n, 2 * i:2 * i + 2, 2 * j:2 * j + 2, c].ravel()
        k = int(np.argmax(win))
        ref[n, 2 * i + k // 2, 2 * j + k % 2, c] = ct[n, i, j, c]
    np.testing.assert_array_equal(got, ref)
    traced = ft.vmap(f_vjp)(np.stack([ct, 2 * ct]))[0]
    np.testing.assert_array_equal(np.asarray(traced), np.stack([ref, 2 * ref]))


def _bits_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a.reshape(-1).view(np.uint8), b.reshape(-1).view(np.uint8))


@pytest.mark.parametrize("name", ["relu", "where", "arith", "max"])
def test_large_elementwise_nodes_run_fused_loops_with_the_same_bits(name, monkeypatch):
    """A node whose forward or backward is two or more exact elementwise passes on a
    kernel-sized array runs as one compiled loop (tape_fuse): the same bits as the impls,
    signed zeros, NaNs and infinities included."""
    from functrace import nn

    rng = np.random.default_rng(3)
    shape = (128, 160)
    x = rng.standard_normal(shape).astype(np.float32)
    y = rng.standard_normal(shape).astype(np.float32)
    x.flat[:6] = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-42]
    y.flat[:6] = [-0.0, 0.0, 1.0, np.nan, 2.0, -1e-42]
    w = rng.standard_normal(shape).astype(np.float32)
    fns = {
        "relu": lambda a, b: nn.relu(a) * w,
        "where": lambda a, b: fnp.where(a > b, a, b) * w,
        "arith": lambda a, b: (a * b + a / b) * w,
        "max": lambda a, b: (fnp.maximum(a, b) + fnp.minimum(b, a)) * w,
    }
    fn = fns[name]
    monkeypatch.setattr(tape_record, "_cache", {})  # this test's entries only
    ct = rng.standard_normal(shape).astype(np.float32)
    with np.errstate(all="ignore"):
        out, f_vjp = ft.vjp(fn, x, y)
        got = (out, *f_vjp(ct))
        with tape.disabled():
            out2, f_vjp2 = ft.vjp(fn, x, y)
            want = (out2, *f_vjp2(ct))
    for g, v in zip(got, want, strict=True):
        _bits_equal(g, v)
    fused = [v[0] for v in tape_record._cache.values() if type(v[0]) is tape_vjp.Derived
             and any(st[5] is None and st[0].__qualname__.startswith("fused_step")
                     for st in v[0].fwd + v[0].bwd)]
    assert fused


def test_without_a_compiler_the_impls_run(monkeypatch):
    from functrace import nn
    from functrace.transforms import tape_fuse

    monkeypatch.setattr(tape_fuse, "eager_compile", None)
    monkeypatch.setattr(tape_record, "_cache", {})
    x = np.linspace(-3, 3, 128 * 160, dtype=np.float32).reshape(128, 160)
    g = ft.grad(lambda a: (nn.relu(a) * a).sum())(x)
    np.testing.assert_array_equal(np.asarray(g), np.where(x > 0, 2 * x, 0).astype(np.float32))
    assert all(st[5] is not None for e, *_ in tape_record._cache.values()
               if type(e) is tape_vjp.Derived for st in e.fwd)


# ---------------------------------------------------------------------------
# deferred elementwise nodes, fused across nodes (tape_lazy)

_BIG = (128, 160)  # kernel-sized: at least tape_vjp.EAGER_KERNEL_MIN_SIZE elements


def _big_inputs(seed=4):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(_BIG).astype(np.float32)
    x.flat[:4] = [0.0, -0.0, np.nan, np.inf]
    b = rng.standard_normal(_BIG[1:]).astype(np.float32)
    w = rng.standard_normal(_BIG).astype(np.float32)
    return x, b, w


def _three_ways(fn, *args, argnums=0, has_aux=False):
    """value_and_grad on the tape (deferred nodes on, then off) and on the jaxpr path."""
    from functrace.transforms import tape_lazy

    g = ft.value_and_grad(fn, argnums=argnums, has_aux=has_aux)
    with np.errstate(all="ignore"):
        lazy = g(*args)
        tape_lazy.state["enabled"] = False
        try:
            eager = g(*args)
        finally:
            tape_lazy.state["enabled"] = True
        with tape.disabled():
            want = g(*args)
    return lazy, eager, want


def test_a_bias_add_and_relu_run_as_one_program():
    """The CNN layer's pattern: broadcast, add and ReLU wait and run as one compiled loop
    when the reduction reads them; the same bits as each node run alone and as the jaxpr
    path, gradients included."""
    from functrace import nn
    from functrace.transforms import tape_lazy

    x, b, w = _big_inputs()

    def f(x, b):
        return (nn.relu(x + b) * w).sum()

    tape_lazy._plans.clear()
    lazy, eager, want = _three_ways(f, x, b, argnums=(0, 1))
    for got in (lazy, eager):
        for g, v in zip(tree_leaves(got), tree_leaves(want), strict=True):
            _bits_equal(g, v)
    groups = [[e.lazy[1][0].primitive.name for e, _, _ in sig]
              for sig, plan in tape_lazy._plans.items() if plan[0] is not None]
    assert ["broadcast_in_dim", "add", "max", "mul"] in groups


def test_deferred_values_reach_every_reader():
    """A waiting node's value is computed for whatever reads it: Python control flow,
    a comparison (no tangent), jit, a custom_vjp function, a residual of a later node
    whose own input tracer is gone, an aux output held by the caller."""
    x, b, w = _big_inputs(5)

    @ft.custom_vjp
    def double(a):
        return a * 2.0

    double.defvjp(lambda a: (a * 2.0, None), lambda _, ct: (ct * 2.0,))
    kept = []

    def f(x):
        y = x * 3.0 + 1.0
        kept.append(y)  # alive: its value must come back as aux
        z = (x - 1.0) * (x + 2.0)  # both factors die; mul's backward reads them
        if float(z[5, 5]) > -100.0:  # Python control flow on a deferred value
            z = z + ft.jit(lambda a: a * 0.5)(y) + double(y - z)
        mask = (y > 0.5).astype(np.float32)  # no tangent
        return ((z * w) * mask).sum(), y

    from functrace.transforms import tape_lazy

    tape_lazy._plans.clear()
    lazy, eager, want = _three_ways(f, x, has_aux=True)
    assert tape_lazy._plans  # nodes did wait
    for got in (lazy, eager):
        for g, v in zip(tree_leaves(got), tree_leaves(want), strict=True):
            _bits_equal(g, v)
    _bits_equal(lazy[0][1], x * np.float32(3.0) + np.float32(1.0))


def test_deferred_nodes_and_vjp_with_outputs_and_leaks():
    """vjp of a function whose outputs are waiting nodes; a deferred tracer that leaks
    is a leaked tracer like any other."""
    x, b, w = _big_inputs(6)

    def f(x):
        return x * w + 1.0, (x - w) * 2.0

    ct = (w, x)
    out, f_vjp = ft.vjp(f, x)
    got = (out, f_vjp(ct))
    with tape.disabled():
        out2, f_vjp2 = ft.vjp(f, x)
        want = (out2, f_vjp2(ct))
    for g, v in zip(tree_leaves(got), tree_leaves(want), strict=True):
        _bits_equal(g, v)
    leaked = []
    ft.grad(lambda a: (leaked.append(a * 2.0) or a * w).sum())(x)
    with pytest.raises(UnexpectedTracerError):
        leaked[0] + 1.0


def test_a_group_program_that_fails_falls_back_to_the_nodes(monkeypatch):
    from functrace import nn
    from functrace.transforms import tape_fuse, tape_lazy

    compile_ = tape_fuse.eager_compile

    def broken(closed):  # a program of several nodes fails when it runs
        if len(closed.jaxpr.eqns) <= 2:
            return compile_(closed)

        def run(*args):
            raise RuntimeError("no")
        return run

    monkeypatch.setattr(tape_fuse, "eager_compile", broken)
    monkeypatch.setattr(tape_record, "_cache", {})
    monkeypatch.setattr(tape_lazy, "_plans", {})
    x, b, w = _big_inputs(7)

    def f(x):
        return (nn.relu(x * 2.0 + 1.0) * w).sum()

    with np.errstate(all="ignore"):
        got = ft.value_and_grad(f)(x)
        with tape.disabled():
            want = ft.value_and_grad(f)(x)
    for g, v in zip(got, want, strict=True):
        _bits_equal(g, v)
    assert tape_lazy._plans and all(p[0] is None for p in tape_lazy._plans.values())
