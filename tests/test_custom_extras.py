"""Custom-derivative extras (issue 15 item 9): ``custom_gradient``, ``symbolic_zeros=True``
for ``custom_jvp``/``custom_vjp`` (``SymbolicZero``, ``CustomVJPPrimal``,
``zero_from_primal``) and ``custom_batching.custom_vmap``.

Expected values come from JAX's documentation (its examples for ``custom_gradient`` and
``custom_vmap``), from the math (hand-derived derivatives, finite differences) and from
what the rules are documented to receive.
"""

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace.custom_batching import custom_vmap
from functrace.custom_derivatives import (
    CustomVJPPrimal,
    SymbolicZero,
    custom_vjp_primal_tree_values,
    zero_from_primal,
)
from functrace.errors import TransformError


def _fd(f, x, eps=1e-3):
    x = np.float64(x)
    return (f(x + eps) - f(x - eps)) / (2 * eps)


# ---------------------------------------------------------------------------
# custom_gradient

def test_custom_gradient_jax_doc_example():
    @ft.custom_gradient
    def f(x):
        return x ** 2, lambda g: (g * x,)

    assert float(f(3.0)) == 9.0
    assert float(ft.grad(f)(3.0)) == 3.0  # the rule's g * x, not the true 2x
    assert float(ft.jit(ft.grad(f))(3.0)) == 3.0
    assert float(ft.grad(ft.jit(f))(3.0)) == 3.0
    np.testing.assert_array_equal(ft.vmap(ft.grad(f))(np.float32([1, 2, 3])), [1, 2, 3])


@ft.custom_gradient
def log1pexp(x):
    # a numerically stable gradient closed over an intermediate value
    e = fnp.exp(-fnp.abs(x))
    value = fnp.maximum(x, 0.0) + fnp.log1p(e)
    sig = fnp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return value, lambda g: g * sig


@pytest.mark.parametrize("x", [-3.0, -0.5, 0.7, 4.0, 200.0])
def test_custom_gradient_matches_the_math(x):
    want = 1 / (1 + np.exp(-np.float64(x)))  # d/dx log(1 + e^x) = sigmoid(x)
    np.testing.assert_allclose(ft.grad(log1pexp)(np.float32(x)), want, rtol=1e-6)
    if x < 50:
        np.testing.assert_allclose(
            ft.grad(log1pexp)(np.float32(x)),
            _fd(lambda v: np.log1p(np.exp(v)), x), rtol=1e-5)


def test_custom_gradient_several_arguments_and_pytrees():
    @ft.custom_gradient
    def f(p, y):
        s = fnp.sin(p["a"])
        return s * y * p["b"], lambda g: ({"a": g * fnp.cos(p["a"]) * y * p["b"],
                                           "b": g * s * y}, g * s * p["b"])

    p = {"a": np.float32(0.3), "b": np.float32(2.0)}
    gp, gy = ft.grad(f, argnums=(0, 1))(p, np.float32(1.5))
    np.testing.assert_allclose(gp["a"], np.cos(0.3) * 1.5 * 2.0, rtol=1e-6)
    np.testing.assert_allclose(gp["b"], np.sin(0.3) * 1.5, rtol=1e-6)
    np.testing.assert_allclose(gy, np.sin(0.3) * 2.0, rtol=1e-6)


def test_custom_gradient_called_twice_keeps_each_rule():
    # two calls in one program: each backward pass uses its own forward pass's rule
    @ft.custom_gradient
    def scale(x, k):
        return x * k, lambda g: (g * k, fnp.zeros_like(k))

    def loss(x):
        return fnp.sum(scale(x, np.float32(2.0))) + fnp.sum(scale(x[:2], np.float32(5.0)))

    x = np.ones(3, np.float32)
    np.testing.assert_allclose(ft.grad(loss)(x), [7.0, 7.0, 2.0])
    np.testing.assert_allclose(ft.jit(ft.grad(loss))(x), [7.0, 7.0, 2.0])


