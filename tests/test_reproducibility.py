"""Reproducibility on CPU: same random_state, same bits, in one process, a fresh process and
parallel grid-search workers; the caller's global random state is left as documented."""

import hashlib
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from joblib import parallel_backend
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback

from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor

PARAMS = dict(hidden_layer_sizes=(16,), dropout=0.2, batch_norm=True, max_iter=5, random_state=3)

FRESH_PROCESS = """
import sys, numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler
from skreg import RegularizedMLPClassifier
X, y = load_breast_cancer(return_X_y=True)
X = StandardScaler().fit_transform(X)
proba = RegularizedMLPClassifier(**eval(sys.argv[1])).fit(X, y).predict_proba(X)
sys.stdout.write(proba.tobytes().hex())
"""


def digest(array):
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


@pytest.mark.slow
def test_fresh_process_gives_identical_bits(cancer):
    X, y = cancer
    here = RegularizedMLPClassifier(**PARAMS).fit(X, y).predict_proba(X)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", FRESH_PROCESS, repr(PARAMS)], env=env,
                         capture_output=True, text=True, check=True).stdout
    there = np.frombuffer(bytes.fromhex(out), dtype=here.dtype).reshape(here.shape)
    assert digest(there) == digest(here)


def prediction_fingerprint(estimator, X, y):
    """A scorer whose value changes with any bit of the fitted model's predictions."""
    return float(int(digest(estimator.predict_proba(X))[:12], 16))


def torch_threads(estimator, X, y):
    return float(torch.get_num_threads())


@pytest.mark.slow
def test_grid_search_with_two_jobs_gives_the_same_bits_as_serial_fits(cancer):
    # Batch norm's CPU kernels reduce in an order that depends on the number of torch
    # threads, and parallel workers get fewer threads than this process. Bitwise equality
    # therefore holds at equal thread counts: the serial search runs with the workers' count.
    X, y = cancer
    grid = {"dropout": [0.0, 0.3]}
    scoring = {"fingerprint": prediction_fingerprint, "threads": torch_threads}

    def search(n_jobs):
        model = RegularizedMLPClassifier(**{**PARAMS, "max_iter": 3})
        return GridSearchCV(model, grid, cv=2, scoring=scoring, n_jobs=n_jobs,
                            refit=False).fit(X, y).cv_results_

    parallel = search(2)
    worker_threads = int(parallel["split0_test_threads"][0])
    threads = torch.get_num_threads()
    torch.set_num_threads(worker_threads)
    try:
        serial = search(1)
    finally:
        torch.set_num_threads(threads)
    for split in ("split0_test_fingerprint", "split1_test_fingerprint"):
        assert len(set(serial[split])) == len(serial[split])  # fingerprints tell models apart
        np.testing.assert_array_equal(parallel[split], serial[split])


def test_none_draws_its_seed_from_numpy_and_leaves_torch_alone(diabetes):
    X, y = diabetes
    np.random.seed(5)
    torch.manual_seed(5)
    torch_state = torch.get_rng_state()
    expected = np.random.RandomState()
    expected.set_state(np.random.get_state())
    expected.randint(np.iinfo(np.int32).max)  # the one draw a fit with random_state=None makes
    RegularizedMLPRegressor((8,), max_iter=2, random_state=None).fit(X, y)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], expected.get_state()[1])
    assert np.random.get_state()[2] == expected.get_state()[2]
    # Hence two fits with None differ, and seeding numpy's global generator makes them repeat.
    np.random.seed(1)
    first = RegularizedMLPRegressor((8,), max_iter=2).fit(X, y).predict(X)
    np.random.seed(1)
    again = RegularizedMLPRegressor((8,), max_iter=2).fit(X, y).predict(X)
    np.testing.assert_array_equal(first, again)


def test_random_state_instance_is_advanced_and_globals_kept(diabetes):
    X, y = diabetes
    rng = np.random.RandomState(0)
    numpy_state, torch_state = np.random.get_state(), torch.get_rng_state()
    RegularizedMLPRegressor((8,), max_iter=2, random_state=rng).fit(X, y)
    assert not np.array_equal(rng.get_state()[1], np.random.RandomState(0).get_state()[1]) or \
        rng.get_state()[2] != np.random.RandomState(0).get_state()[2]
    assert np.array_equal(np.random.get_state()[1], numpy_state[1])
    assert torch.equal(torch.get_rng_state(), torch_state)


# ---------------------------------------------------------------- threads
# Each case fits with every source of randomness it can have. n_threads=1: floating-point
# reductions depend on torch's thread count, and these tests are about the random draws.
THREAD_CASES = [
    (RegularizedMLPClassifier, "cancer", dict(dropout=0.3, input_noise=0.2, early_stopping=True,
                                              n_iter_no_change=3, random_state=11)),
    (RegularizedMLPClassifier, "cancer", dict(dropout=0.2, mixup_alpha=0.4, batch_norm=True,
                                              random_state=12)),
    (RegularizedMLPRegressor, "diabetes", dict(dropout=0.2, input_noise=0.1, mixup_alpha=0.3,
                                               early_stopping=True, random_state=13)),
    (RegularizedMLPRegressor, "diabetes", dict(hidden_layer_sizes=(16, 16), dropout=[0.1, 0.3],
                                               random_state=14)),
]
THREAD_COMMON = dict(hidden_layer_sizes=(32,), batch_size=64, max_iter=8, mc_samples=5,
                     n_threads=1)


