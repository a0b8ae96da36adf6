"""Loops compiled into one Numba function (backends/numba_cpu/native_loop.py).

Every case runs under ``jit`` twice, once as a native loop and once stepped from Python
(``config.cpu_native_loops`` off), and is checked against a hand-written NumPy loop;
the program's text says which way each loop was compiled.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import functrace as ft
import functrace.numpy as fnp
from functrace import config, lax
from functrace.backends.numba_cpu import native_rules
from functrace.errors import FunctraceWarning
from functrace.lax.sorting import sort_p

NATIVE = "a native loop, one Numba function"
PYTHON = "a Python-orchestrated loop"


def run_both(f, *args, native=True):
    """``jit(f)(*args)`` as a native loop and as a Python loop; checks the program text
    says so (``native=False``: the loop must fall back either way) and returns both."""
    outs, texts = {}, {}
    prev = config.cpu_native_loops
    try:
        for mode in (True, False):
            config.update("cpu_native_loops", mode)
            g = ft.jit(f)
            texts[mode] = g.lower(*args).as_text()
            outs[mode] = g(*args)
    finally:
        config.update("cpu_native_loops", prev)
    assert (NATIVE in texts[True]) == native, texts[True]
    assert PYTHON in texts[False] and NATIVE not in texts[False]
    return outs[True], outs[False]


def assert_trees_close(a, b, rtol=1e-6, atol=1e-6):
    la, ta = ft.tree_util.tree_flatten(a)
    lb, tb = ft.tree_util.tree_flatten(b)
    assert ta == tb
    for x, y in zip(la, lb, strict=True):
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype and x.shape == y.shape
        if x.dtype.kind in "biu":
            np.testing.assert_array_equal(x, y)
        else:
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------
# scalar bodies

def test_fori_loop_scalar_carry_matches_a_python_loop():
    def f(x):
        return lax.fori_loop(0, 1000, lambda i, c: c * np.float32(0.999) + 0.001, x)

    native, python = run_both(f, np.float32(1.0))
    want = np.float32(1.0)
    for _ in range(1000):
        want = np.float32(want * np.float32(0.999) + np.float32(0.001))
    np.testing.assert_allclose(native, want, rtol=1e-6)
    assert_trees_close(native, python)
    assert native.dtype == np.float32 and native.shape == ()


def test_integer_carries_wrap_as_int32():
    def f(x):  # a linear congruential generator: int32 products wrap around
        return lax.fori_loop(0, 50, lambda i, c: (c[0] * 1103515245 + 12345 + i,
                                                  c[1] ^ c[0]), (x, x))

    native, python = run_both(f, np.int32(7))
    a, b = np.int32(7), np.int32(7)
    with np.errstate(over="ignore"):
        for i in range(50):
            a, b = np.int32(a * np.int32(1103515245) + np.int32(12345) + np.int32(i)), b ^ a
    assert_trees_close(native, (a, b))
    assert_trees_close(native, python)


def test_while_loop_with_a_data_dependent_trip_count():
    def collatz_steps(n):
        def body(c):
            k, v = c
            return k + 1, lax.select(v % 2 == 0, v // 2, 3 * v + 1)
        return lax.while_loop(lambda c: c[1] != 1, body, (0, n))[0]

    for n, want in ((27, 111), (1, 0), (6, 8)):
        native, python = run_both(collatz_steps, np.int32(n))
        assert int(native) == want and int(python) == want


def test_fori_loop_with_traced_bounds_is_a_native_while():
    def f(x, n):
        return lax.fori_loop(0, n, lambda i, c: c + i * x, np.float32(0.0))

    native, python = run_both(f, np.float32(0.5), np.int32(10))
    np.testing.assert_allclose(native, 0.5 * 45)
    assert_trees_close(native, python)


def test_cond_and_switch_in_a_loop_body():
    def f(x):
        def body(i, c):
            c = lax.cond(c > 1.0, lambda v: v * 0.5, lambda v: v + 1.0, c)
            return lax.switch(i % 3, [lambda v: v, lambda v: v * 1.5, lambda v: v - 0.25], c)
        return lax.fori_loop(0, 20, body, x)

    native, python = run_both(f, np.float32(0.3))
    c = 0.3
    for i in range(20):
        c = c * 0.5 if c > 1.0 else c + 1.0
        c = (c, c * 1.5, c - 0.25)[i % 3]
    np.testing.assert_allclose(native, c, rtol=1e-5)
    assert_trees_close(native, python)


# ---------------------------------------------------------------------------
# array bodies, scan options, pytrees

def _rnn(w, u, h0, xs, reverse=False, unroll=1):
    return lax.scan(lambda h, x: (fnp.tanh(h @ w + x @ u), h * 2.0), h0, xs,
                    reverse=reverse, unroll=unroll)


def _rnn_ref(w, u, h0, xs, reverse=False):
    h, ys = h0.astype(np.float64), np.zeros((len(xs), *h0.shape))
    for i in (range(len(xs) - 1, -1, -1) if reverse else range(len(xs))):
        ys[i] = h * 2.0
        h = np.tanh(h @ w + xs[i] @ u)
    return h, ys


@pytest.mark.parametrize("reverse,unroll", [(False, 1), (True, 1), (False, 3), (True, 2)])
def test_rnn_scan_reverse_and_unroll(reverse, unroll):
    rng = np.random.default_rng(0)
    w, u = (rng.standard_normal((2, 6, 6)) * 0.3).astype(np.float32)
    h0 = rng.standard_normal((4, 6)).astype(np.float32)
    xs = rng.standard_normal((7, 4, 6)).astype(np.float32)
    native, python = run_both(lambda *a: _rnn(*a, reverse=reverse, unroll=unroll), w, u, h0, xs)
    assert_trees_close(native, python, rtol=1e-5)
    want = _rnn_ref(w, u, h0, xs, reverse)
    assert_trees_close(tuple(np.asarray(x, np.float64) for x in native), want, rtol=1e-4,
                       atol=1e-5)


def test_zero_length_scans():
    def f(c, xs):
        return lax.scan(lambda c, x: ((c[0] + x.sum(), c[1] * 2), x * c[0]), c, xs)

    c = (np.float32(1.5), np.arange(3, dtype=np.int32))
    native, python = run_both(f, c, np.zeros((0, 3), np.float32))
    assert_trees_close(native, python)
    assert_trees_close(native, (c, np.zeros((0, 3), np.float32)))


def test_pytree_carries_and_outputs():
    def f(state, xs):
        def body(s, x):
            new = {"pos": s["pos"] + s["vel"] * 0.1, "vel": s["vel"] - x["f"] * 0.1,
                   "n": s["n"] + 1}
            return new, (new["pos"].sum(), {"e": x["f"] * s["pos"]})
        return lax.scan(body, state, xs)

    state = {"pos": np.ones(3, np.float32), "vel": np.zeros(3, np.float32), "n": np.int32(0)}
    xs = {"f": np.linspace(0, 1, 15, dtype=np.float32).reshape(5, 3)}
    native, python = run_both(f, state, xs)
    assert_trees_close(native, python)
    pos, vel = np.ones(3), np.zeros(3)
    for i in range(5):
        pos, vel = pos + vel * 0.1, vel - xs["f"][i] * 0.1
    np.testing.assert_allclose(native[0]["pos"], pos, rtol=1e-6)
    assert int(native[0]["n"]) == 5


def test_nested_loops_compile_into_the_outer_function():
    def f(x):
        def outer(c, row):
            inner = lax.fori_loop(0, 3, lambda i, a: a * 0.5 + row, c)
            return inner, lax.while_loop(lambda v: v < 10.0, lambda v: v * 2.0, row + 1.0)
        return lax.scan(outer, x, np.arange(4, dtype=np.float32))

    native, python = run_both(f, np.float32(1.0))
    assert_trees_close(native, python)
    text = ft.jit(f).lower(np.float32(1.0)).as_text()
    assert text.count(NATIVE) == 1  # one function holds all three loops


# ---------------------------------------------------------------------------
# transformations of loops

def test_grad_of_a_scan_runs_both_scans_natively():
    rng = np.random.default_rng(3)
    w, u = (rng.standard_normal((2, 5, 5)) * 0.4).astype(np.float32)
    xs = rng.standard_normal((8, 2, 5)).astype(np.float32)

    def loss(w, u, xs):
        h, _ = lax.scan(lambda h, x: (fnp.tanh(h @ w + x @ u), None),
                        np.zeros((2, 5), np.float32), xs)
        return fnp.sum(h * h)

    g = ft.grad(loss, (0, 1))
    native, python = run_both(g, w, u, xs)
    text = ft.jit(g).lower(w, u, xs).as_text()
    assert text.count(NATIVE) == 2  # the forward scan and the transposed one
    assert_trees_close(native, python, rtol=1e-5)

    def ref_loss(w64):
        h = np.zeros((2, 5))
        for x in xs:
            h = np.tanh(h @ w64 + x @ u)
        return (h * h).sum()

    eps, fd = 1e-6, np.zeros((5, 5))
    for idx in np.ndindex(5, 5):
        hi, lo = w.astype(np.float64), w.astype(np.float64)
        hi[idx] += eps
        lo[idx] -= eps
        fd[idx] = (ref_loss(hi) - ref_loss(lo)) / (2 * eps)
    np.testing.assert_allclose(native[0], fd, rtol=2e-3, atol=2e-4)


def test_vmap_of_scan_and_of_a_batched_while():
    def f(c, xs):
        return lax.scan(lambda c, x: (c * 0.9 + x, c), c, xs)

    cs = np.arange(3, dtype=np.float32)
    xs = np.ones((3, 4), np.float32)
    native, python = run_both(ft.vmap(f), cs, xs)
    assert_trees_close(native, python)
    np.testing.assert_allclose(native[0][1], (((1 * 0.9 + 1) * 0.9 + 1) * 0.9 + 1) * 0.9 + 1,
                               rtol=1e-6)

    def doublings(x):  # a batched predicate: reduce_or over the batch in the loop's cond
        return lax.while_loop(lambda c: c[1] < 100.0, lambda c: (c[0] + 1, c[1] * 2.0),
                              (0, x))[0]

    xs = np.array([1.0, 30.0, 200.0, 7.0], np.float32)
    native, python = run_both(ft.vmap(doublings), xs)
    np.testing.assert_array_equal(native, [7, 2, 0, 4])
    assert_trees_close(native, python)


# ---------------------------------------------------------------------------
# the fallback, decided per loop

def test_a_body_without_numba_entry_points_falls_back_and_says_why():
    def f(xs):
        return lax.scan(lambda c, x: (c + fnp.sort(x)[0], c), np.float32(0.0), xs)

    xs = np.random.default_rng(4).standard_normal((5, 4)).astype(np.float32)
    native, python = run_both(f, xs, native=False)
    text = ft.jit(f).lower(xs).as_text()
    assert "sort has no Numba entry point" in text
    assert_trees_close(native, python)
    np.testing.assert_allclose(native[0], np.sort(xs, axis=1)[:, 0].sum(), rtol=1e-6)


def test_complex_bodies_fall_back():
    def f(z, w):
        return lax.fori_loop(0, 3, lambda i, c: c * w, z)

    native, _ = run_both(f, np.complex64(1.0), np.complex64(1 + 1j), native=False)
    np.testing.assert_allclose(native, (1 + 1j) ** 3, rtol=1e-6)


# ---------------------------------------------------------------------------
# random elementwise bodies

_UNARY = {"sin": (fnp.sin, np.sin), "tanh": (fnp.tanh, np.tanh), "exp": (
    lambda v: fnp.exp(-v * v), lambda v: np.exp(-v * v)), "relu": (
    lambda v: fnp.maximum(v, 0.1), lambda v: np.maximum(v, 0.1)), "sq": (
    lambda v: v * v * 0.5, lambda v: v * v * 0.5)}
_BINARY = {"add": lambda c, x: c + x, "mul": lambda c, x: c * x, "sub": lambda c, x: c - x}


@given(st.lists(st.sampled_from(sorted(_UNARY) + sorted(_BINARY)), min_size=1, max_size=5),
       st.integers(0, 6), st.booleans(), st.sampled_from([(), (3,), (2, 3)]))
def test_random_elementwise_bodies(ops, length, reverse, shape):
    def apply(lib, c, x):
        for op in ops:
            c = _BINARY[op](c, x) if op in _BINARY else _UNARY[op][lib](c)
        return c

    xs = np.linspace(-0.8, 0.8, length * max(int(np.prod(shape)), 1)).astype(np.float32)
    xs = xs.reshape((length, *shape))
    c0 = np.full(shape, 0.4, np.float32)

    def f(c0, xs):
        return lax.scan(lambda c, x: (apply(0, c, x), c - x), c0, xs, reverse=reverse)

    native, python = run_both(f, c0, xs)
    assert_trees_close(native, python, rtol=1e-5, atol=1e-6)
    c, ys = c0.astype(np.float64), np.zeros(xs.shape)
    for i in (range(length - 1, -1, -1) if reverse else range(length)):
        ys[i] = c - xs[i]
        c = apply(1, c, xs[i].astype(np.float64))
    np.testing.assert_allclose(native[0], c, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(native[1], ys, rtol=1e-4, atol=1e-5)
    g = ft.jit(ft.grad(lambda c0: fnp.sum(f(c0, xs)[0])))
    g_python = ft.grad(lambda c0: fnp.sum(f(c0, xs)[0]))(c0)  # eager: the reference impls
    np.testing.assert_allclose(g(c0), g_python, rtol=1e-4, atol=1e-5)


def test_readonly_inputs_float64_and_bool_carries(x64):
    w = np.linspace(-1, 1, 9).reshape(3, 3) * 0.5
    w.setflags(write=False)  # a read-only (and float64) constant and carry
    h0 = np.ones(3)
    h0.setflags(write=False)

    def f(w, h0):
        def body(c, _):
            h, flip, n = c
            h = fnp.tanh(w @ h)
            return (h, ~flip, n + np.uint8(250)), h.sum()
        return lax.scan(body, (h0, np.bool_(False), np.uint8(3)), None, length=5)

    native, python = run_both(f, w, h0)
    assert_trees_close(native, python, rtol=1e-12, atol=1e-12)
    h, sums = h0.copy(), []
    for _ in range(5):
        h = np.tanh(w @ h)
        sums.append(h.sum())
    np.testing.assert_allclose(native[0][0], h, rtol=1e-12)
    np.testing.assert_allclose(native[1], sums, rtol=1e-12, atol=1e-12)
    assert native[0][1].dtype == np.bool_ and bool(native[0][1]) is True
    assert native[0][2].dtype == np.uint8 and int(native[0][2]) == (3 + 5 * 250) % 256


CACHE_SCRIPT = """
import numpy as np
import functrace as ft
from functrace import lax
from functrace.compiler import kernel_cache
f = ft.jit(lambda x: lax.fori_loop(0, 100, lambda i, c: c * 0.5 + x, x))
np.testing.assert_allclose(f(np.float32(1.0)), 2.0, rtol=1e-6)
loops = [m.loop for name, m in kernel_cache._modules.items() if name.startswith("ft_loop")]
print(len(loops), sum(sum(fn.stats.cache_hits.values()) for fn in loops),
      sum(sum(fn.stats.cache_misses.values()) for fn in loops))
