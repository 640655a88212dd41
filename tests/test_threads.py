"""torch's threads during fits: left alone by default, split between fits that share a process."""

import threading
import warnings

import numpy as np
import pytest
import torch
from joblib import parallel_config
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import cross_validate
from skorch.callbacks import Callback

from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor
from skreg._threads import auto_thread_count, available_cores, torch_threads


class RecordThreads(Callback):
    """Record torch's thread count of the training thread at the start of every epoch."""

    def on_train_begin(self, net, **kwargs):
        self.threads_ = []

    def on_epoch_begin(self, net, **kwargs):
        self.threads_.append(torch.get_num_threads())


class FailOnSecondEpoch(Callback):
    def on_epoch_begin(self, net, **kwargs):
        if len(net.history) == 2:
            raise RuntimeError("training failed on purpose")


def recorded_threads(estimator):
    return dict(estimator.net_.callbacks_)["RecordThreads"].threads_


def default_of_a_new_thread():
    """torch's thread count as a thread that starts now sees it."""
    seen = []
    thread = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    thread.start()
    thread.join()
    return seen[0]


@pytest.fixture
def small_data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 6)).astype(np.float32)
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def test_default_leaves_torch_setting_alone(small_data):
    X, y = small_data
    before = torch.get_num_threads()
    model = RegularizedMLPClassifier((8,), max_iter=3, callbacks=[RecordThreads()]).fit(X, y)
    assert recorded_threads(model) == [before] * 3
    model.predict(X)
    assert torch.get_num_threads() == before


def test_explicit_n_threads_applies_during_fit_and_is_restored(small_data):
    X, y = small_data
    before = torch.get_num_threads()
    model = RegularizedMLPRegressor(
        (8,), max_iter=3, n_threads=1, callbacks=[RecordThreads()]
    ).fit(X, X[:, 0])
    assert recorded_threads(model) == [1, 1, 1]
    assert torch.get_num_threads() == before
    model.predict(X)
    assert torch.get_num_threads() == before
    assert default_of_a_new_thread() == before


def test_setting_is_restored_when_fit_raises(small_data):
    X, y = small_data
    before = torch.get_num_threads()
    model = RegularizedMLPClassifier((8,), max_iter=5, n_threads=1, callbacks=[FailOnSecondEpoch()])
    with pytest.raises(RuntimeError, match="on purpose"):
        model.fit(X, y)
    assert torch.get_num_threads() == before
    assert default_of_a_new_thread() == before


@pytest.mark.parametrize("n_threads", [0, -1, 1.5, "auto"])
def test_invalid_n_threads_is_rejected(small_data, n_threads):
    X, y = small_data
    with pytest.raises(ValueError, match="n_threads"):
        RegularizedMLPClassifier(n_threads=n_threads).fit(X, y)


def test_outside_worker_contexts_auto_rule_leaves_setting_alone():
    assert auto_thread_count(budget=8, running=1) is None
    with parallel_config(backend="threading"):  # configured, but this is not a worker
        assert auto_thread_count(budget=8, running=1) is None


# loky starts worker processes.
@pytest.mark.parametrize("backend", [pytest.param("loky", marks=pytest.mark.slow), "threading"])
def test_parallel_fits_share_the_cores(cancer, backend):
    X, y = cancer
    cores = torch.get_num_threads()
    model = RegularizedMLPClassifier((16,), max_iter=3, random_state=0, callbacks=[RecordThreads()])
    with parallel_config(backend=backend):
        result = cross_validate(model, X, y, cv=2, n_jobs=2, return_estimator=True)
    for fitted in result["estimator"]:
        assert max(recorded_threads(fitted)) <= max(1, cores // 2)
    # Nothing leaks into the caller's process: its thread and new threads see the old setting.
    assert torch.get_num_threads() == cores
    assert default_of_a_new_thread() == cores


def test_concurrent_blocks_restore_the_process_setting_when_the_last_ends():
    before = torch.get_num_threads()
    inside = []
    all_inside = threading.Barrier(3)
    first_left = threading.Event()

    def fit_like(leave_first):
        with torch_threads(1):
            all_inside.wait()
            if not leave_first:
                first_left.wait()
            inside.append(torch.get_num_threads())
        if leave_first:
            first_left.set()

    threads = [threading.Thread(target=fit_like, args=(first,)) for first in (True, False, False)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Blocks still running kept their limit after the first one ended and restored.
    assert inside == [1, 1, 1]
    assert torch.get_num_threads() == before
    assert default_of_a_new_thread() == before


def test_nested_blocks_restore_the_outer_setting():
    before = torch.get_num_threads()
    with torch_threads(1):
        with torch_threads(1):
            pass
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_more_threads_than_cores_warns(small_data):
    X, y = small_data
    cores = available_cores()
    with pytest.warns(UserWarning, match=f"n_threads={cores + 1} is more than the {cores} CPU"):
        RegularizedMLPClassifier((4,), max_iter=1, n_threads=cores + 1).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        RegularizedMLPClassifier((4,), max_iter=1, n_threads=cores).fit(X, y)
