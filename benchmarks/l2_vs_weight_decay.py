"""L2 penalty versus decoupled weight decay: the same with SGD, different with Adam.

Data: scikit-learn's bundled breast-cancer set (569 rows, 30 features, binary),
standardized inside each fold. Protocol: one network (hidden layers (64,), 100
epochs, batch 200, learning_rate_init 1e-3, seed 0, no early stopping); for each
solver ("sgd" with momentum 0.9, "adam") and strength s in {1e-3, 1e-2, 1e-1, 1},
one model with ``l2=s`` and one with ``weight_decay=s``. Reported per model:
the Frobenius norm of all weight matrices after fitting on all rows, and 5-fold
stratified cross-validated (shuffled, seed 0) accuracy and log loss; plus, per
pair, the largest absolute difference between the two models' weights.

Run: ``PYTHONPATH=. python benchmarks/l2_vs_weight_decay.py``; writes
benchmarks/results/l2_vs_weight_decay.csv and .md.
"""

import time
import warnings

import numpy as np
import pandas as pd
import torch
from _harness import RESULTS, load_average, write_csv, write_markdown
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skreg import RegularizedMLPClassifier

COMMON = dict(hidden_layer_sizes=(64,), max_iter=100, batch_size=200, tol=0.0,
              n_iter_no_change=100, random_state=0)
STRENGTHS = [1e-3, 1e-2, 1e-1, 1.0]


def weight_matrices(pipeline):
    module = pipeline[-1].net_.module_
    return [p.detach().numpy().copy() for p in module.parameters() if p.ndim >= 2]


def main():
    X, y = load_breast_cancer(return_X_y=True)
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    rows = []
    start = time.perf_counter()
    for solver in ("sgd", "adam"):
        for strength in STRENGTHS:
            fitted = {}
            for kind in ("l2", "weight_decay"):
                params = {**COMMON, "solver": solver, kind: strength}
                model = make_pipeline(StandardScaler(), RegularizedMLPClassifier(**params))
                scores = cross_validate(model, X, y, cv=cv, scoring=("accuracy", "neg_log_loss"))
                fitted[kind] = weight_matrices(model.fit(X, y))
                norm = np.sqrt(sum((w ** 2).sum() for w in fitted[kind]))
                rows.append({
                    "solver": solver, "strength": strength, "regularizer": kind,
                    "weight_norm": norm,
                    "accuracy": scores["test_accuracy"].mean(),
                    "accuracy_std": scores["test_accuracy"].std(),
                    "log_loss": -scores["test_neg_log_loss"].mean(),
                    "log_loss_std": scores["test_neg_log_loss"].std(),
                })
            gap = max(np.abs(a - b).max() for a, b in zip(fitted["l2"], fitted["weight_decay"]))
            rows[-1]["max_weight_difference"] = rows[-2]["max_weight_difference"] = gap
    table = pd.DataFrame(rows)
    elapsed = time.perf_counter() - start
    write_csv(table, RESULTS / "l2_vs_weight_decay.csv")
    header = (
        "# L2 penalty vs decoupled weight decay (breast cancer, 5-fold CV)\n\n"
        f"Protocol: see benchmarks/l2_vs_weight_decay.py. torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, load average before/after "
        f"{LOAD_BEFORE} / {load_average(1)}, "
        f"total {elapsed:.0f} s.\n\n"
    )
    write_markdown(header + table.to_markdown(index=False, floatfmt=".4g") + "\n",
                   RESULTS / "l2_vs_weight_decay.md")
    print(header + table.to_markdown(index=False, floatfmt=".4g"))


if __name__ == "__main__":
    warnings.simplefilter("ignore", ConvergenceWarning)  # fixed 100 epochs on purpose
    LOAD_BEFORE = load_average(1)
    main()
