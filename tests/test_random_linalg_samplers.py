"""functrace.random's samplers built on linear algebra (issue 15 item 4):
``multivariate_normal``, ``orthogonal`` and ``ball``.

``JAX_0_10_2`` was printed once by jax 0.10.2 (CPU, from PyPI) under both settings of
``jax_threefry_partitionable``, for the draws in ``DRAWS`` with the key ``PRNGKey(42)``.
The factorisations (Cholesky, eigh, SVD, QR) are LAPACK's in both libraries, so the
floats agree to a few ulp; they are compared to 4 ulp of the largest magnitude.
The statistical checks use fixed seeds, so they are deterministic; their tolerances are
about 5 standard errors of the estimate.
"""

import math

import numpy as np
import pytest

import functrace as ft
from functrace import random
from functrace.errors import DTypeError, FunctraceError, ShapeError

K = random.PRNGKey(42)
MEAN = np.array([1.0, -2.0, 0.5], np.float32)
COV = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, 0.2], [0.1, 0.2, 0.5]], np.float32)
SINGULAR = np.array([[1.0, 1.0], [1.0, 1.0]], np.float32)

DRAWS = {
    "mvn_cholesky": lambda: random.multivariate_normal(K, MEAN, COV, (2,)),
    "mvn_eigh": lambda: random.multivariate_normal(K, MEAN, COV, (2,), method="eigh"),
    "mvn_svd": lambda: random.multivariate_normal(K, MEAN, COV, (2,), method="svd"),
    "mvn_batch": lambda: random.multivariate_normal(K, np.stack([MEAN, -MEAN]), COV),
    "mvn_singular": lambda: random.multivariate_normal(K, np.zeros(2, np.float32), SINGULAR,
                                                       (2,), method="svd"),
    "orthogonal": lambda: random.orthogonal(K, 3),
    "orthogonal_wide": lambda: random.orthogonal(K, 2, m=3),
    "orthogonal_tall": lambda: random.orthogonal(K, 3, (2,), m=2),
    "ball": lambda: random.ball(K, 3, shape=(2,)),
    "ball_p1": lambda: random.ball(K, 2, 1.0, (2,)),
}

