"""VGG16 (Simonyan and Zisserman, 2014), the lesson's CNN example, defined with stax.

Thirteen 3x3 'SAME' convolutions, each followed by a ReLU, in five blocks of 64, 64 |
128, 128 | 256 x3 | 512 x3 | 512 x3 channels, each block ending with a 2x2 max pool;
then Flatten - Dense(4096) - ReLU - Dense(4096) - ReLU - Dense(1000) - softmax (here
LogSoftmax, its logarithm: the stable form to train with). Inputs are NHWC.

The script prints the layer table (output shape and parameter count of every layer)
for 224x224x3 images and the total, 138,357,544 parameters, counted from the params
that the model's ``init_fun`` returns. By default ``init_fun`` is evaluated
abstractly, as ``jax.eval_shape`` would (``ft.make_jaxpr(..., return_shape=True)``:
shapes only, no array is allocated); ``--init`` runs it for real instead (138M float32
draws: about 15 s and 3 GB on a 2-core machine).

It then times a jitted training step (SGD with momentum 0.9, cross-entropy) on a small
batch at reduced resolution (``--image-size 32 --batch 4`` by default: with 32x32
inputs the last block outputs 1x1x512, so fc6 has 512 x 4096 weights instead of
25088 x 4096). A step at 224x224 would need several GB of activations and gradients.

Run:
    python examples/vgg16.py
    python examples/vgg16.py --init                # real initialisation for the table
    python examples/vgg16.py --image-size 64 --batch 8 --steps 5
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import functrace as ft
import functrace.numpy as fnp
from functrace import optimizers, random, stax
from functrace.tree_util import tree_leaves

IMAGE_SIZE = 224
NUM_CLASSES = 1000
BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


def vgg16(num_classes=NUM_CLASSES):
    """VGG16's layers as ``(name, (init_fun, apply_fun))`` pairs: one pair per row of
    the lesson's figure (a convolution and its ReLU are one ``stax.serial`` layer)."""
    layers = []
    for b, channels in enumerate(BLOCKS, start=1):
        for c, out_chan in enumerate(channels, start=1):
            layers.append((f"conv{b}_{c} (3x3, {out_chan}) + relu", stax.serial(
                stax.Conv(out_chan, (3, 3), padding="SAME"), stax.Relu)))
        layers.append((f"pool{b} (max 2x2)", stax.MaxPool((2, 2), strides=(2, 2))))
    layers += [
        ("flatten", stax.Flatten),
        ("fc6 (4096) + relu", stax.serial(stax.Dense(4096), stax.Relu)),
        ("fc7 (4096) + relu", stax.serial(stax.Dense(4096), stax.Relu)),
        (f"fc8 ({num_classes})", stax.Dense(num_classes)),
        ("log_softmax", stax.LogSoftmax),
    ]
    return layers


def eval_init(init_fun, key, input_shape):
    """``init_fun(key, input_shape)`` evaluated abstractly (like ``jax.eval_shape``):
    the output shape and the params as ``ShapeDtypeStruct``s; nothing is allocated."""
    out = {}

    def params_only(k):
        out["shape"], params = init_fun(k, input_shape)
        return params

    _, param_shapes = ft.make_jaxpr(params_only, return_shape=True)(key)
    return out["shape"], param_shapes


def count_params(params) -> int:
    """The number of scalars in a pytree of arrays (or of ``ShapeDtypeStruct``s)."""
    return sum(math.prod(leaf.shape) for leaf in tree_leaves(params))


def layer_table(layers, params, input_shape, key):
    """Rows ``(name, output_shape, n_params)``: each layer's output shape from its
    init_fun (evaluated abstractly), its count from ``params`` (the model's, one entry
    per layer); the param shapes of both must agree."""
    rows, shape = [], tuple(input_shape)
    for (name, (init_fun, _)), layer_params in zip(layers, params, strict=True):
        shape, expected = eval_init(init_fun, key, shape)
        got = [tuple(p.shape) for p in tree_leaves(layer_params)]
        if got != [tuple(p.shape) for p in tree_leaves(expected)]:
            raise AssertionError(f"{name}: params {got} do not have the shapes its "
                                 "init_fun announces")
        rows.append((name, shape, count_params(layer_params)))
    return rows


