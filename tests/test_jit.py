"""jit: same results as eager evaluation, caching, retrace logging, passes, errors."""

import functools
import logging

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import functrace as ft
import functrace.numpy as fnp
from functrace import lax, nn
from functrace.compiler import passes
from functrace.errors import TransformError

UNARY = [fnp.tanh, fnp.exp, fnp.sin, nn.relu, nn.sigmoid, lambda v: v * v, fnp.abs,
         lambda v: -v, lambda v: fnp.sqrt(fnp.abs(v) + 1.0), nn.softplus]
BINARY = [fnp.add, fnp.subtract, fnp.multiply, fnp.maximum, fnp.minimum,
          lambda a, b: a / (fnp.abs(b) + 1.0), lambda a, b: fnp.where(a > b, a, b * 2.0)]
REDUCE = [lambda v: fnp.sum(v, axis=0), lambda v: fnp.max(v, axis=-1),
          lambda v: fnp.mean(v, axis=-1, keepdims=True), lambda v: v]


@st.composite
def programs(draw):
    """A random straight-line program over a (5, 4) and a (4,) input (20 elements: more
    than the tiny-step interpreter takes, so fused steps run generated loops)."""
    ops = draw(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 50), st.integers(0, 50)),
                        min_size=1, max_size=8))
    red = draw(st.integers(0, len(REDUCE) - 1))

    def f(x, y):
        vals = [x, y]
        for kind, i, j in ops:
            a, b = vals[i % len(vals)], vals[j % len(vals)]
            if kind == 0:
                vals.append(UNARY[i % len(UNARY)](a))
            elif kind == 1:
                vals.append(BINARY[j % len(BINARY)](a, b))
            else:
                vals.append(a @ fnp.ones((a.shape[-1], 4), a.dtype) if a.ndim else a * b)
        return REDUCE[red](vals[-1])

    return f


@given(programs(), st.integers(0, 2**16))
def test_random_programs_match_eager(f, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    y = rng.standard_normal(4).astype(np.float32)
    np.testing.assert_allclose(ft.jit(f)(x, y), f(x, y), rtol=2e-5, atol=2e-5)
    loss = lambda x, y: fnp.sum(f(x, y))  # noqa: E731
    g_jit = ft.jit(ft.grad(loss, argnums=(0, 1)))(x, y)
    g_eager = ft.grad(loss, argnums=(0, 1))(x, y)
    for a, b in zip(g_jit, g_eager):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5)


@st.composite
def broadcast_shapes(draw):
    """An output shape and a NumPy-broadcastable shape for it (size-1 axes, missing
    leading axes), big enough for a generated loop."""
    shape = draw(st.lists(st.integers(1, 5), min_size=1, max_size=4))
    shape[-1] = max(shape[-1], 17)
    keep = draw(st.lists(st.booleans(), min_size=len(shape), max_size=len(shape)))
    other = [n if k else 1 for n, k in zip(shape, keep)]
    drop = draw(st.integers(0, len(shape)))
    return tuple(shape), tuple(other[drop:])


@given(broadcast_shapes(), st.sampled_from([np.float32, np.float64, np.int32]),
       st.booleans())
def test_fused_loops_broadcast_like_numpy(x64, shapes, dtype, transposed):
    shape, other = shapes
    rng = np.random.default_rng(len(shape) * 10 + len(other))
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    if transposed and x.ndim > 1:  # a non-contiguous input
        x = np.ascontiguousarray(np.swapaxes(x, 0, -1)).swapaxes(0, -1)
    b = (rng.standard_normal(other) * 4).astype(dtype)

    def f(x, b, s):
        y = fnp.maximum(x * s + b, b - 1)
        return fnp.where(y > 0, y, x), y - s

    outs = ft.jit(f)(x, b, dtype(3))
    expected = f(x, b, dtype(3))
    for got, want in zip(outs, expected):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


