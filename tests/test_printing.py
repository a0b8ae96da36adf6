"""make_jaxpr's text against what JAX 0.10.2 prints for the same programs (strings
copied from JAX's output): the 80-column layout, ``_`` for unread results, and the
parameters JAX shows."""

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace.core.pretty import brk, concat, group, layout, nest, text

X = np.ones(3, np.float32)


def test_a_program_that_fits_in_80_columns_is_one_line():
    assert str(ft.make_jaxpr(lambda x, y: (x + y) * y)(1., 2.)) == (
        "{ lambda ; a:f32[] b:f32[]. let c:f32[] = add a b; d:f32[] = mul c b in (d,) }")
    assert str(ft.make_jaxpr(lambda x: x ** 3)(X)) == (
        "{ lambda ; a:f32[3]. let b:f32[3] = integer_pow[y=3] a in (b,) }")


def test_a_longer_program_puts_one_equation_per_line():
    assert str(ft.make_jaxpr(lambda x, y: (x + y) * y * x)(1., 2.)) == (
        "{ lambda ; a:f32[] b:f32[]. let\n"
        "    c:f32[] = add a b\n"
        "    d:f32[] = mul c b\n"
        "    e:f32[] = mul d a\n"
        "  in (e,) }")


def test_unread_results_are_underscores_and_take_no_name():
    assert str(ft.make_jaxpr(lambda x: (fnp.sin(x), x)[1])(1.)) == (
        "{ lambda ; a:f32[]. let _:f32[] = sin a in (a,) }")
    assert str(ft.make_jaxpr(ft.grad(lambda a: fnp.sum(fnp.sin(a))))(X)) == (
        "{ lambda ; a:f32[3]. let\n"
        "    b:f32[3] = sin a\n"
        "    c:f32[3] = cos a\n"
        "    _:f32[] = reduce_sum[axes=(0,) out_sharding=None] b\n"
        "    d:f32[3] = broadcast_in_dim 1.0:f32[]\n"
        "    e:f32[3] = mul d c\n"
        "  in (e,) }")


def test_a_long_parameter_list_is_broken_one_per_line():
    assert str(ft.make_jaxpr(lambda a: fnp.dot(a, a))(X)) == (
        "{ lambda ; a:f32[3]. let\n"
        "    b:f32[] = dot_general[\n"
        "      dimension_numbers=(([0], [0]), ([], []))\n"
        "      preferred_element_type=float32\n"
        "    ] a a\n"
        "  in (b,) }")


def test_broadcast_in_dim_shows_only_nonempty_dimensions():
    got = str(ft.make_jaxpr(lambda x: lax.broadcast_in_dim(x, (3, 2), (1,)))(X[:2]))
    assert got == ("{ lambda ; a:f32[2]. let\n"
                   "    b:f32[3,2] = broadcast_in_dim[broadcast_dimensions=(1,)] a\n"
                   "  in (b,) }")


def test_layout_breaks_a_group_only_when_it_does_not_fit():
    doc = group(nest(2, concat([text("["), brk(""), text("aaaa"), brk(), text("bbbb"),
                                brk(""), text("]")])))
    assert layout(doc, 80) == "[aaaa bbbb]"
    assert layout(doc, 8) == "[\n  aaaa\n  bbbb\n  ]"
    inner = group(concat([text("xx"), brk(), text("yy")]))
    outer = group(nest(4, concat([text("f"), brk(), inner, brk(), text("zzzzzzzzzz")])))
    assert layout(outer, 12) == "f\n    xx yy\n    zzzzzzzzzz"  # the inner group still fits


def test_complex_literals_print_in_pythons_form():
    z = np.ones(3, np.complex64)
    assert str(ft.make_jaxpr(lambda x: x * (1 + 2j) + 3j)(z)) == (
        "{ lambda ; a:c64[3]. let\n"
        "    b:c64[3] = mul a (1+2j):c64[]\n"
        "    c:c64[3] = add b 3j:c64[]\n"
        "  in (c,) }")
    assert "(-0.5-2.5j):c64[]" in str(
        ft.make_jaxpr(lambda x: x * np.complex64(-0.5 - 2.5j))(z))


def test_custom_rule_equations_print_as_in_jax():
    @ft.custom_jvp
    def f(x):
        return x * 2

    @f.defjvp
    def f_jvp(p, t):
        return f(p[0]), t[0] * 2

    assert str(ft.make_jaxpr(f)(1.)) == (
        "{ lambda ; a:f32[]. let\n"
        "    b:f32[] = custom_jvp_call[\n"
        "      name=f\n"
        "      call_jaxpr={ lambda ; c:f32[]. let d:f32[] = mul c 2.0:f32[] in (d,) }\n"
        "      jvp=f_jvp\n"
        "      symbolic_zeros=False\n"
        "    ] a\n"
        "  in (b,) }")

    @ft.custom_vjp
    def g(x):
        return x * 3

    g.defvjp(lambda x: (g(x), None), lambda r, c: (c * 3,))
    assert str(ft.make_jaxpr(g)(1.)) == (
        "{ lambda ; a:f32[]. let\n"
        "    b:f32[] = custom_vjp_call[\n"
        "      name=g\n"
        "      bwd=<lambda>\n"
        "      call_jaxpr={ lambda ; c:f32[]. let d:f32[] = mul c 3.0:f32[] in (d,) }\n"
        "      fwd=<lambda>\n"
        "      symbolic_zeros=False\n"
        "    ] a\n"
        "  in (b,) }")


def test_relus_derivative_selects_against_a_broadcast_zero():
    # JAX: select(x > 0, g, full_like(g, 0)); the zero is a broadcast literal
    text = str(ft.make_jaxpr(lambda x, t: ft.jvp(ft.nn.relu, (x,), (t,)))(X, X))
    assert "broadcast_in_dim 0.0:f32[]" in text and "full[" not in text


def test_make_jaxpr_axis_env_binds_names_for_collectives():
    # strings as JAX 0.10.2 prints them for the same calls
    text = str(ft.make_jaxpr(lambda x: lax.psum(x, "i"), axis_env=[("i", 4)])(1.))
    assert text == ("{ lambda ; a:f32[]. let\n"
                    "    b:f32[] = psum[axes=('i',) axis_index_groups=None] a\n"
                    "  in (b,) }")
    text = str(ft.make_jaxpr(lambda x: (lax.axis_index("i"), lax.psum(1, "i")),
                             axis_env=[("i", 4)])(X))
    assert "b:i32[] = axis_index[axis_name=i]" in text and "4:i32[]" in text
    with pytest.raises(ft.UnboundAxisError):
        ft.make_jaxpr(lambda x: lax.psum(x, "j"), axis_env=[("i", 4)])(1.)
