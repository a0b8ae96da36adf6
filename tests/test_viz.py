"""functrace.viz: the lesson's graph carries the forward values and the gradients."""

import numpy as np

import functrace as ft
import functrace.numpy as fnp
from functrace import viz


def test_lesson_graph_values_and_gradients():
    g = viz.draw_graph(lambda x, y, z: (x + y) * z, -2.0, 5.0, -4.0,
                       names=("x", "y", "z", "q", "f"))
    assert g.nodes == [("x", "-2", "-4"), ("y", "5", "-4"), ("z", "-4", "3"),
                       ("q", "3", "-4"), ("f", "-12", "1")]
    assert g.svg.startswith("<svg") and g._repr_svg_() == g.svg
    for label in ("x", "q", "f", "-12", "×", "+"):
        assert f">{label}<" in g.svg


def test_graph_gradients_match_grad_for_a_longer_function():
    def f(a, b):
        h = fnp.tanh(a * b) + a
        return h * h - b

    g = viz.draw_graph(f, 0.3, -1.2)
    expected = ft.grad(f, argnums=(0, 1))(0.3, -1.2)
    np.testing.assert_allclose([float(v) for v in g.grads[:2]], [float(e) for e in expected],
                               rtol=1e-5)
    assert float(g.values[-1]) == float(f(0.3, -1.2))