@given(st.lists(st.integers(1, 6), min_size=1, max_size=4), st.data(),
       st.sampled_from(["sum", "max", "min"]), st.sampled_from([np.float32, np.float64, np.int32]),
       st.booleans())
def test_fused_trailing_reductions_match_numpy(x64, shape, data, kind, dtype, nan):
    shape[-1] += 17  # big enough for a generated loop
    axes = tuple(sorted(data.draw(st.sets(st.integers(0, len(shape) - 1), min_size=1))))
    rng = np.random.default_rng(len(shape))
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    if nan and dtype != np.int32:
        x.reshape(-1)[rng.integers(0, x.size, 3)] = np.nan
    reduce = {"sum": fnp.sum, "max": fnp.max, "min": fnp.min}[kind]

    def f(x):
        y = fnp.abs(x) * 2 - 3
        return y, reduce(y, axis=axes)

    jitted = ft.jit(f)
    steps = jitted.lower(x).compile().steps
    assert any(s.reduction is not None for s in steps), "the reduction was not fused"
    y, r = jitted(x)
    ref = np.abs(x) * 2 - 3
    want = getattr(np, kind)(ref, axis=axes)
    assert r.dtype == want.dtype and r.shape == want.shape
    tol = 1e-6 if dtype == np.float32 else 1e-12
    # a sum in another order differs by rounding relative to the sum of |terms|, not to it
    sums = np.nan_to_num(np.sum(np.abs(ref), axis=axes), nan=0.0, posinf=0.0)
    scale = sums.max() if kind == "sum" and sums.size else 0.0
    np.testing.assert_allclose(r, want, rtol=tol, atol=tol * float(scale))


@st.composite
def conv_programs(draw):
    """conv (any layout, stride, padding, dilation) -> bias -> activation ->
    optional pooling (max/min/avg, any window/stride) -> a scalar loss."""
    layout = draw(st.sampled_from(["NCHW", "NHWC"]))
    cin, cout = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    k = draw(st.integers(1, 3))
    stride = draw(st.integers(1, 2))
    dilation = draw(st.integers(1, 2))
    padding = draw(st.sampled_from(["VALID", "SAME", ((1, 0), (0, 2))]))
    pool = draw(st.sampled_from([None, lax.max, lax.min, lax.add]))
    window, pstride = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    act = draw(st.sampled_from([nn.relu, fnp.tanh, lambda v: v * v]))
    hw = draw(st.integers(6, 9))
    dn = (layout, "OIHW" if layout == "NCHW" else "HWIO", layout)
    x_shape = (2, cin, hw, hw) if layout == "NCHW" else (2, hw, hw, cin)
    w_shape = (cout, cin, k, k) if layout == "NCHW" else (k, k, cin, cout)
    win = (1, 1, window, window) if layout == "NCHW" else (1, window, window, 1)
    strides = (1, 1, pstride, pstride) if layout == "NCHW" else (1, pstride, pstride, 1)
    bias_shape = (1, cout, 1, 1) if layout == "NCHW" else (cout,)

    def loss(x, w, b):
        h = lax.conv_general_dilated(x, w, (stride, stride), padding,
                                     rhs_dilation=(dilation, dilation), dimension_numbers=dn)
        h = act(h + b.reshape(bias_shape))
        if pool is not None:
            init = {lax.max: -np.inf, lax.min: np.inf, lax.add: 0.0}[pool]
            h = lax.reduce_window(h, init, pool, win, strides, "VALID")
        return fnp.sum(h * h) / 7.0

    return loss, x_shape, w_shape, cout


