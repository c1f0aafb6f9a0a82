"""The Laplace posterior, the evidence loop and the Bayesian estimators over data on a
Dask cluster (a LocalCluster of two worker processes): every sum over patterns comes
from a DistributedObjective, and the results equal those in memory."""

import logging
import warnings

import numpy as np
import pytest

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

import prmlnet  # noqa: E402
from prmlnet import bayes  # noqa: E402
from prmlnet.distributed import DistributedObjective  # noqa: E402
from prmlnet.objective import Objective  # noqa: E402
from prmlnet.priors import gaussian_prior  # noqa: E402
from prmlnet.testing import relative_error  # noqa: E402

ROWS = (60, 45, 55)                  # three partitions of unequal length


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.CRITICAL)
    with cluster, distributed.Client(cluster) as c:
        yield c


def data(output, K=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((sum(ROWS), 3))
    if output == "linear":
        T = np.column_stack([np.sin(X[:, 0]), np.cos(X[:, 1])])[:, :K]
        T = T + 0.1 * rng.standard_normal(T.shape)
    else:
        T = np.eye(3)[np.argmax(X @ rng.standard_normal((3, 3)) + rng.standard_normal((X.shape[0], 3)),
                                axis=1)]
    return X, T


def on_cluster(*arrays):
    return [da.from_array(A, chunks=(ROWS,) + A.shape[1:]) for A in arrays]


def test_laplace_and_evidence_from_a_distributed_objective(client):
    X, T = data("softmax")
    net = prmlnet.Network((3, 4, 3), output="softmax")
    prior = gaussian_prior(net, "layers", {"W1": 0.5, "b1": 0.2, "W2": 1.5, "b2": 0.3})
    w = 0.5 * net.init_weights(1)
    dist = DistributedObjective(net, *on_cluster(X, T), prior=prior)
    local = bayes.laplace(net, w, X, T, prior)
    post = bayes.laplace(dist, w, negative="clip")
    assert relative_error(post.precision, bayes.laplace(net, w, X, T, prior,
                                                        negative="clip").precision) < 1e-12
    post = bayes.laplace(dist, w)
    assert post.clipped == local.clipped and relative_error(post.chol, local.chol) < 1e-12
    assert bayes.log_evidence(post, dist) == pytest.approx(bayes.log_evidence(local, X, T),
                                                           rel=1e-12)
    step, step0 = bayes.reestimate(post, dist), bayes.reestimate(local, X, T)
    assert step.prior.alpha == pytest.approx(step0.prior.alpha, rel=1e-10)
    H = bayes.data_hessian(dist, w, hessian="outer_product")
    assert relative_error(H, bayes.data_hessian(net, w, X, T, "outer_product")) < 1e-12
    with pytest.raises(ValueError, match="carries its prior and beta"):
        bayes.laplace(dist, w, prior=prior)


def test_weighted_patterns_on_the_cluster(client):
    """A regression network's posterior and evidence with sample weights: the data
    Hessian, E_D and N = Σ s_n from the weighted DistributedObjective."""
    X, T = data("linear")
    s = np.random.default_rng(7).integers(0, 4, X.shape[0]).astype(float)
    net = prmlnet.Network((3, 4, 2))
    w = net.init_weights(3)
    Xd, Td, sd = on_cluster(X, T, s)
    dist = DistributedObjective(net, Xd, Td, prior=2.0, beta=5.0, sample_weight=sd)
    local = Objective(net, X, T, prior=2.0, beta=5.0, sample_weight=s)
    post, ref = bayes.laplace(dist, w), bayes.laplace(local, w)
    assert relative_error(post.precision, ref.precision) < 1e-12
    assert bayes.log_evidence(post, dist) == pytest.approx(bayes.log_evidence(ref, local),
                                                           rel=1e-12)
    step, step0 = bayes.reestimate(post, dist), bayes.reestimate(ref, local)
    assert step.beta == pytest.approx(step0.beta, rel=1e-12)
    # ... which are those of the rows repeated s_n times
    rep = bayes.laplace(Objective(net, np.repeat(X, s.astype(int), axis=0),
                                  np.repeat(T, s.astype(int), axis=0), prior=2.0, beta=5.0), w)
    assert bayes.log_evidence(post, dist) == pytest.approx(
        bayes.log_evidence(rep, np.repeat(X, s.astype(int), axis=0),
                           np.repeat(T, s.astype(int), axis=0)), rel=1e-12)


def test_the_evidence_loop_runs_on_the_cluster_unchanged(client):
    X, T = data("linear")
    net = prmlnet.Network((3, 4, 2))
    opts = dict(alpha=0.1, n_outer=1, max_iter=8, tol=1e-12, w0=net.init_weights(2))
    local = bayes.evidence_loop(net, X, T, **opts)
    dist = bayes.evidence_loop(DistributedObjective(net, *on_cluster(X, T)), **opts)
    assert np.array_equal(dist.history["nit"], local.history["nit"])
    assert dist.status is local.status and dist.iteration == local.iteration
    assert dist.result.nfev == local.result.nfev
    assert dist.beta == pytest.approx(local.beta, rel=1e-10)
    assert dist.alpha["w"] == pytest.approx(local.alpha["w"], rel=1e-10)
    assert dist.gamma_total == pytest.approx(local.gamma_total, rel=1e-10)
    assert dist.log_evidence == pytest.approx(local.log_evidence, rel=1e-10)
    assert relative_error(dist.w, local.w) < 1e-10
    for k in ("alpha", "beta", "gamma", "log_evidence", "E_D", "n_negative"):
        assert relative_error(dist.history[k], local.history[k]) < 1e-10
    # the predictive is local, at the query points
    Xs = np.random.default_rng(4).standard_normal((5, 3))
    for a, b in zip(dist.predict(Xs, return_std=True), local.predict(Xs, return_std=True)):
        assert relative_error(a, b) < 1e-10
    # dask arrays given as X, T are wrapped in a DistributedObjective
    wrapped = bayes._data.data_objective(net, *on_cluster(X, T))
    assert isinstance(wrapped, DistributedObjective) and wrapped.client is client


def test_bayesian_estimators_fit_dask_arrays(client):
    X, T = data("softmax", seed=3)
    labels = np.array(["a", "b", "c"])[np.argmax(T, axis=1)]
    y = X[:, 0] - 0.5 * X[:, 2] ** 2 + 0.1 * np.random.default_rng(5).standard_normal(X.shape[0])
    Xd, yd, ld = on_cluster(X, y, labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                  # short fits: convergence warnings
        for make, target, td in [
            (lambda: prmlnet.BayesianMLPRegressor((3,), alpha=1.0, n_outer=1, max_iter=6,
                                                  standardize=True, random_state=0), y, yd),
            (lambda: prmlnet.BayesianMLPClassifier((3,), alpha=1.0, n_outer=1, max_iter=6,
                                                   random_state=0), labels, ld)]:
            a = make().fit(X, target)
            b = make().fit(Xd, td)
            assert b.n_iter_ == a.n_iter_ and b.result_.status is a.result_.status
            assert relative_error(b.w_, a.w_) < 1e-10
            assert b.log_evidence_ == pytest.approx(a.log_evidence_, rel=1e-10)
            # γ = W − Σ_k α_k Tr_k(A⁻¹): relative to W, the size of the terms it is a difference of
            assert b.gamma_ == pytest.approx(a.gamma_, rel=1e-10, abs=1e-10 * a.net_.n_weights)
            assert b.beta_ == pytest.approx(a.beta_, rel=1e-10)
            assert b.loss_ == pytest.approx(a.loss_, rel=1e-10)
            if target is y:
                for u, v in zip(b.predict(X[:9], return_std=True), a.predict(X[:9], return_std=True)):
                    assert relative_error(u, v) < 1e-9
            else:
                assert relative_error(b.predict_proba(X[:9]), a.predict_proba(X[:9])) < 1e-9
