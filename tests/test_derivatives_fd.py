"""Every differentiable primitive's JVP and VJP against central finite differences.

In float64 for real inputs and complex128 where JAX differentiates complex values,
at JAX's float64 tolerances (``test_util.check_grads`` with its defaults), to second
order so the derivative programs' own rules (transposes, the conv and pooling
gradient primitives) are checked too. ``test_every_differentiable_primitive_is_covered``
keeps the table complete: a new primitive with a JVP rule must get a case here.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace.core.trace import primitives
from functrace.test_util import check_grads
from functrace.transforms import ad


def _normal(rng, shape, dtype):
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


def _away(rng, shape, dtype, lo=0.5, hi=2.0):
    """Values with |real part| in [lo, hi] (and a small imaginary part for complex):
    away from kinks, poles and the negative-real branch cut."""
    mag = rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], shape)
    if np.dtype(dtype).kind == "c":
        return (np.abs(mag) + 0.3j * rng.standard_normal(shape)).astype(dtype)
    return mag.astype(dtype)


def _away_from_one(rng, shape, dtype):
    return _away(rng, shape, dtype, lo=1.0)


def _positive(rng, shape, dtype):
    return np.abs(_away(rng, shape, dtype).real).astype(dtype) if np.dtype(dtype).kind != "c" \
        else _away(rng, shape, dtype)


def _distinct(rng, shape, dtype):
    """A permutation of well-separated values: no ties for max/min."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.37 + 0.1 * rng.random(n)).reshape(shape).astype(dtype)


def _apart(rng, dt):
    """Two arrays whose elements differ by at least 0.1 (no near-ties for max/min)."""
    x = _distinct(rng, (3,), dt)
    gap = rng.uniform(0.1, 0.5, 3) * rng.choice([-1.0, 1.0], 3)
    return x, (x + gap).astype(dt)


def _off_poles(rng, shape, dtype):
    """Normal values; complex ones with |imag| < 1.2, clear of tanh's poles at i*pi/2."""
    x = _normal(rng, shape, dtype)
    return (x.real + 1j * np.clip(x.imag, -1.2, 1.2)).astype(dtype) if np.iscomplexobj(x) else x


def _inside_unit(rng, shape, dtype):
    """Values in (-0.8, 0.8): inside the domains of asin, acos, atanh and erf_inv, clear of
    tan's poles."""
    return rng.uniform(-0.8, 0.8, shape).astype(dtype)


def _unary(fn, gen=_normal):
    return lambda rng, dt: (fn, (gen(rng, (2, 3), dt),))


def _binary(fn, gen_x=_normal, gen_y=_normal):
    return lambda rng, dt: (fn, (gen_x(rng, (3,), dt), gen_y(rng, (3,), dt)))


def _rem(rng, dt):
    y = rng.uniform(1.5, 2.5, (4,)) * rng.choice([-1.0, 1.0], 4)
    x = y * (rng.integers(-2, 3, 4) + rng.uniform(0.2, 0.8, 4))  # x / y far from integers
    return lax.rem, (x.astype(dt), y.astype(dt))


def _pow(rng, dt):
    return lax.pow, (_positive(rng, (3,), dt), _normal(rng, (3,), dt))


def _complex(rng, dt):
    real = np.float64
    return lax.complex, (_normal(rng, (3,), real), _normal(rng, (3,), real))


def _conv(rng, dt):
    x, w = _normal(rng, (2, 2, 5, 4), dt), _normal(rng, (3, 2, 3, 2), dt)
    return (lambda x, w: lax.conv_general_dilated(x, w, (2, 1), ((1, 1), (0, 1)),
                                                  rhs_dilation=(1, 2))), (x, w)


def _window(op, init, gen):
    def build(rng, dt):
        x = gen(rng, (1, 2, 4, 5), dt)
        return (lambda x: lax.reduce_window(x, init, op, (1, 1, 2, 2), (1, 1, 2, 2),
                                            ((0, 0), (0, 0), (0, 0), (0, 1)))), (x,)
    return build


def _select(rng, dt):
    pred = rng.random((2, 3)) < 0.5
    return (lambda a, b: lax.select(pred, a, b)), (_normal(rng, (2, 3), dt),
                                                   _normal(rng, (2, 3), dt))


