"""Error paths of functrace.numpy, stax layers, optimizers, checkpoints and random
(issue 14, item 19): a functrace error naming the operation and the offending
argument, or NumPy's result. The transformations and lax are in test_error_paths.py.
"""

import numpy as np
import pytest

import functrace.numpy as fnp
from functrace import nn, random, stax
from functrace import optimizers as opt
from functrace.errors import DTypeError, FunctraceError, ShapeError
from functrace.optimizers import CheckpointError
from functrace.optimizers._core import OptimizerError
from functrace.stax._util import StaxError

f32 = np.float32
A3 = np.arange(3, dtype=f32)
A23 = np.arange(6, dtype=f32).reshape(2, 3)
KEY = random.PRNGKey(0)


def check_raises(thunk, exc, words):
    with pytest.raises(exc) as info:
        thunk()
    assert isinstance(info.value, FunctraceError), type(info.value).__mro__
    for word in words:
        assert word in str(info.value), f"{word!r} not in: {info.value}"


def applied(layer, input_shape, x):
    init_fun, apply_fun = layer
    _, params = init_fun(KEY, input_shape)
    return apply_fun(params, x)


FNP_ERRORS = [
    ("add/broadcast", lambda: fnp.add(A23, np.ones(4, f32)), ShapeError,
     ["add", "(2,3)", "(4,)"]),
    ("add/str", lambda: fnp.add(A23, "x"), DTypeError, ["strings"]),
    ("add/None", lambda: fnp.add(A23, None), DTypeError, ["NoneType"]),
    ("add/dict", lambda: fnp.add(A3, {"a": 1}), DTypeError, ["dict"]),
    ("sum/axis-range", lambda: fnp.sum(A23, axis=3), ShapeError, ["sum", "axis 3"]),
    ("sum/axis-str", lambda: fnp.sum(A23, axis="a"), ShapeError, ["sum", "'a'"]),
    ("sum/axis-float", lambda: fnp.sum(A23, axis=1.5), ShapeError, ["sum", "1.5"]),
    ("max/empty", lambda: fnp.max(np.ones(0, f32)), ShapeError, ["max", "zero-size"]),
    ("argmax/empty", lambda: fnp.argmax(np.ones(0, f32)), ShapeError, ["argmax", "size 0"]),
    ("reshape/size", lambda: fnp.reshape(A23, (4, 2)), ShapeError,
     ["reshape", "(2, 3)", "(4, 2)"]),
    ("reshape/two-unknown", lambda: fnp.reshape(A23, (-1, -1)), ShapeError,
     ["reshape", "(-1, -1)"]),
    ("reshape/str", lambda: fnp.reshape(A23, "ab"), ShapeError, ["reshape", "'ab'"]),
    ("transpose/axes", lambda: fnp.transpose(A23, (0, 0)), ShapeError,
     ["transpose", "(0, 0)"]),
    ("concatenate/shapes", lambda: fnp.concatenate([A23, A3]), ShapeError,
     ["concatenate", "(2,3)", "(3,)"]),
    ("concatenate/none", lambda: fnp.concatenate([]), ShapeError, ["concatenate"]),
    ("stack/shapes", lambda: fnp.stack([A3, np.ones(4, f32)]), ShapeError,
     ["stack", "(3,)", "(4,)"]),
    ("dot/shapes", lambda: fnp.dot(A23, A23), ShapeError, ["dot", "(2,3)"]),
    ("matmul/shapes", lambda: fnp.matmul(A23, A23), ShapeError, ["matmul", "(2,3)"]),
    ("matmul/scalar", lambda: fnp.matmul(A23, 2.0), ShapeError, ["matmul", "1-D"]),
    ("einsum/sizes", lambda: fnp.einsum("ij,jk->ik", A23, A23), ShapeError,
     ["einsum", "'j'"]),
    ("einsum/spec", lambda: fnp.einsum("ij->ijk", A23), ShapeError, ["einsum", "'k'"]),
    ("tensordot/axes", lambda: fnp.tensordot(A23, A23, axes=([1], [1, 0])), ShapeError,
     ["tensordot"]),
    ("where/shapes", lambda: fnp.where(np.ones(4, bool), A3, A3), ShapeError,
     ["where", "(4,)"]),
    # (an out-of-range take is NaN under JAX's default mode='fill': not an error)
    ("take/mode", lambda: fnp.take(A3, np.array([5]), mode="bogus"), FunctraceError,
     ["take", "mode"]),
    ("take/float", lambda: fnp.take(A3, np.array([0.5])), FunctraceError, ["indices"]),
    ("zeros/negative", lambda: fnp.zeros((2, -1)), ShapeError, ["(2, -1)", "negative"]),
    ("zeros/str", lambda: fnp.zeros("ab"), ShapeError, ["shape", "'ab'"]),
    ("zeros/float", lambda: fnp.zeros((2.5,)), ShapeError, ["shape", "(2.5,)"]),
    ("ones/dtype", lambda: fnp.ones(3, dtype="foo"), DTypeError, ["'foo'"]),
    ("ones/object", lambda: fnp.ones(3, dtype=object), DTypeError, ["object"]),
    ("arange/step-0", lambda: fnp.arange(0, 5, 0), ShapeError, ["arange", "step"]),
    ("arange/str", lambda: fnp.arange("a"), DTypeError, ["strings"]),
    ("linspace/num", lambda: fnp.linspace(0, 1, -1), ShapeError, ["linspace", "-1"]),
    ("eye/negative", lambda: fnp.eye(-1), ShapeError, ["negative"]),
    ("asarray/str", lambda: fnp.asarray("abc"), DTypeError, ["strings"]),
    ("asarray/ragged", lambda: fnp.asarray([[1, 2], [3]]), ShapeError, ["array", "ragged"]),
    ("asarray/None", lambda: fnp.asarray(None), ShapeError, ["array"]),
    ("split/uneven", lambda: fnp.split(A3, 2), ShapeError, ["split", "equal"]),
    ("squeeze/size", lambda: fnp.squeeze(A23, 0), ShapeError, ["squeeze", "(2,3)"]),
    ("expand_dims/range", lambda: fnp.expand_dims(A23, 5), ShapeError,
     ["expand_dims", "axis 5"]),
    ("broadcast_to/shape", lambda: fnp.broadcast_to(A23, (3, 3)), ShapeError,
     ["broadcast_to", "(2,3)", "(3,3)"]),
    ("pad/negative", lambda: fnp.pad(A3, -1), ShapeError, ["pad", "-1"]),
    ("pad/mode", lambda: fnp.pad(A3, 1, mode="foo"), FunctraceError, ["pad", "'foo'"]),
    ("flip/range", lambda: fnp.flip(A23, 3), ShapeError, ["flip", "axis 3"]),
    ("moveaxis/range", lambda: fnp.moveaxis(A23, 3, 0), ShapeError, ["moveaxis", "axis 3"]),
    ("swapaxes/range", lambda: fnp.swapaxes(A23, 0, 4), ShapeError, ["swapaxes", "axis 4"]),
    ("cumsum/range", lambda: fnp.cumsum(A23, axis=2), ShapeError, ["cumsum", "axis 2"]),
    ("power/negative-int", lambda: fnp.power(np.array([2]), -1), DTypeError,
     ["power", "negative"]),
    ("diag/rank", lambda: fnp.diag(np.ones((2, 2, 2), f32)), ShapeError,
     ["diag", "(2,2,2)"]),
    ("trace/rank", lambda: fnp.trace(A3), ShapeError, ["trace", "axis 1"]),
    ("full_like/str", lambda: fnp.full_like(A3, "x"), DTypeError, ["strings"]),
    ("min/empty-axis", lambda: fnp.min(np.ones((2, 0), f32), axis=1), ShapeError,
     ["min", "zero-size"]),
    ("one_hot/negative", lambda: nn.one_hot(np.array([0]), -1), ShapeError, ["negative"]),
]

