"""The shared program executor (``compiler/executor.py``): slots, last-use freeing,
literals, timings, errors naming their step, nested programs; on the CPU backend and on
the CUDA backend (under Numba's simulator without a GPU, see conftest.py)."""

import gc
import weakref

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import config, lax
from functrace.backends.numba_cpu.executor import CpuRuntime
from functrace.compiler.executor import Alias, Executor, Op, assemble, executable
from functrace.core.avals import ShapedArray
from functrace.core.jaxpr import Jaxpr, Var
from functrace.errors import FunctraceError

F32 = ShapedArray((64,), np.dtype(np.float32))


def chain(make, double, check):
    """A three-step program x -> a -> b -> c over fresh variables; returns
    (jaxpr, ops, (x, a, b, c))."""
    x, a, b, c = (Var(F32) for _ in range(4))
    ops = [Op(make, (x,), (a,), "step 0 (make)", 0),
           Op(double, (a,), (b,), "step 1 (double)", 1),
           Op(check, (b,), (c,), "step 2 (check)", 2)]
    return Jaxpr([], [x], [], [c]), ops, (x, a, b, c)


def host_chain(seen):
    """Step 0 makes ``a`` (a weak reference to it is kept); step 1 is its last reader;
    step 2 records whether ``a`` is still alive."""
    ref = {}

    def make(x):
        a = x + 1.0
        ref["a"] = weakref.ref(a)
        return [a]

    def check(b):
        seen.append(ref["a"]() is not None)
        return [b - 1.0]

    return chain(make, lambda a: [a * 2.0], check)


@pytest.mark.parametrize("path", ["straight line", "loop"])
def test_cpu_drops_an_intermediate_after_its_last_reader(path):
    seen = []
    jaxpr, ops, (x, a, b, c) = host_chain(seen)
    program = assemble(jaxpr, ops, 3)
    assert program.instrs[1].frees == (program.slots[a],)  # a's last reader is step 1
    assert program.instrs[2].frees == (program.slots[b],)  # c is an output: kept
    run = executable(program, [], CpuRuntime())
    xv = np.arange(64, dtype=np.float32)
    out = run(xv) if path == "straight line" else run(xv, timings=[0.0] * 3)
    assert seen == [False]  # dropped before step 2 ran, not at the end of the call
    np.testing.assert_allclose(out[0], (xv + 1.0) * 2.0 - 1.0)


def test_jit_program_drops_intermediates_before_it_ends():
    """The same through jit: a pure_callback makes an array that one fused step reads;
    a later callback sees it gone."""
    ref, seen = {}, []

    def make(x):
        a = np.asarray(x * 3.0, np.float32)
        ref["a"] = weakref.ref(a)
        return a

    def check(b):
        seen.append(ref["a"]() is not None)
        return b

    def f(x):
        sds = ft.ShapeDtypeStruct(x.shape, x.dtype)
        a = ft.pure_callback(make, sds, x)
        b = fnp.tanh(a) + x  # the last reader of a
        return ft.pure_callback(check, sds, b)

    x = np.linspace(-1, 1, 64, dtype=np.float32)
    out = ft.jit(f)(x)
    assert seen == [False]
    np.testing.assert_allclose(np.asarray(out), np.tanh(x * 3.0) + x, rtol=1e-6)


def test_literals_are_read_by_kernels_and_returned_fresh():
    def f(x):
        return lax.dynamic_slice(x, (2,), (3,)), 2.5

    jitted = ft.jit(f)
    x = np.arange(8, dtype=np.float32)
    sl, lit = jitted(x)
    np.testing.assert_array_equal(np.asarray(sl), x[2:5])
    assert float(lit) == 2.5
    program = jitted.lower(x).compile()._run.executor.program
    assert program.literals  # the start index (a kernel's input) and the output
    _, lit2 = jitted(x)
    assert not np.shares_memory(np.asarray(lit), np.asarray(lit2))  # a copy per call


def test_an_output_that_is_an_input():
    jitted = ft.jit(lambda x, y: (y, x * y, x))
    x, y = np.float32(3.0) * np.ones(20, np.float32), np.arange(20, dtype=np.float32)
    a, b, c = jitted(x, y)
    np.testing.assert_array_equal(np.asarray(a), y)
    np.testing.assert_array_equal(np.asarray(b), x * y)
    np.testing.assert_array_equal(np.asarray(c), x)
    program = jitted.lower(x, y).compile()._run.executor.program
    assert [program.input_index(r) for r in program.out_reads] == [1, None, 0]


def test_timings_have_one_entry_per_plan_step():
    def f(w, x):
        h = fnp.tanh(x @ w)
        return fnp.sum(h * h)

    w, x = np.ones((8, 8), np.float32), np.ones((4, 8), np.float32)
    compiled = ft.jit(ft.grad(f)).lower(w, x).compile()
    times = [0.0] * len(compiled.steps)
    compiled._run(w, x, timings=times)
    assert all(t > 0 for t in times)  # every step of this plan runs a kernel
    with pytest.raises(ValueError, match="one entry each"):
        compiled._run(w, x, timings=[0.0] * (len(compiled.steps) + 1))
    rows = compiled.profile(w, x, repeat=2, as_dict=True)["rows"]
    assert [r["step"] for r in rows] == list(range(len(compiled.steps)))