def print_table(rows, input_shape, total):
    print(f"VGG16 on {input_shape[1]}x{input_shape[2]}x{input_shape[3]} inputs (NHWC):")
    print(f"{'layer':<30} {'output shape':>16} {'params':>13}")
    print("-" * 61)
    print(f"{'input':<30} {str(tuple(input_shape[1:])):>16} {0:>13,}")
    for name, shape, n in rows:
        print(f"{name:<30} {str(tuple(shape[1:])):>16} {n:>13,}")
    print("-" * 61)
    print(f"Total params: {total:,}")
    floats = sum(math.prod(shape[1:]) for _, shape, _ in rows)
    print(f"forward activations: {floats:,} floats ({floats * 4 / 2**20:.0f} MiB) per image")


def time_training_step(image_size, batch, steps, seed):
    """Builds VGG16 for ``image_size`` inputs and times a jitted SGD-momentum step."""
    init_fun, predict = stax.serial(*(layer for _, layer in vgg16()))
    key = random.PRNGKey(seed)
    init_key, x_key, y_key = random.split(key, 3)
    t0 = time.perf_counter()
    _, params = init_fun(init_key, (-1, image_size, image_size, 3))
    init_s = time.perf_counter() - t0
    images = random.normal(x_key, (batch, image_size, image_size, 3))
    targets = np.eye(NUM_CLASSES, dtype=np.float32)[
        np.asarray(random.randint(y_key, (batch,), 0, NUM_CLASSES))]
    opt_init, opt_update, get_params = optimizers.momentum(1e-2, mass=0.9)

    def loss(params, batch):
        inputs, targets = batch
        return -fnp.mean(fnp.sum(predict(params, inputs) * targets, axis=1))

    @ft.jit
    def update(i, opt_state, batch):
        value, grads = ft.value_and_grad(loss)(get_params(opt_state), batch)
        return opt_update(i, grads, opt_state), value

    opt_state = opt_init(params)
    print(f"\nTraining step at {image_size}x{image_size}, batch {batch}: "
          f"{count_params(params):,} params (initialised in {init_s:.1f} s)")
    t0 = time.perf_counter()
    opt_state, value = update(0, opt_state, (images, targets))
    first_s = time.perf_counter() - t0
    times = []
    for i in range(1, steps + 1):
        t0 = time.perf_counter()
        opt_state, value = update(i, opt_state, (images, targets))
        times.append(time.perf_counter() - t0)
    print(f"first call (trace + jit compile + one step): {first_s:.2f} s")
    if times:
        step_s = float(np.median(times))
        print(f"time per step: {step_s * 1e3:.1f} ms (median of {steps}); "
              f"compile time: {max(first_s - step_s, 0.0):.2f} s; loss {float(value):.4f}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--init", action="store_true",
                        help="initialise the 224x224 model's 138M params for real for the "
                             "table (default: abstract evaluation of init_fun)")
    parser.add_argument("--image-size", type=int, default=32,
                        help="resolution of the timed training step, a multiple of 32 "
                             "(default 32)")
    parser.add_argument("--batch", type=int, default=4,
                        help="batch size of the timed step (default 4)")
    parser.add_argument("--steps", type=int, default=3,
                        help="timed steps after the first call; 0 skips the timing "
                             "altogether (default 3)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.image_size < 32 or args.image_size % 32:
        parser.error("--image-size must be a positive multiple of 32 (five 2x2 pools)")
    if args.batch < 1 or args.steps < 0:
        parser.error("--batch must be >= 1 and --steps >= 0")
    return args


def main(argv=None):
    args = parse_args(argv)
    layers = vgg16()
    init_fun, _ = stax.serial(*(layer for _, layer in layers))
    input_shape = (-1, IMAGE_SIZE, IMAGE_SIZE, 3)
    key = random.PRNGKey(args.seed)
    t0 = time.perf_counter()
    if args.init:
        out_shape, params = init_fun(key, input_shape)
        how = "initialised"
    else:
        out_shape, params = eval_init(init_fun, key, input_shape)
        how = "evaluated abstractly"
    init_s = time.perf_counter() - t0
    total = count_params(params)
    rows = layer_table(layers, params, input_shape, key)
    assert rows[-1][1] == out_shape and sum(n for _, _, n in rows) == total
    print_table(rows, input_shape, total)
    print(f"(params from init_fun, {how} in {init_s:.2f} s)")
    if args.steps:
        time_training_step(args.image_size, args.batch, args.steps, args.seed)
    return total


if __name__ == "__main__":
    main()