JAX_0_10_2 = {
    True: {
        'mvn_cholesky':
            [[0.9599712491035461, -1.5495039224624634, 0.7868033647537231],
             [1.2171467542648315, -2.0886378288269043, 0.6343672871589661]],
        'mvn_eigh':
            [[0.45510023832321167, -1.6979944705963135, 0.5888639688491821],
             [0.7360930442810059, -2.2312142848968506, 0.5261693000793457]],
        'mvn_svd':
            [[1.175399661064148, -2.4681878089904785, 0.5397851467132568],
             [0.751980185508728, -1.9990240335464478, 0.6520686149597168]],
        'mvn_batch':
            [[0.9599712491035461, -1.5495039224624634, 0.7868033647537231],
             [-0.7828533053398132, 1.9113620519638062, -0.36563271284103394]],
        'mvn_singular':
            [[0.02826625108718872, 0.02834297902882099],
             [-0.2957155704498291, -0.2956903278827667]],
        'orthogonal':
            [[-0.01952970027923584, 0.9952678084373474, 0.09518957138061523],
             [0.10594390332698822, -0.09261152893304825, 0.9900500774383545],
             [-0.99418044090271, -0.02941983938217163, 0.10363386571407318]],
        'orthogonal_wide':
            [[-0.08792734146118164, 0.918591320514679, -0.3853037655353546],
             [0.8722633719444275, 0.2578020393848419, 0.41556569933891296]],
        'orthogonal_tall':
            [[[-0.08792734146118164, 0.8722633719444275], [0.918591320514679, 0.2578020393848419],
              [-0.3853037655353546, 0.41556569933891296]],
             [[-0.9120513200759888, 0.09860805422067642], [0.330043226480484, 0.7525968551635742],
              [-0.2433796525001526, 0.6510564088821411]]],
        'ball':
            [[0.3234022855758667, 0.061338748782873154, 0.01824338734149933],
             [0.4372413158416748, -0.07705393433570862, 0.3594384789466858]],
        'ball_p1':
            [[0.5438264012336731, 0.0415043830871582], [0.28874099254608154, 0.138953298330307]],
    },
    False: {
        'mvn_cholesky':
            [[1.8658738136291504, -0.7730796337127686, 1.526482343673706],
             [-0.14937734603881836, -3.0425467491149902, 0.3595062494277954]],
        'mvn_eigh':
            [[-0.8985421657562256, -1.5947264432907104, 1.075628638267517],
             [1.0817831754684448, -2.664947032928467, -0.29985690116882324]],
        'mvn_svd':
            [[0.4808894991874695, -3.492609739303589, 0.7661272287368774],
             [1.8668471574783325, -0.9084072113037109, 0.969571590423584]],
        'mvn_batch':
            [[1.8658738136291504, -0.7730796337127686, 1.526482343673706],
             [-2.1493773460388184, 0.9574531316757202, -0.6404937505722046]],
        'mvn_singular':
            [[-0.18702296912670135, -0.18684795498847961],
             [1.5594393014907837, 1.5591869354248047]],
        'orthogonal':
            [[0.27858757972717285, -0.7949831485748291, -0.538878858089447],
             [0.912071704864502, 0.043228961527347565, 0.4077455997467041],
             [-0.30085572600364685, -0.6050890684127808, 0.7371248602867126]],
        'orthogonal_wide':
            [[0.3902698755264282, 0.7249575257301331, -0.5675616264343262],
             [0.8804747462272644, -0.4740930199623108, -0.00013149062579032034]],
        'orthogonal_tall':
            [[[0.256671667098999, -0.45867228507995605],
              [-0.3559597432613373, 0.7734826803207397],
              [-0.8985611200332642, -0.4374293386936188]],
             [[0.48838531970977783, -0.5273874998092651], [-0.7282519340515137, 0.19260174036026],
              [-0.4807586669921875, -0.827506422996521]]],
        'ball':
            [[0.33328884840011597, 0.2296927273273468, -0.03467654064297676],
             [-0.476555198431015, -0.5337108969688416, 0.4697338044643402]],
        'ball_p1':
            [[-0.28845450282096863, 0.0023681505117565393],
             [-0.3334313929080963, 0.43518808484077454]],
    },
}


# a singular covariance's zero singular value comes out of LAPACK as a rounding error
# (~1e-8 here, ~1e-7 there) whose square root scales one normal draw: the draws agree to
# about sqrt(eps), not to a few ulp
ULPS = {"mvn_singular": 2**12}


@pytest.fixture
def scheme(threefry_partitionable):
    """JAX's values for the key scheme the test runs under (see conftest.py)."""
    return JAX_0_10_2[threefry_partitionable]


def _check(got, want, ulps=4):
    got, want = np.asarray(got), np.asarray(want, np.float32)
    assert got.shape == want.shape and got.dtype == np.float32
    tol = ulps * np.spacing(np.float32(max(np.abs(want).max(), 1.0)))
    np.testing.assert_allclose(got, want, rtol=0, atol=tol)


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_matches_jax(scheme, name):
    _check(DRAWS[name](), scheme[name], ulps=ULPS.get(name, 4))


def test_jit_matches_jax(scheme):
    got = ft.jit(lambda: {n: DRAWS[n]() for n in DRAWS})()
    for name in DRAWS:
        _check(got[name], scheme[name], ulps=ULPS.get(name, 4))


@pytest.mark.parametrize("draw", [
    lambda k: random.multivariate_normal(k, MEAN, COV),
    lambda k: random.orthogonal(k, 3),
    lambda k: random.ball(k, 2, shape=(2,)),
], ids=["mvn", "orthogonal", "ball"])
def test_vmap_draws_what_each_key_draws(draw):
    keys = random.split(K, 3)
    got = np.asarray(ft.vmap(draw)(keys))
    want = np.stack([np.asarray(draw(k)) for k in keys])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------
# distributions, from the math

N = 20_000