FNP_RESULTS = [
    ("add/list", lambda: fnp.add(A3, [1, 2, 3]), lambda: A3 + np.array([1, 2, 3], f32)),
    ("sin/list", lambda: fnp.sin([0.0, 1.0]), lambda: np.sin(np.array([0, 1], f32))),
    ("log/nan", lambda: fnp.log(np.array([-1.0, 0.0, np.nan], f32)),
     lambda: np.log(np.array([-1.0, 0.0, np.nan], f32))),
    ("divide/zero", lambda: fnp.divide(A3, 0.0), lambda: A3 / f32(0)),
    ("mean/empty", lambda: fnp.mean(np.ones((0, 3), f32), axis=0),
     lambda: np.full(3, np.nan, f32)),
    ("sum/empty", lambda: fnp.sum(np.ones((0, 3), f32), axis=0), lambda: np.zeros(3, f32)),
    ("prod/empty", lambda: fnp.prod(np.ones((0,), f32)), lambda: np.float32(1)),
    ("var/ddof", lambda: fnp.var(A3, ddof=5), lambda: np.float32(np.nan)),
    ("logsumexp/-inf", lambda: nn.logsumexp(np.array([-np.inf, -np.inf], f32)),
     lambda: np.float32(-np.inf)),
    ("relu/nan", lambda: nn.relu(np.array([np.nan, -1.0, 1.0], f32)),
     lambda: np.array([np.nan, 0.0, 1.0], f32)),
]