def _gather(rng, dt):
    idx = np.array([[2], [0], [2]], np.int32)
    return (lambda x: lax.gather_leading(x, idx)), (_normal(rng, (3, 2), dt),)


def _scatter(rng, dt):
    idx = np.array([[1], [0], [1]], np.int32)
    return (lambda x, u: lax.scatter_add_leading(x, idx, u)), (_normal(rng, (3, 2), dt),
                                                                _normal(rng, (3, 2), dt))


def _update(method, gen_x=_normal, offset=0.0):
    idx = np.array([2, 0], np.int32)
    return lambda rng, dt: (lambda x, u: getattr(fnp.asarray(x).at[idx], method)(u),
                            (gen_x(rng, (3, 2), dt), gen_x(rng, (2, 2), dt) + offset))


def _cond(rng, dt):
    pred = np.array(rng.random() < 0.5)
    return (lambda x, y: lax.cond(pred, lambda a, b: a * b, lambda a, b: lax.sin(a) + b, x, y),
            (_normal(rng, (3,), dt), _normal(rng, (3,), dt)))


def _scan(rng, dt):
    def f(x):
        return lax.scan(lambda c, a: (lax.sin(c) * a, c * a), x[0] * 0 + 0.5, x)
    return f, (_normal(rng, (4,), dt),)


def _linear_solve(rng, dt):
    # x = A^-1 b through a solver that is never differentiated; derivatives in A and b
    a = (np.eye(3) * 4 + rng.standard_normal((3, 3)) * 0.5).astype(dt)

    def f(m, b):
        return lax.custom_linear_solve(
            lambda x: m @ x, b, lambda mv, r: fnp.linalg.solve(m, r),
            transpose_solve=lambda vm, r: fnp.linalg.solve(m.T, r))
    return f, (a, _normal(rng, (3,), dt))


def _spd(rng, dt):
    a = rng.standard_normal((3, 3))
    return (a @ a.T + 3 * np.eye(3)).astype(dt)


def _signed_columns(v):
    # eigen/singular vectors are defined up to sign: fix it by the first row's sign
    return v * fnp.sign(v[..., :1, :])


def _linalg(which):
    def build(rng, dt):
        a = (rng.standard_normal((3, 3)) + 3 * np.eye(3)).astype(dt)
        tall = rng.standard_normal((4, 3)).astype(dt)
        return {
            "cholesky": (lax.linalg.cholesky, (_spd(rng, dt),)),
            "eigh": (lambda x: (lax.linalg.eigh(x)[1],
                                _signed_columns(lax.linalg.eigh(x)[0])), (_spd(rng, dt),)),
            "qr": (lambda x: lax.linalg.qr(x, full_matrices=False), (tall,)),
            "svd": (lambda x: (lax.linalg.svd(x, full_matrices=False)[1],
                               _signed_columns(lax.linalg.svd(x, full_matrices=False)[0])),
                    (tall,)),
            "lu": (lambda x: lax.linalg.lu(x)[0], (a,)),
            "triangular_solve": (lambda x, b: lax.linalg.triangular_solve(
                x, b, left_side=True, lower=True), (a, rng.standard_normal((3, 2)).astype(dt))),
        }[which]
    return build


def _fft(rng, dt):
    if np.dtype(dt).kind == "c":  # FFT then IFFT of a product: both complex kinds
        w = _normal(rng, (2, 4), dt)
        return (lambda x: lax.fft(lax.fft(x, lax.FftType.FFT, (4,)) * w, lax.FftType.IFFT,
                                  (4,))), (_normal(rng, (2, 4), dt),)
    w = _normal(rng, (2, 3), np.complex128)  # RFFT then IRFFT (odd and even lengths)
    return (lambda x: lax.fft(lax.fft(x, lax.FftType.RFFT, (5,)) * w, lax.FftType.IRFFT,
                              (5,))), (_normal(rng, (2, 5), dt),)


def _remat(rng, dt):
    # the saved and the recomputed residuals both reach the backward program
    return (ft.checkpoint(lambda x, y: lax.sin(x) * lax.exp(y)),
            (_normal(rng, (3,), dt), _normal(rng, (3,), dt)))


def _jit_call(rng, dt):
    # a jitted function under a transformation: one jit equation (compiler/call.py)
    return (ft.jit(lambda x, y: lax.sin(x) * lax.exp(y) + x * y),
            (_normal(rng, (3,), dt), _normal(rng, (3,), dt)))


