"""functrace.optimizers against independent NumPy formulas, plus checkpoints."""

import os
import zipfile

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import optimizers
from functrace.errors import FunctraceError
from functrace.optimizers import CheckpointError, JoinPoint, OptimizerState
from functrace.tree_util import tree_flatten, tree_leaves, tree_map, tree_structure

# --- NumPy references: (init(x) -> state dict, update(i, g, state, lr)), x in state["x"] ---


def _inv_sqrt0(a):
    return np.where(a > 0, 1 / np.sqrt(np.where(a > 0, a, 1)), 0)


def _zeros(x, *names):
    return {"x": x, **{n: np.zeros_like(x) for n in names}}


def ref_sgd():
    def update(i, g, s, lr):
        s["x"] = s["x"] - lr(i) * g
    return lambda x: {"x": x}, update


def ref_momentum(mass, nesterov=False):
    def update(i, g, s, lr):
        s["v"] = mass * s["v"] + g
        s["x"] = s["x"] - lr(i) * ((mass * s["v"] + g) if nesterov else s["v"])
    return lambda x: _zeros(x, "v"), update


def ref_adagrad(momentum=0.9):
    def update(i, g, s, lr):
        s["G"] = s["G"] + g ** 2
        s["m"] = (1 - momentum) * g * _inv_sqrt0(s["G"]) + momentum * s["m"]
        s["x"] = s["x"] - lr(i) * s["m"]
    return lambda x: _zeros(x, "G", "m"), update


def ref_rmsprop(gamma=0.9, eps=1e-8, momentum=None):
    def update(i, g, s, lr):
        s["a"] = gamma * s["a"] + (1 - gamma) * g ** 2
        step = lr(i) * g / np.sqrt(s["a"] + eps)
        if momentum is None:
            s["x"] = s["x"] - step
        else:
            s["mom"] = momentum * s["mom"] + step
            s["x"] = s["x"] - s["mom"]
    return lambda x: _zeros(x, "a", "mom"), update


def ref_adam(b1=0.9, b2=0.999, eps=1e-8, infinity=False):
    def update(i, g, s, lr):
        s["m"] = b1 * s["m"] + (1 - b1) * g
        if infinity:  # adamax
            s["u"] = np.maximum(b2 * s["u"], np.abs(g))
            s["x"] = s["x"] - lr(i) / (1 - b1 ** (i + 1)) * s["m"] / (s["u"] + eps)
            return
        s["v"] = b2 * s["v"] + (1 - b2) * g ** 2
        mhat, vhat = s["m"] / (1 - b1 ** (i + 1)), s["v"] / (1 - b2 ** (i + 1))
        s["x"] = s["x"] - lr(i) * mhat / (np.sqrt(vhat) + eps)
    return lambda x: _zeros(x, "m", "v", "u"), update


def ref_sm3(momentum=0.9):
    def init(x):
        x1 = np.atleast_1d(x)
        return {"x": x1, "shape": np.shape(x), "m": np.zeros_like(x1),
                "vs": [np.zeros(n) for n in x1.shape]}

    def update(i, g, s, lr):
        g = np.broadcast_to(g, s["x"].shape)
        nd = g.ndim
        shaped = [v.reshape([-1 if a == j else 1 for a in range(nd)])
                  for j, v in enumerate(s["vs"])]
        accum = np.minimum.reduce(np.broadcast_arrays(*shaped)) + g ** 2
        s["m"] = (1 - momentum) * g * _inv_sqrt0(accum) + momentum * s["m"]
        s["x"] = s["x"] - lr(i) * s["m"]
        s["vs"] = [accum.max(axis=tuple(a for a in range(nd) if a != j)) for j in range(nd)]
    return init, update


