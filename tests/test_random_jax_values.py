"""functrace.random against JAX's own numbers, under both Threefry schemes.

``config.threefry_partitionable`` on (the default, as JAX >= 0.5) and off (JAX before 0.5)
must each give JAX's streams bit for bit: eagerly, under ``jit`` and under ``vmap``.

Where the values come from:
* ``JAX_0_10_2``: printed once by jax 0.10.2 (CPU, from PyPI) with
  ``jax.config.update("jax_threefry_partitionable", True / False)``, x64 off unless the
  name says x64. They are JAX's output, not functrace's.
* ``JAX_TEST_KAT``: the known answers of JAX's tests/random_test.py
  (``testRngRandomBits``, ``PRNGKey(1701)``), written for the original scheme.
* Float draws through ``log`` (normal, gumbel, truncated_normal) are compared to 2e-6
  relative: XLA's ``log1p``/``log`` and NumPy's can differ in the last bit.
"""

import numpy as np
import pytest

import functrace as ft
from functrace import config, lax, random

P = np.float32([0.1, 0.2, 0.3, 0.4])
K42 = random.PRNGKey(42)  # [0, 42] under either scheme and x64 setting

# key/bit draws: exact. (name, draw)
EXACT_DRAWS = {
    "split0": lambda: random.split(random.PRNGKey(0)),
    "split3_0": lambda: random.split(random.PRNGKey(0), 3),
    "split3_1": lambda: random.split(random.PRNGKey(1), 3),
    "split3_42": lambda: random.split(K42, 3),
    "split_2x3": lambda: random.split(K42, (2, 3)),
    "fold_in_0_1": lambda: random.fold_in(random.PRNGKey(0), 1),
    "fold_in_42_max": lambda: random.fold_in(K42, 2**32 - 1),
    "fold_in_42_0": lambda: random.fold_in(K42, 0),
    "bits32": lambda: random.bits(K42, (4,)),
    "bits32_2x3": lambda: random.bits(K42, (2, 3)),
    "bits_scalar": lambda: random.bits(K42),
    "bits8": lambda: random.bits(K42, (5,), np.uint8),
    "bits16": lambda: random.bits(K42, (3,), np.uint16),
    "uniform_bits": lambda: lax.bitcast_convert_type(random.uniform(K42, (4,)), np.uint32),
    "uniform0": lambda: random.uniform(random.PRNGKey(0)),
    "uniform_bounds": lambda: random.uniform(K42, (3,), minval=-2.0, maxval=6.0),
    "randint": lambda: random.randint(K42, (8,), 0, 10),
    "randint_int8": lambda: random.randint(K42, (6,), -5, 5, np.int8),
    "permutation": lambda: random.permutation(K42, 10),
    "permutation_rows": lambda: random.permutation(K42, np.arange(12).reshape(4, 3)),
    "permutation_independent": lambda: random.permutation(
        K42, np.arange(12).reshape(3, 4), axis=1, independent=True),
    "bernoulli": lambda: random.bernoulli(K42, 0.5, (8,)).astype(np.int32),
    "choice_no_replace": lambda: random.choice(K42, 10, (4,), replace=False),
    "choice_replace": lambda: random.choice(K42, 10, (4,)),
    "choice_p": lambda: random.choice(K42, 4, (6,), p=P),
    "choice_p_no_replace": lambda: random.choice(K42, 4, (2,), replace=False, p=P),
    "categorical": lambda: random.categorical(K42, np.log(P), shape=(6,)),
}
# draws through log: to 2e-6 relative
CLOSE_DRAWS = {
    "normal0": lambda: random.normal(random.PRNGKey(0), (10,)),
    "normal": lambda: random.normal(K42, (4,)),
    "gumbel": lambda: random.gumbel(K42, (3,)),
    "truncated_normal": lambda: random.truncated_normal(K42, -1.0, 2.0, (4,)),
}

