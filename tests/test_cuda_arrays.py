"""Device-resident arrays: ``devices``, ``device_put``/``device_get``, the device ``Array``,
``transfer_guard``, donation, and the CUDA executable's per-call counters and memory plan.

Expected behaviour is JAX's (docs.jax.dev: transfer_guard, device_put, device_get,
donate_argnums); values are checked against NumPy and the CPU backend. Without a GPU
these run in Numba's CUDA simulator (tests/conftest.py), so shapes stay tiny.
"""

import doctest
import gc
import logging

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import functrace as ft
import functrace.numpy as fnp
from functrace import lax, nn

cudabackend = pytest.importorskip("functrace.backends.numba_cuda")
from numba import cuda  # noqa: E402

if not cuda.is_available():
    pytest.skip("no CUDA device and the simulator is off", allow_module_level=True)

from benchmarks import models  # noqa: E402

from functrace.backends.numba_cuda import memory  # noqa: E402
from functrace.backends.numba_cuda.array import Array  # noqa: E402

GPU = ft.devices("cuda")[0]


def put(x):
    return ft.device_put(x, GPU)


# ---------------------------------------------------------------------------
# devices and the Array type


def test_array_docstring_example():
    from functrace.backends.numba_cuda import array

    assert doctest.testmod(array, raise_on_error=False).failed == 0


def test_devices_and_platforms():
    assert ft.devices("cuda") == ft.devices("gpu") == ft.local_devices(backend="cuda")
    assert len(ft.devices("cuda")) == 1 and GPU.platform == "gpu" and GPU.id == 0
    if cudabackend.SIMULATOR:  # the simulator never becomes the default platform
        assert ft.devices() == ft.devices("cpu")
    with pytest.raises(ft.FunctraceError, match="unknown backend 'tpu'"):
        ft.devices("tpu")


def test_device_put_get_pytrees_and_dtypes():
    tree = {"w": np.arange(6.0).reshape(2, 3), "b": [1, 2.5, np.int64(3)]}
    on = put(tree)
    assert all(type(v) is Array for v in ft.tree_util.tree_leaves(on))
    # JAX's default dtypes: float64 -> float32, int64 -> int32 without x64
    assert on["w"].dtype == np.float32 and on["b"][2].dtype == np.int32
    assert on["w"].devices() == {GPU}
    back = ft.device_get(on)
    np.testing.assert_array_equal(back["w"], np.arange(6.0, dtype=np.float32).reshape(2, 3))
    assert type(back["w"]) is np.ndarray and back["b"][1] == np.float32(2.5)
    assert ft.device_put(on["w"]) is on["w"]  # already on a device: the identity
    cpu = ft.device_put(on["w"], ft.devices("cpu")[0])  # back to the CPU platform
    assert isinstance(cpu, np.ndarray) and cpu.dtype == np.float32
    assert ft.device_get(3) == 3  # non-arrays pass through


def test_array_attributes_printing_and_host_copies():
    host = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = put(host)
    assert (x.shape, x.dtype, x.ndim, x.size, x.nbytes, len(x)) == ((2, 3), host.dtype, 2, 6,
                                                                   24, 2)
    assert x.block_until_ready() is x
    a = np.asarray(x)
    np.testing.assert_array_equal(a, host)
    a[0, 0] = 99.0  # a copy: the device value is unchanged
    assert float(np.asarray(x)[0, 0]) == 0.0
    assert repr(x) == "Array([[0., 1., 2.],\n       [3., 4., 5.]], dtype=float32)"
    assert str(x) == str(host)
    assert float(put(np.float32(2.5))) == 2.5 and int(put(np.int32(7))) == 7
    assert not x.is_deleted()
    x.delete()
    with pytest.raises(ft.FunctraceError, match="deleted"):
        np.asarray(x)


@given(st.sampled_from([
    1, -1, (0, 2), (slice(None), 1), (Ellipsis, slice(1, 3)), (None, 1),
    slice(None, None, -1), (slice(0, 2), slice(None, None, 2)), (1, slice(1, None)),
]))
def test_indexing_matches_numpy_and_stays_on_device(idx):
    host = np.arange(12, dtype=np.float32).reshape(3, 4)
    got = put(host)[idx]
    assert type(got) is Array
    np.testing.assert_array_equal(np.asarray(got), host[idx])