@pytest.mark.parametrize("method", ["cholesky", "eigh", "svd"])
def test_mvn_moments(method):
    x = np.asarray(random.multivariate_normal(random.PRNGKey(1), MEAN, COV, (N,),
                                              method=method), np.float64)
    assert x.shape == (N, 3)
    se = np.sqrt(np.diag(COV) / N)
    np.testing.assert_array_less(np.abs(x.mean(0) - MEAN), 5 * se)
    # the standard error of a covariance entry is about sqrt((s_ii s_jj + s_ij^2) / N)
    c = np.cov(x, rowvar=False)
    se_c = np.sqrt((np.outer(np.diag(COV), np.diag(COV)) + COV**2) / N)
    np.testing.assert_array_less(np.abs(c - COV), 5 * se_c)


@pytest.mark.parametrize("method", ["eigh", "svd"])
def test_mvn_singular_cov_stays_on_its_range(method):
    # cov = [[1, 1], [1, 1]]: every draw has x0 == x1 and x0 ~ N(0, 1)
    x = np.asarray(random.multivariate_normal(random.PRNGKey(2), np.zeros(2, np.float32),
                                              SINGULAR, (N,), method=method))
    np.testing.assert_allclose(x[:, 0], x[:, 1], atol=1e-5)
    assert abs(x[:, 0].std() - 1.0) < 5 / math.sqrt(2 * N)


def test_mvn_shape_dtype_and_broadcasting():
    means = np.zeros((4, 1, 3), np.float32)
    covs = np.broadcast_to(COV, (5, 3, 3))
    x = random.multivariate_normal(K, means, covs)
    assert x.shape == (4, 5, 3) and x.dtype == np.float32
    assert random.multivariate_normal(K, MEAN, COV, (7, 4, 5)).shape == (7, 4, 5, 3)
    with _x64():
        y = random.multivariate_normal(K, MEAN.astype(np.float64), COV)
        assert y.dtype == np.float64
        assert random.multivariate_normal(K, MEAN, COV, dtype=np.float32).dtype == np.float32


class _x64:
    def __enter__(self):
        ft.config.update("enable_x64", True)

    def __exit__(self, *exc):
        ft.config.update("enable_x64", False)


def test_mvn_errors():
    with pytest.raises(FunctraceError, match="method must be one of"):
        random.multivariate_normal(K, MEAN, COV, method="qr")
    with pytest.raises(ShapeError, match=r"cov.shape == \(..., n, n\) for n=3"):
        random.multivariate_normal(K, MEAN, np.eye(2, dtype=np.float32))
    with pytest.raises(ShapeError, match="mean.ndim >= 1"):
        random.multivariate_normal(K, np.float32(0), COV)
    with pytest.raises(ShapeError, match="cov.ndim >= 2"):
        random.multivariate_normal(K, MEAN, np.ones(3, np.float32))
    with pytest.raises(ShapeError, match="broadcast"):
        random.multivariate_normal(K, np.zeros((4, 3), np.float32), COV, (5,))
    with pytest.raises(DTypeError, match="float dtype"):
        random.multivariate_normal(K, MEAN, COV, dtype=np.int32)


@pytest.mark.parametrize("n,m", [(4, None), (3, 5), (5, 3)])
def test_orthogonal_is_orthonormal(n, m):
    q = np.asarray(random.orthogonal(random.PRNGKey(3), n, (6,), m=m), np.float64)
    cols = n if m is None else m
    assert q.shape == (6, n, cols)
    small = min(n, cols)
    gram = q @ np.swapaxes(q, -1, -2) if n <= cols else np.swapaxes(q, -1, -2) @ q
    np.testing.assert_allclose(gram, np.broadcast_to(np.eye(small), (6, small, small)),
                               atol=2e-6)