JAX_0_10_2 = {
    True: {
        "split0": [[1797259609, 2579123966], [928981903, 3453687069]],
        "split3_0": [[1797259609, 2579123966], [928981903, 3453687069],
                     [4146024105, 2718843009]],
        "split3_1": [[507451445, 1853169794], [1948878966, 4237131848],
                     [2441914641, 3819641963]],
        "split3_42": [[1832780943, 270669613], [64467757, 2916123636],
                      [2465931498, 255383827]],
        "split_2x3": [[[1832780943, 270669613], [64467757, 2916123636],
                       [2465931498, 255383827]],
                      [[3134548294, 894150801], [2954079971, 3276725750],
                       [2765691542, 824333390]]],
        "fold_in_0_1": [928981903, 3453687069],
        "fold_in_42_max": [2398536845, 3890976714],
        "fold_in_42_0": [1832780943, 270669613],
        "bits32": [2098992034, 2919706841, 2646866425, 2409546199],
        "bits32_2x3": [[2098992034, 2919706841, 2646866425],
                       [2409546199, 1935504149, 2516274904]],
        "bits_scalar": 2098992034,
        "bits8": [162, 217, 249, 215, 21],
        "bits16": [5026, 12505, 63993],
        "uniform_bits": [1056585764, 1059981104, 1058915320, 1057988288],
        "uniform0": 0.9476670026779175,
        "uniform_bounds": [1.9096765518188477, 3.4383773803710938, 2.9301719665527344],
        "randint": [4, 4, 1, 9, 9, 9, 7, 7],
        "randint_int8": [-1, -1, -4, 4, 4, 4],
        "permutation": [7, 4, 2, 5, 3, 6, 8, 9, 0, 1],
        "permutation_rows": [[6, 7, 8], [9, 10, 11], [0, 1, 2], [3, 4, 5]],
        "permutation_independent": [[2, 3, 0, 1], [7, 4, 5, 6], [10, 11, 8, 9]],
        "bernoulli": [1, 0, 0, 0, 1, 0, 1, 0],
        "choice_no_replace": [7, 4, 2, 5],
        "choice_replace": [4, 4, 1, 9],
        "choice_p": [2, 2, 2, 2, 2, 2],
        "choice_p_no_replace": [3, 2],
        "categorical": [3, 3, 3, 3, 3, 3],
        "normal0": [1.622642159461975, 2.0252647399902344, -0.4335944354534149,
                    -0.07861734926700592, 0.17609089612960815, -0.9720892310142517,
                    -0.49529874324798584, 0.49437859654426575, 0.6643493175506592,
                    -0.9501634836196899],
        "normal": [-0.02830461598932743, 0.4671318531036377, 0.2957029640674591,
                   0.15354591608047485],
        "gumbel": [0.3340933918952942, 0.952019453048706, 0.7255305647850037],
        "truncated_normal": [0.14770005643367767, 0.5684449076652527, 0.42102551460266113,
                             0.29997000098228455],
        # PRNGKey(1701), as in JAX's testRngRandomBits
        "kat_bits8": [37, 59, 52],
        "kat_bits16": [42789, 29755, 60468],
        "kat_bits32": [1111271205, 2679469115, 974515252],
        "kat_bits64_x64": [3182764935064573181, 366096495144982249, 241365115613244543],
        # x64 on
        "bits64_x64": [7871734211187709741, 276886910877598708],
        "uniform_f64_bits_x64": [4601358860358518916, 4579806337745978368,
                                 4603346652718294810],
        "randint_2e40_x64": [1035216336437, 739902740158, 138006711447, 1022492192815],
        "normal_f64_x64": [-0.18471174528191162, -2.169824560397754, 0.18693555179382582],
        "bits32_x64": [2098992034, 2919706841, 2646866425],
        # vmap over split(PRNGKey(42), 3)
        "vmap_normal": [[0.07592553645372391, -0.4863426387310028],
                        [0.6057640314102173, 0.7990440726280212],
                        [0.4323064982891083, 0.587263822555542]],
        "vmap_split": [[[1012194634, 3152801799], [1705926158, 899080142]],
                       [[3187376881, 129218101], [2350016172, 1168365246]],
                       [[1605747716, 4117073388], [2853785955, 313133857]]],
        "vmap_bits": [[2277453133, 1345880512, 3872043189], [3125294276, 3383865362, 780371127],
                      [2865777128, 3098761794, 544579079]],
        "vmap_randint": [[4, 1, 9], [5, 2, 4], [7, 9, 7]],
        "vmap_uniform_bits": [[1057472300, 1050702080], [1060784180, 1061794224],
                              [1059770440, 1060680538]],
        "vmap_permutation": [[1, 3, 0, 2, 4], [2, 0, 4, 3, 1], [0, 1, 4, 2, 3]],
        "vmap_fold_in": [[1820970612, 3729538270], [1383271662, 289976367],
                         [1844025098, 928543246]],
        "vmap_bernoulli": [[0, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]],
    },
    False: {
        "split0": [[4146024105, 967050713], [2718843009, 1272950319]],
        "split3_0": [[2467461003, 428148500], [3186719485, 3840466878],
                     [2562233961, 1946702221]],
        "split3_1": [[3568232559, 713140391], [3620866055, 2761185182],
                     [2442350529, 2639019713]],
        "split3_42": [[3134548294, 3733159049], [3746501087, 894150801],
                      [801545058, 2363201431]],
        "split_2x3": [[[2768684296, 515161807], [1303553849, 4184444755],
                       [416959680, 1163211924]],
                      [[3055579793, 2323374536], [871308580, 1523113029],
                       [1252189920, 1179259758]]],
        "fold_in_0_1": [928981903, 3453687069],
        "fold_in_42_max": [2398536845, 3890976714],
        "fold_in_42_0": [1832780943, 270669613],
        "bits32": [2465931498, 3679230171, 255383827, 267815257],
        "bits32_2x3": [[3134548294, 3733159049, 3746501087],
                       [894150801, 801545058, 2363201431]],
        "bits_scalar": 1832780943,
        "bits8": [45, 179, 215, 3, 244],
        "bits16": [45869, 983, 33780],
        "uniform_bits": [1058208544, 1062947992, 1030983040, 1031760000],
        "uniform0": 0.41845703125,
        "uniform_bounds": [2.5931549072265625, -1.1987342834472656, -1.5243110656738281],
        "randint": [5, 0, 6, 5, 5, 3, 3, 7],
        "randint_int8": [-3, -2, 4, 4, -1, 1],
        "permutation": [9, 0, 2, 6, 1, 4, 5, 8, 3, 7],
        "permutation_rows": [[6, 7, 8], [0, 1, 2], [3, 4, 5], [9, 10, 11]],
        "permutation_independent": [[0, 2, 3, 1], [4, 7, 6, 5], [11, 10, 8, 9]],
        "bernoulli": [0, 0, 1, 1, 0, 1, 1, 1],
        "choice_no_replace": [9, 0, 2, 6],
        "choice_replace": [5, 4, 7, 3],
        "choice_p": [1, 1, 1, 3, 3, 2],
        "choice_p_no_replace": [1, 0],
        "categorical": [2, 3, 3, 3, 1, 2],
        "normal0": [-0.37211090326309204, 0.2642311453819275, -0.18252767622470856,
                    -0.7368196845054626, -0.440303772687912, -0.152144193649292,
                    -0.6713534593582153, -0.5908641219139099, 0.7316888570785522,
                    0.5673025846481323],
        "normal": [0.18693546950817108, 1.0653334856033325, -1.559313178062439,
                   -1.5352962017059326],
        "gumbel": [0.5890134572982788, -0.8333456516265869, -1.0375992059707642],
        "truncated_normal": [0.3282712996006012, 1.0798434019088745, -0.8157211542129517,
                             -0.8074654936790466],
        "kat_bits64_x64": [3982329540505020460, 16822122385914693683, 7882654074788531506],
        "bits64_x64": [10591095138341673235, 15802173259169302873],
        "uniform_f64_bits_x64": [4604748843769571700, 4606004221511596242,
                                 4606032201794034546],
        "randint_2e40_x64": [746255981085, 732978123909, 25819702167, 91723740707],
        "normal_f64_x64": [0.6122653570510959, 1.1225883830713081, 1.1373320995160152],
        "bits32_x64": [2465931498, 430176367, 255383827],
        "vmap_normal": [[-1.169595718383789, -0.9732095003128052],
                        [-0.21746698021888733, 0.010244770906865597],
                        [0.17814190685749054, -0.237693190574646]],
        "vmap_split": [[[2073407881, 1735592262], [1472286103, 2479424396]],
                       [[674324254, 3228334804], [1103547586, 3522086544]],
                       [[1029801476, 891180226], [1359158287, 3098796305]]],
        "vmap_bits": [[2073407881, 2151123623, 1472286103], [674324254, 818058396, 1103547586],
                      [1029801476, 3870266856, 1359158287]],
        "vmap_randint": [[9, 4, 2], [5, 5, 6], [2, 2, 5]],
        "vmap_uniform_bits": [[1039661504, 1042886816], [1054076316, 1057033176],
                              [1058150660, 1053812488]],
        "vmap_permutation": [[3, 0, 1, 2, 4], [3, 4, 1, 0, 2], [3, 2, 1, 0, 4]],
        "vmap_fold_in": [[1147128071, 3577255324], [146634711, 235976112],
                         [2574503381, 2167146905]],
        "vmap_bernoulli": [[1, 1, 1, 0], [1, 0, 1, 0], [1, 1, 1, 0]],
    },
}