def test_integer_array_index():
    host = np.arange(10, dtype=np.float32)
    got = put(host)[put(np.array([3, 1, 1]))]
    np.testing.assert_array_equal(np.asarray(got), host[[3, 1, 1]])


# ---------------------------------------------------------------------------
# transfer_guard (jax.transfer_guard: implicit transfers log/raise, explicit pass)


def test_transfer_guard_levels(caplog):
    x = put(np.ones(3, np.float32))
    with ft.transfer_guard("disallow"):
        with pytest.raises(ft.TransferError, match="device-to-host.*device_get"):
            np.asarray(x)
        with pytest.raises(ft.TransferError):
            repr(x)
        y = put(np.zeros(2, np.float32))  # explicit: allowed
        np.testing.assert_array_equal(ft.device_get(y), np.zeros(2))
        with ft.transfer_guard("allow"):  # nested: the inner level wins, then restored
            np.asarray(x)
        with pytest.raises(ft.TransferError):
            float(put(np.float32(1.0)))
    np.asarray(put(np.ones(1)))  # default: allowed
    with ft.transfer_guard("disallow_explicit"), pytest.raises(ft.TransferError):
        put(np.ones(2))
    z = put(np.arange(2.0))
    with caplog.at_level(logging.WARNING, logger="functrace.transfer"):
        with ft.transfer_guard("log"):
            np.asarray(z)
    assert "implicit device-to-host transfer" in caplog.text
    w = put(np.arange(2.0))
    w.copy_to_host_async()  # explicit; later host reads use the fetched copy
    with ft.transfer_guard("disallow"):
        np.testing.assert_array_equal(np.asarray(w), [0.0, 1.0])
    with pytest.raises(ft.FunctraceError, match="unknown level"):
        with ft.transfer_guard("sometimes"):
            pass


def test_jit_on_device_inputs_keeps_outputs_there_and_counts_transfers():
    f = ft.jit(lambda a, b: (fnp.tanh(a) * b, fnp.sum(a)))
    a_h = np.linspace(-1, 1, 6, dtype=np.float32)
    b_h = np.full(6, 2.0, np.float32)
    a, b = put(a_h), put(b_h)
    y, s = f(a, b)
    assert type(y) is Array and type(s) is Array and y.devices() == {GPU}
    np.testing.assert_allclose(np.asarray(y), np.tanh(a_h) * 2.0, rtol=1e-6)
    np.testing.assert_allclose(float(s), a_h.sum(), atol=1e-6)
    compiled = f.lower(a, b).compile()
    for _ in range(2):  # outputs fed back: no transfers at all
        y, s = f(y, b)
        c = compiled.counters()
        assert (c["h2d_bytes"], c["d2h_bytes"], c["allocations"]) == (0, 0, 0)
    with ft.transfer_guard("disallow"):
        with pytest.raises(ft.TransferError, match="argument 1.*host.*device_put"):
            f(y, b_h)
    f(y, b_h)  # allowed by default: one implicit copy of b's bytes
    assert f.lower(y, b_h).compile().counters()["h2d_bytes"] == b_h.nbytes
    # backend='cpu' reads device inputs back to the host (implicitly) and returns NumPy
    g = ft.jit(lambda a: a * 2.0, backend="cpu")
    out = g(a)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, a_h * 2.0)


def test_outputs_that_alias_inputs_literals_and_empty_arrays():
    f = ft.jit(lambda a, b: (a, 2.0, a.reshape(-1), b[:0] * 2.0, fnp.exp(b)))
    a_h = np.arange(6, dtype=np.float32).reshape(2, 3)
    b_h = np.linspace(0, 1, 4, dtype=np.float32)
    a, b = put(a_h), put(b_h)
    for k in range(3):
        outs = f(a, b)
        assert all(type(o) is Array for o in outs)
        want = (a_h, np.float32(2.0), a_h.reshape(-1), b_h[:0], np.exp(b_h))
        for o, w in zip(ft.device_get(outs), want, strict=True):
            np.testing.assert_allclose(o, w, rtol=1e-6)
        if k:
            assert f.lower(a, b).compile().counters()["allocations"] == 0
    del outs
    gc.collect()
    np.testing.assert_array_equal(np.asarray(a), a_h)  # the aliased input is intact


def test_host_only_calls_still_return_numpy_and_are_guarded():
    f = ft.jit(lambda x: x + 1.0, backend="cuda")
    out = f(np.ones(3, np.float32))
    assert isinstance(out, np.ndarray)
    with ft.transfer_guard("disallow"), pytest.raises(ft.TransferError, match="argument 0"):
        f(np.ones(3, np.float32))


