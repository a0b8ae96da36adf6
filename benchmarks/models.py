"""The benchmark workloads, written once per framework."""

from __future__ import annotations

import numpy as np

import functrace as ft
import functrace.numpy as fnp
from functrace import lax, nn

SMALL_CNN = dict(batch=64, shape=(1, 28, 28), convs=[32, 64], dense=[128], classes=10)
VGG_STYLE = dict(batch=32, shape=(3, 32, 32), convs=[64, 64, "P", 128, 128, "P", 256, 256],
                 dense=[256], classes=10)


def init_params(cfg, rng):
    """He-initialised NCHW/OIHW conv weights and dense weights, as NumPy float32."""
    c, h, w = cfg["shape"]
    params = []
    for item, pool in _layers(cfg):
        params.append(rng.standard_normal((item, c, 3, 3)).astype(np.float32)
                      * np.sqrt(2 / (9 * c)))
        params.append(np.zeros(item, np.float32))
        c = item
        if pool:
            h, w = h // 2, w // 2
    n = c * h * w
    for m in cfg["dense"] + [cfg["classes"]]:
        params.append(rng.standard_normal((n, m)).astype(np.float32) * np.sqrt(2 / n))
        params.append(np.zeros(m, np.float32))
        n = m
    return [p.astype(np.float32) for p in params]


def _layers(cfg):
    """Conv layers are followed by pooling where the config says 'P' and at the end;
    the small CNN pools after each conv."""
    convs = cfg["convs"]
    if "P" not in convs:
        return [(c, True) for c in convs]
    out = []
    for i, item in enumerate(convs):
        if item == "P":
            continue
        nxt = convs[i + 1] if i + 1 < len(convs) else "P"
        out.append((item, nxt == "P"))
    return out


def functrace_loss(cfg):
    """The loss of ``cfg``'s network: ``loss(params, x, y)``, mean over the batch."""
    layers = _layers(cfg)
    n_conv = len(layers)

    def loss(params, x, y):
        h = x
        for i, (_, pool) in enumerate(layers):
            w, b = params[2 * i], params[2 * i + 1]
            h = lax.conv(h, w, (1, 1), "SAME") + b[None, :, None, None]
            h = nn.relu(h)
            if pool:
                h = lax.reduce_window(h, -np.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        h = h.reshape(h.shape[0], -1)
        dense = params[2 * n_conv:]
        for j in range(0, len(dense), 2):
            h = h @ dense[j] + dense[j + 1]
            if j + 2 < len(dense):
                h = nn.relu(h)
        return -fnp.mean(fnp.sum(nn.log_softmax(h) * y, axis=-1))

    return loss


def functrace_step(cfg, lr=0.01, backend=None):
    loss = functrace_loss(cfg)

    def step(params, x, y):
        value, grads = ft.value_and_grad(loss)(params, x, y)
        return value, [p - lr * g for p, g in zip(params, grads)]

    return ft.jit(step, backend=backend)


def torch_step(cfg, params_np, lr=0.01, device="cpu"):
    import torch  # noqa: PLC0415
    import torch.nn.functional as F  # noqa: PLC0415, N812

    layers = _layers(cfg)
    n_conv = len(layers)
    params = [torch.tensor(p, requires_grad=True, device=device) for p in params_np]

    def step(x, y):
        h = x
        for i, (_, pool) in enumerate(layers):
            h = F.relu(F.conv2d(h, params[2 * i], params[2 * i + 1], padding=1))
            if pool:
                h = F.max_pool2d(h, 2)
        h = h.reshape(h.shape[0], -1)
        dense = params[2 * n_conv:]
        for j in range(0, len(dense), 2):
            h = h @ dense[j] + dense[j + 1]
            if j + 2 < len(dense):
                h = F.relu(h)
        loss = -(F.log_softmax(h, -1) * y).sum(-1).mean()
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
        return loss

    return step


def jax_step(cfg, lr=0.01):
    import jax  # noqa: PLC0415
    import jax.numpy as jnp  # noqa: PLC0415

    layers = _layers(cfg)
    n_conv = len(layers)

    def loss(params, x, y):
        h = x
        for i, (_, pool) in enumerate(layers):
            h = jax.lax.conv(h, params[2 * i], (1, 1), "SAME") + params[2 * i + 1][None, :, None,
                                                                                 None]
            h = jax.nn.relu(h)
            if pool:
                h = jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2),
                                          "VALID")
        h = h.reshape(h.shape[0], -1)
        dense = params[2 * n_conv:]
        for j in range(0, len(dense), 2):
            h = h @ dense[j] + dense[j + 1]
            if j + 2 < len(dense):
                h = jax.nn.relu(h)
        return -jnp.mean(jnp.sum(jax.nn.log_softmax(h) * y, axis=-1))

    @jax.jit
    def step(params, x, y):
        value, grads = jax.value_and_grad(loss)(params, x, y)
        return value, [p - lr * g for p, g in zip(params, grads)]

    return step


# ---------------------------------------------------------------------------
# the same networks written with stax (NHWC, as users write them), for functrace and JAX

def stax_model(cfg, stax):
    """``(init_fun, apply_fun)`` of ``cfg`` from a stax module (functrace's or JAX's:
    the API is the same)."""
    layers = []
    for item, pool in _layers(cfg):
        layers += [stax.Conv(item, (3, 3), padding="SAME"), stax.Relu]
        if pool:
            layers.append(stax.MaxPool((2, 2), strides=(2, 2)))
    layers.append(stax.Flatten)
    for m in cfg["dense"]:
        layers += [stax.Dense(m), stax.Relu]
    layers += [stax.Dense(cfg["classes"]), stax.LogSoftmax]
    return stax.serial(*layers)


def nhwc_input(cfg, x):
    """The benchmark's NCHW batch as NHWC."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def functrace_stax_step(cfg, lr=0.01):
    """``(params, step)``: a jitted SGD step of the stax model."""
    from functrace import random  # noqa: PLC0415
    from functrace.example_libraries import stax  # noqa: PLC0415

    init_fun, apply_fun = stax_model(cfg, stax)
    _, params = init_fun(random.PRNGKey(0), (-1, *cfg["shape"][1:], cfg["shape"][0]))

    def loss(params, x, y):
        return -fnp.mean(fnp.sum(apply_fun(params, x) * y, axis=-1))

    @ft.jit
    def step(params, x, y):
        value, grads = ft.value_and_grad(loss)(params, x, y)
        return value, ft.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)

    return params, step


def jax_stax_step(cfg, lr=0.01):
    import jax  # noqa: PLC0415
    import jax.numpy as jnp  # noqa: PLC0415
    from jax.example_libraries import stax  # noqa: PLC0415

    init_fun, apply_fun = stax_model(cfg, stax)
    _, params = init_fun(jax.random.PRNGKey(0), (-1, *cfg["shape"][1:], cfg["shape"][0]))

    def loss(params, x, y):
        return -jnp.mean(jnp.sum(apply_fun(params, x) * y, axis=-1))

    @jax.jit
    def step(params, x, y):
        value, grads = jax.value_and_grad(loss)(params, x, y)
        return value, jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)

    return params, step