def fit_and_predict(case, data):
    cls, name, params = case
    X, y = data[name]
    model = cls(**{**THREAD_COMMON, **params}).fit(X, y)
    if cls is RegularizedMLPClassifier:
        mean, std = model.predict_proba(X, return_std=True)
    else:
        mean, std = model.predict(X, return_std=True)
    weights = {k: v.clone() for k, v in model.net_.module_.state_dict().items()}
    return weights, model.loss_curve_, model.predict(X), mean, std


def assert_same_bits(got, expected):
    weights, losses, *arrays = got
    assert weights.keys() == expected[0].keys()
    assert all(torch.equal(weights[k], expected[0][k]) for k in weights)
    assert losses == expected[1]
    for array, reference in zip(arrays, expected[2:]):
        assert np.array_equal(array, reference)


@pytest.mark.parametrize("n_workers", [2, 4])
def test_threads_fitting_at_once_give_the_serial_bits(cancer, diabetes, n_workers):
    data = {"cancer": cancer, "diabetes": diabetes}
    serial = [fit_and_predict(case, data) for case in THREAD_CASES]
    jobs = list(range(len(THREAD_CASES))) * 2
    start = threading.Barrier(n_workers, timeout=120)

    def job(i, wait):
        if wait:
            start.wait()  # the workers' first fits begin together
        return fit_and_predict(THREAD_CASES[i], data)

    with ThreadPoolExecutor(n_workers) as pool:
        futures = [pool.submit(job, i, k < n_workers) for k, i in enumerate(jobs)]
        results = [f.result() for f in futures]
    for i, result in zip(jobs, results):
        assert_same_bits(result, serial[i])


def test_threads_predicting_with_one_model_give_the_serial_spread(diabetes):
    X, y = diabetes
    model = RegularizedMLPRegressor(
        (32,), dropout=0.3, max_iter=5, mc_samples=20, n_threads=1, random_state=2
    ).fit(X, y)
    expected = model.predict(X, return_std=True)
    start = threading.Barrier(3, timeout=120)

    def predict(_):
        start.wait()
        return [model.predict(X, return_std=True) for _ in range(3)]

    with ThreadPoolExecutor(3) as pool:
        for repeats in pool.map(predict, range(3)):
            for mean, std in repeats:
                assert np.array_equal(mean, expected[0]) and np.array_equal(std, expected[1])


def test_grid_search_in_threads_scores_as_the_serial_search(cancer):
    X, y = cancer
    model = RegularizedMLPClassifier((16,), max_iter=5, n_threads=1, random_state=5)
    grid = {"dropout": [0.1, 0.4], "input_noise": [0.0, 0.3]}
    scoring = {"accuracy": "accuracy", "fingerprint": prediction_fingerprint}

    def scores(n_jobs):
        search = GridSearchCV(model, grid, cv=3, scoring=scoring, n_jobs=n_jobs, refit=False)
        results = search.fit(X, y).cv_results_
        return {k: v for k, v in results.items() if k.startswith("split")}

    serial = scores(1)
    with parallel_backend("threading"):
        threaded = scores(2)
    assert serial.keys() == threaded.keys()
    for key in serial:
        np.testing.assert_array_equal(threaded[key], serial[key], err_msg=key)


class GlobalRandomState(Callback):
    """Record torch's and numpy's global random states at the end of every epoch."""

    def on_train_begin(self, net, **kwargs):
        self.states_ = []

    def on_epoch_end(self, net, **kwargs):
        self.states_.append((torch.get_rng_state(), np.random.get_state()))


def same_numpy_state(a, b):
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]


@pytest.mark.parametrize("cls", [RegularizedMLPClassifier, RegularizedMLPRegressor])
def test_fit_and_predict_never_touch_the_global_random_states(cancer, cls):
    X, y = cancer
    torch.manual_seed(8)
    np.random.seed(8)
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    model = cls(
        (16,), dropout=0.3, input_noise=0.1, mixup_alpha=0.2, early_stopping=True, max_iter=4,
        random_state=1, callbacks=[GlobalRandomState()],
    ).fit(X, y)
    # Not only restored afterwards: the fit never draws from them or seeds them.
    for during_torch, during_numpy in dict(model.net_.callbacks_)["GlobalRandomState"].states_:
        assert torch.equal(during_torch, torch_state)
        assert same_numpy_state(during_numpy, numpy_state)
    getattr(model, "predict_proba", model.predict)(X, return_std=True)
    model.set_params(warm_start=True, max_iter=2).fit(X, y)  # a continued fit
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert same_numpy_state(np.random.get_state(), numpy_state)


@pytest.mark.parametrize("cls", [RegularizedMLPClassifier, RegularizedMLPRegressor])
def test_partial_fit_calls_train_as_one_fit_of_as_many_epochs(cancer, cls):
    X, y = cancer
    params = dict(hidden_layer_sizes=(16,), dropout=0.2, input_noise=0.1, mixup_alpha=0.3,
                  batch_size=64, n_threads=1, random_state=4)
    whole = cls(max_iter=5, **params).fit(X, y)
    chain = cls(**params)
    kwargs = {"classes": np.unique(y)} if cls is RegularizedMLPClassifier else {}
    for _ in range(5):
        chain.partial_fit(X, y, **kwargs)
    expected = whole.net_.module_.state_dict()
    for key, value in chain.net_.module_.state_dict().items():
        assert torch.equal(value, expected[key]), key
    assert chain.loss_curve_ == whole.loss_curve_