def test_custom_gradient_single_value_rule_and_errors():
    @ft.custom_gradient
    def f(x):
        return 3.0 * x, lambda g: 10.0 * g  # a bare value stands for the 1-tuple

    assert float(ft.grad(f)(1.0)) == 10.0
    with pytest.raises(TransformError, match="forward-mode"):
        ft.jvp(f, (1.0,), (1.0,))

    @ft.custom_gradient
    def bad(x):
        return x

    with pytest.raises(TransformError, match=r"pair \(value, vjp_fn\)"):
        bad(1.0)


# ---------------------------------------------------------------------------
# symbolic zeros: custom_jvp

def _make_mul(symbolic: bool, seen: list):
    @ft.custom_jvp
    def mul(x, y):
        return x * y

    def rule(primals, tangents):
        (x, y), (tx, ty) = primals, tangents
        seen.append((type(tx) is SymbolicZero, type(ty) is SymbolicZero))
        terms = [t for t, z in ((tx * y if type(tx) is not SymbolicZero else None,
                                 type(tx) is SymbolicZero),
                                (x * ty if type(ty) is not SymbolicZero else None,
                                 type(ty) is SymbolicZero)) if not z]
        out = x * y
        return out, sum(terms) if terms else SymbolicZero.from_primal_value(out)

    mul.defjvp(rule, symbolic_zeros=symbolic)
    return mul


@pytest.mark.parametrize("transform", ["eager", "jit"])
def test_custom_jvp_symbolic_zeros_marks_unperturbed_inputs(transform):
    seen = []
    mul = _make_mul(True, seen)
    wrap = ft.jit if transform == "jit" else (lambda f: f)
    assert float(wrap(ft.grad(mul))(2.0, 3.0)) == 3.0
    assert seen[-1] == (False, True)
    assert float(wrap(ft.grad(mul, argnums=1))(2.0, 3.0)) == 2.0
    assert seen[-1] == (True, False)
    g = wrap(ft.grad(mul, argnums=(0, 1)))(2.0, 3.0)
    assert (float(g[0]), float(g[1])) == (3.0, 2.0) and seen[-1] == (False, False)


def test_custom_jvp_without_symbolic_zeros_gets_arrays():
    seen = []
    mul = _make_mul(False, seen)
    assert float(ft.grad(mul)(2.0, 3.0)) == 3.0
    assert seen[-1] == (False, False)


def test_custom_jvp_symbolic_zero_output_and_vmap():
    seen = []
    mul = _make_mul(True, seen)
    # jvp with explicit tangents: an explicit zero is an array, not a symbolic zero
    out, t = ft.jvp(mul, (2.0, 3.0), (1.0, 0.0))
    assert (float(out), float(t)) == (6.0, 3.0) and seen[-1] == (False, False)
    np.testing.assert_allclose(ft.vmap(ft.grad(mul))(np.float32([1, 2]), np.float32([3, 4])),
                               [3, 4])

    @ft.custom_jvp
    def const(x):
        return 2.0 * x

    const.defjvp(lambda p, t: (const(*p), SymbolicZero.from_primal_value(const(*p))))
    assert float(ft.grad(const)(1.0)) == 0.0  # a SymbolicZero output, whatever the flag


# ---------------------------------------------------------------------------
# symbolic zeros: custom_vjp

def _make_pair(log: list):
    @ft.custom_vjp
    def pair(x, y):
        return x * y, x + y

    def fwd(x, y):
        assert type(x) is CustomVJPPrimal and type(y) is CustomVJPPrimal
        log.append(("fwd", x.perturbed, y.perturbed))
        xv, yv = custom_vjp_primal_tree_values((x, y))
        return pair(xv, yv), (xv, yv)

    def bwd(res, cts):
        x, y = res
        c_prod, c_sum = cts
        log.append(("bwd", type(c_prod) is SymbolicZero, type(c_sum) is SymbolicZero))
        gx = gy = 0.0
        if type(c_prod) is not SymbolicZero:
            gx, gy = gx + c_prod * y, gy + c_prod * x
        if type(c_sum) is not SymbolicZero:
            gx, gy = gx + c_sum, gy + c_sum
        return gx, gy

    pair.defvjp(fwd, bwd, symbolic_zeros=True)
    return pair


