"""jit's per-call path: every kind of argument gets JAX's dtypes and weak types, and
jit traces once per signature (shape, canonical dtype, weak type, tree), no more, no less.

The dispatch fast path reads a leaf's signature from its type; these tests pin what it
must agree with. Expected dtypes are JAX 0.10's (``jax.jit`` with x64 off): a Python
scalar is weakly typed, a NumPy scalar is strongly typed with its own dtype (64-bit ones
narrowed), a 0-d array is the same as a NumPy scalar of its dtype. Each case also runs
with the argument inside a namedtuple, which takes the general path.
"""

import collections

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import functrace as ft
import functrace.numpy as fnp
from functrace.tree_util import tree_map

Box = collections.namedtuple("Box", ["v"])

# kind -> (value, dtype of jit(lambda x: x)(value), dtype of jit(lambda x: x + f16(1))(value))
# as jax.jit returns them: a weak Python scalar takes float16's dtype, a strong one wins
KINDS = {
    "python float": (2.0, "float32", "float16"),
    "python int": (2, "int32", "float16"),
    "np.float32": (np.float32(2.0), "float32", "float32"),
    "np.float64": (np.float64(2.0), "float32", "float32"),
    "np.float16": (np.float16(2.0), "float16", "float16"),
    "np.int64": (np.int64(2), "int32", "float16"),
    "np.int8": (np.int8(2), "int8", "float16"),
    "np.bool_": (np.bool_(True), "bool", "float16"),
    "np.complex64": (np.complex64(1 + 2j), "complex64", "complex64"),
    "0-d float32": (np.array(2.0, np.float32), "float32", "float32"),
    "0-d float64": (np.array(2.0), "float32", "float32"),
    "(3,) float64": (np.ones(3), "float32", "float32"),
    "Array": (fnp.ones((2, 3)), "float32", "float32"),
}


