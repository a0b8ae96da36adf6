"""The IR, the printer, make_jaxpr and the tracing errors."""

import numpy as np
import pytest

import functrace as ft
from functrace import lax
from functrace.core.jaxpr import JaxprTypeError, typecheck
from functrace.core.trace import eval_jaxpr
from functrace.errors import ConcretizationError, UnexpectedTracerError


def f(x, y, z):
    q = lax.add(x, y)
    return lax.mul(q, z)


LESSON_JAXPR = """\
{ lambda ; a:f32[] b:f32[] c:f32[]. let
    d:f32[] = add a b
    e:f32[] = mul d c
  in (e,) }"""


def test_lesson_jaxpr_prints_exactly_like_jax():
    assert str(ft.make_jaxpr(f)(-2.0, 5.0, -4.0)) == LESSON_JAXPR


def test_make_jaxpr_exposes_jaxpr_consts_and_avals():
    closed = ft.make_jaxpr(f)(-2.0, 5.0, -4.0)
    assert [str(a.str_short()) for a in closed.in_avals] == ["f32[]"] * 3
    assert [a.str_short() for a in closed.out_avals] == ["f32[]"]
    assert closed.consts == []
    assert [e.primitive.name for e in closed.jaxpr.eqns] == ["add", "mul"]
    assert eval_jaxpr(closed.jaxpr, closed.consts, 1.0, 2.0, 3.0)[0] == 9.0


def test_consts_print_before_the_semicolon():
    w = np.arange(3, dtype=np.float32)
    closed = ft.make_jaxpr(lambda x: lax.mul(x, w))(np.ones(3, np.float32))
    text = str(closed)
    assert text.startswith("{ lambda a:f32[3]; b:f32[3]. let")
    assert "c:f32[3] = mul b a" in text
    assert closed.consts[0] is w


def test_literals_and_params_print_in_jax_format():
    closed = ft.make_jaxpr(lambda x: lax.reduce_sum(lax.mul(x, 2.0), (0,)))(
        np.ones(3, np.float32))
    text = str(closed)
    assert "mul a 2.0:f32[]" in text
    assert "reduce_sum[axes=(0,) out_sharding=None] b" in text


def test_multiple_outputs_print_comma_separated():
    closed = ft.make_jaxpr(lambda x: (lax.neg(x), lax.exp(x)))(1.0)
    assert str(closed).endswith("in (b, c) }")


def test_grad_program_shows_forward_then_backward():
    closed = ft.make_jaxpr(ft.grad(f, argnums=(0, 1, 2)))(-2.0, 5.0, -4.0)
    prims = [e.primitive.name for e in closed.eqns]
    assert prims[:2] == ["add", "mul"]          # forward pass first
    assert prims[2:] == ["mul", "mul"]          # backward: dq = z * 1, dz = q * 1
    typecheck(closed)
    out = eval_jaxpr(closed.jaxpr, closed.consts, -2.0, 5.0, -4.0)
    assert [float(o) for o in out] == [-4.0, -4.0, 3.0]


def test_lesson_gradient_values_and_dtype():
    g = ft.grad(f, argnums=(0, 1, 2))(-2.0, 5.0, -4.0)
    assert tuple(float(v) for v in g) == (-4.0, -4.0, 3.0)
    assert all(v.dtype == np.float32 for v in g)


def test_typecheck_rejects_a_wrong_aval():
    closed = ft.make_jaxpr(f)(1.0, 2.0, 3.0)
    eqn = closed.jaxpr.eqns[0]
    bad = ft.core.avals.ShapedArray((2,), np.float32)
    eqn.outvars[0].aval = bad
    with pytest.raises(JaxprTypeError, match="add"):
        typecheck(closed)


def test_bool_of_abstract_tracer_names_argument_line_and_fixes():
    def g(x, flag):
        if lax.gt(flag, 0.0):
            return x
        return lax.neg(x)

    with pytest.raises(ConcretizationError) as info:
        ft.make_jaxpr(g)(1.0, 2.0)
    msg = str(info.value)
    assert "'flag'" in msg and "'x'" not in msg
    assert "test_core.py" in msg and "static_argnums" in msg and "where" in msg


def test_static_argnums_allow_python_control_flow():
    def g(x, n):
        for _ in range(n):
            x = lax.mul(x, x)
        return x

    closed = ft.make_jaxpr(g, static_argnums=1)(2.0, 3)
    assert [e.primitive.name for e in closed.eqns] == ["mul"] * 3


def test_control_flow_on_values_works_under_grad():
    def g(x):
        return lax.mul(x, x) if x > 0 else lax.neg(x)

    assert float(ft.grad(g)(3.0)) == 6.0
    assert float(ft.grad(g)(-3.0)) == -1.0


def test_forward_pass_is_not_recomputed_by_grad():
    from functrace.core.trace import impl_rules
    from functrace.lax.elementwise import sin_p

    calls = []
    orig = impl_rules[sin_p]
    impl_rules[sin_p] = lambda x: calls.append(1) or orig(x)
    try:
        ft.grad(lambda x: lax.sin(x))(0.5)
    finally:
        impl_rules[sin_p] = orig
    assert len(calls) == 1


def test_leaked_tracer_is_reported():
    leaked = []

    def g(x):
        leaked.append(x)
        return x

    ft.make_jaxpr(g)(1.0)
    with pytest.raises(UnexpectedTracerError, match="leaked"):
        lax.add(leaked[0], 1.0)


def test_closure_over_outer_tracer_becomes_a_const():
    def outer(x):
        def inner(y):
            return lax.mul(x, y)
        return ft.grad(inner)(3.0)

    # d/dx of (d/dy x*y) = d/dx x = 1
    assert float(ft.grad(outer)(2.0)) == 1.0
    closed = ft.make_jaxpr(outer)(2.0)
    typecheck(closed)


def test_eager_lax_returns_numpy_arrays():
    out = lax.add(np.float32(1.0), 2.0)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out == 3.0


def test_float64_is_canonicalised_without_x64():
    out = lax.exp(np.ones(2))
    assert out.dtype == np.float32


def test_x64_flag_accepts_both_spellings(x64):
    assert lax.exp(np.ones(2)).dtype == np.float64
    ft.config.update("jax_enable_x64", False)
    assert lax.exp(np.ones(2)).dtype == np.float32
    with pytest.raises(Exception, match="unknown flag"):
        ft.config.update("enable_x65", True)
