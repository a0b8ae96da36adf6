"""The ``jit`` call primitive: a jitted function applied to traced values binds one
``jit`` equation holding its program (issue 9 item 1).

Printed forms are JAX 0.10.2's output for the same functions (JAX is the oracle);
values and derivatives come from math, finite differences and loop references.
"""

from functools import partial

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace.compiler import call
from functrace.compiler.call import jit_p
from functrace.core.avals import ShapedArray
from functrace.core.jaxpr import typecheck

F32 = np.float32


def _counted(fn):
    """``fn`` with a Python-side trace counter (``.count``)."""
    def wrapped(*args, **kwargs):
        wrapped.count += 1
        return fn(*args, **kwargs)
    wrapped.count = 0
    wrapped.__name__ = fn.__name__
    return wrapped


def _jit_eqns(jaxpr):
    return [e for e in jaxpr.eqns if e.primitive is jit_p]


# ---------------------------------------------------------------------------
# printed forms: JAX 0.10.2's, verbatim

def f(y):
    return y * 2


_sinx = ft.jit(lambda y: fnp.sin(y) * y)


def _h(a, b):
    return {"s": a["x"] * b, "t": (a["y"], b + 1.0)}


@partial(ft.jit, static_argnums=1)
def p(x, n):
    return x ** n


def _closure(x):
    c = fnp.sin(x)
    return ft.jit(lambda y: y * c)(x)


_big = ft.jit(lambda y: fnp.sin(fnp.sin(fnp.sin(fnp.sin(fnp.sin(fnp.sin(fnp.sin(fnp.sin(
    fnp.sin(fnp.sin(fnp.sin(y))))))))))))

def _eleven_sines(c, _):
    for _ in range(11):
        c = fnp.sin(c)
    return c, None