def _boom(x):
    raise ValueError("boom")


@pytest.mark.parametrize("path", ["straight line", "loop"])
def test_a_failing_kernel_names_its_step(path):
    jaxpr, ops, _ = chain(lambda x: [x + 1.0], _boom, lambda b: [b])
    run = executable(assemble(jaxpr, ops, 3), [], CpuRuntime())
    xv = np.zeros(64, np.float32)
    with pytest.raises(ValueError, match="boom") as info:  # the type is kept
        run(xv) if path == "straight line" else run(xv, timings=[0.0] * 3)
    assert any("step 1 (double)" in n for n in info.value.__notes__)


def _fail_at_three(i):
    if int(i) == 3:
        raise ValueError("iteration three")
    return i


@pytest.mark.parametrize("kind", ["cond", "fori_loop"])
def test_nested_programs_run_through_the_executor(kind):
    """A callback failing inside a cond branch or a (Python-orchestrated) loop body: the
    note names the body's step and the outer program's cond/while step."""
    sds = ft.ShapeDtypeStruct((), np.int32)

    def body(i, c):
        return c + ft.pure_callback(_fail_at_three, sds, i)

    def f(i):
        if kind == "cond":
            return lax.cond(i > 0, lambda j: ft.pure_callback(_fail_at_three, sds, j),
                            lambda j: j, i)
        return lax.fori_loop(0, i, body, np.int32(0))

    prev = config.cpu_native_loops
    config.update("cpu_native_loops", False)
    try:
        jitted = ft.jit(f)
        assert int(jitted(np.int32(2))) == (2 if kind == "cond" else 0 + 1)
        with pytest.raises(ValueError, match="iteration three") as info:
            jitted(np.int32(3) if kind == "cond" else np.int32(5))
    finally:
        config.update("cpu_native_loops", prev)
    notes = info.value.__notes__
    assert any("pure_callback" in n for n in notes)  # the step inside the body
    outer = "cond" if kind == "cond" else "while"
    assert any(f"({outer}" in n for n in notes), notes  # the step of the outer program


def test_an_alias_reads_the_same_slot():
    x, y, z = Var(F32), Var(F32), Var(F32)
    ops = [Alias(y, x), Op(lambda v: [v * 2.0], (y,), (z,), "step 1 (double)", 1)]
    program = assemble(Jaxpr([], [x], [], [z]), ops, 2)
    assert program.instrs[0].reads == (program.slots[x],)
    xv = np.ones(64, np.float32)
    np.testing.assert_array_equal(executable(program, [], CpuRuntime())(xv)[0], 2 * xv)


@pytest.mark.parametrize("path", ["straight line", "loop"])
def test_one_blas_thread_kernels_run_with_blas_on_one_thread(path, monkeypatch):
    from functrace.backends.numba_cpu import conv

    state = {"threads": 4}
    calls = []

    def blas_threads(n):
        prev, state["threads"] = state["threads"], n
        calls.append(n)
        return prev

    def direct(a):
        seen.append(state["threads"])
        return [a]

    direct.one_blas_thread = True
    seen = []
    monkeypatch.setattr(conv, "blas_threads", blas_threads)
    jaxpr, ops, _ = chain(lambda x: [x + 1.0], direct, lambda b: [b])
    run = executable(assemble(jaxpr, ops, 3), [], CpuRuntime())
    xv = np.zeros(64, np.float32)
    run(xv) if path == "straight line" else run(xv, timings=[0.0] * 3)
    assert seen == [1] and calls == [1, 4] and state["threads"] == 4  # set, then restored


def test_a_dropped_executable_is_freed_without_the_garbage_collector():
    jaxpr, ops, _ = chain(lambda x: [x + 1.0], lambda a: [a], lambda b: [b])
    run = executable(assemble(jaxpr, ops, 3), [], CpuRuntime())
    ref = weakref.ref(run.executor)
    gc.disable()
    try:
        del run
        assert ref() is None  # no reference cycle between the function and its executor
    finally:
        gc.enable()


# ---------------------------------------------------------------------------
# CUDA (the simulator without a GPU)

def cuda_backend():
    mod = pytest.importorskip("functrace.backends.numba_cuda")
    from numba import cuda
    if not cuda.is_available():
        pytest.skip("no CUDA device and the simulator is off")
    return mod


