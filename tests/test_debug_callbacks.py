"""debug.print / debug.callback and pure_callback, from JAX's documented behaviour:
runtime values under jit (printed per call, not per trace), once per member under
vmap, primal values under grad, kept by the compiler although unread, inside loop
bodies; pure_callback's results, vmap methods, and its missing derivative."""

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace.errors import FunctraceError, MissingRuleError, ShapeError, TransformError


def test_print_under_jit_prints_runtime_values_on_every_call(capsys):
    @ft.jit
    def f(x):
        ft.debug.print("x = {}", x)
        return x * 2

    f(np.float32(3.0))
    f(np.float32(4.0))  # same signature: no retrace, still prints
    assert capsys.readouterr().out == "x = 3.0\nx = 4.0\n"


def test_callback_is_kept_though_nothing_reads_it():
    seen = []

    def f(x):
        ft.debug.callback(seen.append, x + 1)
        return x * 2

    np.testing.assert_allclose(ft.jit(f)(np.arange(3.0, dtype=np.float32)), [0, 2, 4])
    np.testing.assert_allclose(seen[-1], [1, 2, 3])
    text = str(ft.make_jaxpr(f)(1.0))
    assert "debug_callback[" in text and " = debug_callback" not in text  # no results


def test_vmap_calls_once_per_member_and_grad_sees_primals():
    seen = []
    ft.vmap(lambda x: ft.debug.callback(seen.append, x))(np.arange(3.0, dtype=np.float32))
    assert [float(s) for s in seen] == [0.0, 1.0, 2.0]
    seen.clear()
    g = ft.grad(lambda x: (ft.debug.callback(seen.append, x), x * x)[1])(3.0)
    assert float(g) == 6.0 and [float(s) for s in seen] == [3.0]


def test_print_inside_a_jitted_scan_body(capsys):
    def body(c, _):
        ft.debug.print("c={c}", c=c)
        return c + 1.0, None

    out = ft.jit(lambda x: lax.scan(body, x, None, length=3)[0])(np.float32(0.0))
    assert float(out) == 3.0
    assert capsys.readouterr().out == "c=0.0\nc=1.0\nc=2.0\n"


def test_print_format_errors_name_the_problem():
    with pytest.raises(FunctraceError, match="positional"):
        ft.debug.print("{} {}", 1.0)
    with pytest.raises(FunctraceError, match="keyword"):
        ft.debug.print("{y}", x=1.0)


def _sin(x):
    return ft.pure_callback(np.sin, ft.ShapeDtypeStruct(x.shape, x.dtype), x,
                            vmap_method="sequential")


def test_pure_callback_values_eager_and_jit():
    x = np.linspace(-1, 1, 5, dtype=np.float32)
    np.testing.assert_allclose(_sin(x), np.sin(x), rtol=1e-6)
    np.testing.assert_allclose(ft.jit(_sin)(x), np.sin(x), rtol=1e-6)


@pytest.mark.parametrize("method", ["sequential", "expand_dims", "broadcast_all"])
def test_pure_callback_vmap_methods(method):
    calls = []

    def host(x, w):
        calls.append((x.shape, w.shape))
        return (x * w).sum(-1)

    def f(x, w):
        return ft.pure_callback(host, ft.ShapeDtypeStruct((), x.dtype), x, w,
                                vmap_method=method)

    xs = np.arange(6, dtype=np.float32).reshape(3, 2)
    w = np.array([1.0, 10.0], np.float32)
    out = ft.vmap(f, in_axes=(0, None))(xs, w)
    np.testing.assert_allclose(out, xs @ w)
    want = {"sequential": [((2,), (2,))] * 3, "expand_dims": [((3, 2), (1, 2))],
            "broadcast_all": [((3, 2), (3, 2))]}[method]
    assert calls == want


def test_pure_callback_errors():
    x = np.ones(2, np.float32)
    with pytest.raises(TransformError, match="vmap_method"):
        ft.vmap(lambda v: ft.pure_callback(np.sin, ft.ShapeDtypeStruct((), v.dtype), v))(
            np.ones((2, 2), np.float32))
    with pytest.raises(MissingRuleError, match="custom_jvp"):
        ft.grad(lambda v: fnp.sum(_sin(v)))(x)
    with pytest.raises(ShapeError, match="shape"):
        ft.pure_callback(lambda v: v[:1], ft.ShapeDtypeStruct((2,), np.float32), x)