PRINTED = {
    "named": (lambda: ft.make_jaxpr(lambda x: ft.jit(f)(x) + 1)(1.0), """\
{ lambda ; a:f32[]. let
    b:f32[] = jit[
      name=f
      jaxpr={ lambda ; a:f32[]. let b:f32[] = mul a 2.0:f32[] in (b,) }
    ] a
    c:f32[] = add b 1.0:f32[]
  in (c,) }"""),
    "vmap": (lambda: ft.make_jaxpr(ft.vmap(_sinx))(fnp.ones(3)), """\
{ lambda ; a:f32[3]. let
    b:f32[3] = jit[
      name=<lambda>
      jaxpr={ lambda ; a:f32[3]. let
          c:f32[3] = sin a
          b:f32[3] = mul c a
        in (b,) }
    ] a
  in (b,) }"""),
    # a program used twice is printed once, above, by name
    "shared": (lambda: ft.make_jaxpr(lambda x: _sinx(x) + _sinx(x + 1.0))(1.0), """\
let lambda = { lambda ; a:f32[]. let
    b:f32[] = sin a
    c:f32[] = mul b a
  in (c,) } in
{ lambda ; d:f32[]. let
    e:f32[] = jit[name=<lambda> jaxpr=lambda] d
    f:f32[] = add d 1.0:f32[]
    g:f32[] = jit[name=<lambda> jaxpr=lambda] f
    h:f32[] = add e g
  in (h,) }"""),
    "nested": (lambda: ft.make_jaxpr(ft.jit(ft.jit(_sinx)))(1.0), """\
{ lambda ; a:f32[]. let
    b:f32[] = jit[
      name=<lambda>
      jaxpr={ lambda ; a:f32[]. let
          b:f32[] = jit[
            name=<lambda>
            jaxpr={ lambda ; a:f32[]. let
                b:f32[] = jit[
                  name=<lambda>
                  jaxpr={ lambda ; a:f32[]. let
                      c:f32[] = sin a
                      b:f32[] = mul c a
                    in (b,) }
                ] a
              in (b,) }
          ] a
        in (b,) }
    ] a
  in (b,) }"""),
    "pytree": (lambda: ft.make_jaxpr(ft.jit(_h))({"x": 1.0, "y": fnp.ones(2)}, 2.0), """\
{ lambda ; a:f32[] b:f32[2] c:f32[]. let
    d:f32[] f:f32[2] e:f32[] = jit[
      name=_h
      jaxpr={ lambda ; a:f32[] b:f32[2] c:f32[]. let
          d:f32[] = mul a c
          e:f32[] = add c 1.0:f32[]
        in (d, b, e) }
    ] a b c
  in (d, f, e) }"""),
    "static": (lambda: ft.make_jaxpr(lambda x: p(x, 3))(1.0), """\
{ lambda ; a:f32[]. let
    b:f32[] = jit[
      name=p
      jaxpr={ lambda ; a:f32[]. let b:f32[] = integer_pow[y=3] a in (b,) }
    ] a
  in (b,) }"""),
    "literal": (lambda: ft.make_jaxpr(lambda x: ft.jit(lambda a, b: a + b)(x, 2.0))(1.0), """\
{ lambda ; a:f32[]. let
    b:f32[] = jit[
      name=<lambda>
      jaxpr={ lambda ; a:f32[] c:f32[]. let b:f32[] = add a c in (b,) }
    ] a 2.0:f32[]
  in (b,) }"""),
    "passthrough": (lambda: ft.make_jaxpr(lambda x: ft.jit(lambda a: (a, a + 1))(x))(1.0), """\
{ lambda ; a:f32[]. let
    c:f32[] b:f32[] = jit[
      name=<lambda>
      jaxpr={ lambda ; a:f32[]. let b:f32[] = add a 1.0:f32[] in (a, b) }
    ] a
  in (c, b) }"""),
    # tracers a jitted function closes over become leading operands
    "closure": (lambda: ft.make_jaxpr(_closure)(F32(1.0)), """\
{ lambda ; a:f32[]. let
    b:f32[] = sin a
    c:f32[] = jit[
      name=<lambda>
      jaxpr={ lambda ; b:f32[] a:f32[]. let c:f32[] = mul a b in (c,) }
    ] b a
  in (c,) }"""),
    "jvp": (lambda: ft.make_jaxpr(lambda x, t: ft.jvp(_sinx, (x,), (t,)))(1.0, 1.0), """\
{ lambda ; a:f32[] b:f32[]. let
    c:f32[] d:f32[] = jit[
      name=<lambda>
      jaxpr={ lambda ; a:f32[] b:f32[]. let
          e:f32[] = sin a
          f:f32[] = cos a
          g:f32[] = mul b f
          c:f32[] = mul e a
          h:f32[] = mul g a
          i:f32[] = mul e b
          d:f32[] = add_any h i
        in (c, d) }
    ] a b
  in (c, d) }"""),
    # the forward jit returns the residuals, the backward one takes them
    "grad": (lambda: ft.make_jaxpr(ft.grad(_sinx))(1.0), """\
{ lambda ; a:f32[]. let
    _:f32[] b:f32[] c:f32[] = jit[
      name=<lambda>
      jaxpr={ lambda ; a:f32[]. let
          c:f32[] = sin a
          b:f32[] = cos a
          _:f32[] = mul c a
        in (_, b, c) }
    ] a
    d:f32[] = jit[
      name=<lambda>
      jaxpr={ lambda ; b:f32[] a:f32[] c:f32[] e:f32[]. let
          f:f32[] = mul c e
          g:f32[] = mul e a
          h:f32[] = mul g b
          d:f32[] = add_any f h
        in (d,) }
    ] b a c 1.0:f32[]
  in (d,) }"""),
    "jit_grad_jit": (lambda: ft.make_jaxpr(ft.jit(ft.grad(_sinx)))(F32(1.0)), """\
{ lambda ; a:f32[]. let
    b:f32[] = jit[
      name=<lambda>
      jaxpr={ lambda ; a:f32[]. let
          c:f32[] d:f32[] e:f32[] = jit[
            name=<lambda>
            jaxpr={ lambda ; a:f32[]. let
                e:f32[] = sin a
                d:f32[] = cos a
                c:f32[] = mul e a
              in (c, d, e) }
          ] a
          b:f32[] = jit[
            name=<lambda>
            jaxpr={ lambda ; d:f32[] a:f32[] e:f32[] f:f32[]. let
                g:f32[] = mul e f
                h:f32[] = mul f a
                i:f32[] = mul h d
                b:f32[] = add_any g i
              in (b,) }
          ] d a e 1.0:f32[]
        in (b,) }
    ] a
  in (b,) }"""),
    "scan": (lambda: ft.make_jaxpr(lambda x: lax.scan(
        lambda c, _: (ft.jit(fnp.sin)(c), None), x, None, length=3))(1.0), """\
{ lambda ; a:f32[]. let
    b:f32[] = scan[
      jaxpr={ lambda ; c:f32[]. let
          d:f32[] = jit[
            name=sin
            jaxpr={ lambda ; c:f32[]. let d:f32[] = sin c in (d,) }
          ] c
        in (d,) }
      length=3
      num_carry=1
      num_consts=0
      reverse=False
      unroll=1
    ] a
  in (b,) }"""),
    "cond": (lambda: ft.make_jaxpr(lambda x: lax.cond(
        x > 0, ft.jit(fnp.sin), ft.jit(fnp.cos), x))(F32(1.0)), """\
{ lambda ; a:f32[]. let
    b:bool[] = gt a 0.0:f32[]
    c:i32[] = convert_element_type[new_dtype=int32 weak_type=False] b
    d:f32[] = cond[
      branches=(
        { lambda ; e:f32[]. let
            f:f32[] = jit[
              name=cos
              jaxpr={ lambda ; e:f32[]. let f:f32[] = cos e in (f,) }
            ] e
          in (f,) }
        { lambda ; g:f32[]. let
            h:f32[] = jit[
              name=sin
              jaxpr={ lambda ; g:f32[]. let h:f32[] = sin g in (h,) }
            ] g
          in (h,) }
      )
    ] c a
  in (d,) }"""),
    "vmap_unbatched": (lambda: ft.make_jaxpr(ft.vmap(
        lambda x, y: ft.jit(lambda a, b: (a * b, b + 1))(x, y), in_axes=(0, None)))(
            np.ones(3, F32), F32(2.0)), """\
{ lambda ; a:f32[3] b:f32[]. let
    c:f32[3] d:f32[] = jit[
      name=<lambda>
      jaxpr={ lambda ; a:f32[3] b:f32[]. let
          c:f32[3] = mul a b
          d:f32[] = add b 1.0:f32[]
        in (c, d) }
    ] a b
    e:f32[3] = broadcast_in_dim d
  in (c, e) }"""),
    "unused": (lambda: ft.make_jaxpr(
        lambda x: ft.jit(lambda y: (fnp.sin(y), y * 2))(x)[1])(1.0), """\
{ lambda ; a:f32[]. let
    _:f32[] b:f32[] = jit[
      name=<lambda>
      jaxpr={ lambda ; a:f32[]. let
          _:f32[] = sin a
          b:f32[] = mul a 2.0:f32[]
        in (_, b) }
    ] a
  in (b,) }"""),
    # a program of more than 10 equations is printed above, by name, even if used once
    "big": (lambda: ft.make_jaxpr(lambda x: _big(x))(1.0), """\
let lambda = { lambda ; a:f32[]. let
    b:f32[] = sin a
    c:f32[] = sin b
    d:f32[] = sin c
    e:f32[] = sin d
    f:f32[] = sin e
    g:f32[] = sin f
    h:f32[] = sin g
    i:f32[] = sin h
    j:f32[] = sin i
    k:f32[] = sin j
    l:f32[] = sin k
  in (l,) } in
{ lambda ; m:f32[]. let n:f32[] = jit[name=<lambda> jaxpr=lambda] m in (n,) }"""),
    # under a staging trace a call on constants is staged too (as in JAX)
    "constant_args": (lambda: ft.make_jaxpr(lambda x: x + ft.jit(fnp.sin)(2.0))(1.0), """\
{ lambda ; a:f32[]. let
    b:f32[] = jit[
      name=sin
      jaxpr={ lambda ; c:f32[]. let b:f32[] = sin c in (b,) }
    ] 2.0:f32[]
    d:f32[] = add a b
  in (d,) }"""),
    # so is any nested program of more than 10 equations, named "jaxpr" when its equation
    # has no name parameter
    "scan_big_body": (lambda: ft.make_jaxpr(
        lambda x: lax.scan(_eleven_sines, x, None, length=2)[0])(F32(1.0)), """\
let jaxpr = { lambda ; a:f32[]. let
    b:f32[] = sin a
    c:f32[] = sin b
    d:f32[] = sin c
    e:f32[] = sin d
    f:f32[] = sin e
    g:f32[] = sin f
    h:f32[] = sin g
    i:f32[] = sin h
    j:f32[] = sin i
    k:f32[] = sin j
    l:f32[] = sin k
  in (l,) } in
{ lambda ; m:f32[]. let
    n:f32[] = scan[
      jaxpr=jaxpr
      length=2
      num_carry=1
      num_consts=0
      reverse=False
      unroll=1
    ] m
  in (n,) }"""),
}