CASES = {  # name -> (make optimizer from a step size, NumPy reference)
    "sgd": (optimizers.sgd, ref_sgd()),
    "momentum": (lambda lr: optimizers.momentum(lr, 0.8), ref_momentum(0.8)),
    "nesterov": (lambda lr: optimizers.nesterov(lr, 0.7), ref_momentum(0.7, nesterov=True)),
    "adagrad": (lambda lr: optimizers.adagrad(lr, momentum=0.5), ref_adagrad(0.5)),
    "rmsprop": (lambda lr: optimizers.rmsprop(lr, gamma=0.8, eps=1e-6),
                ref_rmsprop(0.8, 1e-6)),
    "rmsprop_momentum": (lambda lr: optimizers.rmsprop_momentum(lr, 0.8, 1e-6, 0.6),
                         ref_rmsprop(0.8, 1e-6, momentum=0.6)),
    "adam": (lambda lr: optimizers.adam(lr, b1=0.8, b2=0.9, eps=1e-6),
             ref_adam(0.8, 0.9, 1e-6)),
    "adamax": (lambda lr: optimizers.adamax(lr, b1=0.8, b2=0.9, eps=1e-6),
               ref_adam(0.8, 0.9, 1e-6, infinity=True)),
    "sm3": (lambda lr: optimizers.sm3(lr, momentum=0.5), ref_sm3(0.5)),
}

STEP_SIZES = {  # name -> (step size given to the optimizer, reference schedule)
    "float": lambda: 0.1,
    "exponential_decay": lambda: optimizers.exponential_decay(0.1, 2, 0.5),
    # built inside the test: its values array takes the dtype of the x64 setting then
    "piecewise_constant": lambda: optimizers.piecewise_constant([0, 1], [0.1, 0.05, 0.02]),
    "callable": lambda: lambda i: 0.1 / (i + 1),
}
REF_STEP_SIZES = {
    "float": lambda i: 0.1,
    "exponential_decay": lambda i: 0.1 * 0.5 ** (i / 2),
    "piecewise_constant": lambda i: [0.1, 0.05, 0.02][(i > 0) + (i > 1)],
    "callable": lambda i: 0.1 / (i + 1),
}


def random_tree(rng, dtype=np.float64):
    """Parameters nested in dict, list and tuple, with a scalar and a 3-d leaf."""
    def a(*shape):
        return rng.standard_normal(shape).astype(dtype)
    return {"dense": [a(3, 4), (a(5), a())], "bias": a(2, 1, 3)}


def run_reference(ref, lr, params, grads_per_step):
    init, update = ref
    states = [init(x) for x in tree_leaves(params)]
    for i, grads in enumerate(grads_per_step):
        for s, g in zip(states, tree_leaves(grads), strict=True):
            update(i, g, s, lr)
    return [s["x"].reshape(s["shape"]) if "shape" in s else s["x"] for s in states]


@pytest.mark.parametrize("step_name", sorted(STEP_SIZES))
@pytest.mark.parametrize("name", sorted(CASES))
def test_update_matches_numpy_formula(name, step_name, rng, x64):
    make, ref = CASES[name]
    step_size, ref_lr = STEP_SIZES[step_name](), REF_STEP_SIZES[step_name]
    params = random_tree(rng)
    grads_per_step = [random_tree(rng) for _ in range(3)]
    opt_init, opt_update, get_params = make(step_size)
    opt_state = opt_init(params)
    for i, grads in enumerate(grads_per_step):
        opt_state = opt_update(i, grads, opt_state)
    out = get_params(opt_state)
    assert tree_structure(out) == tree_structure(params)
    expected = run_reference(ref, ref_lr, params, grads_per_step)
    for got, want in zip(tree_leaves(out), expected, strict=True):
        assert np.shape(got) == np.shape(want)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_float32_stays_float32_and_matches(name, rng):
    make, ref = CASES[name]
    params = random_tree(rng, np.float32)
    grads_per_step = [random_tree(rng, np.float32) for _ in range(3)]
    opt_init, opt_update, get_params = make(0.1)
    opt_state = opt_init(params)
    for i, grads in enumerate(grads_per_step):
        opt_state = opt_update(i, grads, opt_state)
    expected = run_reference(ref, lambda i: 0.1, tree_map(np.float64, params),
                             tree_map(np.float64, grads_per_step))
    for got, want in zip(tree_leaves(get_params(opt_state)), expected, strict=True):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_update_is_traceable_with_a_traced_step(name, rng):
    make, _ = CASES[name]
    params, grads = random_tree(rng, np.float32), random_tree(rng, np.float32)
    opt_init, opt_update, get_params = make(optimizers.exponential_decay(0.1, 2, 0.5))

    def step(i, p, g):
        return get_params(opt_update(i, g, opt_update(0, g, opt_init(p))))

    closed = ft.make_jaxpr(step)(3, params, grads)
    args = [np.int32(3)] + tree_leaves(params) + tree_leaves(grads)
    traced = ft.eval_jaxpr(closed.jaxpr, closed.consts, *args)
    for got, want in zip(traced, tree_leaves(step(3, params, grads)), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5)


