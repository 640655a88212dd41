"""Does regularization help on a small real data set? A cross-validated comparison.

Data: scikit-learn's bundled breast-cancer set (569 rows, 30 features, binary).
Protocol: 5-fold stratified cross-validation (shuffled, seed 0); every model is a
``StandardScaler`` + skreg pipeline with the same network (2 hidden layers of 128)
and seed; regularizer strengths are fixed, not tuned (see benchmarks/regularization.py
for the tuned study). Prints mean and standard deviation of accuracy, log loss and
the train-test accuracy gap, plus fit time.

Run: ``python benchmarks/quick_comparison.py``
"""

import time
import warnings

import numpy as np
import pandas as pd
from _harness import load_average, processor
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skreg import RegularizedMLPClassifier

# alpha=0: every row adds only its own regularizer to the unregularized network.
COMMON = dict(hidden_layer_sizes=(128, 128), alpha=0.0, max_iter=200, random_state=0)
MODELS = {
    "unregularized": {},
    "dropout=0.5": {"dropout": 0.5},
    "l2=1e-2": {"l2": 1e-2},
    "l1=1e-4": {"l1": 1e-4},
    "batch_norm": {"batch_norm": True},
    "early_stopping": {"early_stopping": True, "validation_fraction": 0.2},
    "dropout+l2+early_stopping": {
        "dropout": 0.5, "l2": 1e-2, "early_stopping": True, "validation_fraction": 0.2,
    },
}


def main():
    # Every model runs a fixed budget of epochs; not meeting the training-loss
    # tolerance within it is expected here and is not worth a warning per fold.
    warnings.filterwarnings("ignore", message="Maximum iterations", category=ConvergenceWarning)
    X, y = load_breast_cancer(return_X_y=True)
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    rows = []
    start = time.perf_counter()
    for name, params in MODELS.items():
        model = make_pipeline(StandardScaler(), RegularizedMLPClassifier(**COMMON, **params))
        scores = cross_validate(
            model, X, y, cv=cv, scoring=("accuracy", "neg_log_loss"), return_train_score=True
        )
        gap = scores["train_accuracy"] - scores["test_accuracy"]
        accuracy, log_loss = scores["test_accuracy"], -scores["test_neg_log_loss"]
        rows.append({
            "model": name,
            "accuracy": f"{accuracy.mean():.4f} ± {accuracy.std():.4f}",
            "log loss": f"{log_loss.mean():.4f} ± {log_loss.std():.4f}",
            "train-test gap": f"{gap.mean():.4f}",
            "fit time (s)": f"{scores['fit_time'].mean():.2f}",
        })
    table = pd.DataFrame(rows).set_index("model")
    print("breast_cancer, 5-fold stratified CV, StandardScaler + MLP(128, 128), seed 0")
    print(table.to_markdown())
    # Fit times depend on the machine and on what else runs on it.
    print(f"\ntotal time {time.perf_counter() - start:.0f} s on {processor()}, "
          f"load average (1, 5, 15 min) {load_average()}")


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