"""


def test_a_second_process_loads_the_native_loop_from_disk(tmp_path):
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    env = dict(os.environ, FUNCTRACE_CACHE_DIR=str(tmp_path),
               NUMBA_CACHE_DIR=str(tmp_path / "numba"), PYTHONPATH=src)
    runs = [subprocess.run([sys.executable, "-c", CACHE_SCRIPT], env=env, text=True,
                           capture_output=True, timeout=600) for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr
    first, second = (tuple(map(int, r.stdout.split())) for r in runs)
    assert first == (1, 0, 1)   # one loop function, compiled
    assert second == (1, 1, 0)  # loaded from the cache, not compiled


def test_forward_mode_through_a_native_while_and_vmap_of_grad_of_a_scan():
    def f(x):  # x ** 2 ** k until it passes 100: the trip count depends on x
        return lax.while_loop(lambda c: c < 100.0, lambda c: c * c, x)

    def jvp(x):
        return ft.jvp(f, (x,), (np.float32(1.0),))

    native, python = run_both(jvp, np.float32(1.5))
    assert_trees_close(native, python)
    np.testing.assert_allclose(native[0], 1.5 ** 16, rtol=1e-6)  # 1.5 -> 2.25 -> ... -> 656
    np.testing.assert_allclose(native[1], 16 * 1.5 ** 15, rtol=1e-5)

    def loss(w, xs):
        return lax.scan(lambda c, x: (fnp.sin(c * w + x), None), np.float32(0.1), xs)[0]

    xs = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    g = ft.vmap(ft.grad(loss), in_axes=(None, 0))
    native, python = run_both(g, np.float32(0.7), xs)
    assert_trees_close(native, python)
    for row, got in zip(xs, native, strict=True):
        ref = lambda w, row=row: _scalar_rnn(w, row.astype(np.float64))  # noqa: E731
        np.testing.assert_allclose(got, (ref(0.7 + 1e-6) - ref(0.7 - 1e-6)) / 2e-6,
                                   rtol=1e-3, atol=1e-4)


def _scalar_rnn(w, row):
    c = 0.1
    for x in row:
        c = np.sin(c * w + x)
    return c


_INT_OPS = {"add": lambda c, k: c + k, "mul": lambda c, k: c * k, "xor": lambda c, k: c ^ k,
            "shift": lambda c, k: c // (k % 4 + 1), "mod": lambda c, k: c % (k % 7 + 2)}


@given(st.lists(st.tuples(st.sampled_from(sorted(_INT_OPS)), st.integers(-20, 20)),
                min_size=1, max_size=4), st.integers(0, 30), st.integers(-50, 50))
def test_random_integer_while_bodies(ops, limit, start):
    def body(c):
        n, v = c
        for op, k in ops:
            v = _INT_OPS[op](v, np.int32(k))
        return n + 1, v

    def f(v):
        return lax.while_loop(lambda c: c[0] < limit, body, (np.int32(0), v))

    native, python = run_both(f, np.int32(start))
    assert_trees_close(native, python)
    v = np.int32(start)
    with np.errstate(over="ignore"):
        for _ in range(limit):
            for op, k in ops:  # jnp semantics: // and % round toward -inf, as NumPy's
                v = np.int32(_INT_OPS[op](v, np.int32(k)))
    assert int(native[0]) == max(limit, 0) and int(native[1]) == int(v)


def test_a_loop_numba_cannot_compile_runs_as_a_python_loop_with_a_warning(monkeypatch):
    def broken(em, eqn, env, lines, ind):  # code that Numba cannot type
        for v in eqn.outvars:
            em.bind(env, v, f"{em.read(env, eqn.inputs[0]).expr}.no_such_method()", lines, ind)

    monkeypatch.setitem(native_rules.RULES, sort_p, broken)

    def f(xs):
        return lax.scan(lambda c, x: (c + fnp.sort(x)[0], c), np.float32(0.0), xs)

    xs = np.random.default_rng(6).standard_normal((4, 3)).astype(np.float32)
    g = ft.jit(f)
    assert NATIVE in g.lower(xs).as_text()
    with pytest.warns(FunctraceWarning, match="did not compile"):
        c, ys = g(xs)
    np.testing.assert_allclose(c, np.sort(xs, axis=1)[:, 0].sum(), rtol=1e-6)
    c2, _ = g(xs)  # later calls take the Python loop without trying again
    np.testing.assert_allclose(c2, c)