@pytest.mark.parametrize("thunk, exc, words",
                         [pytest.param(*c[1:], id=c[0]) for c in FNP_ERRORS])
def test_fnp_rejects_bad_input(thunk, exc, words):
    check_raises(thunk, exc, words)


@pytest.mark.parametrize("thunk, ref", [pytest.param(*c[1:], id=c[0]) for c in FNP_RESULTS])
@pytest.mark.filterwarnings("ignore:invalid value", "ignore:divide by zero",
                            "ignore:Mean of empty", "ignore:Degrees of freedom")
def test_fnp_on_nan_empty_and_lists_gives_numpys_result(thunk, ref):
    got, want = np.asarray(thunk()), np.asarray(ref())
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, equal_nan=True)


STAX_ERRORS = [
    ("Dense/init-str", lambda: stax.Dense(4)[0](KEY, "abc"), ShapeError,
     ["Dense(4)", "input_shape", "'abc'"]),
    ("Dense/init-None", lambda: stax.Dense(4)[0](KEY, None), ShapeError,
     ["Dense(4)", "input_shape", "None"]),
    ("Dense/init-rank-0", lambda: stax.Dense(4)[0](KEY, ()), ShapeError,
     ["Dense(4)", "rank >= 1"]),
    ("Dense/out_dim-negative", lambda: stax.Dense(-1), StaxError, ["Dense(-1)", "out_dim"]),
    ("Dense/out_dim-float", lambda: stax.Dense(2.5), StaxError, ["Dense(2.5)", "out_dim"]),
    ("Dense/apply-features", lambda: applied(stax.Dense(4), (2, 3), np.ones((2, 5), f32)),
     ShapeError, ["Dense(4)", "last dimension 3", "(2, 5)"]),
    ("Dense/apply-str", lambda: applied(stax.Dense(4), (2, 3), "abc"), DTypeError,
     ["strings"]),
    ("Dense/apply-None", lambda: applied(stax.Dense(4), (2, 3), None), DTypeError,
     ["NoneType"]),
    ("Dense/params-structure", lambda: stax.Dense(4)[1]((A3,), A23), StaxError,
     ["Dense(4)", "(W, b)", "length 1"]),
    ("Dense/params-None", lambda: stax.Dense(4)[1](None, A23), StaxError,
     ["Dense(4)", "(W, b)", "NoneType"]),
    ("Dense/key-int", lambda: stax.Dense(4)[0](0, (2, 3)), DTypeError, ["PRNG key"]),
    ("Conv/init-rank", lambda: stax.Conv(4, (3, 3))[0](KEY, (2, 3)), ShapeError,
     ["Conv(4, (3, 3))", "(2, 3)", "NHWC"]),
    ("Conv/apply-channels", lambda: applied(stax.Conv(4, (3, 3)), (1, 5, 5, 3),
                                            np.ones((1, 5, 5, 2), f32)),
     ShapeError, ["Conv(4, (3, 3))", "3 channels", "(1, 5, 5, 2)"]),
    ("Conv/apply-rank", lambda: applied(stax.Conv(4, (3, 3)), (1, 5, 5, 3),
                                        np.ones((5, 5, 3), f32)),
     ShapeError, ["Conv(4, (3, 3))", "rank 4", "(5, 5, 3)"]),
    ("Conv/padding", lambda: stax.Conv(4, (3, 3), padding="FULL")[0](KEY, (1, 5, 5, 3)),
     ShapeError, ["padding", "'FULL'"]),
    ("Conv/filter_shape", lambda: stax.Conv(4, (3,)), StaxError,
     ["Conv(4, (3,))", "filter_shape", "spatial"]),
    ("Conv/strides", lambda: stax.Conv(4, (3, 3), strides=(0, 1)), StaxError,
     ["Conv(4, (3, 3))", "strides", "(0, 1)"]),
    ("MaxPool/init-rank", lambda: stax.MaxPool((2, 2))[0](KEY, (4, 4)), ShapeError,
     ["MaxPool((2, 2))", "rank 4", "(4, 4)"]),
    ("MaxPool/apply-rank", lambda: applied(stax.MaxPool((2, 2)), (1, 4, 4, 1),
                                           np.ones((4, 4), f32)),
     ShapeError, ["MaxPool((2, 2))", "(4, 4)"]),
    ("AvgPool/apply-rank", lambda: applied(stax.AvgPool((2, 2)), (1, 4, 4, 1),
                                           np.ones((1, 3, 3), f32)),
     ShapeError, ["AvgPool((2, 2))", "(1, 3, 3)"]),
    ("BatchNorm/apply-channels", lambda: applied(stax.BatchNorm(), (2, 4, 4, 3),
                                                 np.ones((2, 4, 4, 5), f32)),
     ShapeError, ["BatchNorm", "(2, 4, 4, 5)"]),
    ("Flatten/init-rank-0", lambda: stax.Flatten[0](KEY, ()), ShapeError,
     ["Flatten", "rank >= 1"]),
    ("Dropout/rate", lambda: stax.Dropout(1.5)[1]((), A3, rng=KEY), StaxError,
     ["Dropout", "1.5"]),
    ("Dropout/no-rng", lambda: stax.Dropout(0.5)[1]((), A3), StaxError, ["Dropout", "rng"]),
    ("Dropout/mode", lambda: stax.Dropout(0.5, mode="foo")[1]((), A3, rng=KEY), StaxError,
     ["Dropout", "'foo'"]),
    ("serial/not-a-layer", lambda: stax.serial(stax.Dense(2), "notalayer"), StaxError,
     ["serial", "layer 1", "str"]),
    ("serial/params-count", lambda: stax.serial(stax.Dense(2), stax.Relu)[1]((), A23),
     StaxError, ["serial of 2 layers", "params", "length 0"]),
    ("serial/shape-flows", lambda: applied(stax.serial(stax.Dense(2), stax.Dense(3)), (2, 3),
                                           np.ones((2, 4), f32)),
     ShapeError, ["Dense(2)", "(2, 4)"]),
    ("parallel/inputs-count", lambda: applied(stax.parallel(stax.Dense(2), stax.Dense(2)),
                                              ((2, 3), (2, 3)), (A23,)),
     StaxError, ["parallel of 2 layers", "inputs", "got 1"]),
    ("parallel/shapes-count", lambda: stax.parallel(stax.Dense(2), stax.Dense(2))[0](
        KEY, ((2, 3),)), StaxError, ["parallel of 2 layers", "input_shape", "got 1"]),
    ("parallel/not-a-layer", lambda: stax.parallel(stax.Dense(2), 3), StaxError,
     ["parallel", "layer 1", "int"]),
    ("FanInSum/shapes", lambda: stax.FanInSum[1]((), (A23, np.ones((3, 2), f32))), ShapeError,
     ["add", "(2,3)", "(3,2)"]),
    ("FanInConcat/shapes", lambda: stax.FanInConcat()[1]((), (A23, np.ones((3, 2), f32))),
     ShapeError, ["concatenate", "(2,3)", "(3,2)"]),
]