@pytest.mark.parametrize("transform", ["eager", "jit"])
def test_custom_vjp_symbolic_zeros(transform):
    log = []
    pair = _make_pair(log)
    wrap = ft.jit if transform == "jit" else (lambda f: f)
    # only x is differentiated, only the product is used
    assert float(wrap(ft.grad(lambda x: pair(x, 3.0)[0]))(2.0)) == 3.0
    assert log[-2:] == [("fwd", True, False), ("bwd", False, True)]
    assert float(wrap(ft.grad(lambda y: pair(2.0, y)[1]))(3.0)) == 1.0
    assert log[-2:] == [("fwd", False, True), ("bwd", True, False)]
    g = wrap(ft.grad(lambda x, y: sum(pair(x, y)), argnums=(0, 1)))(2.0, 3.0)
    assert (float(g[0]), float(g[1])) == (4.0, 3.0)
    assert log[-2:] == [("fwd", True, True), ("bwd", False, False)]


def test_custom_vjp_symbolic_zeros_under_vmap():
    log = []
    pair = _make_pair(log)
    got = ft.vmap(ft.grad(lambda x, y: pair(x, y)[0]))(np.float32([1, 2]), np.float32([5, 6]))
    np.testing.assert_allclose(got, [5, 6])


def test_custom_vjp_bwd_may_return_symbolic_zero():
    @ft.custom_vjp
    def f(x, y):
        return x * y

    f.defvjp(lambda x, y: (x * y, (x, y)),
             lambda res, g: (g * res[1], SymbolicZero.from_primal_value(res[1])))
    gx, gy = ft.grad(f, argnums=(0, 1))(2.0, 3.0)
    assert (float(gx), float(gy)) == (3.0, 0.0)


def test_zero_from_primal_and_symbolic_zero():
    tree = {"w": np.ones((2, 3), np.float32), "b": np.float32(1)}
    zeros = zero_from_primal(tree)
    np.testing.assert_array_equal(zeros["w"], np.zeros((2, 3), np.float32))
    assert zeros["w"].dtype == np.float32 and zeros["b"].shape == ()
    sym = zero_from_primal(tree, symbolic_zeros=True)
    assert type(sym["w"]) is SymbolicZero and repr(sym["w"]) == "SymbolicZero"
    assert sym["w"].shape == (2, 3) and sym["w"].dtype == np.float32 and sym["w"].ndim == 2
    with pytest.raises(TransformError):
        custom_vjp_primal_tree_values((1.0,))


# ---------------------------------------------------------------------------
# custom_vmap

def _make_g(calls: list):
    @custom_vmap
    def g(x, y):
        return x + y

    @g.def_vmap
    def g_rule(axis_size, in_batched, xs, ys):
        calls.append((axis_size, in_batched))
        return xs * ys, True

    return g


def test_custom_vmap_jax_doc_example():
    calls = []
    g = _make_g(calls)
    xs, ys = np.arange(3, dtype=np.float32), np.arange(1, 4, dtype=np.float32)
    assert float(g(2.0, 3.0)) == 5.0 and not calls  # outside vmap the function runs
    np.testing.assert_array_equal(ft.vmap(g)(xs, ys), [0, 2, 6])  # xs * ys
    assert calls[-1] == (3, [True, True])
    np.testing.assert_array_equal(ft.vmap(g, in_axes=(0, None))(xs, np.float32(2)), [0, 2, 4])
    assert calls[-1] == (3, [True, False])
    np.testing.assert_array_equal(ft.jit(ft.vmap(g))(xs, ys), [0, 2, 6])
    np.testing.assert_array_equal(ft.vmap(ft.jit(g))(xs, ys), [0, 2, 6])
    np.testing.assert_array_equal(ft.vmap(g, in_axes=1)(xs[None], ys[None]), [[0], [2], [6]])


def test_custom_vmap_pytrees_and_unbatched_outputs():
    @custom_vmap
    def f(p):
        return {"s": p["a"] + p["b"], "n": p["a"]}

    @f.def_vmap
    def rule(axis_size, in_batched, p):
        assert in_batched == [{"a": True, "b": False}]
        # "n" is returned unbatched: vmap broadcasts it
        return {"s": p["a"] - p["b"], "n": np.float32(7)}, {"s": True, "n": False}

    out = ft.vmap(f, in_axes=({"a": 0, "b": None},))({"a": np.float32([1, 2]),
                                                      "b": np.float32(1)})
    np.testing.assert_array_equal(out["s"], [0, 1])
    np.testing.assert_array_equal(out["n"], [7, 7])


