"""Train train_cnn.py's CNN data-parallel: ``pmap`` + ``lax.pmean`` over processes (MPI).

Every process runs this same script. Each step takes the same global batch of
``--batch-size`` images (the same seeded shuffle on every process); process ``p``
keeps its ``process_index()``-th share and splits it over its local devices. Each
device computes the gradient of its shard's mean loss and ``lax.pmean`` averages
them over all devices of all processes -- the gradient of the global batch's mean
loss -- so every process applies the same Adam update and holds bit-identical
parameters. It reaches the test accuracy of train_cnn.py. Rank 0 alone prints and
writes the checkpoint.

Run:
    mpiexec -n 2 python examples/train_cnn_dp.py            # 2 processes on this host
    mpiexec -f hosts -n 4 python examples/train_cnn_dp.py   # MPICH: one host per line
    srun -N 4 --ntasks-per-node=1 python examples/train_cnn_dp.py
    FUNCTRACE_NUM_CPU_DEVICES=2 python examples/train_cnn_dp.py   # 1 process, 2 devices
Needs ``pip install 'functrace[mpi]'`` (mpi4py and MPICH) for more than one process.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

# Processes launched on one host share its cores: each gets its share of Numba's threads
# (set before Numba loads; two 2-thread ranks on 2 cores ran 5x slower than 1-thread ones).
_LOCAL_RANKS = int(os.environ.get("MPI_LOCALNRANKS", os.environ.get("SLURM_NTASKS_PER_NODE",
                                                                     "1")))
if _LOCAL_RANKS > 1:
    os.environ.setdefault("NUMBA_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // _LOCAL_RANKS)))

import numpy as np  # noqa: E402 - after the thread settings above

import functrace as ft  # noqa: E402
import functrace.numpy as fnp  # noqa: E402
from functrace import distributed, lax, optimizers, random  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_cnn import (  # noqa: E402 - the data and the model of the one-process script
    NUM_CLASSES,
    load_data,
    make_cnn,
)

DEFAULT_CHECKPOINT = os.path.join("checkpoints", "cnn_digits_dp.npz")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=20, help="(default 20)")
    parser.add_argument("--batch-size", type=int, default=64,
                        help="the global batch, over all devices (default 64)")
    parser.add_argument("--lr", type=float, default=2e-3, help="Adam step size (default 2e-3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT,
                        help="written by rank 0 after every epoch")
    parser.add_argument("--mnist", metavar="DIR", help="MNIST's IDX files instead of digits")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    distributed.initialize()  # joins the mpiexec/srun launch; a no-op for one process
    rank, nproc = ft.process_index(), ft.process_count()
    ndev, nlocal = ft.device_count(), ft.local_device_count()
    leader = rank == 0
    say = print if leader and not args.quiet else (lambda *a: None)
    if args.batch_size % ndev:
        sys.exit(f"train_cnn_dp: --batch-size {args.batch_size} must be a multiple of the "
                 f"{ndev} devices")
    per_device = args.batch_size // ndev
    t_start = time.perf_counter()

    key = random.PRNGKey(args.seed)
    split_key, init_key, shuffle_key = random.split(key, 3)
    name, train_x, train_y, test_x, test_y = load_data(args, split_key)
    train_targets = np.eye(NUM_CLASSES, dtype=np.float32)[train_y]
    steps_per_epoch = len(train_x) // args.batch_size
    say(f"data: {name}; {nproc} process(es) x {nlocal} device(s), global batch "
        f"{args.batch_size} = {ndev} x {per_device}")

    init_fun, predict = make_cnn(train_x.shape[1])
    opt_init, opt_update, get_params = optimizers.adam(args.lr)

    def loss(params, batch):
        inputs, targets = batch
        return -fnp.mean(fnp.sum(predict(params, inputs) * targets, axis=1))

    def update(i, opt_state, batch):
        value, grads = ft.value_and_grad(loss)(get_params(opt_state), batch)
        grads = lax.pmean(grads, "batch")  # over every device of every process
        return opt_update(i, grads, opt_state), lax.pmean(value, "batch")

    # the step and optimizer state are the same on every device (in_axes None); after
    # pmean so are the new state and the loss, which therefore come back once (out_axes None)
    p_update = ft.pmap(update, axis_name="batch", in_axes=(None, None, 0),
                       out_axes=(None, None))

    @ft.jit
    def predicted_class(params, inputs):
        return fnp.argmax(predict(params, inputs), axis=1)

    _, params = init_fun(init_key, (-1,) + train_x.shape[1:])
    opt_state = opt_init(params)
    step = 0
    share = args.batch_size // nproc
    for epoch in range(args.epochs):
        t_epoch = time.perf_counter()
        perm = np.asarray(random.permutation(random.fold_in(shuffle_key, epoch), len(train_x)))
        total = 0.0
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            mine = idx[rank * share:(rank + 1) * share]  # this process's share
            batch = (train_x[mine].reshape((nlocal, per_device) + train_x.shape[1:]),
                     train_targets[mine].reshape(nlocal, per_device, NUM_CLASSES))
            opt_state, value = p_update(step, opt_state, batch)
            step += 1
            total += float(value)
        if leader:
            optimizers.save_checkpoint(_ensure_dir(args.checkpoint),
                                       params=get_params(opt_state), opt_state=opt_state,
                                       step=step)
            acc = accuracy(predicted_class, get_params(opt_state), test_x, test_y)
            say(f"epoch {epoch + 1:3d}  loss {total / steps_per_epoch:.4f}  test acc "
                f"{acc:.4f}  ({time.perf_counter() - t_epoch:.2f} s)")
    identical = same_on_every_process(get_params(opt_state))
    if leader:
        acc = accuracy(predicted_class, get_params(opt_state), test_x, test_y)
        print(f"parameters identical on all {nproc} process(es): {identical}")
        print(f"total time: {time.perf_counter() - t_start:.1f} s")
        print(f"final test accuracy: {acc:.4f} ({round(acc * len(test_x))}/{len(test_x)})")


def accuracy(predicted_class, params, images, labels):
    return float(np.mean(np.asarray(predicted_class(params, images)) == labels))


def same_on_every_process(params) -> bool:
    """Gathers each process's parameter bytes' checksum over the device axis."""
    leaves = ft.tree_util.tree_leaves(params)
    sums = np.array([[np.frombuffer(np.ascontiguousarray(p).tobytes(), np.uint32).sum(
        dtype=np.uint64) % (1 << 31) for p in leaves]] * ft.local_device_count(), np.int32)
    gathered = ft.pmap(lambda s: lax.all_gather(s, "d"), axis_name="d")(sums)[0]
    return bool((gathered == gathered[0]).all())


def _ensure_dir(path):
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


if __name__ == "__main__":
    main()