@pytest.mark.parametrize("thunk, exc, words",
                         [pytest.param(*c[1:], id=c[0]) for c in STAX_ERRORS])
def test_stax_layer_rejects_bad_input(thunk, exc, words):
    check_raises(thunk, exc, words)


def test_stax_layers_on_empty_batches_and_nan_give_the_reference_result():
    init_fun, apply_fun = stax.Dense(4)
    _, (W, b) = init_fun(KEY, (-1, 3))
    x = np.ones((0, 3), f32)
    assert np.asarray(apply_fun((W, b), x)).shape == (0, 4)
    x = np.array([[np.nan, 1.0, 2.0], [0.0, 1.0, 2.0]], f32)
    want = x @ np.asarray(W) + np.asarray(b)
    np.testing.assert_allclose(apply_fun((W, b), x), want, rtol=1e-5, equal_nan=True)
    out = stax.Flatten[1]((), np.ones((0, 2, 3), f32))
    assert np.asarray(out).shape == (0, 6)


OPT_INIT, OPT_UPDATE, GET_PARAMS = opt.adam(1e-3)
STATE = OPT_INIT({"w": A3})

OPT_ERRORS = [
    ("update/tree", lambda: OPT_UPDATE(0, (A3,), STATE), OptimizerError,
     ["gradient tree", "PyTreeDef((*,))"]),
    ("update/None", lambda: OPT_UPDATE(0, None, STATE), OptimizerError, ["gradient tree"]),
    ("update/shape", lambda: OPT_UPDATE(0, {"w": np.ones(4, f32)}, STATE), ShapeError,
     ["(4,)", "(3,)"]),
    ("update/str", lambda: OPT_UPDATE(0, {"w": "abc"}, STATE), DTypeError, ["strings"]),
    ("update/state", lambda: OPT_UPDATE(0, {"w": A3}, {"w": A3}), OptimizerError,
     ["update", "OptimizerState", "dict"]),
    ("update/step", lambda: OPT_UPDATE("i", {"w": A3}, STATE), OptimizerError,
     ["step", "str"]),
    ("get_params/state", lambda: GET_PARAMS({"w": A3}), OptimizerError,
     ["get_params", "OptimizerState", "dict"]),
    ("init/str", lambda: OPT_INIT("abc"), DTypeError, ["strings"]),
    ("unpack/state", lambda: opt.unpack_optimizer_state({"w": A3}), OptimizerError,
     ["unpack_optimizer_state", "OptimizerState"]),
    ("pack/leaves", lambda: opt.pack_optimizer_state("x"), OptimizerError,
     ["pack_optimizer_state", "JoinPoint"]),
    ("piecewise/lengths", lambda: opt.piecewise_constant([1, 2], [0.1]), ShapeError,
     ["piecewise_constant", "2 and 1"]),
    ("clip_grads/str", lambda: opt.clip_grads({"w": "abc"}, 1.0), DTypeError, ["strings"]),
]