def test_donated_buffer_becomes_the_output():
    update = ft.jit(lambda p, g: p - 0.5 * g, donate_argnums=0)
    p_h = np.arange(4, dtype=np.float32)
    g = put(np.ones(4, np.float32))
    p = update(put(p_h), g)  # the first call records the plan
    address = memory.data_pointer(p.buffer())
    q = update(p, g)
    assert p.is_deleted() and not g.is_deleted()
    assert memory.data_pointer(q.buffer()) == address  # the same bytes, no allocation
    assert update.lower(q, g).compile().counters()["allocations"] == 0
    np.testing.assert_allclose(np.asarray(q), p_h - 1.0)
    with pytest.raises(ft.FunctraceError, match="deleted.*donate"):
        update(p, g)
    # p is last read by earlier steps: the matmul may write over it
    h = ft.jit(lambda p, g: (p * 2.0) @ (g[:, None] * p[None, :]), donate_argnums=0)
    h(put(p_h), g)
    b = put(p_h)
    out = h(b, g)
    assert b.is_deleted()
    np.testing.assert_allclose(np.asarray(out), (p_h * 2) @ np.outer(np.ones(4), p_h))
    # a reversal reads other elements than the one it writes: never in place
    r = ft.jit(fnp.flip, donate_argnums=0)
    r(put(p_h))
    c = put(p_h)
    np.testing.assert_array_equal(np.asarray(r(c)), p_h[::-1])
    assert not c.is_deleted()


def test_fused_reductions_and_groups_sharing_one_kernel_source():
    """Two clusters with the same generated source but different sizes in one program
    (each launch keeps its own grid), reductions over leading and middle axes fused into
    their clusters, and independent clusters grouped into one launch."""
    def f(a, b, c):
        return (fnp.sum(fnp.maximum(a, 0.0) * 2.0, axis=0), fnp.sum(fnp.maximum(b, 0.0) * 2.0,
                                                                 axis=0),
                fnp.max(fnp.exp(c), axis=1), a - 1.0, b * 3.0)

    rng = np.random.default_rng(3)
    args = [rng.standard_normal(s).astype(np.float32) for s in ((2, 8), (3, 3), (2, 5, 3))]
    got = ft.jit(f, backend="cuda")(*args)
    want = ft.jit(f)(*args)
    for g_, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g_, w, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------
# the memory plan


@given(st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 20), st.integers(0, 5)),
                min_size=1, max_size=30))
