"""eval_shape, linear_transpose, closure_convert and named_call against their
definitions: shapes without evaluation, <t(ct), x> == <ct, f(x)> for linear f,
gradients through hoisted closure values, and names."""

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace.errors import MissingRuleError, ShapeError

rng = np.random.default_rng(0)


def test_eval_shape_gives_output_structure_without_evaluating():
    calls = []

    def f(a, b, *, scale):
        calls.append(type(a).__name__)
        return {"p": a @ b * scale, "s": (fnp.sum(a).astype(np.int32),)}

    a = ft.ShapeDtypeStruct((1000, 3), np.float32)
    out = ft.eval_shape(f, a, np.ones((3, 7), np.float32), scale=2.0)
    assert out["p"] == ft.ShapeDtypeStruct((1000, 7), np.float32)
    assert out["s"][0] == ft.ShapeDtypeStruct((), np.int32)
    assert "ShapeDtypeStruct" not in calls  # traced with abstract values, not called on them


def test_eval_shape_python_scalars_are_x32():
    # weakly typed, as in JAX (whose ShapeDtypeStruct equality compares weak_type too)
    out = ft.eval_shape(lambda x: x * 2, 3.0)
    assert out == ft.ShapeDtypeStruct((), np.float32, weak_type=True)
    assert out != ft.ShapeDtypeStruct((), np.float32)


@pytest.mark.parametrize("fn", [
    lambda x: 2.0 * x[::-1],
    lambda x: fnp.cumsum(x) - x.sum(),
    lambda x: fnp.concatenate([x, x * 3.0])[1:5],
])
def test_linear_transpose_is_the_adjoint(fn):
    x = rng.standard_normal(4).astype(np.float32)
    y = np.asarray(fn(x))
    ct = rng.standard_normal(y.shape).astype(np.float32)
    (tx,) = ft.linear_transpose(fn, x)(ct)
    np.testing.assert_allclose(np.vdot(tx, x), np.vdot(ct, y), rtol=1e-5)


def test_linear_transpose_of_a_pytree_function():
    f = lambda p: {"o": p["a"] * 2.0 + p["b"]}  # noqa: E731
    p = {"a": np.ones(3, np.float32), "b": np.zeros(3, np.float32)}
    out = ft.linear_transpose(f, p)({"o": np.arange(3, dtype=np.float32)})
    np.testing.assert_allclose(out[0]["a"], 2 * np.arange(3))
    np.testing.assert_allclose(out[0]["b"], np.arange(3))


def test_linear_transpose_errors():
    t = ft.linear_transpose(fnp.sin, np.zeros(3, np.float32))
    with pytest.raises(MissingRuleError, match="sin"):
        t(np.ones(3, np.float32))
    t = ft.linear_transpose(lambda x: x * 2.0, np.zeros(3, np.float32))
    with pytest.raises(ShapeError, match="cotangent"):
        t(np.ones(4, np.float32))


def test_closure_convert_hoists_traced_values_so_gradients_flow():
    def loss(w):
        f, consts = ft.closure_convert(lambda x: fnp.sin(x * w), np.float32(0.5))
        assert len(consts) == 1
        return f(np.float32(0.5), *consts)

    w = np.float32(1.3)
    np.testing.assert_allclose(ft.grad(loss)(w), 0.5 * np.cos(0.5 * w), rtol=1e-6)


def test_closure_convert_keeps_concrete_constants_inside():
    w = np.arange(3, dtype=np.float32)
    f, consts = ft.closure_convert(lambda x: x * w, np.ones(3, np.float32))
    assert consts == []
    np.testing.assert_allclose(f(np.full(3, 2.0, np.float32)), 2 * w)


def test_named_call_renames_and_computes():
    g = ft.named_call(lambda x: x + 1.0, name="inc")
    assert g.__name__ == "inc"
    assert ft.grad(g)(2.0) == 1.0