@pytest.mark.parametrize("thunk, exc, words",
                         [pytest.param(*c[1:], id=c[0]) for c in OPT_ERRORS])
def test_optimizer_rejects_bad_input(thunk, exc, words):
    check_raises(thunk, exc, words)


def test_optimizer_on_nan_and_empty_matches_the_adam_formula():
    """A NaN gradient gives a NaN parameter where it is, the others move by Adam's
    first step (-step_size * sign(g)); an empty parameter stays empty."""
    g = np.array([np.nan, 1.0, -2.0], f32)
    new = GET_PARAMS(OPT_UPDATE(0, {"w": g}, STATE))["w"]
    np.testing.assert_allclose(new, [np.nan, 1 - 1e-3, 2 + 1e-3], rtol=1e-5, equal_nan=True)
    empty = OPT_INIT({"w": np.ones(0, f32)})
    assert GET_PARAMS(OPT_UPDATE(0, {"w": np.ones(0, f32)}, empty))["w"].shape == (0,)


@pytest.fixture
def ckpt_dir(tmp_path):
    opt.save_checkpoint(tmp_path / "c.npz", params={"w": A3}, opt_state=STATE, step=1)
    (tmp_path / "junk.npz").write_text("junk")
    np.save(tmp_path / "single.npy", A3)
    return tmp_path