def test_arena_layout_never_overlaps_live_buffers(items):
    sizes = [s for s, _, _ in items]
    lives = [(a, a + d) for _, a, d in items]
    offsets, total = memory.layout(sizes, lives)
    for i in range(len(items)):
        assert offsets[i] % memory.ALIGN == 0 and offsets[i] + sizes[i] <= total
        for j in range(i):
            time_overlap = lives[i][0] <= lives[j][1] and lives[j][0] <= lives[i][1]
            byte_overlap = (offsets[i] < offsets[j] + sizes[j]
                            and offsets[j] < offsets[i] + sizes[i])
            assert not (time_overlap and byte_overlap and sizes[i] and sizes[j])
    assert total <= sum(-(-s // memory.ALIGN) * memory.ALIGN for s in sizes)


def test_pool_blocks_come_back_when_their_last_array_dies():
    x = put(np.ones(100, np.float32))
    address = memory.data_pointer(x.buffer())
    before = memory.COUNTS["allocations"]
    del x
    gc.collect()
    y = put(np.zeros(120, np.float32))  # the same 512-byte size class: the freed block
    assert memory.data_pointer(y.buffer()) == address
    assert memory.COUNTS["allocations"] == before
    np.testing.assert_array_equal(np.asarray(y), np.zeros(120))


# ---------------------------------------------------------------------------
# the small CNN training loop (issue 11's done-when)

CFG = dict(models.SMALL_CNN, batch=2, shape=(1, 6, 6), convs=[3, 4], dense=[8])


def _cnn_data():
    rng = np.random.default_rng(0)
    params = models.init_params(CFG, rng)
    x = rng.standard_normal((CFG["batch"], *CFG["shape"])).astype(np.float32)
    y = np.eye(CFG["classes"], dtype=np.float32)[rng.integers(0, CFG["classes"],
                                                             CFG["batch"])]
    return params, x, y


def test_cnn_training_loop_on_device_under_disallow():
    params, x, y = _cnn_data()
    step = models.functrace_step(CFG)
    cpu_step = models.functrace_step(CFG, backend="cpu")
    p, xd, yd = put((params, x, y))
    cp = params
    launches = []
    with ft.transfer_guard("disallow"):
        for k in range(3):
            loss, p = step(p, xd, yd)
            cpu_loss, cp = cpu_step(cp, x, y)
            c = step.lower(p, xd, yd).compile().counters()
            if k:  # after the first call: nothing allocated, nothing copied
                assert c["allocations"] == 0 and c["h2d_bytes"] == 0 and c["d2h_bytes"] == 0
            launches.append(c["launches"])
        with pytest.raises(ft.TransferError, match="host-to-device"):
            step(p, x, yd)  # a host batch
        got_loss, got = ft.device_get((loss, p))
    # issue 11: 62 before this work, 38 before the bias+ReLU epilogues (one per layer)
    assert launches[1] == launches[2] <= 35
    np.testing.assert_allclose(got_loss, cpu_loss, rtol=1e-5, atol=1e-6)
    for a, b in zip(got, cp, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------------------
# replayed launches (replay.py): the third call on launches recorded by the second


def _runtime(jitted, *args):
    return jitted.lower(*args).compile()._run.runtime


def test_replayed_calls_follow_new_inputs_aliases_and_donation():
    def f(a, b, w):
        h = fnp.maximum(a @ w, 0.0)
        return h.sum(axis=0), a, 2.0, fnp.exp(b) * 3.0, (h - 1.0).reshape(-1)

    rng = np.random.default_rng(5)
    w_h = rng.standard_normal((4, 3)).astype(np.float32)
    jf = ft.jit(f)
    w = put(w_h)
    for k in range(5):
        a_h = rng.standard_normal((2, 4)).astype(np.float32)
        b_h = rng.standard_normal(5).astype(np.float32)
        outs = ft.device_get(jf(put(a_h), put(b_h), w))
        h = np.maximum(a_h @ w_h, 0.0)
        want = (h.sum(axis=0), a_h, 2.0, np.exp(b_h) * 3.0, (h - 1.0).reshape(-1))
        for o, e in zip(outs, want, strict=True):
            np.testing.assert_allclose(o, e, rtol=1e-5, atol=1e-6)
        assert (_runtime(jf, put(a_h), put(b_h), w).replay is not None) == (k >= 1)
    # the same array as two arguments: not recorded from (ambiguous), and a replay
    # recorded from distinct arrays follows each argument on its own
    g = ft.jit(lambda x, y: (x * 2.0 + 1.0, y - x))
    x_h, y_h = np.arange(3.0, dtype=np.float32), np.ones(3, np.float32)
    twice, apart = [(put(x_h), None)] * 2, [(put(x_h), put(y_h))] * 2
    for x, y in twice + apart + twice:
        y = x if y is None else y
        got = ft.device_get(g(x, y))
        np.testing.assert_allclose(got[0], x_h * 2.0 + 1.0)
        np.testing.assert_allclose(got[1], (y_h if y is not x else x_h) - x_h)
    # donation: replayed only for calls that donate as the recorded one did
    upd = ft.jit(lambda p, d: p - 0.5 * d, donate_argnums=0)
    d = put(np.ones(4, np.float32))
    p = put(np.zeros(4, np.float32))
    for _ in range(4):
        p = upd(p, d)
    np.testing.assert_allclose(np.asarray(p), -2.0 * np.ones(4))
    assert _runtime(upd, p, d).replay is not None
    address = memory.data_pointer(p.buffer())
    q = upd(p, d)  # replayed: the donated block is the output
    assert p.is_deleted() and memory.data_pointer(q.buffer()) == address
    np.testing.assert_allclose(np.asarray(q), -2.5 * np.ones(4))
    # host inputs only: still NumPy out, the inputs copied in each call
    hf = ft.jit(lambda x: fnp.sum(x * x), backend="cuda")
    for k in range(3):
        np.testing.assert_allclose(hf(np.full(3, k, np.float32)), 3.0 * k * k)


def test_host_fallback_steps_are_never_replayed():
    f = ft.jit(lambda x: fnp.sort(x) * 2.0)  # sort runs on the host
    x = put(np.array([3.0, 1.0, 2.0], np.float32))
    for _ in range(3):
        np.testing.assert_allclose(np.asarray(f(x)), [2.0, 4.0, 6.0])
    assert _runtime(f, x).replay is None


def test_steady_state_step_python_calls_stay_few():
    """The CNN step's host work after its second call, counted (not timed): Python-level
    function calls in one call with the launches stubbed. The executor loop ran about
    65 per launch (2586 for 40 launches at the full size); the replay runs no Python
    per launch besides the launch itself."""
    import sys

    params, x, y = _cnn_data()
    step = models.functrace_step(CFG)
    dev = put((params, x, y))
    calls = [0]

    def count(frame, event, arg):
        if event == "call":
            calls[0] += 1

    memory.STUB_LAUNCHES = True
    try:
        step(*dev)
        step(*dev)
        sys.setprofile(count)
        try:
            step(*dev)
        finally:
            sys.setprofile(None)
    finally:
        memory.STUB_LAUNCHES = False
    launches = step.lower(*dev).compile().counters()["launches"]
    # one stub call per launch; the rest: jit's dispatch (pytree flattening, the cache
    # key), 10 inputs in, 9 output blocks and Arrays out (351 when this was written)
    assert calls[0] - launches <= 400


# ---------------------------------------------------------------------------
# epilogues (schedule.epilogues, epilogue.py): bias + ReLU in the conv/matmul kernel


def _launches(jitted, *args):
    return jitted.lower(*args).compile().counters()["launches"]


@pytest.mark.parametrize("layout,groups", [("NCHW", 1), ("NHWC", 1), ("NCHW", 2)])
def test_bias_relu_epilogues_match_the_cpu_backend(layout, groups):
    """Forward and gradient of conv + bias + ReLU then dense + bias + ReLU; NHWC writes
    the product through other strides; feature groups take the two-launch path."""
    rng = np.random.default_rng(7)
    c_in, c_out = 2, 4
    dn = ("NCHW", "OIHW", "NCHW") if layout == "NCHW" else ("NHWC", "HWIO", "NHWC")
    x_shape = (2, c_in, 5, 5) if layout == "NCHW" else (2, 5, 5, c_in)
    w_shape = (c_out, c_in // groups, 3, 3) if layout == "NCHW" else (3, 3, c_in // groups,
                                                                       c_out)
    bias_at = (None, slice(None), None, None) if layout == "NCHW" else (None, None, None,
                                                                        slice(None))

    def f(w, b, v, c, x):
        h = lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=dn,
                                     feature_group_count=groups)
        h = fnp.maximum(h + b[bias_at], 0.0)
        return fnp.sum(fnp.maximum(h.reshape(2, -1) @ v + c, 0.0) ** 2)

    args = [rng.standard_normal(s).astype(np.float32)
            for s in (w_shape, (c_out,), (c_out * 25, 3), (3,), x_shape)]
    g = ft.jit(ft.value_and_grad(f, argnums=(0, 1, 2, 3)), backend="cuda")
    want = ft.jit(ft.value_and_grad(f, argnums=(0, 1, 2, 3)), backend="cpu")(*args)
    dev = put(args)
    for _ in range(3):  # recorded, then replayed
        got = ft.device_get(g(*dev))
        np.testing.assert_allclose(got[0], want[0], rtol=1e-4)
        for a, b in zip(got[1], want[1], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_epilogue_saves_a_launch_per_layer():
    rng = np.random.default_rng(8)
    x = put(rng.standard_normal((2, 3)).astype(np.float32))
    v = put(rng.standard_normal((3, 4)).astype(np.float32))
    c = put(rng.standard_normal(4).astype(np.float32))
    dense = ft.jit(lambda x, v, c: nn.relu(x @ v + c))
    plain = ft.jit(lambda x, v: nn.relu(x @ v))  # no bias: still one launch
    shared = ft.jit(lambda x, v, c: (nn.relu(x @ v + c), x @ v))  # product is an output
    np.testing.assert_allclose(np.asarray(dense(x, v, c)), np.maximum(
        np.asarray(x) @ np.asarray(v) + np.asarray(c), 0.0), rtol=1e-5, atol=1e-6)
    plain(x, v)
    shared(x, v, c)
    assert _launches(dense, x, v, c) == 1 and _launches(plain, x, v) == 1
    assert _launches(shared, x, v, c) == 2  # the product is stored, its reader is a launch