def test_custom_vmap_forward_mode_uses_the_rule():
    calls = []
    g = _make_g(calls)
    xs, ys = np.float32([0, 1, 2]), np.float32([1, 2, 3])
    # the rule computes xs * ys, so its derivative in x is ys
    out, t = ft.jvp(ft.vmap(g), (xs, ys), (np.ones(3, np.float32), np.zeros(3, np.float32)))
    np.testing.assert_array_equal(out, xs * ys)
    np.testing.assert_array_equal(t, ys)
    out, t = ft.vmap(lambda x, y: ft.jvp(g, (x, y), (1.0, 0.0)))(xs, ys)
    np.testing.assert_array_equal(t, ys)
    # unbatched: the function itself, d(x + y)/dx = 1
    assert float(ft.jvp(g, (2.0, 3.0), (1.0, 0.0))[1]) == 1.0
    np.testing.assert_array_equal(ft.vmap(ft.jacfwd(g))(xs, ys), ys)


def test_custom_vmap_reverse_mode_needs_custom_vjp():
    g = _make_g([])
    with pytest.raises(TransformError, match="reverse mode"):
        ft.grad(g)(2.0, 3.0)

    # JAX's documented combination: custom_vjp outside custom_vmap
    @ft.custom_vjp
    @custom_vmap
    def f(x, y):
        return fnp.sin(x) * y

    @f.def_vmap
    def f_vmap_rule(axis_size, in_batched, xs, ys):
        return fnp.cos(xs) * ys, True

    def f_fwd(x, y):
        return f(x, y), (fnp.cos(x), fnp.sin(x), y)

    def f_bwd(res, g):
        cos_x, sin_x, y = res
        return (cos_x * g * y, sin_x * g)

    f.defvjp(f_fwd, f_bwd)
    np.testing.assert_array_equal(ft.vmap(f)(np.zeros(3, np.float32), np.ones(3, np.float32)),
                                  [1, 1, 1])
    assert float(ft.grad(f)(np.float32(0), np.float32(1))) == 1.0


def test_custom_vmap_errors():
    @custom_vmap
    def f(x):
        return x, x

    with pytest.raises(TransformError, match="def_vmap"):
        f(1.0)
    # one flag for a pair of outputs: a mismatch, as in JAX
    f.def_vmap(lambda n, b, x: ((x, x), True))
    with pytest.raises(TransformError, match="out_batched"):
        ft.vmap(f)(np.ones(2, np.float32))
    f.def_vmap(lambda n, b, x: (x, True))  # an output of the wrong structure
    with pytest.raises(TransformError, match="structure"):
        ft.vmap(f)(np.ones(2, np.float32))
    f.def_vmap(lambda n, b, x: ((x, x), (True, True)))
    out = ft.vmap(f)(np.ones(2, np.float32))
    np.testing.assert_array_equal(out[0], [1, 1])


def test_sequential_vmap_loops_over_examples():
    from functrace.core.trace import get_aval
    from functrace.custom_batching import sequential_vmap

    shapes = []

    @sequential_vmap
    def f(x, y):
        shapes.append(get_aval(x).shape)  # what the body sees: one example at a time
        return {"s": x * y, "c": x}

    xs = np.arange(6, dtype=np.float32).reshape(3, 2)
    out = ft.vmap(f, in_axes=(0, None))(xs, np.float32(2))
    np.testing.assert_array_equal(out["s"], xs * 2)
    np.testing.assert_array_equal(out["c"], xs)
    assert shapes[-1] == (2,)  # not (3, 2): the batch is looped over
    np.testing.assert_array_equal(ft.jit(ft.vmap(f))(xs, xs)["s"], xs * xs)
    np.testing.assert_array_equal(ft.vmap(f)(np.arange(3), np.arange(3))["s"], [0, 1, 4])
