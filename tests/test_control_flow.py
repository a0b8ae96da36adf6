"""lax.cond / switch / while_loop / fori_loop / scan / map: values, derivatives, vmap, jit.

References are hand-written NumPy loops; derivatives are checked against central
finite differences of those references (in float64).
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace.core.jaxpr import typecheck
from functrace.errors import ConcretizationError, TransformError


def fd_grad(f, x, eps=1e-6):
    """Central differences of a NumPy function of one array (float64)."""
    x = np.array(x, np.float64)
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        hi, lo = x.copy(), x.copy()
        hi[idx] += eps
        lo[idx] -= eps
        g[idx] = (f(hi) - f(lo)) / (2 * eps)
    return g


def all_modes(f, *args):
    """f and grad(f) eagerly, under jit, jit(grad) and grad(jit)."""
    g = ft.grad(f)
    return {
        "eager": (f(*args), g(*args)),
        "jit": (ft.jit(f)(*args), ft.jit(g)(*args)),
        "grad_jit": (f(*args), ft.grad(ft.jit(f))(*args)),
    }


# ---------------------------------------------------------------------------
# cond / switch

def _piecewise(x):
    return lax.cond(x > 0, lambda v: fnp.sin(v) * v, lambda v: v * v * v, x)


def _piecewise_ref(x):
    return np.sin(x) * x if x > 0 else x ** 3


@pytest.mark.parametrize("x", [2.0, -1.5])
def test_cond_values_and_grads_in_every_mode(x64, x):
    want = _piecewise_ref(x)
    want_g = fd_grad(lambda v: _piecewise_ref(float(v)), x)
    for mode, (val, g) in all_modes(_piecewise, x).items():
        np.testing.assert_allclose(val, want, rtol=1e-10, err_msg=mode)
        np.testing.assert_allclose(g, want_g, rtol=1e-6, err_msg=mode)


def test_cond_vmap_batched_predicate_selects_per_example(x64):
    xs = np.array([2.0, -1.5, 0.5, -3.0])
    np.testing.assert_allclose(ft.vmap(_piecewise)(xs), [_piecewise_ref(v) for v in xs])
    grads = ft.vmap(ft.grad(_piecewise))(xs)
    want = [fd_grad(lambda v: _piecewise_ref(float(v)), v) for v in xs]
    np.testing.assert_allclose(grads, want, rtol=1e-6)
    # the batched predicate became a select of both branches: no cond left
    jaxpr = ft.make_jaxpr(ft.vmap(_piecewise))(xs)
    assert "cond[" not in str(jaxpr) and "select" in str(jaxpr)


def test_cond_vmap_unbatched_predicate_keeps_the_cond():
    xs = np.array([1.0, 2.0, 3.0], np.float32)
    f = ft.vmap(lambda p, x: lax.cond(p, lambda v: v + 1.0, lambda v: v - 1.0, x), (None, 0))
    np.testing.assert_allclose(f(True, xs), xs + 1)
    np.testing.assert_allclose(f(False, xs), xs - 1)
    assert "cond[" in str(ft.make_jaxpr(f)(True, xs))


def test_cond_pytree_operands_closures_and_operand_keyword():
    w = np.array([1.0, 2.0], np.float32)

    def f(p, tree):
        return lax.cond(p, lambda t: {"s": t[0] * w, "n": t[1]},
                        lambda t: {"s": t[0] - w, "n": t[1] + 1}, operand=tree)

    out = f(True, (np.float32(3.0), 4))
    np.testing.assert_allclose(out["s"], [3.0, 6.0])
    assert out["n"] == 4
    out = ft.jit(f)(False, (np.float32(3.0), 4))
    np.testing.assert_allclose(out["s"], [2.0, 1.0])
    assert out["n"] == 5
    # gradient with respect to a closed-over value
    g = ft.grad(lambda v: lax.cond(v > 0, lambda u: u * v, lambda u: u, 3.0))(2.0)
    np.testing.assert_allclose(g, 3.0)


def test_cond_integer_predicate_and_errors():
    assert lax.cond(2, lambda: 1.0, lambda: 0.0) == 1.0
    assert lax.cond(0, lambda: 1.0, lambda: 0.0) == 0.0
    # JAX 0.10's cond takes any real predicate (pred != 0) and rejects complex ones
    assert lax.cond(1.5, lambda: 1.0, lambda: 0.0) == 1.0
    assert lax.cond(np.float32(0.0), lambda: 1.0, lambda: 0.0) == 0.0
    with pytest.raises(TransformError, match="boolean or a real number"):
        lax.cond(np.complex64(1j), lambda: 1.0, lambda: 0.0)
    with pytest.raises(TransformError, match="scalar"):
        lax.cond(np.array([True, False]), lambda: 1.0, lambda: 0.0)
    with pytest.raises(TransformError, match=r"true_fun returns \(f32\[3\]\).*|f32\[3\]"):
        lax.cond(True, lambda x: x, lambda x: x[:2], np.zeros(3, np.float32))
    with pytest.raises(TransformError) as e:
        lax.cond(True, lambda x: x, lambda x: x.astype(np.int32), np.zeros(3, np.float32))
    assert "f32[3]" in str(e.value) and "i32[3]" in str(e.value)


def test_switch_clamps_and_differentiates(x64):
    branches = [lambda x: x, lambda x: x * x, lambda x: fnp.exp(x)]
    refs = [lambda x: x, lambda x: x * x, np.exp]
    for i, ref_i in zip([-5, 0, 1, 2, 7], [0, 0, 1, 2, 2], strict=True):
        np.testing.assert_allclose(lax.switch(i, branches, 1.5), refs[ref_i](1.5))
        np.testing.assert_allclose(ft.jit(lambda i, x: lax.switch(i, branches, x))(i, 1.5),
                                   refs[ref_i](1.5))
        g = ft.grad(lambda x, i=i: lax.switch(i, branches, x))(1.5)
        np.testing.assert_allclose(g, fd_grad(refs[ref_i], 1.5), rtol=1e-6)
    idx = np.array([0, 1, 2, 1])
    xs = np.array([0.5, 1.0, 1.5, 2.0])
    out = ft.vmap(lambda i, x: lax.switch(i, branches, x))(idx, xs)
    np.testing.assert_allclose(out, [refs[i](x) for i, x in zip(idx, xs, strict=True)])


# ---------------------------------------------------------------------------
# scan

def _rnn(w, h0, xs):
    def step(h, x):
        h = fnp.tanh(w * h + x)
        return h, 2.0 * h
    h, ys = lax.scan(step, h0, xs)
    return h + fnp.sum(ys)


def _rnn_ref(w, h0, xs):
    h, tot = h0, 0.0
    for x in xs:
        h = np.tanh(w * h + x)
        tot += 2 * h
    return h + tot


def test_scan_values_and_grads_in_every_mode(x64):
    xs = np.linspace(-1, 1, 6)
    want = _rnn_ref(0.7, 0.5, xs)
    for mode, (val, g) in all_modes(_rnn, 0.7, 0.5, xs).items():
        np.testing.assert_allclose(val, want, rtol=1e-10, err_msg=mode)
        np.testing.assert_allclose(g, fd_grad(lambda w: _rnn_ref(float(w), 0.5, xs), 0.7),
                                   rtol=1e-6, err_msg=mode)
    gx = ft.grad(_rnn, argnums=(1, 2))(0.7, 0.5, xs)
    np.testing.assert_allclose(gx[0], fd_grad(lambda h: _rnn_ref(0.7, float(h), xs), 0.5),
                               rtol=1e-6)
    np.testing.assert_allclose(gx[1], fd_grad(lambda v: _rnn_ref(0.7, 0.5, v), xs), rtol=1e-6)


def test_scan_vmap_and_vmap_grad(x64):
    xs = np.linspace(-1, 1, 5)
    ws = np.array([0.3, 0.7, -0.4])
    np.testing.assert_allclose(ft.vmap(_rnn, (0, None, None))(ws, 0.5, xs),
                               [_rnn_ref(w, 0.5, xs) for w in ws], rtol=1e-10)
    g = ft.vmap(ft.grad(_rnn), (0, None, None))(ws, 0.5, xs)
    want = [fd_grad(lambda v, w=w: _rnn_ref(float(v), 0.5, xs), w) for w in ws]
    np.testing.assert_allclose(g, want, rtol=1e-6)
    # batched xs (a batch axis that is not the scanned one)
    xb = np.stack([xs, xs[::-1]])
    np.testing.assert_allclose(ft.vmap(_rnn, (None, None, 0))(0.7, 0.5, xb),
                               [_rnn_ref(0.7, 0.5, v) for v in xb], rtol=1e-10)


def test_scan_pytrees_reverse_unroll_and_xs_none():
    xs = {"a": np.arange(4.0, dtype=np.float32), "b": np.ones((4, 2), np.float32)}

    def step(c, x):
        s, v = c
        s = s + x["a"]
        v = v * 2.0 + x["b"]
        return (s, v), {"s": s, "pair": (v, x["a"])}

    for reverse in (False, True):
        for unroll in (1, 3, True):
            (s, v), ys = lax.scan(step, (np.float32(0), np.zeros(2, np.float32)), xs,
                                  reverse=reverse, unroll=unroll)
            order = range(3, -1, -1) if reverse else range(4)
            s_ref, v_ref, ss = 0.0, np.zeros(2), np.zeros(4)
            for i in order:
                s_ref += xs["a"][i]
                v_ref = v_ref * 2 + 1
                ss[i] = s_ref
            np.testing.assert_allclose(s, s_ref)
            np.testing.assert_allclose(v, v_ref)
            np.testing.assert_allclose(ys["s"], ss)
            np.testing.assert_allclose(ys["pair"][1], xs["a"])
    c, ys = lax.scan(lambda c, _: (c * 3, c), 1, None, length=4)
    assert c == 81 and list(ys) == [1, 3, 9, 27]


def test_scan_zero_length():
    c, ys = lax.scan(lambda c, x: (c + x, c * x), np.float32(2.0), np.zeros((0,), np.float32))
    assert c == 2.0 and ys.shape == (0,)
    g = ft.grad(lambda c: lax.scan(lambda c, x: (c * x, c), c, np.zeros(0, np.float32))[0])(2.0)
    np.testing.assert_allclose(g, 1.0)
    c, ys = ft.jit(lambda c: lax.scan(lambda c, x: (c + x, c), c, np.zeros((0, 3))))(
        np.zeros(3, np.float32))
    assert ys.shape == (0, 3)


def test_scan_reverse_grad_and_closed_over_tracer(x64):
    xs = np.linspace(0.1, 0.9, 5)

    def f(w):
        return lax.scan(lambda c, x: (fnp.sin(c * w) + x, c), 0.3, xs, reverse=True)[0]

    def ref(w):
        c = 0.3
        for x in xs[::-1]:
            c = np.sin(c * w) + x
        return c

    np.testing.assert_allclose(f(1.3), ref(1.3), rtol=1e-12)
    np.testing.assert_allclose(ft.grad(f)(1.3), fd_grad(lambda w: ref(float(w)), 1.3), rtol=1e-6)
    np.testing.assert_allclose(ft.jit(ft.grad(f))(1.3), fd_grad(lambda w: ref(float(w)), 1.3),
                               rtol=1e-6)
    # second derivative of a scan (jvp of the transposed scan)
    h = ft.grad(ft.grad(f))(1.3)
    np.testing.assert_allclose(h, fd_grad(lambda w: fd_grad(lambda v: ref(float(v)), w), 1.3,
                                          eps=1e-4), rtol=1e-4)


def test_scan_grad_saves_residuals_and_keeps_invariants_unstacked():
    w = np.eye(3, dtype=np.float32) * 0.5
    xs = np.ones((10, 3), np.float32)

    def loss(w):
        h, _ = lax.scan(lambda h, x: (fnp.tanh(h @ w + x), None), np.zeros(3, np.float32), xs)
        return fnp.sum(h)

    jaxpr = ft.make_jaxpr(ft.grad(loss))(w)
    scans = [e for e in jaxpr.eqns if e.primitive is lax.scan_p]
    assert len(scans) == 2  # forward (known) and backward (transposed), nothing recomputed
    fwd, bwd = scans
    assert not fwd.params["reverse"] and bwd.params["reverse"]
    # the residuals are per-step activations; the weight is not stacked 10 times
    assert all(v.aval.shape != (10, 3, 3) for v in fwd.outvars)
    assert any(v.aval.shape == (10, 3) for v in fwd.outvars[1:])
    typecheck(jaxpr)


def test_scan_grad_reads_xs_residuals_from_xs_instead_of_stacking_copies():
    u = np.full((4, 3), 0.1, np.float32)
    xs = np.ones((6, 2, 4), np.float32)

    def loss(u, xs):
        h, _ = lax.scan(lambda h, x: (fnp.tanh(h + x @ u), None), np.zeros((2, 3), np.float32),
                        xs)
        return fnp.sum(h)

    jaxpr = ft.make_jaxpr(ft.grad(loss))(u, xs)
    fwd, bwd = [e for e in jaxpr.eqns if e.primitive is lax.scan_p]
    assert all(v.aval.shape != (6, 2, 4) for v in fwd.outvars)  # no stacked copy of xs
    assert jaxpr.jaxpr.invars[1] in bwd.inputs  # the transposed scan reads xs itself
    typecheck(jaxpr)
    h, g = np.zeros((2, 3)), np.zeros((4, 3))  # the gradient, by hand: backprop through time
    hs = [h]
    for x in xs:
        hs.append(np.tanh(hs[-1] + x @ u))
    ct = np.ones((2, 3))
    for t in range(len(xs) - 1, -1, -1):
        d = ct * (1 - hs[t + 1] ** 2)
        g += xs[t].T @ d
        ct = d
    np.testing.assert_allclose(ft.grad(loss)(u, xs), g, rtol=1e-5)
    np.testing.assert_allclose(ft.jit(ft.grad(loss))(u, xs), g, rtol=1e-5)


def test_scan_type_errors():
    with pytest.raises(TransformError, match="same types"):
        lax.scan(lambda c, x: (c.astype(np.int32), x), np.float32(0), np.ones(3, np.float32))
    with pytest.raises(TransformError, match="pytree structure"):
        lax.scan(lambda c, x: ((c, c), x), np.float32(0), np.ones(3, np.float32))
    with pytest.raises(TransformError, match="length"):
        lax.scan(lambda c, x: (c, x), 0.0, None)
    with pytest.raises(ValueError, match="leading axis"):
        lax.scan(lambda c, x: (c, x), 0.0, (np.ones(3), np.ones(4)))


@given(st.lists(st.sampled_from(["sin", "tanh", "mul", "add", "sq"]), min_size=1, max_size=4),
       st.integers(0, 5), st.booleans())
def test_scan_generated_bodies_match_loops(ops, length, reverse):
    fns = {"sin": (fnp.sin, np.sin), "tanh": (fnp.tanh, np.tanh),
           "mul": (lambda c, x: c * x, lambda c, x: c * x),
           "add": (lambda c, x: c + x, lambda c, x: c + x),
           "sq": (lambda c: c * c * 0.5, lambda c: c * c * 0.5)}

    def apply(lib, c, x):
        for op in ops:
            fn = fns[op][lib]
            c = fn(c, x) if op in ("mul", "add") else fn(c)
        return c

    xs = np.linspace(0.2, 0.8, length)

    def f(c0):
        return lax.scan(lambda c, x: (apply(0, c, x), c), c0, xs.astype(np.float32),
                        reverse=reverse)

    def ref(c0):
        c, ys = c0, np.zeros(length)
        for i in (range(length - 1, -1, -1) if reverse else range(length)):
            ys[i] = c
            c = apply(1, c, xs[i])
        return c, ys

    c, ys = f(np.float32(0.4))
    c_ref, ys_ref = ref(0.4)
    np.testing.assert_allclose(c, c_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ys, ys_ref, rtol=1e-5, atol=1e-6)
    g = ft.grad(lambda c0: f(c0)[0] + fnp.sum(f(c0)[1]))(np.float32(0.4))
    g_ref = fd_grad(lambda c0: ref(float(c0))[0] + ref(float(c0))[1].sum(), 0.4, eps=1e-5)
    np.testing.assert_allclose(g, g_ref, rtol=2e-3, atol=2e-4)


# ---------------------------------------------------------------------------
# fori_loop / while_loop / map

def test_fori_loop_static_bounds_is_a_differentiable_scan(x64):
    def f(x):
        return lax.fori_loop(1, 5, lambda i, c: c * x + i, 1.0)

    def ref(x):
        c = 1.0
        for i in range(1, 5):
            c = c * x + i
        return c

    assert "scan[" in str(ft.make_jaxpr(f)(2.0))
    for mode, (val, g) in all_modes(f, 1.5).items():
        np.testing.assert_allclose(val, ref(1.5), rtol=1e-12, err_msg=mode)
        np.testing.assert_allclose(g, fd_grad(lambda v: ref(float(v)), 1.5), rtol=1e-6,
                                   err_msg=mode)


def test_fori_loop_traced_bounds_is_a_while_and_rejects_reverse_mode():
    f = ft.jit(lambda x, n: lax.fori_loop(0, n, lambda i, c: c + i * x, 0.0))
    np.testing.assert_allclose(f(2.0, 5), 20.0)
    assert "while[" in str(ft.make_jaxpr(lambda x, n: lax.fori_loop(0, n, lambda i, c: c + x,
                                                                      0.0))(1.0, 3))
    with pytest.raises(TransformError, match="scan"):
        ft.jit(ft.grad(lambda x, n: lax.fori_loop(0, n, lambda i, c: c * x, 1.0)))(2.0, 3)
    # eagerly the bounds are concrete, so it is a scan and reverse mode works (as in JAX)
    np.testing.assert_allclose(
        ft.grad(lambda x, n: lax.fori_loop(0, n, lambda i, c: c * x, 1.0))(2.0, 3), 12.0)
    with pytest.raises(TransformError, match="static"):
        ft.jit(lambda n: lax.fori_loop(0, n, lambda i, c: c, 0.0, unroll=2))(3)


def test_while_loop_values_jit_forward_mode_and_reverse_error():
    def f(x):
        return lax.while_loop(lambda c: c[1] < 100.0, lambda c: (c[0] + 1, c[1] * x), (0, 1.0))

    def ref(x):
        n, v = 0, 1.0
        while v < 100.0:
            n, v = n + 1, v * x
        return n, v

    for x in (2.0, 3.0):
        for fn in (f, ft.jit(f)):
            n, v = fn(x)
            assert int(n) == ref(x)[0]
            np.testing.assert_allclose(v, ref(x)[1], rtol=1e-6)
    # forward mode: d/dx x**n = n x**(n-1) with n fixed by the trip count
    _, t = ft.jvp(lambda x: f(x)[1], (2.0,), (1.0,))
    np.testing.assert_allclose(t, 7 * 2.0 ** 6, rtol=1e-6)
    with pytest.raises(TransformError, match="lax.scan"):
        ft.grad(lambda x: f(x)[1])(2.0)


def test_while_loop_vmap_runs_until_every_example_is_done():
    xs = np.array([2.0, 3.0, 10.0, 1.5], np.float32)

    def f(x):
        return lax.while_loop(lambda c: c[1] < 100.0, lambda c: (c[0] + 1, c[1] * x), (0, 1.0))

    n, v = ft.vmap(f)(xs)
    for i, x in enumerate(xs):
        nn, vv = 0, 1.0
        while vv < 100.0:
            nn, vv = nn + 1, vv * float(x)
        assert int(n[i]) == nn
        np.testing.assert_allclose(v[i], vv, rtol=1e-5)
    n2, _ = ft.jit(ft.vmap(f))(xs)
    np.testing.assert_array_equal(n2, n)


def test_while_loop_errors():
    with pytest.raises(TransformError, match="boolean scalar"):
        lax.while_loop(lambda c: c, lambda c: c + 1.0, 0.0)
    with pytest.raises(TransformError, match="same types"):
        lax.while_loop(lambda c: c < 3, lambda c: (c + 1).astype(np.float32), np.int32(0))


def test_map_with_and_without_batch_size():
    xs = np.arange(7.0, dtype=np.float32)
    for bs in (None, 1, 3, 7, 10):
        np.testing.assert_allclose(lax.map(lambda x: x * x + 1, xs, batch_size=bs), xs ** 2 + 1)
    out = lax.map(lambda t: {"s": t[0] + t[1]}, (xs, xs), batch_size=2)
    np.testing.assert_allclose(out["s"], 2 * xs)
    g = ft.grad(lambda w: fnp.sum(lax.map(lambda x: fnp.sin(w * x), xs, batch_size=3)))(0.5)
    np.testing.assert_allclose(g, np.sum(xs * np.cos(0.5 * xs)), rtol=1e-5)


# ---------------------------------------------------------------------------
# printing and errors

def test_make_jaxpr_prints_scan_as_jax():
    def scanned(z):
        return lax.scan(lambda c, _: (0.5 * c + 1.0, 0.5 * c + 1.0), z, None, length=4)[0]

    # JAX 0.10.2's output for this function, verbatim (unused ys printed as _)
    want = """{ lambda ; a:f32[]. let
    b:f32[] _:f32[4] = scan[
      jaxpr={ lambda ; c:f32[]. let
          d:f32[] = mul 0.5:f32[] c
          e:f32[] = add d 1.0:f32[]
          f:f32[] = mul 0.5:f32[] c
          g:f32[] = add f 1.0:f32[]
        in (e, g) }
      length=4
      num_carry=1
      num_consts=0
      reverse=False
      unroll=1
    ] a
  in (b,) }"""
    assert str(ft.make_jaxpr(scanned)(np.float32(0.0))) == want
    np.testing.assert_allclose(scanned(np.float32(0.0)), 1.875)


def test_make_jaxpr_prints_cond_and_while_as_jax():
    want = """{ lambda ; a:bool[] b:f32[3]. let
    c:i32[] = convert_element_type[new_dtype=int32 weak_type=False] a
    d:f32[] = cond[
      branches=(
        { lambda ; e:f32[3]. let
            f:f32[] = reduce_sum[axes=(0,) out_sharding=None] e
          in (f,) }
        { lambda ; g:f32[3]. let
            h:f32[3] = mul g g
            i:f32[] = reduce_sum[axes=(0,) out_sharding=None] h
            j:f32[] = mul i 2.0:f32[]
            k:f32[] = sub j 1.0:f32[]
          in (k,) }
      )
    ] c b
  in (d,) }"""
    got = ft.make_jaxpr(lambda p, x: lax.cond(
        p, lambda v: fnp.sum(v * v) * 2.0 - 1.0, lambda v: fnp.sum(v), x))
    assert str(got(True, np.ones(3, np.float32))) == want
    w = str(ft.make_jaxpr(lambda x: lax.while_loop(lambda c: c < 10, lambda c: c * 2, x))(1))
    assert w == """{ lambda ; a:i32[]. let
    b:i32[] = while[
      body_jaxpr={ lambda ; c:i32[]. let d:i32[] = mul c 2:i32[] in (d,) }
      body_nconsts=0
      cond_jaxpr={ lambda ; e:i32[]. let f:bool[] = lt e 10:i32[] in (f,) }
      cond_nconsts=0
    ] a
  in (b,) }"""


def test_python_if_on_a_traced_value_suggests_lax_cond():
    def f(x):
        if x > 0:
            return x
        return -x

    with pytest.raises(ConcretizationError) as e:
        ft.jit(f)(1.0)
    msg = str(e.value)
    assert "lax.cond" in msg and "where" in msg and "static_argnums" in msg


def test_control_flow_jaxprs_typecheck():
    xs = np.ones((4, 2), np.float32)

    def f(w):
        c = lax.cond(w[0] > 0, lambda v: v * 2.0, lambda v: v, w)
        h, ys = lax.scan(lambda h, x: (fnp.tanh(h * c + x), h), np.zeros(2, np.float32), xs)
        n = lax.fori_loop(0, 3, lambda i, a: a * 1.5, h)
        return fnp.sum(n) + fnp.sum(ys)

    w = np.array([0.5, -0.2], np.float32)
    for t, arg in ((f, w), (ft.grad(f), w), (ft.vmap(ft.grad(f)), np.stack([w, -w]))):
        typecheck(ft.make_jaxpr(t)(arg))