def test_grad_tree_mismatch_is_an_error():
    opt_init, opt_update, _ = optimizers.sgd(0.1)
    state = opt_init({"a": np.ones(2)})
    with pytest.raises(TypeError, match="did not match the parameter tree"):
        opt_update(0, {"b": np.ones(2)}, state)
    with pytest.raises(FunctraceError):
        opt_update(0, [np.ones(2)], state)


# --- schedules and utilities ----------------------------------------------------------


@pytest.mark.parametrize("schedule, formula", [
    (optimizers.constant(0.3), lambda i: 0.3),
    (optimizers.exponential_decay(0.5, 3, 0.1), lambda i: 0.5 * 0.1 ** (i / 3)),
    (optimizers.inverse_time_decay(0.5, 3, 2.0), lambda i: 0.5 / (1 + 2.0 * i / 3)),
    (optimizers.inverse_time_decay(0.5, 3, 2.0, staircase=True),
     lambda i: 0.5 / (1 + 2.0 * np.floor(i / 3))),
    (optimizers.polynomial_decay(1.0, 5, 0.1), lambda i: (1 - min(i, 5) / 5) * 0.9 + 0.1),
    (optimizers.polynomial_decay(1.0, 5, 0.1, power=2.0),
     lambda i: (1 - min(i, 5) / 5) ** 2 * 0.9 + 0.1),
    (optimizers.piecewise_constant([2, 5], [1.0, 0.5, 0.25]),
     lambda i: 1.0 if i <= 2 else 0.5 if i <= 5 else 0.25),
])
def test_schedules_match_formulas(schedule, formula):
    for i in range(12):
        np.testing.assert_allclose(float(schedule(i)), formula(i), rtol=1e-6)


def test_make_schedule():
    def fn(i):
        return 1.0 / (i + 1)
    assert optimizers.make_schedule(fn) is fn
    assert optimizers.make_schedule(0.25)(7) == 0.25
    with pytest.raises(TypeError, match="scalar step size or a callable"):
        optimizers.make_schedule(np.ones(2))


def test_piecewise_constant_checks_lengths():
    with pytest.raises(ValueError, match="one shorter"):
        optimizers.piecewise_constant([1, 2], [1.0, 2.0])
    with pytest.raises(ValueError, match="sequences"):
        optimizers.piecewise_constant(1, [1.0, 2.0])


def test_l2_norm_and_clip_grads(rng, x64):
    tree = random_tree(rng)
    flat = np.concatenate([np.ravel(x) for x in tree_leaves(tree)])
    norm = np.linalg.norm(flat)
    np.testing.assert_allclose(optimizers.l2_norm(tree), norm, rtol=1e-12)
    clipped = optimizers.clip_grads(tree, norm / 2)
    assert tree_structure(clipped) == tree_structure(tree)
    for got, x in zip(tree_leaves(clipped), tree_leaves(tree), strict=True):
        np.testing.assert_allclose(got, x * (norm / 2) / norm, rtol=1e-12)
    np.testing.assert_allclose(optimizers.l2_norm(clipped), norm / 2, rtol=1e-12)
    for got, x in zip(tree_leaves(optimizers.clip_grads(tree, 2 * norm)), tree_leaves(tree),
                      strict=True):
        np.testing.assert_array_equal(got, x)