def test_orthogonal_is_haar():
    # for Haar-random Q in O(n): E[Q_ij] = 0, E[Q_ij^2] = 1/n, E[tr Q] = 0, E[(tr Q)^2] = 1,
    # and det Q is +1 or -1 with probability 1/2 each
    n, reps = 3, 4000
    q = np.asarray(random.orthogonal(random.PRNGKey(4), n, (reps,)), np.float64)
    assert np.abs(q.mean(0)).max() < 5 * math.sqrt(1 / n / reps)
    np.testing.assert_allclose((q**2).mean(0), 1 / n, atol=5 * math.sqrt(0.1 / reps))
    tr = np.trace(q, axis1=1, axis2=2)
    assert abs(tr.mean()) < 5 / math.sqrt(reps)
    assert abs((tr**2).mean() - 1) < 5 * math.sqrt(2 / reps)
    dets = np.linalg.det(q)
    np.testing.assert_allclose(np.abs(dets), 1, atol=1e-5)
    assert abs((dets > 0).mean() - 0.5) < 5 * 0.5 / math.sqrt(reps)


def test_orthogonal_errors():
    with pytest.raises(ShapeError, match="concrete Python int"):
        ft.jit(lambda n: random.orthogonal(K, n))(3)
    with pytest.raises(DTypeError, match="floating-point"):
        random.orthogonal(K, 3, dtype=np.int32)


@pytest.mark.parametrize("d,p", [(1, 2.0), (3, 2.0), (2, 1.0), (4, 0.5), (3, 3.0)])
def test_ball_is_uniform(d, p):
    # uniform in the unit p-ball of dimension d: the p-norm r has P(r <= t) = t**d, so r**d
    # is uniform on [0, 1] (Kolmogorov-Smirnov distance below 1.63/sqrt(N), 1% level)
    x = np.asarray(random.ball(random.PRNGKey(5), d, p, (N,)), np.float64)
    assert x.shape == (N, d)
    r = (np.abs(x) ** p).sum(-1) ** (1 / p)
    assert r.max() <= 1 + 1e-6
    u = np.sort(r**d)
    ks = np.max(np.maximum(np.arange(1, N + 1) / N - u, u - np.arange(N) / N))
    assert ks < 1.63 / math.sqrt(N)
    # and the direction is symmetric: every coordinate has mean 0
    assert np.abs(x.mean(0)).max() < 5 / math.sqrt(N)


def test_ball_shape_and_errors():
    assert random.ball(K, 3).shape == (3,)
    assert random.ball(K, 2, shape=(4, 5)).shape == (4, 5, 2)
    with pytest.raises(ShapeError, match="non-negative"):
        random.ball(K, -1)
    with pytest.raises(DTypeError, match="floating-point"):
        random.ball(K, 2, dtype=np.int32)


# ---------------------------------------------------------------------------
# complex dtypes: normal (re + 1j im) / sqrt(2) from split keys, orthogonal on U(n)

JAX_COMPLEX = {  # jax 0.10.2: normal(K, (2, 2)), orthogonal(K, 3), orthogonal(K, 2, m=3)
    True: [
        [[(0.05368746072053909, 0.4283398389816284), (-0.34389618039131165, 0.5650094747543335)],
         [(0.9123944640159607, -0.6427084803581238), (0.36742109060287476, -0.44919490814208984)]],
        [[(0.059967041015625, 0.4784405827522278), (-0.6549028754234314, 0.18564002215862274),
          (0.42959922552108765, -0.34580767154693604)],
         [(0.4103964567184448, -0.5017350316047668), (0.18464694917201996, -0.15502119064331055),
          (0.6967728137969971, -0.1903110146522522)],
         [(0.45505964756011963, -0.37450772523880005), (-0.6472364664077759, -0.24412855505943298),
          (-0.3654853403568268, 0.20142319798469543)]],
        [[(0.035996437072753906, 0.28719431161880493), (0.6117443442344666, -0.430924654006958),
          (0.14242249727249146, -0.57966548204422)],
         [(-0.686588704586029, 0.5522592067718506), (-0.42911046743392944, -0.13565325736999512),
          (0.11074995994567871, -0.09382200241088867)]]],
    False: [
        [[(0.44781118631362915, -0.40131857991218567), (1.0316342115402222, 0.6262354850769043)],
         [(0.9634871482849121, -0.6590664982795715), (-0.33437228202819824, 1.035286545753479)]],
        [[(-0.34271812438964844, -0.7664315104484558), (-0.20647010207176208, 0.18608324229717255),
          (0.28944289684295654, 0.36618661880493164)],
         [(0.45132678747177124, 0.20577004551887512), (0.01319347694516182, 0.0440615713596344),
          (0.8511829376220703, 0.1653326153755188)],
         [(0.2156812697649002, -0.05070706456899643), (0.46132177114486694, 0.8413142561912537),
          (-0.16407012939453125, 0.05799802765250206)]],
        [[(0.6596442461013794, -0.31833234429359436), (0.053734470158815384, 0.08362934738397598),
          (0.1863156408071518, 0.6472551822662354)],
         [(-0.5280000567436218, 0.3294045925140381), (-0.09328126162290573, -0.2941451966762543),
          (0.25706231594085693, 0.671866774559021)]]],
}