# JAX's tests/random_test.py, testRngRandomBits: PRNGKey(1701), original scheme
JAX_TEST_KAT = {"kat_bits8": [216, 115, 43], "kat_bits16": [41682, 1300, 55017],
                "kat_bits32": [56197195, 4200222568, 961309823]}
JAX_0_10_2[False].update(JAX_TEST_KAT)


@pytest.fixture
def scheme(threefry_partitionable):
    """JAX's values for the key scheme the test runs under (see conftest.py)."""
    return JAX_0_10_2[threefry_partitionable]


def _check(name, got, want):
    got = np.asarray(got)
    if name in CLOSE_DRAWS or name.startswith(("normal", "vmap_normal")):
        np.testing.assert_allclose(got, want, rtol=2e-6, err_msg=name)
    elif got.dtype.kind == "f":  # exact floats: compare the bits
        np.testing.assert_array_equal(got, np.asarray(want, got.dtype), err_msg=name)
    else:
        assert got.tolist() == want, name


# ---------------------------------------------------------------------------
# the flag

def test_partitionable_is_the_default_and_the_jax_alias_works():
    assert config.threefry_partitionable is True
    try:
        config.update("jax_threefry_partitionable", False)
        assert config.threefry_partitionable is False
        assert random.split(random.PRNGKey(0)).tolist() == JAX_0_10_2[False]["split0"]
    finally:
        config.update("threefry_partitionable", True)
    assert random.split(random.PRNGKey(0)).tolist() == JAX_0_10_2[True]["split0"]


