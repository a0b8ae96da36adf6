"""functrace.nn.initializers, from jax.nn.initializers' documentation: orthogonal draws
have orthonormal rows or columns, delta_orthogonal puts one at a filter's centre tap."""

import numpy as np
import pytest

import functrace as ft
from functrace import random
from functrace.nn import initializers

KEY = random.PRNGKey(42)


def test_the_module_is_reachable_as_in_jax():
    assert ft.nn.initializers is initializers
    from functrace.stax import initializers as stax_inits
    assert stax_inits.glorot_normal is initializers.glorot_normal


@pytest.mark.parametrize("shape, column_axis", [((4, 4), -1), ((6, 3), -1), ((2, 5), -1),
                                                ((5, 2, 3), 0), ((3, 3, 8, 16), -1)])
def test_orthogonal_has_orthonormal_rows_or_columns(shape, column_axis):
    q = np.asarray(initializers.orthogonal(scale=2.0, column_axis=column_axis)(KEY, shape),
                   np.float64)
    assert q.shape == shape
    cols = np.moveaxis(q, column_axis, -1).reshape(-1, shape[column_axis]) / 2.0
    small = min(cols.shape)
    gram = cols.T @ cols if cols.shape[1] == small else cols @ cols.T
    np.testing.assert_allclose(gram, np.eye(small), atol=2e-5)


def test_orthogonal_matches_jax_for_a_known_key():
    # jax 0.10.2: jax.nn.initializers.orthogonal()(jax.random.PRNGKey(42), (2, 3))
    q = initializers.orthogonal()(KEY, (2, 3))
    np.testing.assert_allclose(q, [[-0.08792734, 0.9185913, -0.38530377],
                                   [0.8722634, 0.25780204, 0.4155657]], atol=2e-6)


def test_delta_orthogonal_is_orthogonal_at_the_centre_and_zero_elsewhere():
    w = np.asarray(initializers.delta_orthogonal()(KEY, (3, 5, 4, 4)), np.float64)
    centre = w[1, 2]
    np.testing.assert_allclose(centre.T @ centre, np.eye(4), atol=2e-5)
    w[1, 2] = 0
    assert not w.any()


def test_bad_shapes_raise_value_errors():
    with pytest.raises(ValueError, match="2D"):
        initializers.orthogonal()(KEY, (3,))
    with pytest.raises(ValueError, match="3D, 4D or 5D"):
        initializers.delta_orthogonal()(KEY, (3, 3))
    with pytest.raises(ValueError, match="fan_in"):
        initializers.delta_orthogonal()(KEY, (3, 3, 8, 4))
    assert initializers.orthogonal()(KEY, (0, 3)).shape == (0, 3)
