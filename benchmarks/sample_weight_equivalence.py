"""Why sklearn's check_sample_weight_equivalence_on_dense_data fails: float32 rounding only.

The check fits once with integer weights and once with each row repeated that
many times, on its own data (15 rows x 30 features, 3 classes, weights 0-4,
numpy seed 42), and requires the predictions to agree at rtol=1e-7. This script
repeats that comparison for several configurations twice: as skreg ships
(float32 tensors and module) and with the whole computation in float64
(``torch.set_default_dtype(torch.float64)`` and the training and prediction
tensors cast to float64, a diagnostic switch that skreg does not offer). If the
float64 differences are at machine precision, the weighted loss is the same
function as the repeated rows' loss and every remaining difference is float32
rounding.

Run: ``PYTHONPATH=. python benchmarks/sample_weight_equivalence.py``; writes
benchmarks/results/sample_weight_equivalence.md.
"""

import warnings

import numpy as np
import pandas as pd
import torch
from _harness import RESULTS, load_average, version, write_markdown
from sklearn.utils import shuffle

import skreg._prediction
import skreg._training_data
from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor

CONFIGS = [
    (RegularizedMLPClassifier, {}),
    (RegularizedMLPClassifier, {"solver": "sgd"}),
    (RegularizedMLPClassifier, {"shuffle": False}),
    (RegularizedMLPRegressor, {}),
    (RegularizedMLPRegressor, {"solver": "sgd", "tol": 1e-2}),
]


def check_data():
    rng = np.random.RandomState(42)
    X = rng.rand(15, 30)
    y = rng.randint(0, 3, size=15)
    weights = rng.randint(0, 5, size=15)
    return X, y, weights


def max_relative_difference(estimator, params):
    X, y, weights = check_data()
    X_rep, y_rep = X.repeat(weights, axis=0), y.repeat(weights)
    X_w, y_w, w = shuffle(X, y, weights, random_state=0)
    repeated = estimator(random_state=0, **params).fit(X_rep, y_rep)
    weighted = estimator(random_state=0, **params).fit(X_w, y_w, sample_weight=w)
    method = "predict_proba" if hasattr(repeated, "predict_proba") else "predict"
    a, b = getattr(repeated, method)(X), getattr(weighted, method)(X)
    return float(np.max(np.abs(a - b) / np.abs(b))), repeated.n_iter_, weighted.n_iter_


def run_in_float64():
    """Switch torch and skreg's tensors to float64 (diagnostic only)."""
    torch.set_default_dtype(torch.float64)
    as_tensor = skreg._training_data.read_only_tensor

    def float64_tensor(array, device):
        tensor = as_tensor(array, device)
        return tensor.double() if tensor.is_floating_point() else tensor

    # The training tensors and the prediction chunks.
    skreg._training_data.read_only_tensor = float64_tensor
    skreg._prediction.read_only_tensor = float64_tensor


def main():
    warnings.simplefilter("ignore")
    rows = []
    for precision in ("float32", "float64"):
        if precision == "float64":
            run_in_float64()
        for estimator, params in CONFIGS:
            rel, epochs_rep, epochs_w = max_relative_difference(estimator, params)
            rows.append({
                "estimator": estimator.__name__, "params": str(params), "precision": precision,
                "max relative difference": rel, "passes rtol=1e-7": rel <= 1e-7,
                "epochs (repeated / weighted)": f"{epochs_rep} / {epochs_w}",
            })
    table = pd.DataFrame(rows)
    text = (
        "# sample_weight vs repeated rows on sklearn's equivalence-check data\n\n"
        f"torch {version('torch')}; load average {load_average(1)}."
        "\n\n" + table.to_markdown(index=False, floatfmt=".2g") + "\n"
    )
    write_markdown(text, RESULTS / "sample_weight_equivalence.md")
    print(text)


if __name__ == "__main__":
    main()
