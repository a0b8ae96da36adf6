"""functrace: JAX-style function transformations on NumPy and Numba."""

from . import lax, tree_util
from .config import config
from .core.jaxpr import ClosedJaxpr, Jaxpr
from .core.make_jaxpr import ShapeDtypeStruct, make_jaxpr
from .transforms.api import grad, jvp, linearize, value_and_grad, vjp

__version__ = "0.1.0"
