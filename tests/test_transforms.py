"""grad / jvp / vjp / linearize / jacfwd / jacrev / hessian / custom rules, on pytrees."""

import collections

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import nn
from functrace.core.jaxpr import typecheck
from functrace.errors import TransformError
from functrace.test_util import check_grads
from functrace.tree_util import tree_flatten, tree_map


def mlp_loss(params, x, y):
    h = x
    for w, b in params[:-1]:
        h = fnp.tanh(h @ w + b)
    w, b = params[-1]
    logits = h @ w + b
    return -fnp.mean(fnp.sum(nn.log_softmax(logits) * y, axis=-1))


def make_mlp(rng, sizes, dtype=np.float64):
    return [(rng.standard_normal((m, n)).astype(dtype) / np.sqrt(m),
             rng.standard_normal(n).astype(dtype) * 0.1)
            for m, n in zip(sizes[:-1], sizes[1:])]


def numeric_grad(f, params, eps=1e-6):
    leaves, tree = tree_flatten(params)
    grads = []
    for i, leaf in enumerate(leaves):
        g = np.zeros_like(leaf)
        for idx in np.ndindex(leaf.shape):
            for sign in (1, -1):
                bumped = [lf.copy() for lf in leaves]
                bumped[i][idx] += sign * eps
                g[idx] += sign * float(f(tree.unflatten(bumped))) / (2 * eps)
        grads.append(g)
    return tree.unflatten(grads)


@pytest.fixture
def mlp(x64):
    rng = np.random.default_rng(0)
    params = make_mlp(rng, [3, 4, 2])
    x = rng.standard_normal((5, 3))
    y = np.eye(2)[rng.integers(0, 2, 5)]
    return params, x, y


def test_grad_matches_finite_differences_on_mlp(mlp):
    params, x, y = mlp
    g = ft.grad(mlp_loss)(params, x, y)
    num = numeric_grad(lambda p: mlp_loss(p, x, y), params)
    assert tree_flatten(g)[1] == tree_flatten(params)[1]
    for a, b in zip(tree_flatten(g)[0], tree_flatten(num)[0]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)


def test_all_modes_agree_on_mlp(mlp):
    params, x, y = mlp
    w0 = params[0][0]

    def f(w):
        return mlp_loss([(w, params[0][1])] + params[1:], x, y)

    g = ft.grad(f)(w0)
    jf = ft.jacfwd(f)(w0)
    jr = ft.jacrev(f)(w0)
    _, vjp_fun = ft.vjp(f, w0)
    (gv,) = vjp_fun(np.ones(()))
    t = np.random.default_rng(1).standard_normal(w0.shape)
    _, jvp_out = ft.jvp(f, (w0,), (t,))
    _, f_lin = ft.linearize(f, w0)
    np.testing.assert_allclose(jf, g, rtol=1e-10)
    np.testing.assert_allclose(jr, g, rtol=1e-10)
    np.testing.assert_allclose(gv, g, rtol=1e-10)
    np.testing.assert_allclose(jvp_out, np.sum(g * t), rtol=1e-10)
    np.testing.assert_allclose(f_lin(t), np.sum(g * t), rtol=1e-10)