def test_jit_caches_one_program_per_setting():
    f = ft.jit(lambda k: random.bits(k, (4,)))
    assert f(K42).tolist() == JAX_0_10_2[True]["bits32"]
    try:
        config.update("threefry_partitionable", False)
        assert f(K42).tolist() == JAX_0_10_2[False]["bits32"]
    finally:
        config.update("threefry_partitionable", True)
    assert f(K42).tolist() == JAX_0_10_2[True]["bits32"]
    assert f.compile_count == 2


# ---------------------------------------------------------------------------
# seeds (JAX 0.10.2: the same eagerly and under jit; a Python int wraps to int32 without x64)

SEEDS_X32 = {0: [0, 0], 1: [0, 1], 42: [0, 42], -1: [0, 2**32 - 1],
             2**32 - 1: [0, 2**32 - 1], 2**32: [0, 0], 2**40 + 5: [0, 5], -(2**63): [0, 0]}
SEEDS_X64 = {0: [0, 0], 1: [0, 1], 42: [0, 42], -1: [2**32 - 1, 2**32 - 1],
             2**32 - 1: [0, 2**32 - 1], 2**32: [1, 0], 2**40 + 5: [256, 5],
             -(2**63): [2**31, 0], 2**63 - 1: [2**31 - 1, 2**32 - 1]}