@pytest.mark.parametrize("name", sorted(CASES))
def test_pack_unpack_round_trip(name, rng):
    make, _ = CASES[name]
    params = random_tree(rng, np.float32)
    opt_init, opt_update, get_params = make(0.1)
    state = opt_update(0, random_tree(rng, np.float32), opt_init(params))
    marked = optimizers.unpack_optimizer_state(state)
    marks, outer = tree_flatten(marked)
    assert outer == tree_structure(params)
    assert all(isinstance(m, JoinPoint) for m in marks)
    packed = optimizers.pack_optimizer_state(marked)
    assert isinstance(packed, OptimizerState)
    assert tree_structure(packed) == tree_structure(state)
    for a, b in zip(tree_leaves(packed), tree_leaves(state), strict=True):
        np.testing.assert_array_equal(a, b)
    grads = random_tree(rng, np.float32)
    for a, b in zip(tree_leaves(get_params(opt_update(1, grads, packed))),
                    tree_leaves(get_params(opt_update(1, grads, state))), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="JoinPoint"):
        optimizers.pack_optimizer_state({"a": 1.0})


@pytest.mark.parametrize("make", [lambda: optimizers.adam(0.1), lambda: optimizers.sgd(0.1)])
def test_quadratic_converges(make):
    target = {"a": np.array([1.0, -2.0], np.float32), "b": (np.float32(3.0),)}

    def loss(p):
        diffs = tree_map(lambda x, t: fnp.sum((x - t) ** 2), p, target)
        return diffs["a"] + diffs["b"][0]

    opt_init, opt_update, get_params = make()
    opt_state = opt_init(tree_map(np.zeros_like, target))
    for i in range(300):
        opt_state = opt_update(i, ft.grad(loss)(get_params(opt_state)), opt_state)
    assert float(loss(get_params(opt_state))) < 1e-4


def test_jax_canonical_loop(rng):
    # As in JAX's docs, with only the imports changed.
    w_true = rng.standard_normal((3, 1)).astype(np.float32)
    xs = rng.standard_normal((32, 3)).astype(np.float32)
    batch = (xs, xs @ w_true)

    def loss(params, batch):
        inputs, targets = batch
        preds = fnp.dot(inputs, params["w"]) + params["b"]
        return fnp.mean((preds - targets) ** 2)

    params = {"w": np.zeros((3, 1), np.float32), "b": np.zeros(1, np.float32)}
    opt_init, opt_update, get_params = optimizers.adam(1e-1)
    opt_state = opt_init(params)
    first = None
    for i in range(100):
        value, grads = ft.value_and_grad(loss)(get_params(opt_state), batch)
        opt_state = opt_update(i, grads, opt_state)
        first = value if first is None else first
    assert float(loss(get_params(opt_state), batch)) < 1e-3 * float(first)


# --- checkpoints ----------------------------------------------------------------------


def _trained_state(rng, make=lambda: optimizers.adam(1e-2)):
    params = {"layers": [(rng.standard_normal((2, 3)).astype(np.float32), None)],
              "scale": np.float32(2.0)}
    opt_init, opt_update, get_params = make()
    state = opt_init(params)
    for i in range(2):
        state = opt_update(i, tree_map(np.ones_like, params), state)
    return get_params(state), state


def _assert_trees_equal(a, b):
    assert tree_structure(a) == tree_structure(b)
    for x, y in zip(tree_leaves(a), tree_leaves(b), strict=True):
        assert type(x) is type(y) or isinstance(x, np.ndarray | np.generic)
        np.testing.assert_array_equal(x, y)
        assert np.asarray(x).dtype == np.asarray(y).dtype


@pytest.mark.parametrize("name", ["adam", "sm3"])
def test_checkpoint_round_trip(name, rng, tmp_path):
    make = CASES[name][0]
    params, state = _trained_state(rng, lambda: make(1e-2))
    path = tmp_path / "ckpt.npz"
    optimizers.save_checkpoint(path, params=params, opt_state=state, step=12)
    ckpt = optimizers.load_checkpoint(path, like=(params, state))
    assert set(ckpt) == {"params", "opt_state", "step"}
    assert ckpt["step"] == 12
    _assert_trees_equal(ckpt["params"], params)
    assert isinstance(ckpt["opt_state"], OptimizerState)
    _assert_trees_equal(ckpt["opt_state"], state)
    # training resumes identically from the loaded state
    _, opt_update, get_params = make(1e-2)
    grads = tree_map(np.ones_like, params)
    _assert_trees_equal(get_params(opt_update(12, grads, ckpt["opt_state"])),
                        get_params(opt_update(12, grads, state)))
    assert os.listdir(tmp_path) == ["ckpt.npz"]  # no temporary file left behind


