import os
import shutil

# Without a GPU the CUDA backend's tests (test_cuda.py) run in Numba's CUDA
# simulator, which must be chosen before Numba is first imported. It changes
# nothing for the CPU backend. Set NUMBA_ENABLE_CUDASIM=0 to force the real target.
if not (shutil.which("nvidia-smi") or os.path.exists("/dev/nvidia0")):
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

from functrace import config  # noqa: E402

_SUPPRESS = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
# The default run ("ci") is derandomized: the same examples every run, so a landing
# gate never fails on a draw it has not seen before. "explore" draws fresh examples
# (HYPOTHESIS_PROFILE=explore python -m pytest) to hunt for new failures.
settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True,
                          suppress_health_check=_SUPPRESS)
settings.register_profile("dev", max_examples=10, deadline=None, suppress_health_check=_SUPPRESS)
settings.register_profile("explore", max_examples=200, deadline=None,
                          suppress_health_check=_SUPPRESS)
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


@pytest.fixture(params=[True, False], ids=["partitionable", "original"])
def threefry_partitionable(request):
    """Runs a test under each of JAX's two threefry key schemes; yields the flag."""
    prev = config.threefry_partitionable
    config.update("threefry_partitionable", request.param)
    try:
        yield request.param
    finally:
        config.update("threefry_partitionable", prev)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