@pytest.mark.parametrize("seed", sorted(SEEDS_X32))
def test_prng_key_python_int_seeds(seed):
    want = SEEDS_X32[seed]
    assert random.PRNGKey(seed).tolist() == want
    assert ft.jit(lambda: random.PRNGKey(seed))().tolist() == want
    assert random.key_data(random.key(seed)).tolist() == want
    if -(2**31) <= seed < 2**31:  # JAX's jit also refuses a wider Python int argument
        assert ft.jit(random.PRNGKey)(seed).tolist() == want


@pytest.mark.parametrize("seed", sorted(SEEDS_X64))
def test_prng_key_python_int_seeds_x64(x64, seed):
    want = SEEDS_X64[seed]
    assert random.PRNGKey(seed).tolist() == want
    assert ft.jit(random.PRNGKey)(seed).tolist() == want
    assert ft.jit(lambda: random.PRNGKey(seed))().tolist() == want


def test_prng_key_array_seeds_sign_extend_to_32_bits():
    for seed in (np.int8(-1), np.int16(-1), np.int32(-1)):
        assert random.PRNGKey(seed).tolist() == [0, 2**32 - 1]
        assert ft.jit(random.PRNGKey)(seed).tolist() == [0, 2**32 - 1]
    assert random.PRNGKey(np.uint8(200)).tolist() == [0, 200]
    assert random.PRNGKey(np.uint32(2**32 - 1)).tolist() == [0, 2**32 - 1]
    got = ft.vmap(random.PRNGKey)(np.int32([-1, 0, 7]))
    assert got.tolist() == [[0, 2**32 - 1], [0, 0], [0, 7]]


def test_prng_key_int64_array_seeds_x64(x64):
    assert random.PRNGKey(np.int64(-1)).tolist() == [2**32 - 1, 2**32 - 1]
    assert random.PRNGKey(np.uint64(2**64 - 1)).tolist() == [2**32 - 1, 2**32 - 1]
    assert ft.jit(random.PRNGKey)(np.int64(2**40 + 5)).tolist() == [256, 5]


# ---------------------------------------------------------------------------
# known answers, both schemes

@pytest.mark.parametrize("name", sorted(EXACT_DRAWS) + sorted(CLOSE_DRAWS))
def test_eager_matches_jax(scheme, name):
    draw = EXACT_DRAWS.get(name) or CLOSE_DRAWS[name]
    _check(name, draw(), scheme[name])


def test_jit_matches_jax(scheme):
    names = sorted(EXACT_DRAWS) + sorted(CLOSE_DRAWS)
    draws = {**EXACT_DRAWS, **CLOSE_DRAWS}
    # one program for all the draws, keyed by a traced key (K42's data)
    def all_draws(k42):
        out = {}
        for name in names:
            out[name] = draws[name]()
        out["split3_42_traced"] = random.split(k42, 3)
        out["normal_traced"] = random.normal(k42, (4,))
        return out

    got = ft.jit(all_draws)(K42)
    for name in names:
        _check(name, got[name], scheme[name])
    _check("split3_42", got["split3_42_traced"], scheme["split3_42"])
    _check("normal", got["normal_traced"], scheme["normal"])