def _complex(pairs):
    arr = np.asarray(pairs, np.float64)
    return (arr[..., 0] + 1j * arr[..., 1]).astype(np.complex64)


def test_complex_draws_match_jax(threefry_partitionable):
    want = [_complex(v) for v in JAX_COMPLEX[threefry_partitionable]]
    got = [random.normal(K, (2, 2), np.complex64), random.orthogonal(K, 3, dtype=np.complex64),
           random.orthogonal(K, 2, m=3, dtype=np.complex64)]
    for g, w in zip(got, want, strict=True):
        assert np.asarray(g).dtype == np.complex64
        np.testing.assert_allclose(g, w, rtol=0, atol=4e-7)


def test_complex_normal_is_the_two_real_draws():
    k_re, k_im = random.split(K)
    z = np.asarray(random.normal(K, (5,), np.complex64))
    s = np.float32(np.sqrt(2))
    np.testing.assert_array_equal(z.real, np.asarray(random.normal(k_re, (5,))) / s)
    np.testing.assert_array_equal(z.imag, np.asarray(random.normal(k_im, (5,))) / s)
    np.testing.assert_array_equal(ft.jit(lambda k: random.normal(k, (5,), np.complex64))(K), z)


@pytest.mark.parametrize("n,m", [(4, None), (3, 5), (5, 3)])
def test_complex_orthogonal_is_unitary(n, m):
    q = np.asarray(random.orthogonal(random.PRNGKey(3), n, (6,), m=m, dtype=np.complex64),
                   np.complex128)
    cols = n if m is None else m
    assert q.shape == (6, n, cols)
    small = min(n, cols)
    gram = q @ np.conj(np.swapaxes(q, -1, -2)) if n <= cols else (
        np.conj(np.swapaxes(q, -1, -2)) @ q)
    np.testing.assert_allclose(gram, np.broadcast_to(np.eye(small), (6, small, small)),
                               atol=2e-6)


def test_complex_orthogonal_is_haar():
    # Haar-random U in U(n): E[U_ij] = 0, E|U_ij|^2 = 1/n, E[tr U] = 0, E|tr U|^2 = 1 and
    # det U uniform on the unit circle (E[det U] = 0); without the phase correction
    # LAPACK's R has a real diagonal and U is not Haar (E|tr U|^2 differs)
    n, reps = 3, 4000
    q = np.asarray(random.orthogonal(random.PRNGKey(4), n, (reps,), dtype=np.complex64),
                   np.complex128)
    assert np.abs(q.mean(0)).max() < 5 * math.sqrt(1 / n / reps)
    np.testing.assert_allclose((np.abs(q) ** 2).mean(0), 1 / n, atol=5 * math.sqrt(0.1 / reps))
    tr = np.trace(q, axis1=1, axis2=2)
    assert abs(tr.mean()) < 5 / math.sqrt(reps)
    assert abs((np.abs(tr) ** 2).mean() - 1) < 5 * math.sqrt(1 / reps)
    dets = np.linalg.det(q)
    np.testing.assert_allclose(np.abs(dets), 1, atol=1e-5)
    assert abs(dets.mean()) < 5 / math.sqrt(reps)
