import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from functrace import config

_SUPPRESS = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
settings.register_profile("ci", max_examples=25, deadline=None, suppress_health_check=_SUPPRESS)
settings.register_profile("dev", max_examples=10, deadline=None, suppress_health_check=_SUPPRESS)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def x64():
    """Runs a test with float64 enabled (for tight finite-difference checks)."""
    prev = config.enable_x64
    config.update("enable_x64", True)
    try:
        yield
    finally:
        config.update("enable_x64", prev)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