def test_checkpoint_keeps_python_scalars_and_defaults(tmp_path):
    path = tmp_path / "c.npz"
    tree = {"f": 1.5, "i": 3, "b": True, "l": [None, (np.arange(3),)], "empty": {}}
    optimizers.save_checkpoint(path, params=tree)
    ckpt = optimizers.load_checkpoint(path)
    assert ckpt["step"] is None and ckpt["opt_state"] is None
    assert ckpt["params"]["f"] == 1.5 and type(ckpt["params"]["f"]) is float
    assert type(ckpt["params"]["i"]) is int and ckpt["params"]["b"] is True
    assert list(ckpt["params"]) == list(tree)
    _assert_trees_equal(ckpt["params"], tree)


def _good_checkpoint(tmp_path, rng):
    params, state = _trained_state(rng)
    path = tmp_path / "ckpt.npz"
    optimizers.save_checkpoint(path, params=params, opt_state=state, step=5)
    return path, params, state


@pytest.mark.parametrize("damage", ["truncate", "garbage", "no_description", "empty",
                                    "bad_json", "missing"])
def test_corrupt_checkpoint_is_a_checkpoint_error(damage, tmp_path, rng):
    path, _, _ = _good_checkpoint(tmp_path, rng)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "no_description":
        np.savez(path, leaf_0=np.ones(3))
    elif damage == "bad_json":
        np.savez(path, leaf_0=np.ones(3), functrace_checkpoint=np.array("{oops"))
    elif damage == "missing":
        path.unlink()
    with pytest.raises(CheckpointError, match="ckpt.npz") as info:
        optimizers.load_checkpoint(path)
    assert isinstance(info.value, FunctraceError)
    if damage == "no_description":
        assert "no functrace description" in str(info.value)


def test_checkpoint_like_mismatch(tmp_path, rng):
    path, params, state = _good_checkpoint(tmp_path, rng)
    other = {"layers": [(np.zeros((3, 2), np.float32), None)], "scale": np.float32(0)}
    with pytest.raises(CheckpointError, match=r"params\['layers'\]\[0\]\[0\] has shape"):
        optimizers.load_checkpoint(path, like=(other, state))
    wrong_dtype = tree_map(lambda x: np.asarray(x, np.float64), params)
    with pytest.raises(CheckpointError, match="dtype float32 in the file, float64"):
        optimizers.load_checkpoint(path, like=(wrong_dtype, state))
    with pytest.raises(CheckpointError, match="keys"):
        optimizers.load_checkpoint(path, like=({"scale": 1.0}, state))
    _, sgd_state = _trained_state(rng, lambda: optimizers.sgd(0.1))
    with pytest.raises(CheckpointError, match="opt_state"):
        optimizers.load_checkpoint(path, like=(params, sgd_state))
    shapes = tree_map(lambda x: ft.ShapeDtypeStruct(np.shape(x), np.asarray(x).dtype), params)
    assert optimizers.load_checkpoint(path, like=(shapes, state))["step"] == 5


def test_failed_save_keeps_the_old_file(tmp_path, rng, monkeypatch):
    path, params, state = _good_checkpoint(tmp_path, rng)
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match=r"params\['bad'\]"):
        optimizers.save_checkpoint(path, params={"bad": object()}, step=6)
    with pytest.raises(CheckpointError, match="str keys"):
        optimizers.save_checkpoint(path, params={1: np.ones(2)})

    def broken_savez(f, **arrays):  # writes half an archive, then the disk "fills up"
        f.write(b"PK\x03\x04 partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(CheckpointError, match="No space left"):
        optimizers.save_checkpoint(path, params=params, opt_state=state, step=6)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    assert optimizers.load_checkpoint(path)["step"] == 5


def test_checkpoint_file_loads_without_pickle(tmp_path, rng):
    path, _, _ = _good_checkpoint(tmp_path, rng)
    with zipfile.ZipFile(path) as z:
        assert "functrace_checkpoint.npy" in z.namelist()
    with np.load(path, allow_pickle=False) as npz:
        assert all(npz[name].dtype != object for name in npz.files)
