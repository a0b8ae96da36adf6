"""custom_jvp / custom_vjp staged as equations that keep their rules (and issue 14's
custom-rule bugs: None cotangents for subtrees, rules closing over vmap tracers,
functools.partial bodies)."""

import functools

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace.core.jaxpr import typecheck
from functrace.errors import TransformError


def _sin_with_fake_jvp():
    @ft.custom_jvp
    def f(x):
        return fnp.sin(x)

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return f(x), 10.0 * t  # deliberately not cos(x): proves the rule is used

    return f


def _mul_with_fake_vjp():
    @ft.custom_vjp
    def g(x, y):
        return x * y

    g.defvjp(lambda x, y: (g(x, y), (x, y)), lambda r, ct: (ct * r[1] + 100.0, ct * r[0]))
    return g


def test_make_jaxpr_shows_custom_jvp_call_and_the_staged_rule_is_used():
    f = _sin_with_fake_jvp()
    closed = ft.make_jaxpr(f)(np.float32(0.3))
    text = str(closed)
    assert "custom_jvp_call[" in text and "name=f" in text and "jvp=f_jvp" in text
    assert "sin" in text  # the primal body is inside
    typecheck(closed)

    def staged(x):
        return ft.eval_jaxpr(closed.jaxpr, closed.consts, x)[0]

    assert float(ft.grad(staged)(0.3)) == 10.0
    np.testing.assert_allclose(ft.vmap(ft.grad(staged))(np.float32([0.1, 0.2])), [10.0, 10.0])


@pytest.mark.parametrize("wrap", ["grad", "jit_grad", "grad_jit", "vmap_grad", "scan_grad"])
def test_custom_jvp_survives_every_composition(wrap):
    f = _sin_with_fake_jvp()
    x = np.float32(0.3)
    if wrap == "grad":
        g = ft.grad(f)(x)
    elif wrap == "jit_grad":
        g = ft.jit(ft.grad(f))(x)
    elif wrap == "grad_jit":
        g = ft.grad(ft.jit(f))(x)
    elif wrap == "vmap_grad":
        g = ft.vmap(ft.grad(f))(np.float32([x, x]))[1]
    else:  # the rule is staged inside a scan body, then differentiated
        g = ft.grad(lambda v: lax.scan(lambda c, _: (f(c), None), v, None, length=1)[0])(x)
    assert float(g) == 10.0
    np.testing.assert_allclose(ft.jit(f)(x), np.sin(x), rtol=1e-6)


@pytest.mark.parametrize("wrap", ["grad", "jit_grad", "grad_jit", "vmap_grad", "scan_grad"])
def test_custom_vjp_survives_every_composition(wrap):
    g = _mul_with_fake_vjp()
    x, y = np.float32(3.0), np.float32(2.0)
    loss = lambda a, b: g(a, b)  # noqa: E731
    if wrap == "grad":
        gx = ft.grad(loss)(x, y)
    elif wrap == "jit_grad":
        gx = ft.jit(ft.grad(loss))(x, y)
    elif wrap == "grad_jit":
        gx = ft.grad(ft.jit(loss))(x, y)
    elif wrap == "vmap_grad":
        gx = ft.vmap(ft.grad(loss), (0, None))(np.float32([x, x]), y)[0]
    else:
        gx = ft.grad(lambda a: lax.scan(lambda c, _: (g(c, y), None), a, None, length=1)[0])(x)
    assert float(gx) == 2.0 + 100.0
    assert "custom_vjp_call[" in str(ft.make_jaxpr(loss)(x, y))


def test_jit_inlines_custom_bodies_so_they_fuse():
    f = _sin_with_fake_jvp()
    lowered = ft.jit(lambda x: f(x) * 2.0).lower(np.ones(4, np.float32))
    assert all(e.primitive.name != "custom_jvp_call" for e in lowered.jaxpr.eqns)
    np.testing.assert_allclose(ft.jit(lambda x: f(x) * 2.0)(np.ones(4, np.float32)),
                               2 * np.sin(np.ones(4)), rtol=1e-6)


def test_nondiff_argnums_and_nondiff_argnames():
    @functools.partial(ft.custom_jvp, nondiff_argnums=(0,))
    def scale(k, x):
        return k * x

    @scale.defjvp
    def scale_jvp(k, primals, tangents):
        return scale(k, primals[0]), k * 7.0 * tangents[0]

    assert float(ft.grad(lambda x: scale(3.0, x))(1.0)) == 21.0
    assert float(ft.jit(ft.grad(lambda x: scale(3.0, x)))(1.0)) == 21.0

    @functools.partial(ft.custom_vjp, nondiff_argnames=("k",))
    def power(x, k):
        return x ** k

    power.defvjp(lambda x, k: (power(x, k), x), lambda k, x, g: (g * k * x ** (k - 1),))
    np.testing.assert_allclose(ft.grad(lambda x: power(x, k=3))(2.0), 12.0)
    np.testing.assert_allclose(ft.grad(lambda x: power(x, 3))(2.0), 12.0)


def test_issue14_item11_bwd_none_for_a_subtree_means_zeros():
    @ft.custom_vjp
    def f(tree, y):
        return tree["a"] * tree["b"] + y

    def bwd(res, g):
        a, _ = res
        return {"a": g * 5.0, "b": None}, None  # zeros for tree["b"] and for y

    f.defvjp(lambda tree, y: (f(tree, y), (tree["a"], tree["b"])), bwd)
    tree = {"a": np.float32(2.0), "b": np.float32(3.0)}
    gt, gy = ft.grad(f, argnums=(0, 1))(tree, np.float32(1.0))
    assert float(gt["a"]) == 5.0 and float(gt["b"]) == 0.0 and float(gy) == 0.0
    gt = ft.jit(ft.grad(f))(tree, np.float32(1.0))
    assert float(gt["a"]) == 5.0 and float(gt["b"]) == 0.0


def test_issue14_item12_jvp_rule_closing_over_a_vmap_tracer():
    def outer(y):
        @ft.custom_jvp
        def f(x):
            return x * y

        @f.defjvp
        def f_jvp(primals, tangents):
            return f(primals[0]), tangents[0] * y * 2.0  # d/dx is y; the rule says 2y

        return ft.jvp(f, (np.float32(1.0),), (np.float32(1.0),))

    primal, tangent = ft.vmap(outer)(np.float32([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(primal, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(tangent, [2.0, 4.0, 6.0])


def test_issue14_item14_custom_jvp_of_a_partial():
    def poly(x, k):
        return x ** k

    f = ft.custom_jvp(functools.partial(poly, k=3))
    f.defjvp(lambda p, t: (f(p[0]), 3.0 * p[0] ** 2 * t[0]))
    np.testing.assert_allclose(ft.grad(f)(2.0), 12.0)
    assert "custom_jvp_call[" in str(ft.make_jaxpr(f)(2.0))


def test_custom_vjp_forward_mode_error_and_numpy_body():
    @ft.custom_vjp
    def h(x):
        return np.asarray(x) * 2.0 if not isinstance(x, ft.core.trace.Tracer) else x * 2.0

    h.defvjp(lambda x: (h(x), None), lambda _, g: (g * 2.0,))
    np.testing.assert_allclose(ft.grad(lambda v: h(v))(1.0), 2.0)
    with pytest.raises(TransformError, match="forward-mode"):
        ft.jvp(h, (1.0,), (1.0,))