def test_known_answer_bits_of_jax_tests(scheme):
    k = random.PRNGKey(1701)
    for width, dtype in ((8, np.uint8), (16, np.uint16), (32, np.uint32)):
        assert random.bits(k, (3,), dtype).tolist() == scheme[f"kat_bits{width}"]
        assert ft.jit(lambda k, d=dtype: random.bits(k, (3,), d))(k).tolist() == scheme[
            f"kat_bits{width}"]


def test_x64_matches_jax(scheme, x64):
    assert random.bits(random.PRNGKey(1701), (3,), np.uint64).tolist() == scheme[
        "kat_bits64_x64"]
    assert random.bits(K42, (2,)).tolist() == scheme["bits64_x64"]
    assert random.bits(K42, (3,), np.uint32).tolist() == scheme["bits32_x64"]
    assert random.uniform(K42, (3,)).view(np.uint64).tolist() == scheme["uniform_f64_bits_x64"]
    assert random.randint(K42, (4,), 0, 2**40).tolist() == scheme["randint_2e40_x64"]
    np.testing.assert_allclose(random.normal(K42, (3,)), scheme["normal_f64_x64"], rtol=1e-14)
    jitted = ft.jit(lambda k: (random.bits(k, (2,)), random.randint(k, (4,), 0, 2**40)))(K42)
    assert jitted[0].tolist() == scheme["bits64_x64"]
    assert jitted[1].tolist() == scheme["randint_2e40_x64"]


VMAP_DRAWS = {
    "vmap_normal": lambda k: random.normal(k, (2,)),
    "vmap_split": lambda k: random.split(k),
    "vmap_bits": lambda k: random.bits(k, (3,)),
    "vmap_randint": lambda k: random.randint(k, (3,), 0, 10),
    "vmap_uniform_bits": lambda k: lax.bitcast_convert_type(random.uniform(k, (2,)), np.uint32),
    "vmap_permutation": lambda k: random.permutation(k, 5),
    "vmap_fold_in": lambda k: random.fold_in(k, 3),
    "vmap_bernoulli": lambda k: random.bernoulli(k, 0.5, (4,)).astype(np.int32),
}


@pytest.mark.parametrize("name", sorted(VMAP_DRAWS))
def test_vmap_matches_jax(scheme, name):
    keys = random.split(K42, 3)
    _check(name, ft.vmap(VMAP_DRAWS[name])(keys), scheme[name])


def test_jit_of_vmap_matches_jax(scheme):
    keys = random.split(K42, 3)
    got = ft.jit(ft.vmap(lambda k: {n: d(k) for n, d in VMAP_DRAWS.items()}))(keys)
    for name in VMAP_DRAWS:
        _check(name, got[name], scheme[name])


def test_split_shapes_agree_with_flat_split(scheme):
    # row-major: split(key, (2, 3)) is split(key, 6) reshaped, in both schemes
    assert random.split(K42, (2, 3)).reshape(6, 2).tolist() == random.split(K42, 6).tolist()
    assert random.split(K42, ()).shape == (2,)
    assert random.split(K42, (2, 0)).shape == (2, 0, 2)
    assert random.bits(K42, (0, 3)).shape == (0, 3)


def test_bfloat16_is_ml_dtypes_and_draws_jax_values():
    ml_dtypes = pytest.importorskip("ml_dtypes")  # in the dev extra; JAX's own bfloat16
    import functrace.numpy as fnp

    assert fnp.bfloat16 is ml_dtypes.bfloat16
    # jax 0.10.2: jax.random.uniform(jax.random.PRNGKey(42), (4,), dtype=jnp.bfloat16)
    got = random.uniform(K42, (4,), dtype=fnp.bfloat16)
    assert got.dtype == ml_dtypes.bfloat16
    np.testing.assert_array_equal(got.astype(np.float32),
                                  np.float32([0.6328125, 0.84375, 0.96875, 0.8359375]))