def test_hessian_matches_finite_differences_of_grad(mlp):
    params, x, y = mlp
    b1 = params[1][1]

    def f(b):
        return mlp_loss(params[:1] + [(params[1][0], b)], x, y)

    h = ft.hessian(f)(b1)
    eps = 1e-6
    num = np.stack([(ft.grad(f)(b1 + eps * e) - ft.grad(f)(b1 - eps * e)) / (2 * eps)
                    for e in np.eye(b1.size)], axis=-1)
    np.testing.assert_allclose(h, num, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(h, h.T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ft.jacrev(ft.jacrev(f))(b1), h, rtol=1e-10, atol=1e-12)


def test_mlp_check_grads_second_order(mlp):
    params, x, y = mlp
    check_grads(lambda p: mlp_loss(p, x, y), (params,), order=2)


def test_grad_of_grad_of_grad():
    f = lambda x: fnp.sin(x) * x  # noqa: E731
    x = 0.7
    d3 = ft.grad(ft.grad(ft.grad(f)))(x)
    expected = -3 * np.sin(x) - x * np.cos(x)
    np.testing.assert_allclose(d3, expected, rtol=1e-5)


def test_pytree_params_dict_and_namedtuple():
    Layer = collections.namedtuple("Layer", ["w", "b"])
    params = {"layer": Layer(np.ones((2, 2), np.float32), np.zeros(2, np.float32)),
              "scale": [np.float32(2.0)]}

    def f(p, x):
        return fnp.sum((x @ p["layer"].w + p["layer"].b) * p["scale"][0])

    g = ft.grad(f)(params, np.array([1.0, 2.0], np.float32))
    assert isinstance(g["layer"], Layer)
    np.testing.assert_allclose(g["layer"].w, [[2, 2], [4, 4]])
    np.testing.assert_allclose(g["layer"].b, [2, 2])
    np.testing.assert_allclose(g["scale"][0], 6.0)  # sum(x @ w + b)


def test_value_and_grad_has_aux_and_argnums():
    def f(x, y):
        return x * y, {"double": 2 * x}

    (val, aux), (gx, gy) = ft.value_and_grad(f, argnums=(0, 1), has_aux=True)(3.0, 4.0)
    assert float(val) == 12.0 and float(aux["double"]) == 6.0
    assert (float(gx), float(gy)) == (4.0, 3.0)
    g, aux = ft.grad(f, has_aux=True)(3.0, 4.0)
    assert float(g) == 4.0


def test_unused_argument_gets_zero_gradient():
    g = ft.grad(lambda x, y: x * 2.0, argnums=1)(1.0, 5.0)
    assert float(g) == 0.0 and g.dtype == np.float32


def test_symbolic_zero_cotangents_add_no_equations():
    closed = ft.make_jaxpr(ft.grad(lambda x, y: fnp.sin(x) + 0.0 * 1.0, argnums=0))(1.0, 2.0)
    names = [e.primitive.name for e in closed.eqns]
    assert "add_any" not in names
    typecheck(closed)


def test_cotangent_of_value_used_twice_accumulates():
    assert float(ft.grad(lambda x: x * x + x)(3.0)) == 7.0


def test_stop_gradient():
    assert float(ft.grad(lambda x: x * ft.lax.stop_gradient(x))(3.0)) == 3.0
    assert float(ft.grad(lambda x: ft.stop_gradient(x * x) + x)(3.0)) == 1.0


def test_custom_jvp_is_used_by_grad_and_jvp():
    @ft.custom_jvp
    def f(x):
        return fnp.sin(x)

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return f(x), 10.0 * t  # deliberately not cos(x)

    assert float(ft.grad(f)(0.3)) == 10.0
    assert float(ft.jvp(f, (0.3,), (1.0,))[1]) == 10.0
    assert np.isclose(float(f(0.3)), np.sin(0.3))


def test_custom_vjp_runs_numpy_body_and_user_bwd():
    seen = []

    @ft.custom_vjp
    def square(x):
        seen.append(type(x))
        return x * x

    def fwd(x):
        return square(x), x

    def bwd(x, g):
        return (g * 2 * x + 100.0,)  # marker to prove bwd is used

    square.defvjp(fwd, bwd)
    x = np.array([1.0, 2.0], np.float32)
    np.testing.assert_allclose(ft.grad(lambda v: fnp.sum(square(v)))(x), [102.0, 104.0])
    assert np.ndarray in seen  # the body saw concrete NumPy arrays under grad
    with pytest.raises(TransformError, match="forward-mode"):
        ft.jvp(square, (x,), (x,))


def test_custom_vjp_grad_of_grad_uses_autodiff_of_bwd():
    @ft.custom_vjp
    def cube(x):
        return x * x * x

    cube.defvjp(lambda x: (cube(x), x), lambda x, g: (3.0 * x * x * g,))
    np.testing.assert_allclose(ft.grad(ft.grad(cube))(2.0), 12.0)


def test_make_jaxpr_of_jvp_and_vjp_typecheck():
    def f(x):
        return fnp.sum(fnp.tanh(x) * x)

    x = np.ones(3, np.float32)
    typecheck(ft.make_jaxpr(lambda x: ft.jvp(f, (x,), (x,)))(x))
    typecheck(ft.make_jaxpr(lambda x: ft.vjp(f, x)[1](1.0))(x))
    typecheck(ft.make_jaxpr(ft.hessian(f))(x))


# --- bad input ---------------------------------------------------------------

def test_grad_of_non_scalar_output():
    with pytest.raises(TransformError, match=r"scalar output.*f32\[3\].*vjp"):
        ft.grad(lambda x: x * 2.0)(np.ones(3, np.float32))


def test_grad_of_integer_output():
    with pytest.raises(TransformError, match="floating-point output"):
        ft.grad(lambda x: fnp.argmax(x))(np.ones(3, np.float32))


def test_grad_wrt_integer_input():
    with pytest.raises(TransformError, match=r"argument 0.*int32"):
        ft.grad(lambda x: x * 2.0)(3)


def test_argnums_out_of_range():
    with pytest.raises(TransformError, match=r"argnums=2 is out of range.*2 positional"):
        ft.grad(lambda x, y: x * y, argnums=2)(1.0, 2.0)


def test_jvp_structure_mismatch():
    with pytest.raises(TransformError, match="same tree structure"):
        ft.jvp(lambda x: x, ((1.0, 2.0),), ([1.0, 2.0],))


def test_vjp_cotangent_structure_and_shape_mismatch():
    _, f_vjp = ft.vjp(lambda x: (x, x), np.ones(2, np.float32))
    with pytest.raises(TransformError, match="structure of the output"):
        f_vjp(np.ones(2, np.float32))
    with pytest.raises(TransformError, match=r"shape \(3,\)"):
        f_vjp((np.ones(3, np.float32), np.ones(2, np.float32)))


def test_tree_map_mismatch_is_reported():
    with pytest.raises(ValueError, match="structure"):
        tree_map(lambda a, b: a + b, {"a": 1, "b": 2}, {"a": 1, "c": 2})
