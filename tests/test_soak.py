"""A short soak: many fits in one process leak no memory, threads or file handles and write
no files. The 200-fit version is benchmarks/soak.py."""

import gc
import os

import numpy as np
import psutil
import pytest

from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor

N_WARM_UP = 5
N_FITS = 30
# Generous: 30 fits of these tiny networks need well under 1 MiB each; a leak of the
# training data, the nets or their history per fit would show as several MiB per fit.
RSS_GROWTH_LIMIT_MIB = 40

pytestmark = pytest.mark.slow


def usage(process):
    gc.collect()
    return process.memory_info().rss / 2**20, process.num_threads(), process.num_fds()


def one_fit(i, X, y_class, y_reg):
    """Tiny fits of all kinds, a third of them ending in an error (divergence or bad input)."""
    kind = i % 6
    if kind == 0:
        RegularizedMLPClassifier((8,), max_iter=2, dropout=0.2, random_state=i).fit(X, y_class)
    elif kind == 1:
        RegularizedMLPRegressor((8,), max_iter=2, batch_norm=True, early_stopping=True,
                                random_state=i).fit(X, y_reg).predict(X)
    elif kind == 2:
        with pytest.raises(ValueError, match="diverged"):
            RegularizedMLPRegressor((8,), max_iter=2, random_state=i).fit(X * 1e30, y_reg)
    elif kind == 3:
        RegularizedMLPClassifier((8, 8), max_iter=2, l1=1e-3, l2=1e-3,
                                 random_state=i).fit(X, y_class).predict_proba(X)
    elif kind == 4:
        with pytest.raises(ValueError, match="NaN"):
            RegularizedMLPClassifier((8,), max_iter=2).fit(np.where(X > 2, np.nan, X), y_class)
    else:
        RegularizedMLPRegressor((8,), max_iter=2, warm_start=True, random_state=i).fit(
            X, y_reg).fit(X, y_reg)


def test_thirty_fits_leak_nothing_and_write_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 6))
    y_class, y_reg = (X[:, 0] > 0).astype(int), X[:, 1] - X[:, 2]
    process = psutil.Process()
    for i in range(N_WARM_UP):
        one_fit(i, X, y_class, y_reg)
    rss_before, threads_before, fds_before = usage(process)
    for i in range(N_FITS):
        one_fit(i, X, y_class, y_reg)
    rss_after, threads_after, fds_after = usage(process)
    assert rss_after - rss_before < RSS_GROWTH_LIMIT_MIB, (rss_before, rss_after)
    assert threads_after <= threads_before
    assert fds_after <= fds_before
    assert os.listdir(tmp_path) == []