@given(conv_programs(), st.integers(0, 2**16))
def test_conv_and_pool_programs_match_eager(program, seed):
    loss, x_shape, w_shape, cout = program
    rng = np.random.default_rng(seed)
    args = [rng.standard_normal(s).astype(np.float32) for s in (x_shape, w_shape, (cout,))]
    try:
        expected = loss(*args)
    except ft.errors.ShapeError:  # the window does not fit the conv output: jit agrees
        with pytest.raises(ft.errors.ShapeError):
            ft.jit(loss)(*args)
        return
    np.testing.assert_allclose(ft.jit(loss)(*args), expected, rtol=1e-4, atol=1e-5)
    grad = ft.grad(loss, argnums=(0, 1, 2))
    for got, want in zip(ft.jit(grad)(*args), grad(*args)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def test_cnn_step_matches_eager():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 1, 8, 8)).astype(np.float32)
    w1 = rng.standard_normal((4, 1, 3, 3)).astype(np.float32) * 0.3
    w2 = rng.standard_normal((4 * 4 * 4, 3)).astype(np.float32) * 0.3
    labels = nn.one_hot(np.array([0, 2]), 3)

    def loss(params, x):
        w1, w2 = params
        h = nn.relu(lax.conv(x, w1, (1, 1), "SAME"))
        h = lax.reduce_window(h, -np.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        logits = h.reshape(2, -1) @ w2
        return -fnp.mean(fnp.sum(nn.log_softmax(logits) * labels, axis=-1))

    step = ft.jit(ft.value_and_grad(loss))
    (v1, g1), (v0, g0) = step((w1, w2), x), ft.value_and_grad(loss)((w1, w2), x)
    np.testing.assert_allclose(v1, v0, rtol=1e-5)
    for a, b in zip(g1, g0):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_lesson_jit_grad():
    f = lambda x, y, z: (x + y) * z  # noqa: E731
    g = ft.jit(ft.grad(f, argnums=(0, 1, 2)))
    assert [float(v) for v in g(-2.0, 5.0, -4.0)] == [-4.0, -4.0, 3.0]
    text = g.lower(-2.0, 5.0, -4.0).as_text()
    assert "mul" not in text.split("# plan")[0]  # z * 1.0 and q * 1.0 were simplified away


def test_cache_hits_and_retrace_is_logged(caplog):
    f = ft.jit(lambda x: x * 2.0)
    f(np.ones(3, np.float32))
    f(np.ones(3, np.float32) * 5)
    assert f.compile_count == 1
    ft.config.update("log_compiles", True)
    try:
        with caplog.at_level(logging.WARNING, logger="functrace.jit"):
            f(np.ones(4, np.float32))
    finally:
        ft.config.update("log_compiles", False)
    assert f.compile_count == 2
    assert "f32[3] to f32[4]" in caplog.text


def test_static_argnums_and_argnames():
    def f(x, n, *, mode):
        return x * n if mode == "mul" else x + n

    jf = ft.jit(f, static_argnums=1, static_argnames="mode")
    assert float(jf(2.0, 3, mode="mul")) == 6.0
    assert float(jf(2.0, 3, mode="add")) == 5.0
    assert jf.compile_count == 2
    with pytest.raises(TransformError, match="unhashable type list"):
        ft.jit(lambda x, s: x, static_argnums=1)(1.0, [1, 2])


def test_nested_jit_and_grad_of_jit():
    inner = ft.jit(lambda x: fnp.sin(x) * x)
    outer = ft.jit(lambda x: inner(x) + 1.0)
    np.testing.assert_allclose(outer(0.5), np.sin(0.5) * 0.5 + 1, rtol=1e-6)
    np.testing.assert_allclose(ft.grad(inner)(0.5), np.cos(0.5) * 0.5 + np.sin(0.5),
                               rtol=1e-6)
    np.testing.assert_allclose(ft.grad(ft.grad(outer))(0.5),
                               -np.sin(0.5) * 0.5 + 2 * np.cos(0.5), rtol=1e-5)


def test_jit_with_pytrees_and_kwargs():
    f = ft.jit(lambda p, x=1.0: {"out": p["w"] * x + p["b"]})
    out = f({"w": np.float32(2), "b": np.float32(1)}, x=3.0)
    assert float(out["out"]) == 7.0


def test_abstract_control_flow_under_jit_is_explained():
    def f(x):
        return x if x > 0 else -x

    with pytest.raises(ft.ConcretizationError, match="jit"):
        ft.jit(f)(1.0)


def test_fused_kernel_is_generated_for_elementwise_chain():
    f = ft.jit(lambda x, a, b: nn.relu(x * a + b))
    text = f.lower(np.ones((4, 5), np.float32), 2.0, 1.0).as_text()
    assert "step 0: fused mul, add" in text and "def kernel_par" in text
    x = np.random.default_rng(0).standard_normal((300, 300)).astype(np.float32)
    np.testing.assert_allclose(f(x, 2.0, 1.0), np.maximum(x * 2 + 1, 0), rtol=1e-6)


def test_passes_dce_cse_fold():
    def f(x):
        a = fnp.sin(x)
        b = fnp.sin(x)       # CSE merges it with a
        _ = fnp.exp(x)       # dead
        c = 2.0 * 3.0 + x    # 2.0 * 3.0 is folded
        return a + b + c

    closed = ft.make_jaxpr(f)(np.ones(3, np.float32))
    opt = passes.optimize(closed)
    names = [e.primitive.name for e in opt.eqns]
    assert names.count("sin") == 1 and "exp" not in names
    assert len(opt.eqns) < len(closed.eqns)
    x = np.arange(3, dtype=np.float32)
    np.testing.assert_allclose(ft.eval_jaxpr(opt.jaxpr, opt.consts, x)[0], f(x), rtol=1e-6)


def test_non_finite_literals_in_fused_loops():
    f = ft.jit(lambda x: fnp.maximum(x * np.float32(np.inf), -np.inf) + x * 0.0)
    out = f(np.array([1.0, -1.0], np.float32))
    assert out[0] == np.inf and out[1] == -np.inf


def test_random_under_jit_matches_eager():
    from functrace import random

    def draw(key):
        return random.normal(key, (5,)), random.truncated_normal(key, -1.0, 1.0, (3,))

    key = random.PRNGKey(0)
    for a, b in zip(ft.jit(draw)(key), draw(key)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_weight_gradient_is_not_a_transposed_view():
    def loss(w, x):
        return fnp.sum(fnp.tanh(x @ w))

    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    step = ft.jit(lambda w, x: w - 0.1 * ft.grad(loss)(w, x))
    text = step.lower(w, x).as_text().split("# plan")[0]
    assert "transpose" not in text
    np.testing.assert_allclose(step(w, x), w - 0.1 * ft.grad(loss)(w, x), rtol=1e-5)


def test_intermediates_are_freed_after_their_last_use():
    """A chain of ten 1 MiB matmul results peaks at a few live arrays, not all ten."""
    import tracemalloc

    def chain(x, w):
        for _ in range(10):
            x = fnp.tanh(x @ w)  # a matmul then a fused loop: two steps per link
        return x

    x = np.ones((512, 512), np.float32) / 512
    w = np.eye(512, dtype=np.float32)
    f = ft.jit(chain)
    f(x, w)
    tracemalloc.start()
    f(x, w)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    mib = x.nbytes
    assert peak < 4 * mib, f"peak {peak / mib:.1f} MiB for 1 MiB intermediates"


DETERMINISM = """
import sys, numpy as np
sys.path.insert(0, {root!r})
from benchmarks import models
cfg = dict(models.VGG_STYLE, batch=4)
rng = np.random.default_rng(0)
params = models.init_params(cfg, rng)
x = rng.standard_normal((4, *cfg["shape"])).astype(np.float32)
y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 4)]
step = models.functrace_step(cfg)
loss, new = step(params, x, y)
again = step(params, x, y)[1]
assert all(np.array_equal(a, b) for a, b in zip(new, again)), "two calls differ"
np.save(sys.argv[1], np.concatenate([p.ravel() for p in new]))
"""


@pytest.mark.slow
def test_training_step_is_deterministic_run_to_run(tmp_path):
    """Same inputs, same bits: across calls and across processes (both cores in use:
    OpenBLAS threads in the conv GEMMs, Winograd and GEMM paths alike)."""
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    outs = []
    for k in range(2):
        path = tmp_path / f"run{k}.npy"
        subprocess.run([sys.executable, "-c", DETERMINISM.format(root=root), str(path)],
                       check=True, cwd=root)
        outs.append(np.load(path))
    np.testing.assert_array_equal(outs[0], outs[1])


KEEP_MEMORY = """
import functrace as ft, numpy as np
from functrace.backends.numba_cpu import keep_freed_memory
ft.jit(lambda x: x * 2)(np.ones(64, np.float32))
print(keep_freed_memory())
"""


@pytest.mark.parametrize("env, expected", [({}, "True"), ({"MALLOC_ARENA_MAX": "2"}, "False")])
def test_cpu_backend_keeps_freed_memory_unless_the_user_tuned_malloc(env, expected):
    """glibc is asked to keep freed arrays for reuse (no page faults per call), but not
    when the environment already configures malloc."""
    import os
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    out = subprocess.run([sys.executable, "-c", KEEP_MEMORY], env={**clean, **env},
                         capture_output=True, text=True, check=True).stdout.split()
    assert out[-1] == expected


def test_cpu_keep_memory_flag():
    ft.config.update("cpu_keep_memory", False)
    try:
        assert ft.config.cpu_keep_memory is False
    finally:
        ft.config.update("cpu_keep_memory", True)
    with pytest.raises(ft.errors.FunctraceError, match="cpu_keep_memory"):
        ft.config.update("cpu_keep_memry", True)


def test_static_args_by_name_or_position_none_and_methods():
    def f(x, n, mode="add"):
        return x + n if mode == "add" else x * n

    for jf in (ft.jit(f, static_argnames=("n", "mode")), ft.jit(f, static_argnums=(1, 2))):
        assert float(jf(2.0, 3)) == 5.0  # static_argnames given positionally
        assert float(jf(2.0, n=3, mode="mul")) == 6.0  # static_argnums given by keyword
        assert float(jf(2.0, 3, "mul")) == 6.0
        assert float(jf(2.0, 4)) == 6.0  # a new static value recompiles
    assert float(ft.jit(f, static_argnums=None, static_argnames=None)(2.0, 3.0)) == 5.0
    with pytest.raises(TransformError, match="out of range"):
        ft.jit(f, static_argnums=5)(2.0, 3)

    class Model:
        def __init__(self, k):
            self.k = k

        def __hash__(self):
            return hash(self.k)

        def __eq__(self, other):
            return isinstance(other, Model) and other.k == self.k

        @functools.partial(ft.jit, static_argnums=0)
        def apply(self, x):
            return x * self.k

    assert float(Model(3.0).apply(2.0)) == 6.0  # @jit on a method binds self
    assert float(Model(4.0).apply(2.0)) == 8.0


def test_float16_programs_compile_and_round_like_eager():
    # Numba has no float16 type on the CPU: these steps run unfused, op by op
    def f(x):
        return (fnp.exp(x) * 2 + fnp.sin(x)).sum() + fnp.tanh(x) @ x

    x = np.linspace(0, 1, 100).astype(np.float16)
    out = ft.jit(f)(x)
    assert out.dtype == np.float16
    assert out == f(x)  # eager runs the same NumPy ops in the same order
    ref = (np.exp(x.astype(np.float64)) * 2 + np.sin(x)).sum() + np.tanh(x) @ x
    np.testing.assert_allclose(float(out), ref, rtol=2e-3)
    g = ft.jit(ft.grad(lambda x: (fnp.tanh(x) ** 2).sum()))(x)
    t = np.tanh(x.astype(np.float64))
    np.testing.assert_allclose(g.astype(np.float64), 2 * t * (1 - t * t), atol=2e-3)
