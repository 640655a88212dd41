"""Searches and cross-validation of skreg estimators on a real dask.distributed cluster.

The cluster is a LocalCluster of 2 worker processes with 1 thread each, on the
loopback interface, shared by the tests of this module and closed after them.
"""

import logging
import os

import distributed
import numpy as np
import pytest
import torch
from joblib import parallel_backend, parallel_config
from scipy.stats import loguniform
from sklearn.base import clone
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import (
    GridSearchCV,
    HalvingGridSearchCV,
    RandomizedSearchCV,
    cross_val_score,
    cross_validate,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import Callback

from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

# The HTTP server on a free port (8787 may be taken), no log lines from scheduler and workers.
QUIET = dict(dashboard_address=":0", silence_logs=logging.ERROR)


class RecordWorker(Callback):
    """Record which process trained the net and torch's threads there."""

    def on_train_begin(self, net, **kwargs):
        self.pid_ = os.getpid()
        self.threads_ = torch.get_num_threads()


def recorded(estimator):
    return dict(estimator.net_.callbacks_)["RecordWorker"]


@pytest.fixture(scope="module")
def client():
    # dask's nanny writes its workers' environment (OMP_NUM_THREADS=1, ...) into this
    # process's os.environ before it spawns them; put it back so that later tests, their
    # subprocesses and joblib's workers start as they would without the cluster.
    environ = dict(os.environ)
    try:
        with distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", **QUIET
        ) as cluster, distributed.Client(cluster) as client:
            yield client
    finally:
        os.environ.clear()
        os.environ.update(environ)


@pytest.fixture(scope="module")
def small_cancer(cancer):
    X, y = cancer
    return X[::2], y[::2]


def tiny_classifier(**params):
    # One torch thread everywhere, so that the runs on the cluster and the run in this
    # process compute the very same numbers.
    return RegularizedMLPClassifier((8,), max_iter=8, random_state=0, n_threads=1, **params)


def assert_same_search(on_cluster, local):
    np.testing.assert_array_equal(
        on_cluster.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    assert on_cluster.best_params_ == local.best_params_


def test_grid_search_runs_unchanged_on_the_cluster(client, small_cancer):
    X, y = small_cancer
    search = GridSearchCV(
        make_pipeline(StandardScaler(), tiny_classifier()),
        {
            "regularizedmlpclassifier__l2": [0.0, 1e-2],
            "regularizedmlpclassifier__dropout": [0.0, 0.3],
        },
        cv=2,
    )
    with parallel_config(backend="dask"):
        on_cluster = search.fit(X, y)
    local = clone(search).fit(X, y)
    assert_same_search(on_cluster, local)
    assert on_cluster.score(X, y) == local.score(X, y)


def test_randomized_search_runs_unchanged_on_the_cluster(client, diabetes):
    X, y = diabetes
    search = RandomizedSearchCV(
        RegularizedMLPRegressor((8,), max_iter=8, random_state=0, n_threads=1),
        {"l1": loguniform(1e-5, 1e-1), "l2": loguniform(1e-5, 1e-1)},
        n_iter=3, cv=2, random_state=0,
    )
    with parallel_config(backend="dask"):
        on_cluster = search.fit(X, y)
    local = clone(search).fit(X, y)
    assert_same_search(on_cluster, local)


def test_halving_grid_search_runs_unchanged_on_the_cluster(client, small_cancer):
    X, y = small_cancer
    search = HalvingGridSearchCV(
        tiny_classifier(), {"dropout": [0.0, 0.2, 0.4, 0.6]}, cv=2, factor=2, random_state=0
    )
    with parallel_config(backend="dask"):
        on_cluster = search.fit(X, y)
    local = clone(search).fit(X, y)
    assert on_cluster.n_iterations_ == local.n_iterations_ >= 2
    assert_same_search(on_cluster, local)


def test_cross_val_score_runs_on_the_workers_without_oversubscribing(client, small_cancer):
    X, y = small_cancer
    model = RegularizedMLPClassifier(
        (8,), max_iter=8, learning_rate_init=0.01, random_state=0, callbacks=[RecordWorker()]
    )
    with parallel_backend("dask"):  # the older spelling of parallel_config(backend="dask")
        scores = cross_val_score(model, X, y, cv=4)
        fitted = cross_validate(model, X, y, cv=4, return_estimator=True)["estimator"]
    assert scores.shape == (4,) and scores.min() > 0.8
    worker_pids = set(client.run(os.getpid).values())
    assert {recorded(est).pid_ for est in fitted} <= worker_pids
    cores = os.cpu_count()
    for est in fitted:
        # Each of the 2 single-threaded workers trains with at most its share of the cores.
        assert recorded(est).threads_ <= max(1, cores // 2)


def test_fits_in_the_threads_of_one_worker_split_torch_threads(small_cancer):
    X, y = small_cancer
    budget = torch.get_num_threads()
    model = RegularizedMLPClassifier(
        (8,), max_iter=8, learning_rate_init=0.01, random_state=0, callbacks=[RecordWorker()]
    )
    # An in-process worker running 2 tasks at once: both fits share this process.
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, **QUIET
    ) as cluster, distributed.Client(cluster), parallel_config(backend="dask"):
        fitted = cross_validate(model, X, y, cv=2, return_estimator=True)["estimator"]
    for est in fitted:
        assert recorded(est).pid_ == os.getpid()
        assert recorded(est).threads_ <= max(1, budget // 2)
    assert torch.get_num_threads() == budget