def _via_complex(x):
    return lax.real(lax.mul(lax.convert_element_type(x, np.complex128), 1.0 + 2.0j))


# name: (builder(rng, dtype) -> (fn, args), complex supported, primitives it covers)
CASES = {
    "add": (_binary(lax.add), True, ()),
    "sub": (_binary(lax.sub), True, ()),
    "mul": (_binary(lax.mul), True, ("add_any",)),
    "div": (_binary(lax.div, _normal, _away), True, ()),
    "rem": (_rem, False, ()),
    "pow": (_pow, True, ()),
    "max": (lambda rng, dt: (lax.max, _apart(rng, dt)), False, ()),
    "min": (lambda rng, dt: (lax.min, _apart(rng, dt)), False, ()),
    "neg": (_unary(lax.neg), True, ()),
    "abs": (_unary(lax.abs, _away), True, ()),
    "exp": (_unary(lax.exp), True, ()),
    "log": (_unary(lax.log, _positive), True, ()),
    "log1p": (_unary(lax.log1p, _positive), True, ()),
    "expm1": (_unary(lax.expm1), True, ()),
    "sqrt": (_unary(lax.sqrt, _positive), True, ()),
    "rsqrt": (_unary(lax.rsqrt, _positive), True, ()),
    "tanh": (_unary(lax.tanh, _off_poles), True, ()),
    "logistic": (_unary(lax.logistic), True, ()),
    "sin": (_unary(lax.sin), True, ()),
    "cos": (_unary(lax.cos), True, ()),
    "erf": (_unary(lax.erf), False, ()),
    "integer_pow": (_unary(lambda x: lax.integer_pow(x, 3)), True, ()),
    # |x| >= 1: near 0.5 the third derivative of x**-2 (~ 24/x**5) makes the
    # second-order central difference miss float64's 1e-5 tolerance.
    "integer_pow_neg": (_unary(lambda x: lax.integer_pow(x, -2), _away_from_one), True,
                        ("integer_pow",)),
    "lgamma": (_unary(lax.lgamma, _positive), False, ()),
    "erfc": (_unary(lax.erfc, _positive), False, ()),
    "digamma": (_unary(lax.digamma, _positive), False, ()),
    "polygamma": (lambda rng, dt: (lambda x: lax.polygamma(np.ones((), dt), x),
                                   (_positive(rng, (2, 3), dt),)), False, ()),
    "tan": (_unary(lax.tan, _inside_unit), True, ()),
    "asin": (_unary(lax.asin, _inside_unit), False, ()),
    "acos": (_unary(lax.acos, _inside_unit), False, ()),
    "atan": (_unary(lax.atan), False, ()),
    "sinh": (_unary(lax.sinh), True, ()),
    "cosh": (_unary(lax.cosh), True, ()),
    "asinh": (_unary(lax.asinh), False, ()),
    "acosh": (_unary(lambda x: lax.acosh(x * x + 1.5)), False, ()),
    "atanh": (_unary(lax.atanh, _inside_unit), False, ()),
    "cbrt": (_unary(lax.cbrt, _away), False, ()),
    "exp2": (_unary(lax.exp2), True, ()),
    "square": (_unary(lax.square), True, ()),
    "erf_inv": (_unary(lax.erf_inv, _inside_unit), False, ()),
    # x below, inside and above [min, max], each at least 0.1 from a tie
    "clamp": (lambda rng, dt: (lax.clamp, (
        np.asarray(-0.5 + 0.1 * rng.random(), dt),
        np.array([-1.2, 0.1, 1.3], dt) + (0.1 * rng.random(3)).astype(dt),
        np.asarray(0.8 + 0.1 * rng.random(), dt))), False, ()),
    "bessel_i0e": (_unary(lax.bessel_i0e, _away), False, ()),
    "bessel_i1e": (_unary(lax.bessel_i1e, _away), False, ()),
    # in x only: d/da goes through igamma_grad_a, which (as in JAX) has no derivative of
    # its own, so a second-order check in a cannot run; test_lax_special2.py checks d/da
    "igamma": (lambda rng, dt: (lambda x: lax.igamma(np.asarray(2.5, dt), x),
                                (_positive(rng, (2, 3), dt),)), False, ()),
    "igammac": (lambda rng, dt: (lambda x: lax.igammac(np.asarray(0.7, dt), x),
                                 (_positive(rng, (2, 3), dt),)), False, ()),
    # in x only, as JAX (no derivative in a and b)
    "regularized_incomplete_beta": (
        lambda rng, dt: (lambda x: lax.betainc(np.asarray(2.5, dt), np.asarray(1.5, dt), x),
                         (rng.uniform(0.2, 0.8, (2, 3)).astype(dt),)), False, ()),
    "real": (_unary(lax.real), "only", ()),
    "imag": (_unary(lax.imag), "only", ()),
    "conj": (_unary(lax.conj), "only", ()),
    "complex": (_complex, "only", ()),
    "select": (_select, True, ()),
    "convert_element_type": (_unary(_via_complex), False, ()),
    "dot_general": (lambda rng, dt: (lambda a, b: lax.dot_general(a, b, (((1,), (0,)), ((), ()))),
                                     (_normal(rng, (2, 3), dt), _normal(rng, (3, 2), dt))),
                    True, ()),
    "conv_general_dilated": (_conv, True, ("conv_grad_input", "conv_grad_filter")),
    "reduce_sum": (_unary(lambda x: lax.reduce_sum(x, (1,))), True, ()),
    "reduce_prod": (_unary(lambda x: lax.reduce_prod(x, (0,)), _away), True, ()),
    "reduce_max": (_unary(lambda x: lax.reduce_max(x, (1,)), _distinct), False, ()),
    "reduce_min": (_unary(lambda x: lax.reduce_min(x, (0, 1)), _distinct), False, ()),
    "cumsum": (_unary(lambda x: lax.cumsum(x, 1, reverse=True)), True, ()),
    "reduce_window_sum": (_window(lax.add, 0.0, _normal), True, ()),
    "reduce_window_max": (_window(lax.max, -np.inf, _distinct), False,
                          ("select_and_gather_add", "select_and_scatter_add")),
    "reduce_window_min": (_window(lax.min, np.inf, _distinct), False, ()),
    "broadcast_in_dim": (_unary(lambda x: lax.broadcast_in_dim(x, (4, 2, 3), (1, 2))), True, ()),
    "reshape": (_unary(lambda x: lax.reshape(x, (3, 2))), True, ()),
    "transpose": (_unary(lambda x: lax.transpose(x, (1, 0))), True, ()),
    "squeeze": (lambda rng, dt: (lambda x: lax.squeeze(x, (1,)), (_normal(rng, (2, 1, 3), dt),)),
                True, ()),
    "expand_dims": (_unary(lambda x: lax.expand_dims(x, (0, 2))), True, ()),
    "rev": (_unary(lambda x: lax.rev(x, (0, 1))), True, ()),
    "slice": (_unary(lambda x: lax.slice(x, (0, 1), (2, 3), (1, 2))), True, ()),
    "pad": (_binary(lambda x, v: lax.pad(x, v[0], ((1, 0, 1),))), True, ("pad",)),
    "concatenate": (_binary(lambda a, b: lax.concatenate([a, b, a], 0)), True, ()),
    "dynamic_slice": (_unary(lambda x: lax.dynamic_slice(x, (1, np.int32(1)), (1, 2))), True,
                      ()),
    "dynamic_update_slice": (
        lambda rng, dt: (lambda x, u: lax.dynamic_update_slice(x, u, (0, 1)),
                         (_normal(rng, (2, 3), dt), _normal(rng, (2, 2), dt))), True, ()),
    "gather": (_gather, True, ()),
    "scatter-add": (_scatter, True, ()),
    "scatter-sub": (_update("subtract"), True, ()),
    "scatter": (_update("set"), True, ()),
    "scatter-mul": (_update("multiply", _away), False, ()),
    "scatter-min": (_update("min", _distinct, 0.15), False, ()),
    "scatter-max": (_update("max", _distinct, 0.15), False, ()),
    "cond": (_cond, False, ()),
    "cholesky": (_linalg("cholesky"), False, ()),
    "eigh": (_linalg("eigh"), False, ()),
    "qr": (_linalg("qr"), False, ()),
    "svd": (_linalg("svd"), False, ()),
    "lu": (_linalg("lu"), False, ()),
    "triangular_solve": (_linalg("triangular_solve"), False, ()),
    "atan2": (_binary(lax.atan2, _normal, _away), False, ()),
    "fft": (_fft, True, ()),
    "sort": (_unary(lambda x: lax.sort((x, lax.sin(x)), dimension=1, num_keys=1), _distinct),
             False, ()),
    "scan": (_scan, False, ()),
    "custom_linear_solve": (_linear_solve, False, ()),
    "remat2": (_remat, False, ()),
    "jit": (_jit_call, False, ()),
}

