"""functrace.scipy's linalg/signal/ndimage/integrate against JAX itself where JAX departs
from SciPy (symmetrized eigh, grid modes of map_coordinates, return types and dtypes).
Skipped when JAX is not installed (CI has no JAX; the SciPy-oracle tests run there)."""

import os

import numpy as np
import pytest

os.environ.setdefault("JAX_PLATFORMS", "cpu")
jax = pytest.importorskip("jax")
pytest.importorskip("jax.numpy")
js = pytest.importorskip("jax.scipy")

import functrace.numpy as fnp  # noqa: E402
import functrace.scipy as fs  # noqa: E402


def fs_sin(x):
    return fnp.sin(x)


def _same(got, want):
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        w = np.asarray(w)
        assert np.shape(g) == w.shape and np.asarray(g).dtype == w.dtype, (g, w)
        np.testing.assert_allclose(np.asarray(g), w, rtol=2e-4, atol=2e-4)


rng = np.random.default_rng(4)
A = rng.standard_normal((4, 4)).astype(np.float32)
SPD_JUNK = (A @ A.T + 4 * np.eye(4) + np.triu(A, 1)).astype(np.float32)  # not symmetric
B = rng.standard_normal((4, 2)).astype(np.float32)
C = rng.standard_normal(4).astype(np.float32)
IMG = rng.standard_normal((4, 5)).astype(np.float32)
COORDS = [rng.uniform(-3, 7, 8).astype(np.float32), rng.uniform(-3, 8, 8).astype(np.float32)]

CASES = {
    "cholesky": (lambda m: m.linalg.cholesky(SPD_JUNK)),
    "cholesky_lower": (lambda m: m.linalg.cholesky(SPD_JUNK, lower=True)),
    "eigh_symmetrizes": (lambda m: m.linalg.eigh(SPD_JUNK, lower=False, eigvals_only=True)),
    "solve_pos": (lambda m: m.linalg.solve(SPD_JUNK, B, assume_a="pos")),
    "qr_r_is_a_tuple": (lambda m: tuple(abs(x) for x in m.linalg.qr(A, mode="r"))),
    "lu_wide": (lambda m: m.linalg.lu(A[:3])),
    "lu_factor": (lambda m: m.linalg.lu_factor(A)),
    "expm": (lambda m: m.linalg.expm(3 * A)),
    "expm_nan": (lambda m: m.linalg.expm(30 * A, max_squarings=1)),
    "polar": (lambda m: m.linalg.polar(A)),
    "pascal_float32": (lambda m: m.linalg.pascal(5)),
    "hadamard": (lambda m: m.linalg.hadamard(4)),
    "dft": (lambda m: m.linalg.dft(5, "sqrtn")),
    "fiedler_companion_1": (lambda m: m.linalg.fiedler_companion(C[:1])),
    "companion_int": (lambda m: m.linalg.companion(np.array([1, 2, 3]))),
    "block_diag_empty": (lambda m: m.linalg.block_diag()),
    "convolution_matrix": (lambda m: m.linalg.convolution_matrix(C, 3, "same")),
    "convolve_int": (lambda m: m.signal.convolve(np.array([1, 2, 3]), np.array([1, 1]))),
    "correlate2d_swap": (lambda m: m.signal.correlate2d(IMG[:2, :3], IMG)),
    "trapezoid_int": (lambda m: m.integrate.trapezoid(np.arange(5))),
    # the Schur family (unique results only: a Schur form itself is not unique)
    "sqrtm": (lambda m: m.linalg.sqrtm(A @ A.T + np.eye(4, dtype=np.float32))),
    "funm": (lambda m: m.linalg.funm(A, jax.numpy.sin if m is js else fs_sin)),
    "solve_sylvester": (lambda m: m.linalg.solve_sylvester(A, A.T + 9 * np.eye(4), B @ B.T)),
    "hessenberg_abs": (lambda m: abs(m.linalg.hessenberg(A))),
    # JAX's own defaults: nperseg=None is the whole input; istft's t follows x.shape[0]
    "welch_default_nperseg": (lambda m: m.signal.welch(IMG)),
    "csd_median": (lambda m: m.signal.csd(IMG, IMG[::-1], nperseg=4, average="median")),
    "stft_odd": (lambda m: m.signal.stft(IMG, nperseg=4, boundary="odd")),
    "istft_batched": (lambda m: m.signal.istft(m.signal.stft(IMG, nperseg=4)[2], nperseg=4)),
}
for _mode in ("constant", "nearest", "wrap", "mirror", "reflect"):
    for _order in (0, 1):
        CASES[f"map_coordinates_{_mode}_{_order}"] = (
            lambda m, mode=_mode, order=_order: m.ndimage.map_coordinates(IMG, COORDS, order,
                                                                          mode, 2.0))


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_jax(name):
    f = CASES[name]
    _same(f(fs), f(js))
