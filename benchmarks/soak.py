"""Soak test: 200 consecutive fits in one process (a grid search), some of them diverging.

Protocol: a ``GridSearchCV`` with ``n_jobs=1`` over 40 configurations of
``RegularizedMLPClassifier`` x 5 folds = 200 fits on the standardized breast-cancer
data (569 x 30). The grid crosses learning rates up to 1e6 with ``solver="sgd"``, so
a share of the fits diverge and end in skreg's ValueError, which the search records
as a failed fit (``error_score=nan``): the soak covers the error path as well as the
normal one. A scorer records, after every fit, the process's resident memory (RSS),
its number of threads and of open file descriptors. The first 10 fits are a warm-up
(torch allocates its thread pools and caches on first use); growth is measured from
the end of the warm-up to the end of the search. The search runs in an empty
temporary working directory, which must still be empty afterwards.

Writes ``benchmarks/results/soak.json`` and ``benchmarks/results/soak.md``.

Run: ``python benchmarks/soak.py``
"""

import gc
import json
import os
import platform
import tempfile
import threading
import time
import warnings

import numpy as np
import psutil
import torch
from _harness import RESULTS, version, write_markdown
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

import skreg
from skreg import RegularizedMLPClassifier

WARM_UP = 10
GRID = {
    "learning_rate_init": [1e-3, 1e-2, 1e-1, 1e3, 1e6],
    "hidden_layer_sizes": [(16,), (64, 32)],
    "dropout": [0.0, 0.3],
    "batch_norm": [False, True],
}
PROCESS = psutil.Process()


def snapshot():
    gc.collect()
    return {
        "rss_mib": PROCESS.memory_info().rss / 2**20,
        "threads": PROCESS.num_threads(),
        "python_threads": threading.active_count(),
        "open_fds": PROCESS.num_fds(),
    }


def main():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    samples = []

    def record(estimator, X_test, y_test):
        samples.append(snapshot())
        return estimator.score(X_test, y_test)

    # Few full-batch epochs: the soak is about what each fit leaves behind, not accuracy.
    model = RegularizedMLPClassifier(solver="sgd", max_iter=3, batch_size=1000, random_state=0)
    start = snapshot()
    with tempfile.TemporaryDirectory() as workdir:
        cwd = os.getcwd()
        os.chdir(workdir)
        try:
            began = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                search = GridSearchCV(model, GRID, cv=5, scoring=record, n_jobs=1,
                                      error_score=np.nan, refit=False).fit(X, y)
            seconds = time.perf_counter() - began
            files_written = sorted(os.listdir(workdir))
        finally:
            os.chdir(cwd)
    end = snapshot()

    scores = np.column_stack([search.cv_results_[f"split{i}_test_score"] for i in range(5)])
    n_fits = scores.size
    n_failed = int(np.isnan(scores).sum())
    failure_messages = sorted({
        str(w.message).split("ValueError: ")[-1].split(". Training was stopped")[0]
        for w in caught if issubclass(w.category, FitFailedWarning)
    })
    after_warm_up = samples[WARM_UP - 1]
    rss = [s["rss_mib"] for s in samples]
    result = {
        "n_fits": n_fits,
        "n_failed_fits_caught": n_failed,
        "failure_messages": failure_messages,
        "n_fits_recorded": len(samples),
        "seconds": round(seconds, 1),
        "start": start,
        "after_warm_up": after_warm_up,
        "end": end,
        "rss_growth_after_warm_up_mib": round(end["rss_mib"] - after_warm_up["rss_mib"], 1),
        "rss_max_mib": round(max(rss), 1),
        "rss_per_fit_slope_kib": round(
            float(np.polyfit(np.arange(WARM_UP, len(rss)), rss[WARM_UP:], 1)[0]) * 1024, 2),
        "thread_growth_after_warm_up": end["threads"] - after_warm_up["threads"],
        "fd_growth_after_warm_up": end["open_fds"] - after_warm_up["open_fds"],
        "files_written_to_working_directory": files_written,
        "load_average_after": os.getloadavg(),
        "versions": {"skreg": skreg.__version__, "torch": version("torch"),
                     "sklearn": version("scikit-learn"), "python": platform.python_version()},
        "torch_threads": torch.get_num_threads(),
    }
    write_markdown(json.dumps(result, indent=2) + "\n", RESULTS / "soak.json")
    write_markdown(report(result), RESULTS / "soak.md")
    print(report(result))


def report(r):
    return (
        "# Soak: 200 fits in one process\n\n"
        f"{r['n_fits']} fits by GridSearchCV(n_jobs=1) in {r['seconds']} s "
        f"(load average afterwards {r['load_average_after'][0]:.1f}, "
        f"{r['torch_threads']} torch threads); {r['n_failed_fits_caught']} of them diverged "
        "and ended in a ValueError that the search recorded as a failed fit.\n\n"
        "| | start | after 10 fits | after 200 fits |\n|---|---|---|---|\n"
        f"| RSS (MiB) | {r['start']['rss_mib']:.1f} | {r['after_warm_up']['rss_mib']:.1f} "
        f"| {r['end']['rss_mib']:.1f} |\n"
        f"| threads | {r['start']['threads']} | {r['after_warm_up']['threads']} "
        f"| {r['end']['threads']} |\n"
        f"| open file descriptors | {r['start']['open_fds']} | {r['after_warm_up']['open_fds']} "
        f"| {r['end']['open_fds']} |\n\n"
        f"RSS growth after the warm-up: {r['rss_growth_after_warm_up_mib']} MiB "
        f"(fitted slope {r['rss_per_fit_slope_kib']} KiB per fit; peak {r['rss_max_mib']} MiB). "
        f"Files written to the working directory: {len(r['files_written_to_working_directory'])}.\n"
    )


if __name__ == "__main__":
    main()
