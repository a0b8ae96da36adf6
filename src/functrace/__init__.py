"""functrace: JAX-style function transformations on NumPy and Numba.

Example:
    >>> import functrace as ft
    >>> ft.grad(lambda x, y, z: (x + y) * z, argnums=(0, 1, 2))(-2., 5., -4.)
    (array(-4., dtype=float32), array(-4., dtype=float32), array(3., dtype=float32))
"""

from . import (
    custom_batching,
    custom_derivatives,
    debug,
    distributed,
    dtypes,
    flatten_util,
    lax,
    nn,
    numpy,
    optimizers,
    random,
    scipy,
    sharding,
    stax,
    test_util,
    tree,
    tree_util,
)
from .backends import numba_cpu as _numba_cpu  # registers the 'cpu' backend
from .backends.transfer import device_get, device_put
from .compiler.jit import jit
from .config import (
    config,
    default_matmul_precision,
    numpy_dtype_promotion,
    numpy_rank_promotion,
)
from .core.jaxpr import ClosedJaxpr, Jaxpr
from .core.trace import eval_jaxpr
from .debug import pure_callback
from .devices import (
    Device,
    device_count,
    devices,
    local_device_count,
    local_devices,
    transfer_guard,
)
from .dtypes import float0
from .errors import (
    CollectiveError,
    ConcretizationError,
    FunctraceError,
    ShapeError,
    TransferError,
    TransformError,
    UnboundAxisError,
    UnexpectedTracerError,
)
from .lax import stop_gradient
from .runtime import (
    Array,
    block_until_ready,
    clear_caches,
    copy_to_host_async,
    debug_infs,
    debug_nans,
    default_backend,
    disable_jit,
    effects_barrier,
    enable_x64,
    ensure_compile_time_eval,
    log_compiles,
    named_scope,
    print_environment_info,
    process_count,
    process_index,
    process_indices,
    typeof,
)
from .spmd import pmap
from .transforms.api import grad, jvp, linearize, value_and_grad, vjp
from .transforms.checkpoint import checkpoint, checkpoint_policies, remat
from .transforms.custom import custom_jvp, custom_vjp
from .transforms.custom_gradient import custom_gradient
from .transforms.jacobians import hessian, jacfwd, jacrev
from .transforms.jacobians import jacrev as jacobian
from .transforms.make_jaxpr import ShapeDtypeStruct, make_jaxpr
from .transforms.utilities import closure_convert, eval_shape, linear_transpose, named_call
from .transforms.vmap import vmap

__version__ = "0.1.0"