def test_cuda_drops_an_intermediate_on_the_recording_call():
    cuda_backend()
    from functrace.backends.numba_cuda import memory
    from functrace.backends.numba_cuda.executor import CudaRuntime

    ref, seen = {}, []

    def on_device(host):
        out = memory.device_array(host.shape, host.dtype)  # the running call's allocator
        out.copy_to_device(np.ascontiguousarray(host))
        return out

    def make(x):
        a = on_device(x.copy_to_host() + 1.0)
        ref["a"] = weakref.ref(a)
        return [a]

    def check(b):
        seen.append(ref["a"]() is not None)
        return [on_device(b.copy_to_host() - 1.0)]

    jaxpr, ops, _ = chain(make, lambda a: [on_device(a.copy_to_host() * 2.0)], check)
    program = assemble(jaxpr, ops, 3)
    ex = Executor(program, [], CudaRuntime(program, jaxpr, [set(), set(), set()]))
    assert not CudaRuntime.straight_line  # every call moves values: the loop path
    xv = np.arange(64, dtype=np.float32)
    out = ex(xv)
    assert seen == [False]  # the first (recording) call dropped a after step 1
    np.testing.assert_allclose(out[0], (xv + 1.0) * 2.0 - 1.0)
    out = ex(xv)  # replayed from the arena plan: the same values
    np.testing.assert_allclose(out[0], (xv + 1.0) * 2.0 - 1.0)
    assert ex.last_counters["h2d_bytes"] == xv.nbytes  # per call: the input, copied in


def test_cuda_kernel_error_names_the_step():
    cuda_backend()
    from functrace.backends.numba_cuda.executor import CudaRuntime

    jaxpr, ops, _ = chain(lambda x: [x], _boom, lambda b: [b])
    program = assemble(jaxpr, ops, 3)
    ex = Executor(program, [], CudaRuntime(program, jaxpr, [set(), set(), set()]))
    with pytest.raises(FunctraceError, match=r"cuda backend: step 1 \(double\) failed: "
                       "ValueError: boom"):
        ex(np.zeros(64, np.float32))


def test_cuda_literals_outputs_inputs_and_timings():
    cuda_backend()

    def f(x, y):
        return lax.dynamic_slice(x * y, (1,), (4,)), 2.5, y

    jitted = ft.jit(f, backend="cuda")
    x, y = np.arange(8, dtype=np.float32), np.full(8, 2.0, np.float32)
    sl, lit, same = jitted(x, y)
    np.testing.assert_array_equal(np.asarray(sl), (x * y)[1:5])
    assert float(lit) == 2.5
    np.testing.assert_array_equal(np.asarray(same), y)
    compiled = jitted.lower(x, y).compile()
    times = [0.0] * len(compiled.steps)
    compiled._run(x, y, timings=times)
    assert sum(times) > 0 and len(times) == len(compiled.steps)
    # on the device: the output that is an input is that input's buffer
    dx, dy = ft.device_put(x, ft.devices("cuda")[0]), ft.device_put(y, ft.devices("cuda")[0])
    _, lit_d, same_d = jitted(dx, dy)
    assert float(np.asarray(lit_d)) == 2.5
    np.testing.assert_array_equal(np.asarray(same_d), y)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int32, np.float64])
@pytest.mark.parametrize("path", ["straight line", "loop"])
def test_tiny_steps_calling_bare_ufuncs_give_arrays_of_numpy_values(dtype, path):
    # tiny fused steps call a primitive's NumPy ufunc directly on (possibly 0-d) values:
    # the outputs are still arrays of the jaxpr's dtype, with NumPy's values
    def f(x, y):
        a = x * y + y
        return lax.max(a, x - y), lax.neg(a), a > x

    with ft.enable_x64(dtype == np.float64):
        x, y = np.asarray(3, dtype), np.asarray(-2, dtype)
        compiled = ft.jit(f).lower(x, y).compile()
        outs = (compiled(x, y) if path == "straight line"
                else compiled._run(x, y, timings=[0.0] * len(compiled.steps)))
        want = (np.maximum(x * y + y, x - y), -(x * y + y), (x * y + y) > x)
        for o, w in zip(outs, want, strict=True):
            assert isinstance(o, np.ndarray) and o.shape == ()
            assert o.dtype == w.dtype
            assert o == w


@pytest.mark.parametrize("path", ["straight line", "loop"])
def test_tiny_steps_pass_literals_typed(path):
    # a weakly typed literal inlined in a tiny step reaches the reference impls as a typed
    # value, as on the loop path (``1.0 / x`` raised AttributeError: float has no dtype)
    cases = [(lambda x: 1.0 / x, np.float32(0.5), np.float32(2.0)),
             (lambda x: 7 / x, np.int32(2), np.float32(3.5)),
             (lambda x: lax.div(7, x), np.int32(-2), np.int32(-3)),
             (lambda x: 2.0 ** x, np.float32(3.0), np.float32(8.0))]
    for f, x, want in cases:
        compiled = ft.jit(f).lower(x).compile()
        (got,) = ([compiled(x)] if path == "straight line"
                  else compiled._run(np.asarray(x), timings=[0.0] * len(compiled.steps)))
        assert np.asarray(got).dtype == want.dtype and got == want
