"""The runtime API around the transformations, from JAX's documentation: ``jax.Array`` is
what arrays and tracers are instances of, ``disable_jit`` runs jitted functions eagerly,
``ensure_compile_time_eval`` evaluates constants while tracing, ``clear_caches`` makes
jit trace again, ``typeof`` is the abstract value."""

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace.core.trace import Tracer


def test_arrays_and_tracers_are_instances_of_Array():
    seen = []

    def f(x):
        seen.append(isinstance(x, ft.Array))
        return x * 2

    assert isinstance(fnp.ones(3), ft.Array) and isinstance(ft.jit(f)(1.0), ft.Array)
    ft.grad(f)(1.0)
    ft.vmap(f)(np.ones(2, np.float32))
    assert seen == [True, True, True]
    assert not isinstance(np.ones(3), ft.Array) and not isinstance(1.0, ft.Array)
    with pytest.raises(TypeError):
        ft.Array()


def test_typeof_is_the_abstract_value_printed_as_jax_prints_it():
    assert repr(ft.typeof(1.0)) == "ShapedArray(float32[], weak_type=True)"
    assert str(ft.typeof(1.0)) == "~float32[]"
    a = ft.typeof(np.ones((2, 3), np.int32))
    assert (a.shape, a.dtype, a.weak_type) == ((2, 3), np.int32, False)
    assert repr(a) == "ShapedArray(int32[2,3])"


def test_disable_jit_runs_the_python_function_on_concrete_values():
    kinds = []

    @ft.jit
    def f(x):
        kinds.append(isinstance(x, Tracer))
        return x * 2

    x = fnp.arange(3.0)
    f(x)
    f(x)  # cached: no second trace
    with ft.disable_jit():
        np.testing.assert_array_equal(f(x), [0., 2., 4.])
        f(x)
    f(x)
    assert kinds == [True, False, False]
    assert not ft.config.disable_jit


def test_ensure_compile_time_eval_gives_python_values_while_tracing():
    @ft.jit
    def f(x):
        with ft.ensure_compile_time_eval():
            table = fnp.arange(5) ** 2
            n = int(table.sum())  # would be a ConcretizationError when staged
        return x + n

    assert float(f(1.0)) == 31.0


def test_clear_caches_makes_jit_trace_again():
    traces = []
    f = ft.jit(lambda x: traces.append(1) or x + 1)
    f(1.0)
    f(2.0)
    ft.clear_caches()
    f(3.0)
    assert len(traces) == 2


def test_context_managers_restore_the_flags():
    assert fnp.ones(1).dtype == np.float32
    with ft.enable_x64():
        assert fnp.ones(1).dtype == np.float64
    assert fnp.ones(1).dtype == np.float32
    with ft.log_compiles():
        assert ft.config.log_compiles
    assert not ft.config.log_compiles
    with ft.named_scope("block"):
        pass
    with pytest.raises(TypeError, match="string"), ft.named_scope(3):
        pass


def test_small_helpers():
    tree = {"a": fnp.ones(2), "b": [fnp.zeros(1)]}
    assert ft.block_until_ready(tree) is tree
    assert ft.default_backend() == "cpu"
    assert ft.process_indices() == list(range(ft.process_count()))
    x = np.array([1., 2.], np.float32)
    np.testing.assert_array_equal(ft.jacobian(lambda x: x ** 2)(x), np.diag(2 * x))
    assert "numpy" in ft.print_environment_info(return_string=True)
    assert ft.float0 == ft.dtypes.float0


def test_debug_nans_names_the_operation_that_made_the_nan():
    with ft.debug_nans():
        with pytest.raises(FloatingPointError, match="nan.*log"):
            fnp.log(fnp.asarray(-1.0))
        # under jit the result is checked, then the function re-runs op by op
        with pytest.raises(FloatingPointError, match="sqrt"):
            ft.jit(lambda x: fnp.sqrt(x) * 2)(np.array([-1.0, 4.0], np.float32))
        with pytest.raises(FloatingPointError, match="log"):
            ft.grad(lambda x: fnp.log(x))(-1.0)
        np.testing.assert_allclose(ft.jit(lambda x: fnp.sqrt(x))(np.float32(4.0)), 2.0)
    assert np.isnan(fnp.log(fnp.asarray(-1.0)))  # off again: NaN is a value


def test_debug_infs_catches_infinities_but_not_nans():
    with ft.debug_infs():
        with pytest.raises(FloatingPointError, match="inf.*exp"):
            fnp.exp(fnp.asarray(1000.0))
        assert np.isnan(fnp.log(fnp.asarray(-1.0)))


def test_vjp_accepts_jaxs_empty_reduce_axes():
    _, f_vjp = ft.vjp(lambda x: x * 3.0, 1.0, reduce_axes=())
    assert float(f_vjp(1.0)[0]) == 3.0
    with pytest.raises(ft.TransformError, match="reduce_axes"):
        ft.vjp(lambda x: x, 1.0, reduce_axes=("i",))
