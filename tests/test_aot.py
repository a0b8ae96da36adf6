"""Ahead-of-time stages (JAX's ``jit(f).trace/.lower/.compile``) and jit's options,
written from JAX's AOT documentation: a compiled executable takes the dynamic
arguments of the signature it was lowered for and rejects others with a TypeError."""

import threading

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import lax

X3 = np.arange(3, dtype=np.float32)


def test_compiled_is_callable_and_matches_the_jitted_function():
    f = ft.jit(lambda x, y: {"s": fnp.sin(x) * y, "t": x + 1})
    compiled = f.lower(X3, 2.0).compile()
    out = compiled(X3, 3.0)
    np.testing.assert_allclose(out["s"], np.sin(X3) * 3, rtol=1e-6)
    np.testing.assert_array_equal(out["t"], X3 + 1)


def test_compiled_rejects_other_shapes_and_structures():
    compiled = ft.jit(lambda x: x * 2).lower(X3).compile()
    with pytest.raises(TypeError, match=r"f32\[3\].*f32\[4\]"):
        compiled(np.ones(4, np.float32))
    with pytest.raises(TypeError, match="structured"):
        compiled(X3, X3)


def test_static_arguments_are_fixed_at_lowering_and_not_passed_again():
    f = ft.jit(lambda x, n: x * n, static_argnums=1)
    compiled = f.lower(X3, 5).compile()
    np.testing.assert_array_equal(compiled(X3), X3 * 5)
    with pytest.raises(TypeError):
        compiled(X3, 5)


def test_shape_dtype_structs_stand_for_arguments():
    sds = ft.ShapeDtypeStruct((2, 3), np.float32)
    compiled = ft.jit(lambda a: a @ a.T).lower(sds).compile()
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_allclose(compiled(a), a @ a.T)
    assert (sds.ndim, sds.size, len(sds)) == (2, 6, 2)


def test_trace_gives_the_program_and_the_output_types():
    traced = ft.jit(lambda x, y: (x * y, {"a": x.sum()})).trace(X3, 2.0)
    assert [str(v.aval.str_short()) for v in traced.jaxpr.jaxpr.invars] == ["f32[3]", "f32[]"]
    shapes = ft.tree_util.tree_map(lambda s: (s.shape, s.dtype), traced.out_info)
    assert shapes == (((3,), np.dtype(np.float32)), {"a": ((), np.dtype(np.float32))})
    np.testing.assert_array_equal(traced.lower().compile()(X3, 4.0)[0], X3 * 4)


def test_a_python_scalar_result_is_weakly_typed():
    # JAX: eval_shape(lambda x: x * 2, 1.) is f32[] with weak_type=True
    out = ft.eval_shape(lambda x: x * 2, 1.0)
    assert out.shape == () and out.dtype == np.float32 and out.weak_type
    assert not ft.eval_shape(lambda x: x * 2, X3).weak_type


def test_compile_does_not_fire_callbacks(capsys):
    def f(x):
        ft.debug.print("value {x}", x=x)
        return x + 1

    compiled = ft.jit(f).lower(X3).compile()
    assert capsys.readouterr().out == ""  # JAX compiles without running the program
    compiled(X3)
    assert "value" in capsys.readouterr().out


def test_compile_does_not_run_a_loop_that_never_ends_on_zeros():
    # from 0 the loop c -> 2c never reaches 10: compiling must not execute it
    f = ft.jit(lambda c: lax.while_loop(lambda c: c < 10.0, lambda c: c * 2.0, c))
    done = {}
    worker = threading.Thread(target=lambda: done.update(c=f.lower(1.0).compile()),
                              daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "compile() ran the while loop on zeros"
    assert float(done["c"](1.0)) == 16.0


def test_inline_puts_the_body_into_the_enclosing_trace():
    body = lambda x, y: x * y + 1.0  # noqa: E731
    nested = str(ft.make_jaxpr(lambda x: ft.jit(body)(x, 2.0))(1.0))
    inlined = str(ft.make_jaxpr(lambda x: ft.jit(body, inline=True)(x, 2.0))(1.0))
    assert "jit[" in nested and "jit[" not in inlined
    assert "mul" in inlined and "add" in inlined


def test_donation_options_are_accepted_and_checked():
    f = ft.jit(lambda x, y: x + y, donate_argnames="y", keep_unused=True)
    assert f.donate_argnums == (1,) and "y" in f.donate_argnames
    np.testing.assert_array_equal(f(X3, X3), 2 * X3)  # a no-op on the CPU, as in JAX
    with pytest.raises(TypeError, match="'z'"):
        ft.jit(lambda x, y: x + y, donate_argnames="z")
    with pytest.raises(NotImplementedError, match="in_shardings"):
        ft.jit(lambda x: x, in_shardings=object())


def test_device_selects_the_backend():
    cpu = ft.devices()[0]
    np.testing.assert_array_equal(ft.jit(lambda x: x * 3, device=cpu)(X3), X3 * 3)
    with pytest.raises(TypeError, match="device"):
        ft.jit(lambda x: x, device="cpu")
