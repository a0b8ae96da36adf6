"""Run under ``mpiexec -n 2`` by tests/test_distributed.py (not collected by pytest).

``dp_step.py OUT``: three data-parallel SGD steps of a small MLP with pmap + pmean on
this rank's half of a fixed global batch; writes the parameters to OUT.rank<r>.npz. Then
grouped collectives (``axis_index_groups`` crossing the processes) on 2 processes x 2
virtual devices, written to OUT.rank<r>.groups.npz; then a collective with mismatched
shapes, whose error is written to OUT.rank<r>.txt.
``dp_step.py OUT hang``: rank 1 never reaches the collective (the others must time out).
"""

import sys
import time

import numpy as np

import functrace as ft
from functrace import distributed, lax

GLOBAL_BATCH, STEPS, LR = 16, 3, 0.1


def data():
    rng = np.random.default_rng(0)
    params = [rng.standard_normal((6, 8)).astype(np.float32) * 0.5, np.zeros(8, np.float32),
              rng.standard_normal((8, 3)).astype(np.float32) * 0.5, np.zeros(3, np.float32)]
    x = rng.standard_normal((GLOBAL_BATCH, 6)).astype(np.float32)
    y = rng.standard_normal((GLOBAL_BATCH, 3)).astype(np.float32)
    return params, x, y


def loss(params, x, y):
    w1, b1, w2, b2 = params
    h = ft.nn.relu(x @ w1 + b1)
    return ((h @ w2 + b2 - y) ** 2).mean()


def sgd(params, grads):
    return [p - LR * g for p, g in zip(params, grads)]


GROUPS = {"cross": ((0, 2), (1, 3)), "reversed": ((3, 0), (2, 1))}


def lanes():
    """The 4 global lanes of the grouped collectives (2 per process)."""
    return np.random.default_rng(1).standard_normal((4, 2, 3)).astype(np.float32)


def grouped(rank):
    ft.config.update("num_cpu_devices", 2)
    mine = lanes()[2 * rank:2 * rank + 2]
    w = np.arange(mine.size, dtype=np.float32).reshape(mine.shape) + 2 * rank * mine[0].size
    out = {}
    ops = {
        "psum": lambda x, g: lax.psum(x, "i", axis_index_groups=g),
        "pmax": lambda x, g: lax.pmax(x, "i", axis_index_groups=g),
        "all_gather": lambda x, g: lax.all_gather(x, "i", axis_index_groups=g),
        "psum_scatter": lambda x, g: lax.psum_scatter(x, "i", axis_index_groups=g),
        "all_to_all": lambda x, g: lax.all_to_all(x, "i", 0, 1, axis_index_groups=g),
    }
    for key, g in GROUPS.items():
        for name, f in ops.items():
            out[f"{key}/{name}"] = ft.pmap(f, axis_name="i", static_broadcasted_argnums=1)(
                mine, g)

        def lane_grad(x, w, g=g):
            return ft.grad(lambda x: (lax.psum(x, "i", axis_index_groups=g) * w).sum())(x)

        out[f"{key}/grad_psum"] = ft.pmap(lane_grad, axis_name="i")(mine, w)
    ft.config.update("num_cpu_devices", 1)
    return out


def main(out, mode):
    distributed.initialize()
    rank, nproc = ft.process_index(), ft.process_count()
    if mode == "hang":
        ft.config.update("collective_timeout", 3)
        if rank == 1:
            time.sleep(60)  # never arrives; rank 0 must give up and abort the job
        ft.pmap(lambda x: lax.psum(x, "i"), axis_name="i")(np.ones((1, 2), np.float32))
        return
    params, x, y = data()
    shard = GLOBAL_BATCH // nproc
    xs = x[rank * shard:(rank + 1) * shard][None]  # (local devices = 1, shard, 6)
    ys = y[rank * shard:(rank + 1) * shard][None]

    def step(params, x, y):
        grads = ft.grad(loss)(params, x, y)
        return sgd(params, lax.pmean(grads, "batch"))

    pstep = ft.pmap(step, axis_name="batch", in_axes=(None, 0, 0))
    for _ in range(STEPS):
        params = [p[0] for p in pstep(params, xs, ys)]
    np.savez(f"{out}.rank{rank}.npz", *params)
    np.savez(f"{out}.rank{rank}.groups.npz", **grouped(rank))
    bad = np.ones((1, 3 + rank), np.float32)  # per device: f32[3] on rank 0, f32[4] on 1
    try:
        ft.pmap(lambda v: lax.psum(v, "batch"), axis_name="batch")(bad)
        message = "no error"
    except ft.CollectiveError as err:
        message = str(err)
    with open(f"{out}.rank{rank}.txt", "w") as f:
        f.write(message)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "step")
