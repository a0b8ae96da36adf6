"""functrace.scipy.ndimage.map_coordinates against scipy.ndimage (JAX's 'constant' and
'wrap' are SciPy's 'grid-constant' and 'grid-wrap'), its derivatives, and
functrace.scipy.integrate.trapezoid against scipy.integrate; plus the package layout."""

import importlib

import numpy as np
import pytest
import scipy.integrate as si
import scipy.ndimage as nd

import functrace as ft
import functrace.scipy.integrate as I
import functrace.scipy.ndimage as N
from functrace.errors import FunctraceError
from functrace.test_util import check_grads

SCIPY_MODE = {"constant": "grid-constant", "wrap": "grid-wrap", "nearest": "nearest",
              "mirror": "mirror", "reflect": "reflect"}


@pytest.fixture
def rng():
    return np.random.default_rng(3)


def _coords(rng, shape, n):
    # points well outside the grid on both sides; away from .5 so that order 0 is unambiguous
    c = [rng.uniform(-2 * s, 3 * s, size=n) for s in shape]
    return [np.where(np.abs(x - np.round(x)) > 0.45, x + 0.1, x).astype(np.float32) for x in c]


@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("mode", sorted(SCIPY_MODE))
@pytest.mark.parametrize("shape", [(6,), (4, 5), (3, 4, 2), (1, 3)])
def test_map_coordinates_matches_scipy(rng, order, mode, shape):
    img = rng.standard_normal(shape).astype(np.float32)
    coords = _coords(rng, shape, 20)
    got = N.map_coordinates(img, coords, order, mode, cval=1.5)
    want = nd.map_coordinates(img, coords, order=order, mode=SCIPY_MODE[mode], cval=1.5,
                              prefilter=False)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_map_coordinates_shapes_and_integers(rng):
    img = np.arange(12, dtype=np.int32).reshape(3, 4)
    coords = np.array([[[0.4, 1.6]], [[2.0, 2.5]]])  # an (N, ...) array; output (1, 2)
    out = N.map_coordinates(img, coords, 1)
    assert out.dtype == img.dtype and out.shape == (1, 2)
    # linear in each axis: 0.4*4 + 2 = 3.6 -> 4, 1.6*4 + 2.5 = 8.9 -> 9
    np.testing.assert_array_equal(out, [[4, 9]])


def test_map_coordinates_grads(rng, x64):
    img = rng.standard_normal((4, 5))
    coords = [np.array([0.3, 1.7, 2.2]), np.array([3.4, 0.6, 1.1])]  # inside, off-grid
    check_grads(lambda x: N.map_coordinates(x, coords, 1), (img,), order=2)
    check_grads(lambda c0, c1: N.map_coordinates(img, [c0, c1], 1, "mirror"),
                tuple(coords), order=1)


def test_map_coordinates_vmap_and_jit(rng):
    imgs = rng.standard_normal((3, 4, 5)).astype(np.float32)
    coords = _coords(rng, (4, 5), 6)
    f = lambda x: N.map_coordinates(x, coords, 1, "reflect")  # noqa: E731
    want = np.stack([nd.map_coordinates(x, coords, order=1, mode="reflect") for x in imgs])
    np.testing.assert_allclose(ft.vmap(f)(imgs), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ft.jit(f)(imgs[0]), want[0], rtol=1e-5, atol=1e-5)


def test_map_coordinates_errors():
    img = np.ones((3, 3), np.float32)
    c = [np.zeros(2, np.float32)] * 2
    for fn, pattern in [(lambda: N.map_coordinates(img, c[:1], 1), "length input.ndim"),
                        (lambda: N.map_coordinates(img, c, 3), "order must be 0 or 1"),
                        (lambda: N.map_coordinates(img, c, 1, "grid-wrap"), "not supported")]:
        with pytest.raises((FunctraceError, ValueError), match=pattern):
            fn()


def test_trapezoid(rng, x64):
    y = rng.standard_normal((3, 7))
    x = np.sort(rng.standard_normal(7))
    np.testing.assert_allclose(I.trapezoid(y, x), si.trapezoid(y, x), rtol=1e-12)
    np.testing.assert_allclose(I.trapezoid(y, dx=0.3, axis=0), si.trapezoid(y, dx=0.3, axis=0),
                               rtol=1e-12)
    check_grads(lambda a, b: I.trapezoid(a, b), (y, x), order=1)


def test_submodules_import_like_jax():
    for name in ("linalg", "signal", "ndimage", "integrate", "special", "stats"):
        mod = importlib.import_module(f"functrace.scipy.{name}")
        assert getattr(ft.scipy, name) is mod
        for public in mod.__all__:
            assert callable(getattr(mod, public)) or name == "stats", (name, public)