# checked elsewhere, with the reason
NOT_HERE = {
    # eigenvalues only (JAX refuses eigenvector derivatives), and complex outputs of a
    # real input: test_linalg_eig.py checks them against finite differences
    "eig",
    # rounding: JAX defines its derivative as the rounded tangent (it is linear in JAX),
    # which finite differences of a step function cannot see; test_lax_conv_extras.py
    # checks that rule
    "reduce_precision",
    # forward mode only (reverse mode is JAX's documented error): test_control_flow.py
    # checks its JVP against finite differences
    "while",
    # collectives need a bound axis: test_parallel.py checks values and gradients against
    # NumPy under vmap and pmap; the process_* ones need several MPI ranks
    "psum", "pmax", "pmin", "all_gather", "all_to_all", "ppermute",
    "reduce_scatter",  # psum_scatter's primitive (JAX's name)
    "process_allreduce", "process_allgather",
    # pmap's equation: its rules are jit's, on the vmapped program; test_parallel.py and
    # test_pmap_printing.py differentiate through pmap
    "shard_map",
    # user rules: test_transforms.py and test_custom_staged.py; custom_vmap_call (forward
    # mode only, as in JAX) in test_custom_extras.py
    "custom_jvp_call", "custom_vjp_call", "custom_vmap_call",
    # host callbacks: no results (debug) or no derivative (pure); test_debug_callbacks.py
    "debug_callback", "pure_callback",
}