@pytest.mark.parametrize("boxed", [False, True], ids=["positional", "namedtuple"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_argument_kinds_get_jax_dtypes_and_weak_types(kind, boxed):
    value, same_dtype, with_f16_dtype = KINDS[kind]
    ident = ft.jit(lambda x: x)
    plus_f16 = ft.jit(lambda x: tree_map(lambda v: v + np.float16(1), x))
    arg = Box(value) if boxed else value
    out = ident(arg)
    out = out.v if boxed else out
    assert out.dtype == np.dtype(same_dtype)
    assert out.shape == np.shape(value)
    np.testing.assert_array_equal(out, np.asarray(value).astype(same_dtype))
    out = plus_f16(arg)
    out = out.v if boxed else out
    assert out.dtype == np.dtype(with_f16_dtype)
    np.testing.assert_allclose(out, np.asarray(value).astype(np.complex128) + 1, rtol=1e-3)


def test_lesson_grad_with_numpy_scalars():
    # the lesson's f = (x + y) * z at (-2, 5, -4): df = (z, z, x + y) = (-4, -4, 3)
    g = ft.jit(ft.grad(lambda x, y, z: (x + y) * z, argnums=(0, 1, 2)))
    for args in [(-2.0, 5.0, -4.0), (np.float32(-2.0), np.float32(5.0), np.float32(-4.0)),
                 tuple(np.array(v, np.float32) for v in (-2.0, 5.0, -4.0)),
                 (np.float64(-2.0), 5.0, np.array(-4.0))]:
        out = g(*args)
        assert isinstance(out, tuple) and len(out) == 3
        assert all(o.dtype == np.float32 and o.shape == () for o in out)
        assert [float(o) for o in out] == [-4.0, -4.0, 3.0]
    # Python scalars (weak), NumPy scalars = 0-d arrays (strong), the mixed call a fourth
    assert g.compile_count == 3


def test_one_trace_per_signature():
    f = ft.jit(lambda x: x)
    f(1.0), f(-3.5)  # weak f32[]
    assert f.compile_count == 1
    f(np.float32(1.0)), f(np.float64(2.0)), f(np.array(3.0, np.float32)), f(np.array(4.0))
    assert f.compile_count == 2  # strong f32[]: all four (64-bit narrowed)
    f(np.ones(3)), f(np.ones(3, np.float32)), f(fnp.ones(3))
    assert f.compile_count == 3  # f32[3]
    f({"a": 1.0, "b": np.float32(2.0)}), f({"b": np.float32(5.0), "a": 7.0})
    assert f.compile_count == 4  # the same dict tree, whatever the insertion order
    f({"a": np.float32(1.0), "b": 1.0})
    assert f.compile_count == 5  # weak and strong swapped between the keys
    f([1.0, 2.0]), f((1.0, 2.0)), f(Box(1.0)), f(None)
    assert f.compile_count == 9  # list, tuple, namedtuple and None are distinct trees
    f(x=1.0), f(x=2.0)
    assert f.compile_count == 10  # a keyword argument is part of the tree
    f(1)
    assert f.compile_count == 11  # weak i32[]


def test_x64_changes_the_signature(x64):
    f = ft.jit(lambda x: x * 2)
    assert f(1.5).dtype == np.float64
    assert f(np.float32(1.5)).dtype == np.float32
    assert f(np.float64(1.5)).dtype == np.float64
    assert f(np.int64(3)).dtype == np.int64
    assert f.compile_count == 4


def test_fast_path_leaves_tracers_and_errors_to_the_general_path():
    f = ft.jit(lambda x, y: x * y)
    # under grad the arguments are tracers: jit traces through
    assert float(ft.grad(f)(np.float32(3.0), np.float32(2.0))) == 2.0
    with pytest.raises(ft.errors.DTypeError, match="str"):
        f("a", 1.0)
    with pytest.raises(ft.errors.DTypeError):
        f(np.str_("a"), 1.0)


# a pool of arguments, each with its JAX signature (the cache key JAX would use)
POOL = [
    (1.0, "f32[] weak"), (-2.5, "f32[] weak"), (3, "i32[] weak"),
    (np.float32(1.5), "f32[]"), (np.float64(2.5), "f32[]"), (np.array(1.0), "f32[]"),
    (np.array(2.0, np.float32), "f32[]"), (np.float16(1.0), "f16[]"), (np.int64(4), "i32[]"),
    (np.int32(5), "i32[]"), (np.ones(3, np.float32), "f32[3]"), (np.zeros(3), "f32[3]"),
    (np.ones((2, 3), np.float32), "f32[2,3]"), (fnp.ones(3), "f32[3]"),
    ({"a": np.float32(1.0)}, "{a: f32[]}"), ({"a": 1.0}, "{a: f32[] weak}"),
    ((np.float32(1.0), 2.0), "(f32[], f32[] weak)"), ([np.float32(1.0), 2.0],
                                                      "[f32[], f32[] weak]"),
    (Box(np.float32(1.0)), "Box(f32[])"),
]


@given(st.lists(st.integers(0, len(POOL) - 1), min_size=1, max_size=12))
def test_trace_count_is_the_number_of_distinct_signatures(picks):
    f = ft.jit(lambda x, y: tree_map(lambda v: v * y, x))
    for i in picks:
        value, _ = POOL[i]
        out = f(value, np.float32(2.0))
        expected = tree_map(lambda v: np.asarray(v, np.float32) * 2, value)
        for o, e in zip(ft.tree_util.tree_leaves(out), ft.tree_util.tree_leaves(expected),
                        strict=True):
            np.testing.assert_array_equal(np.asarray(o, np.float32), e)
    assert f.compile_count == len({POOL[i][1] for i in picks})


def test_cotangent_of_a_sum_is_not_multiplied_by_broadcast_ones():
    # what a small call runs: grad(sum((x + y) * z)) = (z, z, x + y). Reverse mode seeds the
    # sum's cotangent as a broadcast 1.0; multiplying by it is the identity, so the
    # optimised program keeps only the add, as for scalars
    g = ft.jit(ft.grad(lambda x, y, z: fnp.sum((x + y) * z), argnums=(0, 1, 2)))
    x, y, z = (np.arange(8, dtype=np.float32) * k - 3 for k in (1.0, 0.5, -2.0))
    gx, gy, gz = g(x, y, z)
    np.testing.assert_array_equal(gx, z)
    np.testing.assert_array_equal(gy, z)
    np.testing.assert_array_equal(gz, x + y)
    program = g.lower(x, y, z).as_text().split("# plan")[0]
    assert "broadcast_in_dim" not in program and "mul" not in program
    # a broadcast 2.0 is not a unit: it stays
    h = ft.jit(ft.grad(lambda x: fnp.sum(x * x) * 2.0))
    np.testing.assert_allclose(h(x), 4 * x)


CONST = np.arange(6, dtype=np.float32).reshape(2, 3)
PROGRAMS = {  # a tiny fused step, a kernel step, a closed-over constant, literal outputs
    "lesson grad": (ft.grad(lambda x, y, z: (x + y) * z, argnums=(0, 1, 2)), (-2.0, 5.0, -4.0)),
    "matmul chain": (lambda a, b: fnp.tanh(a @ b) @ b.T + 1.0,
                     (np.ones((2, 3), np.float32), np.full((3, 3), 0.5, np.float32))),
    "constant": (lambda a: (a * CONST).sum(axis=0), (np.ones((2, 3), np.float32),)),
    "literal out": (lambda a: (a, 2.0, {"k": a * 3}), (np.ones(4, np.float32),)),
    "big fused": (lambda a, b: fnp.maximum(a * b + 1.0, 0.0) - b,
                  (np.linspace(-2, 2, 64, dtype=np.float32), np.float32(0.5))),
}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_executable_runs_as_its_step_loop_and_eager(name):
    fun, args = PROGRAMS[name]
    jf = ft.jit(fun)
    out = jf(*args)
    expected = fun(*args)  # eager
    for o, e in zip(ft.tree_util.tree_leaves(out), ft.tree_util.tree_leaves(expected),
                    strict=True):
        e = np.asarray(e, np.float32) if isinstance(e, float) else e  # jit: f32[], as JAX
        assert o.dtype == e.dtype and o.shape == e.shape
        np.testing.assert_allclose(o, e, rtol=1e-6)
    compiled, leaves = jf._lookup(args, {})
    fast = compiled._run(*leaves)
    looped = compiled._run(*leaves, timings=[0.0] * len(compiled.steps))
    for a, b in zip(fast, looped, strict=True):
        np.testing.assert_array_equal(a, b)
    # results are fresh each call: changing one does not change the next call's (an
    # input passed through is the caller's own array, as before)
    for o in fast:
        if not any(o is x for x in leaves):
            o[...] = 7
    for a, b in zip(compiled._run(*leaves), looped, strict=True):
        np.testing.assert_array_equal(a, b)
