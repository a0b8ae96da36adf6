"""Error paths of the public entry points that take user data: the transformations
(jit, grad, value_and_grad, vjp, jvp, linearize, jacfwd, jacrev, hessian, vmap,
make_jaxpr) and the lax ops (issue 14, item 19).

Wrong shapes, wrong dtypes, wrong pytree structures, non-array objects, NaN/inf and
empty arrays. Each case either raises a functrace error (a subclass of
``FunctraceError``) whose message names the operation and the offending
shape/dtype/argument, or gives the result NumPy gives. Never a raw Numba, NumPy or
Python error from inside the library. fnp, stax, optimizers and checkpoints are in
test_error_paths_nn.py.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import functrace as ft
from functrace import lax
from functrace.errors import (
    DTypeError,
    FunctraceError,
    ShapeError,
    TransformError,
)

f32 = np.float32
A3 = np.arange(3, dtype=f32)
A4 = np.ones(4, f32)
A23 = np.ones((2, 3), f32)
A32 = np.ones((3, 2), f32)
I23 = np.ones((2, 3), np.int32)
NCHW = np.ones((1, 2, 5, 5), f32)
OIHW = np.ones((4, 2, 3, 3), f32)
NHWC = np.ones((1, 5, 5, 2), f32)
STR = np.array(["a", "b", "c"])
OBJ = np.array([object()] * 3)
DATES = np.array(["2020-01-01"] * 3, "datetime64[D]")


def sq(x):
    return (x * x).sum()


def check_raises(thunk, exc, words):
    """``thunk()`` raises ``exc``, a functrace error whose message holds every word."""
    with pytest.raises(exc) as info:
        thunk()
    assert isinstance(info.value, FunctraceError), type(info.value).__mro__
    for word in words:
        assert word in str(info.value), f"{word!r} not in: {info.value}"


# ---------------------------------------------------------------------------
# lax ops: (id, fn of array args, args, exception, words of the message). Each runs
# eagerly and under jit: the same error either way, from the shape rule.

LAX_ERRORS = [
    ("add/shapes", lax.add, (A23, A32), ShapeError, ["lax.add", "(2, 3)", "(3, 2)"]),
    ("add/dtypes", lax.add, (A23, I23), DTypeError, ["lax.add", "f32[2,3]", "i32[2,3]"]),
    # JAX broadcasts size-1 dims at equal rank ((0, 3) + (1, 3) is (0, 3)), not other ranks
    ("add/rank-vs-1", lax.add, (np.ones((0, 3), f32), np.ones((3,), f32)), ShapeError,
     ["lax.add", "(0, 3)", "(3,)"]),
    ("mul/complex", lax.mul, (A23, A23.astype(np.complex64)), DTypeError,
     ["lax.mul", "c64[2,3]"]),
    ("sin/int", lax.sin, (I23,), DTypeError, ["lax.sin", "i32[2,3]"]),
    ("exp/bool", lax.exp, (np.ones(3, bool),), DTypeError, ["lax.exp", "bool[3]"]),
    ("select/shape", lax.select, (np.ones(3, bool), A4, A4), ShapeError,
     ["lax.select", "(3,)", "(4,)"]),
    ("select/pred-dtype", lax.select, (A4, A4, A4), DTypeError, ["lax.select", "f32[4]"]),
    ("select/branch-dtypes", lax.select, (np.ones(4, bool), A4, A4.astype(np.int32)),
     DTypeError, ["lax.select", "i32[4]"]),
    ("dot/shapes", lax.dot, (A23, A23), ShapeError, ["lax.dot", "(2, 3)"]),
    # (f32 . i32 is allowed, as in JAX: the product is f32; tests/test_lax_dot.py)
    ("dot_general/oob", lambda a, b: lax.dot_general(a, b, (((5,), (0,)), ((), ()))),
     (A23, A32), ShapeError, ["dot_general", "(5,)", "(2, 3)"]),
    ("dot_general/sizes", lambda a, b: lax.dot_general(a, b, (((0,), (0,)), ((), ()))),
     (A23, A32), ShapeError, ["dot_general", "(2, 3)", "(3, 2)"]),
    ("dot_general/repeat", lambda a, b: lax.dot_general(a, b, (((1, 1), (0, 0)), ((), ()))),
     (A23, A32), ShapeError, ["dot_general", "repeat"]),
    ("dot_general/structure", lambda a, b: lax.dot_general(a, b, ((1,), (0,))),
     (A23, A32), ShapeError, ["dot_general", "dimension_numbers"]),
    ("dot_general/batch", lambda a, b: lax.dot_general(a, b, (((2,), (1,)), ((0,), (0,)))),
     (np.ones((2, 3, 4), f32), np.ones((3, 4, 5), f32)), ShapeError,
     ["dot_general", "batch", "(2, 3, 4)"]),
    ("conv/rank", lambda x, w: lax.conv_general_dilated(x, w, (1, 1), "SAME"),
     (A23, OIHW), ShapeError, ["conv", "(2, 3)", "(4, 2, 3, 3)"]),
    ("conv/features", lambda x, w: lax.conv_general_dilated(x, w, (1, 1), "SAME"),
     (NCHW, np.ones((4, 3, 3, 3), f32)), ShapeError,
     ["conv_general_dilated", "(1, 2, 5, 5)", "(4, 3, 3, 3)"]),
    ("conv/padding", lambda x, w: lax.conv_general_dilated(x, w, (1, 1), "FULL"),
     (NCHW, OIHW), ShapeError, ["conv", "'FULL'", "VALID"]),
    ("conv/padding-pairs", lambda x, w: lax.conv_general_dilated(x, w, (1, 1), ((1,), (1,))),
     (NCHW, OIHW), ShapeError, ["conv_general_dilated", "padding"]),
    ("conv/strides-len", lambda x, w: lax.conv_general_dilated(x, w, (1,), "SAME"),
     (NCHW, OIHW), ShapeError, ["conv", "window_strides", "(1,)"]),
    ("conv/strides-0", lambda x, w: lax.conv_general_dilated(x, w, (0, 1), "SAME"),
     (NCHW, OIHW), ShapeError, ["conv_general_dilated", "window_strides", "(0, 1)"]),
    ("conv/groups", lambda x, w: lax.conv_general_dilated(x, w, (1, 1), "SAME",
                                                          feature_group_count=3),
     (np.ones((1, 4, 5, 5), f32), OIHW), ShapeError,
     ["conv_general_dilated", "feature_group_count=3"]),
    ("conv/dimension_numbers", lambda x, w: lax.conv_general_dilated(
        x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NXYZ")),
     (NHWC, np.ones((3, 3, 2, 4), f32)), ShapeError, ["conv", "'NXYZ'"]),
    ("conv/spec-rank", lambda x, w: lax.conv_general_dilated(
        x, w, (1, 1), "SAME", dimension_numbers=("NHW", "HWIO", "NHWC")),
     (NHWC, np.ones((3, 3, 2, 4), f32)), ShapeError, ["conv", "'NHW'", "rank 4"]),
    ("reduce_window/len", lambda x: lax.reduce_window(x, -np.inf, lax.max, (2, 2), (1, 1),
                                                      "VALID"),
     (NHWC,), ShapeError, ["reduce_window_max", "(2, 2)", "(1, 5, 5, 2)"]),
    ("reduce_window/zero", lambda x: lax.reduce_window(x, -np.inf, lax.max, (1, 0, 2, 1),
                                                       (1, 1, 1, 1), "VALID"),
     (NHWC,), ShapeError, ["reduce_window_max", "(1, 0, 2, 1)"]),
    ("reduce_window/stride", lambda x: lax.reduce_window(x, -np.inf, lax.max, (1, 2, 2, 1),
                                                         (1, 0, 1, 1), "VALID"),
     (NHWC,), ShapeError, ["reduce_window_max", "window_strides"]),
    ("reduce_window/too-big", lambda x: lax.reduce_window(x, -np.inf, lax.max, (1, 9, 2, 1),
                                                          (1, 1, 1, 1), "VALID"),
     (NHWC,), ShapeError, ["reduce_window_max", "(1, 5, 5, 2)"]),
    ("reduce_window/computation", lambda x: lax.reduce_window(
        x, 0.0, lambda a, b: a * b + 1, (1, 2, 2, 1), (1, 1, 1, 1), "VALID"),
     (NHWC,), TransformError, ["reduce_window", "lax.add"]),
    ("reduce_window/padding", lambda x: lax.reduce_window(x, 0.0, lax.add, (1, 2, 2, 1),
                                                          (1, 1, 1, 1), "FOO"),
     (NHWC,), ShapeError, ["reduce_window_sum", "'FOO'"]),
    ("reduce_window/init", lambda x: lax.reduce_window(x, np.ones(3, f32), lax.add,
                                                       (1, 2, 2, 1), (1, 1, 1, 1), "VALID"),
     (NHWC,), TransformError, ["reduce_window", "init_value"]),
    ("reshape/size", lambda x: lax.reshape(x, (4, 2)), (A23,), ShapeError,
     ["reshape", "(2, 3)", "(4, 2)"]),
    ("reshape/str", lambda x: lax.reshape(x, "ab"), (A23,), ShapeError,
     ["reshape", "'ab'", "ints"]),
    ("reshape/floats", lambda x: lax.reshape(x, (3.0, 2.0)), (A23,), ShapeError,
     ["reshape", "(3.0, 2.0)"]),
    ("broadcast_in_dim/size", lambda x: lax.broadcast_in_dim(x, (2, 4), (0, 1)), (A23,),
     ShapeError, ["broadcast_in_dim", "(2, 3)", "(2, 4)"]),
    ("broadcast_in_dim/len", lambda x: lax.broadcast_in_dim(x, (2, 3), (0,)), (A23,),
     ShapeError, ["broadcast_in_dim", "broadcast_dimensions=(0,)"]),
    ("broadcast_in_dim/order", lambda x: lax.broadcast_in_dim(x, (3, 2, 3), (2, 1)), (A23,),
     ShapeError, ["broadcast_in_dim", "(2, 1)"]),
    ("broadcast/negative", lambda x: lax.broadcast(x, (-1,)), (A23,), ShapeError,
     ["broadcast_in_dim", "negative"]),
    ("transpose/perm", lambda x: lax.transpose(x, (0, 0)), (A23,), ShapeError,
     ["transpose", "(0, 0)", "(2, 3)"]),
    ("squeeze/size", lambda x: lax.squeeze(x, (0,)), (A23,), ShapeError,
     ["squeeze", "axis 0", "(2, 3)"]),
    ("expand_dims/oob", lambda x: lax.expand_dims(x, (7,)), (A23,), ShapeError,
     ["expand_dims", "axis 7"]),
    ("reduce_sum/oob", lambda x: lax.reduce_sum(x, (2,)), (A23,), ShapeError,
     ["reduce_sum", "axis 2"]),
    ("reduce_sum/repeat", lambda x: lax.reduce_sum(x, (0, 0)), (A23,), ShapeError,
     ["reduce_sum", "(0, 0)"]),
    # (lax.reduce_max over an empty axis is -inf, as in JAX: not an error)
    ("argmax/empty", lambda x: lax.argmax(x, 0, np.int32), (np.ones(0, f32),), ShapeError,
     ["argmax", "size 0"]),
    ("argmax/oob", lambda x: lax.argmax(x, 4, np.int32), (A23,), ShapeError,
     ["argmax", "axis 4"]),
    ("cumsum/oob", lambda x: lax.cumsum(x, 3), (A23,), ShapeError, ["cumsum", "axis 3"]),
    ("concatenate/shapes", lambda a, b: lax.concatenate([a, b], 0), (A23, A32), ShapeError,
     ["concatenate", "(2, 3)", "(3, 2)"]),
    ("concatenate/dtypes", lambda a, b: lax.concatenate([a, b], 0), (A23, I23), DTypeError,
     ["concatenate", "i32[2,3]"]),
    ("concatenate/dim", lambda a: lax.concatenate([a, a], 2), (A23,), ShapeError,
     ["concatenate", "dimension 2"]),
    ("pad/config", lambda x: lax.pad(x, 0.0, [(1, 1, 0)]), (A23,), ShapeError,
     ["pad", "(2, 3)", "2 triples"]),
    ("pad/interior", lambda x: lax.pad(x, 0.0, [(1, 1, -1), (0, 0, 0)]), (A23,), ShapeError,
     ["pad", "interior"]),
    ("pad/value-shape", lambda x, v: lax.pad(x, v, [(1, 1, 0), (0, 0, 0)]), (A23, A3),
     ShapeError, ["pad", "padding_value", "f32[3]"]),
    ("pad/value-dtype", lambda x, v: lax.pad(x, v, [(1, 1, 0), (0, 0, 0)]),
     (A23, np.int32(0)), DTypeError, ["pad", "int32"]),
    ("slice/oob", lambda x: lax.slice(x, (0, 0), (3, 3)), (A23,), ShapeError,
     ["slice", "(3, 3)", "(2, 3)"]),
    ("slice/count", lambda x: lax.slice(x, (0,), (2, 3)), (A23,), ShapeError,
     ["slice", "(0,)", "(2, 3)"]),
    ("slice/stride", lambda x: lax.slice(x, (0, 0), (2, 3), (0, 1)), (A23,), ShapeError,
     ["slice", "strides (0, 1)"]),
    ("dynamic_slice/size", lambda x: lax.dynamic_slice(x, (0, 0), (3, 3)), (A23,), ShapeError,
     ["dynamic_slice", "(3, 3)", "(2, 3)"]),
    ("dynamic_slice/count", lambda x: lax.dynamic_slice(x, (0,), (1, 1)), (A23,), ShapeError,
     ["dynamic_slice", "1 start indices", "(2, 3)"]),
    ("dynamic_slice/float-index", lambda x: lax.dynamic_slice(x, (0.5, 0), (1, 1)), (A23,),
     DTypeError, ["dynamic_slice", "f32[]"]),
    ("dynamic_update_slice/size", lambda x, u: lax.dynamic_update_slice(x, u, (0, 0)),
     (A23, np.ones((3, 3), f32)), ShapeError, ["dynamic_update_slice", "(3, 3)", "(2, 3)"]),
    ("dynamic_update_slice/dtype", lambda x, u: lax.dynamic_update_slice(x, u, (0, 0)),
     (A23, np.ones((1, 1), np.int32)), DTypeError, ["dynamic_update_slice", "i32[1,1]"]),
    ("rev/oob", lambda x: lax.rev(x, (3,)), (A23,), ShapeError, ["rev", "(3,)", "(2, 3)"]),
    ("integer_pow/negative-int", lambda x: lax.integer_pow(x, -1), (np.ones(2, np.int32),),
     DTypeError, ["integer_pow", "i32[2]"]),
    ("integer_pow/float-power", lambda x: lax.integer_pow(x, 1.5), (A4,), DTypeError,
     ["integer_pow", "1.5", "lax.pow"]),
    ("convert/unknown", lambda x: lax.convert_element_type(x, "notadtype"), (A4,),
     DTypeError, ["convert_element_type", "'notadtype'"]),
    ("convert/object", lambda x: lax.convert_element_type(x, object), (A4,), DTypeError,
     ["convert_element_type", "object"]),
    ("bitcast/size", lambda x: lax.bitcast_convert_type(x, np.int16), (A3,), DTypeError,
     ["bitcast_convert_type", "f32[3]", "int16"]),
    ("population_count/float", lax.population_count, (A4,), DTypeError,
     ["population_count", "f32[4]"]),
    ("shift_left/float", lax.shift_left, (A4, A4), DTypeError, ["shift_left", "f32[4]"]),
    ("stable_argsort/dim", lambda x: lax.stable_argsort(x, dimension=3), (A23,), ShapeError,
     ["stable_argsort", "dimension 3"]),
]


@pytest.mark.parametrize("mode", ["eager", "jit"])
@pytest.mark.parametrize("fn, args, exc, words",
                         [pytest.param(*case[1:], id=case[0]) for case in LAX_ERRORS])
def test_lax_op_rejects_bad_operands(fn, args, exc, words, mode):
    f = fn if mode == "eager" else ft.jit(fn)
    check_raises(lambda: f(*args), exc, words)


# values that are not numbers, where an array goes: every op refuses them the same way
NOT_ARRAYS = [
    ("str", "abc", ["dtype <U3", "strings"]),
    ("str-array", STR, ["strings"]),
    ("object-array", OBJ, ["Python objects", "type object"]),
    ("dates", DATES, ["dates"]),
    ("None", None, ["NoneType"]),
    ("dict", {"a": 1}, ["dict"]),
    ("object", object(), ["object"]),
]
NOT_ARRAY_USES = [
    ("lax.add", lambda v: lax.add(A3, v)),
    ("lax.sin", lambda v: lax.sin(v)),
    ("lax.dot", lambda v: lax.dot(A23, v)),
    ("lax.conv", lambda v: lax.conv_general_dilated(v, OIHW, (1, 1), "SAME")),
    ("lax.reduce_window", lambda v: lax.reduce_window(v, 0.0, lax.add, (1,), (1,), "VALID")),
    ("lax.full", lambda v: lax.full((2,), v[0] if isinstance(v, np.ndarray) else v,
                                    np.float32)),
    ("jit", lambda v: ft.jit(lambda x: x + 1)(v)),
    ("make_jaxpr", lambda v: ft.make_jaxpr(lambda x: x + 1)(v)),
    ("vmap", lambda v: ft.vmap(lambda x: x * 2)(v)),
    ("grad", lambda v: ft.grad(sq)(v)),
    ("jacrev", lambda v: ft.jacrev(lambda x: x * 2)(v)),
]


@pytest.mark.parametrize("value, words",
                         [pytest.param(v, w, id=i) for i, v, w in NOT_ARRAYS])
@pytest.mark.parametrize("use", [pytest.param(u, id=i) for i, u in NOT_ARRAY_USES])
def test_a_non_numeric_value_where_an_array_goes_is_a_dtype_error(use, value, words):
    try:
        use(value)
    except DTypeError as e:
        assert any(w in str(e) for w in words), str(e)
        assert "Convert" in str(e) or "pass arrays" in str(e)  # says what to do
    except FunctraceError as e:
        # vmap passes unmapped non-arrays through (as JAX) and then names the bad leaf;
        # None and {} are empty pytrees for the transformations, as in JAX: then the
        # error is about the missing array, and still a functrace error
        assert value is None or isinstance(value, dict) or type(value).__name__ in str(e), e
    except TypeError as e:
        # ... or the user's own function fails on the empty pytree (JAX does the same)
        assert value is None or isinstance(value, dict), e
        assert "unsupported operand" in str(e)
    else:
        pytest.fail(f"no error for {value!r}")


# ---------------------------------------------------------------------------
# NaN, inf and empty arrays give NumPy's result, eagerly and under jit

NAN = np.array([np.nan, np.inf, -np.inf, 1.0], f32)
EMPTY = np.ones((0, 3), f32)

LAX_RESULTS = [
    ("add/nan", lax.add, (NAN, NAN[::-1].copy()), lambda a, b: a + b),
    ("mul/nan", lax.mul, (NAN, np.zeros(4, f32)), lambda a, b: a * b),
    ("max/nan", lax.max, (NAN, np.zeros(4, f32)),
     lambda a, b: np.where(np.isnan(a) | np.isnan(b), np.nan, np.maximum(a, b))),
    ("exp/inf", lax.exp, (NAN,), np.exp),
    ("log/neg", lax.log, (np.array([-1.0, 0.0, np.inf], f32),), np.log),
    ("add/empty", lax.add, (EMPTY, EMPTY), lambda a, b: a + b),
    ("reduce_sum/empty", lambda x: lax.reduce_sum(x, (0,)), (EMPTY,), lambda x: x.sum(0)),
    ("dot_general/empty-contraction", lambda a, b: lax.dot_general(
        a, b, (((1,), (0,)), ((), ()))), (np.ones((2, 0), f32), np.ones((0, 3), f32)),
     lambda a, b: a @ b),
    ("dot/nan", lax.dot, (NAN, np.ones(4, f32)), np.dot),
    ("reshape/empty", lambda x: lax.reshape(x, (3, 0)), (EMPTY,), lambda x: x.reshape(3, 0)),
    ("slice/empty", lambda x: lax.slice(x, (1,), (1,)), (A3,), lambda x: x[1:1]),
    ("concatenate/empty", lambda a, b: lax.concatenate([a, b], 0), (EMPTY, np.ones((2, 3), f32)),
     lambda a, b: np.concatenate([a, b])),
    ("reduce_window/nan", lambda x: lax.reduce_window(x, -np.inf, lax.max, (2,), (2,), "VALID"),
     (NAN,), lambda x: np.array([np.nan, 1.0], f32)),
    ("conv/filter-larger-than-input", lambda x, w: lax.conv_general_dilated(
        x, w, (1, 1), "VALID"), (np.ones((1, 2, 2, 2), f32), OIHW),
     lambda x, w: np.zeros((1, 4, 0, 0), f32)),  # JAX: an empty output, not an error
    ("conv/empty-batch", lambda x, w: lax.conv_general_dilated(x, w, (1, 1), "SAME"),
     (np.ones((0, 2, 5, 5), f32), OIHW), lambda x, w: np.zeros((0, 4, 5, 5), f32)),
]


@pytest.mark.parametrize("mode", ["eager", "jit"])
@pytest.mark.parametrize("fn, args, ref",
                         [pytest.param(*case[1:], id=case[0]) for case in LAX_RESULTS])
@pytest.mark.filterwarnings("ignore:invalid value", "ignore:divide by zero")
@pytest.mark.filterwarnings("ignore:overflow")
def test_lax_op_on_nan_inf_and_empty_gives_numpys_result(fn, args, ref, mode):
    f = fn if mode == "eager" else ft.jit(fn)
    got = np.asarray(f(*args))
    want = np.asarray(ref(*args))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-6, equal_nan=True)


@given(st.lists(st.integers(1, 4), min_size=1, max_size=3),
       st.lists(st.integers(1, 4), min_size=1, max_size=3))
def test_lax_binary_ops_reject_any_two_different_shapes(s1, s2):
    """lax needs equal shapes, except that (as in JAX) equal ranks may differ where one
    side has size 1: other pairs (neither rank 0) raise a ShapeError naming both; fnp
    broadcasts exactly when NumPy does."""
    a, b = np.ones(s1, f32), np.ones(s2, f32)
    unit_broadcast = len(s1) == len(s2) and all(
        p == q or 1 in (p, q) for p, q in zip(s1, s2, strict=True))
    if unit_broadcast:
        np.testing.assert_array_equal(lax.add(a, b), np.add(a, b))
    elif tuple(s1) != tuple(s2):
        check_raises(lambda: lax.add(a, b), ShapeError, [str(tuple(s1)), str(tuple(s2))])
    try:
        want = np.add(a, b)
    except ValueError:
        check_raises(lambda: ft.numpy.add(a, b), ShapeError, ["add"])
    else:
        np.testing.assert_array_equal(ft.numpy.add(a, b), want)


# ---------------------------------------------------------------------------
# the transformations

def vjp_fun(x=A3):
    return ft.vjp(lambda x: x * 2, x)[1]


TRANSFORM_ERRORS = [
    # not a function
    ("jit/not-callable", lambda: ft.jit(3), TransformError, ["jit", "int"]),
    ("grad/not-callable", lambda: ft.grad(3), TransformError, ["grad", "int"]),
    ("value_and_grad/not-callable", lambda: ft.value_and_grad("f"), TransformError,
     ["grad", "str"]),
    ("vjp/not-callable", lambda: ft.vjp(3, A3), TransformError, ["vjp", "int"]),
    ("jvp/not-callable", lambda: ft.jvp(3, (A3,), (A3,)), TransformError, ["jvp", "int"]),
    ("linearize/not-callable", lambda: ft.linearize(3, A3), TransformError,
     ["linearize", "int"]),
    ("jacfwd/not-callable", lambda: ft.jacfwd(3), TransformError, ["jacfwd", "int"]),
    ("jacrev/not-callable", lambda: ft.jacrev(3), TransformError, ["jacrev", "int"]),
    ("hessian/not-callable", lambda: ft.hessian(3), TransformError, ["hessian", "int"]),
    ("vmap/not-callable", lambda: ft.vmap(3)(A3), TransformError, ["vmap", "int"]),
    # jit
    ("jit/static_argnums-range", lambda: ft.jit(lambda x: x, static_argnums=3)(A3),
     TransformError, ["static_argnums", "out of range"]),
    ("jit/static-unhashable", lambda: ft.jit(lambda x, n: x * n, static_argnums=1)(A3, A3),
     TransformError, ["static argument 1", "unhashable", "ndarray"]),
    ("jit/returns-object", lambda: ft.jit(lambda x: object())(A3), DTypeError, ["object"]),
    ("jit/shape-error-inside", lambda: ft.jit(lambda x, y: lax.add(x, y))(A3, A23),
     ShapeError, ["lax.add", "(3,)", "(2, 3)"]),
    # grad and value_and_grad
    ("grad/int-input", lambda: ft.grad(sq)(np.arange(3)), TransformError,
     ["grad", "int32", "argument 0"]),
    ("grad/non-scalar", lambda: ft.grad(lambda x: x * 2)(A3), TransformError,
     ["grad", "scalar", "f32[3]"]),
    ("grad/argnums-range", lambda: ft.grad(sq, argnums=2)(A3), TransformError,
     ["argnums=2", "out of range"]),
    ("grad/argnums-type", lambda: ft.grad(sq, argnums="x")(A3), TransformError,
     ["argnums", "'x'"]),
    ("grad/has_aux-not-pair", lambda: ft.grad(sq, has_aux=True)(A3), TransformError,
     ["has_aux", "pair"]),
    ("grad/returns-str", lambda: ft.grad(lambda x: "s")(A3), TransformError,
     ["output", "str"]),
    ("grad/returns-dict", lambda: ft.value_and_grad(lambda x: {"a": x.sum()})(A3),
     TransformError, ["scalar", "dict"]),
    ("grad/str-leaf", lambda: ft.grad(lambda d: (d["a"] ** 2).sum())({"a": A3, "b": "s"}),
     DTypeError, ["strings"]),
    # vjp
    ("vjp/str-primal", lambda: ft.vjp(sq, "abc"), TransformError, ["vjp", "str"]),
    ("vjp/ct-shape", lambda: vjp_fun()(A4), TransformError, ["vjp", "(4,)", "(3,)"]),
    ("vjp/ct-structure", lambda: vjp_fun()((A3, A3)), TransformError,
     ["vjp", "structure"]),
    ("vjp/ct-None", lambda: vjp_fun()(None), TransformError, ["vjp", "structure"]),
    ("vjp/ct-str", lambda: vjp_fun()("abc"), DTypeError, ["strings"]),
    ("vjp/ct-complex-for-real", lambda: vjp_fun()(A3.astype(np.complex64)), TransformError,
     ["vjp", "cotangent", "c64[3]", "imaginary"]),
    # jvp and linearize
    ("jvp/not-tuples", lambda: ft.jvp(sq, A3, A3), TransformError, ["jvp", "tuples"]),
    ("jvp/structure", lambda: ft.jvp(sq, (A3,), (A3, A3)), TransformError,
     ["jvp", "structure"]),
    ("jvp/shape", lambda: ft.jvp(sq, (A3,), (A4,)), TransformError,
     ["jvp", "f32[3]", "f32[4]"]),
    ("jvp/None-tangent", lambda: ft.jvp(sq, (A3,), (None,)), TransformError,
     ["jvp", "structure"]),
    ("jvp/complex-tangent", lambda: ft.jvp(sq, (A3,), (A3.astype(np.complex64),)),
     TransformError, ["jvp", "tangent", "c64[3]", "imaginary"]),
    ("jvp/str", lambda: ft.jvp(sq, ("abc",), ("abc",)), DTypeError, ["strings"]),
    ("linearize/tangent-shape", lambda: ft.linearize(lambda x: x * 2, A3)[1](A4),
     TransformError, ["linearize", "f32[3]", "f32[4]"]),
    ("linearize/tangent-str", lambda: ft.linearize(lambda x: x * 2, A3)[1]("abc"),
     DTypeError, ["strings"]),
    ("linearize/tangent-structure", lambda: ft.linearize(lambda x: x * 2, A3)[1](A3, A3),
     TransformError, ["linearize", "structure"]),
    # jacobians
    ("jacfwd/int", lambda: ft.jacfwd(lambda x: x * 2)(np.arange(3)), TransformError,
     ["jacfwd", "int32"]),
    ("jacrev/int", lambda: ft.jacrev(lambda x: x * 2)(np.arange(3)), TransformError,
     ["jacrev", "int32"]),
    ("jacrev/argnums", lambda: ft.jacrev(lambda x: x * 2, argnums=1)(A3), TransformError,
     ["jacrev", "argnums=1"]),
    ("jacfwd/argnums", lambda: ft.jacfwd(lambda x: x * 2, argnums=1)(A3), TransformError,
     ["jacfwd", "argnums=1"]),
    # vmap: axes that do not fit, sizes that disagree, specs that do not match the tree
    ("vmap/in_axes-range", lambda: ft.vmap(lambda x: x * 2, in_axes=2)(A23), ShapeError,
     ["vmap", "axis 2", "(2, 3)", "argument x"]),
    ("vmap/in_axes-len", lambda: ft.vmap(lambda x, y: x + y, in_axes=(0,))(A3, A3),
     TransformError, ["in_axes", "len(in_axes)=1", "len(args)=2"]),
    ("vmap/in_axes-str", lambda: ft.vmap(lambda x: x * 2, in_axes="a")(A3), TransformError,
     ["in_axes", "'a'"]),
    ("vmap/in_axes-float", lambda: ft.vmap(lambda x: x * 2, in_axes=0.5)(A3),
     TransformError, ["in_axes", "0.5"]),
    ("vmap/sizes", lambda: ft.vmap(lambda x, y: x + y)(A3, A4), ShapeError,
     ["vmap", "inconsistent sizes", "argument x", "argument y", "f32[4]"]),
    ("vmap/scalar", lambda: ft.vmap(lambda x: x * 2)(f32(1.0)), ShapeError,
     ["vmap", "axis 0", "shape is ()"]),
    ("vmap/all-None", lambda: ft.vmap(lambda x: x * 2, in_axes=None)(A3), ShapeError,
     ["vmap", "non-None", "axis_size"]),
    ("vmap/out_axes-range", lambda: ft.vmap(lambda x: x * 2, out_axes=3)(A23), ShapeError,
     ["out_axes=3", "out of bounds"]),
    ("vmap/out_axes-structure", lambda: ft.vmap(lambda x: (x, x), out_axes=(0, 0, 0))(A3),
     ShapeError, ["out_axes", "(0, 0, 0)"]),
    ("vmap/out_axes-None-mapped", lambda: ft.vmap(lambda x: x * 2, out_axes=None)(A3),
     ShapeError, ["out_axes is None"]),
    ("vmap/in_axes-tree", lambda: ft.vmap(lambda d: d["a"] * 2, in_axes=({"b": 0},))(
        {"a": A3}), ShapeError, ["in_axes", "{'b': 0}", "argument d"]),
    ("vmap/axis_size", lambda: ft.vmap(lambda x: x * 2, axis_size=5)(A3), ShapeError,
     ["axis_size=5", "size 3"]),
    ("jit(vmap)/sizes", lambda: ft.jit(ft.vmap(lambda x, y: x + y))(A3, A4), ShapeError,
     ["vmap", "inconsistent sizes"]),
]


@pytest.mark.parametrize("thunk, exc, words",
                         [pytest.param(*case[1:], id=case[0]) for case in TRANSFORM_ERRORS])
def test_transformation_rejects_bad_input(thunk, exc, words):
    check_raises(thunk, exc, words)


TRANSFORM_RESULTS = [
    # (id, thunk, NumPy reference)
    ("jit/nan", lambda: ft.jit(lambda x: ft.numpy.sin(x) * 2)(NAN), lambda: np.sin(NAN) * 2),
    ("jit/empty", lambda: ft.jit(lambda x: ft.numpy.sin(x) * 2 + x.sum())(EMPTY),
     lambda: np.zeros((0, 3), f32)),
    ("jit/None-leaf", lambda: ft.jit(lambda x, y: x + 1)(A3, None), lambda: A3 + 1),
    ("jit/dict", lambda: ft.jit(lambda d: d["a"] + 1)({"a": A3}), lambda: A3 + 1),
    ("grad/nan", lambda: ft.grad(sq)(np.array([np.nan, 1.0], f32)),
     lambda: np.array([np.nan, 2.0], f32)),
    ("grad/empty", lambda: ft.grad(sq)(np.ones(0, f32)), lambda: np.ones(0, f32)),
    ("grad/dict", lambda: ft.grad(lambda d: (d["a"] ** 2).sum())({"a": A3})["a"],
     lambda: 2 * A3),
    ("vjp/int-cotangent", lambda: vjp_fun()(np.ones(3, np.int32))[0],
     lambda: np.full(3, 2.0, f32)),
    ("jvp/int-tangent", lambda: ft.jvp(sq, (A3,), (np.ones(3, np.int32),))[1],
     lambda: np.float32(2 * A3.sum())),
    ("jacrev/empty", lambda: ft.jacrev(lambda x: x * 2)(np.ones(0, f32)),
     lambda: np.zeros((0, 0), f32)),
    ("jacfwd/empty", lambda: ft.jacfwd(lambda x: x * 2)(np.ones(0, f32)),
     lambda: np.zeros((0, 0), f32)),
    ("hessian/empty", lambda: ft.hessian(sq)(np.ones(0, f32)), lambda: np.zeros((0, 0), f32)),
    ("vmap/empty-batch", lambda: ft.vmap(lambda x: x * 2)(EMPTY), lambda: EMPTY * 2),
    ("vmap/nan", lambda: ft.vmap(lambda x: x * 2)(NAN), lambda: NAN * 2),
    ("vmap/negative-in_axes", lambda: ft.vmap(lambda x: x.sum(), in_axes=-1)(A23),
     lambda: A23.sum(0)),
    ("vmap/kwargs", lambda: ft.vmap(lambda x, y: x + y)(A3, y=A3), lambda: 2 * A3),
]


@pytest.mark.parametrize("thunk, ref",
                         [pytest.param(*case[1:], id=case[0]) for case in TRANSFORM_RESULTS])
@pytest.mark.filterwarnings("ignore:invalid value")
def test_transformation_on_nan_empty_and_trees_gives_numpys_result(thunk, ref):
    got, want = np.asarray(thunk()), np.asarray(ref())
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-6, equal_nan=True)