def _differentiable(prim) -> bool:
    rule = ad.jvp_rules.get(prim)
    return rule is not None and getattr(rule, "func", None) is not ad._zero_jvp


def _names_in(fn, args):
    """Primitive names in fn's program, its JVP program and its VJP's backward program."""
    progs = [ft.make_jaxpr(fn)(*args),
             ft.make_jaxpr(lambda *a: ft.jvp(fn, a, a))(*args),
             ft.make_jaxpr(lambda *a: ft.vjp(fn, *a)[1](fn(*a)))(*args)]
    return {e.primitive.name for p in progs for e in p.jaxpr.eqns}


def test_every_differentiable_primitive_is_covered(x64):
    rng = np.random.default_rng(0)
    covered = set()
    for name, (build, cplx, extra) in CASES.items():
        dt = np.complex128 if cplx == "only" else np.float64
        fn, args = build(rng, dt)
        seen = _names_in(fn, args)
        claimed = {name.removesuffix("_neg")} | set(extra)
        assert claimed <= seen, f"case {name} does not exercise {claimed - seen}"
        covered |= claimed
    missing = {p.name for p in primitives() if _differentiable(p)} - covered
    missing -= NOT_HERE
    assert not missing, f"differentiable primitives without a finite-difference case: {missing}"


REAL = sorted(n for n, (_, c, _) in CASES.items() if c != "only")
COMPLEX = sorted(n for n, (_, c, _) in CASES.items() if c)


@pytest.mark.parametrize("name", REAL)
@settings(max_examples=4)
@given(seed=st.integers(0, 2 ** 16))
def test_real_derivatives_match_finite_differences(name, seed):
    with _x64():
        fn, args = CASES[name][0](np.random.default_rng(seed), np.float64)
        check_grads(fn, args, order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("name", COMPLEX)
@settings(max_examples=4)
@given(seed=st.integers(0, 2 ** 16))
def test_complex_derivatives_match_finite_differences(name, seed):
    with _x64():
        fn, args = CASES[name][0](np.random.default_rng(seed), np.complex128)
        check_grads(fn, args, order=2, modes=("fwd", "rev"))


class _x64:
    """enable_x64 for one hypothesis example (a fixture would span all of them)."""

    def __enter__(self):
        self.prev = ft.config.enable_x64
        ft.config.update("enable_x64", True)

    def __exit__(self, *exc):
        ft.config.update("enable_x64", self.prev)