@pytest.mark.parametrize("case", sorted(PRINTED))
def test_make_jaxpr_prints_jit_as_jax(case):
    make, want = PRINTED[case]
    closed = make()
    assert str(closed) == want
    typecheck(closed)


# ---------------------------------------------------------------------------
# values and derivatives

def _fd(fun, x, eps=1e-6):
    """Central finite differences of a scalar function of a float64 array."""
    x = np.asarray(x, np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        g[i] = (float(fun(x + d)) - float(fun(x - d))) / (2 * eps)
    return g


def _net(w, x):
    return fnp.sum(fnp.tanh(w @ x) ** 2)


def test_grad_of_jit_matches_math_and_finite_differences(x64):
    g = ft.grad(ft.jit(lambda y: fnp.sin(y) * y))
    np.testing.assert_allclose(g(0.7), np.cos(0.7) * 0.7 + np.sin(0.7), rtol=1e-12)
    rng = np.random.default_rng(0)
    w, x = rng.normal(size=(3, 4)), rng.normal(size=4)
    gw = ft.grad(ft.jit(_net))(w, x)
    np.testing.assert_allclose(gw, _fd(lambda w_: _net(w_, x), w), rtol=1e-6, atol=1e-9)
    gx = ft.grad(ft.jit(_net), argnums=1)(w, x)
    np.testing.assert_allclose(gx, _fd(lambda x_: _net(w, x_), x), rtol=1e-6, atol=1e-9)


def test_eager_grad_of_jit_uses_compiled_programs():
    # eager grad (the tape) linearizes the jit equation: forward and backward each run
    # one executable, kept on the program
    jf = ft.jit(lambda y: fnp.sum(fnp.exp(y) * y))
    x = np.linspace(-1, 1, 5).astype(F32)
    v, g = ft.value_and_grad(jf)(x)
    np.testing.assert_allclose(v, np.sum(np.exp(x) * x), rtol=1e-6)
    np.testing.assert_allclose(g, np.exp(x) * (x + 1), rtol=1e-6)
    key = next(iter(jf._traced))
    memo = jf._traced[key][0].memo
    assert any(isinstance(k, tuple) and k[0] == "jvp" for k in memo)


def test_jvp_of_jit_matches_math():
    jf = ft.jit(lambda y: fnp.sin(y) * y)
    y, t = ft.jvp(jf, (F32(0.3),), (F32(2.0),))
    np.testing.assert_allclose(y, np.sin(0.3) * 0.3, rtol=1e-6)
    np.testing.assert_allclose(t, 2.0 * (np.cos(0.3) * 0.3 + np.sin(0.3)), rtol=1e-6)


def test_vmap_of_jit_matches_a_loop():
    jf = ft.jit(lambda w, x: fnp.tanh(w @ x) + 1.0)
    rng = np.random.default_rng(1)
    w, xs = rng.normal(size=(3, 4)).astype(F32), rng.normal(size=(5, 4)).astype(F32)
    got = ft.vmap(jf, in_axes=(None, 0))(w, xs)
    want = np.stack([np.tanh(w @ x) + 1.0 for x in xs])
    np.testing.assert_allclose(got, want, rtol=1e-5)
    # the batched axis need not be the leading one
    got = ft.vmap(jf, in_axes=(None, 1), out_axes=1)(w, xs.T)
    np.testing.assert_allclose(got, want.T, rtol=1e-5)


def test_jit_of_jit_and_jit_of_grad_of_jit():
    inner = ft.jit(lambda y: fnp.sin(y) * y)
    np.testing.assert_allclose(ft.jit(ft.jit(inner))(F32(0.4)), np.sin(0.4) * 0.4, rtol=1e-6)
    np.testing.assert_allclose(ft.jit(ft.grad(inner))(F32(0.4)),
                               np.cos(0.4) * 0.4 + np.sin(0.4), rtol=1e-6)
    # second derivative through two levels of jit
    d2 = ft.grad(ft.grad(ft.jit(lambda y: fnp.sin(y) * y)))(0.4)
    np.testing.assert_allclose(d2, 2 * np.cos(0.4) - 0.4 * np.sin(0.4), rtol=1e-5)


def test_vmap_of_grad_of_jit_and_grad_of_vmap_of_jit():
    jf = ft.jit(lambda y: fnp.sin(y) * y)
    xs = np.linspace(-1, 1, 4).astype(F32)
    np.testing.assert_allclose(ft.vmap(ft.grad(jf))(xs), np.cos(xs) * xs + np.sin(xs),
                               rtol=1e-5)
    g = ft.grad(lambda v: fnp.sum(ft.vmap(jf)(v)))(xs)
    np.testing.assert_allclose(g, np.cos(xs) * xs + np.sin(xs), rtol=1e-5)


def test_jit_inside_scan_and_cond_bodies(x64):
    step = ft.jit(lambda c, x: fnp.sin(c) * x + c)

    def scanned(c0, xs):
        return lax.scan(lambda c, x: (step(c, x), c), c0, xs)[0]

    xs = np.linspace(0.1, 0.5, 4)

    def ref(c0):
        c = c0
        for x in xs:
            c = np.sin(c) * x + c
        return c

    np.testing.assert_allclose(scanned(0.3, xs), ref(0.3), rtol=1e-12)
    np.testing.assert_allclose(ft.jit(scanned)(0.3, xs), ref(0.3), rtol=1e-12)
    np.testing.assert_allclose(ft.grad(scanned)(0.3, xs), _fd(ref, 0.3), rtol=1e-6)

    def branchy(x):
        return lax.cond(x > 0, ft.jit(lambda v: v * fnp.exp(v)), ft.jit(fnp.cos), x)

    for x in (0.5, -0.5):
        want = x * np.exp(x) if x > 0 else np.cos(x)
        dwant = (1 + x) * np.exp(x) if x > 0 else -np.sin(x)
        np.testing.assert_allclose(ft.jit(branchy)(x), want, rtol=1e-12)
        np.testing.assert_allclose(ft.grad(branchy)(x), dwant, rtol=1e-12)
        np.testing.assert_allclose(ft.jit(ft.grad(branchy))(x), dwant, rtol=1e-12)


def test_pytree_in_and_out_under_grad_and_vmap():
    jh = ft.jit(_h)
    a = {"x": F32(3.0), "y": np.arange(2, dtype=F32)}
    out = ft.vmap(jh, in_axes=(None, 0))(a, np.array([1.0, 2.0], F32))
    np.testing.assert_allclose(out["s"], [3.0, 6.0])
    np.testing.assert_allclose(out["t"][0], np.broadcast_to(np.arange(2.0), (2, 2)))
    np.testing.assert_allclose(out["t"][1], [2.0, 3.0])

    def loss(a, b):
        o = jh(a, b)
        return o["s"] * o["t"][1] + fnp.sum(o["t"][0] ** 2)

    ga, gb = ft.grad(loss, argnums=(0, 1))(a, F32(2.0))
    # s*t1 = x*b*(b+1): d/dx = b(b+1), d/db = x(2b+1); sum(y^2): d/dy = 2y
    np.testing.assert_allclose(ga["x"], 6.0)
    np.testing.assert_allclose(ga["y"], 2 * np.arange(2.0))
    np.testing.assert_allclose(gb, 15.0)


def test_static_argnums_of_the_inner_jit():
    counted = _counted(lambda x, n: x ** n)
    pj = ft.jit(counted, static_argnums=1)
    np.testing.assert_allclose(ft.grad(lambda x: pj(x, 3))(2.0), 12.0)
    np.testing.assert_allclose(ft.grad(lambda x: pj(x, 3))(3.0), 27.0)
    assert counted.count == 1
    np.testing.assert_allclose(ft.grad(lambda x: pj(x, 2))(3.0), 6.0)
    assert counted.count == 2  # a new static value is a new signature


def test_closure_over_an_outer_tracer_is_an_operand():
    def fun(x):
        c = fnp.sin(x)
        return ft.jit(lambda y: y * c)(x)  # x sin x

    np.testing.assert_allclose(ft.grad(fun)(0.7), np.sin(0.7) + 0.7 * np.cos(0.7), rtol=1e-6)
    np.testing.assert_allclose(ft.jit(ft.grad(fun))(F32(0.7)), np.sin(0.7) + 0.7 * np.cos(0.7),
                               rtol=1e-6)
    xs = np.linspace(0, 1, 3).astype(F32)
    np.testing.assert_allclose(ft.vmap(fun)(xs), xs * np.sin(xs), rtol=1e-6)
    # concrete arguments, traced closure: still one jit equation
    jaxpr = ft.make_jaxpr(lambda x: ft.jit(lambda y: y * x)(2.0))(F32(1.0))
    (eqn,) = _jit_eqns(jaxpr)
    assert len(eqn.inputs) == 2


# ---------------------------------------------------------------------------
# traced once per signature

def test_inner_function_is_traced_once_per_signature():
    body = _counted(lambda y: fnp.sin(y) * y)
    jf = ft.jit(body)
    for x in (0.1, 0.2, 0.3):
        ft.grad(jf)(x)
    assert body.count == 1
    ft.make_jaxpr(lambda x: jf(x) + jf(x + 1.0) + jf(x * 2.0))(1.0)
    assert body.count == 1
    ft.vmap(jf)(np.ones(3, F32))  # a new signature: f32[] that is not weakly typed
    assert body.count == 2
    ft.vmap(jf)(np.zeros(3, F32))
    ft.make_jaxpr(lambda x: jf(x) + jf(x + 1.0))(F32(1.0))
    assert body.count == 2
    # inside an outer jit: one equation per call, one trace in all
    jaxpr = ft.make_jaxpr(ft.jit(lambda x: jf(x) * jf(x - 1.0)))(np.ones(3, F32))
    assert len(_jit_eqns(jaxpr.eqns[0].params["jaxpr"])) == 2
    assert body.count == 3
    ft.jit(lambda x: jf(x) * jf(x))(np.ones(3, F32))
    jf(np.ones(3, F32))  # the compiled path shares the traced program
    assert body.count == 3


def test_compiler_inlines_the_call_before_fusion():
    inner = ft.jit(lambda y: fnp.exp(y) * 2.0)
    outer = ft.jit(lambda x: inner(x) + inner(x + 1.0))
    x = np.linspace(0, 1, 8).astype(F32)
    want = np.exp(x) * 2 + np.exp(x + 1) * 2
    np.testing.assert_allclose(outer(x), want, rtol=1e-6)
    text = outer.lower(x).as_text()
    assert "jit[" not in text
    plan = text.split("# plan")[1].split("# generated")[0]
    assert plan.count("step") == 1 and "fused" in plan  # one loop across both calls


def test_sub_program_mode_gives_the_same_values():
    inner = ft.jit(lambda y: fnp.exp(y) * 2.0)
    outer = ft.jit(lambda x: inner(x) + inner(x + 1.0))
    x = np.linspace(0, 1, 8).astype(F32)
    call.INLINE["on"] = False
    try:
        got = outer(x)
        text = outer.lower(x).as_text()
    finally:
        call.INLINE["on"] = True
    np.testing.assert_allclose(got, np.exp(x) * 2 + np.exp(x + 1) * 2, rtol=1e-6)
    assert "jit" in text.split("# plan")[1]


def test_collectives_in_a_nested_jit_under_a_named_vmap():
    # the axis is bound outside the jitted function: it runs inline, as before
    f_ = ft.jit(lambda y: y - lax.pmean(y, "i"))
    xs = np.arange(4, dtype=F32)
    np.testing.assert_allclose(ft.vmap(f_, axis_name="i")(xs), xs - xs.mean())


def test_abstract_eval_refuses_other_argument_types():
    closed = ft.make_jaxpr(lambda x: ft.jit(f)(x))(F32(1.0))
    (eqn,) = _jit_eqns(closed)
    with pytest.raises(ft.errors.TransformError, match="traced for"):
        jit_p.abstract_eval(ShapedArray((2,), np.dtype(np.float32)), **eqn.params)


@given(n=st.integers(1, 4), m=st.integers(1, 3), seed=st.integers(0, 2 ** 16))
def test_grad_and_vmap_of_jit_agree_with_the_uncompiled_function(n, m, seed):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(m, n)).astype(F32)
    xs = rng.normal(size=(2, n)).astype(F32)
    plain = ft.grad(_net)(w, xs[0])
    np.testing.assert_allclose(ft.grad(ft.jit(_net))(w, xs[0]), plain, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(ft.jit(ft.grad(ft.jit(_net)))(w, xs[0]), plain, rtol=2e-5,
                               atol=1e-6)
    np.testing.assert_allclose(ft.vmap(ft.jit(_net), in_axes=(None, 0))(w, xs),
                               ft.vmap(_net, in_axes=(None, 0))(w, xs), rtol=2e-5, atol=1e-6)


def test_constant_and_integer_results_and_integer_operands():
    c = ft.jit(lambda x, n: (x * n, 1.0, n + 1))

    def fun(x):
        a, b, k = c(x, 3)
        return a * b + k  # 3x + 4

    np.testing.assert_allclose(ft.grad(fun)(2.0), 3.0)
    np.testing.assert_allclose(ft.jit(ft.grad(fun))(2.0), 3.0)
    np.testing.assert_allclose(ft.vmap(fun)(np.arange(3.0, dtype=F32)), [4.0, 7.0, 10.0])
    g = ft.jit(lambda x, i, u: x[i] * 2.0)
    np.testing.assert_allclose(ft.grad(lambda x: g(x, 1, x))(np.arange(3.0, dtype=F32)),
                               [0.0, 2.0, 0.0])
    np.testing.assert_allclose(
        ft.vmap(lambda i: g(np.arange(3.0, dtype=F32), i, 0.0))(np.array([0, 2])), [0.0, 4.0])


def test_higher_order_derivatives_and_linearize_of_jit():
    q = ft.jit(lambda x: fnp.sum(x ** 3))
    x = np.arange(3.0, dtype=F32)
    np.testing.assert_allclose(ft.hessian(q)(x), np.diag(6 * x))
    np.testing.assert_allclose(ft.jacrev(ft.jacfwd(q))(x), np.diag(6 * x))
    _, lin = ft.linearize(q, x)
    np.testing.assert_allclose(lin(np.ones(3, F32)), np.sum(3 * x ** 2))


def test_jit_inside_checkpoint_and_custom_jvp_inside_jit():
    q = ft.jit(lambda x: fnp.sum(x ** 3))
    x = np.arange(3.0, dtype=F32)
    np.testing.assert_allclose(ft.grad(ft.checkpoint(lambda v: q(v) * 2))(x), 6 * x ** 2)

    @ft.custom_jvp
    def sq(v):
        return v * v

    sq.defjvp(lambda p, t: (p[0] * p[0], 100.0 * t[0]))  # the user's rule wins
    np.testing.assert_allclose(ft.grad(ft.jit(sq))(3.0), 100.0)
    np.testing.assert_allclose(ft.vmap(ft.grad(ft.jit(sq)))(np.ones(2, F32)), [100.0, 100.0])


def test_while_loop_body_that_is_a_jitted_function_under_vmap():
    w = ft.jit(lambda c: c * 2)
    got = ft.vmap(lambda x: lax.while_loop(lambda c: c < 10, w, x))(np.array([1, 3]))
    np.testing.assert_array_equal(got, [16, 12])
