"""``custom_vmap`` under ``jit``: the compiler inlines the function's body (the plan has no
``custom_vmap_call`` step and the body fuses with its surroundings), and ``vmap`` inside
or outside ``jit`` still applies the user's rule. Values against NumPy."""

import numpy as np

import functrace as ft
import functrace.numpy as fnp
from functrace.custom_batching import custom_vmap, sequential_vmap

X = np.arange(3.0, dtype=np.float32)
Y = np.arange(1.0, 4.0, dtype=np.float32)
SCALE = np.array([2.0, 3.0, 4.0], np.float32)


def _f():
    @custom_vmap
    def f(x, y):
        return fnp.sin(x) * SCALE + y  # closes over an array (a constant of its body)

    @f.def_vmap
    def rule(axis_size, in_batched, xs, ys):
        # not f's math, so that the tests see which one ran
        ys = ys if in_batched[1] else fnp.broadcast_to(ys, xs.shape)
        return xs * ys, True

    return f


def test_jit_inlines_the_body():
    f = _f()
    jf = ft.jit(lambda x, y: f(x, y) * 2.0)
    np.testing.assert_allclose(jf(X, Y), (np.sin(X) * SCALE + Y) * 2, rtol=1e-6)
    text = jf.lower(X, Y).as_text()
    assert "custom_vmap_call" not in text
    assert "fused sin" in text  # the body fused with the caller's multiply


def test_vmap_inside_and_outside_jit_uses_the_rule():
    f = _f()
    xs = np.stack([X, X + 1])
    ys = np.stack([Y, Y * 2])
    want = xs * ys
    np.testing.assert_allclose(ft.jit(ft.vmap(f))(xs, ys), want)
    np.testing.assert_allclose(ft.vmap(ft.jit(f))(xs, ys), want)
    np.testing.assert_allclose(ft.jit(ft.vmap(ft.jit(f)))(xs, ys), want)
    # an unbatched argument reaches the rule as such
    np.testing.assert_allclose(ft.jit(ft.vmap(f, in_axes=(0, None)))(xs, Y), xs * Y)


def test_jvp_under_jit_and_vmap():
    f = _f()
    primal, tangent = ft.jit(lambda x, y: ft.jvp(f, (x, y), (Y, Y)))(X, Y)
    np.testing.assert_allclose(primal, np.sin(X) * SCALE + Y, rtol=1e-6)
    np.testing.assert_allclose(tangent, np.cos(X) * SCALE * Y + Y, rtol=1e-6)
    xs, ys = np.stack([X, X]), np.stack([Y, Y])
    _, t = ft.jit(ft.vmap(lambda x, y: ft.jvp(f, (x, y), (y, y))))(xs, ys)
    np.testing.assert_allclose(t, ys * ys + xs * ys)  # the JVP of the rule xs * ys


def test_sequential_vmap_under_jit():
    @sequential_vmap
    def g(x):
        return fnp.sum(x) * x

    xs = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    want = np.stack([r.sum() * r for r in xs])
    np.testing.assert_allclose(ft.jit(ft.vmap(g))(xs), want)
    np.testing.assert_allclose(ft.jit(g)(xs[1]), want[1])