CKPT_ERRORS = [
    ("load/missing", lambda d: opt.load_checkpoint(d / "missing.npz"),
     ["missing.npz", "FileNotFoundError"]),
    ("load/junk", lambda d: opt.load_checkpoint(d / "junk.npz"), ["junk.npz", ".npz"]),
    ("load/npy", lambda d: opt.load_checkpoint(d / "single.npy"), ["single .npy"]),
    ("load/directory", lambda d: opt.load_checkpoint(d), ["IsADirectoryError"]),
    ("load/path-None", lambda d: opt.load_checkpoint(None), ["load_checkpoint", "NoneType"]),
    ("load/like-keys", lambda d: opt.load_checkpoint(d / "c.npz", like=({"v": A3}, STATE)),
     ["params", "['w']", "['v']"]),
    ("load/like-shape", lambda d: opt.load_checkpoint(
        d / "c.npz", like=({"w": np.ones(4, f32)}, STATE)), ["params['w']", "(3,)", "(4,)"]),
    ("load/like-dtype", lambda d: opt.load_checkpoint(
        d / "c.npz", like=({"w": np.ones(3, np.int32)}, STATE)), ["params['w']", "int32"]),
    ("load/like-not-pair", lambda d: opt.load_checkpoint(d / "c.npz", like={"w": A3}),
     ["like", "pair", "dict"]),
    ("load/like-other-optimizer", lambda d: opt.load_checkpoint(
        d / "c.npz", like=({"w": A3}, opt.sgd(0.1)[0]({"w": A3}))), ["opt_state['w']"]),
    ("save/missing-dir", lambda d: opt.save_checkpoint(d / "no" / "x.npz", params={"w": A3}),
     ["cannot create", "No such file"]),
    ("save/path-None", lambda d: opt.save_checkpoint(None, params={"w": A3}),
     ["save_checkpoint", "NoneType"]),
    ("save/object-leaf", lambda d: opt.save_checkpoint(d / "o.npz", params={"w": object()}),
     ["params['w']", "object", "nothing was written"]),
    ("save/str-leaf", lambda d: opt.save_checkpoint(d / "s.npz", params={"w": "abc"}),
     ["params['w']", "str"]),
    ("save/int-key", lambda d: opt.save_checkpoint(d / "k.npz", params={1: A3}),
     ["key 1", "str keys"]),
    ("save/set", lambda d: opt.save_checkpoint(d / "set.npz", params={1, 2}), ["set"]),
    ("save/step", lambda d: opt.save_checkpoint(d / "st.npz", params={"w": A3}, step="1"),
     ["step", "str"]),
]


@pytest.mark.parametrize("thunk, words", [pytest.param(*c[1:], id=c[0]) for c in CKPT_ERRORS])
def test_checkpoint_rejects_bad_files_and_structures(ckpt_dir, thunk, words):
    check_raises(lambda: thunk(ckpt_dir), CheckpointError, words)


def test_checkpoint_keeps_nan_inf_and_empty_arrays(tmp_path):
    params = {"w": np.array([np.nan, np.inf, -np.inf], f32), "e": np.ones((0, 3), f32)}
    opt.save_checkpoint(tmp_path / "n.npz", params=params)
    back = opt.load_checkpoint(tmp_path / "n.npz", like=(params, None))["params"]
    np.testing.assert_array_equal(back["w"], params["w"])
    assert back["e"].shape == (0, 3) and back["e"].dtype == f32


RANDOM_ERRORS = [
    ("PRNGKey/str", lambda: random.PRNGKey("a"), DTypeError, ["strings"]),
    ("PRNGKey/float", lambda: random.PRNGKey(1.5), DTypeError, ["PRNGKey", "integer"]),
    ("PRNGKey/None", lambda: random.PRNGKey(None), DTypeError, ["NoneType"]),
    ("normal/key", lambda: random.normal(A3, (2,)), DTypeError, ["random.normal", "f32[3]"]),
    ("normal/shape", lambda: random.normal(KEY, (2, -1)), ShapeError,
     ["random.normal", "(2, -1)"]),
    ("normal/shape-str", lambda: random.normal(KEY, "ab"), ShapeError,
     ["random.normal", "'ab'"]),
    ("normal/dtype", lambda: random.normal(KEY, (2,), np.int32), DTypeError,
     ["random.normal", "int32"]),
    ("split/num", lambda: random.split(KEY, -1), ShapeError, ["random.split", "negative"]),
    ("split/key-shape", lambda: random.split(np.ones(3, np.uint32)), ShapeError,
     ["random.split", "(3,)"]),
    ("randint/dtype", lambda: random.randint(KEY, (2,), 0, 5, dtype=np.float32), DTypeError,
     ["random.randint", "float32"]),
    ("choice/empty", lambda: random.choice(KEY, np.ones(0, f32), (2,)), ShapeError,
     ["random.choice", "non-empty"]),
]


@pytest.mark.parametrize("thunk, exc, words",
                         [pytest.param(*c[1:], id=c[0]) for c in RANDOM_ERRORS])
def test_random_rejects_bad_input(thunk, exc, words):
    check_raises(thunk, exc, words)
