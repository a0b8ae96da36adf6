"""The Numba CUDA backend (backends/numba_cuda) against the NumPy reference impls and
the CPU backend.

Without a GPU these run in Numba's CUDA simulator (tests/conftest.py sets
``NUMBA_ENABLE_CUDASIM=1`` before Numba is imported), which executes each thread
in Python: shapes stay tiny (about 1,000 threads a launch). On a GPU the same
tests run on the device.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import lax, nn
from functrace.compiler.registry import get_backend
from functrace.core.jaxpr import Eqn, Var
from functrace.core.trace import abstract_eval_rules, impl_rules
from functrace.errors import FunctraceError
from functrace.lax.convolution import (
    conv_general_dilated_p,
    conv_grad_filter_p,
    conv_grad_input_p,
)

cudabackend = pytest.importorskip("functrace.backends.numba_cuda")
from numba import cuda  # noqa: E402

if not cuda.is_available():
    pytest.skip("no CUDA device and the simulator is off", allow_module_level=True)

SIM = cudabackend.SIMULATOR


def cjit(f, **kw):
    return ft.jit(f, backend="cuda", **kw)


def _close(got, want, tol=1e-5):
    want = np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.dtype, want.dtype)
    scale = max(float(np.abs(want).max()) if want.size else 0.0, 1.0)
    np.testing.assert_allclose(got, want, rtol=0, atol=tol * scale)


def _eqn(prim, avals, **params):
    out = abstract_eval_rules[prim](*avals, **params)
    return Eqn(prim, [Var(a) for a in avals], params, [Var(out)])


def _aval(x):
    return ft.core.avals.ShapedArray(x.shape, x.dtype)


def _lower_and_check(eqn, args, tol=1e-5, device=True):
    """Runs the CUDA lowering of ``eqn`` and compares it with the reference impl."""
    run = cudabackend.lowerings[eqn.primitive](eqn)
    assert getattr(run, "host_fallback", False) != device, eqn.primitive
    (got,) = run(*[cuda.to_device(a) for a in args])
    _close(got.copy_to_host(), impl_rules[eqn.primitive](*args, **eqn.params), tol)


# ---------------------------------------------------------------------------
# fused elementwise

FUSED = {
    "affine_relu": lambda x, a, b: fnp.maximum(x * a + b, 0.0),
    "math": lambda x, a, b: fnp.tanh(x) + fnp.exp(-fnp.abs(x)) * nn.sigmoid(a) - b ** 2,
    "select": lambda x, a, b: fnp.where(x > a, fnp.log1p(fnp.abs(x)), fnp.sqrt(b * b + 1.0)),
    "compare_cast": lambda x, a, b: (x >= a).astype(np.float32) * fnp.sign(x) + fnp.floor(x),
}


@pytest.mark.parametrize("name", sorted(FUSED))
def test_fused_elementwise_with_broadcasting(name, rng):
    f = FUSED[name]
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    a = rng.standard_normal((4, 1)).astype(np.float32)  # broadcast over two dims
    b = np.float32(0.5)  # rank 0
    compiled = cjit(f)
    _close(compiled(x, a, b), ft.jit(f)(x, a, b), 1e-5)
    assert any("cuda.jit" in s for s in compiled.lower(x, a, b).as_text().split("# generated"))


def test_fused_integer_ops_and_multiple_outputs(rng):
    def f(i, j):
        return i // j, i % j, (i * 3 - j) > 2

    i = rng.integers(-20, 20, (4, 6)).astype(np.int32)
    j = rng.integers(1, 5, (6,)).astype(np.int32)
    for got, want in zip(cjit(f)(i, j), ft.jit(f)(i, j), strict=True):
        np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------------------
# matmul, reductions, shape ops


@pytest.mark.parametrize("m,k,n", [(70, 67, 65), (1, 5, 3), (9, 1, 17)])
def test_matmul_odd_sizes(m, k, n, rng):
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    _close(cjit(lambda a, b: a @ b)(a, b), a @ b, 1e-5)


def test_split_k_matmul_and_grad_filter(monkeypatch, rng):
    from functrace.backends.numba_cuda import kernels

    monkeypatch.setattr(kernels, "SPLIT_K_MIN_K", 16)
    monkeypatch.setattr(kernels, "SPLIT_K_CHUNK", 8)
    assert kernels._split_k_parts(1, 5, 3, 70) > 1
    a = rng.standard_normal((5, 70)).astype(np.float32)
    b = rng.standard_normal((70, 3)).astype(np.float32)
    _close(cjit(lambda a, b: a.T.T @ b)(a, b), a @ b, 1e-5)  # 70 = 8 chunks of 9 + 7
    for dn in (("NHWC", "HWIO", "NHWC"), ("NCHW", "OIHW", "NCHW")):  # K = N * OH * OW = 32
        x = rng.standard_normal(_shape(dn[0], 2, 2, 4, 4)).astype(np.float32)
        w = rng.standard_normal(_shape(dn[1], 3, 2, 3, 3)).astype(np.float32)
        fwd, _, gfil = _conv_eqns(x, w, dn, (1, 1), ((1, 1), (1, 1)), (1, 1), (1, 1), 1)
        ct = rng.standard_normal(fwd.outvars[0].aval.shape).astype(np.float32)
        _lower_and_check(gfil, (x, ct))


def test_dot_general_batch_and_transposed_operands(rng):
    a = rng.standard_normal((2, 5, 7)).astype(np.float32)
    b = rng.standard_normal((2, 3, 7)).astype(np.float32)
    dn = (((2,), (2,)), ((0,), (0,)))  # a @ b^T per batch: strided, no copy
    f = cjit(lambda a, b: lax.dot_general(a, b, dn))
    _close(f(a, b), np.einsum("bik,bjk->bij", a, b), 1e-5)
    g = cjit(lambda a, b: lax.dot_general(a, b, (((0, 2), (0, 2)), ((), ()))))
    _close(g(a, b), np.einsum("bik,bjk->ij", a, b), 1e-5)  # two contracting dims
    h = cjit(lambda a, b: a.T @ b)
    x, y = a[0], a[1]
    _close(h(x, y), x.T @ y, 1e-5)


@pytest.mark.parametrize("axes", [(0,), (1,), (2,), (0, 2), (0, 1, 2)])
def test_reductions_over_any_axes(axes, rng):
    x = rng.standard_normal((4, 5, 7)).astype(np.float32)  # 140 > SHORT_ROW: a block tree
    _close(cjit(lambda x: fnp.sum(x, axis=axes))(x), x.sum(axis=axes), 1e-5)
    _close(cjit(lambda x: fnp.max(x, axis=axes))(x), x.max(axis=axes), 0)
    _close(cjit(lambda x: fnp.min(x, axis=axes))(x), x.min(axis=axes), 0)


def test_long_rows_reduce_in_two_passes(rng):
    x = rng.standard_normal(40000).astype(np.float32)  # >= 2**15: split across blocks
    if SIM:  # keep it cheap: check the split on a long row of ones
        x = np.ones(1 << 15, np.float32)
    _close(cjit(lambda x: fnp.sum(x))(x), np.sum(x, dtype=np.float32), 1e-5)


def test_integer_reduction_and_shape_ops(rng):
    i = rng.integers(-9, 9, (3, 4)).astype(np.int32)
    np.testing.assert_array_equal(cjit(lambda i: fnp.sum(i, axis=1))(i), i.sum(1))
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)

    def shapes(x):
        return (x.transpose(2, 0, 1), lax.rev(x, (0, 2)), x[::2, 1:3, ::-2],
                x.reshape(12, 5), lax.broadcast_in_dim(x[0, :, 0], (2, 4, 3), (1,)))

    for got, want in zip(cjit(shapes)(x), shapes(x), strict=True):
        _close(got, np.asarray(want), 0)


def test_host_fallbacks_run_under_cuda_jit(rng):
    x = rng.standard_normal((4, 5)).astype(np.float32)

    def f(x):
        return fnp.cumsum(x, axis=1), fnp.concatenate([x, x * 2], axis=0), fnp.argmax(x, 1)

    for got, want in zip(cjit(f)(x), ft.jit(f)(x), strict=True):
        _close(got, want, 1e-5)


# ---------------------------------------------------------------------------
# convolutions

CONV_CASES = {  # name -> (dimension numbers, strides, padding, lhs/rhs dilation, groups)
    "NCHW_pad1": (("NCHW", "OIHW", "NCHW"), (1, 1), ((1, 1), (1, 1)), (1, 1), (1, 1), 1),
    "NHWC_stride2": (("NHWC", "HWIO", "NHWC"), (2, 2), ((1, 0), (0, 1)), (1, 1), (1, 1), 1),
    "mixed_dilated": (("NHWC", "OIHW", "NCHW"), (1, 2), ((0, 0), (2, 1)), (1, 1), (2, 1), 1),
    "odd_crop": (("CNWH", "IOHW", "HNCW"), (2, 1), ((-1, 1), (1, 0)), (1, 1), (1, 1), 1),
    "lhs_dilation": (("NCHW", "OIHW", "NCHW"), (1, 1), ((1, 1), (0, 1)), (2, 1), (1, 1), 1),
    "groups": (("NCHW", "OIHW", "NCHW"), (1, 1), ((1, 1), (1, 1)), (1, 1), (1, 1), 2),
    "to_1x1_NHWC": (("NHWC", "HWIO", "NHWC"), (3, 3), ((0, 0), (0, 0)), (1, 1), (1, 1), 1),
}


def _conv_eqns(x, w, dn, strides, padding, lhs_dil, rhs_dil, groups):
    dnums = lax.conv_dimension_numbers(x.shape, w.shape, dn)
    params = dict(window_strides=strides, padding=padding, lhs_dilation=lhs_dil,
                  rhs_dilation=rhs_dil, dimension_numbers=dnums, feature_group_count=groups,
                  batch_group_count=1, precision=None)
    fwd = _eqn(conv_general_dilated_p, [_aval(x), _aval(w)], preferred_element_type=None,
               **params)
    y = fwd.outvars[0].aval
    return (fwd,
            _eqn(conv_grad_input_p, [y, _aval(w)], lhs_shape=x.shape, **params),
            _eqn(conv_grad_filter_p, [_aval(x), y], rhs_shape=w.shape, **params))


def _shape(spec, n, c, h, w):
    sizes = {"N": n, "O": n, "C": c, "I": c, "H": h, "W": w}
    return tuple(sizes[ch] for ch in spec)


@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv_forward_and_both_grads(case, rng):
    dn, strides, padding, lhs_dil, rhs_dil, groups = CONV_CASES[case]
    x = rng.standard_normal(_shape(dn[0], 2, 4, 5, 4)).astype(np.float32)
    w = rng.standard_normal(_shape(dn[1], 2, 4 // groups, 3, 2)).astype(np.float32)
    fwd, gin, gfil = _conv_eqns(x, w, dn, strides, padding, lhs_dil, rhs_dil, groups)
    ct = rng.standard_normal(fwd.outvars[0].aval.shape).astype(np.float32)
    _lower_and_check(fwd, (x, w))
    _lower_and_check(gin, (ct, w))
    _lower_and_check(gfil, (x, ct))


def test_conv_1d_and_host_fallbacks(rng):
    x = rng.standard_normal((2, 3, 7)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3)).astype(np.float32)
    fwd, gin, gfil = _conv_eqns(x, w, None, (2,), ((1, 1),), (1,), (2,), 1)
    ct = rng.standard_normal(fwd.outvars[0].aval.shape).astype(np.float32)
    _lower_and_check(fwd, (x, w))
    _lower_and_check(gin, (ct, w))
    _lower_and_check(gfil, (x, ct))
    x3 = rng.standard_normal((1, 2, 3, 3, 3)).astype(np.float32)
    w3 = rng.standard_normal((2, 2, 2, 2, 2)).astype(np.float32)
    fwd3 = _conv_eqns(x3, w3, None, (1, 1, 1), ((0, 0),) * 3, (1,) * 3, (1,) * 3, 1)[0]
    _lower_and_check(fwd3, (x3, w3), device=False)  # 3-D: the host reference


# ---------------------------------------------------------------------------
# pooling

POOLS = {  # name -> (window, strides, padding)
    "2x2_NCHW": ((1, 1, 2, 2), (1, 1, 2, 2), ((0, 0),) * 4),
    "2x2_NHWC": ((1, 2, 2, 1), (1, 2, 2, 1), ((0, 0),) * 4),
    "3x3_overlap_pad": ((1, 1, 3, 3), (1, 1, 1, 2), ((0, 0), (0, 0), (1, 1), (0, 1))),
}


@pytest.mark.parametrize("name", sorted(POOLS))
def test_pool_forward_and_max_pool_backward(name, rng):
    window, strides, padding = POOLS[name]
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    x[0, 0, :2, :2] = 1.0  # ties: the first maximum wins
    geo = dict(window_dimensions=window, window_strides=strides, padding=padding,
               base_dilation=(1,) * 4, window_dilation=(1,) * 4)
    for prim in (lax.reduce_window_max_p, lax.reduce_window_sum_p, lax.reduce_window_min_p):
        _lower_and_check(_eqn(prim, [_aval(x)], **geo), (x,), 1e-6)
    y = abstract_eval_rules[lax.reduce_window_max_p](_aval(x), **geo)
    src = rng.standard_normal(y.shape).astype(np.float32)
    for select in ("max", "min"):
        eqn = _eqn(lax.select_and_scatter_add_p, [y, _aval(x)], select_prim=select, **geo)
        _lower_and_check(eqn, (src, x), 1e-6)


def test_max_pool_gradient_under_jit(rng):
    x = rng.standard_normal((2, 2, 4, 4)).astype(np.float32)

    def loss(x):
        p = lax.reduce_window(x, -np.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        return fnp.sum(p * p)

    _close(cjit(ft.grad(loss))(x), ft.jit(ft.grad(loss))(x), 1e-5)


# ---------------------------------------------------------------------------
# a whole training step


def _tiny_cnn():
    def loss(params, x, y):
        w1, b1, w2, b2 = params
        h = lax.conv(x, w1, (1, 1), "SAME") + b1[None, :, None, None]
        h = nn.relu(h)
        h = lax.reduce_window(h, -np.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        h = h.reshape(h.shape[0], -1)
        logits = h @ w2 + b2
        return -fnp.mean(fnp.sum(nn.log_softmax(logits) * y, axis=-1))

    rng = np.random.default_rng(1)
    params = [rng.standard_normal((3, 1, 3, 3)).astype(np.float32) * 0.5,
              rng.standard_normal(3).astype(np.float32) * 0.1,
              rng.standard_normal((3 * 3 * 3, 4)).astype(np.float32) * 0.3,
              np.zeros(4, np.float32)]
    x = rng.standard_normal((2, 1, 6, 6)).astype(np.float32)
    y = np.eye(4, dtype=np.float32)[[1, 3]]
    return loss, params, x, y


def test_grad_of_tiny_cnn_matches_cpu():
    loss, params, x, y = _tiny_cnn()
    step = ft.value_and_grad(loss)
    (v_gpu, g_gpu), (v_cpu, g_cpu) = cjit(step)(params, x, y), ft.jit(step)(params, x, y)
    _close(np.asarray(v_gpu), np.asarray(v_cpu), 1e-5)
    for a, b in zip(g_gpu, g_cpu, strict=True):
        _close(a, b, 1e-5)


def test_profile_and_text_of_a_cuda_program():
    loss, params, x, y = _tiny_cnn()
    compiled = cjit(loss).lower(params, x, y).compile()
    assert "conv_general_dilated" in compiled.as_text()
    assert "ms per call" in compiled.profile(params, x, y, repeat=1)


# ---------------------------------------------------------------------------
# registration and errors


def test_cuda_backend_registered_lazily():
    assert get_backend("cuda").name == "cuda"
    with pytest.raises(FunctraceError, match="unknown backend 'tpu'.*cuda"):
        get_backend("tpu")
    # what `import functrace` itself adds (an install may pre-import numba-cuda's redirector)
    code = ("import sys; before = set(sys.modules); import functrace; "
            "print(sorted(m for m in set(sys.modules) - before if m.startswith(("
            "'numba.cuda', 'numba_cuda', 'functrace.backends.numba_cuda'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_no_device_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(cudabackend.cuda, "is_available", lambda: False)
    with pytest.raises(FunctraceError, match="backend='cuda'.*numba-cuda.*NUMBA_ENABLE_CUDASIM"):
        cjit(lambda x: x + 1.0)(np.ones(3, np.float32))


@pytest.mark.skipif(not SIM, reason="a GPU is present")
def test_no_device_without_the_simulator_is_a_clear_error():
    code = ("import numpy as np, functrace as ft\n"
            "try:\n    ft.jit(lambda x: x + 1.0, backend='cuda')(np.ones(2, np.float32))\n"
            "except ft.errors.FunctraceError as e:\n    print('FunctraceError', e)\n")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True).stdout
    assert out.startswith("FunctraceError") and "NUMBA_ENABLE_CUDASIM" in out


@pytest.mark.skipif(not SIM, reason="on a GPU every test compiles its kernels for real")
def test_kernels_compile_for_a_real_gpu():
    """The simulator type-checks nothing: compile every kernel to PTX (needs NVVM only)."""
    script = os.path.join(os.path.dirname(__file__), "cuda_ptx.py")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    proc = subprocess.run([sys.executable, script], capture_output=True, text=True, env=env)
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-2000:]
    if last.startswith("SKIP"):
        pytest.skip(f"cuda.compile_ptx unavailable: {last}")
    assert proc.returncode == 0 and last.startswith("OK"), proc.stdout[-4000:] + proc.stderr


def test_constants_pass_through_outputs_and_float64(rng, x64):
    w = rng.standard_normal((5, 3))  # float64 under x64: a closed-over constant

    def f(x):
        return x, 2.0, x @ w, fnp.sum(fnp.tanh(x), axis=0)

    x = rng.standard_normal((4, 5))
    got, want = cjit(f)(x), ft.jit(f)(x)
    assert got[2].dtype == np.float64
    for a, b in zip(got, want, strict=True):
        _close(np.asarray(a), np.asarray(b), 1e-12)
    xc = rng.standard_normal((1, 2, 5, 5))
    wc = rng.standard_normal((3, 2, 3, 3))
    fwd, gin, gfil = _conv_eqns(xc, wc, None, (1, 1), ((1, 1), (1, 1)), (1, 1), (1, 1), 1)
    _lower_and_check(fwd, (xc, wc), 1e-12)
    ct = rng.standard_normal(fwd.outvars[0].aval.shape)
    _lower_and_check(gfil, (xc, ct), 1e-12)
